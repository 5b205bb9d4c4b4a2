import pandas as pd
import pydeck as pdk
import streamlit as st

from sightgraph.dashboard import loaders
from sightgraph.errors import SightgraphError

session = st.session_state["sg_session"]
st.title("Trajectory replay")
if not session.person_level:
    st.warning("Person-level views need the analyst role.")
    st.stop()
pid = st.text_input("Subject (pseudonym)")
if pid:
    try:
        traj = loaders.trajectory(session, pid.strip())
    except SightgraphError as exc:
        st.error(str(exc))
        st.stop()
    if not len(traj):
        st.info("No sightings for this subject.")
        st.stop()
    first, last = traj["ts"].iloc[0].to_pydatetime(), traj["ts"].iloc[-1].to_pydatetime()
    upto = st.slider(
        "Replay up to",
        min_value=first,
        max_value=last,
        value=last,
        format="YYYY-MM-DD HH:mm",
    )
    shown = traj[traj["ts"] <= pd.Timestamp(upto)].dropna(subset=["lat", "lon"])
    path = [{"path": shown[["lon", "lat"]].to_numpy().tolist()}]
    st.pydeck_chart(
        pdk.Deck(
            map_style=None,
            initial_view_state=pdk.ViewState(
                latitude=float(traj["lat"].mean()), longitude=float(traj["lon"].mean()), zoom=12
            ),
            layers=[
                pdk.Layer(
                    "PathLayer",
                    path,
                    get_path="path",
                    get_width=4,
                    width_min_pixels=2,
                    get_color=[30, 120, 200],
                ),
                pdk.Layer(
                    "ScatterplotLayer",
                    shown,
                    get_position=["lon", "lat"],
                    get_radius=40,
                    get_fill_color=[220, 80, 60],
                ),
            ],
        )
    )
    st.subheader("Timeline")
    st.scatter_chart(traj, x="ts", y="camera_id")
    st.dataframe(traj, hide_index=True)
