"""``python -m pipeline backup ...``: create, list and restore backups from the terminal.

Exit codes: 0 done, 2 a bad or refused backup (the message says why; nothing was changed),
3 the database is held by the running workbench (restore from Settings there, or stop it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.backup import BackupError, list_backups


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser("backup", help="back up or restore the whole database")
    bsub = b.add_subparsers(dest="backup_command", required=True)
    create = bsub.add_parser("create", parents=[common], help="write a backup zip (default: <data dir>/backups/)")
    create.add_argument("--out", type=Path, default=None, help="where to write the zip")
    restore = bsub.add_parser("restore", parents=[common], help="replace all data with a backup's (asks first)")
    restore.add_argument("file", type=Path)
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.add_argument("--max-mb", type=int, default=None,
                         help="largest uncompressed backup to accept, in MB (default: the Settings limit)")
    lst = bsub.add_parser("list", parents=[common], help="backups in the data directory, newest first")
    lst.add_argument("--json", action="store_true")


ERRORS = (BackupError,)


def run(args: argparse.Namespace, workbench) -> int:
    wb = workbench(args)
    try:
        if args.backup_command == "create":
            from pipeline.workbench import jobs_stamp

            out = args.out
            if out is not None and out.is_dir():
                out = out / f"ytempire-{jobs_stamp()}.zip"
            try:
                path = wb.export_backup(out)
            except OSError as exc:
                raise BackupError(f"Cannot write the backup to {out or wb.settings.backups_dir}: "
                                  f"{exc.strerror or exc}.") from exc
            print(f"backup written: {path} ({path.stat().st_size / 2**20:.1f} MB)")
            return 0
        if args.backup_command == "list":
            found = list_backups(wb.settings.backups_dir)
            if args.json:
                print(json.dumps([{"path": str(b.path), "bytes": b.size, "created": b.created.isoformat(),
                                   "automatic": b.automatic} for b in found]))
            elif not found:
                print(f"no backups in {wb.settings.backups_dir} yet: python -m pipeline backup create")
            for b in found:
                print(f"{b.created:%Y-%m-%d %H:%M}  {b.size / 2**20:8.1f} MB  {'auto' if b.automatic else 'own '}  {b.path}")
            return 0
        return _restore(wb, args)
    finally:
        wb.close()


def _restore(wb, args: argparse.Namespace) -> int:
    source: Path = args.file
    if not source.is_file():
        raise BackupError(f"{source} does not exist or is not a file.")
    if args.max_mb is not None and not 1 <= args.max_mb <= 1_000_000:
        raise BackupError("--max-mb must be between 1 and 1000000.")
    if not args.yes:
        if not sys.stdin.isatty():
            raise BackupError("Restoring replaces every job, video, channel and cost in "
                              f"{wb.settings.db_path}: add --yes to do it without a prompt.")
        answer = input(f"Replace all data in {wb.settings.db_path} with {source.name}? Type 'restore' to go on: ")
        if answer.strip().lower() != "restore":
            print("nothing restored")
            return 1
    manifest = wb.import_backup(source, max_bytes=(args.max_mb << 20) if args.max_mb else None)
    rows = manifest.get("rows", {})
    print(f"restored the backup of {manifest.get('created_at', '?')}: {rows.get('jobs', 0)} jobs, "
          f"{rows.get('videos', 0)} videos, {rows.get('channels', 0)} channels, {rows.get('cost_ledger', 0)} ledger rows")
    return 0
