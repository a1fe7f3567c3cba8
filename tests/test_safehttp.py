"""Outbound HTTP to addresses operators name: one deadline for the whole exchange, and the checked address is the
connected one (pipeline/safehttp.py, used by webhook deliveries and source fetching)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from pipeline.safehttp import AddressRefused, deadline, guarded_client


class Trickle:
    """A loopback server that answers one byte every ``gap_s`` (headers included), forever."""

    def __init__(self, gap_s: float = 0.2):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.gap_s, self.hits = gap_s, 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/page"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if self._stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self.gap_s)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def test_a_trickling_server_is_cut_off_at_the_deadline():
    server = Trickle()
    try:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException), deadline(1.0), guarded_client(None, timeout=5) as client:
            client.get(server.url)
        assert time.monotonic() - started < 2.5  # each read was quick; the whole exchange was not
    finally:
        server.close()


def test_a_source_that_trickles_fails_within_its_timeout():
    from pipeline.sources import SourceFetchError, _fetch

    server = Trickle()
    try:
        started = time.monotonic()
        with pytest.raises(SourceFetchError, match="did not answer within"):
            _fetch(server.url, 1.0, allow_private=True)
        assert time.monotonic() - started < 2.5
    finally:
        server.close()


class Hits(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        Hits.hits.append(self.path)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_a_name_that_changes_its_answer_cannot_reach_a_private_address(monkeypatch):
    """DNS rebinding: the name answers a public address first and 127.0.0.1 after. The address is resolved once,
    where the connection is made, so the loopback server is never reached (nor would a check-then-connect be)."""
    from pipeline.sources import private_reason

    inner = ThreadingHTTPServer(("127.0.0.1", 0), Hits)
    threading.Thread(target=inner.serve_forever, daemon=True).start()
    port = inner.server_address[1]
    real = socket.getaddrinfo
    answers = ["203.0.113.7", "127.0.0.1", "127.0.0.1"]  # TEST-NET-3: public-looking, unroutable here
    calls = []

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":
            calls.append(host)
            address = answers[min(len(calls) - 1, len(answers) - 1)]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    Hits.hits = []
    try:
        with pytest.raises(httpx.HTTPError), deadline(3), guarded_client(private_reason, timeout=2) as client:
            client.get(f"http://rebind.example:{port}/admin")
        assert Hits.hits == [] and len(calls) == 1
        # Answering the private address at once is refused, naming it.
        calls.clear()
        answers[0] = "127.0.0.1"
        with pytest.raises(AddressRefused, match="127.0.0.1"), guarded_client(private_reason) as client:
            client.get(f"http://rebind.example:{port}/admin")
        assert Hits.hits == []
    finally:
        inner.shutdown()
        inner.server_close()


@pytest.mark.parametrize("text", ["2002:7f00:1::", "2002:a00:1::", "::ffff:127.0.0.1",
                                  "2001:0:4136:e378:8000:63bf:f5ff:fffe"])  # 6to4, mapped, Teredo (10.0.0.1)
def test_ipv6_forms_that_carry_a_private_ipv4_are_refused_for_webhooks(text):
    from pipeline.webhooks import refused_address

    assert refused_address(ipaddress.ip_address(text)) is not None


def test_a_public_ipv6_address_passes():
    from pipeline.webhooks import refused_address

    assert refused_address(ipaddress.ip_address("2606:4700:4700::1111")) is None
