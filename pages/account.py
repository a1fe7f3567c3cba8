"""Account (everyone signed in): who you are, your personal API tokens, your password."""

import streamlit as st

from ui.account import show_identity, show_password, show_token_form, show_tokens
from ui.state import get_workbench

get_workbench()  # signed in, or the page stops here
st.title("Account")
show_identity()

st.subheader("Personal API tokens")
st.caption("Scripts and tools (n8n, Zapier, cron jobs) call the workbench's REST API at `/api/v1` with a token: "
           "it acts as you, with your role as it is at the time of each request, in the workspace chosen here.")
st.link_button("API reference", "/api/v1/docs", icon=":material/menu_book:")
show_token_form()
show_tokens()

st.subheader("Password")
show_password()
