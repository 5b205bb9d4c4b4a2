"""The pure helpers every backend shares (sightgraph/graph/rows.py): input preparation, argument
checks, output normalisation and the two breadth-first searches (against networkx)."""

from __future__ import annotations

import datetime as dt
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from sightgraph.errors import UsageError
from sightgraph.graph.base import PAIR_EVENT_COLUMNS, TRAJECTORY_COLUMNS
from sightgraph.graph.rows import (
    STR_DTYPE,
    TS_DTYPE,
    check_cutoff,
    check_time_range,
    check_window,
    find_hops,
    find_smallest_shortest_path,
    iter_batches,
    normalize_edges,
    normalize_ego_nodes,
    normalize_pair_events,
    normalize_trajectory,
    prepare_cameras,
    prepare_contacts,
    prepare_sightings,
    prepare_transitions,
    rows_from,
)

T0 = pd.Timestamp("2024-03-01T08:00:00Z")


def expander(edges: list[tuple[str, str]]):
    adj: dict[str, set[str]] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    calls: list[list[str]] = []

    def expand(frontier):
        calls.append(list(frontier))
        return [(n, nb, 1.0) for n in frontier for nb in adj.get(n, ())]

    expand.calls = calls  # type: ignore[attr-defined]
    return expand


# --- searches -------------------------------------------------------------------------------

