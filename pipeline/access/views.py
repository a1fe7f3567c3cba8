"""The desks an acting Workbench hands out, guarded for its actor (see pipeline.access.guard).

Each rule: method -> (permission, what the first argument names: "job", "channel" or None, audit action).
"""

from __future__ import annotations

from typing import Any

from pipeline.access.actor import NotInWorkspace
from pipeline.access.guard import GuardedDesk, check_channel, record, workspace_of_job
from pipeline.access.scope import raw_db
from pipeline.access.tokens import BoundTokens

REVIEW_RULES = {
    "script": ("read", "job", None), "versions": ("read", "job", None), "runs": ("read", "job", None),
    "quota_used": ("read", "job", None), "can_publish": ("read", "job", None), "connected": ("read", "channel", None),
    "thumbnail_options": ("read", "job", None), "publish_result": ("read", "job", None),
    "edit_script": ("make", "job", "script.edit"), "approve_script": ("make", "job", "script.approve"),
    "regenerate_script": ("make", "job", "script.regenerate"), "publish": ("publish", "job", "video.publish"),
}
TREND_RULES = {
    "has_data": ("read", None, None), "has_topics": ("read", None, None), "busy": ("read", None, None),
    "unavailable": ("read", None, None), "evaluations": ("read", None, None), "backlog": ("read", None, None),
    "brief": ("read", None, None), "needs_topics": ("read", None, None), "video_growth": ("read", None, None),
    "word_list_labels": ("read", None, None), "quick_pass_helps": ("read", None, None),
    # Trending data is shared by every workspace (public charts): changing it is the owner's.
    "compute_topics": ("admin", None, "trends.compute"), "evaluate": ("make", None, "trends.evaluate"),
    "import_csv": ("admin", None, "trends.import"), "import_bundled": ("admin", None, "trends.import"),
    "compute_topics_in_background": ("admin", None, "trends.compute"), "relabel": ("admin", None, None),
}
YOUTUBE_RULES = {
    "connected": ("read", "channel", None),
    "add_account": ("channels", "channel", "youtube.connect"),
    "add_account_files": ("channels", "channel", "youtube.connect"),
    "sync": ("channels", "channel", "youtube.sync"),
    "import_trending": ("channels", "channel", "trends.import_youtube"),
}
SNAPSHOT_RULES = {"refresh": ("admin", None, None)}
# The desk checks the workspace itself (a webhook of another workspace is not found) and writes the audit entries.
WEBHOOK_RULES = {
    "list": ("read", None, None), "get": ("read", None, None), "deliveries": ("read", None, None),
    "attempts": ("read", None, None), "payload": ("read", None, None),
    "create": ("channels", None, None), "delete": ("channels", None, None), "set_enabled": ("channels", None, None),
    "send_test": ("channels", None, None), "replay": ("channels", None, None),
}
# Account changes take the actor too and check it again; reading accounts is the owner's.
ACCESS_RULES = {
    "users": ("admin", None, None), "user": ("admin", None, None), "invitations": ("admin", None, None),
    "invite": ("admin", None, None), "revoke_invitation": ("admin", None, None), "set_role": ("admin", None, None),
    "set_disabled": ("admin", None, None), "add_member": ("admin", None, None),
    "create_workspace": ("admin", None, None), "set_workspace_budget": ("admin", None, None),
    "workspaces": ("read", None, None), "workspace": ("admin", None, None), "set_password": ("read", None, None),
    "throttle_wait": ("admin", None, None), "create_owner": ("admin", None, None), "needs_owner": ("read", None, None),
}


def _channel_id(wb: Any, ref: object) -> int:
    """A channel id the actor may touch (a name is turned into its id), or NotInWorkspace."""
    value = check_channel(wb, wb.actor, ref)
    if isinstance(value, int):
        return value
    row = wb.db.query_one("SELECT id FROM channels WHERE lower(name) = lower(?)", [value])
    if row is None:
        raise NotInWorkspace(f"There is no channel {str(ref)[:80]!r} in this workspace.")
    return row[0]


class Box:
    def __init__(self, ready: bool):
        self.ready = ready


