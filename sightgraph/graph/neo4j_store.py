"""The Neo4j store (DESIGN §5): the graph contract over Bolt with the official ``neo4j`` driver.

The graph::

    (:Person {pid})-[:SEEN_AT {sighting_id, ts, confidence}]->(:Camera {camera_id, lat, lon,
    name, site}), (:Person)-[:CONTACT {score, p_value, q_value, meetings, days, places,
    first_ts, last_ts}]->(:Person) with pid_a < pid_b, (:Camera)-[:TRANSITION {count,
    median_travel_s}]->(:Camera)

with uniqueness constraints on ``Person.pid`` and ``Camera.camera_id`` and range indexes on
``SEEN_AT.ts`` and ``SEEN_AT.sighting_id`` (:mod:`sightgraph.graph.cypher` holds every
statement). Timestamps are stored as UTC ``DateTime`` and travel as integer microseconds.

Writes: each batch is one transaction that merges the batch's persons and cameras, asks which
of its sighting ids are stored already (one index lookup per id) and creates only the missing
edges (and re-creates edges whose values changed); a MERGE per relationship would cost a scan
of the person's edges. So a batch is all or nothing, writing a frame twice changes nothing, and
a load killed half-way and run again ends with exactly the right edges. Only one process should
write sightings at a time (Community edition has no relationship uniqueness constraint).

Faults: a transaction that fails because the server is unreachable, restarting or busy
(the driver's retryable errors) is retried with backoff for up to ``retry_s`` seconds, then
:class:`~sightgraph.errors.StoreUnavailableError` (a UsageError: one line, CLI exit 2) names
the URI. Committed batches stay; rerunning the same load finishes it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from neo4j import Driver, GraphDatabase, ManagedTransaction, Transaction
from neo4j import exceptions as neo4j_errors

from sightgraph.errors import StoreUnavailableError, UsageError
from sightgraph.graph import cypher
from sightgraph.graph.base import EGO_EDGE_COLUMNS, EgoNetwork
from sightgraph.graph.rows import (
    Hops,
    bounded_ego,
    check_cutoff,
    check_hops,
    check_limit,
    check_min_score,
    check_pid,
    check_time_range,
    check_window,
    find_hops_bounded,
    find_smallest_shortest_path,
    iter_batches,
    normalize_pair_events,
    normalize_trajectory,
    prepare_cameras,
    prepare_contacts,
    prepare_sightings,
    prepare_transitions,
)

__all__ = ["Neo4jStore"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Tx = Transaction | ManagedTransaction

#: default rows per write transaction (measured best between 10k and 50k on 2 cores)
DEFAULT_BATCH_SIZE = 20_000
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
_NAT = np.iinfo(np.int64).min  # the int64 that numpy reads as NaT


def _run(tx: Tx, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    """Run one registered statement and return its rows as lists (the only place that runs
    Cypher: a text that is not one of :data:`cypher.QUERIES` is refused)."""
    if query not in cypher.QUERIES:
        raise ValueError(
            "refusing to run a Cypher text that is not a sightgraph.graph.cypher query"
        )
    return tx.run(query, params or {}).values()


def _rows(tx: Tx, query: str, params: dict[str, Any] | None = None) -> list[Any]:
    """The first value of the single record a collecting statement answers with."""
    return _run(tx, query, params)[0][0]


def _is_transient(exc: BaseException) -> bool:
    """A failure that may go away: server unreachable or restarting, dropped connection,
    deadlock or other transient database error. Our writes are idempotent, so an unknown
    commit outcome (IncompleteCommit) is safe to retry too."""
    if isinstance(exc, neo4j_errors.IncompleteCommit | neo4j_errors.ServiceUnavailable):
        return True
    if isinstance(exc, neo4j_errors.SessionExpired | neo4j_errors.TransientError):
        return True
    if isinstance(exc, neo4j_errors.DriverError | neo4j_errors.Neo4jError):
        return bool(exc.is_retryable())
    return isinstance(exc, ConnectionError)


def _reason(exc: BaseException) -> str:
    """An error's message on one line, short, without square brackets (the CLI prints rich
    markup); the driver's "(reason ...)" detail (e.g. Connection refused) is kept."""
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = re.search(r"\(reason (.+)\)\s*$", text)
    one = lines[0].rstrip(":") if lines else text
    if detail and detail.group(1) not in one:
        one = f"{one}: {detail.group(1)}"
    one = one.replace("[", "(").replace("]", ")")
    return one if len(one) <= 300 else one[:297] + "..."


