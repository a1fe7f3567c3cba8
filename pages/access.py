"""Access (owners): people and roles, invitations, workspaces and their budgets, beta customers, the audit log."""

import streamlit as st

from ui.access import show_audit, show_customers, show_invitations, show_people, show_workspaces
from ui.state import get_workbench

wb = get_workbench()
wb.actor.require("admin")
st.title("Access")
people, invites, spaces, customers, audit = st.tabs(["People", "Invitations", "Workspaces", "Beta customers",
                                                      "Audit log"])
with people:
    show_people()
with invites:
    show_invitations()
with spaces:
    show_workspaces()
with customers:
    show_customers()
with audit:
    show_audit()
