"""Bulk actions over the Library's selected videos: retry, cancel, publish, delete (confirmed), export."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.review import PRIVACY
from ui.state import get_workbench
from ui.text import md
from ui.widgets import exports

MAX_SHOWN = 10  # result lines shown one by one; the rest are summed up


def _report(results: list[tuple[int, bool, str]]) -> None:
    done = [r for r in results if r[1]]
    refused = [r for r in results if not r[1]]
    if done:
        st.success(f"{len(done)} of {len(results)} done: " + "; ".join(f"#{j} {md(s)}" for j, _, s in done[:MAX_SHOWN])
                   + (f" (and {len(done) - MAX_SHOWN} more)" if len(done) > MAX_SHOWN else ""))
    for job_id, _, said in refused[:MAX_SHOWN]:
        st.error(f"#{job_id}: {md(said)}")
    if len(refused) > MAX_SHOWN:
        st.error(f"… and {len(refused) - MAX_SHOWN} more were refused.")


def bulk_bar(selected: pl.DataFrame) -> None:
    """The actions for the selected rows (``job_id``, ``channel``, ``title``...); each job is tried on its own."""
    if selected.is_empty():
        st.caption("Select rows (the boxes on the left) to retry, cancel, publish, delete or export many at once.")
        return
    ids = selected["job_id"].to_list()
    wb = get_workbench()
    st.markdown(f"**{len(ids)} selected**")
    row = st.container(horizontal=True)
    if row.button("Retry", key="bulk-retry", icon=":material/replay:", help="Queue failed, cancelled or held jobs again."):
        _report(wb.bulk("retry", ids))
    if row.button("Cancel", key="bulk-cancel", icon=":material/stop:", help="Stop queued, running or waiting jobs."):
        _report(wb.bulk("cancel", ids))
    with row.popover("Publish", icon=":material/publish:"):
        target = st.radio("To", ["youtube", "outbox"], horizontal=True, key="bulk-target",
                          format_func={"youtube": "YouTube", "outbox": "The outbox"}.get)
        privacy = st.selectbox("Privacy", PRIVACY, key="bulk-privacy")
        channels = ", ".join(sorted(set(selected["channel"].to_list())))
        sure = st.checkbox(f"Yes, publish {len(ids)} videos of {channels} to "
                           f"{'YouTube' if target == 'youtube' else 'the outbox'} as {privacy}", key="bulk-publish-sure")
        if st.button("Publish them", key="bulk-publish", type="primary", disabled=not sure):
            _report(wb.bulk("publish", ids, target=target, privacy=privacy))
    with row.popover("Delete", icon=":material/delete:"):
        st.caption("Deletes the selected videos' files from this machine; their costs stay in the ledger and copies "
                   "on YouTube or in the outbox are not touched.")
        sure = st.checkbox(f"Yes, delete {len(ids)} videos' files", key="bulk-delete-sure")
        if st.button("Delete them", key="bulk-delete", type="primary", disabled=not sure):
            _report(wb.bulk("delete", ids))
    exports(selected, "library-selected", key="bulk-export")
