"""Brute-force oracles and fixtures for the co-location tests (DESIGN §4 read literally).

Every pair of rows is compared (O(n^2)); nothing is shared with the implementation except the
haversine distance (the definition of "metres apart").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from sightgraph.analytics.colocation import EVENT_COLUMNS
from sightgraph.analytics.trajectories import haversine_m
from sightgraph.schema import CAMERAS_ARROW, COLOCATION_PAIR_COLUMNS, SIGHTINGS_ARROW

BASE = pd.Timestamp("2026-03-02 23:59:00", tz="UTC")  # near midnight: lakes get two dates
EVENT_SORT = ["pid_a", "pid_b", "ts_a", "ts_b", "sighting_a", "sighting_b", "camera_a", "camera_b"]


def _us(ts: pd.Series) -> np.ndarray:
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy(np.int64)


def oracle_events(
    s: pd.DataFrame, window_s: float, radius_m: float = 0.0, cameras: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every pair of sightings of distinct subjects within the window (and radius)."""
    s = s.reset_index(drop=True)
    t = _us(s["ts"]).tolist()
    w = int(round(window_s * 1_000_000))
    pos = {}
    if radius_m > 0:
        pos = {r.camera_id: (r.lat, r.lon) for r in cameras.itertuples()}
    pid, cam, ts = s["pid"].tolist(), s["camera_id"].tolist(), s["ts"].tolist()
    sid = s["sighting_id"].tolist() if "sighting_id" in s else [0] * len(s)
    conf = s["confidence"].tolist() if "confidence" in s else [np.nan] * len(s)
    rows = []
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            if pid[i] == pid[j] or abs(t[i] - t[j]) > w:
                continue
            if cam[i] != cam[j]:
                if radius_m <= 0:
                    continue
                (la1, lo1), (la2, lo2) = pos[cam[i]], pos[cam[j]]
                d = haversine_m(np.array([la1]), np.array([lo1]), np.array([la2]), np.array([lo2]))[
                    0
                ]
                if d > radius_m:
                    continue
            a, b = (i, j) if pid[i] < pid[j] else (j, i)
            rows.append(
                (pid[a], pid[b], cam[a], cam[b], ts[a], ts[b], sid[a], sid[b], conf[a], conf[b])
            )
    ev = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    if ev.empty:
        ev = pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    for c in ("pid_a", "pid_b", "camera_a", "camera_b"):
        ev[c] = ev[c].astype("str")
    for c in ("ts_a", "ts_b"):
        ev[c] = pd.to_datetime(ev[c], utc=True).astype("datetime64[us, UTC]")
    for c in ("sighting_a", "sighting_b"):
        ev[c] = ev[c].astype("int64")
    for c in ("confidence_a", "confidence_b"):
        ev[c] = ev[c].astype("float64")
    return ev.sort_values(EVENT_SORT, ignore_index=True, kind="stable")


def oracle_pairs(events: pd.DataFrame) -> pd.DataFrame:
    """Per pair: number of events, earliest and latest timestamp of either sighting."""
    e = events.assign(
        lo=np.minimum(events["ts_a"], events["ts_b"]), hi=np.maximum(events["ts_a"], events["ts_b"])
    )
    g = e.groupby(["pid_a", "pid_b"], sort=True)
    out = pd.DataFrame(
        {"n_events": g.size(), "first_ts": g["lo"].min(), "last_ts": g["hi"].max()}
    ).reset_index()
    out["n_events"] = out["n_events"].astype("int64")
    for c in ("first_ts", "last_ts"):
        out[c] = out[c].astype("datetime64[us, UTC]")
    for c in ("pid_a", "pid_b"):
        out[c] = out[c].astype("str")
    return out[list(COLOCATION_PAIR_COLUMNS)]


def oracle_crowd_kept(s: pd.DataFrame, window_s: float, cap: int) -> pd.DataFrame:
    """Sightings with at most ``cap`` other-subject sightings within the window at their camera."""
    s = s.reset_index(drop=True)
    t = _us(s["ts"]).tolist()
    w = int(round(window_s * 1_000_000))
    pid, cam = s["pid"].tolist(), s["camera_id"].tolist()
    keep = []
    for i in range(len(s)):
        others = sum(
            1
            for j in range(len(s))
            if cam[j] == cam[i] and pid[j] != pid[i] and abs(t[i] - t[j]) <= w
        )
        keep.append(others <= cap)
    return s[np.array(keep, bool)].reset_index(drop=True)


