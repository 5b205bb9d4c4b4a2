"""find_colocations: brute-force oracle, invariants, a hand-built fixture, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.analytics.colocation import EVENT_COLUMNS, find_colocations
from sightgraph.errors import UsageError
from sightgraph.schema import COLOCATION_PAIR_COLUMNS

from .colocation_oracle import (
    WINDOWS,
    camera_tables,
    normalise_events,
    oracle_events,
    oracle_pairs,
    sightings_frames,
)

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def T(hms: str) -> pd.Timestamp:
    return pd.Timestamp(f"2026-03-02 {hms}", tz="UTC")


@pytest.fixture
def street() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three cameras; c2 and c3 are ~100 m apart, c1 is ~5 km away.

    ====  ===  ======  ========
    sid   pid  camera  time
    ====  ===  ======  ========
    1     a    c1      08:00:00
    2     b    c1      08:00:30
    3     c    c1      08:01:31
    4     a    c1      08:01:40
    5     d    c1      08:02:40
    6     a    c2      08:00:10
    7     b    c2      08:00:10
    8     c    c3      08:00:20
    ====  ===  ======  ========

    W = 60 s, R = 0: events (1,2) a-b 30 s; (4,3) a-c 9 s; (4,5) a-d 60 s (inclusive);
    (6,7) a-b 0 s. Not: (1,3) 91 s, (2,3) 61 s, (2,4) 70 s, (3,5) 69 s, (1,4) same subject.
    Pairs: a-b 2 events 08:00:00..08:00:30; a-c 1 08:01:31..08:01:40; a-d 1 08:01:40..08:02:40.
    With R = 200 m also (6,8) a-c and (7,8) b-c across c2/c3: a-c 2 events 08:00:10..08:01:40,
    b-c 1 event 08:00:10..08:00:20. With W = 0: only (6,7) a-b at 08:00:10.
    """
    s = pd.DataFrame(
        {
            "sighting_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "pid": ["a", "b", "c", "a", "d", "a", "b", "c"],
            "camera_id": ["c1", "c1", "c1", "c1", "c1", "c2", "c2", "c3"],
            "ts": [
                T("08:00:00"),
                T("08:00:30"),
                T("08:01:31"),
                T("08:01:40"),
                T("08:02:40"),
                T("08:00:10"),
                T("08:00:10"),
                T("08:00:20"),
            ],
            "confidence": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],
        }
    )
    s["ts"] = s["ts"].astype("datetime64[us, UTC]")
    cams = pd.DataFrame(
        {
            "camera_id": ["c1", "c2", "c3"],
            "lat": [52.05, 52.0900, 52.0909],
            "lon": [5.12, 5.12, 5.12],
        }
    )
    return s, cams


def rows(df: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in df.itertuples(index=False)]


def test_fixture_pairs(street):
    s, _ = street
    got = find_colocations(s)
    assert list(got.columns) == list(COLOCATION_PAIR_COLUMNS)
    assert rows(got) == [
        ("a", "b", 2, T("08:00:00"), T("08:00:30")),
        ("a", "c", 1, T("08:01:31"), T("08:01:40")),
        ("a", "d", 1, T("08:01:40"), T("08:02:40")),
    ]
    assert str(got["first_ts"].dtype) == "datetime64[us, UTC]"
    assert got["n_events"].dtype == np.int64


def test_fixture_radius_and_zero_window(street):
    s, cams = street
    got = find_colocations(s, radius_m=200, cameras=cams)
    assert rows(got) == [
        ("a", "b", 2, T("08:00:00"), T("08:00:30")),
        ("a", "c", 2, T("08:00:10"), T("08:01:40")),
        ("a", "d", 1, T("08:01:40"), T("08:02:40")),
        ("b", "c", 1, T("08:00:10"), T("08:00:20")),
    ]
    assert rows(find_colocations(s, window_s=0)) == [("a", "b", 1, T("08:00:10"), T("08:00:10"))]


def test_fixture_events(street):
    s, cams = street
    ev = find_colocations(s, events=True, radius_m=200, cameras=cams)
    assert list(ev.columns) == list(EVENT_COLUMNS)
    got = list(zip(ev["pid_a"], ev["pid_b"], ev["sighting_a"], ev["sighting_b"], strict=True))
    assert got == [
        ("a", "b", 1, 2),
        ("a", "b", 6, 7),
        ("a", "c", 6, 8),
        ("a", "c", 4, 3),
        ("a", "d", 4, 5),
        ("b", "c", 7, 8),
    ]
    first = ev.iloc[2]
    assert (first["camera_a"], first["camera_b"]) == ("c2", "c3")
    assert (first["confidence_a"], first["confidence_b"]) == (0.4, 0.2)


def test_input_not_mutated(street):
    s, cams = street
    before, cams_before = s.copy(deep=True), cams.copy(deep=True)
    find_colocations(s.sample(frac=1, random_state=1), events=True, radius_m=200, cameras=cams)
    pd.testing.assert_frame_equal(s, before)
    pd.testing.assert_frame_equal(cams, cams_before)


@PROPS
@given(s=sightings_frames(), window=WINDOWS)
def test_equals_oracle_same_camera(s, window):
    ev = oracle_events(s, window)
    pd.testing.assert_frame_equal(normalise_events(find_colocations(s, window, events=True)), ev)
    pd.testing.assert_frame_equal(find_colocations(s, window), oracle_pairs(ev))


