"""Keyset-paginated read models (the API's lists): ``(db, filters, after, limit) -> rows``.

Pages are taken by position, not by offset: "ids below the last one seen", so page 1,000 costs what page 1 does
and a job queued while a client pages never shifts or repeats a row. Every function reads through the ``db`` it
is given, which for a shell is the acting view's scoped database (only the actor's workspaces).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pipeline.db import Database

MAX_PAGE = 200

# The page is cut from jobs alone (filters, keyset, top-N: DuckDB reads only the newest row groups), then joined:
# joining first made every query join all the jobs with their costs and videos (at 625k jobs, ~0.4 s a page
# against ~20 ms this way; bench/api.py). The joins are LEFT joins on keys, so they add no row and drop none.
JOBS_SQL = """
WITH page AS (
  SELECT * FROM jobs j
  WHERE (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], j.status))
    AND (?::INTEGER IS NULL OR j.channel_id = ?)
    AND (?::TIMESTAMP IS NULL OR j.created_at >= ?) AND (?::TIMESTAMP IS NULL OR j.created_at < ?)
    AND (?::VARCHAR IS NULL OR strpos(lower(j.topic), lower(?)) > 0)
    AND (?::INTEGER IS NULL OR j.id < ?)
  ORDER BY j.id DESC LIMIT ?)
SELECT j.id, j.status, j.awaiting, j.topic, j.channel_id, c.name AS channel, j.workspace_id, j.duration_s, j.format,
       j.current_stage, j.error_stage, j.error_message, j.created_at, j.started_at, j.finished_at,
       coalesce(k.usd, 0)::DOUBLE AS cost_usd, v.quality_score, v.video_path
FROM page j LEFT JOIN channels c ON c.id = j.channel_id LEFT JOIN job_costs k ON k.job_id = j.id
LEFT JOIN videos v ON v.job_id = j.id
ORDER BY j.id DESC
"""


def jobs_page(db: Database, status: list[str] | None = None, channel_id: int | None = None,
              since: datetime | None = None, until: datetime | None = None, search: str | None = None,
              after: int | None = None, limit: int = 50) -> list[dict]:
    """Jobs newest first; ``after``: the last id of the previous page."""
    return db.query_dicts(JOBS_SQL, [status or None, status or None, channel_id, channel_id, since, since, until,
                                     until, search or None, search or None, after, after, min(limit, MAX_PAGE)])


STAGES_SQL = """
SELECT stage, status, attempts, progress, provider, device, started_at, finished_at, error
FROM job_stages WHERE job_id = ? ORDER BY position
"""
COSTS_SQL = """
SELECT stage, provider, sum(usd)::DOUBLE AS usd FROM cost_ledger WHERE job_id = ? GROUP BY stage, provider
ORDER BY min(id)
"""


def job_detail(db: Database, job_id: int) -> dict | None:
    """One job with its stages, overall progress (0..1), cost by stage and provider, and its video (if any)."""
    rows = db.query_dicts(JOBS_SQL.replace("ORDER BY j.id DESC LIMIT ?", "").replace(
        "(?::INTEGER IS NULL OR j.id < ?)", "j.id = ?"), [None, None, None, None, None, None, None, None, None, None,
                                                            job_id])
    if not rows:
        return None
    job = rows[0]
    job["stages"] = db.query_dicts(STAGES_SQL, [job_id])
    counted = [s for s in job["stages"] if s["status"] != "skipped"] or job["stages"]
    done = sum(1.0 if s["status"] == "done" else float(s["progress"] or 0) if s["status"] == "running" else 0.0
               for s in counted)
    job["progress"] = 1.0 if job["status"] == "done" else round(done / len(counted), 4) if counted else 0.0
    job["costs"] = db.query_dicts(COSTS_SQL, [job_id])
    video = db.query_dicts("SELECT title, publish_state, publish_ref, quality_score, duration_s, video_path,"
                           " thumbnail_path FROM videos WHERE job_id = ?", [job_id])
    job["video"] = video[0] if video else None
    if video:
        job["video"]["quota_units"] = db.query_one(
            "SELECT coalesce(sum(units), 0)::BIGINT FROM quota_ledger WHERE job_id = ?", [job_id])[0]
    job.update(_report(db, job_id, job["status"]))
    return job


def _report(db: Database, job_id: int, status: str) -> dict:
    """What `python -m pipeline make --json` reports beyond the summary (so the CLI prints the same object
    whether it ran the job itself or followed it through the API): the ledger by model and unit, fallbacks, the
    scene plan, why the gate held it, the failing provider and the privacy."""
    import json

    row = db.query_one("SELECT error_provider, brief FROM jobs WHERE id = ?", [job_id])
    brief = (json.loads(row[1]) if isinstance(row[1], str) else row[1] or {}) if row else {}
    held = None
    if status == "held":
        event = db.query_one("SELECT message FROM job_events WHERE job_id = ? AND status = 'held' ORDER BY id DESC",
                             [job_id])
        held = event[0] if event else "below the quality threshold"
    return {
        "error_provider": row[0] if row else None,
        "privacy": brief.get("privacy"),
        "held_reason": held,
        "cost_breakdown": [
            {"stage": r["stage"], "provider": r["provider"], "model": r["model"], "units": {r["unit"]: r["quantity"]},
             "usd": round(r["usd"], 6)} for r in db.query_dicts(
                "SELECT stage, provider, model, unit, sum(quantity) AS quantity, sum(usd)::DOUBLE AS usd"
                " FROM cost_ledger WHERE job_id = ? GROUP BY ALL ORDER BY min(id)", [job_id])],
        "fallbacks": db.query_dicts("SELECT stage, from_provider, to_provider, reason FROM fallbacks WHERE job_id = ?"
                                    " ORDER BY id", [job_id]),
        "scenes": [{"start": r["start_s"], "end": r["end_s"], "narration": r["narration"], "query": r["query"],
                    "provider": r["provider"], "kind": r["kind"], "source": r["source_url"] or r["path"],
                    "score": r["score"]}
                   for r in db.query_dicts("SELECT * FROM job_scenes WHERE job_id = ? ORDER BY idx", [job_id])],
    }


# As JOBS_SQL: the page from videos alone, then the joins (a video's job is never deleted, so the inner join to
# jobs drops no row of a page; at 590k videos ~0.35 s a page before, ~50 ms now).
VIDEOS_SQL = """
WITH page AS (
  SELECT v.job_id, v.title, v.channel_id, v.format, v.duration_s, v.quality_score, v.publish_state, v.publish_ref,
         v.created_at, v.video_path, v.thumbnail_path
  FROM videos v
  WHERE v.video_path IS NOT NULL
    AND (?::INTEGER IS NULL OR v.channel_id = ?)
    AND (?::VARCHAR IS NULL OR coalesce(v.publish_state, 'unpublished') = ?)
    AND (?::INTEGER IS NULL OR v.job_id < ?)
  ORDER BY v.job_id DESC LIMIT ?)
