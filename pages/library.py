"""Library: what waits for review, every video (searchable, bulk actions), and one video in full."""

import polars as pl
import streamlit as st

from pipeline import queries
from ui.bulk import bulk_bar
from ui.cache import read
from ui.review import digest, script_review, waiting_list
from ui.state import get_workbench
from ui.video import show_video
from ui.widgets import empty, exports, grid

PAGE = 24
STATES = {"All": None, "Published (YouTube)": "published", "Scheduled": "scheduled", "Exported (outbox)": "outbox",
          "Held by the quality gate": "held", "Not published": "unpublished"}
ROW = ("job_id", "title", "channel", "format", "duration_s", "quality_score", "publish_state", "publish_ref")
wb = get_workbench()
st.title("Library")

asked = st.query_params.get("job")  # the queue's "open in Library" links
asked = int(asked) if asked and str(asked).isdigit() else None
opened = waiting_list() or asked
if opened is not None:
    row = read("review_queue").filter((pl.col("job_id") == opened) & (pl.col("awaiting") == "script"))
    if not row.is_empty() and wb.actor.can("make"):
        script_review(row.row(0, named=True))
        st.divider()

f = st.columns([3, 2, 2, 2])
search = f[0].text_input("Search title or topic", key="lib-search")
channel = f[1].selectbox("Channel", ["All", *read("channels")["name"].to_list()], key="lib-channel")
state = f[2].selectbox("Publish state", list(STATES), key="lib-state")
fmt = f[3].selectbox("Format", ["All", "landscape", "shorts"], key="lib-format")
filters = (search or None, None if channel == "All" else channel, STATES[state], None if fmt == "All" else fmt)

total = read("library_count", *filters)
if not total:
    empty("No videos match: clear the filters." if any(filters) else
          "No videos yet: make one in **Studio** and it appears here.")
    st.stop()
pages = (total - 1) // PAGE + 1
page = st.number_input(f"Page (of {pages}, {total:,} videos)", 1, pages, 1, key="lib-page") if pages > 1 else 1
videos = read("library", *filters, PAGE, (page - 1) * PAGE)
shown = videos.select("job_id", "title", "channel", "format", "duration_s", "quality_score", "cost_usd",
                      pl.col("publish_state").replace_strict(queries.PUBLISH_WORDS, default="Not published"), "created_at")
ids = videos["job_id"].to_list()
# Keyed by the rows shown: a selection (kept by row position) never carries over to other videos after a change.
event = grid(shown, {"job_id": "Job", "quality_score": "Quality", "cost_usd": "Cost", "publish_state": "Published",
                     "created_at": "Made"}, on_select="rerun", selection_mode="multi-row", key=f"lib-table-{digest(ids)}")
picked = [ids[i] for i in event.selection.rows if i < len(ids)]
if wb.actor.can("make"):  # an analyst selects rows to export them; acting on them is an operator's
    bulk_bar(videos.filter(pl.col("job_id").is_in(picked)) if picked else videos.head(0))
exports(videos, "library")

wanted = picked[0] if picked else opened
if wanted is not None and wanted not in ids:  # asked for by link or the waiting list, but not on this page
    detail = queries.video_detail(wb.db, wanted, wb.settings.jobs_dir)
    if detail:
        show_video(detail, pl.DataFrame([{k: detail["video"].get(k) for k in ROW}]))
        st.stop()
job_id = st.selectbox("Open video", ids, index=ids.index(wanted) if wanted in ids else 0,
                      format_func=lambda j: f"#{j} {videos.filter(pl.col('job_id') == j)['title'][0]}")
detail = queries.video_detail(wb.db, job_id, wb.settings.jobs_dir)  # every path re-checked
if detail:
    show_video(detail, videos.filter(pl.col("job_id") == job_id))
