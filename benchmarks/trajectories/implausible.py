"""Precision and recall of the trajectories' ``implausible`` flag against the synthetic city's truth.

::

    python benchmarks/trajectories/implausible.py                       # 1,500 persons, 14 days
    python benchmarks/trajectories/implausible.py --persons 1500 --days 14 --seeds 0 1 \\
        --results benchmarks/trajectories/RESULTS.md

The city (``sightgraph.synthetic.city.generate_city``, default noise: 10% missed, 1% false
matches) records every false match (``City.false_matches``). Its sightings are used directly
(``subject_id`` as the pid; pseudonymising at ingest renames subjects and changes nothing else),
made into visits (``build_visits``, G = 15 min) and transitions (``build_transitions`` with the
city's cameras, once per speed limit).

Truth rule: a transition is **truly implausible** when one of its two visits contains at least
one false-match sighting (a visit holding a false match puts the subject where it was not).
Scores per speed limit: precision = flagged and truly implausible / flagged; recall = flagged and
truly implausible / truly implausible. ``recall (moves)`` counts only transitions between two
different cameras (a false match at the camera of the subject's previous or next visit has
distance 0 and no speed: no speed limit can flag it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sightgraph.analytics.trajectories import (
    build_transitions,
    build_visits,
    precision_recall,
    transitions_touching,
    visits_containing,
)
from sightgraph.synthetic.city import generate_city

RULE = (
    "Truth rule: a transition is **truly implausible** when one of its two visits contains a "
    "false-match sighting (`City.false_matches`). Precision = flagged and truly implausible / "
    "flagged; recall = flagged and truly implausible / truly implausible; `recall (moves)` "
    "only over transitions between two different cameras. Sightings used directly (no "
    "ingest), visits with G = 15 min, default noise (10% missed, 1% false matches)."
)
LIMITS = (40.0, 50.0, 80.0, 100.0, 150.0, 200.0, 300.0, 500.0)


def evaluate_city(
    persons: int, days: int, seed: int, limits: tuple[float, ...] = LIMITS, gap_s: float = 900.0
) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per speed limit: transitions, truly implausible, flagged, tp, precision, recall,
    recall among moves between different cameras, f1; and facts about the city."""
    city = generate_city(persons=persons, days=days, seed=seed)
    assert city.false_matches is not None
    s = city.sightings.rename(columns={"subject_id": "pid"})
    visits = build_visits(s, gap_s=gap_s)
    marked = visits_containing(visits, city.false_matches.rename(columns={"subject_id": "pid"}))
    rows = []
    facts: dict[str, float] = {
        "sightings": len(s),
        "false_matches": len(city.false_matches),
        "visits": len(visits),
        "visits_with_false_match": int(marked.sum()),
    }
    truth = moving = None
    for limit in limits:
        trans = build_transitions(visits, city.cameras, max_speed_kmh=limit)
        if truth is None:
            truth = transitions_touching(trans, visits, marked)
            moving = (trans["camera_from"] != trans["camera_to"]).to_numpy()
            ok = trans.loc[~truth & moving, "speed_kmh"]
            facts["transitions"] = len(trans)
            facts["truly_implausible"] = int(truth.sum())
            facts["genuine_max_kmh"] = float(np.nanmax(ok.replace(np.inf, np.nan)))
            facts["genuine_zero_travel"] = int(np.isinf(ok).sum())
        assert moving is not None
        flag = trans["implausible"].to_numpy()
        pr = precision_recall(flag, truth)
        rows.append(
            {
                "max_speed_kmh": limit,
                "flagged": int(flag.sum()),
                "tp": pr["tp"],
                "precision": pr["precision"],
                "recall": pr["recall"],
                "recall (moves)": precision_recall(flag[moving], truth[moving])["recall"],
                "f1": pr["f1"],
            }
        )
    return pd.DataFrame(rows), facts


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" for _ in cols) + "|"]
    for _, r in table.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c in ("max_speed_kmh", "seed", "flagged", "tp"):
                cells.append(f"{int(v):,}")
            else:
                cells.append("" if pd.isna(v) else f"{v:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recommendation(mean: pd.DataFrame, genuine_max_kmh: float, default_kmh: float = 150.0) -> str:
    """The reading of the table: what it says about the default, and what it cannot say."""
    r = mean.set_index("max_speed_kmh")
    clean = r[r["precision"] >= 0.99]
    low = float(clean.index.min()) if len(clean) else float("nan")
    at_default = r.loc[default_kmh] if default_kmh in r.index else None
    lines = [
        "## Reading and recommended default",
        "",
        f"* Precision is at least 0.99 down to {low:.0f} km/h: the city's genuine moves never "
        f"exceed {genuine_max_kmh:.0f} km/h (door to door about 30 km/h, trains 43 km/h, inside "
        "a 10 km city), so in this table a lower limit costs no precision at all. That is a "
        "property of the generator, not of real movement (cars on a motorway, intercity trains "
        "and flights move at 100-900 km/h between far-apart cameras).",
    ]
    if at_default is not None:
        lines.append(
            f"* Recall is low at every limit: {at_default['recall']:.3f} at today's "
            f"{default_kmh:.0f} km/h, {r.loc[low, 'recall']:.3f} at {low:.0f} km/h. Most false "
            "matches fall inside a long unobserved gap of the subject (at work, at home), where "
            "reaching the wrongly reported camera and coming back is possible at walking speed; "
            "a speed check only catches the ones close in time to a genuine sighting "
            "elsewhere. The flag is a high-precision, low-recall data-quality signal, not a "
            "false-match detector."
        )
    lines += [
        f"* **Default: keep {default_kmh:.0f} km/h.** Lowering it to {low:.0f}-50 km/h would "
        "about triple the recall here (to about 10%) with no precision cost on "
        "this generator, but the table cannot measure the precision cost on data with fast "
        "genuine travel, where a walking-speed limit would flag every car or train ride. "
        "Deployments whose subjects only walk or cycle between nearby cameras (a hospital, a "
        "campus, a feeder site) should set `--max-speed-kmh 50` (`compute_trajectories"
        "(max_speed_kmh=50)`).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=1500)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--limits", type=float, nargs="+", default=list(LIMITS))
    ap.add_argument("--results", type=Path, help="write this markdown file (command and tables)")
    args = ap.parse_args(argv)
    parts, texts, fastest = [], [], 0.0
    for seed in args.seeds:
        t0 = time.perf_counter()
        table, facts = evaluate_city(args.persons, args.days, seed, tuple(args.limits))
        wall = time.perf_counter() - t0
        fastest = max(fastest, facts["genuine_max_kmh"])
        head = (
            f"seed {seed}: {facts['sightings']:,} sightings, {facts['false_matches']:,} false "
            f"matches, {facts['visits']:,} visits ({facts['visits_with_false_match']:,} with a "
            f"false match), {facts['transitions']:,} transitions "
            f"({facts['truly_implausible']:,} truly implausible); fastest genuine move "
            f"{facts['genuine_max_kmh']:.1f} km/h, {facts['genuine_zero_travel']:,} genuine "
            f"moves with zero travel time; {wall:.1f} s"
        )
        text = head + "\n\n" + markdown(table)
        print(text + "\n", flush=True)
        texts.append(text)
        parts.append(table.assign(seed=seed))
    mean = pd.concat(parts).groupby("max_speed_kmh", sort=True).mean().reset_index()
    mean = mean.drop(columns=["seed"])
    if len(parts) > 1:
        text = f"mean over seeds {args.seeds}\n\n" + markdown(mean)
        print(text + "\n")
        texts.append(text)
    reading = recommendation(mean, fastest)
    print(reading)
    texts.append(reading)
    if args.results:
        cmd = "python benchmarks/trajectories/implausible.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        args.results.write_text(
            "# The `implausible` flag against the synthetic city's false matches\n\n"
            f"```\n{cmd.strip()}\n```\n\n{RULE}\n\n" + "\n\n".join(texts) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
