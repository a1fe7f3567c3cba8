"""The worker's state machine with small fake stages (the real ones are covered end to end elsewhere)."""

import threading
import time

import pytest

from pipeline import jobs
from pipeline.channels import ensure_demo_channel
from pipeline.costs import PriceTable, Usage
from pipeline.gpu import GpuLease
from pipeline.providers.base import ProviderError, TransientError
from pipeline.stages import StageContext, StageOutput, StageSpec
from pipeline.worker import Worker

PRICES = PriceTable("test", {"fake": {"m": {"calls": 0.01}}})
NAMES = ("script", "voice", "visuals", "render")


class Recorder:
    def __init__(self):
        self.calls: list[tuple[int, str, str]] = []
        self.lock = threading.Lock()

    def stage(self, name, behaviour=None, gpu=False):
        def run(ctx: StageContext) -> StageOutput:
            with self.lock:
                self.calls.append((ctx.job["id"], name, ctx.device))
            if behaviour:
                behaviour(ctx)
            path = ctx.job_dir / f"{name}.out"
            path.write_text(f"{name} for {ctx.job['topic']}")
            ctx.progress(0.5)
            return StageOutput({name: path}, [Usage("fake", "m", "calls", 1)], "fake")
        return StageSpec(name, run, gpu=gpu, provider=lambda b, c, s: "fake")

    def ran(self, job_id=None):
        return [n for j, n, _ in self.calls if job_id is None or j == job_id]


def make_worker(settings, db, specs, lease=None):
    return Worker(settings, db, PRICES, pipeline=tuple(specs), lease=lease or GpuLease(0))


def new_job(db, topic="t"):
    channel = ensure_demo_channel(db) or 1
    return jobs.create_job(db, channel, topic, 60, "landscape", {}, stages=NAMES)


def test_runs_every_stage_in_order_and_ledgers_each(settings, db):
    rec = Recorder()
    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage(n) for n in NAMES])
    progress = []
    assert worker.run_job(job, on_progress=lambda s, f: progress.append((s, f))) == "done"
    assert rec.ran() == list(NAMES)
    assert db.query_one("SELECT count(*), sum(usd) FROM cost_ledger WHERE job_id = ?", [job])[0] == 4
    assert ("render", 1.0) in progress
    events = [r[0] for r in db.query("SELECT status FROM job_events WHERE job_id = ? ORDER BY id", [job])]
    assert events[0] == "queued" and events[-1] == "done" and events.count("running") == 5


def test_a_restart_resumes_without_redoing_finished_stages(settings, db):
    rec = Recorder()
    job = new_job(db)

    def crash(ctx):
        raise KeyboardInterrupt  # the process is going down mid-stage

    crashing = [rec.stage("script"), rec.stage("voice"), rec.stage("visuals", crash), rec.stage("render")]
    with pytest.raises(KeyboardInterrupt):
        make_worker(settings, db, crashing).run_job(job)
    assert jobs.get_job(db, job)["status"] == "queued"
    first_script = (settings.jobs_dir / str(job) / "script.out").stat().st_mtime_ns

    rec2 = Recorder()
    worker = make_worker(settings, db, [rec2.stage(n) for n in NAMES])
    assert worker.run_job(job) == "done"
    assert rec2.ran() == ["visuals", "render"]  # script and voice were finished: not redone
    assert (settings.jobs_dir / str(job) / "script.out").stat().st_mtime_ns == first_script
    per_stage = dict(db.query("SELECT stage, count(*) FROM cost_ledger WHERE job_id = ? GROUP BY stage", [job]))
    assert per_stage == {n: 1 for n in NAMES}  # nothing charged twice


def test_a_hard_crash_is_recovered_when_the_worker_starts(settings, db):
    rec = Recorder()
    job = new_job(db)
    # what a killed process leaves behind: the job and a stage marked running
    jobs.claim_next(db)
    jobs.start_stage(db, job, "script", "fake", "cpu")
    worker = make_worker(settings, db, [rec.stage(n) for n in NAMES])
    assert worker.start() == [job]
    try:
        assert worker.wait_idle(timeout=20)
    finally:
        worker.stop()
    assert jobs.get_job(db, job)["status"] == "done"
    assert db.query_one("SELECT attempts FROM job_stages WHERE job_id = ? AND stage = 'script'", [job])[0] == 2


