"""Outbound HTTP to addresses the operator names (webhook receivers, source pages): checked where it connects,
and bounded in total time.

Two gaps plain httpx leaves, closed at httpcore's network layer (the one place every connection, redirects and
reused keep-alive connections included, passes through):

- **The checked address is the connected one.** A check before the request (an event hook resolving the name)
  and the connection resolve the name separately, so a name that answers a public address first and 127.0.0.1
  next (DNS rebinding) slips through. :class:`GuardedBackend` resolves once, refuses when any address is one
  the policy forbids, and connects to the address it checked; TLS still names the host (SNI, certificate).
- **A deadline for the whole exchange.** httpx's timeouts are per read: a server sending one byte a second never
  trips them and holds the thread for as long as it likes. Every read and write made inside :func:`deadline`
  waits at most what is left of it, then fails as a timeout.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpcore
import httpx
from httpcore._backends.sync import SyncStream

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("ytempire_http_deadline", default=None)

Policy = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], str | None]  # why refused, or None


class AddressRefused(httpx.ConnectError):
    """The name resolved to an address the policy forbids; the message says which and why."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything sent and read in this block, on this thread, ends within ``seconds`` (httpx.TimeoutException)."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None, kind: type[Exception]) -> float | None:
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise kind("the whole exchange took longer than its deadline")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                    _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve, check every address against ``policy`` (None: any address), connect to a checked one."""

    def __init__(self, policy: Policy | None = None):
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from None
        addresses = []
        for family, _, _, _, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            why = self.policy(address) if self.policy else None
            if why:
                raise AddressRefused(f"{host} resolves to {address}, {why}")
            addresses.append((family, sockaddr))
        last: Exception | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for option in socket_options or ():
                    sock.setsockopt(*option)
                return DeadlineStream(SyncStream(sock))
            except TimeoutError:
                sock.close()
                raise httpcore.ConnectTimeout(f"{host}:{port} did not answer in time") from None
            except OSError as exc:
                sock.close()
                last = exc
        raise httpcore.ConnectError(f"could not connect to {host}:{port} ({last})")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def guarded_client(policy: Policy | None, **options: Any) -> httpx.Client:
    """An httpx.Client whose every connection goes through :class:`GuardedBackend` (no proxies from the
    environment: the checked address must be the one connected to)."""
    transport = httpx.HTTPTransport(retries=0)
    # httpx takes no network backend; its pool does (httpcore's documented extension point for connections).
    transport._pool._network_backend = GuardedBackend(policy)  # noqa: SLF001
    return httpx.Client(transport=transport, trust_env=False, **options)
