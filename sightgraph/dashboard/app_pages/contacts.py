import pandas as pd
import streamlit as st

from sightgraph.dashboard import loaders
from sightgraph.errors import SightgraphError

settings = loaders.get_settings()
session = st.session_state["sg_session"]
st.title("Contact network")
top = loaders.top_contacts(str(settings.lake_path()))
if not len(top):
    st.info("No contacts yet: run `sightgraph contacts` and `sightgraph load`.")
    st.stop()
if not session.person_level:
    st.warning("Person-level views need the analyst role.")
    st.stop()
st.caption(
    "Strongest associations beyond chance (score, meetings on distinct days and places, q-value)."
)
pid = st.selectbox("Subject", sorted(set(top["pid_a"]) | set(top["pid_b"])))
c1, c2, c3 = st.columns(3)
hops = c1.slider("Hops", 1, 3, 1)
min_score = c2.number_input("Minimum score", value=0.0, step=0.5)
lo, hi = pd.Timestamp(top["first_ts"].min()), pd.Timestamp(top["last_ts"].max())
rng = c3.slider(
    "Time range",
    min_value=lo.to_pydatetime(),
    max_value=hi.to_pydatetime(),
    value=(lo.to_pydatetime(), hi.to_pydatetime()),
)
if st.button("Show ego network", type="primary"):
    try:
        ego = loaders.ego_network(
            session, pid, hops, float(min_score), pd.Timestamp(rng[0]), pd.Timestamp(rng[1])
        )
    except SightgraphError as exc:
        st.error(str(exc))
        st.stop()
    st.write(f"{len(ego.nodes)} subjects, {len(ego.edges)} contact edges")
    if len(ego.edges):
        st.graphviz_chart(loaders.network_dot(ego.nodes, ego.edges))
        st.subheader("Evidence per edge")
        st.dataframe(ego.edges, hide_index=True)
