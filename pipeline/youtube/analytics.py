"""Performance back in: channel statistics, per-video daily analytics, and trending snapshots.

channels.list(statistics) gives subscribers, views and videos per channel and day;
YouTube Analytics v2 reports.query gives each published video's views, watch time, average
view duration, subscribers gained, likes, comments and, where the channel is monetised,
estimated revenue. videos.list(chart=mostPopular) snapshots feed the trend ingest.
Every call goes through the quota ledger.
"""

from __future__ import annotations

from datetime import date, timedelta

from pipeline.db import Database
from pipeline.trends.ingest import ParsedTrends, store
from pipeline.youtube.accounts import Accounts
from pipeline.youtube.api import build_analytics, build_youtube, error_reason, status_of
from pipeline.youtube.quota import QuotaLedger

METRICS = ["views", "estimatedMinutesWatched", "averageViewDuration", "subscribersGained", "likes", "comments"]


def _ledgered(quota: QuotaLedger, account, method: str, fn):
    from googleapiclient.errors import HttpError

    quota.check(account.project_id, method)
    try:
        result = fn()
    except HttpError as exc:
        quota.record(account.project_id, method, error_reason(exc), account.channel_id)
        raise
    quota.record(account.project_id, method, "ok", account.channel_id)
    return result


def sync_channel(db: Database, accounts: Accounts, quota: QuotaLedger, settings, channel_id: int,
                 days: int = 28, today: date | None = None) -> dict:
    """Pull the channel's statistics and its published videos' daily analytics into DuckDB."""
    from googleapiclient.errors import HttpError

    today = today or date.today()
    account = accounts.choose(channel_id, "channels.list")
    creds = accounts.credentials(channel_id, account.project_id)
    youtube = build_youtube(creds, settings)
    data = _ledgered(quota, account, "channels.list",
                     lambda: youtube.channels().list(part="snippet,statistics", mine=True).execute())
    item = (data.get("items") or [{}])[0]
    stats = item.get("statistics", {})
    with db.write() as cur:
        cur.execute("INSERT INTO channel_stats VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                    " subscribers = excluded.subscribers, views = excluded.views, videos = excluded.videos",
                    [channel_id, today, int(stats.get("subscriberCount", 0)), int(stats.get("viewCount", 0)),
                     int(stats.get("videoCount", 0))])
    accounts.touch(channel_id, account.project_id, item.get("id"))
    analytics = build_analytics(creds, settings)
    video_ids = [r[0] for r in db.query("SELECT video_id FROM uploads WHERE channel_id = ? AND status = 'done'"
                                        " AND video_id IS NOT NULL", [channel_id])]
    rows_written, revenue = 0, True
    for video_id in video_ids:
        metrics = METRICS + (["estimatedRevenue"] if revenue else [])

        def query(metrics=metrics, video_id=video_id):
            return analytics.reports().query(ids="channel==MINE", startDate=(today - timedelta(days)).isoformat(),
                                             endDate=today.isoformat(), metrics=",".join(metrics), dimensions="day",
                                             filters=f"video=={video_id}").execute()
        try:
            report = _ledgered(quota, account, "reports.query", query)
        except HttpError as exc:
            if status_of(exc) != 403 or not revenue:
                raise
            revenue = False  # not monetised: ask again without revenue, for this and the next videos
            metrics = METRICS
            report = _ledgered(quota, account, "reports.query", lambda: query(METRICS))
        names = [c["name"] for c in report.get("columnHeaders", [])]
        with db.write() as cur:
            for row in report.get("rows") or []:
                r = dict(zip(names, row))
                cur.execute(
                    "INSERT INTO video_stats (youtube_video_id, day, views, minutes_watched, avg_view_duration_s,"
                    " subscribers_gained, likes, comments, revenue_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO UPDATE SET views = excluded.views, minutes_watched = excluded.minutes_watched,"
                    " avg_view_duration_s = excluded.avg_view_duration_s, subscribers_gained = excluded.subscribers_gained,"
                    " likes = excluded.likes, comments = excluded.comments, revenue_usd = excluded.revenue_usd,"
                    " synced_at = now()",
                    [video_id, r["day"], r.get("views"), r.get("estimatedMinutesWatched"), r.get("averageViewDuration"),
                     r.get("subscribersGained"), r.get("likes"), r.get("comments"), r.get("estimatedRevenue")])
                rows_written += 1
    return {"channel_id": channel_id, "subscribers": int(stats.get("subscriberCount", 0)), "videos": len(video_ids),
            "rows": rows_written, "revenue": revenue}


class YouTubeTrendSource:
    """videos.list(chart=mostPopular, regionCode, videoCategoryId) as a TrendSource: today's snapshot."""

    name = "youtube"

    def __init__(self, accounts: Accounts, quota: QuotaLedger, settings, channel_id: int):
        self.accounts, self.quota, self.settings, self.channel_id = accounts, quota, settings, channel_id

    def fetch(self, region: str, category: str | None = None, pages: int = 4, today: date | None = None) -> ParsedTrends:
        account = self.accounts.choose(self.channel_id, "videos.list")
        youtube = build_youtube(self.accounts.credentials(self.channel_id, account.project_id), self.settings)
        today = today or date.today()
        rows, token = [], None
        for _ in range(pages):
            kwargs = {"part": "snippet,statistics", "chart": "mostPopular", "regionCode": region, "maxResults": 50}
            if category:
                kwargs["videoCategoryId"] = category
            if token:
                kwargs["pageToken"] = token
            page = _ledgered(self.quota, account, "videos.list", lambda kw=kwargs: youtube.videos().list(**kw).execute())
            for item in page.get("items", []):
                sn, st = item.get("snippet", {}), item.get("statistics", {})
                rows.append({"video_id": item["id"], "day": today, "rank": len(rows) + 1, "title": sn.get("title", ""),
                             "channel_title": sn.get("channelTitle"), "category_id": int(sn.get("categoryId") or 0) or None,
                             "publish_time": None, "tags": sn.get("tags", []), "views": int(st.get("viewCount", 0)),
                             "likes": int(st["likeCount"]) if "likeCount" in st else None, "dislikes": None,
                             "comments": int(st["commentCount"]) if "commentCount" in st else None})
            token = page.get("nextPageToken")
            if not token:
                break
        return ParsedTrends(rows, len(rows))

    def import_today(self, db: Database, region: str, category: str | None = None):
        parsed = self.fetch(region, category)
        return store(db, parsed, region, f"youtube:{region}" + (f":{category}" if category else ""), None)
