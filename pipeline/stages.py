"""The stage functions, in pipeline order.

Each stage reads what earlier stages recorded (``ctx.artifacts``), writes its
own files into the job's folder and returns a :class:`StageOutput`. Stages
never touch the database: the worker records their results.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from pipeline.costs import Usage
from pipeline.media import ffmpeg
from pipeline.media import captions
from pipeline.media.fonts import fonts_dir
from pipeline.media.music import plan_sound
from pipeline.media.render import EncodeOptions, plan_segments, render_video
from pipeline.media.captions import coverage
from pipeline.media.thumbnail import make_thumbnail
from pipeline import quality
from pipeline.budget import run_chain
from pipeline.providers import chain_items, first_in_chain, make
from pipeline.providers.base import Brief, ProviderError, Slide
from pipeline.providers.local_writer import sized_words
from pipeline.script import Script, word_count
from pipeline.youtube.metadata import clean_body
from pipeline.youtube.schedule import channel_schedule, settle_publish_at
from pipeline.stage_types import StageContext, StageOutput, StageSpec, _chain  # noqa: F401 - re-exported
from pipeline import scene_stages
from pipeline.languages import base as base_language
from pipeline.languages import voice_problem
from pipeline.providers.openai_writer import grounding_words
from pipeline.quality_lang import check_glyphs, check_language

log = logging.getLogger("ytempire.stages")

# Local voices can be re-timed for free: aim for the target duration within this tolerance.
RETIME_TOLERANCE = 0.04


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
        sources=job_sources(ctx),
    )
    words = sized_words(brief.duration_s, brief.words_per_minute, max(2, round(brief.duration_s / 25)))
    outline_words = word_count(brief.outline) + grounding_words(brief.sources)  # an LLM reads the sources too
    writers = _providers("writer", ctx)
    for _, writer in writers:
        if getattr(writer, "_embedder", False) is None and ctx.embedder is not None:
            writer._embedder = ctx.embedder  # the process's one MiniLM, shared with scenes and trends
    result = run_chain("script", writers, ctx.guard,
                       estimate=lambda p: p.estimate(brief.duration_s, words, outline_words),
                       call=lambda p: p.write(brief), check=lambda p: p.check(ctx.settings))
    path = result.value.save(ctx.job_dir / "script.json")
    return StageOutput({"script": path}, result.usage, _label(result.provider), fallbacks=result.fallbacks)


def job_sources(ctx: StageContext) -> list:
    """The operator's sources for this job (read at the edge when it was queued), as SourceDocs."""
    from pipeline.sources import SourceDoc
    return [SourceDoc.from_dict(d) for d in ctx.brief.get("sources") or []]


