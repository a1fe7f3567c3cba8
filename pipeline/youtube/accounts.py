"""Channel accounts: the operator's Google Cloud projects (OAuth clients), each channel's tokens
(encrypted at rest), the OAuth consent flow, token refresh, and the health used to rotate."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pipeline.config import ConfigError, Settings
from pipeline.db import Database
from pipeline.youtube.api import SCOPES
from pipeline.youtube.crypto import TokenBox
from pipeline.youtube.quota import QuotaLedger

log = logging.getLogger("ytempire.youtube")

STATUS_HELP = {
    "ok": "connected",
    "expired": "the access token could not be refreshed right now; it will be tried again",
    "revoked": "access was revoked or the refresh token expired: reconnect the channel on the Channels page",
    "error": "the last call failed; see the message",
}


class AccountError(ValueError):
    pass


MAX_JSON_CHARS = 64 * 1024  # a client secret or token JSON is about 1 KB


def _bounded(text: str, what: str) -> str:
    if len(text) > MAX_JSON_CHARS:
        raise AccountError(f"The {what} is {len(text):,} characters long: a real one is about a kilobyte (the limit "
                           f"is {MAX_JSON_CHARS // 1024} KB). Download it again from Google Cloud Console.")
    return text


def parse_client_config(text: str) -> dict:
    """A Google OAuth client secret JSON ({"installed": {...}} or {"web": {...}})."""
    _bounded(text, "client secret")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AccountError("The client secret is not JSON: download it from Google Cloud Console → APIs & Services → "
                           "Credentials → your OAuth client → Download JSON.") from exc
    section = data.get("installed") or data.get("web") if isinstance(data, dict) else None
    if not section or not section.get("client_id") or not section.get("client_secret"):
        raise AccountError("The client secret JSON needs an 'installed' (desktop) or 'web' client with client_id and "
                           "client_secret.")
    if not section.get("project_id"):
        section["project_id"] = section["client_id"].split("-")[0]
    return data


def parse_token(text: str) -> dict:
    """An authorized-user token JSON as google-auth writes it (Credentials.to_json())."""
    _bounded(text, "token file")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AccountError("The token file is not JSON.") from exc
    if not isinstance(data, dict) or not data.get("refresh_token"):
        raise AccountError("The token needs a refresh_token (an authorized-user token as google-auth writes it).")
    return data


@dataclass
class Account:
    channel_id: int
    project_id: str
    status: str
    status_message: str | None
    last_used: datetime | None
    youtube_channel_id: str | None


class Accounts:
    def __init__(self, db: Database, settings: Settings, quota: QuotaLedger):
        self.db, self.settings, self.quota = db, settings, quota
        self.box = TokenBox(settings.token_key.get_secret_value() if settings.token_key else None)

    def require_key_if_tokens(self) -> None:
        """At start, not at publish: refuse without the key once tokens are stored, and with a key that
        does not open them (one stored secret is decrypted to prove it)."""
        row = self.db.query_one("SELECT (SELECT token FROM youtube_accounts LIMIT 1),"
                                " (SELECT client_config FROM youtube_projects LIMIT 1)")
        sealed = row[0] if row[0] is not None else row[1]
        if sealed is None:
            return
        if not self.box.ready:
            raise ConfigError("Channel tokens are stored but YTEMPIRE_TOKEN_KEY is not set: set it (environment or "
                              ".streamlit/secrets.toml) to the key they were saved with.")
        try:
            self.box.open(sealed)
        except ConfigError as exc:
            raise ConfigError("YTEMPIRE_TOKEN_KEY does not open the stored channel tokens: set it to the key they were "
                              "saved with (after `channels rotate-key`, the new one), or disconnect and reconnect the "
                              "channels.") from exc

    def rotate_key(self, new_key: str) -> dict[str, int]:
        """Re-encrypt every stored secret (tokens, client secrets, consent verifiers, upload sessions) with a new
        key, in one transaction: all of them move, or none. Returns how many of each moved."""
        from pipeline.youtube.crypto import TokenBox

        new = TokenBox(new_key)
        if not self.box.ready:
            raise ConfigError("Set YTEMPIRE_TOKEN_KEY to the current key first: it is needed to open the tokens.")
        counts = {}
        with self.db.write() as cur:
            for table, column, keys in (("youtube_accounts", "token", ("channel_id", "project_id")),
                                        ("youtube_projects", "client_config", ("project_id",)),
                                        ("oauth_states", "verifier", ("state",))):
                rows = cur.execute(f"SELECT {', '.join(keys)}, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
                for row in rows:
                    cur.execute(f"UPDATE {table} SET {column} = ? WHERE {' AND '.join(f'{k} = ?' for k in keys)}",
                                [new.seal(self.box.open(row[-1])), *row[:-1]])
                counts[table] = len(rows)
            sessions = cur.execute("SELECT job_id, session_uri FROM uploads WHERE session_uri IS NOT NULL"
                                   " AND NOT starts_with(session_uri, 'http')").fetchall()
            for job_id, sealed in sessions:
                cur.execute("UPDATE uploads SET session_uri = ? WHERE job_id = ?",
                            [new.seal(self.box.open(sealed.encode())).decode(), job_id])
            counts["uploads"] = len(sessions)
        self.box = new
        return counts

    def disconnect(self, channel_id: int, project: str | None = None) -> list[str]:
        """Revoke the channel's tokens at Google (when it can be reached) and delete them here, whatever Google
        answers. Returns one line per account saying what happened."""
        import requests

        notes = []
        for account in [a for a in self.accounts(channel_id) if project is None or a.project_id == project]:
            row = self.db.query_one("SELECT token FROM youtube_accounts WHERE channel_id = ? AND project_id = ?",
                                    [channel_id, account.project_id])
            try:
                token = self.box.open(row[0]) if row else {}
            except ConfigError:
                token = {}
            secret = token.get("refresh_token") or token.get("token")
            if not secret:
                note = "no readable token to revoke"
            else:
                try:
                    answer = requests.post(self.settings.oauth_revoke_uri, data={"token": secret}, timeout=10,
                                           headers={"content-type": "application/x-www-form-urlencoded"})
                    if answer.status_code == 200:
                        note = "revoked at Google"
                    elif answer.status_code == 400:  # invalid_token: revoked or expired already
                        note = "Google no longer honoured the token (already revoked)"
                    else:
                        note = (f"Google answered {answer.status_code}: revoke the access yourself at "
                                "https://myaccount.google.com/permissions")
                except requests.RequestException:
                    note = ("Google could not be reached: revoke the access yourself at "
                            "https://myaccount.google.com/permissions")
            with self.db.write() as cur:
                cur.execute("DELETE FROM youtube_accounts WHERE channel_id = ? AND project_id = ?",
                            [channel_id, account.project_id])
            notes.append(f"{account.project_id}: {note}; the token is deleted here")
        return notes

    # -- projects ------------------------------------------------------------------------------
    def add_project(self, client_config: dict, quota_model: str | None = None, *, workspace_id: int) -> str:
        section = client_config.get("installed") or client_config.get("web")
        project = section["project_id"]
        with self.db.write() as cur:
            owner = cur.execute("SELECT workspace_id FROM youtube_projects WHERE project_id = ?", [project]).fetchall()
            if owner and owner[0][0] != workspace_id:
                raise AccountError(f"The Google Cloud project {project} is connected in another workspace: each "
                                   "workspace uses a project of its own.")
            cur.execute("INSERT INTO youtube_projects (project_id, client_config, quota_model, workspace_id)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET client_config = excluded.client_config",
                        [project, self.box.seal(client_config), quota_model or self.settings.quota_model,
                         workspace_id])
        return project

    def client_config(self, project: str) -> dict:
        row = self.db.query_one("SELECT client_config FROM youtube_projects WHERE project_id = ?", [project])
        if row is None:
            raise AccountError(f"There is no project {project}: add its client secret first.")
        return self.box.open(row[0])

    # -- OAuth ---------------------------------------------------------------------------------
    def _flow(self, project: str, state: str | None = None):
        import os
        from urllib.parse import urlparse

        from google_auth_oauthlib.flow import Flow

        # Google may grant the scopes in another order, or fewer (the monetary one): accept what it grants.
        os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
        if urlparse(self.settings.oauth_token_uri).hostname in ("127.0.0.1", "localhost", "::1"):
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http is allowed on loopback only

        config = json.loads(json.dumps(self.client_config(project)))
        section = config.get("installed") or config.get("web")
        section["token_uri"] = self.settings.oauth_token_uri
        return Flow.from_client_config(config, scopes=SCOPES, redirect_uri=self.settings.oauth_redirect_uri, state=state)

    def authorization_url(self, project: str, channel_id: int) -> str:
        """Where the operator gives consent. Google sends them back to the workbench with ?code=...&state=...;
        the state is random and remembered with its PKCE verifier, so only this request can be finished."""
        import secrets

        flow = self._flow(project)
        state = secrets.token_urlsafe(24)
        url, _ = flow.authorization_url(access_type="offline", prompt="consent", include_granted_scopes="true",
                                        state=state)
        verifier = getattr(flow, "code_verifier", None)
        with self.db.write() as cur:
            cur.execute("DELETE FROM oauth_states WHERE created_at < current_timestamp - INTERVAL 1 HOUR")
            cur.execute("INSERT INTO oauth_states (state, project_id, channel_id, verifier) VALUES (?, ?, ?, ?)",
                        [state, project, channel_id, self.box.seal({"v": verifier}) if verifier else None])
        return url

    def exchange_code(self, state: str, code: str) -> Account:
        """Finish consent: trade the code (with the request's PKCE verifier) for tokens and store them encrypted."""
        row = self.db.query_one("SELECT project_id, channel_id, verifier FROM oauth_states WHERE state = ?"
                                " AND created_at >= current_timestamp - INTERVAL 1 HOUR", [state])
        if row is None:
            raise AccountError("This sign-in link is unknown or more than an hour old: start the connection again from "
                               "the Channels page.")
        project, channel_id, verifier = row
        flow = self._flow(project)
        if verifier:
            flow.code_verifier = self.box.open(verifier)["v"]
        try:
            flow.fetch_token(code=code.strip())
        except Exception as exc:  # noqa: BLE001 - oauthlib raises many kinds
            raise AccountError(f"Google did not accept the code ({exc}): start the connection again; a code works once "
                               "and only for a few minutes.") from exc
        with self.db.write() as cur:
            cur.execute("DELETE FROM oauth_states WHERE state = ?", [state])
        return self.store_token(channel_id, project, json.loads(flow.credentials.to_json()))

    def pending_state(self, project: str, channel_id: int) -> str | None:
        """The newest consent request in flight for this channel and project (for a pasted code)."""
        row = self.db.query_one("SELECT state FROM oauth_states WHERE project_id = ? AND channel_id = ?"
                                " ORDER BY created_at DESC LIMIT 1", [project, channel_id])
        return row[0] if row else None

    def store_token(self, channel_id: int, project: str, token: dict) -> Account:
        self.client_config(project)  # the project must be known
        with self.db.write() as cur:
            cur.execute("INSERT INTO youtube_accounts (channel_id, project_id, token, status) VALUES (?, ?, ?, 'ok')"
                        " ON CONFLICT DO UPDATE SET token = excluded.token, status = 'ok', status_message = NULL,"
                        " updated_at = now()", [channel_id, project, self.box.seal(token)])
        return self.account(channel_id, project)

    # -- credentials and status ----------------------------------------------------------------
    def accounts(self, channel_id: int | None = None) -> list[Account]:
        sql = "SELECT channel_id, project_id, status, status_message, last_used, youtube_channel_id FROM youtube_accounts"
        rows = self.db.query(sql + (" WHERE channel_id = ?" if channel_id is not None else "") + " ORDER BY 1, 2",
                             [channel_id] if channel_id is not None else [])
        return [Account(*r) for r in rows]

    def account(self, channel_id: int, project: str) -> Account:
        found = [a for a in self.accounts(channel_id) if a.project_id == project]
        if not found:
            raise AccountError(f"Channel {channel_id} is not connected through project {project}.")
        return found[0]

    def credentials(self, channel_id: int, project: str):
        """google-auth Credentials, refreshed when needed; a failed refresh marks the account's status."""
        from google.auth.exceptions import RefreshError
        from google.auth.transport.requests import Request
        from google.oauth2.credentials import Credentials

        row = self.db.query_one("SELECT token FROM youtube_accounts WHERE channel_id = ? AND project_id = ?",
                                [channel_id, project])
        if row is None:
            raise AccountError(f"Channel {channel_id} is not connected through project {project}.")
        info = self.box.open(row[0])
        section = self.client_config(project)
        section = section.get("installed") or section.get("web")
        info.setdefault("client_id", section["client_id"])
        info.setdefault("client_secret", section["client_secret"])
        expiry = None
        if info.get("expiry"):
            expiry = datetime.fromisoformat(info["expiry"].rstrip("Z")).replace(tzinfo=None)
        # Built by hand: from_authorized_user_info pins Google's token endpoint, and ours is configurable.
        creds = Credentials(token=info.get("token"), refresh_token=info.get("refresh_token"),
                            token_uri=self.settings.oauth_token_uri, client_id=info["client_id"],
                            client_secret=info["client_secret"], scopes=info.get("scopes") or SCOPES, expiry=expiry)
        if not creds.valid:
            try:
                creds.refresh(Request())
            except RefreshError as exc:
                revoked = "invalid_grant" in str(exc) or "revoked" in str(exc).lower()
                self.set_status(channel_id, project, "revoked" if revoked else "expired", str(exc)[:300])
                raise AccountError(f"Channel {channel_id}: {STATUS_HELP['revoked' if revoked else 'expired']}.") from exc
            with self.db.write() as cur:  # keep the fresh access token (encrypted) for the next call
                cur.execute("UPDATE youtube_accounts SET token = ?, updated_at = now() WHERE channel_id = ? AND project_id = ?",
                            [self.box.seal(json.loads(creds.to_json())), channel_id, project])
        return creds

    def set_status(self, channel_id: int, project: str, status: str, message: str | None = None) -> None:
        from pipeline.events import emit_token_revoked

        with self.db.write() as cur:
            before = cur.execute("SELECT status FROM youtube_accounts WHERE channel_id = ? AND project_id = ?",
                                 [channel_id, project]).fetchall()
            cur.execute("UPDATE youtube_accounts SET status = ?, status_message = ?, updated_at = now()"
                        " WHERE channel_id = ? AND project_id = ?", [status, message, channel_id, project])
            if before and status in ("revoked", "expired") and before[0][0] != status:  # once, when it is found
                emit_token_revoked(cur, channel_id, project, status, message)

    def touch(self, channel_id: int, project: str, youtube_channel_id: str | None = None) -> None:
        with self.db.write() as cur:
            cur.execute("UPDATE youtube_accounts SET last_used = now(), status = CASE WHEN status = 'error' THEN 'ok'"
                        " ELSE status END, youtube_channel_id = coalesce(?, youtube_channel_id)"
                        " WHERE channel_id = ? AND project_id = ?", [youtube_channel_id, channel_id, project])

    # -- health and rotation -------------------------------------------------------------------
    def recent_errors(self, project: str, hours: int = 24) -> int:
        return self.db.query_one("SELECT count(*) FROM quota_ledger WHERE project_id = ? AND outcome <> 'ok'"
                                 " AND at_time > (now() - to_hours(?))::TIMESTAMP", [project, hours])[0]

    def health(self, account: Account, method: str) -> float:
        """0 when unusable (revoked, parked, no headroom), else headroom less a penalty for recent errors."""
        if account.status == "revoked":
            return 0.0
        if self.quota.parked_until("project", account.project_id) or self.quota.parked_until("channel", str(account.channel_id)):
            return 0.0
        headroom = self.quota.headroom(account.project_id, method)
        if headroom <= 0:
            return 0.0
        penalty = min(0.5, 0.05 * self.recent_errors(account.project_id))
        token = 0.8 if account.status in ("expired", "error") else 1.0
        return round(max(0.0, headroom - penalty) * token, 3)

    def choose(self, channel_id: int, method: str) -> Account:
        """The channel's project with the best health for this method; round-robin among equals."""
        accounts = self.accounts(channel_id)
        if not accounts:
            raise AccountError(f"Channel {channel_id} has no connected YouTube account: connect it on the Channels page.")
        scored = [(self.health(a, method), a) for a in accounts]
        usable = [(h, a) for h, a in scored if h > 0]
        if not usable:
            raise AccountError("; ".join(f"{a.project_id}: {self._why(a, method)}" for _, a in scored))
        best = max(h for h, _ in usable)
        equals = [a for h, a in usable if abs(h - best) < 0.02]
        epoch = datetime(1970, 1, 1)
        return min(equals, key=lambda a: (a.last_used or epoch, a.project_id))

    def _why(self, a: Account, method: str) -> str:
        if a.status == "revoked":
            return STATUS_HELP["revoked"]
        parked = self.quota.parked_until("project", a.project_id) or self.quota.parked_until("channel", str(a.channel_id))
        if parked:
            return f"parked until {parked[0]:%Y-%m-%d %H:%M} UTC ({parked[1]})"
        return f"no {method} quota left today"

    def channel_table(self) -> list[dict]:
        out = []
        for a in self.accounts():
            parked = self.quota.parked_until("channel", str(a.channel_id))
            out.append({"channel_id": a.channel_id, "project": a.project_id, "status": a.status,
                        "what_to_do": STATUS_HELP.get(a.status, ""), "message": a.status_message,
                        "health_upload": self.health(a, "videos.insert"), "last_used": a.last_used,
                        "parked_until": parked[0] if parked else None, "parked_reason": parked[1] if parked else None})
        return out


def park_for(hours: float, now: datetime | None = None) -> datetime:
    return ((now or datetime.now(timezone.utc)) + timedelta(hours=hours)).replace(tzinfo=None)
