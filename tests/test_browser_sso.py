"""In Chromium: an invited email signs in with single sign-on (Streamlit's st.login against the loopback OpenID
provider of tests/fakes_oidc.py) and lands in its workspace; an uninvited one is turned away."""

from __future__ import annotations

import pytest

from conftest import sign_in_as
from fakes_oidc import PROVIDER, oidc_provider  # noqa: F401
from pipeline.access.actor import SYSTEM
from pipeline.config import Settings
from pipeline.workbench import Workbench
from test_browser import browser_page, evidence, serve  # noqa: F401

pytestmark = pytest.mark.slow


def test_an_invited_verified_email_signs_in_with_single_sign_on(oidc_provider, browser_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    fake, page, data = oidc_provider, browser_page, tmp_path / "data"
    secrets_file = tmp_path / "secrets" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text(fake.streamlit_secrets())
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        sign_in_as(wb)  # the owner exists
        ws = wb.access.create_workspace(wb.access.actor_for(wb.access.user("owner@example.com")), "SSO Customer")
        wb.access.invite(SYSTEM, "sol@example.com", "analyst", ws)
    with serve(tmp_path, data, STREAMLIT_SECRETS_FILES=str(secrets_file),
               YTEMPIRE_SECRETS_FILE=str(secrets_file)) as srv:
        with evidence(page, srv, tmp_path):
            fake.identity = {"sub": "u-1", "email": "stranger@example.com", "email_verified": True, "name": "Stan"}
            page.goto(srv.url + "/", wait_until="domcontentloaded")
            page.get_by_role("button", name=f"Sign in with {PROVIDER}").click()
            expect(page.get_by_text("has no invitation here")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name="Sign out of single sign-on").click()

            fake.identity = {"sub": "u-2", "email": "sol@example.com", "email_verified": True, "name": "Sol Sso"}
            page.get_by_role("button", name=f"Sign in with {PROVIDER}").click()
            expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=60_000)
            side = page.locator('[data-testid="stSidebar"]')
            expect(side).to_contain_text("Signed in as Sol")
            expect(side).to_contain_text("SSO Customer")
            assert len(fake.token_requests) == 2 and all(t["pkce"] == "S256 ok" for t in fake.token_requests)
