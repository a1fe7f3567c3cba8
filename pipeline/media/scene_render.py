"""Scenes to video: stock clips, photos and slides, crossfaded, in one ffmpeg run (or a few, when long).

Each scene's visual lasts from its start to the next scene's start (the last to the end of the
narration), in whole frames, so the picture never drifts from the voice. Consecutive scenes on
the same file are one shot with one motion. Clips are taken from their start, slowed down up to
``MAX_SLOWDOWN`` when short and looped beyond that, scaled and centre-cropped to fill the frame;
their audio is never read. Photos and slides are decoded once, converted once and repeated in
memory by ``loop`` with a ``crop`` pan (as slides always were). Shots meet in ``xfade``
crossfades of ``SCENE_XFADE_S`` whose offsets keep the total exactly the narration's length.

A video of slides only is today's slideshow, rendered by :func:`pipeline.media.render.render_video`
with its dips: the offline default looks the same as before.

Limits, for long videos. The graph goes to ffmpeg in a file (one argument may not pass 128 KiB on
Linux, about 250 shots). A file used by several stills is one input, split in the graph. Memory is
what grows with the number of shots: ffmpeg decodes ahead on every input before it starts, and
each filter that makes frames (a crossfade, a scale) keeps its frame pool to the end of the run:
about 50 MB per 1080p clip scene, measured. So shots are rendered in chunks of about
``CHUNK_BYTES`` of that estimate (some 20 1080p clips, about two minutes of 6 s scenes): one run
per chunk, video only, each chunk starting with the tail of the previous chunk's last shot so its
crossfade is whole; then one run stream-copies the chunks together and adds the narration. A
video within one chunk is a single run.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from PIL import Image

from pipeline.media import ffmpeg
from pipeline.media.render import (
    MOTIONS, EncodeOptions, Segment, encode, escape, finishing_chains, motion_filter, render_video, sound_chains,
    subtitle_name,
)
from pipeline.media.slides import canvas_size

KINDS = ("video", "image", "slide")
SCENE_XFADE_S = 0.3  # short: a crossfade between unrelated footage reads as a softened cut
MAX_SLOWDOWN = 1.5  # slower than this looks like slow motion on purpose; loop instead
CHUNK_BYTES = 1.2e9  # estimated memory of the shots in one run (shot_bytes); the measured peak, with x264, is ~1.6 GB
FRAME_S = 30.0  # extracting one frame reads a few MB


@dataclass(frozen=True)
class SceneVisual:
    """What a scene shows and when: seconds into the narration, in narration order."""

    path: Path
    kind: str  # "video" (a clip), "image" (a photo or generated image) or "slide" (drawn with OVERSCAN)
    start_s: float
    end_s: float
    block: str = ""  # the script block; slides of "hook" and "cta" zoom, the others pan (as plan_segments)
    clip_s: float | None = None  # a clip's length when the source said; otherwise read from the file


@dataclass(frozen=True)
class Shot:
    """One piece of the timeline: a visual held for whole frames."""

    path: Path
    kind: str
    frames: int
    motion: str  # stills: "zoom-in" or one of MOTIONS; clips: "clip"
    clip_s: float | None = None  # clips: the source's length
    source: tuple[int, int] = (0, 0)  # the file's picture size, when known


def plan_shots(visuals: list[SceneVisual], duration_s: float, fps: int) -> list[Shot]:
    """Give each visual its span up to the next one's start, in whole frames with no drift.

    The first starts at 0 and the last runs to the end of the narration; consecutive visuals on
    the same file merge into one shot (one pan, or one continuous clip). Clip lengths are read here.
    """
    if not visuals:
        raise ValueError("No scenes to render.")
    for v in visuals:
        if v.kind not in KINDS:
            raise ValueError(f"Scene visual {v.path.name} has kind {v.kind!r}; use one of {', '.join(KINDS)}.")
    runs: list[tuple[SceneVisual, float]] = []  # (first visual of a run, its start)
    for v in visuals:
        if runs and (runs[-1][0].path, runs[-1][0].kind) == (v.path, v.kind):
            continue
        start = 0.0 if not runs else max(v.start_s, runs[-1][1])
        runs.append((v, start))
    total = max(1, round(duration_s * fps))
    bounds = [min(round(start * fps), total) for _, start in runs] + [total]
    shots, pans = [], {"slide": 0, "image": 0}
    clips: dict[Path, tuple[float, int, int]] = {}
    for i, (v, _) in enumerate(runs):
        frames = bounds[i + 1] - bounds[i]
        if frames <= 0:
            continue
        if v.kind == "video":
            if v.path not in clips:
                clips[v.path] = clip_info(v.path)
            seconds, w, h = clips[v.path]
            shots.append(Shot(v.path, "video", frames, "clip", v.clip_s or seconds, (w, h)))
            continue
        if v.kind == "slide" and v.block in ("hook", "cta"):
            motion = "zoom-in"
        else:
            motion = MOTIONS[pans[v.kind] % len(MOTIONS)]
            pans[v.kind] += 1
        shots.append(Shot(v.path, v.kind, frames, motion))
    return shots


# -- reading media headers ----------------------------------------------------------------------------------

def clip_info(path: Path) -> tuple[float, int, int]:
    """(seconds, width, height) of a clip: from the MP4 header when it has one (instant), else ffmpeg's report."""
    info = mp4_info(path)
    if info is None or info[0] <= 0:
        probed = ffmpeg.probe(path)
        info = (probed.duration_s, probed.width, probed.height)
    if info[0] <= 0:
        raise ffmpeg.FFmpegError(f"{Path(path).name} has no length: is it a video? Fetch the scene's clip again.")
    return info


