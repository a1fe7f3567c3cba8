"""A real loopback HTTP server for an ASGI app: uvicorn in a background thread, on a port the OS picks.

Tests of the API talk to it with httpx over TCP, so what they check is what a client gets on the wire
(status, headers, chunked or not, HEAD without a body), not what an in-process transport pretends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

START_TIMEOUT_S = 10.0


@contextmanager
def serve_asgi(app, timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (port 0: any free port) while the block runs; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="asgi-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"The test server did not start: {failure[0] if failure else 'it exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"The test server did not start within {timeout_s} s.")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
