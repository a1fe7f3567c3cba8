"""The one Workbench of the app process, shared by every session through st.cache_resource."""

from __future__ import annotations

import atexit

import streamlit as st

from pipeline.config import load_settings
from pipeline.workbench import Workbench


def _release(wb: Workbench) -> None:
    wb.close()


@st.cache_resource(show_spinner="Starting the workbench…", on_release=_release)
def get_workbench() -> Workbench:
    wb = Workbench(load_settings())
    atexit.register(wb.close)
    return wb
