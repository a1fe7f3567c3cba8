"""The durable job queue and its state machine, as rows in DuckDB.

A job moves ``queued -> running -> done | held | failed | cancelled``, or to ``review`` where a review gate
stops it for a person (``jobs.awaiting`` says for what: the script, or the publishing); each of
its stages ``pending -> running -> done | failed | cancelled | skipped``. Every
transition is checked against the tables below and written with an event, in
one transaction. A stage is done exactly when its artifacts are recorded, which
is what lets a restarted worker resume at the first stage without them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from pipeline import events
from pipeline.costs import PricedUsage, insert_ledger
from pipeline.db import Database, first

STAGES = ("script", "voice", "scenes", "visuals", "render", "thumbnail", "quality", "publish")

JOB_TRANSITIONS = {
    "queued": {"running", "cancelled"},
    "running": {"done", "held", "failed", "cancelled", "queued", "review"},
    "review": {"queued", "cancelled"},  # approved (or edited) and queued on, or given up
    "failed": {"queued"},
    "cancelled": {"queued"},
    "held": {"queued"},
    "done": set(),  # rerun_from (the operator changed a scene) is the one way back, on purpose
}
STAGE_TRANSITIONS = {
    "pending": {"running", "skipped", "cancelled"},
    "running": {"done", "failed", "cancelled", "pending", "running"},
    "failed": {"pending", "running"},
    "cancelled": {"pending"},
    "skipped": {"pending", "running"},
    "done": {"pending"},
}
ACTIVE = ("queued", "running")
FINISHED = ("done", "held", "failed", "cancelled")


class InvalidTransition(RuntimeError):
    pass


class JobNotFound(LookupError):
    pass


class JobChanged(InvalidTransition):
    """The job was changed under a running stage (restored, requeued): its result is not recorded."""


def check_job_transition(old: str, new: str) -> None:
    if new not in JOB_TRANSITIONS.get(old, set()):
        raise InvalidTransition(f"A job cannot go from {old} to {new}.")


def check_stage_transition(old: str, new: str) -> None:
    if new not in STAGE_TRANSITIONS.get(old, set()):
        raise InvalidTransition(f"A stage cannot go from {old} to {new}.")


def _event(cur, job_id: int, stage: str | None, status: str, message: str | None = None) -> None:
    cur.execute("INSERT INTO job_events (job_id, stage, status, message) VALUES (?, ?, ?, ?)",
                [job_id, stage, status, message])


def note(db: Database, job_id: int, stage: str | None, status: str, message: str) -> None:
    """Record an event that is not a transition (a fallback, a warning)."""
    with db.write() as cur:
        _event(cur, job_id, stage, status, message)


def create_job(db: Database, channel_id: int, topic: str, duration_s: int, fmt: str, brief: dict,
               stages: tuple[str, ...] = STAGES, request_key: str | None = None) -> int:
    return submit_job(db, channel_id, topic, duration_s, fmt, brief, stages, request_key)[0]


def submit_job(db: Database, channel_id: int, topic: str, duration_s: int, fmt: str, brief: dict,
               stages: tuple[str, ...] = STAGES, request_key: str | None = None) -> tuple[int, bool]:
    """Queue a job; returns (id, created). A request key already used returns its job instead of a second one
    (checked and written in one transaction, so a double-clicked form or a retried request makes one job)."""
    with db.write() as cur:
        if request_key:
            # Keys are per workspace: another customer's key never returns (or reveals) their job.
            row = first(cur.execute("SELECT id FROM jobs WHERE request_key = ? AND workspace_id ="
                                    " coalesce((SELECT workspace_id FROM channels WHERE id = ?), 1)",
                                    [request_key, channel_id]))
            if row:
                return row[0], False
        job_id = cur.execute(
            "INSERT INTO jobs (channel_id, topic, duration_s, format, brief, uid, request_key, workspace_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, coalesce((SELECT workspace_id FROM channels WHERE id = ?), 1)) RETURNING id",
            [channel_id, topic, duration_s, fmt, json.dumps(brief), uuid.uuid4().hex, request_key, channel_id],
        ).fetchall()[0][0]
        for position, stage in enumerate(stages):
            cur.execute("INSERT INTO job_stages (job_id, stage, position) VALUES (?, ?, ?)", [job_id, stage, position])
        _event(cur, job_id, None, "queued", topic)
        events.emit_job(cur, "job.queued", job_id)  # only a new job: a request key used again queues nothing
    return job_id, True


def get_job(db: Database, job_id: int) -> dict:
    rows = db.query_dicts("SELECT * FROM jobs WHERE id = ?", [job_id])
    if not rows:
        raise JobNotFound(f"There is no job {job_id}.")
    job = rows[0]
    job["brief"] = json.loads(job["brief"]) if isinstance(job["brief"], str) else job["brief"]
    return job


def job_stages(db: Database, job_id: int) -> list[dict]:
    return db.query_dicts("SELECT * FROM job_stages WHERE job_id = ? ORDER BY position", [job_id])


def artifacts(db: Database, job_id: int) -> dict[str, Path]:
    return {kind: Path(path) for kind, path in db.query("SELECT kind, path FROM artifacts WHERE job_id = ?", [job_id])}


def stage_artifacts(db: Database, job_id: int, stage: str) -> dict[str, Path]:
    rows = db.query("SELECT kind, path FROM artifacts WHERE job_id = ? AND stage = ?", [job_id, stage])
    return {kind: Path(path) for kind, path in rows}


def claim_next(db: Database, exclude: set[int] | None = None) -> int | None:
    """Mark the oldest queued job running and return its id (None when the queue is empty)."""
    with db.write() as cur:
        skip = sorted(exclude or ())
        where = "status = 'queued' AND (not_before IS NULL OR not_before <= current_timestamp::TIMESTAMP)" + (
            f" AND id NOT IN ({','.join('?' * len(skip))})" if skip else "")
        row = first(cur.execute(f"SELECT id FROM jobs WHERE {where} ORDER BY id LIMIT 1", skip))
        if row is None:
            return None
        resumed = first(cur.execute("SELECT started_at IS NOT NULL FROM jobs WHERE id = ?", [row[0]]))[0]
        cur.execute("UPDATE jobs SET status = 'running', started_at = coalesce(started_at, current_timestamp),"
                    " finished_at = NULL WHERE id = ?", [row[0]])
        _event(cur, row[0], None, "running")
        # Every claim, a resumed or retried job's too: a receiver sees each time work (and spend) starts again.
        events.emit_job(cur, "job.started", row[0], resumed=bool(resumed))
        return row[0]


def set_job_status(db: Database, job_id: int, new: str, message: str | None = None, *,
                   error_stage: str | None = None, error_provider: str | None = None, uid: str | None = None) -> None:
    """Move a job to a new status (checked); with ``uid``, only if it is still that job (else JobChanged)."""
    with db.write() as cur:
        row = first(cur.execute("SELECT status, uid FROM jobs WHERE id = ?", [job_id]))
        if row is None:
            raise JobNotFound(f"There is no job {job_id}.")
        if uid is not None and row[1] != uid:
            raise JobChanged(f"Job {job_id} was replaced while it ran.")
        check_job_transition(row[0], new)
        finished = new in FINISHED
        cur.execute(
            "UPDATE jobs SET status = ?, current_stage = CASE WHEN ? THEN NULL ELSE current_stage END,"
            " finished_at = CASE WHEN ? THEN current_timestamp ELSE NULL END,"
            " error_stage = ?, error_provider = ?, error_message = ?,"
            " cancel_requested = CASE WHEN ? = 'queued' THEN false ELSE cancel_requested END WHERE id = ?",
            [new, finished, finished, error_stage, error_provider, message if new == "failed" else None, new, job_id],
        )
        _event(cur, job_id, error_stage, new, message)
        if new in ("running", "done", "failed", "held"):  # running: the command line's run_job starts it here
            extra = {"stage": error_stage, "error": message, "provider": error_provider} if new == "failed" else \
                {"message": message} if new == "held" else {}
            events.emit_job(cur, "job.started" if new == "running" else f"job.{new}", job_id, **extra)


def _set_stage(cur, job_id: int, stage: str, new: str) -> None:
    row = first(cur.execute("SELECT status FROM job_stages WHERE job_id = ? AND stage = ?", [job_id, stage]))
    if row is None:
        raise JobNotFound(f"Job {job_id} has no stage {stage}.")
    check_stage_transition(row[0], new)


def start_stage(db: Database, job_id: int, stage: str, provider: str | None, device: str) -> int:
    """Mark a stage running and count the attempt; returns the attempt number."""
    with db.write() as cur:
        _set_stage(cur, job_id, stage, "running")
        attempts = cur.execute(
            "UPDATE job_stages SET status = 'running', attempts = attempts + 1, progress = 0, provider = ?, device = ?,"
            " started_at = current_timestamp, finished_at = NULL, error = NULL WHERE job_id = ? AND stage = ?"
            " RETURNING attempts",
            [provider, device, job_id, stage],
        ).fetchall()[0][0]
        cur.execute("UPDATE jobs SET current_stage = ? WHERE id = ?", [stage, job_id])
        _event(cur, job_id, stage, "running", f"attempt {attempts} on {device}")
    return attempts


def set_progress(db: Database, job_id: int, stage: str, fraction: float) -> None:
    with db.write() as cur:
        cur.execute("UPDATE job_stages SET progress = ? WHERE job_id = ? AND stage = ? AND status = 'running'",
                    [max(0.0, min(1.0, fraction)), job_id, stage])


def record_fallbacks(cur, job_id: int, fallbacks: list) -> None:
    for f in fallbacks:
        cur.execute("INSERT INTO fallbacks (job_id, stage, from_provider, to_provider, reason) VALUES (?, ?, ?, ?, ?)",
                    [job_id, f.stage, f.from_provider, f.to_provider, f.reason[:2000]])
        _event(cur, job_id, f.stage, "fallback", f"{f.from_provider} -> {f.to_provider or 'nothing'}: {f.reason}"[:2000])


def record_attempt(db: Database, job_id: int, stage: str, priced: list[PricedUsage], fallbacks: list) -> None:
    """Ledger what a failed stage was billed and the steps down it took, before the failure is stored."""
    with db.write() as cur:
        insert_ledger(cur, job_id, stage, priced)
        record_fallbacks(cur, job_id, fallbacks)


def _owned(cur, job_id: int, stage: str | None, uid: str | None, attempt: int | None) -> bool:
    """Whether the run that started this stage still owns the job: running, same job (uid), same attempt."""
    row = first(cur.execute("SELECT j.status, j.uid, s.status, s.attempts FROM jobs j LEFT JOIN job_stages s"
                            " ON s.job_id = j.id AND s.stage = ? WHERE j.id = ?", [stage, job_id]))
    if row is None or row[0] != "running" or (uid is not None and row[1] != uid):
        return False
    if stage is not None and (row[2] != "running" or (attempt is not None and row[3] != attempt)):
        return False
    return True


def complete_stage(db: Database, job_id: int, stage: str, produced: dict[str, Path], priced: list[PricedUsage],
                   video_fields: dict | None = None, provider: str | None = None, fallbacks: list | None = None,
                   hold: str | None = None, skip: list[str] | None = None, *, uid: str | None = None,
                   attempt: int | None = None, scenes: list[dict] | None = None) -> None:
    """Record a finished stage: its artifacts, its ledger rows, its fallbacks and video fields, in one transaction.

    With ``hold`` (the quality gate said no) the stages in ``skip`` are skipped and the job is held in
    the same transaction, so no crash can leave a held video on its way to publishing. When the job was
    changed under the stage (restored from a backup, requeued, cancelled), only what the stage was billed
    is recorded and :class:`JobChanged` is raised: a stale result never lands on the new state.
    """
    with db.write() as cur:
        owned = _owned(cur, job_id, stage, uid, attempt)
        if owned:
            _complete(cur, job_id, stage, produced, priced, video_fields, provider, fallbacks, hold, skip)
            if scenes is not None:
                store_scenes(cur, job_id, scenes)
        else:
            insert_ledger(cur, job_id, stage, priced)  # it was billed all the same
            _event(cur, job_id, stage, "discarded", "the job changed while this stage ran: its result was not kept")
    if not owned:  # raised after the commit, so the billing stays on record
        raise JobChanged(f"Job {job_id} changed while its {stage} stage ran.")


def _complete(cur, job_id: int, stage: str, produced: dict[str, Path], priced: list[PricedUsage],
              video_fields: dict | None, provider: str | None, fallbacks: list | None, hold: str | None,
              skip: list[str] | None) -> None:
    _set_stage(cur, job_id, stage, "done")
    record_fallbacks(cur, job_id, fallbacks or [])
    for kind, path in produced.items():
        path = Path(path)
        cur.execute(
            "INSERT INTO artifacts (job_id, stage, kind, path, bytes) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (job_id, kind) DO UPDATE SET stage = excluded.stage, path = excluded.path,"
            " bytes = excluded.bytes, created_at = now()",
            [job_id, stage, kind, str(path), path.stat().st_size if path.is_file() else 0],
        )
    insert_ledger(cur, job_id, stage, priced)
    if stage == "script" and "script" in produced:  # each script the writer makes is a version the operator can read
        _add_script_version(cur, job_id, Path(produced["script"]), "writer", provider, None)
    if video_fields:
        _upsert_video(cur, job_id, video_fields)
    cur.execute(
        "UPDATE job_stages SET status = 'done', progress = 1, finished_at = current_timestamp,"
        " provider = coalesce(?, provider) WHERE job_id = ? AND stage = ?",
        [provider, job_id, stage],
    )
    _event(cur, job_id, stage, "done")
    events.emit_job(cur, "stage.done", job_id, stage=stage, provider=provider)
    if stage == "publish" and video_fields and "publish_state" in video_fields:
        events.emit_published(cur, job_id)  # the publish result is recorded just above, in this transaction
    if hold:
        for rest in skip or []:
            cur.execute("UPDATE job_stages SET status = 'skipped', finished_at = current_timestamp"
                        " WHERE job_id = ? AND stage = ?", [job_id, rest])
            _event(cur, job_id, rest, "skipped", "held by the quality gate")
        cur.execute("UPDATE jobs SET status = 'held', current_stage = NULL, finished_at = current_timestamp"
                    " WHERE id = ?", [job_id])
        _event(cur, job_id, stage, "held", hold)
        events.emit_job(cur, "job.held", job_id, stage=stage, message=hold)


SCENE_COLUMNS = ("idx", "start_s", "end_s", "block", "narration", "query", "provider", "source_id", "kind", "path",
                 "source_url", "score", "licence", "author", "candidates")


def store_scenes(cur, job_id: int, scenes: list[dict]) -> None:
    """Replace the job's scene rows (the plan and each scene's chosen visual) inside the caller's transaction."""
    cur.execute("DELETE FROM job_scenes WHERE job_id = ?", [job_id])
    for scene in scenes:
        values = [json.dumps(scene.get(c) or []) if c == "candidates" else scene.get(c) for c in SCENE_COLUMNS]
        cur.execute(f"INSERT INTO job_scenes (job_id, {', '.join(SCENE_COLUMNS)}) VALUES (?{', ?' * len(SCENE_COLUMNS)})",
                    [job_id, *values])


