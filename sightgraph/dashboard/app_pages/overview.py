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
