"""In Chromium: the owner's first visit, a reload that keeps the session, an invitation opened in a private
window that lands in its own empty workspace, and signing out."""

from __future__ import annotations

import re

import pytest

from test_browser import OWNER, assert_page_is_healthy, browser_page, evidence, server, sign_in, sign_up_owner  # noqa: F401

pytestmark = pytest.mark.slow


def test_owner_signs_up_invites_a_customer_who_sees_only_their_own_workspace(browser_page, server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = browser_page
    with evidence(page, server, tmp_path):
        sign_up_owner(page, server)
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text("Signed in as Olivia Owner")
        page.reload()  # the session cookie outlives the page
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=60_000)
        expect(sidebar).to_contain_text("Signed in as Olivia Owner")
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["ytempire_session"]["httpOnly"] and cookies["ytempire_session"]["sameSite"] == "Strict"

        # Access > Invitations: a new workspace for a beta customer.
        page.locator('[data-testid="stSidebarNav"] a[href$="/access"]').click()
        expect(page.get_by_role("heading", name="Access", level=1)).to_be_visible()
        page.get_by_role("tab", name="Invitations").click()
        page.get_by_label("Email address").fill("beta@example.com")
        page.get_by_label("New workspace's name").fill("Beta Shorts")
        page.get_by_role("button", name="Create the invitation").click()
        code = page.locator('[data-testid="stCode"]', has_text="/access/invite?token=")
        expect(code).to_be_visible()
        link = re.search(r"http\S+/access/invite\?token=\S+", code.inner_text()).group(0)
        assert_page_is_healthy(page, "Access")

        # A private window: no cookies of the owner's.
        other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
        guest = other.new_page()
        guest.goto(link.replace("http://localhost:8501", server.url))
        expect(guest.get_by_text("beta@example.com")).to_be_visible()
        guest.fill("#name", "Bea Customer")
        guest.fill("#password", "another long passphrase 7")
        guest.fill("#again", "another long passphrase 7")
        guest.get_by_role("button", name="Create my account").click()
        expect(guest.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=60_000)
        guest_side = guest.locator('[data-testid="stSidebar"]')
        expect(guest_side).to_contain_text("Signed in as Bea Customer")
        expect(guest_side).to_contain_text("Beta Shorts")
        expect(guest.get_by_text("Getting started: 0 of 5 done")).to_be_visible()
        nav = guest.locator('[data-testid="stSidebarNav"]')
        expect(nav.locator('a[href$="/access"]')).to_have_count(0)
        expect(nav.locator('a[href$="/settings"]')).to_have_count(0)
        guest.locator('[data-testid="stSidebarNav"] a[href$="/channels"]').click()
        expect(guest.get_by_role("heading", name="Channels", level=1)).to_be_visible()
        expect(guest.get_by_text("No channels yet: create one in the New channel tab.")).to_be_visible()
        expect(guest.locator("body")).not_to_contain_text("Demo channel")
        # The link is single use.
        third = other.new_page()
        third.goto(link.replace("http://localhost:8501", server.url))
        expect(third.get_by_text("already used")).to_be_visible()

        # Signing out ends the session; the sign-in form brings it back.
        guest.get_by_role("button", name="Sign out", exact=True).click()
        expect(guest).to_have_url(server.url + "/access/sign-in", timeout=30_000)
        guest.goto(server.url + "/", wait_until="domcontentloaded")  # the old cookie opens nothing any more
        expect(guest).to_have_url(server.url + "/access/sign-in", timeout=30_000)
        sign_in(guest, server, "beta@example.com", "another long passphrase 7")
        expect(guest.locator('[data-testid="stSidebar"]')).to_contain_text("Beta Shorts")
        other.close()
        assert OWNER[0] == "owner@example.com"


def test_a_signed_in_browser_stays_signed_in_across_a_server_restart(browser_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    from test_browser import serve

    page, data = browser_page, tmp_path / "data"
    with serve(tmp_path, data) as first:
        with evidence(page, first, tmp_path):
            sign_up_owner(page, first)
    with serve(tmp_path, data) as second:  # a new process (and port: cookies are per host, not per port)
        with evidence(page, second, tmp_path):
            page.goto(second.url + "/", wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as Olivia Owner")
            page.context.add_cookies([{"name": "ytempire_session", "value": "forged.value", "url": second.url}])
            page.reload()  # a tampered cookie: back to the gate
            expect(page).to_have_url(second.url + "/access/sign-in", timeout=60_000)
