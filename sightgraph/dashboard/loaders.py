"""Data access for the dashboard: cached loaders that call graph/, analytics/ and governance/.

Pages call these and hold no logic of their own. Person-level loaders (trajectory, ego network,
meetings of a pair, next cameras of a subject) require an analyst or admin session with a purpose, and append to the audit log.
No query runs at import time.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from sightgraph.config import Settings
from sightgraph.errors import UsageError

__all__ = [
    "Session",
    "audit_entries",
    "camera_flows",
    "contacts_params",
    "edge_evidence",
    "ego_network",
    "get_settings",
    "network_layers",
    "subject_search",
    "window_meetings",
    "get_store",
    "map_style",
    "edge_id",
    "expand_subject",
    "graph_elements",
    "implausible_shares",
    "in_window",
    "meetings_per_edge",
    "merge_elements",
    "remove_nodes",
    "next_cameras",
    "overview",
    "pair_metrics",
    "pair_meetings",
    "position_at",
    "prediction_report",
    "replay_frames",
    "authorise",
    "record",
    "top_contacts",
    "trajectory",
    "utc",
    "with_camera_positions",
]


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    purpose: str

    @property
    def person_level(self) -> bool:
        return self.role in ("analyst", "admin")


def get_settings() -> Settings:
    s = Settings()
    lake = os.environ.get("SIGHTGRAPH_LAKE")
    if lake:
        s = s.model_copy(update={"lake": Path(lake)})
    return s


@st.cache_resource(show_spinner=False)
def get_store(kind: str, workdir: str) -> Any:
    """One store (and one Neo4j driver) per dashboard process."""
    from sightgraph.graph import open_store

    settings = get_settings().model_copy(update={"workdir": Path(workdir)})
    return open_store(kind, settings, read_only=True)


def _store() -> Any:
    s = get_settings()
    return get_store(s.store, str(s.workdir))


def authorise(session: Session, query: str) -> Any:
    """Refuse a query the session's role may not run, or a person-level one without a purpose
    (before it runs): the one gate of :func:`sightgraph.governance.access.query_gate`."""
    from sightgraph.governance.access import query_gate

    try:
        return query_gate(
            session.user, session.role, session.purpose, query, get_settings().audit_path()
        )
    except UsageError as exc:
        hint = " (enter it in the sidebar)" if "purpose" in str(exc) else ""
        raise UsageError(f"{exc}{hint}") from None


def record(session: Session, query: str, params: dict[str, Any], rows: int) -> None:
    """Append one audit entry for a person-level query that ran (through the same gate)."""
    authorise(session, query).audit(params, rows)


@st.cache_data(ttl=60, show_spinner=False)
def overview(lake: str) -> dict[str, Any]:
    """Counts, ingest runs and quarantine reasons (aggregates only)."""
    from sightgraph.lake import sightings_dataset

    out: dict[str, Any] = {"counts": _store().counts()}
    try:
        out["lake_sightings"] = sightings_dataset(lake).count_rows()
    except UsageError:
        out["lake_sightings"] = 0
    qdir = Path(lake) / "quarantine"
    files = sorted(qdir.glob("*.parquet")) if qdir.exists() else []
    if files:
        q = pd.concat([pd.read_parquet(f, columns=["reason"]) for f in files], ignore_index=True)
        out["quarantine"] = (
            q["reason"].value_counts().rename_axis("reason").reset_index(name="rows")
        )
    else:
        out["quarantine"] = pd.DataFrame({"reason": [], "rows": []})
    log = Path(lake) / "_ingest_log.jsonl"
    out["ingest_runs"] = (
        pd.read_json(log, lines=True) if log.exists() and log.stat().st_size else pd.DataFrame()
    )
    return out


@st.cache_data(ttl=60, show_spinner=False)
def top_contacts(lake: str, n: int = 200) -> pd.DataFrame:
    from sightgraph.graph.loader import derived_path

    path = derived_path(lake, "contacts")
    if not path.exists():
        return pd.DataFrame()
    return pd.read_parquet(path).head(n)


@st.cache_data(ttl=60, show_spinner=False)
def camera_flows(lake: str) -> pd.DataFrame:
    """Suppressed camera-to-camera flows with camera coordinates (aggregate; no audit needed)."""
    from sightgraph.graph.loader import derived_path
    from sightgraph.lake import read_cameras

    path = derived_path(lake, "transitions")
    if not path.exists():
        return pd.DataFrame()
    flows = pd.read_parquet(path)
    cams = read_cameras(lake).set_index("camera_id")[["lat", "lon"]]
    a = cams.reindex(flows["camera_from"]).to_numpy()
    b = cams.reindex(flows["camera_to"]).to_numpy()
    flows = flows.assign(lat_from=a[:, 0], lon_from=a[:, 1], lat_to=b[:, 0], lon_to=b[:, 1])
    return flows.sort_values("count", ascending=False).reset_index(drop=True)


def trajectory(session: Session, pid: str, start: Any = None, end: Any = None) -> pd.DataFrame:
    authorise(session, "trajectory")
    df = _store().trajectory(pid, start, end)
    record(session, "trajectory", {"pid": pid, "start": str(start), "end": str(end)}, len(df))
    return df


#: the bounds of one ego query by default (``Store.ego_network``): strongest edges per subject,
#: subjects in all, edges in all; the page lets the analyst raise them up to NETWORK_CEILING
NETWORK_LIMITS = {"per_node": 15, "max_nodes": 150, "limit": 400}
#: the most subjects one drawing may hold (a 1,000-node neighbourhood stays responsive)
NETWORK_CEILING = 1000


def ego_network(
    session: Session,
    pid: str,
    hops: int,
    min_score: float,
    start: Any = None,
    end: Any = None,
    *,
    per_node: int | None = NETWORK_LIMITS["per_node"],
    max_nodes: int | None = NETWORK_LIMITS["max_nodes"],
    limit: int | None = NETWORK_LIMITS["limit"],
) -> Any:
    """The bounded ego network of ``pid`` from the store (audited); ``EgoNetwork.cut`` says
    what the bounds left out."""
    authorise(session, "ego_network")
    if min_score < 0:
        raise UsageError(f"minimum score must be >= 0 (got {min_score})")
    ego = _store().ego_network(
        pid,
        hops=hops,
        min_score=min_score,
        start=start,
        end=end,
        per_node=per_node,
        max_nodes=max_nodes,
        limit=limit,
    )
    record(
        session,
        "ego_network",
        {
            "pid": pid,
            "hops": hops,
            "min_score": min_score,
            "start": str(start),
            "end": str(end),
            "per_node": per_node,
            "max_nodes": max_nodes,
            "limit": limit,
        },
        len(ego.nodes),
    )
    return ego


def expand_subject(
    session: Session,
    pid: str,
    min_score: float,
    per_node: int,
    layers: pd.DataFrame,
    base: dict[str, list[dict[str, Any]]] | None = None,
    limit: int = NETWORK_LIMITS["limit"],
) -> dict[str, list[dict[str, Any]]]:
    """``base`` (the drawing's expansions so far) plus ``pid``'s ``per_node`` strongest
    contacts with score >= ``min_score`` (a bounded 1-hop ego query of at most ``limit``
    edges, audited)."""
    more = ego_network(
        session, pid, 1, min_score, per_node=per_node, max_nodes=per_node + 1, limit=limit
    )
    extra = graph_elements(more.nodes, more.edges, layers)
    return merge_elements(base or {"nodes": [], "edges": []}, extra)


@st.cache_data(ttl=600, show_spinner=False)
def network_layers(lake: str, seed: int = 0) -> pd.DataFrame:
    """``pid``, ``community``, ``strength`` of every subject with a contact of score > 0: the
    seeded Louvain communities of :func:`sightgraph.analytics.network.detect_communities` over
    the whole contacts table (so colours do not change between queries) and the sum of its
    scores. Empty without a contacts table."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from sightgraph.analytics.network import detect_communities
    from sightgraph.graph.loader import derived_path

    path = derived_path(lake, "contacts")
    if not path.exists():
        return pd.DataFrame({"pid": [], "community": [], "strength": []})
    t = pq.read_table(path, columns=["pid_a", "pid_b", "score"], filters=pc.field("score") > 0)
    contacts = t.to_pandas()
    comm = detect_communities(contacts, seed=seed)
    strength = (
        pd.concat(
            [
                contacts[["pid_a", "score"]].rename(columns={"pid_a": "pid"}),
                contacts[["pid_b", "score"]].rename(columns={"pid_b": "pid"}),
            ]
        )
        .groupby("pid")["score"]
        .sum()
    )
    return comm.assign(strength=comm["pid"].map(strength).fillna(0.0).to_numpy())


@st.cache_data(ttl=600, show_spinner=False)
def _subjects(lake: str) -> list[str]:
    import pyarrow.compute as pc

    from sightgraph.lake import sightings_dataset

    try:
        pids = sightings_dataset(lake).to_table(columns=["pid"]).column("pid")
    except UsageError:
        return []
    return sorted(pc.unique(pids).to_pylist())


def subject_search(session: Session, prefix: str, limit: int = 20) -> list[str]:
    """Pseudonyms of the lake's subjects that start with ``prefix`` (at most ``limit``, in
    order; audited: it tells which pseudonyms exist)."""
    import bisect

    authorise(session, "subject_search")
    prefix = prefix.strip()
    pids = _subjects(str(get_settings().lake_path()))
    at = bisect.bisect_left(pids, prefix)
    out: list[str] = []
    for p in pids[at:]:
        if not p.startswith(prefix) or len(out) >= limit:
            break
        out.append(p)
    record(session, "subject_search", {"prefix": prefix, "limit": limit}, len(out))
    return out


def contacts_params(lake: str) -> dict[str, Any]:
    from sightgraph.graph.loader import derived_path
    from sightgraph.lake import read_params

    path = derived_path(lake, "contacts")
    params = (read_params(path) if path.exists() else None) or {}
    return {
        "window_s": float(params.get("window_s") or 60.0),
        "gap_s": float(params.get("gap_s") or 900.0),
        "period_s": float(params.get("period_s") or 3600.0),
    }


#: a contact pair's headline numbers (contacts table column, label), as the pages show them
PAIR_METRICS = (
    ("score", "score"),
    ("meetings", "meetings"),
    ("days", "days"),
    ("expected", "expected meetings (null)"),
    ("p_value", "p"),
    ("q_value", "q"),
    ("exposure_s", "time together (s)"),
)


def pair_metrics(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of :data:`PAIR_METRICS` for one row of the contacts table (floats to 3
    significant digits); empty for an empty row."""
    out = []
    for name, label in PAIR_METRICS if row else ():
        value = row.get(name)
        out.append((label, f"{value:.3g}" if isinstance(value, float) else str(value)))
    return out


def with_camera_positions(lake: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (with ``camera_id``) plus the cameras' ``lat`` / ``lon`` (NaN where unknown)."""
    from sightgraph.lake import read_cameras

    cams = read_cameras(lake).drop_duplicates("camera_id").set_index("camera_id")[["lat", "lon"]]
    pos = cams.reindex(frame["camera_id"]).to_numpy()
    return frame.assign(lat=pos[:, 0], lon=pos[:, 1])


def _lake_sightings(lake: str, flt: Any) -> pd.DataFrame:
    from sightgraph.lake import sightings_dataset

    cols = ["sighting_id", "pid", "camera_id", "ts"]
    return sightings_dataset(lake).to_table(columns=cols, filter=flt).to_pandas()


def window_meetings(session: Session, pids: list[str], start: Any, end: Any) -> pd.DataFrame:
    """The meetings (DESIGN §4: co-location events of a pair at one camera merged while less
    than G apart, with the contacts table's W and G) among ``pids`` from their sightings in
    ``[start, end]``: ``pid_a, pid_b, camera_id, start_ts, end_ts, n_events``. Audited."""
    import pyarrow.compute as pc

    from sightgraph.analytics.colocation import find_colocations
    from sightgraph.analytics.contacts import build_meetings

    authorise(session, "window_meetings")
    lake = str(get_settings().lake_path())
    flt = pc.field("pid").isin(sorted(set(pids)))
    if start is not None:
        flt = flt & (pc.field("ts") >= pd.Timestamp(start))
    if end is not None:
        flt = flt & (pc.field("ts") <= pd.Timestamp(end))
    s = _lake_sightings(lake, flt)
    p = contacts_params(lake)
    if len(s) < 2:
        meetings = pd.DataFrame(
            columns=["pid_a", "pid_b", "camera_id", "start_ts", "end_ts", "n_events"]
        )
    else:
        events = find_colocations(s, window_s=p["window_s"], events=True)
        meetings = build_meetings(events, gap_s=p["gap_s"])
    record(
        session,
        "window_meetings",
        {"subjects": len(set(pids)), "start": str(start), "end": str(end)},
        len(meetings),
    )
    return meetings


def edge_evidence(session: Session, pid_a: str, pid_b: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """The evidence of one contact edge: its row of the contacts table (score, p, q, the null's
    expectation, ...) and every meeting (place, start, end, sightings, busyness = distinct
    subjects at the camera in the meeting's clock period). Audited."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from sightgraph.analytics.colocation import find_colocations
    from sightgraph.analytics.contacts import build_meetings, camera_busyness
    from sightgraph.graph.loader import derived_path

    authorise(session, "edge_evidence")
    a, b = sorted([pid_a, pid_b])
    lake = str(get_settings().lake_path())
    path = derived_path(lake, "contacts")
    row: dict[str, Any] = {}
    if path.exists():
        t = pq.read_table(path, filters=(pc.field("pid_a") == a) & (pc.field("pid_b") == b))
        if t.num_rows:
            row = t.slice(0, 1).to_pylist()[0]
    p = contacts_params(lake)
    s = _lake_sightings(lake, pc.field("pid").isin([a, b]))
    meetings = build_meetings(
        find_colocations(s, window_s=p["window_s"], events=True), gap_s=p["gap_s"]
    )
    if len(meetings):
        period = pd.Timedelta(seconds=p["period_s"])
        lo = meetings["start_ts"].min().floor(period)
        hi = meetings["start_ts"].max().floor(period) + period
        cams = sorted(set(meetings["camera_id"]))
        around = _lake_sightings(
            lake,
            pc.field("camera_id").isin(cams) & (pc.field("ts") >= lo) & (pc.field("ts") < hi),
        )
        busy = camera_busyness(around, p["period_s"]).set_index(["camera_id", "period_start"])
        keys = pd.MultiIndex.from_arrays(
            [meetings["camera_id"], meetings["start_ts"].dt.floor(period)]
        )
        meetings = meetings.assign(busyness=busy["subjects"].reindex(keys).to_numpy())
    record(session, "edge_evidence", {"pid_a": a, "pid_b": b}, len(meetings))
    return row, meetings.reset_index(drop=True)


def pair_meetings(session: Session, pid_a: str, pid_b: str, window_s: float) -> pd.DataFrame:
    authorise(session, "pair_events")
    df = _store().pair_events(pid_a, pid_b, window_s=window_s)
    record(session, "pair_events", {"pid_a": pid_a, "pid_b": pid_b, "window_s": window_s}, len(df))
    return df


@st.cache_data(ttl=600, show_spinner=False)
def prediction_report(lake: str, k_min: int = 5) -> dict[str, Any] | None:
    """The next-camera evaluation of the lake (aggregate: means over subjects), or None when it
    covers fewer than ``k_min`` subjects (a small cell)."""
    from sightgraph.analytics.prediction import compute_predictions
    from sightgraph.governance.roles import require

    require("viewer", "prediction-evaluation")
    rep = compute_predictions(lake, evaluate=True, progress=False)
    return rep if rep["subjects"] >= k_min else None


def next_cameras(session: Session, pid: str, k: int = 5) -> pd.DataFrame:
    """The ``k`` most likely next cameras of ``pid`` after its last visit, from its own visits
    (sightgraph.analytics.prediction.predict_next), with the cameras' positions."""
    from sightgraph.analytics.prediction import predict_next
    from sightgraph.analytics.trajectories import build_visits

    authorise(session, "next_cameras")
    traj = _store().trajectory(pid)
    visits = build_visits(traj[["camera_id", "ts"]].assign(pid=pid))
    out = predict_next(visits, k=k)
    pos = traj.drop_duplicates("camera_id").set_index("camera_id")[["lat", "lon"]]
    out = out.join(pos, on="camera_id")
    record(session, "next_cameras", {"pid": pid, "k": k}, len(out))
    return out


#: the map style of every map when no basemap is configured: a plain background, inline (a
#: data: URL), so no request leaves the machine; SIGHTGRAPH_BASEMAP names a MapLibre style URL
#: (your own tile server's style.json) to draw streets under the layers instead
OFFLINE_MAP_STYLE = "data:application/json," + urllib.parse.quote(
    json.dumps(
        {
            "version": 8,
            "sources": {},
            "layers": [
                {"id": "background", "type": "background", "paint": {"background-color": "#f2f1ed"}}
            ],
        },
        separators=(",", ":"),
    )
)


def map_style() -> str:
    """The style URL of the dashboard's maps: ``SIGHTGRAPH_BASEMAP`` if set, else offline."""
    return os.environ.get("SIGHTGRAPH_BASEMAP", "").strip() or OFFLINE_MAP_STYLE


def replay_frames(
    traj: pd.DataFrame, max_speed_kmh: float = 150.0, t0: pd.Timestamp | None = None
) -> dict[str, Any]:
    """A trajectory (TRAJECTORY_COLUMNS, ts order) prepared for the animated replay.

    Returns ``trip`` (one TripsLayer path: ``[lon, lat]`` per located sighting and its
    ``timestamps`` in seconds since ``t0``), ``t0`` (default: the first sighting's time; give a
    common one to replay several subjects together), ``legs``
    (consecutive located sightings at different cameras: from/to positions, ``t_from`` /
    ``t_to`` seconds, ``implausible`` when faster than ``max_speed_kmh``, as in
    :func:`sightgraph.analytics.trajectories.build_transitions`).
    """
    from sightgraph.analytics.trajectories import haversine_m

    located = traj.dropna(subset=["lat", "lon"]).reset_index(drop=True)
    if t0 is None:
        t0 = pd.Timestamp(traj["ts"].iloc[0]) if len(traj) else pd.Timestamp(0, tz="UTC")
    secs = ((located["ts"] - t0).dt.total_seconds()).to_numpy()
    trip = {
        "path": located[["lon", "lat"]].to_numpy().tolist(),
        "timestamps": secs.tolist(),
    }
    moved = located["camera_id"].to_numpy()[1:] != located["camera_id"].to_numpy()[:-1]
    i = np.flatnonzero(moved)
    a, b = located.iloc[i], located.iloc[i + 1]
    dist = haversine_m(
        a["lat"].to_numpy(), a["lon"].to_numpy(), b["lat"].to_numpy(), b["lon"].to_numpy()
    )
    dt_s = np.maximum(secs[i + 1] - secs[i], 1e-9)
    legs = pd.DataFrame(
        {
            "lon_from": a["lon"].to_numpy(),
            "lat_from": a["lat"].to_numpy(),
            "lon_to": b["lon"].to_numpy(),
            "lat_to": b["lat"].to_numpy(),
            "t_from": secs[i],
            "t_to": secs[i + 1],
            "implausible": dist / dt_s * 3.6 > max_speed_kmh,
        }
    )
    return {"trip": trip, "t0": t0, "legs": legs}


def position_at(frames: dict[str, Any], t: float) -> tuple[float, float] | None:
    """The replay's position ``t`` seconds after its start (linear between sightings; the first
    or last position outside them); None without located sightings."""
    ts = np.asarray(frames["trip"]["timestamps"], dtype=float)
    if not len(ts):
        return None
    path = np.asarray(frames["trip"]["path"], dtype=float)
    return float(np.interp(t, ts, path[:, 0])), float(np.interp(t, ts, path[:, 1]))


#: community colours (colour-blind-safe Tableau 10); community i gets PALETTE[i % 10]
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def edge_id(pid_a: str, pid_b: str) -> str:
    """The drawing's id of the edge between two subjects (either order)."""
    a, b = sorted([pid_a, pid_b])
    return f"{a}|{b}"


def graph_elements(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    layers: pd.DataFrame,
    window_counts: pd.Series | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Cytoscape elements of an ego network for the drawing.

    Nodes carry ``label`` (their community, ``"community 3"``, or ``"no community"``), ``name``
    (the pseudonym's first 8 characters), ``strength`` and ``hop``; edges ``score`` (3 decimals),
    ``meetings``, ``days``, ``places`` and, with ``window_counts`` (meetings per :func:`edge_id`
    in a time window), ``in_window``: edges with no meeting in the window are left out
    (:func:`in_window`).
    """
    comm = dict(zip(layers["pid"], layers["community"], strict=True)) if len(layers) else {}
    strength = dict(zip(layers["pid"], layers["strength"], strict=True)) if len(layers) else {}
    out_edges = []
    for r in edges.to_dict("records"):
        data: dict[str, Any] = {
            "id": edge_id(str(r["pid_a"]), str(r["pid_b"])),
            "source": str(r["pid_a"]),
            "target": str(r["pid_b"]),
            "label": "CONTACT",
            "score": round(float(r["score"]), 3),
            "meetings": int(r["meetings"]),
            "days": int(r["days"]),
            "places": int(r["places"]),
        }
        out_edges.append({"data": data})
    elements = {"nodes": [], "edges": out_edges}
    out_nodes = []
    for r in nodes.to_dict("records"):
        pid = str(r["pid"])
        c = comm.get(pid)
        out_nodes.append(
            {
                "data": {
                    "id": pid,
                    "label": "no community" if c is None else f"community {int(c)}",
                    "name": pid[:8],
                    "strength": round(float(strength.get(pid, 0.0)), 3),
                    "hop": int(r["hop"]),
                }
            }
        )
    elements["nodes"] = out_nodes
    return elements if window_counts is None else in_window(elements, window_counts)


def merge_elements(
    base: dict[str, list[dict[str, Any]]], more: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """``base`` plus the nodes and edges of ``more`` it lacks (an expansion keeps what is
    drawn; a node keeps its first hop)."""
    have_n = {n["data"]["id"] for n in base["nodes"]}
    have_e = {e["data"]["id"] for e in base["edges"]}
    return {
        "nodes": base["nodes"] + [n for n in more["nodes"] if n["data"]["id"] not in have_n],
        "edges": base["edges"] + [e for e in more["edges"] if e["data"]["id"] not in have_e],
    }


def remove_nodes(
    elements: dict[str, list[dict[str, Any]]], pids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """``elements`` without the nodes ``pids`` and their edges."""
    gone = set(pids)
    return {
        "nodes": [n for n in elements["nodes"] if n["data"]["id"] not in gone],
        "edges": [
            e
            for e in elements["edges"]
            if e["data"]["source"] not in gone and e["data"]["target"] not in gone
        ],
    }


def in_window(
    elements: dict[str, list[dict[str, Any]]], counts: pd.Series
) -> dict[str, list[dict[str, Any]]]:
    """The drawing inside a time window: edges with a meeting in it (``counts``: meetings per
    :func:`edge_id`), each with its count as ``in_window``; every node stays."""
    edges = []
    for e in elements["edges"]:
        n = int(counts.get(e["data"]["id"], 0))
        if n:
            edges.append({"data": {**e["data"], "in_window": n}})
    return {"nodes": elements["nodes"], "edges": edges}


def utc(value: Any) -> pd.Timestamp:
    """A timestamp in UTC (naive values are taken as UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def meetings_per_edge(meetings: pd.DataFrame) -> pd.Series:
    """Meetings per :func:`edge_id` (the time window's counts of the drawing)."""
    if not len(meetings):
        return pd.Series(dtype="int64")
    ids = [edge_id(a, b) for a, b in zip(meetings["pid_a"], meetings["pid_b"], strict=True)]
    return pd.Series(ids).value_counts()


def audit_entries(limit: int = 200) -> tuple[pd.DataFrame, Any]:
    from sightgraph.governance.audit import AuditLog

    path = get_settings().audit_path()
    if not path.exists():
        return pd.DataFrame(), None
    log = AuditLog(path)
    df = pd.read_json(path, lines=True)
    return df.tail(limit).iloc[::-1].reset_index(drop=True), log.verify()


#: bins of a subject's share of implausible transitions on the Overview (right-closed)
IMPLAUSIBLE_SHARE_BINS: tuple[tuple[str, float, float], ...] = (
    ("0%", -1.0, 0.0),
    ("0-1%", 0.0, 0.01),
    ("1-5%", 0.01, 0.05),
    ("5-10%", 0.05, 0.10),
    ("10-25%", 0.10, 0.25),
    ("over 25%", 0.25, 1.0),
)


@st.cache_data(ttl=600, show_spinner=False)
def implausible_shares(lake: str, k_min: int = 5) -> dict[str, Any] | None:
    """Data quality: the distribution over subjects of their share of implausible transitions
    (aggregate only: no pid leaves this function).

    Rebuilds the transitions of the lake's ``visits`` table (the lake keeps only suppressed
    flows in ``transitions``) with the cameras and the ``max_speed_kmh`` that
    ``sightgraph trajectories`` recorded, takes each subject's share of implausible ones (subjects
    with at least one transition) and returns ``subjects``, ``max_speed_kmh``, ``overall`` (share
    of all transitions), ``quantiles`` (median and 90th percentile, only when at least
    ``10 * k_min`` subjects, so that at least ``k_min`` lie above the 90th) and ``histogram``
    (``share`` bin, ``subjects``; a bin of 1 to ``k_min - 1`` subjects shows ``None``, and a
    second bin too when only one would be hidden, so that no hidden count follows from
    ``subjects`` minus the others; ``suppressed_bins`` says how many). None when the lake has no visits, or fewer than ``k_min``
    subjects with a transition.
    """
    from sightgraph.analytics.trajectories import build_transitions
    from sightgraph.graph.loader import derived_path
    from sightgraph.lake import read_cameras, read_params

    path = derived_path(lake, "visits")
    if not path.exists():
        return None
    visits = pd.read_parquet(path, columns=["pid", "camera_id", "arrive", "leave"])
    params = read_params(path) or {}
    tpath = derived_path(lake, "transitions")
    if "max_speed_kmh" not in params and tpath.exists():
        params = read_params(tpath) or {}
    speed = float(params.get("max_speed_kmh", 150.0))
    trans = build_transitions(visits, read_cameras(lake), max_speed_kmh=speed)
    per = trans.groupby("pid", sort=False)["implausible"].agg(["sum", "size"])
    if len(per) < k_min:
        return None
    share = (per["sum"] / per["size"]).to_numpy(dtype=float)
    counts = [int(((share > lo) & (share <= hi)).sum()) for _, lo, hi in IMPLAUSIBLE_SHARE_BINS]
    hidden = [0 < n < k_min for n in counts]
    if sum(hidden) == 1:  # one hidden bin would be the total minus the others: hide another
        shown = [i for i, n in enumerate(counts) if n > 0 and not hidden[i]]
        hidden[min(shown, key=lambda i: counts[i])] = True
    rows = [
        {"share": label, "subjects": None if hide else n}
        for (label, _, _), n, hide in zip(IMPLAUSIBLE_SHARE_BINS, counts, hidden, strict=True)
    ]
    suppressed = sum(hidden)
    quantiles = (
        {"median": float(np.median(share)), "p90": float(np.quantile(share, 0.9))}
        if len(share) >= 10 * k_min
        else None
    )
    return {
        "subjects": int(len(per)),
        "max_speed_kmh": speed,
        "overall": float(trans["implausible"].mean()) if len(trans) else 0.0,
        "quantiles": quantiles,
        "histogram": pd.DataFrame(rows).astype({"subjects": "Int64"}),
        "suppressed_bins": suppressed,
    }
