"""Read models for pages, notebooks and exports: (db, filters) -> polars.DataFrame.

Each query is a module-level SQL string run by a small function, so the UI
benchmark can time the same SQL raw through DuckDB. Aggregation happens in
DuckDB; pages receive small frames (a day per row, a bin per row, a page of videos).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipeline.db import Database
from pipeline.files import locate

FINISHED = ("done", "held", "failed", "cancelled")


def frame(db: Database, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a read model. Through an actor's ScopedDb it sees only that actor's workspaces (pipeline.access.scope)."""
    sql = db.scoped(sql) if hasattr(db, "scoped") else sql
    return db.cursor().sql(sql, params=params or None).pl()


DATA_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM job_events), (SELECT coalesce(max(id), 0) FROM cost_ledger),"
    " (SELECT count(*) FROM channels), (SELECT coalesce(sum(hash(c)), 0) FROM channels c),"
    " (SELECT coalesce(max(id), 0) FROM trend_imports), (SELECT max(computed_at) FROM trend_topics)")


def data_version(db: Database) -> tuple:
    """Changes whenever anything a page shows changes: the key for cached reads."""
    return db.query_one(DATA_VERSION_SQL)


# -- overview ----------------------------------------------------------------------------------

# Cost per job comes from the job_costs rollup, kept in step with the ledger on every write.
JOB_COSTS_SQL = "SELECT job_id, usd::DOUBLE AS usd FROM job_costs"

KPIS_SQL = f"""
WITH made AS (SELECT v.job_id, coalesce(k.usd, 0)::DOUBLE AS usd FROM videos v LEFT JOIN job_costs k USING (job_id)
              WHERE v.video_path IS NOT NULL),
m AS (SELECT count(*) AS videos_made, median(usd) AS median_cost, quantile_cont(usd, 0.9) AS p90_cost FROM made),
j AS (SELECT count(*) FILTER (WHERE status = 'held') AS held, count(*) FILTER (WHERE status = 'failed') AS failed,
             count(*) FILTER (WHERE status = 'running') AS running, count(*) FILTER (WHERE status = 'queued') AS queued,
             count(*) FILTER (WHERE status = 'done') / nullif(count(*) FILTER (WHERE status IN {FINISHED}), 0)
               AS success_rate FROM jobs),
p AS (SELECT count(*) FILTER (WHERE publish_state IN ('published', 'scheduled')) AS published,  -- on YouTube
             count(*) FILTER (WHERE publish_state = 'outbox') AS exported FROM videos),  -- the local outbox
s AS (SELECT coalesce(sum(usd), 0)::DOUBLE AS spend_today FROM cost_daily WHERE day = current_date)
SELECT m.videos_made, p.published, p.exported, j.held, j.failed, j.running, j.queued, j.success_rate, m.median_cost, m.p90_cost,
       s.spend_today
FROM m, j, p, s
"""


def kpis(db: Database) -> dict:
    row = frame(db, KPIS_SQL).row(0, named=True)
    return row


VIDEOS_PER_DAY_SQL = """
SELECT created_at::DATE AS day, count(*) AS made,
       count(*) FILTER (WHERE publish_state IN ('published', 'scheduled')) AS published,
       count(*) FILTER (WHERE publish_state = 'outbox') AS exported,
       count(*) FILTER (WHERE publish_state = 'held') AS held
FROM videos WHERE video_path IS NOT NULL GROUP BY day ORDER BY day
"""


def trend_freshness(db: Database, country: str) -> dict:
    """How old a country's trending data is: its last trending day, and where and when its newest import came
    from (``source`` "youtube:<region>" for a fetch; a file name for the bundled sample or a CSV)."""
    row = db.query_one("SELECT max(day), min(day) FROM trend_snapshots WHERE country = ?", [country])
    last = db.query_one("SELECT source, at_time FROM trend_imports WHERE country = ? ORDER BY id DESC LIMIT 1",
                        [country])
    return {"last_day": row[0] if row else None, "first_day": row[1] if row else None,
            "source": last[0] if last else None, "imported_at": last[1] if last else None}