@PROPS
@given(s=sightings_frames(), cams=camera_tables(), window=WINDOWS, radius=st.floats(1, 1500))
def test_equals_oracle_with_radius(s, cams, window, radius):
    ev = oracle_events(s, window, radius, cams)
    got = find_colocations(s, window, radius_m=radius, cameras=cams, events=True)
    pd.testing.assert_frame_equal(normalise_events(got), ev)
    pairs = find_colocations(s, window, radius_m=radius, cameras=cams)
    pd.testing.assert_frame_equal(pairs, oracle_pairs(ev))


@PROPS
@given(s=sightings_frames(), window=WINDOWS, seed=st.integers(0, 2**32 - 1))
def test_independent_of_row_order(s, window, seed):
    shuffled = s.sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(find_colocations(shuffled, window), find_colocations(s, window))
    pd.testing.assert_frame_equal(
        find_colocations(shuffled, window, events=True), find_colocations(s, window, events=True)
    )


@PROPS
@given(s=sightings_frames(), window=WINDOWS)
def test_symmetric_when_roles_swap(s, window):
    """Renaming subjects so that their string order reverses swaps the a and b roles of every
    pair and event; the co-locations themselves (counts, times, sightings) are unchanged."""
    names = sorted(set(s["pid"]))
    flip = {p: f"p{len(names) - i:03d}" for i, p in enumerate(names)}  # reverses the order
    back = {v: k for k, v in flip.items()}
    s2 = s.assign(pid=s["pid"].map(flip))
    ev = find_colocations(s, window, events=True)
    ev2 = find_colocations(s2, window, events=True)
    swapped = pd.DataFrame(
        {
            "pid_a": ev2["pid_b"].map(back),
            "pid_b": ev2["pid_a"].map(back),
            "camera_a": ev2["camera_b"],
            "camera_b": ev2["camera_a"],
            "ts_a": ev2["ts_b"],
            "ts_b": ev2["ts_a"],
            "sighting_a": ev2["sighting_b"],
            "sighting_b": ev2["sighting_a"],
            "confidence_a": ev2["confidence_b"],
            "confidence_b": ev2["confidence_a"],
        }
    )
    pd.testing.assert_frame_equal(normalise_events(swapped), normalise_events(ev))
    p = find_colocations(s, window)
    p2 = find_colocations(s2, window)
    p2 = p2.assign(pid_a=p2["pid_b"].map(back), pid_b=p2["pid_a"].map(back))
    p2 = p2.sort_values(["pid_a", "pid_b"], ignore_index=True)
    pd.testing.assert_frame_equal(p2, p)


def test_same_subject_never_meets_itself():
    """One subject seen five times at once at one camera, plus one other: 5 events, one pair."""
    ts = pd.Series([T("09:00:00")] * 6).astype("datetime64[us, UTC]")
    s = pd.DataFrame({"pid": ["x"] * 5 + ["y"], "camera_id": ["c"] * 6, "ts": ts})
    assert rows(find_colocations(s)) == [("x", "y", 5, T("09:00:00"), T("09:00:00"))]


def test_empty_and_no_match():
    empty = pd.DataFrame(
        {
            "pid": pd.Series([], dtype="str"),
            "camera_id": pd.Series([], dtype="str"),
            "ts": pd.Series([], dtype="datetime64[us, UTC]"),
        }
    )
    out = find_colocations(empty)
    assert out.empty and list(out.columns) == list(COLOCATION_PAIR_COLUMNS)
    lone = pd.DataFrame(
        {"pid": ["a", "b"], "camera_id": ["c1", "c2"], "ts": pd.Series([T("01:00:00")] * 2)}
    )
    assert find_colocations(lone).empty


def test_validation(street):
    s, cams = street
    with pytest.raises(UsageError, match="window must be >= 0"):
        find_colocations(s, window_s=-1)
    with pytest.raises(UsageError, match="radius_m must be >= 0"):
        find_colocations(s, radius_m=-5)
    with pytest.raises(UsageError, match="finite"):
        find_colocations(s, window_s=float("nan"))
    with pytest.raises(UsageError, match="needs a cameras table"):
        find_colocations(s, radius_m=10)
    with pytest.raises(UsageError, match="camera 'c3' has no lat/lon"):
        find_colocations(s, radius_m=10, cameras=cams[cams["camera_id"] != "c3"])
    with pytest.raises(UsageError, match="missing required column"):
        find_colocations(s.drop(columns=["camera_id"]))
    with pytest.raises(UsageError, match="sighting_id"):
        find_colocations(s.drop(columns=["sighting_id"]), events=True)
    naive = s.assign(ts=s["ts"].dt.tz_localize(None))
    with pytest.raises(UsageError, match="timezone-aware"):
        find_colocations(naive)
    gap = s.copy()
    gap.loc[3, "pid"] = None
    with pytest.raises(UsageError, match="row 3: pid is missing"):
        find_colocations(gap)
    # a Timedelta window is the same as its seconds
    pd.testing.assert_frame_equal(
        find_colocations(s, pd.Timedelta("1min")), find_colocations(s, 60)
    )
