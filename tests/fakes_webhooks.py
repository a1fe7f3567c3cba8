"""A loopback webhook receiver: records every request, answers as told (fail N times, 410, 429 with Retry-After,
hang), 200 otherwise."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b"ok"


class Receiver:
    """``url`` is where it listens. ``fail(times, status)`` queues answers; ``always(status)`` sets the default."""

    def __init__(self):
        self.requests: list[Received] = []
        self._plan: list[Answer] = []
        self._default = Answer()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    answer = receiver._plan.pop(0) if receiver._plan else receiver._default
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body))
                    receiver._arrived.notify_all()
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                try:
                    self.send_response(answer.status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):  # the sender gave up waiting
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def fail(self, times: int = 1, status: int = 500, headers: dict | None = None, delay_s: float = 0.0) -> None:
        with self._lock:
            self._plan.extend(Answer(status, dict(headers or {}), delay_s) for _ in range(times))

    def always(self, status: int = 200, headers: dict | None = None, delay_s: float = 0.0) -> None:
        with self._lock:
            self._default = Answer(status, dict(headers or {}), delay_s)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` requests have arrived (or the timeout); returns what arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count and time.monotonic() < deadline:
                self._arrived.wait(max(0.0, deadline - time.monotonic()))
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
