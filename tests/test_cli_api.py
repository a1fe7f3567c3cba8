"""The CLI through the running workbench's API (pipeline.cli_api): while `streamlit run app.py` holds the database,
`python -m pipeline make/jobs/cancel/retry` go through /api/v1 with the operator's token and print what the
in-process path prints; without a token, or with a bad one, they say what to do (exit 3, exit 7).

The server is real (``serve`` from test_browser: streamlit on a free loopback port, one per module); the CLI runs
as a subprocess, as an operator runs it. Problem-to-exit-code mapping is checked against a loopback HTTP server.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conftest import OWNER_EMAIL, ROOT, sign_in_as

TOPIC = "Why octopuses are so smart"
OUTLINE = ("- Octopuses have nine brains: one central and one in each arm.\n"
           "- They solve puzzles and open screw-top jars.\n"
           "- They change colour in milliseconds to hide from predators.\n")
ENV = {"YTEMPIRE_BOOTSTRAP_TRENDS": "false"}
CLI_TIMEOUT_S = 300


def make_owner_token(data_dir: Path) -> str:
    """An owner and a personal API token on a data directory no server holds yet."""
    from pipeline.config import Settings
    from pipeline.workbench import Workbench

    wb = Workbench(Settings(data_dir=data_dir, bootstrap_trends=False), start_worker=False)
    try:
        sign_in_as(wb, "owner")
        return wb.acting(wb.access.cli_actor(OWNER_EMAIL, "cli")).tokens.create("test", 30)["token"]
    finally:
        wb.close()


def cli(*args: str, data_dir: Path, token: str | None = None, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("YTEMPIRE_API_URL", "YTEMPIRE_API_TOKEN")}
    env.update(YTEMPIRE_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", YTEMPIRE_BOOTSTRAP_TRENDS="false", **extra_env)
    if token is not None:
        env["YTEMPIRE_API_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_S)


# -- without a server: finding it, and what problems become -------------------------------------------------
def test_no_server_file_means_the_database_directly(tmp_path, monkeypatch):
    from pipeline.cli_api import announce, find_local_api, server_file
    from pipeline.config import Settings

    monkeypatch.delenv("YTEMPIRE_API_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    assert find_local_api(settings, "yte_x") is None
    announce(settings.data_dir, "http://127.0.0.1:1", pid=2**22 + 12345)  # no such process: a crashed server's
    assert server_file(settings.data_dir).exists()
    assert find_local_api(settings, "yte_x") is None
    announce(settings.data_dir, "http://127.0.0.1:1")  # this process: alive
    assert stat.S_IMODE(server_file(settings.data_dir).stat().st_mode) == 0o600
    api = find_local_api(settings, "yte_x")
    assert api is not None and api.url == "http://127.0.0.1:1"
    api.close()


def test_a_server_without_a_token_says_how_to_make_one(tmp_path, monkeypatch):
    from pipeline.cli_api import ApiError, find_local_api
    from pipeline.config import Settings

    monkeypatch.delenv("YTEMPIRE_API_TOKEN", raising=False)
    monkeypatch.setenv("YTEMPIRE_API_URL", "http://127.0.0.1:9")
    with pytest.raises(ApiError) as err:
        find_local_api(Settings(data_dir=tmp_path / "data"))
    assert err.value.code == 3
    assert "Account page" in str(err.value) and "export YTEMPIRE_API_TOKEN=" in str(err.value)
    monkeypatch.setenv("YTEMPIRE_API_URL", "ftp://example")
    with pytest.raises(ApiError) as err:
        find_local_api(Settings(data_dir=tmp_path / "data"), "yte_x")
    assert err.value.code == 2


class ProblemServer:
    """Answers every request with the status in its path as an RFC 9457 problem (GET /409 -> 409)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                status = int(self.path.rsplit("/", 1)[-1])
                body = json.dumps({"type": "https://ytempire.dev/problems/x", "title": "t", "status": status,
                                   "detail": f"detail of {status}"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/problem+json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("status,code", [(400, 2), (422, 2), (404, 2), (409, 2), (401, 7), (403, 7), (503, 3),
                                         (500, 1)])
def test_problems_become_the_cli_exit_codes_with_their_detail(status, code):
    from pipeline.cli_api import ApiError, LocalApi

    server = ProblemServer()
    try:
        with LocalApi(server.url, "yte_x") as api, pytest.raises(ApiError) as err:
            api.request("GET", f"/{status}", retry=False)
        assert err.value.code == code and f"detail of {status}" in str(err.value)
    finally:
        server.close()


def test_a_server_that_is_gone_is_exit_3():
    from pipeline.cli_api import ApiError, LocalApi
    from processes import free_port

    with LocalApi(f"http://127.0.0.1:{free_port()}", "yte_x") as api, pytest.raises(ApiError) as err:
        api.job(1)
    assert err.value.code == 3 and "did not answer" in str(err.value)


def test_users_token_create_list_revoke(tmp_path, capsys):
    """With the workbench stopped: a token is printed once, works, is listed without its secret, and revoked."""
    from pipeline.cli import main
    from pipeline.config import Settings
    from pipeline.workbench import Workbench

    data_dir = tmp_path / "data"
    make_owner_token(data_dir)
    args = ["--data-dir", str(data_dir)]
    assert main(["users", "token", "create", "n8n", "--days", "7", *args]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("yte_") and "shown only now" in err
    assert main(["users", "token", "list", "--json", *args]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["n8n", "test"] and token not in json.dumps(rows)
    made = rows[0]["id"]
    wb = Workbench(Settings(data_dir=data_dir, bootstrap_trends=False), start_worker=False)
    try:
        assert wb.tokens.actor(token).email == OWNER_EMAIL
    finally:
        wb.close()
    assert main(["users", "token", "revoke", str(made), *args]) == 0
    assert capsys.readouterr().out.strip() == f"token {made}: revoked"
    assert main(["users", "token", "create", "x", "--days", "0", *args]) == 2
    assert "1 to 365 days" in capsys.readouterr().err


# -- with the real workbench --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workbench_server(tmp_path_factory):
    from test_browser import serve

    root = tmp_path_factory.mktemp("cli-api")
    data_dir = root / "data"
    token = make_owner_token(data_dir)
    (root / "outline.txt").write_text(OUTLINE, encoding="utf-8")
    with serve(root, data_dir, **ENV) as srv:
        srv.token = token
        srv.outline = root / "outline.txt"
        srv.api = httpx.Client(base_url=f"{srv.url}/api/v1", headers={"authorization": f"Bearer {token}"},
                               timeout=30)
        assert srv.api.get("/me").status_code == 200  # the server's Workbench is open now: it holds the database
        yield srv
        srv.api.close()


@pytest.fixture(scope="module")
def api_make(workbench_server):
    srv = workbench_server
    run = cli("make", TOPIC, "--duration", "20", "--json", "--outline", str(srv.outline), data_dir=srv.data_dir,
              token=srv.token)
    return run


@pytest.fixture(scope="module")
def local_make(tmp_path_factory, workbench_server):
    """The same command in process, on a data directory no workbench holds: what the API path must match."""
    root = tmp_path_factory.mktemp("cli-local")
    run = cli("make", TOPIC, "--duration", "20", "--json", "--outline", str(workbench_server.outline),
              data_dir=root / "data")
    run.data_dir = root / "data"
    return run


@pytest.mark.slow
def test_the_server_announces_itself_owner_only(workbench_server):
    from pipeline.cli_api import server_file

    path = server_file(workbench_server.data_dir)
    said = json.loads(path.read_text())
    assert said["url"] == workbench_server.url and said["pid"] == workbench_server.proc.pid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    held = cli("users", "list", data_dir=workbench_server.data_dir)
    assert held.returncode == 3, held.stderr  # the database is the server's: only its API can act


@pytest.mark.slow
def test_make_goes_through_the_api_and_prints_the_in_process_object(workbench_server, api_make, local_make):
    from pipeline.cli import EXIT

    assert api_make.returncode == EXIT[json.loads(api_make.stdout)["status"]], api_make.stderr
    remote, local = json.loads(api_make.stdout), json.loads(local_make.stdout)
    job = workbench_server.api.get(f"/jobs/{remote['job_id']}").json()  # the server's worker made it
    assert job["topic"] == TOPIC and job["status"] == remote["status"] == local["status"] == "done"
    assert list(remote) == list(local)  # the same keys in the same order
    for key in ("cost_breakdown", "scenes", "fallbacks"):
        assert [list(x) for x in remote[key]] == [list(x) for x in local[key]], key
    assert [(c["stage"], c["provider"], list(c["units"])) for c in remote["cost_breakdown"]] == \
        [(c["stage"], c["provider"], list(c["units"])) for c in local["cost_breakdown"]]
    assert {k: type(v) for k, v in remote.items()} == {k: type(v) for k, v in local.items()}
    assert Path(remote["video"]).is_file() and str(workbench_server.data_dir) in remote["video"]
    assert remote["cost_usd"] == round(job["cost_usd"], 4)
    assert "publish done" in api_make.stderr  # the progress lines, as in process (stderr is not a terminal)


@pytest.mark.slow
def test_jobs_json_has_the_in_process_shape(workbench_server, api_make, local_make):
    remote = cli("jobs", "--json", data_dir=workbench_server.data_dir, token=workbench_server.token)
    local = cli("jobs", "--json", data_dir=local_make.data_dir)
    assert remote.returncode == local.returncode == 0, remote.stderr + local.stderr
    r, lo = json.loads(remote.stdout), json.loads(local.stdout)
    assert r and lo
    assert [list(x) for x in r[-1:]] == [list(x) for x in lo[-1:]]
    assert {k: type(v) for k, v in r[-1].items()} == {k: type(v) for k, v in lo[-1].items()}
    assert len(r[-1]["created_at"]) == len(lo[-1]["created_at"]) and "T" not in r[-1]["created_at"]
    text = cli("jobs", data_dir=workbench_server.data_dir, token=workbench_server.token)
    assert text.returncode == 0 and TOPIC in text.stdout


@pytest.mark.slow
def test_cancel_and_retry_go_through_the_api(workbench_server, api_make):
    srv = workbench_server
    job_id = srv.api.post("/jobs", json={"topic": "Cancel me through the API", "duration_s": 20}).json()["id"]
    run = cli("cancel", str(job_id), data_dir=srv.data_dir, token=srv.token)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() in (f"job {job_id}: cancelled", f"job {job_id}: cancel requested")
    deadline = time.monotonic() + 60
    while srv.api.get(f"/jobs/{job_id}").json()["status"] != "cancelled":
        assert time.monotonic() < deadline, "the job was not cancelled"
        time.sleep(0.5)
    run = cli("retry", str(job_id), data_dir=srv.data_dir, token=srv.token)
    assert run.returncode == 0 and run.stdout.startswith(f"job {job_id}: queued again"), run.stderr
    assert srv.api.get(f"/jobs/{job_id}").json()["status"] in ("queued", "running")
    srv.api.post(f"/jobs/{job_id}/cancel")
    done = json.loads(api_make.stdout)["job_id"]
    run = cli("retry", str(done), data_dir=srv.data_dir, token=srv.token)  # a done job: the engine's own words
    assert run.returncode == 2 and f"error: Job {done} is done: nothing to retry." in run.stderr
    run = cli("cancel", "999999", data_dir=srv.data_dir, token=srv.token)
    assert run.returncode == 2 and "999999" in run.stderr


@pytest.mark.slow
def test_review_publish_and_publish_go_through_the_api(workbench_server, api_make):
    srv = workbench_server
    job_id = json.loads(api_make.stdout)["job_id"]  # done, in the outbox: it may go out again
    run = cli("review", "publish", str(job_id), "--to", "outbox", data_dir=srv.data_dir, token=srv.token)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"job {job_id}: queued to publish to outbox (from publish)"
    deadline = time.monotonic() + 120
    while srv.api.get(f"/jobs/{job_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the publish did not run"
        time.sleep(0.5)
    run = cli("publish", str(job_id), data_dir=srv.data_dir, token=srv.token)  # the channel is not connected
    assert run.returncode == 2 and "not connected to YouTube" in run.stderr, run.stderr
    run = cli("publish", "999999", "--json", data_dir=srv.data_dir, token=srv.token)
    assert run.returncode == 2 and "999999" in run.stderr


@pytest.mark.slow
def test_without_a_token_or_with_a_bad_one_it_says_what_to_do(workbench_server):
    srv = workbench_server
    run = cli("jobs", "--json", data_dir=srv.data_dir)
    assert run.returncode == 3 and "Account page" in run.stderr and "export YTEMPIRE_API_TOKEN=" in run.stderr
    bad = "yte_AAAAAAAA_" + "a" * 43
    run = cli("jobs", data_dir=srv.data_dir, token=bad)
    assert run.returncode == 7 and "not known" in run.stderr, run.stderr
    run = cli("cancel", "1", "--token", bad, data_dir=srv.data_dir, token=srv.token)  # --token wins
    assert run.returncode == 7, run.stderr
    run = cli("jobs", "--as", "someone@example.com", data_dir=srv.data_dir, token=srv.token)
    assert run.returncode == 7 and OWNER_EMAIL in run.stderr


@pytest.mark.slow
def test_a_retried_create_is_one_job(workbench_server):
    from pipeline.cli_api import LocalApi

    with LocalApi(workbench_server.url, workbench_server.token) as api:
        first = api.create_job({"topic": "One job however often it is sent", "duration_s": 20}, key="cli-test-1")
        again = api.create_job({"topic": "One job however often it is sent", "duration_s": 20}, key="cli-test-1")
        assert first["id"] == again["id"]
        api.cancel(first["id"])


@pytest.mark.slow
def test_ctrl_c_stops_following_and_leaves_the_job_running(workbench_server):
    srv = workbench_server
    env = {k: v for k, v in os.environ.items() if k != "YTEMPIRE_API_URL"}
    env.update(YTEMPIRE_DATA_DIR=str(srv.data_dir), YTEMPIRE_API_TOKEN=srv.token, HF_HUB_OFFLINE="1")
    topic = "Followed then left alone"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "make", topic, "--duration", "20"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (found := srv.api.get("/jobs", params={"q": topic}).json()["items"]):
            assert time.monotonic() < deadline and proc.poll() is None, "the job was not queued"
            time.sleep(0.25)
        time.sleep(1.0)  # following now
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    job_id = found[0]["id"]
    assert proc.returncode == 130, err
    assert "keeps running in the workbench" in err and f"python -m pipeline cancel {job_id}" in err
    assert srv.api.get(f"/jobs/{job_id}").json()["status"] in ("queued", "running", "done", "held")
    srv.api.post(f"/jobs/{job_id}/cancel")


@pytest.mark.slow
def test_the_address_file_goes_when_the_server_stops(tmp_path):
    from pipeline.cli_api import server_file
    from test_browser import serve

    with serve(tmp_path, tmp_path / "data", **ENV) as srv:
        assert json.loads(server_file(srv.data_dir).read_text())["pid"] == srv.proc.pid
    assert not server_file(tmp_path / "data").exists()
