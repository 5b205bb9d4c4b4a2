"""Read latency of a Neo4j graph that is already loaded (run on demand; reads only).

    .venv/bin/python benchmarks/graph/bench_reads.py --uri bolt://127.0.0.1:7695 \
        [--reads 200] [--passes 2] [--seed 3] [--profile]

For graphs too large for ``bench_stores.py`` (which loads the embedded store too, reads the
whole contacts table and writes transitions into the lake): the subjects are drawn from the
graph itself.

- trajectories: ``--reads`` random persons with SEEN_AT edges, whole time range;
- 2-hop ego networks: ``--reads`` random persons with a CONTACT edge of score > 0, with the
  dashboard's defaults (sightgraph/dashboard/app_pages/contacts.py: "Only pairs beyond chance"
  on, i.e. min_score 1e-12, ``per_node`` 15, ``max_nodes`` 150, ``limit`` max(3 x 150, 400));
- ``--passes`` passes over the same subjects (the first one may read from disk);
- ``--profile``: the operators of the read queries' plans (which indexes they use).

Median and p95 (ms) per pass, rows / nodes / edges per read.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from sightgraph.graph import cypher
from sightgraph.graph.neo4j_store import Neo4jStore

#: the dashboard's defaults (sightgraph/dashboard/loaders.py NETWORK_LIMITS, app_pages/contacts.py)
PER_NODE, MAX_NODES = 15, 150
LIMIT = max(3 * MAX_NODES, 400)
MIN_SCORE = 1e-12


def timed(fn: Any, pids: list[str]) -> tuple[np.ndarray, list[Any]]:
    out, ts = [], []
    for p in pids:
        t = time.perf_counter()
        out.append(fn(p))
        ts.append(time.perf_counter() - t)
    return np.array(ts) * 1000, out


def plan_operators(store: Neo4jStore, query: str, params: dict[str, Any]) -> list[str]:
    records, summary, _ = store.driver.execute_query("EXPLAIN " + query, params)
    ops: list[str] = []

    def walk(p: Any) -> None:
        args = p.get("args", {}) if isinstance(p, dict) else {}
        name = p.get("operatorType", "?") if isinstance(p, dict) else "?"
        ops.append(f"{name}: {args.get('Details', '')}".strip())
        for c in p.get("children", []) if isinstance(p, dict) else []:
            walk(c)

    walk(summary.plan)
    return ops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--uri", default=os.environ.get("NEO4J_URI"))
    ap.add_argument("--reads", type=int, default=200)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    store = Neo4jStore.connect(args.uri, "neo4j", os.environ.get("NEO4J_PASSWORD", "neo4j"))
    try:
        print("counts:", store.counts(), flush=True)
        t = time.perf_counter()
        seen, _, _ = store.driver.execute_query(
            "MATCH (p:Person) WHERE EXISTS { (p)-[:SEEN_AT]->() } RETURN p.pid AS pid"
        )
        linked, _, _ = store.driver.execute_query(
            "MATCH (p:Person) WHERE EXISTS { (p)-[r:CONTACT]-() WHERE r.score > 0 } "
            "RETURN p.pid AS pid"
        )
        print(f"subject lists in {time.perf_counter() - t:.1f} s", flush=True)
        rng = np.random.default_rng(args.seed)
        everyone = sorted(r["pid"] for r in seen)
        with_contacts = sorted(r["pid"] for r in linked)
        sample = [str(p) for p in rng.choice(everyone, min(args.reads, len(everyone)), False)]
        egos = [
            str(p) for p in rng.choice(with_contacts, min(args.reads, len(with_contacts)), False)
        ]
        print(f"{len(everyone):,} persons with sightings, {len(with_contacts):,} with contacts")

        def ego(p: str) -> Any:
            return store.ego_network(
                p, hops=2, min_score=MIN_SCORE, per_node=PER_NODE, max_nodes=MAX_NODES, limit=LIMIT
            )

        for i in range(args.passes):
            tl, traj = timed(store.trajectory, sample)
            el, nets = timed(ego, egos)
            print(
                f"pass {i + 1}: trajectory median {np.median(tl):.1f} ms p95 "
                f"{np.percentile(tl, 95):.1f} ms max {tl.max():.0f} ms "
                f"({np.mean([len(f) for f in traj]):.0f} rows on average); 2-hop ego median "
                f"{np.median(el):.1f} ms p95 {np.percentile(el, 95):.1f} ms max {el.max():.0f} ms "
                f"({np.mean([len(e.nodes) for e in nets]):.0f} nodes, "
                f"{np.mean([len(e.edges) for e in nets]):.0f} edges on average)",
                flush=True,
            )
        if args.profile:
            p = {"pid": sample[0], "start_us": None, "end_us": None}
            for name in ("TRAJECTORY", "EXPAND_CONTACTS", "EGO_EDGES"):
                q = getattr(cypher, name)
                params = dict(p, min_score=MIN_SCORE, nodes=egos[:50], frontier=egos[:50])
                ops = plan_operators(store, q, params)
                print(name, *ops, sep="\n  ")
                # the reads need no relationship index (SEEN_AT ts / sighting_id)
                print("  relationship index used:", any("RelationshipIndex" in o for o in ops))
        print("load average", " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    finally:
        store.close()


if __name__ == "__main__":
    main()
