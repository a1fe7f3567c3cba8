"""The Library's review gates in the app (AppTest): a script waits, is edited and approved; a finished video is
published to the YouTube fake after a confirmation, with its link and the quota it was charged."""

from __future__ import annotations

import time

import pytest

from conftest import EXAMPLE_SOURCE
from pipeline import jobs
from pipeline.channels import ChannelInput, create_channel
from pipeline.workbench import VideoRequest, Workbench
from test_app import open_app
from test_youtube import KEY, client_secret, settings_for, token

pytestmark = pytest.mark.slow  # real renders behind each page


@pytest.fixture(autouse=True)
def release_workbench():
    yield
    from ui.state import get_workbench
    get_workbench.clear()


def env_for(monkeypatch, yt) -> None:
    monkeypatch.setenv("YTEMPIRE_TOKEN_KEY", KEY.get_secret_value() if hasattr(KEY, "get_secret_value") else KEY)
    monkeypatch.setenv("YTEMPIRE_YOUTUBE_API_ROOT", yt.url + "/")
    monkeypatch.setenv("YTEMPIRE_YOUTUBE_ANALYTICS_ROOT", yt.url + "/")
    monkeypatch.setenv("YTEMPIRE_OAUTH_TOKEN_URI", yt.url + "/token")
    monkeypatch.setenv("YTEMPIRE_UPLOAD_CHUNK_KB", "256")


def wait_for(wb, job: int, statuses: tuple[str, ...], timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = jobs.get_job(wb.db, job)["status"]
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job} stayed {status}")


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_script_waits_in_the_library_is_edited_and_approved_then_voiced(tmp_path, monkeypatch, yt):
    with Workbench(settings_for(tmp_path, yt), start_worker=False) as wb:
        create_channel(wb.db, ChannelInput("Careful", review="script"))
        job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Careful", duration_s=12,
                                      sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "review"
    env_for(monkeypatch, yt)
    at = open_app(tmp_path / "data", monkeypatch, "library")
    assert not at.exception
    assert any("Waiting for you (1)" in s.value for s in at.subheader)
    at.query_params["job"] = str(job)
    at.run()
    assert any("Waiting for your review of the script" in i.value for i in at.info)
    first = next(t for t in at.text_area if t.label.startswith("Section 1: one sentence a line"))
    first.set_value("Every octopus arm can taste what it touches.\n" + first.value)
    button(at, "Approve and make the video").click().run()
    assert not at.exception and any("Approved" in s.value for s in at.success)
    from ui.state import get_workbench
    wb = get_workbench()
    assert wait_for(wb, job, ("done", "failed", "held")) == "done"
    stages = {s["stage"]: s["attempts"] for s in jobs.job_stages(wb.db, job)}
    assert stages["script"] == 1 and stages["voice"] == 1
    assert "taste what it touches" in wb.review.script(job).spoken_text
    assert [v["author"] for v in wb.review.versions(job)] == ["writer", "operator"]


def test_publish_from_the_library_after_a_confirmation_counts_as_published(tmp_path, monkeypatch, yt):
    with Workbench(settings_for(tmp_path, yt), start_worker=False) as wb:
        cid = create_channel(wb.db, ChannelInput("Gated", review="publish"))
        wb.youtube.add_account(cid, client_secret("proj-g"), token("gated"))
        job = wb.enqueue(VideoRequest("Octopus intelligence", channel="Gated", duration_s=12, sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "review"
    env_for(monkeypatch, yt)
    at = open_app(tmp_path / "data", monkeypatch, "library")
    at.query_params["job"] = str(job)
    at.run()
    assert not at.exception
    assert [t.label for t in at.tabs][0] == "Publish"  # what it waits for comes first
    assert any("Waiting for you to publish it" in i.value for i in at.info)
    next(t for t in at.text_input if t.label == "Title" and t.key == f"p-title-{job}").set_value("Eight arms, one mind")
    next(s for s in at.selectbox if s.key == f"p-privacy-{job}").set_value("unlisted")
    button(at, "Publish…").click().run()
    assert yt.uploads_of("gated") == []  # asked, not done: the confirmation names channel and privacy
    question = next(w.value for w in at.warning if "Publish" in w.value)
    assert "Gated" in question and "unlisted" in question and "YouTube" in question
    button(at, "Yes, publish").click().run()
    assert not at.exception and any("Queued to publish to YouTube" in s.value for s in at.success)
    from ui.state import get_workbench
    wb = get_workbench()
    assert wait_for(wb, job, ("done", "failed", "held")) == "done"
    uploads = yt.uploads_of("gated")
    assert len(uploads) == 1 and uploads[0]["body"]["snippet"]["title"] == "Eight arms, one mind"
    at.run()
    shown = " ".join(s.value for s in at.success)
    assert uploads[0]["id"] in shown and "quota units" in shown
    at.switch_page("pages/overview.py").run()
    published = next(m for m in at.metric if m.label.startswith("Published"))
    assert str(published.value).startswith("1")



def test_the_library_shows_the_stored_privacy_and_a_regenerated_video_opens_once(tmp_path, monkeypatch, yt):
    with Workbench(settings_for(tmp_path, yt), start_worker=False) as wb:
        job = wb.enqueue(VideoRequest("Octopus intelligence", duration_s=12, privacy="public", sources=[EXAMPLE_SOURCE]))
        assert wb.worker.run_job(job) == "done"
    env_for(monkeypatch, yt)
    at = open_app(tmp_path / "data", monkeypatch, "library")
    assert next(s for s in at.selectbox if s.key == f"p-privacy-{job}").value == "public"  # as it was queued
    from ui.state import get_workbench
    wb = get_workbench()
    wb.review.regenerate_script(job)
    assert wait_for(wb, job, ("review", "failed")) == "review"
    at.query_params["job"] = str(job)
    at.run()
    assert not at.exception  # the script form shows once: in the review panel, not again in the Script tab
    assert any("Waiting for your review of the script" in i.value for i in at.info)
    assert any("waits for your review at the top" in i.value for i in at.info)