class GuardedAccounts:
    """What pages do with YouTube accounts, for one actor: projects and consent of their own workspace only."""

    def __init__(self, accounts: Any, wb: Any):
        self._accounts, self._wb = accounts, wb
        self.box = Box(accounts.box.ready)

    def _project_visible(self, project: str) -> None:
        if not self._wb.db.query_one("SELECT 1 FROM youtube_projects WHERE project_id = ?", [project]):
            raise NotInWorkspace(f"There is no project {project} in this workspace: add its client secret first.")

    def add_project(self, client_config: dict, quota_model: str | None = None) -> str:
        self._wb.actor.require("channels")
        project = self._accounts.add_project(client_config, quota_model, workspace_id=self._wb.actor.home())
        record(self._wb, "youtube.project_add", project)
        return project

    def authorization_url(self, project: str, channel_id: int) -> str:
        self._wb.actor.require("channels")
        channel_id = _channel_id(self._wb, channel_id)
        self._project_visible(project)
        return self._accounts.authorization_url(project, channel_id)

    def pending_state(self, project: str, channel_id: int) -> str | None:
        self._wb.actor.require("channels")
        channel_id = _channel_id(self._wb, channel_id)
        return self._accounts.pending_state(project, channel_id)

    def exchange_code(self, state: str, code: str):
        self._wb.actor.require("channels")
        row = raw_db(self._wb.db).query_one("SELECT channel_id FROM oauth_states WHERE state = ?", [state])
        if row is not None:
            check_channel(self._wb, self._wb.actor, row[0])
        account = self._accounts.exchange_code(state, code)
        record(self._wb, "youtube.connect", account.channel_id, account.project_id)
        return account

    def accounts(self, channel_id: int | None = None):
        self._wb.actor.require("read")
        if channel_id is not None:
            return self._accounts.accounts(_channel_id(self._wb, channel_id))
        mine = {r[0] for r in self._wb.db.query("SELECT id FROM channels")}
        return [a for a in self._accounts.accounts() if a.channel_id in mine]


    def rotate_key(self, new_key: str) -> dict:
        self._wb.actor.require("admin")
        counts = self._accounts.rotate_key(new_key)
        record(self._wb, "key.rotate", "YTEMPIRE_TOKEN_KEY", counts)
        return counts


class GuardedPublisher:
    """The command line's publish path, for one actor: their jobs only, publishing needs the publish permission."""

    def __init__(self, publisher: Any, wb: Any):
        self._publisher, self._wb = publisher, wb

    def _check(self, permission: str, job_id: int) -> int:
        from pipeline.access.guard import check_job

        self._wb.actor.require(permission)
        return check_job(self._wb, self._wb.actor, job_id)

    def sent(self, job_id: int) -> bool:
        return self._publisher.sent(self._check("read", job_id))

    def forget_upload(self, job_id: int):
        job_id = self._check("publish", job_id)
        gone = self._publisher.forget_upload(job_id)
        record(self._wb, "video.reupload", job_id, gone, workspace_id=workspace_of_job(self._wb.db, job_id))
        return gone

    def publish(self, job_id: int, *args, **kwargs):
        job_id = self._check("publish", job_id)
        result = self._publisher.publish(job_id, *args, **kwargs)
        record(self._wb, "video.publish", job_id, workspace_id=workspace_of_job(self._wb.db, job_id))
        return result


class GuardedQuota:
    def __init__(self, quota: Any, wb: Any):
        self._quota, self._wb = quota, wb

    def parked_until(self, kind: str, ref: str):
        self._wb.actor.require("read")
        if kind == "channel":
            ref = str(_channel_id(self._wb, ref))
        elif not self._wb.db.query_one("SELECT 1 FROM youtube_projects WHERE project_id = ?", [ref]):
            return None  # not this workspace's project
        return self._quota.parked_until(kind, ref)


class GuardedYouTube(GuardedDesk):
    def status(self) -> dict:
        """Accounts, quota and unverified projects of the actor's workspaces only."""
        wb = self._wb
        wb.actor.require("read")
        full = self._desk.status()
        if wb.actor.scope is None:
            return full
        mine = {r[0] for r in wb.db.query("SELECT id FROM channels")}
        projects = {r[0] for r in wb.db.query("SELECT project_id FROM youtube_projects")}
        return {"accounts": [a for a in full["accounts"] if a["channel_id"] in mine],
                "quota": [q for q in full["quota"] if q["project"] in projects],
                "unverified": [p for p in full["unverified"] if p in projects]}


def guard_desks(view: Any, base: Any) -> None:
    """Replace the acting view's desks with guarded ones (the base Workbench keeps the real desks)."""
    view.review = GuardedDesk(base.review, view, REVIEW_RULES)
    view.trends = GuardedDesk(base.trends, view, TREND_RULES)
    view.youtube = GuardedYouTube(base.youtube, view, YOUTUBE_RULES,
                                  nested={"accounts": GuardedAccounts(base.youtube.accounts, view),
                                          "publisher": GuardedPublisher(base.youtube.publisher, view),
                                          "quota": GuardedQuota(base.youtube.quota, view)})
    view.snapshots = GuardedDesk(base.snapshots, view, SNAPSHOT_RULES)
    view.access = GuardedDesk(base.access, view, ACCESS_RULES)
    view.webhooks = GuardedDesk(base.webhooks, view, WEBHOOK_RULES)
    view.tokens = BoundTokens(base.tokens, view)
