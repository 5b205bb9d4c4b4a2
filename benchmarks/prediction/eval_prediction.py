"""Evaluate and time next-camera prediction (sightgraph.analytics.prediction) on synthetic
cities and real movement data, in one table.

::

    python benchmarks/prediction/eval_prediction.py --data city town finches caribou \\
        --work /tmp/pred --table benchmarks/prediction/table.md
    python benchmarks/prediction/eval_prediction.py --sightings 3000000 --work /tmp/pred-3m
    python benchmarks/prediction/eval_prediction.py --lake LAKE --alpha 0.5 1 2   # an existing lake

Data sets (``--data``; each made into a lake under ``--work`` once, then reused):

* ``city``: ``sightgraph.synthetic.city.generate_city(target_sightings=--sightings, days=14,
  seed=0)`` (as the contacts benchmark does), ingested with its cameras.
* ``town``: ``sightgraph.synthetic.town.generate_town(persons=--town-persons, days=14, seed=0)``,
  a differently built generator, ingested with its cameras.
* ``finches``: ``../shared/data/feedr_finches/finches_lg.csv``, RFID reads of 11 house finches at
  4 feeders (naive local times, America/Vancouver), ingested as the README's quick tour does
  (``--map subject_id=animal_id,camera_id=logger_id,ts=time``, not pseudonymised), the loggers'
  coordinates as cameras; visits with G = 15 min.
* ``caribou``: ``../shared/data/caribou_gps/DT.csv``, 2-hourly GPS fixes of 10 caribou over 4
  months, gridded into ``--cell-m`` square cells (default 1000 m) whose ids are the cameras;
  the fixes are in projected metres (offset, relative geometry right, PROVENANCE.md), so the
  cells get positions by a local equirectangular mapping (distances right, places not).
  Visits with G = 3 h (the fix interval is 2 h: consecutive fixes in one cell are one stay), so
  the next place is always another cell.

For each it runs the evaluation protocol of DESIGN §4 (per subject, first 80% of visits fit,
last 20% test, each test visit predicted from all earlier ones) with model choice by
validation inside the fitting parts, and prints per model Acc@1, Acc@5 and MRR, the chosen
model and why, the predictability bound (Lempel-Ziv entropy + Fano; median over subjects), the
wall time and the peak RSS of this process. ``--table FILE`` writes the one-table summary
(markdown), ``--json FILE`` the reports.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

KEY = "prediction-benchmark-key"
#: the shared real data sets (the same place as benchmarks/contacts/sources.py reads)
SHARED = Path(os.environ.get("SIGHTGRAPH_SHARED_DATA", "/work/shared/data"))
GAPS = {"city": 900.0, "town": 900.0, "finches": 900.0, "caribou": 3 * 3600.0}
TZ = {"city": "Europe/Amsterdam", "town": "Europe/Berlin", "finches": "America/Vancouver"}


def _city_lake(work: Path, sightings: int, days: int, seed: int) -> Path:
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city

    city_dir, lake = work / "city", work / "lake"
    if not (city_dir / "truth" / "params.json").exists():
        city = generate_city(target_sightings=sightings, days=days, seed=seed)
        write_city(city, city_dir, format="parquet")
        del city
    if not (lake / "sightings").exists():
        ingest(
            city_dir / "sightings.parquet",
            lake,
            cameras=city_dir / "cameras.csv",
            key=KEY,
            progress=False,
        )
    return lake


def _town_lake(work: Path, persons: int) -> Path:
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.town import generate_town, write_town

    town_dir, lake = work / "town", work / "lake"
    if not (town_dir / "truth" / "params.json").exists():
        write_town(generate_town(persons=persons, days=14, seed=0), town_dir)
    if not (lake / "sightings").exists():
        ingest(
            town_dir / "sightings.parquet",
            lake,
            cameras=town_dir / "cameras.csv",
            key=KEY,
            progress=False,
        )
    return lake


def _finches_lake(work: Path) -> Path:
    from sightgraph.ingest.pipeline import ingest

    src = SHARED / "feedr_finches" / "finches_lg.csv"
    lake = work / "lake"
    if not (lake / "sightings").exists():
        work.mkdir(parents=True, exist_ok=True)
        cams = pd.read_csv(src, dtype={"logger_id": str}).drop_duplicates("logger_id")
        cams = cams.rename(columns={"logger_id": "camera_id"})[["camera_id", "lat", "lon"]]
        cams.to_csv(work / "cameras.csv", index=False)
        ingest(
            src,
            lake,
            cameras=work / "cameras.csv",
            mapping={"subject_id": "animal_id", "camera_id": "logger_id", "ts": "time"},
            tz="America/Vancouver",
            pseudonymize=False,
            progress=False,
        )
    return lake


def caribou_sightings(cell_m: float = 1000.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The caribou fixes as sightings (subject_id, camera_id = grid cell, ts UTC) and the cells
    as cameras (camera_id, lat, lon: a local equirectangular mapping of the cell centres)."""
    df = pd.read_csv(SHARED / "caribou_gps" / "DT.csv")
    ix = np.floor(df["X"].to_numpy() / cell_m).astype(np.int64)
    iy = np.floor(df["Y"].to_numpy() / cell_m).astype(np.int64)
    cell = pd.Series([f"x{a}_y{b}" for a, b in zip(ix, iy, strict=True)])
    # datetime: no zone stated; the fixes fall on even hours: read as UTC
    ts = pd.to_datetime(df["datetime"]).dt.tz_localize("UTC")
    s = pd.DataFrame({"subject_id": df["ID"].astype(str), "camera_id": cell, "ts": ts})
    x0, y0 = df["X"].min(), df["Y"].min()
    lat0 = 48.0  # Newfoundland's latitude, for the metres per degree of longitude
    cams = pd.DataFrame({"ix": ix, "iy": iy}).drop_duplicates()
    cams["camera_id"] = [f"x{a}_y{b}" for a, b in zip(cams["ix"], cams["iy"], strict=True)]
    cams["lat"] = lat0 + ((cams["iy"] + 0.5) * cell_m - y0) / 111_320.0
    cams["lon"] = -56.0 + ((cams["ix"] + 0.5) * cell_m - x0) / (
        111_320.0 * np.cos(np.radians(lat0))
    )
    return s, cams[["camera_id", "lat", "lon"]].reset_index(drop=True)