def _upsert_video(cur, job_id: int, fields: dict) -> None:
    exists = first(cur.execute("SELECT 1 FROM videos WHERE job_id = ?", [job_id]))
    fields = {k: (json.dumps(v) if k == "quality_detail" else v) for k, v in fields.items()}
    if exists:
        sets = ", ".join(f"{k} = ?" for k in fields)
        cur.execute(f"UPDATE videos SET {sets} WHERE job_id = ?", [*fields.values(), job_id])
    else:
        cols = ["job_id", *fields]
        cur.execute(f"INSERT INTO videos ({', '.join(cols)}, workspace_id) VALUES ({', '.join('?' * len(cols))},"
                    " coalesce((SELECT workspace_id FROM jobs WHERE id = ?), 1))", [job_id, *fields.values(), job_id])


def fail_stage(db: Database, job_id: int, stage: str, message: str, *, final: bool, uid: str | None = None) -> None:
    """Record a failed attempt; a final failure leaves the stage failed (else back to running for a retry)."""
    with db.write() as cur:
        if not _owned(cur, job_id, None, uid, None):
            raise JobChanged(f"Job {job_id} changed while its {stage} stage ran.")
        cur.execute("UPDATE job_stages SET status = ?, error = ?, finished_at = current_timestamp"
                    " WHERE job_id = ? AND stage = ?", ["failed" if final else "running", message, job_id, stage])
        _event(cur, job_id, stage, "failed" if final else "retrying", message)


