"""The webhook dispatcher: outbox rows out to receivers, at least once, signed, retried, recorded.

One background thread (the Workbench's "webhooks" service) loops: it fans new ``event_outbox`` rows out into
``webhook_deliveries`` (one per enabled, subscribed webhook; the outbox row is marked in the same transaction,
so an event is fanned out exactly once and, after a crash, at the next start), then claims due deliveries (one
per webhook at a time, a few at once) and sends each from a small pool. Every attempt is recorded; a 2xx is
delivered; anything else is retried on the ``webhook_retry_s`` schedule (with jitter, honouring Retry-After on
429 and 503 within the schedule's bounds) until it runs out, and the delivery is ``failed``. A webhook whose
last ``webhook_disable_after`` deliveries all failed, that has failed for more than a day, or that answered
410 Gone is turned off, with the reason stored.

A claim is a lease (``claimed_until``), never a status: a delivery sent but not recorded when the process died
is pending still and goes again after the restart, with the same webhook-id, so receivers can dedupe.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from pipeline import events
from pipeline.config import Settings
from pipeline.db import Database, first
from pipeline.safehttp import deadline
from pipeline.webhooks import WebhookDesk, WebhookError, check_receiver, refused_address, utcnow

log = logging.getLogger("ytempire.webhooks")

USER_AGENT = "YTEmpire-Webhooks/1"
PARALLEL = 4  # deliveries in flight at once (never two to the same webhook)
FAN_OUT_BATCH = 500
KEEP_DAYS = 30  # delivered and failed deliveries, their attempts and their events are pruned after this
FAILING_FOR = timedelta(days=1)
MAX_ERROR = 500
MAX_RESPONSE = 200


@dataclass
class Outcome:
    status_code: int | None = None
    ms: int = 0
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.replace(tzinfo=None) - utcnow()).total_seconds()) if when else None


def next_delay(schedule: list[float], attempts: int, outcome: Outcome) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones; None when the schedule has run out."""
    if attempts > len(schedule):
        return None
    if outcome.retry_after is not None and outcome.status_code in (429, 503):
        return min(max(outcome.retry_after, min(schedule)), max(schedule))
    return schedule[attempts - 1] * random.uniform(0.9, 1.1)  # jitter: failed receivers are not hit in step


