"""YTEmpire workbench: `make run` (or `streamlit run app.py`).

This file is both halves of the web app. `streamlit run app.py` finds the `app = st.App(...)` at the end,
imports this file as the module `app` and serves it with uvicorn, ui/server.py's host guard in front (only
the configured address and its aliases; only the workbench's own pages may open its websocket). Each browser
session then runs this same file as its page script, in a module named "__main__": the router below.
"""

import logging

import streamlit as st

log = logging.getLogger("ytempire.app")


def main() -> None:
    # Imported here: the server's import of this module needs none of them (nor their cache decorators).
    from pipeline.config import ConfigError
    from pipeline.costs import PriceError
    from pipeline.db import DatabaseLocked
    from ui.state import get_workbench
    from ui.text import md
    from ui.youtube import finish_oauth_redirect

    st.set_page_config(page_title="YTEmpire", page_icon="🎬", layout="wide")
    # Navigation first: until st.navigation runs, Streamlit would list pages/ by file name.
    page = st.navigation({
        "Business": [
            st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
            st.Page("pages/costs.py", title="Costs", icon=":material/payments:"),
        ],
        "Make": [
            st.Page("pages/trends.py", title="Trends", icon=":material/trending_up:"),
            st.Page("pages/studio.py", title="Studio", icon=":material/movie_edit:"),
            st.Page("pages/library.py", title="Library", icon=":material/video_library:"),
        ],
        "Setup": [
            st.Page("pages/channels.py", title="Channels", icon=":material/groups:"),
            st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
        ],
    })
    try:
        wb = get_workbench()
    except DatabaseLocked as exc:
        st.error(md(exc), icon=":material/lock:")
        st.stop()
    except (ConfigError, PriceError) as exc:
        st.error(f"The workbench cannot start: {md(exc)}", icon=":material/error:")
        st.stop()
    st.sidebar.caption(f"Data: `{wb.settings.data_dir}`")
    finish_oauth_redirect()
    try:
        page.run()
    except Exception as exc:  # noqa: BLE001 - never show an operator a raw traceback
        log.exception("page %s failed", page.title)
        st.error(f"Something went wrong on this page: {type(exc).__name__}: {md(exc)}. "
                 "The details are in the workbench log; reload the page to try again.", icon=":material/error:")


if __name__ == "__main__":  # Streamlit (and AppTest) run the page script as "__main__", on every rerun
    main()
else:  # uvicorn imports this file as the module `app`, once, when the server starts
    from ui.server import guard_middleware, release_workbench, route_every_session_through_app

    route_every_session_through_app()
    app = st.App(__file__, middleware=guard_middleware(), lifespan=release_workbench)