def describe_freshness(fresh: dict, now=None) -> str:
    """One line for the page: "YouTube, fetched 2 h ago" or "bundled sample from Jun 2018 (trending days …)"."""
    from datetime import datetime

    last, source = fresh.get("last_day"), fresh.get("source") or ""
    if last is None:
        return "No trending days recorded yet."
    span = f"trending days {fresh['first_day']:%d %b %Y} to {last:%d %b %Y}"
    now = now or datetime.now()
    if source.startswith("youtube:") and fresh.get("imported_at"):
        hours = max(0.0, (now - fresh["imported_at"]).total_seconds() / 3600)
        ago = f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"
        return f"YouTube's trending list, fetched {ago} ago ({span})."
    age = (now.date() - last).days
    bundled = (Path(__file__).resolve().parents[1] / "data" / "trends" / Path(source).name).is_file()
    kind = "bundled sample" if bundled else f"imported file {Path(source).name}"
    old = f": {age // 365} years old, so it shows what was rising then, not now" if age > 365 else \
        f": {age} days old" if age > 2 else ""
    return f"{kind[:1].upper()}{kind[1:]} from {last:%b %Y} ({span}){old}."


def job_count(db: Database) -> int:
    """How many jobs were ever queued (0: a fresh install, where the Studio offers the example)."""
    return int(db.query_one("SELECT count(*) FROM jobs")[0])


def videos_per_day(db: Database) -> pl.DataFrame:
    return frame(db, VIDEOS_PER_DAY_SQL)


COST_PER_VIDEO_DAY_SQL = f"""
WITH costs AS ({JOB_COSTS_SQL})
SELECT v.created_at::DATE AS day, count(*) AS videos, avg(coalesce(c.usd, 0)) AS mean_usd,
       median(coalesce(c.usd, 0)) AS median_usd, max(coalesce(c.usd, 0)) AS max_usd
FROM videos v LEFT JOIN costs c USING (job_id) WHERE v.video_path IS NOT NULL
GROUP BY day ORDER BY day
"""


def cost_per_video_by_day(db: Database) -> pl.DataFrame:
    return frame(db, COST_PER_VIDEO_DAY_SQL)


# -- studio: the queue -------------------------------------------------------------------------

# Shown: every job still active or waiting for a person, plus the most recent others the operator has not
# cleared (a cleared job that ran again since shows again).
QUEUE_SQL = """
WITH ids AS (SELECT id FROM jobs WHERE status IN ('queued', 'running', 'review')
             UNION SELECT id FROM (SELECT id FROM jobs
                                   WHERE cleared_at IS NULL OR cleared_at < coalesce(finished_at, created_at)
                                   ORDER BY id DESC LIMIT ?))
SELECT j.id, j.status, j.awaiting, j.topic, c.name AS channel, j.duration_s, j.format, j.current_stage,
       j.cancel_requested, j.error_stage, j.error_provider, j.error_message, j.created_at, j.started_at,
       j.finished_at, v.title, v.quality_score, v.publish_state, v.thumbnail_path,
       v.video_path IS NOT NULL AS has_video, coalesce(k.usd, 0)::DOUBLE AS cost_usd
FROM jobs j SEMI JOIN ids ON ids.id = j.id LEFT JOIN channels c ON c.id = j.channel_id
LEFT JOIN videos v ON v.job_id = j.id LEFT JOIN job_costs k ON k.job_id = j.id
ORDER BY j.id DESC
"""

STAGES_SQL = """
SELECT job_id, stage, position, status, attempts, progress, provider, device, error, started_at, finished_at
FROM job_stages WHERE job_id IN (SELECT unnest(?::INTEGER[])) ORDER BY job_id, position
"""

STATUSES_SQL = """
SELECT id, status, awaiting, topic, error_stage FROM jobs WHERE id IN (SELECT unnest(?::INTEGER[])) ORDER BY id
"""