def mp4_info(path: Path) -> tuple[float, int, int] | None:
    """Duration (``moov/mvhd``) and the video track's size (``trak/tkhd``) of an MP4 or MOV; None otherwise."""
    try:
        with open(path, "rb") as fh:
            moov = _box(fh, b"moov", 0, fh.seek(0, 2))
            mvhd = moov and _box(fh, b"mvhd", *moov)
            if not mvhd:
                return None
            fh.seek(mvhd[0])
            head = fh.read(32)
            v1 = head[0] == 1  # version 1 has 64-bit times
            scale = int.from_bytes(head[20:24] if v1 else head[12:16], "big")
            length = int.from_bytes(head[24:32] if v1 else head[16:20], "big")
            width = height = 0
            for trak in _boxes(fh, b"trak", *moov):
                tkhd = _box(fh, b"tkhd", *trak)
                if tkhd:
                    fh.seek(tkhd[0])
                    head = fh.read(92)
                    at = 88 if head[0] == 1 else 76  # width and height are 16.16 fixed point
                    width, height = int.from_bytes(head[at:at + 4], "big") >> 16, int.from_bytes(head[at + 4:at + 8], "big") >> 16
                    if width and height:
                        break
            return (length / scale if scale else 0.0), width, height
    except (OSError, IndexError):
        return None


def _boxes(fh, kind: bytes, start: int, end: int):
    """(payload start, payload end) of each ``kind`` box between start and end."""
    offset = start
    while offset + 8 <= end:
        fh.seek(offset)
        header = fh.read(16)
        if len(header) < 8:
            return
        size, name, skip = int.from_bytes(header[:4], "big"), header[4:8], 8
        if size == 1:
            size, skip = int.from_bytes(header[8:16], "big"), 16
        elif size == 0:
            size = end - offset
        if size < skip:
            return
        if name == kind:
            yield offset + skip, offset + size
        offset += size


