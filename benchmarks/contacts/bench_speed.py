"""Speed: ``sightgraph contacts`` against ``sightgraph colocate`` on the same lake, one run.

    .venv/bin/python benchmarks/contacts/bench_speed.py --sightings 1000000
    .venv/bin/python benchmarks/contacts/bench_speed.py --sightings 10000000

Generates a synthetic city of about ``--sightings`` sightings once
(``sightgraph.synthetic.city.generate_city``, 14 days, seed 0) and ingests it into a lake under
``--workdir`` (default ``benchmarks/out/contacts-speed``), then runs, each in a fresh process
under ``/usr/bin/time -v`` (what a user waits for: interpreter, imports, reading, computing,
writing), ``sightgraph colocate`` and ``sightgraph contacts`` with the same window (W = 60 s, no
crowd cap), ``--repeat`` times each, alternating. Prints the best wall time, the peak RSS and
the CPU time (user + system) of each, every run's wall time, and the ratio contacts / colocate
(target: at most 3).

Each run starts once the files earlier runs wrote are on disk (``sync``): a 10M-sighting
contacts run writes ~12 GB of scratch files and a 4.6 GB table, and the kernel's writeback of
one run's (or the lake's generation's) dirty pages throttled the writes of the next (the 10M
job's event phase took 23-35 s from one run to the next without it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = "contacts-speed-benchmark"


def _lake(work: Path, sightings: int) -> Path:
    lake = work / f"lake-{sightings}"
    if (lake / "sightings").exists():
        return lake
    sys.path.insert(0, str(ROOT))
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city

    city = work / f"city-{sightings}"
    t = time.perf_counter()
    write_city(generate_city(target_sightings=sightings, days=14, seed=0), city, format="parquet")
    ingest(city / "sightings.parquet", lake, cameras=city / "cameras.csv", key=KEY, progress=False)
    print(f"generated and ingested in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return lake


def _timed(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (GiB) and CPU seconds (user + system) of one process."""
    env = dict(
        os.environ,
        SIGHTGRAPH_PSEUDONYM_KEY=KEY,
        SIGHTGRAPH_PURPOSE="benchmark on synthetic data",
        SIGHTGRAPH_WORKDIR=str(ROOT / "benchmarks" / "out" / "contacts-speed" / "work"),
    )
    os.sync()  # (see the module docstring)
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *args], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(
        float(m.group(1))
        for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)
    )
    return wall, (int(rss.group(1)) / 2**20 if rss else float("nan")), cpu


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sightings", type=int, default=1_000_000)
    p.add_argument("--workdir", default=str(ROOT / "benchmarks" / "out" / "contacts-speed"))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args(argv)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    lake = _lake(work, args.sightings)
    exe = str(Path(sys.executable).with_name("sightgraph"))
    runs: dict[str, list[tuple[float, float, float]]] = {"colocate": [], "contacts": []}
    for _ in range(args.repeat):
        runs["colocate"].append(
            _timed([exe, "colocate", "--lake", str(lake), "--out", str(work / "pairs.parquet")])
        )
        runs["contacts"].append(
            _timed([exe, "contacts", "--lake", str(lake), "--out", str(work / "contacts.parquet")])
        )
    best = {k: min(v) for k, v in runs.items()}
    report = {
        "sightings": args.sightings,
        "colocate_s": round(best["colocate"][0], 1),
        "colocate_gib": round(max(r for _, r, _ in runs["colocate"]), 2),
        "colocate_cpu_s": round(best["colocate"][2], 1),
        "contacts_s": round(best["contacts"][0], 1),
        "contacts_gib": round(max(r for _, r, _ in runs["contacts"]), 2),
        "contacts_cpu_s": round(best["contacts"][2], 1),
        "all_runs": {k: [round(w, 1) for w, _, _ in v] for k, v in runs.items()},
    }
    report["ratio"] = round(report["contacts_s"] / report["colocate_s"], 2)
    print(
        f"{args.sightings:,} sightings: colocate {report['colocate_s']} s "
        f"({report['colocate_gib']} GiB), contacts {report['contacts_s']} s "
        f"({report['contacts_gib']} GiB): contacts / colocate = {report['ratio']}x (target <= 3); "
        f"CPU of the best runs {report['colocate_cpu_s']} / {report['contacts_cpu_s']} s; "
        f"all runs {report['all_runs']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
