"""Loaders of the contact benchmark's real data sets (benchmarks/contacts/sources.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.analytics.colocation import find_colocations
from sightgraph.analytics.trajectories import haversine_m

DATA = Path("/work/shared/data")
pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"benchmark data sets not present ({DATA} is missing)"
)

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "contacts" / "sources.py"


def _load_module():
    name = "bench_contacts_sources"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look the module up while the class is built
    spec.loader.exec_module(mod)
    return mod


S = _load_module()


@pytest.fixture(scope="module")
def zara():
    return S.zara()


@pytest.fixture(scope="module")
def school():
    return S.primaryschool()


@pytest.fixture(scope="module")
def wytham():
    return S.wytham()


def _check_pairs(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["pid_a", "pid_b", "kind"]
    for col in ("pid_a", "pid_b", "kind"):
        assert pd.api.types.is_string_dtype(df[col])
    assert (df["pid_a"] < df["pid_b"]).all()
    assert not df.duplicated(["pid_a", "pid_b"]).any()


def _check_schema(src) -> None:
    s = src.sightings
    assert list(s.columns) == ["sighting_id", "pid", "camera_id", "ts", "confidence"]
    assert s["sighting_id"].dtype == np.int64
    assert s["sighting_id"].is_unique
    assert pd.api.types.is_string_dtype(s["pid"])
    assert pd.api.types.is_string_dtype(s["camera_id"])
    assert s["ts"].dtype == pd.DatetimeTZDtype("us", "UTC")
    assert s["confidence"].dtype == np.float64
    assert s[["pid", "camera_id", "ts"]].notna().all().all()
    assert not s.duplicated(["pid", "camera_id", "ts"]).any()
    _check_pairs(src.ties)
    if src.negatives is not None:
        _check_pairs(src.negatives)
        both = src.ties.merge(src.negatives, on=["pid_a", "pid_b"])
        assert both.empty
    if src.cameras is not None:
        assert list(src.cameras.columns) == ["camera_id", "lat", "lon"]
        assert src.cameras["camera_id"].is_unique
        assert set(s["camera_id"]) <= set(src.cameras["camera_id"])
        assert src.cameras[["lat", "lon"]].notna().all().all()
    assert src.window_s > 0 and src.gap_s > 0
    assert isinstance(src.notes, str) and len(src.notes) > 100


def _tie_colocated_share(src) -> float:
    pairs = find_colocations(src.sightings, window_s=src.window_s)
    got = set(zip(pairs["pid_a"], pairs["pid_b"], strict=True))
    hits = [p in got for p in zip(src.ties["pid_a"], src.ties["pid_b"], strict=True)]
    return float(np.mean(hits))


# ---------------------------------------------------------------------------------------------
# zara


def test_zara_schema_and_counts(zara):
    _check_schema(zara)
    assert (zara.window_s, zara.gap_s) == (2.0, 5.0)
    pids = zara.sightings["pid"]
    assert pids.str.startswith("z1_").sum() > 0
    assert pids[pids.str.startswith("z1_")].nunique() == 148
    assert pids[pids.str.startswith("z2_")].nunique() == 204
    assert len(zara.ties) == 143
    assert (zara.ties["kind"] == "group").all()
    # each scene on its own date
    day = zara.sightings["ts"].dt.strftime("%Y-%m-%d")
    assert set(day[pids.str.startswith("z1_")]) == {"2007-03-05"}
    assert set(day[pids.str.startswith("z2_")]) == {"2007-03-06"}


def test_zara_single_scene():
    z1 = S.zara("zara01")
    assert z1.sightings["pid"].nunique() == 148
    assert len(z1.ties) == 73  # 36 pairs + 7 triples + one group of 4 and one of 5
    assert z1.sightings["ts"].min() == pd.Timestamp("2007-03-05 10:00", tz="UTC")
    z2 = S.zara("zara02")
    assert z2.sightings["pid"].nunique() == 204
    assert len(z2.ties) == 70
    with pytest.raises(ValueError):
        S.zara("zara03")


def test_zara_sightings_rule():
    """Enter a cell -> a sighting; then one every 2 s while staying in it."""
    z = S.zara("zara01").sightings
    obs = pd.read_csv(
        DATA / "ucy_zara_groups" / "zara01" / "obsmat.txt", sep=r"\s+", header=None
    ).iloc[:, [0, 1, 2, 4]]
    obs.columns = ["frame", "ped", "x", "y"]
    # the first annotation of every pedestrian is a sighting at its time and cell
    first = obs.sort_values("frame").groupby("ped").first()
    ts0 = pd.Timestamp("2007-03-05 10:00", tz="UTC")
    for ped, row in first.head(20).iterrows():
        pid = f"z1_{int(ped)}"
        ts = ts0 + pd.Timedelta(seconds=(row["frame"] - 1) / 10 * 0.4)
        cam = f"z1_c{int(np.floor(row['x'] / 2.5))}_{int(np.floor(row['y'] / 2.5))}"
        hit = z[(z["pid"] == pid) & (z["ts"] == ts)]
        assert hit["camera_id"].tolist() == [cam]
    # within a camera, one pedestrian's consecutive sightings of one visit are 2 s apart
    d = z.sort_values(["pid", "ts"])
    same = (d["pid"] == d["pid"].shift()) & (d["camera_id"] == d["camera_id"].shift())
    gaps = (d["ts"] - d["ts"].shift())[same].dt.total_seconds()
    assert len(gaps) > 0
    assert (gaps >= 2.0 - 1e-9).all()
    assert np.isclose(gaps.min(), 2.0)


def test_zara_cameras_are_cell_centres_in_metres(zara):
    cams = zara.cameras.set_index("camera_id")
    # two horizontally adjacent cells of a scene are 2.5 m apart
    ids = [c for c in cams.index if c.startswith("z1_c")]
    ix_iy = {c: tuple(int(v) for v in c[len("z1_c") :].split("_")) for c in ids}
    pair = next((a, b) for a in ids for b in ids if ix_iy[b] == (ix_iy[a][0] + 1, ix_iy[a][1]))
    a, b = cams.loc[pair[0]], cams.loc[pair[1]]
    dist = float(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]))
    assert abs(dist - 2.5) < 0.01


def test_zara_most_ties_colocate(zara):
    assert _tie_colocated_share(zara) > 0.5


# ---------------------------------------------------------------------------------------------
# primary school


def test_primaryschool_schema_and_counts(school):
    _check_schema(school)
    assert school.cameras is None
    assert (school.window_s, school.gap_s) == (20.0, 120.0)
    s = school.sightings
    assert s["pid"].nunique() == 242
    assert s["camera_id"].nunique() == 242
    assert s["camera_id"].str.startswith("b").all()
    # every badge sees itself whenever it is in a contact
    own = s[s["camera_id"] == "b" + s["pid"]]
    assert len(own) == len(s.drop_duplicates(["pid", "ts"]))
    # day 1 08:40 local (CEST) = 06:40 UTC; two school days
    assert s["ts"].min() == pd.Timestamp("2009-10-01 06:40:20", tz="UTC")
    assert set(s["ts"].dt.strftime("%Y-%m-%d")) == {"2009-10-01", "2009-10-02"}


def test_primaryschool_ties_are_same_class(school):
    meta = pd.read_csv(
        DATA / "primaryschool" / "primaryschool_metadata.txt",
        sep="\t",
        header=None,
        usecols=[0, 1],
        names=["i", "c"],
        dtype=str,
    )
    sizes = meta[meta["c"] != "Teachers"]["c"].value_counts()
    assert len(sizes) == 10
    assert len(school.ties) == int((sizes * (sizes - 1) // 2).sum())
    cls = meta.set_index("i")["c"]
    assert (cls.reindex(school.ties["pid_a"]).to_numpy() == school.ties["kind"].to_numpy()).all()
    assert (cls.reindex(school.ties["pid_b"]).to_numpy() == school.ties["kind"].to_numpy()).all()
    teachers = set(meta.loc[meta["c"] == "Teachers", "i"])
    assert len(teachers) == 10
    assert not (school.ties["pid_a"].isin(teachers) | school.ties["pid_b"].isin(teachers)).any()


def test_primaryschool_contact_pairs_colocate(school):
    assert _tie_colocated_share(school) > 0.5


# ---------------------------------------------------------------------------------------------
# wytham


def test_wytham_schema_and_default_days(wytham):
    _check_schema(wytham)
    assert wytham.cameras is None
    assert (wytham.window_s, wytham.gap_s) == (3.0, 900.0)
    reads = pd.read_csv(DATA / "wytham_feeders" / "identified_individuals.csv")
    assert len(wytham.sightings) == int((reads["Date"] >= 2).sum())
    assert set(wytham.sightings["camera_id"]) == {"1B", "1C", "1D", "1E"}
    # no day-1 read (the reference's data) is kept
    assert wytham.sightings["ts"].min() >= pd.Timestamp("2011-01-02", tz="UTC")


def test_wytham_day_filter_and_utc_days():
    reads = pd.read_csv(DATA / "wytham_feeders" / "identified_individuals.csv")
    for day in (1, 3, 8):
        w = S.wytham(days=[day])
        assert len(w.sightings) == int((reads["Date"] == day).sum())
        # each observation day lies within one UTC day
        assert w.sightings["ts"].dt.floor("D").nunique() == 1
    both = S.wytham(days=(2, 5))
    assert len(both.sightings) == int(reads["Date"].isin([2, 5]).sum())
    assert both.sightings["ts"].dt.floor("D").nunique() == 2
    with pytest.raises(ValueError):
        S.wytham(days=[0])
    with pytest.raises(ValueError):
        S.wytham(days=[])


def test_wytham_truth(wytham):
    flocks = pd.read_csv(DATA / "wytham_feeders" / "day1_gmm_flocks_long.csv", dtype={"TAG": str})
    assert (wytham.ties["kind"] == "day1_flock").all()
    ref = set(flocks["TAG"])
    assert len(ref) == 151
    labelled = pd.concat([wytham.ties, wytham.negatives])
    assert set(labelled["pid_a"]) | set(labelled["pid_b"]) <= ref
    assert len(labelled) == 151 * 150 // 2
    # a flock of two is a tie
    two = flocks.groupby("flock")["TAG"].agg(sorted)
    two = two[two.map(len) == 2].iloc[0]
    assert ((wytham.ties["pid_a"] == two[0]) & (wytham.ties["pid_b"] == two[1])).any()


def test_wytham_species():
    sp = S.wytham_species()
    assert isinstance(sp, pd.Series)
    assert sp.index.is_unique and len(sp) == 151
    assert sp.value_counts().to_dict() == {
        "BLUTI": 78,
        "GRETI": 51,
        "MARTI": 11,
        "COATI": 7,
        "NUTHA": 3,
        "UNK": 1,
    }


def test_all_sources():
    srcs = S.all_sources()
    assert set(srcs) == {"zara", "primaryschool", "wytham"}
    assert all(callable(f) for f in srcs.values())
