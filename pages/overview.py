"""Overview: where the business stands."""

import plotly.express as px
import streamlit as st

from ui.cache import read
from ui.onboarding import show_checklist
from ui.state import get_workbench
from ui.widgets import cap_line, chart, count, day_axis, empty, exports, percent, table, usd

SERIES = {"published": "Published on YouTube", "exported": "Exported to the outbox", "held": "Held by the quality gate"}
COSTS = {"median_usd": "Median", "max_usd": "Dearest"}
wb = get_workbench()
st.title("Overview")
show_checklist()
k = read("kpis")
cap = wb.workspace_settings()["cap_usd"]

if not k["videos_made"] and not k["queued"] and not k["running"] and not k["failed"]:
    empty("No videos yet. Open **Studio** to make your first one: a topic and a click are enough, "
          "everything runs locally with no keys." if wb.actor.can("make") else
          "No videos in this workspace yet: they appear here once an operator makes one.")
    if wb.actor.can("make"):
        st.page_link("pages/studio.py", label="Go to Studio", icon=":material/movie_edit:")
    st.stop()

c = st.columns(4)
c[0].metric("Videos made", count(k["videos_made"]))
c[1].metric("Published", count(k["published"]), help=f"On YouTube (or scheduled there). Exported to the local outbox: "
                                                     f"{count(k['exported'])}.")
c[2].metric("Held by quality gate", count(k["held"]))
c[3].metric("Failed jobs", count(k["failed"]))
c = st.columns(4)
c[0].metric("Success rate", percent(k["success_rate"]), help="Finished jobs that made a video.")
c[1].metric("Median cost / video", usd(k["median_cost"]), help=f"Cap per video: {usd(cap)}")
c[2].metric("p90 cost / video", usd(k["p90_cost"]),
            delta=None if k["p90_cost"] is None else f"{k['p90_cost'] / cap:.0%} of cap" if cap else None,
            delta_color="off", delta_arrow="off")  # a share of the cap, not a change: no arrow
c[3].metric("Spend today", usd(k["spend_today"]))
st.caption(f"Jobs running: {count(k['running'])} · queued: {count(k['queued'])}")

per_day = read("videos_per_day")
cost_day = read("cost_per_video_by_day")
left, right = st.columns(2)
with left:
    st.subheader("Videos per day")
    if per_day.is_empty():
        empty("No finished videos yet: each day's count appears here once the first job finishes (follow it in "
              "**Studio**).")
    else:
        fig = px.bar(per_day.rename(SERIES).to_pandas(), x="day", y=list(SERIES.values()),
                     labels={"value": "Videos", "variable": "Videos", "day": "Day"})
        chart(day_axis(fig, per_day.height), legend="Videos")
        exports(per_day, "videos_per_day")
with right:
    st.subheader("Cost per video")
    if cost_day.is_empty():
        empty("No costs recorded yet: they appear here as soon as a video is made.")
    else:
        fig = px.line(cost_day.rename(COSTS).to_pandas(), x="day", y=list(COSTS.values()), markers=True,
                      labels={"value": "Cost per video", "variable": "Cost per video", "day": "Day"})
        chart(day_axis(cap_line(fig, cap), cost_day.height), legend="Cost per video", money="y")
        exports(cost_day, "cost_per_video_by_day")

performance = read("channel_performance")
if performance.is_empty():
    st.caption("Audience and return appear here once a channel is connected to YouTube (**Channels**, YouTube tab) "
               "and its analytics are synced.")
else:
    st.subheader("Audience and return")
    st.caption("From YouTube (channels.list and the Analytics API): views, watch time, subscribers and revenue "
               "against what the videos cost.")
    table(performance, "channel_performance", labels={"name": "Channel"}, hide=["id"])
    table(read("roi", 50), "video_roi", labels={"title": "Video"})
