"""Reads limited to workspaces by construction.

A :class:`ScopedDb` is the database as one actor may read it: every query through it (``query``,
``query_one``, ``query_dicts`` and ``pipeline.queries.frame``) runs with the customer tables shadowed by
common table expressions that keep only the actor's workspaces' rows. A read model written against the plain
table names is therefore scoped without knowing it, and a page handed the acting Workbench's ``db`` cannot read
another workspace's channels, jobs, videos or costs. Writes (``write()``) pass through unchanged: the
Workbench checks an action before it writes.
"""

from __future__ import annotations

import re
from typing import Any

# Customer tables and how each row finds its workspace ({W}: the id list, {CH}/{JB}: the workspace's channels/jobs).
_CH = "(SELECT id FROM main.channels WHERE workspace_id IN {W})"
_JB = "(SELECT id FROM main.jobs WHERE workspace_id IN {W})"
SCOPED_TABLES: dict[str, str] = {
    "channels": "workspace_id IN {W}",
    "jobs": "workspace_id IN {W}",
    "videos": "workspace_id IN {W}",
    "job_stages": "job_id IN {JB}",
    "job_events": "job_id IN {JB}",
    "artifacts": "job_id IN {JB}",
    "cost_ledger": "job_id IN {JB}",
    "job_costs": "workspace_id IN {W}",
    "budget_holds": "job_id IN {JB}",
    "fallbacks": "job_id IN {JB}",
    "job_scenes": "job_id IN {JB}",
    "script_versions": "job_id IN {JB}",
    "job_runs": "job_id IN {JB}",
    "cost_daily": "workspace_id IN {W}",
    "uploads": "job_id IN (SELECT job_id FROM main.videos WHERE workspace_id IN {W})",
    "video_stats": "youtube_video_id IN (SELECT video_id FROM main.uploads WHERE job_id IN"
                   " (SELECT job_id FROM main.videos WHERE workspace_id IN {W}))",
    "schedules": "channel_id IN {CH}",
    "schedule_slots": "channel_id IN {CH}",
    "channel_stats": "channel_id IN {CH}",
    "youtube_accounts": "channel_id IN {CH}",
    "oauth_states": "channel_id IN {CH}",
    "music_folders": "channel_id IN {CH}",
    "music_tracks": "channel_id IN {CH}",
    "youtube_projects": "workspace_id IN {W}",
    "quota_ledger": "project_id IN (SELECT project_id FROM main.youtube_projects WHERE workspace_id IN {W})",
    "media_folders": "workspace_id IN {W}",
    "media_files": "folder IN (SELECT path FROM main.media_folders WHERE workspace_id IN {W})",
    "youtube_parking": "(kind = 'channel' AND ref IN (SELECT id::VARCHAR FROM main.channels WHERE workspace_id IN {W}))"
                       " OR (kind = 'project' AND ref IN (SELECT project_id FROM main.youtube_projects"
                       " WHERE workspace_id IN {W}))",
    "audit_log": "workspace_id IN {W}",
}
_WITH = re.compile(r"^\s*WITH\s+(?!RECURSIVE)", re.IGNORECASE)  # a comment before WITH: prefixed as a whole


def scope_prefix(scope: frozenset[int], sql: str | None = None) -> str:
    """The shadowing CTEs (only those of tables ``sql`` names, when given: fewer to bind on every read)."""
    ids = "(" + ", ".join(str(int(i)) for i in sorted(scope)) + ")" if scope else "(NULL)"
    ch, jb = _CH.format(W=ids), _JB.format(W=ids)
    tables = SCOPED_TABLES if sql is None else \
        {t: w for t, w in SCOPED_TABLES.items() if re.search(rf"\b{t}\b", sql, re.IGNORECASE)}
    # NOT MATERIALIZED: each shadow is inlined where it is used, so DuckDB pushes the query's own filters and
    # joins through it (a materialized copy of a large table per query costs several times the query).
    parts = [f"{table} AS NOT MATERIALIZED (SELECT * FROM main.{table} WHERE {where.format(W=ids, CH=ch, JB=jb)})"
             for table, where in tables.items()]
    return ", ".join(parts)


# What a scoped read may not name: a customer table qualified by its schema or database (it would skip the
# shadowing CTE), a table function that reads files (the owner's all-workspace snapshots are files), and the
# account tables.
_ESCAPES = re.compile(
    r"(\b(main|ytempire|memory|system|temp)|\"[^\"]*\")\s*\.\s*\"?(" + "|".join(SCOPED_TABLES) + r")\b"
    r"|\b(read_parquet|read_csv|read_csv_auto|read_json|read_json_auto|read_text|read_blob|parquet_scan|glob"
    r"|sniff_csv|read_ndjson|iceberg_scan|delta_scan|query_table|query)\s*\("
    r"|\b(users|sessions|invitations|memberships|sign_in_failures|api_tokens|api_idempotency|duckdb_\w+)\b",
    re.IGNORECASE)


class ScopeEscape(PermissionError):
    """A read that would step around the workspace filter; refused, never run."""


def check_escape(sql: str) -> None:
    if _ESCAPES.search(sql):
        raise ScopeEscape("This read names a table or function outside what a workspace may read.")


def scoped_sql(sql: str, scope: frozenset[int] | None) -> str:
    """``sql`` with every customer table limited to ``scope`` (None: unchanged, every workspace). SQL that
    could step around the shadowing (a schema-qualified customer table, a file read, the account tables) is
    refused with ScopeEscape."""
    if scope is None:
        return sql
    check_escape(sql)
    prefix = scope_prefix(scope, sql)
    if not prefix:  # no customer table named: nothing to shadow
        return sql
    if re.match(r"^\s*WITH\s+RECURSIVE\b", sql, re.IGNORECASE):
        return re.sub(r"^\s*WITH\s+RECURSIVE\s+", lambda m: f"WITH RECURSIVE {prefix}, ", sql, count=1,
                      flags=re.IGNORECASE)
    if _WITH.match(sql):
        return _WITH.sub(lambda m: f"WITH {prefix}, ", sql, count=1)
    return f"WITH {prefix} {sql}"


class ScopedDb:
    """The database as one actor reads it (see the module docstring); everything else passes through."""

    def __init__(self, db: Any, scope: frozenset[int] | None):
        self._db = db
        self.scope = scope
        # A scope holding every workspace there is (a one-workspace install) reads like no scope: no shadowing.
        self.sql_scope = scope
        if scope is not None:
            others = db.query_one(f"SELECT count(*) FROM workspaces WHERE id NOT IN "
                                  f"({', '.join(str(int(i)) for i in scope) or 'NULL'})")[0]
            self.sql_scope = None if not others else scope

    @property
    def raw(self) -> Any:
        return self._db

    def scoped(self, sql: str) -> str:
        if self.sql_scope is None and self.scope is not None:
            check_escape(sql)  # the same refusals, even when nothing needs shadowing
        return scoped_sql(sql, self.sql_scope)

    def query(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        return self._db.query(self.scoped(sql), params)

    def query_one(self, sql: str, params: list | tuple | None = None) -> tuple | None:
        return self._db.query_one(self.scoped(sql), params)

    def query_dicts(self, sql: str, params: list | tuple | None = None) -> list[dict]:
        return self._db.query_dicts(self.scoped(sql), params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def scope_of(db: Any) -> frozenset[int] | None:
    """The workspaces a read through ``db`` is limited to (None: all)."""
    return getattr(db, "sql_scope", None)


def raw_db(db: Any) -> Any:
    return db.raw if isinstance(db, ScopedDb) else db
