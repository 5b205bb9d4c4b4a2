"""Benchmark: exact co-location pairs, sightgraph's Dask + numba sweep against DuckDB SQL.

Run on demand (not a test)::

    .venv/bin/python benchmarks/colocation/bench_colocation.py --sightings 1000000   # quick
    .venv/bin/python benchmarks/colocation/bench_colocation.py                       # 10M

1. Generates a lake ONCE per (generator, size, seed) under ``--workdir`` (default
   ``benchmarks/out/colocation``): with ``sightgraph.synthetic.city.generate_city`` (a synthetic
   city whose hubs and leisure places are Zipf-popular) when available, else (or with
   ``--generator zipf``) a vectorised generator of sightings at Zipf-popular cameras (2000
   cameras, exponent 0.8: the busiest has ~5% of the sightings and ~44% of the events; uniform
   random subjects; morning and evening rush hours over 7 days).
2. Runs each tool in a fresh process, ``/usr/bin/time -v python this.py _run TOOL ...``: the
   whole process is what a user waits for (interpreter, imports, reading, computing, writing the
   Parquet pair table); the process also reports the time of the call alone (in-process). Peak
   memory is the process's maximum RSS.
3. Checks that both pair tables are identical (row count and an order-independent hash of all
   columns computed by DuckDB; full sorted comparison below 5M rows).
4. Prints the times, the ratios DuckDB / sightgraph and the peak memory of each.

DuckDB's query is the usual bucketed self-join: sightings get a time bucket of ``W`` seconds;
each is joined (equi-join on camera and bucket) with the sightings of its own and of the previous
bucket, keeping each unordered pair once (the later sighting on the left), distinct subjects and
``|t1 - t2| <= W``; grouped by the ordered pid pair. All values are passed as parameters.
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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sightgraph.schema import CAMERAS_ARROW, SIGHTINGS_ARROW  # noqa: E402

DUCKDB_SQL = """
WITH s AS (
    SELECT pid, camera_id, ts, epoch_us(ts) AS t, epoch_us(ts) // $bucket AS b
    FROM read_parquet($files)
), prev AS (
    SELECT pid, camera_id, ts, t, b + d AS b
    FROM s CROSS JOIN (VALUES (0), (1)) AS v(d)
)
SELECT least(x.pid, y.pid) AS pid_a,
       greatest(x.pid, y.pid) AS pid_b,
       count(*) AS n_events,
       min(least(x.ts, y.ts)) AS first_ts,
       max(greatest(x.ts, y.ts)) AS last_ts
FROM s AS x JOIN prev AS y ON x.camera_id = y.camera_id AND x.b = y.b
WHERE x.pid <> y.pid
  AND x.t - y.t <= $window
  AND (x.t > y.t OR (x.t = y.t AND x.pid > y.pid))
GROUP BY ALL
"""


# ---------------------------------------------------------------------------------------------
# data


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (x ^ (x >> np.uint64(31))).view(np.int64) & np.int64(0x7FFFFFFFFFFFFFFF)


def _write_lake(
    lake: Path,
    pid: pa.Array,
    cam: pa.Array,
    ts_us: np.ndarray,
    conf: np.ndarray,
    cams: pd.DataFrame,
) -> None:
    """Sightings (sorted by ts) -> LAKE/sightings/date=YYYY-MM-DD/part-0.parquet + cameras."""
    order = np.argsort(ts_us, kind="stable")
    ts_us = ts_us[order]
    pid = pid.take(pa.array(order))
    cam = cam.take(pa.array(order))
    conf = conf[order]
    pid_code = rank_strings(pid)
    cam_code = rank_strings(cam)
    sid = _splitmix(_splitmix(pid_code ^ (cam_code << np.int64(1))) ^ ts_us)
    day = ts_us // 86_400_000_000
    bounds = np.flatnonzero(np.diff(day)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(day)]])
    for s, e in zip(starts, ends, strict=True):
        date = pd.Timestamp(int(day[s]) * 86_400, unit="s").strftime("%Y-%m-%d")
        folder = lake / "sightings" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_arrays(
            [
                pa.array(sid[s:e]),
                pid.slice(s, e - s),
                cam.slice(s, e - s),
                pa.array(ts_us[s:e], pa.timestamp("us", tz="UTC")),
                pa.array(conf[s:e]),
            ],
            schema=SIGHTINGS_ARROW,
        )
        pq.write_table(table, folder / "part-0.parquet", row_group_size=1_000_000)
    (lake / "cameras").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(
            cams[list(CAMERAS_ARROW.names)], schema=CAMERAS_ARROW, preserve_index=False
        ),
        lake / "cameras" / "cameras.parquet",
    )


def rank_strings(arr: pa.Array) -> np.ndarray:
    """A deterministic int64 per string (dictionary rank), for sighting ids."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(arr)
    rank = np.asarray(pc.rank(enc.dictionary, sort_keys="ascending")) - 1
    return rank[np.asarray(enc.indices)].astype(np.int64)


