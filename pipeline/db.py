"""The DuckDB file: connect, migrate, and the one write path.

DuckDB lets one process open a file for writing. The owning process (the app,
or a CLI run) holds one connection; each thread reads through its own cursor
and every write goes through :meth:`Database.write`, which serialises writers
inside the process so concurrent jobs never hit a transaction conflict.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<proc>.+?) \(PID (?P<pid>\d+)\)")


def first(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a result, reading it to the end: DuckDB refuses new work on a
    connection whose last result was left unfinished (``fetchone`` leaves it so)."""
    rows = result.fetchall()
    return rows[0] if rows else None


class DatabaseLocked(RuntimeError):
    """Another process (usually the running workbench) holds the database file."""

    def __init__(self, path: Path, pid: int | None, process: str | None):
        self.path, self.pid, self.process = path, pid, process
        who = f"process {pid} ({process})" if pid else "another process"
        super().__init__(
            f"The database {path} is in use by {who}, most likely the running workbench. "
            "Start the video from the workbench's Studio page, stop the workbench first, "
            "or use another --data-dir. Nothing was changed."
        )


class Database:
    """One DuckDB file, one connection per process, one serialised write path."""

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self._write_lock = threading.RLock()
        self._local = threading.local()
        try:
            self._conn = duckdb.connect(str(self.path), read_only=read_only)
            # Timestamps are naive UTC everywhere (Python writes UTC; so must current_timestamp),
            # whatever time zone the server runs in.
            self._conn.execute("SET GLOBAL TimeZone = 'UTC'")
            if not read_only:  # tokens (encrypted), costs, everything: readable by the owner only
                from pipeline.files import private_file
                for path in (self.path, self.path.with_name(self.path.name + ".wal")):
                    if path.exists():
                        private_file(path)
        except duckdb.IOException as exc:
            match = _LOCK_HOLDER.search(str(exc))
            if match:
                raise DatabaseLocked(self.path, int(match["pid"]), match["proc"]) from exc
            raise

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor owned by the calling thread (DuckDB connections are not thread-safe)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._conn.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block of writes as one transaction, one writer at a time."""
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One consistent view of every table for a long read (a backup): a transaction on its own cursor,
        so rows written meanwhile by the worker are not half in it."""
        cur = self._conn.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        finally:
            cur.execute("ROLLBACK")
            cur.close()

    def query(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def query_one(self, sql: str, params: list | tuple | None = None) -> tuple | None:
        return first(self.cursor().execute(sql, params or []))

    def query_dicts(self, sql: str, params: list | tuple | None = None) -> list[dict]:
        cur = self.cursor().execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def close(self) -> None:
        self._conn.close()


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every numbered file in pipeline/migrations, in order."""
    found = []
    for entry in resources.files("pipeline.migrations").iterdir():
        match = re.match(r"^(\d+)_(\w+)\.sql$", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(db: Database) -> list[int]:
    """Apply each migration not yet recorded, each in its own transaction. Returns those applied."""
    with db.write() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
    done = {row[0] for row in db.query("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        with db.write() as cur:
            cur.execute(sql)
            cur.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
        applied.append(version)
    return applied


def open_database(path: Path) -> Database:
    """Open (creating if needed) and migrate the database file."""
    db = Database(path)
    migrate(db)
    return db
