"""The sign-in gate every page run passes first (app.py), and the account corner of the sidebar.

Password sign-in, the owner's first account and invitations are plain HTML forms served beside the app
(ui/access_routes.py), which set the HttpOnly, SameSite=Strict session cookie; a page run reads that cookie
(``st.context.cookies``), checks it with the AccessDesk, and puts the Actor in the session. Single sign-on is
Streamlit's own ``st.login`` (OpenID Connect, ``[auth]`` in .streamlit/secrets.toml), matched to invited
accounts by verified email only.
"""

from __future__ import annotations

import streamlit as st

from pipeline.access.accounts import COOKIE
from pipeline.access.actor import Actor
from ui.state import ACTOR_KEY, shared_workbench
from ui.text import md

TEST_COOKIE_KEY = "ytempire_session_cookie"  # AppTest cannot send cookies: it puts a real session's cookie here
WORKSPACE_KEY = "ytempire_workspace"


def client() -> str:
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context (AppTest)
        ip = None
    return f"web {ip or 'local'}"


def sso_providers() -> list[str]:
    """Providers configured under ``[auth]`` in secrets.toml (a single-provider config is "default")."""
    try:
        auth = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets file
        return []
    if not auth:
        return []
    named = [k for k, v in auth.items() if isinstance(v, dict) or hasattr(v, "keys")]
    return named or (["default"] if "client_id" in auth else [])


def _sso_user(wb) -> dict | None:
    try:
        user = st.user
        if not user.get("is_logged_in"):
            return None
        claims = user.to_dict()
    except Exception:  # noqa: BLE001 - single sign-on not configured
        return None
    return wb.access.sso_user(claims, client())


def current_actor() -> Actor | None:
    """The signed-in user of this session as an Actor (their chosen workspace), or None."""
    wb = shared_workbench()
    cookie = st.context.cookies.get(COOKIE) if st.context.cookies else None
    cookie = cookie or st.session_state.get(TEST_COOKIE_KEY)
    user = wb.access.session_user(cookie) if cookie else None
    via = "password"
    if user is None:
        user = _sso_user(wb)
        via = "sso"
    if user is None:
        st.session_state.pop(ACTOR_KEY, None)
        return None
    actor = wb.access.actor_for(user, client())
    wanted = st.session_state.get(WORKSPACE_KEY, "home")
    if wanted != "home":
        try:
            actor = actor.switched(wanted)
        except (LookupError, PermissionError):
            st.session_state[WORKSPACE_KEY] = "home"
    st.session_state[ACTOR_KEY] = actor
    st.session_state["ytempire_signed_in_via"] = via
    return actor


def show_signed_out() -> None:
    """What a visitor without a session sees: the owner's first account, or sign-in."""
    wb = shared_workbench()
    st.title("YTEmpire")
    if wb.access.needs_owner():
        st.markdown("### Welcome: create the owner account")
        st.write("This workbench has no accounts yet. The first account is its owner: it can do everything, "
                 "invite others and give them their own workspaces. There is no default password.")
        st.link_button("Create the owner account", "/access/setup", type="primary", icon=":material/person_add:")
        st.markdown('<meta http-equiv="refresh" content="0; url=/access/setup">', unsafe_allow_html=True)
        return
    st.markdown("### Sign in")
    st.write("Sign in to use the workbench.")
    st.link_button("Sign in with email and password", "/access/sign-in", type="primary", icon=":material/login:")
    providers = sso_providers()
    sso_pending = False
    try:
        sso_pending = bool(st.user.get("is_logged_in"))
    except Exception:  # noqa: BLE001 - single sign-on not configured
        pass
    if not providers and not sso_pending:  # nothing to choose: straight to the form
        st.markdown('<meta http-equiv="refresh" content="0; url=/access/sign-in">', unsafe_allow_html=True)
    for provider in providers:
        label = "Sign in with single sign-on" if provider == "default" else f"Sign in with {provider}"
        if st.button(label, key=f"sso_{provider}", icon=":material/key:"):
            st.login() if provider == "default" else st.login(provider)
    try:
        if st.user.get("is_logged_in"):
            st.warning(f"{md(st.user.get('email') or 'This account')} has no invitation here (or its email is not "
                       "verified): ask the owner to invite that address.", icon=":material/person_off:")
            if st.button("Sign out of single sign-on"):
                st.logout()
    except Exception:  # noqa: BLE001 - single sign-on not configured
        pass


def show_account(actor: Actor) -> None:
    """The sidebar's account corner: who is signed in, the workspace switcher, sign out."""
    wb = shared_workbench()
    spaces = wb.access.workspaces(actor)
    options: list = [w["id"] for w in spaces]
    names = {w["id"]: w["name"] for w in spaces}
    if actor.role == "owner" and len(spaces) > 1:
        options = [None, *options]
        names[None] = "All workspaces"
    with st.sidebar:
        st.caption(f"Signed in as **{md(actor.name)}** ({actor.role})")
        if len(options) > 1:
            current = actor.workspace_id if actor.workspace_id in options else options[0]
            choice = st.selectbox("Workspace", options, index=options.index(current), format_func=names.get,
                                  key="workspace_choice")
            if choice != actor.workspace_id:
                st.session_state[WORKSPACE_KEY] = choice
                st.rerun()
        elif spaces:
            st.caption(f"Workspace: {md(spaces[0]['name'])}")
        left, right = st.columns(2)
        if left.button("Sign out", key="sign_out", icon=":material/logout:"):
            _sign_out(everywhere=False)
        if right.button("Everywhere", key="sign_out_all", help="End every session of this account, on every device"):
            _sign_out(everywhere=True)


def _sign_out(everywhere: bool) -> None:
    wb = shared_workbench()
    cookie = (st.context.cookies.get(COOKIE) if st.context.cookies else None) or st.session_state.get(TEST_COOKIE_KEY)
    if cookie:
        wb.access.sign_out(cookie, everywhere=everywhere, client=client())
    elif everywhere and (actor := st.session_state.get(ACTOR_KEY)) is not None:
        wb.access.sign_out_user(actor.user_id, client())
    for key in (ACTOR_KEY, TEST_COOKIE_KEY, WORKSPACE_KEY):
        st.session_state.pop(key, None)
    if st.session_state.get("ytempire_signed_in_via") == "sso":
        st.logout()
    st.rerun()