def test_lost_artifact_files_are_made_again(settings, db):
    rec = Recorder()
    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage(n) for n in NAMES])
    worker.run_job(job)
    (settings.jobs_dir / str(job) / "voice.out").unlink()
    with db.write() as cur:  # an operator re-runs a finished job whose files were cleaned up
        cur.execute("UPDATE jobs SET status = 'queued' WHERE id = ?", [job])
    rec.calls.clear()
    worker.run_job(job)
    assert rec.ran() == ["voice", "visuals", "render"]  # and everything after it: nothing built on the lost file stands


def test_transient_errors_retry_with_backoff_then_succeed(settings, db):
    rec = Recorder()
    failures = iter([TransientError("429 slow down", provider="fake"), TransientError("503", provider="fake")])
    stamps = []

    def flaky(ctx):
        stamps.append(time.monotonic())
        exc = next(failures, None)
        if exc:
            raise exc

    settings.retry_base_s = 0.05
    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script", flaky)] + [rec.stage(n) for n in NAMES[1:]])
    assert worker.run_job(job) == "done"
    assert db.query_one("SELECT attempts FROM job_stages WHERE job_id = ? AND stage = 'script'", [job])[0] == 3
    assert stamps[1] - stamps[0] >= 0.05 and stamps[2] - stamps[1] >= 0.1  # doubling backoff
    assert [r[0] for r in db.query("SELECT status FROM job_events WHERE job_id = ? AND stage = 'script' ORDER BY id", [job])].count("retrying") == 2


def test_transient_errors_give_up_after_max_attempts(settings, db):
    rec = Recorder()

    def always(ctx):
        raise TransientError("503 Service Unavailable", provider="fake")

    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script"), rec.stage("voice", always), rec.stage("visuals"), rec.stage("render")])
    assert worker.run_job(job) == "failed"
    failed = jobs.get_job(db, job)
    assert failed["error_stage"] == "voice" and failed["error_provider"] == "fake"
    assert "gave up after 3 attempts" in failed["error_message"]
    assert rec.ran() == ["script"] + ["voice"] * 3


def test_a_permanent_error_fails_at_once_with_stage_provider_and_message(settings, db):
    rec = Recorder()

    def bad_key(ctx):
        raise ProviderError("the API key was rejected: set OPENAI_API_KEY", provider="openai")

    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script", bad_key)] + [rec.stage(n) for n in NAMES[1:]])
    assert worker.run_job(job) == "failed"
    failed = jobs.get_job(db, job)
    assert (failed["error_stage"], failed["error_provider"]) == ("script", "openai")
    assert failed["error_message"] == "openai: the API key was rejected: set OPENAI_API_KEY"
    assert rec.ran() == ["script"]
    # a retry resumes at the failed stage
    rec.calls.clear()
    jobs.retry_job(db, job)
    worker = make_worker(settings, db, [rec.stage(n) for n in NAMES])
    assert worker.run_job(job) == "done"
    assert rec.ran() == list(NAMES)


def test_cancel_a_running_job(settings, db):
    rec = Recorder()
    started = threading.Event()

    def slow(ctx):
        started.set()
        assert ctx.cancel.wait(10)  # a long stage that watches for cancellation
        from pipeline.media.ffmpeg import Cancelled
        raise Cancelled("stopped")

    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script"), rec.stage("voice", slow), rec.stage("visuals"), rec.stage("render")])
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("status", worker.run_job(job)))
    t.start()
    assert started.wait(10)
    assert worker.cancel(job) == "running"
    t.join(10)
    assert result["status"] == "cancelled"
    assert jobs.get_job(db, job)["status"] == "cancelled"
    stages = {s["stage"]: s["status"] for s in jobs.job_stages(db, job)}
    assert stages == {"script": "done", "voice": "cancelled", "visuals": "pending", "render": "pending"}


