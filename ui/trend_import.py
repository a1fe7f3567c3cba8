"""Bringing trending data in: a CSV upload, or today's chart from YouTube through a connected channel."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from pipeline.trends.ingest import MAX_CSV_BYTES, MAX_FIELD_CHARS, TrendImportError
from ui.cache import read
from ui.state import get_workbench
from ui.text import md


def import_form() -> None:
    with st.form("import"):
        upload = st.file_uploader(f"Trending CSV (Kaggle youtube-new or v1 schema, at most {MAX_CSV_BYTES >> 20} MB)",
                                  type=["csv"], max_upload_size=MAX_CSV_BYTES >> 20,
                                  help=f"Fields longer than {MAX_FIELD_CHARS:,} characters are rejected row by row.")
        c = st.columns(2)
        country = c[0].text_input("Country (two letters; blank = from the file name)", max_chars=2)
        year = c[1].number_input("Year of DD.MM dates (older schema)", 2005, 2100, 2017)
        if st.form_submit_button("Import") and upload is not None:
            with tempfile.NamedTemporaryFile(suffix=".csv") as tmp:
                tmp.write(upload.getvalue())
                tmp.flush()
                try:
                    report = get_workbench().trends.import_csv(Path(tmp.name), country or None, int(year), name=upload.name)
                    st.success(md(report.summary()))
                except TrendImportError as exc:
                    st.error(md(exc))


def youtube_trending() -> None:
    wb = get_workbench()
    connected = [c for c in read("channels").iter_rows(named=True) if wb.youtube.connected(c["id"])]
    if connected:
        c = st.columns(3)
        via = c[0].selectbox("Through channel", [x["name"] for x in connected], key="yt-trend-channel")
        region = c[1].text_input("Region", "US", max_chars=2, key="yt-trend-region")
        if c[2].button("Fetch today's trending from YouTube", icon=":material/cloud_download:"):
            channel_id = next(x["id"] for x in connected if x["name"] == via)
            try:
                st.success(md(wb.youtube.import_trending(channel_id, region.upper()).summary()))
            except Exception as exc:  # noqa: BLE001 - quota, tokens: shown in words
                st.error(f"Could not fetch trending videos: {md(exc)}")
