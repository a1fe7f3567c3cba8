"""The Studio's live queue through AppTest: stages in words with their progress and the time left, a finished
job's thumbnail, score, cost and Library link, review jobs, bulk retry and cancel, clearing finished jobs after a
confirmation, the toast when an operator's job ends, and no fragment warning in the server log."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import ROOT, app_test
from pipeline import jobs
from pipeline.costs import PricedUsage, Usage, insert_ledger
from pipeline.eta import describe_left


@pytest.fixture(autouse=True)
def release_workbench():
    yield
    from ui.state import get_workbench
    get_workbench.clear()


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The app on a fresh data directory with its worker stopped (seeded jobs stay as seeded), and its workbench."""
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YTEMPIRE_POLL_S", "0.1")
    monkeypatch.chdir(ROOT)
    from ui.state import get_workbench
    get_workbench.clear()
    at = app_test(60)
    at.run()
    wb = get_workbench()
    wb.worker.stop()
    return at, wb


def studio(at: AppTest) -> AppTest:
    at.switch_page("pages/studio.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def seed(wb, status: str = "queued", topic: str = "Octopus arms", duration: int = 60) -> int:
    job = jobs.create_job(wb.db, 1, topic, duration, "landscape", {})
    if status != "queued":
        wb.db.query("UPDATE jobs SET status = ?, finished_at = current_timestamp, error_stage = ?, error_message = ?"
                    " WHERE id = ?", [status, "render" if status == "failed" else None,
                                      "ffmpeg failed" if status == "failed" else None, job])
    return job


def running(wb, stage: str, progress: float, topic: str = "Octopus arms") -> int:
    job = seed(wb, topic=topic)
    order = jobs.STAGES.index(stage)
    with wb.db.write() as cur:
        for name in jobs.STAGES[:order]:
            cur.execute("UPDATE job_stages SET status = 'done', progress = 1, started_at = current_timestamp - "
                        "INTERVAL 10 SECOND, finished_at = current_timestamp WHERE job_id = ? AND stage = ?", [job, name])
        cur.execute("UPDATE job_stages SET status = 'running', progress = ?, device = 'cpu', started_at = "
                    "current_timestamp - INTERVAL 20 SECOND WHERE job_id = ? AND stage = ?", [progress, job, stage])
        cur.execute("UPDATE jobs SET status = 'running', current_stage = ?, started_at = current_timestamp WHERE id = ?",
                    [stage, job])
        jobs._event(cur, job, stage, "running")
    return job


def finished(wb, status: str = "done", score: float = 84.0, usd: str = "0.0123") -> int:
    """A finished job with its video row, a real thumbnail in its folder and a cost in the ledger."""
    job = seed(wb, status)
    folder = wb.settings.jobs_dir / str(job)
    folder.mkdir(parents=True, exist_ok=True)
    thumb = folder / "thumbnail.jpg"
    Image.new("RGB", (320, 180), (30, 40, 60)).save(thumb)
    (folder / "video.mp4").write_bytes(b"not really a video")
    with wb.db.write() as cur:
        cur.execute("INSERT INTO videos (job_id, channel_id, title, description, tags, format, video_path, thumbnail_path,"
                    " quality_score, publish_state) VALUES (?, 1, 'Octopus Arms', '', [], 'landscape', ?, ?, ?, ?)",
                    [job, str(folder / "video.mp4"), str(thumb), score, "held" if status == "held" else "outbox"])
        cur.execute("UPDATE job_stages SET status = 'done', progress = 1 WHERE job_id = ?", [job])
        insert_ledger(cur, job, "voice", [PricedUsage(Usage("google", "neural2", "characters", 1000.0), 0.0000123,
                                                      Decimal(usd), "test")])
        jobs._event(cur, job, None, status)
    return job


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def button(at: AppTest, key: str):
    [found] = [b for b in at.button if b.key == key]
    return found


def test_a_running_job_shows_each_stage_in_words_its_progress_and_its_time_left(app):
    at, wb = app
    job = running(wb, "render", 0.4)
    studio(at)
    line = next(c for c in captions(at) if c.startswith("Script"))
    assert line == "Script ✓ · Narration ✓ · Scenes ✓ · Visuals ✓ · Render 40% · Thumbnail · Quality check · Publishing"
    [bar] = at.get("progress")
    text = bar.proto.text
    assert text.startswith("Rendering: 40% · ") and text.endswith(" left")
    [row] = wb.queue_eta().iter_rows(named=True)
    assert row["job_id"] == job and describe_left(row["left_s"]) in text
    assert 0 < bar.proto.value < 100  # the share of the job's expected work behind it


def test_a_finished_job_shows_its_thumbnail_score_cost_and_a_link_to_its_library_entry(app):
    at, wb = app
    job = finished(wb)
    studio(at)
    assert len(at.get("image")) == 1
    assert any("quality **84**" in c and "cost **$0.01**" in c for c in captions(at))
    [link] = [p for p in at.page_link if p.value == "Open in the Library"]
    assert link.proto.page == "library"  # pages/library.py, which preselects the job it is given
    assert link.proto.query_string == f"job={job}"


def test_a_review_job_says_what_it_waits_for_and_links_to_the_library(app):
    at, wb = app
    script, publish = seed(wb), seed(wb)
    wb.db.query("UPDATE jobs SET status = 'review', awaiting = 'script' WHERE id = ?", [script])
    wb.db.query("UPDATE jobs SET status = 'review', awaiting = 'publish' WHERE id = ?", [publish])
    studio(at)
    infos = [i.value for i in at.info]
    assert f"Job #{script} is awaiting your review of the script." in infos
    assert f"Job #{publish} is awaiting your review before publishing." in infos
    links = {p.proto.query_string for p in at.page_link if p.value == "Review it in the Library"}
    assert links == {f"job={script}", f"job={publish}"}


def test_bulk_retry_and_cancel_act_on_the_selected_jobs_only(app):
    at, wb = app
    failed_a, failed_b, failed_c = seed(wb, "failed"), seed(wb, "failed"), seed(wb, "failed")
    studio(at)
    assert button(at, "queue-retry-selected").disabled  # nothing selected yet
    at.checkbox(key=f"pick-{failed_a}").check()
    at.checkbox(key=f"pick-{failed_b}").check().run()
    assert "2 selected" in captions(at)
    button(at, "queue-retry-selected").click().run()
    status = dict(wb.db.query("SELECT id, status FROM jobs"))
    assert status[failed_a] == status[failed_b] == "queued" and status[failed_c] == "failed"
    assert any("2 jobs queued again" in t.value for t in at.toast)
    assert not at.checkbox(key=f"pick-{failed_a}").value  # the selection is cleared after the action
    at.checkbox(key=f"pick-{failed_a}").check()
    at.checkbox(key=f"pick-{failed_c}").check().run()  # one queued, one failed: only the queued one can be cancelled
    button(at, "queue-cancel-selected").click().run()
    status = dict(wb.db.query("SELECT id, status FROM jobs"))
    assert status[failed_a] == "cancelled" and status[failed_b] == "queued" and status[failed_c] == "failed"
    assert any("1 job cancelled or stopping" in t.value and f"Job {failed_c} is failed" in t.value for t in at.toast)


def test_clearing_finished_jobs_asks_first_and_hides_only_finished_ones(app):
    at, wb = app
    done, held, failed, cancelled = finished(wb), finished(wb, "held"), seed(wb, "failed"), seed(wb, "cancelled")
    queued, review = seed(wb), seed(wb)
    wb.db.query("UPDATE jobs SET status = 'review', awaiting = 'script' WHERE id = ?", [review])
    studio(at)
    clear = button(at, "queue-clear")
    assert clear.disabled  # not before the confirmation
    at.checkbox(key="queue-clear-sure").check().run()
    button(at, "queue-clear").click().run()
    shown = {int(m.value.split("**#")[1].split(" ")[0]) for m in at.markdown if "**#" in m.value}
    assert shown == {queued, review}
    assert any("Cleared 4 finished jobs" in t.value for t in at.toast)
    assert not at.checkbox(key="queue-clear-sure").value
    cleared = dict(wb.db.query("SELECT id, cleared_at IS NOT NULL FROM jobs"))
    assert cleared == {done: True, held: True, failed: True, cancelled: True, queued: False, review: False}
    assert wb.db.query_one("SELECT count(*) FROM videos")[0] == 2  # the jobs and their videos stay
    from pipeline import queries
    assert queries.library_count(wb.db) == 2
    wb.retry(failed)  # queued again: it shows again, and stays shown once it finishes anew
    at.run()
    assert any(f"**#{failed} " in m.value for m in at.markdown)


def test_the_operator_hears_once_when_a_job_they_started_finishes(app):
    at, wb = app
    studio(at)
    at.text_input(key="topic").input("Octopus arms").run()
    next(b for b in at.button if b.proto.label == "Make video").click().run()
    [job] = [r[0] for r in wb.db.query("SELECT id FROM jobs")]
    other = seed(wb, topic="Someone else's video")  # not started in this session: no toast
    at.run()
    assert not [t for t in at.toast if f"#{job}" in t.value]
    for j in (job, other):
        jobs.set_job_status(wb.db, j, "running")
        jobs.set_job_status(wb.db, j, "done")
    at.run()
    assert [t.value for t in at.toast if "is done" in t.value] == [f"Job #{job} (Octopus arms) is done: it is in the Library."]
    at.run()
    assert not [t for t in at.toast if "is done" in t.value]  # once


def test_queue_callbacks_leave_no_fragment_warning_in_the_server_log(app):
    at, wb = app
    records: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Catch()
    logging.getLogger("streamlit").addHandler(handler)
    try:
        job = seed(wb)
        studio(at)
        button(at, f"cancel-{job}").click().run()
        assert any("cancelled" in t.value for t in at.toast)
        button(at, f"retry-{job}").click().run()
    finally:
        logging.getLogger("streamlit").removeHandler(handler)
    assert wb.db.query_one("SELECT status FROM jobs WHERE id = ?", [job])[0] == "queued"
    assert not [r for r in records if "fragment" in r.lower()], records
