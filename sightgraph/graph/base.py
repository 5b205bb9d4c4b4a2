"""The store contract (DESIGN §5): every backend (embedded DuckDB, Neo4j) implements it and passes
the same contract tests in tests/graph/test_store_contract.py.

Conventions every backend keeps, so answers are identical byte for byte:

* frames come back with exactly the columns listed below, in that order, with ``ts`` columns as
  ``datetime64[us, UTC]``, ids as ``str`` (object) and counts as ``int64``;
* rows are sorted as stated (ties broken by the id columns), so equal data gives equal frames;
* contacts are stored once per pair with ``pid_a < pid_b`` (string order);
* writes are idempotent upserts keyed on ``pid``, ``camera_id``, ``sighting_id``, the pid pair,
  and the camera pair; batched.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    nodes: pd.DataFrame
    edges: pd.DataFrame


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
        """Upsert persons and SEEN_AT edges (sighting_id, pid, camera_id, ts, confidence).
        Cameras not yet known are created with null coordinates."""
        ...

    def write_contacts(self, contacts: pd.DataFrame) -> int:
        """Upsert CONTACT edges (pid_a, pid_b, score, meetings, days, places, first_ts, last_ts)."""
        ...

    def write_transitions(self, transitions: pd.DataFrame) -> int:
        """Upsert TRANSITION edges (camera_from, camera_to, count, median_travel_s)."""
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
    ) -> EgoNetwork:
        """Subjects within ``hops`` CONTACT edges of ``pid`` using only edges with
        score >= min_score whose [first_ts, last_ts] overlaps [start, end]; and the qualifying
        edges among those nodes. A pid without contacts gives just the centre node (hop 0);
        an unknown pid gives empty frames."""
        ...

    def pair_events(
        self,
        pid_a: str,
        pid_b: str,
        window_s: float = 60.0,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Co-location events of the two subjects at the same camera (PAIR_EVENT_COLUMNS);
        the arguments may come in either order, output is oriented so pid_a < pid_b."""
        ...

    def shortest_connection(
        self, pid_a: str, pid_b: str, max_hops: int = 4, min_score: float = 0.0
    ) -> list[str]:
        """Pids on a shortest CONTACT path from pid_a to pid_b (inclusive); [] if none within
        max_hops. Among equally short paths the lexicographically smallest pid sequence."""
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
        """Retention: delete sightings with ts < cutoff, and persons left with no sightings;
        returns {'sightings', 'persons'} removed."""
        ...

    def clear(self) -> None:
        """Remove everything (tests, and `load --replace`)."""
        ...

    def close(self) -> None: ...