def mark_stage(db: Database, job_id: int, stage: str, new: str, message: str | None = None, *,
               uid: str | None = None) -> None:
    with db.write() as cur:
        if uid is not None and not _owned(cur, job_id, None, uid, None):
            raise JobChanged(f"Job {job_id} changed while its {stage} stage ran.")
        _set_stage(cur, job_id, stage, new)
        cur.execute("UPDATE job_stages SET status = ?, finished_at = current_timestamp WHERE job_id = ? AND stage = ?",
                    [new, job_id, stage])
        _event(cur, job_id, stage, new, message)


def reset_stage(db: Database, job_id: int, stage: str) -> None:
    """Forget a stage's artifacts so it runs again (its files on disk were lost), and every stage after it:
    a new render must be judged and published anew, never on the old verdict."""
    with db.write() as cur:
        position = first(cur.execute("SELECT position FROM job_stages WHERE job_id = ? AND stage = ?", [job_id, stage]))[0]
        later = [r[0] for r in cur.execute("SELECT stage FROM job_stages WHERE job_id = ? AND position >= ?"
                                           " AND status <> 'pending'", [job_id, position]).fetchall()]
        for name in later:
            cur.execute("DELETE FROM artifacts WHERE job_id = ? AND stage = ?", [job_id, name])
            cur.execute("UPDATE job_stages SET status = 'pending', progress = 0 WHERE job_id = ? AND stage = ?",
                        [job_id, name])
        _event(cur, job_id, stage, "pending", "artifacts missing on disk: redoing this stage and those after it")


