"""The second synthetic town (``sightgraph.synthetic.town``): determinism, schema, planted truth."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.synthetic.town import Town, generate_town, read_town_truth, write_town

TIE_KINDS = {"partners", "family", "club", "colleagues-close", "carpool", "friends"}


@pytest.fixture(scope="module")
def town() -> Town:
    return generate_town(persons=800, days=10, seed=1)


def _local_seconds(ts: pd.Series, tz: str, start: str) -> np.ndarray:
    local = ts.dt.tz_convert(tz).dt.tz_localize(None)
    return ((local - pd.Timestamp(start)) / pd.Timedelta(seconds=1)).to_numpy()


def _colocations(town: Town, window: float = 60.0) -> pd.DataFrame:
    """Every pair of sightings of two subjects at the same camera within ``window`` seconds."""
    s = town.sightings
    cam = s["camera_id"].to_numpy(dtype=object)
    sub = s["subject_id"].to_numpy(dtype=object)
    t = _local_seconds(s["ts"], town.params["timezone"], town.params["start"])
    o = np.lexsort((t, cam))
    cam, sub, t = cam[o], sub[o], t[o]
    a, b, tt, cc = [], [], [], []
    k = 1
    while k < len(t):
        near = (cam[k:] == cam[:-k]) & (t[k:] - t[:-k] <= window)
        if not near.any():
            break
        m = near & (sub[k:] != sub[:-k])
        a.append(sub[:-k][m])
        b.append(sub[k:][m])
        tt.append(t[:-k][m])
        cc.append(cam[:-k][m])
        k += 1
    x, y = np.concatenate(a), np.concatenate(b)
    lo = np.where(x < y, x, y)
    hi = np.where(x < y, y, x)
    tcat = np.concatenate(tt)
    return pd.DataFrame(
        {
            "subject_a": lo,
            "subject_b": hi,
            "camera_id": np.concatenate(cc),
            "day": (tcat // 86400).astype(int),
            "tod": tcat % 86400,
        }
    )


def test_deterministic_for_a_seed() -> None:
    a = generate_town(persons=200, days=5, seed=7)
    b = generate_town(persons=200, days=5, seed=7)
    c = generate_town(persons=200, days=5, seed=8)
    pd.testing.assert_frame_equal(a.sightings, b.sightings)
    pd.testing.assert_frame_equal(a.ties, b.ties)
    pd.testing.assert_frame_equal(a.strangers, b.strangers)
    pd.testing.assert_frame_equal(a.persons, b.persons)
    pd.testing.assert_frame_equal(a.cameras, b.cameras)
    assert a.params == b.params
    assert not a.sightings.equals(c.sightings)


def test_schema(town: Town) -> None:
    s = town.sightings
    assert list(s.columns) == ["subject_id", "camera_id", "ts", "confidence"]
    assert pd.api.types.is_string_dtype(s["subject_id"])
    assert pd.api.types.is_string_dtype(s["camera_id"])
    assert str(s["ts"].dtype) == "datetime64[us, UTC]"
    assert s["confidence"].dtype == np.float64
    assert s["confidence"].between(0.0, 1.0).all()
    assert not s.isna().any().any()
    assert s["ts"].is_monotonic_increasing
    start = pd.Timestamp(town.params["start"]).tz_localize(town.params["timezone"])
    assert s["ts"].min() >= start
    assert s["ts"].max() < start + pd.Timedelta(days=town.params["days"]) + pd.Timedelta(hours=1)
    assert set(s["camera_id"]) <= set(town.cameras["camera_id"])
    assert town.cameras["camera_id"].is_unique
    assert {"camera_id", "lat", "lon", "name", "kind"} <= set(town.cameras.columns)
    assert town.persons["subject_id"].is_unique
    assert len(town.persons) == 800
    assert set(s["subject_id"]) <= set(town.persons["subject_id"])
    # a plausible volume: several sightings per person and day
    per_person_day = len(s) / (800 * 10)
    assert 3 < per_person_day < 40


def test_confidence_is_informative_but_noisy(town: Town) -> None:
    assert 0.0 < town.params["false_matches"] / len(town.sightings) < 0.1
    assert town.sightings["confidence"].std() > 0.05


def test_truth_pairs_are_valid_and_disjoint(town: Town) -> None:
    ids = set(town.persons["subject_id"])
    ties, strangers = town.ties, town.strangers
    assert len(ties) > 0 and len(strangers) > 0
    for df in (ties, strangers):
        assert set(df["subject_a"]) <= ids and set(df["subject_b"]) <= ids
        assert (df["subject_a"] < df["subject_b"]).all()
        assert not df.duplicated(["subject_a", "subject_b"]).any()
    assert set(ties["kind"]) <= TIE_KINDS
    assert {"partners", "family", "club", "friends"} <= set(ties["kind"])
    assert (strangers["kind"] == "routine").all()
    assert set(strangers["venue"]) <= {"stop", "school", "gym"}
    tie_keys = set(zip(ties["subject_a"], ties["subject_b"], strict=True))
    str_keys = set(zip(strangers["subject_a"], strangers["subject_b"], strict=True))
    assert not tie_keys & str_keys
    assert set(strangers["camera_id"]) <= set(town.cameras["camera_id"])
    assert town.params["strangers"] == len(strangers) <= town.params["strangers_max"]


def test_strangers_share_their_slot_on_most_days(town: Town) -> None:
    st = town.strangers
    need = np.maximum(2, np.ceil(0.5 * st["slot_days"]))
    assert (st["days_shared"] >= need).all()
    assert (st["days_shared"] <= st["slot_days"]).all()
    # and the cameras see it: co-located at the slot camera near the slot time on several days
    ev = _colocations(town)
    m = ev.merge(st, on=["subject_a", "subject_b"], suffixes=("", "_slot"))
    at = m[(m["camera_id"] == m["camera_id_slot"]) & ((m["tod"] - m["slot_tod_s"]).abs() <= 3600)]
    seen = at.groupby(["subject_a", "subject_b"])["day"].nunique()
    seen = seen.reindex(pd.MultiIndex.from_frame(st[["subject_a", "subject_b"]]), fill_value=0)
    assert (seen >= 2).mean() > 0.4
    for venue, share in (("stop", 0.6), ("gym", 0.3)):
        v = (st["venue"] == venue).to_numpy()
        if v.sum() >= 10:
            assert (seen.to_numpy()[v] >= 2).mean() > share, venue


def test_ties_colocate_more_than_strangers_outside_their_slot(town: Town) -> None:
    ev = _colocations(town)
    days = ev.groupby(["subject_a", "subject_b"])["day"].nunique().rename("days").reset_index()
    ties = town.ties.merge(days, on=["subject_a", "subject_b"], how="left").fillna({"days": 0})
    m = ev.merge(town.strangers, on=["subject_a", "subject_b"], suffixes=("", "_slot"))
    in_slot = (m["camera_id"] == m["camera_id_slot"]) | (
        (m["tod"] >= m["slot_tod_s"] - 1800) & (m["tod"] <= m["slot_tod_s"] + 5400)
    )
    out = m[~in_slot].groupby(["subject_a", "subject_b"])["day"].nunique().rename("days")
    out = out.reset_index()
    st = town.strangers.merge(out, on=["subject_a", "subject_b"], how="left").fillna({"days": 0})
    assert ties["days"].mean() > 1.5 * st["days"].mean()
    # co-residents and carpools are the strongest; weak ties exist too
    strong = ties[ties["kind"].isin(["partners", "carpool"])]["days"].mean()
    assert strong > 2.5 * st["days"].mean()
    assert (ties["days"] == 0).any()


def test_small_town_is_fast() -> None:
    t = time.perf_counter()
    tw = generate_town(persons=200, days=5, seed=0)
    assert time.perf_counter() - t < 3.0
    assert len(tw.sightings) > 1000


def test_odd_calendars() -> None:
    # a single day, a weekend start, and a DST change (2026-03-29 in Europe/Berlin)
    for persons, days, start in (
        (20, 1, "2026-03-02"),
        (60, 3, "2026-03-07"),
        (80, 3, "2026-03-28"),
    ):
        tw = generate_town(persons=persons, days=days, seed=3, start=start)
        assert len(tw.sightings) > 0
        assert str(tw.sightings["ts"].dtype) == "datetime64[us, UTC]"
        assert tw.params["days"] == days


def test_write_and_read_back(tmp_path: Path) -> None:
    tw = generate_town(persons=200, days=5, seed=2)
    write_town(tw, tmp_path)
    s = pd.read_parquet(tmp_path / "sightings.parquet")
    assert len(s) == len(tw.sightings)
    assert str(s["ts"].dtype) == "datetime64[us, UTC]"
    assert (s["ts"].to_numpy() == tw.sightings["ts"].to_numpy()).all()
    cams = pd.read_csv(tmp_path / "cameras.csv")
    assert list(cams.columns)[:3] == ["camera_id", "lat", "lon"]
    ties, strangers, persons, params = read_town_truth(tmp_path)
    assert params == tw.params
    for got, want, key in (
        (ties, tw.ties, "subject_a"),
        (strangers, tw.strangers, "subject_a"),
        (persons, tw.persons, "subject_id"),
    ):
        assert list(got.columns) == list(want.columns)
        assert len(got) == len(want)
        assert (got[key].to_numpy() == want[key].to_numpy()).all()
    assert (tmp_path / "truth" / "outages.csv").exists()
    assert math.isfinite(float(cams["lat"].mean()))
