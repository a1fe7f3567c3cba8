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

# YouTube wants publishAt in the future when the upload's metadata arrives; a slot closer than
# this is treated as missed, so an upload that takes a few minutes does not race its own time.
MIN_LEAD = timedelta(minutes=15)


class ScheduleError(ValueError):
    pass


MAX_SLOTS = 24  # videos a day per channel: YouTube's own upload limits are near this


def parse_times(text: str) -> list[str]:
    if len(text or "") > 6 * MAX_SLOTS + 100:
        raise ScheduleError(f"Give at most {MAX_SLOTS} times of day, like 09:00, 17:30.")
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
    if len(set(times)) > MAX_SLOTS:
        raise ScheduleError(f"Give at most {MAX_SLOTS} times of day; got {len(set(times))}.")
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


def channel_schedule(db: Database, channel_id: int) -> tuple[list[str], str] | None:
    """The channel's enabled schedule as (times of day, time zone), or None. Reads only."""
    row = db.query_one("SELECT times, timezone FROM schedules WHERE channel_id = ? AND enabled", [channel_id])
    return (list(row[0]), row[1]) if row and row[0] else None


def next_slot(times: list[str], tz: str, after: datetime) -> datetime:
    """The first slot of the schedule at or after ``after``, in UTC.

    ``after`` may be aware or naive UTC (as the database keeps times); the answer is of the same
    kind. Slots are local wall-clock times, so across a DST change the UTC time moves with the
    clock; a time the clock skips (02:30 on the spring-forward night) is taken an hour later (03:30)
    and one it repeats (01:30 on the fall-back night) at its first occurrence.
    """
    if not times:
        raise ScheduleError("The schedule has no times of day.")
    aware = after.tzinfo is not None
    utc = _as_utc(after)
    today = utc.astimezone(ZoneInfo(tz)).date()
    naive = utc.replace(tzinfo=None)
    # from yesterday (a slot late tonight in a zone west of UTC) to the day after tomorrow
    slot = next(s for s in slots(times, tz, [today + timedelta(days=d) for d in range(-1, 3)]) if s >= naive)
    return slot.replace(tzinfo=timezone.utc) if aware else slot


def settle_publish_at(body: dict, privacy: str, schedule: tuple[list[str], str] | None,
                      now: datetime | None = None) -> tuple[dict, dict | None]:
    """A ``videos.insert`` body whose ``publishAt`` YouTube will take, and what was changed.

    YouTube refuses a ``publishAt`` in the past, and a job can reach the publish stage after its
    slot (a quota deferral, a retry, a stopped worker). Such a time, or one less than
    ``MIN_LEAD`` ahead (the upload itself takes time), moves to the channel's next schedule slot
    at least ``MIN_LEAD`` from now; a channel without a schedule publishes right away, with the
    privacy the brief asked for. Returns the body unchanged and None when nothing had to move.
    """
    status = body.get("status") or {}
    wanted = status.get("publishAt")
    if not wanted:
        return body, None
    now = _as_utc(now or datetime.now(timezone.utc))
    when = _parse_utc(wanted)
    if when is not None and when >= now + MIN_LEAD:
        return body, None
    why = "is not a readable time" if when is None else "has passed" if when <= now else "is too close to make"
    status = dict(status)
    if schedule:
        status["publishAt"] = next_slot(schedule[0], schedule[1], now + MIN_LEAD).strftime("%Y-%m-%dT%H:%M:%SZ")
        moved = {"from": wanted, "to": status["publishAt"], "why": f"publishAt {why}: moved to the next schedule slot"}
    else:
        del status["publishAt"]
        status["privacyStatus"] = privacy
        moved = {"from": wanted, "to": None, "why": f"publishAt {why} and the channel has no schedule: published {privacy} now"}
    return {**body, "status": status}, moved


def _as_utc(when: datetime) -> datetime:
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _parse_utc(text: str) -> datetime | None:
    try:
        return _as_utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except ValueError:
        return None


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
                                                 format=s["format"], privacy=s["privacy"], publish_at=publish_at,
                                                 request_key=f"slot:{channel['id']}:{publish_at}")  # once, even after a crash
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
