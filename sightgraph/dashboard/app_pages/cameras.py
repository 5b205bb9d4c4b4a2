import pydeck as pdk
import streamlit as st

from sightgraph.dashboard import loaders

settings = loaders.get_settings()
st.title("Cameras and flows")
flows = loaders.camera_flows(str(settings.lake_path()))
if not len(flows):
    st.info("No flows yet: run the trajectories step (`sightgraph demo` does).")
    st.stop()
st.caption(
    "Camera-to-camera transitions; cells with fewer than 5 distinct subjects are suppressed."
)
geo = flows.dropna(subset=["lat_from", "lat_to"])
if len(geo):
    st.pydeck_chart(
        pdk.Deck(
            map_style=None,
            initial_view_state=pdk.ViewState(
                latitude=float(geo["lat_from"].mean()),
                longitude=float(geo["lon_from"].mean()),
                zoom=11,
            ),
            layers=[
                pdk.Layer(
                    "LineLayer",
                    geo,
                    get_source_position=["lon_from", "lat_from"],
                    get_target_position=["lon_to", "lat_to"],
                    get_width="count / 50",
                    get_color=[60, 90, 200, 120],
                )
            ],
        )
    )
st.dataframe(
    flows[["camera_from", "camera_to", "count", "n_subjects", "median_travel_s", "implausible"]],
    hide_index=True,
)
