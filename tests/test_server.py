"""The network door (ui/server.py): which Host and Origin the workbench answers to.

The HostGuard middleware is driven as an ASGI app around a trivial inner app with Starlette's TestClient; the
slow tests start the real ``streamlit run app.py`` (st.App under uvicorn) and knock on it from outside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from conftest import ROOT
from processes import free_port, stop_group, wait_for_health
from ui.server import HostGuard, HostPolicy

PORT = 8501
START_TIMEOUT_S = 90


async def hello(request):
    return PlainTextResponse(f"hello {request.method}")


async def stream(websocket):
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


INNER = Starlette(routes=[Route("/", hello, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
                          WebSocketRoute("/_stcore/stream", stream)])


def client(address: str | None = "127.0.0.1", hosts=(), origins=(), machine_names=(), *, base: str | None = None):
    """A TestClient whose requests reach the guard as if the server listened on ``base`` (default :PORT)."""
    policy = HostPolicy.build(address, hosts, origins, machine_names=machine_names)
    return TestClient(HostGuard(INNER, policy), base_url=base or f"http://127.0.0.1:{PORT}")


def ws_opens(c: TestClient, host: str, origin: str | None = None) -> bool:
    headers = {"host": host} | ({"origin": origin} if origin else {})
    try:
        # TestClient's websockets ignore base_url: name the server (and so scope["server"]) in the URL.
        with c.websocket_connect(str(c.base_url).replace("http", "ws", 1) + "/_stcore/stream", headers=headers) as ws:
            return ws.receive_text() == "hello"
    except WebSocketDisconnect as exc:
        assert exc.code == 1008  # closed before accepting: uvicorn answers the handshake with 403
        return False


def test_a_foreign_host_is_refused_with_what_to_use_instead():
    r = client().get("/", headers={"host": "evil.example"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/plain")
    assert "'evil.example'" in r.text and "http://127.0.0.1:8501/" in r.text and "YTEMPIRE_ALLOWED_HOSTS" in r.text
    assert not ws_opens(client(), "evil.example")  # the websocket too, even with no Origin


@pytest.mark.parametrize("host", ["127.0.0.1:8501", "localhost:8501", "[::1]:8501", "LOCALHOST.:8501",
                                  "localhost", "127.0.0.1"])
def test_a_loopback_bind_answers_to_the_loopback_names_on_its_port_or_none(host):
    r = client().get("/", headers={"host": host})
    assert (r.status_code, r.text) == (200, "hello GET")


@pytest.mark.parametrize("host", ["localhost:3000", "127.0.0.1:80", "evil.example:8501", "127.0.0.1.evil.example",
                                  "user@localhost:8501", "localhost:8501/x", "localhost:port", ""])
def test_other_ports_and_malformed_hosts_are_refused(host):
    assert client().get("/", headers={"host": host}).status_code == 403


def test_a_request_without_host_is_refused():
    guard = HostGuard(INNER, HostPolicy.build("127.0.0.1"))
    assert guard.refusal({"type": "http", "method": "GET", "headers": [], "server": ("127.0.0.1", PORT)})


def test_the_websocket_refuses_another_local_page_and_accepts_its_own():
    c = client()
    assert not ws_opens(c, f"localhost:{PORT}", "http://localhost:3000")  # Streamlit alone lets this one in
    assert not ws_opens(c, f"localhost:{PORT}", f"http://127.0.0.1:{PORT}")  # same port, other name: not same origin
    assert not ws_opens(c, f"localhost:{PORT}", "null")  # a sandboxed frame or a file:// page
    assert ws_opens(c, f"localhost:{PORT}", f"http://localhost:{PORT}")
    assert ws_opens(c, f"127.0.0.1:{PORT}", f"http://127.0.0.1:{PORT}")
    assert ws_opens(c, f"127.0.0.1:{PORT}")  # no Origin: not a browser (curl, a script)


def test_unsafe_methods_need_a_same_origin_or_no_origin():
    c = client()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        foreign = c.request(method, "/", headers={"origin": "http://localhost:3000"})
        assert foreign.status_code == 403, method
        assert "'http://localhost:3000'" in foreign.text and "YTEMPIRE_ALLOWED_ORIGINS" in foreign.text
        assert c.request(method, "/", headers={"origin": f"http://127.0.0.1:{PORT}"}).status_code == 200
        assert c.request(method, "/").status_code == 200
    # A GET changes nothing, and a cross-origin page cannot read the answer: its Origin is not checked.
    assert c.get("/", headers={"origin": "http://localhost:3000"}).status_code == 200


def test_allowed_hosts_and_origins_extend_the_lists():
    plain = client()
    assert plain.get("/", headers={"host": "studio.example.com"}).status_code == 403
    c = client(hosts=["studio.example.com", "https://Tools.Example.com", "lan.example:8443"],
               origins=["https://studio.example.com", "http://tools.example.com:9000/"])
    for host in ("studio.example.com", "studio.example.com:8501", "tools.example.com", "lan.example:8443"):
        assert c.get("/", headers={"host": host}).status_code == 200, host
    assert c.get("/", headers={"host": "lan.example"}).status_code == 403  # that entry names its port
    assert c.get("/", headers={"host": "lan.example:8501"}).status_code == 403
    # A TLS reverse proxy passing the Host through: the browser's Origin is same-origin with it.
    assert ws_opens(c, "studio.example.com", "https://studio.example.com")
    # A proxy that rewrites Host to the loopback address needs the public origin listed.
    assert ws_opens(c, f"127.0.0.1:{PORT}", "https://studio.example.com")
    assert ws_opens(c, f"127.0.0.1:{PORT}", "http://tools.example.com:9000")
    assert not ws_opens(plain, f"127.0.0.1:{PORT}", "https://studio.example.com")
    assert not ws_opens(c, f"127.0.0.1:{PORT}", "http://studio.example.com")  # the scheme is part of an origin
    assert c.post("/", headers={"origin": "https://studio.example.com"}).status_code == 200


def test_bad_allowed_entries_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ytempire.server"):
        policy = HostPolicy.build("127.0.0.1", ["a b", "evil.example"], ["studio.example.com", "ftp://x.example"])
    assert "evil.example" in policy.names and "a b" not in policy.names and not policy.origins
    assert sum("ignoring" in r.message for r in caplog.records) == 3


def test_a_wildcard_bind_answers_to_the_machine_name_and_loopback_only():
    for wildcard in ("0.0.0.0", "::", None):
        c = client(wildcard, machine_names=["BuildBox", "192.0.2.7"])
        for host in ("buildbox:8501", "buildbox", "192.0.2.7:8501", "localhost:8501", "[::1]:8501"):
            assert c.get("/", headers={"host": host}).status_code == 200, (wildcard, host)
        assert c.get("/", headers={"host": "evil.example:8501"}).status_code == 403
        assert ws_opens(c, "buildbox:8501", "http://buildbox:8501")
        assert not ws_opens(c, "buildbox:8501", "http://localhost:3000")
        assert "http://buildbox:8501/" in c.get("/", headers={"host": "evil.example"}).text


def test_a_specific_address_answers_to_that_address_only():
    c = client("192.0.2.10", base="http://192.0.2.10:8501")
    assert c.get("/", headers={"host": "192.0.2.10:8501"}).status_code == 200
    assert c.get("/", headers={"host": "localhost:8501"}).status_code == 403
    v6 = client("::1", base="http://[::1]:8501")
    assert v6.get("/", headers={"host": "[::1]:8501"}).status_code == 200
    assert v6.get("/", headers={"host": "localhost:8501"}).status_code == 200  # ::1 is loopback


def test_each_refusal_is_logged_once_without_the_query_string(caplog):
    c = client()
    with caplog.at_level(logging.WARNING, logger="ytempire.server"):
        for _ in range(3):
            assert c.get("/?code=secret-oauth-code", headers={"host": "evil.example"}).status_code == 403
        assert not ws_opens(c, f"localhost:{PORT}", "http://localhost:3000")
        assert not ws_opens(c, f"localhost:{PORT}", "http://localhost:3000")
    lines = [r.getMessage() for r in caplog.records if r.name == "ytempire.server"]
    assert len(lines) == 2, lines
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert "'evil.example'" in lines[0] and "secret-oauth-code" not in "".join(lines)
    assert "websocket" in lines[1] and "'http://localhost:3000'" in lines[1]


def test_lifespan_passes_through():
    with client() as c:  # entering runs the lifespan through the guard
        assert c.get("/").status_code == 200


def test_app_py_is_discovered_as_an_st_app_guarded_by_config_toml_and_settings(tmp_path):
    """`streamlit run app.py` serves app.py's st.App; imported as `app`, it wires the guard from the config."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert (found.is_asgi_app, found.import_string) == (True, "app:app")
    probe = (
        "import runpy, streamlit as st\n"
        "from ui.server import HostGuard\n"
        "ns = runpy.run_path('app.py', run_name='app')\n"
        "app = ns['app']\n"
        "assert isinstance(app, st.App), app\n"
        "mw = app._user_middleware[0]\n"
        "assert mw.cls is HostGuard and app._user_lifespan is not None\n"
        "p = mw.kwargs['policy']\n"
        "print(p.primary, sorted(p.names), sorted(o[1] for o in p.origins))\n"
    )

    def serve(**env: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, YTEMPIRE_DATA_DIR=str(tmp_path / "data"), **env)
        env.pop("STREAMLIT_SERVER_ADDRESS", None)
        return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)

    out = serve(YTEMPIRE_ALLOWED_HOSTS="studio.example.com", YTEMPIRE_ALLOWED_ORIGINS="https://studio.example.com")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == ("127.0.0.1 ['127.0.0.1', '[::1]', 'localhost', 'studio.example.com'] "
                                         "['studio.example.com']")
    assert not (tmp_path / "data").exists(), "building the server must not open the workbench"
    # Settings that do not validate: the server still starts (the page explains), answering to its address only.
    out = serve(YTEMPIRE_ALLOWED_HOSTS="studio.example.com", YTEMPIRE_WORKERS="many")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "127.0.0.1 ['127.0.0.1', '[::1]', 'localhost'] []"
    assert "settings could not be read (ConfigError)" in out.stderr