class WebhookDispatcher:
    def __init__(self, db: Database, settings: Settings, desk: WebhookDesk, *, poll_s: float = 1.0,
                 parallel: int = PARALLEL):
        self.db, self.settings, self.desk = db, settings, desk
        self.poll_s, self.parallel = poll_s, parallel
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # delivery id -> webhook id
        self._inflight_ws: dict[int, int | None] = {}  # delivery id -> workspace
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client = None
        self._unsubscribe = None
        self._pruned_at = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Release claims an earlier process left (nothing of its is in flight now) and start the loop."""
        with self.db.write() as cur:
            cur.execute("UPDATE webhook_deliveries SET claimed_until = NULL WHERE status = 'pending'"
                        " AND claimed_until IS NOT NULL")
        self._stop.clear()
        self._unsubscribe = events.subscribe(self.wake)
        self.desk.wake = self.wake
        self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="ytempire-webhook")
        self._thread = threading.Thread(target=self._loop, name="ytempire-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop and join: sends in flight finish (each within webhook_timeout_s) and are recorded."""
        self._stop.set()
        self._wake.set()
        if self._unsubscribe:
            self._unsubscribe()
        if self._thread:
            self._thread.join(timeout)
        if self._pool:
            self._pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.poll_s
            try:
                self.fan_out()
                self._send_due()
                wait = self._until_due()
                if time.monotonic() - self._pruned_at > 3600:
                    self.prune()
            except Exception:  # noqa: BLE001 - the loop must survive a bad round; the rows stay for the next
                log.exception("webhook dispatcher round failed")
            self._wake.wait(wait)
            self._wake.clear()

    def _until_due(self) -> float:
        """Seconds to the next due delivery, at most poll_s (tiny retry schedules in tests are not slowed)."""
        row = self.db.query_one("SELECT min(coalesce(d.next_attempt_at, d.created_at)) FROM webhook_deliveries d"
                                " JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending' AND w.enabled"
                                " AND d.claimed_until IS NULL")
        if not row or row[0] is None:
            return self.poll_s
        return min(self.poll_s, max(0.01, (row[0] - utcnow()).total_seconds()))

    # -- fan-out -------------------------------------------------------------------------------------
    def fan_out(self) -> int:
        """Write a delivery per matching webhook for each event not fanned out yet; returns deliveries written."""
        written = 0
        while True:
            with self.db.write() as cur:
                rows = cur.execute("SELECT seq, id, type, workspace_id, webhook_id FROM event_outbox"
                                   " WHERE fanned_out_at IS NULL ORDER BY seq LIMIT ?", [FAN_OUT_BATCH]).fetchall()
                if not rows:
                    return written
                hooks = cur.execute("SELECT id, workspace_id, events FROM webhooks WHERE enabled").fetchall()
                for seq, event_id, type, workspace, only in rows:
                    for hook_id, hook_ws, names in hooks:
                        wanted = json.loads(names or "[]")
                        if only is not None:
                            match = hook_id == only
                        else:
                            match = type != "webhook.test" and (hook_ws is None or hook_ws == workspace) \
                                and (not wanted or type in wanted)
                        if match:
                            cur.execute("INSERT INTO webhook_deliveries (webhook_id, event_id, event_type,"
                                        " workspace_id) VALUES (?, ?, ?, ?)", [hook_id, event_id, type, workspace])
                            written += 1
                    cur.execute("UPDATE event_outbox SET fanned_out_at = ? WHERE seq = ?", [utcnow(), seq])
            if len(rows) < FAN_OUT_BATCH:
                return written

    # -- sending ---------------------------------------------------------------------------------------
    def _claim(self, free: int) -> list[int]:
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_s + 60)
        with self.db.write() as cur:
            rows = cur.execute(
                "SELECT d.id, d.webhook_id, w.workspace_id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                " WHERE d.status = 'pending' AND w.enabled AND coalesce(d.next_attempt_at, d.created_at) <= ?"
                " AND (d.claimed_until IS NULL OR d.claimed_until < ?)"
                " ORDER BY coalesce(d.next_attempt_at, d.created_at), d.id LIMIT 200", [now, now]).fetchall()
            with self._lock:
                busy = set(self._inflight.values())
                per_ws: dict[int | None, int] = {}
                for ws in self._inflight_ws.values():
                    per_ws[ws] = per_ws.get(ws, 0) + 1
                share = max(1, self.parallel - 1)  # one workspace's slow receivers never take every slot
                picked = []
                for delivery_id, webhook_id, ws in rows:
                    if len(picked) >= free:
                        break
                    if webhook_id in busy or per_ws.get(ws, 0) >= share:
                        continue  # one at a time per receiver, and room left for another workspace's
                    busy.add(webhook_id)
                    per_ws[ws] = per_ws.get(ws, 0) + 1
                    picked.append(delivery_id)
                    self._inflight[delivery_id] = webhook_id
                    self._inflight_ws[delivery_id] = ws
            for delivery_id in picked:
                cur.execute("UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ?", [lease, delivery_id])
        return picked

    def _send_due(self) -> int:
        with self._lock:
            free = self.parallel - len(self._inflight)
        if free <= 0 or self._stop.is_set():
            return 0
        picked = self._claim(free)
        for delivery_id in picked:
            self._pool.submit(self._deliver_claimed, delivery_id)  # type: ignore[union-attr]
        return len(picked)

    def run_once(self) -> int:
        """One round in the calling thread: fan out, then send every due delivery (for the CLI and tests)."""
        self.fan_out()
        sent = 0
        while True:
            picked = self._claim(self.parallel)
            if not picked:
                return sent
            for delivery_id in picked:
                self._deliver_claimed(delivery_id)
            sent += len(picked)

    def _deliver_claimed(self, delivery_id: int) -> None:
        try:
            self.deliver(delivery_id)
        except Exception:  # noqa: BLE001 - the claim lapses and the delivery is tried again
            log.exception("webhook delivery %s could not be recorded", delivery_id)
        finally:
            with self._lock:
                self._inflight.pop(delivery_id, None)
                self._inflight_ws.pop(delivery_id, None)
            self._wake.set()

    def _http(self):
        if self._client is None:
            from pipeline.safehttp import guarded_client

            # No proxies from the environment, no redirects; the address is checked again where it connects (a
            # name that changes its answer between the check and the connection is caught), unless the owner
            # allows private receivers (read at each connection).
            def policy(address):
                return None if self.settings.webhooks_allow_private else refused_address(address)

            self._client = guarded_client(policy, timeout=self.settings.webhook_timeout_s, follow_redirects=False)
        return self._client

    def deliver(self, delivery_id: int) -> Outcome | None:
        """Send one delivery now and record the attempt (None when it is gone or no longer pending)."""
        row = self.db.query_one(
            "SELECT d.event_id, d.status, w.id, w.url, w.secret, e.payload FROM webhook_deliveries d"
            " JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN event_outbox e ON e.id = d.event_id WHERE d.id = ?",
            [delivery_id])
        if row is None or row[1] != "pending":
            return None
        event_id, _, webhook_id, url, sealed, payload = row
        if payload is None:
            outcome = Outcome(error="the event was pruned from the outbox before it could be sent")
        else:
            outcome = self._post(url, sealed, event_id, payload)
        self._record(delivery_id, webhook_id, outcome, final=payload is None)
        return outcome

    def _post(self, url: str, sealed: str, event_id: str, payload: str) -> Outcome:
        import httpx
        from standardwebhooks import Webhook

        started = time.monotonic()
        try:
            address = check_receiver(url, self.settings.webhooks_allow_private)  # again: names move
            secret = self.desk.box.open(sealed)
        except WebhookError as exc:
            return Outcome(error=str(exc))
        stamp = datetime.now(timezone.utc)  # the library signs it as UTC: never hand it local time
        headers = {"webhook-id": event_id, "webhook-timestamp": str(int(stamp.timestamp())),
                   "webhook-signature": Webhook(secret).sign(event_id, stamp, payload),
                   "content-type": "application/json", "user-agent": USER_AGENT}
        target = httpx.URL(url)
        extensions = {}
        if address is not None:  # connect to the address checked; name the host for HTTP and TLS
            headers["host"] = target.netloc.decode("ascii")
            extensions["sni_hostname"] = target.host
            target = target.copy_with(host=address)
        outcome = Outcome()
        try:
            with deadline(self.settings.webhook_timeout_s):  # the whole attempt: a trickling receiver is cut off
                outcome = self._exchange(target, payload, headers, extensions)
        except httpx.TimeoutException:
            outcome.error = f"no answer within {self.settings.webhook_timeout_s:g} s"
        except httpx.HTTPError as exc:
            outcome.error = f"could not reach the receiver ({type(exc).__name__}: {exc})"
        outcome.ms = int((time.monotonic() - started) * 1000)
        if outcome.error:
            outcome.error = outcome.error[:MAX_ERROR]
        return outcome

    def _exchange(self, target, payload: str, headers: dict, extensions: dict) -> Outcome:
        """One POST and the start of its answer (the caller's deadline bounds it)."""
        outcome = Outcome()
        request = self._http().build_request("POST", target, content=payload.encode("utf-8"), headers=headers,
                                             extensions=extensions)
        response = self._http().send(request, stream=True)
        try:
            outcome.status_code = response.status_code
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= 1024:
                    break
            outcome.response = body.decode("utf-8", "replace")[:MAX_RESPONSE] or None
            outcome.retry_after = retry_after(response.headers.get("retry-after"))
            if 300 <= response.status_code < 400:
                outcome.error = (f"the receiver redirected ({response.status_code} to "
                                 f"{response.headers.get('location', 'nowhere')[:200]}); redirects are not "
                                 "followed: give the webhook the final URL")
            elif not outcome.ok:
                outcome.error = f"the receiver answered HTTP {response.status_code}"
        finally:
            response.close()
        return outcome

    # -- recording -------------------------------------------------------------------------------------
    def _record(self, delivery_id: int, webhook_id: int, outcome: Outcome, final: bool = False) -> None:
        """The attempt, the delivery's new state and the webhook's health, in one transaction."""
        now = utcnow()
        schedule = self.settings.webhook_retry_s
        with self.db.write() as cur:
            found = first(cur.execute("SELECT d.attempts, d.status, w.consecutive_failures, w.failing_since,"
                                      " w.enabled FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                                      " WHERE d.id = ?", [delivery_id]))
            if found is None or found[1] != "pending":
                return  # deleted meanwhile
            attempts, _, failures, failing_since, enabled = found
            attempts += 1
            cur.execute("INSERT INTO webhook_attempts (delivery_id, attempt, at_time, status_code, duration_ms, error,"
                        " response) VALUES (?, ?, ?, ?, ?, ?, ?)", [delivery_id, attempts, now, outcome.status_code,
                                                                   outcome.ms, outcome.error, outcome.response])
            if outcome.ok:
                cur.execute("UPDATE webhook_deliveries SET status = 'delivered', attempts = ?, last_status = ?,"
                            " last_error = NULL, delivered_at = ?, next_attempt_at = NULL, claimed_until = NULL"
                            " WHERE id = ?", [attempts, outcome.status_code, now, delivery_id])
                cur.execute("UPDATE webhooks SET consecutive_failures = 0, failing_since = NULL, last_success_at = ?"
                            " WHERE id = ?", [now, webhook_id])
                return
            gone = outcome.status_code == 410
            delay = None if gone or final else next_delay(schedule, attempts, outcome)
            status = "pending" if delay is not None else "failed"
            cur.execute("UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?,"
                        " next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
                        [status, attempts, outcome.status_code, outcome.error, now + timedelta(seconds=delay or 0),
                         delivery_id])
            failing_since = failing_since or now
            failures += status == "failed"
            cur.execute("UPDATE webhooks SET consecutive_failures = ?, failing_since = ? WHERE id = ?",
                        [failures, failing_since, webhook_id])
            why = None
            if gone:
                why = "the receiver answered 410 Gone (it asked to be sent nothing more)"
            elif failures >= self.settings.webhook_disable_after:
                why = f"{failures} deliveries in a row failed every attempt"
            elif now - failing_since > FAILING_FOR:
                why = f"every delivery has failed since {failing_since:%Y-%m-%d %H:%M} UTC (more than a day)"
            if why and enabled:
                reason = (f"Turned off automatically at {now:%Y-%m-%d %H:%M} UTC: {why}; the last error: "
                          f"{outcome.error or 'none'}. Fix the receiver, then turn the webhook on again "
                          "(waiting deliveries go then; replay failed ones from the log).")
                cur.execute("UPDATE webhooks SET enabled = false, disabled_at = ?, disabled_reason = ? WHERE id = ?",
                            [now, reason[:2000], webhook_id])
                log.warning("webhook %s turned off: %s", webhook_id, why)

    # -- upkeep ------------------------------------------------------------------------------------------
    def prune(self, keep_days: int = KEEP_DAYS) -> int:
        """Forget finished deliveries, their attempts and their events after ``keep_days``; returns deliveries."""
        self._pruned_at = time.monotonic()
        cutoff = utcnow() - timedelta(days=keep_days)
        with self.db.write() as cur:
            old = "SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?"
            cur.execute(f"DELETE FROM webhook_attempts WHERE delivery_id IN ({old})", [cutoff])
            gone = cur.execute(f"DELETE FROM webhook_deliveries WHERE id IN ({old}) RETURNING id", [cutoff]).fetchall()
            cur.execute("DELETE FROM event_outbox WHERE fanned_out_at IS NOT NULL AND created_at < ? AND id NOT IN"
                        " (SELECT event_id FROM webhook_deliveries)", [cutoff])
            cur.execute("DELETE FROM budget_alerts WHERE at_time < ?", [cutoff])
        return len(gone)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every event is fanned out and no delivery is due or in flight (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = utcnow()
            waiting = self.db.query_one(
                "SELECT (SELECT count(*) FROM event_outbox WHERE fanned_out_at IS NULL) + (SELECT count(*)"
                " FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending'"
                " AND w.enabled AND coalesce(d.next_attempt_at, d.created_at) <= ?)", [now])[0]
            with self._lock:
                busy = bool(self._inflight)
            if not waiting and not busy:
                return True
            time.sleep(0.02)
        return False
