"""Contact-network analytics: contact graph, communities, centrality, paths, ego networks and
time-respecting exposure chains (DESIGN §1 "Contact network").

Everything here takes DataFrames (or a graph built by :func:`contact_graph`) and returns
DataFrames; nothing touches a graph store.

Inputs
------
**contacts**: one row per pair with ``pid_a``, ``pid_b``, ``score`` (required) and optionally
``meetings``, ``days``, ``places``, ``first_ts``, ``last_ts`` (tz-aware UTC) or any other column,
which is carried along as an edge attribute. Rows with ``pid_a > pid_b`` are accepted and swapped.
A pair may appear only once; a pid may not meet itself; scores must be finite. Input columns
named ``weight``, ``distance``, ``step``, ``pid_from`` or ``pid_to`` are ignored (computed here).
Pids may be strings or integers, but all of one type (they are sorted for determinism).

**meetings**: one row per meeting with ``pid_a``, ``pid_b``, ``start_ts``, ``end_ts`` (tz-aware
UTC, ``end_ts >= start_ts``); ``camera_id`` and other columns are allowed and ignored. This is
the shape of ``sightgraph.analytics.contacts.build_meetings``.

Definitions
-----------
* **Edge filter.** An edge is kept when ``score >= min_score`` and ``score > 0`` (a non-positive
  score means no association beyond chance and is never an edge). With ``start``/``end``, an edge
  is kept when its contact period ``[first_ts, last_ts]`` overlaps ``[start, end]`` (the contact's
  score is not recomputed for the window: rebuild contacts from meetings for that). An empty
  window (``start > end``) keeps no edge.
* **Distance.** Every edge has ``weight = score`` (used by communities and strength) and
  ``distance = 1 / score`` (used by betweenness and :func:`strongest_path`): strong ties are
  short. The strongest path is the one with the **minimum sum of 1/score** (like resistors in
  series), ties broken by fewer hops, then by the lexicographically smallest list of pids.
* **Known subjects.** A subject is known when it appears in the input table (or is a node of the
  input graph) or is listed in ``subjects=``. Asking about an unknown subject raises
  :class:`~sightgraph.errors.UsageError` naming it; a known subject without (kept) contacts gives
  a result holding just itself (ego network, exposure chains) or an empty path.
* **Exposure.** The index subject is exposed at ``start_ts``. A meeting ``[s, e]`` between a
  subject exposed at ``t`` and another subject exposes the other at ``max(s, t)`` provided
  ``e >= t`` (the meeting is still going on, or has yet to happen, when the spreader is
  exposed). A chain is a sequence of such meetings from the index subject; its length (depth) is
  its number of meetings. For each subject reachable by a chain of at most ``max_depth`` meetings
  (and with every exposure no later than ``end_ts`` when given), :func:`exposure_chains` reports
  the earliest exposure time; among chains giving it, the fewest meetings; among those, the
  lexicographically smallest list of pids.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import math
import numbers
import os
from collections.abc import Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias

import networkx as nx
import numba
import numpy as np
import pandas as pd

from sightgraph.errors import UsageError
from sightgraph.schema import epoch_us_to_ts, require_columns, ts_to_epoch_us

__all__ = [
    "centrality",
    "contact_graph",
    "detect_communities",
    "ego_network",
    "exposure_chains",
    "strongest_path",
]

_CONTACT_REQUIRED = ("pid_a", "pid_b", "score")
_MEETING_REQUIRED = ("pid_a", "pid_b", "start_ts", "end_ts")
_GRAPH_ONLY_ATTRS = ("weight", "distance")
# Input columns with these names are dropped: the functions below compute them.
_RESERVED_COLUMNS = ("weight", "distance", "step", "pid_from", "pid_to")
# Betweenness sources are split into this many fixed chunks (summed in a fixed order), so the
# result is the same whatever the number of threads.
_BC_CHUNKS = 8
_BC_BATCH = 512

Contacts: TypeAlias = pd.DataFrame | nx.Graph


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _check_timestamp(value: Any, name: str) -> pd.Timestamp | None:
    """None, or a tz-aware UTC Timestamp; anything else is a UsageError naming ``name``."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name} must be a timestamp, got {value!r}") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise UsageError(f"{name} must be a timestamp, got {value!r}")
    if ts.tzinfo is None:
        raise UsageError(f"{name} must be timezone-aware (e.g. '2026-01-01T08:00Z'), got {value!r}")
    return ts.tz_convert("UTC")