def queue(db: Database, recent: int = 10, jobs_dir: Path | None = None) -> pl.DataFrame:
    """Every queued, running or review job, plus the ``recent`` newest others not cleared from the queue view,
    each with its video's title, quality score, publish state and cost. ``thumbnail_path`` is the thumbnail
    only when it is an existing file inside the data directory's jobs/ (else null)."""
    jobs_dir = Path(jobs_dir) if jobs_dir is not None else db.path.parent / "jobs"
    df = frame(db, QUEUE_SQL, [recent])
    checked = [str(found) if (found := locate(path, jobs_dir, job_id)[0]) else None
               for job_id, path in zip(df["id"].to_list(), df["thumbnail_path"].to_list())]
    return df.with_columns(pl.Series("thumbnail_path", checked, dtype=pl.String))


def stages_for(db: Database, job_ids: list[int]) -> pl.DataFrame:
    """The stages of these jobs in pipeline order: status, attempts, progress (0..1), provider, device, times."""
    return frame(db, STAGES_SQL, [list(job_ids)])


def job_statuses(db: Database, job_ids: list[int]) -> pl.DataFrame:
    """The status (and what a review job awaits) of these jobs, for the queue's "your job finished" notes."""
    return frame(db, STATUSES_SQL, [list(job_ids)])


JOBS_SQL = f"""
WITH costs AS ({JOB_COSTS_SQL})
SELECT j.id, j.status, j.topic, c.name AS channel, j.duration_s, j.format, j.current_stage, j.error_stage,
       j.error_message, j.created_at, j.finished_at, v.quality_score, v.video_path, coalesce(k.usd, 0) AS cost_usd
FROM jobs j LEFT JOIN channels c ON c.id = j.channel_id LEFT JOIN videos v ON v.job_id = j.id
LEFT JOIN costs k ON k.job_id = j.id
ORDER BY j.id DESC LIMIT ?
"""


def jobs(db: Database, limit: int = 200) -> pl.DataFrame:
    return frame(db, JOBS_SQL, [limit])


# -- library -----------------------------------------------------------------------------------

_LIBRARY_FILTERS = """
    v.video_path IS NOT NULL
    AND (?::VARCHAR IS NULL OR strpos(lower(v.title), lower(?)) > 0
         OR v.job_id IN (SELECT id FROM jobs WHERE strpos(lower(topic), lower(?)) > 0))
    AND (?::VARCHAR IS NULL OR c.name = ?)
    AND (?::VARCHAR IS NULL OR coalesce(v.publish_state, 'unpublished') = ?
         OR ? = 'unpublished' AND v.publish_state NOT IN ('published', 'scheduled', 'outbox', 'held'))
    AND (?::VARCHAR IS NULL OR v.format = ?)
"""
# A video's publish state in the words every page uses: Published means on YouTube; the outbox is Exported.
PUBLISH_WORDS = {"published": "Published", "scheduled": "Scheduled", "outbox": "Exported", "held": "Held",
                 "deleted": "Deleted", "failed": "Failed", "unpublished": "Not published"}

# Pick the page's ids first, then join the details for those rows only.
LIBRARY_SQL = f"""
WITH ids AS (SELECT v.job_id FROM videos v LEFT JOIN channels c ON c.id = v.channel_id
             WHERE {_LIBRARY_FILTERS} ORDER BY v.job_id DESC LIMIT ? OFFSET ?)
SELECT v.job_id, v.title, j.topic, c.name AS channel, v.format, round(v.duration_s, 1) AS duration_s, v.quality_score,
       coalesce(k.usd, 0)::DOUBLE AS cost_usd, v.publish_state, v.publish_ref, v.created_at, v.video_path,
       v.thumbnail_path, j.status AS job_status, j.awaiting
FROM ids JOIN videos v USING (job_id) JOIN jobs j ON j.id = v.job_id LEFT JOIN channels c ON c.id = v.channel_id
LEFT JOIN job_costs k ON k.job_id = v.job_id
ORDER BY v.job_id DESC
"""

