"""ffmpeg calls cannot hang a worker: time limits, a stall limit, cancel on a timer, no orphans.

The hanging "ffmpeg" is a shell script in tmp_path that writes its pid, maybe prints, then
``exec sleep``s (exec, so the pid that run() kills is the one that sleeps).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from pipeline.media import ffmpeg
from pipeline.worker import describe

ROOT = Path(__file__).resolve().parents[1]

SILENT = ""
ONE_LINE = "echo out_time_us=0; echo total_size=0; echo progress=continue"
# What ffmpeg 7+ does when stuck: the same progress block, twice a second, forever.
REPEATING = "while true; do echo out_time_us=500000; echo total_size=48; echo progress=continue; sleep 0.1; done"
MOVING = "i=0; while true; do i=$((i+100000)); echo out_time_us=$i; echo progress=continue; sleep 0.1; done"


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # killed; reaping is init's job
    except psutil.NoSuchProcess:
        return True


def _wait_dead(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not _dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Fake:
    def __init__(self, folder: Path, body: str):
        self.pidfile = folder / "fake.pid"
        self.exe = folder / "fake-ffmpeg"
        # For a loop body the pid written is the shell's own, which is the pid run() started.
        tail = "exec sleep 300" if body in (SILENT, ONE_LINE) else ""
        self.exe.write_text(f'#!/bin/sh\necho $$ > "{self.pidfile}.tmp"; mv "{self.pidfile}.tmp" "{self.pidfile}"\n'
                            f"{body}\n{tail}\n")
        self.exe.chmod(0o755)

    def pid(self, within_s: float = 10.0) -> int:
        deadline = time.monotonic() + within_s
        while not self.pidfile.exists():
            assert time.monotonic() < deadline, "the fake ffmpeg never started"
            time.sleep(0.02)
        return int(self.pidfile.read_text())


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Make ffmpeg_exe() a hanging script; whatever it started is killed at teardown, pass or fail."""
    made: list[Fake] = []

    def make(body: str = SILENT) -> Fake:
        f = Fake(tmp_path, body)
        monkeypatch.setattr(ffmpeg, "ffmpeg_exe", lambda: str(f.exe))
        made.append(f)
        return f

    yield make
    for f in made:
        if f.pidfile.exists():
            try:
                os.kill(int(f.pidfile.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.mark.timeout(60)
@pytest.mark.parametrize("body", [SILENT, ONE_LINE, REPEATING], ids=["silent", "one-line", "repeating"])
def test_a_hung_ffmpeg_is_killed_at_the_stall_limit(fake, tmp_path, body):
    f = fake(body)
    with pytest.raises(ffmpeg.FFmpegTimeout) as caught:
        ffmpeg.run(["out.wav"], cwd=tmp_path, total_s=10, timeout_s=60, stall_s=1.0)
    assert _wait_dead(f.pid())
    message = str(caught.value)
    assert "made no progress for 1.0 s" in message and "retry the job" in message
    assert caught.value.limit_s == 1.0 and caught.value.elapsed_s >= 1.0
    assert isinstance(caught.value, ffmpeg.FFmpegError)  # the worker's one FFmpegError path stores it
    assert "no progress" in describe(caught.value)


@pytest.mark.timeout(60)
def test_an_ffmpeg_that_progresses_forever_meets_the_overall_limit(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(ffmpeg, "RUN_BASE_S", 0.5)
    monkeypatch.setattr(ffmpeg, "RUN_PER_MEDIA_S", 0.5)
    f = fake(MOVING)
    seen = []
    with pytest.raises(ffmpeg.FFmpegTimeout) as caught:
        ffmpeg.run(["out.wav"], cwd=tmp_path, total_s=2, progress=seen.append, stall_s=30)
    assert _wait_dead(f.pid())
    assert caught.value.limit_s == 1.5  # base + per-second factor times the media length
    assert "still running after" in str(caught.value) and "for 2.0 s of media" in str(caught.value)
    assert seen and seen == sorted(seen)  # it did report progress while it ran


@pytest.mark.timeout(60)
def test_cancel_stops_a_silent_hung_ffmpeg_promptly(fake, tmp_path):
    f = fake(SILENT)
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            ffmpeg.run(["out.wav"], cwd=tmp_path, total_s=10, cancel=cancel, timeout_s=120, stall_s=120)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    pid = f.pid()
    cancel.set()
    thread.join(timeout=10)  # far below both limits: only the cancel can have stopped it
    assert not thread.is_alive(), "run() did not notice the cancel"
    assert len(outcome) == 1 and isinstance(outcome[0], ffmpeg.Cancelled)
    assert _wait_dead(pid)


@pytest.mark.timeout(60)
def test_probe_and_audio_stats_time_out_instead_of_hanging(fake, tmp_path, monkeypatch):
    f = fake(SILENT)
    media = tmp_path / "video.mp4"
    media.write_bytes(b"")
    with pytest.raises(ffmpeg.FFmpegTimeout, match="longer than 1.0 s to read video.mp4"):
        ffmpeg.probe(media, timeout_s=1)
    assert _wait_dead(f.pid())
    f.pidfile.unlink()
    with pytest.raises(ffmpeg.FFmpegTimeout, match="to measure the audio of video.mp4"):
        ffmpeg.audio_stats(media, duration_s=1, timeout_s=1)
    assert _wait_dead(f.pid())
    f.pidfile.unlink()
    # No duration given: it probes first, and that probe is bounded too.
    monkeypatch.setattr(ffmpeg, "PROBE_S", 1.0)
    with pytest.raises(ffmpeg.FFmpegTimeout, match="to read video.mp4"):
        ffmpeg.audio_stats(media)
    assert _wait_dead(f.pid())


CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from pipeline.media import ffmpeg
ffmpeg.ffmpeg_exe = lambda: sys.argv[2]
ffmpeg.run(["out.wav"], total_s=10, timeout_s=120, stall_s=120)
"""


@pytest.mark.timeout(60)
def test_ffmpeg_dies_with_the_process_that_started_it(fake, tmp_path):
    f = fake(SILENT)
    parent = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT), str(f.exe)], cwd=tmp_path)
    try:
        pid = f.pid(within_s=30)
        assert psutil.Process(pid).ppid() == parent.pid  # the shim became ffmpeg: no extra process between
        os.kill(parent.pid, signal.SIGKILL)  # a crash: no finally, no cleanup runs
        parent.wait(timeout=10)
        assert _wait_dead(pid), "ffmpeg outlived the process that started it"
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.timeout(60)
def test_a_real_short_run_reports_progress_to_the_end(tmp_path):
    out = tmp_path / "out.wav"
    seen = []
    caller = threading.get_ident()
    threads = set()

    def progress(fraction: float) -> None:
        seen.append(fraction)
        threads.add(threading.get_ident())

    ffmpeg.run(["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1", str(out)], total_s=1, progress=progress,
               timeout_s=60, stall_s=30)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert threads == {caller}  # callbacks come in the calling thread, not the pipe readers
    assert ffmpeg.probe(out).duration_s == pytest.approx(1.0, abs=0.05)
    assert ffmpeg.audio_stats(out).duration_s == pytest.approx(1.0, abs=0.05)


def test_a_failing_ffmpeg_is_still_a_plain_error(tmp_path):
    with pytest.raises(ffmpeg.FFmpegError) as caught:
        ffmpeg.run(["-i", str(tmp_path / "missing.wav"), str(tmp_path / "out.wav")], timeout_s=60)
    assert not isinstance(caught.value, ffmpeg.FFmpegTimeout)
    assert "missing.wav" in str(caught.value)
