"""The CLI's way into a running workbench: its address file, and a small client of its ``/api/v1``.

DuckDB has one writer: while ``streamlit run app.py`` holds the database, ``python -m pipeline make``, ``jobs``,
``cancel``, ``retry``, ``publish`` and ``review publish`` talk to that process instead of refusing. The server
writes ``<data dir>/run/server.json`` (its URL and pid) when it starts and removes it when it stops; the CLI
reads it (``YTEMPIRE_API_URL`` overrides it) and signs in with the operator's personal API token
(``--token``, else ``YTEMPIRE_API_TOKEN``).

Problems (RFC 9457) become the CLI's exit codes, with the problem's ``detail`` as the message: 2 for a refusal
or bad input (400, 404, 409, 413, 422: what the in-process path says with 2 too), 7 not allowed (401, 403),
3 unreachable or busy (502-504, a lost connection), 1 anything else (a 500: the workbench's log says why).
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger("ytempire.cli")

URL_ENV = "YTEMPIRE_API_URL"
TOKEN_ENV = "YTEMPIRE_API_TOKEN"
SERVER_FILE = Path("run") / "server.json"
MAX_SERVER_FILE = 4096  # bytes: the file holds a URL, a pid and a time
MAX_URL = 500
MAX_ANSWER = 32 << 20  # a JSON answer larger than this is refused (the largest, a job with its scenes, is ~100 KB)
TIMEOUT_S = 30.0
ATTEMPTS = 4  # a GET or an idempotent POST is sent again this many times in all after a lost connection
MAX_WAIT_S = 60.0  # the longest Retry-After honoured before giving up
PAGE = 200  # the API's largest page
EXIT_BY_STATUS = {400: 2, 404: 2, 409: 2, 413: 2, 422: 2, 401: 7, 403: 7, 502: 3, 503: 3, 504: 3}


class ApiError(Exception):
    """A call the CLI cannot complete; ``code`` is its exit code, the message says what to do."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# -- the server's address file -----------------------------------------------------------------------------
def server_file(data_dir: Path) -> Path:
    return Path(data_dir) / SERVER_FILE


