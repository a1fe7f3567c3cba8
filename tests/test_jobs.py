import pytest

from pipeline import jobs
from pipeline.channels import ensure_demo_channel
from pipeline.jobs import InvalidTransition, check_job_transition, check_stage_transition


@pytest.mark.parametrize("old, new", [
    ("queued", "running"), ("queued", "cancelled"), ("running", "done"), ("running", "held"), ("running", "failed"),
    ("running", "cancelled"), ("running", "queued"), ("failed", "queued"), ("cancelled", "queued"), ("held", "queued")])
def test_allowed_job_transitions(old, new):
    check_job_transition(old, new)


@pytest.mark.parametrize("old, new", [
    ("done", "queued"), ("done", "running"), ("queued", "done"), ("queued", "failed"), ("failed", "done"),
    ("cancelled", "running"), ("held", "done")])
def test_forbidden_job_transitions(old, new):
    with pytest.raises(InvalidTransition):
        check_job_transition(old, new)


@pytest.mark.parametrize("old, new, ok", [
    ("pending", "running", True), ("running", "done", True), ("running", "failed", True), ("failed", "pending", True),
    ("pending", "done", False), ("done", "running", False), ("skipped", "done", False)])
def test_stage_transitions(old, new, ok):
    if ok:
        check_stage_transition(old, new)
    else:
        with pytest.raises(InvalidTransition):
            check_stage_transition(old, new)


@pytest.fixture
def job(db):
    channel = ensure_demo_channel(db)
    return jobs.create_job(db, channel, "Topic", 60, "landscape", {"outline": ""})


def test_created_job_has_every_stage_pending_and_an_event(db, job):
    stages = jobs.job_stages(db, job)
    assert [s["stage"] for s in stages] == list(jobs.STAGES)
    assert {s["status"] for s in stages} == {"pending"}
    assert db.query("SELECT status FROM job_events WHERE job_id = ?", [job]) == [("queued",)]


def test_claim_takes_the_oldest_queued_job_once(db, job):
    second = jobs.create_job(db, 1, "Other", 60, "landscape", {})
    assert jobs.claim_next(db) == job
    assert jobs.claim_next(db) == second
    assert jobs.claim_next(db) is None
    assert jobs.get_job(db, job)["status"] == "running"


def test_complete_stage_records_artifacts_ledger_and_video_in_one_go(db, job, tmp_path):
    from pipeline.costs import PriceTable, Usage
    jobs.claim_next(db)
    jobs.start_stage(db, job, "script", "local", "cpu")
    path = tmp_path / "script.json"
    path.write_text("{}")
    table = PriceTable("v", {"local": {"m": {"words": 0.0}}})
    jobs.complete_stage(db, job, "script", {"script": path}, [table.price(Usage("local", "m", "words", 120))],
                        {"channel_id": 1, "title": "T", "description": "D", "tags": ["a"], "format": "landscape"})
    assert jobs.stage_artifacts(db, job, "script") == {"script": path}
    assert db.query_one("SELECT status, attempts, progress FROM job_stages WHERE job_id = ? AND stage = 'script'", [job]) == ("done", 1, 1.0)
    assert db.query_one("SELECT quantity FROM cost_ledger WHERE job_id = ?", [job]) == (120.0,)
    assert db.query_one("SELECT title, tags FROM videos WHERE job_id = ?", [job]) == ("T", ["a"])


def test_a_stage_cannot_finish_without_starting(db, job, tmp_path):
    with pytest.raises(InvalidTransition):
        jobs.complete_stage(db, job, "voice", {}, [])


def test_orphans_go_back_to_the_queue_keeping_finished_stages(db, job, tmp_path):
    jobs.claim_next(db)
    jobs.start_stage(db, job, "script", "local", "cpu")
    (tmp_path / "s.json").write_text("{}")
    jobs.complete_stage(db, job, "script", {"script": tmp_path / "s.json"}, [])
    jobs.start_stage(db, job, "voice", "piper", "cpu")
    assert jobs.recover_orphans(db) == [job]
    assert jobs.get_job(db, job)["status"] == "queued"
    status = {s["stage"]: s["status"] for s in jobs.job_stages(db, job)}
    assert status["script"] == "done" and status["voice"] == "pending"


def test_cancel_a_queued_job_at_once_and_a_running_one_by_request(db, job):
    assert jobs.request_cancel(db, job) == "cancelled"
    assert jobs.get_job(db, job)["status"] == "cancelled"
    other = jobs.create_job(db, 1, "Other", 60, "landscape", {})
    jobs.claim_next(db)
    assert jobs.request_cancel(db, other) == "running"
    assert jobs.cancel_requested(db, other)
    with pytest.raises(InvalidTransition):
        jobs.request_cancel(db, job)  # already cancelled


