"""The store contract (sightgraph/graph/base.py), run against every backend by the ``store``
fixture: small hand-built graphs whose docstrings state the answer, and seeded random worlds
checked against pure pandas / networkx oracles with ``assert_frame_equal`` (dtypes included),
since all backends must give byte-identical frames."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from sightgraph.errors import UsageError
from sightgraph.graph.base import (
    EGO_EDGE_COLUMNS,
    EGO_NODE_COLUMNS,
    PAIR_EVENT_COLUMNS,
    TRAJECTORY_COLUMNS,
    EgoNetwork,
    Store,
)

T0 = pd.Timestamp("2024-03-01T08:00:00Z")
TS = "datetime64[us, UTC]"
#: the dtype pandas gives a column of Python strings (``str`` in pandas 3, object before)
STR = pd.Series(["x"]).dtype
DTYPES: dict[str, Any] = {
    "sighting_id": "int64",
    "ts": TS,
    "camera_id": STR,
    "lat": "float64",
    "lon": "float64",
    "confidence": "float64",
    "pid": STR,
    "hop": "int64",
    "pid_a": STR,
    "pid_b": STR,
    "score": "float64",
    "meetings": "int64",
    "days": "int64",
    "places": "int64",
    "first_ts": TS,
    "last_ts": TS,
    "ts_a": TS,
    "ts_b": TS,
    "sighting_a": "int64",
    "sighting_b": "int64",
}
WEIRD_IDS = [
    "o'brien",
    'say "hi"',
    "back\\slash\\",
    "MATCH (n) DETACH DELETE n",
    "'; DROP TABLE seen_at; --",
    '"; DROP TABLE persons; --',
    "$pid",
    "{pid}",
    "%s",
    "`backtick`",
    "NULL",
    "😀🐘",
    "שלום עולם",
    "مرحبا",
    "e\u0301",
    "\u00e9",
    "zero\u200bwidth",
    "tab\tnew\nline",
    " ",
    "nul\x00",
]


# --- builders -------------------------------------------------------------------------------


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def tseries(seconds: list[float | None]) -> pd.Series:
    vals = [pd.NaT if s is None else at(s) for s in seconds]
    return pd.Series(vals, dtype="object").pipe(pd.to_datetime, utc=True).astype(TS)


def sightings_frame(rows: list[tuple[int, str, str, float, float | None]]) -> pd.DataFrame:
    """rows: (sighting_id, pid, camera_id, seconds after T0, confidence)."""
    return pd.DataFrame(
        {
            "sighting_id": pd.Series([r[0] for r in rows], dtype="int64"),
            "pid": pd.Series([r[1] for r in rows], dtype=STR),
            "camera_id": pd.Series([r[2] for r in rows], dtype=STR),
            "ts": tseries([r[3] for r in rows]),
            "confidence": pd.Series(
                [np.nan if r[4] is None else r[4] for r in rows], dtype="float64"
            ),
        }
    )


def cameras_frame(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "camera_id": pd.Series([r[0] for r in rows], dtype=STR),
            "lat": pd.Series([r[1] for r in rows], dtype="float64"),
            "lon": pd.Series([r[2] for r in rows], dtype="float64"),
            "name": pd.Series([f"camera {r[0]}" for r in rows], dtype=STR),
            "site": pd.Series(["north"] * len(rows), dtype=STR),
        }
    )


def contacts_frame(
    rows: list[tuple[str, str, float, float | None, float | None]],
) -> pd.DataFrame:
    """rows: (pid_a, pid_b, score, first seconds, last seconds); meetings/days/places derive
    from the row number so that every edge is distinguishable."""
    n = len(rows)
    return pd.DataFrame(
        {
            "pid_a": pd.Series([r[0] for r in rows], dtype=STR),
            "pid_b": pd.Series([r[1] for r in rows], dtype=STR),
            "score": pd.Series([r[2] for r in rows], dtype="float64"),
            "p_value": pd.Series([0.01] * n, dtype="float64"),
            "q_value": pd.Series([0.05] * n, dtype="float64"),
            "meetings": pd.Series([i + 1 for i in range(n)], dtype="int64"),
            "days": pd.Series([i % 3 + 1 for i in range(n)], dtype="int64"),
            "places": pd.Series([i % 2 + 1 for i in range(n)], dtype="int64"),
            "first_ts": tseries([r[3] for r in rows]),
            "last_ts": tseries([r[4] for r in rows]),
        }
    )


def transitions_frame(rows: list[tuple[str, str, int, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "camera_from": pd.Series([r[0] for r in rows], dtype=STR),
            "camera_to": pd.Series([r[1] for r in rows], dtype=STR),
            "count": pd.Series([r[2] for r in rows], dtype="int64"),
            "median_travel_s": pd.Series(
                [np.nan if r[3] is None else r[3] for r in rows], dtype="float64"
            ),
        }
    )


def typed(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The oracle's frame in the contract's columns and dtypes, with a RangeIndex."""
    out = df.reset_index(drop=True).loc[:, list(columns)]
    return out.astype({c: DTYPES[c] for c in columns})


def empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=DTYPES[c]) for c in columns})


def assert_contract_dtypes(df: pd.DataFrame, columns: tuple[str, ...]) -> None:
    assert tuple(df.columns) == columns
    assert isinstance(df.index, pd.RangeIndex) and df.index.start == 0
    for col in columns:
        assert df[col].dtype == DTYPES[col], (col, df[col].dtype)


# --- oracles --------------------------------------------------------------------------------


@dataclass
class World:
    """What was written, as the oracles see it (contacts oriented pid_a < pid_b)."""

    cameras: pd.DataFrame
    sightings: pd.DataFrame
    contacts: pd.DataFrame
    transitions: pd.DataFrame

    @property
    def persons(self) -> set[str]:
        return (
            set(self.sightings["pid"]) | set(self.contacts["pid_a"]) | set(self.contacts["pid_b"])
        )


def oracle_trajectory(w: World, pid: str, start: Any = None, end: Any = None) -> pd.DataFrame:
    s = w.sightings.merge(w.cameras[["camera_id", "lat", "lon"]], on="camera_id", how="left")
    s = s[s["pid"] == pid]
    if start is not None:
        s = s[s["ts"] >= start]
    if end is not None:
        s = s[s["ts"] <= end]
    s = s.sort_values(["ts", "sighting_id"])
    return typed(s, TRAJECTORY_COLUMNS)


