import streamlit as st

from sightgraph.dashboard import loaders

settings = loaders.get_settings()
st.title("Overview")
data = loaders.overview(str(settings.lake_path()))
cols = st.columns(6)
for col, (name, value) in zip(
    cols, [("lake sightings", data["lake_sightings"]), *data["counts"].items()], strict=False
):
    col.metric(name, f"{value:,}")
st.subheader("Data quality: quarantined rows by reason")
if len(data["quarantine"]):
    st.dataframe(data["quarantine"], hide_index=True)
else:
    st.write("No quarantined rows.")
if len(data["ingest_runs"]):
    st.subheader("Ingest runs")
    st.dataframe(data["ingest_runs"], hide_index=True)
st.subheader("Data quality: implausible transitions per subject")
shares = loaders.implausible_shares(str(settings.lake_path()))
if shares is None:
    st.write("No trajectories yet, or too few subjects to show (run `sightgraph trajectories`).")
else:
    q = shares["quantiles"]
    st.caption(
        f"Each subject's share of transitions faster than {shares['max_speed_kmh']:g} km/h "
        f"(likely misidentifications), over {shares['subjects']:,} subjects; "
        f"{shares['overall']:.2%} of all transitions"
        + (f"; median {q['median']:.2%}, 90th percentile {q['p90']:.2%}." if q else ".")
        + " Bins of fewer than 5 subjects are suppressed (blank)."
    )
    st.dataframe(shares["histogram"], hide_index=True)
