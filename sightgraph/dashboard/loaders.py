"""Data access for the dashboard: cached loaders that call graph/, analytics/ and governance/.

Pages call these and hold no logic of their own. Person-level loaders (trajectory, ego network,
meetings of a pair, next cameras of a subject) require an analyst or admin session with a purpose, and append to the audit log.
No query runs at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import streamlit as st

from sightgraph.config import Settings
from sightgraph.errors import UsageError

__all__ = [
    "Session",
    "audit_entries",
    "camera_flows",
    "ego_network",
    "get_settings",
    "get_store",
    "network_dot",
    "next_cameras",
    "overview",
    "pair_meetings",
    "prediction_report",
    "authorise",
    "record",
    "top_contacts",
    "trajectory",
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


def authorise(session: Session, query: str) -> None:
    """Refuse a person-level query without the role or a purpose (before it runs)."""
    from sightgraph.governance.roles import require

    require(session.role, query)
    if not session.purpose.strip():
        raise UsageError("person-level views need a purpose: enter it in the sidebar")


def record(session: Session, query: str, params: dict[str, Any], rows: int) -> None:
    """Append one audit entry for a person-level query that ran."""
    from sightgraph.governance.audit import AuditLog

    path = get_settings().audit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    AuditLog(path).append(
        user=session.user,
        role=session.role,
        purpose=session.purpose,
        query=query,
        params=params,
        rows=rows,
    )


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


def ego_network(
    session: Session, pid: str, hops: int, min_score: float, start: Any, end: Any
) -> Any:
    authorise(session, "ego_network")
    ego = _store().ego_network(pid, hops=hops, min_score=min_score, start=start, end=end)
    record(
        session,
        "ego_network",
        {"pid": pid, "hops": hops, "min_score": min_score, "start": str(start), "end": str(end)},
        len(ego.nodes),
    )
    return ego


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


def network_dot(nodes: pd.DataFrame, edges: pd.DataFrame, seed: int = 0) -> str:
    """Graphviz DOT of an ego network; node colour = Louvain community, edge width = score."""
    g = nx.Graph()
    g.add_nodes_from(nodes["pid"])
    for r in edges.itertuples():
        g.add_edge(r.pid_a, r.pid_b, weight=float(r.score))  # type: ignore[arg-type]
    comm: dict[str, int] = {}
    if g.number_of_edges():
        for i, c in enumerate(nx.community.louvain_communities(g, weight="weight", seed=seed)):
            comm.update({p: i for p in c})
    palette = [
        "#4e79a7",
        "#f28e2b",
        "#e15759",
        "#76b7b2",
        "#59a14f",
        "#edc948",
        "#b07aa1",
        "#ff9da7",
    ]
    hop = dict(zip(nodes["pid"], nodes["hop"], strict=True))
    top = float(edges["score"].max()) if len(edges) else 1.0
    top = top or 1.0
    lines = ["graph ego {", '  node [style=filled, fontname="Helvetica", fontsize=9];']
    for p in g.nodes:
        shape = "doublecircle" if hop.get(p) == 0 else "circle"
        colour = palette[comm.get(p, 0) % len(palette)]
        lines.append(f'  "{_dot(p)}" [label="{_dot(p[:8])}", shape={shape}, fillcolor="{colour}"];')
    for a, b, d in g.edges(data=True):
        width = 0.5 + 4.0 * d["weight"] / top
        lines.append(f'  "{_dot(a)}" -- "{_dot(b)}" [penwidth={width:.2f}];')
    lines.append("}")
    return "\n".join(lines)


def _dot(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def audit_entries(limit: int = 200) -> tuple[pd.DataFrame, Any]:
    from sightgraph.governance.audit import AuditLog

    path = get_settings().audit_path()
    if not path.exists():
        return pd.DataFrame(), None
    log = AuditLog(path)
    df = pd.read_json(path, lines=True)
    return df.tail(limit).iloc[::-1].reset_index(drop=True), log.verify()
