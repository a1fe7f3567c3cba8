"""Channels, schedules, costs and budgets, trends, YouTube quota and channel health."""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import date, timedelta

from api import models as m
from api.core import Api, Call
from api.problems import Problem
from pipeline import channels, listings, queries

MAX_COST_DAYS = 3660  # a cost summary spans at most ten years


def records(df) -> list[dict]:
    """Rows of a polars frame as JSON-safe dicts (NaN and infinities become null)."""
    out = []
    for row in df.to_dicts():
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()})
    return out


class ChannelCache:
    """The channels read model (videos made and spend per channel: a pass over every video) per scope, kept while
    the data it reads is unchanged (``data_version``, as the pages' cached reads), so a client polling the list
    does not redo that pass each time."""

    MAX = 64  # scopes kept (owners on All, each workspace)

    def __init__(self):
        self._rows: dict = {}

    def rows(self, call: Call) -> list[dict]:
        key = (call.actor.scope, queries.data_version(call.wb.raw_db))
        rows = self._rows.get(key)
        if rows is None:
            rows = records(queries.channels(call.wb.db))
            if len(self._rows) >= self.MAX:
                self._rows.clear()
            self._rows[key] = rows
        return [dict(r) for r in rows]


def _channels(call: Call) -> list[dict]:
    rows = call.api_state.setdefault("channels", ChannelCache()).rows(call)
    for row in rows:
        row["connected"] = call.wb.youtube.connected(row["id"])  # read each time: a connection is no data change
    return rows


def _channel(call: Call, channel_id: int) -> dict:
    for row in _channels(call):
        if row["id"] == channel_id:
            return row
    raise Problem(404, "not-found", "Not found", f"There is no channel {channel_id} in this workspace.")


def _input(values: dict) -> channels.ChannelInput:
    names = {f.name for f in fields(channels.ChannelInput)}
    return channels.ChannelInput(**{k: v for k, v in values.items() if k in names})


