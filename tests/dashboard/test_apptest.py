"""Dashboard pages under streamlit.testing.v1.AppTest against a real embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import top_pair

APP = str(Path(__file__).resolve().parents[2] / "sightgraph" / "dashboard" / "streamlit_app.py")
PAGES = Path(APP).parent / "app_pages"


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def _audit(env: dict[str, str]) -> list[dict]:
    path = Path(env["SIGHTGRAPH_AUDIT_LOG"])
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_overview_shows_counts_and_quality(dashboard_env, demo_workdir):
    at = _app().run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["sightings"].replace(",", "")) > 1000
    assert labels["lake sightings"] == labels["sightings"]
    assert any("quarantine" in s.value.lower() for s in at.subheader)
    # data quality: the distribution of subjects' shares of implausible transitions, no counts < 5
    assert any("implausible" in s.value.lower() for s in at.subheader)
    hist = [d.value for d in at.dataframe if list(d.value.columns) == ["share", "subjects"]]
    assert len(hist) == 1 and hist[0]["subjects"].sum() > 0
    assert not hist[0]["subjects"].dropna().between(1, 4).any()


def test_contact_network_needs_purpose_then_audits(dashboard_env, demo_workdir):
    a, _ = top_pair(demo_workdir)
    at = _app().run()
    at.switch_page(str(PAGES / "contacts.py")).run()
    assert not at.exception
    # no purpose yet: a clear message, no query recorded
    assert any("purpose" in e.value for e in at.error)
    assert _audit(dashboard_env) == []
    at.sidebar.text_input[0].input("outbreak investigation ward 3").run()
    assert not at.exception
    at.text_input[0].input(a[:6]).run()  # prefix search over all subjects
    at.selectbox(key="net_pid").select(a).run()
    assert not at.exception
    assert not at.error
    assert any("contact edges" in m.value for m in at.markdown)
    assert len(at.dataframe) == 1  # the edges in view
    edges = at.dataframe[0].value
    assert len(edges) and ((edges["source"] == a) | (edges["target"] == a)).any()
    entries = _audit(dashboard_env)
    assert [e["query"] for e in entries].count("subject_search") == 1  # once per prefix
    ego = [e for e in entries if e["query"] == "ego_network"]
    assert ego[-1]["params"]["pid"] == a
    assert ego[-1]["params"]["max_nodes"] == 150  # bounded by default
    assert {e["purpose"] for e in entries} == {"outbreak investigation ward 3"}
    # a negative minimum score is refused by the widget (min 0)
    assert at.number_input[0].min == 0.0


def test_contact_network_time_window_recounts_meetings(dashboard_env, demo_workdir):
    """Narrowing the time window keeps only edges with a meeting inside it, each with its count
    of those meetings, recomputed from the sightings (audited as window_meetings)."""
    a, _ = top_pair(demo_workdir)
    at = _app().run()
    at.sidebar.text_input[0].input("study").run()
    at.switch_page(str(PAGES / "contacts.py")).run()
    at.text_input[0].input(a).run()
    full = at.dataframe[0].value
    lo, hi = at.slider[1].value
    at.slider[1].set_value((lo, lo + (hi - lo) / 3)).run()
    assert not at.exception and not at.error
    part = at.dataframe[0].value
    assert len(part) < len(full)
    assert (part["in_window"] >= 1).all() and (part["in_window"] <= part["meetings"]).all()
    assert _audit(dashboard_env)[-1]["query"] == "window_meetings"


def test_viewer_cannot_see_person_level(dashboard_env, demo_workdir, monkeypatch):
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "viewer")
    at = _app().run()
    at.switch_page(str(PAGES / "trajectory.py")).run()
    assert not at.exception
    assert any("analyst" in w.value for w in at.warning)
    assert not at.text_input or all(t.label != "Subject (pseudonym)" for t in at.text_input)


def test_trajectory_and_meetings_pages(dashboard_env, demo_workdir):
    a, b = top_pair(demo_workdir)
    at = _app().run()
    at.sidebar.text_input[0].input("contact tracing").run()
    at.switch_page(str(PAGES / "trajectory.py")).run()
    [t for t in at.text_input if t.label == "Subject (pseudonym)"][0].input(a).run()
    assert not at.exception
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) > 0
    everything = len(at.dataframe[0].value)
    # the table follows the replay's time: half way, only the sightings up to then
    lo, hi = (
        pd.Timestamp(int(v), unit="us", tz="UTC") for v in (at.slider[0].min, at.slider[0].max)
    )
    middle = (lo + (hi - lo) / 2).floor("min")
    at.slider[0].set_value(middle.to_pydatetime()).run()
    assert not at.exception
    half = at.dataframe[0].value
    assert 0 < len(half) < everything
    assert (half["ts"] <= middle).all()
    assert [e["query"] for e in _audit(dashboard_env)] == ["trajectory"]  # read once
    at.switch_page(str(PAGES / "meetings.py")).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Subject A"].input(a)
    inputs["Subject B"].input(b).run()
    assert not at.exception
    meetings, events = at.dataframe[0].value, at.dataframe[1].value
    assert 0 < len(meetings) <= len(events)  # events merge into meetings
    assert set(meetings["camera_id"]) <= set(events["camera_id"])
    assert meetings["n_events"].sum() >= len(meetings)
    assert any(f"**{len(meetings)}** meetings" in m.value for m in at.markdown)
    queries = [e["query"] for e in _audit(dashboard_env)]
    assert queries == ["trajectory", "pair_events", "edge_evidence"]


def test_a_pair_replays_together(dashboard_env, demo_workdir):
    """The Meetings page links to a replay of both subjects; with a second subject the clock
    spans both trajectories and both reads are audited."""
    a, b = top_pair(demo_workdir)
    at = _app().run()
    at.sidebar.text_input[0].input("contact tracing").run()
    at.switch_page(str(PAGES / "trajectory.py")).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Subject (pseudonym)"].input(a)
    inputs["Replay together with (optional)"].input(b).run()
    assert not at.exception and not at.error
    entries = [e for e in _audit(dashboard_env) if e["query"] == "trajectory"]
    assert [e["params"]["pid"] for e in entries] == [a, b]
    lo, hi = (
        pd.Timestamp(int(v), unit="us", tz="UTC") for v in (at.slider[0].min, at.slider[0].max)
    )
    ta = pd.read_parquet(demo_workdir / "lake" / "sightings")
    ta = ta[ta["pid"].isin([a, b])]["ts"]
    assert lo <= ta.min() and hi >= ta.max() - pd.Timedelta(minutes=1)


def test_cameras_and_audit_pages(dashboard_env, demo_workdir):
    at = _app().run()
    at.switch_page(str(PAGES / "cameras.py")).run()
    assert not at.exception
    flows = at.dataframe[0].value
    assert (flows["n_subjects"] >= 5).all()  # small cells suppressed
    at.switch_page(str(PAGES / "audit.py")).run()
    assert not at.exception


def test_predictions_page_aggregate_then_audited_subject(dashboard_env, demo_workdir, monkeypatch):
    """A viewer may evaluate prediction (aggregate) but not see a subject's next cameras; an
    analyst with a purpose sees them, ranked, and the query is audited."""
    a, _ = top_pair(demo_workdir)
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "viewer")
    at = _app().run()
    at.switch_page(str(PAGES / "predictions.py")).run()
    assert not at.exception
    at.button[0].click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["model"]) == ["most_frequent", "markov", "sightgraph", "ranker"]
    assert ((table["Acc@1"] <= table["Acc@5"]) & (table["Acc@5"] <= 1)).all()
    assert any("analyst" in w.value for w in at.warning)
    assert _audit(dashboard_env) == []
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "analyst")
    at = _app().run()
    at.sidebar.text_input[0].input("mobility study 7").run()
    at.switch_page(str(PAGES / "predictions.py")).run()
    [t for t in at.text_input if t.label == "Subject (pseudonym)"][0].input(a).run()
    assert not at.exception and not at.error
    nxt = at.dataframe[-1].value
    assert list(nxt["rank"]) == list(range(1, len(nxt) + 1)) and len(nxt) > 0
    assert (nxt["probability"].diff().dropna() <= 0).all()
    entries = _audit(dashboard_env)
    assert [e["query"] for e in entries] == ["next_cameras"]
    assert entries[0]["params"]["pid"] == a and entries[0]["purpose"] == "mobility study 7"


def test_demo_wrote_every_derived_table(demo_workdir):
    """The demo's lake holds what the pages read: contacts, visits, flows and predictions (the
    top five next cameras of every subject, probabilities descending)."""
    import pandas as pd

    lake = demo_workdir / "lake"
    for name in ("contacts", "visits", "transitions", "predictions"):
        assert len(pd.read_parquet(lake / name)) > 0, name
    pred = pd.read_parquet(lake / "predictions")
    visits = pd.read_parquet(lake / "visits")
    assert set(pred["pid"]) == set(visits["pid"])
    assert pred.groupby("pid")["rank"].max().le(5).all()
    assert (pred.groupby("pid")["probability"].diff().dropna() <= 0).all()
