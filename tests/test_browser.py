"""End to end in a real browser: the running workbench makes a short video and plays it in the Library.

Starts ``streamlit run app.py`` on a free port with a throwaway data directory, drives it with
Playwright in headless Chromium (Debian's ``/usr/bin/chromium``; Playwright never downloads its
own browser), and checks what an operator sees: Overview, Studio, the live queue, the Library.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT
from processes import free_port, stop_group, wait_for_health

pytestmark = pytest.mark.slow

TOPIC = "Octopus intelligence"  # the example a fresh install offers, with its source
TITLE = "Octopus Intelligence"
CHANNEL_DIR = "demo-channel"  # outbox/<slug of "Demo Channel">/<job id>/
START_TIMEOUT_S = 90
RENDER_TIMEOUT_S = 240
UI_TIMEOUT_MS = 30_000
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]
# Chromium fetches the page icon (set_page_config(page_icon=":material/movie:")) from fonts.gstatic.com;
# with no internet that fails, which is harmless for the app.
BENIGN_CONSOLE = re.compile(r"ERR_NAME_NOT_RESOLVED|ERR_INTERNET_DISCONNECTED|fonts\.gstatic\.com")


def chromium_path() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    message = "Chromium is not installed: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run the browser test; .ci/run installs it)", pytrace=False)
    pytest.skip(message)


@dataclass
class Server:
    url: str
    data_dir: Path
    log: Path
    proc: subprocess.Popen = field(repr=False)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def serve(tmp_path: Path, data_dir: Path, **env_extra: str) -> Iterator[Server]:
    """``streamlit run app.py`` on a free port over ``data_dir``, until the block ends."""
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = dict(os.environ, YTEMPIRE_DATA_DIR=str(data_dir), YTEMPIRE_POLL_S="0.2", HF_HUB_OFFLINE="1",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONUNBUFFERED="1", **env_extra)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    srv = Server(f"http://127.0.0.1:{port}", data_dir, log, proc)
    try:
        wait_for_health(proc, srv.url, START_TIMEOUT_S, srv.log_tail)
        yield srv
    finally:
        stop_group(proc)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(tmp_path, tmp_path / "data") as srv:
        yield srv


@pytest.fixture
def browser_page(tmp_path: Path):
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    home = tmp_path / "home"  # Chromium's own dconf/pulse/config files stay out of the real HOME
    home.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                     env={**os.environ, "HOME": str(home)})
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=False)
        context.set_default_timeout(UI_TIMEOUT_MS)  # actions and waits
        expect.set_options(timeout=UI_TIMEOUT_MS)  # expect() has its own default (5 s)
        page = context.new_page()
        page.console_problems = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and not BENIGN_CONSOLE.search(m.text)
                and page.console_problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.console_problems.append(f"pageerror: {e}"))
        try:
            yield page
        finally:
            expect.set_options(timeout=None)  # back to Playwright's default for anything else in this process
            context.close()
            browser.close()


def assert_page_is_healthy(page, name: str) -> None:
    """No Streamlit exception box and no "Something went wrong" error from app.py's page guard."""
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stException"]'), f"{name}: Streamlit exception box").to_have_count(0)
    expect(page.locator('[data-testid="stAlert"]', has_text="Something went wrong"),
           f"{name}: page error").to_have_count(0)


def go_to(page, server: Server, title: str) -> None:
    """Click the sidebar link, then wait for the page's URL and its title."""
    from playwright.sync_api import expect

    path = f"/{title.lower()}"
    page.locator(f'[data-testid="stSidebarNav"] a[href$="{path}"]').click()
    expect(page).to_have_url(server.url + path)
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()


OWNER = ("owner@example.com", "Olivia Owner", "correct horse battery staple 42")


def sign_up_owner(page, server: Server, owner: tuple[str, str, str] = OWNER) -> None:
    """A new install's first visit: the app sends the browser to the owner's form; fill it, land on Overview."""
    from playwright.sync_api import expect

    page.goto(server.url + "/", wait_until="domcontentloaded")
    expect(page).to_have_url(server.url + "/access/setup", timeout=60_000)
    page.fill("#email", owner[0])
    page.fill("#name", owner[1])
    page.fill("#password", owner[2])
    page.fill("#again", owner[2])
    page.get_by_role("button", name="Create the owner account").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=60_000)


