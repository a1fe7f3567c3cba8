"""The API's machinery: one declaration per endpoint, from which both the Starlette route and the OpenAPI
document are made, so what is validated is what is documented.

A request goes: bearer token -> Actor (``wb.tokens.actor``) -> the token's rate limit -> path, query and body
validated by pydantic -> Idempotency-Key (creating POSTs) -> the endpoint's function, run in a worker thread with
``Call.wb`` = ``Workbench.acting(actor)`` (the same role and workspace checks as the pages) -> the response
model -> JSON. Anything raised becomes an RFC 9457 problem (api.problems).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from api import problems
from api.limits import RateLimiter
from api.problems import Problem

log = logging.getLogger("ytempire.api")

PREFIX = "/api/v1"
MAX_BODY = 256 * 1024  # a JSON body larger than this is refused (413): the biggest, a 500-topic batch, is ~100 KB
MAX_IDEMPOTENCY_KEY = 200
IDEMPOTENCY_HOURS = 24  # a key is remembered this long


@dataclass
class Call:
    """What an endpoint function gets: the acting Workbench, the actor, and the validated input."""
    wb: Any
    actor: Any
    request: Any
    path: dict
    query: Any = None
    body: Any = None
    idempotency_key: str | None = None
    api_state: dict = field(default_factory=dict)  # what the Api keeps between requests (caches), shared

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")


@dataclass
class Endpoint:
    method: str
    path: str  # Starlette form, under PREFIX: "/jobs/{job_id:int}"
    fn: Callable[[Call], Any]
    name: str
    summary: str
    tag: str
    permission: str | None = "read"  # None: no token needed (health, the document itself)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: Any = None  # a pydantic model, or None for a raw Starlette Response (downloads, metrics)
    status: int = 200
    creates: bool = False  # honours Idempotency-Key
    redact: tuple[str, ...] = ()  # answer fields never stored for an idempotent replay (a secret shown once)
    media: dict = field(default_factory=dict)  # raw responses: {media type: description}
    errors: tuple[int, ...] = ()
    description: str = ""
    workbench: bool = True  # False: answers without opening the Workbench (liveness, while the database is held)

    @property
    def openapi_path(self) -> str:
        import re
        return PREFIX + re.sub(r"\{(\w+):\w+\}", r"{\1}", self.path)


class Api:
    """The endpoints and what they share: the Workbench provider, the rate limiter."""

    def __init__(self, workbench: Callable[[], Any], limiter: RateLimiter | None = None):
        self._workbench = workbench
        self.limiter = limiter
        self.endpoints: list[Endpoint] = []
        self.state: dict = {}  # caches endpoints keep between requests (one Api per process)

    def route(self, method: str, path: str, *, summary: str, tag: str, **options: Any):
        def register(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
            self.endpoints.append(Endpoint(method, path, fn, fn.__name__, summary, tag,
                                           description=(fn.__doc__ or "").strip(), **options))
            return fn
        return register

    def workbench(self):
        return self._workbench()

    def limits(self):
        if self.limiter is None:
            settings = self.workbench().settings
            self.limiter = RateLimiter(settings.api_rate_per_minute, settings.api_burst)
        return self.limiter

    def routes(self) -> list:
        from starlette.routing import Route

        return [Route(PREFIX + e.path, self._handler(e), methods=[e.method], name=f"api.{e.name}")
                for e in self.endpoints]

    def _handler(self, endpoint: Endpoint):
        from starlette.concurrency import run_in_threadpool

        async def handle(request):
            started = time.perf_counter()
            try:
                body = await _read_body(request) if endpoint.body is not None else b""
                result = await run_in_threadpool(self._run, endpoint, request, body)
            except Exception as exc:  # noqa: BLE001 - every failure is a problem response, never a traceback
                result = problems.response(problems.from_exception(exc), request.url.path)
            result.headers.setdefault("cache-control", "no-store")
            log.debug("%s %s -> %s in %.0f ms", request.method, request.url.path, result.status_code,
                      (time.perf_counter() - started) * 1000)
            return result
        return handle

    # -- one request, in a worker thread ---------------------------------------------------------------
    def _run(self, endpoint: Endpoint, request, body: bytes):
        wb = self.workbench() if endpoint.workbench else None
        client = f"api {request.client.host if request.client else 'local'}"
        call = Call(wb, None, request, dict(request.path_params), api_state=self.state)
        headers: dict[str, str] = {}
        if endpoint.permission is not None:
            token = _bearer(request)
            actor = wb.tokens.actor(token, client)
            headers = self.limits().take(wb.tokens.token_id_of(token))
            call.actor = actor
            call.wb = wb.acting(actor)
            actor.require(endpoint.permission)
        if endpoint.query is not None:
            call.query = _validated(endpoint.query, _query_dict(request, endpoint.query), "query parameter")
        if endpoint.body is not None:
            call.body = _validated(endpoint.body, _json_body(body), "body")
        if endpoint.creates and (key := request.headers.get("idempotency-key")):
            call.idempotency_key = _check_key(key)
            response = Idempotency(wb.raw_db).run(call, endpoint, body, lambda: self._respond(endpoint, call))
        else:
            response = self._respond(endpoint, call)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    def _respond(self, endpoint: Endpoint, call: Call):
        from starlette.responses import Response

        result = endpoint.fn(call)
        if isinstance(result, Response):
            return result
        status = endpoint.status
        if isinstance(result, tuple):  # (status, body): an endpoint that answers 200 or 201 (an existing job)
            status, result = result
        model = endpoint.response
        data = (model.model_validate(result) if not isinstance(result, model) else result).model_dump(mode="json")
        return Response(json.dumps(data), status_code=status, media_type="application/json")


async def _read_body(request) -> bytes:
    """The body, refused (413) as soon as it is larger than MAX_BODY: never held whole before it is checked."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> Problem:
    return Problem(413, "too-large", "The body is too large",
                   f"The JSON body is {size:,} bytes or more; at most {MAX_BODY:,} are accepted.")


