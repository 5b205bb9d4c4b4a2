"""Tests for sightgraph.analytics.network: hand-built fixtures with stated answers, brute-force
oracles under hypothesis, networkx as the oracle for betweenness, and the real primary-school data
(communities vs school classes)."""

from __future__ import annotations

import doctest
import importlib.util
import itertools
import os
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.analytics import network
from sightgraph.analytics.network import (
    centrality,
    contact_graph,
    detect_communities,
    ego_network,
    exposure_chains,
    strongest_path,
)
from sightgraph.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
T0 = pd.Timestamp("2026-03-02 08:00", tz="UTC")
HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ts(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def make_contacts(rows: list[tuple[str, str, float]], **extra: list) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["pid_a", "pid_b", "score"])
    for k, v in extra.items():
        df[k] = v
    return df


def make_meetings(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    """rows of (pid_a, pid_b, start minute, end minute)."""
    return pd.DataFrame(
        {
            "pid_a": [r[0] for r in rows],
            "pid_b": [r[1] for r in rows],
            "camera_id": ["cam"] * len(rows),
            "start_ts": pd.Series([ts(r[2]) for r in rows], dtype="datetime64[us, UTC]"),
            "end_ts": pd.Series([ts(r[3]) for r in rows], dtype="datetime64[us, UTC]"),
        }
    )


@pytest.fixture
def timed_contacts() -> pd.DataFrame:
    """a-b strong, all of day 1; b-c weak, day 2; c-d medium, day 1 and 2; e-f zero score.

    Expected: min_score=1 drops b-c and e-f; a window on day 1 keeps a-b and c-d only.
    """
    return make_contacts(
        [("a", "b", 5.0), ("c", "b", 0.5), ("c", "d", 2.0), ("e", "f", 0.0)],
        meetings=[3, 1, 2, 1],
        first_ts=pd.Series([ts(0), ts(24 * 60), ts(60), ts(0)], dtype="datetime64[us, UTC]"),
        last_ts=pd.Series(
            [ts(600), ts(24 * 60 + 5), ts(24 * 60 + 60), ts(10)], dtype="datetime64[us, UTC]"
        ),
    )


# ---------------------------------------------------------------------------------------------
# module docs
# ---------------------------------------------------------------------------------------------
def test_docstring_examples_run() -> None:
    result = doctest.testmod(network, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6
    assert result.failed == 0


def test_public_api_is_declared() -> None:
    assert set(network.__all__) == {
        "centrality",
        "contact_graph",
        "detect_communities",
        "ego_network",
        "exposure_chains",
        "strongest_path",
    }


# ---------------------------------------------------------------------------------------------
# contact_graph
# ---------------------------------------------------------------------------------------------
def test_contact_graph_attributes_and_filters(timed_contacts: pd.DataFrame) -> None:
    before = timed_contacts.copy()
    g = contact_graph(timed_contacts)
    # e-f has score 0: never an edge. The swapped row (c, b) is stored as b-c.
    assert sorted(g.edges) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert sorted(g.nodes) == ["a", "b", "c", "d"]
    ab = g["a"]["b"]
    assert ab["weight"] == 5.0 and ab["score"] == 5.0 and ab["distance"] == pytest.approx(0.2)
    assert ab["meetings"] == 3 and ab["first_ts"] == ts(0)
    assert sorted(contact_graph(timed_contacts, min_score=1.0).edges) == [("a", "b"), ("c", "d")]
    day1 = contact_graph(timed_contacts, start=ts(0), end=ts(23 * 60))
    assert sorted(day1.edges) == [("a", "b"), ("c", "d")]
    pd.testing.assert_frame_equal(timed_contacts, before)


def test_contact_graph_empty_window_and_subjects(timed_contacts: pd.DataFrame) -> None:
    g = contact_graph(timed_contacts, start=ts(100), end=ts(50))
    assert g.number_of_edges() == 0 and g.number_of_nodes() == 0
    g = contact_graph(timed_contacts, subjects=["z"])
    assert "z" in g and g.degree("z") == 0


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"pid_a": ["a"], "pid_b": ["b"]}), "missing required column(s) score"),
        (make_contacts([("a", "b", float("nan"))]), "row 0 has a missing or infinite score"),
        (make_contacts([("a", "a", 1.0)]), "row 0 pairs subject 'a' with itself"),
        (make_contacts([("a", "b", 1.0), ("b", "a", 2.0)]), "pair ('a', 'b') appears in rows 0, 1"),
        (make_contacts([("a", None, 1.0)]), "row 0 has an empty pid_b"),
        (pd.DataFrame({"pid_a": ["a"], "pid_b": ["b"], "score": ["x"]}), "score must be numeric"),
        ("not a frame", "must be a pandas DataFrame"),
    ],
)
def test_contact_graph_rejects_bad_input(frame: object, message: str) -> None:
    with pytest.raises(UsageError) as err:
        contact_graph(frame)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_integer_pids_and_reserved_columns() -> None:
    """Integer pids work throughout; input columns named distance/weight are recomputed."""
    contacts = pd.DataFrame(
        {"pid_a": [3, 1], "pid_b": [2, 2], "score": [2.0, 4.0], "distance": [9, 9]}
    )
    g = contact_graph(contacts)
    assert sorted(g.edges(data="distance")) == [(1, 2, 0.25), (2, 3, 0.5)]
    assert strongest_path(contacts, 1, 3)[0] == [1, 2, 3]
    assert ego_network(contacts, 3, hops=2)[0].values.tolist() == [[3, 0], [2, 1], [1, 2]]
    m = pd.DataFrame(
        {
            "pid_a": [1, 2],
            "pid_b": [2, 3],
            "start_ts": pd.Series([ts(1), ts(2)], dtype="datetime64[us, UTC]"),
            "end_ts": pd.Series([ts(1), ts(2)], dtype="datetime64[us, UTC]"),
        }
    )
    assert exposure_chains(m, 1, ts(0))["chain"].tolist() == [[1], [1, 2], [1, 2, 3]]
    with pytest.raises(UsageError, match="one comparable type"):
        contact_graph(make_contacts([("a", "b", 1.0)]).assign(pid_b=[7]))
    with pytest.raises(UsageError, match="one comparable type"):
        contact_graph(make_contacts([("a", "b", 1.0)]), subjects=[5])


