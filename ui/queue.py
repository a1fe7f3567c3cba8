"""The live queue: each job with its stages' progress, cancel and retry."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.jobs import STAGES, InvalidTransition
from ui.cache import read
from ui.state import get_workbench
from ui.text import md
from ui.widgets import STATUS_ICONS, empty


def _stage_line(stages: pl.DataFrame) -> str:
    parts = []
    for s in stages.iter_rows(named=True):
        mark = f"{s['progress']:.0%}" if s["status"] == "running" else STATUS_ICONS.get(s["status"], s["status"])
        retry = f" (try {s['attempts']})" if s["attempts"] > 1 else ""
        parts.append(f"{s['stage']} {mark}{retry}")
    return " → ".join(parts)


def _act(action: str, job_id: int) -> None:
    wb = get_workbench()
    try:
        if action == "cancel":
            state = wb.cancel(job_id)
            st.toast(f"Job {job_id}: {'cancelled' if state == 'cancelled' else 'stopping at the next checkpoint'}")
        else:
            wb.retry(job_id)
            st.toast(f"Job {job_id} queued again: it resumes at its first unfinished stage")
    except InvalidTransition as exc:
        st.toast(md(exc))


def show_queue(recent: int = 10) -> None:
    jobs = read("queue", recent)
    if jobs.is_empty():
        empty("The queue is empty. Start a video above; it will appear here with live progress.")
        return
    stages = read("stages_for", tuple(jobs["id"].to_list()))
    for job in jobs.iter_rows(named=True):
        mine = stages.filter(pl.col("job_id") == job["id"])
        done = mine.filter(pl.col("status") == "done").height + float(mine.filter(pl.col("status") == "running")["progress"].sum())
        with st.container(border=True):
            top = st.columns([6, 1, 1])
            top[0].markdown(f"{STATUS_ICONS.get(job['status'], '')} **#{job['id']} {md(job['topic'])}** · "
                            f"{md(job['channel'])} · {job['duration_s']} s {job['format']} · *{job['status']}*"
                            + (" (cancelling)" if job["cancel_requested"] and job["status"] == "running" else ""))
            if job["status"] in ("queued", "running"):
                top[1].button("Cancel", key=f"cancel-{job['id']}", on_click=_act, args=("cancel", job["id"]),
                              icon=":material/stop:")
            if job["status"] in ("failed", "cancelled", "held"):
                top[2].button("Retry", key=f"retry-{job['id']}", on_click=_act, args=("retry", job["id"]),
                              icon=":material/replay:")
            st.progress(min(1.0, done / len(STAGES)), text=_stage_line(mine))
            if job["status"] == "failed":
                who = f" ({job['error_provider']})" if job["error_provider"] else ""
                st.error(f"Failed at **{job['error_stage']}**{who}: {md(job['error_message'], multiline=True)}",
                         icon=":material/error:")