def _add_script_version(cur, job_id: int, path: Path, author: str, writer: str | None,
                        note: str | None) -> tuple[int, Path]:
    """Record a script as the job's next version, under the write lock, as its own file ``script.v<N>.json``
    beside ``path``: a writer's script is copied (the stage rewrites script.json next time), an operator's
    edit (a uniquely named file) is renamed. Returns (version, the version's file)."""
    import shutil

    version = first(cur.execute("SELECT coalesce(max(version), 0) + 1 FROM script_versions WHERE job_id = ?",
                                [job_id]))[0]
    path = Path(path)
    kept = path.with_name(f"script.v{version}.json")
    if author == "writer":
        shutil.copyfile(path, kept)
    else:
        path.replace(kept)
    cur.execute("INSERT INTO script_versions (job_id, version, path, author, writer, note) VALUES (?, ?, ?, ?, ?, ?)",
                [job_id, version, str(kept), author, writer, note])
    return version, kept


def _set_script(cur, job_id: int, path: Path) -> None:
    cur.execute("INSERT INTO artifacts (job_id, stage, kind, path, bytes) VALUES (?, 'script', 'script', ?, ?)"
                " ON CONFLICT (job_id, kind) DO UPDATE SET stage = excluded.stage, path = excluded.path,"
                " bytes = excluded.bytes, created_at = now()", [job_id, str(path), Path(path).stat().st_size])