def register(api: Api) -> None:
    @api.route("GET", "/channels", summary="List channels", tag="channels", response=m.ChannelList)
    def list_channels(call: Call):
        """Every channel of the token's workspace with its videos made, spend and YouTube connection (a short list:
        one page, `next_cursor` is always null)."""
        return {"items": _channels(call), "next_cursor": None}

    @api.route("GET", "/channels/{channel_id:int}", summary="One channel", tag="channels", response=m.Channel,
               errors=(401, 404))
    def get_channel(call: Call):
        return _channel(call, call.path["channel_id"])

    @api.route("POST", "/channels", summary="Create a channel", tag="channels", permission="channels",
               body=m.ChannelBody, response=m.Channel, status=201, creates=True, errors=(401, 403, 409, 422))
    def create_channel(call: Call):
        """A channel in the token's workspace; its brand, voice, writer, visuals, captions and review gate."""
        channel_id = call.wb.create_channel(_input(call.body.model_dump()))
        return _channel(call, channel_id)

    @api.route("PATCH", "/channels/{channel_id:int}", summary="Update a channel", tag="channels",
               permission="channels", body=m.ChannelPatch, response=m.Channel, errors=(401, 403, 404, 422))
    def update_channel(call: Call):
        """Change only the fields sent; the rest keep their values."""
        channel_id = call.path["channel_id"]
        current = channels.get_channel(call.wb.db, _channel(call, channel_id)["id"])
        changes = call.body.model_dump(exclude_unset=True)
        nulls = sorted(k for k, v in changes.items() if v is None)
        if nulls:
            raise Problem(422, "invalid-request", "null is not a value",
                          f"{', '.join(nulls)}: null is not a value; leave a field out to keep what it is.",
                          errors=[{"field": k, "message": "null is not a value"} for k in nulls])
        call.wb.update_channel(channel_id, _input({**current, **changes}))
        return _channel(call, channel_id)

    @api.route("DELETE", "/channels/{channel_id:int}", summary="Delete a channel", tag="channels",
               permission="channels", response=m.Deleted, errors=(401, 403, 404, 409))
    def delete_channel(call: Call):
        """Refused while the channel has queued or running jobs; its YouTube tokens are revoked first. Its videos
        stay in the workspace's library."""
        channel_id = call.path["channel_id"]
        _channel(call, channel_id)
        notes = call.wb.delete_channel(channel_id)
        return {"id": channel_id, "deleted": True, "notes": notes}

    @api.route("GET", "/schedules", summary="List schedules", tag="schedules", response=m.ScheduleList)
    def list_schedules(call: Call):
        rows = call.wb.db.query_dicts(
            "SELECT s.channel_id, c.name AS channel, s.times, s.timezone, s.country, s.duration_s, s.format,"
            " s.privacy, s.enabled FROM schedules s JOIN channels c ON c.id = s.channel_id ORDER BY s.channel_id")
        return {"items": rows}

    @api.route("PUT", "/channels/{channel_id:int}/schedule", summary="Set a channel's schedule", tag="schedules",
               permission="channels", body=m.ScheduleBody, response=m.Schedule, errors=(401, 403, 404, 422))
    def set_schedule(call: Call):
        """Times of day (in the schedule's time zone) at which the channel publishes a video on its top backlog
        topic; the workbench makes each one about three hours ahead."""
        b: m.ScheduleBody = call.body
        channel_id = call.path["channel_id"]
        _channel(call, channel_id)
        call.wb.save_schedule(channel_id, ", ".join(b.times), b.timezone, b.country, b.duration_s, b.format,
                              b.privacy, b.enabled)
        rows = call.wb.db.query_dicts(
            "SELECT s.channel_id, c.name AS channel, s.times, s.timezone, s.country, s.duration_s, s.format,"
            " s.privacy, s.enabled FROM schedules s JOIN channels c ON c.id = s.channel_id WHERE s.channel_id = ?",
            [channel_id])
        return rows[0]

    @api.route("GET", "/costs", summary="Spend summary", tag="costs", query=m.CostsQuery, response=m.CostSummary)
    def costs(call: Call):
        """Spend by day, by channel or by provider over a date range (default: the last 30 days)."""
        q: m.CostsQuery = call.query
        until = q.until or date.today()
        since = q.since or until - timedelta(days=29)
        if since > until:
            raise Problem(422, "invalid-request", "Bad range", f"since ({since}) is after until ({until}).")
        if (until - since).days > MAX_COST_DAYS:
            raise Problem(422, "invalid-request", "Range too long", f"Ask for at most {MAX_COST_DAYS} days at once.")
        rows = listings.costs_summary(call.wb.db, q.by, since, until)
        return {"by": q.by, "since": since, "until": until, "total_usd": round(sum(r["usd"] for r in rows), 6),
                "rows": rows}

    @api.route("GET", "/costs/budget", summary="Budget status", tag="costs", response=m.BudgetStatus)
    def budget(call: Call):
        """The per-video cap in force, today's spend, and each daily budget's use today (in this workspace;
        the owner on all workspaces: the installation's)."""
        from pipeline.budget import parse_budget

        ws = call.wb.workspace_settings() if call.actor.workspace_id is not None else None
        daily = ws["daily_budgets"] or ws["installation_budgets"] if ws else dict(call.wb.settings.daily_budgets)
        cap = ws["cap_usd"] if ws else call.wb.settings.cap_usd
        today = records(queries.today_by_provider(call.wb.db))
        rate = queries.spend_rate(call.wb.db)
        lines = []
        for provider, text in sorted(daily.items()):
            limit, unit = parse_budget(text)
            mine = [r for r in today if r["provider"] == provider]
            used = sum(r["usd"] for r in mine) if unit == "usd" else \
                sum(r["quantity"] for r in mine if r["unit"] == unit)
            lines.append({"provider": provider, "budget": text, "used": used, "limit": float(limit), "unit": unit,
                          "share": round(used / float(limit), 4) if limit else 1.0})
        return {"cap_usd": cap, "spent_today_usd": rate["today"], "per_day_7d_usd": rate["per_day_7d"],
                "over_cap_videos": queries.over_cap(call.wb.db, cap), "daily": lines}

    @api.route("GET", "/trends/topics", summary="Rising topics", tag="trends", query=m.TrendsQuery,
               response=m.TopicList)
    def rising_topics(call: Call):
        """Trending topics of a country's charts by momentum (the Trends page's list)."""
        q: m.TrendsQuery = call.query
        country = q.country.upper()
        df = queries.topic_momentum(call.wb.db, country)
        return {"country": country, "items": records(df.head(q.limit))}

    @api.route("GET", "/channels/{channel_id:int}/backlog", summary="A channel's topic backlog", tag="trends",
               query=m.BacklogQuery, response=m.TopicList, errors=(401, 404))
    def backlog(call: Call):
        """The channel's next video topics: rising topics ranked by fit with its niche and predicted growth, minus
        what it already made. The n8n "top backlog topic" workflow takes the first."""
        q: m.BacklogQuery = call.query
        channel_id = call.path["channel_id"]
        if call.wb.db.query_one("SELECT 1 FROM channels WHERE id = ?", [channel_id]) is None:
            raise Problem(404, "not-found", "Not found", f"There is no channel {channel_id} in this workspace.")
        channel = channels.get_channel(call.wb.db, channel_id)
        country = q.country.upper()
        df = call.wb.trends.backlog(country, channel, limit=q.limit)
        return {"country": country, "items": records(df)}

    @api.route("GET", "/youtube", summary="YouTube quota and channel health", tag="youtube",
               response=m.YouTubeStatus)
    def youtube(call: Call):
        """Each Google project's quota used and left today (and when it is parked), each connected channel's
        account health, and projects not yet verified by Google."""
        status = call.wb.youtube.status()
        return {k: records_like(v) for k, v in status.items()}


def records_like(value):
    """Desk answers (lists of dicts or dataclasses) as JSON-safe lists."""
    import dataclasses

    out = []
    for item in value or []:
        if dataclasses.is_dataclass(item):
            item = dataclasses.asdict(item)
        if isinstance(item, dict):
            item = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in item.items()
                    if "token" not in k and "secret" not in k}
        out.append(item)
    return out
