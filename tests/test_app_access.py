"""The web shell signed in: the gate, every page as each role, two workspaces' isolation, and the sign-in doors
(ui/access_routes.py) over real HTTP through Starlette's test client."""

from __future__ import annotations

import re

import pytest

from conftest import EXAMPLE_SOURCE, PASSWORD, ROOT, app_test, sign_in_as
from pipeline.channels import ChannelInput
from pipeline.workbench import VideoRequest

PAGES = ["overview", "costs", "trends", "studio", "library", "channels", "account", "automation", "settings", "access"]
VISIBLE = {
    "owner": set(PAGES),
    "operator": {"overview", "costs", "trends", "studio", "library", "channels", "account", "automation"},
    "analyst": {"overview", "costs", "trends", "library", "channels", "account"},
}


@pytest.fixture(autouse=True)
def release_workbench():
    yield
    from ui.state import shared_workbench
    shared_workbench.clear()


def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YTEMPIRE_BOOTSTRAP_TRENDS", "false")
    monkeypatch.chdir(ROOT)
    from ui.state import shared_workbench
    shared_workbench.clear()
    return shared_workbench()


def rendered(at) -> str:
    """Every text a page shows: markdown, captions, alerts, metrics, widgets' labels and options, tables."""
    parts = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "success", "warning", "error",
                 "metric", "code", "text"):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "value", "")) + str(getattr(el, "label", "")))
    for kind in ("selectbox", "multiselect", "radio", "text_input", "text_area", "button"):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "label", "")) + " ".join(map(str, getattr(el, "options", []) or [])))
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


