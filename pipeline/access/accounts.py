"""Accounts, sessions, sign-in throttling, invitations and workspaces: the AccessDesk (``wb.access``).

Sessions: the cookie holds a random token and its HMAC under the installation's session key
(``<data>/secrets/session.key``, created on first start, owner-only); the database keeps only the token's
SHA-256, so neither a stolen backup nor a read of the database yields a usable cookie. Signing out deletes the
user's sessions: every copy of the cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.access import audit
from pipeline.access.actor import ROLES, SYSTEM, Actor
from pipeline.access.passwords import (email_problem, hash_password, name_problem, needs_rehash, password_problems,
                                       verify_password)
from pipeline.files import private_dir, private_file

SESSION_DAYS = 14
INVITE_HOURS = (1, 24 * 30)  # an invitation lasts from an hour to 30 days
DEFAULT_INVITE_HOURS = 72
FREE_FAILURES = 3  # failed sign-ins before the first delay
MAX_DELAY_S = 15 * 60
FAILURE_WINDOW_H = 24
MAX_WORKSPACE_NAME = 80
COOKIE = "ytempire_session"
DUMMY_HASH = hash_password("not a real password, only timing")  # a sign-in for an unknown email costs the same


class AccessError(ValueError):
    """A sign-in, invitation or account change that cannot be done; the message says what to fix."""


class Throttled(AccessError):
    def __init__(self, message: str, wait_s: int):
        super().__init__(message)
        self.wait_s = wait_s


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_key(data_dir: Path) -> bytes:
    folder = private_dir(Path(data_dir) / "secrets")
    path = folder / "session.key"
    if not path.exists():
        tmp = folder / f".session.key.{secrets.token_hex(4)}"
        tmp.write_bytes(secrets.token_bytes(32))
        private_file(tmp)
        try:
            tmp.rename(path) if not path.exists() else tmp.unlink()
        except OSError:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()


@dataclass
class SignIn:
    cookie: str  # the value of the session cookie
    user: dict
    expires_at: datetime


class AccessDesk:
    def __init__(self, db, data_dir: Path, session_days: int = SESSION_DAYS):
        self.db = db
        self._key = session_key(data_dir)
        self.session_days = session_days

    # -- users ------------------------------------------------------------------------------------
    def needs_owner(self) -> bool:
        """A new install: nobody has an account yet, so the first visit creates the owner."""
        return not self.db.query_one("SELECT count(*) FROM users")[0]

    def user(self, email_or_id: str | int) -> dict | None:
        if isinstance(email_or_id, int):
            rows = self.db.query_dicts("SELECT * FROM users WHERE id = ?", [email_or_id])
        else:
            rows = self.db.query_dicts("SELECT * FROM users WHERE email = ?", [email_or_id.strip().lower()])
        return rows[0] if rows else None

    def users(self) -> list[dict]:
        return self.db.query_dicts(
            "SELECT u.id, u.email, u.name, u.role, u.disabled, u.created_at, u.last_seen_at,"
            " list(w.name ORDER BY w.id) FILTER (WHERE w.id IS NOT NULL) AS workspaces"
            " FROM users u LEFT JOIN memberships m ON m.user_id = u.id LEFT JOIN workspaces w ON w.id = m.workspace_id"
            " GROUP BY ALL ORDER BY u.id")

    def _check_new_user(self, email: str, name: str, password: str | None) -> list[str]:
        problems = [p for p in (email_problem(email), name_problem(name)) if p]
        if password is not None:
            problems += password_problems(password, email, name)
        if not problems and self.user(email):
            problems.append(f"There is already an account for {email.strip().lower()}.")
        return problems

    def create_owner(self, email: str, name: str, password: str, client: str = "") -> SignIn:
        """The first account of a new install (refused once any account exists)."""
        problems = self._check_new_user(email, name, password)
        if problems:
            raise AccessError(" ".join(problems))
        with self.db.write() as cur:
            if cur.execute("SELECT count(*) FROM users").fetchall()[0][0]:
                raise AccessError("This workbench already has an owner: sign in instead.")
            ws = [r[0] for r in cur.execute("SELECT id FROM workspaces ORDER BY id").fetchall()]
            if not ws:
                ws = [cur.execute("INSERT INTO workspaces (name) VALUES ('Main workspace') RETURNING id").fetchall()[0][0]]
            user_id = self._insert_user(cur, email, name, "owner", hash_password(password), ws[0])
            for w in ws:
                cur.execute("INSERT INTO memberships VALUES (?, ?) ON CONFLICT DO NOTHING", [user_id, w])
            audit.record(cur, self._actor_row(user_id, email, name, "owner", ws[0], client), "account.create_owner",
                         email.strip().lower())
        return self._new_session(user_id, client)

    @staticmethod
    def _insert_user(cur, email: str, name: str, role: str, password_hash: str | None, workspace_id: int) -> int:
        return cur.execute("INSERT INTO users (email, name, role, password_hash, workspace_id) VALUES (?, ?, ?, ?, ?)"
                           " RETURNING id", [email.strip().lower(), name.strip(), role, password_hash,
                                             workspace_id]).fetchall()[0][0]

    @staticmethod
    def _actor_row(user_id, email, name, role, ws, client) -> Actor:
        return Actor(user_id, email.strip().lower(), name, role, ws, frozenset({ws}), client)

    def set_password(self, actor: Actor, email: str, password: str) -> None:
        """A user changes their own password; an owner may set anyone's. Signs the user out everywhere."""
        target = self.user(email)
        if target is None:
            raise AccessError(f"There is no account for {email.strip().lower()}.")
        if actor.user_id != target["id"]:
            actor.require("admin")
        problems = password_problems(password, target["email"], target["name"])
        if problems:
            raise AccessError(" ".join(problems))
        with self.db.write() as cur:
            cur.execute("UPDATE users SET password_hash = ?, signed_out_at = ? WHERE id = ?",
                        [hash_password(password), now(), target["id"]])
            cur.execute("DELETE FROM sessions WHERE user_id = ?", [target["id"]])
            cur.execute("UPDATE sign_in_failures SET cleared = true WHERE email = ?", [target["email"]])
            audit.record(cur, actor, "account.password", target["email"], workspace_id=target["workspace_id"])

    def set_role(self, actor: Actor, email: str, role: str) -> None:
        actor.require("admin")
        target = self.user(email)
        if target is None:
            raise AccessError(f"There is no account for {email.strip().lower()}.")
        if role not in ROLES:
            raise AccessError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
        with self.db.write() as cur:
            if target["role"] == "owner" and role != "owner" and cur.execute(
                    "SELECT count(*) FROM users WHERE role = 'owner' AND NOT disabled").fetchall()[0][0] <= 1:
                raise AccessError("This is the only owner: make another user an owner first.")
            cur.execute("UPDATE users SET role = ? WHERE id = ?", [role, target["id"]])
            audit.record(cur, actor, "account.role", target["email"], f"{target['role']} -> {role}",
                         workspace_id=target["workspace_id"])

    def set_disabled(self, actor: Actor, email: str, disabled: bool) -> None:
        actor.require("admin")
        target = self.user(email)
        if target is None:
            raise AccessError(f"There is no account for {email.strip().lower()}.")
        if disabled and target["id"] == actor.user_id:
            raise AccessError("You cannot disable your own account.")
        with self.db.write() as cur:
            if disabled and target["role"] == "owner" and cur.execute(
                    "SELECT count(*) FROM users WHERE role = 'owner' AND NOT disabled").fetchall()[0][0] <= 1:
                raise AccessError("This is the only owner: it cannot be disabled.")
            cur.execute("UPDATE users SET disabled = ? WHERE id = ?", [disabled, target["id"]])
            if disabled:
                cur.execute("DELETE FROM sessions WHERE user_id = ?", [target["id"]])
            audit.record(cur, actor, "account.disable" if disabled else "account.enable", target["email"],
                         workspace_id=target["workspace_id"])

    def add_member(self, actor: Actor, email: str, workspace_id: int, member: bool = True) -> None:
        actor.require("admin")
        target = self.user(email)
        if target is None:
            raise AccessError(f"There is no account for {email.strip().lower()}.")
        self.workspace(workspace_id)
        with self.db.write() as cur:
            if member:
                cur.execute("INSERT INTO memberships VALUES (?, ?) ON CONFLICT DO NOTHING", [target["id"], workspace_id])
            else:
                left = cur.execute("SELECT count(*) FROM memberships WHERE user_id = ? AND workspace_id <> ?",
                                   [target["id"], workspace_id]).fetchall()[0][0]
                if not left and target["role"] != "owner":
                    raise AccessError("That is their only workspace: add them to another first (or disable them).")
                cur.execute("DELETE FROM memberships WHERE user_id = ? AND workspace_id = ?", [target["id"], workspace_id])
                cur.execute("UPDATE users SET workspace_id = (SELECT min(workspace_id) FROM memberships WHERE user_id = ?)"
                            " WHERE id = ? AND workspace_id = ?", [target["id"], target["id"], workspace_id])
            audit.record(cur, actor, "workspace.member_add" if member else "workspace.member_remove", target["email"],
                         workspace_id=workspace_id)

    # -- workspaces ---------------------------------------------------------------------------------
    def workspaces(self, actor: Actor | None = None) -> list[dict]:
        rows = self.db.query_dicts("SELECT * FROM workspaces ORDER BY id")
        if actor is not None and actor.role != "owner":
            rows = [r for r in rows if r["id"] in actor.workspaces]
        return rows

    def workspace(self, workspace_id: int) -> dict:
        rows = self.db.query_dicts("SELECT * FROM workspaces WHERE id = ?", [workspace_id])
        if not rows:
            raise AccessError(f"There is no workspace {workspace_id}.")
        return rows[0]

    def create_workspace(self, actor: Actor, name: str) -> int:
        actor.require("admin")
        name = name.strip()
        if not name or len(name) > MAX_WORKSPACE_NAME:
            raise AccessError(f"A workspace name has 1 to {MAX_WORKSPACE_NAME} characters.")
        if self.db.query_one("SELECT 1 FROM workspaces WHERE lower(name) = lower(?)", [name]):
            raise AccessError(f"A workspace named {name!r} already exists.")
        with self.db.write() as cur:
            ws = cur.execute("INSERT INTO workspaces (name) VALUES (?) RETURNING id", [name]).fetchall()[0][0]
            for (owner,) in cur.execute("SELECT id FROM users WHERE role = 'owner'").fetchall():
                cur.execute("INSERT INTO memberships VALUES (?, ?) ON CONFLICT DO NOTHING", [owner, ws])
            audit.record(cur, actor, "workspace.create", name, workspace_id=ws)
        return ws

    def set_workspace_budget(self, actor: Actor, workspace_id: int, cap_usd: float | None,
                             daily_budgets: dict[str, str] | None) -> None:
        """The per-video cap and daily budgets of one workspace (None: the installation's)."""
        from pipeline.budget import parse_budget

        actor.require("admin")
        self.workspace(workspace_id)
        if cap_usd is not None and not (0 <= float(cap_usd) <= 1000):
            raise AccessError("A per-video cap is from $0 to $1,000.")
        problems = []
        for provider, text in (daily_budgets or {}).items():
            try:
                parse_budget(text)
            except ValueError as exc:
                problems.append(f"{provider}: {exc}")
        if problems:
            raise AccessError(" ".join(problems))
        with self.db.write() as cur:
            cur.execute("UPDATE workspaces SET cap_usd = ?, daily_budgets = ? WHERE id = ?",
                        [cap_usd, json.dumps(daily_budgets) if daily_budgets else None, workspace_id])
            audit.record(cur, actor, "workspace.budget", workspace_id,
                         f"cap {cap_usd if cap_usd is not None else 'default'}; daily {daily_budgets or 'default'}",
                         workspace_id=workspace_id)

    # -- signing in ----------------------------------------------------------------------------------
    def throttle_wait(self, email: str, client: str, cur=None) -> int:
        """Seconds before this account (or this client) may try again; 0: now."""
        since = now() - timedelta(hours=FAILURE_WINDOW_H)
        waits = []
        for column, value in (("email", email.strip().lower()), ("client", client)):
            sql = (f"SELECT count(*), max(at_time) FROM sign_in_failures WHERE {column} = ? AND NOT cleared"
                   " AND at_time > ?")
            n, last = cur.execute(sql, [value, since]).fetchall()[0] if cur is not None else \
                self.db.query_one(sql, [value, since])
            if n >= FREE_FAILURES and last is not None:
                delay = min(2 ** (n - FREE_FAILURES), MAX_DELAY_S)
                waits.append(max(0, int((last + timedelta(seconds=delay) - now()).total_seconds() + 0.999)))
        return max(waits, default=0)

    def sign_in(self, email: str, password: str, client: str) -> SignIn:
        """Check a password; every failure is counted (per account and per client) and logged.

        The attempt is counted before the (slow) password check, in the same transaction as the throttle
        check: parallel guesses are serialised there, so a burst gets no more tries than one at a time."""
        email = email.strip().lower()[:320]
        client = client[:200]
        with self.db.write() as cur:
            wait = self.throttle_wait(email, client, cur)
            if wait:
                audit.record(cur, Actor(None, email, "", "", None, frozenset(), client), "sign_in.throttled", email)
            else:
                attempt = cur.execute("INSERT INTO sign_in_failures (email, client) VALUES (?, ?) RETURNING id",
                                      [email, client]).fetchall()[0][0]
        if wait:
            raise Throttled(f"Too many failed sign-ins: wait {wait} s and try again.", wait)
        user = self.user(email) if email else None
        ok = verify_password(user["password_hash"] if user else DUMMY_HASH, password[:1024]) and user is not None
        if not ok or user["disabled"]:
            with self.db.write() as cur:  # the attempt row stays: it was a failure
                audit.record(cur, Actor(user["id"] if user else None, email, "", "", None, frozenset(), client),
                             "sign_in.failed", email, "disabled account" if ok else "wrong email or password",
                             workspace_id=user["workspace_id"] if user else None)
            raise AccessError("That email and password do not match an account (or the account is disabled).")
        if needs_rehash(user["password_hash"]):
            with self.db.write() as cur:
                cur.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hash_password(password), user["id"]])
        result = self._new_session(user["id"], client)
        with self.db.write() as cur:
            cur.execute("DELETE FROM sign_in_failures WHERE id = ?", [attempt])  # it was no failure
            cur.execute("UPDATE sign_in_failures SET cleared = true WHERE email = ?", [email])
            audit.record(cur, self.actor_for(user, client), "sign_in", email)
        return result

    def _new_session(self, user_id: int, client: str) -> SignIn:
        token = secrets.token_urlsafe(32)
        expires = now() + timedelta(days=self.session_days)
        with self.db.write() as cur:
            cur.execute("DELETE FROM sessions WHERE expires_at < ?", [now()])
            cur.execute("INSERT INTO sessions (token_hash, user_id, expires_at, client) VALUES (?, ?, ?, ?)",
                        [digest(token), user_id, expires, client[:200]])
        return SignIn(self._sign(token), self.user(user_id), expires)

    def _sign(self, token: str) -> str:
        return f"{token}.{hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()}"

    def _token(self, cookie: str | None) -> str | None:
        """The token of a cookie whose signature checks out; None for anything else (tampered, truncated)."""
        if not cookie or len(cookie) > 200 or cookie.count(".") != 1:
            return None
        token, mac = cookie.split(".")
        good = hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()
        return token if hmac.compare_digest(mac, good) else None

    def session_user(self, cookie: str | None) -> dict | None:
        """The user a session cookie signs in, or None (missing, tampered, expired, signed out, disabled)."""
        token = self._token(cookie)
        if token is None:
            return None
        rows = self.db.query_dicts(
            "SELECT u.*, s.expires_at AS session_expires, s.last_seen_at AS session_seen FROM sessions s"
            " JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ? AND NOT u.disabled",
            [digest(token), now()])
        if not rows:
            return None
        user = rows[0]
        if user["session_seen"] is None or (now() - user["session_seen"]).total_seconds() > 60:
            with self.db.write() as cur:
                cur.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", [now(), digest(token)])
                cur.execute("UPDATE users SET last_seen_at = ? WHERE id = ?", [now(), user["id"]])
        return user

    def sign_out(self, cookie: str | None, everywhere: bool = True, client: str = "") -> bool:
        """End the session of this cookie (everywhere: every session of its user). False: it was not one."""
        user = self.session_user(cookie)
        if user is None:
            return False
        with self.db.write() as cur:
            if everywhere:
                cur.execute("DELETE FROM sessions WHERE user_id = ?", [user["id"]])
                cur.execute("UPDATE users SET signed_out_at = ? WHERE id = ?", [now(), user["id"]])
            else:
                cur.execute("DELETE FROM sessions WHERE token_hash = ?", [digest(self._token(cookie) or "")])
            audit.record(cur, self.actor_for(user, client), "sign_out", user["email"],
                         "everywhere" if everywhere else "this browser")
        return True

    def sign_out_user(self, user_id: int | None, client: str = "") -> None:
        """Sign a user out everywhere (single sign-on included: logins from before now are refused)."""
        user = self.user(user_id) if user_id is not None else None
        if user is None:
            return
        with self.db.write() as cur:
            cur.execute("DELETE FROM sessions WHERE user_id = ?", [user["id"]])
            cur.execute("UPDATE users SET signed_out_at = ? WHERE id = ?", [now(), user["id"]])
            audit.record(cur, self.actor_for(user, client), "sign_out", user["email"], "everywhere")

    def sso_user(self, claims: dict[str, Any], client: str = "") -> dict | None:
        """The account a single sign-on identity (OpenID claims) signs in: matched by verified email only, to
        an account or a pending invitation (which it accepts). None when it matches neither."""
        email = str(claims.get("email") or "").strip().lower()
        if not email or claims.get("email_verified") is not True:
            return None
        user = self.user(email)
        issued = claims.get("iat")
        if user is not None:
            if user["disabled"]:
                return None
            if user["signed_out_at"] and isinstance(issued, (int, float)) and \
                    datetime.fromtimestamp(issued, timezone.utc).replace(tzinfo=None) < user["signed_out_at"]:
                return None  # signed in before "sign out everywhere"
            return user
        invite = self.db.query_dicts(
            "SELECT * FROM invitations WHERE email = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"
            " ORDER BY created_at DESC LIMIT 1", [email, now()])
        if not invite:
            return None
        return self._accept(invite[0], str(claims.get("name") or email.split("@")[0])[:100], None, client)

    # -- invitations -------------------------------------------------------------------------------
    def invite(self, actor: Actor, email: str, role: str, workspace_id: int, name: str = "",
               hours: int = DEFAULT_INVITE_HOURS) -> str:
        """A single-use invitation; returns its token (shown once, stored only as a hash)."""
        actor.require("admin")
        email = email.strip().lower()
        problems = [p for p in (email_problem(email),) if p]
        if role not in ROLES:
            problems.append(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
        if not INVITE_HOURS[0] <= int(hours) <= INVITE_HOURS[1]:
            problems.append(f"An invitation lasts from {INVITE_HOURS[0]} hour to {INVITE_HOURS[1] // 24} days.")
        if len(name) > 100:
            problems.append("The name is longer than 100 characters.")
        if not problems and self.user(email):
            problems.append(f"{email} already has an account: add it to the workspace on the Users tab instead.")
        if problems:
            raise AccessError(" ".join(problems))
        self.workspace(workspace_id)
        token = secrets.token_urlsafe(32)
        with self.db.write() as cur:
            cur.execute("UPDATE invitations SET revoked_at = ? WHERE email = ? AND used_at IS NULL AND revoked_at IS NULL",
                        [now(), email])  # one live link per address: a new one replaces the old
            cur.execute("INSERT INTO invitations (token_hash, email, name, role, workspace_id, created_by, expires_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)", [digest(token), email, name.strip(), role, workspace_id,
                                                          actor.user_id, now() + timedelta(hours=int(hours))])
            audit.record(cur, actor, "invite", email, f"{role}, expires in {hours} h", workspace_id=workspace_id)
        return token

    def invitation(self, token: str) -> dict:
        """The invitation a link's token opens; an AccessError when it is unknown, used, revoked or expired."""
        rows = self.db.query_dicts("SELECT i.*, w.name AS workspace FROM invitations i LEFT JOIN workspaces w"
                                   " ON w.id = i.workspace_id WHERE token_hash = ?", [digest(token[:200])])
        if not rows:
            raise AccessError("This invitation link is not valid: ask the owner for a new one.")
        inv = rows[0]
        if inv["used_at"] is not None:
            raise AccessError("This invitation link was already used: sign in instead.")
        if inv["revoked_at"] is not None:
            raise AccessError("This invitation link was replaced or withdrawn: ask the owner for a new one.")
        if inv["expires_at"] <= now():
            raise AccessError("This invitation link has expired: ask the owner for a new one.")
        return inv

    def accept(self, token: str, name: str, password: str, client: str = "") -> SignIn:
        inv = self.invitation(token)
        problems = [p for p in (name_problem(name),) if p] + password_problems(password, inv["email"], name)
        if problems:
            raise AccessError(" ".join(problems))
        user = self._accept(inv, name, hash_password(password), client)
        return self._new_session(user["id"], client)

    def _accept(self, inv: dict, name: str, password_hash: str | None, client: str) -> dict:
        with self.db.write() as cur:
            used = cur.execute("UPDATE invitations SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
                               " RETURNING 1", [now(), inv["token_hash"]]).fetchall()
            if not used:
                raise AccessError("This invitation link was already used: sign in instead.")
            if cur.execute("SELECT 1 FROM users WHERE email = ?", [inv["email"]]).fetchall():
                raise AccessError(f"{inv['email']} already has an account: sign in instead.")
            user_id = self._insert_user(cur, inv["email"], name, inv["role"], password_hash, inv["workspace_id"])
            cur.execute("INSERT INTO memberships VALUES (?, ?)", [user_id, inv["workspace_id"]])
            audit.record(cur, self._actor_row(user_id, inv["email"], name, inv["role"], inv["workspace_id"], client),
                         "invite.accept", inv["email"])
        return self.user(user_id)

    def invitations(self) -> list[dict]:
        return self.db.query_dicts(
            "SELECT i.email, i.name, i.role, w.name AS workspace, i.created_at, i.expires_at, i.used_at, i.revoked_at,"
            " CASE WHEN i.used_at IS NOT NULL THEN 'accepted' WHEN i.revoked_at IS NOT NULL THEN 'withdrawn'"
            " WHEN i.expires_at <= now()::TIMESTAMP THEN 'expired' ELSE 'pending' END AS state"
            " FROM invitations i LEFT JOIN workspaces w ON w.id = i.workspace_id ORDER BY i.created_at DESC")

    def revoke_invitation(self, actor: Actor, email: str) -> int:
        actor.require("admin")
        with self.db.write() as cur:
            n = len(cur.execute("UPDATE invitations SET revoked_at = ? WHERE email = ? AND used_at IS NULL"
                                " AND revoked_at IS NULL RETURNING 1", [now(), email.strip().lower()]).fetchall())
            audit.record(cur, actor, "invite.withdraw", email.strip().lower())
        return n

    # -- actors -------------------------------------------------------------------------------------
    def actor_for(self, user: dict, client: str = "", workspace_id: int | None | str = "home") -> Actor:
        """The Actor a signed-in user acts as (in their home workspace unless another is named)."""
        member = frozenset(r[0] for r in self.db.query("SELECT workspace_id FROM memberships WHERE user_id = ?",
                                                       [user["id"]]))
        if user["role"] == "owner":
            member = frozenset(r[0] for r in self.db.query("SELECT id FROM workspaces"))
        home = user.get("workspace_id")
        if home not in member:
            home = min(member) if member else None
        actor = Actor(user["id"], user["email"], user["name"], user["role"], home, member, client)
        if workspace_id != "home":
            actor = actor.switched(workspace_id)  # type: ignore[arg-type]
        return actor

    def cli_actor(self, email: str | None, client: str) -> Actor:
        """Who a CLI command acts as: ``--as EMAIL``, else the only owner of a one-user install (or the
        installation itself before any account exists)."""
        if email:
            user = self.user(email)
            if user is None or user["disabled"]:
                raise AccessError(f"There is no active account for {email.strip().lower()}: "
                                  "list them with `python -m pipeline users list`.")
            return self.actor_for(user, client)
        users = self.db.query_dicts("SELECT * FROM users WHERE NOT disabled ORDER BY id")
        if not users:
            return SYSTEM
        if len(users) == 1:
            return self.actor_for(users[0], client)
        raise AccessError("This workbench has several accounts: say who acts with --as EMAIL.")


AUDIT_SQL = """
SELECT a.id, a.at_time, a.email, w.name AS workspace, a.action, a.target, a.detail, a.client
FROM audit_log a LEFT JOIN workspaces w ON w.id = a.workspace_id
WHERE (?::VARCHAR IS NULL OR a.action LIKE ? || '%') AND (?::VARCHAR IS NULL OR a.email = lower(?))
  AND (?::INTEGER IS NULL OR a.workspace_id = ?)
ORDER BY a.id DESC LIMIT ?
"""

BETA_SQL = """
WITH members AS (SELECT m.workspace_id, string_agg(u.email, ', ' ORDER BY u.id) AS people,
                        max(u.last_seen_at) AS last_seen
                 FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.role <> 'owner' GROUP BY 1),
made AS (SELECT j.workspace_id, count(*) AS videos FROM videos v JOIN jobs j ON j.id = v.job_id
         WHERE v.video_path IS NOT NULL GROUP BY 1),
spend AS (SELECT workspace_id, sum(usd)::DOUBLE AS spend_usd FROM cost_daily GROUP BY 1),
acts AS (SELECT workspace_id, max(at_time) AS last_action FROM audit_log GROUP BY 1)
SELECT w.id, w.name, coalesce(m.people, '') AS people, coalesce(d.videos, 0) AS videos,
       coalesce(s.spend_usd, 0) AS spend_usd, greatest(m.last_seen, a.last_action) AS last_activity, w.created_at
FROM workspaces w LEFT JOIN members m ON m.workspace_id = w.id LEFT JOIN made d ON d.workspace_id = w.id
LEFT JOIN spend s ON s.workspace_id = w.id LEFT JOIN acts a ON a.workspace_id = w.id
ORDER BY w.id
"""


def audit_rows(db, action: str | None = None, email: str | None = None, workspace_id: int | None = None,
               limit: int = 500) -> list[dict]:
    """The audit log, newest first (owners only: the Access page, `python -m pipeline users audit`)."""
    return db.query_dicts(AUDIT_SQL, [action, action, email, email, workspace_id, workspace_id, int(limit)])


def beta_customers(db) -> list[dict]:
    """Each workspace with its members, videos made, spend and last activity (onboarding is added by the page)."""
    return db.query_dicts(BETA_SQL)
