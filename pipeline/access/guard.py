"""The checks every Workbench action runs: the acting user's role, and that what they touch is theirs.

``@acts("make", job="job_id", audit="job.cancel")`` on a Workbench method: the actor (``self.actor``) must
have the permission, the job (or channel) named by that argument must be in one of the actor's workspaces,
and a successful call is written to the audit log. Desks the Workbench hands out (``wb.review``,
``wb.youtube``) are wrapped in a :class:`GuardedDesk` with a rule per method: a method without a rule is
refused, so a new desk method cannot be reached around the checks by accident.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from pipeline.access import audit
from pipeline.access.actor import Actor, Forbidden, NotInWorkspace


def acts(permission: str, *, job: str | None = None, channel: str | None = None, audit_as: str | None = None,
         target: Callable[[dict, Any], object] | None = None) -> Callable:
    def wrap(fn: Callable) -> Callable:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def checked(self, *args, **kwargs):
            actor: Actor = self.actor
            actor.require(permission)
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            if job is not None:
                for job_id in _many(arguments.get(job)):
                    check_job(self, actor, job_id)
            if channel is not None and arguments.get(channel) not in (None, ""):
                check_channel(self, actor, arguments[channel])
            result = fn(self, *args, **kwargs)
            if audit_as:
                what = target(arguments, result) if target else \
                    arguments.get(job) if job else arguments.get(channel) if channel else None
                record(self, audit_as, what)
            return result

        checked.permission = permission  # type: ignore[attr-defined]
        return checked
    return wrap


def _many(value: object) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def record(wb: Any, action: str, what: object = None, detail: object = None, workspace_id: int | None = None) -> None:
    actor: Actor = wb.actor
    audit.record(raw(wb.db), actor, action, what, detail, workspace_id)


def raw(db: Any) -> Any:
    return getattr(db, "raw", db)


def workspace_of_job(db: Any, job_id: object) -> int | None:
    try:
        row = raw(db).query_one("SELECT workspace_id FROM jobs WHERE id = ?", [int(job_id)])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return row[0] if row else None


def workspace_of_channel(db: Any, ref: object) -> int | None:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        row = raw(db).query_one("SELECT workspace_id FROM channels WHERE id = ?", [int(ref)])
    else:
        row = raw(db).query_one("SELECT workspace_id FROM channels WHERE lower(name) = lower(?)", [str(ref).strip()])
    return row[0] if row else None


def check_job(wb: Any, actor: Actor, job_id: object) -> None:
    if actor.scope is None:
        return
    ws = workspace_of_job(wb.db, job_id)
    if ws is not None and ws not in actor.scope:
        raise NotInWorkspace(f"There is no job #{job_id} in this workspace.")


def check_channel(wb: Any, actor: Actor, ref: object) -> None:
    if actor.scope is None:
        return
    ws = workspace_of_channel(wb.db, ref)
    if ws is not None and ws not in actor.scope:
        raise NotInWorkspace(f"There is no channel {ref!r} in this workspace.")


PLAIN = (str, int, float, bool, type(None), dict, list, tuple, frozenset, set)


class GuardedDesk:
    """A desk as one actor may use it. ``rules``: method -> (permission, what its first argument is:
    "job", "channel" or None, audit action or None). ``nested``: attributes that are desks themselves,
    already guarded. Any other attribute that is not plain data is refused."""

    def __init__(self, desk: Any, wb: Any, rules: dict[str, tuple[str, str | None, str | None]],
                 nested: dict[str, Any] | None = None):
        self._desk, self._wb, self._rules, self._nested = desk, wb, rules, nested or {}

    def __getattr__(self, name: str) -> Any:
        if name in self._nested:
            return self._nested[name]
        value = getattr(self._desk, name)
        if not callable(value):
            if isinstance(value, PLAIN) or type(value).__module__ == "pathlib":
                return value
            raise Forbidden(f"{type(self._desk).__name__}.{name} is not open to users (no access rule).")
        if name not in self._rules:
            raise Forbidden(f"{type(self._desk).__name__}.{name} is not open to users (no access rule).")
        permission, kind, action = self._rules[name]

        @functools.wraps(value)
        def checked(*args, **kwargs):
            actor: Actor = self._wb.actor
            actor.require(permission)
            first = args[0] if args else kwargs.get("job_id", kwargs.get("channel_id", kwargs.get("channel")))
            if kind == "job":
                check_job(self._wb, actor, first)
            elif kind == "channel" and first not in (None, ""):
                check_channel(self._wb, actor, first)
            result = value(*args, **kwargs)
            if action:
                record(self._wb, action, first)
            return result
        return checked