def oracle_trajectories(w: World, pids: list[str], start: Any, end: Any) -> pd.DataFrame:
    """The trajectories of ``pids`` concatenated in that order (one vectorised oracle)."""
    s = w.sightings.merge(w.cameras[["camera_id", "lat", "lon"]], on="camera_id", how="left")
    s = s[s["pid"].isin(pids)]
    if start is not None:
        s = s[s["ts"] >= start]
    if end is not None:
        s = s[s["ts"] <= end]
    rank = {p: i for i, p in enumerate(pids)}
    s = s.assign(rank=s["pid"].map(rank)).sort_values(["rank", "ts", "sighting_id"])
    return typed(s, TRAJECTORY_COLUMNS)


def qualifying(w: World, min_score: float, start: Any = None, end: Any = None) -> pd.DataFrame:
    c = w.contacts[w.contacts["score"] >= min_score]
    if start is not None:
        c = c[c["last_ts"].notna() & (c["last_ts"] >= start)]
    if end is not None:
        c = c[c["first_ts"].notna() & (c["first_ts"] <= end)]
    return c


def oracle_ego(
    w: World, pid: str, hops: int, min_score: float, start: Any = None, end: Any = None
) -> EgoNetwork:
    if pid not in w.persons:
        return EgoNetwork(empty(EGO_NODE_COLUMNS), empty(EGO_EDGE_COLUMNS))
    c = qualifying(w, min_score, start, end)
    g = nx.Graph()
    g.add_node(pid)
    g.add_edges_from(zip(c["pid_a"], c["pid_b"], strict=True))
    dist = nx.single_source_shortest_path_length(g, pid, cutoff=hops)
    nodes = pd.DataFrame(sorted(((h, p) for p, h in dist.items())), columns=["hop", "pid"])
    edges = c[c["pid_a"].isin(dist.keys()) & c["pid_b"].isin(dist.keys())]
    edges = edges.sort_values(["pid_a", "pid_b"])
    return EgoNetwork(typed(nodes, EGO_NODE_COLUMNS), typed(edges, EGO_EDGE_COLUMNS))


def oracle_bounded_ego(
    w: World, pid: str, hops: int, min_score: float, per_node: int, max_nodes: int, limit: int
) -> EgoNetwork:
    """The bounds of ``Store.ego_network`` restated by brute force: per level, each frontier pid
    offers its ``per_node`` strongest edges to pids unreached before the level; offered pids
    join by (strongest offer desc, pid) up to ``max_nodes``; each keeps its best offer (ties:
    smallest parent) as tree edge; edges = tree edges, then the strongest others, up to
    ``max(limit, tree edges)``; ``cut`` counts unreached offered-or-not neighbours and dropped
    edges."""
    if pid not in w.persons:
        return EgoNetwork(empty(EGO_NODE_COLUMNS), empty(EGO_EDGE_COLUMNS))
    c = qualifying(w, min_score)
    adj: dict[str, dict[str, float]] = {}
    for a, b, sc in zip(c["pid_a"], c["pid_b"], c["score"], strict=True):
        adj.setdefault(a, {})[b] = float(sc)
        adj.setdefault(b, {})[a] = float(sc)
    dist, tree, frontier, touched = {pid: 0}, {}, [pid], set()
    for level in range(1, hops + 1):
        offers: list[tuple[float, str, str]] = []  # (score, neighbour, parent)
        for node in frontier:
            new = [(sc, nb) for nb, sc in adj.get(node, {}).items() if nb not in dist]
            touched.update(nb for _, nb in new)
            for sc, nb in sorted(new, key=lambda t: (-t[0], t[1]))[:per_node]:
                offers.append((sc, nb, node))
        best: dict[str, tuple[float, str]] = {}
        for sc, nb, parent in sorted(offers, key=lambda t: (-t[0], t[2])):
            best.setdefault(nb, (sc, parent))
        joined = sorted(best, key=lambda nb: (-best[nb][0], nb))[: max_nodes - len(dist)]
        for nb in joined:
            dist[nb] = level
            tree[nb] = best[nb][1]
        frontier = sorted(joined)
    nodes = pd.DataFrame(sorted(((h, p) for p, h in dist.items())), columns=["hop", "pid"])
    among = c[c["pid_a"].isin(dist.keys()) & c["pid_b"].isin(dist.keys())]
    tree_pairs = {tuple(sorted((child, parent))) for child, parent in tree.items()}
    ranked = sorted(
        among.itertuples(index=False),
        key=lambda r: ((r.pid_a, r.pid_b) not in tree_pairs, -r.score, r.pid_a, r.pid_b),
    )
    kept = pd.DataFrame(ranked[: max(limit, len(tree_pairs))], columns=among.columns)
    kept = kept.sort_values(["pid_a", "pid_b"])
    cut = {"subjects": len(touched - dist.keys()), "edges": len(among) - len(kept)}
    return EgoNetwork(typed(nodes, EGO_NODE_COLUMNS), typed(kept, EGO_EDGE_COLUMNS), cut)


def oracle_pair_events(
    w: World, pid_a: str, pid_b: str, window_s: float, start: Any = None, end: Any = None
) -> pd.DataFrame:
    a, b = sorted([pid_a, pid_b])
    s = w.sightings
    if start is not None:
        s = s[s["ts"] >= start]
    if end is not None:
        s = s[s["ts"] <= end]
    rows = []
    window = pd.Timedelta(microseconds=round(window_s * 1e6))
    for ra in s[s["pid"] == a].itertuples():
        for rb in s[s["pid"] == b].itertuples():
            if ra.camera_id == rb.camera_id and abs(ra.ts - rb.ts) <= window:
                rows.append((ra.camera_id, ra.ts, rb.ts, ra.sighting_id, rb.sighting_id))
    df = pd.DataFrame(rows, columns=list(PAIR_EVENT_COLUMNS))
    if df.empty:
        return empty(PAIR_EVENT_COLUMNS)
    df = df.sort_values(["ts_a", "ts_b", "sighting_a", "sighting_b"])
    return typed(df, PAIR_EVENT_COLUMNS)


def oracle_shortest(w: World, a: str, b: str, max_hops: int, min_score: float) -> list[str]:
    if a not in w.persons or b not in w.persons:
        return []
    if a == b:
        return [a]
    c = qualifying(w, min_score)
    g = nx.Graph()
    g.add_edges_from(zip(c["pid_a"], c["pid_b"], strict=True))
    if a not in g or b not in g:
        return []
    try:
        paths = list(nx.all_shortest_paths(g, a, b))
    except nx.NetworkXNoPath:
        return []
    if len(paths[0]) - 1 > max_hops:
        return []
    return min(paths)


