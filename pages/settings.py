"""Settings: providers, budgets and limits, data directory, analyst snapshots, backup and restore."""

import json

import polars as pl
import streamlit as st

from pipeline.config import ConfigError
from ui.backups import show_backups
from ui.media import show_media_library
from ui.state import get_workbench
from ui.text import md
from ui.widgets import columns, grid, when

wb = get_workbench()
wb.actor.require("admin")  # the installation's settings, keys, prices and backups are the owner's
s = wb.settings
st.title("Settings")

st.subheader("Providers")
st.caption("Which providers this workbench can use, and why not. Keys are never shown.")
grid(pl.DataFrame(wb.providers()), labels={"why_not": "Why not (what to set)"})

st.subheader("Budgets and limits")
with st.form("limits"):
    c = st.columns(3)
    cap = c[0].number_input("Spending cap per video (USD)", 0.0, 100.0, float(s.cap_usd), 0.25)
    threshold = c[1].number_input("Quality threshold", 0.0, 100.0, float(s.quality_threshold), 5.0)
    transition = c[2].selectbox("Slide transition", ["dip", "crossfade"], index=["dip", "crossfade"].index(s.transition))
    c = st.columns(3)
    workers = c[0].number_input("Worker threads", 1, 32, int(s.workers))
    gpu = c[1].number_input("GPU stages at once", 0, 16, int(s.gpu_slots))
    budgets = c[2].text_area("Daily budgets (provider: amount unit)",
                             "\n".join(f"{p}: {b}" for p, b in s.daily_budgets.items()), height=110, max_chars=2000)
    if st.form_submit_button("Save", type="primary"):
        try:
            parsed = dict(line.split(":", 1) for line in budgets.splitlines() if line.strip())
        except ValueError:
            st.error("Nothing was saved: write one daily budget a line, a provider, a colon and an amount with its "
                     "unit, like 'openai: 5 usd' or 'elevenlabs: 100000 characters'.")
        else:
            try:
                notes = wb.update_settings({"cap_usd": cap, "quality_threshold": threshold, "transition": transition,
                                            "workers": int(workers), "gpu_slots": int(gpu),
                                            "daily_budgets": {k.strip(): v.strip() for k, v in parsed.items()}})
                st.success("Saved.")
                for note in notes:
                    st.info(note)
            except ConfigError as exc:
                st.error(md(exc))

st.subheader("Price table")
st.caption(f"Version {wb.prices.version}. USD per unit; a model missing here cannot be used (never a silent $0). "
           "Saving writes a new dated version beside the database; ledger rows keep the price they were charged at.")
prices = pl.DataFrame(wb.price_rows())
edited = st.data_editor(prices, num_rows="dynamic", hide_index=True, key="prices", column_config={
    **columns(prices), "usd_per_unit": st.column_config.NumberColumn("Price per unit (USD)", format="plain")})
if st.button("Save prices", icon=":material/save:"):
    try:
        rows = edited.to_dicts() if hasattr(edited, "to_dicts") else edited.to_dict("records")
        st.success(f"Saved price table {wb.update_prices(rows)}.")
    except ConfigError as exc:
        st.error(md(exc))

st.subheader("Data")
st.markdown(f"Data directory: `{s.data_dir}`  \nDatabase: `{s.db_path}`  \nPrice table: `{s.prices_file}` "
            f"(version {wb.prices.version})")
snap = s.data_dir / "snapshots"
manifest = snap / "manifest.json"
if manifest.exists():
    taken = when(json.loads(manifest.read_text()).get("taken_at"))
    st.markdown(f"Analyst snapshots: `{snap}` (Parquet, refreshed when data changes; last taken {taken}).")
else:
    st.markdown(f"Analyst snapshots will appear in `{snap}` within a minute of the first change.")
if st.button("Refresh snapshots now", icon=":material/sync:"):
    wb.snapshots.refresh(force=True)
    st.success("Snapshots written.")

st.subheader("Webhooks")
allow = st.checkbox("Webhooks may reach private addresses (this machine, your network)", s.webhooks_allow_private,
                    help="Off: a webhook must point at a public address, so nobody can aim the workbench at what only "
                         "it can reach (a router, a cloud metadata address). Turn it on for a receiver such as n8n "
                         "on this machine or your LAN.")
if allow != s.webhooks_allow_private:
    wb.update_settings({"webhooks_allow_private": allow})
    st.success("Webhooks may now reach private addresses." if allow else "Webhooks reach public addresses only.")

st.subheader("Media library")
show_media_library(wb)

st.subheader("Backup")
show_backups(wb)