SELECT v.job_id, v.title, j.topic, v.channel_id, c.name AS channel, v.format, v.duration_s, v.quality_score,
       coalesce(k.usd, 0)::DOUBLE AS cost_usd, v.publish_state, v.publish_ref, v.created_at,
       v.video_path IS NOT NULL AS has_video, v.thumbnail_path IS NOT NULL AS has_thumbnail
FROM page v JOIN jobs j ON j.id = v.job_id LEFT JOIN channels c ON c.id = v.channel_id
LEFT JOIN job_costs k ON k.job_id = v.job_id
ORDER BY v.job_id DESC
"""


def videos_page(db: Database, channel_id: int | None = None, publish_state: str | None = None,
                after: int | None = None, limit: int = 50) -> list[dict]:
    """Made videos newest first (``publish_state``: published, scheduled, outbox, held, unpublished, ...)."""
    return db.query_dicts(VIDEOS_SQL, [channel_id, channel_id, publish_state, publish_state, after, after,
                                       min(limit, MAX_PAGE)])


def video(db: Database, job_id: int) -> dict | None:
    rows = db.query_dicts(VIDEOS_SQL.replace("ORDER BY v.job_id DESC LIMIT ?", "").replace(
        "(?::INTEGER IS NULL OR v.job_id < ?)", "v.job_id = ?"), [None, None, None, None, job_id])
    return rows[0] if rows else None


def video_file(db: Database, job_id: int, kind: str, jobs_dir: Path) -> Path | None:
    """The file of a video's ``kind`` (video, thumbnail, captions) when it exists inside the job's folder."""
    from pipeline.files import locate

    if kind == "video":
        row = db.query_one("SELECT video_path FROM videos WHERE job_id = ?", [job_id])
    elif kind == "thumbnail":
        row = db.query_one("SELECT thumbnail_path FROM videos WHERE job_id = ?", [job_id])
    else:
        row = db.query_one("SELECT path FROM artifacts WHERE job_id = ? AND kind = ?", [job_id, kind])
    if not row or not row[0]:
        return None
    found, _ = locate(row[0], jobs_dir, job_id)
    return Path(found) if found else None


COSTS_BY = {
    "day": ("SELECT day::VARCHAR AS key, sum(usd)::DOUBLE AS usd, sum(calls)::BIGINT AS calls FROM cost_daily"
            " WHERE day >= ? AND day <= ? GROUP BY day ORDER BY day DESC"),
    "provider": ("SELECT provider AS key, sum(usd)::DOUBLE AS usd, sum(calls)::BIGINT AS calls FROM cost_daily"
                 " WHERE day >= ? AND day <= ? GROUP BY provider ORDER BY usd DESC, provider"),
    # Per channel from the per-job rollup (a job's total lands on the day it was queued). The range is on
    # created_at itself, not on a cast of it, so DuckDB skips the row groups of jobs outside it, and the jobs are
    # summed by channel id before the names join (grouping 600k rows by an integer, not by a joined string: 2.7x
    # less CPU over 180 days at 625k jobs; the same rows, the decimal sums exact either way).
    "channel": ("WITH per AS (SELECT j.channel_id, sum(k.usd) AS usd, count(*) AS n FROM jobs j"
                " JOIN job_costs k ON k.job_id = j.id WHERE j.created_at >= ?::DATE AND j.created_at < ?::DATE + 1"
                " GROUP BY 1)"
                " SELECT coalesce(c.name, '(deleted channel)') AS key, sum(per.usd)::DOUBLE AS usd,"
                " sum(per.n)::BIGINT AS calls FROM per LEFT JOIN channels c ON c.id = per.channel_id"
                " GROUP BY 1 ORDER BY usd DESC, key"),
}


def costs_summary(db: Database, by: str, since, until) -> list[dict]:
    """Spend grouped ``by`` day, provider or channel, between two dates (inclusive). ``calls`` is paid calls
    for day and provider, videos for channel."""
    return db.query_dicts(COSTS_BY[by], [since, until])