def write_world(store: Store, w: World, swap_seed: int | None = None) -> None:
    """Write a world; with ``swap_seed``, some contact pairs are written as (pid_b, pid_a)."""
    store.write_cameras(w.cameras)
    store.write_sightings(w.sightings)
    contacts = w.contacts
    if swap_seed is not None:
        flip = np.random.default_rng(swap_seed).random(len(contacts)) < 0.5
        contacts = contacts.copy()
        contacts.loc[flip, ["pid_a", "pid_b"]] = contacts.loc[flip, ["pid_b", "pid_a"]].to_numpy()
    store.write_contacts(contacts)
    store.write_transitions(w.transitions)


def random_world(seed: int) -> World:
    """Fourteen subjects moving among five cameras for two hours (times on a 10 s grid so
    that ties and events at exactly the window occur), 30 contact edges with scores 0..5 on a
    0.5 grid and some empty first/last times, and subjects that exist only through contacts.
    The last camera has no coordinates (only sightings mention it)."""
    rng = np.random.default_rng(seed)
    pids = [f"p{i:02d}" for i in range(12)] + ["Ωmega", "😀"]
    cams = ["c0", "c1", "c2", "c3", "c4"]
    cameras = cameras_frame([(c, 50.0 + i / 10, 4.0 + i / 7) for i, c in enumerate(cams[:-1])])
    n = 160
    sids = pd.unique(rng.integers(-(2**40), 2**40, size=2 * n))[:n]
    rows = []
    for i in range(n):
        conf = None if rng.random() < 0.1 else float(rng.integers(0, 101)) / 100
        rows.append(
            (
                int(sids[i]),
                pids[int(rng.integers(0, len(pids)))],
                cams[int(rng.integers(0, len(cams)))],
                float(rng.integers(0, 720) * 10),
                conf,
            )
        )
    sightings = sightings_frame(rows)
    everyone = pids + ["q_contact_only_1", "q_contact_only_2"]
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < 30:
        a, b = rng.choice(len(everyone), size=2, replace=False)
        pairs.add(tuple(sorted((everyone[int(a)], everyone[int(b)]))))  # type: ignore[arg-type]
    crow: list[tuple[str, str, float, float | None, float | None]] = []
    for a, b in sorted(pairs):
        first = float(rng.integers(0, 720) * 10)
        last = first + float(rng.integers(0, 400) * 10)
        empty_times = rng.random() < 0.1
        crow.append(
            (
                a,
                b,
                float(rng.integers(0, 11)) / 2,
                None if empty_times else first,
                None if empty_times else last,
            )
        )
    contacts = contacts_frame(crow)
    transitions = transitions_frame([("c0", "c1", 4, 120.0), ("c1", "c0", 2, None)])
    return World(cameras, sightings, contacts, transitions)


SEEDS = [0, 1, 2]
BOUNDS = [
    (None, None),
    (at(1800), None),
    (None, at(3600)),
    (at(1800), at(2700)),
    (at(2500), at(2500)),
]


def dump(store: Store, pids: list[str]) -> dict[str, Any]:
    """Everything the contract can read back about these subjects: counts, every trajectory,
    every contact edge touching them."""
    traj = {p: store.trajectory(p) for p in pids}
    edges = pd.concat(
        [store.ego_network(p, hops=1, min_score=-1e300).edges for p in pids]
        + [empty(EGO_EDGE_COLUMNS)],
        ignore_index=True,
    )
    edges = edges.drop_duplicates(["pid_a", "pid_b"]).sort_values(["pid_a", "pid_b"])
    return {"counts": store.counts(), "traj": traj, "edges": edges.reset_index(drop=True)}


def assert_dumps_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["counts"] == b["counts"]
    assert a["traj"].keys() == b["traj"].keys()
    for pid in a["traj"]:
        assert_frame_equal(a["traj"][pid], b["traj"][pid])
    assert_frame_equal(a["edges"], b["edges"])


# --- basics ---------------------------------------------------------------------------------


def test_store_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_empty_store_counts_zero_and_reads_nothing(store: Store) -> None:
    """A cleared store has no rows; every read of any pid is empty, with contract dtypes."""
    assert store.counts() == dict.fromkeys(
        ("persons", "cameras", "sightings", "contacts", "transitions"), 0
    )
    traj = store.trajectory("nobody")
    assert_contract_dtypes(traj, TRAJECTORY_COLUMNS)
    assert_frame_equal(traj, empty(TRAJECTORY_COLUMNS))
    ego = store.ego_network("nobody", hops=2)
    assert_frame_equal(ego.nodes, empty(EGO_NODE_COLUMNS))
    assert_frame_equal(ego.edges, empty(EGO_EDGE_COLUMNS))
    assert_frame_equal(store.pair_events("nobody", "none"), empty(PAIR_EVENT_COLUMNS))
    assert store.shortest_connection("nobody", "none") == []
    assert store.forget("nobody") == {"persons": 0, "sightings": 0, "contacts": 0}


def test_counts_after_hand_built_writes(store: Store) -> None:
    """3 sightings of a, b at c1 and c9 (c9 unknown until a sighting names it), a contact b-x
    (x only exists through it), a transition to c7 (created by it): persons a, b, x;
    cameras c1, c2 (written), c9, c7; 3 sightings; 1 contact; 1 transition."""
    assert store.write_cameras(cameras_frame([("c1", 1.0, 2.0), ("c2", 3.0, 4.0)])) == 2
    assert (
        store.write_sightings(
            sightings_frame([(1, "a", "c1", 0, 0.9), (2, "b", "c1", 5, None), (3, "a", "c9", 9, 1)])
        )
        == 3
    )
    assert store.write_contacts(contacts_frame([("x", "b", 1.5, 0, 10)])) == 1
    assert store.write_transitions(transitions_frame([("c1", "c7", 3, 60.0)])) == 1
    assert store.counts() == {
        "persons": 3,
        "cameras": 4,
        "sightings": 3,
        "contacts": 1,
        "transitions": 1,
    }


# --- trajectory -----------------------------------------------------------------------------


