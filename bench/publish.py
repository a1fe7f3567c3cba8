"""Publishing benchmark: 50 videos across 15 channels in one simulated day, under quota pressure.

Usage (from the project root)::

    .venv/bin/python bench/publish.py [--videos 50] [--channels 15] [--projects 3] [--uploads-per-day 10]

Every channel is authorised through two of the Google Cloud projects; uploads go through the real
google-api-python-client to the loopback YouTube fake in ``tests/fakes_youtube.py`` (resumable
sessions, 256 KiB chunks, some chunks failing with 503). Each project's upload bucket is set to
``--uploads-per-day`` so the quota runs out part way (use 100 for the real 2026 limit). Prints the
uploads made, deferred to the next reset and failed, the quota used per project, and checks that
no call passed the quota and no video was uploaded twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes_youtube import FakeYouTube  # noqa: E402

import pipeline.youtube.quota as quota  # noqa: E402
from pipeline.channels import ChannelInput, create_channel  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.providers.base import ProviderError  # noqa: E402
from pipeline.workbench import Workbench  # noqa: E402
from pipeline.youtube.crypto import new_key  # noqa: E402
from pipeline.youtube.upload import PublishDeferred  # noqa: E402

BODY = {"snippet": {"title": "T", "description": "D", "tags": [], "categoryId": "27"},
        "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": True}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=50)
    ap.add_argument("--channels", type=int, default=15)
    ap.add_argument("--projects", type=int, default=3)
    ap.add_argument("--uploads-per-day", type=int, default=10)
    ap.add_argument("--video-kb", type=int, default=1024)
    args = ap.parse_args(argv)
    quota.MODELS["bench"] = {"limits": {**quota.MODELS["2026"]["limits"], "uploads": args.uploads_per_day},
                             "costs": quota.MODELS["2026"]["costs"]}
    with FakeYouTube() as yt, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", token_key=new_key(), youtube_api_root=yt.url + "/",
                            youtube_analytics_root=yt.url + "/", oauth_token_uri=yt.url + "/token", upload_chunk_kb=256,
                            bootstrap_trends=False, quota_model="bench")
        wb = Workbench(settings, start_worker=False)
        wb.youtube.publisher.sleep = lambda s: None
        try:
            channels = []
            for i in range(args.channels):
                cid = create_channel(wb.db, ChannelInput(f"Channel {i:02d}"))
                for p in {i % args.projects, (i + 1) % args.projects}:
                    secret = {"installed": {"client_id": f"proj-{p}-client", "client_secret": f"s{p}",
                                            "project_id": f"proj-{p}"}}
                    wb.youtube.add_account(cid, json.dumps(secret), json.dumps({"refresh_token": f"refresh-ch{i:02d}"}))
                channels.append(cid)
            video = Path(tmp) / "video.mp4"
            video.write_bytes(os.urandom(args.video_kb * 1024))
            thumb = Path(tmp) / "thumb.jpg"
            thumb.write_bytes(b"\xff\xd8")
            made = deferred = failed = 0
            started = time.perf_counter()
            for n in range(args.videos):
                if n % 7 == 3:
                    yt.fault("chunk", "503")  # a flaky network now and then
                try:
                    wb.youtube.publisher.publish(n + 1, {"id": channels[n % len(channels)]}, video, thumb, BODY)
                    made += 1
                except PublishDeferred:
                    deferred += 1
                except ProviderError:
                    failed += 1
            elapsed = time.perf_counter() - started
            print(f"{args.videos} videos over {args.channels} channels and {args.projects} projects, "
                  f"{args.uploads_per_day} uploads a day per project, {args.video_kb} KiB each ({elapsed:.1f} s)")
            over = False
            for row in wb.youtube.quota.summary():
                if row["bucket"] in ("uploads", "default"):
                    print(f"  {row['project']:<8} {row['bucket']:<8} used {row['used']:>5} of {row['limit']:>6}")
                    over |= row["used"] > row["limit"]
            duplicates = len(yt.videos) != made
            print(f"publish: made {made}, deferred {deferred}, failed {failed}; quota passed: {'YES' if over else 'no'}; "
                  f"duplicate uploads: {'YES' if duplicates else 'none'}")
            return 1 if over or duplicates or failed else 0
        finally:
            wb.close()
            del quota.MODELS["bench"]


if __name__ == "__main__":
    sys.exit(main())