LIBRARY_COUNT_SQL = f"""
SELECT count(*) FROM videos v JOIN jobs j ON j.id = v.job_id LEFT JOIN channels c ON c.id = v.channel_id
WHERE {_LIBRARY_FILTERS}
"""


REVIEW_QUEUE_SQL = """
SELECT j.id AS job_id, j.topic, c.name AS channel, j.awaiting, j.format, j.duration_s, v.quality_score,
       coalesce(k.usd, 0)::DOUBLE AS cost_usd, max(e.at_time) AS waiting_since
FROM jobs j LEFT JOIN channels c ON c.id = j.channel_id LEFT JOIN videos v ON v.job_id = j.id
LEFT JOIN job_costs k ON k.job_id = j.id LEFT JOIN job_events e ON e.job_id = j.id AND e.status = 'review'
WHERE j.status = 'review'
GROUP BY ALL ORDER BY waiting_since NULLS LAST, j.id
"""


def review_queue(db: Database) -> pl.DataFrame:
    """Jobs waiting for a person: their script to be read and approved, or their video to be published."""
    return frame(db, REVIEW_QUEUE_SQL)


def _library_params(search: str | None, channel: str | None, state: str | None, fmt: str | None) -> list:
    search = (search or "").strip() or None
    return [search, search, search, channel, channel, state, state, state, fmt, fmt]


def library(db: Database, search: str | None = None, channel: str | None = None, state: str | None = None,
            fmt: str | None = None, limit: int = 24, offset: int = 0) -> pl.DataFrame:
    return frame(db, LIBRARY_SQL, [*_library_params(search, channel, state, fmt), limit, offset])


def library_count(db: Database, search: str | None = None, channel: str | None = None, state: str | None = None,
                  fmt: str | None = None) -> int:
    return db.query_one(LIBRARY_COUNT_SQL, _library_params(search, channel, state, fmt))[0]


def video_detail(db: Database, job_id: int, jobs_dir: Path | None = None) -> dict | None:
    """Everything the Library shows about one video: row, script, subtitles, quality, costs, events.

    Every file path is checked before anything is read or offered: only existing files inside the data
    directory's jobs/ come back (``files``, ``video_path``, ``thumbnail_path``); the rest are listed in
    ``refused`` (a path outside) or simply missing."""
    jobs_dir = Path(jobs_dir) if jobs_dir is not None else db.path.parent / "jobs"
    rows = db.query_dicts(
        "SELECT v.*, j.topic, j.status AS job_status, j.awaiting, j.duration_s AS target_s, c.name AS channel"
        " FROM videos v JOIN jobs j ON j.id = v.job_id LEFT JOIN channels c ON c.id = v.channel_id WHERE v.job_id = ?",
        [job_id])
    if not rows:
        return None
    video = rows[0]
    files, refused = {}, []
    stored = db.query("SELECT kind, path FROM artifacts WHERE job_id = ?", [job_id])
    for kind, path in [*stored, ("video_path", video.get("video_path")), ("thumbnail_path", video.get("thumbnail_path"))]:
        checked, outside = locate(path, jobs_dir, job_id)
        if outside:
            refused.append(kind)
        if kind in ("video_path", "thumbnail_path"):
            video[kind] = str(checked) if checked else None
        elif checked:
            files[kind] = str(checked)
    detail = {"video": video, "files": files, "refused": sorted(set(refused))}
    detail["quality"] = json.loads(video["quality_detail"]) if video.get("quality_detail") else None
    detail["script"] = _read_json(files.get("script"))
    detail["captions"] = _read_text(files.get("captions"))
    detail["costs"] = cost_breakdown(db, job_id)
    detail["events"] = frame(db, "SELECT at_time, stage, status, message FROM job_events WHERE job_id = ? ORDER BY id",
                             [job_id])
    return detail


def _read_json(path: str | None) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return None