def test_trajectory_hand_built(store: Store) -> None:
    """Subject a: sightings 7 and 3 at the same second (ties broken by sighting_id: 3 first),
    one at the camera-less c9 (NaN coordinates), an empty confidence (NaN); subject b's
    sighting does not appear. Bounds are inclusive: [10 s, 20 s] keeps exactly 10 and 20."""
    store.write_cameras(cameras_frame([("c1", 51.5, -0.1)]))
    store.write_sightings(
        sightings_frame(
            [
                (7, "a", "c1", 10, 0.5),
                (3, "a", "c1", 10, None),
                (9, "a", "c9", 20, 1.0),
                (1, "a", "c1", 30, 0.25),
                (2, "b", "c1", 10, 0.5),
            ]
        )
    )
    expected = pd.DataFrame(
        {
            "sighting_id": [3, 7, 9, 1],
            "ts": tseries([10, 10, 20, 30]),
            "camera_id": ["c1", "c1", "c9", "c1"],
            "lat": [51.5, 51.5, np.nan, 51.5],
            "lon": [-0.1, -0.1, np.nan, -0.1],
            "confidence": [np.nan, 0.5, 1.0, 0.25],
        }
    )
    got = store.trajectory("a")
    assert_contract_dtypes(got, TRAJECTORY_COLUMNS)
    assert_frame_equal(got, typed(expected, TRAJECTORY_COLUMNS))
    assert_frame_equal(
        store.trajectory("a", start=at(10), end=at(20)),
        typed(expected.iloc[:3], TRAJECTORY_COLUMNS),
    )
    assert_frame_equal(
        store.trajectory("a", start=at(20)), typed(expected.iloc[2:], TRAJECTORY_COLUMNS)
    )
    assert_frame_equal(
        store.trajectory("a", end=at(10) - pd.Timedelta(microseconds=1)), empty(TRAJECTORY_COLUMNS)
    )


def test_trajectory_bounds_in_other_time_zones_and_sub_microseconds(store: Store) -> None:
    """Bounds may carry any UTC offset; a bound with nanoseconds excludes a sighting that lies
    strictly outside it (start 10 s + 1 ns excludes the sighting at 10 s)."""
    store.write_sightings(sightings_frame([(1, "a", "c1", 10, 0.5), (2, "a", "c1", 11, 0.5)]))
    paris = at(10).tz_convert("Europe/Paris")
    assert store.trajectory("a", start=paris)["sighting_id"].tolist() == [1, 2]
    assert store.trajectory("a", start=at(10) + pd.Timedelta(nanoseconds=1))[
        "sighting_id"
    ].tolist() == [2]
    assert store.trajectory("a", end=at(11) - pd.Timedelta(nanoseconds=1))[
        "sighting_id"
    ].tolist() == [1]


@pytest.mark.parametrize("seed", SEEDS)
def test_trajectory_matches_oracle(store: Store, seed: int) -> None:
    """Every subject's trajectory (and an unknown one) under each of the bounds, compared with
    the oracle as one frame per bounds (subjects concatenated in pid order)."""
    w = random_world(seed)
    write_world(store, w)
    pids = sorted(w.persons) + ["unknown"]
    for start, end in BOUNDS:
        got = [store.trajectory(pid, start=start, end=end) for pid in pids]
        for frame in got:
            assert_contract_dtypes(frame, TRAJECTORY_COLUMNS)
        want = oracle_trajectories(w, pids, start, end)
        assert_frame_equal(pd.concat(got, ignore_index=True), want)


# --- ego network ----------------------------------------------------------------------------


def chain_world() -> World:
    """a -(5)- b -(1)- c -(5)- d -(5)- e, plus b -(5)- f, f -(5)- c (a triangle b,c,f),
    and g alone (a sighting, no contacts). Edge times: a-b [0, 100], b-c [200, 300],
    c-d [400, 500], d-e [600, 700], b-f [0, 1000], c-f [150, 160].

    From a: hop 1 = {b}; hop 2 = {c, f} (c via the score-1 edge); hop 3 = {d}.
    With min_score 2 the b-c edge goes, but c is still at hop 3 via f.
    With the range [0, 120] only a-b and b-f overlap: nodes a(0), b(1), f(2)."""
    s = sightings_frame([(1, "g", "c1", 0, 1.0)])
    c = contacts_frame(
        [
            ("a", "b", 5, 0, 100),
            ("b", "c", 1, 200, 300),
            ("c", "d", 5, 400, 500),
            ("d", "e", 5, 600, 700),
            ("b", "f", 5, 0, 1000),
            ("c", "f", 5, 150, 160),
        ]
    )
    return World(cameras_frame([]), s, c, transitions_frame([]))


def nodes_of(ego: EgoNetwork) -> list[tuple[str, int]]:
    return list(zip(ego.nodes["pid"], ego.nodes["hop"], strict=True))


def pairs_of(ego: EgoNetwork) -> list[tuple[str, str]]:
    return list(zip(ego.edges["pid_a"], ego.edges["pid_b"], strict=True))


def test_ego_network_hand_built(store: Store) -> None:
    w = chain_world()
    write_world(store, w)
    assert nodes_of(store.ego_network("a", hops=0)) == [("a", 0)]
    assert pairs_of(store.ego_network("a", hops=0)) == []
    one = store.ego_network("a", hops=1)
    assert nodes_of(one) == [("a", 0), ("b", 1)]
    assert pairs_of(one) == [("a", "b")]
    two = store.ego_network("a", hops=2)
    assert nodes_of(two) == [("a", 0), ("b", 1), ("c", 2), ("f", 2)]
    # the c-f edge joins two hop-2 nodes and is included
    assert pairs_of(two) == [("a", "b"), ("b", "c"), ("b", "f"), ("c", "f")]
    three = store.ego_network("a", hops=3)
    assert nodes_of(three) == [("a", 0), ("b", 1), ("c", 2), ("f", 2), ("d", 3)]
    strong = store.ego_network("a", hops=3, min_score=2)
    assert nodes_of(strong) == [("a", 0), ("b", 1), ("f", 2), ("c", 3)]
    assert ("b", "c") not in pairs_of(strong)
    early = store.ego_network("a", hops=3, start=at(0), end=at(120))
    assert nodes_of(early) == [("a", 0), ("b", 1), ("f", 2)]
    assert pairs_of(early) == [("a", "b"), ("b", "f")]
    # touching the interval at one instant counts (inclusive overlap)
    assert nodes_of(store.ego_network("d", hops=1, start=at(700), end=at(900))) == [
        ("d", 0),
        ("e", 1),
    ]
    assert nodes_of(store.ego_network("g", hops=2)) == [("g", 0)]
    lone = store.ego_network("g", hops=2)
    assert_frame_equal(lone.edges, empty(EGO_EDGE_COLUMNS))
    assert_contract_dtypes(three.nodes, EGO_NODE_COLUMNS)
    assert_contract_dtypes(three.edges, EGO_EDGE_COLUMNS)
    assert_frame_equal(three.edges, oracle_ego(w, "a", 3, 0.0).edges)


