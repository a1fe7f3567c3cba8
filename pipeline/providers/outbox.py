"""The local outbox: a folder per video with the files and the YouTube request body.

Each published video lands in ``outbox/<channel>/<job_id>/`` as ``video.mp4``,
``thumbnail.jpg``, ``captions.srt`` (and ``captions.vtt``, with word timing) and ``metadata.json``, the body a
``videos.insert`` call would send. Publishing the same job again rewrites the
same folder, so a crash halfway never leaves two copies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.providers.base import PublishResult

MODEL = "local-outbox"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "channel"


def _place(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)  # same disk: no copy of a large file
    except OSError:
        shutil.copy2(src, dst)


class OutboxPublisher:
    name = "outbox"

    def __init__(self, root: Path):
        self.root = Path(root)

    model = MODEL

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxPublisher:
        return cls(settings.outbox_dir)

    @staticmethod
    def check(settings: Settings) -> str | None:
        try:
            settings.outbox_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"the outbox {settings.outbox_dir} cannot be created: {exc.strerror or exc}"
        return None

    def estimate(self, duration_s: float, words: int) -> list[Usage]:
        return [Usage(self.name, MODEL, "videos", 1.0)]

    def publish(self, job_id: int, channel: str, video: Path, thumbnail: Path, metadata: dict,
                captions: Path | None = None) -> PublishResult:
        folder = self.root / slug(channel) / str(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        _place(video, folder / "video.mp4")
        _place(thumbnail, folder / "thumbnail.jpg")
        if captions is not None and captions.exists():
            _place(captions, folder / "captions.srt")
            words = captions.with_suffix(".vtt")  # the WebVTT with word timing the render writes beside it
            if words.exists():
                _place(words, folder / "captions.vtt")
        tmp = folder / "metadata.json.partial"
        tmp.write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "metadata.json")  # the metadata appears last: its presence means complete
        return PublishResult("outbox", str(folder), folder.resolve().as_uri(), [Usage(self.name, MODEL, "videos", 1.0)])
