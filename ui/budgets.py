"""Today's burn against each provider's daily budget, with a forecast at the current rate."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from pipeline.budget import parse_budget
from ui.cache import read
from ui.text import md
from ui.widgets import count, empty, percent, table, usd


def day_fraction(now: datetime | None = None) -> float:
    now = now or datetime.now()
    return max((now.hour * 3600 + now.minute * 60 + now.second) / 86400, 1 / 96)  # at least 15 minutes in


def amount(value: float, unit: str) -> str:
    """A budget's amount in its unit: "$5.00" for usd, "100,000 characters" for anything else."""
    return usd(value) if unit == "usd" else f"{count(value)} {unit}"


def show_budgets(daily_budgets: dict[str, str], everywhere: bool = False, metrics: bool = True) -> None:
    """Today's use of each daily budget. ``everywhere``: the installation's budgets against every workspace's
    spend (the owner's view: the guard counts them so); else against the signed-in workspace's spend."""
    if everywhere:
        from pipeline import queries
        from ui.state import get_workbench, shared_workbench

        get_workbench().actor.require("admin")
        today, rate = queries.today_by_provider(shared_workbench().db), queries.spend_rate(shared_workbench().db)
    else:
        today, rate = read("today_by_provider"), read("spend_rate")
    fraction = day_fraction()
    rows = []
    for provider, text in sorted(daily_budgets.items()):
        limit, unit = parse_budget(text)
        mine = today.filter(pl.col("provider") == provider)
        used = float(mine["usd"].sum()) if unit == "usd" else float(mine.filter(pl.col("unit") == unit)["quantity"].sum())
        forecast = used / fraction
        rows.append({"provider": provider, "budget": amount(float(limit), unit), "used_today": amount(used, unit),
                     "share": percent(used / float(limit)) if limit else "—", "forecast_today": amount(forecast, unit),
                     "on_course_to_pass": forecast > float(limit), "_share": used / float(limit) if limit else 1.0})
    for r in rows:
        st.progress(min(1.0, r["_share"]), text=f"**{md(r['provider'])}**: {md(r['used_today'])} of "
                    f"{md(r['budget'])} today" + (" · on course to pass it today" if r["on_course_to_pass"] else ""))
    if not metrics:
        if rows:
            table(pl.DataFrame(rows).drop("_share"), "workspace_budgets_today",
                  labels={"used_today": "Used today", "share": "Share of budget", "forecast_today": "Forecast for today"})
        return
    c = st.columns(3)
    c[0].metric("Spend today", usd(rate["today"]))
    c[1].metric("Forecast for today", usd(rate["today"] / fraction), help="Today's spend at the rate so far.")
    c[2].metric("30-day forecast", usd(rate["per_day_7d"] * 30), help="At the average of the last 7 days.")
    if rows:
        table(pl.DataFrame(rows).drop("_share"), "budgets_today",
              labels={"used_today": "Used today", "share": "Share of budget", "forecast_today": "Forecast for today"})
    else:
        empty("No daily budgets set: add one a line under **Settings > Budgets and limits** (a workspace's own: "
              "**Access > Workspaces**), like 'openai: 5 usd' or 'elevenlabs: 100000 characters'.")


def show_fallbacks() -> None:
    steps = read("fallbacks", 50)
    if steps.is_empty():
        empty("No fallbacks yet: every call ran on the first step of its chain.")
        return
    counts = steps.group_by("kind").len().sort("len", descending=True)
    st.caption(" · ".join(f"{md(k)}: {count(n)}" for k, n in counts.iter_rows()))
    table(steps, "fallbacks", labels={"kind": "Why"})
