"""Visits, transitions and flows against loop-based oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph.analytics.trajectories import (
    aggregate_flows,
    build_transitions,
    build_visits,
    haversine_m,
)
from sightgraph.errors import UsageError

T0 = pd.Timestamp("2026-03-02T08:00:00Z")


def _sightings(rows):
    return pd.DataFrame(
        {
            "pid": [r[0] for r in rows],
            "camera_id": [r[1] for r in rows],
            "ts": pd.to_datetime([T0 + pd.Timedelta(seconds=r[2]) for r in rows], utc=True),
        }
    )


def _oracle_visits(rows, gap):
    out = []
    for pid in sorted({r[0] for r in rows}):
        seq = sorted((r[2], r[1]) for r in rows if r[0] == pid)
        cur = None
        for t, cam in seq:
            if cur is not None and cur[0] == cam and t - cur[2] < gap:
                cur[2] = t
                cur[3] += 1
            else:
                if cur is not None:
                    out.append((pid, *cur))
                cur = [cam, t, t, 1]
        out.append((pid, *cur))
    return out


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]), st.sampled_from(["c1", "c2", "c3"]), st.integers(0, 5000)
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[0], r[2]),  # one camera per subject and instant
)


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, gap=st.sampled_from([0, 1, 300, 900]))
def test_visits_equal_oracle(rows, gap):
    got = build_visits(_sightings(rows), gap_s=gap)
    want = _oracle_visits(rows, gap)
    assert len(got) == len(want)
    for g, w in zip(got.itertuples(), want, strict=True):
        assert (g.pid, g.camera_id) == (w[0], w[1])
        assert g.arrive == T0 + pd.Timedelta(seconds=w[2])
        assert g.leave == T0 + pd.Timedelta(seconds=w[3])
        assert g.n_sightings == w[4]
        assert g.dwell_s == w[3] - w[2]
    assert got["n_sightings"].sum() == len(rows)


def test_transitions_flag_implausible_speed():
    """a: c1 at 0 s, c2 (about 11.1 km away) 60 s later -> 667 km/h, implausible;
    b: c1 -> c2 in one hour -> 11 km/h, plausible."""
    cams = pd.DataFrame({"camera_id": ["c1", "c2"], "lat": [48.0, 48.1], "lon": [2.0, 2.0]})
    s = _sightings([("a", "c1", 0), ("a", "c2", 60), ("b", "c1", 0), ("b", "c2", 3600)])
    tr = build_transitions(build_visits(s), cams)
    assert tr.set_index("pid")["implausible"].to_dict() == {"a": True, "b": False}
    d = haversine_m(np.array([48.0]), np.array([2.0]), np.array([48.1]), np.array([2.0]))[0]
    assert tr["distance_m"].iloc[0] == pytest.approx(d)
    assert 11_000 < d < 11_200


def test_flows_suppress_small_cells():
    rows = [(f"p{i}", "c1", 0) for i in range(6)] + [(f"p{i}", "c2", 600) for i in range(6)]
    rows += [("q", "c1", 0), ("q", "c3", 600)]
    tr = build_transitions(build_visits(_sightings(rows)))
    flows, suppressed = aggregate_flows(tr, k=5)
    assert flows[["camera_from", "camera_to", "count", "n_subjects"]].values.tolist() == [
        ["c1", "c2", 6, 6]
    ]
    assert suppressed == 1
    assert flows["median_travel_s"].iloc[0] == 600


def test_bad_input_is_a_clear_error():
    with pytest.raises(UsageError, match="gap"):
        build_visits(_sightings([("a", "c1", 0)]), gap_s=-1)
    with pytest.raises(UsageError, match="ts"):
        build_visits(pd.DataFrame({"pid": ["a"], "camera_id": ["c"]}))
    assert len(build_visits(_sightings([]).iloc[:0])) == 0


def test_precision_recall_counts_and_edge_cases():
    from sightgraph.analytics.trajectories import precision_recall

    r = precision_recall([True, True, True, False, False], [True, True, False, True, False])
    assert (r["tp"], r["fp"], r["fn"]) == (2, 1, 1)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    none = precision_recall([False, False], [True, False])
    assert np.isnan(none["precision"]) and none["recall"] == 0.0 and np.isnan(none["f1"])
    assert np.isnan(precision_recall([True], [False])["recall"])
    with pytest.raises(UsageError, match="length"):
        precision_recall([True], [True, False])


def test_truth_marks_visits_and_the_transitions_touching_them():
    from sightgraph.analytics.trajectories import transitions_touching, visits_containing

    rows = [("a", "c1", 0), ("a", "c1", 60), ("a", "c2", 600), ("a", "c1", 1200), ("b", "c2", 0)]
    rows += [("b", "c1", 3000), ("b", "c2", 6000)]
    s = _sightings(rows)
    visits = build_visits(s)
    cams = pd.DataFrame({"camera_id": ["c1", "c2"], "lat": [52.0, 52.5], "lon": [5.0, 5.0]})
    trans = build_transitions(visits, cams)
    false = _sightings([("a", "c2", 600), ("b", "c2", 6000), ("b", "c1", 10)])  # last: no visit
    marked = visits_containing(visits, false)
    got = visits.loc[marked, ["pid", "camera_id"]].values.tolist()
    assert got == [["a", "c2"], ["b", "c2"]] and marked.sum() == 2
    truth = transitions_touching(trans, visits, marked)
    assert trans.loc[truth, ["pid", "camera_from", "camera_to"]].values.tolist() == [
        ["a", "c1", "c2"],
        ["a", "c2", "c1"],
        ["b", "c1", "c2"],
    ]
    # a's jump of 55 km in 9 minutes is flagged; b's trip in 50 minutes is not
    assert trans["implausible"].tolist() == [True, True, False, False]
    with pytest.raises(UsageError, match="marked"):
        transitions_touching(trans, visits, marked[:1])
