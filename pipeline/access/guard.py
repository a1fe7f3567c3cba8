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
import re
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
            where = None
            if job is not None and arguments.get(job) is not None:
                value = arguments[job]
                ids = [canonical_job(self, actor, j) for j in _many(value)]
                arguments[job] = ids if isinstance(value, (list, tuple, set, frozenset)) else ids[0]
                where = workspace_of_job(self.db, ids[0]) if ids else None
            if channel is not None and arguments.get(channel) not in (None, ""):
                arguments[channel] = canonical_channel(self, actor, arguments[channel])
                where = workspace_of_channel(self.db, arguments[channel])
            result = fn(*bound.args, **bound.kwargs)  # with the checked, canonical ids
            if audit_as:
                what = target(arguments, result) if target else \
                    arguments.get(job) if job else arguments.get(channel) if channel else None
                record(self, audit_as, what, workspace_id=where)
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
    """An audit entry for the acting user, in the workspace of what they acted on (else their current one)."""
    actor: Actor = wb.actor
    audit.record(raw(wb.db), actor, action, what, detail, workspace_id)


def raw(db: Any) -> Any:
    return getattr(db, "raw", db)


def as_id(value: object) -> int | None:
    """A row id as an int: an int (not a bool) or a string of digits; anything else (1.0, "0x1", "+2") is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value.strip()):
        return int(value.strip())
    return None


def workspace_of_job(db: Any, job_id: object) -> int | None:
    ident = as_id(job_id)
    row = raw(db).query_one("SELECT workspace_id FROM jobs WHERE id = ?", [ident]) if ident is not None else None
    return row[0] if row else None


def workspace_of_channel(db: Any, ref: object) -> int | None:
    ident = as_id(ref)
    if ident is not None:
        row = raw(db).query_one("SELECT workspace_id FROM channels WHERE id = ?", [ident])
    elif isinstance(ref, str):
        row = raw(db).query_one("SELECT workspace_id FROM channels WHERE lower(name) = lower(?)", [ref.strip()])
    else:
        row = None
    return row[0] if row else None


def canonical_job(wb: Any, actor: Actor, job_id: object) -> int:
    """The job id as an int, once it names an existing job in the actor's workspaces (fails closed)."""
    ident = as_id(job_id)
    if ident is None:
        raise NotInWorkspace(f"{str(job_id)[:40]!r} is not a job number.")
    if actor.scope is not None:
        ws = workspace_of_job(wb.db, ident)
        if ws is None or ws not in actor.scope:
            raise NotInWorkspace(f"There is no job #{ident} in this workspace.")
    return ident


def canonical_channel(wb: Any, actor: Actor, ref: object) -> int | str:
    """A channel id (int) or name (str), once it names an existing channel in the actor's workspaces."""
    ident = as_id(ref)
    if ident is None and not isinstance(ref, str):
        raise NotInWorkspace(f"{str(ref)[:40]!r} is not a channel id or name.")
    value: int | str = ident if ident is not None else str(ref).strip()
    if actor.scope is not None:
        ws = workspace_of_channel(wb.db, value)
        if ws is None or ws not in actor.scope:
            raise NotInWorkspace(f"There is no channel {str(ref)[:80]!r} in this workspace.")
    return value


def check_job(wb: Any, actor: Actor, job_id: object) -> int:
    return canonical_job(wb, actor, job_id)


def check_channel(wb: Any, actor: Actor, ref: object) -> int | str:
    return canonical_channel(wb, actor, ref)


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
            params = list(inspect.signature(value).parameters)
            if params and params[0] == "actor":  # the desk checks this actor again: always the acting one
                args = (actor, *args[1:]) if args else args
                if not args:
                    kwargs["actor"] = actor
            where = None
            if kind in ("job", "channel"):
                if args:
                    first = args[0]
                else:
                    name = params[0] if params else ""
                    first = kwargs.get(name)
                if kind == "job":
                    first = canonical_job(self._wb, actor, first)
                    where = workspace_of_job(self._wb.db, first)
                elif first not in (None, ""):
                    first = canonical_channel(self._wb, actor, first)
                    where = workspace_of_channel(self._wb.db, first)
                if args:
                    args = (first, *args[1:])
                elif params:
                    kwargs[params[0]] = first
            else:
                first = args[0] if args else None
            result = value(*args, **kwargs)
            if action:
                record(self._wb, action, first, workspace_id=where)
            return result
        return checked
