"""Settings: providers, budgets and limits, data directory, analyst snapshots, backup and restore."""

import json
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.backup import BackupError
from pipeline.config import ConfigError
from ui.state import get_workbench

wb = get_workbench()
s = wb.settings
st.title("Settings")

st.subheader("Providers")
st.caption("Which providers this workbench can use, and why not. Keys are never shown.")
st.dataframe(pl.DataFrame(wb.providers()), hide_index=True)

st.subheader("Budgets and limits")
with st.form("limits"):
    c = st.columns(3)
    cap = c[0].number_input("Spending cap per video (USD)", 0.0, 100.0, float(s.cap_usd), 0.25)
    threshold = c[1].number_input("Quality threshold", 0.0, 100.0, float(s.quality_threshold), 5.0)
    transition = c[2].selectbox("Slide transition", ["dip", "crossfade"], index=["dip", "crossfade"].index(s.transition))
    c = st.columns(3)
    workers = c[0].number_input("Worker threads", 1, 32, int(s.workers))
    gpu = c[1].number_input("GPU stages at once", 0, 16, int(s.gpu_slots))
    if st.form_submit_button("Save", type="primary"):
        try:
            notes = wb.update_settings({"cap_usd": cap, "quality_threshold": threshold, "transition": transition,
                                        "workers": int(workers), "gpu_slots": int(gpu)})
            st.success("Saved.")
            for note in notes:
                st.info(note)
        except ConfigError as exc:
            st.error(str(exc))

st.subheader("Data")
st.markdown(f"Data directory: `{s.data_dir}`  \nDatabase: `{s.db_path}`  \nPrice table: `{s.prices_file}` "
            f"(version {wb.prices.version})")
snap = s.data_dir / "snapshots"
manifest = snap / "manifest.json"
if manifest.exists():
    taken = json.loads(manifest.read_text())["taken_at"]
    st.markdown(f"Analyst snapshots: `{snap}` (Parquet, refreshed when data changes; last taken {taken}).")
else:
    st.markdown(f"Analyst snapshots will appear in `{snap}` within a minute of the first change.")
if st.button("Refresh snapshots now", icon=":material/sync:"):
    wb.snapshots.refresh(force=True)
    st.success("Snapshots written.")

st.subheader("Backup")
c = st.columns(2)
with c[0]:
    if st.button("Prepare a backup", icon=":material/archive:"):
        st.session_state["backup"] = str(wb.export_backup())
    if st.session_state.get("backup") and Path(st.session_state["backup"]).exists():
        path = Path(st.session_state["backup"])
        st.download_button("Download backup", lambda: path.read_bytes(), path.name, "application/zip",
                           icon=":material/download:", on_click="ignore")
with c[1]:
    upload = st.file_uploader("Restore from a backup (.zip)", type=["zip"])
    if upload is not None and st.button("Restore: replaces all data", type="primary", icon=":material/restore:"):
        with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
            tmp.write(upload.getvalue())
            tmp.flush()
            try:
                m = wb.import_backup(Path(tmp.name))
                st.success(f"Restored the backup of {m['created_at']}: " + ", ".join(f"{n} {t}" for t, n in m["rows"].items()))
            except BackupError as exc:
                st.error(str(exc))
