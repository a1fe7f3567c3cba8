"""The worker: a thread pool in the owning process that claims queued jobs and runs their stages.

It is the one place that records state transitions. Transient errors retry
with exponential backoff; any other error fails the job with its stage,
provider and a message. A restarted worker puts jobs left running back in the
queue and resumes each at its first stage without recorded artifacts. GPU
stages hold a lease and run again on the CPU when the GPU fails them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

from pipeline import jobs
from pipeline.budget import BudgetGuard, OverBudget
from pipeline.channels import review_gates
from pipeline.config import Settings
from pipeline.costs import PriceError, PriceTable
from pipeline.db import Database
from pipeline.gpu import GpuLease, is_gpu_failure
from pipeline.media.ffmpeg import Cancelled, FFmpegError, FFmpegTimeout
from pipeline.providers import UnknownProvider
from pipeline.providers.base import BriefError, ProviderError, TransientError
from pipeline.stages import PIPELINE, StageContext, StageOutput, StageSpec

log = logging.getLogger("ytempire.worker")

ProgressFn = Callable[[str, float], None]


class StageFailed(RuntimeError):
    def __init__(self, stage: str, provider: str | None, message: str):
        super().__init__(message)
        self.stage, self.provider, self.message = stage, provider, message


class Deferred(RuntimeError):
    def __init__(self, stage: str, until, message: str):
        super().__init__(message)
        self.stage, self.until, self.message = stage, until, message


class Interrupted(RuntimeError):
    """The worker is stopping: leave the job to be resumed, not failed."""


def wait_message(what: str) -> str:
    return ("awaiting review of the script: read and edit it in the Library, then approve it (no voice is paid for "
            "until then)" if what == "script" else
            "awaiting review before publishing: watch it in the Library, edit its title and description, then publish")


def describe(exc: BaseException) -> str:
    """An error in words an operator can act on."""
    if isinstance(exc, (BriefError, PriceError, UnknownProvider, FileNotFoundError, OverBudget)):
        return str(exc)
    if isinstance(exc, ProviderError):
        return f"{exc.provider or 'provider'}: {exc}"
    if isinstance(exc, FFmpegTimeout):
        return str(exc)  # says what hung, for how long, and what to do
    if isinstance(exc, FFmpegError):
        return f"{exc} (the render failed; retry the job, and if it fails again check the slides and narration files)"
    if isinstance(exc, MemoryError):
        return "Out of memory: lower the number of workers in Settings, or make shorter videos."
    return f"{type(exc).__name__}: {exc}"


class Worker:
    def __init__(self, settings: Settings, db: Database, prices: PriceTable, *,
                 pipeline: tuple[StageSpec, ...] = PIPELINE, lease: GpuLease | None = None,
                 channel_lookup: Callable[[int], dict] | None = None, youtube: object | None = None,
                 embedder: Callable[[], object] | None = None):
        self.settings = settings
        self.db = db
        self.prices = prices
        self.pipeline = pipeline
        self.lease = lease or GpuLease(settings.gpu_slots)
        self._channel_lookup = channel_lookup
        self.youtube = youtube
        self.embedder = embedder
        self._stop = threading.Event()
        self._paused = threading.Event()  # maintenance (a restore): claim nothing, park what runs
        self._wake = threading.Event()
        self._cancel: dict[int, threading.Event] = {}
        self._running: dict[int, Future | None] = {}
        # Reentrant: SIGTERM's handler (in the main thread) may stop the worker while that thread holds it.
        self._guard = threading.RLock()
        self._parked: set[int] = set()  # jobs whose cancel event pause() set: they requeue, never "cancelled"
        self._executor: ThreadPoolExecutor | None = None
        self._dispatcher: threading.Thread | None = None
        self._last_progress: dict[tuple[int, str], float] = {}
        self._attempt_no: dict[tuple[int, str], int] = {}  # the attempt a running stage started as

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> list[int]:
        """Resume what a previous run left unfinished and start claiming jobs. Returns resumed ids."""
        resumed = jobs.recover_orphans(self.db)
        if resumed:
            log.info("resuming jobs %s", resumed)
        self._stop.clear()
        self._executor = ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="ytempire-job")
        self._dispatcher = threading.Thread(target=self._dispatch, name="ytempire-dispatch", daemon=True)
        self._dispatcher.start()
        return resumed

    def stop(self, wait: bool = True) -> None:
        """Stop claiming; running jobs stop at the next checkpoint and stay resumable."""
        self._stop.set()
        self._wake.set()
        with self._guard:
            for event in self._cancel.values():
                event.set()
        if self._dispatcher:
            self._dispatcher.join(timeout=10)
        if self._executor:
            self._executor.shutdown(wait=wait, cancel_futures=True)

    def pause(self, timeout: float = 120.0) -> bool:
        """Stop claiming jobs and park the running ones at their next checkpoint (they go back to the queue,
        ffmpeg is stopped). Returns whether every job had stopped within the timeout; stays paused either way."""
        self._paused.set()
        with self._guard:
            for job_id, event in self._cancel.items():
                self._parked.add(job_id)
                event.set()
        deadline = time.monotonic() + timeout
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.busy()

    def resume(self) -> None:
        """Claim jobs again. A job pause() could not park in time carries on where it was (its cancel
        event is cleared, unless the operator asked to cancel it meanwhile)."""
        with self._guard:
            for job_id in list(self._parked):
                event = self._cancel.get(job_id)
                if event is not None and not jobs.cancel_requested(self.db, job_id):
                    event.clear()
        self._paused.clear()
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    @property
    def running(self) -> bool:
        return bool(self._dispatcher and self._dispatcher.is_alive())

    def wake(self) -> None:
        self._wake.set()

    def busy(self) -> list[int]:
        with self._guard:
            return sorted(self._running)

    def wait_idle(self, timeout: float = 600.0) -> bool:
        """Block until no job is queued or running here (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # 'running' rows count too: the dispatcher marks a job running a moment before it is busy here.
            queued = self.db.query_one("SELECT count(*) FROM jobs WHERE status = 'running' OR status = 'queued' AND"
                                       " (not_before IS NULL OR not_before <= current_timestamp::TIMESTAMP)")[0]
            if not queued and not self.busy():
                return True
            time.sleep(0.1)
        return False

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            try:
                while len(self.busy()) < self.settings.workers and not self._stop.is_set() and not self._paused.is_set():
                    job_id = jobs.claim_next(self.db, exclude=set(self.busy()))
                    if job_id is None:
                        break
                    with self._guard:
                        self._running[job_id] = None
                        self._running[job_id] = self._executor.submit(self._run_claimed, job_id)  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - the dispatcher must survive a bad poll
                log.exception("dispatcher error")
            self._wake.wait(self.settings.poll_s)
            self._wake.clear()

    # -- control -------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> str:
        status = jobs.request_cancel(self.db, job_id)
        with self._guard:
            event = self._cancel.get(job_id)
        if event is not None:
            event.set()
        return status

    def run_job(self, job_id: int, on_progress: ProgressFn | None = None) -> str:
        """Run one queued job to its end in this thread (the CLI's path). Returns its final status."""
        job = jobs.get_job(self.db, job_id)
        if job["status"] != "running":
            jobs.set_job_status(self.db, job_id, "running")
        with self._guard:
            self._running[job_id] = None
        return self._run_claimed(job_id, on_progress)

    # -- running a job -------------------------------------------------------------------------
    def _channel(self, channel_id: int) -> dict:
        if self._channel_lookup:
            return self._channel_lookup(channel_id)
        rows = self.db.query_dicts("SELECT * FROM channels WHERE id = ?", [channel_id])
        if not rows:
            raise StageFailed("script", None, f"Channel {channel_id} no longer exists: pick another channel and retry.")
        return rows[0]

    def _run_claimed(self, job_id: int, on_progress: ProgressFn | None = None) -> str:
        with self._guard:
            cancel = self._cancel.setdefault(job_id, threading.Event())
        current: str | None = None
        uid: str | None = None
        try:
            job = jobs.get_job(self.db, job_id)
            uid = job.get("uid")
            channel = self._channel(job["channel_id"])
            job_dir = self.settings.jobs_dir / str(job_id)
            job_dir.mkdir(parents=True, exist_ok=True)
            have = jobs.artifacts(self.db, job_id)
            rows = {r["stage"]: r for r in jobs.job_stages(self.db, job_id)}
            order = [spec for spec in self.pipeline if spec.name in rows]
            for index, spec in enumerate(order):
                row = rows[spec.name]
                produced = jobs.stage_artifacts(self.db, job_id, spec.name)
                if row["status"] == "done" and produced and all(p.exists() for p in produced.values()):
                    if on_progress:
                        on_progress(spec.name, 1.0)
                    continue  # finished before: never redo
                if row["status"] == "done":
                    jobs.reset_stage(self.db, job_id, spec.name)
                self._checkpoint(job_id, cancel)
                wait = self._gate(job, channel, spec.name)
                if wait:
                    jobs.await_review(self.db, job_id, wait, wait_message(wait), uid=uid)
                    return "review"
                current = spec.name
                output = self._run_stage(job, channel, spec, job_dir, have, cancel, on_progress)
                priced = self._price(job_id, spec.name, output.usage)
                jobs.complete_stage(self.db, job_id, spec.name, output.artifacts, priced, output.video, output.provider,
                                    output.fallbacks, hold=output.hold, skip=[r.name for r in order[index + 1:]],
                                    uid=uid, attempt=self._attempt_no.get((job_id, spec.name)), scenes=output.scenes)
                have.update(output.artifacts)
                current = None
                if on_progress:
                    on_progress(spec.name, 1.0)
                if output.hold:
                    return "held"
            jobs.set_job_status(self.db, job_id, "done", uid=uid)
            return "done"
        except jobs.JobChanged as exc:
            # Restored from a backup or requeued while this run went on: whatever it was billed is in the
            # ledger; its results are not, and the job's new state is left alone.
            log.warning("job %s: %s; this run stops here", job_id, exc)
            return "superseded"
        except Cancelled as exc:
            if current:
                self._record_attempt(job_id, current, exc)
            parked = self._stop.is_set() or self._paused.is_set() or job_id in self._parked
            if parked and not jobs.cancel_requested(self.db, job_id):
                return self._requeue(job_id, current, uid)
            try:
                if current:
                    jobs.mark_stage(self.db, job_id, current, "cancelled", "cancelled by the operator", uid=uid)
                jobs.set_job_status(self.db, job_id, "cancelled", "cancelled by the operator", error_stage=current,
                                    uid=uid)
            except (jobs.JobChanged, jobs.InvalidTransition) as changed:
                log.warning("job %s: %s", job_id, changed)
                return "superseded"
            return "cancelled"
        except Interrupted:
            return self._requeue(job_id, current, uid)
        except Deferred as exc:
            try:
                jobs.defer(self.db, job_id, exc.stage, exc.until, exc.message, uid=uid)
            except jobs.JobChanged as changed:
                log.warning("job %s: %s", job_id, changed)
                return "superseded"
            return "deferred"
        except (StageFailed, PriceError) as exc:
            stage = exc.stage if isinstance(exc, StageFailed) else current
            message = exc.message if isinstance(exc, StageFailed) else str(exc)
            log.warning("job %s failed at %s: %s", job_id, stage, message)
            try:
                jobs.set_job_status(self.db, job_id, "failed", message, error_stage=stage,
                                    error_provider=getattr(exc, "provider", None), uid=uid)
            except (jobs.JobChanged, jobs.InvalidTransition) as changed:
                log.warning("job %s: %s", job_id, changed)
                return "superseded"
            return "failed"
        except (KeyboardInterrupt, SystemExit):
            # Ctrl-C in the CLI, or the process going down: leave the job resumable.
            self._requeue(job_id, current, uid)
            raise
        except Exception as exc:  # noqa: BLE001 - outside any stage (disk full, the database): fail, do not loop
            log.exception("job %s failed outside its stages", job_id)
            try:
                jobs.set_job_status(self.db, job_id, "failed", f"internal error: {type(exc).__name__}: {exc}",
                                    error_stage=current, uid=uid)
            except Exception:  # noqa: BLE001
                log.exception("could not record the failure of job %s", job_id)
            return "failed"
        finally:
            with self._guard:
                self._cancel.pop(job_id, None)
                self._running.pop(job_id, None)
                self._parked.discard(job_id)
            for key in [k for k in self._attempt_no if k[0] == job_id]:
                self._attempt_no.pop(key, None)
            self._wake.set()

    @staticmethod
    def _gate(job: dict, channel: dict, stage: str) -> str | None:
        """The review this job waits for before ``stage``: the script before the voice (nothing paid for yet
        but the script), the publishing before publish; None when it may go on."""
        gates = review_gates(job["brief"], channel)
        if stage == "voice" and "script" in gates and not job.get("script_approved_at"):
            return "script"
        if stage == "publish" and "publish" in gates and not job.get("publish_approved_at"):
            return "publish"
        return None

    def _requeue(self, job_id: int, stage: str | None, uid: str | None = None) -> str:
        try:
            with self.db.write() as cur:  # only a job this run still owns (not one a restore replaced)
                row = cur.execute("SELECT status, uid FROM jobs WHERE id = ?", [job_id]).fetchall()
                mine = bool(row) and row[0][0] == "running" and (uid is None or row[0][1] == uid)
                if mine and stage:
                    cur.execute("UPDATE job_stages SET status = 'pending', progress = 0 WHERE job_id = ? AND stage = ?"
                                " AND status = 'running'", [job_id, stage])
            if mine:
                jobs.set_job_status(self.db, job_id, "queued", "interrupted: will resume", uid=uid)
        except Exception:  # noqa: BLE001 - the database may be closing; recovery at start covers it
            log.exception("could not requeue job %s", job_id)
        return "queued"

    def _checkpoint(self, job_id: int, cancel: threading.Event) -> None:
        if jobs.cancel_requested(self.db, job_id):
            cancel.set()
            raise Cancelled("cancelled")
        if self._stop.is_set() or self._paused.is_set():
            raise Interrupted("worker stopping" if self._stop.is_set() else "worker paused")
        if cancel.is_set():
            raise Cancelled("cancelled")

    def _progress(self, job_id: int, stage: str, on_progress: ProgressFn | None) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            if on_progress:
                on_progress(stage, fraction)
            key = (job_id, stage)
            now = time.monotonic()
            if now - self._last_progress.get(key, 0.0) >= 0.5:  # the UI polls; spare the write lock
                self._last_progress[key] = now
                jobs.set_progress(self.db, job_id, stage, fraction)
        return report

    def _run_stage(self, job: dict, channel: dict, spec: StageSpec, job_dir: Path, have: dict[str, Path],
                   cancel: threading.Event, on_progress: ProgressFn | None) -> StageOutput:
        job_id = job["id"]
        try:
            provider = spec.provider(job["brief"], channel, self.settings) if spec.provider else None
        except UnknownProvider as exc:
            raise StageFailed(spec.name, None, str(exc)) from exc
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(job, channel, spec, job_dir, have, cancel, on_progress, provider)
            except (Cancelled, Interrupted, StageFailed, jobs.JobChanged):
                raise
            except TransientError as exc:
                if getattr(exc, "until", None) is not None:  # quota: wait for the reset, do not burn attempts
                    raise Deferred(spec.name, exc.until, str(exc)) from exc
                self._record_attempt(job_id, spec.name, exc)
                final = attempt >= self.settings.max_attempts
                jobs.fail_stage(self.db, job_id, spec.name, describe(exc), final=final, uid=job.get("uid"))
                if final:
                    raise StageFailed(spec.name, exc.provider or provider,
                                      f"{describe(exc)} (gave up after {attempt} attempts; retry later)") from exc
                delay = self.settings.retry_base_s * 2 ** (attempt - 1)
                log.info("job %s stage %s: transient error, retry in %.1fs: %s", job_id, spec.name, delay, exc)
                if cancel.wait(delay):
                    self._checkpoint(job_id, cancel)
                    raise Cancelled("cancelled")
                self._checkpoint(job_id, cancel)
            except Exception as exc:  # noqa: BLE001 - every other error fails the stage, stored in words
                if not isinstance(exc, (ProviderError, OverBudget)):
                    log.exception("job %s stage %s failed", job_id, spec.name)
                self._record_attempt(job_id, spec.name, exc)
                message = describe(exc)
                jobs.fail_stage(self.db, job_id, spec.name, message, final=True, uid=job.get("uid"))
                raise StageFailed(spec.name, getattr(exc, "provider", None) or provider, message) from exc

    def _price(self, job_id: int, stage: str, usage: list) -> list:
        """Price a finished stage's usage. A stage with an outside effect has already happened: a
        missing price then is logged and the usage ledgered at $0 rather than failing the job."""
        priced = []
        for u in usage:
            try:
                priced.append(self.prices.price(u))
            except PriceError:
                if stage != "publish":
                    raise
                log.error("job %s: no price for %s/%s per %s; ledgered at $0", job_id, u.provider, u.model, u.unit)
                from decimal import Decimal
                from pipeline.costs import PricedUsage
                priced.append(PricedUsage(u, 0.0, Decimal(0), self.prices.version))
        return priced

    def _record_attempt(self, job_id: int, stage: str, exc: BaseException) -> None:
        """A failed attempt may have been billed (a call that answered badly) and may have stepped down."""
        usage = getattr(exc, "usage", None) or []
        fallbacks = getattr(exc, "fallbacks", None) or []
        if not usage and not fallbacks:
            return
        priced = []
        for u in usage:
            try:
                priced.append(self.prices.price(u))
            except PriceError:
                log.error("job %s: cannot price billed usage %s", job_id, u)
        jobs.record_attempt(self.db, job_id, stage, priced, fallbacks)

    def _budget(self, job: dict) -> BudgetGuard:
        cap = job["brief"].get("cap_usd", self.settings.cap_usd)
        row = self.db.query_one("SELECT w.id, w.daily_budgets FROM workspaces w JOIN jobs j ON j.workspace_id = w.id"
                                " WHERE j.id = ?", [job["id"]])
        own = json.loads(row[1]) if row and row[1] else None
        return BudgetGuard(self.db, self.prices, job["id"], float(cap), self.settings.daily_budgets,
                           workspace_budgets=own, workspace_id=row[0] if row else None)

    def _attempt(self, job: dict, channel: dict, spec: StageSpec, job_dir: Path, have: dict[str, Path],
                 cancel: threading.Event, on_progress: ProgressFn | None, provider: str | None) -> StageOutput:
        job_id = job["id"]
        progress = self._progress(job_id, spec.name, on_progress)
        lease = self.lease.acquire() if spec.gpu else nullcontext("cpu")
        with lease as device:
            self._attempt_no[(job_id, spec.name)] = jobs.start_stage(self.db, job_id, spec.name, provider, device)
            ctx = StageContext(job, channel, self.settings, job_dir, dict(have), device, progress, cancel, self._budget(job),
                               self.youtube, self.db, self.embedder)
            try:
                return spec.run(ctx)
            except Exception as exc:  # noqa: BLE001
                if device != "cuda" or not is_gpu_failure(exc):
                    raise
                self._record_attempt(job_id, spec.name, exc)  # what the GPU attempt was billed stays on record
                log.warning("job %s stage %s: GPU failed (%s); running on the CPU", job_id, spec.name, exc)
                fallback_note = f"GPU failed ({str(exc)[:200]}); running on the CPU"
        jobs.note(self.db, job_id, spec.name, "fallback", fallback_note)
        self._attempt_no[(job_id, spec.name)] = jobs.start_stage(self.db, job_id, spec.name, provider, "cpu")
        return spec.run(StageContext(job, channel, self.settings, job_dir, dict(have), "cpu", progress, cancel,
                                     self._budget(job), self.youtube, self.db, self.embedder))
