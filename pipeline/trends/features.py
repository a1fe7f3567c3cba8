"""Trend features with DuckDB: per video per day, and per topic momentum."""

from __future__ import annotations

import polars as pl

from pipeline.db import Database
from pipeline.queries import frame

# Per video per day: views, day-over-day growth (log10 per day, over gaps too), days on the list so far,
# rank, engagement ratios where the file has them, and the publish-to-trending lag.
VIDEO_DAY_SQL = """
WITH s AS (
  SELECT country, video_id, day, rank, views, likes, dislikes, comments,
         row_number() OVER w AS days_on_list,
         lag(views) OVER w AS prev_views, lag(day) OVER w AS prev_day,
         min(day) OVER (PARTITION BY country, video_id) AS first_day
  FROM trend_snapshots WHERE country = ?
  WINDOW w AS (PARTITION BY country, video_id ORDER BY day))
SELECT s.video_id, s.day, s.rank, s.views, s.days_on_list, s.first_day,
       CASE WHEN prev_views > 0 AND views > 0
            THEN (log10(views) - log10(prev_views)) / greatest(date_diff('day', prev_day, day), 1) END AS growth,
       likes / nullif(views, 0) AS like_ratio, comments / nullif(views, 0) AS comment_ratio,
       dislikes / nullif(likes + dislikes, 0) AS dislike_share,
       date_diff('day', v.publish_time::DATE, s.first_day) AS publish_lag_days,
       v.title, v.category
FROM s JOIN trend_videos v ON v.country = s.country AND v.video_id = s.video_id
ORDER BY s.video_id, s.day
"""


def video_day_features(db: Database, country: str) -> pl.DataFrame:
    return frame(db, VIDEO_DAY_SQL, [country])


# Per topic per day: videos on the list, new entrants and total views.
TOPIC_DAY_SQL = """
WITH first AS (SELECT video_id, min(day) AS first_day FROM trend_snapshots WHERE country = ? GROUP BY video_id)
SELECT t.topic_id, t.label, s.day, count(*) AS videos, count(*) FILTER (WHERE s.day = f.first_day) AS entrants,
       sum(s.views) AS views
FROM trend_snapshots s JOIN trend_video_topics vt ON vt.country = s.country AND vt.video_id = s.video_id
JOIN trend_topics t ON t.country = vt.country AND t.topic_id = vt.topic_id JOIN first f ON f.video_id = s.video_id
WHERE s.country = ? AND s.day > (SELECT max(day) FROM trend_snapshots WHERE country = ?) - ?::INTEGER
GROUP BY ALL ORDER BY t.topic_id, s.day
"""


def topic_days(db: Database, country: str, days: int = 60) -> pl.DataFrame:
    return frame(db, TOPIC_DAY_SQL, [country, country, country, days])


# Momentum: new entrants in the last `window` days against the window before (log ratio, smoothed),
# relative to the last day of data, plus the mean growth of the topic's videos in the last window.
MOMENTUM_SQL = """
WITH last AS (SELECT max(day) AS d FROM trend_snapshots WHERE country = ?),
first AS (SELECT video_id, min(day) AS first_day FROM trend_snapshots WHERE country = ? GROUP BY video_id),
growth AS (
  SELECT video_id, day, (log10(views) - log10(lag(views) OVER (PARTITION BY video_id ORDER BY day)))
         / greatest(date_diff('day', lag(day) OVER (PARTITION BY video_id ORDER BY day), day), 1) AS g
  FROM trend_snapshots WHERE country = ? AND views > 0)
SELECT t.topic_id, t.label, t.terms, t.size,
       count(DISTINCT f.video_id) FILTER (WHERE f.first_day > last.d - ?::INTEGER) AS recent,
       count(DISTINCT f.video_id) FILTER (WHERE f.first_day <= last.d - ?::INTEGER
                                         AND f.first_day > last.d - 2 * ?::INTEGER) AS before,
       ln((1 + recent) / (1 + before)) AS momentum,
       avg(g.g) FILTER (WHERE g.day > last.d - ?::INTEGER) AS recent_growth
FROM trend_topics t CROSS JOIN last
JOIN trend_video_topics vt ON vt.country = t.country AND vt.topic_id = t.topic_id
JOIN first f ON f.video_id = vt.video_id
LEFT JOIN growth g ON g.video_id = vt.video_id
WHERE t.country = ?
GROUP BY ALL ORDER BY momentum DESC, recent DESC
"""


def topic_momentum(db: Database, country: str, window: int = 7) -> pl.DataFrame:
    return frame(db, MOMENTUM_SQL, [country, country, country, window, window, window, window, country])


RISING_SQL = """
WITH last AS (SELECT max(day) AS d FROM trend_snapshots WHERE country = ?),
g AS (
  SELECT s.video_id, s.day, s.views, s.rank,
         (log10(s.views) - log10(lag(s.views) OVER w)) / greatest(date_diff('day', lag(s.day) OVER w, s.day), 1) AS growth
  FROM trend_snapshots s WHERE s.country = ? AND s.views > 0
  WINDOW w AS (PARTITION BY s.video_id ORDER BY s.day))
SELECT v.title, v.channel_title, v.category, g.views, g.rank, round(100 * (power(10, g.growth) - 1), 1) AS growth_pct_day,
       g.video_id
FROM g JOIN trend_videos v ON v.country = ? AND v.video_id = g.video_id, last
WHERE g.day = last.d AND g.growth IS NOT NULL
ORDER BY g.growth DESC LIMIT ?
"""


def rising_videos(db: Database, country: str, limit: int = 20) -> pl.DataFrame:
    """The videos growing fastest on the last day of data."""
    return frame(db, RISING_SQL, [country, country, country, limit])


def countries(db: Database) -> list[str]:
    return [r[0] for r in db.query("SELECT DISTINCT country FROM trend_snapshots ORDER BY country")]