def _caribou_lake(work: Path, cell_m: float) -> Path:
    from sightgraph.ingest.pipeline import ingest

    lake = work / "lake"
    if not (lake / "sightings").exists():
        work.mkdir(parents=True, exist_ok=True)
        s, cams = caribou_sightings(cell_m)
        s.to_parquet(work / "sightings.parquet", index=False)
        cams.to_csv(work / "cameras.csv", index=False)
        ingest(
            work / "sightings.parquet",
            lake,
            cameras=work / "cameras.csv",
            pseudonymize=False,
            progress=False,
        )
    return lake


def make_lake(name: str, args: argparse.Namespace) -> Path:
    work = Path(args.work) / name
    if name == "city":
        return _city_lake(work, args.sightings, args.days, args.seed)
    if name == "town":
        return _town_lake(work, args.town_persons)
    if name == "finches":
        return _finches_lake(work)
    if name == "caribou":
        return _caribou_lake(work, args.cell_m)
    raise SystemExit(f"unknown data set {name!r}")


def _row(name: str, rep: dict) -> str:
    m = rep["models"]
    ch = rep.get("chosen", "")

    def acc(x: str) -> str:
        v = m.get(x, {}).get("acc1", float("nan"))
        return f"**{v:.3f}**" if x == ch else f"{v:.3f}"

    val = rep.get("selection", {}).get("models", {})
    chosen_val = val.get(ch, {}).get("acc1", float("nan"))
    markov_val = val.get("markov", {}).get("acc1", float("nan"))
    return (
        f"| {name} | {rep['subjects']:,} / {rep['test_visits']:,} / {rep['cameras']:,} "
        f"| {acc('most_frequent')} | {acc('markov')} | {acc('sightgraph')} | {acc('ranker')} "
        f"| {ch} {m.get(ch, {}).get('acc1', float('nan')):.3f} "
        f"(val. {chosen_val:.3f} vs Markov {markov_val:.3f}) "
        f"| {rep['predictability']['median']:.3f} | {rep['wall_s']:.0f} s |"
    )