def _check_number(value: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise UsageError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _check_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise UsageError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _sorted_pids(pids: Iterable[Hashable], what: str) -> list[Any]:
    try:
        return sorted(pids)
    except TypeError as exc:
        raise UsageError(
            f"{what}: pids must all be of one comparable type (all strings or all integers)"
        ) from exc


def _check_pid_columns(df: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (a, b) object arrays with a < b, validating nulls and self-pairs."""
    a = df["pid_a"].to_numpy(dtype=object)
    b = df["pid_b"].to_numpy(dtype=object)
    for col, arr in (("pid_a", a), ("pid_b", b)):
        bad = pd.isna(arr)
        if bad.any():
            raise UsageError(f"{what}: row {df.index[int(np.argmax(bad))]!r} has an empty {col}")
    same = a == b
    if np.any(same):
        i = int(np.argmax(same))
        raise UsageError(f"{what}: row {df.index[i]!r} pairs subject {a[i]!r} with itself")
    try:
        swap = np.asarray(a > b, dtype=bool)
    except TypeError as exc:
        raise UsageError(
            f"{what}: pid_a and pid_b must all be of one comparable type (all strings or all integers)"
        ) from exc
    return np.where(swap, b, a), np.where(swap, a, b)


def _check_subjects(subjects: Iterable[Hashable] | None) -> set[Any]:
    if subjects is None:
        return set()
    if isinstance(subjects, str | bytes):
        raise UsageError("subjects must be a list of pids, not a single string")
    try:
        out = set(subjects)
    except TypeError as exc:
        raise UsageError("subjects must be an iterable of pids") from exc
    if any(p is None or (isinstance(p, float) and math.isnan(p)) for p in out):
        raise UsageError("subjects: contains an empty pid")
    return out


def _check_known(pid: Any, known: set[Any], what: str) -> None:
    try:
        ok = pid in known
    except TypeError:
        ok = False
    if not ok:
        raise UsageError(
            f"unknown subject {pid!r}: it appears in no {what} row and not in subjects="
        )


# --------------------------------------------------------------------------------------------
# contacts -> canonical edge table / graph
# --------------------------------------------------------------------------------------------
def _frame_from_graph(graph: nx.Graph) -> pd.DataFrame:
    if graph.is_directed() or graph.is_multigraph():
        raise UsageError("contact graph must be an undirected simple graph (networkx.Graph)")
    us, vs, attrs = [], [], []
    for u, v, d in graph.edges(data=True):
        us.append(u)
        vs.append(v)
        attrs.append(d)
    df = pd.DataFrame.from_records(attrs, index=pd.RangeIndex(len(attrs)))
    df.insert(0, "pid_a", pd.Series(us, dtype=object))
    df.insert(1, "pid_b", pd.Series(vs, dtype=object))
    if "score" not in df.columns:
        if "weight" not in df.columns:
            if len(df) == 0:
                return df.assign(score=pd.Series(dtype=float))
            raise UsageError("contact graph: edges need a 'score' (or 'weight') attribute")
        df = df.rename(columns={"weight": "score"})
    return df.drop(columns=[c for c in _GRAPH_ONLY_ATTRS if c in df.columns])


def _contact_edges(
    contacts: Contacts,
    min_score: float,
    start: Any,
    end: Any,
    subjects: Iterable[Hashable] | None,
) -> tuple[pd.DataFrame, set[Any], set[Any]]:
    """Validate and filter contacts.

    Returns (edges, nodes, known): edges sorted by (pid_a, pid_b) with columns pid_a, pid_b,
    score, distance, then the other input columns; nodes that the graph must hold; known pids.
    """
    min_score = _check_number(min_score, "min_score")
    t0 = _check_timestamp(start, "start")
    t1 = _check_timestamp(end, "end")
    extra = _check_subjects(subjects)
    if isinstance(contacts, nx.Graph):
        what = "contact graph"
        df = _frame_from_graph(contacts)
        graph_nodes = set(contacts.nodes)
    elif isinstance(contacts, pd.DataFrame):
        what = "contacts"
        require_columns(contacts, _CONTACT_REQUIRED, what)
        df = contacts
        graph_nodes = set()
    else:
        raise UsageError(
            f"contacts must be a pandas DataFrame or a networkx Graph, got {type(contacts).__name__}"
        )

    a, b = _check_pid_columns(df, what)
    score = df["score"]
    if len(score) and (
        not pd.api.types.is_numeric_dtype(score) or pd.api.types.is_bool_dtype(score)
    ):
        raise UsageError(f"{what}: column score must be numeric (got {score.dtype})")
    sc = score.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(sc)
    if bad.any():
        i = int(np.argmax(bad))
        raise UsageError(f"{what}: row {df.index[i]!r} has a missing or infinite score ({sc[i]!r})")
    known = set(a) | set(b) | graph_nodes | extra
    _sorted_pids(known, what)  # all pids (and subjects=) must be mutually comparable

    reserved = [c for c in df.columns if c in _RESERVED_COLUMNS]
    edges = df.drop(columns=["pid_a", "pid_b", "score", *reserved]).reset_index(drop=True)
    edges.insert(0, "pid_a", a)
    edges.insert(1, "pid_b", b)
    edges.insert(2, "score", sc)
    dup = edges.duplicated(["pid_a", "pid_b"], keep=False).to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        rows = [repr(df.index[int(j)]) for j in np.flatnonzero(dup & (a == a[i]) & (b == b[i]))]
        raise UsageError(
            f"{what}: pair ({a[i]!r}, {b[i]!r}) appears in rows {', '.join(rows)}; one row per pair expected"
        )

    keep = (sc >= min_score) & (sc > 0)
    if t0 is not None or t1 is not None:
        for col in ("first_ts", "last_ts"):
            if col not in edges.columns:
                raise UsageError(f"{what}: filtering by time needs column {col}")
            if not isinstance(edges[col].dtype, pd.DatetimeTZDtype):
                raise UsageError(
                    f"{what}: column {col} must be timezone-aware (got {edges[col].dtype})"
                )
        if t0 is not None:
            keep &= (edges["last_ts"] >= t0).to_numpy(dtype=bool, na_value=False)
        if t1 is not None:
            keep &= (edges["first_ts"] <= t1).to_numpy(dtype=bool, na_value=False)
        if t0 is not None and t1 is not None and t0 > t1:
            keep[:] = False  # empty window
    edges = edges.loc[keep]
    edges.insert(3, "distance", 1.0 / edges["score"].to_numpy(dtype=float))
    edges = edges.sort_values(["pid_a", "pid_b"], kind="stable").reset_index(drop=True)
    nodes = set(edges["pid_a"]) | set(edges["pid_b"]) | graph_nodes | extra
    return edges, nodes, known


def _graph_from_edges(edges: pd.DataFrame, nodes: set[Any], *, all_attrs: bool = False) -> nx.Graph:
    """Build a graph with nodes and edges inserted in sorted order (deterministic algorithms).

    Edges carry ``weight`` and ``distance``, and with ``all_attrs`` every other column too.
    """
    g = nx.Graph()
    g.add_nodes_from(_sorted_pids(nodes, "contacts"))
    names = ["weight", "distance"]
    columns = [edges["score"].tolist(), edges["distance"].tolist()]
    if all_attrs:
        names += [c for c in edges.columns if c not in ("pid_a", "pid_b", "distance")]
        columns += [edges[c].tolist() for c in names[2:]]
    records = (dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True))
    g.add_edges_from(zip(edges["pid_a"].tolist(), edges["pid_b"].tolist(), records, strict=True))
    return g


def contact_graph(
    contacts: pd.DataFrame,
    min_score: float = 0.0,
    start: Any = None,
    end: Any = None,
    *,
    subjects: Iterable[Hashable] | None = None,
) -> nx.Graph:
    """Build the undirected contact graph of the pairs that pass the filters.

    Parameters
    ----------
    contacts : DataFrame
        pid_a, pid_b, score, and optionally meetings, days, places, first_ts, last_ts (every
        other column becomes an edge attribute as well).
    min_score : float, default 0.0
        Keep edges with ``score >= min_score``; edges with ``score <= 0`` are never kept.
    start, end : timestamp-like, optional
        Keep edges whose ``[first_ts, last_ts]`` overlaps ``[start, end]`` (tz-aware).
        ``start > end`` keeps no edge.
    subjects : iterable of pid, optional
        Subjects to add as nodes even when they have no kept contact.

    Returns
    -------
    networkx.Graph
        Nodes: endpoints of kept edges plus ``subjects``, inserted in sorted order. Edge
        attributes: every input column but pid_a/pid_b, ``weight = score`` and
        ``distance = 1 / score``.

    Raises
    ------
    UsageError
        Missing columns, non-finite scores, self-pairs, duplicated pairs, naive timestamps.

    Examples
    --------
    >>> contacts = pd.DataFrame({"pid_a": ["a", "a", "b"], "pid_b": ["b", "c", "c"],
    ...                          "score": [4.0, 0.5, 2.0]})
    >>> g = contact_graph(contacts, min_score=1.0)
    >>> sorted(g.edges(data="distance"))
    [('a', 'b', 0.25), ('b', 'c', 0.5)]
    """
    edges, nodes, _ = _contact_edges(contacts, min_score, start, end, subjects)
    g = _graph_from_edges(edges, nodes, all_attrs=True)
    g.graph.update(min_score=float(min_score), distance="1/score")
    return g


def _as_graph(
    contacts: Contacts,
    min_score: float = 0.0,
    start: Any = None,
    end: Any = None,
    subjects: Iterable[Hashable] | None = None,
) -> tuple[nx.Graph, pd.DataFrame, set[Any]]:
    edges, nodes, known = _contact_edges(contacts, min_score, start, end, subjects)
    return _graph_from_edges(edges, nodes), edges, known


# --------------------------------------------------------------------------------------------
# communities
# --------------------------------------------------------------------------------------------
def detect_communities(
    contacts: Contacts,
    seed: int = 0,
    resolution: float = 1.0,
    *,
    min_score: float = 0.0,
    subjects: Iterable[Hashable] | None = None,
) -> pd.DataFrame:
    """Find communities with Louvain modularity optimisation (weight = score).

    Parameters
    ----------
    contacts : DataFrame or networkx.Graph
        A contacts table, or a graph from :func:`contact_graph` (its isolated nodes are kept).
    seed : int, default 0
        Seed of ``networkx.community.louvain_communities``. The graph is rebuilt with sorted nodes
        and edges first, so the result does not depend on row order.
    resolution : float, default 1.0
        Modularity resolution (> 0): larger gives more, smaller communities.
    min_score : float, default 0.0
        Drop edges with a lower score first (see :func:`contact_graph`).
    subjects : iterable of pid, optional
        Subjects to include even without kept contacts (each becomes its own community).

    Returns
    -------
    DataFrame
        ``pid``, ``community`` (int, 0 = largest community; ties between equal sizes by the
        smallest pid), sorted by community then pid. Empty when the graph has no nodes.

    Examples
    --------
    >>> contacts = pd.DataFrame({"pid_a": ["a", "a", "b", "d", "d", "e", "c"],
    ...                          "pid_b": ["b", "c", "c", "e", "f", "f", "d"],
    ...                          "score": [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 0.1]})
    >>> detect_communities(contacts).groupby("community")["pid"].apply(list).to_dict()
    {0: ['a', 'b', 'c'], 1: ['d', 'e', 'f']}
    """
    seed = _check_int(seed, "seed", minimum=0)
    resolution = _check_number(resolution, "resolution", positive=True)
    g, _, _ = _as_graph(contacts, min_score, subjects=subjects)
    if g.number_of_nodes() == 0:
        return pd.DataFrame({"pid": pd.Series(dtype=object), "community": pd.Series(dtype="int64")})
    parts = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    ordered = sorted((sorted(p) for p in parts), key=lambda m: (-len(m), m[0]))
    pids = [p for m in ordered for p in m]
    comm = [i for i, m in enumerate(ordered) for _ in m]
    return pd.DataFrame(
        {"pid": pd.Series(pids, dtype=object), "community": np.asarray(comm, dtype=np.int64)}
    )


# --------------------------------------------------------------------------------------------
# centrality (weighted Brandes in numba)
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _brandes_sources(indptr, indices, dist_w, sources):  # pragma: no cover - compiled
    """Sum of Brandes dependencies over ``sources`` (weighted, undirected CSR, endpoints excluded).

    Predecessor test is exact float equality ``dist[u] + w == dist[v]``, as in networkx.
    """
    n = indptr.shape[0] - 1
    bc = np.zeros(n)
    dist = np.full(n, np.inf)
    sigma = np.zeros(n)
    delta = np.zeros(n)
    done = np.zeros(n, dtype=np.bool_)
    order = np.empty(n, dtype=np.int64)
    for s in sources:
        dist[s] = 0.0
        sigma[s] = 1.0
        heap = [(0.0, s)]
        cnt = 0
        while len(heap) > 0:
            d, v = heapq.heappop(heap)
            if done[v]:
                continue
            done[v] = True
            order[cnt] = v
            cnt += 1
            if v != s:
                sg = 0.0
                for p in range(indptr[v], indptr[v + 1]):
                    u = indices[p]
                    if done[u] and dist[u] < d and dist[u] + dist_w[p] == d:
                        sg += sigma[u]
                sigma[v] = sg
            for p in range(indptr[v], indptr[v + 1]):
                w = indices[p]
                if not done[w]:
                    nd = d + dist_w[p]
                    if nd < dist[w]:
                        dist[w] = nd
                        heapq.heappush(heap, (nd, w))
        for i in range(cnt - 1, -1, -1):
            w = order[i]
            coeff = (1.0 + delta[w]) / sigma[w]
            dw = dist[w]
            for p in range(indptr[w], indptr[w + 1]):
                u = indices[p]
                if dist[u] < dw and dist[u] + dist_w[p] == dw:
                    delta[u] += sigma[u] * coeff
            if w != s:
                bc[w] += delta[w]
        for i in range(cnt):
            v = order[i]
            dist[v] = np.inf
            sigma[v] = 0.0
            delta[v] = 0.0
            done[v] = False
    return bc


def _brandes_batch(
    indptr: np.ndarray,
    indices: np.ndarray,
    dist_w: np.ndarray,
    sources: np.ndarray,
    pool: ThreadPoolExecutor | None,
) -> np.ndarray:
    """Dependencies summed over ``sources``: fixed chunks (threads release the GIL), fixed sum order."""
    chunks = [np.ascontiguousarray(sources[c::_BC_CHUNKS]) for c in range(_BC_CHUNKS)]
    if pool is None:
        parts = [_brandes_sources(indptr, indices, dist_w, c) for c in chunks]
    else:
        parts = list(pool.map(lambda c: _brandes_sources(indptr, indices, dist_w, c), chunks))
    out = np.zeros(indptr.shape[0] - 1)
    for part in parts:
        out += part
    return out


def _csr(g: nx.Graph, nodes: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric CSR (indptr, indices, distance, weight) over ``nodes`` order."""
    n = len(nodes)
    pos = {p: i for i, p in enumerate(nodes)}
    m = g.number_of_edges()
    src = np.empty(2 * m, dtype=np.int64)
    dst = np.empty(2 * m, dtype=np.int64)
    dist = np.empty(2 * m, dtype=float)
    wt = np.empty(2 * m, dtype=float)
    for i, (u, v, d) in enumerate(g.edges(data=True)):
        iu, iv = pos[u], pos[v]
        src[2 * i], dst[2 * i], src[2 * i + 1], dst[2 * i + 1] = iu, iv, iv, iu
        dist[2 * i] = dist[2 * i + 1] = d["distance"]
        wt[2 * i] = wt[2 * i + 1] = d["weight"]
    order = np.lexsort((dst, src))
    src, dst, dist, wt = src[order], dst[order], dist[order], wt[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst, dist, wt


def centrality(
    graph: Contacts,
    *,
    k: int | None = None,
    seed: int = 0,
    min_score: float = 0.0,
    progress: bool = False,
) -> pd.DataFrame:
    """Degree, strength and weighted betweenness of every node.

    Parameters
    ----------
    graph : networkx.Graph or DataFrame
        A graph from :func:`contact_graph` (or a contacts table, turned into one).
    k : int, optional
        Estimate betweenness from ``k`` source nodes (``k >= 2``) sampled without replacement
        with ``numpy.random.default_rng(seed).choice(n, k)`` over the nodes in sorted pid order,
        rescaled as networkx does. ``None`` or ``k >= n``: exact (all sources).
    seed : int, default 0
        Seed of the source sample.
    min_score : float, default 0.0
        Drop edges with a lower score first.
    progress : bool, default False
        Show a rich progress bar over batches of sources.

    Returns
    -------
    DataFrame
        ``pid``; ``degree`` (number of contacts); ``strength`` (sum of scores); ``betweenness``
        (fraction of shortest paths through the node, path length = sum of ``1/score``,
        endpoints excluded, normalised by ``(n-1)(n-2)`` like
        ``networkx.betweenness_centrality(g, weight="distance")``). Sorted by pid.

    Examples
    --------
    >>> contacts = pd.DataFrame({"pid_a": ["a", "b"], "pid_b": ["b", "c"], "score": [1.0, 2.0]})
    >>> centrality(contacts).values.tolist()
    [['a', 1, 1.0, 0.0], ['b', 2, 3.0, 1.0], ['c', 1, 2.0, 0.0]]
    """
    seed = _check_int(seed, "seed", minimum=0)
    if k is not None:
        k = _check_int(k, "k", minimum=2)
    g, _, _ = _as_graph(graph, min_score)
    nodes = list(g.nodes)  # sorted by construction
    n = len(nodes)
    indptr, indices, dist, wt = _csr(g, nodes)
    degree = np.diff(indptr)
    strength = np.zeros(n)
    np.add.at(strength, np.repeat(np.arange(n), degree), wt)
    sampled = k is not None and k < n
    if sampled:
        assert k is not None
        sources = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)).astype(
            np.int64
        )
    else:
        sources = np.arange(n, dtype=np.int64)
    bc = np.zeros(n)
    if n > 2 and indices.size:
        batches = [sources[i : i + _BC_BATCH] for i in range(0, len(sources), _BC_BATCH)]
        workers = min(os.cpu_count() or 1, _BC_CHUNKS)
        with contextlib.ExitStack() as stack:
            pool = (
                stack.enter_context(ThreadPoolExecutor(workers))
                if workers > 1 and len(sources) >= 64
                else None
            )
            bar = None
            if progress:
                from rich.progress import Progress

                bar = stack.enter_context(Progress(transient=True))
                task = bar.add_task("betweenness", total=len(sources))
            for batch in batches:
                bc += _brandes_batch(indptr, indices, dist, batch, pool)
                if bar is not None:
                    bar.advance(task, len(batch))
        if sampled:
            assert k is not None
            scale = np.full(n, 1.0 / (k * (n - 2)))
            scale[sources] = 1.0 / ((k - 1) * (n - 2))
            bc *= scale
        else:
            bc *= 1.0 / ((n - 1) * (n - 2))
    return pd.DataFrame(
        {
            "pid": pd.Series(nodes, dtype=object),
            "degree": degree.astype(np.int64),
            "strength": strength,
            "betweenness": bc,
        }
    )


# --------------------------------------------------------------------------------------------
# strongest path, ego network
# --------------------------------------------------------------------------------------------
def _lexicographic_dijkstra(g: nx.Graph, src: Any, dst: Any) -> list[Any]:
    """Minimum (sum of distance, hops, pid list); [] when unreachable."""
    best: dict[Any, tuple[float, int, tuple[Any, ...]]] = {src: (0.0, 0, (src,))}
    heap: list[tuple[float, int, tuple[Any, ...], Any]] = [(0.0, 0, (src,), src)]
    done: set[Any] = set()
    while heap:
        d, h, path, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        if v == dst:
            return list(path)
        for w, attrs in g[v].items():
            if w in done:
                continue
            label = (d + attrs["distance"], h + 1, (*path, w))
            old = best.get(w)
            if old is None or label < old:
                best[w] = label
                heapq.heappush(heap, (*label, w))
    return []


def strongest_path(
    contacts: Contacts,
    pid_a: Any,
    pid_b: Any,
    *,
    min_score: float = 0.0,
    start: Any = None,
    end: Any = None,
    subjects: Iterable[Hashable] | None = None,
) -> tuple[list[Any], pd.DataFrame]:
    """The strongest chain of contacts from ``pid_a`` to ``pid_b``.

    Strongest = minimum sum of ``distance = 1/score`` over the path's edges; ties broken by
    fewer hops, then by the lexicographically smallest list of pids.

    Parameters
    ----------
    contacts : DataFrame or networkx.Graph
        Contacts table or a graph from :func:`contact_graph`.
    pid_a, pid_b : pid
        Both must be known subjects (see module docstring).
    min_score, start, end, subjects
        Edge filters and extra known subjects, as in :func:`contact_graph`.

    Returns
    -------
    path : list of pid
        From ``pid_a`` to ``pid_b``; ``[pid_a]`` when they are equal; ``[]`` when not connected.
    edges : DataFrame
        One row per step: ``step`` (0-based), ``pid_from``, ``pid_to``, ``score``, ``distance``
        and the other contact columns.

    Raises
    ------
    UsageError
        Either pid is unknown.

    Examples
    --------
    >>> contacts = pd.DataFrame({"pid_a": ["a", "a", "b"], "pid_b": ["b", "c", "c"],
    ...                          "score": [4.0, 1.0, 4.0]})
    >>> path, steps = strongest_path(contacts, "a", "c")
    >>> path, steps["distance"].sum()
    (['a', 'b', 'c'], np.float64(0.5))
    """
    g, edges, known = _as_graph(contacts, min_score, start, end, subjects)
    what = "contact graph" if isinstance(contacts, nx.Graph) else "contacts"
    _check_known(pid_a, known, what)
    _check_known(pid_b, known, what)
    if pid_a in g and pid_b in g:
        path = _lexicographic_dijkstra(g, pid_a, pid_b)
    else:
        path = [pid_a] if pid_a == pid_b else []
    row_of = {}
    if len(path) > 1:
        row_of = {
            (u, v): i for i, (u, v) in enumerate(zip(edges["pid_a"], edges["pid_b"], strict=True))
        }
    rows = [
        row_of[(u, v) if (u, v) in row_of else (v, u)]
        for u, v in zip(path[:-1], path[1:], strict=False)
    ]
    steps = edges.iloc[rows].drop(columns=["pid_a", "pid_b"]).reset_index(drop=True)
    steps.insert(0, "step", np.arange(len(rows), dtype=np.int64))
    steps.insert(1, "pid_from", pd.Series(path[:-1], dtype=object))
    steps.insert(2, "pid_to", pd.Series(path[1:], dtype=object))
    return path, steps


def ego_network(
    contacts: Contacts,
    pid: Any,
    hops: int = 1,
    start: Any = None,
    end: Any = None,
    min_score: float = 0.0,
    *,
    subjects: Iterable[Hashable] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Subjects within ``hops`` contacts of ``pid`` and the contacts among them.

    Parameters
    ----------
    contacts : DataFrame or networkx.Graph
        Contacts table or a graph from :func:`contact_graph`.
    pid : pid
        The ego; must be a known subject.
    hops : int, default 1
        Radius in contacts (>= 0); 0 gives the ego alone.
    start, end, min_score, subjects
        Edge filters and extra known subjects, as in :func:`contact_graph`.

    Returns
    -------
    nodes : DataFrame
        ``pid``, ``hop`` (0 for the ego), sorted by hop then pid. A known subject without kept
        contacts (e.g. in an empty time window) gives the ego alone.
    edges : DataFrame
        Every kept contact between two of these nodes (the induced subgraph): pid_a, pid_b,
        score, distance and the other contact columns, sorted by pid_a, pid_b.

    Raises
    ------
    UsageError
        Unknown pid, negative or non-integer hops.

    Examples
    --------
    >>> contacts = pd.DataFrame({"pid_a": ["a", "b", "c"], "pid_b": ["b", "c", "d"],
    ...                          "score": [1.0, 1.0, 1.0]})
    >>> nodes, edges = ego_network(contacts, "b", hops=1)
    >>> nodes.values.tolist(), edges[["pid_a", "pid_b"]].values.tolist()
    ([['b', 0], ['a', 1], ['c', 1]], [['a', 'b'], ['b', 'c']])
    """
    hops = _check_int(hops, "hops", minimum=0)
    g, edges, known = _as_graph(contacts, min_score, start, end, subjects)
    _check_known(pid, known, "contact graph" if isinstance(contacts, nx.Graph) else "contacts")
    reach = nx.single_source_shortest_path_length(g, pid, cutoff=hops) if pid in g else {pid: 0}
    nodes = pd.DataFrame(
        {
            "pid": pd.Series(list(reach), dtype=object),
            "hop": np.fromiter(reach.values(), dtype=np.int64, count=len(reach)),
        }
    )
    nodes = nodes.sort_values(["hop", "pid"], kind="stable").reset_index(drop=True)
    inside = set(reach)
    mask = edges["pid_a"].isin(inside).to_numpy() & edges["pid_b"].isin(inside).to_numpy()
    return nodes, edges.loc[mask].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# exposure chains
# --------------------------------------------------------------------------------------------
def _check_meetings(
    meetings: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(meetings, pd.DataFrame):
        raise UsageError(f"meetings must be a pandas DataFrame, got {type(meetings).__name__}")
    require_columns(meetings, _MEETING_REQUIRED, "meetings")
    a, b = _check_pid_columns(meetings, "meetings")
    out = []
    for col in ("start_ts", "end_ts"):
        if not isinstance(meetings[col].dtype, pd.DatetimeTZDtype):
            raise UsageError(
                f"meetings: column {col} must be timezone-aware timestamps (got {meetings[col].dtype})"
            )
        nat = meetings[col].isna().to_numpy()
        if nat.any():
            raise UsageError(
                f"meetings: row {meetings.index[int(np.argmax(nat))]!r} has an empty {col}"
            )
        out.append(ts_to_epoch_us(meetings[col]) if len(meetings) else np.empty(0, dtype=np.int64))
    s, e = out
    bad = e < s
    if bad.any():
        raise UsageError(
            f"meetings: row {meetings.index[int(np.argmax(bad))]!r} ends before it starts"
        )
    return a, b, s, e


def exposure_chains(
    meetings: pd.DataFrame,
    index_pid: Any,
    start_ts: Any,
    max_depth: int = 3,
    *,
    end_ts: Any = None,
    subjects: Iterable[Hashable] | None = None,
) -> pd.DataFrame:
    """Everyone reachable from ``index_pid`` by time-respecting chains of meetings.

    The index subject is exposed at ``start_ts``. A meeting ``[s, e]`` between a subject exposed
    at ``t`` and another exposes the other at ``max(s, t)`` if ``e >= t``. For each subject
    reachable within ``max_depth`` meetings, the earliest exposure time is reported with the
    chain giving it; ties: fewest meetings, then lexicographically smallest list of pids.

    Parameters
    ----------
    meetings : DataFrame
        pid_a, pid_b, start_ts, end_ts (tz-aware; camera_id and other columns are ignored).
    index_pid : pid
        The index subject; must be a known subject (in meetings or ``subjects``).
    start_ts : timestamp-like
        Exposure time of the index subject (tz-aware).
    max_depth : int, default 3
        Longest chain, in meetings (>= 0); 0 gives the index subject alone.
    end_ts : timestamp-like, optional
        Exposures later than ``end_ts`` are not made (so not passed on). With
        ``end_ts < start_ts`` the result is the index subject alone.
    subjects : iterable of pid, optional
        Extra known subjects (e.g. everyone in the sightings), so that a subject without
        meetings gives itself alone instead of an error.

    Returns
    -------
    DataFrame
        ``pid``, ``exposure_ts`` (timestamp[us, UTC]), ``depth`` (meetings in the chain; 0 for
        the index subject), ``chain`` (list of pids from the index subject to ``pid``); sorted
        by exposure_ts, depth, pid.

    Raises
    ------
    UsageError
        Unknown index subject, negative depth, naive times, malformed meetings.

    Notes
    -----
    Hop-layered label setting: layer ``d`` holds, per subject, the Pareto set of (exposure
    time, chain) over chains of exactly ``d`` meetings that beat every shorter chain's time; each
    layer scans the per-subject meeting lists (sorted by end time) of the previous layer's
    subjects. Cost ``O(max_depth * M log M)`` for M meetings (plus the Pareto labels, which
    are few unless meetings are long and overlapping), never exponential.

    Examples
    --------
    >>> t = lambda h: pd.Timestamp(f"2026-01-01 {h}:00", tz="UTC")
    >>> meetings = pd.DataFrame({"pid_a": ["a", "b", "b"], "pid_b": ["b", "c", "d"],
    ...                          "start_ts": [t(9), t(10), t(8)], "end_ts": [t(9), t(11), t(8)]})
    >>> out = exposure_chains(meetings, "a", t(8))
    >>> out[["pid", "depth", "chain"]].values.tolist()
    [['a', 0, ['a']], ['b', 1, ['a', 'b']], ['c', 2, ['a', 'b', 'c']]]
    >>> str(out["exposure_ts"].iloc[2])
    '2026-01-01 10:00:00+00:00'
    """
    max_depth = _check_int(max_depth, "max_depth", minimum=0)
    t_start = _check_timestamp(start_ts, "start_ts")
    if t_start is None:
        raise UsageError("start_ts is required")
    t_end = _check_timestamp(end_ts, "end_ts")
    extra = _check_subjects(subjects)
    a, b, s, e = _check_meetings(meetings)
    known = set(a) | set(b) | extra
    _check_known(index_pid, known, "meetings")

    t0 = int(ts_to_epoch_us(pd.Series([t_start]))[0])
    limit = int(ts_to_epoch_us(pd.Series([t_end]))[0]) if t_end is not None else None
    # Codes in sorted pid order: lexicographic order of code tuples == order of pid lists.
    pids = np.asarray(_sorted_pids(set(a) | set(b) | {index_pid}, "meetings"), dtype=object)
    code = {p: i for i, p in enumerate(pids)}
    idx = code[index_pid]
    best_t: dict[int, int] = {idx: t0}
    best_depth: dict[int, int] = {idx: 0}
    best_chain: dict[int, tuple[int, ...]] = {idx: (idx,)}

    if len(a) and (limit is None or limit >= t0):
        ca = np.fromiter((code[p] for p in a), dtype=np.int64, count=len(a))
        cb = np.fromiter((code[p] for p in b), dtype=np.int64, count=len(b))
        # Both directions, sorted by (subject, end); drop meetings that end before start_ts or
        # start after end_ts (they can expose no one).
        useful = e >= t0
        if limit is not None:
            useful &= s <= limit
        u_all = np.concatenate([ca[useful], cb[useful]])
        v_all = np.concatenate([cb[useful], ca[useful]])
        s_all = np.concatenate([s[useful], s[useful]])
        e_all = np.concatenate([e[useful], e[useful]])
        order = np.lexsort((v_all, s_all, e_all, u_all))
        u_all, v_all, s_all, e_all = u_all[order], v_all[order], s_all[order], e_all[order]
        indptr = np.searchsorted(u_all, np.arange(len(pids) + 1), side="left")
        other, starts, ends = v_all.tolist(), s_all.tolist(), e_all.tolist()
        cap = limit if limit is not None else np.iinfo(np.int64).max

        frontier: dict[int, tuple[list[int], list[tuple[int, ...]]]] = {idx: ([t0], [(idx,)])}
        for depth in range(1, max_depth + 1):
            cand: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
            for u, (times, chains) in frontier.items():
                lo, hi = int(indptr[u]), int(indptr[u + 1])
                j0 = lo + int(np.searchsorted(e_all[lo:hi], times[0], side="left"))
                for j in range(j0, hi):
                    v, sj, ej = other[j], starts[j], ends[j]
                    i = bisect.bisect_right(times, sj) - 1
                    lst = cand.setdefault(v, [])
                    if i >= 0 and sj <= cap:
                        lst.append((sj, (*chains[i], v)))
                    i += 1
                    while i < len(times) and times[i] <= ej:
                        lst.append((times[i], (*chains[i], v)))
                        i += 1
            nxt: dict[int, tuple[list[int], list[tuple[int, ...]]]] = {}
            for v, lst in cand.items():
                bound = best_t.get(v)
                keep = sorted(c for c in lst if bound is None or c[0] < bound)
                if not keep:
                    continue
                times_v: list[int] = []
                chains_v: list[tuple[int, ...]] = []
                for t, ch in keep:
                    if not chains_v or ch < chains_v[-1]:
                        times_v.append(t)
                        chains_v.append(ch)
                nxt[v] = (times_v, chains_v)
                best_t[v], best_depth[v], best_chain[v] = times_v[0], depth, chains_v[0]
            frontier = nxt
            if not frontier:
                break

    reached = sorted(best_t, key=lambda c: (best_t[c], best_depth[c], c))
    return pd.DataFrame(
        {
            "pid": pd.Series([pids[c] for c in reached], dtype=object),
            "exposure_ts": epoch_us_to_ts([best_t[c] for c in reached]),
            "depth": np.asarray([best_depth[c] for c in reached], dtype=np.int64),
            "chain": pd.Series([[pids[x] for x in best_chain[c]] for c in reached], dtype=object),
        }
    )
