"""Backup and restore of the whole database as one zip of Parquet files.

The zip holds ``manifest.json`` (format, schema version, row counts) and one ``<table>.parquet``
per table; paths to job files inside the data directory are stored relative to it, so a backup
restores into another data directory or machine. Restoring checks everything before it writes:

- the zip itself, before anything is extracted: at most ``MAX_MEMBERS`` members, each named
  ``manifest.json`` or ``<known table>.parquet`` (no folders, no ``..``, no duplicates), and a
  total uncompressed size under the limit (a zip bomb is refused with nothing written); members
  are then extracted by streaming, counting bytes, so a size that lies is caught too;
- the manifest, the schema version and every table's columns and row count;
- every stored file path (artifacts, videos, thumbnails), which must resolve inside this data
  directory's ``jobs/``; the message names the first rows that do not.

Then all tables are replaced in one transaction, except what records the outside world, which a
restore cannot undo: rows of the cost ledger and the YouTube quota ledger written since the
backup are kept (the money was spent, the quota used), and the upload journal keeps what YouTube
has (a job restored to before its upload finds its video instead of uploading a second copy).
Jobs the backup caught running are queued again in the same transaction.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipeline.costs import rebuild_rollups
from pipeline.db import Database, migration_files
from pipeline.files import OWNER_FILE, inside, private_dir, private_file
from pipeline.queries import TABLES as SNAPSHOT_TABLES

# Everything but derived rollups (rebuilt on restore), budget holds (calls in flight) and consent requests. Webhooks
# (their secrets sealed under <data>/secrets/webhook.key) come back; their outbox and delivery log record what was
# sent to the outside world, so a restore neither replays old events nor forgets that they went out.
TABLES = (*SNAPSHOT_TABLES, "youtube_projects", "youtube_accounts", "youtube_parking", "webhooks")

FORMAT = "ytempire-backup-1"
SEQUENCES = {"channels": "channel_ids", "jobs": "job_ids", "job_events": "event_ids", "cost_ledger": "ledger_ids",
             "trend_imports": "trend_import_ids", "fallbacks": "fallback_ids", "quota_ledger": "quota_ids",
             "media_files": "media_file_ids", "music_tracks": "music_track_ids", "webhooks": "webhook_ids"}
# Stored paths to a job's files: each must resolve inside <data dir>/jobs/.
PATH_COLUMNS = {"artifacts": ("job_id", "kind", ("path",)), "videos": ("job_id", None, ("video_path", "thumbnail_path")),
                "script_versions": ("job_id", "version", ("path",))}
# Append-only records of what happened outside: rows written since the backup survive a restore.
LEDGERS = ("cost_ledger", "quota_ledger")
MAX_MEMBERS = len(TABLES) + 16  # room for tables a newer schema adds, never thousands of entries
MAX_MANIFEST_BYTES = 1 << 20
MIN_LIMIT_BYTES = 256 << 20  # the automatic limit's floor: a new install's database is tiny
LIMIT_FACTOR = 4  # the automatic limit: this many times the database file (Parquet is smaller than DuckDB)
MAX_RATIO = 200  # uncompressed / compressed bytes of one member (ours are stored, 1:1): beyond it, a bomb
AUTO_PREFIX = "ytempire-auto-"


log = logging.getLogger("ytempire.backup")


class BackupError(ValueError):
    pass


def size_limit(db_path: Path, max_mb: int = 0) -> int:
    """Bytes a backup may hold uncompressed: the setting (MB), or LIMIT_FACTOR x the database file."""
    if max_mb:
        return int(max_mb) << 20
    try:
        size = db_path.stat().st_size + (db_path.with_name(db_path.name + ".wal").stat().st_size
                                         if db_path.with_name(db_path.name + ".wal").exists() else 0)
    except OSError:
        size = 0
    return max(LIMIT_FACTOR * size, MIN_LIMIT_BYTES)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(table: str, data_dir: Path | None, relative: bool, have: list[str] | None = None) -> str:
    """SELECT for a table, with its path columns made relative to the data dir (export) or absolute (restore).
    ``have``: the columns the source really has (an older backup may lack some)."""
    columns = [c for c in PATH_COLUMNS.get(table, ("", None, ()))[2] if have is None or c in have]
    if not columns or data_dir is None:
        return "*"
    prefix = data_dir.resolve().as_posix().rstrip("/") + "/"
    if relative:
        # Inside this data dir: relative to it. Elsewhere but under some ".../jobs/<this job>/" (a data dir that
        # was moved or copied): from that "jobs/<id>/" on. A restore resolves both inside its own data dir and
        # still refuses whatever lands outside jobs/ (a "..", a symlink).
        tail = "'^.*/(jobs/' || job_id::VARCHAR || '/[^/].*)$'"
        exprs = [f"CASE WHEN starts_with({c}, {_literal(prefix)}) THEN substr({c}, {len(prefix) + 1})"
                 f" WHEN regexp_matches({c}, {tail}) THEN regexp_extract({c}, {tail}, 1) ELSE {c} END AS {c}"
                 for c in columns]
    else:
        exprs = [f"CASE WHEN {c} IS NULL OR {c} = '' OR starts_with({c}, '/') THEN {c} "
                 f"ELSE {_literal(prefix)} || {c} END AS {c}" for c in columns]
    return f"* REPLACE ({', '.join(exprs)})"


def export_backup(db: Database, dest: Path, data_dir: Path | None = None) -> Path:
    """Write the whole database to a zip at dest, readable by its owner only; returns dest.
    Every table is read in one transaction: the backup is one moment of the database."""
    if not dest.parent.exists():
        private_dir(dest.parent)  # a folder it makes is the owner's; an existing one is left as it is
    with tempfile.TemporaryDirectory() as tmp, db.reading() as cur:
        rows = {}
        for table in TABLES:
            target = (Path(tmp) / f"{table}.parquet").as_posix()
            cur.execute(f"COPY (SELECT {_select(table, data_dir, relative=True)} FROM {table}) TO {_literal(target)}"
                        " (FORMAT PARQUET)")
            rows[table] = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        version = cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]
        manifest = {"format": FORMAT, "schema_version": version, "rows": rows,
                    "paths": "relative" if data_dir is not None else "absolute",
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        partial = dest.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_FILE)  # never readable by others
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:  # Parquet is compressed
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            for table in TABLES:
                zf.write(Path(tmp) / f"{table}.parquet", f"{table}.parquet")
        private_file(partial)
        partial.replace(dest)
    return dest


# -- checking a zip before anything is extracted ---------------------------------------------------
def check_members(zf: zipfile.ZipFile, limit: int) -> list[zipfile.ZipInfo]:
    """The zip's members, refused unless every name, the count and the declared sizes are sane."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BackupError(f"The backup has {len(infos):,} files; a YTEmpire backup has at most {MAX_MEMBERS}. "
                          "It is not one of ours: nothing was restored.")
    names, total = set(), 0
    for info in infos:
        name = info.filename
        if name in names:
            raise BackupError(f"The backup holds {name!r} twice: nothing was restored.")
        names.add(name)
        if name != "manifest.json" and not re.fullmatch(r"[a-z][a-z0-9_]{0,62}\.parquet", name):
            raise BackupError(f"The backup holds an unexpected file {name[:120]!r} (only manifest.json and "
                              "<table>.parquet belong in one): nothing was restored.")
        if info.is_dir() or info.flag_bits & 0x1:
            raise BackupError(f"The backup's {name!r} is a folder or encrypted: nothing was restored.")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise BackupError(f"The backup's {name!r} expands {info.file_size / info.compress_size:,.0f} times: "
                              "that is a zip bomb, not a backup. Nothing was restored.")
        total += info.file_size
    if total > limit:
        raise BackupError(f"The backup would expand to {total / 2**20:,.1f} MB, over the restore limit of "
                          f"{limit / 2**20:,.0f} MB. If it is a genuine backup, raise 'Backup size limit' in Settings "
                          "(or pass --max-mb); nothing was restored.")
    return infos


