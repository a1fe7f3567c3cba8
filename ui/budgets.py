"""Today's burn against each provider's daily budget, with a forecast at the current rate."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from pipeline.budget import parse_budget
from ui.cache import read
from ui.widgets import empty, table, usd


def day_fraction(now: datetime | None = None) -> float:
    now = now or datetime.now()
    return max((now.hour * 3600 + now.minute * 60 + now.second) / 86400, 1 / 96)  # at least 15 minutes in


def show_budgets(daily_budgets: dict[str, str]) -> None:
    today = read("today_by_provider")
    fraction = day_fraction()
    rows = []
    for provider, text in sorted(daily_budgets.items()):
        limit, unit = parse_budget(text)
        mine = today.filter(pl.col("provider") == provider)
        used = float(mine["usd"].sum()) if unit == "usd" else float(mine.filter(pl.col("unit") == unit)["quantity"].sum())
        forecast = used / fraction
        rows.append({"provider": provider, "budget": f"{limit:,} {unit}", "used today": used, "share": used / float(limit),
                     "forecast today": forecast, "forecast over budget": forecast > float(limit)})
    for r in rows:
        shown = usd(r["used today"]) if r["budget"].endswith("usd") else f"{r['used today']:,.0f}"
        st.progress(min(1.0, r["share"]), text=f"**{r['provider']}**: {shown} of {r['budget']} today"
                    + (" · on course to pass it today" if r["forecast over budget"] else ""))
    rate = read("spend_rate")
    c = st.columns(3)
    c[0].metric("Spend today", usd(rate["today"]))
    c[1].metric("Forecast for today", usd(rate["today"] / fraction), help="Today's spend at the rate so far.")
    c[2].metric("30-day forecast", usd(rate["per_day_7d"] * 30), help="At the average of the last 7 days.")
    table(pl.DataFrame(rows), "budgets_today")


def show_fallbacks() -> None:
    steps = read("fallbacks", 50)
    if steps.is_empty():
        empty("No fallbacks yet: every call ran on the first step of its chain.")
        return
    counts = steps.group_by("kind").len().sort("len", descending=True)
    st.caption(" · ".join(f"{k}: {n}" for k, n in counts.iter_rows()))
    table(steps, "fallbacks")
