"""One ffmpeg run builds the video: moving slides, transitions, subtitles, narration.

Why it is fast: each slide enters the graph as one decoded frame, converted to
yuv420p once, repeated in memory by ``loop`` and panned by ``crop`` with a
frame expression (no per-frame scaling); only the title and closing cards use
``zoompan``. The encoder is the real cost, so the graph keeps frames cheap to
encode (smooth translation) and the bitrate is capped for upload.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.gpu import GpuUnavailable
from pipeline.media import ffmpeg
from pipeline.providers.base import Cue, Slide

MOTIONS = ("pan-right", "pan-down", "pan-left", "pan-up")
FADE_S = 0.25
CROSSFADE_S = 0.5


@dataclass(frozen=True)
class Segment:
    image: Path
    frames: int
    motion: str  # "zoom-in" or one of MOTIONS


@dataclass(frozen=True)
class EncodeOptions:
    fps: int = 30
    preset: str = "superfast"
    crf: int = 23
    max_mbps: float = 8.0
    transition: str = "dip"  # "dip" through black, or "crossfade"
    audio_kbps: int = 160
    loudness_lufs: float = -14.0


def plan_segments(slides: list[Slide], cues: list[Cue], duration_s: float, fps: int) -> list[Segment]:
    """Give each slide the span of its block's narration, in whole frames with no drift.

    A slide starts where its block's first sentence starts (the first at 0) and
    lasts until the next slide; the last runs to the end of the narration.
    """
    if not slides:
        raise ValueError("No slides to render.")
    first_cue = {}
    for cue in cues:
        first_cue.setdefault(cue.block, cue.start)
    starts = []
    for i, slide in enumerate(slides):
        start = 0.0 if i == 0 else first_cue.get(slide.block)
        if start is None:  # a block with no speech: share the previous span
            start = starts[-1]
        starts.append(max(start, starts[-1] if starts else 0.0))
    total_frames = max(1, round(duration_s * fps))
    bounds = [round(s * fps) for s in starts] + [total_frames]
    segments = []
    zoom_next = 0
    for i, slide in enumerate(slides):
        frames = bounds[i + 1] - bounds[i]
        if frames <= 0:
            continue
        if slide.block in ("hook", "cta"):
            motion = "zoom-in"
        else:
            motion = MOTIONS[zoom_next % len(MOTIONS)]
            zoom_next += 1
        segments.append(Segment(slide.path, frames, motion))
    return segments


def _escape(value: str) -> str:
    """Quote a filter option value (paths may hold ':' or quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", r"'\''").replace(":", r"\:") + "'"


def _motion_filter(seg: Segment, size: tuple[int, int], fps: int) -> str:
    w, h = size
    last = max(seg.frames - 1, 1)
    if seg.motion == "zoom-in":
        return (f"zoompan=z='1+0.07*on/{last}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
                f":d={seg.frames}:s={w}x{h}:fps={fps},settb=1/{fps},setpts=N")
    x = {"pan-right": f"(iw-ow)*n/{last}", "pan-left": f"(iw-ow)*(1-n/{last})"}.get(seg.motion, "(iw-ow)/2")
    y = {"pan-down": f"(ih-oh)*n/{last}", "pan-up": f"(ih-oh)*(1-n/{last})"}.get(seg.motion, "(ih-oh)/2")
    return (f"loop=loop={seg.frames - 1}:size=1:start=0,settb=1/{fps},setpts=N,"
            f"crop=w={w}:h={h}:x='{x}':y='{y}':exact=1")


def build_filtergraph(segments: list[Segment], size: tuple[int, int], opts: EncodeOptions,
                      subtitles: str | None, fonts_dir: Path | None, audio_input: int) -> str:
    """The whole -filter_complex: per-slide motion, transitions, subtitles, and loudness-normalised audio."""
    fps = opts.fps
    fade = max(1, round(FADE_S * fps))
    xfade_frames = round(CROSSFADE_S * fps) if opts.transition == "crossfade" and len(segments) > 1 else 0
    parts = []
    for i, seg in enumerate(segments):
        frames = seg.frames + (xfade_frames if i < len(segments) - 1 else 0)
        seg = Segment(seg.image, frames, seg.motion)
        chain = f"[{i}:v]format=yuv420p,{_motion_filter(seg, size, fps)}"
        if opts.transition == "dip" and frames > 2 * fade:
            chain += f",fade=t=in:s=0:n={fade},fade=t=out:s={frames - fade}:n={fade}"
        parts.append(chain + f"[v{i}]")
    if xfade_frames:
        acc = (segments[0].frames + xfade_frames) / fps
        prev = "v0"
        for i in range(1, len(segments)):
            offset = acc - CROSSFADE_S
            parts.append(f"[{prev}][v{i}]xfade=transition=fade:duration={CROSSFADE_S}:offset={offset:.4f}[x{i}]")
            extra = xfade_frames if i < len(segments) - 1 else 0
            acc += (segments[i].frames + extra) / fps - CROSSFADE_S
            prev = f"x{i}"
        video = prev
    else:
        parts.append("".join(f"[v{i}]" for i in range(len(segments))) + f"concat=n={len(segments)}:v=1:a=0[vcat]")
        video = "vcat"
    if subtitles:
        fonts = f":fontsdir={_escape(str(fonts_dir))}" if fonts_dir else ""
        parts.append(f"[{video}]subtitles=filename={_escape(subtitles)}{fonts}[vout]")
    else:
        parts.append(f"[{video}]null[vout]")
    parts.append(f"[{audio_input}:a]loudnorm=I={opts.loudness_lufs}:TP=-1.5:LRA=11,aresample=48000[aout]")
    return ";".join(parts)


def encoder_args(opts: EncodeOptions, device: str) -> list[str]:
    rate = ["-maxrate", f"{opts.max_mbps:g}M", "-bufsize", f"{opts.max_mbps * 2:g}M"]
    common = ["-pix_fmt", "yuv420p", "-g", str(opts.fps * 2), "-r", str(opts.fps)]
    if device == "cuda":
        return ["-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr", "-cq", str(opts.crf), "-b:v", "0", *rate, *common]
    return ["-c:v", "libx264", "-preset", opts.preset, "-crf", str(opts.crf), "-profile:v", "high", *rate, *common]


def render_video(segments: list[Segment], narration: Path, subtitles: Path | None, size: tuple[int, int], out: Path,
                 opts: EncodeOptions, *, device: str = "cpu", fonts_dir: Path | None = None,
                 progress: Callable[[float], None] | None = None, cancel: threading.Event | None = None) -> Path:
    """Render to ``out`` (H.264 + AAC MP4, moov first). Raises GpuUnavailable when NVENC cannot run."""
    # ffmpeg runs in the output's folder (so libass gets a plain relative name): make every path absolute.
    out, narration = out.resolve(), narration.resolve()
    subtitles = subtitles.resolve() if subtitles is not None else None
    segments = [Segment(s.image.resolve(), s.frames, s.motion) for s in segments]
    inputs: list[str] = []
    for seg in segments:
        inputs += ["-framerate", str(opts.fps), "-i", str(seg.image)]
    inputs += ["-i", str(narration)]
    total_s = sum(s.frames for s in segments) / opts.fps
    workdir = out.parent
    sub_name = None
    if subtitles is not None:  # libass gets a path relative to the working directory: no escaping trouble
        sub_name = subtitles.name if subtitles.parent == workdir else str(subtitles)
    graph = build_filtergraph(segments, size, opts, sub_name, fonts_dir, len(segments))
    for stale in out.parent.glob(f"{out.stem}.partial-*.mp4"):  # left by a crashed run
        stale.unlink(missing_ok=True)
    tmp = out.with_name(f"{out.stem}.partial-{uuid.uuid4().hex[:8]}.mp4")
    args = [*inputs, "-filter_complex", graph, "-map", "[vout]", "-map", "[aout]",
            *encoder_args(opts, device), "-c:a", "aac", "-b:a", f"{opts.audio_kbps}k", "-ac", "2",
            "-t", f"{total_s:.3f}", "-movflags", "+faststart", "-f", "mp4", str(tmp)]
    try:
        ffmpeg.run(args, cwd=workdir, total_s=total_s, progress=progress, cancel=cancel)
    except ffmpeg.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        if device == "cuda":
            raise GpuUnavailable(f"GPU encode failed, use the CPU: {exc}") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)  # a crash mid-render never leaves a file that looks finished
    return out
