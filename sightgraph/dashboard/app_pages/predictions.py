import pandas as pd
import streamlit as st

from sightgraph.dashboard import loaders
from sightgraph.errors import SightgraphError

session = st.session_state["sg_session"]
settings = loaders.get_settings()
st.title("Predictions")
st.caption(
    "Next-camera prediction from each subject's own visits (sightgraph.analytics.prediction): "
    "the most-frequent and first-order Markov baselines, a back-off model over the previous and "
    "current camera and the time of week, and a learned ranker; the one used is chosen by "
    "validation on this lake."
)
st.subheader("How predictable is movement here")
if st.button("Evaluate next-camera prediction"):
    st.session_state["sg_pred_eval"] = True
if st.session_state.get("sg_pred_eval"):
    try:
        rep = loaders.prediction_report(str(settings.lake_path()))
    except SightgraphError as exc:
        st.error(str(exc))
        st.stop()
    if rep is None:
        st.info("Fewer than 5 subjects with enough visits: suppressed.")
    else:
        st.write(
            f"{rep['test_visits']:,} test visits of {rep['subjects']:,} subjects (per subject the "
            "first 80% of visits fit, the last 20% test, each predicted from all earlier ones)"
        )
        table = pd.DataFrame(rep["models"]).T.rename(
            columns={"acc1": "Acc@1", "acc5": "Acc@5", "mrr": "MRR"}
        )
        st.dataframe(table.rename_axis("model").reset_index(), hide_index=True)
        if "chosen" in rep:
            st.write(f"Chosen by validation: **{rep['chosen']}** ({rep['selection']['reason']})")
        b = rep["predictability"]
        st.metric("predictability bound (Lempel-Ziv + Fano, median)", f"{b['median']:.3f}")

st.subheader("Next cameras of a subject")
if not session.person_level:
    st.warning("Person-level views need the analyst role.")
    st.stop()
pid = st.text_input("Subject (pseudonym)", value=st.query_params.get("pid", ""), key="sg_pred_pid")
if pid:
    try:
        nxt = loaders.next_cameras(session, pid.strip())
    except SightgraphError as exc:
        st.error(str(exc))
        st.stop()
    if not len(nxt):
        st.info("No visits for this subject.")
        st.stop()
    st.write(f"after the visit that ended {nxt['as_of'].iloc[0]:%Y-%m-%d %H:%M} UTC")
    st.dataframe(nxt[["rank", "camera_id", "probability", "lat", "lon"]], hide_index=True)
    st.bar_chart(  # in rank order, most likely first
        nxt.assign(
            camera=[f"{r}. {c}" for r, c in zip(nxt["rank"], nxt["camera_id"], strict=True)]
        ),
        x="camera",
        y="probability",
        sort="-probability",
    )
    st.page_link(
        "app_pages/trajectory.py", label="Trajectory of this subject", query_params={"pid": pid}
    )
