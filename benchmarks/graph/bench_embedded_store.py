"""Benchmark of the embedded store (not collected by pytest; run by hand):

    .venv/bin/python tests/graph/bench_embedded_store.py [--sightings 1000000] [--contacts 50000]

Writes N synthetic sightings (hex pseudonyms, Zipf-popular cameras, 30 days) and ~50k contact
edges (heavy-tailed degrees) into a fresh file-backed store, then times trajectory() and 2-hop
ego_network() for random subjects. Prints rows/s and median/p95 latencies.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sightgraph.graph.embedded import EmbeddedStore


def make_sightings(n: int, n_pids: int, n_cams: int, rng: np.random.Generator) -> pd.DataFrame:
    pids = np.array([f"{x:016x}{y:016x}" for x, y in rng.integers(0, 2**62, (n_pids, 2))])
    cam_p = 1.0 / np.arange(1, n_cams + 1)
    cams = np.array([f"cam-{i:04d}" for i in range(n_cams)])
    t0 = pd.Timestamp("2024-03-01", tz="UTC")
    us = np.sort(rng.integers(0, 30 * 86_400_000_000, n))
    return pd.DataFrame(
        {
            "sighting_id": rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64),
            "pid": pd.array(pids[rng.integers(0, n_pids, n)], dtype="str"),
            "camera_id": pd.array(cams[rng.choice(n_cams, n, p=cam_p / cam_p.sum())], dtype="str"),
            "ts": (t0 + pd.to_timedelta(us, unit="us")).astype("datetime64[us, UTC]"),
            "confidence": rng.random(n),
        }
    )


def make_contacts(pids: np.ndarray, n: int, rng: np.random.Generator) -> pd.DataFrame:
    # heavy-tailed degrees: endpoints drawn with Zipf-like weights over a shuffled pid order
    order = rng.permutation(len(pids))
    w = 1.0 / np.arange(1, len(pids) + 1) ** 0.6
    w /= w.sum()
    a = pids[order[rng.choice(len(pids), 2 * n, p=w)]]
    b = pids[order[rng.choice(len(pids), 2 * n, p=w)]]
    df = pd.DataFrame({"pid_a": np.minimum(a, b), "pid_b": np.maximum(a, b)})
    df = df[df.pid_a != df.pid_b].drop_duplicates().head(n).reset_index(drop=True)
    m = len(df)
    t0 = pd.Timestamp("2024-03-01", tz="UTC")
    first = t0 + pd.to_timedelta(rng.integers(0, 20 * 86_400, m), unit="s")
    return df.assign(
        score=rng.gamma(2.0, 1.5, m),
        p_value=rng.random(m),
        q_value=rng.random(m),
        meetings=rng.integers(1, 20, m),
        days=rng.integers(1, 10, m),
        places=rng.integers(1, 5, m),
        first_ts=first.astype("datetime64[us, UTC]"),
        last_ts=(first + pd.to_timedelta(rng.integers(0, 10 * 86_400, m), unit="s")).astype(
            "datetime64[us, UTC]"
        ),
    )


def time_calls(fn, args: list) -> tuple[str, list]:
    """Median and p95 of wall time, and median CPU time of this process (all threads): on a
    busy shared machine the CPU time is the better guess of the latency on a quiet one."""
    wall, cpu, out = [], [], []
    for a in args:
        t, c = time.perf_counter(), time.process_time()
        out.append(fn(a))
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    w, cp = np.array(wall) * 1e3, np.array(cpu) * 1e3
    text = (
        f"median {np.median(w):6.2f} ms  p95 {np.percentile(w, 95):6.2f} ms  "
        f"(cpu median {np.median(cp):6.2f} ms)"
    )
    return text, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--cameras", type=int, default=500)
    ap.add_argument("--contacts", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    sightings = make_sightings(args.sightings, args.persons, args.cameras, rng)
    pids = np.asarray(pd.unique(sightings["pid"]), dtype=object)
    contacts = make_contacts(pids, args.contacts, rng)
    print(
        f"generated {len(sightings):,} sightings, {len(contacts):,} contacts "
        f"in {time.perf_counter() - t:.1f}s"
    )

    folder = args.dir or Path(tempfile.mkdtemp(prefix="sg-bench-"))
    path = folder / "graph.duckdb"
    path.unlink(missing_ok=True)
    store = EmbeddedStore(path)
    t, c = time.perf_counter(), time.process_time()
    store.write_sightings(sightings)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(
        f"write_sightings  first : {dt:6.2f}s  {len(sightings) / dt:12,.0f} rows/s  (cpu {dc:.2f}s)"
    )
    t = time.perf_counter()
    store.write_sightings(sightings)
    dt2 = time.perf_counter() - t
    print(
        f"write_sightings  again : {dt2:6.2f}s  {len(sightings) / dt2:12,.0f} rows/s (idempotent)"
    )
    t = time.perf_counter()
    store.write_contacts(contacts)
    dt3 = time.perf_counter() - t
    print(f"write_contacts         : {dt3:6.2f}s  {len(contacts) / dt3:12,.0f} rows/s")
    print("counts", store.counts(), f"file {path.stat().st_size / 2**20:.0f} MiB")
    store.close()

    store = EmbeddedStore(path, read_only=True)
    sample = [str(p) for p in rng.choice(pids, args.queries, replace=False)]
    store.trajectory(sample[0])  # warm-up
    text, out = time_calls(store.trajectory, sample)
    rows = np.median([len(o) for o in out])
    print(f"trajectory()           : {text}  rows median {rows:.0f}")
    text, out = time_calls(lambda p: store.ego_network(p, hops=2), sample)
    nodes = [len(o.nodes) for o in out]
    edges = [len(o.edges) for o in out]
    print(
        f"ego_network(hops=2)    : {text}  nodes median {np.median(nodes):.0f} / max "
        f"{max(nodes)}, edges median {np.median(edges):.0f}"
    )
    pairs = list(zip(sample[::2], sample[1::2], strict=False))
    text, out = time_calls(lambda ab: store.shortest_connection(*ab, max_hops=4), pairs)
    found = [len(o) - 1 for o in out if o]
    print(
        f"shortest_connection(4) : {text}  found {len(found)}/{len(pairs)}, hops median "
        f"{np.median(found) if found else 0:.0f}"
    )
    text, _ = time_calls(lambda ab: store.pair_events(*ab), pairs)
    print(f"pair_events()          : {text}")
    store.close()


if __name__ == "__main__":
    main()