def _box(fh, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
    return next(_boxes(fh, kind, start, end), None)


def image_size(path: Path) -> tuple[int, int]:
    """A picture's size from its header (no decode); (0, 0) when Pillow cannot tell."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError):
        return 0, 0


# -- the graph ------------------------------------------------------------------------------------------------

def clip_plan(needed_s: float, clip_s: float) -> tuple[float, bool]:
    """(slowdown factor >= 1, loop?) for a clip of ``clip_s`` that must fill ``needed_s``."""
    if clip_s >= needed_s:
        return 1.0, False
    if clip_s * MAX_SLOWDOWN >= needed_s:
        return needed_s / clip_s, False
    return MAX_SLOWDOWN, True


def cover_scale(source: tuple[int, int], size: tuple[int, int]) -> float:
    """How much a picture of ``source`` size is scaled to cover ``size`` (0 when the size is unknown)."""
    return max(size[0] / source[0], size[1] / source[1]) if source[0] and source[1] else 0.0


def _clip_input(shot: Shot, frames: int, size: tuple[int, int], fps: int) -> tuple[list[str], float]:
    """Input options for a clip that must give ``frames`` frames, and its slowdown."""
    slow, loop = clip_plan(frames / fps, shot.clip_s or 0.0)
    args = ["-stream_loop", "-1"] if loop else []
    if 0 < cover_scale(shot.source, size) <= 0.5:
        # h264 cannot decode at a lower resolution; skipping its deblocking is the nearest thing
        # (about 13% of a 4K decode and scale), and its artefacts vanish in a 2x downscale.
        args += ["-skip_loop_filter", "all"]
    # Read only what is needed (plus a little for rounding); -an: the clip's sound is never decoded.
    return [*args, "-an", "-t", f"{frames / fps / slow + 0.5:.3f}", "-i", str(shot.path)], slow


def _clip_chain(frames: int, slow: float, size: tuple[int, int], fps: int) -> str:
    w, h = size
    pts = f"(PTS-STARTPTS)*{slow:.6f}" if slow > 1.0 else "PTS-STARTPTS"
    # fps first: a 60 fps source is halved before anything is scaled. Bilinear is plenty for moving
    # footage and cheaper than bicubic; a source already at the output size is passed through.
    # tpad clones the last frame if the source ends a little early, so trim always gets its frames.
    return (f"setpts={pts},fps={fps},scale={w}:{h}:force_original_aspect_ratio=increase:flags=bilinear,"
            f"crop={w}:{h},format=yuv420p,setsar=1,tpad=stop=-1:stop_mode=clone,trim=end_frame={frames},"
            f"settb=1/{fps},setpts=N")


def _still_prep(kind: str, size: tuple[int, int]) -> str:
    """Once per still input: its first frame only (an animated GIF would run on after the loop), covering
    the panning canvas (photos), in yuv420p."""
    if kind == "slide":  # drawn at the canvas size already
        return "trim=end_frame=1,format=yuv420p,setsar=1"
    cw, ch = canvas_size(size)
    return (f"trim=end_frame=1,scale={cw}:{ch}:force_original_aspect_ratio=increase:flags=bicubic:out_range=tv,"
            f"crop={cw}:{ch},format=yuv420p,setsar=1")


def crossfade_frames(shots: list[Shot], fps: int) -> int:
    return round(SCENE_XFADE_S * fps) if len(shots) > 1 else 0


def build_scene_graph(shots: list[Shot], size: tuple[int, int], opts: EncodeOptions, subtitles: str | None,
                      fonts_dir: Path | None, *, first: int = 0, stop: int | None = None,
                      narration: str = "NARRATION", sound=None) -> tuple[list[str], str]:
    """The input arguments and the filter graph for shots[first:stop] of the timeline.

    The whole timeline gives [vout] and [aout] (the narration is the last input). A window gives
    [vout] only: it starts with the tail of shot ``first - 1`` crossfading into ``first``, and its
    last shot stops where the next window's crossfade begins, so windows join frame-exactly.
    """
    stop = len(shots) if stop is None else stop
    fps, xfade = opts.fps, crossfade_frames(shots, opts.fps)
    window = list(range(first - 1 if first else 0, stop))
    inputs: list[str] = []
    parts: list[str] = []
    labels: dict[int, str] = {}
    stills: dict[tuple[Path, str], list[int]] = {}
    for i in window:
        if shots[i].kind != "video":
            stills.setdefault((shots[i].path, shots[i].kind), []).append(i)
    for n, ((path, kind), uses) in enumerate(stills.items()):  # one input per file, split for each use
        inputs += ["-framerate", str(fps), "-i", str(path)]
        split = f",split={len(uses)}" if len(uses) > 1 else ""
        parts.append(f"[{n}:v]{_still_prep(kind, size)}{split}" + "".join(f"[p{u}]" for u in uses))
        labels.update({u: f"[p{u}]" for u in uses})
    lengths = []
    for i in window:
        shot = shots[i]
        frames = shot.frames + (xfade if i < len(shots) - 1 else 0)  # overlaps the next shot's crossfade
        if shot.kind == "video":
            args, slow = _clip_input(shot, frames, size, fps)
            chain = f"[{_count_inputs(inputs)}:v]{_clip_chain(frames, slow, size, fps)}"
            inputs += args
        else:
            chain = f"{labels[i]}{motion_filter(Segment(shot.path, frames, shot.motion), size, fps)},setsar=1"
        if first and i == first - 1:  # the previous window's last shot: only its crossfade tail
            chain += f",trim=start_frame={shot.frames},setpts=N"
            frames = xfade
        elif i == stop - 1 and stop < len(shots):  # the next window crossfades out of this shot
            chain += f",trim=end_frame={shot.frames}"
            frames = shot.frames
        parts.append(chain + f"[v{i}]")
        lengths.append(frames)
    video = _join(window, lengths, parts, xfade, fps)
    if first == 0 and stop == len(shots):
        inputs += ["-i", narration]
        voice = _count_inputs(inputs) - 1
        inputs += sound.inputs() if sound is not None else []
        parts += finishing_chains(video, subtitles, fonts_dir, voice, opts, sound)
    else:
        parts.append(_burn_subtitles(video, subtitles, fonts_dir, sum(s.frames for s in shots[:first]) / fps))
    return inputs, ";".join(parts)


def _count_inputs(inputs: list[str]) -> int:
    return inputs.count("-i")


def _join(window: list[int], lengths: list[int], parts: list[str], xfade: int, fps: int) -> str:
    """Crossfade the window's streams in order; each fade starts where its shot is due, so lengths add up."""
    if len(window) == 1:
        return f"v{window[0]}"
    acc, prev = lengths[0], f"v{window[0]}"
    for i, frames in zip(window[1:], lengths[1:]):
        offset = acc - xfade
        parts.append(f"[{prev}][v{i}]xfade=transition=fade:duration={xfade / fps:.6f}:offset={offset / fps:.6f}[x{i}]")
        acc, prev = offset + frames, f"x{i}"
    return prev


def _burn_subtitles(video: str, subtitles: str | None, fonts_dir: Path | None, start_s: float) -> str:
    """[vout] for a window: libass reads the frame times, so they are shifted to the window's place and back."""
    if not subtitles:
        return f"[{video}]null[vout]"
    fonts = f":fontsdir={escape(str(fonts_dir))}" if fonts_dir else ""
    return (f"[{video}]setpts=PTS+{start_s:.6f}/TB,subtitles=filename={escape(subtitles)}{fonts},"
            "setpts=PTS-STARTPTS[vout]")


# -- memory and chunks ----------------------------------------------------------------------------------------

def shot_bytes(shot: Shot, size: tuple[int, int]) -> float:
    """What a shot costs ffmpeg in memory until its run ends (measured: ffmpeg keeps each filter's frame
    pool): clips decode about 8 frames ahead at their own size, each crossfade keeps about 9 frames,
    and a still keeps its decoded picture and a few canvas-sized frames."""
    frame = size[0] * size[1] * 1.5
    sw, sh = shot.source if shot.source != (0, 0) else size
    if shot.kind == "video":
        scaled = 6 * frame if cover_scale(shot.source, size) not in (0.0, 1.0) else 0.0
        return 8 * sw * sh * 1.5 + scaled + 9 * frame
    cw, ch = canvas_size(size)
    zoom = 6 * frame if shot.motion == "zoom-in" else 0.0
    return sw * sh * 3 + 6 * cw * ch * 1.5 + zoom + 9 * frame


def plan_chunks(shots: list[Shot], size: tuple[int, int], budget: float = CHUNK_BYTES) -> list[tuple[int, int]]:
    """Split the timeline into windows [first, stop) whose estimated memory stays within ``budget``."""
    sized = [replace(s, source=image_size(s.path)) if s.kind == "image" else s for s in shots]
    chunks, first, used = [], 0, 0.0
    for i, shot in enumerate(sized):
        cost = shot_bytes(shot, size)
        if i > first and used + cost > budget:
            chunks.append((first, i))
            first, used = i, shot_bytes(sized[i - 1], size)  # the next window starts with that shot's tail
        used += cost
    chunks.append((first, len(sized)))
    return chunks


# -- rendering ------------------------------------------------------------------------------------------------

def has_footage(visuals: list[SceneVisual]) -> bool:
    """True when any scene shows a clip or photo: its subtitles need the boxed style to stay readable."""
    return any(v.kind != "slide" for v in visuals)


def render_scenes(visuals: list[SceneVisual], narration: Path, subtitles: Path | None, size: tuple[int, int],
                  out: Path, opts: EncodeOptions, *, duration_s: float, device: str = "cpu",
                  fonts_dir: Path | None = None, progress: Callable[[float], None] | None = None,
                  cancel: threading.Event | None = None, chunk_bytes: float = CHUNK_BYTES, sound=None) -> Path:
    """Render scene visuals over the narration to ``out`` (H.264 + AAC MP4, moov first).

    ``duration_s`` is the narration's length: the video lasts exactly that, in whole frames. Slides
    only: today's slideshow (``render_video``). One ffmpeg run unless the shots need more memory
    than ``chunk_bytes`` (see the module notes). Raises GpuUnavailable when NVENC cannot run,
    ffmpeg.Cancelled on cancel, FileNotFoundError for a missing visual, ValueError for a bad kind.
    """
    missing = [v.path for v in visuals if not Path(v.path).exists()]
    if missing:
        raise FileNotFoundError(f"Scene visual {missing[0]} is missing: retry the job to fetch the visuals again.")
    out, narration = out.resolve(), narration.resolve()
    subtitles = subtitles.resolve() if subtitles is not None else None
    shots = plan_shots([replace(v, path=Path(v.path).resolve()) for v in visuals], duration_s, opts.fps)
    if all(s.kind == "slide" for s in shots):
        segments = [Segment(s.path, s.frames, s.motion) for s in shots]
        return render_video(segments, narration, subtitles, size, out, opts, device=device, fonts_dir=fonts_dir,
                            progress=progress, cancel=cancel, sound=sound)
    for stale in [*out.parent.glob(f"{out.stem}.graph-*.txt"), *out.parent.glob(f"{out.stem}.chunks-*")]:
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    chunks = plan_chunks(shots, size, chunk_bytes)
    run = dict(device=device, cancel=cancel)
    if len(chunks) == 1:
        return _render_window(shots, (0, len(shots)), out, size, opts, subtitles, fonts_dir, narration,
                              progress=progress, sound=sound, **run)
    return _render_chunked(shots, chunks, out, size, opts, subtitles, fonts_dir, narration, progress=progress,
                           sound=sound, **run)


def _render_window(shots: list[Shot], window: tuple[int, int], out: Path, size: tuple[int, int],
                   opts: EncodeOptions, subtitles: Path | None, fonts_dir: Path | None, narration: Path,
                   sound=None, **run) -> Path:
    """One ffmpeg run: the whole timeline with sound, or a window of it as silent video."""
    first, stop = window
    whole = window == (0, len(shots))
    inputs, graph = build_scene_graph(shots, size, opts, subtitle_name(subtitles, out.parent), fonts_dir,
                                      first=first, stop=stop, narration=str(narration), sound=sound)
    # A long video's graph is larger than one command-line argument may be: ffmpeg reads it from a file.
    script = out.with_name(f"{out.stem}.graph-{uuid.uuid4().hex[:8]}.txt")
    script.write_text(graph, encoding="utf-8")
    try:
        total_s = sum(s.frames for s in shots[first:stop]) / opts.fps
        return encode(inputs, ["-/filter_complex", str(script)], out, opts, total_s, audio=whole, **run)
    finally:
        script.unlink(missing_ok=True)


def _render_chunked(shots: list[Shot], chunks: list[tuple[int, int]], out: Path, size: tuple[int, int],
                    opts: EncodeOptions, subtitles: Path | None, fonts_dir: Path | None, narration: Path, *,
                    progress: Callable[[float], None] | None, sound=None, **run) -> Path:
    """Each chunk to a silent MP4, then one run that stream-copies them and adds the narration."""
    folder = out.with_name(f"{out.stem}.chunks-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    total = sum(s.frames for s in shots)
    done = 0
    try:
        parts = []
        for j, (first, stop) in enumerate(chunks):
            frames = sum(s.frames for s in shots[first:stop])
            share = _scaled(progress, done / total * 0.97, frames / total * 0.97)
            parts.append(_render_window(shots, (first, stop), folder / f"chunk-{j:03d}.mp4", size, opts, subtitles,
                                        fonts_dir, narration, progress=share, **run))
            done += frames
        listing = folder / "chunks.txt"
        listing.write_text("".join(f"file '{p.name}'\n" for p in parts), encoding="utf-8")
        inputs = ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(narration),
                  *(sound.inputs() if sound is not None else [])]
        return encode(inputs, ["-filter_complex", ";".join(sound_chains(1, opts, sound))], out, opts, total / opts.fps,
                      video="0:v",
                      copy_video=True, progress=_scaled(progress, 0.97, 0.03), **run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _scaled(progress: Callable[[float], None] | None, start: float, span: float) -> Callable[[float], None] | None:
    return None if progress is None else (lambda f: progress(start + span * f))


# -- stills for thumbnails ------------------------------------------------------------------------------------

def extract_frame(clip: Path, at_s: float, out: Path, *, timeout_s: float = FRAME_S) -> Path:
    """Write the clip's frame at ``at_s`` seconds (clamped into the clip) to ``out`` (JPEG or PNG)."""
    length = clip_info(clip)[0]
    at_s = min(max(0.0, at_s), max(0.0, length - 0.1))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.stem}.partial-{uuid.uuid4().hex[:8]}{out.suffix}")
    try:  # -ss before -i seeks to the keyframe before and decodes forward: exact and fast
        ffmpeg.run(["-ss", f"{at_s:.3f}", "-i", str(clip), "-frames:v", "1", "-q:v", "2", "-update", "1", str(tmp)],
                   timeout_s=timeout_s)
        if not tmp.exists():
            raise ffmpeg.FFmpegError(f"No frame at {at_s:.1f} s in {clip.name}: fetch the clip again.")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def thumbnail_background(visual: SceneVisual, out: Path) -> Path | None:
    """A still for the thumbnail from this scene: a photo as is, a clip's frame from the middle of the
    part the video shows; None for a slide (its own text would fight the title: draw the usual card)."""
    if visual.kind == "slide":
        return None
    if visual.kind == "image":
        return Path(visual.path)
    shown = min(visual.clip_s or clip_info(visual.path)[0], max(visual.end_s - visual.start_s, 0.1))
    return extract_frame(Path(visual.path), shown / 2, out)
