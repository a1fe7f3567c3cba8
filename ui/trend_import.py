"""The Trends page's widgets: bringing trending data in (a CSV upload, or today's chart from YouTube through
a connected channel), the topic notice that updates itself, and how each table's columns read."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from pipeline.trends.ingest import MAX_CSV_BYTES, MAX_FIELD_CHARS, TrendImportError
from ui.cache import read
from ui.state import get_workbench
from ui.text import md
from ui.widgets import table


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


def _topic_state(country: str) -> tuple:
    wb = get_workbench()
    status = wb.trends.status.get(country)
    return wb.trends.has_topics(country), status.state if status else "idle", status


def _notice(country: str, live: bool) -> None:
    has, state, status = _topic_state(country)
    seen = st.session_state.setdefault("trend-topic-state", {})
    if live and seen.get(country) not in (None, (has, state)):  # topics appeared, or the full pass ended
        seen[country] = (has, state)
        st.rerun(scope="app")
    seen[country] = (has, state)
    message = md(status.message) if status and status.message else ""
    if state == "computing" and not has:
        st.info(f"Clustering {country} topics in the background ({message or 'queued'}). Rising videos are below "
                "already; the topics appear here by themselves.", icon=":material/hourglass_top:")
    elif state in ("computing", "refining"):
        st.caption(f":material/autorenew: Topics below are a first pass; refining them with every video in the "
                   f"background ({message or 'queued'}). They update here by themselves.")
    elif state == "failed":
        st.error(f"Topic clustering failed: {message}")


def topic_notice(country: str) -> None:
    """Where topic clustering stands; while it runs, a fragment polls it and reruns the page when topics change."""
    _, state, _ = _topic_state(country)
    if state in ("computing", "refining"):
        st.fragment(_notice, run_every=3)(country, True)
    else:
        _notice(country, False)


MOMENTUM_HELP = "ln((1 + videos new on the list in the last 7 days) / (1 + new in the 7 days before))"
# (label, format or None for the house format) per column shown; columns not named here are hidden (not exported less)
RISING = {"title": ("Title", None), "channel_title": ("Channel", None), "category": ("Category", None),
          "views": ("Views", None), "rank": ("Rank on the list", "%d"), "growth_pct_day": ("Views growth a day", "%.1f%%")}
TOPICS = {"label": ("Topic", None), "size": ("Videos", None), "recent": ("New in the last 7 days", None),
          "before": ("New in the 7 days before", None), "momentum": ("Momentum", "%+.2f"),
          "recent_growth_pct": ("Views growth a day (last 7 days)", "%.1f%%")}
EVALUATION = {"k": ("Days seen", "%d"), "horizon": ("Horizon (days)", "%d"), "who": ("Predictor", None),
              "mae_log10": ("Error (MAE of log10 views)", "%.4f"), "mdape": ("Median error", "%.1f%%"),
              "spearman": ("Rank correlation (Spearman)", "%.3f"), "n_test": ("Test videos", None),
              "split": ("Split date", None)}
BACKLOG = {"label": ("Topic", None), "score": ("Score", "%.2f"), "momentum": ("Momentum", "%+.2f"),
           "predicted_growth_pct": ("Predicted growth (2 days)", "%+.0f%%"), "fit": ("Fit", "%.2f"),
           "novelty": ("Novelty", "%.2f"), "recent": ("New in the last 7 days", None), "size": ("Videos", None),
           "examples": ("Most viewed titles", None)}
IMPORTS = {"source": ("File or source", None), "country": ("Country", None), "rows_read": ("Rows read", None),
           "inserted": ("New", None), "duplicates": ("Already known", None), "rejected": ("Rejected", None),
           "at_time": ("Imported (UTC)", None)}
HELP = {"momentum": MOMENTUM_HELP, "predicted_growth_pct": "blank: no recent video to predict from"}


def show_table(df: pl.DataFrame, spec: dict, name: str) -> None:
    """The house table (ui.widgets.table: words for names, "—" for nothing, dates without 00:00:00) showing the
    columns ``spec`` names, with their labels and number formats, minus any without a single value (the CA file
    has no channel names); the CSV and Parquet exports keep every column."""
    shown = [c for c in spec if c in df.columns and (df.is_empty() or df[c].null_count() < df.height)]
    config = {c: st.column_config.NumberColumn(spec[c][0], format=spec[c][1], help=HELP.get(c))
              for c in shown if spec[c][1]}
    table(df.select([*shown, *(c for c in df.columns if c not in shown)]), name,
          labels={c: spec[c][0] for c in shown}, hide=[c for c in df.columns if c not in shown], column_config=config)