def speak(ctx: StageContext) -> StageOutput:
    from pipeline.progress import rising, share, takes_progress

    script = ctx.script()
    blocks = [(b.key, b.sentences) for b in script.blocks()]
    wav = ctx.job_dir / "narration.wav"
    target = float(ctx.job["duration_s"])
    # Sentence by sentence, by characters spoken; never back (a voice falling back to the next starts at 0).
    progress = rising(ctx.progress)

    def say(voice, scale: float, step) -> object:
        if takes_progress(voice.synthesize):
            return voice.synthesize(blocks, wav, device=ctx.device, length_scale=scale, progress=step)
        return voice.synthesize(blocks, wav, device=ctx.device, length_scale=scale)

    def narrate(voice) -> tuple:
        pace = getattr(voice, "natural_pace", 1.0)
        retimes = getattr(voice, "free_retime", False)
        # A free voice may speak twice (once more at the pace that hits the target): each pass is half the stage.
        narration = say(voice, pace, share(progress, 0.0, 0.5 if retimes else 1.0))
        usage = list(narration.usage)
        if retimes and abs(narration.duration_s - target) / target > RETIME_TOLERANCE:
            progress(0.5)
            speech = sum(c.end - c.start for c in narration.cues)
            fixed = narration.duration_s - speech  # pauses do not stretch
            wanted = max(target - fixed, speech * 0.5)
            low, high = getattr(voice, "pace_range", (0.8, 1.25))
            scale = min(max(pace * wanted / speech, low), high)
            if abs(scale - pace) > 0.01:
                try:
                    narration = say(voice, scale, share(progress, 0.5, 0.5))
                except BaseException as exc:  # the first narration was billed too
                    exc.usage = usage + list(getattr(exc, "usage", None) or [])  # type: ignore[attr-defined]
                    raise
                usage += narration.usage
        progress(1.0)
        return narration, usage

    words = script.word_count
    language = ctx.channel.get("language") or "en"
    voices = []
    for item, voice in _providers("voice", ctx):
        if hasattr(voice, "for_language"):  # cloud voices speak the channel's language, asked by its code
            voice = voice.for_language(language)
        voices.append((item, voice))

    def usable(item: str, voice) -> str | None:  # a voice that cannot speak the language is passed over
        return voice_problem(item, language) or voice.check(ctx.settings)

    names = {id(v): item for item, v in voices}
    result = run_chain("voice", voices, ctx.guard, estimate=lambda v: v.estimate(target, words),
                       call=narrate, check=lambda v: usable(names[id(v)], v))
    narration = result.value
    timings = ctx.job_dir / "timings.json"
    timings.write_text(json.dumps({"duration_s": narration.duration_s, "sample_rate": narration.sample_rate,
                                   "language": base_language(language), "word_timing": narration.word_timing,
                                   "cues": [asdict(c) for c in narration.cues]}, indent=1, ensure_ascii=False),
                       encoding="utf-8")
    return StageOutput({"narration": wav, "timings": timings}, result.usage, _label(result.provider),
                       fallbacks=result.fallbacks)


def draw_slides(ctx: StageContext) -> StageOutput:
    visuals = make("visuals", "slides", ctx.settings)
    slides, usage = visuals.render(ctx.script(), ctx.brand, ctx.size, ctx.job_dir / "slides")
    index = ctx.job_dir / "slides.json"
    index.write_text(json.dumps([{"path": str(s.path), "block": s.block} for s in slides], indent=1), encoding="utf-8")
    return StageOutput({"slides": index}, usage, visuals.name)


def scene_visuals(ctx: StageContext) -> list:
    """The chosen visual of every scene (scenes.json), or [] for a job made before scenes existed."""
    from pipeline.media.scene_render import SceneVisual

    if "scenes" not in ctx.artifacts:
        return []
    rows = json.loads(Path(ctx.artifacts["scenes"]).read_text(encoding="utf-8"))["scenes"]
    return [SceneVisual(Path(r["path"]), r["kind"], r["start_s"], r["end_s"], r.get("block", "")) for r in rows]


def usable_visuals(ctx: StageContext, visuals: list) -> tuple[list, list]:
    """The scene visuals with any that cannot be shown (a file deleted or moved since it was chosen, a clip
    without a length) replaced by the scene's slide, and a fallback recorded for each: retrying would
    only fail the same way, and the Library's swap can put a better one back."""
    from dataclasses import replace as with_
    from pipeline.budget import Fallback
    from pipeline.media.scene_render import clip_info

    if not visuals or "slides" not in ctx.artifacts:
        return visuals, []
    slides = {x["block"]: Path(x["path"]) for x in json.loads(ctx.artifacts["slides"].read_text(encoding="utf-8"))}
    out, notes = [], []
    for v in visuals:
        why = None
        if not Path(v.path).is_file():
            why = f"{Path(v.path).name} is gone"
        elif v.kind == "video":
            try:
                clip_info(Path(v.path))
            except (ffmpeg.FFmpegError, OSError) as exc:
                why = f"{Path(v.path).name} cannot be played ({exc})"
        slide = slides.get(v.block) or next(iter(slides.values()), None)
        if why and slide is not None and slide.exists():
            log.warning("job %s: %s: its scene shows its slide instead", ctx.job["id"], why)
            notes.append(Fallback("render", v.kind, "slides", f"{why}: the scene at {v.start_s:.1f} s shows its slide"))
            v = with_(v, path=slide, kind="slide")
        out.append(v)
    return out, notes


# The render stage's share spent measuring the sound (a few audio-only ffmpeg passes) before the encode,
# whose own share follows ffmpeg's out_time against the video's duration.
SOUND_SHARE = 0.05


