"""Personal API tokens: the automation API's credentials (``wb.access.tokens``, the Account page, ``/api/v1``).

A token is ``yte_<8 characters>_<43 characters>``: the first part (its prefix) is stored and shown in lists so an
operator can tell tokens apart; the database keeps only the SHA-256 of the whole token, which is shown once when
it is made. A token acts as its user, with the role and workspaces the user has *now* (a changed role or a
disabled account takes effect on the next request), in the workspace named when it was made.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import timedelta

from pipeline.access import audit
from pipeline.access.actor import Actor, Forbidden, NotInWorkspace

PREFIX = "yte_"
MAX_TOKENS = 20  # live tokens per user
MAX_NAME = 80
DAYS = (1, 365)  # a token lasts a day to a year
DEFAULT_DAYS = 90
LAST_USED_EVERY_S = 60  # last-used is written at most once a minute per token (every request would be a write)
TOKEN = re.compile(r"yte_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})")


class TokenError(ValueError):
    """A token that cannot be made or used; the message says what to fix."""


def _now():
    from pipeline.access.accounts import now
    return now()


def _digest(token: str) -> str:
    from pipeline.access.accounts import digest
    return digest(token)


class TokenDesk:
    def __init__(self, db, access):
        self.db = db
        self.access = access

    def create(self, actor: Actor, name: str, days: int = DEFAULT_DAYS,
               workspace_id: int | None | str = "current") -> dict:
        """A new token for the acting user; the returned ``token`` is the only time it is ever shown."""
        if actor.user_id is None:
            raise TokenError("Tokens belong to an account: sign in (or pass --as EMAIL) to make one.")
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME:
            raise TokenError(f"Name the token (1-{MAX_NAME} characters), e.g. the tool that will use it.")
        if isinstance(days, float) and days.is_integer():
            days = int(days)  # 90.0 from a number input is 90 days
        if isinstance(days, bool) or not isinstance(days, int) or not DAYS[0] <= days <= DAYS[1]:
            raise TokenError(f"A token lasts from {DAYS[0]} to {DAYS[1]} days; {days!r} is not that.")
        ws = actor.workspace_id if workspace_id == "current" else workspace_id
        actor.switched(ws)  # refuses a workspace that is not theirs (and "all" for anyone but an owner)
        live = self.db.query_one("SELECT count(*) FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL"
                                 " AND expires_at > ?", [actor.user_id, _now()])[0]
        if live >= MAX_TOKENS:
            raise TokenError(f"You have {live} live tokens, the most one account may have: revoke one you no "
                             "longer use first.")
        prefix = PREFIX + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
                                  for _ in range(8))
        token = f"{prefix}_{secrets.token_urlsafe(32)}"
        expires = _now() + timedelta(days=days)
        with self.db.write() as cur:
            token_id = cur.execute(
                "INSERT INTO api_tokens (user_id, name, prefix, token_hash, workspace_id, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                [actor.user_id, name, prefix, _digest(token), ws, expires]).fetchall()[0][0]
            audit.record(cur, actor, "token.create", prefix, name, workspace_id=actor.home())
        return {"id": token_id, "name": name, "prefix": prefix, "token": token, "expires_at": expires,
                "workspace_id": ws}

    def list(self, actor: Actor, user_id: int | None = None) -> list[dict]:
        """The acting user's tokens (an owner may list another user's), newest first, without any secret."""
        uid = actor.user_id if user_id is None else user_id
        if uid != actor.user_id:
            actor.require("admin")
        return self.db.query_dicts(
            "SELECT t.id, t.name, t.prefix, t.workspace_id, w.name AS workspace, t.created_at, t.expires_at,"
            " t.last_used_at, t.last_client, t.revoked_at,"
            " CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN t.expires_at <= ? THEN 'expired'"
            " ELSE 'active' END AS state"
            " FROM api_tokens t LEFT JOIN workspaces w ON w.id = t.workspace_id WHERE t.user_id = ?"
            " ORDER BY t.id DESC", [_now(), uid])

    def revoke(self, actor: Actor, token_id: int) -> bool:
        """Revoke one of the acting user's tokens (an owner: anyone's). False: it was revoked already."""
        row = self.db.query_one("SELECT user_id, prefix, revoked_at FROM api_tokens WHERE id = ?", [int(token_id)])
        if row is None or (row[0] != actor.user_id and not actor.can("admin")):
            raise NotInWorkspace(f"There is no token {token_id} of yours.")
        if row[2] is not None:
            return False
        with self.db.write() as cur:
            cur.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [_now(), int(token_id)])
            audit.record(cur, actor, "token.revoke", row[1], workspace_id=actor.home())
        return True

    def actor(self, token: str | None, client: str = "") -> Actor:
        """The Actor a bearer token acts as; TokenError saying why it is refused (missing, malformed, unknown,
        expired, revoked, or its user disabled or no longer in the token's workspace)."""
        if not token:
            raise TokenError("Send a personal API token: `Authorization: Bearer yte_...` (make one on the Account "
                             "page).")
        match = TOKEN.fullmatch(token.strip())
        if match is None:
            raise TokenError("That is not a YTEmpire API token (they look like yte_XXXXXXXX_...): copy it again "
                             "from where you saved it, or make a new one on the Account page.")
        prefix = f"{PREFIX}{match.group(1)}"
        rows = self.db.query_dicts("SELECT * FROM api_tokens WHERE prefix = ?", [prefix])
        if not rows or not hmac.compare_digest(rows[0]["token_hash"], _digest(token.strip())):
            raise TokenError("This API token is not known: make a new one on the Account page.")
        row = rows[0]
        if row["revoked_at"] is not None:
            raise TokenError(f"The API token {prefix} was revoked on {row['revoked_at']:%Y-%m-%d %H:%M} UTC: make "
                             "a new one on the Account page.")
        now = _now()
        if row["expires_at"] <= now:
            raise TokenError(f"The API token {prefix} expired on {row['expires_at']:%Y-%m-%d %H:%M} UTC: make a "
                             "new one on the Account page.")
        user = self.access.user(row["user_id"])
        if user is None or user["disabled"]:
            raise TokenError(f"The account of API token {prefix} is disabled.")
        try:
            actor = self.access.actor_for(user, client, workspace_id=row["workspace_id"])
        except (Forbidden, NotInWorkspace) as exc:
            raise TokenError(f"The API token {prefix} acts in a workspace its account no longer belongs to: make a "
                             "new one.") from exc
        if row["last_used_at"] is None or (now - row["last_used_at"]).total_seconds() > LAST_USED_EVERY_S:
            with self.db.write() as cur:
                cur.execute("UPDATE api_tokens SET last_used_at = ?, last_client = ? WHERE id = ?",
                            [now, client[:200], row["id"]])
        return actor

    @staticmethod
    def token_id_of(token: str) -> str:
        """The prefix a rate limit and a log line name a token by (never the secret part)."""
        match = TOKEN.fullmatch((token or "").strip())
        return f"{PREFIX}{match.group(1)}" if match else "invalid"


class BoundTokens:
    """The token desk as one acting user uses it (``view.tokens`` of ``Workbench.acting``): their own tokens."""

    def __init__(self, desk: TokenDesk, wb):
        self._desk, self._wb = desk, wb

    def create(self, name: str, days: int = DEFAULT_DAYS, workspace_id: int | None | str = "current") -> dict:
        return self._desk.create(self._wb.actor, name, days, workspace_id)

    def list(self, user_id: int | None = None) -> list[dict]:
        return self._desk.list(self._wb.actor, user_id)

    def revoke(self, token_id: int) -> bool:
        return self._desk.revoke(self._wb.actor, token_id)