def sign_in(page, server: Server, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/access/sign-in", wait_until="domcontentloaded")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=60_000)


def commit(field, value: str) -> None:
    """Type into a Streamlit input and press Enter, so Streamlit registers the value (and reruns)."""
    from playwright.sync_api import expect

    field.fill(value)
    field.press("Enter")
    expect(field).to_have_value(value)


@contextlib.contextmanager
def evidence(page, server: Server, tmp_path: Path) -> Iterator[None]:
    """On any failure: a full-page screenshot, the browser's console errors and the server log in the message."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - re-raised with the evidence attached
        shot = tmp_path / "failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as shot_exc:  # noqa: BLE001
            shot = f"(no screenshot: {shot_exc})"
        problems = "\n".join(page.console_problems) or "(none)"
        raise AssertionError(f"{type(exc).__name__}: {exc}\n\nscreenshot: {shot}\npage URL: {page.url}\n"
                             f"browser console errors:\n{problems}\n\nserver log ({server.log}):\n"
                             f"{server.log_tail()}") from exc


def test_make_a_video_in_studio_and_play_it_in_the_library(browser_page, server, tmp_path):
    from playwright.sync_api import expect

    page = browser_page
    with evidence(page, server, tmp_path):
        # A fresh install asks for the owner's account first, then shows Overview.
        sign_up_owner(page, server)
        # st.navigation's default page is Overview at "/". Until app.py reaches st.navigation, Streamlit briefly
        # shows its legacy pages/-folder list ("app" at "/", then channels, costs...), whose links run the page
        # scripts without app.py; wait until that list has been replaced.
        expect(page.locator(f'[data-testid="stSidebarNav"] a[href="{server.url}/"]')).to_contain_text("Overview")
        assert_page_is_healthy(page, "Overview")

        # Studio: one 12-second video on the demo channel.
        go_to(page, server, "Studio")
        topic = page.locator(".st-key-topic input")
        duration = page.locator(".st-key-duration input")
        expect(page.locator(".st-key-channel input")).to_have_value("Demo Channel")
        page.get_by_role("button", name="Use the example").click()  # a fresh install offers a sourced first video
        expect(topic).to_have_value(TOPIC)
        expect(page.get_by_text("Example source: octopus.md")).to_be_visible()
        commit(duration, "12")
        assert_page_is_healthy(page, "Studio")
        page.get_by_role("button", name="Make video").click()
        expect(page.get_by_text(re.compile(r"Queued job #1\b"))).to_be_visible()

        # The queue (a fragment that reruns every 2 s) follows the job to a final state.
        status = page.locator('[data-testid="stMarkdownContainer"] p', has_text=f"#1 {TOPIC}")
        expect(status).to_contain_text("12 s landscape")  # the duration the operator set reached the job
        expect(status).to_have_text(re.compile(r"·\s*(done|failed|held|cancelled)\s*$"),
                                    timeout=RENDER_TIMEOUT_S * 1000)
        final = status.inner_text()
        assert final.rstrip().endswith("done"), f"the job did not finish: {final!r}"
        assert (server.data_dir / "outbox" / CHANNEL_DIR / "1" / "metadata.json").is_file(), \
            "the job is done but its outbox folder has no metadata.json"
        assert_page_is_healthy(page, "Studio (job done)")

        # Library: the new video is selected, with its title, a player and a thumbnail.
        go_to(page, server, "Library")
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
        expect(page.get_by_role("heading", name=TITLE, level=3)).to_be_visible()
        video = page.locator("video")
        expect(video).to_have_count(1)
        expect(page.locator("video track")).to_have_count(0)  # captions are burned in: no second copy on top
        expect(video).to_have_attribute("src", re.compile(r"\S"))
        src = video.evaluate("v => v.currentSrc || v.src")
        media = page.request.get(src)
        assert media.status == 200, f"GET {src} answered {media.status}"
        assert media.headers.get("content-type", "").startswith("video/"), media.headers
        assert len(media.body()) > 10_000, f"{src} is only {len(media.body())} bytes"
        # The browser can decode it: metadata loaded (readyState >= 1), no media error, a real duration.
        page.wait_for_function("""() => { const v = document.querySelector('video');
                                           return v && (v.error || v.readyState >= 1); }""")
        state = video.evaluate("v => ({ready: v.readyState, error: v.error && v.error.code, "
                               "duration: v.duration, w: v.videoWidth, h: v.videoHeight})")
        assert state["error"] is None, f"the browser cannot play the video: {state}"
        assert 8 <= state["duration"] <= 20 and state["w"] > 0 and state["h"] > 0, state
        thumbnail = page.locator('[data-testid="stImage"] img').first
        expect(thumbnail).to_be_visible()
        assert thumbnail.evaluate("img => img.complete && img.naturalWidth") > 0, "the thumbnail did not load"
        expect(page.get_by_role("button", name="Video", exact=True)).to_be_visible()  # the download button
        assert_page_is_healthy(page, "Library")
        assert not page.console_problems, "browser console errors:\n" + "\n".join(page.console_problems)


def test_a_first_visit_to_a_deep_link_goes_through_the_app(server: Server, browser_page):
    """In a fresh server, opening /settings before anyone opened / used to run pages/settings.py alone
    (Streamlit's pages/ folder mode), skipping app.py's start-up checks, under a sidebar of file names."""
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{server.url}/settings")  # signed out: the gate, never the page
    expect(page).to_have_url(server.url + "/access/setup", timeout=60_000)
    sign_up_owner(page, server)
    page.goto(f"{server.url}/settings")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_contain_text("Business")  # app.py's grouped navigation, not file names
    expect(nav.locator('a[href$="/app"]')).to_have_count(0)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Data:")  # app.py itself ran
    assert_page_is_healthy(page, "settings")