def announce(data_dir: Path, url: str, pid: int | None = None) -> Path:
    """Write the address file atomically (a reader sees the old file or the new one), readable by its owner
    only: it says where the workbench listens, which is nobody else's business on a shared machine."""
    from pipeline.files import private_dir

    path = server_file(data_dir)
    private_dir(path.parent)
    body = json.dumps({"url": url, "pid": pid or os.getpid(),
                       "started_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    os.replace(tmp, path)
    return path


def withdraw(data_dir: Path, pid: int | None = None) -> None:
    """Remove the address file if it is still this process's (a second server may have announced itself since)."""
    path = server_file(data_dir)
    said = read_server_file(path)
    if said is not None and said.get("pid") == (pid or os.getpid()):
        path.unlink(missing_ok=True)


def announce_server(address: str, port: int):
    """For the st.App lifespan (ui/server.py passes Streamlit's configured address and port): announce this server
    and return the function that withdraws it at shutdown. Never raises: a workbench without the file still
    serves, the CLI just cannot find it (it then says the database is held)."""
    try:
        from pipeline.config import load_settings

        address = str(address or "").strip()
        if address in ("", "0.0.0.0", "::", "[::]"):
            address = "127.0.0.1"  # a wildcard bind answers on loopback too, and that is where the CLI is
        elif ":" in address and not address.startswith("["):
            address = f"[{address}]"
        data_dir = load_settings().data_dir
        announce(data_dir, f"http://{address}:{int(port)}")
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("ytempire: could not write the server address file (%s); the CLI will not find this server",
                    exc)
        return lambda: None

    def stop() -> None:
        try:
            withdraw(data_dir)
        except OSError as exc:
            log.warning("ytempire: could not remove %s: %s", server_file(data_dir), exc)
    return stop


def read_server_file(path: Path) -> dict | None:
    """The address file's contents, or None when it is missing, too large or not what the server writes."""
    try:
        if path.stat().st_size > MAX_SERVER_FILE:
            return None
        said = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(said, dict) or not isinstance(said.get("url"), str) or not isinstance(said.get("pid"), int):
        return None
    return said


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def find_local_api(settings, token: str | None = None) -> LocalApi | None:
    """The running workbench's API for this data directory, or None when none runs (the CLI then opens the
    database itself). A workbench found without a token is an ApiError (exit 3) saying how to make one."""
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        said = read_server_file(server_file(settings.data_dir))
        if said is None or not alive(said["pid"]):
            return None  # none announced, or a crashed one's leftover file
        url = said["url"]
    if len(url) > MAX_URL or not url.lower().startswith(("http://", "https://")):
        raise ApiError(f"{URL_ENV} (or {server_file(settings.data_dir)}) is not an http(s) URL of at most "
                       f"{MAX_URL} characters: set it to the workbench's address, e.g. http://127.0.0.1:8501.", 2)
    token = (token or os.environ.get(TOKEN_ENV, "")).strip()
    if not token:
        raise ApiError(f"the workbench is running at {url} and holds the database, so this command goes through its "
                       "API, which needs your personal API token: make one on the Account page (API tokens), then "
                       f"`export {TOKEN_ENV}=yte_...` (or pass --token). Or stop the workbench first.", 3)
    return LocalApi(url, token)


def add_token_option(parser) -> None:
    """``--token``: the personal API token used when the running workbench holds the database."""
    parser.add_argument("--token", dest="api_token", metavar="YTE_TOKEN", default=None,
                        help="personal API token for the running workbench (default: $YTEMPIRE_API_TOKEN; make one "
                             "on the Account page). Prefer the variable: other users can see a command line")


def local_api(args) -> LocalApi | None:
    """The running workbench's API when one serves this data directory (pipeline.cli_api), else None. With
    ``--as``, the token must act as that account: a token cannot be lent to someone else."""
    from pipeline.config import load_settings

    api = find_local_api(load_settings(args.data_dir), getattr(args, "api_token", None))
    if api is not None and getattr(args, "as_email", None):
        me = api.request("GET", "/me")
        if me["email"].lower() != args.as_email.strip().lower():
            api.close()
            raise ApiError(f"the API token acts as {me['email']}, not {args.as_email.strip().lower()}: leave out "
                           "--as, or use a token of that account.", 7)
    return api


# -- the client --------------------------------------------------------------------------------------------
class LocalApi:
    """The calls the CLI makes, each returning the answer's JSON or raising ApiError."""

    def __init__(self, url: str, token: str, timeout_s: float = TIMEOUT_S):
        import httpx

        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=timeout_s,
                                    headers={"authorization": f"Bearer {token}", "accept": "application/json",
                                             "user-agent": "ytempire-cli"})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LocalApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, body: Any = None, params: Any = None, key: str | None = None,
                retry: bool | None = None) -> Any:
        """One call; a GET, or a POST with an Idempotency-Key, is sent again after a lost connection, a 409
        "still running" or a 429/503 with Retry-After (so a retried make never queues a second job)."""
        import httpx

        headers = {"idempotency-key": key} if key else {}
        retry = method == "GET" or key is not None if retry is None else retry
        for attempt in range(1, ATTEMPTS + 1):
            try:
                r = self._client.request(method, path, json=body, params=params, headers=headers)
            except httpx.TransportError as exc:
                if retry and attempt < ATTEMPTS and not isinstance(exc, httpx.ConnectError):
                    time.sleep(attempt)
                    continue
                raise ApiError(f"the workbench at {self.url} did not answer ({type(exc).__name__}): is it still "
                               "running? Start it again, or stop it and run the command again to use the database "
                               "directly.", 3) from None
            wait = _retry_after(r)
            if wait is not None and (retry or r.status_code == 429) and attempt < ATTEMPTS:
                time.sleep(wait)
                continue
            return _answer(r)
        raise AssertionError("unreachable")

    def create_job(self, body: dict, key: str) -> dict:
        return self.request("POST", "/jobs", body=body, key=key)

    def job(self, job_id: int) -> dict:
        return self.request("GET", f"/jobs/{int(job_id)}")

    def jobs(self, limit: int) -> list[dict]:
        """The newest ``limit`` jobs, page by page."""
        rows: list[dict] = []
        cursor = None
        while len(rows) < limit:
            params = {"limit": min(PAGE, limit - len(rows))}
            if cursor:
                params["cursor"] = cursor
            page = self.request("GET", "/jobs", params=params)
            rows += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return rows[:limit]

    def cancel(self, job_id: int) -> dict:
        return self.request("POST", f"/jobs/{int(job_id)}/cancel")

    def retry(self, job_id: int) -> dict:
        return self.request("POST", f"/jobs/{int(job_id)}/retry")

    def publish(self, job_id: int, body: dict) -> dict:
        return self.request("POST", f"/jobs/{int(job_id)}/publish", body=body)


def _retry_after(r) -> float | None:
    """Seconds to wait before sending again, for the answers that say to (409 still running, 429, 503)."""
    if r.status_code not in (409, 429, 503) or "retry-after" not in r.headers:
        return None
    try:
        wait = float(r.headers["retry-after"])
    except ValueError:
        return None
    return min(max(wait, 0.1), MAX_WAIT_S)


