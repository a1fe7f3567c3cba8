"""Helpers for tests that start real servers: a free loopback port, and stopping a process group."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """Terminate a server started in its own process group (and any ffmpeg it started), then kill."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=15)


def wait_for_health(proc: subprocess.Popen, url: str, timeout_s: float, tail) -> None:
    """Wait until a just-started Streamlit answers ``url/_stcore/health``; fail the test (with the log's
    ``tail()``) if it exits first or does not answer in time."""
    import time
    import urllib.request

    import pytest

    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode} before answering:\n{tail()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"streamlit did not answer {url}/_stcore/health in {timeout_s} s:\n{tail()}")
        time.sleep(0.25)
