"""Time left from this machine's stage history: paces per second of video, the running stage's blend of its
progress and its history, the queue played forward over the workers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline import eta, jobs

NOW = datetime(2026, 3, 1, 12, 0, 0)


def seed_done(db, stage: str, duration_s: int, seconds: float, device: str = "cpu", ago_s: float = 3600) -> int:
    """A finished job of ``duration_s`` seconds whose ``stage`` took ``seconds`` (the others took nothing)."""
    job = jobs.create_job(db, 1, "history", duration_s, "landscape", {}, stages=(stage,))
    end = NOW - timedelta(seconds=ago_s)
    db.query("UPDATE job_stages SET status = 'done', progress = 1, device = ?, started_at = ?, finished_at = ?"
             " WHERE job_id = ?", [device, end - timedelta(seconds=seconds), end, job])
    db.query("UPDATE jobs SET status = 'done', finished_at = ? WHERE id = ?", [end, job])
    return job


def active_job(db, duration_s: int, running: dict | None = None, done: tuple[str, ...] = ()) -> int:
    """A job with ``done`` stages behind it and, with ``running``, {stage, progress, elapsed_s} under way."""
    job = jobs.create_job(db, 1, "now", duration_s, "landscape", {})
    for stage in done:
        db.query("UPDATE job_stages SET status = 'done', progress = 1 WHERE job_id = ? AND stage = ?", [job, stage])
    if running:
        db.query("UPDATE job_stages SET status = 'running', progress = ?, device = 'cpu', started_at = ?"
                 " WHERE job_id = ? AND stage = ?",
                 [running["progress"], NOW - timedelta(seconds=running["elapsed_s"]), job, running["stage"]])
        db.query("UPDATE jobs SET status = 'running' WHERE id = ?", [job])
    return job


@pytest.mark.parametrize("seconds, said", [
    (None, ""), (0, "less than a minute left"), (44, "less than a minute left"), (50, "about 1 min left"),
    (125, "about 2 min left"), (3600, "about 1 h left"), (3900, "about 1 h 5 min left"),
])
def test_time_left_reads_as_an_operator_says_it(seconds, said):
    assert eta.describe_left(seconds) == said


def test_a_wait_is_said_only_when_it_is_worth_saying():
    assert eta.describe_wait(0) == "" and eta.describe_wait(30) == ""
    assert eta.describe_wait(200) == "starts in about 3 min"


def test_without_history_the_defaults_scale_with_the_video():
    history = eta.Paces()
    assert history.expected("render", 60) == pytest.approx(eta.DEFAULT_PACE["render"] * 60)
    assert history.expected("thumbnail", 10) == eta.MIN_STAGE_S  # never less than the floor
    assert history.expected("something-new", 100) == pytest.approx(eta.OTHER_PACE * 100)


def test_paces_come_from_the_machines_finished_stages_per_second_of_video(db):
    for seconds in (30, 60, 90):  # 60 s videos: 0.5, 1.0 and 1.5 s of render per second; median 1.0
        seed_done(db, "render", 60, seconds)
    history = eta.paces(db)
    assert history.samples("render") == 3
    assert history.pace("render", 60) == pytest.approx(1.0)
    assert history.expected("render", 120) == pytest.approx(120.0)
    assert history.pace("voice", 60) == eta.DEFAULT_PACE["voice"]  # no voice history: the default


def test_the_same_device_and_similar_lengths_are_preferred_when_there_are_enough(db):
    for _ in range(3):
        seed_done(db, "render", 60, 60, device="cpu")
    for _ in range(3):
        seed_done(db, "render", 60, 6, device="cuda")
    for _ in range(3):
        seed_done(db, "render", 600, 3000, device="cpu")  # long videos: 5 s a second on the CPU
    history = eta.paces(db)
    assert history.pace("render", 60, "cuda") == pytest.approx(0.1)
    assert history.pace("render", 60, "cpu") == pytest.approx(1.0)  # the 60 s videos, not the 600 s ones
    assert history.pace("render", 500, "cpu") == pytest.approx(5.0)
    seed_done(db, "script", 60, 30, device="cpu")  # one sample only: all of the stage's history counts
    assert eta.paces(db).pace("script", 600, "cuda") == pytest.approx(0.5)


def test_recent_history_wins_over_old(db):
    for n in range(eta.RECENT):
        seed_done(db, "voice", 10, 20, ago_s=100 + n)  # the last RECENT runs: 2 s a second
    for n in range(5):
        seed_done(db, "voice", 10, 200, ago_s=10_000 + n)  # older, slower runs fall out of the window
    assert eta.paces(db).pace("voice", 10) == pytest.approx(2.0)


@pytest.mark.parametrize("expected, elapsed, progress, left", [
    (100, 0, 0.0, 100),  # not started: its history
    (100, 30, 0.0, 70),  # no progress reported yet: history less the time run
    (100, 150, 0.0, eta.MIN_LEFT_S),  # overran with nothing reported: it may end any moment
    (100, 50, 0.5, 0.5 * 50 + 0.5 * 50),  # on schedule: both say 50
    (100, 10, 0.5, 0.5 * 10 + 0.5 * 50),  # fast so far: the blend leans on the speed as far as it got
    (100, 90, 0.9, 0.9 * 10 + 0.1 * 10),
    (100, 99, 1.0, eta.MIN_LEFT_S),  # said 100 % but not recorded done yet
])
def test_a_running_stage_blends_its_speed_with_its_history(expected, elapsed, progress, left):
    assert eta.stage_left(expected, elapsed, progress) == pytest.approx(left)


def test_a_jobs_eta_is_its_stage_remainder_plus_the_stages_after(db):
    for stage, seconds in (("voice", 10), ("render", 60), ("thumbnail", 1)):
        for _ in range(3):
            seed_done(db, stage, 60, seconds)
    history = eta.paces(db)
    stages = [{"stage": "voice", "status": "done"},
              {"stage": "render", "status": "running", "progress": 0.5, "elapsed_s": 30, "device": "cpu"},
              {"stage": "thumbnail", "status": "pending"}, {"stage": "publish", "status": "skipped"}]
    result = eta.job_eta(stages, 60, history)
    assert result.stage_left_s == pytest.approx({"render": 30.0, "thumbnail": 1.0})
    assert result.left_s == pytest.approx(31.0)
    assert result.done == pytest.approx((10 + 30) / (10 + 30 + 30 + 1))


def test_the_queue_is_played_forward_over_the_workers(db):
    for stage in jobs.STAGES:  # every stage: 1 s per second of video
        for _ in range(3):
            seed_done(db, stage, 10, 10)
    running = active_job(db, 10, {"stage": "render", "progress": 0.5, "elapsed_s": 5},
                         done=("script", "voice", "scenes", "visuals"))
    first = active_job(db, 10)
    second = active_job(db, 10)
    held = active_job(db, 10)
    db.query("UPDATE jobs SET status = 'review', awaiting = 'script' WHERE id = ?", [held])  # waits for a person
    one = {r["job_id"]: r for r in eta.queue_eta(db, workers=1, now=NOW).iter_rows(named=True)}
    assert set(one) == {running, first, second}
    # running: half its render (5 s) and three 10 s stages; then each queued job: eight 10 s stages
    assert one[running]["left_s"] == pytest.approx(35.0) and one[running]["wait_s"] == 0
    assert one[running]["stage"] == "render" and one[running]["stage_left_s"] == pytest.approx(5.0)
    assert one[first]["wait_s"] == pytest.approx(35.0) and one[first]["left_s"] == pytest.approx(115.0)
    assert one[second]["wait_s"] == pytest.approx(115.0) and one[second]["left_s"] == pytest.approx(195.0)
    assert one[first]["done"] == 0 and 0 < one[running]["done"] < 1
    two = {r["job_id"]: r for r in eta.queue_eta(db, workers=2, now=NOW).iter_rows(named=True)}
    assert two[first]["wait_s"] == 0 and two[first]["left_s"] == pytest.approx(80.0)
    assert two[second]["wait_s"] == pytest.approx(35.0)  # the first worker to free up


def test_a_deferred_job_waits_for_its_not_before(db):
    job = active_job(db, 10)
    db.query("UPDATE jobs SET not_before = ? WHERE id = ?", [NOW + timedelta(minutes=10), job])
    [row] = eta.queue_eta(db, workers=2, now=NOW).iter_rows(named=True)
    assert row["wait_s"] == pytest.approx(600.0)
    assert row["left_s"] == pytest.approx(600.0 + sum(eta.Paces().expected(s, 10) for s in jobs.STAGES))


def test_an_empty_queue_has_an_empty_eta(db):
    assert eta.queue_eta(db, workers=2).is_empty()