graphs = st.lists(
    st.tuples(st.sampled_from("abcdefghij"), st.sampled_from("abcdefghij")).filter(
        lambda e: e[0] != e[1]
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(edges=graphs, source=st.sampled_from("abcdefghij"), hops=st.integers(0, 4))
def test_find_hops_is_bfs_distance(edges: list[tuple[str, str]], source: str, hops: int) -> None:
    g = nx.Graph(edges)
    g.add_node(source)
    expand = expander(edges)
    assert find_hops(source, hops, expand) == nx.single_source_shortest_path_length(
        g, source, cutoff=hops
    )
    assert len(expand.calls) <= hops
    assert all(expand.calls)  # never asked for an empty frontier


@settings(max_examples=400, deadline=None)
@given(
    edges=graphs,
    source=st.sampled_from("abcdefghij"),
    target=st.sampled_from("abcdefghij"),
    max_hops=st.integers(0, 5),
)
def test_smallest_shortest_path_matches_networkx(
    edges: list[tuple[str, str]], source: str, target: str, max_hops: int
) -> None:
    """Same answer as min() over networkx's all shortest paths, within max_hops."""
    g = nx.Graph(edges)
    g.add_nodes_from([source, target])
    try:
        paths = list(nx.all_shortest_paths(g, source, target))
        want = min(paths) if len(paths[0]) - 1 <= max_hops else []
    except nx.NetworkXNoPath:
        want = []
    assert find_smallest_shortest_path(source, target, max_hops, expander(edges)) == want


def test_smallest_shortest_path_prefers_early_small_pids() -> None:
    """s-b-z-t and s-c-a-t are both shortest; position 1 decides: b < c."""
    edges = [("s", "b"), ("b", "z"), ("z", "t"), ("s", "c"), ("c", "a"), ("a", "t")]
    assert find_smallest_shortest_path("s", "t", 3, expander(edges)) == ["s", "b", "z", "t"]
    assert find_smallest_shortest_path("s", "t", 2, expander(edges)) == []


# --- arguments ------------------------------------------------------------------------------


def test_time_range_rounds_inwards_to_microseconds() -> None:
    """start rounds up and end rounds down, so microsecond data compares exactly."""
    lo, hi = check_time_range(
        T0 + pd.Timedelta(nanoseconds=1), T0 + pd.Timedelta(microseconds=5, nanoseconds=999)
    )
    assert lo == T0 + pd.Timedelta(microseconds=1)
    assert hi == T0 + pd.Timedelta(microseconds=5)
    assert lo.unit == "us" and str(lo.tz) == "UTC"
    paris, _ = check_time_range("2024-03-01T09:00:00+01:00", None)
    assert paris == T0
    assert check_time_range(dt.datetime(2024, 3, 1, 8, tzinfo=dt.UTC), None)[0] == T0
    assert check_time_range(None, None) == (None, None)
    assert check_time_range(T0, T0) == (T0, T0)
    with pytest.raises(UsageError, match="after end"):
        check_time_range(T0, T0 - pd.Timedelta(seconds=1))
    with pytest.raises(UsageError, match="timezone-aware"):
        check_time_range(dt.datetime(2024, 3, 1), None)
    with pytest.raises(UsageError, match="not a time"):
        check_time_range(None, pd.NaT)


def test_window_and_cutoff() -> None:
    assert check_window(60) == 60_000_000
    assert check_window(0.3) == 300_000
    assert check_window(0) == 0
    assert check_cutoff(T0 + pd.Timedelta(nanoseconds=1)) == T0 + pd.Timedelta(microseconds=1)
    for bad in (-0.5, math.inf, math.nan, "60", True):
        with pytest.raises(UsageError, match="window_s"):
            check_window(bad)


# --- input ----------------------------------------------------------------------------------


def test_prepare_contacts_orients_dedupes_and_fills_optional_columns() -> None:
    """(b, a) becomes (a, b); the later (a, b) row wins over it; p/q values and times,
    absent, come back empty; integer-valued floats become int64."""
    raw = pd.DataFrame(
        {
            "pid_a": ["b", "c", "a"],
            "pid_b": ["a", "d", "b"],
            "score": [1.0, 2.0, 3.0],
            "meetings": [1.0, 2.0, 3.0],
            "days": [1, 1, 1],
            "places": [1, 1, 1],
        }
    )
    before = raw.copy()
    out = prepare_contacts(raw)
    assert_frame_equal(raw, before)
    assert out["pid_a"].tolist() == ["c", "a"]
    assert out["pid_b"].tolist() == ["d", "b"]
    assert out["score"].tolist() == [2.0, 3.0]
    assert out["meetings"].dtype == "int64"
    assert out["p_value"].isna().all() and out["first_ts"].isna().all()
    assert out["first_ts"].dtype == TS_DTYPE
    assert out["pid_a"].dtype == STR_DTYPE


def test_prepare_sightings_converts_time_zones_and_floors_nanoseconds() -> None:
    ts = pd.Series(
        [pd.Timestamp("2024-03-01T09:00:00.0000019+01:00")], dtype="datetime64[ns, Europe/Paris]"
    )
    raw = pd.DataFrame(
        {
            "sighting_id": np.array([5], dtype="int32"),
            "pid": pd.Series(["a"], dtype=object),
            "camera_id": ["c"],
            "ts": ts,
        }
    )
    out = prepare_sightings(raw)
    assert out["ts"].dtype == TS_DTYPE
    assert out["ts"].iloc[0] == T0 + pd.Timedelta(microseconds=1)
    assert out["sighting_id"].dtype == "int64"
    assert out["confidence"].isna().all()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"sighting_id": [1.0], "pid": ["a"], "camera_id": ["c"], "ts": [T0]}),
            "integers",
        ),
        (pd.DataFrame({"sighting_id": [1], "pid": [7], "camera_id": ["c"], "ts": [T0]}), "strings"),
        (
            pd.DataFrame({"sighting_id": [1], "pid": ["a"], "camera_id": [None], "ts": [T0]}),
            "row 0",
        ),
        (
            pd.DataFrame({"sighting_id": [1], "pid": ["a"], "camera_id": ["c"], "ts": ["x"]}),
            "timezone",
        ),
    ],
)
def test_prepare_sightings_rejects_bad_columns(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        prepare_sightings(frame)


def test_prepare_cameras_and_transitions() -> None:
    cams = prepare_cameras(
        pd.DataFrame(
            {"camera_id": ["x", "x"], "lat": [1.0, None], "lon": [2, 3], "site": ["s", None]}
        )
    )
    assert len(cams) == 1 and math.isnan(cams["lat"].iloc[0]) and cams["lon"].iloc[0] == 3.0
    assert cams["name"].isna().all() and cams["site"].isna().all()
    tr = prepare_transitions(pd.DataFrame({"camera_from": ["a"], "camera_to": ["a"], "count": [2]}))
    assert tr["median_travel_s"].isna().all() and tr["count"].tolist() == [2]
    with pytest.raises(UsageError, match="lon"):
        prepare_cameras(pd.DataFrame({"camera_id": ["x"], "lat": [1.0], "lon": [181.0]}))


def test_rows_from_gives_plain_python_values() -> None:
    df = prepare_contacts(
        pd.DataFrame(
            {
                "pid_a": ["a", "c"],
                "pid_b": ["b", "d"],
                "score": [1.5, 2.0],
                "meetings": [1, 2],
                "days": [1, 1],
                "places": [1, 1],
                "first_ts": pd.Series([T0, pd.NaT], dtype="datetime64[us, UTC]"),
                "last_ts": pd.Series([T0, pd.NaT], dtype="datetime64[us, UTC]"),
            }
        )
    )
    rows = rows_from(df)
    assert rows[0]["first_ts"] == dt.datetime(2024, 3, 1, 8, tzinfo=dt.UTC)
    assert rows[0]["first_ts"].tzinfo is not None
    assert rows[1]["first_ts"] is None and rows[1]["p_value"] is None
    assert type(rows[0]["meetings"]) is int and type(rows[0]["score"]) is float
    assert type(rows[0]["pid_a"]) is str
    assert [len(b) for b in iter_batches(pd.DataFrame({"x": range(5)}), 2)] == [2, 2, 1]
    assert list(iter_batches(pd.DataFrame({"x": []}), 2)) == []


# --- output ---------------------------------------------------------------------------------


def test_normalizers_accept_frames_and_arrays_alike() -> None:
    """A DataFrame (any tz, ns) and a mapping of numpy arrays (naive = UTC, masked = empty)
    normalise to the same frame, ordered by the contract's keys."""
    frame = pd.DataFrame(
        {
            "confidence": [0.5, np.nan],
            "sighting_id": [9, 3],
            "ts": pd.Series([T0, T0], dtype="datetime64[ns, UTC]").dt.tz_convert("Asia/Tokyo"),
            "camera_id": pd.Series(["c1", "c9"], dtype=object),
            "lat": [1.0, None],
            "lon": [2.0, None],
        }
    )
    arrays = {
        "sighting_id": np.array([9, 3]),
        "ts": np.array([T0.tz_localize(None).to_datetime64()] * 2, dtype="datetime64[us]"),
        "camera_id": np.array(["c1", "c9"], dtype=object),
        "lat": np.ma.masked_array([1.0, 0.0], mask=[False, True]),
        "lon": np.ma.masked_array([2.0, 0.0], mask=[False, True]),
        "confidence": np.ma.masked_array([0.5, 0.0], mask=[False, True]),
    }
    a, b = normalize_trajectory(frame), normalize_trajectory(arrays)
    assert_frame_equal(a, b)
    assert tuple(a.columns) == TRAJECTORY_COLUMNS
    assert a["sighting_id"].tolist() == [3, 9]
    assert a["ts"].dtype == TS_DTYPE and a["camera_id"].dtype == STR_DTYPE


def test_normalizers_sort_strings_by_code_point() -> None:
    """'Z' < 'a' < 'a\\0' < 'é' < 'Ａ' (U+FF21) < '😀' (U+1F600): code point order, and
    a trailing NUL survives (numpy's fixed-width strings would drop it)."""
    pids = ["😀", "Ａ", "é", "a", "Z", "a\x00"]
    nodes = normalize_ego_nodes({"pid": pids, "hop": [1] * 6})
    assert nodes["pid"].tolist() == ["Z", "a", "a\x00", "é", "Ａ", "😀"]
    edges = normalize_edges(
        {
            "pid_a": ["b", "a", "a"],
            "pid_b": ["c", "😀", "Ａ"],
            "score": [1.0] * 3,
            "meetings": [1] * 3,
            "days": [1] * 3,
            "places": [1] * 3,
            "first_ts": np.array([None] * 3, dtype="datetime64[us]"),
            "last_ts": np.array([None] * 3, dtype="datetime64[us]"),
        }
    )
    assert list(zip(edges["pid_a"], edges["pid_b"], strict=True)) == [
        ("a", "Ａ"),
        ("a", "😀"),
        ("b", "c"),
    ]
    events = normalize_pair_events({c: [] for c in PAIR_EVENT_COLUMNS})
    assert events.empty and events["ts_a"].dtype == TS_DTYPE