def test_a_quality_hold_skips_the_rest(settings, db):
    rec = Recorder()

    def hold_stage(ctx):
        path = ctx.job_dir / "q.json"
        path.write_text("{}")
        return StageOutput({"quality": path}, [], "quality", hold="quality 40 < 70: duration too short")

    specs = [rec.stage("script"), StageSpec("voice", hold_stage), rec.stage("visuals"), rec.stage("render")]
    job = new_job(db)
    assert make_worker(settings, db, specs).run_job(job) == "held"
    stages = {s["stage"]: s["status"] for s in jobs.job_stages(db, job)}
    assert stages["visuals"] == "skipped" and stages["render"] == "skipped"
    assert rec.ran() == ["script"]


def test_unpriced_usage_fails_the_job_and_names_the_model(settings, db):
    def run(ctx):
        p = ctx.job_dir / "x"
        p.write_text("x")
        return StageOutput({"script": p}, [Usage("mystery", "gpt-x", "tokens", 5)], "mystery")

    job = new_job(db)
    worker = make_worker(settings, db, [StageSpec("script", run)])
    assert worker.run_job(job) == "failed"
    assert "mystery/gpt-x" in jobs.get_job(db, job)["error_message"]
    assert db.query_one("SELECT count(*) FROM cost_ledger")[0] == 0


def test_gpu_out_of_memory_falls_back_to_the_cpu(settings, db):
    rec = Recorder()

    def oom_on_gpu(ctx):
        if ctx.device == "cuda":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    lease = GpuLease(1, probe=lambda: True)  # pretend a GPU is present
    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script"), rec.stage("voice", oom_on_gpu, gpu=True)], lease)
    assert worker.run_job(job) == "done"
    assert [(n, d) for _, n, d in rec.calls] == [("script", "cpu"), ("voice", "cuda"), ("voice", "cpu")]
    assert db.query_one("SELECT device FROM job_stages WHERE job_id = ? AND stage = 'voice'", [job])[0] == "cpu"
    assert db.query_one("SELECT count(*) FROM job_events WHERE job_id = ? AND status = 'fallback'", [job])[0] == 1


def test_without_a_gpu_gpu_stages_run_on_the_cpu(settings, db):
    rec = Recorder()
    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("voice", gpu=True)], GpuLease(2, probe=lambda: False))
    worker.run_job(job)
    assert rec.calls[0][2] == "cpu"


def test_the_lease_allows_at_most_n_gpu_stages_at_once(settings, db):
    settings.workers = 3
    rec = Recorder()
    active, peak, lock = [0], [0], threading.Lock()

    def busy(ctx):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1

    lease = GpuLease(1, probe=lambda: True)
    ids = [new_job(db, f"t{i}") for i in range(3)]
    worker = make_worker(settings, db, [rec.stage("voice", busy, gpu=True)], lease)
    worker.start()
    try:
        assert worker.wait_idle(timeout=30)
    finally:
        worker.stop()
    assert peak[0] == 1 and lease.peak == 1
    assert all(jobs.get_job(db, j)["status"] == "done" for j in ids)
    assert {d for _, _, d in rec.calls} == {"cuda"}


def test_the_pool_runs_jobs_side_by_side(settings, db):
    settings.workers = 2
    rec = Recorder()
    overlap, active, lock = [0], [0], threading.Lock()

    def busy(ctx):
        with lock:
            active[0] += 1
            overlap[0] = max(overlap[0], active[0])
        time.sleep(0.3)
        with lock:
            active[0] -= 1

    ids = [new_job(db, f"t{i}") for i in range(4)]
    worker = make_worker(settings, db, [rec.stage("script", busy)])
    worker.start()
    try:
        assert worker.wait_idle(timeout=30)
    finally:
        worker.stop()
    assert overlap[0] == 2
    assert sorted(j for j, _, _ in rec.calls) == ids  # each job once


def test_stopping_the_worker_leaves_running_jobs_resumable(settings, db):
    rec = Recorder()
    started = threading.Event()

    def long(ctx):
        started.set()
        ctx.cancel.wait(10)
        from pipeline.media.ffmpeg import Cancelled
        raise Cancelled("stopping")

    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script", long)])
    worker.start()
    assert started.wait(10)
    worker.stop()
    assert jobs.get_job(db, job)["status"] == "queued"


