"""YTEmpire workbench: `streamlit run app.py` (or `make run`)."""

import streamlit as st

from pipeline.db import DatabaseLocked
from ui.state import get_workbench

st.set_page_config(page_title="YTEmpire", page_icon=":material/movie:", layout="wide")

try:
    get_workbench()
except DatabaseLocked as exc:
    st.error(str(exc))
    st.stop()

page = st.navigation({
    "Make": [st.Page("pages/studio.py", title="Studio", icon=":material/movie_edit:", default=True)],
})
page.run()