def _bearer(request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _query_dict(request, model: type[BaseModel]) -> dict:
    """Query parameters, lists from repeated names (``?status=done&status=failed``) where the model takes a list."""
    out: dict[str, Any] = {}
    for name in request.query_params.keys():
        values = request.query_params.getlist(name)
        info = model.model_fields.get(name)
        many = info is not None and "list" in str(info.annotation)
        out[name] = values if many else values[-1]
    unknown = sorted(set(out) - set(model.model_fields))
    if unknown:
        raise Problem(400, "invalid-request", "Unknown query parameter",
                      f"Unknown query parameter {unknown[0]!r}: this endpoint takes "
                      f"{', '.join(model.model_fields) or 'none'}.")
    return out


def _json_body(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise _too_large(len(body))
    if not body.strip():
        raise Problem(400, "invalid-json", "No body", "Send a JSON object as the body (Content-Type: "
                                                      "application/json).")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "invalid-json", "The body is not JSON", f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise Problem(400, "invalid-json", "The body is nested too deeply",
                      "The JSON body nests arrays or objects too deeply: send a flat object.") from None


def _validated(model: type[BaseModel], data: Any, where: str):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems.validation_problem(exc, where) from None


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise Problem(400, "invalid-request", "Bad Idempotency-Key",
                      f"An Idempotency-Key is 1-{MAX_IDEMPOTENCY_KEY} printable characters (a UUID is a good one).")
    return key


class Idempotency:
    """The first answer to a (user, Idempotency-Key) is stored and given again to every retry of that request;
    the same key with another method, path or body is refused (422), and one still running answers 409."""

    def __init__(self, db):
        self.db = db

    def run(self, call: Call, endpoint: Endpoint, body: bytes, respond: Callable[[], Any]):
        from starlette.responses import Response

        from pipeline.access.accounts import now

        user = call.actor.user_id
        # Per user and per workspace the token acts in: a key used in one workspace never answers in another.
        scope = "all" if call.actor.workspace_id is None else call.actor.workspace_id
        key = f"{scope}:{call.idempotency_key}"
        path = call.request.url.path
        fingerprint = hashlib.sha256(b"\0".join([endpoint.method.encode(), path.encode(), body])).hexdigest()
        with self.db.write() as cur:
            cur.execute("DELETE FROM api_idempotency WHERE created_at < ?",
                        [now() - _hours(IDEMPOTENCY_HOURS)])
            row = cur.execute("SELECT fingerprint, status, body FROM api_idempotency WHERE user_id = ? AND key = ?",
                              [user, key]).fetchall()
            if not row:
                cur.execute("INSERT INTO api_idempotency (user_id, key, method, path, fingerprint)"
                            " VALUES (?, ?, ?, ?, ?)", [user, key, endpoint.method, path, fingerprint])
        if row:
            stored_fp, status, stored = row[0]
            if stored_fp != fingerprint:
                raise Problem(422, "idempotency-mismatch", "Idempotency-Key reused",
                              "This Idempotency-Key was used for a different request (method, path or body): use a "
                              "new key for a new request.")
            if status is None:
                raise Problem(409, "idempotency-in-progress", "The first request is still running",
                              "A request with this Idempotency-Key is still being answered: retry in a moment.",
                              {"retry-after": "1"})
            return Response(stored, status_code=status, media_type="application/json",
                            headers={"idempotent-replayed": "true"})
        try:
            response = respond()
        except BaseException as exc:
            problem = problems.from_exception(exc) if isinstance(exc, Exception) else None
            with self.db.write() as cur:
                if problem is not None and problem.status < 500 and problem.status not in (409, 429):
                    # A refusal is an answer: the same request gets it again. A crash or a 5xx is forgotten,
                    # so a retry runs the request anew (the job's request_key still keeps it to one job).
                    cur.execute("UPDATE api_idempotency SET status = ?, body = ? WHERE user_id = ? AND key = ?",
                                [problem.status, json.dumps(problem.body(path)), user, key])
                else:
                    cur.execute("DELETE FROM api_idempotency WHERE user_id = ? AND key = ?", [user, key])
            raise
        stored = response.body.decode()
        if endpoint.redact:  # a secret is shown once: a replay answers without it, and it never enters the database
            data = json.loads(stored)
            stored = json.dumps({**data, **{k: None for k in endpoint.redact if k in data}})
        with self.db.write() as cur:
            cur.execute("UPDATE api_idempotency SET status = ?, body = ? WHERE user_id = ? AND key = ?",
                        [response.status_code, stored, user, key])
        return response


def _hours(n: int):
    from datetime import timedelta
    return timedelta(hours=n)


# -- cursors -----------------------------------------------------------------------------------------------
def encode_cursor(values: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, keys: tuple[str, ...]) -> dict | None:
    """The position a ``cursor`` names, or a 400 saying to start again without it."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, dict) or set(values) != set(keys) or not all(
                type(v) is int and 0 <= v < 2**31 for v in values.values()):
            raise ValueError
        return values
    except (ValueError, TypeError):
        raise Problem(400, "invalid-cursor", "Bad cursor",
                      "The cursor is not one this list gave: pass next_cursor from the previous page unchanged, or "
                      "leave it out to start from the first page.") from None