HEADER = (
    "| data | subjects / test visits / cameras | most frequent | first-order Markov "
    "| back-off (sightgraph) | ranker | chosen: test Acc@1 (validation Acc@1) "
    "| predictability bound | time |\n|---|---|---:|---:|---:|---:|---|---:|---:|"
)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", nargs="+", default=["city"], help="city town finches caribou")
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--town-persons", type=int, default=1500)
    ap.add_argument("--cell-m", type=float, default=1000.0, help="caribou grid cell, metres")
    ap.add_argument("--work", default="benchmarks/out/prediction")
    ap.add_argument("--lake", help="evaluate this lake instead (gap --gap, tz --tz)")
    ap.add_argument("--alpha", type=float, nargs="+", default=[1.0])
    ap.add_argument("--gap", type=float, default=900.0, help="visit gap G, seconds (--lake)")
    ap.add_argument("--tz", default="UTC", help="time zone of the time features (--lake)")
    ap.add_argument("--no-ranker", action="store_true", help="the counting models only")
    ap.add_argument("--json", help="also write the reports here")
    ap.add_argument("--table", help="also write the markdown table here")
    args = ap.parse_args()

    from sightgraph.analytics.prediction import compute_predictions

    jobs = (
        [("lake", Path(args.lake), args.gap, args.tz)]
        if args.lake
        else [(n, make_lake(n, args), GAPS[n], TZ.get(n, "UTC")) for n in args.data]
    )
    reports, rows = [], []
    for name, lake, gap, tz in jobs:
        for alpha in args.alpha:
            t = time.perf_counter()
            if args.no_ranker:
                from sightgraph.analytics.prediction import evaluate_predictions
                from sightgraph.analytics.trajectories import build_visits
                from sightgraph.lake import read_sightings

                visits = build_visits(
                    read_sightings(lake, columns=["pid", "camera_id", "ts"]), gap_s=gap
                )
                rep = evaluate_predictions(visits, alpha=alpha, tz=tz, ranker=False, select=False)
            else:
                rep = compute_predictions(
                    lake, gap_s=gap, evaluate=True, alpha=alpha, tz=tz, progress=False
                )
            rep["wall_s"] = time.perf_counter() - t
            rep["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            rep["data"] = name
            reports.append(rep)
            b = rep["predictability"]
            print(
                f"{name} ({lake}): alpha {alpha:g}, G {gap:g} s, tz {tz}: {rep['test_visits']:,} "
                f"test visits of {rep['subjects']:,} subjects, {rep['cameras']:,} cameras; "
                f"{rep['wall_s']:.1f} s, peak RSS {rep['peak_rss_gib']:.2f} GiB"
            )
            for m, x in rep["models"].items():
                print(f"  {m:14s} Acc@1 {x['acc1']:.3f}  Acc@5 {x['acc5']:.3f}  MRR {x['mrr']:.3f}")
            if "chosen" in rep:
                print(f"  chosen: {rep['chosen']}: {rep['selection']['reason']}")
            print(f"  predictability bound: median {b['median']:.3f}, mean {b['mean']:.3f}")
            rows.append(_row(name, rep))
    table = HEADER + "\n" + "\n".join(rows)
    print(table, flush=True)
    if args.table:
        Path(args.table).write_text(table + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2, default=str))


if __name__ == "__main__":
    main()
