"""Cached read helpers: every query result is cached under the data version and the reader's workspaces, so
a rerun with nothing changed costs one tiny query, any change (a job event, a ledger row, a channel edit) is
seen at once, and one workspace's cached rows are never served to another."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline import queries
from pipeline.access.scope import ScopedDb
from ui.state import get_workbench, shared_workbench


def version() -> tuple:
    return queries.data_version(shared_workbench().db)


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def _read(name: str, data_version: tuple, scope: tuple | None, args: tuple) -> object:
    db = ScopedDb(shared_workbench().db, None if scope is None else frozenset(scope))
    return getattr(queries, name)(db, *args)


def read(name: str, *args: object) -> pl.DataFrame | dict | int:
    """``queries.<name>(db, *args)`` as the signed-in user may read it, cached until the data changes."""
    scope = get_workbench().actor.scope
    return _read(name, version(), None if scope is None else tuple(sorted(scope)), args)
