"""Load speed and read latency of the two graph stores on one synthetic city (run on demand).

    .venv/bin/python benchmarks/graph/bench_stores.py --sightings 1000000 \
        --uri bolt://127.0.0.1:7687 [--lake DIR] [--reads 200] [--results benchmarks/graph/RESULTS.md]

1. generate a city of about ``--sightings`` sightings (sightgraph.synthetic.city) and ingest it
   into a lake (sightgraph.ingest.pipeline), unless ``--lake`` points at one already built;
2. contacts from the lake (sightgraph.analytics.contacts.compute_contacts; with
   ``--synthetic-contacts`` or if that fails, ~50,000 random edges between sighted subjects)
   and camera transitions from the visits (sightgraph.analytics.trajectories);
3. ``load_lake`` into the embedded store (a fresh DuckDB file) and into Neo4j (CLEARED first:
   point ``--uri`` at a server whose graph may be wiped); sightings/s = lake sightings / time of
   the sightings phase, and of the whole load;
4. ``--reads`` trajectories of random subjects and 2-hop ego networks of random subjects with
   contacts, the same subjects for both stores; median and p95 latency (ms), and a check that
   both stores gave identical frames;
5. a table on stdout and, with ``--results FILE``, the same as Markdown with the command.

``--bulk``: Neo4j is (also) loaded with the offline bulk path (``sightgraph load --bulk``,
sightgraph.graph.bulk): the graph is cleared, then ``bulk_load`` is timed as a whole (writing
the import files, stopping the server, ``neo4j-admin database import``, restarting it,
creating the constraints and indexes); sightings/s = lake sightings / that whole time. Then an
online load of the same lake is timed on top (it must find everything and change nothing) and
the reads run on the bulk-loaded graph. ``--uri`` must then be the server that
``scripts/neo4j/neo4j.sh`` runs for ``SIGHTGRAPH_NEO4J_HOME``; ``--no-online`` skips the
(slow) online load into the empty graph.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pandas.testing import assert_frame_equal
from rich.console import Console
from rich.table import Table

from sightgraph.graph.bulk import bulk_load
from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.graph.loader import derived_path, load_lake
from sightgraph.graph.neo4j_store import Neo4jStore
from sightgraph.lake import read_cameras, read_params, read_sightings, write_table

console = Console(highlight=False)


def build_lake(lake: Path, sightings: int, work: Path) -> None:
    """Generate a city and ingest it into ``lake`` (pseudonymised with a benchmark key)."""
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city

    t = time.perf_counter()
    city = generate_city(target_sightings=sightings, seed=1, progress=True)
    files = write_city(city, work / "city")
    console.print(f"generated {len(city.sightings):,} sightings in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    ingest(
        files["sightings"], lake, cameras=files["cameras"], key="bench-stores-key", progress=True
    )
    console.print(f"ingested in {time.perf_counter() - t:.1f} s")


def build_contacts(lake: Path, synthetic: bool) -> str:
    """Write LAKE/contacts/contacts.parquet; returns how it was made."""
    out = derived_path(lake, "contacts")
    if out.exists():
        made = read_params(out) or {}
        keys = ("window_s", "gap_s", "crowd_cap", "model")
        how = ", ".join(f"{k} {made[k]}" for k in keys if k in made) or "unknown parameters"
        pairs = pq.ParquetFile(out).metadata.num_rows
        return f"the lake's contacts table: {pairs:,} pairs ({how})"
    if not synthetic:
        try:
            from sightgraph.analytics.contacts import compute_contacts

            t = time.perf_counter()
            res = compute_contacts(lake, out, crowd_cap=20, progress=True)
            return f"compute_contacts (crowd cap 20): {res.pairs:,} pairs in {time.perf_counter() - t:.0f} s"
        except Exception as exc:  # noqa: BLE001 - fall back to synthetic edges, say so
            console.print(f"compute_contacts failed ({type(exc).__name__}: {exc}); synthetic edges")
    pids = read_sightings(lake, columns=["pid"])["pid"].unique()
    rng = np.random.default_rng(2)
    n = min(50_000, len(pids) * (len(pids) - 1) // 2)
    a = rng.integers(0, len(pids), 2 * n)
    b = rng.integers(0, len(pids), 2 * n)
    keep = a != b
    lo = np.minimum(a[keep], b[keep])
    hi = np.maximum(a[keep], b[keep])
    pairs = pd.DataFrame({"a": lo, "b": hi}).drop_duplicates().head(n)
    first = pd.Timestamp("2026-03-02T00:00:00Z") + pd.to_timedelta(
        rng.integers(0, 14 * 86400, len(pairs)), unit="s"
    )
    contacts = pd.DataFrame(
        {
            "pid_a": pids[pairs["a"].to_numpy()],
            "pid_b": pids[pairs["b"].to_numpy()],
            "score": rng.gamma(1.5, 1.0, len(pairs)),
            "p_value": rng.random(len(pairs)),
            "q_value": rng.random(len(pairs)),
            "meetings": rng.integers(1, 10, len(pairs)),
            "days": rng.integers(1, 5, len(pairs)),
            "places": rng.integers(1, 4, len(pairs)),
            "first_ts": pd.Series(first).astype("datetime64[us, UTC]"),
            "last_ts": pd.Series(first + pd.Timedelta(days=2)).astype("datetime64[us, UTC]"),
        }
    )
    write_table(contacts, out, params={"synthetic": True})
    return f"synthetic: {len(contacts):,} random pairs of sighted subjects"


def build_transitions(lake: Path) -> None:
    out = derived_path(lake, "transitions")
    if out.exists():
        return
    from sightgraph.analytics.trajectories import build_transitions as transitions_of
    from sightgraph.analytics.trajectories import build_visits

    s = read_sightings(lake, columns=["pid", "camera_id", "ts", "confidence"])
    tr = transitions_of(build_visits(s), read_cameras(lake))
    agg = (
        tr.groupby(["camera_from", "camera_to"], observed=True)["travel_s"]
        .agg(count="size", median_travel_s="median")
        .reset_index()
    )
    agg["camera_from"] = agg["camera_from"].astype(str)
    agg["camera_to"] = agg["camera_to"].astype(str)
    write_table(agg, out)


def time_load(lake: Path, store: Any, batch_size: int) -> tuple[float, float, dict[str, int]]:
    """(seconds for the sightings phase, seconds for the whole load, counts)."""
    marks: dict[str, float] = {}
    real = store.write_sightings

    def write_sightings(frame: pd.DataFrame) -> int:
        marks.setdefault("first", time.perf_counter())
        n = real(frame)
        marks["last"] = time.perf_counter()
        return n

    store.write_sightings = write_sightings  # instance attribute: times the sightings phase
    t = time.perf_counter()
    try:
        counts = load_lake(lake, store, batch_size=batch_size, progress=True)
    finally:
        del store.write_sightings
    total = time.perf_counter() - t
    # from the start of the first sightings write to the end of the last one
    return marks["last"] - marks["first"], total, counts


def latencies(fn: Callable[[str], Any], pids: list[str]) -> tuple[np.ndarray, list[Any]]:
    out = []
    ts = []
    for p in pids:
        t = time.perf_counter()
        out.append(fn(p))
        ts.append(time.perf_counter() - t)
    return np.array(ts) * 1000, out


def server_info(store: Neo4jStore) -> str:
    records, _, _ = store.driver.execute_query(
        "CALL dbms.components() YIELD versions, edition RETURN versions[0], edition"
    )
    v, e = records[0].values()
    return f"Neo4j {v} {e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--uri", default=os.environ.get("NEO4J_URI"))
    ap.add_argument("--lake", type=Path, help="reuse (or build into) this lake")
    ap.add_argument("--reads", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=20_000)
    ap.add_argument("--synthetic-contacts", action="store_true")
    ap.add_argument(
        "--ego-edges",
        type=int,
        default=20_000,
        help="ego networks use min_score = the score of the N-th strongest contact (0: all)",
    )
    ap.add_argument("--dense-reads", type=int, default=5, help="2-hop reads with min_score 0")
    ap.add_argument("--results", type=Path, help="also write the table as Markdown here")
    ap.add_argument("--bulk", action="store_true", help="time the offline bulk load too")
    ap.add_argument("--no-online", action="store_true", help="skip the online Neo4j load")
    ap.add_argument("--note", default="", help="a line about the machine/server for RESULTS.md")
    args = ap.parse_args()
    if not args.uri:
        sys.exit("--uri or NEO4J_URI needed (the benchmark CLEARS that Neo4j graph)")
    if args.no_online and not args.bulk:
        sys.exit("--no-online needs --bulk (Neo4j must be loaded one way or the other)")

    with tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
        work = Path(tmp)
        lake = args.lake or work / "lake"
        if not (lake / "sightings").exists():
            build_lake(lake, args.sightings, work)
        contacts_note = build_contacts(lake, args.synthetic_contacts)
        build_transitions(lake)
        n = read_sightings(lake, columns=["sighting_id"]).shape[0]
        console.print(f"lake: {n:,} sightings; contacts: {contacts_note}")

        emb = EmbeddedStore(work / "graph.duckdb")
        password = os.environ.get("NEO4J_PASSWORD", "neo4j")
        neo = Neo4jStore.connect(args.uri, "neo4j", password)
        neo.ensure_schema()
        t = time.perf_counter()
        neo.clear()
        console.print(f"cleared Neo4j in {time.perf_counter() - t:.1f} s")

        results: dict[str, dict[str, Any]] = {}
        stores = [("embedded", emb)] + ([] if args.no_online else [("neo4j", neo)])
        for name, store in stores:
            s_phase, total, counts = time_load(lake, store, args.batch_size)
            t = time.perf_counter()
            again = load_lake(lake, store, batch_size=args.batch_size, progress=False)
            reload_s = time.perf_counter() - t
            assert again == counts, (again, counts)
            results[name] = {
                "counts": counts,
                "sightings_s": s_phase,
                "load_s": total,
                "rate": n / s_phase,
                "reload_s": reload_s,
            }
            console.print(f"{name}: {counts} sightings phase {s_phase:.1f} s, load {total:.1f} s")
        if args.bulk:
            t = time.perf_counter()
            neo.clear()
            console.print(f"cleared Neo4j in {time.perf_counter() - t:.1f} s")
            neo.close()
            settings = SimpleNamespace(
                neo4j_uri=args.uri, neo4j_user="neo4j", neo4j_password=password, neo4j_database=None
            )
            t = time.perf_counter()
            counts = bulk_load(lake, settings, report=console.log)
            bulk_s = time.perf_counter() - t
            assert counts == results["embedded"]["counts"], (counts, results["embedded"]["counts"])
            console.print(f"bulk: {counts} in {bulk_s:.1f} s: {n / bulk_s:,.0f} sightings/s")
            neo = Neo4jStore.connect(args.uri, "neo4j", password)
            t = time.perf_counter()
            again = load_lake(lake, neo, batch_size=args.batch_size, progress=False)
            after_s = time.perf_counter() - t
            assert again == counts, (again, counts)
            results["bulk"] = {"load_s": bulk_s, "rate": n / bulk_s, "reload_s": after_s}
            console.print(f"online load after the bulk load (no changes): {after_s:.1f} s")
            results.setdefault("neo4j", {"counts": counts})

        rng = np.random.default_rng(3)
        everyone = sorted(read_sightings(lake, columns=["pid"])["pid"].unique())
        sample = [
            str(p) for p in rng.choice(everyone, size=min(args.reads, len(everyone)), replace=False)
        ]
        contacts = pd.read_parquet(
            derived_path(lake, "contacts"), columns=["pid_a", "pid_b", "score"]
        )
        scores = np.sort(contacts["score"].to_numpy())[::-1]
        min_score = float(scores[args.ego_edges - 1]) if 0 < args.ego_edges <= len(scores) else 0.0
        strong = contacts[contacts["score"] >= min_score]
        with_contacts = sorted(set(strong["pid_a"]) | set(strong["pid_b"]))
        egos = [
            str(p)
            for p in rng.choice(
                with_contacts, size=min(args.reads, len(with_contacts)), replace=False
            )
        ]
        dense_ids = egos[: args.dense_reads]
        answers: dict[str, dict[str, list[Any]]] = {}
        for name, store in (("embedded", emb), ("neo4j", neo)):
            store.trajectory(sample[0])  # warm-up: plan caches, connections
            store.ego_network(egos[0], hops=2, min_score=min_score)
            tl, traj = latencies(store.trajectory, sample)
            el, ego = latencies(
                lambda p, s=store: s.ego_network(p, hops=2, min_score=min_score), egos
            )
            dl, dense = latencies(lambda p, s=store: s.ego_network(p, hops=2), dense_ids)
            results[name]["dense"] = dl
            results[name]["dense_edges"] = (
                int(np.mean([len(e.edges) for e in dense])) if dense else 0
            )
            results[name]["traj"] = tl
            results[name]["ego"] = el
            results[name]["traj_rows"] = int(np.mean([len(f) for f in traj]))
            results[name]["ego_nodes"] = int(np.mean([len(e.nodes) for e in ego]))
            results[name]["ego_edges"] = int(np.mean([len(e.edges) for e in ego]))
            answers[name] = {"traj": traj, "ego": ego}
        for a, b in zip(answers["embedded"]["traj"], answers["neo4j"]["traj"], strict=True):
            assert_frame_equal(a, b)
        for a, b in zip(answers["embedded"]["ego"], answers["neo4j"]["ego"], strict=True):
            assert_frame_equal(a.nodes, b.nodes)
            assert_frame_equal(a.edges, b.edges)
        server = server_info(neo)
        emb.close()
        neo.close()

    table = Table(title=f"graph stores, {n:,} sightings ({server})")
    for col in ("", "embedded", "neo4j", "target (neo4j)"):
        table.add_column(col, justify="right" if col else "left")
    e, g = results["embedded"], results["neo4j"]

    def ms(x: np.ndarray, q: float) -> str:
        return f"{np.percentile(x, q):.1f}" if len(x) else "-"

    def val(d: dict[str, Any], key: str, fmt: str) -> str:
        return format(d[key], fmt) if key in d else "-"

    rows = [
        (
            "load: sightings/s (sightings phase)",
            val(e, "rate", ",.0f"),
            val(g, "rate", ",.0f"),
            ">= 50,000",
        ),
        ("load: whole lake, s", val(e, "load_s", ".1f"), val(g, "load_s", ".1f"), ""),
        ("reload (no changes), s", val(e, "reload_s", ".1f"), val(g, "reload_s", ".1f"), ""),
    ]
    if "bulk" in results:
        b = results["bulk"]
        rows += [
            (
                "bulk load (--bulk): sightings/s (whole bulk load)",
                "",
                val(b, "rate", ",.0f"),
                ">= 50,000",
            ),
            (
                "bulk load: whole lake incl. stop/import/restart/indexes, s",
                "",
                val(b, "load_s", ".1f"),
                "",
            ),
            ("online load after the bulk load (no changes), s", "", val(b, "reload_s", ".1f"), ""),
        ]
    rows += [
        ("trajectory median, ms", ms(e["traj"], 50), ms(g["traj"], 50), ""),
        ("trajectory p95, ms", ms(e["traj"], 95), ms(g["traj"], 95), "< 100"),
        ("2-hop ego median, ms", ms(e["ego"], 50), ms(g["ego"], 50), ""),
        ("2-hop ego p95, ms", ms(e["ego"], 95), ms(g["ego"], 95), "< 300"),
        ("rows per trajectory (mean)", str(e["traj_rows"]), str(g["traj_rows"]), ""),
        (
            "2-hop ego nodes / edges (mean)",
            f"{e['ego_nodes']} / {e['ego_edges']}",
            f"{g['ego_nodes']} / {g['ego_edges']}",
            "",
        ),
        (
            f"2-hop ego, min_score 0 ({len(dense_ids)} reads), median ms",
            ms(e["dense"], 50),
            ms(g["dense"], 50),
            "",
        ),
        ("  edges per such ego network (mean)", str(e["dense_edges"]), str(g["dense_edges"]), ""),
    ]
    for r in rows:
        table.add_row(*r)
    console.print(table)
    console.print("both stores gave identical trajectories and ego networks")

    cmd = " ".join(["python", "benchmarks/graph/bench_stores.py", *sys.argv[1:]])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()
    try:
        import importlib.metadata as md

        rust = md.version("neo4j-rust-ext")
    except Exception:  # noqa: BLE001
        rust = "not installed"
    md_lines = [
        "# Graph store benchmark",
        "",
        f"Command: `{cmd}`",
        "",
        f"- {n:,} sightings from `generate_city` + `ingest`; counts after load: {g['counts']}",
        f"- contacts: {contacts_note}",
        f"- server: {server} at {args.uri}; {args.note}".rstrip("; "),
        f"- client: {machine}; neo4j driver with neo4j-rust-ext {rust}; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}",
        f"- reads: {len(sample)} trajectories of random subjects, {len(egos)} 2-hop ego networks "
        f"(min_score {min_score:.4g}: the {args.ego_edges:,} strongest of {len(contacts):,} "
        "contacts) of random subjects with such contacts, and the first "
        f"{len(dense_ids)} of them again with min_score 0; identical frames from both stores",
        "",
        "| | embedded | neo4j | target (neo4j) |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
    ]
    if args.results is not None:
        args.results.write_text("\n".join(md_lines), encoding="utf-8")
        console.print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
