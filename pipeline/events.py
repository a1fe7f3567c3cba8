"""Domain events: a row in the outbox, written in the same transaction as the change it reports.

``emit(cur, type, workspace_id, data)`` inserts one ``event_outbox`` row through the caller's cursor (the
cursor of a ``db.write()`` block), so a rolled-back change leaves no event and a committed one always has
its event, even if the process dies the next instant. The webhook dispatcher (pipeline.webhook_delivery)
reads the outbox; nothing here makes a network call.

The payload is Standard Webhooks shaped: ``{"type": ..., "timestamp": ISO-8601 UTC, "data": {...}}``, stored as
the exact bytes every delivery of it sends.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

from pipeline.db import first

# (type, what it means): the API docs and the Webhooks page list these.
EVENT_TYPES: tuple[tuple[str, str], ...] = (
    ("job.queued", "A video job was queued."),
    ("job.started", "A worker started (or resumed) a job; sent on every start, so a resumed job sends it again."),
    ("job.done", "A job finished every stage."),
    ("job.failed", "A job failed; data.error says why and data.stage where."),
    ("job.held", "The quality gate held a video: it was not published."),
    ("stage.done", "One stage of a job finished (data.stage)."),
    ("video.published", "A video went to YouTube (published or scheduled) or to the local outbox folder."),
    ("budget.warning", "Spend passed 80% of a video's cap or of a provider's daily budget."),
    ("budget.reached", "Spend reached 100% of a video's cap or of a provider's daily budget."),
    ("quota.parked", "A YouTube project or channel was parked until its quota resets."),
    ("channel.token_revoked", "A channel's YouTube token was revoked or expired: reconnect the channel."),
    ("webhook.test", "A test event sent from the Automation page to one webhook."),
)
TYPE_NAMES = tuple(name for name, _ in EVENT_TYPES)
DEFAULT_PUBLIC_URL = "http://localhost:8501"
MAX_TEXT = 2000  # an error message in a payload is cut to this many characters
BUDGET_THRESHOLDS = ((80, "budget.warning"), (100, "budget.reached"))

_listeners: set[Callable[[], None]] = set()
_listeners_lock = threading.Lock()


class UnknownEvent(ValueError):
    """An event type not in EVENT_TYPES."""


def subscribe(wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake()`` whenever an event is emitted (the dispatcher's prompt start); returns the unsubscribe.

    A wake is a hint, not the event: the dispatcher polls anyway, and its fan-out waits for the write lock,
    so it only ever reads the outbox after the emitting transaction has committed or rolled back."""
    with _listeners_lock:
        _listeners.add(wake)

    def unsubscribe() -> None:
        with _listeners_lock:
            _listeners.discard(wake)
    return unsubscribe


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z") if value.tzinfo is None \
            else value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def emit(cur, type: str, workspace_id: int | None, data: dict, *, webhook_id: int | None = None) -> str:
    """Write one event into the outbox inside the caller's transaction; returns its id (``msg_...``).

    ``workspace_id``: whose event it is (webhooks of that workspace and the all-workspaces ones get it; None:
    the installation's, for all-workspaces webhooks only). ``webhook_id``: deliver to that webhook only."""
    if type not in TYPE_NAMES:
        raise UnknownEvent(f"{type!r} is not an event type: use one of {', '.join(TYPE_NAMES)}.")
    event_id = new_id()
    payload = json.dumps({"type": type, "timestamp": now_iso(), "data": data}, separators=(",", ":"),
                         ensure_ascii=False, default=_plain)
    cur.execute("INSERT INTO event_outbox (id, type, workspace_id, webhook_id, payload) VALUES (?, ?, ?, ?, ?)",
                [event_id, type, workspace_id, webhook_id, payload])
    with _listeners_lock:
        wakes = list(_listeners)
    for wake in wakes:
        try:
            wake()
        except Exception:  # noqa: BLE001 - a wake is a hint; the change being written must not fail over it
            pass
    return event_id


def public_url(cur) -> str:
    """The address links in payloads name (Settings.public_url, written by the Workbench at start)."""
    row = first(cur.execute("SELECT value FROM event_config WHERE key = 'public_url'"))
    return (row[0] if row else DEFAULT_PUBLIC_URL).rstrip("/")


def set_public_url(db, url: str) -> None:
    with db.write() as cur:
        cur.execute("INSERT INTO event_config (key, value) VALUES ('public_url', ?) ON CONFLICT (key)"
                    " DO UPDATE SET value = excluded.value", [url.rstrip("/")])


# -- job events ------------------------------------------------------------------------------------
def job_data(cur, job_id: int, **extra: object) -> tuple[int | None, dict]:
    """(the job's workspace, the data every job event carries), read inside the caller's transaction so it
    shows the change being made (the new status, the cost so far)."""
    row = first(cur.execute(
        "SELECT j.topic, j.channel_id, c.name, j.status, j.workspace_id, j.run,"
        " (SELECT coalesce(sum(usd), 0) FROM job_costs WHERE job_id = j.id)"
        " FROM jobs j LEFT JOIN channels c ON c.id = j.channel_id WHERE j.id = ?", [job_id]))
    if row is None:
        return None, {"job_id": job_id, **extra}
    topic, channel_id, channel, status, workspace, run, cost = row
    base = public_url(cur)
    data = {"job_id": job_id, "topic": topic, "channel_id": channel_id, "channel": channel, "status": status,
            "run": run, "cost_usd": round(float(cost or 0), 6), "url": f"{base}/api/v1/jobs/{job_id}"}
    for key, value in extra.items():
        data[key] = value[:MAX_TEXT] if isinstance(value, str) else value
    return workspace, data


