import streamlit as st

from sightgraph.dashboard import loaders

session = st.session_state["sg_session"]
st.title("Audit")
if session.role != "admin":
    st.warning("The audit log is visible to admins.")
    st.stop()
entries, result = loaders.audit_entries()
if result is None:
    st.info("No audit entries yet.")
    st.stop()
if result.ok:
    st.success(f"Hash chain intact: {result.entries} entries")
else:
    st.error(f"Tampering detected at line {result.first_bad_line}: {result.reason}")
first = [c for c in ("time", "user", "role", "purpose", "query", "rows", "params") if c in entries]
st.dataframe(entries[first + [c for c in entries.columns if c not in first]], hide_index=True)
