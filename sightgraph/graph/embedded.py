"""The embedded store (DESIGN §5): the graph contract on DuckDB, one file, no server.

Tables mirror the graph::

    persons(pid PK, pkey)                             (:Person)
    cameras(camera_id PK, lat, lon, name, site)       (:Camera)
    seen_at(sighting_id PK, pid, camera_id, ts, confidence)           -[:SEEN_AT]->
    contacts(pid_a, pid_b PK, ka, kb, score, p_value, q_value, meetings, days, places,
             first_ts, last_ts)                               -[:CONTACT]-
    transitions(camera_from, camera_to PK, count, median_travel_s)    -[:TRANSITION]->

Keys and indexes. ``persons``, ``cameras`` and ``transitions`` have primary keys. ``seen_at``
and ``contacts`` are keyed on ``sighting_id`` and ``(pid_a, pid_b)`` by the write path instead
(each frame is de-duplicated, then new keys are inserted with an anti-join and changed rows are
replaced, in one transaction; DuckDB admits a single writing process), because DuckDB's unique
ART indexes made a bulk write of 1M sightings four times slower. One lookup index,
``seen_at(pid)``: DuckDB only answers single-column equality filters from an index (a composite
``(pid, ts)`` index would go unused) and fetches indexed rows one by one, which pays for a
subject's few sightings among millions but not for contact expansions, where one scan of
``contacts`` per BFS level is faster than many index probes.
Sightings are inserted ordered by ``(pid, ts)``, so a subject's sightings share pages and
row-group min/max statistics; time filters use those statistics (no ``ts`` index: it would slow
bulk writes and DuckDB does not use indexes for ranges).

``persons.pkey`` is an internal integer key (from a sequence) that ``contacts`` repeats as
``ka``/``kb`` beside ``pid_a``/``pid_b``: the breadth-first searches filter integers, which DuckDB
scans many times faster than long pseudonym strings.

Writes scan the prepared pandas frame directly (``register``): rows whose values changed are
deleted and inserted again (DuckDB cannot update a column that an index covers), unchanged rows
are left alone, so writing the same frame twice changes nothing. Every value travels as a query
parameter or inside a registered frame; table and column names come only from the constants
below.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from sightgraph.errors import StoreUnavailableError, UsageError
from sightgraph.graph.base import EGO_EDGE_COLUMNS, EgoNetwork
from sightgraph.graph.rows import (
    Expand,
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
    normalize_edges,
    normalize_ego_nodes,
    normalize_pair_events,
    normalize_trajectory,
    prepare_cameras,
    prepare_contacts,
    prepare_sightings,
    prepare_transitions,
)

__all__ = ["EmbeddedStore"]

MEMORY = ":memory:"
TABLES = ("persons", "cameras", "seen_at", "contacts", "transitions")
_SRC = "_sightgraph_src"  # name of the registered pandas frame a write scans
_REQUIRED_COLUMNS = (("persons", "pkey"), ("contacts", "ka"), ("contacts", "kb"))

_DDL = (
    "CREATE SEQUENCE IF NOT EXISTS person_key",
    """CREATE TABLE IF NOT EXISTS persons (
        pid VARCHAR PRIMARY KEY, pkey BIGINT NOT NULL DEFAULT nextval('person_key'))""",
    """CREATE TABLE IF NOT EXISTS cameras (
        camera_id VARCHAR PRIMARY KEY, lat DOUBLE, lon DOUBLE, name VARCHAR, site VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS seen_at (
        sighting_id BIGINT NOT NULL, pid VARCHAR NOT NULL, camera_id VARCHAR NOT NULL,
        ts TIMESTAMPTZ NOT NULL, confidence DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS contacts (
        pid_a VARCHAR NOT NULL, pid_b VARCHAR NOT NULL, ka BIGINT NOT NULL, kb BIGINT NOT NULL,
        score DOUBLE NOT NULL,
        p_value DOUBLE, q_value DOUBLE, meetings BIGINT NOT NULL, days BIGINT NOT NULL,
        places BIGINT NOT NULL, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ,
        CHECK (pid_a < pid_b))""",
    """CREATE TABLE IF NOT EXISTS transitions (
        camera_from VARCHAR NOT NULL, camera_to VARCHAR NOT NULL, count BIGINT NOT NULL,
        median_travel_s DOUBLE, PRIMARY KEY (camera_from, camera_to))""",
    "CREATE INDEX IF NOT EXISTS seen_at_pid ON seen_at (pid)",
)


def _upsert_statements(
    table: str,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    order: str = "",
    source: str = _SRC,
) -> tuple[str, str]:
    """DELETE the rows of ``table`` whose key is in ``source`` (the registered frame, or a
    constant query over it) with other values, then INSERT the rows of ``source`` whose key
    ``table`` lacks. Names come from the constants below only."""
    on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    changed = " OR ".join(f"t.{v} IS DISTINCT FROM s.{v}" for v in values)
    cols = ", ".join((*keys, *values))
    src_cols = ", ".join(f"s.{c}" for c in (*keys, *values))
    delete = f"DELETE FROM {table} AS t USING {source} AS s WHERE {on} AND ({changed})"
    insert = (
        f"INSERT INTO {table} ({cols}) SELECT {src_cols} FROM {source} AS s "
        f"ANTI JOIN {table} AS t ON {on} {order}"
    )
    return delete, insert


# -- writes (the registered frame is _SRC) ---------------------------------------------------
_NEW_PERSONS = """
    INSERT INTO persons (pid)
    SELECT DISTINCT s.pid FROM ({ids}) AS s(pid) ANTI JOIN persons p ON p.pid = s.pid"""
_NEW_CAMERAS = """
    INSERT INTO cameras (camera_id)
    SELECT DISTINCT s.camera_id FROM ({ids}) AS s(camera_id)
    ANTI JOIN cameras c ON c.camera_id = s.camera_id"""
_INSERT_PERSONS_OF_SIGHTINGS = _NEW_PERSONS.format(ids=f"SELECT pid FROM {_SRC}")
_INSERT_CAMERAS_OF_SIGHTINGS = _NEW_CAMERAS.format(ids=f"SELECT camera_id FROM {_SRC}")
_INSERT_PERSONS_OF_CONTACTS = _NEW_PERSONS.format(
    ids=f"SELECT pid_a FROM {_SRC} UNION ALL SELECT pid_b FROM {_SRC}"
)
_INSERT_CAMERAS_OF_TRANSITIONS = _NEW_CAMERAS.format(
    ids=f"SELECT camera_from FROM {_SRC} UNION ALL SELECT camera_to FROM {_SRC}"
)
_UPSERT_SIGHTINGS = _upsert_statements(
    "seen_at",
    ("sighting_id",),
    ("pid", "camera_id", "ts", "confidence"),
    order="ORDER BY s.pid, s.ts, s.sighting_id",
)
_UPSERT_CAMERAS = _upsert_statements("cameras", ("camera_id",), ("lat", "lon", "name", "site"))
_UPSERT_CONTACTS = _upsert_statements(
    "contacts",
    ("pid_a", "pid_b"),
    (
        "ka",
        "kb",
        "score",
        "p_value",
        "q_value",
        "meetings",
        "days",
        "places",
        "first_ts",
        "last_ts",
    ),
    source=f"""(SELECT c.*, pa.pkey AS ka, pb.pkey AS kb FROM {_SRC} AS c
                JOIN persons AS pa ON pa.pid = c.pid_a JOIN persons AS pb ON pb.pid = c.pid_b)""",
)
_UPSERT_TRANSITIONS = _upsert_statements(
    "transitions", ("camera_from", "camera_to"), ("count", "median_travel_s")
)

# -- reads -----------------------------------------------------------------------------------
_PERSON_KEY = "SELECT pkey FROM persons WHERE pid = $pid"
_TRAJECTORY = """
    SELECT s.sighting_id, s.ts, s.camera_id, c.lat, c.lon, s.confidence
    FROM seen_at s LEFT JOIN cameras c ON c.camera_id = s.camera_id
    WHERE s.pid = $pid"""
_SIGHTINGS_FROM = " AND s.ts >= $start"
_SIGHTINGS_UNTIL = " AND s.ts <= $end"
_PAIR_EVENTS = """
    WITH a AS (SELECT s.sighting_id, s.camera_id, s.ts FROM seen_at s WHERE s.pid = $pid_a{bounds}),
         b AS (SELECT s.sighting_id, s.camera_id, s.ts FROM seen_at s WHERE s.pid = $pid_b{bounds})
    SELECT a.camera_id, a.ts AS ts_a, b.ts AS ts_b,
           a.sighting_id AS sighting_a, b.sighting_id AS sighting_b
    FROM a JOIN b ON a.camera_id = b.camera_id
     AND epoch_us(b.ts) BETWEEN epoch_us(a.ts) - $window_us AND epoch_us(a.ts) + $window_us"""
_EDGE_MIN_SCORE = "score >= $min_score"
_EDGE_FROM = " AND last_ts >= $start"
_EDGE_UNTIL = " AND first_ts <= $end"
_EXPAND = """
    SELECT ka, pid_a, kb, pid_b, score FROM contacts
    WHERE {flt} AND (ka IN (SELECT unnest($keys)) OR kb IN (SELECT unnest($keys)))"""
_EXPAND_ONE = """
    SELECT ka, pid_a, kb, pid_b, score FROM contacts WHERE {flt} AND (ka = $key OR kb = $key)"""
_EGO_EDGES = """
    SELECT ka, kb, score, meetings, days, places, first_ts, last_ts FROM contacts
    WHERE {flt} AND ka IN (SELECT unnest($keys)) AND kb IN (SELECT unnest($keys))"""
_COUNTS = """
    SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM cameras),
           (SELECT count(*) FROM seen_at), (SELECT count(*) FROM contacts),
           (SELECT count(*) FROM transitions)"""

# -- governance ------------------------------------------------------------------------------
_FORGET_SIGHTINGS = "DELETE FROM seen_at WHERE pid = $pid"
_FORGET_CONTACTS = "DELETE FROM contacts WHERE pid_a = $pid OR pid_b = $pid"
_FORGET_PERSON = "DELETE FROM persons WHERE pid = $pid"
_AFFECTED = "_sightgraph_affected"  # temp tables of delete_before
_GONE = "_sightgraph_gone"
_RETENTION = (
    f"CREATE OR REPLACE TEMP TABLE {_AFFECTED} AS SELECT DISTINCT pid FROM seen_at WHERE ts < $cutoff",
    "DELETE FROM seen_at WHERE ts < $cutoff",
    f"""CREATE OR REPLACE TEMP TABLE {_GONE} AS
        SELECT a.pid FROM {_AFFECTED} a ANTI JOIN seen_at s ON s.pid = a.pid""",
    f"""DELETE FROM contacts
        WHERE pid_a IN (SELECT pid FROM {_GONE}) OR pid_b IN (SELECT pid FROM {_GONE})""",
    f"DELETE FROM persons WHERE pid IN (SELECT pid FROM {_GONE})",
    f"DROP TABLE {_AFFECTED}",
    f"DROP TABLE {_GONE}",
)
#: retention of contacts: those whose newest known time (last_ts, else first_ts) is old
_RETENTION_CONTACTS = "DELETE FROM contacts WHERE coalesce(last_ts, first_ts) < $cutoff"
_CLEAR = tuple(f"DELETE FROM {t}" for t in TABLES)


class EmbeddedStore:
    """The :class:`~sightgraph.graph.base.Store` contract on a DuckDB file.

    Parameters
    ----------
    path : str or Path
        The database file (created with its parent folders unless ``read_only``), or
        ``":memory:"`` for a store that lives as long as the object.
    read_only : bool
        Open an existing store for reading only; every write raises UsageError. Several
        read-only processes may share a file; a writable one locks it.

    Raises
    ------
    UsageError
        ``read_only`` with ``":memory:"``, or a read-only path that holds no store.
    StoreUnavailableError
        The file cannot be opened (for example another process holds its write lock).

    Examples
    --------
    >>> store = EmbeddedStore(":memory:")
    >>> store.counts()
    {'persons': 0, 'cameras': 0, 'sightings': 0, 'contacts': 0, 'transitions': 0}
    >>> store.close()
    """

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = path if str(path) == MEMORY else Path(path)
        self.read_only = bool(read_only)
        self._lock = threading.RLock()
        if self.path == MEMORY:
            if self.read_only:
                raise UsageError("an in-memory embedded store cannot be opened read-only")
            target = MEMORY
        else:
            assert isinstance(self.path, Path)
            if self.read_only and not self.path.is_file():
                raise UsageError(
                    f"no embedded store at {self.path}: run `sightgraph load` (or `make demo`) "
                    "first, or open the workdir that holds one (--workdir)"
                )
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        try:
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(
                target, read_only=self.read_only
            )
        except duckdb.Error as exc:
            raise StoreUnavailableError(f"cannot open embedded store {self.path}: {exc}") from exc
        self._con.execute("SET TimeZone = 'UTC'")
        try:
            if self.read_only:
                missing = set(TABLES) - self._table_names()
                if missing:
                    raise UsageError(
                        f"{self.path} is not a sightgraph store (missing tables: "
                        f"{', '.join(sorted(missing))})"
                    )
            else:
                self.ensure_schema()
            self._check_layout()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"EmbeddedStore({str(self.path)!r}, {mode})"

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise UsageError(f"the embedded store {self.path} is closed")
        return self._con

    def _table_names(self) -> set[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {r[0] for r in rows}

    def _check_layout(self) -> None:
        """Refuse a file whose tables lack the columns this version reads."""
        rows = self.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main'"
        ).fetchall()
        missing = sorted(f"{t}.{c}" for t, c in _REQUIRED_COLUMNS if (t, c) not in set(rows))
        if missing:
            raise UsageError(
                f"the embedded store {self.path} was made by another sightgraph version "
                f"(missing {', '.join(missing)}); remove the file and load the lake again"
            )

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or {}).fetchall()

    def _arrays(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer as numpy arrays per column (cheaper than a DataFrame for small answers)."""
        return self.con.execute(sql, params or {}).fetchnumpy()

    def _check_writable(self) -> None:
        if self.read_only:
            raise UsageError(f"the embedded store {self.path} was opened read-only")

    @contextmanager
    def _transaction(self, frame: pd.DataFrame | None = None) -> Iterator[None]:
        """Run the block in one transaction, with ``frame`` registered as _SRC."""
        with self._lock:
            con = self.con
            con.begin()
            if frame is not None:
                con.register(_SRC, frame)
            try:
                yield
            except BaseException:
                con.rollback()
                raise
            else:
                con.commit()
            finally:
                if frame is not None:
                    con.unregister(_SRC)

    # -- schema and writes -----------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the tables and indexes (idempotent)."""
        self._check_writable()
        with self._transaction():
            for ddl in _DDL:
                self._run(ddl)

    def write_cameras(self, cameras: pd.DataFrame) -> int:
        """Upsert cameras; see :meth:`sightgraph.graph.base.Store.write_cameras`."""
        self._check_writable()
        df = prepare_cameras(cameras)
        if df.empty:
            return 0
        with self._transaction(df):
            for sql in _UPSERT_CAMERAS:
                self._run(sql)
        return len(df)

    def write_sightings(self, sightings: pd.DataFrame) -> int:
        """Upsert persons, unknown cameras and sightings; returns distinct sightings written."""
        self._check_writable()
        df = prepare_sightings(sightings)
        if df.empty:
            return 0
        with self._transaction(df):
            self._run(_INSERT_PERSONS_OF_SIGHTINGS)
            self._run(_INSERT_CAMERAS_OF_SIGHTINGS)
            for sql in _UPSERT_SIGHTINGS:
                self._run(sql)
        return len(df)

    def write_contacts(self, contacts: pd.DataFrame) -> int:
        """Upsert CONTACT edges (oriented pid_a < pid_b) and their persons; returns pairs written."""
        self._check_writable()
        df = prepare_contacts(contacts)
        if df.empty:
            return 0
        with self._transaction(df):
            self._run(_INSERT_PERSONS_OF_CONTACTS)
            for sql in _UPSERT_CONTACTS:
                self._run(sql)
        return len(df)

    def write_transitions(self, transitions: pd.DataFrame) -> int:
        """Upsert TRANSITION edges and unknown cameras; returns camera pairs written."""
        self._check_writable()
        df = prepare_transitions(transitions)
        if df.empty:
            return 0
        with self._transaction(df):
            self._run(_INSERT_CAMERAS_OF_TRANSITIONS)
            for sql in _UPSERT_TRANSITIONS:
                self._run(sql)
        return len(df)

    # -- reads -----------------------------------------------------------------------------
    def _key(self, pid: str) -> int | None:
        """The internal integer key of a known pid, None for an unknown one."""
        rows = self._run(_PERSON_KEY, {"pid": pid})
        return int(rows[0][0]) if rows else None

    def trajectory(
        self, pid: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Sightings of ``pid`` with start <= ts <= end; TRAJECTORY_COLUMNS by ts, sighting_id."""
        check_pid(pid)
        lo, hi = check_time_range(start, end)
        sql, params = _TRAJECTORY, {"pid": pid}
        sql, params = _with_bounds(sql, params, lo, hi, _SIGHTINGS_FROM, _SIGHTINGS_UNTIL)
        with self._lock:
            return normalize_trajectory(self._arrays(sql, params))

    def _edge_filter(
        self, min_score: float, lo: pd.Timestamp | None, hi: pd.Timestamp | None
    ) -> tuple[str, dict[str, Any]]:
        return _with_bounds(
            _EDGE_MIN_SCORE, {"min_score": min_score}, lo, hi, _EDGE_FROM, _EDGE_UNTIL
        )

    def _expander(self, flt: str, params: dict[str, Any], key_of: dict[str, int]) -> Expand:
        """The neighbour function of the BFS helpers: one scan of contacts' integer keys per
        level. ``key_of`` maps every pid met so far to its key (seed it with the roots)."""
        many, one = _EXPAND.format(flt=flt), _EXPAND_ONE.format(flt=flt)

        def expand(frontier: Sequence[str]) -> list[tuple[str, str, float]]:
            if len(frontier) == 1:
                rows = self._run(one, {**params, "key": key_of[frontier[0]]})
            else:
                rows = self._run(many, {**params, "keys": [key_of[p] for p in frontier]})
            members = set(frontier)
            out = []
            for ka, a, kb, b, score in rows:
                key_of[a], key_of[b] = ka, kb
                if a in members:
                    out.append((a, b, score))
                if b in members:
                    out.append((b, a, score))
            return out

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
        among them; see :meth:`sightgraph.graph.base.Store.ego_network`."""
        check_pid(pid)
        hops = check_hops(hops)
        min_score = check_min_score(min_score)
        lo, hi = check_time_range(start, end)
        per_node = check_limit(per_node, "per_node")
        max_nodes = check_limit(max_nodes, "max_nodes")
        limit = check_limit(limit, "limit")
        flt, params = self._edge_filter(min_score, lo, hi)
        with self._lock:
            key = self._key(pid)
            if key is None:
                return EgoNetwork(
                    normalize_ego_nodes({"pid": [], "hop": []}),
                    normalize_edges({c: [] for c in EGO_EDGE_COLUMNS}),
                )
            key_of = {pid: key}
            found = find_hops_bounded(
                pid, hops, self._expander(flt, params, key_of), per_node, max_nodes
            )
            dist = found.dist
            nodes = {"pid": list(dist), "hop": list(dist.values())}
            edges = self._arrays(
                _EGO_EDGES.format(flt=flt), {**params, "keys": [key_of[p] for p in dist]}
            )
        # the searches met every node, so their keys name the edges' ends (no string scan)
        pid_of = {key_of[p]: p for p in dist}
        edges["pid_a"] = [pid_of[k] for k in edges.pop("ka").tolist()]
        edges["pid_b"] = [pid_of[k] for k in edges.pop("kb").tolist()]
        return bounded_ego(nodes, edges, found, limit)

    def pair_events(
        self,
        pid_a: str,
        pid_b: str,
        window_s: float = 60.0,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Co-location events of two subjects; see :meth:`sightgraph.graph.base.Store.pair_events`."""
        check_pid(pid_a, "pid_a")
        check_pid(pid_b, "pid_b")
        if pid_a == pid_b:
            raise UsageError(f"pid_a and pid_b must be two different subjects (both are {pid_a!r})")
        window_us = check_window(window_s)
        lo, hi = check_time_range(start, end)
        if pid_b < pid_a:
            pid_a, pid_b = pid_b, pid_a
        bounds, params = _with_bounds(
            "",
            {"pid_a": pid_a, "pid_b": pid_b, "window_us": window_us},
            lo,
            hi,
            _SIGHTINGS_FROM,
            _SIGHTINGS_UNTIL,
        )
        with self._lock:
            return normalize_pair_events(self._arrays(_PAIR_EVENTS.format(bounds=bounds), params))

    def shortest_connection(
        self, pid_a: str, pid_b: str, max_hops: int = 4, min_score: float = 0.0
    ) -> list[str]:
        """Lexicographically smallest shortest CONTACT path; see
        :meth:`sightgraph.graph.base.Store.shortest_connection`."""
        check_pid(pid_a, "pid_a")
        check_pid(pid_b, "pid_b")
        max_hops = check_hops(max_hops, "max_hops")
        min_score = check_min_score(min_score)
        flt, params = self._edge_filter(min_score, None, None)
        with self._lock:
            key_a, key_b = self._key(pid_a), self._key(pid_b)
            if key_a is None or key_b is None:
                return []
            expand = self._expander(flt, params, {pid_a: key_a, pid_b: key_b})
            return find_smallest_shortest_path(pid_a, pid_b, max_hops, expand)

    def counts(self) -> dict[str, int]:
        """Rows per table: persons, cameras, sightings, contacts, transitions."""
        with self._lock:
            row = self._run(_COUNTS)[0]
        keys = ("persons", "cameras", "sightings", "contacts", "transitions")
        return {k: int(v) for k, v in zip(keys, row, strict=True)}

    # -- governance ------------------------------------------------------------------------
    def forget(self, pid: str) -> dict[str, int]:
        """Delete the person, its sightings and its contacts; returns what was removed."""
        check_pid(pid)
        self._check_writable()
        with self._transaction():
            sightings = self._run(_FORGET_SIGHTINGS, {"pid": pid})[0][0]
            contacts = self._run(_FORGET_CONTACTS, {"pid": pid})[0][0]
            persons = self._run(_FORGET_PERSON, {"pid": pid})[0][0]
        return {"persons": int(persons), "sightings": int(sightings), "contacts": int(contacts)}

    def compact(self) -> int:
        """Rewrite the store's file so that nothing of deleted rows is left in it; returns its
        new size in bytes (0 for an in-memory store).

        DuckDB marks the blocks of deleted rows free but does not overwrite them, and neither
        ``CHECKPOINT`` nor ``VACUUM`` does: the bytes of a forgotten pid stay in the file. So
        the live tables (with their sequence and indexes) are copied into a new file beside it
        (``COPY FROM DATABASE``), which is synced and renamed over the old one; the connection
        is then reopened on the new file. A crash before the rename leaves the old file intact
        and a hidden ``.<name>.compact-*.tmp`` beside it (removed by the next compaction); run
        forget again to finish. A process that still has the old file open (none can write it
        meanwhile: DuckDB admits one writing process) reads the old file until it reopens.
        """
        self._check_writable()
        if not isinstance(self.path, Path):
            return 0
        import os
        import uuid

        path = self.path
        with self._lock:
            for old in path.parent.glob(f".{path.name}.compact-*.tmp*"):
                old.unlink(missing_ok=True)
            tmp = path.with_name(f".{path.name}.compact-{uuid.uuid4().hex[:8]}.tmp")
            con = self.con
            con.execute("CHECKPOINT")
            db = con.execute("SELECT current_database()").fetchone()
            assert db is not None
            quoted_db = '"' + str(db[0]).replace('"', '""') + '"'
            quoted_tmp = "'" + str(tmp).replace("'", "''") + "'"
            try:
                con.execute(f"ATTACH {quoted_tmp} AS sightgraph_compact")
                try:
                    con.execute(f"COPY FROM DATABASE {quoted_db} TO sightgraph_compact")
                    con.execute("CHECKPOINT sightgraph_compact")
                finally:
                    con.execute("DETACH sightgraph_compact")
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            except BaseException:
                tmp.unlink(missing_ok=True)
                Path(f"{tmp}.wal").unlink(missing_ok=True)
                raise
            con.close()
            self._con = None
            os.replace(tmp, path)
            Path(f"{path}.wal").unlink(missing_ok=True)  # closed with a checkpoint: stale
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            try:
                self._con = duckdb.connect(str(path))
            except duckdb.Error as exc:
                raise StoreUnavailableError(f"cannot reopen embedded store {path}: {exc}") from exc
            self._con.execute("SET TimeZone = 'UTC'")
            return path.stat().st_size

    def delete_before(self, cutoff: pd.Timestamp) -> dict[str, int]:
        """Retention: delete sightings with ts < cutoff, then the persons this left without
        sightings and their contacts; returns {'sightings', 'persons', 'contacts'} removed."""
        self._check_writable()
        cut = check_cutoff(cutoff)
        params = {"cutoff": cut.to_pydatetime()}
        with self._transaction():
            create_affected, delete_sightings, create_gone, del_contacts, del_persons, *drops = (
                _RETENTION
            )
            self._run(create_affected, params)
            sightings = self._run(delete_sightings, params)[0][0]
            self._run(create_gone)
            contacts = self._run(del_contacts)[0][0]
            persons = self._run(del_persons)[0][0]
            for sql in drops:
                self._run(sql)
        return {"sightings": int(sightings), "persons": int(persons), "contacts": int(contacts)}

    def delete_contacts_before(self, cutoff: pd.Timestamp) -> dict[str, int]:
        """Retention of contacts: delete the CONTACT edges whose newest known time (``last_ts``,
        else ``first_ts``) is before cutoff; edges without times stay. Returns {'contacts'}."""
        self._check_writable()
        cut = check_cutoff(cutoff)
        with self._transaction():
            contacts = self._run(_RETENTION_CONTACTS, {"cutoff": cut.to_pydatetime()})[0][0]
        return {"contacts": int(contacts)}

    def clear(self) -> None:
        """Remove every row of every table (the schema stays)."""
        self._check_writable()
        with self._transaction():
            for sql in _CLEAR:
                self._run(sql)

    def close(self) -> None:
        """Close the connection (idempotent); a closed store raises UsageError when used."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _with_bounds(
    sql: str,
    params: dict[str, Any],
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    lo_clause: str,
    hi_clause: str,
) -> tuple[str, dict[str, Any]]:
    """Append the constant bound clauses that apply, with their values as parameters."""
    params = dict(params)
    if lo is not None:
        sql += lo_clause
        params["start"] = lo.to_pydatetime()
    if hi is not None:
        sql += hi_clause
        params["end"] = hi.to_pydatetime()
    return sql, params