def _optional_floats(s: pd.Series) -> list[float | None]:
    return [None if math.isnan(v) else v for v in s.to_numpy(dtype="float64").tolist()]


def _epoch_us(s: pd.Series) -> np.ndarray:
    """Timezone-aware timestamps -> int64 microseconds since the epoch (NaT -> int64 min).

    Works for any year pandas can hold at microsecond resolution (schema.ts_to_epoch_us goes
    through nanoseconds and overflows before 1677)."""
    naive = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.to_numpy(dtype="datetime64[us]").view(np.int64)


def _optional_us(s: pd.Series) -> list[int | None]:
    us = _epoch_us(s)
    return [None if v == _NAT else v for v in us.tolist()]


def _optional_strs(s: pd.Series) -> list[str | None]:
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
        for v in s.astype(object).tolist()
    ]


def _us_array(values: Sequence[int]) -> np.ndarray:
    """Integer microseconds (int64 min = empty) -> naive datetime64[us] (UTC, NaT = empty)."""
    return np.array(values, dtype=np.int64).view("datetime64[us]")


def _str_array(values: Sequence[str | None]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


class Neo4jStore:
    """The :class:`~sightgraph.graph.base.Store` contract on a Neo4j 5 server.

    Parameters
    ----------
    driver : neo4j.Driver
        A driver created once by the caller (see :meth:`connect`); the store does not close it
        unless ``owns_driver``.
    database : str, optional
        The database to use (None: the server's default).
    batch_size : int
        Rows per write transaction.
    retry_s : float
        How long to keep retrying a transaction that fails with a transient error (server
        unreachable or restarting) before raising StoreUnavailableError.
    uri : str, optional
        The server's address, named in error messages.
    owns_driver : bool
        Close the driver in :meth:`close`.

    Examples
    --------
    >>> store = Neo4jStore.connect("bolt://127.0.0.1:7687", "neo4j", "secret")  # doctest: +SKIP
    >>> store.counts()  # doctest: +SKIP
    {'persons': 0, 'cameras': 0, 'sightings': 0, 'contacts': 0, 'transitions': 0}
    """

    def __init__(
        self,
        driver: Driver,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_s: float = 30.0,
        uri: str | None = None,
        owns_driver: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError(f"batch_size must be a whole number >= 1 (got {batch_size!r})")
        if not (isinstance(retry_s, int | float) and math.isfinite(retry_s) and retry_s >= 0):
            raise UsageError(f"retry_s must be a number of seconds >= 0 (got {retry_s!r})")
        self._driver: Driver | None = driver
        self.database = database or None
        self.batch_size = batch_size
        self.retry_s = float(retry_s)
        self.uri = uri
        self._owns_driver = owns_driver
        self._lock = threading.RLock()

    @classmethod
    def connect(
        cls,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        *,
        timeout_s: float = 5.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_s: float = 30.0,
    ) -> Neo4jStore:
        """Create the driver, check within ``timeout_s`` that the server answers, and return a
        store that owns the driver.

        Raises
        ------
        StoreUnavailableError
            The server cannot be reached or refuses the credentials (one line naming the URI).
        UsageError
            The URI is malformed.
        """
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts is None or parts.scheme not in _SCHEMES or not parts.hostname:
            raise UsageError(
                f"NEO4J_URI {uri!r} is not a Neo4j address: expected "
                "bolt://HOST:PORT or neo4j://HOST:PORT (or bolt+s, neo4j+s for TLS)"
            )
        try:
            driver = GraphDatabase.driver(
                uri,
                auth=(user, password),
                connection_timeout=timeout_s,
                connection_acquisition_timeout=max(timeout_s, 60.0),
            )
        except (neo4j_errors.ConfigurationError, ValueError) as exc:
            raise UsageError(f"NEO4J_URI {uri!r} is not a Neo4j address: {exc}") from exc
        try:
            driver.verify_connectivity()
        except neo4j_errors.AuthError as exc:
            driver.close()
            raise StoreUnavailableError(
                f"Neo4j at {uri} refused the credentials of user {user!r} (NEO4J_USER/NEO4J_PASSWORD)"
            ) from exc
        except (neo4j_errors.DriverError, neo4j_errors.Neo4jError, OSError) as exc:
            driver.close()
            raise StoreUnavailableError(
                f"cannot reach Neo4j at {uri} ({_reason(exc)}); "
                "start it (`make neo4j`) or fix NEO4J_URI"
            ) from exc
        store = cls(
            driver,
            database=database,
            batch_size=batch_size,
            retry_s=retry_s,
            uri=uri,
            owns_driver=True,
        )
        try:
            store.counts()  # the database exists and answers
        except neo4j_errors.ClientError as exc:
            store.close()
            raise UsageError(
                f"Neo4j at {uri} cannot open database {database!r} (NEO4J_DATABASE): {_reason(exc)}"
            ) from exc
        except BaseException:
            store.close()
            raise
        return store

    def __repr__(self) -> str:
        return f"Neo4jStore({self.uri or 'driver'!r}, database={self.database!r})"

    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    @property
    def driver(self) -> Driver:
        if self._driver is None:
            raise UsageError("the Neo4j store is closed")
        return self._driver

    def _where(self) -> str:
        return f"Neo4j at {self.uri}" if self.uri else "the Neo4j server"

    @contextmanager
    def _session(self, write: bool) -> Iterator[Any]:
        driver = self.driver
        with driver.session(
            database=self.database,
            default_access_mode="WRITE" if write else "READ",
            bookmark_manager=driver.execute_query_bookmark_manager,
            # "label does not exist" on an empty graph and the like: not for the user's screen
            notifications_min_severity="OFF",
        ) as session:
            yield session

    def _execute(self, work: Callable[[Tx], T], what: str, write: bool = True) -> T:
        """Run ``work`` in one transaction, committed if it returns; retried from scratch while
        the failure is transient, for up to ``retry_s`` seconds after the first failure."""
        first_failure: float | None = None
        delay = 0.25
        while True:
            try:
                with self._session(write) as session, session.begin_transaction() as tx:
                    result = work(tx)
                    tx.commit()
                    return result
            except neo4j_errors.AuthError as exc:
                raise StoreUnavailableError(
                    f"{self._where()} refused the credentials: {_reason(exc)}"
                ) from exc
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                now = time.monotonic()
                if first_failure is None:
                    first_failure = now
                waited = now - first_failure
                if waited >= self.retry_s:
                    raise StoreUnavailableError(
                        f"{self._where()} is unavailable ({what}: {_reason(exc)}; retried for "
                        f"{waited:.0f} s); what was committed stays, run it again when the "
                        "server is back"
                    ) from exc
                log.info("Neo4j %s failed (%s); retrying in %.2f s", what, exc, delay)
                time.sleep(min(delay, self.retry_s - waited))
                delay = min(delay * 2, 5.0)

    def _read(self, work: Callable[[Tx], T], what: str) -> T:
        return self._execute(work, what, write=False)

    def _run_one(self, query: str, params: dict[str, Any] | None, what: str) -> list[list[Any]]:
        """One registered statement in its own write transaction (with the retries)."""
        return self._execute(lambda tx: _run(tx, query, params), what)

    # -- schema and writes -----------------------------------------------------------------
    def ensure_schema(self, timeout_s: float = 300.0) -> None:
        """Create the constraints and indexes (idempotent) and wait until they are online."""
        for ddl in cypher.SCHEMA:
            self._run_one(ddl, None, "creating the schema")
        self._run_one(cypher.AWAIT_INDEXES, {"timeout_s": int(timeout_s)}, "waiting for indexes")

    def write_cameras(self, cameras: pd.DataFrame) -> int:
        """Upsert cameras; see :meth:`sightgraph.graph.base.Store.write_cameras`."""
        df = prepare_cameras(cameras)
        for chunk in iter_batches(df, self.batch_size):
            params = {
                "camera_id": chunk["camera_id"].tolist(),
                "lat": _optional_floats(chunk["lat"]),
                "lon": _optional_floats(chunk["lon"]),
                "name": _optional_strs(chunk["name"]),
                "site": _optional_strs(chunk["site"]),
            }
            self._run_one(cypher.UPSERT_CAMERAS, params, "writing cameras")
        return len(df)

    def write_sightings(self, sightings: pd.DataFrame) -> int:
        """Upsert persons, unknown cameras and SEEN_AT edges; returns distinct sightings written.

        Per batch, one transaction: merge the persons and cameras, look up which sighting ids
        exist, create the missing edges and re-create those whose values changed (or that
        exist twice); unchanged edges are left alone.
        """
        df = prepare_sightings(sightings)
        for chunk in iter_batches(df, self.batch_size):
            cols = {
                "sighting_id": chunk["sighting_id"].tolist(),
                "pid": chunk["pid"].tolist(),
                "camera_id": chunk["camera_id"].tolist(),
                "ts_us": _epoch_us(chunk["ts"]).tolist(),
                "confidence": _optional_floats(chunk["confidence"]),
            }
            self._execute(partial(self._write_sightings_tx, cols=cols), "writing sightings")
        return len(df)

    @staticmethod
    def _write_sightings_tx(tx: Tx, cols: dict[str, list[Any]]) -> int:
        _run(tx, cypher.MERGE_PERSONS, {"pids": sorted(set(cols["pid"]))})
        _run(tx, cypher.MERGE_CAMERA_IDS, {"camera_ids": sorted(set(cols["camera_id"]))})
        found = _run(tx, cypher.EXISTING_SIGHTING_IDS, {"sighting_id": cols["sighting_id"]})[0][0]
        if found:
            stored = set(found)
            stale = {sid for sid, k in Counter(found).items() if k > 1}  # stored twice
            at = [i for i, sid in enumerate(cols["sighting_id"]) if sid in stored]
            same_shape = {k: [v[i] for i in at] for k, v in cols.items()}
            stale.update(_run(tx, cypher.CHANGED_SIGHTINGS, same_shape)[0][0])
            if stale:
                _run(tx, cypher.DELETE_SIGHTINGS, {"sighting_id": sorted(stale)})
            todo = [
                i for i, sid in enumerate(cols["sighting_id"]) if sid not in stored or sid in stale
            ]
            cols = {k: [v[i] for i in todo] for k, v in cols.items()}
        if not cols["sighting_id"]:
            return 0
        created = _run(tx, cypher.CREATE_SIGHTINGS, cols)[0][0]
        if created != len(cols["sighting_id"]):  # persons/cameras were merged just above
            raise RuntimeError(f"created {created} of {len(cols['sighting_id'])} SEEN_AT edges")
        return int(created)

    def write_contacts(self, contacts: pd.DataFrame) -> int:
        """Upsert CONTACT edges (oriented pid_a < pid_b) and their persons; returns pairs written."""
        df = prepare_contacts(contacts)
        for chunk in iter_batches(df, self.batch_size):
            params = {
                "pid_a": chunk["pid_a"].tolist(),
                "pid_b": chunk["pid_b"].tolist(),
                "score": chunk["score"].tolist(),
                "p_value": _optional_floats(chunk["p_value"]),
                "q_value": _optional_floats(chunk["q_value"]),
                "meetings": chunk["meetings"].tolist(),
                "days": chunk["days"].tolist(),
                "places": chunk["places"].tolist(),
                "first_us": _optional_us(chunk["first_ts"]),
                "last_us": _optional_us(chunk["last_ts"]),
            }
            pids = sorted(set(params["pid_a"]) | set(params["pid_b"]))

            def work(tx: Tx, p: dict[str, Any] = params, ids: list[str] = pids) -> None:
                _run(tx, cypher.MERGE_PERSONS, {"pids": ids})
                _run(tx, cypher.UPSERT_CONTACTS, p)

            self._execute(work, "writing contacts")
        return len(df)

    def write_transitions(self, transitions: pd.DataFrame) -> int:
        """Upsert TRANSITION edges and unknown cameras; returns camera pairs written."""
        df = prepare_transitions(transitions)
        for chunk in iter_batches(df, self.batch_size):
            params = {
                "camera_from": chunk["camera_from"].tolist(),
                "camera_to": chunk["camera_to"].tolist(),
                "count": chunk["count"].tolist(),
                "median_travel_s": _optional_floats(chunk["median_travel_s"]),
            }
            cams = sorted(set(params["camera_from"]) | set(params["camera_to"]))

            def work(tx: Tx, p: dict[str, Any] = params, ids: list[str] = cams) -> None:
                _run(tx, cypher.MERGE_CAMERA_IDS, {"camera_ids": ids})
                _run(tx, cypher.UPSERT_TRANSITIONS, p)

            self._execute(work, "writing transitions")
        return len(df)

    # -- reads -----------------------------------------------------------------------------
    @staticmethod
    def _bounds(lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> dict[str, int | None]:
        def us(t: pd.Timestamp | None) -> int | None:
            return None if t is None else int(_epoch_us(pd.Series([t]))[0])

        return {"start_us": us(lo), "end_us": us(hi)}

    @staticmethod
    def _exists(tx: Tx, pid: str) -> bool:
        return bool(_run(tx, cypher.PERSON_EXISTS, {"pid": pid})[0][0])

    def trajectory(
        self, pid: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Sightings of ``pid`` with start <= ts <= end; TRAJECTORY_COLUMNS by ts, sighting_id."""
        check_pid(pid)
        lo, hi = check_time_range(start, end)
        params = {"pid": pid, **self._bounds(lo, hi)}
        cols = self._read(lambda tx: _run(tx, cypher.TRAJECTORY, params)[0], "reading a trajectory")
        sid, ts, cam, lat, lon, conf = cols
        return normalize_trajectory(
            {
                "sighting_id": np.array(sid, dtype=np.int64),
                "ts": _us_array(ts),
                "camera_id": _str_array(cam),
                "lat": np.array(lat, dtype=np.float64),
                "lon": np.array(lon, dtype=np.float64),
                "confidence": np.array(conf, dtype=np.float64),
            }
        )

    @staticmethod
    def _expander(
        tx: Tx, params: dict[str, Any]
    ) -> Callable[[Sequence[str]], list[tuple[str, str, float]]]:
        def expand(frontier: Sequence[str]) -> list[tuple[str, str, float]]:
            pid, other, score = _run(
                tx, cypher.EXPAND_CONTACTS, {**params, "frontier": list(frontier)}
            )[0]
            return list(zip(pid, other, score, strict=True))

        return expand

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
        """Subjects within ``hops`` qualifying CONTACT edges of ``pid`` and the qualifying edges
        among them (breadth-first, one query per hop, in one read transaction); see
        :meth:`sightgraph.graph.base.Store.ego_network`."""
        check_pid(pid)
        hops = check_hops(hops)
        min_score = check_min_score(min_score)
        lo, hi = check_time_range(start, end)
        per_node = check_limit(per_node, "per_node")
        max_nodes = check_limit(max_nodes, "max_nodes")
        limit = check_limit(limit, "limit")
        params: dict[str, Any] = {"min_score": min_score, **self._bounds(lo, hi)}

        def work(tx: Tx) -> tuple[Hops, list[list[Any]]]:
            if not self._exists(tx, pid):
                return Hops({}, {}, 0), [[] for _ in EGO_EDGE_COLUMNS]
            found = find_hops_bounded(pid, hops, self._expander(tx, params), per_node, max_nodes)
            edges = _run(tx, cypher.EGO_EDGES, {**params, "nodes": list(found.dist)})[0]
            return found, edges

        found, cols = self._read(work, "reading an ego network")
        dist = found.dist
        a, b, score, meetings, days, places, first, last = cols
        nodes = {
            "pid": _str_array(list(dist)),
            "hop": np.array(list(dist.values()), dtype=np.int64),
        }
        edges = {
            "pid_a": _str_array(a),
            "pid_b": _str_array(b),
            "score": np.array(score, dtype=np.float64),
            "meetings": np.array(meetings, dtype=np.int64),
            "days": np.array(days, dtype=np.int64),
            "places": np.array(places, dtype=np.int64),
            "first_ts": _us_array(first),
            "last_ts": _us_array(last),
        }
        return bounded_ego(nodes, edges, found, limit)

    def pair_events(
        self,
        pid_a: str,
        pid_b: str,
        window_s: float = 60.0,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Co-location events of two subjects; see :meth:`sightgraph.graph.base.Store.pair_events`.

        The two subjects' sightings come from the graph; the window join runs here, per camera,
        as a sort and binary search (output-sized work)."""
        check_pid(pid_a, "pid_a")
        check_pid(pid_b, "pid_b")
        if pid_a == pid_b:
            raise UsageError(f"pid_a and pid_b must be two different subjects (both are {pid_a!r})")
        window_us = check_window(window_s)
        lo, hi = check_time_range(start, end)
        if pid_b < pid_a:
            pid_a, pid_b = pid_b, pid_a
        params = {"pids": [pid_a, pid_b], **self._bounds(lo, hi)}
        cols = self._read(
            lambda tx: _run(tx, cypher.PAIR_SIGHTINGS, params)[0], "reading pair events"
        )
        return normalize_pair_events(_join_pair(cols, pid_a, window_us))

    def shortest_connection(
        self, pid_a: str, pid_b: str, max_hops: int = 4, min_score: float = 0.0
    ) -> list[str]:
        """Lexicographically smallest shortest CONTACT path; see
        :meth:`sightgraph.graph.base.Store.shortest_connection`."""
        check_pid(pid_a, "pid_a")
        check_pid(pid_b, "pid_b")
        max_hops = check_hops(max_hops, "max_hops")
        min_score = check_min_score(min_score)
        params: dict[str, Any] = {"min_score": min_score, "start_us": None, "end_us": None}

        def work(tx: Tx) -> list[str]:
            if not (self._exists(tx, pid_a) and self._exists(tx, pid_b)):
                return []
            return find_smallest_shortest_path(pid_a, pid_b, max_hops, self._expander(tx, params))

        return self._read(work, "reading a shortest connection")

    def counts(self) -> dict[str, int]:
        """Nodes and edges: persons, cameras, sightings, contacts, transitions."""
        row = self._read(lambda tx: _run(tx, cypher.COUNTS)[0], "counting")
        keys = ("persons", "cameras", "sightings", "contacts", "transitions")
        return {k: int(v) for k, v in zip(keys, row, strict=True)}

    def is_empty(self) -> bool:
        """True when the database holds no node at all (of any label, not only sightgraph's)."""
        return bool(self._read(lambda tx: _run(tx, cypher.GRAPH_IS_EMPTY)[0][0], "counting"))

    # -- governance ------------------------------------------------------------------------
    def forget(self, pid: str) -> dict[str, int]:
        """Delete the person, its sightings and its contacts (one transaction); returns what
        was removed."""
        check_pid(pid)

        def work(tx: Tx) -> dict[str, int]:
            p = {"pid": pid}
            sightings = _run(tx, cypher.FORGET_SIGHTINGS, p)[0][0]
            contacts = _run(tx, cypher.FORGET_CONTACTS, p)[0][0]
            persons = _run(tx, cypher.FORGET_PERSON, p)[0][0]
            return {"persons": int(persons), "sightings": int(sightings), "contacts": int(contacts)}

        return self._execute(work, "forgetting a subject")

    def delete_before(self, cutoff: pd.Timestamp) -> dict[str, int]:
        """Retention: delete sightings with ts < cutoff (in batches of ``batch_size``), then the
        persons this left without sightings and their contacts.

        Each batch commits on its own; if the call is interrupted, the persons it had emptied
        so far are not known to a second call (they stay, without sightings)."""
        cut = check_cutoff(cutoff)
        params: dict[str, Any] = {
            "cutoff_us": int(_epoch_us(pd.Series([cut]))[0]),
            "limit": self.batch_size,
        }
        affected: set[str] = set()
        sightings = 0
        while True:
            pids, n = self._execute(
                lambda tx: _run(tx, cypher.RETENTION_DELETE_BATCH, params)[0],
                "deleting old sightings",
            )
            if not n:
                break
            sightings += int(n)
            affected.update(p for p in pids if p is not None)
        persons = contacts = 0
        candidates = sorted(affected)
        for i in range(0, len(candidates), self.batch_size):
            part = candidates[i : i + self.batch_size]

            def work(tx: Tx, ids: list[str] = part) -> tuple[int, int]:
                gone = _rows(tx, cypher.PERSONS_WITHOUT_SIGHTINGS, {"pids": ids})
                if not gone:
                    return 0, 0
                c = _run(tx, cypher.DELETE_CONTACTS_OF, {"pids": gone})[0][0]
                p = _run(tx, cypher.DELETE_PERSONS, {"pids": gone})[0][0]
                return int(p), int(c)

            p, c = self._execute(work, "deleting emptied subjects")
            persons += p
            contacts += c
        return {"sightings": sightings, "persons": persons, "contacts": contacts}

    def delete_contacts_before(self, cutoff: pd.Timestamp) -> dict[str, int]:
        """Retention of contacts: delete the CONTACT edges whose newest known time (last_ts,
        else first_ts) is before cutoff, in batches of ``batch_size`` (each commits on its
        own; a second call finishes an interrupted one); edges without times stay."""
        cut = check_cutoff(cutoff)
        params: dict[str, Any] = {
            "cutoff_us": int(_epoch_us(pd.Series([cut]))[0]),
            "limit": self.batch_size,
        }
        contacts = 0
        while True:
            n = self._execute(
                lambda tx: _run(tx, cypher.RETENTION_CONTACTS_BATCH, params)[0][0],
                "deleting old contacts",
            )
            if not n:
                break
            contacts += int(n)
        return {"contacts": contacts}

    def clear(self) -> None:
        """Remove every sightgraph node and edge, in batches of ``batch_size`` (the schema stays)."""
        params = {"limit": self.batch_size}
        for query in cypher.CLEAR:
            while self._run_one(query, params, "clearing the graph")[0][0]:
                pass

    def close(self) -> None:
        """Release the store (idempotent; closes the driver if the store owns it)."""
        with self._lock:
            driver, self._driver = self._driver, None
        if driver is not None and self._owns_driver:
            driver.close()


def _join_pair(cols: list[list[Any]], pid_a: str, window_us: int) -> dict[str, np.ndarray]:
    """Every (sighting of pid_a, sighting of the other) at one camera with |ts_a - ts_b| <=
    window_us, from columns (pid, sighting_id, camera_id, ts_us)."""
    pid, sid, cam, ts = cols
    is_a = np.array([p == pid_a for p in pid], dtype=bool)
    sid_arr = np.array(sid, dtype=np.int64)
    ts_arr = np.array(ts, dtype=np.int64)
    cam_arr = _str_array(cam)
    out_cam: list[np.ndarray] = []
    out_ia: list[np.ndarray] = []
    out_ib: list[np.ndarray] = []
    b_idx = np.flatnonzero(~is_a)
    by_cam: dict[str, np.ndarray] = {}
    if len(b_idx):
        b_cams = cam_arr[b_idx]
        for c in set(b_cams.tolist()):
            idx = b_idx[b_cams == c]
            by_cam[c] = idx[np.argsort(ts_arr[idx], kind="stable")]
    a_idx = np.flatnonzero(is_a)
    a_cams = cam_arr[a_idx]
    for c, bi in by_cam.items():
        ai = a_idx[a_cams == c]
        if not len(ai):
            continue
        bts = ts_arr[bi]
        lo = np.searchsorted(bts, ts_arr[ai] - window_us, side="left")
        hi = np.searchsorted(bts, ts_arr[ai] + window_us, side="right")
        counts = hi - lo
        if not counts.sum():
            continue
        rep_a = np.repeat(ai, counts)
        offsets = np.concatenate([np.arange(s, e) for s, e in zip(lo, hi, strict=True)])
        out_ia.append(rep_a)
        out_ib.append(bi[offsets])
        out_cam.append(np.full(len(rep_a), c, dtype=object))
    ia = np.concatenate(out_ia) if out_ia else np.zeros(0, dtype=np.int64)
    ib = np.concatenate(out_ib) if out_ib else np.zeros(0, dtype=np.int64)
    return {
        "camera_id": np.concatenate(out_cam) if out_cam else np.zeros(0, dtype=object),
        "ts_a": ts_arr[ia].view("datetime64[us]"),
        "ts_b": ts_arr[ib].view("datetime64[us]"),
        "sighting_a": sid_arr[ia],
        "sighting_b": sid_arr[ib],
    }