# -- the real server ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def streamlit_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    """`streamlit run app.py` as `make run` starts it: no --server.address, so config.toml decides."""
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = dict(os.environ, YTEMPIRE_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    env.pop("STREAMLIT_SERVER_ADDRESS", None)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.headless", "true"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    tail = lambda: "\n".join(log.read_text(errors="replace").splitlines()[-40:])  # noqa: E731
    try:
        wait_for_health(proc, f"http://127.0.0.1:{port}", START_TIMEOUT_S, tail)
        yield proc, port, log
    finally:
        stop_group(proc)


def get(port: int, path: str, host: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def handshake(port: int, origin: str):
    """The open websocket to /_stcore/stream, or the HTTP status that refused it."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        return connect(f"ws://127.0.0.1:{port}/_stcore/stream", origin=origin, open_timeout=20)
    except InvalidStatus as exc:
        return exc.response.status_code


def listeners(proc: subprocess.Popen) -> set[tuple[str, int]]:
    import psutil

    root = psutil.Process(proc.pid)
    return {(c.laddr.ip, c.laddr.port) for p in [root, *root.children(recursive=True)]
            for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


@pytest.mark.slow
def test_streamlit_run_listens_on_loopback_and_refuses_foreign_hosts_and_origins(tmp_path):
    with streamlit_run(tmp_path) as (proc, port, log):
        assert listeners(proc) == {("127.0.0.1", port)}, "the workbench must listen on loopback only"
        status, body = get(port, "/", "evil.example")
        assert status == 403 and "YTEMPIRE_ALLOWED_HOSTS" in body, (status, body[:200])
        assert get(port, "/_stcore/health", f"127.0.0.1:{port}") == (200, "ok")
        assert get(port, "/_stcore/health", f"localhost:{port}") == (200, "ok")
        assert handshake(port, "http://localhost:3000") == 403
        ws = handshake(port, f"http://127.0.0.1:{port}")
        assert not isinstance(ws, int), f"the app's own page was refused: {ws}"
        ws.close()
        text = log.read_text(errors="replace")
        assert text.count("ytempire: refused") == 2, text  # once per (host, origin)


@pytest.mark.slow
def test_sigterm_closes_the_workbench_before_the_process_ends(tmp_path):
    """uvicorn re-raises SIGTERM after its shutdown, so atexit never runs: the st.App lifespan closes the Workbench."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    data = tmp_path / "data"
    with streamlit_run(tmp_path) as (proc, port, log):
        ws = handshake(port, f"http://127.0.0.1:{port}")
        assert not isinstance(ws, int), ws
        with ws:
            rerun = BackMsg()
            rerun.rerun_script.query_string = ""
            ws.send(rerun.SerializeToString())  # what a browser sends first: run app.py, which opens the Workbench
            deadline = time.monotonic() + 60
            while ForwardMsg.FromString(ws.recv(timeout=60)).WhichOneof("type") != "script_finished":
                assert time.monotonic() < deadline, "the page script did not finish"
        assert (data / "ytempire.duckdb.wal").exists(), "the workbench should hold the database open"
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    assert not (data / "ytempire.duckdb.wal").exists(), \
        f"the database was not closed cleanly on SIGTERM:\n{log.read_text(errors='replace')[-2000:]}"
