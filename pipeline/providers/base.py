"""One Protocol per capability, the data they exchange, and their errors.

Implementations live in sibling modules; ``pipeline.providers`` holds the
registry. Vendor SDKs are imported inside their provider module only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pipeline.costs import Usage
from pipeline.script import Script


class ProviderError(RuntimeError):
    """A provider failed in a way retrying will not fix (bad input, missing key...)."""

    def __init__(self, message: str, *, provider: str = ""):
        super().__init__(message)
        self.provider = provider


class TransientError(ProviderError):
    """A failure worth retrying with backoff (timeout, 429, 5xx, a busy resource)."""


class BriefError(ValueError):
    """The request itself is wrong (an empty topic...): say what to fix."""


def check_text(topic: str | None, outline: str | None) -> str:
    """The topic with its whitespace folded, or a BriefError saying what to fix: the edges (forms, CLI,
    API) and the writers check the same limits, so no path hands a writer unbounded text."""
    from pipeline.config import MAX_OUTLINE_CHARS, MAX_TOPIC_CHARS

    folded = " ".join((topic or "").split())
    if not folded:
        raise BriefError("The topic is empty: give the video a topic, for example 'Why octopuses are so smart'.")
    if len(folded) > MAX_TOPIC_CHARS:
        raise BriefError(f"The topic is {len(folded)} characters long: keep it under {MAX_TOPIC_CHARS} "
                         "and put detail in the outline.")
    if len(outline or "") > MAX_OUTLINE_CHARS:
        raise BriefError(f"The outline is {len(outline):,} characters long; the limit is {MAX_OUTLINE_CHARS:,} "
                         "(about 15,000 words). Keep the points this video needs, or split the material across "
                         "several videos.")
    return folded


@dataclass
class Brief:
    """Everything a writer is given. The local writer uses nothing else."""

    topic: str
    duration_s: float
    format: str = "landscape"
    outline: str = ""
    related_titles: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    channel_name: str = ""
    niche: str = ""
    language: str = "en"
    words_per_minute: float = 150.0
    # The operator's material (pipeline.sources.SourceDoc: pasted text, files, fetched pages), already
    # loaded; the local writer takes every fact from these, an LLM writer is told to stay within them.
    sources: list = field(default_factory=list)


@dataclass
class Word:
    """One spoken word of a sentence with its exact place in the narration (seconds), as the voice reports
    it (Piper's phoneme alignments, Google's SSML marks, ElevenLabs' character timestamps): never guessed
    from a transcription. ``text`` is the word as written in the script, punctuation attached."""

    start: float
    end: float
    text: str


@dataclass
class Cue:
    """One spoken sentence with its exact place in the narration, and its words' places when the voice
    reported them (empty for narrations made before word timings)."""

    start: float
    end: float
    text: str
    block: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Narration:
    path: Path
    duration_s: float
    sample_rate: int
    cues: list[Cue]
    usage: list[Usage]
    # Where the words' times come from: "alignments" (Piper), "ssml-marks" (Google), "character-alignment"
    # (ElevenLabs), or "" when the voice gave none.
    word_timing: str = ""


@dataclass
class Brand:
    name: str = "YTEmpire"
    primary_color: str = "#1E2A44"
    accent_color: str = "#F2B632"
    text_color: str = "#FFFFFF"


@dataclass
class Slide:
    path: Path
    block: str  # the Block.key it illustrates


@dataclass
class Scene:
    """A stretch of narration (one to a few whole sentences, 2-8 s) shown over one visual."""

    index: int
    start: float  # seconds into the narration
    end: float
    block: str  # the Block.key its sentences belong to ("hook", "section-1", ..., "cta")
    text: str  # what is said during it
    query: str = ""  # 1-3 concrete, filmable English words, the video's subject kept in view

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass
class Candidate:
    """A picture or clip a source offers for a scene, described well enough to rank, fetch and credit."""

    provider: str  # "pexels", "pixabay", "library", "openai-image", "slides"
    source_id: str  # stable id at the source (with the provider: the repetition guard's key)
    kind: str  # "video" or "image"
    text: str  # what ranking reads: URL slug and alt text, tags, a caption, a prompt
    width: int = 0
    height: int = 0
    duration_s: float | None = None  # videos
    url: str | None = None  # where the file is fetched from; never carries a key
    page_url: str | None = None  # the page a person opens (credits, the Library)
    preview_url: str | None = None  # a small still for the Library
    author: str | None = None
    author_url: str | None = None
    licence: str = ""
    attribution_required: bool = False
    local_path: Path | None = None  # already on disk (library files, generated images, slides)


@runtime_checkable
class SceneSource(Protocol):
    """Finds footage or pictures for scenes (a stock API, the operator's library, an image model).

    ``search`` returns candidates (and the usage of the search, usually free); ``fetch`` makes one
    local (downloads it into the media cache, or generates it) and returns its path and usage.
    ``estimate(images)`` is what fetching that many would cost, for the budget guard."""

    name: str

    def search(self, query: str, size: tuple[int, int], limit: int = 15) -> tuple[list[Candidate], list[Usage]]: ...

    def fetch(self, candidate: Candidate, cache: "MediaStore") -> tuple[Path, list[Usage]]: ...


@runtime_checkable
class MediaStore(Protocol):
    """The content-addressed media cache under the data directory (pipeline.media.cache.MediaCache)."""

    def get(self, provider: str, source_id: str) -> Path | None: ...

    def put_file(self, provider: str, source_id: str, path: Path, meta: dict | None = None) -> Path: ...


@dataclass
class PublishResult:
    state: str  # "published", "scheduled", "outbox"
    ref: str  # video id, or the outbox folder
    url: str
    usage: list[Usage]


@runtime_checkable
class Writer(Protocol):
    """Turns a brief into a structured script sized to the brief's duration."""

    name: str

    def write(self, brief: Brief) -> tuple[Script, list[Usage]]: ...


@runtime_checkable
class Voice(Protocol):
    """Speaks blocks of sentences into one WAV, with the exact span of every sentence."""

    name: str

    def synthesize(self, blocks: list[tuple[str, list[str]]], out_wav: Path, *, device: str = "cpu",
                   length_scale: float = 1.0) -> Narration: ...


@runtime_checkable
class Visuals(Protocol):
    """Draws one image per script block (title card, sections, call to action)."""

    name: str

    def render(self, script: Script, brand: Brand, size: tuple[int, int], out_dir: Path) -> tuple[list[Slide], list[Usage]]: ...


@runtime_checkable
class Publisher(Protocol):
    """Delivers a finished video with its thumbnail and YouTube-shaped metadata."""

    name: str

    def publish(self, job_id: int, channel: str, video: Path, thumbnail: Path, metadata: dict,
                captions: Path | None = None) -> PublishResult: ...
