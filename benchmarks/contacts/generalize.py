"""Does the contact ranking hold on data it was not built on? One table over several sources.

    python benchmarks/contacts/generalize.py                      # every source, markdown + JSON
    python benchmarks/contacts/generalize.py --sources zara city  # some of them
    python benchmarks/contacts/generalize.py --json out.json
    python benchmarks/contacts/generalize.py --sources zara01 zara02 --window 1 2 4 --gap 5
                                                                  # the margin for other W and G

Sources (each with its own truth):

- ``city``: the synthetic city of ``sightgraph generate`` (``sightgraph.synthetic.city``,
  2,000 persons, 14 days, seed 0): planted ties (household, coworkers, friends) and routine
  strangers (same train every weekday, nothing else in common).
- ``town``: a differently built synthetic town (``sightgraph.synthetic.town``: its own module,
  written on other assumptions about how ties meet and how strangers share places), 1,500
  persons, 14 days, seed 0; routine strangers labelled.
- ``zara``: the two UCY Zara scenes (real pedestrians, annotated walking groups), 2.5 m cells,
  W = 2 s (``benchmarks/contacts/sources.py``).
- ``primaryschool``: SocioPatterns primary school, badges as sensors, truth = same class
  (a community label, not a tie survey).
- ``wytham``: Wytham Woods feeders, days 2-8; truth = shared a Gaussian-mixture flock on day 1
  (an algorithmic reference from held-out days); only labelled pairs are ranked.

Parameters of the score were chosen on ``city`` and ``zara`` only; ``town``, ``primaryschool``
and ``wytham`` are reported untouched (``tuned`` column). Every source runs the same code path,
in memory: :func:`~sightgraph.analytics.colocation.find_colocations` ->
:func:`~sightgraph.analytics.contacts.build_meetings` ->
:func:`~sightgraph.analytics.contacts.score_contacts` with the defaults (``null='auto'``), the
source's W and G, and one stratum for the real data (their days are not a working week).

For each source and ranking: ``K`` = tie pairs that co-located (in the table), precision at K,
ROC AUC (ties against every other ranked pair) and decoys in the top K (pairs tied at the cut shared out evenly; labelled routine
strangers where the source has them, otherwise every non-tie). Rankings: the contact ``score``
and the simplest baselines (raw event count ``n_events``, ``meetings``, distinct ``days``,
distinct ``places``) and ``exposure_s`` (time together). ``consistency``: pairs with
q >= 0.5 (and with q >= 0.99, "q ~ 1") ranked above the lowest-ranked pair with q < 0.05 (0 means
rank and significance agree).

``--window`` / ``--gap`` (seconds, one or more each) replace the sources' own W and G and print
one line per source, W and G instead (score and best baseline, margin): how far the margin holds
when a user picks other parameters. ``zara01`` and ``zara02`` are the two Zara scenes apart.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
TUNED = {"city", "zara"}
BASELINES = ("n_events", "meetings", "days", "places")
ORDER = ("city", "town", "zara", "primaryschool", "wytham")
#: Sources that ``--sources`` also takes, outside the default table: the Zara scenes apart.
EXTRA = ("zara01", "zara02")


def _sources_module():
    spec = importlib.util.spec_from_file_location("bench_sources", HERE / "sources.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_sources"] = mod
    spec.loader.exec_module(mod)
    return mod


def _pairs(a: pd.Series, b: pd.Series) -> pd.DataFrame:
    a, b = a.astype(str).to_numpy(), b.astype(str).to_numpy()
    return pd.DataFrame({"pid_a": np.minimum(a, b), "pid_b": np.maximum(a, b)})


def _synthetic(made) -> dict:
    """A generated city or town (sightings, ties, routine strangers) as a source, W = 60 s."""
    s = made.sightings.rename(columns={"subject_id": "pid"})
    return {
        "sightings": s.assign(sighting_id=np.arange(len(s), dtype=np.int64)),
        "ties": _pairs(made.ties["subject_a"], made.ties["subject_b"]),
        "decoys": _pairs(made.strangers["subject_a"], made.strangers["subject_b"]),
        "negatives": None,
        "window_s": 60.0,
        "gap_s": 900.0,
        "strata": "weekpart",
    }


def load(name: str) -> dict:
    """Sightings (pid, camera_id, ts, sighting_id, confidence), ties, decoys, negatives, W, G."""
    if name == "city":
        from sightgraph.synthetic.city import generate_city

        return _synthetic(generate_city(persons=2000, days=14, seed=0))
    if name == "town":
        from sightgraph.synthetic.town import generate_town

        return _synthetic(generate_town(persons=1500, days=14, seed=0))
    mod = _sources_module()
    src = mod.zara(name) if name in EXTRA else mod.all_sources()[name]()
    return {
        "sightings": src.sightings,
        "ties": src.ties[["pid_a", "pid_b"]],
        "decoys": None,
        "negatives": None if src.negatives is None else src.negatives[["pid_a", "pid_b"]],
        "window_s": float(src.window_s),
        "gap_s": float(src.gap_s),
        "strata": "none",
    }


def _member(c: pd.DataFrame, pairs: pd.DataFrame | None) -> np.ndarray:
    if pairs is None or len(pairs) == 0:
        return np.zeros(len(c), bool)
    key = pd.MultiIndex.from_frame(pairs[["pid_a", "pid_b"]].astype(str))
    return pd.MultiIndex.from_arrays([c["pid_a"].astype(str), c["pid_b"].astype(str)]).isin(key)


def _rank_metrics(y: np.ndarray, decoy: np.ndarray, value: np.ndarray, k: int) -> dict:
    """Precision at K and decoys in the top K with ties at the cut shared out evenly (the
    expectation over random tie-breaking: a constant ranking scores the base rate, whatever the
    table's order), and ROC AUC."""
    auc = float(roc_auc_score(y, value)) if 0 < y.sum() < len(y) else float("nan")
    if k == 0:
        return {"p_at_k": float("nan"), "auc": auc, "decoys": 0}
    cut = np.sort(value)[::-1][k - 1]
    above, at = value > cut, value == cut
    share = (k - above.sum()) / at.sum()  # of the pairs tied at the cut, this share is in
    p = (y[above].sum() + share * y[at].sum()) / k
    dec = decoy[above].sum() + share * decoy[at].sum()
    return {"p_at_k": float(p), "auc": auc, "decoys": int(round(dec))}


def evaluate(name: str, d: dict | None = None) -> dict:
    """One source's report; ``d`` = its :func:`load` (with W and G replaced, for a grid)."""
    from sightgraph.analytics.colocation import find_colocations
    from sightgraph.analytics.contacts import build_meetings, score_contacts

    t0 = time.perf_counter()
    d = load(name) if d is None else d
    s = d["sightings"]
    t1 = time.perf_counter()
    ev = find_colocations(s, window_s=d["window_s"], events=True)
    m = build_meetings(ev, gap_s=d["gap_s"])
    c = score_contacts(m, None, s, window_s=d["window_s"], gap_s=d["gap_s"], strata=d["strata"])
    seconds = time.perf_counter() - t1
    y = _member(c, d["ties"])
    if d["negatives"] is not None:  # rank only labelled pairs
        keep = y | _member(c, d["negatives"])
        c, y = c[keep].reset_index(drop=True), y[keep]
    decoy = _member(c, d["decoys"]) & ~y if d["decoys"] is not None else ~y
    k = int(y.sum())
    # the score's ranking is the table's order (equal scores ordered by evidence * (1 - p))
    rankings = {"score": np.arange(len(c), 0, -1, dtype=float)}
    rankings.update({b: c[b].to_numpy(float) for b in BASELINES})
    rankings["exposure_s"] = c["exposure_s"].to_numpy(float)
    res = {r: _rank_metrics(y, decoy, v, k) for r, v in rankings.items()}
    best = max(BASELINES, key=lambda b: res[b]["p_at_k"])
    sig = np.flatnonzero(c["q_value"].to_numpy() < 0.05)  # positions in the table's order
    qv = c["q_value"].to_numpy()
    above = int((qv[: sig[-1]] >= 0.5).sum()) if len(sig) else 0
    above_99 = int((qv[: sig[-1]] >= 0.99).sum()) if len(sig) else 0  # "q ~ 1" (the issue)
    return {
        "source": name,
        "window_s": d["window_s"],
        "gap_s": d["gap_s"],
        "tuned": name in TUNED or name in EXTRA,
        "null": c.attrs.get("null"),
        "null_reason": c.attrs.get("null_reason"),
        "subjects": int(s["pid"].nunique()),
        "sightings": len(s),
        "pairs": len(c),
        "k": k,
        "decoys_are": "routine strangers" if d["decoys"] is not None else "non-ties",
        "rankings": res,
        "best_baseline": best,
        "margin_points": round(100 * (res["score"]["p_at_k"] - res[best]["p_at_k"]), 1),
        "significant": int(len(sig)),
        "significant_ties": float(y[sig].mean()) if len(sig) else float("nan"),
        "q_ge_half_above_significant": above,
        "q_ge_99_above_significant": above_99,
        "load_s": round(t1 - t0, 1),
        "contacts_s": round(seconds, 1),
    }


def markdown(reports: list[dict]) -> str:
    cols = ("score", *BASELINES, "exposure_s")
    head = (
        "| source | tuned | null | K | "
        + " | ".join(f"{c} P@K / AUC / decoys" for c in cols)
        + " | margin over best baseline |"
    )
    lines = [head, "|" + "---|" * (len(cols) + 5)]
    for r in reports:
        cells = []
        for c in cols:
            x = r["rankings"][c]
            cell = f"{x['p_at_k']:.3f} / {x['auc']:.3f} / {x['decoys']}"
            cells.append(f"**{cell}**" if c == "score" else cell)
        lines.append(
            f"| {r['source']} | {'yes' if r['tuned'] else 'no (held out)'} | {r['null']} | "
            f"{r['k']:,} | "
            + " | ".join(cells)
            + f" | {r['margin_points']:+.1f} ({r['best_baseline']}) |"
        )
    return "\n".join(lines)


def grid(names: list[str], windows: list[float] | None, gaps: list[float] | None) -> list[dict]:
    """:func:`evaluate` of each source for every W in ``windows`` and G in ``gaps`` (a source's
    own value where one of them is not given)."""
    reports = []
    for name in names:
        d = load(name)
        for w in windows or [d["window_s"]]:
            for g in gaps or [d["gap_s"]]:
                r = evaluate(name, {**d, "window_s": float(w), "gap_s": float(g)})
                print(
                    f"{name} W={w:g} s G={g:g} s: {grid_markdown([r]).splitlines()[-1]}",
                    file=sys.stderr,
                )
                reports.append(r)
    return reports


def grid_markdown(reports: list[dict]) -> str:
    lines = [
        "| source | tuned | W (s) | G (s) | K | score P@K | best baseline P@K | margin |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        best = r["best_baseline"]
        lines.append(
            f"| {r['source']} | {'yes' if r['tuned'] else 'no (held out)'} | "
            f"{r['window_s']:g} | {r['gap_s']:g} | {r['k']:,} | "
            f"{r['rankings']['score']['p_at_k']:.3f} | "
            f"{r['rankings'][best]['p_at_k']:.3f} ({best}) | {r['margin_points']:+.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sources", nargs="*", default=list(ORDER), choices=ORDER + EXTRA)
    p.add_argument("--json")
    p.add_argument("--window", nargs="+", type=float, metavar="S", help="W values (s): a grid")
    p.add_argument("--gap", nargs="+", type=float, metavar="S", help="G values (s): a grid")
    args = p.parse_args(argv)
    if args.window or args.gap:
        reports = grid(args.sources, args.window, args.gap)
        print(grid_markdown(reports))
        if args.json:
            Path(args.json).write_text(json.dumps(reports, indent=2, default=str) + "\n")
        return
    reports = []
    for name in args.sources:
        r = evaluate(name)
        print(
            f"{name}: K={r['k']} score P@K {r['rankings']['score']['p_at_k']:.3f}, best baseline "
            f"{r['best_baseline']} {r['rankings'][r['best_baseline']]['p_at_k']:.3f} "
            f"({r['contacts_s']} s, null {r['null']})",
            file=sys.stderr,
        )
        reports.append(r)
    print(markdown(reports))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
