import datetime as dt
import time

import altair as alt
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
c0, c00 = st.columns(2)
pid = c0.text_input("Subject (pseudonym)", value=st.query_params.get("pid", ""))
other = c00.text_input(
    "Replay together with (optional)",
    value=st.query_params.get("with", ""),
    help="A second subject, e.g. the other one of a meeting: both paths on one clock",
)
if not pid:
    st.stop()
pid, other = pid.strip(), other.strip()
if st.session_state.get("replay_pids") != (pid, other):
    try:
        traj = loaders.trajectory(session, pid)
        traj2 = loaders.trajectory(session, other) if other and other != pid else None
    except SightgraphError as exc:
        st.error(str(exc))
        st.stop()
    st.session_state.update(replay_pids=(pid, other), replay_traj=(traj, traj2), replay_t=None)
traj, traj2 = st.session_state["replay_traj"]
if not len(traj):
    st.info("No sightings for this subject.")
    st.stop()
both = traj if traj2 is None or not len(traj2) else pd.concat([traj, traj2])
t0 = pd.Timestamp(both["ts"].min())
frames = loaders.replay_frames(traj, t0=t0)
frames2 = None if traj2 is None or not len(traj2) else loaders.replay_frames(traj2, t0=t0)
first = t0.floor("min").to_pydatetime()
last = pd.Timestamp(both["ts"].max()).ceil("min").to_pydatetime()
if last <= first:
    last = first + dt.timedelta(minutes=1)
c1, c2, c3, c4 = st.columns([6, 1, 1, 1])
now = c1.slider(
    "Time",
    min_value=first,
    max_value=last,
    value=st.session_state.get("replay_t") or last,
    step=dt.timedelta(minutes=1),
    format="YYYY-MM-DD HH:mm",
)
speed = c2.selectbox("Speed", ["1 h/s", "6 h/s", "1 day/s"], index=1)
play = c3.button("▶ Play", type="primary")
# any click stops a running replay (Streamlit interrupts the run): Pause keeps where it was
c4.button("⏸ Pause")
trail_s = {"1 h/s": 3600.0, "6 h/s": 6 * 3600.0, "1 day/s": 86400.0}[speed]
center = both.dropna(subset=["lat", "lon"])
view = pdk.ViewState(
    latitude=float(center["lat"].mean()) if len(center) else 0.0,
    longitude=float(center["lon"].mean()) if len(center) else 0.0,
    zoom=11,
)


def trail(fr: dict, colour: list[int], t: float) -> pdk.Layer:
    """One subject's path up to ``t``, its last ``trail_s`` drawn and fading into the past."""
    return pdk.Layer(
        "TripsLayer",
        [fr["trip"]],
        get_path="path",
        get_timestamps="timestamps",
        get_color=colour,
        width_min_pixels=4,
        trail_length=trail_s,
        current_time=t,
        fade_trail=True,
    )


def deck(t: float) -> pdk.Deck:
    """The map at ``t`` seconds after the first sighting: the trail of the last ``trail_s``
    (fading, so the direction shows), every visited camera, legs flagged implausible in red,
    and the current position."""
    layers = [
        pdk.Layer(
            "ScatterplotLayer",
            center.drop_duplicates("camera_id"),
            get_position=["lon", "lat"],
            get_radius=25,
            radius_min_pixels=3,
            get_fill_color=[120, 120, 120, 160],
        ),
        *([] if frames2 is None else [trail(frames2, [150, 60, 190], t)]),
        trail(frames, [30, 120, 200], t),
    ]
    bad = frames["legs"][frames["legs"]["implausible"] & (frames["legs"]["t_to"] <= t)]
    if len(bad):
        layers.append(
            pdk.Layer(
                "LineLayer",
                bad,
                get_source_position=["lon_from", "lat_from"],
                get_target_position=["lon_to", "lat_to"],
                get_color=[220, 40, 40],
                get_width=3,
            )
        )
    marks = [(frames, [230, 80, 40])] + ([] if frames2 is None else [(frames2, [150, 60, 190])])
    for fr, colour in marks:
        here = loaders.position_at(fr, t)
        if here is None:
            continue
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                [{"lon": here[0], "lat": here[1]}],
                get_position=["lon", "lat"],
                get_radius=60,
                radius_min_pixels=7,
                get_fill_color=colour,
                stroked=True,
                get_line_color=[255, 255, 255],
                line_width_min_pixels=2,
            )
        )
    return pdk.Deck(map_style=loaders.map_style(), initial_view_state=view, layers=layers)


clock = st.empty()
board = st.empty()
t_now = (loaders.utc(now) - t0).total_seconds()
if play:  # animate from the slider's time to the end, ~12 frames a second
    end = (loaders.utc(last) - t0).total_seconds()
    t = t_now if t_now < end else 0.0
    step = trail_s / 12
    while t < end:
        clock.markdown(f"**{(t0 + pd.Timedelta(seconds=t)):%Y-%m-%d %H:%M}** (playing)")
        board.pydeck_chart(deck(t))
        time.sleep(1 / 12)
        t += step
        # where Pause (or any other click) will leave the slider
        st.session_state["replay_t"] = (
            (t0 + pd.Timedelta(seconds=min(t, end))).floor("min").to_pydatetime()
        )
    st.session_state["replay_t"] = last
    t_now = end
clock.markdown(f"**{(t0 + pd.Timedelta(seconds=t_now)):%Y-%m-%d %H:%M}**")
board.pydeck_chart(deck(t_now))
st.caption(
    "Blue trail: the last stretch of the path (fading towards the past); orange: where the "
    "subject is at that time; purple: the second subject's trail and position; red: transitions "
    "faster than 150 km/h (implausible, a likely false match)."
)
cut = t0 + pd.Timedelta(seconds=t_now)
so_far = traj[traj["ts"] <= cut]
st.subheader("Timeline")
chart = (
    alt.Chart(traj.assign(seen=traj["ts"] <= cut))
    .mark_circle(size=40)
    .encode(
        x=alt.X("ts:T", title="time (UTC)", axis=alt.Axis(format="%a %d %H:%M")),
        y=alt.Y("camera_id:N", title="camera"),
        color=alt.Color(
            "seen:N", title="seen by now", scale=alt.Scale(range=["#cccccc", "#1f77b4"])
        ),
        tooltip=["ts:T", "camera_id:N", "confidence:Q"],
    )
)
rule = alt.Chart(pd.DataFrame({"ts": [cut]})).mark_rule(color="#e6502a").encode(x="ts:T")
st.altair_chart(chart + rule, width="stretch")
st.write(f"{len(so_far):,} of {len(traj):,} sightings up to the current time")
st.dataframe(so_far.iloc[::-1].astype({"sighting_id": "string"}), hide_index=True)
c1, c2 = st.columns(2)
c1.page_link("app_pages/contacts.py", label="Contacts of this subject", query_params={"pid": pid})
c2.page_link(
    "app_pages/predictions.py", label="Predictions for this subject", query_params={"pid": pid}
)
