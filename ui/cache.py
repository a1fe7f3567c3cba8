"""Cached read helpers: every query result is cached under the data version, so a rerun with
nothing changed costs one tiny query, and any change (a job event, a ledger row, a channel edit)
is seen at once."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline import queries
from ui.state import get_workbench


def version() -> tuple:
    return queries.data_version(get_workbench().db)


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def _read(name: str, data_version: tuple, args: tuple) -> object:
    return getattr(queries, name)(get_workbench().db, *args)


def read(name: str, *args: object) -> pl.DataFrame | dict | int:
    """``queries.<name>(db, *args)``, cached until the data changes."""
    return _read(name, version(), args)
