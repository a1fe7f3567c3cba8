"""Costs: per video, stage, provider and day; spend against the cap."""

from datetime import date, timedelta

import plotly.express as px
import streamlit as st

from ui.budgets import show_budgets, show_fallbacks
from ui.cache import read
from ui.state import get_workbench
from ui.widgets import day_axis, empty, table, usd

wb = get_workbench()
cap = wb.settings.cap_usd
st.title("Costs")

period = st.segmented_control("Period", ["7 days", "30 days", "All time"], default="30 days", key="cost-period") or "All time"
since = {"7 days": date.today() - timedelta(days=6), "30 days": date.today() - timedelta(days=29)}.get(period, date(1970, 1, 1))
by_stage = read("cost_by_stage", since.isoformat())
if by_stage.is_empty():
    empty("Nothing has been spent or recorded yet. Every provider call lands here as soon as a video is made.")
    st.stop()

k = read("kpis")
c = st.columns(4)
c[0].metric("Spend in period", usd(float(by_stage["usd"].sum())))
c[1].metric("Spend today", usd(k["spend_today"]))
c[2].metric("Median per video", usd(k["median_cost"]), help="All time")
over = read("over_cap", cap)
c[3].metric("Videos over the cap", over, help=f"Cap per video: {usd(cap)}")

left, right = st.columns(2)
with left:
    st.subheader("Per day")
    by_day = read("cost_by_day", since.isoformat())
    if by_day["usd"].sum() > 0:
        st.plotly_chart(day_axis(px.bar(by_day.to_pandas(), x="day", y="usd", labels={"usd": "USD"}), by_day.height))
    else:
        empty("Nothing paid in this period: every video so far used the free local providers.")
    table(by_day, "cost_by_day")
with right:
    st.subheader("Cost per video against the cap")
    dist = read("cost_distribution", cap)
    fig = px.bar(dist.to_pandas(), x="bin_usd", y="videos", labels={"bin_usd": "USD per video"})
    fig.add_vline(x=cap, line_dash="dash", annotation_text=f"cap {usd(cap)}")
    st.plotly_chart(fig)
    table(dist, "cost_distribution")

st.subheader("Per stage")
table(by_stage, "cost_by_stage", column_config={"usd": st.column_config.NumberColumn(format="$%.4f")})
st.subheader("Per provider and model")
table(read("cost_by_provider", since.isoformat()), "cost_by_provider",
      column_config={"usd": st.column_config.NumberColumn(format="$%.4f")})
st.subheader("Today's burn against daily budgets")
show_budgets(wb.settings.daily_budgets)
st.subheader("Fallbacks taken, and why")
show_fallbacks()
st.subheader("Dearest videos")
table(read("top_videos_by_cost", 20), "top_videos_by_cost",
      column_config={"usd": st.column_config.NumberColumn(format="$%.4f")})
