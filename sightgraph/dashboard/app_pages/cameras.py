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
top = int(flows["count"].max())
min_count = st.slider(
    "Show flows of at least this many transitions", 1, max(top, 2), min(max(top // 10, 1), top)
)
geo = flows[flows["count"] >= min_count].dropna(subset=["lat_from", "lat_to"])
st.write(f"{len(geo):,} of {len(flows):,} directed flows (arc from blue origin to red destination)")
if len(geo):
    st.pydeck_chart(
        pdk.Deck(
            map_style=loaders.map_style(),
            initial_view_state=pdk.ViewState(
                latitude=float(geo["lat_from"].mean()),
                longitude=float(geo["lon_from"].mean()),
                zoom=11,
                pitch=30,
            ),
            layers=[
                pdk.Layer(
                    "ArcLayer",
                    geo,
                    get_source_position=["lon_from", "lat_from"],
                    get_target_position=["lon_to", "lat_to"],
                    get_width=f"1 + 6 * count / {top}",
                    get_source_color=[40, 100, 220, 180],
                    get_target_color=[220, 60, 40, 180],
                    pickable=True,
                ),
                pdk.Layer(
                    "ScatterplotLayer",
                    geo.drop_duplicates("camera_from"),
                    get_position=["lon_from", "lat_from"],
                    get_radius=30,
                    get_fill_color=[60, 60, 60],
                ),
            ],
            tooltip={"text": "{camera_from} -> {camera_to}: {count} transitions"},
        )
    )
st.dataframe(
    flows[["camera_from", "camera_to", "count", "n_subjects", "median_travel_s", "implausible"]],
    hide_index=True,
)
