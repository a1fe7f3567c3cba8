"""Running the ffmpeg binary that ships with imageio-ffmpeg, and probing what it made.

imageio-ffmpeg has no ffprobe, so :func:`probe` reads ``ffmpeg -i``'s stream
report, and :func:`audio_stats` runs volumedetect and silencedetect over the
audio only (fast: no video decode).

No call here can hang its thread: each has a time limit scaled to the media's
length, :func:`run` also stops an ffmpeg that stops making progress, cancel is
checked on a timer, and on Linux every ffmpeg dies with the process that
started it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# Limits. A 1080p CPU render ran at 1.4x real time on a shared two-core box, so ten seconds per
# second of media leaves over tenfold headroom for a loaded machine: it trips on a stuck run only.
RUN_BASE_S = 120.0
RUN_PER_MEDIA_S = 10.0
STALL_S = 120.0  # no new output time or size for this long: hung (fontconfig's first cache build fits)
PROBE_S = 60.0  # reading a header takes well under a second
STATS_BASE_S = 60.0
STATS_PER_MEDIA_S = 0.5  # audio-only decode runs hundreds of times faster than real time
POLL_S = 0.2  # how often cancel and the limits are checked, whether or not ffmpeg prints
KILL_WAIT_S = 10.0  # a child stuck in the kernel (dead NFS) may ignore SIGKILL: do not wait forever

# Started as `python -I -S -c SHIM <our pid> <ffmpeg> <args...>`: makes the kernel SIGKILL ffmpeg when
# we die, then becomes ffmpeg (execv keeps the pid, so Popen.kill() still hits ffmpeg itself).
# This replaces preexec_fn, which runs Python in the forked child and can deadlock when other
# threads hold locks at fork time (the worker runs ffmpeg from a thread pool). PR_SET_PDEATHSIG
# fires when the *thread* that forked exits, not the process: fine, that thread waits for ffmpeg.
SHIM = """\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):  # the parent died before prctl: nobody wants the output
    sys.exit(1)
for name in ("SIGPIPE", "SIGXFSZ"):  # Python ignores these and exec would pass that on
    signal.signal(getattr(signal, name), signal.SIG_DFL)
os.execv(sys.argv[2], sys.argv[2:])
"""


class FFmpegError(RuntimeError):
    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


class FFmpegTimeout(FFmpegError):
    """ffmpeg ran past its time limit or stopped making progress, and was killed."""

    def __init__(self, message: str, stderr: str = "", *, elapsed_s: float = 0.0, limit_s: float = 0.0):
        super().__init__(message, stderr)
        self.elapsed_s, self.limit_s = elapsed_s, limit_s


class Cancelled(RuntimeError):
    """The operator cancelled the job while this step was running."""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


class _Child:
    """One ffmpeg: started through the shim, both pipes drained by threads, killed on demand."""

    def __init__(self, cmd: list[str], cwd: Path | None = None, on_stdout: Callable[[str], None] | None = None):
        if sys.platform.startswith("linux") and sys.executable:
            cmd = [sys.executable, "-I", "-S", "-c", SHIM, str(os.getpid()), *cmd]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        # Reading in threads keeps a chatty ffmpeg from blocking on a full pipe while we poll.
        self._readers = [threading.Thread(target=self._drain, args=args, daemon=True)
                         for args in ((self.proc.stdout, self.stdout, on_stdout), (self.proc.stderr, self.stderr, None))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(pipe, sink: list[str], on_line: Callable[[str], None] | None) -> None:
        for line in pipe:
            sink.append(line)
            if on_line:
                on_line(line)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def wait(self, timeout: float) -> bool:
        """True once ffmpeg has exited and its output is read."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        for reader in self._readers:
            reader.join(timeout=5)  # ffmpeg is gone; only a grandchild could still hold the pipes
        return True

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            pass
        for reader in self._readers:
            reader.join(timeout=1)

    def text(self) -> str:
        return "".join(self.stderr)

    def timeout(self, message: str, limit_s: float) -> FFmpegTimeout:
        """Kill ffmpeg and describe what hung, for the operator."""
        elapsed = self.elapsed_s
        self.kill()
        return FFmpegTimeout(message, self.text(), elapsed_s=elapsed, limit_s=limit_s)


def _capture(cmd: list[str], limit_s: float, what: str) -> subprocess.CompletedProcess:
    """Run a short ffmpeg to its end and return its output; FFmpegTimeout past ``limit_s``."""
    child = _Child(cmd)
    try:
        if not child.wait(limit_s):
            raise child.timeout(
                f"ffmpeg took longer than {_duration(limit_s)} {what} and was stopped: retry the job; if it happens "
                "again, the file may be damaged or its disk unresponsive.", limit_s)
    finally:
        child.kill()
    return subprocess.CompletedProcess(cmd, child.proc.returncode, "".join(child.stdout), child.text())


def out_seconds(key: str, value: str) -> float | None:
    """The output time a ``-progress`` line reports, in seconds: ``out_time_us=1500000`` or
    ``out_time=00:00:01.500000`` (None for other keys, and for ``N/A`` before the first frame)."""
    value = value.strip()
    if key == "out_time_us" and value.isdigit():
        return int(value) / 1e6
    if key == "out_time" and (m := re.fullmatch(r"(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", value)):
        seconds = int(m[2]) * 3600 + int(m[3]) * 60 + float(m[4])
        return 0.0 if m[1] else seconds
    return None


