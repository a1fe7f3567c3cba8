"""Read models for pages and notebooks: (db, filters) -> polars.DataFrame."""

from __future__ import annotations

import polars as pl

from pipeline.db import Database


def frame(db: Database, sql: str, params: list | None = None) -> pl.DataFrame:
    return db.cursor().sql(sql, params=params or None).pl()


def channels(db: Database) -> pl.DataFrame:
    return frame(db, "SELECT * FROM channels ORDER BY id")


def jobs(db: Database, limit: int = 200) -> pl.DataFrame:
    return frame(db, """
        SELECT j.id, j.status, j.topic, c.name AS channel, j.duration_s, j.format, j.current_stage,
               j.error_stage, j.error_message, j.created_at, j.finished_at, v.quality_score,
               (SELECT coalesce(sum(usd), 0) FROM cost_ledger l WHERE l.job_id = j.id)::DOUBLE AS cost_usd
        FROM jobs j LEFT JOIN channels c ON c.id = j.channel_id LEFT JOIN videos v ON v.job_id = j.id
        ORDER BY j.id DESC LIMIT ?""", [limit])
