"""End to end in a real browser, as a new operator: make a video that waits for review, change a sentence,
approve it, watch it render with a moving progress bar and an ETA, open it from the queue, edit its title,
publish it to the YouTube fake from the Library after a confirmation, and see it counted as Published."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_browser import (RENDER_TIMEOUT_S, Server, assert_page_is_healthy, commit, evidence, go_to, serve,
                          sign_up_owner)
from test_browser import browser_page  # noqa: F401 - the fixture, used by name
from test_youtube import KEY, client_secret, settings_for, token

pytestmark = pytest.mark.slow
EDITED = "Every octopus arm can taste what it touches."
NEW_TITLE = "Eight arms, one mind"


@pytest.fixture
def connected_server(tmp_path: Path, yt) -> Iterator[Server]:
    """The workbench with its demo channel connected to the YouTube fake (its token sealed with KEY)."""
    from pipeline.workbench import Workbench

    settings = settings_for(tmp_path, yt)
    with Workbench(settings, start_worker=False) as wb:
        wb.youtube.add_account(1, client_secret("proj-demo"), token("demo"))
    key = KEY.get_secret_value() if hasattr(KEY, "get_secret_value") else KEY
    with serve(tmp_path, settings.data_dir, YTEMPIRE_TOKEN_KEY=key, YTEMPIRE_YOUTUBE_API_ROOT=yt.url + "/",
               YTEMPIRE_YOUTUBE_ANALYTICS_ROOT=yt.url + "/", YTEMPIRE_OAUTH_TOKEN_URI=yt.url + "/token",
               YTEMPIRE_UPLOAD_CHUNK_KB="256", YTEMPIRE_BOOTSTRAP_TRENDS="0") as srv:
        yield srv


def choose(page, key: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox: open it on its input (not its label or help icon), type to
    filter, and click the option once the list shows it (a rerun may redraw the box: then open it again)."""
    from playwright.sync_api import Error, expect

    field = page.locator(f"{key} input")
    for attempt in range(3):
        try:
            field.click()
            field.fill(option[:12])
            page.get_by_role("option", name=option).click(timeout=10_000)
            break
        except Error:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    expect(field).to_have_value(option)


def test_review_edit_approve_and_publish_one_video(browser_page, connected_server, tmp_path, yt):  # noqa: F811
    from playwright.sync_api import expect

    page, server = browser_page, connected_server
    with evidence(page, server, tmp_path):
        sign_up_owner(page, server)
        expect(page.locator(f'[data-testid="stSidebarNav"] a[href="{server.url}/"]')).to_contain_text("Overview")

        # Studio: the example, 12 s, reviewed at both gates.
        go_to(page, server, "Studio")
        page.get_by_role("button", name="Use the example").click()
        commit(page.locator(".st-key-duration input"), "12")
        choose(page, ".st-key-review", "Review the script and before publishing")
        expect(page.locator(".st-key-review input")).to_have_value("Review the script and before publishing")
        page.get_by_role("button", name="Make video").click()
        expect(page.get_by_text(re.compile(r"Queued job #1\b"))).to_be_visible()

        # The queue says it waits for the script's review, and links to it.
        expect(page.get_by_text("Job #1 is awaiting your review of the script")).to_be_visible(timeout=120_000)
        assert not (server.data_dir / "jobs" / "1" / "narration.wav").exists()  # no voice before approval
        page.get_by_role("link", name="Review it in the Library").click()
        expect(page.get_by_role("heading", name="Library", level=1)).to_be_visible()
        expect(page.get_by_text("Waiting for your review of the script")).to_be_visible()

        # Change the first sentence, approve.
        sentences = page.locator(".st-key-s-text-1-1 textarea")
        expect(sentences).not_to_have_value("")  # the form is drawn before its values arrive
        first, *rest = sentences.input_value().splitlines()
        sentences.fill("\n".join([EDITED, *rest]))
        page.get_by_role("button", name="Approve and make the video").click()
        expect(page.get_by_text("Approved: the job is queued")).to_be_visible()

        # Back in the Studio: the bar moves and says how long is left, until it waits to be published.
        go_to(page, server, "Studio")
        bar = page.locator('[data-testid="stProgress"]').first
        seen, left, deadline = set(), False, time.monotonic() + RENDER_TIMEOUT_S
        waiting = page.get_by_text("Job #1 is awaiting your review before publishing")
        while time.monotonic() < deadline and not waiting.is_visible():
            if bar.count():
                try:
                    text = page.locator('[data-testid="stProgress"]').first.inner_text(timeout=1000)
                    value = page.locator('[data-testid="stProgress"] [role="progressbar"]').first.get_attribute(
                        "aria-valuenow", timeout=1000)
                except Exception:  # noqa: BLE001 - the fragment replaced the element between two reads
                    continue
                if value is not None:
                    seen.add(round(float(value)))
                left = left or " left" in text
            page.wait_for_timeout(300)
        expect(waiting).to_be_visible()
        assert len({v for v in seen if 0 < v < 100}) >= 2, f"the progress bar did not move: {sorted(seen)}"
        assert left, "the progress bar never said how long was left"

        # Open it from the queue; the Publish tab comes first; edit the title and publish after the question.
        page.get_by_role("link", name="Review it in the Library").click()
        expect(page.get_by_text("Waiting for you to publish it")).to_be_visible()
        page.locator(".st-key-p-title-1 input").fill(NEW_TITLE)  # a form: its values go with the button
        page.get_by_role("button", name="Publish…").click()
        question = page.locator('[data-testid="stAlert"]', has_text="to Demo Channel on YouTube")
        expect(question).to_contain_text("Demo Channel")
        expect(question).to_contain_text("private")
        assert yt.uploads_of("demo") == []
        page.get_by_role("button", name="Yes, publish").click()
        expect(page.get_by_text(re.compile(r"On YouTube: .*quota units"))).to_be_visible(
            timeout=RENDER_TIMEOUT_S * 1000)
        uploads = yt.uploads_of("demo")
        assert len(uploads) == 1 and uploads[0]["body"]["snippet"]["title"] == NEW_TITLE
        assert_page_is_healthy(page, "Library (published)")

        # The Overview counts it as published (on YouTube), not as exported.
        page.locator(f'[data-testid="stSidebarNav"] a[href="{server.url}/"]').click()  # Overview is the default page
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
        published = page.locator('[data-testid="stMetric"]', has_text="Published")
        expect(published.locator('[data-testid="stMetricValue"]')).to_have_text("1")
        assert_page_is_healthy(page, "Overview")
        assert not page.console_problems, "browser console errors:\n" + "\n".join(page.console_problems)