def render(ctx: StageContext) -> StageOutput:
    from pipeline.media.scene_render import has_footage, render_scenes
    from pipeline.progress import rising, share

    started = time.perf_counter()
    progress = rising(ctx.progress)
    cues, duration = ctx.cues()
    s = ctx.settings
    visuals, swapped = usable_visuals(ctx, scene_visuals(ctx))
    opts = EncodeOptions.from_settings(s, footage=has_footage(visuals))
    # Over footage the captions sit on a translucent box; slides keep their clear band, and the outline.
    style = caption_style(ctx, boxed=has_footage(visuals))
    ass = captions.write_ass(cues, ctx.size, style, ctx.job_dir / "subtitles.ass")
    srt = captions.write_srt(cues, ctx.size, ctx.job_dir / "captions.srt")  # YouTube's caption track
    vtt = captions.write_vtt(cues, ctx.size, ctx.job_dir / "captions.vtt")  # with word timing, for players and editors
    out = ctx.job_dir / "video.mp4"
    sound = plan_sound(ctx.artifacts["narration"], background_track(ctx, duration), duration, cancel=ctx.cancel)
    progress(SOUND_SHARE)
    encoding = share(progress, SOUND_SHARE, 1.0 - SOUND_SHARE)
    if visuals:
        out = render_scenes(visuals, ctx.artifacts["narration"], ass, ctx.size, out, opts, duration_s=duration,
                            device=ctx.device, fonts_dir=fonts_dir(), progress=encoding, cancel=ctx.cancel,
                            sound=sound)
    else:  # a job made before scenes: its slides, as it was planned
        slides = [Slide(Path(x["path"]), x["block"])
                  for x in json.loads(ctx.artifacts["slides"].read_text(encoding="utf-8"))]
        missing = [x.path for x in slides if not x.path.exists()]
        if missing:
            raise FileNotFoundError(f"Slide {missing[0]} is missing: retry the job to redraw the slides.")
        segments = plan_segments(slides, cues, duration, s.fps)
        out = render_video(segments, ctx.artifacts["narration"], ass, ctx.size, out, opts,
                           device=ctx.device, fonts_dir=fonts_dir(), progress=encoding, cancel=ctx.cancel,
                           sound=sound)
    info = ffmpeg.probe(out)
    script = ctx.script()
    encoder = "h264_nvenc" if ctx.device == "cuda" else "libx264"
    usage = [Usage("ffmpeg", encoder, "video_seconds", round(info.duration_s, 3), time.perf_counter() - started)]
    snippet = youtube_body(script, ctx.channel, ctx.brief, ctx.job.get("topic"), credits(ctx))["snippet"]
    video = {"channel_id": ctx.job["channel_id"], "title": snippet["title"], "description": snippet["description"],
             "tags": snippet["tags"], "format": ctx.job["format"], "width": info.width, "height": info.height,
             "duration_s": info.duration_s, "video_path": str(out),
             "music_path": str(sound.track.path) if sound.track else None,
             "music_licence": (sound.track.licence or None) if sound.track else None}
    return StageOutput({"video": out, "subtitles": ass, "captions": srt, "webvtt": vtt}, usage, "ffmpeg", video=video,
                       fallbacks=swapped)


def caption_style(ctx: StageContext, boxed: bool) -> captions.CaptionStyle:
    """The channel's caption style in its brand, with this video's style when the brief chose one."""
    channel = dict(ctx.channel)
    if ctx.brief.get("captions"):
        channel["caption_style"] = ctx.brief["captions"]
    return captions.CaptionStyle.from_channel(channel, ctx.brand, boxed=boxed)


def background_track(ctx: StageContext, duration_s: float):
    """The channel's music for this video (not heard in its last five), or None: no folder, no tracks, or the
    brief said no music."""
    if ctx.db is None or ctx.brief.get("music") is False:
        return None
    from pipeline.media.music import choose_track
    return choose_track(ctx.db, ctx.channel["id"], duration_s, ctx.job["id"])


