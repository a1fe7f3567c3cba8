"""Webhooks: where events go, signed per the Standard Webhooks specification.

A webhook belongs to a workspace and receives that workspace's events of the types it subscribes to (none named:
every type); the owner's, made on "All workspaces", receives every workspace's. Its signing secret
(``whsec_<base64>``) is shown once, when it is made, and kept encrypted with a Fernet key of its own in
``<data dir>/secrets/webhook.key``: a copied database alone cannot sign as the workbench.

Receivers are public addresses only, checked when a webhook is made and again before every delivery (a name
may resolve elsewhere later), unless the owner allows private ones (``webhooks_allow_private``). Sending,
retrying and turning failing webhooks off is pipeline.webhook_delivery's job; this desk is what operators do.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import secrets
import socket
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from pipeline import events
from pipeline.access import audit
from pipeline.access.actor import Actor, NotInWorkspace
from pipeline.access.guard import as_id
from pipeline.config import ConfigError, Settings
from pipeline.db import Database
from pipeline.files import private_dir, private_file

MAX_URL_CHARS = 2000
MAX_DESCRIPTION_CHARS = 200
MAX_PER_WORKSPACE = 20
MAX_LOG_ROWS = 500
CGNAT = ipaddress.ip_network("100.64.0.0/10")
ALLOW_HOW = ("an owner can allow private receivers on the Settings page (\"Webhooks may reach private "
             "addresses\") or with YTEMPIRE_WEBHOOKS_ALLOW_PRIVATE=1")


class WebhookError(ConfigError):
    """A webhook or delivery request an operator must fix; the message says what."""


class PrivateAddress(WebhookError):
    """The receiver resolves to an address only this machine or its network can reach."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# -- receivers: which addresses a webhook may reach --------------------------------------------------
