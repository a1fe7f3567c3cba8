"""``python -m pipeline music ...``: each channel's background-music folder from the terminal.

    music set CHANNEL FOLDER   make FOLDER the channel's music folder and index it (again: only what changed)
    music reindex [CHANNEL]    index the channel's folder again (every channel's, without CHANNEL)
    music clear CHANNEL        the channel gets no music from now on (the files are untouched)
    music list CHANNEL         the channel's tracks with length, loudness and licence note

CHANNEL is a channel's id or name. Exit codes (as cli.py maps :data:`ERRORS`): 0 done, 2 an unknown
channel or a folder that cannot be indexed (the message says why), 3 the database is held by the
running workbench.
"""

from __future__ import annotations

import argparse
import json

from pipeline.channels import ChannelError
from pipeline.media.music import MusicError

ERRORS = (MusicError, ChannelError)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    m = sub.add_parser("music", help="each channel's folder of background music")
    msub = m.add_subparsers(dest="music_command", required=True)
    st = msub.add_parser("set", parents=[common], help="make a folder the channel's music folder and index it")
    st.add_argument("channel", help="the channel's id or name")
    st.add_argument("folder")
    ri = msub.add_parser("reindex", parents=[common], help="index the music folder again (only what changed is read)")
    ri.add_argument("channel", nargs="?", help="the channel's id or name (default: every channel with a folder)")
    cl = msub.add_parser("clear", parents=[common], help="no music for the channel (its files are untouched)")
    cl.add_argument("channel")
    lst = msub.add_parser("list", parents=[common], help="the channel's indexed tracks")
    lst.add_argument("channel")
    lst.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, workbench) -> int:
    from pipeline.channels import get_channel
    from pipeline.media.music import (
        clear_music_folder,
        index_music,
        music_folder,
        set_music_folder,
        tracks,
    )

    wb = workbench(args)
    try:
        db = wb.db
        if args.music_command == "set":
            print(set_music_folder(db, get_channel(db, args.channel)["id"], args.folder).summary())
        elif args.music_command == "reindex":
            ids = [get_channel(db, args.channel)["id"]] if args.channel else \
                [cid for (cid,) in db.query("SELECT channel_id FROM music_folders ORDER BY channel_id")]
            for cid in ids:
                print(f"channel {cid}: {index_music(db, cid).summary()}")
            if not ids:
                print("no channel has a music folder yet: python -m pipeline music set CHANNEL FOLDER")
        elif args.music_command == "clear":
            channel = get_channel(db, args.channel)
            print(f"channel {channel['name']} has no music now ({clear_music_folder(db, channel['id'])} tracks "
                  "forgotten; the files are untouched)")
        else:
            channel = get_channel(db, args.channel)
            rows = tracks(db, channel["id"])
            if args.json:
                print(json.dumps(rows, default=str))
                return 0
            folder = music_folder(db, channel["id"])
            if folder is None:
                print(f"channel {channel['name']} has no music folder: python -m pipeline music set CHANNEL FOLDER")
            for r in rows:
                licence = r["licence"][:60] or "no licence note"
                print(f"{r['duration_s']:>7.1f} s {r['lufs']:>6.1f} LUFS  {r['title']}  ({licence})")
        return 0
    finally:
        wb.close()
