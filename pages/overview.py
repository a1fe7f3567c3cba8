"""Overview: where the business stands."""

import plotly.express as px
import streamlit as st

from ui.cache import read
from ui.state import get_workbench
from ui.widgets import day_axis, empty, exports, usd

wb = get_workbench()
st.title("Overview")
k = read("kpis")
cap = wb.settings.cap_usd

if not k["videos_made"] and not k["queued"] and not k["running"] and not k["failed"]:
    empty("No videos yet. Open **Studio** to make your first one: a topic and a click are enough, "
          "everything runs locally with no keys.")
    st.page_link("pages/studio.py", label="Go to Studio", icon=":material/movie_edit:")
    st.stop()

c = st.columns(4)
c[0].metric("Videos made", k["videos_made"])
c[1].metric("Published", k["published"], help=f"On YouTube (or scheduled there). Exported to the local outbox: "
                                              f"{k['exported']}.")
c[2].metric("Held by quality gate", k["held"])
c[3].metric("Failed jobs", k["failed"])
c = st.columns(4)
c[0].metric("Success rate", "—" if k["success_rate"] is None else f"{k['success_rate']:.0%}")
c[1].metric("Median cost / video", usd(k["median_cost"]), help=f"Cap per video: {usd(cap)}")
c[2].metric("p90 cost / video", usd(k["p90_cost"]),
            delta=None if k["p90_cost"] is None else f"{k['p90_cost'] / cap:.0%} of cap" if cap else None,
            delta_color="off", delta_arrow="off")  # a share of the cap, not a change: no arrow
c[3].metric("Spend today", usd(k["spend_today"]))
st.caption(f"Jobs running: {k['running']} · queued: {k['queued']}")

per_day = read("videos_per_day")
cost_day = read("cost_per_video_by_day")
left, right = st.columns(2)
with left:
    st.subheader("Videos per day")
    if per_day.is_empty():
        empty("No finished videos yet.")
    else:
        fig = px.bar(per_day.to_pandas(), x="day", y=["published", "exported", "held"],
                     labels={"value": "videos", "variable": ""})
        st.plotly_chart(day_axis(fig, per_day.height))
        exports(per_day, "videos_per_day")
with right:
    st.subheader("Cost per video")
    if cost_day.is_empty():
        empty("No costs recorded yet.")
    else:
        fig = px.line(cost_day.to_pandas(), x="day", y=["median_usd", "max_usd"], markers=True,
                      labels={"value": "USD per video", "variable": ""})
        fig.add_hline(y=cap, line_dash="dash", annotation_text=f"cap {usd(cap)}")
        st.plotly_chart(day_axis(fig, cost_day.height))
        exports(cost_day, "cost_per_video_by_day")

performance = read("channel_performance")
if not performance.is_empty():
    st.subheader("Audience and return")
    st.caption("From YouTube (channels.list and the Analytics API): views, watch time, subscribers and revenue "
               "against what the videos cost.")
    exports_table = read("roi", 50)
    st.dataframe(performance, hide_index=True)
    exports(performance, "channel_performance")
    st.dataframe(exports_table, hide_index=True)
    exports(exports_table, "video_roi")
