"""The network door of the workbench: which Host and Origin the web server answers to.

``streamlit run app.py`` serves app.py's ``st.App`` through uvicorn with :class:`HostGuard` in front of
everything Streamlit serves. Streamlit's own websocket check lets any page on localhost, on any port, drive the
app, and accepts any Host header; the guard narrows that to the names of the configured address, so another
local web page (http://localhost:3000) or a DNS-rebinding page cannot reach the workbench:

- every HTTP and websocket request must carry an allowed ``Host`` (a name below, with the server's own port
  or with none, as a reverse proxy on 80/443 sends it);
- a websocket, and a POST/PUT/PATCH/DELETE, whose ``Origin`` is present must come from the same origin as
  its Host or from ``YTEMPIRE_ALLOWED_ORIGINS``. Clients that send no Origin (curl, health checks) pass.

Allowed names: the configured ``server.address``; with a loopback address also ``localhost``, ``127.0.0.1``
and ``[::1]``; with a wildcard (0.0.0.0, ::, unset) the loopback names, the machine's host name and the LAN
address Streamlit prints as its Network URL; plus ``YTEMPIRE_ALLOWED_HOSTS``. Both lists are read once, when
the server starts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from starlette.middleware import Middleware

    from pipeline.config import Settings

log = logging.getLogger("ytempire.server")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LOGGED = 256  # distinct (host, origin) pairs logged; a flood of made-up names cannot grow memory
MAX_ECHO = 120  # characters of a refused Host or Origin repeated in a message
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")

Scope = dict[str, Any]


def host_form(name: str) -> str:
    """A host name as a Host header spells it: lower case, no trailing dot, IPv6 in brackets."""
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        if ipaddress.ip_address(name).version == 6:
            return f"[{name}]"
    except ValueError:
        pass
    return name


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(name, port)`` from a Host header (or an allowed-hosts entry); None when it is not one."""
    try:
        parts = urlsplit(f"//{value.strip()}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None or parts.path \
            or parts.query or parts.fragment or not HOST_NAME.fullmatch(name := host_form(parts.hostname)):
        return None
    return name, port


def split_origin(value: str) -> tuple[str, str, int] | None:
    """``(scheme, name, port)`` of an http(s) origin, the port made explicit; None for anything else."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, name = parts.scheme.lower(), host_form(parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not HOST_NAME.fullmatch(name) or parts.username is not None \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, name, port if port is not None else DEFAULT_PORTS[scheme]


def is_loopback(address: str) -> bool:
    name = host_form(address).strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """The names and origins the workbench answers to, decided once at startup."""

    primary: str  # the name to suggest in a refusal
    names: frozenset[str]  # accepted with the server's own port or with no port
    names_with_port: frozenset[tuple[str, int]]  # allowed-hosts entries that name a port
    origins: frozenset[tuple[str, str, int]]  # cross origins allowed besides same-origin

    @classmethod
    def build(cls, address: str | None, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = (),
              *, machine_names: Iterable[str] = ()) -> HostPolicy:
        """From ``server.address`` (None: unset, Streamlit's wildcard) and Settings' extra hosts and origins.

        ``machine_names`` are the names a wildcard bind also answers to (host name, LAN address).
        """
        bound = host_form(address or "")
        names: list[str] = []
        if bound in WILDCARDS:
            names += [host_form(n) for n in machine_names if n]
            names += LOOPBACK_NAMES
        else:
            names.append(bound)
            if is_loopback(bound):
                names += LOOPBACK_NAMES
        with_port: set[tuple[str, int]] = set()
        for entry in allowed_hosts:
            parsed = split_host(urlsplit(entry).netloc if "://" in entry else entry)
            if parsed is None:
                log.warning("ytempire: ignoring allowed host %r: not a host name (e.g. studio.example.com)", entry)
            elif parsed[1] is None:
                names.append(parsed[0])
            else:
                with_port.add((parsed[0], parsed[1]))
        origins: set[tuple[str, str, int]] = set()
        for entry in allowed_origins:
            if (parsed_origin := split_origin(entry)) is not None:
                origins.add(parsed_origin)
            else:
                log.warning("ytempire: ignoring allowed origin %r: not an http(s) origin such as "
                            "https://studio.example.com", entry)
        return cls(names[0], frozenset(names), frozenset(with_port), frozenset(origins))

    def host_allowed(self, host: tuple[str, int | None], server_port: int | None) -> bool:
        name, port = host
        if name in self.names and (port is None or server_port is None or port == server_port):
            return True
        return port is not None and (name, port) in self.names_with_port

    def origin_allowed(self, origin: tuple[str, str, int], host: tuple[str, int | None]) -> bool:
        scheme, name, port = origin
        if name == host[0] and port == (host[1] if host[1] is not None else DEFAULT_PORTS[scheme]):
            return True  # same origin: the page was served under the Host it now talks to
        return origin in self.origins


class HostGuard:
    """Pure ASGI middleware: refuse requests whose Host or Origin is not the workbench's own (see module doc)."""

    def __init__(self, app: Any, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy
        self._logged: set[tuple[str, str]] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        self._log(scope, reason)
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with HTTP 403.
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
            return
        body = reason.encode()
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> str | None:
        """None when the request may pass, else the plain-text message that refuses it."""
        raw_host, raw_origin = header(scope, b"host"), header(scope, b"origin")
        server = scope.get("server")
        server_port = int(server[1]) if server and len(server) > 1 and server[1] is not None else None
        host = split_host(raw_host) if raw_host is not None else None
        if host is None or not self.policy.host_allowed(host, server_port):
            port = f":{server_port}" if server_port else ""
            names = ", ".join(sorted(self.policy.names))
            return (f"This workbench does not answer to the host name {echo(raw_host)}. "
                    f"Open http://{self.policy.primary}{port}/ instead (it answers to {names}). "
                    "To allow another name on purpose, list it in YTEMPIRE_ALLOWED_HOSTS (comma separated) "
                    "and restart the workbench.\n")
        if raw_origin is None or (scope["type"] == "http" and scope.get("method") not in UNSAFE_METHODS):
            return None
        origin = split_origin(raw_origin)
        if origin is not None and self.policy.origin_allowed(origin, host):
            return None
        return (f"This workbench refuses requests made by the web page at {echo(raw_origin)}: only its own pages "
                f"(served as {raw_host}) may drive it. To allow that page on purpose, list its origin in "
                "YTEMPIRE_ALLOWED_ORIGINS (comma separated, e.g. https://studio.example.com) and restart the "
                "workbench.\n")

    def _log(self, scope: Scope, reason: str) -> None:
        key = (echo(header(scope, b"host")), echo(header(scope, b"origin")))
        if key in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(key)
        client = scope.get("client") or ("?",)
        # The path without its query string: a query can carry an OAuth code or a token.
        log.warning("ytempire: refused %s %s from %s (Host %s, Origin %s): %s",
                    "websocket" if scope["type"] == "websocket" else scope.get("method", "?"),
                    echo(scope.get("path", "")), client[0], key[0], key[1], reason.split(". ")[0])


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def echo(value: str | None) -> str:
    """A header value safe to repeat in a message or a log line: quoted, printable, short."""
    if value is None:
        return "(none)"
    text = "".join(ch if ch.isprintable() else "?" for ch in value[:MAX_ECHO])
    return repr(text + ("…" if len(value) > MAX_ECHO else ""))


def machine_names() -> list[str]:
    """What a wildcard bind answers to besides loopback: the host name and the LAN address Streamlit prints."""
    from streamlit import net_util  # sends nothing: it reads the route a UDP socket would take

    return [n for n in (socket.gethostname(), net_util.get_internal_ip()) if n]


def guard_middleware(settings: Settings | None = None) -> list[Middleware]:
    """The middleware app.py's st.App runs first: a HostGuard for this server's address and settings.

    Reads Streamlit's ``server.address`` (config.toml, STREAMLIT_SERVER_ADDRESS, --server.address) and
    Settings' allowed hosts and origins once, at startup.
    """
    from starlette.middleware import Middleware
    from streamlit import config

    from pipeline.config import load_settings

    hosts: list[str] = []
    origins: list[str] = []
    try:
        settings = settings or load_settings()
        hosts, origins = settings.allowed_hosts, settings.allowed_origins
    except Exception as exc:  # noqa: BLE001 - the page run reports bad settings; the door stays narrow
        log.warning("ytempire: settings could not be read (%s); the workbench answers only to its own address",
                    type(exc).__name__)
    address = config.get_option("server.address")
    wildcard = host_form(address or "") in WILDCARDS
    policy = HostPolicy.build(address, hosts, origins, machine_names=machine_names() if wildcard else ())
    return [Middleware(HostGuard, policy=policy)]


def route_every_session_through_app() -> None:
    """Every session runs app.py, never a file of pages/ on its own.

    Streamlit still treats a ``pages/`` folder beside the main script as a version-1 multipage app
    until some session calls ``st.navigation``: in a fresh server, a first visit to a deep link such as
    /settings ran pages/settings.py by itself, skipping app.py (its start-up checks, the OAuth
    redirect, and any gate put there), under a sidebar of file names. app.py always routes with
    ``st.navigation``, so say so before the first session."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


@asynccontextmanager
async def release_workbench(_app: Any) -> AsyncIterator[None]:
    """st.App lifespan: close the one Workbench when the server shuts down.

    uvicorn answers SIGTERM by shutting down and then raising SIGTERM again with the default handler, which
    ends the process before atexit runs; closing here lets running jobs stop at a checkpoint and closes the
    database cleanly, as plain `streamlit run` did through atexit. The Workbench is opened when the server starts,
    so its worker and webhook deliveries run without waiting for someone to open a page. While it serves, ``<data dir>/run/server.json``
    says where (pipeline.cli_api): the CLI goes through this process's API instead of refusing.
    """
    from pipeline.cli_api import announce_server

    from ui.state import shared_workbench

    from streamlit import config

    withdraw = announce_server(config.get_option("server.address"), config.get_option("server.port"))
    try:  # open it now, not at the first page view: queued jobs resume and waiting webhooks go out after a restart
        await asyncio.to_thread(shared_workbench)
    except Exception as exc:  # noqa: BLE001 - a held database or a bad setting: the first page says what to fix
        log.warning("the workbench did not open at start (%s: %s); pages will say why", type(exc).__name__, exc)
    yield
    withdraw()

    await asyncio.to_thread(shared_workbench.clear)  # on_release closes it; a job may take a moment to stop
