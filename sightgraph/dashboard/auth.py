"""Dashboard login. Users come from SIGHTGRAPH_DASHBOARD_USERS ("name:role:password,...").
Without it, the dashboard runs for one local user with SIGHTGRAPH_USER / SIGHTGRAPH_ROLE (a
single-analyst workstation). Person-level pages also need a purpose, asked in the sidebar."""

from __future__ import annotations

import hmac
import os

import streamlit as st

from sightgraph.dashboard.loaders import Session, get_settings
from sightgraph.governance.roles import ROLES


def _users() -> dict[str, tuple[str, str]]:
    raw = os.environ.get("SIGHTGRAPH_DASHBOARD_USERS", "")
    users: dict[str, tuple[str, str]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, role, password = (part.split(":", 2) + ["", ""])[:3]
        if role in ROLES:
            users[name] = (role, password)
    return users


def login() -> Session | None:
    """Return the signed-in session, or draw the login form and return None."""
    users = _users()
    if not users:
        s = get_settings()
        user, role = s.user, s.role if s.role in ROLES else "viewer"
    elif "sg_user" in st.session_state:
        user, role = st.session_state["sg_user"], st.session_state["sg_role"]
    else:
        with st.form("login"):
            st.subheader("Sign in")
            name = st.text_input("User")
            password = st.text_input("Password", type="password")
            if st.form_submit_button("Sign in"):
                entry = users.get(name)
                if entry and hmac.compare_digest(entry[1], password):
                    st.session_state["sg_user"], st.session_state["sg_role"] = name, entry[0]
                    st.rerun()
                st.error("unknown user or wrong password")
        return None
    with st.sidebar:
        st.caption(f"signed in as **{user}** ({role})")
        purpose = st.text_input(
            "Purpose of person-level queries",
            key="sg_purpose",
            help="Recorded in the audit log with every person-level query.",
        )
    return Session(user=user, role=role, purpose=purpose)
