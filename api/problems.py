"""RFC 9457 problem details: every API error is ``application/problem+json`` saying what to fix.

Engine exceptions are mapped here, in one place, to a status and a type; their messages are already written for
an operator (the same words the pages show), so they go out as ``detail`` unchanged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

log = logging.getLogger("ytempire.api")

TYPE_ROOT = "https://ytempire.dev/problems/"  # a stable name per kind of problem (documented in the README)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the API answers with: ``status``, a short ``title``, and a ``detail`` saying what to fix."""

    def __init__(self, status: int, kind: str, title: str, detail: str, headers: dict | None = None, **extra: Any):
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict:
        out = {"type": TYPE_ROOT + self.kind, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            out["instance"] = instance
        out.update(self.extra)
        return out


def validation_problem(exc: ValidationError, where: str) -> Problem:
    """A 422 listing each field that is wrong and why (pydantic's own messages, without the input echoed)."""
    errors = [{"field": ".".join(str(p) for p in e["loc"]) or where, "message": e["msg"]} for e in exc.errors()[:50]]
    first = errors[0] if errors else {"field": where, "message": "is not valid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Problem(422, "invalid-request", "The request is not valid",
                   f"{where} {first['field']}: {first['message']}{more}.", errors=errors)


def from_exception(exc: BaseException) -> Problem:
    """The problem an engine exception is, by type; anything unknown is a 500 that names no internals."""
    from pipeline.access.actor import Forbidden, NotInWorkspace
    from pipeline.access.scope import ScopeEscape
    from pipeline.access.tokens import TokenError
    from pipeline.channels import ChannelError
    from pipeline.config import ConfigError
    from pipeline.costs import PriceError
    from pipeline.db import DatabaseLocked
    from pipeline.jobs import InvalidTransition, JobNotFound
    from pipeline.providers import UnknownProvider
    from pipeline.providers.base import BriefError

    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, TokenError):
        return Problem(401, "unauthorized", "Not signed in", str(exc), {"www-authenticate": 'Bearer realm="ytempire"'})
    if isinstance(exc, Forbidden):
        return Problem(403, "forbidden", "Not allowed", str(exc))
    if isinstance(exc, (NotInWorkspace, JobNotFound)):
        return Problem(404, "not-found", "Not found", str(exc))
    if isinstance(exc, ScopeEscape):
        return Problem(403, "forbidden", "Not allowed", str(exc))
    if isinstance(exc, ValidationError):
        return validation_problem(exc, "body")
    if isinstance(exc, InvalidTransition):
        return Problem(409, "conflict", "Not possible in this state", str(exc))
    if isinstance(exc, (BriefError, ChannelError, UnknownProvider, PriceError, ConfigError, ValueError)):
        return Problem(422, "invalid-request", "The request cannot be done", str(exc))
    if isinstance(exc, DatabaseLocked):
        return Problem(503, "unavailable", "The database is busy", str(exc), {"retry-after": "5"})
    if isinstance(exc, LookupError):
        return Problem(404, "not-found", "Not found", str(exc))
    log.exception("API request failed")
    return Problem(500, "internal", "Something went wrong",
                   f"{type(exc).__name__}: the details are in the workbench log. Try again; if it keeps happening, "
                   "report it with the time of the request.")


def response(problem: Problem, instance: str | None = None):
    from starlette.responses import Response

    return Response(json.dumps(problem.body(instance), default=str), status_code=problem.status,
                    media_type=PROBLEM_JSON, headers={"cache-control": "no-store", **problem.headers})