class _ProgressWatch:
    """Reads ``-progress`` lines (in the reader thread): how far ffmpeg got, and when that last moved.

    The fraction is the output time (``out_time_us``, or ``out_time`` where a build prints only that)
    over ``total_s``, never going back (the audio and video streams report in turns), and 1.0 at
    ``progress=end``. ffmpeg prints a progress block every half second even while stuck, so a hang
    shows as values that stop changing, not as silence.
    """

    def __init__(self, total_s: float | None):
        self.total_s = total_s
        self.fraction: float | None = None
        self.moved = time.monotonic()
        self._seen: dict[str, str] = {}

    def feed(self, line: str) -> None:
        key, _, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time", "total_size", "progress") and self._seen.get(key) != value:
            self._seen[key] = value
            self.moved = time.monotonic()
            if not self.total_s:
                return
            if key == "progress" and value == "end":
                self.fraction = 1.0
            elif (at := out_seconds(key, value)) is not None:
                self.fraction = max(self.fraction or 0.0, min(1.0, at / self.total_s))


def run(args: list[str], *, cwd: Path | None = None, total_s: float | None = None,
        progress: Callable[[float], None] | None = None, cancel: threading.Event | None = None,
        timeout_s: float | None = None, stall_s: float | None = None) -> str:
    """Run ffmpeg with ``-progress``; report 0..1 progress, stop on cancel; returns stderr.

    ``timeout_s`` defaults to ``RUN_BASE_S + RUN_PER_MEDIA_S * total_s`` (give ``total_s`` for any
    long run); ``stall_s`` (default STALL_S) is how long ffmpeg may go without its output time or
    size moving. Either raises :class:`FFmpegTimeout` after killing ffmpeg; cancel raises :class:`Cancelled`
    within about ``POLL_S`` even when ffmpeg prints nothing. ``progress`` is called in this thread.
    """
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled during ffmpeg.")
    limit = timeout_s if timeout_s is not None else RUN_BASE_S + RUN_PER_MEDIA_S * (total_s or 0.0)
    stall_s = stall_s if stall_s is not None else STALL_S
    watch = _ProgressWatch(total_s)
    reported = None

    def report() -> None:  # here, not in the reader thread: callers write it to their own db cursor
        nonlocal reported
        if progress and watch.fraction is not None and watch.fraction != reported:
            reported = watch.fraction
            progress(reported)

    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
           *args]
    name = Path(args[-1]).name if args else "output"
    child = _Child(cmd, cwd, on_stdout=watch.feed)
    try:
        while not child.wait(POLL_S):
            report()
            if cancel is not None and cancel.is_set():
                child.kill()
                raise Cancelled("Cancelled during ffmpeg.")
            if child.elapsed_s > limit:
                media = f" for {_duration(total_s)} of media" if total_s else ""
                raise child.timeout(
                    f"ffmpeg writing {name} was still running after {_duration(child.elapsed_s)} and was stopped "
                    f"(limit {_duration(limit)}{media}): retry the job; if it runs out of time again, the machine is "
                    "overloaded: lower the number of workers in Settings or make shorter videos.", limit)
            if time.monotonic() - watch.moved > stall_s:
                raise child.timeout(
                    f"ffmpeg writing {name} made no progress for {_duration(stall_s)} (the limit) and was stopped "
                    f"after running {_duration(child.elapsed_s)}: retry the job; if it hangs again, check the disk "
                    "has free space and the input files open in a player.", stall_s)
        report()
    finally:
        child.kill()  # a no-op once it exited; otherwise (an error in progress, Ctrl-C) it must not outlive us
    stderr = child.text()
    returncode = child.proc.returncode
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled during ffmpeg.")
    if returncode != 0:
        last = stderr.strip().splitlines()[-3:] or [f"exit code {returncode}"]
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


def probe(path: Path, *, timeout_s: float | None = None) -> StreamInfo:
    """Streams, codecs, size and duration of a media file; FFmpegTimeout past ``timeout_s`` (PROBE_S)."""
    limit = timeout_s if timeout_s is not None else PROBE_S
    proc = _capture([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], limit, f"to read {Path(path).name}")
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


def audio_stats(path: Path, noise_db: float = -45.0, min_silence_s: float = 1.5, *,
                duration_s: float | None = None, timeout_s: float | None = None) -> AudioStats:
    """Mean and peak level and the total length of silences longer than min_silence_s.

    The time limit defaults to ``STATS_BASE_S + STATS_PER_MEDIA_S * duration_s``; without
    ``duration_s`` the file is probed for it first. Past the limit: FFmpegTimeout.
    """
    if timeout_s is None:
        if duration_s is None:
            try:
                duration_s = probe(path).duration_s
            except FFmpegTimeout:
                raise
            except FFmpegError:  # unreadable: the run below reports it as silence, as it always has
                duration_s = 0.0
        timeout_s = STATS_BASE_S + STATS_PER_MEDIA_S * duration_s
    proc = _capture(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-vn",
         "-af", f"silencedetect=noise={noise_db}dB:d={min_silence_s},volumedetect", "-f", "null", "-"],
        timeout_s, f"to measure the audio of {Path(path).name}",
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
