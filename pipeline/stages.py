"""The stage functions, in pipeline order.

Each stage reads what earlier stages recorded (``ctx.artifacts``), writes its
own files into the job's folder and returns a :class:`StageOutput`. Stages
never touch the database: the worker records their results.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline.config import FORMATS, Settings
from pipeline.costs import Usage
from pipeline.media import ffmpeg
from pipeline.media.draw import FONTS_DIR
from pipeline.media.render import EncodeOptions, plan_segments, render_video
from pipeline.media.subtitles import coverage, display_cues, layout_for, write_ass, write_srt
from pipeline.media.thumbnail import make_thumbnail
from pipeline import quality
from pipeline.budget import BudgetGuard, Fallback, run_chain
from pipeline.providers import chain_items, first_in_chain, make
from pipeline.providers.base import Brand, Brief, Cue, ProviderError, Slide
from pipeline.providers.local_writer import sized_words
from pipeline.script import Script, word_count
from pipeline.youtube.metadata import clean_body
from pipeline.youtube.schedule import channel_schedule, settle_publish_at

# Local voices can be re-timed for free: aim for the target duration within this tolerance.
RETIME_TOLERANCE = 0.04


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
        c = self.channel
        return Brand(c["name"], c["primary_color"], c["accent_color"], c["text_color"])

    def script(self) -> Script:
        return Script.load(self.artifacts["script"])

    def cues(self) -> tuple[list[Cue], float]:
        data = json.loads(self.artifacts["timings"].read_text(encoding="utf-8"))
        return [Cue(**c) for c in data["cues"]], data["duration_s"]


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


def _providers(kind: str, ctx: StageContext) -> list[tuple[str, object]]:
    return [(item, make(kind, item, ctx.settings)) for item in chain_items(_chain(kind)(ctx.brief, ctx.channel, ctx.settings))]


def _label(provider: object) -> str:
    model = getattr(provider, "model", None)
    name = getattr(provider, "name", "?")
    return f"{name}:{model}" if model and name in ("openai", "google", "elevenlabs") else name


def write_script(ctx: StageContext) -> StageOutput:
    brief = Brief(
        topic=ctx.job["topic"], duration_s=ctx.job["duration_s"], format=ctx.job["format"],
        outline=ctx.brief.get("outline", ""), related_titles=ctx.brief.get("related_titles", []),
        tags=ctx.brief.get("tags", []), channel_name=ctx.channel["name"], niche=ctx.channel.get("niche", ""),
        language=ctx.channel.get("language", "en"), words_per_minute=ctx.settings.speaking_rate_wpm,
    )
    words = sized_words(brief.duration_s, brief.words_per_minute, max(2, round(brief.duration_s / 25)))
    outline_words = word_count(brief.outline)
    result = run_chain("script", _providers("writer", ctx), ctx.guard,
                       estimate=lambda p: p.estimate(brief.duration_s, words, outline_words),
                       call=lambda p: p.write(brief), check=lambda p: p.check(ctx.settings))
    path = result.value.save(ctx.job_dir / "script.json")
    return StageOutput({"script": path}, result.usage, _label(result.provider), fallbacks=result.fallbacks)


def speak(ctx: StageContext) -> StageOutput:
    script = ctx.script()
    blocks = [(b.key, b.sentences) for b in script.blocks()]
    wav = ctx.job_dir / "narration.wav"
    target = float(ctx.job["duration_s"])

    def narrate(voice) -> tuple:
        pace = getattr(voice, "natural_pace", 1.0)
        narration = voice.synthesize(blocks, wav, device=ctx.device, length_scale=pace)
        usage = list(narration.usage)
        if getattr(voice, "free_retime", False) and abs(narration.duration_s - target) / target > RETIME_TOLERANCE:
            ctx.progress(0.5)
            speech = sum(c.end - c.start for c in narration.cues)
            fixed = narration.duration_s - speech  # pauses do not stretch
            wanted = max(target - fixed, speech * 0.5)
            low, high = getattr(voice, "pace_range", (0.8, 1.25))
            scale = min(max(pace * wanted / speech, low), high)
            if abs(scale - pace) > 0.01:
                try:
                    narration = voice.synthesize(blocks, wav, device=ctx.device, length_scale=scale)
                except BaseException as exc:  # the first narration was billed too
                    exc.usage = usage + list(getattr(exc, "usage", None) or [])  # type: ignore[attr-defined]
                    raise
                usage += narration.usage
        return narration, usage

    words = script.word_count
    result = run_chain("voice", _providers("voice", ctx), ctx.guard, estimate=lambda v: v.estimate(target, words),
                       call=narrate, check=lambda v: v.check(ctx.settings))
    narration = result.value
    timings = ctx.job_dir / "timings.json"
    timings.write_text(json.dumps({"duration_s": narration.duration_s, "sample_rate": narration.sample_rate,
                                   "cues": [asdict(c) for c in narration.cues]}, indent=1), encoding="utf-8")
    return StageOutput({"narration": wav, "timings": timings}, result.usage, _label(result.provider),
                       fallbacks=result.fallbacks)


def draw_slides(ctx: StageContext) -> StageOutput:
    visuals = make("visuals", "slides", ctx.settings)
    slides, usage = visuals.render(ctx.script(), ctx.brand, ctx.size, ctx.job_dir / "slides")
    index = ctx.job_dir / "slides.json"
    index.write_text(json.dumps([{"path": str(s.path), "block": s.block} for s in slides], indent=1), encoding="utf-8")
    return StageOutput({"slides": index}, usage, visuals.name)


def render(ctx: StageContext) -> StageOutput:
    started = time.perf_counter()
    cues, duration = ctx.cues()
    slides = [Slide(Path(s["path"]), s["block"]) for s in json.loads(ctx.artifacts["slides"].read_text(encoding="utf-8"))]
    missing = [s.path for s in slides if not s.path.exists()]
    if missing:
        raise FileNotFoundError(f"Slide {missing[0]} is missing: retry the job to redraw the slides.")
    ass = write_ass(cues, ctx.size, ctx.job_dir / "subtitles.ass")
    srt = write_srt(cues, ctx.size, ctx.job_dir / "captions.srt")
    s = ctx.settings
    opts = EncodeOptions(fps=s.fps, preset=s.x264_preset, crf=s.x264_crf, max_mbps=s.max_video_mbps, transition=s.transition)
    segments = plan_segments(slides, cues, duration, s.fps)
    out = render_video(segments, ctx.artifacts["narration"], ass, ctx.size, ctx.job_dir / "video.mp4", opts,
                       device=ctx.device, fonts_dir=FONTS_DIR, progress=ctx.progress, cancel=ctx.cancel)
    info = ffmpeg.probe(out)
    script = ctx.script()
    encoder = "h264_nvenc" if ctx.device == "cuda" else "libx264"
    usage = [Usage("ffmpeg", encoder, "video_seconds", round(info.duration_s, 3), time.perf_counter() - started)]
    snippet = youtube_body(script, ctx.channel, ctx.brief, ctx.job.get("topic"))["snippet"]  # as it will be published
    video = {"channel_id": ctx.job["channel_id"], "title": snippet["title"], "description": snippet["description"],
             "tags": snippet["tags"], "format": ctx.job["format"], "width": info.width, "height": info.height,
             "duration_s": info.duration_s, "video_path": str(out)}
    return StageOutput({"video": out, "subtitles": ass, "captions": srt}, usage, "ffmpeg", video=video)


def thumbnail(ctx: StageContext) -> StageOutput:
    started = time.perf_counter()
    path = make_thumbnail(ctx.script().title, ctx.brand, ctx.job_dir / "thumbnail.jpg")
    usage = [Usage("thumbnail", "pillow-v1", "images", 1.0, time.perf_counter() - started)]
    return StageOutput({"thumbnail": path}, usage, "thumbnail", video={"thumbnail_path": str(path)})


def check_quality(ctx: StageContext) -> StageOutput:
    started = time.perf_counter()
    video = ctx.artifacts["video"]
    info = ffmpeg.probe(video)
    stats = ffmpeg.audio_stats(video, duration_s=info.duration_s)  # its time limit, without probing again
    cues, _ = ctx.cues()
    shown = display_cues(cues, layout_for(ctx.size))
    checks = [
        quality.check_duration(info.duration_s, float(ctx.job["duration_s"])),
        quality.check_audio(info, stats),
        quality.check_subtitles(coverage(cues, shown)),
        quality.check_format(info, ctx.size),
        quality.check_script(ctx.script()),
        quality.check_thumbnail(ctx.artifacts.get("thumbnail")),
    ]
    report = quality.evaluate(checks, ctx.settings.quality_threshold)
    path = ctx.job_dir / "quality.json"
    path.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    usage = [Usage("quality", "checks-v1", "videos", 1.0, time.perf_counter() - started)]
    hold = None
    if not report.passed:
        worst = sorted((c for c in checks if not c.passed), key=lambda c: c.score * c.weight - c.weight)
        hold = f"quality {report.score:.0f} < {report.threshold:.0f}: " + "; ".join(f"{c.name}: {c.message}" for c in worst[:3])
    fields = {"quality_score": report.score, "quality_detail": report.to_dict()}
    if hold:
        fields["publish_state"] = "held"
    return StageOutput({"quality": path}, usage, "quality", video=fields, hold=hold)


def youtube_body(script: Script, channel: dict, brief: dict, topic: str | None = None) -> dict:
    """The ``videos.insert`` request body, with the AI disclosure YouTube asks for.

    Title, description and tags are cleaned to YouTube's rules (``pipeline.youtube.metadata``);
    an empty title falls back to the job's topic.
    """
    status = {
        "privacyStatus": brief.get("privacy", "private"),
        "selfDeclaredMadeForKids": bool(channel.get("made_for_kids", False)),
        "containsSyntheticMedia": bool(brief.get("contains_synthetic_media", True)),
        "embeddable": True,
        "license": "youtube",
    }
    if brief.get("publish_at"):
        status["publishAt"] = brief["publish_at"]
        status["privacyStatus"] = "private"  # YouTube requires private for scheduled videos
    body = {
        "snippet": {
            "title": script.title,
            "description": script.description,
            "tags": script.tags,
            "categoryId": str(brief.get("category_id", "27")),
            "defaultLanguage": channel.get("language", "en"),
            "defaultAudioLanguage": channel.get("language", "en"),
        },
        "status": status,
    }
    return clean_body(body, topic if topic is not None else brief.get("topic", ""))


def quality_passed(quality_file: Path | None) -> bool:
    try:
        return bool(json.loads(Path(quality_file).read_text(encoding="utf-8"))["passed"]) if quality_file else False
    except (OSError, ValueError, KeyError):
        return False


def publish(ctx: StageContext) -> StageOutput:
    if "quality" in ctx.artifacts and not quality_passed(ctx.artifacts["quality"]):
        raise ProviderError("The quality gate held this video: it is not published. Retry the job to judge it again.",
                            provider="publish")
    body = youtube_body(ctx.script(), ctx.channel, ctx.brief, ctx.job.get("topic"))
    youtube = ctx.youtube
    connected = youtube is not None and bool(youtube.accounts.accounts(ctx.channel["id"]))
    moved = None
    if not (connected and youtube.sent(ctx.job["id"])):
        # YouTube has not been sent this body yet, so a publishAt gone by can still move (the schedule is read here,
        # never written).
        plan = channel_schedule(ctx.db, ctx.channel["id"]) if ctx.db is not None else None
        body, moved = settle_publish_at(body, ctx.brief.get("privacy", "private"), plan)
    if connected:
        result = youtube.publish(ctx.job["id"], ctx.channel, ctx.artifacts["video"], ctx.artifacts["thumbnail"], body,
                                 captions=ctx.artifacts.get("captions"), playlist_id=ctx.brief.get("playlist_id"))
        name = youtube.name
    else:
        publisher = make("publisher", first_in_chain(_chain("publisher")(ctx.brief, ctx.channel, ctx.settings)), ctx.settings)
        result = publisher.publish(ctx.job["id"], ctx.channel["name"], ctx.artifacts["video"], ctx.artifacts["thumbnail"],
                                   body, captions=ctx.artifacts.get("captions"))
        name = publisher.name
    receipt = ctx.job_dir / "publish.json"
    now = datetime.now(timezone.utc)
    said = {"state": result.state, "ref": result.ref, "url": result.url, "at": now.isoformat(), "body": body}
    if moved:
        said["publish_at_moved"] = moved  # {"from", "to" (None: published at once), "why"}
    receipt.write_text(json.dumps(said, indent=1), encoding="utf-8")
    fields = {"publish_state": result.state, "publish_ref": result.ref, "published_at": now.replace(tzinfo=None)}
    return StageOutput({"publish": receipt}, result.usage, name, video=fields)


PIPELINE: tuple[StageSpec, ...] = (
    StageSpec("script", write_script, provider=_chain("writer")),
    StageSpec("voice", speak, gpu=True, provider=_chain("voice")),
    StageSpec("visuals", draw_slides, provider=_chain("visuals")),
    StageSpec("render", render, gpu=True, provider=lambda b, c, s: "ffmpeg"),
    StageSpec("thumbnail", thumbnail, provider=lambda b, c, s: "thumbnail"),
    StageSpec("quality", check_quality, provider=lambda b, c, s: "quality"),
    StageSpec("publish", publish, provider=_chain("publisher")),
)