def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of non-public address this is (None: a public one)."""
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 is 127.0.0.1; 6to4 (2002:7f00:1::) and Teredo carry an IPv4 address inside too.
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is not None:
            address = inner
    checks = (("loopback", address.is_loopback), ("link-local", address.is_link_local),
              ("unspecified", address.is_unspecified), ("multicast", address.is_multicast),
              ("carrier-grade NAT", isinstance(address, ipaddress.IPv4Address) and address in CGNAT),
              ("reserved", address.is_reserved), ("private", address.is_private), ("non-public", not address.is_global))
    return next((name for name, hit in checks if hit), None)


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookError(f"The receiver's host {host} does not resolve ({exc}): check the URL.") from None
    found = []
    for info in infos:
        ip = str(info[4][0]).split("%")[0]
        if ip not in found:
            found.append(ip)
    return found


def check_receiver(url: str, allow_private: bool) -> str | None:
    """The public address to connect to (the one checked, so a name cannot resolve elsewhere between the check
    and the connection), or None when private receivers are allowed (connect by name). Raises PrivateAddress."""
    parts = urlsplit(url)
    if allow_private:
        return None
    host = parts.hostname or ""
    addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    for ip in addresses:
        kind = refused_address(ipaddress.ip_address(ip))
        if kind:
            raise PrivateAddress(f"The receiver {host} is a {kind} address ({ip}); webhooks reach public addresses "
                                 f"only, so the workbench cannot be pointed at what only it can reach. To deliver "
                                 f"to a receiver on this machine or your network, {ALLOW_HOW}.")
    return addresses[0]


def check_url(url: object) -> str:
    """A webhook URL, checked for form: http(s), a host, no credentials, no fragment, at most 2,000 characters."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("Give the receiver's URL, like https://hooks.example.com/ytempire.")
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise WebhookError(f"The URL is {len(url):,} characters; a webhook URL is at most {MAX_URL_CHARS:,}.")
    if re.search(r"[\s\x00-\x1f\x7f]", url):
        raise WebhookError("The URL has spaces or control characters in it: copy it again.")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError(f"A webhook URL starts with https:// (or http://), not {parts.scheme or 'nothing'}:.")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("Put no user name or password in the URL: receivers check the webhook-signature header "
                           "instead (see the README's webhook section).")
    if not parts.hostname:
        raise WebhookError("The URL names no host: use one like https://hooks.example.com/ytempire.")
    if parts.fragment:
        raise WebhookError("A webhook URL has no #fragment (it is never sent): remove it.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise WebhookError("The URL's port is not a number from 1 to 65535.") from None
    return url


def check_events(names: list[str] | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, (list, tuple, set)):
        raise WebhookError("Events are a list of event types (an empty list: every type).")
    out = []
    for name in names:
        if name not in events.TYPE_NAMES:
            raise WebhookError(f"{str(name)[:60]!r} is not an event type: use {', '.join(events.TYPE_NAMES)}.")
        if name not in out:
            out.append(name)
    return out


# -- the signing secrets, encrypted at rest ------------------------------------------------------------
class SecretBox:
    """Fernet with the key in ``<data dir>/secrets/webhook.key``, made (owner-only) the first time it is needed."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / "secrets"
        self._fernet = None

    def _box(self):
        if self._fernet is None:
            from cryptography.fernet import Fernet

            folder = private_dir(self.folder)
            path = folder / "webhook.key"
            if not path.exists():
                tmp = folder / f".webhook.key.{secrets.token_hex(4)}"
                tmp.write_bytes(Fernet.generate_key())
                private_file(tmp)
                try:
                    tmp.rename(path) if not path.exists() else tmp.unlink()
                except OSError:
                    tmp.unlink(missing_ok=True)
            self._fernet = Fernet(path.read_bytes().strip())
        return self._fernet

    def seal(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._box().decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise WebhookError(f"A webhook's secret cannot be read with {self.folder / 'webhook.key'} (the key was "
                               "replaced, or the database came from another installation): delete the webhook and "
                               "make it again.") from None


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# -- the desk ----------------------------------------------------------------------------------------------
PUBLIC_COLUMNS = ("id", "workspace_id", "url", "events", "description", "enabled", "disabled_reason", "disabled_at",
                  "consecutive_failures", "failing_since", "last_success_at", "created_at")
DELIVERY_COLUMNS = ("d.id", "d.webhook_id", "w.url", "d.event_id", "d.event_type", "d.status", "d.attempts",
                    "d.last_status", "d.last_error", "d.next_attempt_at", "d.created_at", "d.delivered_at",
                    "d.replay_of")


class WebhookDesk:
    """Make, list, switch, test and delete webhooks; read the delivery log and replay from it."""

    event_types = events.EVENT_TYPES

    def __init__(self, db: Database, settings: Settings, data_dir: Path, wake=None):
        self.db, self.settings = db, settings
        self.box = SecretBox(data_dir)
        self.wake = wake or (lambda: None)  # the dispatcher's, once it exists: a replay goes out promptly
        events.set_public_url(db, settings.public_url)

    # -- what the actor may see ------------------------------------------------------------------
    @staticmethod
    def _where(actor: Actor, alias: str = "") -> tuple[str, list]:
        scope = actor.scope
        if scope is None:
            return "true", []
        column = f"{alias}workspace_id"
        if not scope:
            return "false", []
        return f"{column} IN ({', '.join('?' * len(scope))})", sorted(scope)

    def _row(self, actor: Actor, webhook_id: object) -> dict:
        ident = as_id(webhook_id)
        where, params = self._where(actor)
        rows = self.db.query_dicts(f"SELECT * FROM webhooks WHERE id = ? AND {where}", [ident, *params]) \
            if ident is not None else []
        if not rows:
            raise NotInWorkspace(f"There is no webhook {str(webhook_id)[:20]} in this workspace.")
        return rows[0]

    @staticmethod
    def _public(row: dict) -> dict:
        out = {k: row[k] for k in PUBLIC_COLUMNS}
        out["events"] = json.loads(row["events"] or "[]")
        return out

    def list(self, actor: Actor) -> list[dict]:
        where, params = self._where(actor)
        return [self._public(r) for r in self.db.query_dicts(f"SELECT * FROM webhooks WHERE {where} ORDER BY id",
                                                             params)]

    def get(self, actor: Actor, webhook_id: int) -> dict:
        return self._public(self._row(actor, webhook_id))

    # -- changes ------------------------------------------------------------------------------------
    def create(self, actor: Actor, url: str, events: list[str] | None = None, description: str = "") -> dict:
        """Make a webhook in the actor's workspace (the owner on "All workspaces": one for every workspace).
        The returned dict holds ``secret`` (``whsec_...``): shown this once, never stored in the clear."""
        url = check_url(url)
        names = check_events(events)
        description = (description or "").strip()
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise WebhookError(f"The description is {len(description)} characters; keep it to "
                               f"{MAX_DESCRIPTION_CHARS}.")
        check_receiver(url, self.settings.webhooks_allow_private)
        workspace = None if actor.scope is None else actor.home()
        secret = new_secret()
        sealed = self.box.seal(secret)
        with self.db.write() as cur:
            count = cur.execute("SELECT count(*) FROM webhooks WHERE workspace_id IS NOT DISTINCT FROM ?",
                                [workspace]).fetchall()[0][0]
            if count >= MAX_PER_WORKSPACE:
                raise WebhookError(f"This workspace has {count} webhooks, the most it may have: delete one first.")
            webhook_id = cur.execute(
                "INSERT INTO webhooks (workspace_id, url, events, description, secret, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                [workspace, url, json.dumps(names), description, sealed, actor.user_id]).fetchall()[0][0]
            audit.record(cur, actor, "webhook.create", webhook_id, url[:200], workspace)
        return {**self.get(actor, webhook_id), "secret": secret}

    def delete(self, actor: Actor, webhook_id: int) -> None:
        """Delete a webhook with its delivery log (events already sent stay sent)."""
        row = self._row(actor, webhook_id)
        with self.db.write() as cur:
            cur.execute("DELETE FROM webhook_attempts WHERE delivery_id IN"
                        " (SELECT id FROM webhook_deliveries WHERE webhook_id = ?)", [row["id"]])
            cur.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [row["id"]])
            cur.execute("DELETE FROM webhooks WHERE id = ?", [row["id"]])
            audit.record(cur, actor, "webhook.delete", row["id"], row["url"][:200], row["workspace_id"])

    def set_enabled(self, actor: Actor, webhook_id: int, on: bool) -> dict:
        """Turn a webhook off, or on again: on clears its failure count and reason, and what waited is sent now."""
        row = self._row(actor, webhook_id)
        with self.db.write() as cur:
            if on:
                cur.execute("UPDATE webhooks SET enabled = true, disabled_reason = NULL, disabled_at = NULL,"
                            " consecutive_failures = 0, failing_since = NULL WHERE id = ?", [row["id"]])
                cur.execute("UPDATE webhook_deliveries SET next_attempt_at = NULL WHERE webhook_id = ?"
                            " AND status = 'pending'", [row["id"]])
            else:
                cur.execute("UPDATE webhooks SET enabled = false, disabled_at = ?, disabled_reason = ? WHERE id = ?",
                            [utcnow(), f"Turned off by {actor.email}.", row["id"]])
            audit.record(cur, actor, "webhook.enable" if on else "webhook.disable", row["id"], None,
                         row["workspace_id"])
        self.wake()
        return self.get(actor, row["id"])

    def send_test(self, actor: Actor, webhook_id: int) -> str:
        """Queue a webhook.test event for this webhook only; returns its event id (the webhook-id header)."""
        row = self._row(actor, webhook_id)
        if not row["enabled"]:
            raise WebhookError("This webhook is off: turn it on first, then send a test.")
        with self.db.write() as cur:
            event_id = events.emit(cur, "webhook.test", row["workspace_id"],
                                   {"webhook_id": row["id"], "message": "A test event from YTEmpire.",
                                    "sent_by": actor.email}, webhook_id=row["id"])
            audit.record(cur, actor, "webhook.test", row["id"], event_id, row["workspace_id"])
        return event_id

    # -- the delivery log --------------------------------------------------------------------------
    def deliveries(self, actor: Actor, webhook_id: int | None = None, limit: int = 50,
                   before: int | None = None) -> list[dict]:
        """The newest deliveries first (``before``: older than that delivery id, to page on), at most 500."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LOG_ROWS:
            raise WebhookError(f"Ask for 1 to {MAX_LOG_ROWS} deliveries at a time.")
        where, params = self._where(actor, "w.")
        sql = (f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
               f" WHERE {where}")
        if webhook_id is not None:
            sql += " AND d.webhook_id = ?"
            params.append(self._row(actor, webhook_id)["id"])
        if before is not None:
            if not isinstance(before, int) or isinstance(before, bool):
                raise WebhookError("'before' is a delivery id (a whole number).")
            sql += " AND d.id < ?"
            params.append(before)
        return self.db.query_dicts(sql + " ORDER BY d.id DESC LIMIT ?", [*params, limit])

    def _delivery(self, actor: Actor, delivery_id: object) -> dict:
        ident = as_id(delivery_id)
        where, params = self._where(actor, "w.")
        rows = self.db.query_dicts(f"SELECT d.*, w.enabled FROM webhook_deliveries d JOIN webhooks w"
                                   f" ON w.id = d.webhook_id WHERE d.id = ? AND {where}", [ident, *params]) \
            if ident is not None else []
        if not rows:
            raise NotInWorkspace(f"There is no delivery {str(delivery_id)[:20]} in this workspace.")
        return rows[0]

    def attempts(self, actor: Actor, delivery_id: int) -> list[dict]:
        """Every attempt of one delivery: when, the HTTP status, how long, the error and the answer's start."""
        row = self._delivery(actor, delivery_id)
        return self.db.query_dicts("SELECT attempt, at_time, status_code, duration_ms, error, response"
                                   " FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt, id", [row["id"]])

    def payload(self, actor: Actor, delivery_id: int) -> str | None:
        """The exact body a delivery sends (None once the event has been pruned)."""
        row = self._delivery(actor, delivery_id)
        found = self.db.query_one("SELECT payload FROM event_outbox WHERE id = ?", [row["event_id"]])
        return found[0] if found else None

    def replay(self, actor: Actor, delivery_id: int) -> int:
        """Queue a delivered or failed delivery again as a new delivery of the same event: the same webhook-id and
        body, so a receiver that dedupes on webhook-id sees it once. Returns the new delivery's id."""
        row = self._delivery(actor, delivery_id)
        if row["status"] == "pending":
            raise WebhookError(f"Delivery {row['id']} is still being tried: wait for it to be delivered or fail.")
        if not row["enabled"]:
            raise WebhookError("This webhook is off: turn it on first, then replay.")
        if not self.db.query_one("SELECT 1 FROM event_outbox WHERE id = ?", [row["event_id"]]):
            raise WebhookError(f"The event of delivery {row['id']} is older than the log keeps: it cannot be replayed.")
        with self.db.write() as cur:
            new_id = cur.execute(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, workspace_id, replay_of)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                [row["webhook_id"], row["event_id"], row["event_type"], row["workspace_id"], row["id"]]
            ).fetchall()[0][0]
            audit.record(cur, actor, "webhook.replay", row["webhook_id"], f"delivery {row['id']} as {new_id}",
                         row["workspace_id"])
        self.wake()
        return new_id