def _answer(r) -> Any:
    if len(r.content) > MAX_ANSWER:
        raise ApiError(f"the workbench answered {len(r.content):,} bytes, more than the CLI reads.", 1)
    if r.is_success:
        try:
            return r.json()
        except ValueError:
            raise ApiError(f"the workbench answered {r.status_code} without JSON: is {r.url} a YTEmpire "
                           "workbench?", 3) from None
    try:
        problem = r.json()
        detail = str(problem.get("detail") or problem.get("title"))
    except (ValueError, AttributeError):
        detail = r.text.strip()[:300] or r.reason_phrase
    if r.status_code == 404 and "application/problem+json" not in r.headers.get("content-type", ""):
        raise ApiError(f"{r.url} has no YTEmpire API (404): is this the workbench's address?", 3)
    code = EXIT_BY_STATUS.get(r.status_code, 1)
    if r.status_code == 401:
        detail += f" (the token comes from --token or {TOKEN_ENV})"
    raise ApiError(detail, code)


# -- what the commands send and print ----------------------------------------------------------------------
END = frozenset({"done", "failed", "cancelled", "held", "review"})
POLL_S = 1.0  # one GET a second: well under a token's rate limit, with room for the token's other clients
MAX_LOST_S = 60.0  # following survives the workbench not answering this long (a restart), then gives up


def job_body(args, outline: str, duration: int | None) -> dict:
    """POST /jobs's body for ``make``'s options. The API reads no file of the client's machine, so ``--source``
    files are read here (as the in-process path reads them) and sent as pasted text; URLs go as they are."""
    from pipeline.sources import from_file

    urls, texts = [], []
    for spec in (str(x).strip() for x in args.source):
        if spec.lower().startswith(("http://", "https://")):
            urls.append(spec)
        elif spec:
            doc = from_file(Path(spec).expanduser())
            texts.append(f"# {doc.title}\n\n{doc.text}")
    body = {"topic": args.topic, "channel": args.channel, "duration_s": duration, "format": args.format,
            "outline": outline, "writer": args.writer, "voice": args.voice, "visuals": args.visuals,
            "cap_usd": args.cap, "sources": urls, "source_text": "\n\n".join(texts), "captions": args.captions,
            "music": not args.no_music, "review": args.review}
    return {k: v for k, v in body.items() if v is not None}


def follow(api: LocalApi, job_id: int, progress, stop) -> dict | None:
    """Poll the job until it ends (or is deferred: back in the queue with a stage's reason), feeding
    ``progress(stage, fraction)``; None when ``stop`` is set (SIGTERM). Ctrl-C raises KeyboardInterrupt."""
    started, lost_since = False, None
    while not stop.is_set():
        try:
            job = api.job(job_id)
            lost_since = None
        except ApiError as exc:
            if exc.code != 3:
                raise
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > MAX_LOST_S:
                raise ApiError(f"{exc} Job {job_id} stays in the workbench's queue.", 3) from None
            stop.wait(POLL_S)
            continue
        for s in job["stages"]:
            fraction = 1.0 if s["status"] in ("done", "skipped") else float(s["progress"] or 0) \
                if s["status"] == "running" else 0.0
            if fraction > 0:
                progress(s["stage"], min(fraction, 1.0))
        started = started or job["status"] != "queued"
        if job["status"] in END:
            return job
        if job["status"] == "queued" and started and any(s["status"] == "pending" and s.get("error")
                                                         for s in job["stages"]):
            return {**job, "status": "deferred"}  # as the in-process worker answers (exit 5)
        stop.wait(POLL_S)
    return None


def report_of(job: dict) -> dict:
    """The object ``make --json`` prints, from the API's job (key for key what pipeline.cli._report builds from
    the database)."""
    v = job.get("video") or {}
    status = job["status"]
    result = {
        "job_id": job["id"],
        "status": status,
        "video": v.get("video_path"),
        "thumbnail": v.get("thumbnail_path"),
        "duration_s": round(v["duration_s"], 2) if v.get("duration_s") else None,
        "quality_score": v.get("quality_score"),
        "cost_usd": round(float(job["cost_usd"]), 4),
        "cost_breakdown": job.get("cost_breakdown", []),
    }
    if status == "held":
        result["held"] = job.get("held_reason") or "below the quality threshold"
    result["fallbacks"] = job.get("fallbacks", [])
    result["scenes"] = job.get("scenes", [])
    if status == "review":
        result["awaiting"] = job.get("awaiting")
    if status == "failed":
        result["error"] = {"stage": job["error_stage"], "provider": job.get("error_provider"),
                           "message": job["error_message"]}
    return result


JOBS_KEYS = ("id", "status", "topic", "channel", "duration_s", "format", "current_stage", "error_stage",
             "error_message", "created_at", "finished_at", "quality_score", "video_path", "cost_usd")


def jobs_rows(items: list[dict]) -> list[dict]:
    """GET /jobs items as ``jobs --json`` prints rows from the database (pipeline.queries.JOBS_SQL): the same
    keys in the same order, times as the database's ``str()`` writes them."""
    return [{k: _db_time(item.get(k)) if k.endswith("_at") else item.get(k) for k in JOBS_KEYS} for item in items]


def _db_time(value: str | None) -> str | None:
    if not value:
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return str(parsed)
