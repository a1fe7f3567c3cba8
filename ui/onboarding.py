"""The guided checklist on a workspace's Overview (pipeline.access.onboarding ticks it from real state)."""

from __future__ import annotations

import streamlit as st

from pipeline.access.onboarding import checklist, progress, suggested_request, suggested_topic
from ui.state import get_workbench
from ui.text import md


def show_checklist() -> None:
    wb = get_workbench()
    if wb.actor.workspace_id is None:  # the owner looking at every workspace: each has its own list
        return
    steps = checklist(wb)
    done, total = progress(steps)
    if done == total:
        return
    with st.container(border=True):
        st.markdown(f"**Getting started: {done} of {total} done**")
        st.progress(done / total)
        for step in steps:
            mark = ":material/check_circle:" if step.done else ":material/radio_button_unchecked:"
            st.markdown(f"{mark} **{md(step.title)}** — {md(step.detail)}")
            for line in step.missing[:8]:
                st.caption(f"· {md(line)}")
            if not step.done and step.key == "video" and wb.actor.can("make") and steps[0].done:
                topic = suggested_topic(wb)
                if st.button(f"Make a video on “{topic[:60]}”", key="onboard_make", icon=":material/movie:"):
                    job_id = wb.enqueue(suggested_request(wb))
                    st.success(f"Queued job #{job_id}: follow it in Studio.")
                    st.page_link("pages/studio.py", label="Open Studio", icon=":material/movie_edit:")
            elif not step.done and wb.actor.can("channels"):
                st.page_link(step.page, label=f"Go to {step.page.split('/')[-1][:-3].title()}",
                             icon=":material/arrow_forward:")
