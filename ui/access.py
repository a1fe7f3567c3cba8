"""The owner's Access page parts: people, invitations, workspaces and budgets, beta customers, audit log."""

from __future__ import annotations

import polars as pl
import streamlit as st

from pipeline.access.accounts import DEFAULT_INVITE_HOURS, INVITE_HOURS, AccessError, audit_rows, beta_customers
from pipeline.access.actor import ROLE_WORDS, ROLES
from pipeline.access.onboarding import checklist, progress
from pipeline.budget import parse_budget
from ui.state import get_workbench, shared_workbench
from ui.text import md
from ui.widgets import empty, exports, grid


def show_people() -> None:
    wb = get_workbench()
    users = wb.access.users()
    grid(pl.DataFrame(users, infer_schema_length=None).with_columns(pl.col("workspaces").list.join(", ")),
         hide=["id"])
    st.caption(" · ".join(f"**{r}**: {w}" for r, w in ROLE_WORDS.items()))
    emails = [u["email"] for u in users]
    with st.form("person"):
        who = st.selectbox("Account", emails)
        role = st.selectbox("Role", ROLES)
        spaces = {w["id"]: w["name"] for w in wb.access.workspaces()}
        ws = st.selectbox("Workspace", list(spaces), format_func=spaces.get)
        act = st.radio("Change", ["Set role", "Add to workspace", "Remove from workspace", "Disable", "Enable"],
                       horizontal=True)
        if st.form_submit_button("Apply", type="primary"):
            try:
                if act == "Set role":
                    wb.access.set_role(wb.actor, who, role)
                elif act in ("Add to workspace", "Remove from workspace"):
                    wb.access.add_member(wb.actor, who, ws, member=act == "Add to workspace")
                else:
                    wb.access.set_disabled(wb.actor, who, act == "Disable")
                st.success(f"{act}: done for {who}.")
            except AccessError as exc:
                st.error(md(exc))
    with st.form("password", clear_on_submit=True):
        st.markdown("**Set a new password** (the account is signed out everywhere)")
        who = st.selectbox("Account", emails, key="pw_who")
        new = st.text_input("New password", type="password", max_chars=256)
        if st.form_submit_button("Set password"):
            try:
                wb.access.set_password(wb.actor, who, new)
                st.success(f"New password set for {who}; their sessions ended.")
            except AccessError as exc:
                st.error(md(exc))


def show_invitations() -> None:
    wb = get_workbench()
    spaces = {w["id"]: w["name"] for w in wb.access.workspaces()}
    with st.form("invite"):
        email = st.text_input("Email address", max_chars=254, placeholder="customer@example.com")
        name = st.text_input("Name (optional)", max_chars=100)
        role = st.selectbox("Role", ROLES, index=1)
        where = st.radio("Workspace", ["A new workspace", "An existing one"], horizontal=True)
        new_name = st.text_input("New workspace's name", max_chars=80, placeholder="Acme Shorts")
        existing = st.selectbox("Existing workspace", list(spaces), format_func=spaces.get)
        hours = st.number_input("Link works for (hours)", INVITE_HOURS[0], INVITE_HOURS[1], DEFAULT_INVITE_HOURS)
        if st.form_submit_button("Create the invitation", type="primary"):
            try:
                ws = wb.access.create_workspace(wb.actor, new_name) if where == "A new workspace" else existing
                token = wb.access.invite(wb.actor, email, role, ws, name, int(hours))
                base = (st.context.url or "http://localhost:8501").split("?")[0].rsplit("/", 1)[0]
                st.success("Invitation created. Send this link to them: it is shown only now, works once and "
                           f"expires in {int(hours)} h.")
                st.code(f"{base}/access/invite?token={token}", language=None)
            except AccessError as exc:
                st.error(md(exc))
    invites = wb.access.invitations()
    if invites:
        grid(pl.DataFrame(invites, infer_schema_length=None))
        pending = [i["email"] for i in invites if i["state"] == "pending"]
        if pending:
            with st.form("withdraw"):
                who = st.selectbox("Withdraw the invitation of", pending)
                if st.form_submit_button("Withdraw"):
                    wb.access.revoke_invitation(wb.actor, who)
                    st.rerun()
    else:
        empty("No invitations yet.")


def show_workspaces() -> None:
    wb = get_workbench()
    spaces = wb.access.workspaces()
    with st.form("new_workspace", clear_on_submit=True):
        name = st.text_input("New workspace", max_chars=80)
        if st.form_submit_button("Create workspace"):
            try:
                wb.access.create_workspace(wb.actor, name)
                st.rerun()
            except AccessError as exc:
                st.error(md(exc))
    names = {w["id"]: w["name"] for w in spaces}
    with st.form("workspace_budget"):
        st.markdown("**Budgets of a workspace** (empty: the installation's, from Settings)")
        ws = st.selectbox("Workspace", list(names), format_func=names.get)
        cap = st.text_input("Cap per video (USD)", max_chars=10, placeholder=f"{wb.settings.cap_usd:.2f}")
        daily = st.text_area("Daily budgets, one per line: provider = amount", max_chars=2000,
                             placeholder="openai = 5 usd\nelevenlabs = 20000 chars")
        if st.form_submit_button("Save budgets"):
            try:
                budgets = {}
                for line in daily.splitlines():
                    if line.strip():
                        provider, _, text = line.partition("=")
                        parse_budget(text.strip())
                        budgets[provider.strip()] = text.strip()
                value = float(cap) if cap.strip() else None
                wb.access.set_workspace_budget(wb.actor, ws, value, budgets or None)
                st.success(f"Budgets of {names[ws]} saved.")
            except (AccessError, ValueError) as exc:
                st.error(f"{md(exc)} Write a cap like 2.50 and budgets like `openai = 5 usd`.")
    grid(pl.DataFrame(spaces, infer_schema_length=None))


def show_customers() -> None:
    wb = get_workbench()
    wb.actor.require("admin")
    shared = shared_workbench()
    rows = beta_customers(shared.db)
    for row in rows:
        steps = checklist(shared.acting(wb.actor.switched(row["id"])))
        done, total = progress(steps)
        row["onboarding"] = f"{done}/{total}"
        row["next_step"] = next((s.title for s in steps if not s.done), "all done")
    df = pl.DataFrame(rows, infer_schema_length=None)
    grid(df, hide=["id"], labels={"name": "Workspace", "people": "Members"})
    exports(df, "beta_customers")


def show_audit() -> None:
    wb = get_workbench()
    wb.actor.require("admin")
    left, mid, right = st.columns(3)
    action = left.text_input("Action starts with", max_chars=40, placeholder="sign_in")
    email = mid.text_input("Who (email)", max_chars=254)
    limit = right.number_input("Rows", 10, 10_000, 500)
    rows = audit_rows(shared_workbench().db, action.strip() or None, email.strip() or None, None, int(limit))
    if not rows:
        empty("Nothing recorded with these filters.")
        return
    df = pl.DataFrame(rows, infer_schema_length=None)
    failures = df.filter(pl.col("action").is_in(["sign_in.failed", "sign_in.throttled"]))
    if failures.height:
        st.warning(f"{failures.height} failed or throttled sign-in(s) in these rows: the latest from "
                   f"{md(failures['client'][0])} for {md(failures['target'][0])}.", icon=":material/gpp_maybe:")
    grid(df, hide=["id"])
    exports(df, "audit_log")
    st.caption("The audit log is append-only: no page, command or API edits or deletes an entry.")