def generate_zipf(
    lake: Path, n: int, seed: int = 0, cameras: int = 2000, exponent: float = 0.8, days: int = 7
) -> None:
    """Vectorised fallback: uniform subjects at Zipf-popular cameras, rush hours over ``days``."""
    rng = np.random.default_rng(seed)
    persons = max(2, n // 50)
    p = np.arange(1, cameras + 1, dtype=np.float64) ** -exponent
    p /= p.sum()
    cam_idx = rng.choice(cameras, size=n, p=p)
    person = rng.integers(0, persons, size=n)
    kind = rng.random(n)
    tod = np.where(
        kind < 0.4,
        rng.normal(8 * 3600, 3600, n),
        np.where(kind < 0.8, rng.normal(17.5 * 3600, 4300, n), rng.uniform(6 * 3600, 23 * 3600, n)),
    )
    tod = np.clip(tod, 0, 86_399.999999)
    day = rng.integers(0, days, size=n)
    t0 = pd.Timestamp("2026-03-02", tz="UTC").value // 1000
    ts_us = t0 + day * 86_400_000_000 + (tod * 1e6).astype(np.int64)
    pids = pa.array([f"{x:016x}" for x in rng.integers(0, 2**63, persons)])
    cam_ids = pa.array([f"cam{c:05d}" for c in range(cameras)])
    conf = np.round(rng.beta(12, 1.5, n), 3)
    cams = pd.DataFrame(
        {
            "camera_id": cam_ids.to_pylist(),
            "lat": 52.09 + rng.uniform(-0.045, 0.045, cameras),
            "lon": 5.12 + rng.uniform(-0.073, 0.073, cameras),
            "name": [f"Camera {c}" for c in range(cameras)],
            "site": "street",
        }
    )
    _write_lake(
        lake, pids.take(pa.array(person)), cam_ids.take(pa.array(cam_idx)), ts_us, conf, cams
    )


def generate_city_lake(lake: Path, n: int, seed: int = 0) -> None:
    """sightgraph's synthetic city sized for ``n`` sightings, written straight to the lake."""
    from sightgraph.synthetic.city import generate_city

    city = generate_city(target_sightings=n, seed=seed, progress=True)
    s = city.sightings
    ts_us = (s["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
    _write_lake(
        lake,
        pa.array(s["subject_id"].astype(str).to_numpy(dtype=object), pa.string()),
        pa.array(s["camera_id"].astype(str).to_numpy(dtype=object), pa.string()),
        ts_us.to_numpy(np.int64),
        s["confidence"].to_numpy(np.float64),
        city.cameras,
    )


#: the crowded lake: the city tiled this many times in time (later fortnights) and in crowd
TILE_TIME, TILE_CROWD = 4, 4


def generate_crowded_lake(lake: Path, n: int, seed: int = 0) -> None:
    """Dense crowds: a city of ``n / 16`` sightings tiled 4x in time (each copy 14 days later)
    and 4x in crowd (each subject has 3 look-alike copies with their own pseudonyms, each
    sighting shifted by its own random 0-30 min, so the copies share the subject's places and
    rush hours without walking with it): every camera hour holds about four times the subjects."""
    from sightgraph.synthetic.city import generate_city

    city = generate_city(target_sightings=max(n // (TILE_TIME * TILE_CROWD), 1000), seed=seed,
                         progress=True)  # fmt: skip
    s = city.sightings
    base_ts = ((s["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy()
    pid = s["subject_id"].astype(str).to_numpy(dtype=object)
    cam = s["camera_id"].astype(str).to_numpy(dtype=object)
    conf = s["confidence"].to_numpy(np.float64)
    rng = np.random.default_rng(seed)
    span = (base_ts.max() - base_ts.min()) // 86_400_000_000 + 1
    pids, cams, tss, confs = [], [], [], []
    for t in range(TILE_TIME):
        for c in range(TILE_CROWD):
            shift = t * span * 86_400_000_000
            if c:
                shift = shift + rng.integers(0, 1_800_000_000, len(base_ts))
            pids.append(pid if c == 0 else pid + f"~{c}")
            cams.append(cam)
            tss.append(base_ts + shift)
            confs.append(conf)
    _write_lake(
        lake,
        pa.array(np.concatenate(pids), pa.string()),
        pa.array(np.concatenate(cams), pa.string()),
        np.concatenate(tss).astype(np.int64),
        np.concatenate(confs),
        city.cameras,
    )


def ensure_lake(workdir: Path, n: int, generator: str, seed: int) -> tuple[Path, str]:
    if generator == "auto":
        try:
            import sightgraph.synthetic.city as g

            generator = "city" if hasattr(g, "generate_city") else "zipf"
        except ImportError:
            generator = "zipf"
    lake = workdir / f"lake-{generator}-{n}-s{seed}"
    if (lake / "DONE").exists():
        return lake, generator
    if lake.exists():
        import shutil

        shutil.rmtree(lake)
    t = time.perf_counter()
    print(f"generating {n:,} sightings ({generator}) into {lake} ...", flush=True)
    if generator == "city":
        generate_city_lake(lake, n, seed)
    elif generator == "crowded":
        generate_crowded_lake(lake, n, seed)
    else:
        generate_zipf(lake, n, seed)
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in (lake / "sightings").rglob("*.parquet"))
    (lake / "DONE").write_text(json.dumps({"rows": rows, "generator": generator}))
    print(f"  {rows:,} sightings in {time.perf_counter() - t:.1f} s", flush=True)
    return lake, generator


# ---------------------------------------------------------------------------------------------
# one run (child process)


def run_tool(tool: str, lake: Path, out: Path, window: float) -> dict:
    """Run ``tool`` once; ``in_process_s`` is the call alone (its modules imported before the
    clock starts: their import is in the whole-process time)."""
    if tool == "ours":
        from sightgraph.analytics.colocation import colocate_lake
    elif tool == "duckdb":
        import duckdb
    else:
        raise SystemExit(f"unknown tool {tool}")
    t = time.perf_counter()
    if tool == "ours":
        res = colocate_lake(lake, out, window_s=window, progress=False)
        info = {"pairs": res.pairs, "events": res.events}
    else:
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        files = sorted(str(p) for p in (lake / "sightings").rglob("*.parquet"))
        bucket = max(1, round(window * 1_000_000))
        rel = con.sql(
            DUCKDB_SQL,
            params={"files": files, "bucket": bucket, "window": round(window * 1_000_000)},
        )
        rel.write_parquet(str(out))
        info = {"pairs": pq.ParquetFile(out).metadata.num_rows}
    info["in_process_s"] = time.perf_counter() - t
    return info


def _timed(cmd: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SIGHTGRAPH_PURPOSE": os.environ.get(
                "SIGHTGRAPH_PURPOSE", "benchmark on synthetic data"
            ),
        },
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", proc.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", proc.stderr)
    return proc, {
        "whole_process_s": wall,
        "cpu_s": float(user.group(1)) + float(system.group(1)) if user and system else float("nan"),
        "peak_rss_gib": int(rss.group(1)) / 2**20 if rss else float("nan"),
    }


def measure(tool: str, lake: Path, out: Path, window: float) -> dict:
    """Whole process (the CLI for sightgraph when installed) and in-process time of ``tool``."""
    if out.exists():
        out.unlink()
    run = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_run",
        tool,
        "--lake",
        str(lake),
        "--out",
        str(out),
        "--window",
        str(window),
    ]
    proc, info = _timed(run)
    info.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    cli = Path(sys.executable).with_name("sightgraph")
    if tool == "ours" and cli.exists():
        out.unlink()
        _, whole = _timed(
            [
                str(cli),
                "colocate",
                "--lake",
                str(lake),
                "--out",
                str(out),
                "--window",
                f"{window:g}s",
            ]
        )
        info["script"] = {k: info[k] for k in ("whole_process_s", "cpu_s", "peak_rss_gib")}
        info.update(whole, whole_process_via="sightgraph colocate")
    return info


def check_equal(ours: Path, theirs: Path) -> str:
    import duckdb

    con = duckdb.connect()
    q = """SELECT count(*) AS n, sum(hash(pid_a, pid_b, n_events, epoch_us(first_ts), epoch_us(last_ts))::HUGEINT)
           AS h FROM read_parquet($f)"""
    a = con.execute(q, {"f": str(ours)}).fetchone()
    b = con.execute(q, {"f": str(theirs)}).fetchone()
    if a != b:
        raise SystemExit(f"DIFFERENT pair tables: ours (rows, hash) = {a}, duckdb = {b}")
    if a[0] <= 5_000_000:
        x = pd.read_parquet(ours)
        y = pd.read_parquet(theirs).sort_values(["pid_a", "pid_b"], ignore_index=True)
        y["n_events"] = y["n_events"].astype("int64")
        for col in ("first_ts", "last_ts"):
            y[col] = y[col].astype("datetime64[us, UTC]")
        pd.testing.assert_frame_equal(x, y, check_dtype=False)
        return f"identical ({a[0]:,} pairs; full sorted comparison and hash)"
    return f"identical ({a[0]:,} pairs; row count and order-independent hash)"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sightings", type=int, default=10_000_000)
    ap.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "colocation")
    ap.add_argument("--generator", choices=["auto", "city", "zipf", "crowded"], default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the fastest is reported")
    ap.add_argument("--tools", default="ours,duckdb")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    lake, gen = ensure_lake(args.workdir, args.sightings, args.generator, args.seed)
    outs = {
        t: args.workdir / f"pairs-{t}-{gen}-{args.sightings}.parquet" for t in args.tools.split(",")
    }
    results: dict[str, dict] = {}
    for rep in range(args.repeat):
        for tool, out in outs.items():
            info = measure(tool, lake, out, args.window)
            print(
                f"[{rep + 1}/{args.repeat}] {tool:7s} whole {info['whole_process_s']:6.2f} s   in-process "
                f"{info['in_process_s']:6.2f} s   cpu {info['cpu_s']:6.2f} s   peak RSS "
                f"{info['peak_rss_gib']:5.2f} GiB   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            best = results.get(tool)
            if best is None or info["whole_process_s"] < best["whole_process_s"]:
                results[tool] = info
    if "ours" in outs and "duckdb" in outs:
        print("check:", check_equal(outs["ours"], outs["duckdb"]))
        o, d = results["ours"], results["duckdb"]
        print(
            f"\n{args.sightings:,} sightings ({gen}), W = {args.window:g} s, {o.get('events', 0):,} events, "
            f"{o['pairs']:,} pairs; machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'':12s}{'whole process':>15s}{'in-process':>12s}{'CPU (u+s)':>12s}{'peak RSS':>12s}"
        )
        for name, r in (("sightgraph", o), ("duckdb", d)):
            print(
                f"{name:12s}{r['whole_process_s']:13.2f} s{r['in_process_s']:10.2f} s"
                f"{r['cpu_s']:10.2f} s{r['peak_rss_gib']:8.2f} GiB"
            )
        print(
            f"ratio duckdb/sightgraph: whole process {d['whole_process_s'] / o['whole_process_s']:.2f}x, "
            f"in-process {d['in_process_s'] / o['in_process_s']:.2f}x, CPU {d['cpu_s'] / o['cpu_s']:.2f}x"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        p = argparse.ArgumentParser()
        p.add_argument("_run")
        p.add_argument("tool")
        p.add_argument("--lake", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
        p.add_argument("--window", type=float, default=60.0)
        a = p.parse_args()
        print(json.dumps(run_tool(a.tool, a.lake, a.out, a.window)))
    else:
        main()