def thumbnail(ctx: StageContext) -> StageOutput:
    """The title over the strongest scene's frame (a clip or picture), else over the brand's card."""
    from pipeline.media.scene_render import thumbnail_background

    started = time.perf_counter()
    background = None
    rows = json.loads(Path(ctx.artifacts["scenes"]).read_text(encoding="utf-8"))["scenes"] \
        if "scenes" in ctx.artifacts else []
    scored = [r for r in rows if r["kind"] in ("video", "image") and r.get("score") is not None]
    choice = ctx.brief.get("thumbnail_choice")  # the operator's pick in the Library: "card" or "scene-<idx>"
    if choice == "card":
        scored = []
    elif choice and choice.startswith("scene-"):
        picked = [r for r in rows if f"scene-{r['idx']}" == choice and r["kind"] in ("video", "image")]
        scored = [{**r, "score": r.get("score") or 0.0} for r in picked] or scored
    if scored:
        best = max(scored, key=lambda r: r["score"])
        try:
            from pipeline.media.scene_render import SceneVisual
            background = thumbnail_background(SceneVisual(Path(best["path"]), best["kind"], best["start_s"],
                                                          best["end_s"]), ctx.job_dir / "thumbnail-frame.jpg")
        except Exception as exc:  # noqa: BLE001 - the brand's card is always there
            log.warning("job %s: no frame for the thumbnail (%s): the brand's card instead", ctx.job["id"], exc)
    path = make_thumbnail(ctx.script().title, ctx.brand, ctx.job_dir / "thumbnail.jpg", background=background)
    usage = [Usage("thumbnail", "pillow-v1", "images", 1.0, time.perf_counter() - started)]
    return StageOutput({"thumbnail": path}, usage, "thumbnail", video={"thumbnail_path": str(path)})


def credits(ctx: StageContext) -> list[str]:
    return credit_lines(ctx.artifacts.get("scenes"))


SOURCE_NAMES = {"pexels": "Pexels", "pixabay": "Pixabay", "openai-image": "OpenAI"}


def credit_lines(scenes_json: Path | None) -> list[str]:
    """One credit line per source that asks for attribution (Pexels' API guidelines do): its authors, in
    order of appearance, and the source, for the description ("Ana Diver and Leo Reef on Pexels")."""
    if scenes_json is None or not Path(scenes_json).exists():
        return []
    rows = json.loads(Path(scenes_json).read_text(encoding="utf-8"))["scenes"]
    authors: dict[str, list[str]] = {}
    for r in rows:
        if r.get("attribution_required") and r.get("author"):
            names = authors.setdefault(r["provider"], [])
            if r["author"] not in names:
                names.append(r["author"])
    lines = []
    for provider, names in authors.items():
        shown = names if len(names) <= MAX_CREDITED else [*names[:MAX_CREDITED], f"{len(names) - MAX_CREDITED} more"]
        who = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        lines.append(f"{who} on {SOURCE_NAMES.get(provider, provider)}")
    return lines


MAX_CREDITED = 12  # authors named per source; a long video's credits must not crowd out the description


