"""Studio: start a video and watch the queue."""

import streamlit as st

from pipeline import queries
from pipeline.workbench import VideoRequest
from ui.state import get_workbench

wb = get_workbench()
st.title("Studio")

channels = queries.channels(wb.db)
with st.form("make"):
    topic = st.text_input("Topic", placeholder="Why octopuses are so smart")
    channel = st.selectbox("Channel", channels["name"].to_list())
    duration = st.number_input("Duration (seconds)", min_value=10, max_value=1800, value=60, step=10)
    fmt = st.radio("Format", ["landscape", "shorts"], horizontal=True)
    outline = st.text_area("Outline (optional): bullets or paragraphs, the script's substance")
    if st.form_submit_button("Make video", type="primary"):
        try:
            job_id = wb.enqueue(VideoRequest(topic, channel=channel, duration_s=int(duration), format=fmt, outline=outline))
            st.success(f"Queued job {job_id}.")
        except ValueError as exc:
            st.error(str(exc))


@st.fragment(run_every=2)
def queue() -> None:
    table = queries.jobs(wb.db)
    if table.is_empty():
        st.info("No jobs yet: start a video above.")
    else:
        st.dataframe(table, hide_index=True)


queue()
