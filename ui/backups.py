"""The Settings page's backups: prepare and download one, the daily backup and its retention, the size
limit, and a restore that says what it will replace before it does."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.backup import BackupError, list_backups
from pipeline.config import ConfigError
from ui.text import md

UPLOAD_MB = 200  # .streamlit/config.toml server.maxUploadSize: larger backups restore from the CLI


def show_backups(wb) -> None:
    s = wb.settings
    limit_mb = wb.backup_limit() >> 20
    with st.form("backup-settings"):
        c = st.columns(3)
        daily = c[0].checkbox("Daily automatic backup", s.backup_daily,
                              help=f"Written into {s.backups_dir} once a day while the workbench runs.")
        keep = c[1].number_input("Automatic backups kept", 1, 365, int(s.backup_keep),
                                 help="The oldest automatic ones are deleted; backups you make are never deleted.")
        max_mb = c[2].number_input("Backup size limit for restores (MB, 0 = automatic)", 0, 1_000_000,
                                   int(s.backup_max_mb),
                                   help=f"Automatic: four times the database file, at least 256 MB (now {limit_mb:,} MB). "
                                        "A backup that would expand past it is refused before anything is extracted.")
        if st.form_submit_button("Save backup settings"):
            try:
                wb.update_settings({"backup_daily": bool(daily), "backup_keep": int(keep), "backup_max_mb": int(max_mb)})
                st.success("Saved.")
            except ConfigError as exc:
                st.error(md(exc))
    found = list_backups(s.backups_dir)
    if found:
        st.dataframe(pl.DataFrame([{"file": b.path.name, "taken (UTC)": b.created.replace(tzinfo=None),
                                    "MB": round(b.size / 2**20, 1), "kind": "automatic" if b.automatic else "yours"}
                                   for b in found]), hide_index=True)
    c = st.columns(2)
    with c[0]:
        if st.button("Prepare a backup", icon=":material/archive:"):
            st.session_state["backup"] = str(wb.export_backup())
        if st.session_state.get("backup") and Path(st.session_state["backup"]).exists():
            path = Path(st.session_state["backup"])
            st.download_button("Download backup", lambda: path.read_bytes(), path.name, "application/zip",
                               icon=":material/download:", on_click="ignore")
    with c[1]:
        restore(wb, limit_mb, found)


def restore(wb, limit_mb: int, found: list) -> None:
    upload = st.file_uploader(f"Restore from a backup (.zip, at most {UPLOAD_MB} MB here)", type=["zip"],
                              max_upload_size=UPLOAD_MB,
                              help=f"Larger ones: `python -m pipeline backup restore FILE`. The restore accepts up to "
                                   f"{limit_mb:,} MB uncompressed.")
    on_disk = st.selectbox("…or one already in the backups folder", [None, *[b.path.name for b in found]],
                           format_func=lambda n: "—" if n is None else n, key="restore-from-disk")
    sure = st.checkbox("Replace every job, video, channel and setting with the backup's (running jobs are paused; "
                       "spend, quota and uploads since the backup are kept)", key="restore-sure")
    if st.button("Restore: replaces all data", type="primary", icon=":material/restore:",
                 disabled=not sure or (upload is None and on_disk is None)):
        try:
            if upload is not None:
                with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
                    tmp.write(upload.getvalue())
                    tmp.flush()
                    m = wb.import_backup(Path(tmp.name))
            else:
                m = wb.import_backup(wb.settings.backups_dir / on_disk)
            st.success(f"Restored the backup of {md(m.get('created_at', '?'))}: "
                       + ", ".join(f"{md(n)} {md(t)}" for t, n in m.get("rows", {}).items()))
        except BackupError as exc:
            st.error(md(exc))
