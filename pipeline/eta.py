"""How long a job has left, from the stages this machine has finished.

A done stage's row in ``job_stages`` holds when its last attempt started and finished; divided by the
job's target duration that is the stage's *pace* on this machine: seconds of work per second of video.
A stage is expected to take its pace times the job's duration, where its pace is the median of its
recent history (:data:`RECENT` finished stages), preferring those on the same device (a CUDA render is
not a CPU one) and from videos of a similar length (within a factor of :data:`SIMILAR`, so fixed costs
such as loading a model weigh the same), each only when there are at least :data:`ENOUGH` of them.
Without history a stage takes :data:`DEFAULT_PACE`.

The running stage's remainder blends what its progress says (elapsed / progress is its whole time)
with that expectation, trusting the progress more the further it has got; later stages add their
expected time. A queued job also waits for a worker: :func:`queue_eta` plays the queue forward, each
queued job (oldest first, none before its ``not_before``) starting when the first worker frees up.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from pipeline.db import Database

STAGE_ORDER = ("script", "voice", "scenes", "visuals", "render", "thumbnail", "quality", "publish")
# Seconds per second of video before this machine has history: a CPU box with the local providers.
DEFAULT_PACE = {"script": 0.5, "voice": 0.6, "scenes": 0.02, "visuals": 0.2, "render": 1.2, "thumbnail": 0.02,
                "quality": 0.1, "publish": 0.05}
OTHER_PACE = 0.1  # a stage this module does not know
MIN_STAGE_S = 0.5  # no stage is expected to take less
RECENT = 20  # finished stages of each kind that make its pace
ENOUGH = 3  # samples a narrower history (same device, similar length) needs before it is preferred
SIMILAR = 2.0  # videos within this factor of the job's length count as similar
MIN_LEFT_S = 1.0  # a running stage never has less than this left until it says it is done
FRESH = 0.02  # progress below this says nothing yet about the stage's speed
PENDING = ("pending", "failed", "running")  # stages that will run (a failed one runs again on retry)

HISTORY_SQL = """
WITH done AS (
    SELECT s.stage, s.device, j.duration_s, date_diff('millisecond', s.started_at, s.finished_at) / 1000.0 AS seconds,
           row_number() OVER (PARTITION BY s.stage ORDER BY s.finished_at DESC) AS n
    FROM job_stages s JOIN jobs j ON j.id = s.job_id
    WHERE s.status = 'done' AND s.started_at IS NOT NULL AND s.finished_at >= s.started_at AND j.duration_s > 0)
SELECT stage, device, duration_s, seconds FROM done WHERE n <= ? ORDER BY stage, n
"""

ACTIVE_SQL = """
SELECT j.id AS job_id, j.status, j.duration_s,
       greatest(date_diff('millisecond', coalesce(?::TIMESTAMP, current_timestamp::TIMESTAMP), j.not_before), 0)
           / 1000.0 AS not_before_s
FROM jobs j WHERE j.status IN ('queued', 'running') ORDER BY j.id
"""

ACTIVE_STAGES_SQL = """
SELECT s.job_id, s.stage, s.position, s.status, s.progress, s.device,
       CASE WHEN s.status = 'running' THEN greatest(date_diff('millisecond', s.started_at,
           coalesce(?::TIMESTAMP, current_timestamp::TIMESTAMP)), 0) / 1000.0 END AS elapsed_s
FROM job_stages s JOIN jobs j ON j.id = s.job_id WHERE j.status IN ('queued', 'running')
ORDER BY s.job_id, s.position
"""


@dataclass
class Paces:
    """Each stage's recent finished runs on this machine: (device, target duration, seconds taken), newest first."""

    runs: dict[str, list[tuple[str | None, float, float]]] = field(default_factory=dict)

    def pace(self, stage: str, duration_s: float, device: str | None = None) -> float:
        """Seconds of work per second of video for ``stage`` of a ``duration_s`` video on ``device``."""
        runs = self.runs.get(stage) or []
        if not runs:
            return DEFAULT_PACE.get(stage, OTHER_PACE)
        same = [r for r in runs if device is not None and r[0] == device]
        runs = same if len(same) >= ENOUGH else runs
        alike = [r for r in runs if duration_s / SIMILAR <= r[1] <= duration_s * SIMILAR]
        runs = alike if len(alike) >= ENOUGH else runs
        return statistics.median(seconds / length for _, length, seconds in runs[:RECENT])

    def expected(self, stage: str, duration_s: float, device: str | None = None) -> float:
        """Seconds ``stage`` is expected to take for a video of ``duration_s`` seconds."""
        return max(MIN_STAGE_S, self.pace(stage, duration_s, device) * max(1.0, float(duration_s)))

    def samples(self, stage: str) -> int:
        return len(self.runs.get(stage) or [])


def paces(db: Database, recent: int = 50) -> Paces:
    """The finished stages this machine's history holds (up to ``recent`` of each, newest first)."""
    runs: dict[str, list[tuple[str | None, float, float]]] = {}
    for stage, device, duration, seconds in db.query(HISTORY_SQL, [recent]):
        runs.setdefault(stage, []).append((device, float(duration), float(seconds)))
    return Paces(runs)


