import altair as alt
import pydeck as pdk
import streamlit as st

from sightgraph.dashboard import loaders
from sightgraph.errors import SightgraphError

session = st.session_state["sg_session"]
settings = loaders.get_settings()
st.title("Meetings")
st.caption(
    "Where and when two subjects met. A co-location event is one sighting of each at the same "
    "camera within the window W; a meeting merges the pair's events at one camera while they "
    "are less than G apart (DESIGN §4), so one long stay together is one meeting however many "
    "events it holds. The contact score counts meetings."
)
if not session.person_level:
    st.warning("Person-level views need the analyst role.")
    st.stop()
c1, c2, c3 = st.columns(3)
a = c1.text_input("Subject A", value=st.query_params.get("a", ""))
b = c2.text_input("Subject B", value=st.query_params.get("b", ""))
window = c3.number_input("Window (s)", value=60.0, min_value=0.0)
if not (a and b):
    st.stop()
a, b = a.strip(), b.strip()
try:
    ev = loaders.pair_meetings(session, a, b, float(window))
    row, meetings = loaders.edge_evidence(session, a, b)
except SightgraphError as exc:
    st.error(str(exc))
    st.stop()
params = loaders.contacts_params(str(settings.lake_path()))
st.write(
    f"**{len(ev)}** co-location events (W = {window:g} s) at "
    f"{ev['camera_id'].nunique() if len(ev) else 0} cameras; **{len(meetings)}** meetings "
    f"(the contacts table's W = {params['window_s']:g} s, G = {params['gap_s'] / 60:g} min)"
)
shown = loaders.pair_metrics(row)
for col, (label, text) in zip(st.columns(len(shown) or 1), shown, strict=False):
    col.metric(label, text)
if len(meetings):
    placed = loaders.with_camera_positions(str(settings.lake_path()), meetings)
    geo = placed.dropna(subset=["lat", "lon"])
    if len(geo):
        per_place = geo.groupby(["camera_id", "lat", "lon"], as_index=False).size()
        st.pydeck_chart(
            pdk.Deck(
                map_style=loaders.map_style(),
                initial_view_state=pdk.ViewState(
                    latitude=float(geo["lat"].mean()), longitude=float(geo["lon"].mean()), zoom=12
                ),
                layers=[
                    pdk.Layer(
                        "ScatterplotLayer",
                        per_place,
                        get_position=["lon", "lat"],
                        get_radius="40 + 30 * size",
                        radius_min_pixels=4,
                        get_fill_color=[220, 80, 60, 180],
                        pickable=True,
                    )
                ],
                tooltip={"text": "{camera_id}: {size} meetings"},
            )
        )
    st.altair_chart(
        alt.Chart(meetings)
        .mark_bar(size=10)
        .encode(
            x=alt.X("start_ts:T", title="time (UTC)", axis=alt.Axis(format="%a %d %H:%M")),
            x2="end_ts:T",
            y=alt.Y("camera_id:N", title="camera"),
            tooltip=["camera_id:N", "start_ts:T", "end_ts:T", "n_events:Q", "busyness:Q"],
        ),
        width="stretch",
    )
    st.subheader("Meetings")
    st.dataframe(meetings, hide_index=True)
    st.page_link(
        "app_pages/trajectory.py",
        label="Replay the two of them together",
        query_params={"pid": a, "with": b},
    )
st.subheader("Co-location events")
st.dataframe(ev.astype({"sighting_a": "string", "sighting_b": "string"}), hide_index=True)
