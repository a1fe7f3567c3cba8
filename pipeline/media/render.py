"""One ffmpeg run builds the video: moving slides, transitions, subtitles, narration.

Why it is fast: each slide enters the graph as one decoded frame, converted to
yuv420p once, repeated in memory by ``loop`` and panned by ``crop`` with a
frame expression (no per-frame scaling); only the title and closing cards use
``zoompan``. The encoder is the real cost, so the graph keeps frames cheap to
encode (smooth translation) and the bitrate is capped for upload.

Scenes with footage (clips, photos) are built by :mod:`pipeline.media.scene_render`, which shares
the motion, the finishing chains and :func:`encode` with this module.
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
    x264_params: str = ""  # extra libx264 options, "key=value:key=value"

    @classmethod
    def from_settings(cls, settings, footage: bool = False) -> EncodeOptions:
        """The options a render uses: footage (clips and photos) gets its own, lighter x264 settings."""
        s = settings
        return cls(fps=s.fps, preset=s.x264_footage_preset if footage else s.x264_preset, crf=s.x264_crf,
                   max_mbps=s.max_video_mbps, transition=s.transition,
                   x264_params=s.x264_footage_params if footage else "")


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


def escape(value: str) -> str:
    """Quote a filter option value (paths may hold ':' or quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", r"'\''").replace(":", r"\:") + "'"


def motion_filter(seg: Segment, size: tuple[int, int], fps: int) -> str:
    """The chain that turns one decoded frame into ``seg.frames`` moving frames (zoompan or a crop pan)."""
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
                      subtitles: str | None, fonts_dir: Path | None, audio_input: int, sound=None) -> str:
    """The whole -filter_complex: per-slide motion, transitions, subtitles, and loudness-normalised audio."""
    fps = opts.fps
    fade = max(1, round(FADE_S * fps))
    xfade_frames = round(CROSSFADE_S * fps) if opts.transition == "crossfade" and len(segments) > 1 else 0
    parts = []
    for i, seg in enumerate(segments):
        frames = seg.frames + (xfade_frames if i < len(segments) - 1 else 0)
        seg = Segment(seg.image, frames, seg.motion)
        chain = f"[{i}:v]format=yuv420p,{motion_filter(seg, size, fps)}"
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
    parts += finishing_chains(video, subtitles, fonts_dir, audio_input, opts, sound)
    return ";".join(parts)


def finishing_chains(video: str, subtitles: str | None, fonts_dir: Path | None, audio_input: int,
                     opts: EncodeOptions, sound=None) -> list[str]:
    """Burn the subtitles into ``[video]`` as [vout]; the narration input (with the music after it, when
    ``sound`` has a track: :class:`pipeline.media.music.Sound`) mixed and loudness-normalised as [aout]."""
    if subtitles:
        fonts = f":fontsdir={escape(str(fonts_dir))}" if fonts_dir else ""
        chain = f"[{video}]subtitles=filename={escape(subtitles)}{fonts}[vout]"
    else:
        chain = f"[{video}]null[vout]"
    return [chain, *sound_chains(audio_input, opts, sound)]


def sound_chains(audio_input: int, opts: EncodeOptions, sound=None) -> list[str]:
    """[aout] from the narration input: the planned mix, or the narration alone as before."""
    return sound.chains(audio_input) if sound is not None else [audio_chain(audio_input, opts)]


def audio_chain(audio_input: int, opts: EncodeOptions) -> str:
    """The narration, loudness-normalised for YouTube (-14 LUFS) and resampled to 48 kHz, as [aout]."""
    return f"[{audio_input}:a]loudnorm=I={opts.loudness_lufs}:TP=-1.5:LRA=11,aresample=48000[aout]"


