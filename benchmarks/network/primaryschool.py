"""Contact-network analytics on the SocioPatterns primary-school data (LyonSchool, Oct 2009).

Data: ``primaryschool.csv.gz`` (tab-separated ``t i j Ci Cj``: the contact i-j was active during
``[t - 20 s, t]``) and ``primaryschool_metadata.txt`` (``i Ci Gi``: id, class, gender). Only the id
and class columns of the metadata are ever read: gender is out of scope and never loaded.
Stehlé et al., PLoS ONE 6(8): e23176 (2011); Gemmetto, Barrat, Cattuto, BMC Infect. Dis. 14:695
(2014); CC BY-NC-SA 3.0, www.sociopatterns.org.

Run::

    .venv/bin/python benchmarks/network/primaryschool.py [DATA_DIR]

It loads the contacts, runs community detection for a grid of settings, reports the normalised
mutual information (NMI) with the school classes, and times exposure chains on the real meetings.
Results are written up in RESULTS.md beside this file.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sightgraph.analytics.network import (
    centrality,
    detect_communities,
    exposure_chains,
)
from sightgraph.errors import UsageError
from sightgraph.schema import epoch_us_to_ts

INTERVAL_S = 20
# The relative clock counts seconds from midnight of day 1 (day 1 08:40 = 31220); the study ran
# on Thursday 1 and Friday 2 October 2009 in Lyon (local time, CEST = UTC+2).
CLOCK_ORIGIN = pd.Timestamp("2009-10-01 00:00", tz="Europe/Paris")
CONTACTS_FILE = "primaryschool.csv.gz"
METADATA_FILE = "primaryschool_metadata.txt"
# The grid that main() explores (see RESULTS.md).
WEIGHTINGS = ("contact_s", "log1p_min", "meetings", "binary")
MIN_CONTACT_S = (0, 120, 600)
RESOLUTIONS = (0.5, 1.0, 1.5, 2.0)
SEEDS = range(5)

__all__ = [
    "default_data_dir",
    "load_primaryschool_classes",
    "load_primaryschool_contacts",
    "load_primaryschool_intervals",
    "load_primaryschool_meetings",
    "reweight",
    "score_communities",
]


def default_data_dir() -> Path:
    """``shared/data/primaryschool`` beside the repository checkout."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "primaryschool"


def _resolve(path: str | Path, name: str) -> Path:
    p = Path(path)
    p = p / name if p.is_dir() else p
    if not p.exists():
        raise UsageError(f"primary-school data not found: {p}")
    return p


