import streamlit as st

from sightgraph.dashboard import loaders
from sightgraph.errors import SightgraphError

session = st.session_state["sg_session"]
st.title("Meetings")
st.caption("Where and when two subjects were seen at the same camera within the window.")
if not session.person_level:
    st.warning("Person-level views need the analyst role.")
    st.stop()
c1, c2, c3 = st.columns(3)
a = c1.text_input("Subject A", value=st.query_params.get("a", ""))
b = c2.text_input("Subject B", value=st.query_params.get("b", ""))
window = c3.number_input("Window (s)", value=60.0, min_value=0.0)
if a and b:
    try:
        ev = loaders.pair_meetings(session, a.strip(), b.strip(), float(window))
    except SightgraphError as exc:
        st.error(str(exc))
        st.stop()
    st.write(
        f"{len(ev)} co-location events at {ev['camera_id'].nunique() if len(ev) else 0} cameras"
    )
    st.dataframe(ev, hide_index=True)