def emit_job(cur, type: str, job_id: int, **extra: object) -> str:
    workspace, data = job_data(cur, job_id, **extra)
    if type in ("job.done", "video.published"):
        data["video_url"] = f"{public_url(cur)}/api/v1/videos/{job_id}/video"
    return emit(cur, type, workspace, data)


def emit_published(cur, job_id: int) -> str | None:
    """video.published for the publish result just recorded in ``videos`` (YouTube, scheduled, or the outbox)."""
    row = first(cur.execute(
        "SELECT v.publish_state, v.publish_ref, v.title, j.brief,"
        " (SELECT privacy_actual FROM uploads WHERE job_id = v.job_id)"
        " FROM videos v JOIN jobs j ON j.id = v.job_id WHERE v.job_id = ?", [job_id]))
    if row is None or row[0] not in ("published", "scheduled", "outbox"):
        return None
    state, ref, title, brief, privacy = row
    brief = json.loads(brief) if isinstance(brief, str) else (brief or {})
    extra: dict = {"publish_state": state, "title": title, "privacy": privacy or brief.get("privacy", "private")}
    if state == "outbox":
        extra.update(target="outbox", outbox_path=ref)
    else:
        extra.update(target="youtube", youtube_video_id=ref, watch_url=f"https://youtu.be/{ref}",
                     publish_at=brief.get("publish_at"))
    return emit_job(cur, "video.published", job_id, **extra)


# -- budget thresholds -------------------------------------------------------------------------------
def _once(cur, key: str) -> bool:
    """True the first time ``key`` is seen (then it is recorded, in the caller's transaction)."""
    if first(cur.execute("SELECT 1 FROM budget_alerts WHERE key = ?", [key])):
        return False
    cur.execute("INSERT INTO budget_alerts (key) VALUES (?)", [key])
    return True


def budget_alerts(cur, guard, providers: set[str]) -> list[str]:
    """budget.warning / budget.reached for each threshold the guard's job (its cap) or a provider's daily budget
    (the installation's, or the job's workspace's) has now passed, once each; inside the reserve or settle
    transaction. Returns the event ids."""
    emitted = []
    spent, cap = guard.spent(cur), guard.cap
    if cap > 0 and spent > 0:
        for percent, type in BUDGET_THRESHOLDS:
            if spent >= cap * percent / 100 and _once(cur, f"video:{guard.job_id}:{percent}"):
                emitted.append(emit_job(cur, type, guard.job_id, scope="video", threshold=percent,
                                        spent_usd=round(float(spent), 6), cap_usd=float(cap)))
    day = first(cur.execute("SELECT current_date"))[0]
    for budgets, workspace in ((guard.daily, None), (guard.workspace_daily, guard.workspace_id)):
        for provider in sorted(providers & set(budgets)):
            limit, unit = budgets[provider]
            if limit <= 0:
                continue
            used = guard.today(provider, unit, cur, workspace)
            for percent, type in BUDGET_THRESHOLDS:
                key = f"daily:{'all' if workspace is None else workspace}:{provider}:{day}:{percent}"
                if used >= limit * percent / 100 and _once(cur, key):
                    data = {"scope": "daily", "threshold": percent, "provider": provider, "unit": unit,
                            "used": float(used), "limit": float(limit), "day": str(day),
                            "budget_of": "installation" if workspace is None else "workspace",
                            "workspace_id": workspace, "job_id": guard.job_id}
                    emitted.append(emit(cur, type, workspace, data))
    return emitted


# -- YouTube ---------------------------------------------------------------------------------------------
def emit_parked(cur, kind: str, ref: str, until: datetime, reason: str) -> str:
    """quota.parked for a project or a channel, in the workspace that owns it."""
    if kind == "channel":
        row = first(cur.execute("SELECT workspace_id, name FROM channels WHERE CAST(id AS VARCHAR) = ?", [str(ref)]))
        data = {"kind": kind, "channel_id": int(ref) if str(ref).isdigit() else ref, "channel": row[1] if row else None}
    else:
        row = first(cur.execute("SELECT workspace_id FROM youtube_projects WHERE project_id = ?", [ref]))
        data = {"kind": kind, "project_id": ref}
    data.update(until=until, reason=reason[:MAX_TEXT])
    return emit(cur, "quota.parked", row[0] if row else None, data)


def emit_token_revoked(cur, channel_id: int, project: str, status: str, message: str | None) -> str:
    row = first(cur.execute("SELECT workspace_id, name FROM channels WHERE id = ?", [channel_id]))
    data = {"channel_id": channel_id, "channel": row[1] if row else None, "project_id": project, "status": status,
            "message": (message or "")[:MAX_TEXT],
            "action": "reconnect the channel on the Channels page"}
    return emit(cur, "channel.token_revoked", row[0] if row else None, data)