def _origin_us() -> int:
    return int(
        (CLOCK_ORIGIN.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
    )


def load_primaryschool_intervals(path: str | Path) -> pd.DataFrame:
    """Read the 20-s contact records.

    Parameters
    ----------
    path : path
        ``primaryschool.csv.gz`` or the folder holding it.

    Returns
    -------
    DataFrame
        ``pid_a``, ``pid_b`` (str ids, pid_a < pid_b), ``t`` (int seconds on the relative clock,
        the end of the 20-s interval), ``ts`` (t as timestamp[us, UTC]).
    """
    f = _resolve(path, CONTACTS_FILE)
    raw = pd.read_csv(
        f, sep="\t", header=None, usecols=[0, 1, 2], names=["t", "i", "j"], dtype="int64"
    )
    i = raw["i"].astype(str).to_numpy(dtype=object)
    j = raw["j"].astype(str).to_numpy(dtype=object)
    swap = i > j
    out = pd.DataFrame(
        {
            "pid_a": np.where(swap, j, i),
            "pid_b": np.where(swap, i, j),
            "t": raw["t"].to_numpy(),
        }
    )
    out["ts"] = epoch_us_to_ts(_origin_us() + out["t"].to_numpy() * 1_000_000).to_numpy()
    return out


def load_primaryschool_meetings(path: str | Path, gap_s: int = INTERVAL_S) -> pd.DataFrame:
    """Merge each pair's 20-s records into meetings.

    Records of one pair whose interval ends are at most ``gap_s`` apart belong to one meeting
    (the default joins back-to-back intervals only). A meeting spans ``[first t - 20 s, last t]``.

    Returns
    -------
    DataFrame
        ``pid_a``, ``pid_b``, ``camera_id`` (always ``"school"``: the data has no locations),
        ``start_ts``, ``end_ts``, ``intervals``; sorted by pid_a, pid_b, start_ts.
    """
    rec = load_primaryschool_intervals(path).sort_values(["pid_a", "pid_b", "t"], kind="stable")
    a = rec["pid_a"].to_numpy(dtype=object)
    b = rec["pid_b"].to_numpy(dtype=object)
    t = rec["t"].to_numpy()
    new = np.ones(len(rec), dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | ((t[1:] - t[:-1]) > gap_s)
    mid = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(rec) - 1]
    origin = _origin_us()
    return pd.DataFrame(
        {
            "pid_a": a[first],
            "pid_b": b[first],
            "camera_id": "school",
            "start_ts": epoch_us_to_ts(origin + (t[first] - INTERVAL_S) * 1_000_000).to_numpy(),
            "end_ts": epoch_us_to_ts(origin + t[last] * 1_000_000).to_numpy(),
            "intervals": np.bincount(mid).astype(np.int64),
        }
    )


def load_primaryschool_contacts(path: str | Path, gap_s: int = INTERVAL_S) -> pd.DataFrame:
    """Aggregate the records per pair into a contacts table.

    Returns
    -------
    DataFrame
        ``pid_a``, ``pid_b``, ``score`` (total contact time in seconds = 20 s x records),
        ``meetings`` (see :func:`load_primaryschool_meetings`), ``days`` (distinct UTC dates),
        ``places`` (always 1: one school, no locations), ``first_ts``, ``last_ts``,
        ``intervals`` (number of 20-s records); sorted by pid_a, pid_b.
    """
    m = load_primaryschool_meetings(path, gap_s)
    m["day"] = m["start_ts"].dt.date
    g = m.groupby(["pid_a", "pid_b"], sort=True)
    out = g.agg(
        intervals=("intervals", "sum"),
        meetings=("intervals", "size"),
        days=("day", "nunique"),
        first_ts=("start_ts", "min"),
        last_ts=("end_ts", "max"),
    ).reset_index()
    out.insert(2, "score", out["intervals"].astype(float) * INTERVAL_S)
    out.insert(5, "places", np.int64(1))
    return out[
        [
            "pid_a",
            "pid_b",
            "score",
            "meetings",
            "days",
            "places",
            "first_ts",
            "last_ts",
            "intervals",
        ]
    ]


def load_primaryschool_classes(path: str | Path) -> pd.DataFrame:
    """Class of every individual (``1A`` ... ``5B`` or ``Teachers``).

    Reads only the first two metadata columns (id, class): the gender column is never loaded.

    Returns
    -------
    DataFrame
        ``pid`` (str), ``class``; sorted by pid.
    """
    f = _resolve(path, METADATA_FILE)
    meta = pd.read_csv(f, sep="\t", header=None, usecols=[0, 1], names=["pid", "class"], dtype=str)
    return meta.sort_values("pid").reset_index(drop=True)


def score_communities(communities: pd.DataFrame, classes: pd.DataFrame) -> dict[str, float]:
    """NMI (arithmetic normalisation) of communities vs classes over every individual.

    Individuals without a community (no kept contact) count as singletons.
    """
    from sklearn.metrics import normalized_mutual_info_score

    merged = classes.merge(communities, on="pid", how="left")
    missing = merged["community"].isna().to_numpy()
    comm = merged["community"].to_numpy(dtype=float, na_value=np.nan)
    next_id = (np.nanmax(comm) + 1) if (~missing).any() else 0
    comm[missing] = next_id + np.arange(missing.sum())
    nmi = normalized_mutual_info_score(merged["class"], comm.astype(np.int64))
    pupils = (merged["class"] != "Teachers").to_numpy()
    nmi_pupils = normalized_mutual_info_score(
        merged["class"][pupils], comm[pupils].astype(np.int64)
    )
    return {
        "nmi": float(nmi),
        "nmi_pupils": float(nmi_pupils),
        "communities": int(len(np.unique(comm))),
        "singletons": int(missing.sum()),
    }


def reweight(contacts: pd.DataFrame, weighting: str, min_contact_s: float = 0.0) -> pd.DataFrame:
    """Contacts with another score, keeping pairs with at least ``min_contact_s`` of contact.

    ``contact_s``: total contact seconds (the loader's score); ``log1p_min``: log(1 + minutes);
    ``meetings``: number of meetings; ``binary``: 1 for every pair.
    """
    keep = contacts.loc[contacts["intervals"] * INTERVAL_S >= min_contact_s].copy()
    seconds = keep["intervals"].astype(float) * INTERVAL_S
    if weighting == "contact_s":
        keep["score"] = seconds
    elif weighting == "log1p_min":
        keep["score"] = np.log1p(seconds / 60.0)
    elif weighting == "meetings":
        keep["score"] = keep["meetings"].astype(float)
    elif weighting == "binary":
        keep["score"] = 1.0
    else:
        raise UsageError(f"unknown weighting {weighting!r}; choose from {', '.join(WEIGHTINGS)}")
    return keep


def main(argv: list[str] | None = None) -> None:
    """Run the grid, the timings, and print Markdown tables."""
    from rich.console import Console
    from rich.progress import Progress

    argv = sys.argv[1:] if argv is None else argv
    data = Path(argv[0]) if argv else default_data_dir()
    console = Console()

    t = time.perf_counter()
    contacts = load_primaryschool_contacts(data)
    classes = load_primaryschool_classes(data)
    meetings = load_primaryschool_meetings(data)
    console.print(
        f"loaded {len(contacts)} pairs, {len(meetings)} meetings, {len(classes)} individuals "
        f"in {time.perf_counter() - t:.2f} s"
    )
    subjects = classes["pid"].tolist()
    rows = []
    combos = [(w, m, r) for w in WEIGHTINGS for m in MIN_CONTACT_S for r in RESOLUTIONS]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("louvain grid", total=len(combos) * len(SEEDS))
        for weighting, min_s, res in combos:
            frame = reweight(contacts, weighting, min_s)
            scores, secs = [], []
            for seed in SEEDS:
                t = time.perf_counter()
                comm = detect_communities(frame, seed=seed, resolution=res, subjects=subjects)
                secs.append(time.perf_counter() - t)
                scores.append(score_communities(comm, classes))
                bar.advance(task)
            nmi = [x["nmi"] for x in scores]
            rows.append(
                {
                    "weighting": weighting,
                    "min_contact_s": min_s,
                    "pairs": len(frame),
                    "resolution": res,
                    "nmi_seed0": nmi[0],
                    "nmi_mean": float(np.mean(nmi)),
                    "nmi_min": float(np.min(nmi)),
                    "nmi_pupils_mean": float(np.mean([x["nmi_pupils"] for x in scores])),
                    "communities_mean": float(np.mean([x["communities"] for x in scores])),
                    "seconds_mean": float(np.mean(secs)),
                }
            )
    grid = pd.DataFrame(rows)
    print(_markdown(grid))

    t = time.perf_counter()
    cen = centrality(contacts)
    console.print(f"centrality (exact, {len(cen)} nodes): {time.perf_counter() - t:.2f} s")
    start = meetings["start_ts"].min()
    for depth in (1, 3, 10):
        t = time.perf_counter()
        out = exposure_chains(meetings, "1426", start, max_depth=depth)
        console.print(
            f"exposure_chains index 1426 depth {depth}: {len(out)} exposed, "
            f"{time.perf_counter() - t:.2f} s"
        )


def _markdown(df: pd.DataFrame) -> str:
    """A Markdown table (floats with 3 decimals) without optional dependencies."""

    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
