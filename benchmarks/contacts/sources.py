"""Real data sets as sightings frames plus ground truth, for the contact-ranking benchmark.

Each loader reads one folder of ``/work/shared/data`` (see its ``PROVENANCE.md``) and returns a
:class:`Source`: a lake-shaped sightings frame (``sighting_id, pid, camera_id, ts, confidence``),
camera coordinates when the data has a geometry, the truth positives (``ties``), labelled
negatives when the truth does not cover every subject, and the co-location window ``W`` and
meeting gap ``G`` that suit the data. ``notes`` says in one paragraph how the sightings were
built and what the truth is (and is not).

* :func:`zara`: UCY Zara pedestrians on a grid of 2.5 m virtual cameras; ties are annotated
  walking groups.
* :func:`primaryschool`: SocioPatterns face-to-face badges as sensors; ties are "same class".
* :func:`wytham`: RFID reads at 4 bird feeders on days 2-8; ties are a day-1 GMM flock reference.

``feedr_finches`` is not a source: its PROVENANCE.md states no tie/pair truth ("None for ties"),
so there is nothing to rank against. ``caribou_gps`` has no truth either.

Run ``python benchmarks/contacts/sources.py`` for a summary of every source.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(os.environ.get("SIGHTGRAPH_SHARED_DATA", "/work/shared/data"))
ZARA_DIR = DATA_DIR / "ucy_zara_groups"
PRIMARYSCHOOL_DIR = DATA_DIR / "primaryschool"
WYTHAM_DIR = DATA_DIR / "wytham_feeders"

_TS_DTYPE = "datetime64[us, UTC]"
_EARTH_R = 6_371_008.8  # metres, as sightgraph.analytics.trajectories.haversine_m

__all__ = [
    "DATA_DIR",
    "Source",
    "all_sources",
    "primaryschool",
    "summarize",
    "wytham",
    "wytham_species",
    "zara",
]


@dataclass
class Source:
    """One benchmark data set: sightings and the truth to rank contacts against.

    Attributes
    ----------
    name : str
    sightings : DataFrame
        ``sighting_id`` (int64, unique), ``pid`` (str), ``camera_id`` (str),
        ``ts`` (datetime64[us, UTC]), ``confidence`` (float, NaN when unknown).
    cameras : DataFrame or None
        ``camera_id, lat, lon``; None when the data has no coordinates.
    ties : DataFrame
        ``pid_a < pid_b`` (str), ``kind``: the truth positives.
    negatives : DataFrame or None
        ``pid_a < pid_b``, ``kind``: labelled negatives when the truth only covers some
        subjects; None when every co-located pair that is not a tie is a negative.
    window_s, gap_s : float
        Co-location window ``W`` and meeting gap ``G`` that suit the data.
    notes : str
        How the sightings were built and what the truth is.
    """

    name: str
    sightings: pd.DataFrame
    cameras: pd.DataFrame | None
    ties: pd.DataFrame
    negatives: pd.DataFrame | None
    window_s: float
    gap_s: float
    notes: str


# ---------------------------------------------------------------------------------------------
# helpers


def _sightings_frame(pid, camera_id, ts, ids=None) -> pd.DataFrame:
    """Lake-shaped sightings sorted by (ts, camera_id, pid); sighting_id = ``ids`` or 0..n-1."""
    df = pd.DataFrame(
        {
            "sighting_id": np.asarray(ids, dtype=np.int64) if ids is not None else 0,
            "pid": pd.Series(np.asarray(pid, dtype=object), dtype=str),
            "camera_id": pd.Series(np.asarray(camera_id, dtype=object), dtype=str),
            "ts": pd.DatetimeIndex(ts).astype(_TS_DTYPE),
        }
    )
    df = df.sort_values(["ts", "camera_id", "pid"], kind="stable", ignore_index=True)
    if ids is None:
        df["sighting_id"] = np.arange(len(df), dtype=np.int64)
    df["sighting_id"] = df["sighting_id"].astype(np.int64)
    df["confidence"] = np.nan
    return df[["sighting_id", "pid", "camera_id", "ts", "confidence"]]


def _pairs_within(groups: pd.Series, members: pd.Series, kind: pd.Series | str) -> pd.DataFrame:
    """Every pair of members sharing a group: ``pid_a < pid_b`` (str), ``kind``; deduplicated."""
    m = pd.DataFrame(
        {"g": np.asarray(groups), "p": pd.Series(np.asarray(members), dtype=str).to_numpy()}
    )
    m["kind"] = kind if isinstance(kind, str) else np.asarray(kind)
    x = m.merge(m[["g", "p"]], on="g", suffixes=("_a", "_b"))
    x = x[x["p_a"] < x["p_b"]]
    out = pd.DataFrame(
        {
            "pid_a": x["p_a"].astype(str).to_numpy(),
            "pid_b": x["p_b"].astype(str).to_numpy(),
            "kind": x["kind"].astype(str).to_numpy(),
        }
    )
    out = out.drop_duplicates(["pid_a", "pid_b"]).sort_values(["pid_a", "pid_b"])
    out = out.reset_index(drop=True)
    return out.astype({"pid_a": str, "pid_b": str, "kind": str})


# ---------------------------------------------------------------------------------------------
# UCY Zara pedestrians

ZARA_SCENES = {
    # scene: (pid/camera prefix, start of the scene)
    "zara01": ("z1", pd.Timestamp("2007-03-05 10:00", tz="UTC")),
    "zara02": ("z2", pd.Timestamp("2007-03-06 10:00", tz="UTC")),
}
ZARA_CELL_M = 2.5
ZARA_EVERY_S = 2.0
# Arbitrary origin of the local equirectangular projection (cell coordinates -> lat/lon).
ZARA_ORIGIN = (35.0, 33.0)  # lat, lon in degrees
_FRAME_US = 40_000  # one frame = 0.4 s / 10 frames
_FRAMES_PER_STEP = 10  # annotations every 10 frames


def _zara_scene(scene: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    prefix, start = ZARA_SCENES[scene]
    d = ZARA_DIR / scene
    obs = pd.read_csv(
        d / "obsmat.txt",
        sep=r"\s+",
        header=None,
        usecols=[0, 1, 2, 4],
        names=["frame", "ped", "pos_x", "pos_y"],
    )
    obs = obs.assign(frame=obs["frame"].round().astype(np.int64), ped=obs["ped"].round())
    obs["ped"] = obs["ped"].astype(np.int64)
    obs = obs.sort_values(["ped", "frame"], kind="stable", ignore_index=True)
    frame = obs["frame"].to_numpy()
    ped = obs["ped"].to_numpy()
    ix = np.floor(obs["pos_x"].to_numpy() / ZARA_CELL_M).astype(np.int64)
    iy = np.floor(obs["pos_y"].to_numpy() / ZARA_CELL_M).astype(np.int64)
    # a visit: a run of consecutive annotations of one pedestrian in one cell
    new = np.ones(len(obs), dtype=bool)
    new[1:] = (
        (ped[1:] != ped[:-1])
        | (ix[1:] != ix[:-1])
        | (iy[1:] != iy[:-1])
        | (frame[1:] - frame[:-1] != _FRAMES_PER_STEP)
    )
    visit = np.cumsum(new) - 1
    enter = frame[new][visit]
    # one sighting on entering, then one every 2 s (= 50 frames) while the visit lasts
    step = (frame - enter) // round(ZARA_EVERY_S * 1e6 / _FRAME_US)
    emit = new.copy()
    emit[1:] |= step[1:] != step[:-1]
    f0 = int(frame.min())  # first frame of the scene
    ts = start + pd.to_timedelta((frame[emit] - f0) * _FRAME_US, unit="us")
    pid = np.char.add(f"{prefix}_", ped[emit].astype(str))
    cam = np.char.add(
        np.char.add(f"{prefix}_c", ix[emit].astype(str)), np.char.add("_", iy[emit].astype(str))
    )
    s = pd.DataFrame({"pid": pid, "camera_id": cam, "ts": ts})
    # cameras: centres of the cells seen, projected around the (arbitrary) origin
    cells = pd.DataFrame({"camera_id": cam, "ix": ix[emit], "iy": iy[emit]}).drop_duplicates(
        "camera_id"
    )
    lat0, lon0 = ZARA_ORIGIN
    x_m = (cells["ix"].to_numpy() + 0.5) * ZARA_CELL_M
    y_m = (cells["iy"].to_numpy() + 0.5) * ZARA_CELL_M
    cameras = pd.DataFrame(
        {
            "camera_id": cells["camera_id"].astype(str).to_numpy(),
            "lat": lat0 + np.degrees(y_m / _EARTH_R),
            "lon": lon0 + np.degrees(x_m / (_EARTH_R * np.cos(np.radians(lat0)))),
        }
    )
    # ties: every pair within one line of groups.txt
    gid, members = [], []
    for n, line in enumerate((d / "groups.txt").read_text().splitlines()):
        for tok in line.split():
            gid.append(n)
            members.append(f"{prefix}_{int(float(tok))}")
    ties = _pairs_within(pd.Series(gid), pd.Series(members), "group")
    return s, cameras, ties


def zara(scene: str | None = None) -> Source:
    """UCY Zara pedestrians (zara01, zara02 or both) on 2.5 m virtual cameras; ties = groups.

    Parameters
    ----------
    scene : {"zara01", "zara02"} or None
        None (default) loads both scenes together (each on its own date).
    """
    scenes = list(ZARA_SCENES) if scene is None else [scene]
    unknown = [x for x in scenes if x not in ZARA_SCENES]
    if unknown:
        raise ValueError(f"unknown zara scene {unknown[0]!r}; expected one of {list(ZARA_SCENES)}")
    parts = [_zara_scene(x) for x in scenes]
    s = pd.concat([p[0] for p in parts], ignore_index=True)
    sightings = _sightings_frame(s["pid"], s["camera_id"], s["ts"])
    cameras = pd.concat([p[1] for p in parts], ignore_index=True).sort_values(
        "camera_id", ignore_index=True
    )
    ties = pd.concat([p[2] for p in parts], ignore_index=True)
    notes = (
        "UCY Zara pedestrian trajectories (Lerner et al. 2007; obsmat/groups of Pellegrini et al. "
        "2010, via OpenTraj), built as in PROVENANCE.md 'As sightings': the street is covered by "
        "virtual cameras, square cells of 2.5 m (floor(pos_x/2.5), floor(pos_y/2.5), per scene; "
        "camera ids z1_c{ix}_{iy}); a pedestrian gives one sighting when its annotation enters "
        "a cell and then one every 2 s while it stays there (annotations every 0.4 s). Time is "
        "(frame - first frame of the scene) * 0.04 s from 10:00 UTC, zara01 on 2007-03-05 and "
        "zara02 on 2007-03-06; pids are prefixed by scene (z1_12). Camera lat/lon are cell "
        "centres in a local equirectangular projection around an arbitrary origin "
        f"({ZARA_ORIGIN[0]} N, {ZARA_ORIGIN[1]} E), so distances in metres are right. Truth: "
        "every pair within one line of groups.txt (pedestrians annotators judged to walk "
        "together) is a tie (kind 'group'); every other co-located pair is a negative. W = 2 s; "
        "G = 5 s because pedestrians that are 5 s apart have walked away from each other. "
        "Identities never span scenes and everyone is seen for minutes on one day only."
    )
    return Source(
        name="zara" if scene is None else scene,
        sightings=sightings,
        cameras=cameras,
        ties=ties,
        negatives=None,
        window_s=2.0,
        gap_s=5.0,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# SocioPatterns primary school

PRIMARYSCHOOL_ORIGIN = pd.Timestamp("2009-10-01 00:00")  # Europe/Paris wall clock


def _primaryschool_ts(t: np.ndarray) -> pd.DatetimeIndex:
    """Seconds from 2009-10-01 00:00 Europe/Paris wall clock -> UTC (via the distinct values)."""
    uniq, inv = np.unique(t, return_inverse=True)
    local = PRIMARYSCHOOL_ORIGIN + pd.to_timedelta(uniq, unit="s")
    utc = pd.DatetimeIndex(local).tz_localize("Europe/Paris").tz_convert("UTC").as_unit("us")
    return utc[inv]


def primaryschool() -> Source:
    """SocioPatterns primary school: badges as sensors; ties = same class (teachers: none)."""
    c = pd.read_csv(
        PRIMARYSCHOOL_DIR / "primaryschool.csv.gz",
        sep="\t",
        header=None,
        names=["t", "i", "j", "Ci", "Cj"],
        dtype={"t": np.int64, "i": str, "j": str, "Ci": str, "Cj": str},
    )
    i = c["i"].to_numpy(dtype=object)
    j = c["j"].to_numpy(dtype=object)
    t = c["t"].to_numpy(dtype=np.int64)
    # i seen by b{j}, j by b{i}, and each badge by itself, at t; deduplicated
    s = pd.DataFrame(
        {
            "pid": np.concatenate([i, j, i, j]),
            "camera_id": np.concatenate([j, i, i, j]),
            "t": np.tile(t, 4),
        }
    ).drop_duplicates(ignore_index=True)
    s["camera_id"] = "b" + s["camera_id"].astype(str)
    sightings = _sightings_frame(s["pid"], s["camera_id"], _primaryschool_ts(s["t"].to_numpy()))
    meta = pd.read_csv(
        PRIMARYSCHOOL_DIR / "primaryschool_metadata.txt",
        sep="\t",
        header=None,
        usecols=[0, 1],  # id, class (gender is never read)
        names=["i", "Ci"],
        dtype=str,
    )
    pupils = meta[meta["Ci"] != "Teachers"]
    ties = _pairs_within(pupils["Ci"], pupils["i"], pupils["Ci"])
    notes = (
        "SocioPatterns primary school, Lyon, 1-2 Oct 2009 (Stehle et al. 2011; Gemmetto et al. "
        "2014; CC BY-NC-SA 3.0): 242 people wearing RFID badges that log face-to-face contacts "
        "(t i j Ci Cj: contact active during [t-20 s, t]). There are no locations, so each badge "
        "is a sensor: a contact row (t, i, j) gives the sightings (i seen by camera 'b{j}'), "
        "(j by 'b{i}') and each badge seen by itself (i by 'b{i}', j by 'b{j}'), all at t, "
        "deduplicated; co-location at camera 'b{x}' within W therefore means 'both in contact "
        "with x (or one of them is x) within 20 s'. t counts seconds from 2009-10-01 00:00 "
        "Europe/Paris wall clock (day 1 08:40 = 31220), converted to UTC (CEST, UTC+2). Truth: "
        "pairs of pupils in the same class are ties (kind = class name, 10 classes); the 10 "
        "teachers are tied to no one, so all their pairs are negatives. 'Same class' is a "
        "community label, not a survey of friendships or ties: many same-class pairs never "
        "interact and strong cross-class ties count as negatives. W = 20 s (the badges' "
        "resolution); G = 120 s."
    )
    return Source(
        name="primaryschool",
        sightings=sightings,
        cameras=None,
        ties=ties,
        negatives=None,
        window_s=20.0,
        gap_s=120.0,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# Wytham Woods feeders

WYTHAM_BASE = pd.Timestamp("2011-01-01 00:00", tz="UTC")
WYTHAM_DAYS = tuple(range(1, 9))


def wytham_species() -> pd.Series:
    """TAG -> SPECIES (BLUTI, GRETI, MARTI, COATI, NUTHA, UNK) from individuals.csv."""
    birds = pd.read_csv(WYTHAM_DIR / "individuals.csv", dtype=str, usecols=["TAG", "SPECIES"])
    return birds.set_index("TAG")["SPECIES"]


def wytham(days: Iterable[int] = tuple(range(2, 9))) -> Source:
    """RFID reads at the Wytham feeders on ``days`` (default 2-8); ties = day-1 GMM flocks.

    Parameters
    ----------
    days : iterable of int
        Observation days (``Date``, 1-8) whose reads are kept. Including day 1 leaks the
        reads the reference was inferred from.
    """
    days = sorted({int(d) for d in days})
    if not days or any(d not in WYTHAM_DAYS for d in days):
        raise ValueError(f"days must be a non-empty subset of 1..8, got {days}")
    reads = pd.read_csv(
        WYTHAM_DIR / "identified_individuals.csv",
        dtype={"Date": np.int64, "Time": np.int64, "ID": str, "Location": str},
    )
    keep = reads["Date"].isin(days).to_numpy()
    r = reads[keep]
    ts = WYTHAM_BASE + pd.to_timedelta(r["Time"].to_numpy(), unit="s")
    # sighting_id = row of identified_individuals.csv: stable whatever the days
    sightings = _sightings_frame(r["ID"], r["Location"], ts, ids=np.flatnonzero(keep))
    flocks = pd.read_csv(WYTHAM_DIR / "day1_gmm_flocks_long.csv", dtype={"TAG": str})
    ties = _pairs_within(flocks["flock"], flocks["TAG"], "day1_flock")
    # labelled negatives: pairs of birds of the day-1 reference that never shared a flock
    # (a bird outside the reference, e.g. an unknown tag code, has no label either way)
    ref = np.sort(flocks["TAG"].astype(str).unique())
    a_idx, b_idx = np.triu_indices(len(ref), k=1)
    allp = pd.DataFrame({"pid_a": ref[a_idx], "pid_b": ref[b_idx]})
    known = allp.merge(ties[["pid_a", "pid_b"]], how="left", indicator=True)
    negatives = known.loc[known["_merge"] == "left_only", ["pid_a", "pid_b"]].reset_index(drop=True)
    negatives = negatives.astype(str).assign(kind="day1_no_shared_flock")
    notes = (
        "Wytham Woods mixed-species tit flocks (Farine et al. 2012; asnipe example data): PIT-tag "
        "reads at 4 RFID feeders (cameras 1B-1E, no coordinates), one sighting per read (pid = "
        "tag code, including the unknown/error codes of days 2-8; sighting_id = row of "
        "identified_individuals.csv). ts = 2011-01-01 00:00 UTC + Time seconds (Time counts from "
        "the first observation; each observation day then falls within one UTC day). Only reads "
        f"of days {days} are kept. Truth is a reference from day 1 only: pairs of birds that "
        "shared a Gaussian-mixture flock inferred by asnipe's gmmevents from day-1 reads "
        "(kind 'day1_flock'), and as labelled negatives the other pairs of the 151 birds of that "
        "reference; pairs involving any other tag are unlabelled. This is an algorithmic "
        "reference from held-out data, not a tie survey: it measures whether contacts on "
        "days 2-8 recover day-1 flock-mates. W = 3 s (reads are whole seconds); G = 900 s."
    )
    return Source(
        name="wytham",
        sightings=sightings,
        cameras=None,
        ties=ties,
        negatives=negatives,
        window_s=3.0,
        gap_s=900.0,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------


def all_sources() -> dict[str, Callable[[], Source]]:
    """Loader of every source by name (feedr_finches has no pair truth and is not listed)."""
    return {"zara": zara, "primaryschool": primaryschool, "wytham": wytham}


def summarize(src: Source) -> dict:
    """Counts of a source and how many of its ties co-locate within its window."""
    from sightgraph.analytics.colocation import find_colocations

    pairs = find_colocations(src.sightings, window_s=src.window_s)
    got = set(zip(pairs["pid_a"], pairs["pid_b"], strict=True))
    ties = list(zip(src.ties["pid_a"], src.ties["pid_b"], strict=True))
    out = {
        "source": src.name,
        "sightings": len(src.sightings),
        "subjects": int(src.sightings["pid"].nunique()),
        "cameras": int(src.sightings["camera_id"].nunique()),
        "tie_pairs": len(ties),
        "colocated_pairs": len(pairs),
        "tie_pairs_colocated": sum(p in got for p in ties),
    }
    if src.negatives is not None:
        negs = zip(src.negatives["pid_a"], src.negatives["pid_b"], strict=True)
        out["negative_pairs"] = len(src.negatives)
        out["negative_pairs_colocated"] = sum(p in got for p in negs)
    return out


if __name__ == "__main__":
    import time

    for name, load in all_sources().items():
        t0 = time.perf_counter()
        src = load()
        dt = time.perf_counter() - t0
        print(name, f"load {dt:.1f} s", summarize(src))
