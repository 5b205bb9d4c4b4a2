"""colocate_lake and map_event_partitions: Dask jobs over a real (tiny) lake.

The lake is written with pyarrow alone; results must equal find_colocations on the same rows
(itself held to a brute-force oracle in test_colocation.py) whatever the number of partitions.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.analytics import colocation as colo
from sightgraph.analytics.colocation import (
    EVENT_COLUMNS,
    colocate_lake,
    find_colocations,
    map_event_partitions,
)
from sightgraph.analytics.compute import resolve_scheduler
from sightgraph.errors import UsageError
from sightgraph.lake import read_params, read_sightings
from sightgraph.schema import COLOCATION_PAIR_COLUMNS

from .cli_imports import imports_pandas
from .colocation_oracle import (
    WINDOWS,
    camera_tables,
    normalise_events,
    oracle_crowd_kept,
    oracle_events,
    sightings_frames,
    write_lake,
)

LAKE_PROPS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _collect(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """All partitions' events in one frame (every partition frame, even empty, is typed)."""
    assert frames and all(list(f.columns) == list(EVENT_COLUMNS) for f in frames)
    return normalise_events(pd.concat(frames, ignore_index=True))


def _city(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A crowded little city over two UTC dates: 12 Zipf-popular cameras, 30 subjects."""
    rng = np.random.default_rng(seed)
    cams = [f"cam{i:02d}" for i in range(12)]
    p = 1 / np.arange(1, 13)
    cam = rng.choice(cams, n, p=p / p.sum())
    off = rng.integers(0, 3 * 3600 * 10**6, n)
    s = pd.DataFrame(
        {
            "sighting_id": np.arange(n, dtype=np.int64) * 7 + 1,
            "pid": pd.Series([f"p{x:02d}" for x in rng.integers(0, 30, n)], dtype="str"),
            "camera_id": pd.Series(cam, dtype="str"),
            "ts": pd.Series(
                pd.Timestamp("2026-03-02 22:30", tz="UTC") + pd.to_timedelta(off, unit="us")
            ).astype("datetime64[us, UTC]"),
            "confidence": np.round(rng.uniform(0.2, 1.0, n), 3),
        }
    )
    cameras = pd.DataFrame(
        {
            "camera_id": cams,
            "lat": 52.09 + rng.uniform(0, 0.004, 12),
            "lon": 5.12 + rng.uniform(0, 0.006, 12),
        }
    )
    return s, cameras


@pytest.fixture(scope="module")
def city_lake(tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    s, cams = _city()
    lake = write_lake(tmp_path_factory.mktemp("lake"), s, cams, split=3)
    return lake, read_sightings(lake), cams


@pytest.mark.parametrize("npartitions", [1, 2, 7])
def test_lake_pairs_equal_in_memory(city_lake, tmp_path, npartitions):
    lake, s, _ = city_lake
    out = tmp_path / "colocations.parquet"
    res = colocate_lake(lake, out, window_s=120, npartitions=npartitions, progress=False)
    got = pd.read_parquet(out)
    want = find_colocations(s, 120)
    assert len(want) > 50  # the city is crowded enough to matter
    pd.testing.assert_frame_equal(got, want)
    assert list(got.columns) == list(COLOCATION_PAIR_COLUMNS)
    assert res.pairs == len(want)
    assert res.events == int(want["n_events"].sum())
    params = read_params(out)
    assert params["window_s"] == 120 and params["radius_m"] == 0
    assert params["events"] == res.events and params["pairs"] == res.pairs


def test_lake_radius_events_and_confidence(city_lake, tmp_path):
    lake, s, cams = city_lake
    out, ev_dir = tmp_path / "p.parquet", tmp_path / "events"
    res = colocate_lake(
        lake, out, window_s=45, radius_m=250, events_out=ev_dir, npartitions=3, progress=False
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), find_colocations(s, 45, radius_m=250, cameras=cams)
    )
    ev = pd.read_parquet(ev_dir)
    want = find_colocations(s, 45, radius_m=250, cameras=cams, events=True)
    assert res.events == len(want) == len(ev)
    pd.testing.assert_frame_equal(normalise_events(ev), want)
    # min_confidence drops low-confidence sightings before matching
    colocate_lake(lake, out, window_s=45, min_confidence=0.6, progress=False)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), find_colocations(s[s["confidence"] >= 0.6], 45)
    )


@pytest.mark.parametrize("gain", [0.0, 2.0])
def test_lake_small_budgets_spill_and_slice(city_lake, tmp_path, monkeypatch, gain):
    """Tiny memory budgets: many sweep chunks, many buckets, buckets reduced in slices; chunks
    aggregated before spilling (gain 2.0) or, after the first, only split by bucket (0.0)."""
    lake, s, _ = city_lake
    monkeypatch.setattr(colo, "_AGGREGATE_MIN_GAIN", gain)
    monkeypatch.setattr(colo, "_AGGREGATE_PROBE_ROWS", 0)
    monkeypatch.setattr(colo, "_CHUNK_EVENTS", 7)
    monkeypatch.setattr(colo, "_BUCKET_ROWS", 40)
    monkeypatch.setattr(colo, "_ROW_GROUP", 16)
    monkeypatch.setattr(colo, "_CACHE_BITS", 1)
    out = tmp_path / "p.parquet"
    colocate_lake(lake, out, window_s=300, npartitions=2, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out), find_colocations(s, 300))


@LAKE_PROPS
@given(s=sightings_frames(max_rows=18), window=WINDOWS, npartitions=st.sampled_from([1, 2, 7]))
def test_lake_property_pairs_and_events(tmp_path_factory, s, window, npartitions):
    lake = write_lake(tmp_path_factory.mktemp("hyp"), s)
    if s.empty:
        with pytest.raises(UsageError, match="no sightings"):
            colocate_lake(lake, lake / "p.parquet", progress=False)
        return
    out = lake / "p.parquet"
    colocate_lake(lake, out, window_s=window, npartitions=npartitions, progress=False)
    ev = oracle_events(s, window)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), find_colocations(s, window), check_index_type=False
    )
    got = map_event_partitions(
        lake, lambda df: df, window_s=window, npartitions=npartitions, progress=False
    )
    assert len(got) == min(npartitions, s["camera_id"].nunique())
    pd.testing.assert_frame_equal(_collect(got), ev)


@LAKE_PROPS
@given(
    s=sightings_frames(max_rows=18),
    cams=camera_tables(),
    window=WINDOWS,
    radius=st.floats(1, 1500),
    npartitions=st.sampled_from([1, 2, 7]),
)
def test_lake_property_radius(tmp_path_factory, s, cams, window, radius, npartitions):
    if s.empty:
        return
    lake = write_lake(tmp_path_factory.mktemp("hyp"), s, cams)
    got = map_event_partitions(
        lake,
        lambda df: df,
        window_s=window,
        radius_m=radius,
        npartitions=npartitions,
        progress=False,
    )
    pd.testing.assert_frame_equal(_collect(got), oracle_events(s, window, radius, cams))


@LAKE_PROPS
@given(
    s=sightings_frames(max_rows=18),
    window=WINDOWS,
    cap=st.integers(0, 4),
    npartitions=st.sampled_from([1, 2, 7]),
)
def test_crowd_cap_equals_brute_force(tmp_path_factory, s, window, cap, npartitions):
    if s.empty:
        return
    lake = write_lake(tmp_path_factory.mktemp("hyp"), s)
    got = map_event_partitions(
        lake, lambda df: df, window_s=window, crowd_cap=cap, npartitions=npartitions, progress=False
    )
    kept = oracle_crowd_kept(s, window, cap)
    pd.testing.assert_frame_equal(_collect(got), oracle_events(kept, window))


def test_crowd_cap_hand_built(tmp_path):
    """At camera c, within 60 s: a, b, c, d at 10:00:00-10:00:03 (a crowd of four) and x, y at
    10:30:00. With crowd_cap=2 every crowd member has 3 others and is dropped; x and y (1 other
    each) stay: the only event is x-y. With crowd_cap=3 everything stays: 6 + 1 events."""
    t0 = pd.Timestamp("2026-03-02 10:00", tz="UTC")
    s = pd.DataFrame(
        {
            "sighting_id": np.arange(6, dtype=np.int64),
            "pid": ["a", "b", "c", "d", "x", "y"],
            "camera_id": ["c"] * 6,
            "ts": pd.Series(
                [t0 + pd.Timedelta(seconds=k) for k in (0, 1, 2, 3, 1800, 1800)]
            ).astype("datetime64[us, UTC]"),
            "confidence": 1.0,
        }
    )
    lake = write_lake(tmp_path, s)
    ev = _collect(map_event_partitions(lake, lambda df: df, crowd_cap=2, progress=False))
    assert list(zip(ev["pid_a"], ev["pid_b"], strict=True)) == [("x", "y")]
    ev3 = _collect(map_event_partitions(lake, lambda df: df, crowd_cap=3, progress=False))
    assert len(ev3) == 7


def test_map_event_partitions_keeps_cameras_whole(city_lake):
    lake, s, _ = city_lake
    seen = map_event_partitions(
        lake,
        lambda df: sorted(set(df["camera_a"]) | set(df["camera_b"])),
        npartitions=5,
        progress=False,
    )
    flat = [c for part in seen for c in part]
    assert len(flat) == len(set(flat))  # no camera's events are split over two calls
    frames = map_event_partitions(lake, lambda df: df, npartitions=5, progress=False)
    assert all(str(f["ts_a"].dtype) == "datetime64[us, UTC]" for f in frames)
    pd.testing.assert_frame_equal(_collect(frames), find_colocations(s, 60, events=True))


def test_lake_validation(city_lake, tmp_path):
    lake, _, _ = city_lake
    with pytest.raises(UsageError, match="window must be >= 0"):
        colocate_lake(lake, tmp_path / "p.parquet", window_s=-1, progress=False)
    with pytest.raises(UsageError, match="min_confidence"):
        colocate_lake(lake, tmp_path / "p.parquet", min_confidence=2, progress=False)
    with pytest.raises(UsageError, match="npartitions"):
        colocate_lake(lake, tmp_path / "p.parquet", npartitions=0, progress=False)
    with pytest.raises(UsageError, match="crowd_cap"):
        map_event_partitions(lake, len, crowd_cap=-1, progress=False)
    with pytest.raises(UsageError, match="no sightings"):
        colocate_lake(tmp_path / "nolake", tmp_path / "p.parquet", progress=False)
    bare = write_lake(tmp_path / "bare", read_sightings(lake))  # no cameras table
    with pytest.raises(UsageError, match="needs coordinates for every camera"):
        colocate_lake(bare, tmp_path / "p.parquet", radius_m=100, progress=False)


def test_unreachable_scheduler_is_a_usage_error(monkeypatch):
    from sightgraph.analytics import compute

    monkeypatch.setattr(compute, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    t = time.perf_counter()
    expected = f"cannot reach the Dask scheduler at {address}"
    with pytest.raises(UsageError, match=expected), resolve_scheduler(address):
        pass
    assert time.perf_counter() - t < 15
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    with pytest.raises(UsageError, match="DASK_SCHEDULER_ADDRESS"), resolve_scheduler(None):
        pass
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    with resolve_scheduler(None) as sched:
        assert sched.kind == "threads" and sched.num_workers >= 1


def test_sightings_files_are_the_datasets_files(city_lake, tmp_path):
    """The lister that spares `colocate` pyarrow.dataset (and pandas) finds what it finds."""
    import shutil

    from sightgraph.lake import sightings_dataset, sightings_files

    lake = tmp_path / "lake"
    shutil.copytree(city_lake[0], lake)
    day = next((lake / "sightings").iterdir())
    (day / ".part-9.parquet.tmp").write_bytes(b"x")  # hidden and private names are skipped
    (day / "_SUCCESS").write_bytes(b"")
    (lake / "sightings" / "_staging").mkdir()
    (lake / "sightings" / "_staging" / "part-0.parquet").write_bytes(b"x")
    (day / "nested").mkdir()
    shutil.copy(next(day.glob("part-*.parquet")), day / "nested" / "part-7.parquet")
    assert sightings_files(lake) == sorted(sightings_dataset(lake).files)
    assert any("nested" in f for f in sightings_files(lake))
    with pytest.raises(UsageError, match="no sightings"):
        sightings_files(tmp_path / "empty")


def test_colocate_cli_never_imports_pandas(city_lake, tmp_path):
    """`sightgraph colocate` reads and writes Parquet with pyarrow alone: importing pandas
    (0.3-0.5 s) would be a third of a small job's start-up."""
    out = tmp_path / "pairs.parquet"
    args = ["colocate", "--lake", str(city_lake[0]), "--out", str(out), "--window", "120s"]
    assert not imports_pandas(args, timeout=120)
    pd.testing.assert_frame_equal(pd.read_parquet(out), find_colocations(city_lake[1], 120))
