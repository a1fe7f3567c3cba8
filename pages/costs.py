"""Costs: per video, stage, provider and day; spend against the cap."""

from datetime import date, timedelta

import plotly.express as px
import streamlit as st

from ui.budgets import show_budgets, show_fallbacks
from ui.cache import read
from ui.state import get_workbench
from ui.widgets import cap_line, chart, count, day_axis, empty, in_stage_order, table, usd

wb = get_workbench()
cap = wb.workspace_settings()["cap_usd"]
st.title("Costs")

period = st.segmented_control("Period", ["7 days", "30 days", "All time"], default="30 days", key="cost-period") or "All time"
since = {"7 days": date.today() - timedelta(days=6), "30 days": date.today() - timedelta(days=29)}.get(period, date(1970, 1, 1))
by_stage = read("cost_by_stage", since.isoformat())
if by_stage.is_empty():
    if period != "All time" and not read("cost_by_stage", "1970-01-01").is_empty():
        empty(f"Nothing was recorded in the last {period}: choose **All time** to see earlier spending.")
    else:
        empty("Nothing has been spent or recorded yet. Make a video in **Studio**: every provider call lands here "
              "as soon as it returns, priced (free local providers at $0.00).")
        st.page_link("pages/studio.py", label="Go to Studio", icon=":material/movie_edit:")
    st.stop()

k = read("kpis")
c = st.columns(4)
c[0].metric("Spend in period", usd(float(by_stage["usd"].sum())))
c[1].metric("Spend today", usd(k["spend_today"]))
c[2].metric("Median per video", usd(k["median_cost"]), help="All time")
c[3].metric("Videos over the cap", count(read("over_cap", cap)), help=f"Cap per video: {usd(cap)}")

left, right = st.columns(2)
with left:
    st.subheader("Per day")
    by_day = read("cost_by_day", since.isoformat())
    if by_day["usd"].sum() > 0:
        fig = px.bar(by_day.to_pandas(), x="day", y="usd", labels={"usd": "Spend", "day": "Day"})
        chart(day_axis(fig, by_day.height), money="y")
    else:
        empty("Nothing paid in this period: every video so far used the free local providers. Paid providers "
              "(set their keys, then name them in a channel's chains) show their spend here.")
    table(by_day, "cost_by_day", labels={"usd": "Spend", "videos": "Videos made"})
with right:
    st.subheader("Cost per video against the cap")
    dist = read("cost_distribution", cap)
    if dist.is_empty():
        empty("No finished videos in the ledger yet: each one lands in a cost bin here when it is made.")
    else:
        fig = px.bar(dist.to_pandas(), x="bin_usd", y="videos", labels={"bin_usd": "Cost per video", "videos": "Videos"})
        chart(cap_line(fig, cap, axis="x"), money="x")
        table(dist, "cost_distribution")

st.subheader("Per stage")
st.caption("In pipeline order: script, voice, scenes, visuals, render, thumbnail, quality, publish.")
table(in_stage_order(by_stage), "cost_by_stage")
st.subheader("Per provider and model")
table(read("cost_by_provider", since.isoformat()), "cost_by_provider")
st.subheader("Today's burn against daily budgets")
# The guard checks a call against the installation's budgets (every workspace's spend) and its workspace's own
# (that workspace's spend only): the owner sees both, everyone else their workspace's.
own = wb.workspace_settings()["daily_budgets"] if wb.actor.workspace_id is not None else {}
if wb.actor.can("admin"):
    show_budgets(wb.settings.daily_budgets, everywhere=True)
    if own:
        st.caption("This workspace's own daily budgets (its spend only):")
        show_budgets(own, metrics=False)
else:
    show_budgets(own)
st.subheader("Fallbacks taken, and why")
show_fallbacks()
st.subheader("Dearest videos")
table(read("top_videos_by_cost", 20), "top_videos_by_cost")