def test_contact_graph_rejects_bad_time_arguments(timed_contacts: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="start must be timezone-aware"):
        contact_graph(timed_contacts, start="2026-03-02 08:00")
    with pytest.raises(UsageError, match="end must be a timestamp"):
        contact_graph(timed_contacts, end="yesterday-ish")
    with pytest.raises(UsageError, match="needs column first_ts"):
        contact_graph(make_contacts([("a", "b", 1.0)]), start=ts(0))
    with pytest.raises(UsageError, match="min_score must be a finite number"):
        contact_graph(timed_contacts, min_score=float("nan"))


# ---------------------------------------------------------------------------------------------
# detect_communities
# ---------------------------------------------------------------------------------------------
def planted(n_groups: int, size: int, seed: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Dense strong groups joined by a few weak edges: Louvain must return the groups."""
    rng = np.random.default_rng(seed)
    truth = {f"p{g:02d}{i:02d}": g for g in range(n_groups) for i in range(size)}
    rows = []
    for u, v in itertools.combinations(sorted(truth), 2):
        if truth[u] == truth[v] and rng.random() < 0.8:
            rows.append((u, v, float(rng.integers(5, 20))))
        elif truth[u] != truth[v] and rng.random() < 0.03:
            rows.append((u, v, 1.0))
    return make_contacts(rows), truth


def test_communities_recover_planted_groups_whatever_the_row_order() -> None:
    contacts, truth = planted(4, 10, seed=1)
    out = detect_communities(contacts, seed=3)
    assert list(out.columns) == ["pid", "community"]
    groups = out.groupby("community")["pid"].apply(frozenset).tolist()
    want = {frozenset(p for p, g in truth.items() if g == k) for k in range(4)}
    assert set(groups) == want
    for perm_seed in range(3):
        shuffled = contacts.sample(frac=1.0, random_state=perm_seed)
        swapped = shuffled.rename(columns={"pid_a": "pid_b", "pid_b": "pid_a"})
        for frame in (shuffled, swapped):
            pd.testing.assert_frame_equal(detect_communities(frame, seed=3), out)


def test_community_numbering_by_size_then_smallest_pid() -> None:
    """Triangle x,y,z (3 members) is community 0; pairs a-b and c-d (2 each): a-b first."""
    contacts = make_contacts(
        [("c", "d", 1.0), ("x", "y", 1.0), ("y", "z", 1.0), ("x", "z", 1.0), ("a", "b", 1.0)]
    )
    out = detect_communities(contacts, subjects=["q"])
    assert out.values.tolist() == [
        ["x", 0],
        ["y", 0],
        ["z", 0],
        ["a", 1],
        ["b", 1],
        ["c", 2],
        ["d", 2],
        ["q", 3],
    ]


def test_communities_accept_a_graph_and_handle_empty_input() -> None:
    g = contact_graph(make_contacts([("a", "b", 1.0)]), subjects=["c"])
    assert detect_communities(g).values.tolist() == [["a", 0], ["b", 0], ["c", 1]]
    empty = detect_communities(make_contacts([("a", "b", -1.0)]))
    assert empty.empty and list(empty.columns) == ["pid", "community"]
    with pytest.raises(UsageError, match="resolution must be > 0"):
        detect_communities(make_contacts([("a", "b", 1.0)]), resolution=0)


# ---------------------------------------------------------------------------------------------
# centrality
# ---------------------------------------------------------------------------------------------
contact_rows = st.lists(
    st.tuples(
        st.sampled_from("abcdefgh"),
        st.sampled_from("abcdefgh"),
        st.sampled_from([0.5, 1.0, 2.0, 4.0]),  # distances 2, 1, .5, .25 are exact: ties happen
    ),
    min_size=0,
    max_size=18,
).map(lambda rows: list({tuple(sorted((a, b))): (a, b, s) for a, b, s in rows if a != b}.values()))


def oracle_graph(rows: list[tuple[str, str, float]]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(sorted({p for a, b, _ in rows for p in (a, b)}))
    for a, b, s in rows:
        g.add_edge(a, b, score=s, distance=1.0 / s)
    return g


@HYP
@given(contact_rows)
def test_centrality_matches_networkx(rows: list[tuple[str, str, float]]) -> None:
    g = oracle_graph(rows)
    out = centrality(make_contacts(rows)).set_index("pid")
    assert list(out.index) == sorted(g.nodes)
    want = nx.betweenness_centrality(g, weight="distance")
    for p in g.nodes:
        assert out.loc[p, "degree"] == g.degree(p)
        assert out.loc[p, "strength"] == pytest.approx(g.degree(p, weight="score"))
        assert out.loc[p, "betweenness"] == pytest.approx(want[p], abs=1e-12)


def brute_sampled_betweenness(g: nx.Graph, sources: list[str], k: int) -> dict[str, float]:
    """Enumerate every shortest path from each sampled source; rescale as networkx does."""
    n = g.number_of_nodes()
    dep = dict.fromkeys(g.nodes, 0.0)
    for s in sources:
        for t in g.nodes:
            if t == s or not nx.has_path(g, s, t):
                continue
            paths = list(nx.all_shortest_paths(g, s, t, weight="distance"))
            for path in paths:
                for v in path[1:-1]:
                    dep[v] += 1.0 / len(paths)
    return {v: d / (((k - 1) if v in sources else k) * (n - 2)) for v, d in dep.items()}


def test_sampled_betweenness_matches_brute_force_on_the_documented_sample() -> None:
    rng = np.random.default_rng(7)
    rows = [
        (f"n{u:02d}", f"n{v:02d}", float(rng.choice([1.0, 2.0, 4.0])))
        for u, v in itertools.combinations(range(30), 2)
        if rng.random() < 0.15
    ]
    g = oracle_graph(rows)
    nodes = sorted(g.nodes)
    k, seed = 8, 11
    sources = [
        nodes[i] for i in np.random.default_rng(seed).choice(len(nodes), size=k, replace=False)
    ]
    got = centrality(make_contacts(rows), k=k, seed=seed).set_index("pid")["betweenness"]
    want = brute_sampled_betweenness(g, sources, k)
    for v in nodes:
        assert got[v] == pytest.approx(want[v], abs=1e-12)
    exact = centrality(make_contacts(rows))
    pd.testing.assert_frame_equal(centrality(make_contacts(rows), k=len(nodes) + 5), exact)
    with pytest.raises(UsageError, match="k must be >= 2"):
        centrality(make_contacts(rows), k=1)


def test_centrality_of_tiny_graphs() -> None:
    out = centrality(make_contacts([("a", "b", 2.0)]))
    assert out.values.tolist() == [["a", 1, 2.0, 0.0], ["b", 1, 2.0, 0.0]]
    assert centrality(make_contacts([])).empty


# ---------------------------------------------------------------------------------------------
# strongest_path
# ---------------------------------------------------------------------------------------------
def test_strongest_path_prefers_two_strong_links_over_a_weak_one() -> None:
    """a-c direct has score 1 (distance 1); a-b-c has scores 4, 4 (distance .25 + .25 = .5)."""
    contacts = make_contacts(
        [("a", "c", 1.0), ("a", "b", 4.0), ("b", "c", 4.0), ("d", "e", 1.0)], meetings=[1, 7, 8, 2]
    )
    path, steps = strongest_path(contacts, "c", "a")
    assert path == ["c", "b", "a"]
    assert steps[["step", "pid_from", "pid_to", "score", "meetings"]].values.tolist() == [
        [0, "c", "b", 4.0, 8],
        [1, "b", "a", 4.0, 7],
    ]
    assert steps["distance"].sum() == pytest.approx(0.5)
    # disconnected, same subject, unknown subject, min_score removing the strong route
    assert strongest_path(contacts, "a", "d")[0] == []
    assert strongest_path(contacts, "a", "d")[1].empty
    assert strongest_path(contacts, "a", "a")[0] == ["a"]
    assert strongest_path(contacts, "a", "c", min_score=2.0)[0] == ["a", "b", "c"]
    assert strongest_path(contacts, "a", "c", min_score=5.0)[0] == []
    assert strongest_path(contacts, "a", "z", subjects=["z"])[0] == []
    with pytest.raises(UsageError, match="unknown subject 'zz'"):
        strongest_path(contacts, "zz", "a")


def test_strongest_path_ties_fewer_hops_then_smallest_pids() -> None:
    """Both routes a-m-c-t (.25 + .25 + 1) and a-z-t (1 + .5) have length 1.5: 2 hops win although
    the 3-hop route is found first. a-y-t (.25 + 1.25) and a-b-t (1 + .5) tie at 1.5 with 2 hops:
    ['a', 'b', 't'] is the smaller list although a-y-t is found first."""
    hops = make_contacts(
        [("a", "z", 1.0), ("a", "m", 4.0), ("c", "m", 4.0), ("c", "t", 1.0), ("t", "z", 2.0)]
    )
    assert strongest_path(hops, "a", "t")[0] == ["a", "z", "t"]
    lex = make_contacts([("a", "y", 4.0), ("t", "y", 0.8), ("a", "b", 1.0), ("b", "t", 2.0)])
    assert strongest_path(lex, "a", "t")[0] == ["a", "b", "t"]


def brute_strongest(g: nx.Graph, a: str, b: str) -> list[str]:
    if a == b:
        return [a]
    if a not in g or b not in g:
        return []
    best = None
    for path in nx.all_simple_paths(g, a, b):
        d = 0.0
        for u, v in zip(path[:-1], path[1:], strict=True):
            d += g[u][v]["distance"]
        key = (d, len(path), path)
        best = key if best is None or key < best else best
    return [] if best is None else best[2]


@HYP
@given(contact_rows, st.sampled_from("abcdefgh"), st.sampled_from("abcdefgh"))
def test_strongest_path_matches_brute_force(
    rows: list[tuple[str, str, float]], a: str, b: str
) -> None:
    subjects = list("abcdefgh")
    path, steps = strongest_path(make_contacts(rows), a, b, subjects=subjects)
    assert path == brute_strongest(oracle_graph(rows), a, b)
    assert len(steps) == max(len(path) - 1, 0)
    assert steps["pid_from"].tolist() == path[:-1]
    assert steps["pid_to"].tolist() == path[1:]


# ---------------------------------------------------------------------------------------------
# ego_network
# ---------------------------------------------------------------------------------------------
def test_ego_network_hops_window_and_induced_edges(timed_contacts: pd.DataFrame) -> None:
    """timed_contacts plus a-c (score 1, minutes 30..40 of day 1)."""
    extra = make_contacts([("a", "c", 1.0)], meetings=[1], first_ts=[ts(30)], last_ts=[ts(40)])
    contacts = pd.concat(
        [timed_contacts, extra.astype(timed_contacts.dtypes.to_dict())], ignore_index=True
    )
    nodes, edges = ego_network(contacts, "a", hops=1)
    # b and c are 1 hop from a; the b-c contact between them belongs to the ego network.
    assert nodes.values.tolist() == [["a", 0], ["b", 1], ["c", 1]]
    assert edges[["pid_a", "pid_b"]].values.tolist() == [["a", "b"], ["a", "c"], ["b", "c"]]
    assert list(edges.columns[:4]) == ["pid_a", "pid_b", "score", "distance"]
    nodes, _ = ego_network(contacts, "a", hops=2)
    assert nodes.values.tolist() == [["a", 0], ["b", 1], ["c", 1], ["d", 2]]
    nodes, edges = ego_network(contacts, "a", hops=2, min_score=1.5)
    assert nodes["pid"].tolist() == ["a", "b"]
    nodes, _ = ego_network(contacts, "d", hops=5, start=ts(0), end=ts(23 * 60))
    assert nodes.values.tolist() == [["d", 0], ["c", 1], ["a", 2], ["b", 3]]
    nodes, edges = ego_network(contacts, "a", hops=0)
    assert nodes.values.tolist() == [["a", 0]] and edges.empty


def test_ego_network_edge_cases(timed_contacts: pd.DataFrame) -> None:
    nodes, edges = ego_network(timed_contacts, "a", start=ts(100), end=ts(50))  # empty window
    assert nodes.values.tolist() == [["a", 0]] and edges.empty
    nodes, edges = ego_network(timed_contacts, "e")  # known, but its only contact has score 0
    assert nodes.values.tolist() == [["e", 0]] and edges.empty
    nodes, _ = ego_network(timed_contacts, "new", subjects=["new"])
    assert nodes.values.tolist() == [["new", 0]]
    with pytest.raises(UsageError, match="unknown subject 'nobody'"):
        ego_network(timed_contacts, "nobody")
    with pytest.raises(UsageError, match="hops must be >= 0"):
        ego_network(timed_contacts, "a", hops=-1)
    with pytest.raises(UsageError, match="hops must be an integer"):
        ego_network(timed_contacts, "a", hops=1.5)  # type: ignore[arg-type]


@HYP
@given(contact_rows, st.sampled_from("abcdefgh"), st.integers(0, 4))
def test_ego_network_matches_networkx_ego_graph(
    rows: list[tuple[str, str, float]], ego: str, hops: int
) -> None:
    nodes, edges = ego_network(make_contacts(rows), ego, hops=hops, subjects=list("abcdefgh"))
    g = oracle_graph(rows)
    g.add_node(ego)
    want = nx.ego_graph(g, ego, radius=hops)
    assert set(nodes["pid"]) == set(want.nodes)
    hop = dict(zip(nodes["pid"], nodes["hop"], strict=True))
    assert hop == nx.single_source_shortest_path_length(g, ego, cutoff=hops)
    assert sorted(zip(edges["pid_a"], edges["pid_b"], strict=True)) == sorted(
        tuple(sorted(e)) for e in want.edges
    )


# ---------------------------------------------------------------------------------------------
# exposure_chains
# ---------------------------------------------------------------------------------------------
def as_dict(out: pd.DataFrame) -> dict[str, tuple[float, int, list[str]]]:
    minutes = (out["exposure_ts"] - T0) / pd.Timedelta(minutes=1)
    return {
        p: (m, d, c)
        for p, m, d, c in zip(out["pid"], minutes, out["depth"], out["chain"], strict=True)
    }


def test_exposure_semantics_on_a_hand_built_day() -> None:
    """Index a exposed at minute 10.

    * a-b meets 0..15: still going on at 10, so b is exposed at 10.
    * a-x meets 0..5: over before a is exposed: x is not exposed through it.
    * b-c meets 10..10: same instant as b's exposure: c exposed at 10 (depth 2).
    * c-d meets 30..40: d exposed at 30 (depth 3).
    * a-d meets 50..55: a direct but later link: d keeps 30 via the chain a-b-c-d.
    * d-e meets 45..45: e would be depth 4, beyond max_depth=3.
    """
    m = make_meetings(
        [
            ("a", "b", 0, 15),
            ("a", "x", 0, 5),
            ("b", "c", 10, 10),
            ("c", "d", 30, 40),
            ("a", "d", 50, 55),
            ("d", "e", 45, 45),
        ]
    )
    before = m.copy()
    out = exposure_chains(m, "a", ts(10), max_depth=3)
    assert list(out.columns) == ["pid", "exposure_ts", "depth", "chain"]
    assert str(out["exposure_ts"].dtype) == "datetime64[us, UTC]"
    assert as_dict(out) == {
        "a": (10.0, 0, ["a"]),
        "b": (10.0, 1, ["a", "b"]),
        "c": (10.0, 2, ["a", "b", "c"]),
        "d": (30.0, 3, ["a", "b", "c", "d"]),
    }
    assert out["pid"].tolist() == ["a", "b", "c", "d"]  # by exposure time, depth, pid
    # with depth 1 only direct meetings count: d via the 50..55 meeting
    assert as_dict(exposure_chains(m, "a", ts(10), max_depth=1)) == {
        "a": (10.0, 0, ["a"]),
        "b": (10.0, 1, ["a", "b"]),
        "d": (50.0, 1, ["a", "d"]),
    }
    assert as_dict(exposure_chains(m, "a", ts(10), max_depth=4))["e"] == (
        45.0,
        4,
        ["a", "b", "c", "d", "e"],
    )
    # end_ts: exposures after minute 35 are not made
    assert set(exposure_chains(m, "a", ts(10), max_depth=9, end_ts=ts(35))["pid"]) == {
        "a",
        "b",
        "c",
        "d",
    }
    pd.testing.assert_frame_equal(m, before)


def test_exposure_tie_breaks_fewer_hops_then_smallest_chain() -> None:
    """All meetings at minute 5. d is reachable at 5 via a-d (1 hop) and a-b-d (2 hops): 1 hop wins.
    e is reachable at 5 via a-c-e and a-b-e (2 hops each): ['a', 'b', 'e'] is smaller."""
    m = make_meetings(
        [
            ("a", "b", 5, 5),
            ("a", "c", 5, 5),
            ("a", "d", 5, 5),
            ("b", "d", 5, 5),
            ("c", "e", 5, 5),
            ("b", "e", 5, 5),
        ]
    )
    got = as_dict(exposure_chains(m, "a", ts(0)))
    assert got["d"] == (5.0, 1, ["a", "d"])
    assert got["e"] == (5.0, 2, ["a", "b", "e"])


def test_exposure_keeps_later_but_smaller_chains_for_later_links() -> None:
    """d is exposed at 3 via a-c-d, and again (later, not earlier) at 4 via a-b-d: d reports 3.
    e meets d at 10, after both: e is exposed at 10 with 3 meetings either way, and the smaller
    chain ['a', 'b', 'd', 'e'] wins although it goes through d's later exposure."""
    m = make_meetings(
        [("a", "c", 1, 1), ("a", "b", 2, 2), ("c", "d", 3, 3), ("b", "d", 4, 4), ("d", "e", 10, 10)]
    )
    got = as_dict(exposure_chains(m, "a", ts(0)))
    assert got["d"] == (3.0, 2, ["a", "c", "d"])
    assert got["e"] == (10.0, 3, ["a", "b", "d", "e"])


def test_exposure_bad_and_degenerate_input() -> None:
    m = make_meetings([("a", "b", 0, 5)])
    assert as_dict(exposure_chains(m, "a", ts(0), max_depth=0)) == {"a": (0.0, 0, ["a"])}
    assert as_dict(exposure_chains(m, "a", ts(10))) == {"a": (10.0, 0, ["a"])}  # meeting over
    assert as_dict(exposure_chains(m, "a", ts(1), end_ts=ts(0))) == {"a": (1.0, 0, ["a"])}
    assert as_dict(exposure_chains(m, "q", ts(0), subjects=["q"])) == {"q": (0.0, 0, ["q"])}
    assert as_dict(exposure_chains(m.iloc[0:0], "q", ts(0), subjects=["q"])) == {
        "q": (0.0, 0, ["q"])
    }
    with pytest.raises(UsageError, match="unknown subject 'zz'"):
        exposure_chains(m, "zz", ts(0))
    with pytest.raises(UsageError, match="max_depth must be >= 0"):
        exposure_chains(m, "a", ts(0), max_depth=-1)
    with pytest.raises(UsageError, match="start_ts must be timezone-aware"):
        exposure_chains(m, "a", "2026-03-02 08:00")
    backwards = m.assign(end_ts=m["start_ts"] - pd.Timedelta(seconds=1))
    with pytest.raises(UsageError, match="row 0 ends before it starts"):
        exposure_chains(backwards, "a", ts(0))
    with pytest.raises(UsageError, match="missing required column"):
        exposure_chains(m.drop(columns="end_ts"), "a", ts(0))
    naive = m.assign(start_ts=m["start_ts"].dt.tz_localize(None))
    with pytest.raises(UsageError, match="start_ts must be timezone-aware"):
        exposure_chains(naive, "a", ts(0))


def test_exposure_accepts_build_meetings_output() -> None:
    """Events a-b at 08:00 and 08:10 (one meeting, gap 15 min), b-c at 08:05 at another camera.

    From a at 08:00: b exposed at 08:00; the b-c meeting (08:05) then exposes c at 08:05."""
    from sightgraph.analytics.contacts import build_meetings

    t = pd.to_datetime(["2026-03-02 08:00", "2026-03-02 08:10", "2026-03-02 08:05"], utc=True)
    events = pd.DataFrame(
        {
            "pid_a": ["a", "a", "b"],
            "pid_b": ["b", "b", "c"],
            "camera_a": ["c1", "c1", "c2"],
            "camera_b": ["c1", "c1", "c2"],
            "ts_a": t,
            "ts_b": t,
        }
    )
    meetings = build_meetings(events, gap_s=900)
    got = as_dict(exposure_chains(meetings, "a", T0))
    assert got == {"a": (0.0, 0, ["a"]), "b": (0.0, 1, ["a", "b"]), "c": (5.0, 2, ["a", "b", "c"])}


def brute_exposure(
    meetings: list[tuple[str, str, int, int]], index: str, t0: int, depth: int, end: int | None
) -> dict:
    """Enumerate every chain of meetings (revisits allowed) up to ``depth``."""
    best = {index: (t0, 0, [index])}

    def walk(u: str, t: int, chain: list[str]) -> None:
        if len(chain) - 1 == depth:
            return
        for a, b, s, e in meetings:
            if u not in (a, b) or e < t:
                continue
            v = b if u == a else a
            tv = max(s, t)
            if end is not None and tv > end:
                continue
            key = (tv, len(chain), [*chain, v])
            if v not in best or key < best[v]:
                best[v] = key
            walk(v, tv, [*chain, v])

    if end is None or t0 <= end:
        walk(index, t0, [index])
    return {p: (float(t), d, c) for p, (t, d, c) in best.items()}


meeting_rows = st.lists(
    st.tuples(
        st.sampled_from("abcdef"), st.sampled_from("abcdef"), st.integers(0, 12), st.integers(0, 5)
    ).filter(lambda r: r[0] != r[1]),
    max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(
    meeting_rows,
    st.sampled_from("abcdef"),
    st.integers(0, 6),
    st.integers(0, 4),
    st.none() | st.integers(0, 16),
)
def test_exposure_matches_brute_force(
    rows: list[tuple[str, str, int, int]], index: str, start: int, depth: int, end: int | None
) -> None:
    meetings = [(a, b, s, s + d) for a, b, s, d in rows]
    m = make_meetings(meetings)
    got = exposure_chains(
        m,
        index,
        ts(start),
        max_depth=depth,
        end_ts=None if end is None else ts(end),
        subjects=list("abcdef"),
    )
    assert as_dict(got) == brute_exposure(meetings, index, start, depth, end)
    # row order and pid order within a row do not matter
    flipped = m.iloc[::-1].rename(columns={"pid_a": "pid_b", "pid_b": "pid_a"})
    again = exposure_chains(
        flipped,
        index,
        ts(start),
        max_depth=depth,
        end_ts=None if end is None else ts(end),
        subjects=list("abcdef"),
    )
    pd.testing.assert_frame_equal(again, got)


def test_exposure_is_fast_on_a_long_random_history() -> None:
    """20k meetings among 500 subjects, depth 6: polynomial, about a second (exponential would not end)."""
    rng = np.random.default_rng(3)
    n = 20_000
    a = rng.integers(0, 500, n)
    b = (a + rng.integers(1, 500, n)) % 500
    start = rng.integers(0, 14 * 24 * 60, n)
    m = pd.DataFrame(
        {
            "pid_a": [f"s{x:03d}" for x in a],
            "pid_b": [f"s{x:03d}" for x in b],
            "start_ts": (T0 + pd.to_timedelta(start, unit="min")).astype("datetime64[us, UTC]"),
            "end_ts": (T0 + pd.to_timedelta(start + rng.integers(0, 60, n), unit="min")).astype(
                "datetime64[us, UTC]"
            ),
        }
    )
    out = exposure_chains(m, "s000", T0, max_depth=6)
    assert out["depth"].max() <= 6 and len(out) > 400
    assert (out["exposure_ts"] >= T0).all()
    # every chain is time-respecting and starts at the index subject
    assert all(
        c[0] == "s000" and len(c) == d + 1 for c, d in zip(out["chain"], out["depth"], strict=True)
    )


# ---------------------------------------------------------------------------------------------
# real data: SocioPatterns primary school
# ---------------------------------------------------------------------------------------------
def load_benchmark_module():  # noqa: ANN201 - a module object
    path = REPO / "benchmarks" / "network" / "primaryschool.py"
    spec = importlib.util.spec_from_file_location("primaryschool_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def primaryschool_dir() -> Path:
    env = os.environ.get("SIGHTGRAPH_PRIMARYSCHOOL_DIR")
    candidates = [
        REPO.parent / "shared" / "data" / "primaryschool",
        Path("/work/shared/data/primaryschool"),
    ]
    path = Path(env) if env else next((c for c in candidates if c.exists()), candidates[0])
    if not (path / "primaryschool.csv.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"primary-school data missing at {path} (set SIGHTGRAPH_PRIMARYSCHOOL_DIR)")
        pytest.skip(f"primary-school data not found at {path}")
    return path


def test_primaryschool_communities_match_classes() -> None:
    """Default settings (score = contact seconds, resolution 1, seed 0): NMI with classes >= 0.75."""
    ps = load_benchmark_module()
    data = primaryschool_dir()
    contacts = ps.load_primaryschool_contacts(data)
    classes = ps.load_primaryschool_classes(data)
    assert list(classes.columns) == ["pid", "class"]  # gender never loaded
    assert len(contacts) == 8317 and classes["pid"].nunique() == 242
    assert (contacts["pid_a"] < contacts["pid_b"]).all()
    assert (
        contacts["days"].between(1, 2).all()
        and (contacts["meetings"] <= contacts["intervals"]).all()
    )
    assert contacts["score"].sum() == 125_773 * 20
    communities = detect_communities(contacts, seed=0, subjects=classes["pid"])
    scores = ps.score_communities(communities, classes)
    assert scores["nmi"] >= 0.75, scores
