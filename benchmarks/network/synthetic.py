"""Timings of the contact-network analytics on a synthetic contact graph.

A planted-partition graph (default 20,000 subjects in groups of 50, 100,000 contacts, 80% of them
inside groups, scores log-normal) and a synthetic meetings table for exposure chains. Run::

    .venv/bin/python benchmarks/network/synthetic.py [--nodes 20000 --edges 100000 --k 256]
        [--exact] [--meetings 200000]

Prints one line per step with wall-clock and process CPU seconds (CPU sums all threads); results
are written up in RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from sightgraph.analytics.network import (
    centrality,
    contact_graph,
    detect_communities,
    ego_network,
    exposure_chains,
    strongest_path,
)

T0 = pd.Timestamp("2026-01-05 00:00", tz="UTC")


def generate_contacts(
    n_nodes: int, n_edges: int, group: int = 50, inside: float = 0.8, seed: int = 0
) -> pd.DataFrame:
    """Planted-partition contacts: pids ``s00000``...; exactly ``n_edges`` distinct pairs."""
    rng = np.random.default_rng(seed)
    pairs = np.empty((0, 2), dtype=np.int64)
    while len(pairs) < n_edges:
        m = 2 * n_edges
        a = rng.integers(0, n_nodes, m)
        same = rng.random(m) < inside
        b_in = (a // group) * group + rng.integers(0, group, m)
        b = np.where(same, np.minimum(b_in, n_nodes - 1), rng.integers(0, n_nodes, m))
        keep = a != b
        lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        pairs = np.unique(np.concatenate([pairs, np.stack([lo, hi], axis=1)]), axis=0)
    pairs = pairs[rng.permutation(len(pairs))[:n_edges]]
    names = np.asarray([f"s{i:05d}" for i in range(n_nodes)], dtype=object)
    first = T0 + pd.to_timedelta(rng.integers(0, 7 * 24 * 3600, n_edges), unit="s")
    return pd.DataFrame(
        {
            "pid_a": names[pairs[:, 0]],
            "pid_b": names[pairs[:, 1]],
            "score": np.round(rng.lognormal(0.0, 1.0, n_edges), 3) + 0.001,
            "meetings": rng.integers(1, 20, n_edges),
            "days": rng.integers(1, 7, n_edges),
            "places": rng.integers(1, 5, n_edges),
            "first_ts": first.astype("datetime64[us, UTC]"),
            "last_ts": (
                first + pd.to_timedelta(rng.integers(0, 7 * 24 * 3600, n_edges), unit="s")
            ).astype("datetime64[us, UTC]"),
        }
    )


def generate_meetings(contacts: pd.DataFrame, n_meetings: int, seed: int = 0) -> pd.DataFrame:
    """Meetings drawn from the contact pairs over 14 days, 0-60 min long."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(contacts), n_meetings)
    start = T0 + pd.to_timedelta(rng.integers(0, 14 * 24 * 3600, n_meetings), unit="s")
    return pd.DataFrame(
        {
            "pid_a": contacts["pid_a"].to_numpy()[pick],
            "pid_b": contacts["pid_b"].to_numpy()[pick],
            "camera_id": "cam",
            "start_ts": start.astype("datetime64[us, UTC]"),
            "end_ts": (start + pd.to_timedelta(rng.integers(0, 3600, n_meetings), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
        }
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=20_000)
    ap.add_argument("--edges", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=256, help="betweenness source sample")
    ap.add_argument("--exact", action="store_true", help="also time exact betweenness (minutes)")
    ap.add_argument("--meetings", type=int, default=200_000)
    args = ap.parse_args(argv)
    console = Console(width=120)

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        console.print(f"{label:<52} wall {wall:8.2f} s   cpu {cpu:8.2f} s")
        return out

    contacts = timed("generate contacts", lambda: generate_contacts(args.nodes, args.edges))
    g = timed("contact_graph", lambda: contact_graph(contacts))
    console.print(f"graph: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges")
    comm = timed("detect_communities (louvain, seed 0)", lambda: detect_communities(g))
    console.print(f"communities: {comm['community'].nunique()}")
    timed(
        "centrality warm-up (numba compile or cache load)", lambda: centrality(contacts.iloc[:50])
    )
    timed(f"centrality k={args.k}", lambda: centrality(g, k=args.k, progress=True))
    if args.exact:
        timed("centrality exact", lambda: centrality(g, progress=True))
    a, b = contacts["pid_a"].iloc[0], contacts["pid_b"].iloc[-1]
    path = timed(
        "strongest_path (one pair, from the table)", lambda: strongest_path(contacts, a, b)
    )[0]
    console.print(f"path length: {len(path)}")
    timed("strongest_path (one pair, from the graph)", lambda: strongest_path(g, a, b))
    nodes = timed("ego_network hops=2 (from the table)", lambda: ego_network(contacts, a, hops=2))[
        0
    ]
    console.print(f"ego network: {len(nodes)} nodes")
    meetings = timed("generate meetings", lambda: generate_meetings(contacts, args.meetings))
    for depth in (3, 6):
        out = timed(
            f"exposure_chains depth={depth} ({args.meetings} meetings)",
            lambda d=depth: exposure_chains(meetings, a, T0, max_depth=d),
        )
        console.print(f"exposed: {len(out)}")


if __name__ == "__main__":
    main()
