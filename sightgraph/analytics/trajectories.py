"""Visits and transitions (DESIGN §4).

* **Visit**: consecutive sightings of one subject at one camera less than ``gap_s`` apart;
  has ``arrive``, ``leave``, ``dwell_s`` (leave - arrive) and ``n_sightings``.
* **Transition**: two consecutive visits of one subject; ``travel_s`` = next arrive - this leave;
  ``distance_m`` between camera positions (haversine); flagged ``implausible`` when the implied
  speed exceeds ``max_speed_kmh`` (default 150 km/h): a likely misidentification. A zero travel time
  between different places counts as infinite speed.
* **Flows**: transitions aggregated per camera pair (``count``, ``n_subjects``,
  ``median_travel_s``, ``implausible``); cells seen by fewer than ``k`` distinct subjects are
  suppressed (dropped; the number dropped is returned).
* **Checks against truth**: :func:`visits_containing` marks the visits holding given sightings
  (e.g. a synthetic city's false matches), :func:`transitions_touching` the transitions from or to
  a marked visit, and :func:`precision_recall` scores the ``implausible`` flag against them
  (``benchmarks/trajectories/implausible.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sightgraph._lazy import LazyModule
from sightgraph.errors import UsageError
from sightgraph.schema import epoch_us_to_ts, require_columns, ts_to_epoch_us

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use: `sightgraph colocate` never needs it

__all__ = [
    "aggregate_flows",
    "build_transitions",
    "build_visits",
    "compute_trajectories",
    "haversine_m",
    "precision_recall",
    "transitions_touching",
    "visits_containing",
]

_EARTH_R = 6_371_008.8


def haversine_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_R * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def build_visits(sightings: pd.DataFrame, gap_s: float = 900.0) -> pd.DataFrame:
    """Merge each subject's consecutive sightings at one camera into visits.

    Parameters
    ----------
    sightings : DataFrame
        Columns pid, camera_id, ts (tz-aware).
    gap_s : float
        Sightings less than ``gap_s`` apart at the same camera belong to one visit.

    Returns
    -------
    DataFrame
        pid, camera_id, arrive, leave, dwell_s, n_sightings; sorted by pid, arrive.

    Examples
    --------
    >>> ts = pd.to_datetime(["2026-01-01 08:00", "2026-01-01 08:05", "2026-01-01 09:00"], utc=True)
    >>> s = pd.DataFrame({"pid": ["a", "a", "a"], "camera_id": ["c1", "c1", "c2"], "ts": ts})
    >>> build_visits(s)[["camera_id", "dwell_s", "n_sightings"]].values.tolist()
    [['c1', 300.0, 2], ['c2', 0.0, 1]]
    """
    require_columns(sightings, ("pid", "camera_id", "ts"), "sightings")
    if gap_s < 0:
        raise UsageError(f"gap must be >= 0 seconds, got {gap_s}")
    cols = ["pid", "camera_id", "arrive", "leave", "dwell_s", "n_sightings"]
    if len(sightings) == 0:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)  # type: ignore[call-overload]
                for c, t in zip(
                    cols,
                    [object, object, "datetime64[us, UTC]", "datetime64[us, UTC]", float, "int64"],
                    strict=True,
                )
            }
        )
    t = ts_to_epoch_us(sightings["ts"])
    df = pd.DataFrame(
        {"pid": sightings["pid"].to_numpy(), "camera_id": sightings["camera_id"].to_numpy(), "t": t}
    )
    df = df.sort_values(["pid", "t", "camera_id"], kind="stable").reset_index(drop=True)
    pid = df["pid"].to_numpy()
    cam = df["camera_id"].to_numpy()
    tt = df["t"].to_numpy()
    new = np.ones(len(df), dtype=bool)
    new[1:] = (pid[1:] != pid[:-1]) | (cam[1:] != cam[:-1]) | ((tt[1:] - tt[:-1]) >= gap_s * 1e6)
    vid = np.cumsum(new) - 1
    g = pd.DataFrame({"vid": vid, "t": tt}).groupby("vid", sort=True)["t"]
    first = np.flatnonzero(new)
    arrive = g.min().to_numpy()
    leave = g.max().to_numpy()
    out = pd.DataFrame(
        {
            "pid": pid[first],
            "camera_id": cam[first],
            # .array, not .to_numpy(): a tz-aware column would become an object array of
            # Timestamps (3.6 s of the 6.7 s of this function at 1M sightings)
            "arrive": epoch_us_to_ts(arrive).array,
            "leave": epoch_us_to_ts(leave).array,
            "dwell_s": (leave - arrive) / 1e6,
            "n_sightings": g.size().to_numpy().astype("int64"),
        }
    )
    return out


def build_transitions(
    visits: pd.DataFrame, cameras: pd.DataFrame | None = None, max_speed_kmh: float = 150.0
) -> pd.DataFrame:
    """Consecutive visits of each subject as transitions, with travel time and plausibility.

    Returns pid, camera_from, camera_to, leave, arrive, travel_s, distance_m, speed_kmh, implausible.
    Distances are NaN (and never implausible) where a camera has no coordinates.
    """
    require_columns(visits, ("pid", "camera_id", "arrive", "leave"), "visits")
    v = visits.sort_values(["pid", "arrive"], kind="stable").reset_index(drop=True)
    same = v["pid"].to_numpy()[1:] == v["pid"].to_numpy()[:-1]
    i = np.flatnonzero(same)
    j = i + 1
    out = pd.DataFrame(
        {
            "pid": v["pid"].to_numpy()[i],
            "camera_from": v["camera_id"].to_numpy()[i],
            "camera_to": v["camera_id"].to_numpy()[j],
            "leave": v["leave"].to_numpy()[i],
            "arrive": v["arrive"].to_numpy()[j],
        }
    )
    out["leave"] = out["leave"].astype("datetime64[us, UTC]")
    out["arrive"] = out["arrive"].astype("datetime64[us, UTC]")
    out["travel_s"] = (out["arrive"] - out["leave"]).dt.total_seconds()
    dist = np.full(len(out), np.nan)
    if cameras is not None and len(cameras) and len(out):
        pos = cameras.set_index("camera_id")[["lat", "lon"]]
        a = pos.reindex(out["camera_from"]).to_numpy(dtype=float)
        b = pos.reindex(out["camera_to"]).to_numpy(dtype=float)
        dist = haversine_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    out["distance_m"] = dist
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(
            out["distance_m"] > 0, out["distance_m"] / out["travel_s"].clip(lower=0) * 3.6, 0.0
        )
    out["speed_kmh"] = speed
    out["implausible"] = np.nan_to_num(speed, nan=0.0) > max_speed_kmh
    return out


def aggregate_flows(transitions: pd.DataFrame, k: int = 5) -> tuple[pd.DataFrame, int]:
    """Camera-to-camera flows with small-cell suppression.

    Returns (flows, n_suppressed): flows has camera_from, camera_to, count, n_subjects,
    median_travel_s, implausible; only cells with at least ``k`` distinct subjects are kept.
    Implausible transitions are counted but not used for the median travel time.
    """
    require_columns(
        transitions, ("pid", "camera_from", "camera_to", "travel_s", "implausible"), "transitions"
    )
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    t = transitions[transitions["camera_from"] != transitions["camera_to"]]
    if len(t) == 0:
        cols = ["camera_from", "camera_to", "count", "n_subjects", "median_travel_s", "implausible"]
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c.startswith("camera") else "float64") for c in cols}
        ), 0
    g = t.groupby(["camera_from", "camera_to"], sort=True)
    flows = pd.DataFrame(
        {
            "count": g.size().astype("int64"),
            "n_subjects": g["pid"].nunique().astype("int64"),
            "implausible": g["implausible"].sum().astype("int64"),
        }
    )
    ok = t[~t["implausible"]]
    flows["median_travel_s"] = ok.groupby(["camera_from", "camera_to"])["travel_s"].median()
    flows = flows.reset_index()
    keep = flows["n_subjects"] >= k
    return flows[keep].reset_index(drop=True)[
        ["camera_from", "camera_to", "count", "n_subjects", "median_travel_s", "implausible"]
    ], int((~keep).sum())


def compute_trajectories(
    lake: str | Path,
    out_dir: str | Path | None = None,
    gap_s: float = 900.0,
    max_speed_kmh: float = 150.0,
    k: int = 5,
    *,
    generation: int | None = None,
) -> dict[str, Any]:
    """Visits, transitions and suppressed camera flows of a whole lake.

    Writes ``visits`` and ``transitions`` (the suppressed flows, which the loader turns into
    TRANSITION edges) into the lake, with their parameters in the Parquet metadata, and copies
    them to ``out_dir`` when given. Returns counts.

    The lake's tables are committed under the lake's writer lock, and only if no forget or
    retention ran since the lake was read (:func:`sightgraph.lake.commit_lock`): ``generation``
    is the lake's :func:`~sightgraph.lake.erasure_generation` as the caller read it before this
    job started (default: read here, before the sightings). ``out_dir`` is written after that
    commit (under the same lock if it lies inside the lake), so a refused run writes nothing.

    Raises
    ------
    UsageError
        An erasure ran meanwhile ("the lake changed under this job"), or the lake stayed busy
        (:func:`~sightgraph.lake.commit_wait`); nothing was written.
    """
    from sightgraph.lake import (
        commit_into,
        erasure_generation,
        in_lake,
        read_cameras,
        read_sightings,
        table_path,
        write_table,
    )

    if generation is None:
        generation = erasure_generation(lake)
    s = read_sightings(lake, columns=["pid", "camera_id", "ts"])
    visits = build_visits(s, gap_s=gap_s)
    trans = build_transitions(visits, read_cameras(lake), max_speed_kmh=max_speed_kmh)
    flows, suppressed = aggregate_flows(trans, k=k)
    params = {
        "gap_s": gap_s,
        "max_speed_kmh": max_speed_kmh,
        "k": k,
        "suppressed_cells": suppressed,
    }
    targets = [
        table_path(lake, "visits") / "visits.parquet",
        table_path(lake, "transitions") / "transitions.parquet",
    ]
    if out_dir is not None:
        targets += [Path(out_dir) / "visits.parquet", Path(out_dir) / "transitions.parquet"]
    inside = [p for p in targets if in_lake(lake, p)]
    with commit_into(lake, inside, generation, "trajectories"):
        for path in inside:
            write_table(visits if path.name == "visits.parquet" else flows, path, params)
    for path in targets:
        if path not in inside:
            write_table(visits if path.name == "visits.parquet" else flows, path, params)
    return {
        "visits": len(visits),
        "transitions": len(trans),
        "implausible": int(trans["implausible"].sum()),
        "flows": len(flows),
        "suppressed": suppressed,
    }


def visits_containing(visits: pd.DataFrame, sightings: pd.DataFrame) -> np.ndarray:
    """Which visits hold at least one of ``sightings``.

    Parameters
    ----------
    visits : DataFrame
        From :func:`build_visits` (pid, camera_id, arrive, leave).
    sightings : DataFrame
        pid, camera_id, ts: e.g. the false matches of a synthetic city, under the pids of
        ``visits``. A sighting belongs to the visit of its pid at its camera with
        ``arrive <= ts <= leave`` (at most one: one subject's visits at one camera are disjoint).

    Returns
    -------
    ndarray of bool
        One value per row of ``visits``, in its order.
    """
    require_columns(visits, ("pid", "camera_id", "arrive", "leave"), "visits")
    require_columns(sightings, ("pid", "camera_id", "ts"), "sightings")
    out = np.zeros(len(visits), dtype=bool)
    if len(visits) == 0 or len(sightings) == 0:
        return out
    right = pd.DataFrame(
        {
            "pid": visits["pid"].to_numpy(),
            "camera_id": visits["camera_id"].to_numpy(),
            "t": ts_to_epoch_us(visits["arrive"]),
            "leave": ts_to_epoch_us(visits["leave"]),
            "row": np.arange(len(visits)),
        }
    ).sort_values("t", kind="stable")
    left = pd.DataFrame(
        {
            "pid": sightings["pid"].to_numpy(),
            "camera_id": sightings["camera_id"].to_numpy(),
            "t": ts_to_epoch_us(sightings["ts"]),
        }
    ).sort_values("t", kind="stable")
    m = pd.merge_asof(left, right, on="t", by=["pid", "camera_id"], direction="backward")
    hit = m["row"].notna().to_numpy() & (m["t"].to_numpy() <= m["leave"].to_numpy())
    out[m["row"].to_numpy()[hit].astype(np.int64)] = True
    return out


def transitions_touching(
    transitions: pd.DataFrame, visits: pd.DataFrame, marked: np.ndarray
) -> np.ndarray:
    """Which transitions leave or reach a marked visit.

    ``transitions`` come from :func:`build_transitions` on ``visits``; a transition's visits are
    found by (pid, camera_from, leave) and (pid, camera_to, arrive), which identify one visit
    each. ``marked`` has one bool per visit (e.g. from :func:`visits_containing`).
    """
    require_columns(
        transitions, ("pid", "camera_from", "camera_to", "leave", "arrive"), "transitions"
    )
    marked = np.asarray(marked, dtype=bool)
    if len(marked) != len(visits):
        raise UsageError(f"marked has {len(marked)} values for {len(visits)} visits")
    if len(transitions) == 0:
        return np.zeros(0, dtype=bool)
    bad = visits.loc[marked, ["pid", "camera_id", "arrive", "leave"]]
    pid = transitions["pid"].to_numpy()
    src = pd.MultiIndex.from_arrays(
        [pid, transitions["camera_from"].to_numpy(), ts_to_epoch_us(transitions["leave"])]
    )
    dst = pd.MultiIndex.from_arrays(
        [pid, transitions["camera_to"].to_numpy(), ts_to_epoch_us(transitions["arrive"])]
    )
    bad_leave = pd.MultiIndex.from_arrays(
        [bad["pid"].to_numpy(), bad["camera_id"].to_numpy(), ts_to_epoch_us(bad["leave"])]
    )
    bad_arrive = pd.MultiIndex.from_arrays(
        [bad["pid"].to_numpy(), bad["camera_id"].to_numpy(), ts_to_epoch_us(bad["arrive"])]
    )
    return np.asarray(src.isin(bad_leave)) | np.asarray(dst.isin(bad_arrive))


def precision_recall(flag: Any, truth: Any) -> dict[str, float]:
    """Precision and recall of a boolean flag against the truth.

    Returns tp, fp, fn (counts), precision (tp / flagged; NaN when nothing is flagged), recall
    (tp / truly positive; NaN when nothing is) and f1 (NaN when either is NaN or both are 0).

    Examples
    --------
    >>> r = precision_recall([True, True, False, False], [True, False, True, False])
    >>> (r["tp"], r["fp"], r["fn"], r["precision"], r["recall"])
    (1, 1, 1, 0.5, 0.5)
    """
    f = np.asarray(flag, dtype=bool)
    t = np.asarray(truth, dtype=bool)
    if f.shape != t.shape:
        raise UsageError(f"flag and truth differ in length: {f.shape} vs {t.shape}")
    tp = int((f & t).sum())
    fp = int((f & ~t).sum())
    fn = int((~f & t).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision + recall > 0  # NaN > 0 is False
        else float("nan")
    )
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}