def _read_text(path: str | None) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8") if path else None
    except OSError:
        return None


COST_BREAKDOWN_SQL = """
SELECT stage, provider, model, unit, sum(quantity) AS quantity, any_value(unit_price_usd) AS unit_price_usd,
       sum(usd)::DOUBLE AS usd, round(sum(compute_s), 2) AS compute_s
FROM cost_ledger WHERE job_id = ? GROUP BY stage, provider, model, unit ORDER BY min(id)
"""


def cost_breakdown(db: Database, job_id: int) -> pl.DataFrame:
    return frame(db, COST_BREAKDOWN_SQL, [job_id])


# -- costs -------------------------------------------------------------------------------------

# Spend by stage, provider and day come from the cost_daily rollup (a row per day and provider model).
COST_BY_STAGE_SQL = """
SELECT stage, sum(calls) AS calls, sum(usd)::DOUBLE AS usd, round(sum(compute_s), 1) AS compute_s
FROM cost_daily WHERE day >= ? GROUP BY stage ORDER BY usd DESC, stage
"""

COST_BY_PROVIDER_SQL = """
SELECT provider, model, unit, sum(quantity) AS quantity, sum(usd)::DOUBLE AS usd, sum(calls) AS calls
FROM cost_daily WHERE day >= ? GROUP BY provider, model, unit ORDER BY usd DESC, provider, model
"""

COST_BY_DAY_SQL = """
WITH spend AS (SELECT day, sum(usd)::DOUBLE AS usd FROM cost_daily WHERE day >= ? GROUP BY day),
made AS (SELECT created_at::DATE AS day, count(*) AS videos FROM videos
         WHERE video_path IS NOT NULL AND created_at >= ? GROUP BY day)
SELECT coalesce(spend.day, made.day) AS day, coalesce(spend.usd, 0) AS usd, coalesce(made.videos, 0) AS videos
FROM spend FULL JOIN made ON made.day = spend.day ORDER BY day
"""

COST_DISTRIBUTION_SQL = f"""
WITH costs AS ({JOB_COSTS_SQL}), per AS (SELECT usd FROM costs JOIN videos v USING (job_id) WHERE v.video_path IS NOT NULL),
bounds AS (SELECT greatest(max(usd), ?) AS top FROM per)
SELECT least(floor(usd / (top / 20)), 19) * (top / 20) AS bin_usd, count(*) AS videos
FROM per, bounds GROUP BY bin_usd ORDER BY bin_usd
"""

TOP_VIDEOS_SQL = f"""
WITH costs AS ({JOB_COSTS_SQL})
SELECT c.job_id, j.topic, ch.name AS channel, c.usd, j.created_at
FROM costs c JOIN jobs j ON j.id = c.job_id LEFT JOIN channels ch ON ch.id = j.channel_id
ORDER BY c.usd DESC, c.job_id DESC LIMIT ?
"""


def cost_by_stage(db: Database, since: str = "1970-01-01") -> pl.DataFrame:
    return frame(db, COST_BY_STAGE_SQL, [since])


def cost_by_provider(db: Database, since: str = "1970-01-01") -> pl.DataFrame:
    return frame(db, COST_BY_PROVIDER_SQL, [since])


def cost_by_day(db: Database, since: str = "1970-01-01") -> pl.DataFrame:
    return frame(db, COST_BY_DAY_SQL, [since, since])


def cost_distribution(db: Database, cap_usd: float) -> pl.DataFrame:
    """Videos per cost bin (20 bins up to the larger of the cap and the dearest video)."""
    return frame(db, COST_DISTRIBUTION_SQL, [cap_usd])


def top_videos_by_cost(db: Database, limit: int = 20) -> pl.DataFrame:
    return frame(db, TOP_VIDEOS_SQL, [limit])


OVER_CAP_SQL = "SELECT count(*) FROM job_costs WHERE usd > ?"


def over_cap(db: Database, cap_usd: float) -> int:
    return db.query_one(OVER_CAP_SQL, [cap_usd])[0]