def stage_left(expected_s: float, elapsed_s: float, progress: float) -> float:
    """What a running stage has left (at least MIN_LEFT_S): what its own speed says (the rest at the pace of
    the part done, ``elapsed * (1 - p) / p``) blended with what its history says (the rest of its expected
    time, ``expected * (1 - p)``), the speed weighted by the progress ``p`` itself. Before any progress:
    its expected time less the time it has run."""
    progress = min(1.0, max(0.0, progress or 0.0))
    elapsed_s = max(0.0, elapsed_s or 0.0)
    if progress < FRESH or elapsed_s <= 0:
        return max(MIN_LEFT_S, expected_s - elapsed_s)
    by_speed = elapsed_s * (1.0 - progress) / progress
    by_history = expected_s * (1.0 - progress)
    return max(MIN_LEFT_S, progress * by_speed + (1.0 - progress) * by_history)


@dataclass(frozen=True)
class JobEta:
    """One job's time left (its own work, not counting a wait for a worker) and how much of it is done."""

    left_s: float
    work_s: float  # the job's whole expected time, done stages included
    done: float  # share of work_s behind it, 0..1
    stage_left_s: dict[str, float]  # every stage still to finish -> its seconds left


def job_eta(stages: Iterable[dict], duration_s: float, history: Paces) -> JobEta:
    """The time left of one job from its stage rows (``stage``, ``status``, ``progress``, ``device``,
    ``elapsed_s`` for the running one), in pipeline order."""
    left: dict[str, float] = {}
    whole = behind = 0.0
    for s in stages:
        expected = history.expected(s["stage"], duration_s, s.get("device"))
        if s["status"] == "running":
            remaining = stage_left(expected, s.get("elapsed_s") or 0.0, s.get("progress") or 0.0)
            ran = max(0.0, s.get("elapsed_s") or 0.0)
            left[s["stage"]] = remaining
            whole += ran + remaining
            behind += ran
        elif s["status"] in PENDING:
            left[s["stage"]] = expected
            whole += expected
        elif s["status"] == "done":
            whole += expected
            behind += expected
        # skipped and cancelled stages take no time
    total = sum(left.values())
    return JobEta(total, whole, behind / whole if whole else 1.0, left)


def queue_eta(db: Database, workers: int, *, history: Paces | None = None, now: datetime | None = None) -> pl.DataFrame:
    """Every queued or running job's time left: ``job_id``, ``status``, ``left_s`` (until it finishes, its wait for
    a worker included), ``wait_s`` (until it starts), ``work_s`` (its own expected time), ``done`` (share of that
    behind it) and ``stage`` / ``stage_left_s`` (the stage it is in or starts with, and that stage's time left).

    Running jobs hold a worker each until their time left is up; queued jobs then start, oldest first (not
    before their ``not_before``), on the first worker to free up."""
    history = history if history is not None else paces(db)
    jobs = db.query_dicts(ACTIVE_SQL, [now])
    rows: dict[int, list[dict]] = {}
    for s in db.query_dicts(ACTIVE_STAGES_SQL, [now]):
        rows.setdefault(s["job_id"], []).append(s)
    free = []  # when each worker frees up, seconds from now
    out = []
    for job in sorted(jobs, key=lambda j: (j["status"] != "running", j["job_id"])):
        stages = sorted(rows.get(job["job_id"], []), key=lambda s: s["position"])
        eta = job_eta(stages, float(job["duration_s"]), history)
        if job["status"] == "running":
            wait = 0.0
        else:
            while len(free) < max(1, workers):
                free.append(0.0)
            free.sort()
            wait = max(free.pop(0), float(job["not_before_s"] or 0.0))
        finish = wait + eta.left_s
        free.append(finish)
        current = next(iter(eta.stage_left_s), None)
        out.append({"job_id": job["job_id"], "status": job["status"], "left_s": finish, "wait_s": wait,
                    "work_s": eta.work_s, "done": eta.done, "stage": current,
                    "stage_left_s": eta.stage_left_s.get(current) if current else None})
    schema = {"job_id": pl.Int64, "status": pl.String, "left_s": pl.Float64, "wait_s": pl.Float64,
              "work_s": pl.Float64, "done": pl.Float64, "stage": pl.String, "stage_left_s": pl.Float64}
    return pl.DataFrame(out, schema=schema)


def describe_left(seconds: float | None) -> str:
    """Time left as an operator reads it: "less than a minute left", "about 2 min left", "about 1 h 5 min left"."""
    if seconds is None:
        return ""
    seconds = max(0.0, float(seconds))
    if seconds < 45:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {max(1, minutes)} min left"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h {rest} min left" if rest else f"about {hours} h left"


def describe_wait(seconds: float | None) -> str:
    """When a queued job should start: "" when at once, else "starts in about 3 min"."""
    if not seconds or seconds < 45:
        return ""
    return "starts in " + describe_left(seconds).removesuffix(" left")