def test_retry_a_failed_job(db, job):
    jobs.claim_next(db)
    jobs.start_stage(db, job, "script", "local", "cpu")
    jobs.fail_stage(db, job, "script", "boom", final=True)
    jobs.set_job_status(db, job, "failed", "boom", error_stage="script", error_provider="local")
    failed = jobs.get_job(db, job)
    assert (failed["error_stage"], failed["error_provider"], failed["error_message"]) == ("script", "local", "boom")
    jobs.retry_job(db, job)
    again = jobs.get_job(db, job)
    assert again["status"] == "queued" and again["error_message"] is None
    assert jobs.job_stages(db, job)[0]["status"] == "pending"


def test_retry_of_a_held_job_judges_quality_again(db, job, tmp_path):
    jobs.claim_next(db)
    for stage in ("script", "voice", "visuals", "render", "thumbnail", "quality"):
        jobs.start_stage(db, job, stage, None, "cpu")
        f = tmp_path / stage
        f.write_text("x")
        jobs.complete_stage(db, job, stage, {stage: f}, [])
    jobs.mark_stage(db, job, "publish", "skipped")
    jobs.set_job_status(db, job, "held", "quality 50 < 70")
    jobs.retry_job(db, job)
    status = {s["stage"]: s["status"] for s in jobs.job_stages(db, job)}
    assert status["quality"] == "pending" and status["publish"] == "pending" and status["render"] == "done"
    assert "quality" not in jobs.artifacts(db, job)


def test_unknown_job(db):
    with pytest.raises(jobs.JobNotFound):
        jobs.get_job(db, 999)


def test_retry_from_two_tabs_at_once_queues_the_job_once(db, job):
    import threading
    jobs.claim_next(db)
    jobs.set_job_status(db, job, "failed", "boom")
    results, barrier = [], threading.Barrier(4)

    def click():
        barrier.wait()
        try:
            jobs.retry_job(db, job)
            results.append("queued")
        except InvalidTransition as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("queued") == 1
    assert sorted(results)[:3] == [f"Job {job} is already queued: nothing to retry."] * 3
    assert db.query_one("SELECT count(*) FROM job_events WHERE job_id = ? AND message = 'retry'", [job])[0] == 1


@pytest.mark.parametrize("status, message", [("queued", "already queued"), ("running", "already running"),
                                             ("done", "is done")])
def test_retry_is_refused_with_a_message_unless_failed_cancelled_or_held(db, job, status, message):
    with db.write() as cur:
        cur.execute("UPDATE jobs SET status = ? WHERE id = ?", [status, job])
    with pytest.raises(InvalidTransition, match=message):
        jobs.retry_job(db, job)


def test_a_second_cancel_changes_nothing_and_says_so(db, job):
    jobs.claim_next(db)
    assert jobs.request_cancel(db, job) == "running"
    assert jobs.request_cancel(db, job) == "running"
    assert db.query_one("SELECT count(*) FROM job_events WHERE job_id = ? AND status = 'cancelling'", [job])[0] == 1
    jobs.set_job_status(db, job, "cancelled")
    with pytest.raises(InvalidTransition, match="already cancelled"):
        jobs.request_cancel(db, job)


def test_a_request_key_makes_one_job_however_often_it_is_sent(db):
    import threading
    channel = ensure_demo_channel(db) or 1
    ids, barrier = [], threading.Barrier(6)

    def submit():
        barrier.wait()
        ids.append(jobs.submit_job(db, channel, "t", 60, "landscape", {}, request_key="form-1"))

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({i for i, _ in ids}) == 1 and sum(created for _, created in ids) == 1
    assert db.query_one("SELECT count(*) FROM jobs")[0] == 1
    other, created = jobs.submit_job(db, channel, "t", 60, "landscape", {}, request_key="form-2")
    assert created and other != ids[0][0]
    a, b = jobs.create_job(db, channel, "t", 60, "landscape", {}), jobs.create_job(db, channel, "t", 60, "landscape", {})
    assert a != b  # no key, no deduplication
    uids = [r[0] for r in db.query("SELECT uid FROM jobs")]
    assert len(set(uids)) == len(uids) and all(len(u) == 32 for u in uids)


def test_a_batch_reports_duplicated_and_too_short_lines_and_queues_the_rest(tmp_path):
    from pipeline.config import Settings
    from pipeline.workbench import Workbench

    with Workbench(Settings(data_dir=tmp_path / "data"), start_worker=False) as wb:
        ids, errors = wb.enqueue_batch(["Octopus hearts", "ok", "", "octopus  HEARTS", "Octopus blood"])
        assert len(ids) == 2
        assert errors == ["line 2: 'ok' is too short to be a topic (at least 3 characters): write what the video "
                          "is about.", "line 4: the same topic as line 1, so it was not queued twice."]
