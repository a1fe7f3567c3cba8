"""The Account page's parts: who is signed in, their personal API tokens, changing their own password.

A new token is shown in the one script run that made it and is never put in Session State: the next rerun (a
click anywhere, "Done", leaving the page) drops it from the screen and from the server's memory alike.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import polars as pl
import streamlit as st

from pipeline.access.accounts import AccessError, Throttled
from pipeline.access.passwords import password_problems
from pipeline.access.tokens import DEFAULT_DAYS, MAX_NAME, TokenError
from ui.auth import client
from ui.state import get_workbench, shared_workbench
from ui.text import md
from ui.widgets import empty, grid, when

EXPIRY_DAYS = (7, 30, 90, 180, 365)
ALL = "All workspaces"
NOTE = "account-note"  # what a revoke callback did, shown on the next run (never a secret)
TOKEN_COLUMNS = ["name", "prefix", "workspace", "created_at", "expires_at", "last_used_at", "last_client", "state"]


def base_url() -> str:
    """Where this browser reaches the workbench (the API is served beside the app), else Settings' public URL."""
    parts = urlsplit(st.context.url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return get_workbench().settings.public_url.rstrip("/")


def _workspace_names() -> dict:
    names: dict = {w["id"]: w["name"] for w in get_workbench().access.workspaces()}
    names[None] = ALL
    return names


def show_identity() -> None:
    actor = get_workbench().actor
    names = _workspace_names()
    st.markdown(f"**{md(actor.name)}** · {md(actor.email)}  \n"
                f"Role: **{actor.role}** · Workspace: **{md(names.get(actor.workspace_id, actor.workspace_id))}**")


# -- tokens ----------------------------------------------------------------------------------------------------
def _revoke(token_id: int, label: str, sure_key: str) -> None:
    try:
        done = get_workbench().tokens.revoke(token_id)
        st.session_state[NOTE] = ("success", f"Revoked {label}: requests with it are refused from now on."
                                  if done else f"{label} was revoked already.")
    except (TokenError, LookupError, PermissionError) as exc:
        st.session_state[NOTE] = ("error", str(exc))
    st.session_state[sure_key] = False


def _show_new_token(made: dict) -> None:
    token = made["token"]
    st.success(f"Token **{md(made['name'])}** made; it expires {when(made['expires_at'])} UTC.",
               icon=":material/key:")
    st.warning("Copy it now: it will not be shown again. The workbench keeps only a fingerprint of it; if it is "
               "lost, revoke it and make a new one.", icon=":material/content_copy:")
    st.code(token, language=None)
    st.caption("Try it:")
    st.code(f'curl -H "Authorization: Bearer {token}" {base_url()}/api/v1/me', language="bash")
    st.button("Done: I have copied it", key="token-dismiss", icon=":material/check:")  # any rerun hides it


def show_token_form() -> None:
    """Make a token; it is shown in this run only."""
    wb = get_workbench()
    actor = wb.actor
    names = _workspace_names()
    with st.form("token-new", clear_on_submit=True):
        name = st.text_input("Name", max_chars=MAX_NAME, placeholder="e.g. n8n on the office server",
                             help="What will use it, so you can tell your tokens apart. "
                                  f"1 to {MAX_NAME} characters.")
        days = st.selectbox("Expires in", EXPIRY_DAYS, index=EXPIRY_DAYS.index(DEFAULT_DAYS),
                            format_func=lambda d: f"{d} days")
        where = "current"
        if actor.role == "owner":
            where = st.radio("Acts in", ["current", "all"], horizontal=True,
                             format_func=lambda w: f"This workspace ({names.get(actor.workspace_id)})"
                             if w == "current" else ALL)
        else:
            st.caption(f"Acts in this workspace ({md(names.get(actor.workspace_id))}), with your role.")
        submitted = st.form_submit_button("Create token", type="primary", icon=":material/add:")
    if submitted:
        try:
            made = wb.tokens.create(name, int(days), None if where == "all" else where)
        except (TokenError, LookupError, PermissionError) as exc:
            st.error(md(exc), icon=":material/error:")
        else:
            _show_new_token(made)


def show_tokens() -> None:
    """The user's tokens (never a secret: the prefix tells them apart) and a confirmed revoke for each live one."""
    note = st.session_state.pop(NOTE, None)
    if note:
        (st.success if note[0] == "success" else st.error)(md(note[1]))
    tokens = get_workbench().tokens.list()
    if not tokens:
        empty("No tokens yet. Make one above for a script, n8n, Zapier or anything that calls the API.")
        return
    df = pl.DataFrame(tokens, infer_schema_length=None).with_columns(pl.col("workspace").fill_null(ALL))
    grid(df.select(TOKEN_COLUMNS), labels={"prefix": "Starts with", "last_used_at": "Last used"})
    st.caption("Times are UTC. Last used is updated at most once a minute.")
    for token in (t for t in tokens if t["state"] == "active"):
        label = f"{token['name']} ({token['prefix']}…)"
        row = st.container(horizontal=True, vertical_alignment="center")
        row.markdown(f"**{md(token['name'])}** `{token['prefix']}` · expires {when(token['expires_at'])}")
        with row.popover("Revoke", icon=":material/block:", key=f"revoke-pop-{token['id']}"):
            sure_key = f"revoke-sure-{token['id']}"
            sure = st.checkbox(f"Yes, revoke {md(label)}: whatever uses it stops working at once", key=sure_key)
            st.button("Revoke it", key=f"revoke-{token['id']}", type="primary", disabled=not sure,
                      on_click=_revoke, args=(token["id"], label, sure_key))


# -- password ----------------------------------------------------------------------------------------------------
def show_password() -> None:
    """Change one's own password: the current one is checked like a sign-in (throttled, logged); every session of
    the account then ends, this one too."""
    wb = get_workbench()
    me = shared_workbench().access.user(wb.actor.user_id)
    if me is None or not me.get("password_hash"):
        st.caption("You sign in with single sign-on: there is no password to change here.")
        return
    with st.form("password-change", clear_on_submit=True):
        current = st.text_input("Current password", type="password", max_chars=1024)
        new = st.text_input("New password", type="password", max_chars=256)
        again = st.text_input("New password again", type="password", max_chars=256)
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return
    if new != again:
        st.error("The two new passwords differ: type the same one twice.")
        return
    problems = password_problems(new, me["email"], me["name"])
    if problems:
        st.error(md(" ".join(problems)) + " Nothing was changed.", icon=":material/error:")
        return
    access = shared_workbench().access
    try:
        checked = access.sign_in(me["email"], current, client())  # throttled and logged like any sign-in
    except Throttled as exc:
        st.error(md(exc), icon=":material/timer:")
        return
    except AccessError:
        st.error("That is not your current password: nothing was changed.", icon=":material/error:")
        return
    try:
        wb.access.set_password(wb.actor, me["email"], new)  # ends every session of the account, this one too
    except AccessError as exc:
        access.sign_out(checked.cookie, everywhere=False, client=client())  # the check's own session
        st.error(md(exc), icon=":material/error:")
        return
    st.success("Password changed. Every session of this account has ended, this one too: sign in again with the "
               "new password.", icon=":material/lock_reset:")
    st.link_button("Sign in again", "/access/sign-in", type="primary", icon=":material/login:")