def _extract(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], folder: Path, limit: int) -> None:
    """Stream each member out, counting what really comes out (a declared size may lie)."""
    free = shutil.disk_usage(folder).free
    declared = sum(i.file_size for i in infos)
    if declared > free:
        raise BackupError(f"Restoring needs {declared / 2**20:,.0f} MB of temporary space beside the data directory "
                          f"and its disk has {free / 2**20:,.0f} MB free: free some disk, nothing was restored.")
    written = 0
    for info in infos:
        try:
            with zf.open(info) as src, open(folder / info.filename, "wb") as dst:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > limit:
                        raise BackupError("The backup expands past its declared size and the restore limit: "
                                          "nothing was restored.")
                    dst.write(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise BackupError(f"The backup's {info.filename} is damaged ({exc}): nothing was restored.") from exc


def _manifest(zf: zipfile.ZipFile) -> dict:
    try:
        info = zf.getinfo("manifest.json")
        if info.file_size > MAX_MANIFEST_BYTES:
            raise BackupError("The backup's manifest.json is too large to be one of ours: nothing was restored.")
        manifest = json.loads(zf.read(info))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupError("The backup has no readable manifest.json: export it again from Settings.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"Unknown backup format {got!r}: expected {FORMAT}.")
    return manifest


def _columns(cur, source: str) -> list[str]:
    return [r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]


def check_paths(cur, folder: Path, present: list[str], jobs_dir: Path) -> None:
    """Refuse the backup if any stored file path resolves outside jobs/ (naming the first bad rows)."""
    bad = []
    for table, (key, kind, columns) in PATH_COLUMNS.items():
        if table not in present:
            continue
        source = _literal((folder / f"{table}.parquet").as_posix())
        have = _columns(cur, f"read_parquet({source})")
        columns = tuple(c for c in columns if c in have)
        if not columns:
            continue
        if key not in have or (kind and kind not in have):
            raise BackupError(f"Table {table} in the backup has file paths but no {key}"
                              f"{' or ' + kind if kind else ''} column: it is not one of ours. Nothing was restored.")
        fields = ", ".join([key, *([kind] if kind else []), *columns])
        for row in cur.execute(f"SELECT {fields} FROM read_parquet({source})").fetchall():
            values = row[2:] if kind else row[1:]
            for column, value in zip(columns, values):
                if value is None or value == "":
                    continue
                if inside(value, jobs_dir) is None:
                    where = f"{table} row (job {row[0]}" + (f", {row[1]}" if kind else "") + f"): {column}"
                    bad.append(f"{where} = {str(value)[:200]!r}")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise BackupError(f"The backup points outside this data directory's jobs folder ({jobs_dir}), which a "
                          f"restore never allows: {'; '.join(bad[:3])}{more}. Nothing was restored.")


def check_secrets(cur, folder: Path, present: list[str], open_secret) -> None:
    """The backup's channel tokens must open with this installation's key (a backup from before a
    ``rotate-key`` needs the key it was taken with): refuse now rather than fail at the next start."""
    for table, column in (("youtube_accounts", "token"), ("youtube_projects", "client_config")):
        if table not in present:
            continue
        source = _literal((folder / f"{table}.parquet").as_posix())
        row = cur.execute(f"SELECT {column} FROM read_parquet({source}) WHERE {column} IS NOT NULL LIMIT 1").fetchall()
        if not row:
            continue
        if open_secret is None:
            raise BackupError("The backup holds channel tokens but YTEMPIRE_TOKEN_KEY is not set: set it to the key "
                              "the backup was taken with, restart, and restore again. Nothing was restored.")
        try:
            open_secret(bytes(row[0][0]))
        except Exception as exc:  # noqa: BLE001 - a wrong key, or a blob that is not ours
            raise BackupError("The backup's channel tokens do not open with this YTEMPIRE_TOKEN_KEY (was it taken "
                              "before a `channels rotate-key`?): start the workbench with the key it was taken with "
                              "to restore it, then rotate again. Nothing was restored.") from exc
        return


def import_backup(db: Database, source: Path, data_dir: Path | None = None, max_bytes: int | None = None,
                  open_secret=None) -> dict:
    """Replace every table with the backup's rows. Returns the manifest. Raises BackupError, changing nothing.

    ``open_secret`` decrypts one stored token (the installation's key), so a backup whose tokens this key
    cannot open is refused before anything changes."""
    data_dir = Path(data_dir) if data_dir is not None else db.path.parent
    jobs_dir = data_dir / "jobs"
    limit = max_bytes or size_limit(db.path)
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BackupError(f"{Path(source).name} is not a YTEmpire backup (not a zip file).") from exc
    with zf, tempfile.TemporaryDirectory(prefix="ytempire-restore-") as tmp:
        folder = Path(tmp)
        infos = check_members(zf, limit)
        manifest = _manifest(zf)
        latest = max(v for v, _, _ in migration_files())
        try:
            version = int(manifest.get("schema_version", 0))
        except (TypeError, ValueError):
            raise BackupError("The backup's manifest has no valid schema_version.") from None
        if version > latest:
            raise BackupError(f"The backup is from a newer YTEmpire (schema {version} > {latest}): "
                              "upgrade this installation first.")
        names = {i.filename for i in infos}
        missing = [t for t in TABLES if f"{t}.parquet" not in names]
        if missing and version >= latest:
            raise BackupError(f"The backup lacks tables: {', '.join(missing)}.")
        present = [t for t in TABLES if t not in missing]  # an older backup: its newer tables start empty
        _extract(zf, [i for i in infos if i.filename in {f"{t}.parquet" for t in present}], folder, limit)
        cur = db.cursor()
        counts = manifest.get("rows")
        if not isinstance(counts, dict) or not all(isinstance(n, int) for n in counts.values()):
            raise BackupError("The backup's manifest has no valid row counts: it is not one of ours.")
        for table in present:
            path = _literal((folder / f"{table}.parquet").as_posix())
            try:
                have, want = _columns(cur, f"read_parquet({path})"), _columns(cur, table)
                found = cur.execute(f"SELECT count(*) FROM read_parquet({path})").fetchall()[0][0]
            except Exception as exc:  # noqa: BLE001 - DuckDB's many errors for a file that is not Parquet
                log.warning("backup member %s.parquet unreadable: %s", table, exc)  # the detail, for the log only
                raise BackupError(f"Table {table} in the backup is not readable Parquet: the file is damaged or was "
                                  "not made by YTEmpire. Nothing was restored.") from exc
            if set(have) - set(want):
                raise BackupError(f"Table {table} in the backup has columns this version does not know: "
                                  f"{', '.join(sorted(set(have) - set(want)))}.")
            if table in counts and counts[table] != found:
                raise BackupError(f"Table {table} in the backup has {found:,} rows where its manifest says "
                                  f"{counts[table]:,}: the file is damaged. Nothing was restored.")
        try:
            check_paths(cur, folder, present, jobs_dir)
            check_secrets(cur, folder, present, open_secret)
            with db.write() as w:
                _replace(w, folder, present, data_dir)
        except duckdb.Error as exc:  # wrong types, broken Parquet: the transaction rolled back
            log.warning("backup restore refused by the database: %s", exc)  # the detail, for the log only
            raise BackupError("The backup's data does not fit this version's tables (a column of the wrong type, or "
                              "a damaged file). Nothing was restored.") from exc
    return manifest


def _replace(w, folder: Path, present: list[str], data_dir: Path) -> None:
    """The restore itself, inside the caller's transaction."""
    for table in LEDGERS + ("uploads",):  # what happened outside, as this database knows it now
        w.execute(f"CREATE OR REPLACE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
    w.execute("CREATE OR REPLACE TEMP TABLE kept_job_uids AS SELECT id, uid FROM jobs")
    for table in reversed(TABLES):
        w.execute(f"DELETE FROM {table}")
    for table in present:
        path = _literal((folder / f"{table}.parquet").as_posix())
        have = _columns(w, f"read_parquet({path})")
        cols = ", ".join(have)
        w.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM "
                  f"(SELECT {_select(table, data_dir, relative=False, have=have)} FROM read_parquet({path}))")
    for table in LEDGERS:  # rows since the backup: the money was spent, the quota used
        w.execute(f"INSERT INTO {table} SELECT * FROM kept_{table} k WHERE k.id NOT IN (SELECT id FROM {table})")
    # Backups older than job uids (migration 009) restore jobs without one: a job this database knows
    # keeps its uid, any other gets a new one, and upload rows take their job's (data-only migrations
    # never ran on an old backup's rows, so they are re-applied here).
    w.execute("UPDATE jobs SET uid = k.uid FROM kept_job_uids k WHERE jobs.id = k.id AND jobs.uid IS NULL"
              " AND k.uid IS NOT NULL")
    w.execute("UPDATE jobs SET uid = replace(gen_random_uuid()::VARCHAR, '-', '') WHERE uid IS NULL")
    w.execute("UPDATE uploads SET job_uid = j.uid FROM jobs j WHERE uploads.job_id = j.id AND uploads.job_uid IS NULL")
    # The upload journal: what YouTube has now wins over what the backup remembers, for the same job;
    # records of jobs the backup does not hold stay too. Only a row known to belong to another job
    # (both uids known, and different) gives way.
    w.execute("DELETE FROM uploads u WHERE EXISTS (SELECT 1 FROM kept_uploads k WHERE k.job_id = u.job_id"
              " AND (k.job_uid IS NULL OR u.job_uid IS NULL OR k.job_uid = u.job_uid))")
    w.execute("INSERT INTO uploads SELECT * FROM kept_uploads k WHERE k.job_id NOT IN (SELECT job_id FROM uploads)"
              " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = k.job_id AND k.job_uid IS NOT NULL"
              " AND j.uid <> k.job_uid)")
    w.execute("UPDATE uploads SET job_uid = j.uid FROM jobs j WHERE uploads.job_id = j.id AND uploads.job_uid IS NULL")
    for table in LEDGERS + ("uploads", "job_uids"):
        w.execute(f"DROP TABLE kept_{table}")
    rebuild_rollups(w)
    for table, sequence in SEQUENCES.items():  # new rows must not reuse restored ids
        top = w.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchall()[0][0]
        current = w.execute(f"SELECT nextval('{sequence}')").fetchall()[0][0]
        if top >= current:
            w.execute(f"SELECT max(nextval('{sequence}')) FROM range(?)", [top - current + 1])
    # Jobs the backup caught running have no worker now: back to the queue, as after a crash.
    running = [r[0] for r in w.execute("SELECT id FROM jobs WHERE status = 'running'").fetchall()]
    for job_id in running:
        w.execute("UPDATE job_stages SET status = 'pending', progress = 0 WHERE job_id = ? AND status = 'running'",
                  [job_id])
        w.execute("UPDATE jobs SET status = 'queued', current_stage = NULL WHERE id = ?", [job_id])
        w.execute("INSERT INTO job_events (job_id, stage, status, message) VALUES (?, NULL, 'queued', ?)",
                  [job_id, "restored from a backup taken while it ran: resumes at its first unfinished stage"])


# -- backups on disk ---------------------------------------------------------------------------------
@dataclass
class BackupFile:
    path: Path
    size: int
    created: datetime
    automatic: bool


def list_backups(folder: Path) -> list[BackupFile]:
    """Backups in a folder, newest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("ytempire-*.zip"):
        st = path.stat()
        stamp = re.search(r"(\d{8}-\d{6})(?:-(\d+))?\.zip$", path.name)
        try:  # the time in the name (UTC) survives a copy; the file's mtime does not
            created = datetime.strptime(stamp[1], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
        except (TypeError, ValueError):
            created = datetime.fromtimestamp(st.st_mtime, timezone.utc)
        found.append(BackupFile(path, st.st_size, created, path.name.startswith(AUTO_PREFIX)))
    return sorted(found, key=lambda b: (b.created, b.path.name), reverse=True)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete the oldest automatic backups beyond ``keep``; the operator's own are never touched."""
    auto = [b for b in list_backups(folder) if b.automatic]
    gone = []
    for old in auto[max(keep, 1):]:
        old.path.unlink(missing_ok=True)
        gone.append(old.path)
    return gone