def check_quality(ctx: StageContext) -> StageOutput:
    started = time.perf_counter()
    video = ctx.artifacts["video"]
    info = ffmpeg.probe(video)
    stats = ffmpeg.audio_stats(video, duration_s=info.duration_s)  # its time limit, without probing again
    cues, _ = ctx.cues()
    shown = captions.display(cues, ctx.size, caption_style(ctx, boxed=False))
    script = ctx.script()
    spoken = json.loads(ctx.artifacts["timings"].read_text(encoding="utf-8")).get("language")
    checks = [
        quality.check_duration(info.duration_s, float(ctx.job["duration_s"])),
        quality.check_audio(info, stats),
        quality.check_subtitles(coverage(cues, shown)),
        quality.check_format(info, ctx.size),
        quality.check_script(script),
        quality.check_thumbnail(ctx.artifacts.get("thumbnail")),
        quality.check_substance(script, ctx.job["topic"]),
        quality.check_repetition(script),
        quality.check_traceable(script, job_sources(ctx)),
        check_language(script.spoken_text, spoken or voice_language(ctx), ctx.channel.get("language")),
        check_glyphs({"title": script.title, "narration": script.spoken_text,
                      "slides": " ".join(h for s in script.sections for h in [s.heading, *s.bullets])}),
    ]
    report = quality.evaluate(checks, ctx.settings.quality_threshold)
    path = ctx.job_dir / "quality.json"
    path.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    usage = [Usage("quality", "checks-v1", "videos", 1.0, time.perf_counter() - started)]
    hold = None
    if not report.passed:
        blocked = [c for c in checks if c.blocking and not c.passed]
        worst = blocked + sorted((c for c in checks if not c.passed and c not in blocked),
                                 key=lambda c: c.score * c.weight - c.weight)
        head = (f"quality {report.score:.0f} < {report.threshold:.0f}" if report.score < report.threshold
                else f"held by the {' and '.join(c.name for c in blocked)} check (score {report.score:.0f})")
        hold = f"{head}: " + "; ".join(f"{c.name}: {c.message}" for c in worst[:3])
    fields = {"quality_score": report.score, "quality_detail": report.to_dict()}
    if hold:
        fields["publish_state"] = "held"
    elif ctx.db is not None:  # held before, passed now: no longer held (it is not published yet either)
        before = ctx.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [ctx.job["id"]])
        if before and before[0] == "held":
            fields["publish_state"] = "unpublished"
    return StageOutput({"quality": path}, usage, "quality", video=fields, hold=hold)


def voice_language(ctx: StageContext) -> str:
    """The language the narration was spoken in, for jobs voiced before timings.json said it: Piper speaks
    English; a cloud voice speaks the channel's language."""
    provider = ctx.db.query_one("SELECT provider FROM job_stages WHERE job_id = ? AND stage = 'voice'",
                                [ctx.job["id"]]) if ctx.db is not None else None
    if provider and str(provider[0]).startswith("piper"):
        return "en"
    return ctx.channel.get("language") or "en"


def youtube_body(script: Script, channel: dict, brief: dict, topic: str | None = None,
                 credit_lines: list[str] | None = None) -> dict:
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
    description = script.description
    if credit_lines:  # sources that ask for attribution get it, in the description
        description += "\n\nFootage and pictures: " + "; ".join(credit_lines) + "."
    body = {
        "snippet": {
            "title": script.title,
            "description": description,
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
    body = youtube_body(ctx.script(), ctx.channel, ctx.brief, ctx.job.get("topic"), credits(ctx))
    youtube = ctx.youtube
    connected = youtube is not None and bool(youtube.accounts.accounts(ctx.channel["id"]))
    target = ctx.brief.get("publish_target")  # the operator's choice in the Library; else YouTube when connected
    if target == "youtube" and not connected:
        raise ProviderError("This channel is no longer connected to YouTube: connect it on the Channels page, or "
                            "publish to the outbox from the Library.", provider="youtube")
    if target == "outbox":
        connected = False
    moved = None
    if not (connected and youtube.sent(ctx.job["id"])):
        # YouTube has not been sent this body yet, so a publishAt gone by can still move (the schedule is read here,
        # never written).
        plan = channel_schedule(ctx.db, ctx.channel["id"]) if ctx.db is not None else None
        body, moved = settle_publish_at(body, ctx.brief.get("privacy", "private"), plan)
    if connected:
        result = youtube.publish(ctx.job["id"], ctx.channel, ctx.artifacts["video"], ctx.artifacts["thumbnail"], body,
                                 captions=ctx.artifacts.get("captions"), playlist_id=ctx.brief.get("playlist_id"),
                                 progress=ctx.progress)  # bytes YouTube acknowledged, then the follow-ups
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
    StageSpec("scenes", scene_stages.plan, provider=lambda b, c, s: "scenes"),
    StageSpec("visuals", scene_stages.choose, provider=_chain("visuals")),
    StageSpec("render", render, gpu=True, provider=lambda b, c, s: "ffmpeg"),
    StageSpec("thumbnail", thumbnail, provider=lambda b, c, s: "thumbnail"),
    StageSpec("quality", check_quality, provider=lambda b, c, s: "quality"),
    StageSpec("publish", publish, provider=_chain("publisher")),
)
