"""The queue view's own state and its bulk actions: clearing finished jobs from view, acting on many jobs.

Clearing hides a finished job from the Studio's queue (``jobs.cleared_at``); the job, its video, its files
and its costs stay, and the Library shows it as before. A cleared job that is queued again shows again,
and stays shown once it finishes anew (the queue reads ``cleared_at`` against ``finished_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline.config import ConfigError
from pipeline.db import Database
from pipeline.jobs import FINISHED, InvalidTransition, JobNotFound

MAX_BULK = 200  # jobs one bulk action takes (as the Workbench's other bulk actions)


def _ids(job_ids: Iterable[int] | None) -> list[int] | None:
    if job_ids is None:
        return None
    ids = sorted({int(i) for i in job_ids})
    if len(ids) > MAX_BULK:
        raise ConfigError(f"{len(ids)} jobs selected: select at most {MAX_BULK} at once.")
    return ids


def clear_finished(db: Database, ids: Iterable[int] | None = None) -> int:
    """Hide finished jobs (done, held, failed, cancelled) from the queue view, all of them or those of ``ids``
    that are finished, in one transaction with an event for each; returns how many were cleared. Queued,
    running and review jobs are never cleared."""
    wanted = _ids(ids)
    if wanted == []:
        return 0
    finished = ", ".join("?" * len(FINISHED))
    where = f"status IN ({finished}) AND (cleared_at IS NULL OR cleared_at < coalesce(finished_at, created_at))"
    params: list = list(FINISHED)
    if wanted is not None:
        where += f" AND id IN ({', '.join('?' * len(wanted))})"
        params += wanted
    with db.write() as cur:
        cleared = [r[0] for r in cur.execute(f"SELECT id FROM jobs WHERE {where} ORDER BY id", params).fetchall()]
        if cleared:
            marks = ", ".join("?" * len(cleared))
            cur.execute(f"UPDATE jobs SET cleared_at = current_timestamp WHERE id IN ({marks})", cleared)
            # The event is the audit trail, and it moves the data version the pages' cached reads key on.
            cur.executemany("INSERT INTO job_events (job_id, stage, status, message) VALUES (?, NULL, 'cleared', ?)",
                            [[job_id, "cleared from the queue view"] for job_id in cleared])
    return len(cleared)


@dataclass(frozen=True)
class Outcome:
    """What a bulk action did to one job: ``ok`` and, either way, a sentence for the operator."""

    job_id: int
    ok: bool
    message: str


def each(job_ids: Iterable[int], act: Callable[[int], object], said: Callable[[int, object], str]) -> list[Outcome]:
    """Apply ``act`` to every job, in id order; a job the action does not fit (already running, gone) is
    reported and the others still go ahead."""
    out = []
    for job_id in _ids(job_ids) or []:
        try:
            result = act(job_id)
        except (InvalidTransition, JobNotFound) as exc:
            out.append(Outcome(job_id, False, str(exc)))
        else:
            out.append(Outcome(job_id, True, said(job_id, result)))
    return out


def cancelled_words(job_id: int, state: object) -> str:
    return f"Job {job_id} cancelled." if state == "cancelled" else f"Job {job_id} stops at its next checkpoint."


def retried_words(job_id: int, _: object) -> str:
    return f"Job {job_id} queued again: it resumes at its first unfinished stage."


def summary(outcomes: list[Outcome], verb: str) -> str:
    """One line for a toast: "3 jobs queued again." plus each refusal ("Job 4 is already running: ...")."""
    done = sum(o.ok for o in outcomes)
    head = f"{done} job{'s' if done != 1 else ''} {verb}." if done else f"No job {verb}."
    refused = [o.message for o in outcomes if not o.ok]
    return " ".join([head, *refused[:3]] + ([f"(and {len(refused) - 3} more not {verb})"] if len(refused) > 3 else []))
