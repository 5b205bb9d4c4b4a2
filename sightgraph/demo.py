"""The end-to-end demo: generate -> ingest -> colocate -> contacts -> trajectories -> load -> summary.

Used by ``sightgraph demo`` and ``make demo``; every step is the same public function the CLI and
notebooks call.

Access (:mod:`sightgraph.governance.access`): the demo needs an analyst, the default role. It
works on its own synthetic city in its own workdir, states the purpose
``"demo on synthetic data"`` and appends one audit entry per per-subject step (colocate,
contacts, trajectories, predict) to ``WORKDIR/audit.jsonl``, the log its dashboard then uses.
It acts in the caller's role: it does not raise it for its own generate, ingest and load steps
(admin on the command line), which only touch the synthetic city it made.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["run_demo"]

DEMO_KEY = "sightgraph-demo-key-not-secret"
DEMO_PURPOSE = "demo on synthetic data"


def run_demo(workdir: Path, persons: int = 1500, days: int = 14, console: Any = None) -> list[str]:
    """Run the whole pipeline into ``workdir`` and return summary lines.

    Refused (UsageError, nothing written) unless the role in the settings is analyst or admin.
    """
    from sightgraph.analytics.colocation import colocate_lake
    from sightgraph.analytics.contacts import compute_contacts
    from sightgraph.config import get_settings
    from sightgraph.governance.access import gate
    from sightgraph.graph.embedded import EmbeddedStore
    from sightgraph.graph.loader import derived_path, load_lake
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city
    from sightgraph.synthetic.evaluation import evaluate_contacts_dir

    workdir = Path(workdir)
    session = gate(get_settings(), "demo", DEMO_PURPOSE, audit_log=workdir / "audit.jsonl")
    say = console.print if console is not None else print
    key = os.environ.get("SIGHTGRAPH_PSEUDONYM_KEY") or DEMO_KEY
    if key == DEMO_KEY:
        say("SIGHTGRAPH_PSEUDONYM_KEY not set: the demo uses a fixed, public demo key")
    city_dir, lake = workdir / "city", workdir / "lake"
    t0 = time.perf_counter()
    say("[bold]1/6 generate[/bold] a synthetic city")
    city = generate_city(persons=persons, days=days, seed=0)
    paths = write_city(city, city_dir, format="parquet")
    say("[bold]2/6 ingest[/bold] into the lake")
    report = ingest(paths["sightings"], lake, cameras=paths["cameras"], key=key)
    say("[bold]3/6 colocate[/bold]")
    coloc = colocate_lake(lake, derived_path(lake, "colocations"))
    session.audit({"lake": lake}, int(getattr(coloc, "pairs", 0)), query="colocate")
    say("[bold]4/6 contacts[/bold]")
    contacts = compute_contacts(lake, derived_path(lake, "contacts"))
    session.audit({"lake": lake}, int(getattr(contacts, "pairs", 0)), query="contacts")
    say("[bold]5/6 trajectories and next-camera prediction[/bold]")
    from sightgraph.analytics.trajectories import compute_trajectories

    traj = compute_trajectories(lake)
    session.audit({"lake": lake}, int(traj["visits"]), query="trajectories")
    from sightgraph.analytics.prediction import compute_predictions

    table = compute_predictions(lake, progress=False)  # LAKE/predictions: next cameras of all
    session.audit({"lake": lake}, int(table.get("rows", 0)), query="predict")
    pred = compute_predictions(lake, evaluate=True, progress=False)
    say("[bold]6/6 load[/bold] into the embedded graph store")
    store = EmbeddedStore(workdir / "graph.duckdb")
    try:
        counts = load_lake(lake, store)
    finally:
        store.close()
    evaluation = evaluate_contacts_dir(derived_path(lake, "contacts"), city_dir / "truth", key=key)

    from sightgraph.lake import read_sightings

    s = read_sightings(lake, columns=["pid", "camera_id"])
    busiest = (
        s.groupby("camera_id")["pid"]
        .agg(["size", "nunique"])
        .sort_values("size", ascending=False)
        .head(5)
    )
    pairs = pd.read_parquet(derived_path(lake, "colocations")).nlargest(5, "n_events")
    top = pd.read_parquet(derived_path(lake, "contacts")).head(5)
    lines = [
        "",
        f"[bold]sightgraph demo[/bold] in {time.perf_counter() - t0:.1f} s, workdir {workdir}",
        f"access: user {session.user}, role {session.role}, purpose {session.purpose!r}; "
        f"4 per-subject steps audited in {session.audit_log}",
        *report.summary(),
        f"co-location: {getattr(coloc, 'pairs', '?'):,} pairs from {getattr(coloc, 'events', '?'):,} events",
        f"trajectories: {traj['visits']:,} visits, {traj['transitions']:,} transitions "
        f"({traj['implausible']:,} implausible), {traj['flows']:,} camera flows "
        f"({traj['suppressed']:,} cells under 5 subjects suppressed)",
        "next-camera prediction (Acc@1 on each subject's last 20% of visits): "
        + ", ".join(f"{name} {m['acc1']:.3f}" for name, m in pred["models"].items())
        + f"; predictability bound {pred['predictability']['median']:.3f} (median)",
        "graph store: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        "busiest cameras (sightings, distinct subjects):",
        *[
            f"  {cam}: {size:,}, {distinct:,}"
            for cam, size, distinct in zip(
                busiest.index,
                busiest["size"].astype(int),
                busiest["nunique"].astype(int),
                strict=True,
            )
        ],
        "most co-located pairs (raw events; busy places dominate):",
        *[
            f"  {a} {b}: {n:,} events"
            for a, b, n in zip(
                pairs["pid_a"], pairs["pid_b"], pairs["n_events"].astype(int), strict=True
            )
        ],
        "top contacts beyond chance (score, meetings/days/places, q):",
        *[
            f"  {r['pid_a']} {r['pid_b']}: {r['score']:.2f}, "
            f"{int(r['meetings'])}/{int(r['days'])}/{int(r['places'])}, q={r['q_value']:.2g}"
            for r in top.to_dict("records")
        ],
        "against the planted ground truth: "
        + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in evaluation.items()
        ),
    ]
    return lines
