"""Running the ffmpeg binary that ships with imageio-ffmpeg, and probing what it made.

imageio-ffmpeg has no ffprobe, so :func:`probe` reads ``ffmpeg -i``'s stream
report, and :func:`audio_stats` runs volumedetect and silencedetect over the
audio only (fast: no video decode).
"""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class FFmpegError(RuntimeError):
    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


class Cancelled(RuntimeError):
    """The operator cancelled the job while this step was running."""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: kill ffmpeg if the process that started it dies, so a crash leaves no orphan writing files."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def run(args: list[str], *, cwd: Path | None = None, total_s: float | None = None,
        progress: Callable[[float], None] | None = None, cancel: threading.Event | None = None) -> str:
    """Run ffmpeg with ``-progress``; report 0..1 progress, stop on cancel; returns stderr."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *args]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    stderr_lines: list[str] = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if cancel is not None and cancel.is_set():
                proc.kill()
                proc.wait()
                raise Cancelled("Cancelled during ffmpeg.")
            if progress and total_s and line.startswith("out_time_us="):
                value = line.split("=", 1)[1].strip()
                if value.isdigit():
                    progress(min(1.0, int(value) / 1e6 / total_s))
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    stderr = "".join(stderr_lines)
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled during ffmpeg.")
    if proc.returncode != 0:
        last = stderr.strip().splitlines()[-3:] or [f"exit code {proc.returncode}"]
        raise FFmpegError("ffmpeg failed: " + " | ".join(last), stderr)
    return stderr


@dataclass
class StreamInfo:
    duration_s: float = 0.0
    video_codec: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    pix_fmt: str | None = None
    audio_codec: str | None = None
    sample_rate: int = 0
    bitrate_kbps: float = 0.0
    video_bitrate_kbps: float = 0.0
    faststart: bool = False
    raw: str = field(default="", repr=False)


def probe(path: Path) -> StreamInfo:
    """Streams, codecs, size and duration of a media file."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    text = proc.stderr
    if "Invalid data found" in text or "No such file" in text:
        raise FFmpegError(f"{path} is not a readable media file.", text)
    info = StreamInfo(raw=text)
    if m := re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text):
        info.duration_s = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    if m := re.search(r"bitrate: (\d+) kb/s", text):
        info.bitrate_kbps = float(m[1])
    for line in text.splitlines():
        if "Video:" in line and info.video_codec is None:
            info.video_codec = line.split("Video:")[1].split()[0].strip(",")
            if m := re.search(r"\b(\d{2,5})x(\d{2,5})\b", line):
                info.width, info.height = int(m[1]), int(m[2])
            if m := re.search(r"([\d.]+) fps", line):
                info.fps = float(m[1])
            if m := re.search(r"\b(yuv\w+|rgb\w+|gray\w*)", line):
                info.pix_fmt = m[1]
            if m := re.search(r"(\d+) kb/s", line):
                info.video_bitrate_kbps = float(m[1])
        elif "Audio:" in line and info.audio_codec is None:
            info.audio_codec = line.split("Audio:")[1].split()[0].strip(",")
            if m := re.search(r"(\d+) Hz", line):
                info.sample_rate = int(m[1])
    if path.suffix.lower() in (".mp4", ".m4a", ".mov"):
        info.faststart = moov_before_mdat(path)
    return info


def moov_before_mdat(path: Path) -> bool:
    """True when the MP4 index (moov) precedes the media (mdat): playback can start at once."""
    with open(path, "rb") as fh:
        offset = 0
        while True:
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size < 8:
                return False
            offset += size


@dataclass
class AudioStats:
    mean_db: float
    max_db: float
    silence_s: float
    duration_s: float


def audio_stats(path: Path, noise_db: float = -45.0, min_silence_s: float = 1.5) -> AudioStats:
    """Mean and peak level and the total length of silences longer than min_silence_s."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-vn",
         "-af", f"silencedetect=noise={noise_db}dB:d={min_silence_s},volumedetect", "-f", "null", "-"],
        capture_output=True, text=True,
    )
    text = proc.stderr
    if proc.returncode != 0 or "Output file does not contain any stream" in text or "matches no streams" in text:
        return AudioStats(-91.0, -91.0, 0.0, 0.0)
    mean = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", text)
    peak = re.search(r"max_volume: (-?[\d.]+|-inf) dB", text)
    silence = sum(float(x) for x in re.findall(r"silence_duration: ([\d.]+)", text))
    # A silence still open at the end of the file has a start but no end line.
    starts = [float(x) for x in re.findall(r"silence_start: (-?[\d.]+)", text)]
    ends = re.findall(r"silence_end: ", text)
    duration = 0.0
    if m := re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    if len(starts) > len(ends) and duration:
        silence += max(0.0, duration - starts[-1])

    def level(m: re.Match | None) -> float:
        return -91.0 if m is None or m[1] == "-inf" else float(m[1])

    return AudioStats(level(mean), level(peak), silence, duration)