@pytest.mark.parametrize("seed", SEEDS)
def test_ego_network_matches_oracle(store: Store, seed: int) -> None:
    """Four centres and an unknown pid x hops 0..3 x min_score {0, 2.5} x two time ranges,
    contacts written half of them reversed; all answers compared with the networkx BFS
    oracle as one frame of nodes and one of edges (a ``case`` column tells them apart)."""
    w = random_world(seed)
    write_world(store, w, swap_seed=seed)
    rng = np.random.default_rng(100 + seed)
    centres = [str(p) for p in rng.choice(sorted(w.persons), size=4, replace=False)]
    cases = itertools.product(
        [*centres, "unknown"], (0, 1, 2, 3), (0.0, 2.5), [(None, None), (at(1800), at(3600))]
    )
    got_nodes, got_edges, want_nodes, want_edges = [], [], [], []
    for case, (pid, hops, min_score, (start, end)) in enumerate(cases):
        got = store.ego_network(pid, hops, min_score, start, end)
        want = oracle_ego(w, pid, hops, min_score, start, end)
        got_nodes.append(got.nodes.assign(case=case))
        got_edges.append(got.edges.assign(case=case))
        want_nodes.append(want.nodes.assign(case=case))
        want_edges.append(want.edges.assign(case=case))
    assert sum(len(f) for f in got_edges) > 0
    assert_frame_equal(
        pd.concat(got_nodes, ignore_index=True), pd.concat(want_nodes, ignore_index=True)
    )
    assert_frame_equal(
        pd.concat(got_edges, ignore_index=True), pd.concat(want_edges, ignore_index=True)
    )


def test_bounded_ego_network_hand_built(store: Store) -> None:
    """A star: centre h with spokes s0..s5 of score 6..1, and s0-s1 (score 9), s0-x (score 2).
    Two per node from h: s0, s1; from s0 at hop 2: x (s1 is reached). max_nodes 3 keeps h and
    the two strongest spokes (s2..s5 and x left out); limit 1 still returns both tree edges (h-s0, h-s1) and cuts s0-s1."""
    s = sightings_frame([(1, "h", "c1", 0, 1.0)])
    rows = [("h", f"s{i}", 6 - i, 0, 100) for i in range(6)]
    rows += [("s0", "s1", 9, 0, 100), ("s0", "x", 2, 0, 100)]
    write_world(store, World(cameras_frame([]), s, contacts_frame(rows), transitions_frame([])))
    two = store.ego_network("h", hops=2, per_node=2)
    assert nodes_of(two) == [("h", 0), ("s0", 1), ("s1", 1), ("x", 2)]
    assert two.cut == {"subjects": 4, "edges": 0}
    small = store.ego_network("h", hops=2, max_nodes=3, limit=1)
    assert nodes_of(small) == [("h", 0), ("s0", 1), ("s1", 1)]
    assert pairs_of(small) == [("h", "s0"), ("h", "s1")]
    assert small.cut == {"subjects": 5, "edges": 1}  # s2..s5 and x
    free = store.ego_network("h", hops=2)
    assert free.cut == {"subjects": 0, "edges": 0} and len(free.nodes) == 8


@pytest.mark.parametrize("seed", SEEDS)
def test_bounded_ego_network_matches_oracle(store: Store, seed: int) -> None:
    """Bounded ego networks of random worlds (per_node 1..2, max_nodes 3..8, limit 1..6) equal
    the brute-force restatement of the bounds, cut counts included."""
    w = random_world(seed)
    write_world(store, w, swap_seed=seed)
    rng = np.random.default_rng(200 + seed)
    centres = [str(p) for p in rng.choice(sorted(w.persons), size=4, replace=False)]
    checked = 0
    for pid, hops, min_score in itertools.product(centres, (1, 2, 3), (0.0, 2.5)):
        per_node, max_nodes, limit = (int(v) for v in rng.integers((1, 3, 1), (3, 9, 7)))
        got = store.ego_network(
            pid, hops, min_score, per_node=per_node, max_nodes=max_nodes, limit=limit
        )
        want = oracle_bounded_ego(w, pid, hops, min_score, per_node, max_nodes, limit)
        assert_frame_equal(got.nodes, want.nodes)
        assert_frame_equal(got.edges, want.edges)
        assert got.cut == want.cut
        checked += got.cut["subjects"] + got.cut["edges"]
    assert checked > 0  # the bounds did cut something


# --- pair events ----------------------------------------------------------------------------


def test_pair_events_hand_built(store: Store) -> None:
    """b at c1 at 0 s and 60 s; a at c1 at 30 s and 120 s, and at c2 at 0 s.
    With W = 60 s: (a@30, b@0), (a@30, b@60), (a@120, b@60) (exactly 60 s apart counts);
    a@c2 meets nothing. Output oriented a (the smaller pid) first, whatever the argument order.
    With W = 30 s: the first two only. With W = 0: none. With end = 60 s: a@120 is out."""
    store.write_sightings(
        sightings_frame(
            [
                (10, "b", "c1", 0, 1.0),
                (11, "b", "c1", 60, 1.0),
                (20, "a", "c1", 30, 1.0),
                (21, "a", "c1", 120, 1.0),
                (22, "a", "c2", 0, 1.0),
            ]
        )
    )
    expected = typed(
        pd.DataFrame(
            {
                "camera_id": ["c1", "c1", "c1"],
                "ts_a": tseries([30, 30, 120]),
                "ts_b": tseries([0, 60, 60]),
                "sighting_a": [20, 20, 21],
                "sighting_b": [10, 11, 11],
            }
        ),
        PAIR_EVENT_COLUMNS,
    )
    got = store.pair_events("b", "a", window_s=60)
    assert_contract_dtypes(got, PAIR_EVENT_COLUMNS)
    assert_frame_equal(got, expected)
    assert_frame_equal(store.pair_events("a", "b", window_s=60), expected)
    assert_frame_equal(store.pair_events("a", "b", window_s=30), expected.iloc[:2])
    assert_frame_equal(store.pair_events("a", "b", window_s=0), empty(PAIR_EVENT_COLUMNS))
    assert_frame_equal(store.pair_events("a", "b", window_s=60, end=at(60)), expected.iloc[:2])
    assert_frame_equal(store.pair_events("a", "unknown"), empty(PAIR_EVENT_COLUMNS))