def test_a_hold_is_written_with_the_quality_verdict_so_a_crash_cannot_publish(settings, db):
    """The quality stage's verdict, the skipped publish and the held status land in one transaction."""
    rec = Recorder()

    def hold_stage(ctx):
        path = ctx.job_dir / "q.json"
        path.write_text("{}")
        return StageOutput({"quality": path}, [], "quality", hold="quality 40 < 70")

    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script"), StageSpec("voice", hold_stage), rec.stage("visuals")])
    original = jobs.complete_stage

    def crash_after(*args, **kwargs):
        original(*args, **kwargs)
        if kwargs.get("hold"):
            raise KeyboardInterrupt  # the process dies right after the verdict is committed
    jobs.complete_stage = crash_after
    try:
        with pytest.raises(KeyboardInterrupt):
            worker.run_job(job)
    finally:
        jobs.complete_stage = original
    assert jobs.get_job(db, job)["status"] == "held"
    assert jobs.claim_next(db) is None  # a held job is never picked up again on its own
    assert rec.ran() == ["script"]


def test_an_error_outside_the_stages_fails_the_job_instead_of_looping(settings, db):
    rec = Recorder()
    job = new_job(db)
    worker = make_worker(settings, db, [rec.stage("script")])
    worker._channel = lambda channel_id: (_ for _ in ()).throw(OSError("No space left on device"))
    assert worker.run_job(job) == "failed"
    assert "No space left on device" in jobs.get_job(db, job)["error_message"]


def test_a_free_step_is_never_refused_by_the_cap(settings, db):
    from pipeline.budget import BudgetGuard
    from pipeline.costs import PriceTable, record_usage
    prices = PriceTable("t", {"paid": {"m": {"calls": 1.0}}, "local": {"m": {"calls": 0.0}}})
    record_usage(db, prices, 1, "script", [Usage("paid", "m", "calls", 2)])  # $2 spent, over a $1 cap
    guard = BudgetGuard(db, prices, 1, 1.0, {})
    assert guard.refusal([Usage("local", "m", "calls", 1)]) is None
    assert guard.refusal([Usage("paid", "m", "calls", 0.01)]) is not None


def test_a_stage_that_finishes_after_its_job_changed_records_its_billing_and_stops(settings, db):
    """A restore (or anything else) replaces the job while a stage runs: what the stage was billed is
    ledgered, its artifacts and the job's new state are left alone, and the run stops."""
    rec = Recorder()

    def restored_underneath(ctx):
        with db.write() as cur:  # what a restore of an older backup does to this job's rows
            cur.execute("UPDATE jobs SET status = 'queued', uid = 'from-the-backup' WHERE id = ?", [ctx.job["id"]])
            cur.execute("UPDATE job_stages SET status = 'pending', attempts = 0 WHERE job_id = ?", [ctx.job["id"]])

    worker = make_worker(settings, db, [rec.stage("script"), rec.stage("voice", restored_underneath),
                                        rec.stage("visuals"), rec.stage("render")])
    job = new_job(db)
    assert worker.run_job(job) == "superseded"
    assert rec.ran(job) == ["script", "voice"]  # nothing after the change
    row = jobs.get_job(db, job)
    assert (row["status"], row["uid"]) == ("queued", "from-the-backup")
    assert set(jobs.artifacts(db, job)) == {"script"}  # the voice's result was not recorded
    assert db.query_one("SELECT status FROM job_stages WHERE job_id = ? AND stage = 'voice'", [job])[0] == "pending"
    billed = db.query("SELECT stage FROM cost_ledger WHERE job_id = ? ORDER BY id", [job])
    assert billed == [("script",), ("voice",)]  # the voice was billed and that is on record
    assert db.query_one("SELECT count(*) FROM job_events WHERE job_id = ? AND status = 'discarded'", [job])[0] == 1


def test_a_stage_that_fails_after_its_job_changed_leaves_the_new_state_alone(settings, db):
    def restored_then_fails(ctx):
        with db.write() as cur:
            cur.execute("UPDATE jobs SET status = 'done', uid = 'other' WHERE id = ?", [ctx.job["id"]])
        raise ProviderError("boom", provider="fake")

    rec = Recorder()
    worker = make_worker(settings, db, [rec.stage("script", restored_then_fails)])
    job = new_job(db)
    assert worker.run_job(job) == "superseded"
    row = jobs.get_job(db, job)
    assert row["status"] == "done" and row["error_message"] is None