def encoder_args(opts: EncodeOptions, device: str) -> list[str]:
    """Video encoder options: libx264 at the preset and CRF, or h264_nvenc on ``cuda``; both capped for upload."""
    rate = ["-maxrate", f"{opts.max_mbps:g}M", "-bufsize", f"{opts.max_mbps * 2:g}M"]
    common = ["-pix_fmt", "yuv420p", "-g", str(opts.fps * 2), "-r", str(opts.fps)]
    if device == "cuda":
        return ["-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr", "-cq", str(opts.crf), "-b:v", "0", *rate, *common]
    params = ["-x264-params", opts.x264_params] if opts.x264_params else []
    return ["-c:v", "libx264", "-preset", opts.preset, "-crf", str(opts.crf), "-profile:v", "high", *params, *rate,
            *common]


def subtitle_name(subtitles: Path | None, workdir: Path) -> str | None:
    """How the subtitles filter names the file: relative to ffmpeg's working directory when it lies there
    (libass then gets a plain name, no escaping trouble)."""
    if subtitles is None:
        return None
    return subtitles.name if subtitles.parent == workdir else str(subtitles)


def encode(inputs: list[str], graph: list[str], out: Path, opts: EncodeOptions, total_s: float, *,
           device: str = "cpu", progress: Callable[[float], None] | None = None,
           cancel: threading.Event | None = None, video: str = "[vout]", audio: bool = True,
           copy_video: bool = False) -> Path:
    """Run one ffmpeg over ``inputs`` and the filter graph arguments to ``out``: ``video`` (a graph label
    or a stream, stream-copied with ``copy_video``) and, with ``audio``, [aout] as AAC.

    ffmpeg runs in ``out``'s folder and writes a uniquely named partial file that replaces ``out``
    only when complete; on failure or cancel the partial is removed. ``total_s`` scales the time
    limit and the progress. Raises GpuUnavailable when NVENC cannot run.
    """
    for stale in out.parent.glob(f"{out.stem}.partial-*.mp4"):  # left by a crashed run
        stale.unlink(missing_ok=True)
    tmp = out.with_name(f"{out.stem}.partial-{uuid.uuid4().hex[:8]}.mp4")
    video_args = ["-c:v", "copy"] if copy_video else encoder_args(opts, device)
    audio_args = (["-map", "[aout]", "-c:a", "aac", "-b:a", f"{opts.audio_kbps}k", "-ac", "2"] if audio else ["-an"])
    args = [*inputs, *graph, "-map", video, *video_args, *audio_args,
            "-t", f"{total_s:.3f}", "-movflags", "+faststart", "-f", "mp4", str(tmp)]
    try:
        ffmpeg.run(args, cwd=out.parent, total_s=total_s, progress=progress, cancel=cancel)
    except ffmpeg.FFmpegError as exc:
        tmp.unlink(missing_ok=True)
        if device == "cuda" and not copy_video:
            raise GpuUnavailable(f"GPU encode failed, use the CPU: {exc}") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)  # a crash mid-render never leaves a file that looks finished
    return out


def render_video(segments: list[Segment], narration: Path, subtitles: Path | None, size: tuple[int, int], out: Path,
                 opts: EncodeOptions, *, device: str = "cpu", fonts_dir: Path | None = None,
                 progress: Callable[[float], None] | None = None, cancel: threading.Event | None = None,
                 sound=None) -> Path:
    """Render slides to ``out`` (H.264 + AAC MP4, moov first), with the music of ``sound`` under the narration
    when it has a track. Raises GpuUnavailable when NVENC cannot run."""
    # ffmpeg runs in the output's folder (so libass gets a plain relative name): make every path absolute.
    out, narration = out.resolve(), narration.resolve()
    subtitles = subtitles.resolve() if subtitles is not None else None
    segments = [Segment(s.image.resolve(), s.frames, s.motion) for s in segments]
    inputs: list[str] = []
    for seg in segments:
        inputs += ["-framerate", str(opts.fps), "-i", str(seg.image)]
    inputs += ["-i", str(narration), *(sound.inputs() if sound is not None else [])]
    total_s = sum(s.frames for s in segments) / opts.fps
    graph = build_filtergraph(segments, size, opts, subtitle_name(subtitles, out.parent), fonts_dir, len(segments),
                              sound)
    return encode(inputs, ["-filter_complex", graph], out, opts, total_s, device=device, progress=progress,
                  cancel=cancel)