def meeting_pairs(w: World, within_s: float) -> list[tuple[str, str]]:
    """Pairs of distinct subjects seen at one camera within ``within_s`` of each other."""
    s = w.sightings
    m = s.merge(s, on="camera_id")
    m = m[
        (m["pid_x"] < m["pid_y"])
        & ((m["ts_x"] - m["ts_y"]).abs() <= pd.Timedelta(seconds=within_s))
    ]
    return sorted(set(zip(m["pid_x"], m["pid_y"], strict=True)))


@pytest.mark.parametrize("seed", SEEDS)
def test_pair_events_match_brute_force(store: Store, seed: int) -> None:
    """Six pairs that meet and three random pairs (arguments in random order) x windows
    {0, 60, 95.5} x two time ranges, against a double loop over the two subjects' sightings."""
    w = random_world(seed)
    write_world(store, w)
    rng = np.random.default_rng(200 + seed)
    meeting = meeting_pairs(w, 95.5)
    assert len(meeting) >= 6
    people = sorted(set(w.sightings["pid"]))
    pairs = [meeting[int(i)] for i in rng.choice(len(meeting), size=6, replace=False)]
    pairs += [tuple(str(x) for x in rng.choice(people, size=2, replace=False)) for _ in range(3)]
    got, want = [], []
    for pair in pairs:
        a, b = pair if rng.random() < 0.5 else pair[::-1]
        for window in (0, 60, 95.5):
            for start, end in [(None, None), (at(1800), at(5400))]:
                frame = store.pair_events(a, b, window_s=window, start=start, end=end)
                assert_contract_dtypes(frame, PAIR_EVENT_COLUMNS)
                got.append(frame)
                want.append(oracle_pair_events(w, a, b, window, start, end))
    got_all = pd.concat(got, ignore_index=True)
    assert len(got_all) >= 6
    assert_frame_equal(got_all, pd.concat(want, ignore_index=True))


# --- shortest connection --------------------------------------------------------------------


def test_shortest_connection_tie_rule(store: Store) -> None:
    """Two shortest paths s-x-t and s-m-t: the smaller sequence [s, m, t] wins. From s to u,
    paths s-m-y-u and s-m-k-u and s-x-a-u: [s, m, k, u] (first difference at position 2).
    Code point order, not UTF-16: U+FF21 'Ａ' < U+1F600 '😀' although UTF-16 orders the
    emoji's surrogate pair first, so v-Ａ-w beats v-😀-w."""
    store.write_contacts(
        contacts_frame(
            [
                ("s", "x", 1, 0, 1),
                ("x", "t", 1, 0, 1),
                ("s", "m", 1, 0, 1),
                ("m", "t", 1, 0, 1),
                ("m", "y", 1, 0, 1),
                ("y", "u", 1, 0, 1),
                ("m", "k", 1, 0, 1),
                ("k", "u", 1, 0, 1),
                ("x", "a", 1, 0, 1),
                ("a", "u", 1, 0, 1),
                ("v", "😀", 1, 0, 1),
                ("😀", "w", 1, 0, 1),
                ("v", "\uff21", 1, 0, 1),
                ("\uff21", "w", 1, 0, 1),
            ]
        )
    )
    assert store.shortest_connection("s", "t") == ["s", "m", "t"]
    assert store.shortest_connection("t", "s") == ["t", "m", "s"]
    assert store.shortest_connection("s", "u") == ["s", "m", "k", "u"]
    assert store.shortest_connection("v", "w") == ["v", "\uff21", "w"]


def test_shortest_connection_edge_cases(store: Store) -> None:
    """Chain a-b-c-d-e (scores 5, 1, 5, 5 as in chain_world): a to e is 4 hops; with
    max_hops 3 there is none; min_score 2 cuts b-c but the triangle b-f-c keeps a path of
    5 hops; same pid gives [pid]; g (no contacts) reaches nobody; unknown pids give []."""
    write_world(store, chain_world())
    assert store.shortest_connection("a", "e") == ["a", "b", "c", "d", "e"]
    assert store.shortest_connection("a", "e", max_hops=3) == []
    assert store.shortest_connection("a", "e", max_hops=5, min_score=2) == [
        "a",
        "b",
        "f",
        "c",
        "d",
        "e",
    ]
    assert store.shortest_connection("a", "e", max_hops=4, min_score=2) == []
    assert store.shortest_connection("a", "a") == ["a"]
    assert store.shortest_connection("a", "a", max_hops=0) == ["a"]
    assert store.shortest_connection("a", "b", max_hops=0) == []
    assert store.shortest_connection("a", "g") == []
    assert store.shortest_connection("a", "unknown") == []
    assert store.shortest_connection("unknown", "unknown") == []


@pytest.mark.parametrize("seed", SEEDS)
def test_shortest_connection_matches_networkx(store: Store, seed: int) -> None:
    w = random_world(seed)
    write_world(store, w, swap_seed=seed)
    rng = np.random.default_rng(300 + seed)
    people = sorted(w.persons)
    for _ in range(12):
        a, b = (str(x) for x in rng.choice(people, size=2, replace=False))
        for max_hops in (1, 2, 4):
            for min_score in (0.0, 2.0):
                got = store.shortest_connection(a, b, max_hops=max_hops, min_score=min_score)
                assert got == oracle_shortest(w, a, b, max_hops, min_score), (a, b)


# --- writes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_writes_are_idempotent(store: Store, seed: int) -> None:
    """Writing the same world twice (contacts flipped differently the second time) returns
    the same row counts and leaves every read unchanged."""
    w = random_world(seed)
    write_world(store, w, swap_seed=seed)
    people = sorted(w.persons)
    before = dump(store, people)
    write_world(store, w, swap_seed=seed + 1)
    assert_dumps_equal(before, dump(store, people))
    assert store.counts()["persons"] == len(w.persons)
    assert store.counts()["sightings"] == len(w.sightings)
    assert store.counts()["contacts"] == len(w.contacts)
    assert store.write_sightings(w.sightings) == len(w.sightings)
    assert store.write_contacts(w.contacts) == len(w.contacts)


