"""Does a source's truth reward association *beyond chance* at all? A check of the reference.

    python benchmarks/contacts/reference_check.py --source wytham --shifts 30 120 600 1800 7200

For every labelled pair that co-located, the observed co-location events are compared with the
events the same pair produces when one subject's sightings are shifted in time by ``+-S`` (each
shift replayed with the source's window ``W``, for every pair at once: the shifted copy of the
lake is co-located with the original). ``ratio = (observed + 1/2) / (shifted + 1/2)`` is the
simplest beyond-chance statistic at time scale ``S``: above 1 when the two are seen together more
often than their own timing at that scale explains. The AUC of that ratio (and of the excess
``observed - shifted``) against the source's truth says whether the truth's positives co-locate
beyond chance more than its negatives do: near or below 0.5 at every scale means the reference
labels *co-presence* (who uses the same place at the same times), which every count measures and
which a null model explains away, not association beyond it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def _generalize():
    """The benchmark's sources and truth (``generalize.py`` of this folder)."""
    spec = importlib.util.spec_from_file_location(
        "bench_generalize", Path(__file__).resolve().parent / "generalize.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_generalize"] = mod
    spec.loader.exec_module(mod)
    return mod


G = _generalize()


def shifted_events(s: pd.DataFrame, window_s: float, shift_s: float) -> pd.Series:
    """Co-location events of every pair (pid_a < pid_b) with one subject shifted by +-shift_s,
    averaged over the two directions and the two subjects (events per shifted replay)."""
    from sightgraph.analytics.colocation import find_colocations

    total: pd.Series | None = None
    for sign in (1, -1):
        twin = s.assign(
            pid=s["pid"] + "'",
            ts=s["ts"] + pd.Timedelta(seconds=sign * shift_s),
            sighting_id=s["sighting_id"] + 10**12,
        )
        p = find_colocations(pd.concat([s, twin], ignore_index=True), window_s=window_s)
        a, b = p["pid_a"].astype(str), p["pid_b"].astype(str)
        cross = a.str.endswith("'") ^ b.str.endswith("'")
        a, b = a[cross].str.rstrip("'").to_numpy(), b[cross].str.rstrip("'").to_numpy()
        key = pd.MultiIndex.from_arrays([np.minimum(a, b), np.maximum(a, b)])
        n = pd.Series(p.loc[cross, "n_events"].to_numpy(float), index=key)
        n = n[key.get_level_values(0) != key.get_level_values(1)].groupby(level=[0, 1]).sum()
        total = n if total is None else total.add(n, fill_value=0.0)
    # A with B shifted +S and -S, and B with A shifted +S and -S: four replays of +-S
    return total / 4.0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--source", default="wytham", choices=G.ORDER)
    p.add_argument("--shifts", nargs="+", type=float, default=[30, 120, 600, 1800, 7200])
    args = p.parse_args(argv)
    from sightgraph.analytics.colocation import find_colocations

    d = G.load(args.source)
    s = d["sightings"][["sighting_id", "pid", "camera_id", "ts"]]
    obs = find_colocations(s, window_s=d["window_s"])
    y = G._member(obs, d["ties"])
    keep = (
        y | G._member(obs, d["negatives"])
        if d["negatives"] is not None
        else np.ones(len(obs), bool)
    )
    obs, y = obs[keep].reset_index(drop=True), y[keep]
    index = pd.MultiIndex.from_frame(obs[["pid_a", "pid_b"]].astype(str))
    n_obs = obs["n_events"].to_numpy(float)
    print(
        f"{args.source}: {len(obs)} labelled co-located pairs, {int(y.sum())} positives, W = {d['window_s']:g} s"
    )
    print(f"AUC of the raw event count: {roc_auc_score(y, n_obs):.3f}")
    print(
        "| shift S | AUC ratio | AUC excess | median ratio, positives | median ratio, negatives |"
    )
    print("|---:|---:|---:|---:|---:|")
    for shift in args.shifts:
        e = shifted_events(s, d["window_s"], shift).reindex(index).fillna(0.0).to_numpy()
        ratio = (n_obs + 0.5) / (e + 0.5)
        print(
            f"| {shift:g} s | {roc_auc_score(y, ratio):.3f} | {roc_auc_score(y, n_obs - e):.3f} | "
            f"{np.median(ratio[y]):.2f} | {np.median(ratio[~y]):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
