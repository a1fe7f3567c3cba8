"""Schedules: per channel, how many videos a day at which local times.

Each tick looks at today's and tomorrow's slots of every enabled schedule; a slot within the
lead time that has no job yet gets one, on the channel's best backlog topic, with
``publishAt`` set to the slot so YouTube releases it on time. The job publishes only if it
passes the quality gate; a slot is taken once (schedule_slots), so a restart never doubles it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.db import Database

log = logging.getLogger("ytempire.schedule")


class ScheduleError(ValueError):
    pass


def parse_times(text: str) -> list[str]:
    times = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            t = datetime.strptime(part, "%H:%M").time()
        except ValueError as exc:
            raise ScheduleError(f"{part!r} is not a time: write times as HH:MM, separated by commas.") from exc
        times.append(t.strftime("%H:%M"))
    if not times:
        raise ScheduleError("Give at least one time of day, like 09:00, 17:30.")
    return sorted(set(times))


def save_schedule(db: Database, channel_id: int, times: str, tz: str, country: str | None, duration_s: int,
                  fmt: str, privacy: str, enabled: bool = True) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"Unknown time zone {tz!r}: use a name like Europe/Paris or America/New_York.") from exc
    if privacy not in ("public", "unlisted", "private"):
        raise ScheduleError("Privacy must be public, unlisted or private.")
    with db.write() as cur:
        cur.execute("INSERT INTO schedules VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET times = excluded.times,"
                    " timezone = excluded.timezone, country = excluded.country, duration_s = excluded.duration_s,"
                    " format = excluded.format, privacy = excluded.privacy, enabled = excluded.enabled",
                    [channel_id, parse_times(times), tz, country, duration_s, fmt, privacy, enabled])


def slots(times: list[str], tz: str, days: list[date]) -> list[datetime]:
    """The slots of those days as naive UTC datetimes."""
    zone = ZoneInfo(tz)
    out = []
    for d in days:
        for hhmm in times:
            local = datetime.combine(d, time.fromisoformat(hhmm), tzinfo=zone)
            out.append(local.astimezone(timezone.utc).replace(tzinfo=None))
    return sorted(out)


class Scheduler:
    def __init__(self, workbench, lead: timedelta = timedelta(hours=3)):
        self.wb, self.lead = workbench, lead

    def tick(self, now: datetime | None = None) -> list[int]:
        """Queue a job for every slot coming up within the lead time; returns the new job ids."""
        now = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
        made = []
        rows = self.wb.db.query_dicts("SELECT * FROM schedules WHERE enabled")
        for s in rows:
            today = now.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(s["timezone"])).date()
            for slot in slots(s["times"], s["timezone"], [today - timedelta(days=1), today, today + timedelta(days=1)]):
                if not (now <= slot <= now + self.lead):
                    continue
                if self.wb.db.query_one("SELECT 1 FROM schedule_slots WHERE channel_id = ? AND slot_at = ?",
                                        [s["channel_id"], slot]):
                    continue
                made.extend(self._fill(s, slot))
        return made

    def _fill(self, s: dict, slot: datetime) -> list[int]:
        from pipeline.channels import get_channel

        channel = get_channel(self.wb.db, s["channel_id"])
        country = s["country"] or next(iter(r[0] for r in self.wb.db.query(
            "SELECT DISTINCT country FROM trend_topics ORDER BY country")), None)
        publish_at = slot.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
        note, job_id = None, None
        try:
            if country and self.wb.trends.has_topics(country):
                backlog = self.wb.trends.backlog(country, channel, 5)
                topic_id = backlog["topic_id"][0]
                job_id = self.wb.make_from_topic(country, topic_id, channel=channel["id"], duration_s=s["duration_s"],
                                                 format=s["format"], privacy=s["privacy"], publish_at=publish_at)
            else:
                note = "no trend topics yet: import trending data or compute topics"
        except Exception as exc:  # noqa: BLE001 - recorded on the slot, shown on the Channels page
            note = f"{type(exc).__name__}: {exc}"
        with self.wb.db.write() as cur:
            cur.execute("INSERT INTO schedule_slots VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [s["channel_id"], slot, job_id, note])
        if note:
            log.warning("schedule of channel %s at %s: %s", s["channel_id"], slot, note)
        return [job_id] if job_id else []
