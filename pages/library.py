"""Library: every video, searchable, with its player, script, quality and costs."""

import polars as pl
import streamlit as st

from pipeline import queries
from ui.cache import read
from ui.state import get_workbench
from ui.video import show_video
from ui.widgets import empty, exports

PAGE = 24
wb = get_workbench()
st.title("Library")

f = st.columns([3, 2, 2, 2])
search = f[0].text_input("Search title or topic", key="lib-search")
channel = f[1].selectbox("Channel", ["All", *read("channels")["name"].to_list()], key="lib-channel")
state = f[2].selectbox("Publish state", ["All", "outbox", "published", "scheduled", "held", "unpublished"], key="lib-state")
fmt = f[3].selectbox("Format", ["All", "landscape", "shorts"], key="lib-format")
filters = (search or None, None if channel == "All" else channel, None if state == "All" else state,
           None if fmt == "All" else fmt)

total = read("library_count", *filters)
if not total:
    empty("No videos match." if any(filters) else "No videos yet: make one in **Studio** and it appears here.")
    st.stop()
pages = (total - 1) // PAGE + 1
page = st.number_input(f"Page (of {pages}, {total} videos)", 1, pages, 1, key="lib-page") if pages > 1 else 1
videos = read("library", *filters, PAGE, (page - 1) * PAGE)
shown = videos.select("job_id", "title", "channel", "format", "duration_s", "quality_score", "cost_usd",
                      "publish_state", "created_at")
event = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="single-row", key="lib-table",
                     column_config={"cost_usd": st.column_config.NumberColumn("cost", format="$%.4f")})
exports(videos, "library")

chosen = event.selection.rows[0] if event.selection.rows else 0
options = videos["job_id"].to_list()
job_id = st.selectbox("Open video", options, index=chosen,
                      format_func=lambda j: f"#{j} {videos.filter(pl.col('job_id') == j)['title'][0]}")
detail = queries.video_detail(wb.db, job_id, wb.settings.jobs_dir)  # every path re-checked
if detail:
    show_video(detail, videos.filter(pl.col("job_id") == job_id))