def add_operator_script(db: Database, job_id: int, path: Path, note: str) -> int:
    """An operator's edit that reruns nothing (the job keeps waiting): a new version, the job's script now."""
    with db.write() as cur:
        version, kept = _add_script_version(cur, job_id, path, "operator", None, note)
        _set_script(cur, job_id, kept)
        _event(cur, job_id, "script", "edited", f"script version {version}: {note}"[:2000])
    return version


def script_versions(db: Database, job_id: int) -> list[dict]:
    return db.query_dicts("SELECT * FROM script_versions WHERE job_id = ? ORDER BY version", [job_id])


def _next_run(cur, job_id: int, stage: str | None, reason: str) -> int:
    """Start the job's next run (a rerun after an edit): its ledger rows carry the new number."""
    run = first(cur.execute("UPDATE jobs SET run = run + 1 WHERE id = ? RETURNING run", [job_id]))[0]
    cur.execute("INSERT INTO job_runs (job_id, run, from_stage, reason) VALUES (?, ?, ?, ?)",
                [job_id, run, stage, reason[:500]])
    return run


def _reset_from(cur, job_id: int, stage: str) -> list[str]:
    """Forget ``stage``'s artifacts and every later stage's, and set them pending (earlier stages are kept)."""
    position = first(cur.execute("SELECT position FROM job_stages WHERE job_id = ? AND stage = ?", [job_id, stage]))
    if position is None:
        raise InvalidTransition(f"Job {job_id} has no {stage} stage.")
    later = [r[0] for r in cur.execute("SELECT stage FROM job_stages WHERE job_id = ? AND position >= ?",
                                       [job_id, position[0]]).fetchall()]
    for name in later:
        cur.execute("DELETE FROM artifacts WHERE job_id = ? AND stage = ?", [job_id, name])
    cur.execute("UPDATE job_stages SET status = 'pending', progress = 0, error = NULL WHERE job_id = ?"
                f" AND stage IN ({', '.join('?' * len(later))})", [job_id, *later])
    return later


