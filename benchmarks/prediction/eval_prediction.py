"""Evaluate and time next-camera prediction (sightgraph.analytics.prediction) on a synthetic city.

::

    python benchmarks/prediction/eval_prediction.py --sightings 1000000 --work /tmp/pred-1m
    python benchmarks/prediction/eval_prediction.py --sightings 3000000 --work /tmp/pred-3m
    python benchmarks/prediction/eval_prediction.py --lake LAKE --alpha 0.5 1 2   # an existing lake

generates the city (``generate_city(target_sightings=..., days=14, seed=0)``, as the contacts
benchmark does) and ingests it unless ``--lake`` is given, then runs the evaluation protocol of
DESIGN §4 (per subject, first 80% of visits fit, last 20% test, each test visit predicted from
all earlier ones) once per ``--alpha`` and prints, per model, Acc@1, Acc@5 and MRR, the
predictability bound (Lempel-Ziv entropy + Fano; median over subjects), the wall time of the
evaluation and the peak RSS of this process. ``--json FILE`` also writes the reports.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

KEY = "prediction-benchmark-key"


def _lake(args: argparse.Namespace) -> Path:
    if args.lake:
        return Path(args.lake)
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city

    work = Path(args.work)
    city_dir, lake = work / "city", work / "lake"
    if not (city_dir / "truth" / "params.json").exists():
        city = generate_city(target_sightings=args.sightings, days=args.days, seed=args.seed)
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


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="benchmarks/out/prediction")
    ap.add_argument("--lake", help="evaluate this lake instead of generating a city")
    ap.add_argument("--alpha", type=float, nargs="+", default=[1.0])
    ap.add_argument("--gap", type=float, default=900.0, help="visit gap G, seconds")
    ap.add_argument("--json", help="also write the reports here")
    args = ap.parse_args()

    from sightgraph.analytics.prediction import compute_predictions

    lake = _lake(args)
    reports = []
    for alpha in args.alpha:
        t = time.perf_counter()
        rep = compute_predictions(lake, gap_s=args.gap, evaluate=True, alpha=alpha, progress=False)
        rep["wall_s"] = time.perf_counter() - t
        rep["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        reports.append(rep)
        b = rep["predictability"]
        print(
            f"{lake}: alpha {alpha:g}: {rep['test_visits']:,} test visits of {rep['subjects']:,} subjects, "
            f"{rep['cameras']:,} cameras; {rep['wall_s']:.1f} s, peak RSS {rep['peak_rss_gib']:.2f} GiB"
        )
        for name, m in rep["models"].items():
            print(f"  {name:14s} Acc@1 {m['acc1']:.3f}  Acc@5 {m['acc5']:.3f}  MRR {m['mrr']:.3f}")
        print(f"  predictability bound: median {b['median']:.3f}, mean {b['mean']:.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
