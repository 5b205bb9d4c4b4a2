"""Frequent contacts over a lake (the Dask job) and the ground-truth evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sightgraph.analytics.colocation import find_colocations
from sightgraph.analytics.contacts import (
    CONTACTS_COLUMNS,
    MODEL,
    build_meetings,
    camera_busyness,
    compute_contacts,
    score_contacts,
)
from sightgraph.analytics.contacts import job as contacts_job
from sightgraph.errors import UsageError
from sightgraph.lake import read_params
from sightgraph.synthetic.evaluation import evaluate_contacts, evaluate_contacts_dir

from .cli_imports import imports_pandas
from .contacts_oracle import friends_and_strangers, write_lake

KEY = "test-key"


def _in_memory(s: pd.DataFrame, window_s: float = 60, **kw) -> pd.DataFrame:
    m = build_meetings(find_colocations(s, window_s=window_s, events=True))
    return score_contacts(m, camera_busyness(s), s, window_s=window_s, **kw)


@pytest.fixture(scope="module")
def scenario() -> pd.DataFrame:
    s = friends_and_strangers(commuters=25, weekdays=10)
    rng = np.random.default_rng(1)
    s["confidence"] = np.round(rng.uniform(0.5, 1.0, len(s)), 3)
    return s


@pytest.mark.parametrize(
    ("window_s", "write_rows", "spill", "chunk"),
    [
        (60, None, False, None),
        (2, None, False, None),
        (60, 7, False, None),
        (60, None, True, None),
        (60, 7, True, 5),
        (2, None, False, 1),
    ],
)
def test_lake_job_equals_in_memory(
    tmp_path, scenario, window_s, write_rows, spill, chunk, monkeypatch
):
    """The Dask job over a lake gives exactly the in-memory table (any window, several
    partitions and buckets, each bucket scored in chunks of whole pairs, the table written in
    chunks merged from the buckets, held in memory or, for large jobs, in files), with the
    parameters in the file's metadata."""
    if write_rows is not None:
        monkeypatch.setattr(contacts_job, "_WRITE_ROWS", write_rows)
    if chunk is not None:
        monkeypatch.setattr(contacts_job, "_SCORE_CHUNK_MEETINGS", chunk)
    if spill:
        monkeypatch.setattr(contacts_job, "KEEP_IN_MEMORY_MEETINGS", 0)
    lake = write_lake(tmp_path / "lake", scenario)
    out = tmp_path / "contacts.parquet"
    res = compute_contacts(
        lake, out, window_s=window_s, progress=False, npartitions=3, scheduler="threads"
    )
    got = pd.read_parquet(out)
    want = _in_memory(scenario, window_s=window_s)
    assert list(got.columns) == list(CONTACTS_COLUMNS)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert res.pairs == len(got) == res.pairs_met
    params = read_params(out)
    assert (
        params["window_s"] == window_s and params["model"] == MODEL and params["crowd_cap"] is None
    )
    assert (
        params["family_pairs"] == scenario["pid"].nunique() * (scenario["pid"].nunique() - 1) // 2
    )
    assert "pairs scored" in res.summary()
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == (-(-len(got) // write_rows) if write_rows else 1)
    chunks = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i)
              for i in range(meta.num_columns)}  # fmt: skip
    # floats compressed (most are 0, 1 or repeated ratios), counts delta-packed
    assert chunks["p_value"].compression == chunks["score"].compression == "SNAPPY"
    assert "DELTA_BINARY_PACKED" in chunks["meetings"].encodings
    # every column required (no nulls, no definition levels to write)
    assert all(meta.schema.column(i).max_definition_level == 0 for i in range(meta.num_columns))
    # statistics for the sort key only: each row group's score range, in descending order
    ranges = []
    for g in range(meta.num_row_groups):
        rg = {meta.row_group(g).column(i).path_in_schema: meta.row_group(g).column(i)
              for i in range(meta.num_columns)}  # fmt: skip
        assert not rg["pid_a"].is_stats_set and not rg["p_value"].is_stats_set
        stats = rg["score"].statistics
        ranges.append((stats.max, stats.min))
    assert ranges == sorted(ranges, reverse=True)
    assert ranges[0][0] == got["score"].max() and ranges[-1][1] == got["score"].min()


