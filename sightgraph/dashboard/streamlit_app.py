"""sightgraph dashboard: `streamlit run sightgraph/dashboard/streamlit_app.py` (or `sightgraph dashboard`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sightgraph.dashboard.auth import login
from sightgraph.errors import SightgraphError

st.set_page_config(page_title="sightgraph", layout="wide")
PAGES = Path(__file__).parent / "app_pages"

session = login()
if session is not None:
    st.session_state["sg_session"] = session
    nav = st.navigation(
        [
            st.Page(PAGES / "overview.py", title="Overview", default=True),
            st.Page(PAGES / "contacts.py", title="Contact network"),
            st.Page(PAGES / "trajectory.py", title="Trajectory replay"),
            st.Page(PAGES / "meetings.py", title="Meetings"),
            st.Page(PAGES / "predictions.py", title="Predictions"),
            st.Page(PAGES / "cameras.py", title="Cameras and flows"),
            st.Page(PAGES / "audit.py", title="Audit"),
        ]
    )
    try:
        nav.run()
    except SightgraphError as exc:  # a missing lake or store, a refused query: a message
        st.error(str(exc))