def test_upserts_replace_values(store: Store) -> None:
    """Rewriting a key replaces its values: sighting 1 moves from a to b (a keeps its person
    node, with no sightings), camera c1 gets coordinates, contact a-b (given as b, a) gets
    score 9, and within one frame the last row of a repeated key wins."""
    store.write_sightings(sightings_frame([(1, "a", "c1", 0, 0.5), (2, "a", "c1", 5, 0.5)]))
    store.write_contacts(contacts_frame([("a", "b", 1.0, 0, 10)]))
    store.write_sightings(sightings_frame([(1, "b", "c1", 1, 0.7)]))
    store.write_cameras(cameras_frame([("c1", 10.0, 20.0)]))
    store.write_contacts(contacts_frame([("b", "a", 9.0, 0, 10)]))
    assert store.trajectory("a")["sighting_id"].tolist() == [2]
    moved = store.trajectory("b")
    assert moved["sighting_id"].tolist() == [1]
    assert moved["ts"].tolist() == [at(1)]
    assert moved[["lat", "lon", "confidence"]].iloc[0].tolist() == [10.0, 20.0, 0.7]
    edges = store.ego_network("a").edges
    assert pairs_of(EgoNetwork(empty(EGO_NODE_COLUMNS), edges)) == [("a", "b")]
    assert edges["score"].tolist() == [9.0]
    assert store.counts()["sightings"] == 2
    assert store.counts()["contacts"] == 1
    n = store.write_sightings(sightings_frame([(5, "a", "c1", 0, 0.1), (5, "a", "c2", 3, 0.2)]))
    assert n == 1
    assert store.trajectory("a", start=at(3), end=at(3))["camera_id"].tolist() == ["c2"]


def test_weird_ids_round_trip(store: Store) -> None:
    """Quotes, backslashes, Cypher and SQL keywords, emoji, RTL text, combining marks: every id
    is stored and read back unchanged, and nothing is executed (all counts stay right)."""
    ids = WEIRD_IDS
    n = len(ids)
    store.write_cameras(cameras_frame([(c, 1.0, 2.0) for c in ids]))
    store.write_sightings(
        sightings_frame([(i, ids[i], ids[(i + 1) % n], float(i), 0.5) for i in range(n)])
        # every subject also meets the next one at its camera 1 s later
    )
    store.write_contacts(contacts_frame([(ids[i], ids[(i + 1) % n], 1.0, 0, 5) for i in range(n)]))
    store.write_transitions(
        transitions_frame([(ids[i], ids[(i + 3) % n], 1, 2.0) for i in range(n)])
    )
    assert store.counts() == {
        "persons": n,
        "cameras": n,
        "sightings": n,
        "contacts": n,
        "transitions": n,
    }
    for i, pid in enumerate(ids):
        traj = store.trajectory(pid)
        assert traj["camera_id"].tolist() == [ids[(i + 1) % n]]
        assert traj["sighting_id"].tolist() == [i]
        ego = store.ego_network(pid, hops=1)
        assert set(ego.nodes["pid"]) == {pid, ids[(i + 1) % n], ids[(i - 1) % n]}
        for a, b in pairs_of(ego):
            assert a < b
    assert store.shortest_connection(ids[0], ids[3]) == ids[:4]
    assert set(store.ego_network(ids[0], hops=n).nodes["pid"]) == set(ids)
    assert store.forget(ids[3]) == {"persons": 1, "sightings": 1, "contacts": 2}
    assert store.counts()["persons"] == n - 1


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ids=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=5, unique=True))
def test_any_text_id_round_trips(store: Store, ids: list[str]) -> None:
    """Any non-empty text works as pid and camera id (hypothesis)."""
    store.clear()
    n = len(ids)
    store.write_sightings(sightings_frame([(i, ids[i], ids[-1 - i], 0.0, 1.0) for i in range(n)]))
    store.write_contacts(contacts_frame([(ids[i], ids[i + 1], 1.0, 0, 1) for i in range(n - 1)]))
    for i, pid in enumerate(ids):
        assert store.trajectory(pid)["camera_id"].tolist() == [ids[-1 - i]]
    chain = store.shortest_connection(ids[0], ids[-1], max_hops=n)
    assert chain == ids
    ego = store.ego_network(ids[0], hops=n)
    assert ego.nodes["pid"].tolist() == ids
    assert sorted(ego.edges["pid_a"] + "\x00" + ego.edges["pid_b"]) == sorted(
        min(a, b) + "\x00" + max(a, b) for a, b in zip(ids, ids[1:], strict=False)
    )


# --- governance -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_forget_removes_exactly_the_subject(store: Store, seed: int) -> None:
    """forget(p) removes p, its sightings and every contact edge touching p, and reports those
    numbers; every other subject's trajectory and every other edge stay as they were."""
    w = random_world(seed)
    write_world(store, w)
    victim = str(w.sightings["pid"].value_counts().index[0])
    others = sorted(w.persons - {victim})
    before = dump(store, others)
    touching = (w.contacts["pid_a"] == victim) | (w.contacts["pid_b"] == victim)
    removed = store.forget(victim)
    assert removed == {
        "persons": 1,
        "sightings": int((w.sightings["pid"] == victim).sum()),
        "contacts": int(touching.sum()),
    }
    assert_frame_equal(store.trajectory(victim), empty(TRAJECTORY_COLUMNS))
    assert_frame_equal(store.ego_network(victim).nodes, empty(EGO_NODE_COLUMNS))
    after = dump(store, others)
    assert after["counts"] == {
        **before["counts"],
        "persons": before["counts"]["persons"] - 1,
        "sightings": before["counts"]["sightings"] - removed["sightings"],
        "contacts": before["counts"]["contacts"] - removed["contacts"],
    }
    for pid in others:
        assert_frame_equal(after["traj"][pid], before["traj"][pid])
    kept = before["edges"][
        (before["edges"]["pid_a"] != victim) & (before["edges"]["pid_b"] != victim)
    ]
    assert_frame_equal(after["edges"], kept.reset_index(drop=True))
    assert store.forget(victim) == {"persons": 0, "sightings": 0, "contacts": 0}


