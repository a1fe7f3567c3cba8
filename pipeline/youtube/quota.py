"""The quota ledger: units of every YouTube API call, per Google Cloud project and Pacific day.

Quota belongs to the project and resets at midnight Pacific time. In the model in force
since 2026, uploads and search.list have their own daily buckets of 100 calls and the rest
share 10,000 units; the older model charges videos.insert 1,600 units from the one pool.
A call that would pass the limit is not attempted: it is deferred to the next reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pipeline.db import Database

PACIFIC = ZoneInfo("America/Los_Angeles")
MODELS = {
    "2026": {
        "limits": {"default": 10_000, "uploads": 100, "search": 100, "analytics": 50_000},
        "costs": {"videos.insert": ("uploads", 1), "search.list": ("search", 1), "videos.list": ("default", 1),
                  "channels.list": ("default", 1), "thumbnails.set": ("default", 50),
                  "playlistItems.insert": ("default", 50), "captions.insert": ("default", 400),
                  "reports.query": ("analytics", 1)},
    },
    "legacy": {
        "limits": {"default": 10_000, "analytics": 50_000},
        "costs": {"videos.insert": ("default", 1600), "search.list": ("default", 100), "videos.list": ("default", 1),
                  "channels.list": ("default", 1), "thumbnails.set": ("default", 50),
                  "playlistItems.insert": ("default", 50), "captions.insert": ("default", 400),
                  "reports.query": ("analytics", 1)},
    },
}


class QuotaDeferred(RuntimeError):
    """The call would pass the project's quota: it waits for the reset instead of failing."""

    def __init__(self, project: str, method: str, until: datetime, detail: str):
        super().__init__(f"{method} deferred until {until:%Y-%m-%d %H:%M} UTC: project {project} {detail}")
        self.project, self.method, self.until = project, method, until


def pacific_day(now: datetime | None = None) -> date:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(PACIFIC).date()


def next_reset(now: datetime | None = None) -> datetime:
    """The next midnight in Pacific time, as naive UTC."""
    now = now or datetime.now(timezone.utc)
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class Cost:
    bucket: str
    units: int


class QuotaLedger:
    def __init__(self, db: Database, default_model: str = "2026", clock=None):
        if default_model not in MODELS:
            raise ValueError(f"Unknown quota model {default_model!r}: use one of {', '.join(MODELS)}.")
        self.db, self.default_model = db, default_model
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def model(self, project: str) -> str:
        row = self.db.query_one("SELECT quota_model FROM youtube_projects WHERE project_id = ?", [project])
        return row[0] if row and row[0] in MODELS else self.default_model

    def cost(self, project: str, method: str) -> Cost:
        bucket, units = MODELS[self.model(project)]["costs"][method]
        return Cost(bucket, units)

    def limit(self, project: str, bucket: str) -> int:
        return MODELS[self.model(project)]["limits"][bucket]

    def used(self, project: str, bucket: str, day: date | None = None) -> int:
        day = day or pacific_day(self.clock())
        return self.db.query_one("SELECT coalesce(sum(units), 0) FROM quota_ledger WHERE project_id = ?"
                                 " AND pacific_day = ? AND bucket = ?", [project, day, bucket])[0]

    def headroom(self, project: str, method: str) -> float:
        """Share of the method's bucket still free today (0..1)."""
        c = self.cost(project, method)
        return max(0.0, 1 - self.used(project, c.bucket) / self.limit(project, c.bucket))

    def check(self, project: str, method: str) -> None:
        """Raise QuotaDeferred if the call would pass the quota (or the project is parked)."""
        now = self.clock()
        parked = self.db.query_one("SELECT until, reason FROM youtube_parking WHERE kind = 'project' AND ref = ?"
                                   " AND until > ?", [project, now.replace(tzinfo=None)])
        if parked:
            raise QuotaDeferred(project, method, parked[0], f"is parked: {parked[1]}")
        c = self.cost(project, method)
        used, limit = self.used(project, c.bucket), self.limit(project, c.bucket)
        if used + c.units > limit:
            raise QuotaDeferred(project, method, next_reset(now),
                                f"has {limit - used} of {limit} {c.bucket} units left today; {method} needs {c.units}")

    def record(self, project: str, method: str, outcome: str = "ok", channel_id: int | None = None,
               job_id: int | None = None) -> int:
        """Ledger the units of a call that was made (YouTube charges failed calls too)."""
        with self.db.write() as cur:
            return self.record_in(cur, project, method, outcome, channel_id, job_id)

    def record_in(self, cur, project: str, method: str, outcome: str = "ok", channel_id: int | None = None,
                  job_id: int | None = None) -> int:
        """record() inside the caller's transaction."""
        c = self.cost(project, method)
        cur.execute("INSERT INTO quota_ledger (project_id, pacific_day, bucket, method, units, channel_id, job_id,"
                    " outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [project, pacific_day(self.clock()), c.bucket, method, c.units, channel_id, job_id, outcome])
        return c.units

    def park(self, kind: str, ref: str, until: datetime, reason: str) -> None:
        from pipeline.events import emit_parked

        with self.db.write() as cur:
            before = cur.execute("SELECT until FROM youtube_parking WHERE kind = ? AND ref = ?", [kind, ref]).fetchall()
            cur.execute("INSERT INTO youtube_parking (kind, ref, until, reason) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT DO UPDATE SET until = excluded.until, reason = excluded.reason, at_time = now()",
                        [kind, ref, until, reason])
            if not before or before[0][0] != until:  # parked anew (not the same parking said again)
                emit_parked(cur, kind, ref, until, reason)

    def parked_until(self, kind: str, ref: str) -> tuple[datetime, str] | None:
        row = self.db.query_one("SELECT until, reason FROM youtube_parking WHERE kind = ? AND ref = ? AND until > ?",
                                [kind, ref, self.clock().replace(tzinfo=None)])
        return (row[0], row[1]) if row else None

    def summary(self) -> list[dict]:
        """Per project: used and left per bucket today, and parking."""
        out = []
        for (project,) in self.db.query("SELECT project_id FROM youtube_projects ORDER BY project_id"):
            model = self.model(project)
            parked = self.parked_until("project", project)
            for bucket, limit in MODELS[model]["limits"].items():
                used = self.used(project, bucket)
                out.append({"project": project, "model": model, "bucket": bucket, "used": used, "left": limit - used,
                            "limit": limit, "parked_until": parked[0] if parked else None,
                            "parked_reason": parked[1] if parked else None})
        return out
