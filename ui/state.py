"""The one Workbench of the app process (shared by every session through st.cache_resource), and the acting
view of it each signed-in session uses."""

from __future__ import annotations

import atexit

import streamlit as st

from pipeline.config import load_settings
from pipeline.workbench import Workbench

ACTOR_KEY = "ytempire_actor"


def _release(wb: Workbench) -> None:
    wb.close()


@st.cache_resource(show_spinner="Starting the workbench…", on_release=_release)
def shared_workbench() -> Workbench:
    wb = Workbench(load_settings())
    atexit.register(wb.close)
    return wb


def get_workbench() -> Workbench:
    """The Workbench as the signed-in user of this session acts through it (their role, their workspaces).
    app.py's gate puts the actor in the session before any page runs; without one, nothing is served.
    Outside a page run (a test inspecting the database) it is the process's own Workbench."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return shared_workbench()
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        st.error("Sign in first.", icon=":material/lock:")
        st.stop()
    return shared_workbench().acting(actor)


get_workbench.clear = shared_workbench.clear  # type: ignore[attr-defined]