def test_delete_before_hand_built(store: Store) -> None:
    """Cutoff 100 s: a's sightings at 0 and 50 go (a keeps the one at 100: ts < cutoff is
    strict); b's only sighting at 10 goes, so b and its contact b-c go too; c (contacts only,
    never sighted) stays; d at 200 is untouched."""
    store.write_sightings(
        sightings_frame(
            [
                (1, "a", "c1", 0, 1.0),
                (2, "a", "c1", 50, 1.0),
                (3, "a", "c1", 100, 1.0),
                (4, "b", "c1", 10, 1.0),
                (5, "d", "c2", 200, 1.0),
            ]
        )
    )
    store.write_contacts(contacts_frame([("b", "c", 1, 0, 10), ("a", "d", 1, 0, 10)]))
    assert store.delete_before(at(100)) == {"sightings": 3, "persons": 1, "contacts": 1}
    assert store.trajectory("a")["sighting_id"].tolist() == [3]
    assert store.trajectory("b").empty
    assert nodes_of(store.ego_network("c")) == [("c", 0)]
    assert pairs_of(store.ego_network("a")) == [("a", "d")]
    assert store.counts() == {
        "persons": 3,
        "cameras": 2,
        "sightings": 2,
        "contacts": 1,
        "transitions": 0,
    }
    assert store.delete_before(at(100)) == {"sightings": 0, "persons": 0, "contacts": 0}


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_delete_before_matches_oracle(store: Store, seed: int) -> None:
    w = random_world(seed)
    write_world(store, w)
    cutoff = at(3600)
    old = w.sightings["ts"] < cutoff
    left = w.sightings[~old]
    gone = set(w.sightings.loc[old, "pid"]) - set(left["pid"])
    touching = w.contacts["pid_a"].isin(gone) | w.contacts["pid_b"].isin(gone)
    assert store.delete_before(cutoff) == {
        "sightings": int(old.sum()),
        "persons": len(gone),
        "contacts": int(touching.sum()),
    }
    after = World(w.cameras, left, w.contacts[~touching], w.transitions)
    assert after.persons == w.persons - gone
    for pid in sorted(w.persons):
        assert_frame_equal(store.trajectory(pid), oracle_trajectory(after, pid))
        got = store.ego_network(pid, hops=2)
        want = oracle_ego(after, pid, 2, 0.0)
        assert_frame_equal(got.nodes, want.nodes)
        assert_frame_equal(got.edges, want.edges)


def test_clear_removes_everything(store: Store) -> None:
    write_world(store, random_world(0))
    assert store.counts()["sightings"] > 0
    store.clear()
    assert set(store.counts().values()) == {0}
    write_world(store, random_world(0))
    assert store.counts()["sightings"] == 160


# --- validation -----------------------------------------------------------------------------


BAD_CALLS = [
    ("trajectory", ("a",), {"start": at(10), "end": at(0)}, "after end"),
    ("trajectory", ("a",), {"start": pd.Timestamp("2024-01-01")}, "timezone-aware"),
    ("trajectory", ("a",), {"end": "not a time"}, "not a time"),
    ("trajectory", (None,), {}, "pid must be a string"),
    ("ego_network", ("a",), {"hops": -1}, "hops"),
    ("ego_network", ("a",), {"hops": 1.5}, "hops"),
    ("ego_network", ("a",), {"hops": True}, "hops"),
    ("ego_network", ("a",), {"min_score": math.nan}, "min_score"),
    ("ego_network", ("a",), {"min_score": math.inf}, "min_score"),
    ("ego_network", ("a",), {"start": at(10), "end": at(0)}, "after end"),
    ("ego_network", ("a",), {"limit": 0}, "limit"),
    ("ego_network", ("a",), {"per_node": 2.5}, "per_node"),
    ("ego_network", ("a",), {"max_nodes": True}, "max_nodes"),
    ("pair_events", ("a", "b"), {"window_s": -1}, "window_s"),
    ("pair_events", ("a", "b"), {"window_s": math.nan}, "window_s"),
    ("pair_events", ("a", "a"), {}, "different"),
    ("pair_events", ("a", "b"), {"start": at(10), "end": at(0)}, "after end"),
    ("shortest_connection", ("a", "b"), {"max_hops": -2}, "max_hops"),
    ("shortest_connection", ("a", "b"), {"min_score": "high"}, "min_score"),
    ("delete_before", (pd.Timestamp("2024-01-01"),), {}, "timezone-aware"),
    ("delete_before", (None,), {}, "cutoff"),
    ("forget", (42,), {}, "pid must be a string"),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "message"), BAD_CALLS)
def test_bad_arguments_raise_usage_error(
    store: Store, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        getattr(store, method)(*args, **kwargs)


def _naive(df: pd.DataFrame, col: str) -> pd.DataFrame:
    out = df.copy()
    out[col] = out[col].dt.tz_localize(None)
    return out


BAD_WRITES = [
    ("write_sightings", sightings_frame([(1, "a", "c1", 0, 1)]).drop(columns="ts"), "ts"),
    (
        "write_sightings",
        sightings_frame([(1, "a", "c1", 0, 1)]).drop(columns="sighting_id"),
        "sighting_id",
    ),
    ("write_sightings", _naive(sightings_frame([(1, "a", "c1", 0, 1)]), "ts"), "timezone-aware"),
    ("write_sightings", sightings_frame([(1, "", "c1", 0, 1)]), "pid"),
    ("write_sightings", sightings_frame([(1, "a", "c1", 0, 1.5)]), "confidence"),
    ("write_sightings", sightings_frame([(1, "a", "c1", None, 1)]), "ts"),
    ("write_contacts", contacts_frame([("a", "a", 1, 0, 1)]), "own contact"),
    ("write_contacts", contacts_frame([("a", "b", math.nan, 0, 1)]), "score"),
    ("write_contacts", contacts_frame([("a", "b", 1, 5, 1)]), "first_ts"),
    ("write_contacts", contacts_frame([("a", "b", 1, 0, 1)]).drop(columns="meetings"), "meetings"),
    ("write_cameras", cameras_frame([("c1", 91.0, 0.0)]), "lat"),
    ("write_cameras", cameras_frame([("c1", 1.0, 0.0)]).drop(columns="lon"), "lon"),
    ("write_transitions", transitions_frame([("c1", "c2", -1, None)]), "count"),
]


@pytest.mark.parametrize(("method", "frame", "message"), BAD_WRITES)
def test_bad_writes_raise_usage_error_and_write_nothing(
    store: Store, method: str, frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        getattr(store, method)(frame)
    assert set(store.counts().values()) == {0}


def test_inputs_are_not_mutated(store: Store) -> None:
    w = random_world(5)
    frames = [w.cameras, w.sightings, w.contacts, w.transitions]
    flipped = w.contacts.copy()
    flipped[["pid_a", "pid_b"]] = flipped[["pid_b", "pid_a"]].to_numpy()
    copies = [f.copy() for f in [*frames, flipped]]
    write_world(store, w)
    store.write_contacts(flipped)
    for original, copy in zip([*frames, flipped], copies, strict=True):
        assert_frame_equal(original, copy)