def test_a_visitor_without_a_session_sees_only_the_gate(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    wb = _env(tmp_path, monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "create the owner account" in rendered(at).lower()
    sign_in_as(wb)  # an owner exists now: the gate asks to sign in
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["ytempire_session_cookie"] = "forged.cookie"
    at.run()
    text = rendered(at)
    assert "Sign in" in text and "Overview" not in [t.value for t in at.title]


@pytest.mark.slow
@pytest.mark.parametrize("role", ["owner", "operator", "analyst"])
def test_every_page_as_each_role_shows_what_it_may_and_refuses_the_rest(tmp_path, monkeypatch, role):
    _env(tmp_path, monkeypatch)
    at = app_test(60, role=role).run()
    assert not at.exception, at.exception
    for page in PAGES:
        at = app_test(60, role=role)
        at.run()
        try:
            at.switch_page(f"pages/{page}.py").run()
        except Exception as exc:  # noqa: BLE001 - a page outside the role's navigation cannot be opened
            assert page not in VISIBLE[role], f"{role} could not open {page}: {exc}"
            continue
        text = rendered(at)
        if page in VISIBLE[role]:
            assert not at.exception, f"{role} {page}: {at.exception}"
            assert not [e.value for e in at.error if "Something went wrong" in e.value], f"{role} {page}"
        else:
            assert not [t for t in at.title if t.value.lower() == page] or "cannot" in text, f"{role} saw {page}"
    at = app_test(60, role=role)
    at.run()
    at.switch_page("pages/trends.py").run()
    labels = {str(b.label) for b in at.button}
    assert ("Import" in labels) == (role == "owner"), labels  # trending data (shared) is the owner's to import
    if role == "analyst":  # reads channels, changes nothing
        at = app_test(60, role=role)
        at.run()
        at.switch_page("pages/channels.py").run()
        assert not [b for b in at.button if "Save channel" in str(b.label)]
        assert "reads channels" in rendered(at)


@pytest.mark.slow
def test_two_workspaces_never_see_each_others_channels_topics_or_jobs(tmp_path, monkeypatch):
    wb = _env(tmp_path, monkeypatch)
    sign_in_as(wb)
    owner = wb.access.actor_for(wb.access.user("owner@example.com"))
    ws2 = wb.access.create_workspace(owner, "Beta Customer")
    alpha = wb.acting(owner)
    alpha.create_channel(ChannelInput("Alpha Secret Channel", niche="alphaniche"))
    a_job = alpha.enqueue(VideoRequest("Alphatopic zebra migration", channel="Alpha Secret Channel",
                                       sources=[EXAMPLE_SOURCE]))
    import time
    deadline = time.monotonic() + 120  # the app's own worker makes it
    while wb.db.query_one("SELECT status FROM jobs WHERE id = ?", [a_job])[0] != "done":
        assert time.monotonic() < deadline, wb.db.query_one("SELECT status, error_message FROM jobs WHERE id = ?",
                                                            [a_job])
        time.sleep(0.5)
    cookie = sign_in_as(wb, "operator", "beta@example.com", ws2)
    beta = wb.acting(wb.access.actor_for(wb.access.user("beta@example.com")))
    beta.create_channel(ChannelInput("Beta Own Channel", niche="betaniche"))
    forbidden = ["Alpha Secret Channel", "Alphatopic", "alphaniche", "Demo channel"]
    exported: list[str] = []  # every table a page offers as CSV/Parquet, as its CSV
    import sys

    import ui.widgets
    original = ui.widgets.exports

    def recording(df, name, key=None):
        exported.append(ui.widgets.to_csv(df).decode())
        return original(df, name, key)
    for module in [m for n, m in list(sys.modules.items()) if n == "ui" or n.startswith("ui.")]:
        if getattr(module, "exports", None) is original:
            monkeypatch.setattr(module, "exports", recording)
    from streamlit.testing.v1 import AppTest
    for page in ["overview", "costs", "trends", "studio", "library", "channels", "account", "automation"]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["ytempire_session_cookie"] = cookie
        at.run()
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        text = rendered(at)
        for word in forbidden:
            assert word not in text, f"{page} shows {word!r}"
        assert not re.search(rf"(#|job |Job ){a_job}\b", text), f"{page} shows job {a_job}"
        if page == "overview":
            assert "Getting started" in text and "Beta Own Channel" in text  # its own checklist, ticked
        for csv in exported:
            assert not any(word in csv for word in forbidden), f"{page} exports {csv[:200]!r}"
        if page == "library":  # a deep link to the other workspace's video: not found, nothing shown
            at.query_params["job"] = str(a_job)
            at.run()
            assert not at.exception and all(w not in rendered(at) for w in forbidden)
    assert exported, "no page offered an export: the check above checked nothing"


def test_the_sign_in_doors_set_a_strict_http_only_cookie_and_throttle(tmp_path, monkeypatch):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from ui.access_routes import access_routes

    wb = _env(tmp_path, monkeypatch)
    client = TestClient(Starlette(routes=access_routes()), base_url="http://127.0.0.1")
    assert client.get("/access/sign-in", follow_redirects=False).headers["location"] == "/access/setup"
    weak = client.post("/access/setup", data={"email": "o@example.com", "name": "O", "password": "password1234",
                                             "again": "password1234"})
    assert weak.status_code == 400 and "common" in weak.text and wb.access.needs_owner()
    made = client.post("/access/setup", data={"email": "o@example.com", "name": "O", "password": PASSWORD,
                                             "again": PASSWORD}, follow_redirects=False)
    assert made.status_code == 303
    cookie = made.headers["set-cookie"]
    assert "ytempire_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    value = cookie.split("ytempire_session=")[1].split(";")[0]
    assert wb.access.session_user(value)["email"] == "o@example.com"
    assert client.get("/access/setup", follow_redirects=False).status_code == 303  # only once
    for _ in range(3):
        bad = client.post("/access/sign-in", data={"email": "o@example.com", "password": "not it at all"})
        assert bad.status_code == 401 and "do not match" in bad.text
    slow = client.post("/access/sign-in", data={"email": "o@example.com", "password": PASSWORD})
    assert slow.status_code == 429 and int(slow.headers["retry-after"]) >= 1
    assert client.get("/access/invite?token=nope").status_code == 410
    owner = wb.access.actor_for(wb.access.user("o@example.com"))
    token = wb.access.invite(owner, "new@example.com", "analyst", 1)
    page = client.get(f"/access/invite?token={token}")
    assert page.status_code == 200 and "new@example.com" in page.text
    joined = client.post("/access/invite", data={"token": token, "name": "Nia", "password": PASSWORD,
                                                 "again": PASSWORD}, follow_redirects=False)
    assert joined.status_code == 303 and "ytempire_session=" in joined.headers["set-cookie"]
    again = client.post("/access/invite", data={"token": token, "name": "Eve", "password": PASSWORD,
                                                "again": PASSWORD})
    assert again.status_code == 410 and "already used" in again.text
    client.cookies.clear()  # the jar holds the invitee's cookie now: sign the owner's out
    client.cookies.set("ytempire_session", value)
    out = client.post("/access/sign-out", follow_redirects=False)
    assert out.status_code == 303 and wb.access.session_user(value) is None


def test_single_sign_on_signs_in_an_invited_verified_email_only(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    wb = _env(tmp_path, monkeypatch)
    sign_in_as(wb)
    owner = wb.access.actor_for(wb.access.user("owner@example.com"))
    wb.access.invite(owner, "sso@example.com", "analyst", 1)
    for claims, signed_in in [({"email": "sso@example.com", "email_verified": False}, False),
                              ({"email": "other@example.com", "email_verified": True}, False),
                              ({"email": "sso@example.com", "email_verified": True, "name": "Sol"}, True)]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.user = {"is_logged_in": True, **claims}
        at.run()
        assert not at.exception
        assert ("Signed in as" in rendered(at)) == signed_in, claims
    assert wb.access.user("sso@example.com")["role"] == "analyst"
    _ = PASSWORD