TODAY_BY_PROVIDER_SQL = """
SELECT provider, unit, sum(quantity) AS quantity, sum(usd)::DOUBLE AS usd, sum(calls) AS calls
FROM cost_daily WHERE day = current_date GROUP BY provider, unit ORDER BY provider, unit
"""


def today_by_provider(db: Database) -> pl.DataFrame:
    return frame(db, TODAY_BY_PROVIDER_SQL)


FALLBACKS_SQL = """
SELECT f.at_time, f.job_id, j.topic, f.stage, f.from_provider, f.to_provider,
       CASE WHEN f.reason LIKE 'budget:%' THEN 'budget' WHEN f.reason LIKE 'unavailable:%' THEN 'unavailable'
            ELSE 'error' END AS kind, f.reason
FROM fallbacks f LEFT JOIN jobs j ON j.id = f.job_id ORDER BY f.id DESC LIMIT ?
"""


def fallbacks(db: Database, limit: int = 50) -> pl.DataFrame:
    return frame(db, FALLBACKS_SQL, [limit])


SPEND_RATE_SQL = """
SELECT coalesce(sum(usd) FILTER (WHERE day > current_date - 7), 0)::DOUBLE / 7 AS per_day_7d,
       coalesce(sum(usd) FILTER (WHERE day = current_date), 0)::DOUBLE AS today
FROM cost_daily
"""


def spend_rate(db: Database) -> dict:
    return frame(db, SPEND_RATE_SQL).row(0, named=True)


# -- performance back from YouTube ----------------------------------------------------------------
ROI_SQL = """
WITH perf AS (SELECT youtube_video_id, sum(views) AS views, sum(minutes_watched) AS minutes_watched,
                     sum(subscribers_gained) AS subscribers, sum(revenue_usd) AS revenue_usd
              FROM video_stats GROUP BY youtube_video_id)
SELECT u.job_id, v.title, c.name AS channel, u.video_id, p.views, round(p.minutes_watched / 60, 1) AS hours_watched,
       p.subscribers, p.revenue_usd, coalesce(k.usd, 0)::DOUBLE AS cost_usd,
       CASE WHEN coalesce(k.usd, 0) > 0 THEN p.revenue_usd / k.usd::DOUBLE END AS roi
FROM uploads u JOIN perf p ON p.youtube_video_id = u.video_id LEFT JOIN videos v ON v.job_id = u.job_id
LEFT JOIN channels c ON c.id = u.channel_id LEFT JOIN job_costs k ON k.job_id = u.job_id
ORDER BY p.views DESC NULLS LAST LIMIT ?
"""


def roi(db: Database, limit: int = 50) -> pl.DataFrame:
    return frame(db, ROI_SQL, [limit])


CHANNEL_PERFORMANCE_SQL = """
WITH latest AS (SELECT channel_id, arg_max(subscribers, day) AS subscribers, max(day) AS as_of FROM channel_stats
                GROUP BY channel_id),
perf AS (SELECT u.channel_id, sum(s.views) AS views, sum(s.minutes_watched) / 60 AS hours_watched,
                sum(s.revenue_usd) AS revenue_usd
         FROM video_stats s JOIN uploads u ON u.video_id = s.youtube_video_id GROUP BY u.channel_id),
spend AS (SELECT v.channel_id, sum(k.usd)::DOUBLE AS cost_usd FROM videos v JOIN job_costs k USING (job_id)
          GROUP BY v.channel_id)
SELECT c.id, c.name, l.subscribers, l.as_of, p.views, round(p.hours_watched, 1) AS hours_watched, p.revenue_usd,
       coalesce(sp.cost_usd, 0) AS cost_usd,
       CASE WHEN coalesce(sp.cost_usd, 0) > 0 THEN p.revenue_usd / sp.cost_usd END AS roi
FROM channels c LEFT JOIN latest l ON l.channel_id = c.id LEFT JOIN perf p ON p.channel_id = c.id
LEFT JOIN spend sp ON sp.channel_id = c.id
WHERE l.subscribers IS NOT NULL OR p.views IS NOT NULL ORDER BY c.id
"""