def await_review(db: Database, job_id: int, what: str, message: str, *, uid: str | None = None) -> None:
    """Stop a running job for a person: ``what`` is 'script' (before any voice is paid for) or 'publish'."""
    with db.write() as cur:
        if not _owned(cur, job_id, None, uid, None):
            raise JobChanged(f"Job {job_id} changed while it ran.")
        check_job_transition("running", "review")
        cur.execute("UPDATE jobs SET status = 'review', awaiting = ?, current_stage = NULL WHERE id = ?", [what, job_id])
        _event(cur, job_id, None, "review", message)


def _forget_approvals(cur, job_id: int, gates: tuple[str, ...]) -> None:
    for gate in gates:
        cur.execute(f"UPDATE jobs SET {gate}_approved_at = NULL WHERE id = ?", [job_id])


def resume(db: Database, job_id: int, message: str, *, from_stage: str | None = None, approve: str | None = None,
           brief: dict | None = None, script: tuple[Path, str] | None = None, allow: tuple[str, ...] = (),
           unapprove: tuple[str, ...] = ()) -> dict:
    """Queue a job on after a person's decision, in one transaction: merge ``brief`` changes into its brief, record
    an operator's ``script`` (path, note) as a new version, rerun from ``from_stage`` (it and every later stage are
    redone, earlier ones kept; a new run; a rerun before publish forgets the publishing approval: the changed
    video is approved anew), forget the approvals in ``unapprove``, and record an approval ('script' or
    'publish'). Refused while the job is
    queued or running, and for statuses not in ``allow`` other than 'review'. Returns {"version", "run"}."""
    with db.write() as cur:
        row = first(cur.execute("SELECT status, brief FROM jobs WHERE id = ?", [job_id]))
        if row is None:
            raise JobNotFound(f"There is no job {job_id}.")
        status, stored = row
        if status in ACTIVE:
            raise InvalidTransition(f"Job {job_id} is {status}: wait until it has finished or stops for review.")
        if status != "review" and status not in allow:
            raise InvalidTransition(f"Job {job_id} is {status}: this cannot be done to it now.")
        said = {}
        if brief:
            merged = {**(json.loads(stored) if isinstance(stored, str) else stored or {}), **brief}
            cur.execute("UPDATE jobs SET brief = ? WHERE id = ?", [json.dumps(merged), job_id])
        if script is not None:
            path, note_text = script
            said["version"], kept = _add_script_version(cur, job_id, Path(path), "operator", None, note_text)
            _set_script(cur, job_id, kept)
            _event(cur, job_id, "script", "edited", f"script version {said['version']}: {note_text}"[:2000])
        if from_stage:
            _reset_from(cur, job_id, from_stage)
            said["run"] = _next_run(cur, job_id, from_stage, message)
            if from_stage != "publish" and approve != "publish":
                _forget_approvals(cur, job_id, ("publish",))  # a changed video is approved anew before it goes out
        for gate in unapprove:
            _forget_approvals(cur, job_id, (gate,))
        else:  # stages the gate or a hold skipped run now; finished ones stay finished
            cur.execute("UPDATE job_stages SET status = 'pending', progress = 0, error = NULL"
                        " WHERE job_id = ? AND status IN ('failed', 'cancelled', 'skipped', 'running')", [job_id])
        if approve == "script":
            cur.execute("UPDATE jobs SET script_approved_at = current_timestamp WHERE id = ?", [job_id])
        elif approve == "publish":
            cur.execute("UPDATE jobs SET publish_approved_at = current_timestamp WHERE id = ?", [job_id])
        cur.execute("UPDATE jobs SET status = 'queued', awaiting = NULL, cancel_requested = false, error_stage = NULL,"
                    " error_provider = NULL, error_message = NULL, finished_at = NULL, not_before = NULL,"
                    " cleared_at = NULL WHERE id = ?", [job_id])
        _event(cur, job_id, from_stage, "queued", message)
    return said


