"""Parquet snapshots of the live database, for analysts working beside the running app.

DuckDB lets one process open the file for writing and the app holds it, so a
notebook cannot open ``ytempire.duckdb`` while the app runs. Instead the app
writes every table to ``<data>/snapshots/<table>.parquet`` whenever the data
changed (checked every ``interval_s``), each file written aside and renamed
into place so a reader never sees half a file. Read them with DuckDB
(``read_parquet``) or polars (``pl.read_parquet``); ``manifest.json`` says when
they were taken. ``<data>/snapshots/`` holds every workspace (the owner's);
``<data>/snapshots/workspaces/<id>/`` holds one workspace's rows only, the snapshot made for its analysts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline.access.scope import scoped_sql
from pipeline.db import Database
from pipeline.files import private_dir, private_file
from pipeline.queries import SNAPSHOT_COLUMNS, TABLES, data_version

log = logging.getLogger("ytempire.snapshots")


def write_snapshots(db: Database, folder: Path, tables: tuple[str, ...] = TABLES,
                    scope: frozenset[int] | None = None) -> dict:
    """Write every table as Parquet into folder (atomically per file); returns the manifest. With ``scope``
    only those workspaces' rows (pipeline.access.scope): the snapshot made for one workspace's analysts."""
    private_dir(folder)  # analysts on this account read them; nobody else
    cur = db.cursor()
    counts = {}
    for table in tables:
        final = folder / f"{table}.parquet"
        tmp = folder / f".{table}.parquet.tmp"
        columns = SNAPSHOT_COLUMNS.get(table, "*")
        select = scoped_sql(f"SELECT {columns} FROM {table}", scope)
        cur.execute(f"COPY ({select}) TO '{tmp.as_posix()}' (FORMAT PARQUET, COMPRESSION ZSTD)")
        private_file(tmp)
        os.replace(tmp, final)
        counts[table] = cur.execute(scoped_sql(f"SELECT count(*) FROM {table}", scope)).fetchall()[0][0]
    manifest = {"taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": counts,
                "workspaces": "all" if scope is None else sorted(scope)}
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    private_file(tmp)
    os.replace(tmp, folder / "manifest.json")
    return manifest


class SnapshotWriter:
    """A daemon thread that refreshes the snapshots when the data has changed."""

    def __init__(self, db: Database, folder: Path, interval_s: float = 30.0):
        self.db, self.folder, self.interval_s = db, folder, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._version: tuple | None = None
        self.last_error: str | None = None

    def refresh(self, force: bool = False) -> bool:
        """Write snapshots if the data changed since the last ones; returns whether it wrote."""
        version = data_version(self.db)
        if not force and version == self._version and (self.folder / "manifest.json").exists():
            return False
        started = time.perf_counter()
        write_snapshots(self.db, self.folder)  # every workspace: the owner's
        private_dir(self.folder / "workspaces")
        for (ws,) in self.db.query("SELECT id FROM workspaces ORDER BY id"):  # one folder per workspace
            write_snapshots(self.db, self.folder / "workspaces" / str(ws), scope=frozenset({ws}))
        self._version = version
        log.debug("snapshots written in %.2fs", time.perf_counter() - started)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep the thread alive; the page shows the error
                self.last_error = str(exc)
                log.warning("snapshot failed: %s", exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ytempire-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()  # a snapshot in progress finishes: the database must not close under it
