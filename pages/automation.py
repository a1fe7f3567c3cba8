"""Automation (owners and operators): webhooks that POST the workbench's events, signed, and their delivery logs."""

import streamlit as st

from ui.state import get_workbench
from ui.webhooks import show_create, show_webhooks

wb = get_workbench()
wb.actor.require("channels")  # the navigation hides it from analysts; the desk refuses them anyway
st.title("Automation")
st.caption("A webhook sends each event of this workspace (a job done or failed, a video published, a budget "
           "reached...) to a URL of yours, signed per [Standard Webhooks](https://www.standardwebhooks.com), retried "
           "for about a day when the receiver is down. To call the workbench instead, use a personal API token "
           "(Account page) and the REST API.")
st.link_button("API reference", "/api/v1/docs", icon=":material/menu_book:")

st.subheader("New webhook")
show_create()

st.subheader("Webhooks")
show_webhooks()
