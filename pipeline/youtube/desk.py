"""The YouTube desk: what the Workbench holds for publishing, analytics and schedules."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import Settings
from pipeline.db import Database
from pipeline.youtube.accounts import MAX_JSON_CHARS, AccountError, Accounts, parse_client_config, parse_token
from pipeline.youtube.analytics import YouTubeTrendSource, sync_channel
from pipeline.youtube.quota import QuotaLedger
from pipeline.youtube.upload import YouTubePublisher


class YouTubeDesk:
    def __init__(self, db: Database, settings: Settings):
        self.db, self.settings = db, settings
        self.quota = QuotaLedger(db, settings.quota_model)
        self.accounts = Accounts(db, settings, self.quota)
        self.publisher = YouTubePublisher(db, settings, self.accounts, self.quota)

    def connected(self, channel_id: int) -> bool:
        return any(a.status != "revoked" for a in self.accounts.accounts(channel_id))

    def add_account(self, channel_id: int, client_secret: str, token: str) -> str:
        """Connect a channel from a client secret JSON and an authorized-user token JSON (the scriptable path)."""
        row = self.db.query_one("SELECT workspace_id FROM channels WHERE id = ?", [channel_id])
        if row is None:
            raise AccountError(f"There is no channel {channel_id}.")
        # The project belongs to the channel's workspace (and another workspace's project is refused).
        project = self.accounts.add_project(parse_client_config(client_secret), workspace_id=row[0])
        self.accounts.store_token(channel_id, project, parse_token(token))
        return project

    def add_account_files(self, channel_id: int, client_secret: Path, token: Path) -> str:
        texts = []
        for path in (Path(client_secret), Path(token)):
            if path.stat().st_size > 4 * MAX_JSON_CHARS:  # never read a huge file to find out
                raise AccountError(f"{path.name} is far larger than a client secret or token JSON (limit "
                                   f"{MAX_JSON_CHARS // 1024} KB).")
            texts.append(path.read_text(encoding="utf-8"))
        return self.add_account(channel_id, *texts)

    def sync(self, channel_id: int, days: int = 28) -> dict:
        return sync_channel(self.db, self.accounts, self.quota, self.settings, channel_id, days)

    def import_trending(self, channel_id: int, region: str, category: str | None = None):
        return YouTubeTrendSource(self.accounts, self.quota, self.settings, channel_id).import_today(self.db, region, category)

    def status(self) -> dict:
        return {"accounts": self.accounts.channel_table(), "quota": self.quota.summary(),
                "unverified": self.publisher.unverified_projects()}
