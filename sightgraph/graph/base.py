"""The store contract (DESIGN §5): every backend (embedded DuckDB, Neo4j) implements it and passes
the same contract tests in tests/graph/test_store_contract.py.

Conventions every backend keeps, so answers are identical byte for byte:

* frames come back with exactly the columns listed below, in that order, with a RangeIndex,
  ``ts`` columns as ``datetime64[us, UTC]``, pids and camera ids as pandas' default string dtype
  (``str`` in pandas 3, i.e. ``astype(str)``), sighting ids and counts as ``int64``, scores and
  coordinates as ``float64`` (NaN when unknown); the helpers in :mod:`sightgraph.graph.rows`
  produce exactly this;
* rows are sorted as stated (ties broken by the id columns), so equal data gives equal frames;
* string order is Unicode code point order (Python's ``<``, = UTF-8 byte order), not UTF-16;
* contacts are stored once per pair with ``pid_a < pid_b`` (string order);
* writes are idempotent upserts keyed on ``pid``, ``camera_id``, ``sighting_id``, the pid pair,
  and the camera pair; batched; input is validated by ``rows.prepare_*`` (UsageError naming the
  column and row); when a key repeats within one frame the last row wins; a write returns the
  number of distinct keys it upserted (the same when the frame is written again);
* time bounds are inclusive, must be timezone-aware (naive -> UsageError) and ``start`` after
  ``end`` is a UsageError (the caller most likely swapped them); ``None`` leaves a side open;
* an unknown pid is not an error: reads give empty frames / ``[]``, forget gives zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd

__all__ = [
    "EGO_EDGE_COLUMNS",
    "EGO_NODE_COLUMNS",
    "EgoNetwork",
    "PAIR_EVENT_COLUMNS",
    "Store",
    "TRAJECTORY_COLUMNS",
]

#: trajectory(): one row per sighting of the subject, ordered by ts then sighting_id
TRAJECTORY_COLUMNS = ("sighting_id", "ts", "camera_id", "lat", "lon", "confidence")
#: ego_network().nodes: pid and hop distance from the centre (0 for the centre), ordered by hop, pid
EGO_NODE_COLUMNS = ("pid", "hop")
#: ego_network().edges: CONTACT edges among the nodes, pid_a < pid_b, ordered by pid_a, pid_b
EGO_EDGE_COLUMNS = (
    "pid_a",
    "pid_b",
    "score",
    "meetings",
    "days",
    "places",
    "first_ts",
    "last_ts",
)
#: pair_events(): co-location events of two subjects (same camera, |ts_a - ts_b| <= window),
#: ts_a/ts_b/sighting_a belong to pid_a (the smaller pid); ordered by ts_a, ts_b, sighting_a, sighting_b
PAIR_EVENT_COLUMNS = ("camera_id", "ts_a", "ts_b", "sighting_a", "sighting_b")


@dataclass(frozen=True)
class EgoNetwork:
    """An ego network: ``nodes`` (EGO_NODE_COLUMNS), ``edges`` (EGO_EDGE_COLUMNS) and what its
    bounds left out: ``cut['subjects']`` qualifying neighbours not added, ``cut['edges']`` edges
    among the nodes not returned (both 0 without bounds)."""

    nodes: pd.DataFrame
    edges: pd.DataFrame
    cut: dict[str, int] = field(default_factory=lambda: {"subjects": 0, "edges": 0})


@runtime_checkable
class Store(Protocol):
    """What the CLI, the dashboard and notebooks may ask of a graph store."""

    # -- schema and writes -----------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create constraints/indexes (idempotent)."""
        ...

    def write_cameras(self, cameras: pd.DataFrame) -> int:
        """Upsert cameras (camera_id, lat, lon, name[, site]); returns rows written."""
        ...

    def write_sightings(self, sightings: pd.DataFrame) -> int:
        """Upsert persons and SEEN_AT edges (sighting_id, pid, camera_id, ts[, confidence]).
        Cameras not yet known are created with null coordinates. A sighting_id written again
        with another pid or camera moves that sighting (still one SEEN_AT per sighting_id)."""
        ...

    def write_contacts(self, contacts: pd.DataFrame) -> int:
        """Upsert CONTACT edges (pid_a, pid_b, score, meetings, days, places[, p_value, q_value,
        first_ts, last_ts]). Pairs given as pid_a > pid_b are swapped, pid_a == pid_b is a
        UsageError; persons not yet known are created."""
        ...

    def write_transitions(self, transitions: pd.DataFrame) -> int:
        """Upsert TRANSITION edges (camera_from, camera_to, count[, median_travel_s]).
        Cameras not yet known are created with null coordinates."""
        ...

    # -- reads -----------------------------------------------------------------------------
    def trajectory(
        self, pid: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Sightings of ``pid`` with start <= ts <= end (bounds optional); TRAJECTORY_COLUMNS."""
        ...

    def ego_network(
        self,
        pid: str,
        hops: int = 1,
        min_score: float = 0.0,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        *,
        per_node: int | None = None,
        max_nodes: int | None = None,
        limit: int | None = None,
    ) -> EgoNetwork:
        """Subjects within ``hops`` CONTACT edges of ``pid`` using only edges with
        score >= min_score whose [first_ts, last_ts] overlaps [start, end]; and the qualifying
        edges among those nodes (hop = shortest qualifying distance; hops is an int >= 0;
        min_score finite). Overlap is inclusive: last_ts >= start and first_ts <= end; an edge
        with an empty first_ts/last_ts fails any bound on that side. A pid without contacts
        gives just the centre node (hop 0); an unknown pid gives empty frames.

        Bounds (None: none; else whole numbers >= 1), so that a hub's neighbourhood stays
        drawable: each level adds, per frontier subject, only its ``per_node`` strongest edges
        to new subjects, and new subjects by strength while fewer than ``max_nodes`` are reached
        (``rows.find_hops_bounded``); of the edges among the nodes, every node's tree edge and
        then the strongest others up to ``limit`` are returned (``rows.bound_edges``).
        ``EgoNetwork.cut`` says how many subjects and edges the bounds left out."""
        ...

    def pair_events(
        self,
        pid_a: str,
        pid_b: str,
        window_s: float = 60.0,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Co-location events of the two subjects at the same camera (PAIR_EVENT_COLUMNS):
        every pair of sightings (one of each) at one camera with |ts_a - ts_b| <= window_s, the
        window rounded to whole microseconds; with bounds, both sightings must lie in
        [start, end]. The arguments may come in either order, output is oriented so
        pid_a < pid_b; pid_a == pid_b is a UsageError."""
        ...

    def shortest_connection(
        self, pid_a: str, pid_b: str, max_hops: int = 4, min_score: float = 0.0
    ) -> list[str]:
        """Pids on a shortest CONTACT path from pid_a to pid_b (inclusive), using edges with
        score >= min_score in either direction; [] if none within max_hops (int >= 0) or if a
        pid is unknown; [pid_a] if pid_a == pid_b is known. Among equally short paths the
        lexicographically smallest pid sequence: compare the paths' pids position by position
        (code point order), the first difference decides; rows.find_smallest_shortest_path."""
        ...

    def counts(self) -> dict[str, int]:
        """{'persons', 'cameras', 'sightings', 'contacts', 'transitions'}."""
        ...

    # -- governance ------------------------------------------------------------------------
    def forget(self, pid: str) -> dict[str, int]:
        """Delete the person, its SEEN_AT and CONTACT edges; returns
        {'persons', 'sightings', 'contacts'} removed."""
        ...

    def delete_before(self, cutoff: pd.Timestamp) -> dict[str, int]:
        """Retention: delete sightings with ts < cutoff (tz-aware), then the persons that lost
        sightings in this call and have none left, with their CONTACT edges (persons that never
        had sightings stay); returns {'sightings', 'persons', 'contacts'} removed."""
        ...

    def delete_contacts_before(self, cutoff: pd.Timestamp) -> dict[str, int]:
        """Retention of contacts: delete the CONTACT edges whose newest known time (last_ts,
        else first_ts) is before cutoff (tz-aware); edges without times stay. Returns
        {'contacts'} removed."""
        ...

    def clear(self) -> None:
        """Remove everything (tests, and `load --replace`)."""
        ...

    def close(self) -> None: ...
