"""Evaluate and time frequent contacts (sightgraph.analytics.contacts) end to end.

Synthetic cities (planted ties and routine strangers)::

    python benchmarks/contacts/eval_contacts.py city --sightings 1000000 --work /tmp/contacts-1m
    python benchmarks/contacts/eval_contacts.py city --sightings 3000000 --work /tmp/contacts-3m
    python benchmarks/contacts/eval_contacts.py city --sightings 10000000 --crowd-cap 20 --work /tmp/contacts-10m

generates the city (``generate_city(target_sightings=..., days=14, seed=0)``), ingests it into
a lake with a pseudonym key, runs ``compute_contacts`` in a fresh child process (wall time and
peak RSS of that process alone) and evaluates the table against the truth with
``evaluate_contacts`` (AUC and precision at K of the score and of the raw event count). It also
breaks the pairs in the score's top K that are not ties down by what they share (a home camera,
a workplace, a hub; routine strangers share only the hub) and by how they met (one day, one
place).

Real data (RFID reads of wild birds at 4 feeders, Wytham Woods; Farine et al. 2012)::

    python benchmarks/contacts/eval_contacts.py wytham --window 3 --work /tmp/contacts-wytham

Prints a JSON report; ``--json FILE`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

KEY = "contacts-benchmark-key"
WYTHAM = Path("/work/shared/data/wytham_feeders")


def _run_contacts_child(lake: Path, out: Path, **kwargs) -> dict:
    """compute_contacts in a fresh process: its own wall time and peak RSS."""
    code = (
        "import json, sys, time\n"
        "from sightgraph.analytics.contacts import compute_contacts\n"
        "kw = json.loads(sys.argv[3])\n"
        "t = time.perf_counter()\n"
        "r = compute_contacts(sys.argv[1], sys.argv[2], progress=False, **kw)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'pairs': r.pairs, 'pairs_met': r.pairs_met,"
        " 'meetings': r.meetings, 'events': r.events, 'significant': r.significant}))\n"
    )
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-c", code, str(lake), str(out), json.dumps(kwargs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"compute_contacts failed:\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s_process"] = time.perf_counter() - t0
    res["peak_rss_gib"] = max(peak, before) / 2**20
    return res


def _same_params(stored: dict, wanted: dict) -> bool:
    return all(stored.get(k) == v for k, v in wanted.items())


def _city(args: argparse.Namespace) -> dict:
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.ingest.pseudonymize import pseudonymize_ids
    from sightgraph.lake import read_params
    from sightgraph.synthetic.city import generate_city, read_truth, write_city
    from sightgraph.synthetic.evaluation import evaluate_contacts, read_for_evaluation

    work = Path(args.work)
    city_dir, lake = work / "city", work / "lake"
    report: dict = {
        "dataset": "synthetic city",
        "target_sightings": args.sightings,
        "days": args.days,
    }
    if not (city_dir / "truth" / "params.json").exists():
        t = time.perf_counter()
        city = generate_city(target_sightings=args.sightings, days=args.days, seed=args.seed)
        write_city(city, city_dir, format="parquet")
        report["generate_s"] = time.perf_counter() - t
        del city
    if not (lake / "sightings").exists():
        t = time.perf_counter()
        ingest(
            city_dir / "sightings.parquet",
            lake,
            cameras=city_dir / "cameras.csv",
            key=KEY,
            progress=False,
        )
        report["ingest_s"] = time.perf_counter() - t
    truth = read_truth(city_dir)
    report["persons"] = truth.params["persons"]
    report["sightings"] = truth.params["counts"]["sightings"]
    out = work / f"contacts-w{args.window:g}-cap{args.crowd_cap}.parquet"
    kwargs = {
        "window_s": args.window,
        "gap_s": args.gap,
        "crowd_cap": args.crowd_cap,
        "min_meetings": args.min_meetings,
    }
    report["params"] = kwargs
    if args.reuse and out.exists() and _same_params(read_params(out), kwargs):
        report["run"] = {"reused": str(out)}  # timed when it was written
    else:
        report["run"] = _run_contacts_child(lake, out, **kwargs)
    # pids as categoricals: 68.6M pairs (10M sightings, no crowd cap) fit; as strings they did not
    contacts = read_for_evaluation(out, extra=("meetings", "days", "places"))
    ev = evaluate_contacts(contacts, truth.ties, truth.strangers, key=KEY)
    report["evaluation"] = ev
    # pairs in the top K that are not ties: what they share, how they met
    persons = truth.persons.assign(pid=lambda d: pseudonymize_ids(d["subject_id"], KEY))
    persons = persons.set_index("pid")
    tie = truth.ties.assign(
        pid_a=lambda d: pseudonymize_ids(d["subject_a"], KEY),
        pid_b=lambda d: pseudonymize_ids(d["subject_b"], KEY),
    )
    tie[["pid_a", "pid_b"]] = np.sort(tie[["pid_a", "pid_b"]].to_numpy(), axis=1)
    top = contacts.head(ev["k"])
    top = top.assign(pid_a=top["pid_a"].astype(str), pid_b=top["pid_b"].astype(str))
    top = top.merge(tie[["pid_a", "pid_b", "kind"]], on=["pid_a", "pid_b"], how="left")
    other = top[top["kind"].isna()]
    pa_, pb_ = persons.reindex(other["pid_a"]), persons.reindex(other["pid_b"])

    def same(col: str) -> np.ndarray:
        a, b = pa_[col].to_numpy(), pb_[col].to_numpy()
        return (a == b) & pd.notna(a)

    report["non_ties_in_top_k"] = {
        "pairs": len(other),
        "same_home_camera": int(same("home_camera").sum()),
        "same_workplace": int(same("work_camera").sum()),
        "same_hub": int(same("hub_camera").sum()),
        "met_on_one_day_at_one_place": int(((other["days"] == 1) & (other["places"] == 1)).sum()),
        "median_meetings": float(other["meetings"].median()) if len(other) else None,
        "median_n_events": float(other["n_events"].median()) if len(other) else None,
        "significant": int((other["q_value"] < 0.05).sum()),
    }
    return report


def _wytham(args: argparse.Namespace) -> dict:
    """Co-location and contacts of the Wytham Woods feeder reads; flock and species structure."""
    from sightgraph.analytics.colocation import find_colocations
    from sightgraph.analytics.contacts import build_meetings, camera_busyness, score_contacts

    reads = pd.read_csv(WYTHAM / "identified_individuals.csv")
    birds = pd.read_csv(WYTHAM / "individuals.csv")
    # Time is seconds since the first observation; count it from an arbitrary UTC midnight: each
    # observation day (~8.5 h from about 00:50 after that midnight) then lies within one UTC day.
    base = pd.Timestamp("2011-01-01 00:00", tz="UTC")
    s = pd.DataFrame(
        {
            "sighting_id": np.arange(len(reads), dtype=np.int64),
            "pid": reads["ID"].astype(str),
            "camera_id": reads["Location"].astype(str),
            "ts": (base + pd.to_timedelta(reads["Time"], unit="s")).astype("datetime64[us, UTC]"),
        }
    )
    report: dict = {"dataset": "wytham feeders", "reads": len(s), "tags": int(s["pid"].nunique())}
    days = (s["ts"] - base).dt.days
    report["utc_days"] = int(days.nunique())
    t = time.perf_counter()
    events = find_colocations(s, window_s=args.window, events=True)
    meetings = build_meetings(events, gap_s=args.gap)
    busy = camera_busyness(s)
    contacts = score_contacts(
        meetings, busy, s, window_s=args.window, gap_s=args.gap, strata="none"
    )
    report["seconds"] = time.perf_counter() - t
    report.update(
        window_s=args.window,
        gap_s=args.gap,
        events=len(events),
        meetings=len(meetings),
        pairs=len(contacts),
        significant_q05=int((contacts["q_value"] < 0.05).sum()),
    )
    species = birds.set_index("TAG")["SPECIES"]
    c = contacts.assign(
        sp_a=species.reindex(contacts["pid_a"]).to_numpy(),
        sp_b=species.reindex(contacts["pid_b"]).to_numpy(),
    )
    known = c.dropna(subset=["sp_a", "sp_b"])
    known = known[(known["sp_a"] != "UNK") & (known["sp_b"] != "UNK")]
    # expectation for same-species pairs: share among all co-located pairs of known species
    base_rate = float((known["sp_a"] == known["sp_b"]).mean())
    for top_n in (50, 100, 200):
        top = known.head(top_n)
        report[f"same_species_top{top_n}"] = float((top["sp_a"] == top["sp_b"]).mean())
        top_raw = known.sort_values("n_events", ascending=False).head(top_n)
        report[f"same_species_top{top_n}_by_events"] = float(
            (top_raw["sp_a"] == top_raw["sp_b"]).mean()
        )
    report["same_species_all_colocated_pairs"] = base_rate
    counts = species[species != "UNK"].value_counts()
    total = counts.sum()
    report["same_species_random_pairs"] = float(
        ((counts * (counts - 1)).sum()) / (total * (total - 1))
    )
    sig = known[known["q_value"] < 0.05]
    report["same_species_significant"] = (
        float((sig["sp_a"] == sig["sp_b"]).mean()) if len(sig) else float("nan")
    )
    report["significant_known_species"] = len(sig)
    report["top10"] = [
        {
            "pid_a": r.pid_a,
            "pid_b": r.pid_b,
            "species": f"{r.sp_a}/{r.sp_b}",
            "score": round(float(r.score), 3),
            "meetings": int(r.meetings),
            "days": int(r.days),
            "places": int(r.places),
            "expected": round(float(r.expected), 2),
            "q": float(f"{r.q_value:.3g}"),
            "n_events": int(r.n_events),
        }
        for r in c.head(10).itertuples()
    ]
    # flock structure: communities of the significant contact network
    import networkx as nx

    g = nx.Graph()
    for r in c[c["q_value"] < 0.05].itertuples():
        g.add_edge(r.pid_a, r.pid_b, weight=float(r.score))
    if g.number_of_edges():
        comms = nx.community.louvain_communities(g, weight="weight", seed=0)
        comms = sorted(comms, key=len, reverse=True)
        report["network_nodes"] = g.number_of_nodes()
        report["network_edges"] = g.number_of_edges()
        report["communities"] = len(comms)
        report["community_sizes"] = [len(x) for x in comms[:10]]
        report["modularity"] = float(nx.community.modularity(g, comms, weight="weight"))
        mix = []
        for x in comms[:6]:
            sp = species.reindex(list(x)).fillna("untagged").value_counts()
            mix.append(sp.to_dict())
        report["community_species"] = mix
        # feeder of each community: where its members were read most
        home = s.groupby("pid")["camera_id"].agg(lambda v: v.value_counts().index[0])
        report["community_main_feeder"] = [
            home.reindex(list(x)).value_counts().to_dict() for x in comms[:6]
        ]
    # GMM day-1 flocks (asnipe): how often do our top pairs co-occur in the same flock?
    gmm = pd.read_csv(WYTHAM / "day1_gmm_flocks_long.csv")
    co = gmm.merge(gmm, on="flock")
    co = co[co["TAG_x"] < co["TAG_y"]]
    flock_pairs = set(zip(co["TAG_x"], co["TAG_y"], strict=True))
    for top_n in (50, 200):
        top = contacts.head(top_n)
        report[f"top{top_n}_pairs_sharing_a_day1_gmm_flock"] = float(
            np.mean(
                [(a, b) in flock_pairs for a, b in zip(top["pid_a"], top["pid_b"], strict=True)]
            )
        )
        by_events = contacts.sort_values("n_events", ascending=False, kind="stable").head(top_n)
        report[f"top{top_n}_by_events_sharing_a_day1_gmm_flock"] = float(
            np.mean(
                [
                    (a, b) in flock_pairs
                    for a, b in zip(by_events["pid_a"], by_events["pid_b"], strict=True)
                ]
            )
        )
    allp = contacts
    report["all_pairs_sharing_a_day1_gmm_flock"] = float(
        np.mean([(a, b) in flock_pairs for a, b in zip(allp["pid_a"], allp["pid_b"], strict=True)])
    )
    sig_pairs = contacts[contacts["q_value"] < 0.05]
    report["significant_pairs_sharing_a_day1_gmm_flock"] = (
        float(
            np.mean(
                [
                    (a, b) in flock_pairs
                    for a, b in zip(sig_pairs["pid_a"], sig_pairs["pid_b"], strict=True)
                ]
            )
        )
        if len(sig_pairs)
        else float("nan")
    )
    # who are the top pairs: feeder residents? share of pairs whose two birds were read on all days
    report["top50_median_days_both"] = float(contacts.head(50)["days_both"].median())
    report["top50_median_routine_share"] = float(contacts.head(50)["routine_share"].median())
    report["top50_median_q"] = float(contacts.head(50)["q_value"].median())
    top_sp = pd.concat([c.head(50)["sp_a"], c.head(50)["sp_b"]]).fillna("untagged").value_counts()
    report["top50_species_of_members"] = top_sp.to_dict()
    all_sp = species.reindex(s["pid"].unique()).fillna("untagged").value_counts()
    report["species_of_all_tags"] = all_sp.to_dict()
    report["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("city")
    c.add_argument("--sightings", type=int, default=1_000_000)
    c.add_argument("--days", type=int, default=14)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--window", type=float, default=60.0)
    c.add_argument("--gap", type=float, default=900.0)
    c.add_argument("--crowd-cap", type=int, default=None)
    c.add_argument("--min-meetings", type=int, default=1)
    c.add_argument("--work", required=True)
    c.add_argument("--json")
    c.add_argument(
        "--reuse",
        action="store_true",
        help="evaluate the contacts table of an earlier run with the same parameters",
    )
    w = sub.add_parser("wytham")
    w.add_argument("--window", type=float, default=3.0)
    w.add_argument("--gap", type=float, default=900.0)
    w.add_argument("--work", default="/tmp/contacts-wytham")
    w.add_argument("--json")
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    report = _city(args) if args.what == "city" else _wytham(args)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
