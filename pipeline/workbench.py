"""The Workbench: settings, the database and the worker, and the actions operators take.

The app holds one (through ``st.cache_resource``); the CLI makes one per run.
Pages read through ``pipeline.queries`` and act only through these methods.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pipeline import channels, jobs
from pipeline.config import ConfigError, Settings, validate_duration
from pipeline.costs import PriceTable
from pipeline.db import Database, open_database
from pipeline.gpu import GpuLease
from pipeline.providers import REGISTRY, UnknownProvider, first_in_chain
from pipeline.providers.base import BriefError
from pipeline.worker import Worker

log = logging.getLogger("ytempire")


@dataclass
class VideoRequest:
    topic: str
    channel: int | str | None = None
    duration_s: int | None = None
    format: str | None = None
    outline: str = ""
    related_titles: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    writer: str | None = None
    voice: str | None = None
    privacy: str = "private"


class Workbench:
    def __init__(self, settings: Settings, *, start_worker: bool = True, lease: GpuLease | None = None):
        self.settings = settings
        self._closed = False
        settings.prepare_data_dir()
        self.prices = PriceTable.load(settings.prices_file)
        self.db: Database = open_database(settings.db_path)
        channels.ensure_demo_channel(self.db)
        self.worker = Worker(settings, self.db, self.prices, lease=lease)
        if start_worker:
            self.worker.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.worker.stop(wait=True)
        self.db.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- actions -------------------------------------------------------------------------------
    def validate_request(self, req: VideoRequest) -> tuple[dict, int, str, dict]:
        """Check a request at the edge; returns (channel, duration, format, brief) or raises with what to fix."""
        topic = " ".join((req.topic or "").split())
        if not topic:
            raise BriefError("The topic is empty: give the video a topic, for example 'Why octopuses are so smart'.")
        if len(topic) > 200:
            raise BriefError(f"The topic is {len(topic)} characters long: keep it under 200 and put detail in the outline.")
        channel = channels.get_channel(self.db, req.channel) if req.channel not in (None, "") else channels.list_channels(self.db)[0]
        fmt = req.format or channel["default_format"]
        duration = int(req.duration_s if req.duration_s is not None else channel["default_duration"])
        validate_duration(duration, fmt)
        for kind, chain in (("writer", req.writer), ("voice", req.voice)):
            if chain:
                name = first_in_chain(chain)
                if name not in REGISTRY[kind]:
                    raise UnknownProvider(f"Unknown {kind} provider {name!r}: known {kind} providers are "
                                          f"{', '.join(sorted(REGISTRY[kind]))}.")
        if req.privacy not in ("private", "unlisted", "public"):
            raise ConfigError("Privacy must be private, unlisted or public.")
        brief = {"outline": req.outline or "", "related_titles": list(req.related_titles), "tags": list(req.tags),
                 "privacy": req.privacy, "cap_usd": self.settings.cap_usd}
        if req.writer:
            brief["writer"] = req.writer
        if req.voice:
            brief["voice"] = req.voice
        return channel, duration, fmt, {**brief, "topic": topic}

    def enqueue(self, req: VideoRequest) -> int:
        channel, duration, fmt, brief = self.validate_request(req)
        topic = brief.pop("topic")
        job_id = jobs.create_job(self.db, channel["id"], topic, duration, fmt, brief)
        self.worker.wake()
        return job_id

    def enqueue_batch(self, topics: list[str], **common: object) -> tuple[list[int], list[str]]:
        """Queue one job per non-empty line; returns (job ids, errors per rejected line)."""
        ids, errors = [], []
        for n, line in enumerate(topics, start=1):
            if not line.strip():
                continue
            try:
                ids.append(self.enqueue(VideoRequest(topic=line, **common)))  # type: ignore[arg-type]
            except (BriefError, ConfigError, channels.ChannelError, UnknownProvider) as exc:
                errors.append(f"line {n}: {exc}")
        return ids, errors

    def cancel(self, job_id: int) -> str:
        return self.worker.cancel(job_id)

    def retry(self, job_id: int) -> None:
        jobs.retry_job(self.db, job_id)
        self.worker.wake()
