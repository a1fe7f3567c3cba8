"""``python -m pipeline media ...``: the media library from the terminal (add, list, reindex, remove folders).

Exit codes: 0 done, 2 a folder that cannot be indexed (the message says why), 3 the database is held by the
running workbench (use Settings > Media library there, or stop it).
"""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    m = sub.add_parser("media", help="your folders of pictures and clips, used for scenes")
    msub = m.add_subparsers(dest="media_command", required=True)
    add = msub.add_parser("add", parents=[common], help="add a folder and index it (again: only what changed)")
    add.add_argument("folder")
    lst = msub.add_parser("list", parents=[common], help="the library's folders with their counts")
    lst.add_argument("--json", action="store_true")
    msub.add_parser("reindex", parents=[common], help="index every folder again (only what changed is read)")
    rm = msub.add_parser("remove", parents=[common], help="forget a folder (its files are untouched)")
    rm.add_argument("folder")


def run(args: argparse.Namespace, workbench) -> int:
    from pipeline.media.library import library_folders

    wb = workbench(args)
    try:
        if args.media_command == "add":
            print(wb.add_media_folder(args.folder))
        elif args.media_command == "reindex":
            lines = wb.reindex_media()
            for line in lines:
                print(line)
            if not lines:
                print("no media folders yet: python -m pipeline media add FOLDER")
        elif args.media_command == "remove":
            print(f"removed {wb.remove_media_folder(args.folder)} files of {args.folder} from the library "
                  "(the files themselves are untouched)")
        else:
            folders = library_folders(wb.db)
            if args.json:
                print(json.dumps(folders, default=str))
            elif not folders:
                print("no media folders yet: python -m pipeline media add FOLDER")
            for f in folders if not args.json else []:
                print(f"{f['images']:>6} pictures {f['clips']:>6} clips  {f['path']}")
        return 0
    finally:
        wb.close()
