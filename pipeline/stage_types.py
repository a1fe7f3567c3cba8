"""What a stage is given and what it gives back: the context, the output and the spec of a stage.

Stages take a :class:`StageContext` and return a :class:`StageOutput`; the worker records it. A stage
reads the database only through ``ctx.db`` (the media library, what a channel used lately), never
writes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.budget import BudgetGuard, Fallback
from pipeline.config import FORMATS, Settings
from pipeline.costs import Usage
from pipeline.providers.base import Brand, Cue, Word
from pipeline.script import Script


@dataclass
class StageContext:
    job: dict
    channel: dict
    settings: Settings
    job_dir: Path
    artifacts: dict[str, Path]
    device: str = "cpu"
    progress: Callable[[float], None] = lambda fraction: None
    cancel: threading.Event = field(default_factory=threading.Event)
    guard: BudgetGuard | None = None
    youtube: object | None = None  # the YouTube publisher, when the workbench has one
    db: object | None = None  # for reads only (the media library, recently used clips): the worker writes
    embedder: Callable[[], object] | None = None  # the process's one MiniLM model, loaded on first use

    @property
    def brief(self) -> dict:
        return self.job["brief"]

    @property
    def size(self) -> tuple[int, int]:
        return FORMATS[self.job["format"]]

    @property
    def brand(self) -> Brand:
        return brand_of(self.channel)

    def script(self) -> Script:
        return Script.load(self.artifacts["script"])

    def cues(self) -> tuple[list[Cue], float]:
        data = json.loads(self.artifacts["timings"].read_text(encoding="utf-8"))
        return [cue_from(c) for c in data["cues"]], data["duration_s"]


def brand_of(c: dict) -> Brand:
    return Brand(c["name"], c["primary_color"], c["accent_color"], c["text_color"])


def cue_from(data: dict) -> Cue:
    """A cue as ``timings.json`` stores it (its words as dicts; none in files written before word timings)."""
    words = [Word(w["start"], w["end"], w["text"]) for w in data.get("words") or []]
    return Cue(data["start"], data["end"], data["text"], data["block"], words)


@dataclass
class StageOutput:
    artifacts: dict[str, Path]
    usage: list[Usage]
    provider: str
    video: dict | None = None
    hold: str | None = None  # set by the quality gate when the video must not be published
    fallbacks: list[Fallback] = field(default_factory=list)
    scenes: list[dict] | None = None  # the scene plan and its choices, recorded in job_scenes with the stage


@dataclass(frozen=True)
class StageSpec:
    name: str
    run: Callable[[StageContext], StageOutput]
    gpu: bool = False
    provider: Callable[[dict, dict, Settings], str] | None = None


def _chain(kind: str) -> Callable[[dict, dict, Settings], str]:
    def pick(brief: dict, channel: dict, settings: Settings) -> str:
        return brief.get(kind) or channel.get(kind) or getattr(settings, kind)
    return pick