def rerun_from(db: Database, job_id: int, stage: str, message: str, scenes: list[dict] | None = None) -> None:
    """Queue a finished job again from ``stage`` on (its artifacts and those of every later stage are forgotten,
    earlier ones kept), recording new scene rows with it, in one transaction. Refused while it is queued or running."""
    with db.write() as cur:
        row = first(cur.execute("SELECT status FROM jobs WHERE id = ?", [job_id]))
        if row is None:
            raise JobNotFound(f"There is no job {job_id}.")
        if row[0] in ACTIVE:
            raise InvalidTransition(f"Job {job_id} is {row[0]}: wait until it has finished.")
        _reset_from(cur, job_id, stage)
        _next_run(cur, job_id, stage, message)
        if stage != "publish":
            _forget_approvals(cur, job_id, ("publish",))  # a changed video is approved anew before it goes out
        if scenes is not None:
            store_scenes(cur, job_id, scenes)
        cur.execute("UPDATE jobs SET status = 'queued', awaiting = NULL, cancel_requested = false, error_stage = NULL,"
                    " error_provider = NULL, error_message = NULL, finished_at = NULL WHERE id = ?", [job_id])
        _event(cur, job_id, stage, "queued", message)


def recover_orphans(db: Database) -> list[int]:
    """After a crash, put jobs left running back in the queue; finished stages stay finished."""
    with db.write() as cur:
        ids = [r[0] for r in cur.execute("SELECT id FROM jobs WHERE status = 'running' ORDER BY id").fetchall()]
        for job_id in ids:
            cur.execute("UPDATE job_stages SET status = 'pending', progress = 0 WHERE job_id = ? AND status = 'running'", [job_id])
            cur.execute("UPDATE jobs SET status = 'queued', current_stage = NULL WHERE id = ?", [job_id])
            _event(cur, job_id, None, "queued", "resumed after the worker stopped")
    return ids