def _capped(s: pd.DataFrame, cap: int, window_s: float) -> pd.DataFrame:
    """Brute force: drop sightings with more than ``cap`` sightings of others within the window."""
    t = ((s["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy()
    keep = []
    for i in range(len(s)):
        near = (s["camera_id"].to_numpy() == s["camera_id"].iat[i]) & (
            np.abs(t - t[i]) <= window_s * 1_000_000
        )
        others = near & (s["pid"].to_numpy() != s["pid"].iat[i])
        keep.append(others.sum() <= cap)
    return s[np.array(keep)]


def test_crowd_cap_is_applied_to_events_and_null_alike(tmp_path, scenario):
    """With a crowd cap, the job equals: events of the capped sightings (brute-force cap), scored
    with the null replaying the same capped sightings; the cap is in the metadata."""
    cap = 1
    lake = write_lake(tmp_path / "lake", scenario)
    out = tmp_path / "contacts.parquet"
    res = compute_contacts(lake, out, crowd_cap=cap, progress=False)
    capped = _capped(scenario, cap, 60)
    assert len(capped) < len(scenario)
    m = build_meetings(find_colocations(capped, events=True))
    want = score_contacts(m, camera_busyness(scenario), scenario, crowd_cap=cap)
    pd.testing.assert_frame_equal(pd.read_parquet(out), want, check_exact=False, rtol=1e-12)
    assert read_params(out)["crowd_cap"] == cap
    assert read_params(out)["null_sightings"] == len(capped)
    assert f"crowd cap {cap}" in res.summary()


def test_min_confidence_filters_everything(tmp_path, scenario):
    """Rows below the floor are gone for events, null and family alike: subjects seen only
    below it (``ghost*``, in the same files as everyone) are not subjects, so the q-values'
    family is that of the kept sightings."""
    ghosts = scenario.iloc[:40].copy()
    ghosts["pid"] = [f"ghost{i % 4}" for i in range(len(ghosts))]
    ghosts["confidence"] = 0.6
    s = pd.concat([scenario, ghosts], ignore_index=True)
    lake = write_lake(tmp_path / "lake", s)
    out = tmp_path / "contacts.parquet"
    compute_contacts(lake, out, min_confidence=0.75, progress=False)
    kept = s[s["confidence"] >= 0.75]
    got = pd.read_parquet(out)
    pd.testing.assert_frame_equal(got, _in_memory(kept), check_exact=False, rtol=1e-12)
    assert read_params(out)["subjects"] == kept["pid"].nunique() < s["pid"].nunique()
    assert not got["pid_a"].str.startswith("ghost").any()


def test_contacts_cli_never_imports_pandas(tmp_path, scenario):
    """`sightgraph contacts` over a lake reads and writes Parquet with pyarrow alone (pandas'
    import is a third of a second of a small job), and its table is the in-memory one."""
    lake = write_lake(tmp_path / "lake", scenario)
    out = tmp_path / "contacts.parquet"
    assert not imports_pandas(["contacts", "--lake", str(lake), "--out", str(out)])
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), _in_memory(scenario), check_exact=False, rtol=1e-12
    )


def test_lake_bad_input(tmp_path, scenario, monkeypatch):
    lake = write_lake(tmp_path / "lake", scenario)
    out = tmp_path / "c.parquet"
    with pytest.raises(UsageError, match="window"):
        compute_contacts(lake, out, window_s=-1, progress=False)
    with pytest.raises(UsageError, match="gap"):
        compute_contacts(lake, out, gap_s=-1, progress=False)
    with pytest.raises(UsageError, match="crowd_cap"):
        compute_contacts(lake, out, crowd_cap=-2, progress=False)
    with pytest.raises(UsageError, match="no sightings"):
        compute_contacts(tmp_path / "empty", out, progress=False)
    with pytest.raises(UsageError, match="directory"):
        compute_contacts(lake, tmp_path, progress=False)
    # a camera whose crowd would not fit in memory asks for a crowd cap instead of starting
    monkeypatch.setattr(contacts_job, "MAX_PARTITION_EVENTS", 5)
    with pytest.raises(UsageError, match="crowd-cap"):
        compute_contacts(lake, out, progress=False)
    assert not out.exists()


def test_lake_without_meetings_writes_an_empty_table(tmp_path):
    s = pd.DataFrame(
        {
            "pid": ["a", "b"],
            "camera_id": ["c1", "c2"],
            "ts": pd.to_datetime(["2026-03-02 08:00"] * 2, utc=True),
        }
    )
    lake = write_lake(tmp_path / "lake", s)
    out = tmp_path / "c.parquet"
    res = compute_contacts(lake, out, progress=False)
    got = pd.read_parquet(out)
    assert res.pairs == 0 and list(got.columns) == list(CONTACTS_COLUMNS) and len(got) == 0


# ---------------------------------------------------------------------------------------------
# evaluation


def test_evaluate_contacts_hand_built():
    """Four listed pairs: ties (a,b) and (c,d), a stranger pair (e,f), a background pair (a,c).
    The score ranks a-b, e-f, c-d, a-c: K = 2 ties listed, top 2 = a-b, e-f -> precision 0.5 and
    one stranger; AUC = 3 of 4 (tie, non-tie) pairs ordered right = 0.75. The event count ranks
    e-f, a-c, a-b, c-d: precision 0, AUC 0. q < 0.05 holds for a-b and e-f."""
    contacts = pd.DataFrame(
        {
            "pid_a": ["a", "e", "c", "a"],
            "pid_b": ["b", "f", "d", "c"],
            "score": [4.0, 3.0, 2.0, 1.0],
            "n_events": [2, 9, 1, 5],
            "q_value": [0.01, 0.02, 0.5, 0.9],
        }
    )
    ties = pd.DataFrame(
        {
            "subject_a": ["b", "c", "x"],
            "subject_b": ["a", "d", "y"],
            "kind": ["household", "friends", "friends"],
        }
    )
    strangers = pd.DataFrame({"subject_a": ["e"], "subject_b": ["f"]})
    r = evaluate_contacts(contacts, ties, strangers)
    assert (r["k"], r["ties"], r["strangers"]) == (2, 3, 1)
    assert r["precision_at_k"] == 0.5 and r["strangers_in_top_k"] == 1
    assert r["auc"] == pytest.approx(0.75)
    assert r["precision_at_k_baseline"] == 0.0 and r["auc_baseline"] == pytest.approx(0.0)
    assert r["recall_household"] == 1.0 and r["recall_friends"] == 0.0
    # ties against strangers only: a-b, e-f, c-d -> top 2 holds one tie
    assert r["precision_at_k_vs_strangers"] == 0.5
    assert r["auc_friends_vs_strangers"] == pytest.approx(0.0)
    # q < 0.05: a-b (a tie) and e-f (a stranger)
    assert (r["significant"], r["precision_significant"], r["strangers_significant"]) == (2, 0.5, 1)


def test_evaluate_contacts_pseudonymises_truth():
    from sightgraph.ingest.pseudonymize import pseudonymize_ids

    raw = pd.Series(["a", "b", "e", "f"])
    pid = dict(zip(raw, pseudonymize_ids(raw, KEY), strict=True))
    pa_, pb_ = sorted([pid["a"], pid["b"]]), sorted([pid["e"], pid["f"]])
    contacts = pd.DataFrame(
        {
            "pid_a": [pa_[0], pb_[0]],
            "pid_b": [pa_[1], pb_[1]],
            "score": [2.0, 1.0],
            "n_events": [1, 5],
        }
    )
    ties = pd.DataFrame({"subject_a": ["a"], "subject_b": ["b"], "kind": ["friends"]})
    strangers = pd.DataFrame({"subject_a": ["f"], "subject_b": ["e"]})
    r = evaluate_contacts(contacts, ties, strangers, key=KEY)
    assert r["precision_at_k"] == 1.0 and r["auc"] == 1.0 and r["auc_baseline"] == 0.0
    with pytest.raises(UsageError, match="key"):
        evaluate_contacts(contacts, ties, strangers, key="another key")
    with pytest.raises(UsageError, match="score"):
        evaluate_contacts(contacts.drop(columns="score"), ties, strangers, key=KEY)


@pytest.mark.slow
def test_generated_city_end_to_end(tmp_path):
    """Generate -> ingest (pseudonymised) -> contacts -> evaluate against the planted truth.

    The issue's targets, on a small city: precision at K of at least 0.9 where the raw event
    count reaches less, no routine stranger in the top K (the raw count has some) and none
    significant; on associates against routine strangers the score beats the raw count, friends
    above all (see benchmarks/contacts/RESULTS.md for 1M and 3M sightings)."""
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city

    city = generate_city(persons=400, days=14, seed=3)
    paths = write_city(city, tmp_path / "city")
    lake = tmp_path / "lake"
    ingest(paths["sightings"], lake, cameras=paths["cameras"], key=KEY, progress=False)
    out = tmp_path / "contacts.parquet"
    compute_contacts(lake, out, progress=False)
    r = evaluate_contacts_dir(out, tmp_path / "city", key=KEY)
    assert r["k"] > 0.9 * len(city.ties)
    assert r["auc"] > 0.9
    assert r["precision_at_k"] >= 0.9 > r["precision_at_k_baseline"]
    assert r["strangers_in_top_k"] == 0 < r["strangers_in_top_k_baseline"]
    assert r["auc_vs_strangers"] > r["auc_vs_strangers_baseline"] + 0.02
    assert r["precision_at_k_vs_strangers"] > r["precision_at_k_vs_strangers_baseline"]
    assert r["auc_friends_vs_strangers"] > 0.95 > 0.9 > r["auc_friends_vs_strangers_baseline"]
    assert min(r["recall_household"], r["recall_coworkers"]) > 0.9
    assert r["strangers_significant"] == 0 and r["precision_significant"] > 0.8


def test_lake_job_with_radius(tmp_path, scenario):
    """R > 0 over a lake equals the in-memory result (cross-camera events and null alike)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sightgraph.schema import CAMERAS_ARROW

    cams = sorted(scenario["camera_id"].unique())
    rng = np.random.default_rng(5)
    cameras = pd.DataFrame(
        {
            "camera_id": cams,
            "lat": 52.0 + rng.uniform(0, 0.002, len(cams)),
            "lon": 5.0 + rng.uniform(0, 0.002, len(cams)),
            "name": cams,
            "site": "x",
        }
    )
    lake = write_lake(tmp_path / "lake", scenario)
    (lake / "cameras").mkdir()
    pq.write_table(
        pa.Table.from_pandas(cameras, schema=CAMERAS_ARROW, preserve_index=False),
        lake / "cameras" / "cameras.parquet",
    )
    out = tmp_path / "contacts.parquet"
    compute_contacts(lake, out, radius_m=60, progress=False)
    m = build_meetings(find_colocations(scenario, radius_m=60, cameras=cameras, events=True))
    want = score_contacts(m, camera_busyness(scenario), scenario, radius_m=60, cameras=cameras)
    got = pd.read_parquet(out)
    assert len(got) > len(_in_memory(scenario))  # the radius adds cross-camera pairs
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("spill", [False, True])
def test_lake_job_ranked_by_exposure_equals_in_memory(tmp_path, scenario, spill, monkeypatch):
    """``rank='exposure'`` through the job (the pairs held in memory or waiting in files, the
    exposure returned to the driver only for this order) gives the in-memory table."""
    if spill:
        monkeypatch.setattr(contacts_job, "KEEP_IN_MEMORY_MEETINGS", 0)
    lake = write_lake(tmp_path / "lake", scenario)
    out = tmp_path / "contacts.parquet"
    compute_contacts(lake, out, rank="exposure", progress=False, npartitions=3, scheduler="threads")
    got = pd.read_parquet(out)
    want = _in_memory(scenario, window_s=60, rank="exposure")
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert got["exposure_s"].is_monotonic_decreasing


def test_columns_computed_at_write_time_follow_their_definitions(tmp_path, scenario, monkeypatch):
    """A large job keeps excess, sri and hwi off disk and counts as int32 while it orders the
    table; the written columns are int64 and the derived ones follow their definitions."""
    monkeypatch.setattr(contacts_job, "KEEP_IN_MEMORY_MEETINGS", 0)
    lake = write_lake(tmp_path / "lake", scenario)
    out = tmp_path / "contacts.parquet"
    compute_contacts(lake, out, progress=False, npartitions=3, scheduler="threads")
    c = pd.read_parquet(out)
    for f in ("meetings", "days", "places", "n_events", "days_a", "days_b", "days_both"):
        assert c[f].dtype == np.int64
    x = c["days"]
    y_ab = (c["days_both"] - c["days"]).clip(lower=0)
    y_a, y_b = c["days_a"] - c["days_both"], c["days_b"] - c["days_both"]
    assert np.allclose(c["sri"], x / (x + y_a + y_b + y_ab), rtol=1e-15, atol=0)
    assert np.allclose(c["hwi"], x / (x + y_ab + (y_a + y_b) / 2), rtol=1e-15, atol=0)
    assert np.array_equal(c["excess"], c["meetings"] - c["expected"])
    assert (c["sri"] > 0).all() and (c["hwi"] <= 1).all()


def test_counts_wait_on_disk_as_int32_only_when_they_fit():
    assert contacts_job._spill_dtype("n_events", 2**31) == np.int64
    assert contacts_job._spill_dtype("n_events", 2**31 - 1) == np.int32
    assert contacts_job._spill_dtype("days_both", 5) == np.int32
    assert contacts_job._spill_dtype("first_ts", 5) == np.int64  # not a count
    assert contacts_job._spill_dtype("expected", 5) == np.float64


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_buckets_share_the_expected_pairs(seed):
    """A pair goes to the bucket of its smaller code, so equal sightings per bucket would give
    the first bucket most pairs: the buckets share ``c_a * (sightings of bigger codes)``."""
    counts = np.random.default_rng(seed).integers(1, 200, 3000)
    bucket_of = contacts_job._buckets(counts, 4)
    assert bucket_of.min() == 0 and bucket_of.max() == 3
    assert (np.diff(bucket_of) >= 0).all()  # ranges of codes
    c = counts.astype(np.float64)
    pairs = c * (c.sum() - np.cumsum(c))  # expected pairs owned by each code
    share = np.bincount(bucket_of, weights=pairs) / pairs.sum()
    assert np.abs(share - 0.25).max() < 0.02, share
    assert np.count_nonzero(bucket_of == 0) < np.count_nonzero(bucket_of == 3)


def test_recode_maps_sightings_and_refuses_an_event_naming_an_unknown_id():
    """A partition's sightings' codes go into the job's dictionary; an id the job does not
    know (only in rows below its confidence floor) may be among the sightings, but no event may
    name it."""
    import pyarrow as pa

    source = pa.array(["a", "b", "low", "c"])  # the partition's dictionary
    target = pa.array(["a", "b", "c"])  # the job's: "low" had no sighting it keeps
    codes = np.array([3, 0, 2, 1], np.int32)  # sightings: c, a, low, b
    rows_a, rows_b = np.array([1, 1]), np.array([3, 0])  # events a-b, a-c
    got = contacts_job._recode(codes, rows_a, rows_b, source, target, "a subject")
    assert got[[0, 1, 3]].tolist() == [2, 0, 1]
    with pytest.raises(RuntimeError, match="names a subject that the contacts job does not know"):
        contacts_job._recode(codes, rows_a, np.array([3, 2]), source, target, "a subject")
