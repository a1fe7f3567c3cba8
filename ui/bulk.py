"""Bulk actions over the Library's selected videos: retry, cancel, publish, delete (confirmed), export.

The actions run in button callbacks: they act, untick the confirmation and leave their results to show, so a
confirmation never stays ticked for the next selection. Confirmation keys are named after the selected jobs:
another selection asks again."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.review import PRIVACY
from ui.review import digest
from ui.state import get_workbench
from ui.text import md
from ui.widgets import exports

MAX_SHOWN = 10  # result lines shown one by one; the rest are summed up
RESULTS = "bulk-results"


def _run(action: str, ids: list[int], sure_key: str | None = None, **options: object) -> None:
    st.session_state[RESULTS] = get_workbench().bulk(action, ids, **options)
    if sure_key:
        st.session_state[sure_key] = False


def _publish(ids: list[int], sure_key: str, tag: str) -> None:
    _run("publish", ids, sure_key, target=st.session_state.get(f"bulk-target-{tag}", "youtube"),
         privacy=st.session_state.get(f"bulk-privacy-{tag}", "private"))


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
    """The actions for the selected rows (``job_id``, ``channel``...); each job is tried on its own."""
    results = st.session_state.pop(RESULTS, None)
    if results:
        _report(results)
    if selected.is_empty():
        st.caption("Select rows (the boxes on the left) to retry, cancel, publish, delete or export many at once.")
        return
    ids = selected["job_id"].to_list()
    tag = digest(ids)
    st.markdown(f"**{len(ids)} selected**")
    row = st.container(horizontal=True)
    row.button("Retry", key="bulk-retry", icon=":material/replay:", help="Queue failed, cancelled or held jobs again.",
               on_click=_run, args=("retry", ids))
    row.button("Cancel", key="bulk-cancel", icon=":material/stop:", help="Stop queued, running or waiting jobs.",
               on_click=_run, args=("cancel", ids))
    with row.popover("Publish", icon=":material/publish:"):
        target = st.radio("To", ["youtube", "outbox"], horizontal=True, key=f"bulk-target-{tag}",
                          format_func={"youtube": "YouTube", "outbox": "The outbox"}.get)
        privacy = st.selectbox("Privacy", PRIVACY, key=f"bulk-privacy-{tag}",
                               help="A video queued with a publish time keeps it (and stays private until then).")
        channels = ", ".join(sorted(set(selected["channel"].to_list())))
        sure_key = f"bulk-publish-sure-{tag}"
        sure = st.checkbox(f"Yes, publish {len(ids)} videos of {channels} to "
                           f"{'YouTube' if target == 'youtube' else 'the outbox'} as {privacy}", key=sure_key)
        st.button("Publish them", key="bulk-publish", type="primary", disabled=not sure, on_click=_publish,
                  args=(ids, sure_key, tag))
    with row.popover("Delete", icon=":material/delete:"):
        st.caption("Deletes the selected videos' files from this machine; their costs stay in the ledger and copies "
                   "on YouTube or in the outbox are not touched.")
        sure_key = f"bulk-delete-sure-{tag}"
        sure = st.checkbox(f"Yes, delete {len(ids)} videos' files", key=sure_key)
        st.button("Delete them", key="bulk-delete", type="primary", disabled=not sure, on_click=_run,
                  args=("delete", ids, sure_key))
    exports(selected, "library-selected", key="bulk-export")
