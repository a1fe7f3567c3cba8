"""Backup and restore of the whole database as one zip of Parquet files.

The zip holds ``manifest.json`` (format, schema version, row counts) and one
``<table>.parquet`` per table. Restoring checks everything first (a zip, the
manifest, a schema this version understands, the columns of every table) and
then replaces all tables in one transaction: a bad file changes nothing.
Artifact files (videos, thumbnails) are not in the backup; rows that point at
missing files show as such and a retry makes them again.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from pipeline.costs import rebuild_rollups
from pipeline.db import Database, migration_files
from pipeline.queries import TABLES as SNAPSHOT_TABLES

# Everything but derived rollups (rebuilt on restore) and consent requests in flight.
TABLES = (*SNAPSHOT_TABLES, "youtube_projects", "youtube_accounts", "youtube_parking")

FORMAT = "ytempire-backup-1"
SEQUENCES = {"channels": "channel_ids", "jobs": "job_ids", "job_events": "event_ids", "cost_ledger": "ledger_ids",
             "trend_imports": "trend_import_ids", "fallbacks": "fallback_ids", "quota_ledger": "quota_ids"}


class BackupError(ValueError):
    pass


def schema_version(db: Database) -> int:
    return db.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]


def export_backup(db: Database, dest: Path) -> Path:
    """Write the whole database to a zip at dest; returns dest."""
    cur = db.cursor()
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for table in TABLES:
            cur.execute(f"COPY (SELECT * FROM {table}) TO '{(Path(tmp) / f'{table}.parquet').as_posix()}' (FORMAT PARQUET)")
            rows[table] = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        manifest = {"format": FORMAT, "schema_version": schema_version(db), "rows": rows,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as zf:  # Parquet is compressed already
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            for table in TABLES:
                zf.write(Path(tmp) / f"{table}.parquet", f"{table}.parquet")
        partial.replace(dest)
    return dest


def _columns(cur, source: str) -> list[str]:
    return [r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]


def import_backup(db: Database, source: Path) -> dict:
    """Replace every table with the backup's rows. Returns the manifest. Raises BackupError, changing nothing."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupError(f"{Path(source).name} is not a YTEmpire backup (not a zip file).") from exc
    with zf, tempfile.TemporaryDirectory() as tmp:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (KeyError, ValueError) as exc:
            raise BackupError("The backup has no readable manifest.json: export it again from Settings.") from exc
        if manifest.get("format") != FORMAT:
            raise BackupError(f"Unknown backup format {manifest.get('format')!r}: expected {FORMAT}.")
        latest = max(v for v, _, _ in migration_files())
        if int(manifest.get("schema_version", 0)) > latest:
            raise BackupError(f"The backup is from a newer YTEmpire (schema {manifest['schema_version']} > {latest}): "
                              "upgrade this installation first.")
        missing = [t for t in TABLES if f"{t}.parquet" not in zf.namelist()]
        if missing and int(manifest.get("schema_version", 0)) >= latest:
            raise BackupError(f"The backup lacks tables: {', '.join(missing)}.")
        present = [t for t in TABLES if t not in missing]  # an older backup: its newer tables start empty
        zf.extractall(tmp, members=[f"{t}.parquet" for t in present])
        cur = db.cursor()
        for table in present:
            path = (Path(tmp) / f"{table}.parquet").as_posix()
            have, want = _columns(cur, f"read_parquet('{path}')"), _columns(cur, table)
            if set(have) - set(want):
                raise BackupError(f"Table {table} in the backup has columns this version does not know: "
                                  f"{', '.join(sorted(set(have) - set(want)))}.")
        with db.write() as w:
            for table in reversed(TABLES):
                w.execute(f"DELETE FROM {table}")
            for table in present:
                path = (Path(tmp) / f"{table}.parquet").as_posix()
                cols = ", ".join(_columns(w, f"read_parquet('{path}')"))
                w.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM read_parquet('{path}')")
            rebuild_rollups(w)
            for table, sequence in SEQUENCES.items():  # new rows must not reuse restored ids
                top = w.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchall()[0][0]
                current = w.execute(f"SELECT nextval('{sequence}')").fetchall()[0][0]
                if top >= current:
                    w.execute(f"SELECT max(nextval('{sequence}')) FROM range(?)", [top - current + 1])
        return manifest
