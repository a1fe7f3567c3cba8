"""The Settings page's backups: prepare and download one, the daily backup and its retention, the size
limit, and a restore that says what it will replace before it does."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.backup import BackupError, list_backups
from pipeline.config import ConfigError
from ui.text import md
from ui.widgets import count, empty, grid, when

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
        grid(pl.DataFrame([{"file": b.path.name, "taken_at": b.created.replace(tzinfo=None),
                            "size_mb": round(b.size / 2**20, 1), "kind": "automatic" if b.automatic else "yours"}
                           for b in found]), labels={"size_mb": "Size (MB)"},
             column_config={"size_mb": st.column_config.NumberColumn("Size (MB)", format="%,.1f")})
    else:
        empty("No backups yet: **Prepare a backup** below, or turn on the daily one above and save.")
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


def upload_name(name: str) -> str:
    """The uploaded file's own name, made safe to write (so a refusal names the operator's file, not a temp file)."""
    safe = re.sub(r"[^\w.-]", "_", Path(name or "").name)[:100].lstrip(".")
    return safe if safe.lower().endswith(".zip") else f"{safe or 'backup'}.zip"


def restore(wb, limit_mb: int, found: list) -> None:
    upload = st.file_uploader(f"Restore from a backup (.zip, at most {UPLOAD_MB} MB here)", type=["zip"],
                              max_upload_size=UPLOAD_MB,
                              help=f"Larger ones: `python -m pipeline backup restore FILE`. The restore accepts up to "
                                   f"{limit_mb:,} MB uncompressed.")
    on_disk = st.selectbox("…or one already in the backups folder", [None, *[b.path.name for b in found]],
                           format_func=lambda n: "—" if n is None else n, key="restore-from-disk")
    chosen = upload.name if upload is not None else on_disk
    named = md(chosen) if chosen else "the backup"
    outcome = st.container()  # what happened shows here, outside the popover
    with st.popover("Restore…", icon=":material/restore:", disabled=chosen is None,
                    help="Choose a backup first." if chosen is None else None):
        st.caption(f"Replaces every job, video, channel and setting with those in {named}. Running jobs are "
                   "paused first; spend, quota and uploads since the backup are kept.")
        sure = st.checkbox(f"Yes, replace all data with {named}", key="restore-sure")
        go = st.button("Restore: replaces all data", type="primary", icon=":material/restore:",
                       disabled=not sure or chosen is None)
    if not go:
        return
    try:
        if upload is not None:
            with tempfile.TemporaryDirectory(prefix="restore-") as tmp:
                path = Path(tmp) / upload_name(upload.name)
                path.write_bytes(upload.getvalue())
                m = wb.import_backup(path)
        else:
            m = wb.import_backup(wb.settings.backups_dir / on_disk)
        rows = ", ".join(f"{count(n)} {md(str(t).replace('_', ' '))}" for t, n in m.get("rows", {}).items())
        outcome.success(f"Restored the backup of {md(when(m.get('created_at')))}: {rows}.")
    except BackupError as exc:
        outcome.error(md(exc))