def channel_performance(db: Database) -> pl.DataFrame:
    return frame(db, CHANNEL_PERFORMANCE_SQL)


# -- channels ----------------------------------------------------------------------------------

CHANNELS_SQL = """
WITH per AS (SELECT v.channel_id, count(*) AS videos, coalesce(sum(k.usd), 0)::DOUBLE AS spend_usd
             FROM videos v LEFT JOIN job_costs k USING (job_id) WHERE v.video_path IS NOT NULL GROUP BY v.channel_id)
SELECT c.id, c.name, c.niche, c.language, c.voice, c.writer, c.primary_color, c.accent_color, c.text_color,
       c.default_format, c.default_duration, c.made_for_kids, c.visuals, c.caption_style, c.caption_font,
       c.caption_size, c.caption_outline, c.caption_shadow, c.review, c.created_at,
       coalesce(per.videos, 0) AS videos, coalesce(per.spend_usd, 0) AS spend_usd
FROM channels c LEFT JOIN per ON per.channel_id = c.id
ORDER BY c.id
"""


def channels(db: Database) -> pl.DataFrame:
    return frame(db, CHANNELS_SQL)


TABLES = ("channels", "jobs", "job_stages", "job_events", "artifacts", "videos", "cost_ledger", "app_settings",
          "trend_videos", "trend_snapshots", "trend_imports", "trend_topics", "trend_video_topics", "trend_evaluations",
          "fallbacks", "quota_ledger", "uploads", "schedules", "schedule_slots", "channel_stats", "video_stats",
          "job_scenes", "media_folders", "media_files", "music_folders", "music_tracks", "script_versions", "job_runs")
# What analysts get: tokens, client secrets and upload sessions (a bearer credential) never leave the database.
SNAPSHOT_COLUMNS = {"uploads": "* EXCLUDE (session_uri)"}


# -- trends (read models the Trends page caches) -----------------------------------------------
def rising_videos(db: Database, country: str, limit: int = 25) -> pl.DataFrame:
    from pipeline.trends.features import rising_videos as rising
    return rising(db, country, limit)


def topic_days(db: Database, country: str, days: int = 60) -> pl.DataFrame:
    from pipeline.trends.features import topic_days as per_day
    return per_day(db, country, days)


def topic_momentum(db: Database, country: str) -> pl.DataFrame:
    """Topics by momentum, with the mean growth of their recent videos as a percentage a day as well."""
    from pipeline.trends.features import topic_momentum as momentum
    return momentum(db, country).with_columns(
        (100 * (10 ** pl.col("recent_growth") - 1)).round(1).alias("recent_growth_pct"))


def trend_countries(db: Database) -> list[str]:
    """The countries with trending data, in order."""
    return [r[0] for r in db.query("SELECT DISTINCT country FROM trend_snapshots ORDER BY country")]


TREND_IMPORTS_SQL = """
SELECT source, country, rows_read, inserted, duplicates, rejected, at_time FROM trend_imports ORDER BY id DESC LIMIT ?
"""


def trend_imports(db: Database, limit: int = 20) -> pl.DataFrame:
    """The latest imports, their rejects in words ("520 video id corrupted by a spreadsheet (#NOME?)", or "none")."""
    rows = db.query_dicts(TREND_IMPORTS_SQL, [limit])
    for row in rows:
        rejected = json.loads(row["rejected"] or "{}")
        row["rejected"] = "; ".join(f"{n:,} {reason}" for reason, n in rejected.items()) or "none"
    return pl.DataFrame(rows, schema={"source": pl.String, "country": pl.String, "rows_read": pl.Int64,
                                      "inserted": pl.Int64, "duplicates": pl.Int64, "rejected": pl.String,
                                      "at_time": pl.Datetime})