def normalise_events(ev: pd.DataFrame) -> pd.DataFrame:
    """Events frame in the oracle's dtypes and order (for comparisons)."""
    ev = ev[list(EVENT_COLUMNS)].copy()
    for c in ("pid_a", "pid_b", "camera_a", "camera_b"):
        ev[c] = ev[c].astype("str")
    for c in ("ts_a", "ts_b"):
        ev[c] = ev[c].astype("datetime64[us, UTC]")
    return ev.sort_values(EVENT_SORT, ignore_index=True, kind="stable")


def write_lake(
    root: Path, s: pd.DataFrame, cameras: pd.DataFrame | None = None, split: int = 2
) -> Path:
    """A lake with pyarrow only: LAKE/sightings/date=YYYY-MM-DD/part-K.parquet (+ cameras).

    Each date's rows are spread over ``split`` files, round robin, with tiny row groups.
    """
    lake = Path(root)
    s = s.reset_index(drop=True)
    dates = s["ts"].dt.strftime("%Y-%m-%d")
    for date in sorted(dates.unique()):
        part = s[dates == date].reset_index(drop=True)
        folder = lake / "sightings" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(split):
            chunk = part.iloc[k::split]
            if chunk.empty:
                continue
            table = pa.Table.from_pandas(
                chunk[list(SIGHTINGS_ARROW.names)], schema=SIGHTINGS_ARROW, preserve_index=False
            )
            pq.write_table(table, folder / f"part-{k}.parquet", row_group_size=3)
    if cameras is not None:
        (lake / "cameras").mkdir(parents=True, exist_ok=True)
        cams = cameras.copy()
        for c in ("name", "site"):
            if c not in cams:
                cams[c] = None
        pq.write_table(
            pa.Table.from_pandas(
                cams[list(CAMERAS_ARROW.names)], schema=CAMERAS_ARROW, preserve_index=False
            ),
            lake / "cameras" / "cameras.parquet",
        )
    return lake


CAMERA_IDS = ["c1", "c2", "c10", "cX"]
PIDS = ["a", "b", "B", "c", "é", "ab"]


@st.composite
def sightings_frames(draw, max_rows: int = 24, pids=PIDS, cameras=CAMERA_IDS) -> pd.DataFrame:
    """Small sightings frames with crowded cameras, duplicate timestamps and repeat subjects."""
    n = draw(st.integers(0, max_rows))
    coarse = draw(st.booleans())  # whole seconds in a short span: many ties and matches
    pid = draw(st.lists(st.sampled_from(pids), min_size=n, max_size=n))
    cam = draw(st.lists(st.sampled_from(cameras), min_size=n, max_size=n))
    if coarse:
        off = [x * 1_000_000 for x in draw(st.lists(st.integers(0, 150), min_size=n, max_size=n))]
    else:
        off = draw(st.lists(st.integers(0, 200_000_000), min_size=n, max_size=n))
    conf = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "sighting_id": np.arange(100, 100 + n, dtype=np.int64),
            "pid": pd.Series(pid, dtype="str"),
            "camera_id": pd.Series(cam, dtype="str"),
            "ts": pd.Series(BASE + pd.to_timedelta(np.array(off, np.int64), unit="us")).astype(
                "datetime64[us, UTC]"
            ),
            "confidence": np.array(conf, np.float64),
        }
    )


@st.composite
def camera_tables(draw, cameras=CAMERA_IDS) -> pd.DataFrame:
    """Cameras within about a kilometre of each other."""
    lat = draw(st.lists(st.floats(52.0, 52.01), min_size=len(cameras), max_size=len(cameras)))
    lon = draw(st.lists(st.floats(5.0, 5.015), min_size=len(cameras), max_size=len(cameras)))
    return pd.DataFrame({"camera_id": cameras, "lat": lat, "lon": lon})


WINDOWS = st.sampled_from([0, 0.000001, 1, 30, 59.5, 60, 120])