def defer(db: Database, job_id: int, stage: str, until, message: str, *, uid: str | None = None) -> None:
    """Put a running job back in the queue until a time (quota resets, a parked channel)."""
    with db.write() as cur:
        if uid is not None and not _owned(cur, job_id, None, uid, None):
            raise JobChanged(f"Job {job_id} changed while its {stage} stage ran.")
        cur.execute("UPDATE job_stages SET status = 'pending', progress = 0, error = ? WHERE job_id = ? AND stage = ?"
                    " AND status IN ('running', 'failed')", [message, job_id, stage])
        cur.execute("UPDATE jobs SET status = 'queued', not_before = ?, current_stage = NULL WHERE id = ?", [until, job_id])
        _event(cur, job_id, stage, "deferred", f"{message} (until {until:%Y-%m-%d %H:%M} UTC)")


def request_cancel(db: Database, job_id: int) -> str:
    """Cancel a queued job at once, or ask a running one to stop; returns the job's status after."""
    with db.write() as cur:  # one transaction: the dispatcher cannot claim it in between
        row = first(cur.execute("SELECT status, current_stage FROM jobs WHERE id = ?", [job_id]))
        if row is None:
            raise JobNotFound(f"There is no job {job_id}.")
        status, stage = row
        if status in ("queued", "review"):
            cur.execute("UPDATE jobs SET status = 'cancelled', awaiting = NULL, finished_at = current_timestamp"
                        " WHERE id = ?", [job_id])
            _event(cur, job_id, None, "cancelled", "cancelled before it started" if status == "queued"
                   else "cancelled while it waited for review")
            return "cancelled"
        if status == "running":
            if first(cur.execute("SELECT cancel_requested FROM jobs WHERE id = ?", [job_id]))[0]:
                return "running"  # asked already: a second click changes nothing
            cur.execute("UPDATE jobs SET cancel_requested = true WHERE id = ?", [job_id])
            _event(cur, job_id, stage, "cancelling", "cancel requested")
            return "running"
    if status == "cancelled":
        raise InvalidTransition(f"Job {job_id} is already cancelled.")
    raise InvalidTransition(f"Job {job_id} is {status}: only queued, running or waiting jobs can be cancelled.")


def cancel_requested(db: Database, job_id: int) -> bool:
    row = db.query_one("SELECT cancel_requested FROM jobs WHERE id = ?", [job_id])
    return bool(row and row[0])


RETRYABLE = ("failed", "cancelled", "held")


def retry_job(db: Database, job_id: int) -> None:
    """Queue a failed, cancelled or held job again; it resumes at its first unfinished stage.

    Checked and changed in one transaction: a second click, or the same click in a second tab,
    finds the job queued and changes nothing (InvalidTransition says so)."""
    with db.write() as cur:
        row = first(cur.execute("SELECT status FROM jobs WHERE id = ?", [job_id]))
        if row is None:
            raise JobNotFound(f"There is no job {job_id}.")
        status = row[0]
        if status not in RETRYABLE:
            raise InvalidTransition({"queued": f"Job {job_id} is already queued: nothing to retry.",
                                     "running": f"Job {job_id} is already running: nothing to retry.",
                                     "done": f"Job {job_id} is done: nothing to retry.",
                                     "review": f"Job {job_id} is waiting for your review: approve it in the "
                                               "Library instead."}.get(
                                         status, f"Job {job_id} is {status}: only failed, cancelled or held jobs "
                                                 "can be retried."))
        if status == "held":  # judge the video again (the threshold may have changed), never publish blind
            cur.execute("DELETE FROM artifacts WHERE job_id = ? AND stage = 'quality'", [job_id])
            cur.execute("UPDATE job_stages SET status = 'pending', progress = 0 WHERE job_id = ? AND stage = 'quality'", [job_id])
        cur.execute("UPDATE job_stages SET status = 'pending', progress = 0, error = NULL"
                    " WHERE job_id = ? AND status IN ('failed', 'cancelled', 'skipped', 'running')", [job_id])
        cur.execute("UPDATE jobs SET status = 'queued', cancel_requested = false, error_stage = NULL,"
                    " error_provider = NULL, error_message = NULL, finished_at = NULL WHERE id = ?", [job_id])
        _event(cur, job_id, None, "queued", "retry")
