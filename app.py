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
    from pipeline.access.actor import Forbidden, NotInWorkspace
    from pipeline.config import ConfigError
    from pipeline.costs import PriceError
    from pipeline.db import DatabaseLocked
    from ui.auth import current_actor, show_account, show_signed_out
    from ui.state import shared_workbench
    from ui.text import md
    from ui.youtube import finish_oauth_redirect

    st.set_page_config(page_title="YTEmpire", page_icon="🎬", layout="wide")
    try:
        wb = shared_workbench()
    except DatabaseLocked as exc:
        st.navigation([st.Page(lambda: None, title="YTEmpire")], position="hidden")
        st.error(md(exc), icon=":material/lock:")
        st.stop()
    except (ConfigError, PriceError) as exc:
        st.navigation([st.Page(lambda: None, title="YTEmpire")], position="hidden")
        st.error(f"The workbench cannot start: {md(exc)}", icon=":material/error:")
        st.stop()
    actor = current_actor()
    if actor is None:  # the gate: nothing of the workbench is shown, or run, without a signed-in user
        st.navigation([st.Page(show_signed_out, title="Sign in", icon=":material/login:")], position="hidden").run()
        st.stop()
    # Navigation first: until st.navigation runs, Streamlit would list pages/ by file name. A role sees the pages
    # it may use; the engine refuses the rest anyway.
    make = [st.Page("pages/trends.py", title="Trends", icon=":material/trending_up:")]
    if actor.can("make"):
        make.append(st.Page("pages/studio.py", title="Studio", icon=":material/movie_edit:"))
    make.append(st.Page("pages/library.py", title="Library", icon=":material/video_library:"))
    setup = [st.Page("pages/channels.py", title="Channels", icon=":material/groups:"),
             st.Page("pages/account.py", title="Account", icon=":material/account_circle:")]
    if actor.can("channels"):
        setup.append(st.Page("pages/automation.py", title="Automation", icon=":material/webhook:"))
    if actor.can("admin"):
        setup += [st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
                  st.Page("pages/access.py", title="Access", icon=":material/admin_panel_settings:")]
    page = st.navigation({
        "Business": [
            st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
            st.Page("pages/costs.py", title="Costs", icon=":material/payments:"),
        ],
        "Make": make,
        "Setup": setup,
    })
    show_account(actor)
    if actor.can("admin"):
        st.sidebar.caption(f"Data: `{wb.settings.data_dir}`")
    if actor.can("channels"):
        finish_oauth_redirect()
    try:
        page.run()
    except (Forbidden, NotInWorkspace) as exc:
        st.error(md(exc), icon=":material/block:")
    except Exception as exc:  # noqa: BLE001 - never show an operator a raw traceback
        log.exception("page %s failed", page.title)
        st.error(f"Something went wrong on this page: {type(exc).__name__}: {md(exc)}. "
                 "The details are in the workbench log; reload the page to try again.", icon=":material/error:")


if __name__ == "__main__":  # Streamlit (and AppTest) run the page script as "__main__", on every rerun
    main()
else:  # uvicorn imports this file as the module `app`, once, when the server starts
    from api import api_routes
    from ui.access_routes import access_routes
    from ui.server import guard_middleware, release_workbench, route_every_session_through_app

    def shared_workbench():  # imported on the first API request, like the sign-in doors do
        from ui.state import shared_workbench as shared
        return shared()

    route_every_session_through_app()
    app = st.App(__file__, routes=[*access_routes(), *api_routes(shared_workbench)], middleware=guard_middleware(),
                 lifespan=release_workbench)
