"""Neo4j-specific behaviour of :class:`sightgraph.graph.neo4j_store.Neo4jStore`, against the
real server at ``NEO4J_URI`` (the shared contract is in test_store_contract.py): timestamps keep
every microsecond, the schema is there and idempotent, duplicate edges are repaired, small
batches give the same answers, only registered Cypher texts reach the driver, and connection
problems become one clear line naming the URI."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import neo4j
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from sightgraph.errors import StoreUnavailableError, UsageError
from sightgraph.graph import cypher
from sightgraph.graph.base import Store
from sightgraph.graph.neo4j_store import Neo4jStore, _run
from tests.graph.test_store_contract import (
    WEIRD_IDS,
    contacts_frame,
    random_world,
    sightings_frame,
    transitions_frame,
    write_world,
)

pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="needs NEO4J_URI"),
]

TS = "datetime64[us, UTC]"


@pytest.fixture
def neo(request: pytest.FixtureRequest) -> Neo4jStore:
    """The session's Neo4j store (tests/graph/conftest.py), emptied."""
    store = request.getfixturevalue("neo4j_backend")
    store.clear()
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw(store: Neo4jStore, query: str, **params: Any) -> list[list[Any]]:
    """Run a test's own statement (values as parameters) on the store's driver."""
    records, _, _ = store.driver.execute_query(query, params, database_=store.database)
    return [list(r.values()) for r in records]


# --- timestamps ----------------------------------------------------------------------------

EDGE_TIMES = [
    "2024-03-01T08:00:00.000001Z",
    "2024-03-01T08:00:00.999999Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "1969-12-31T23:59:59Z",
    "1969-12-31T23:59:58.500000Z",
    "1900-02-28T12:34:56.123456Z",
    "1677-09-21T00:12:43.145224Z",  # before the nanosecond range of pandas
    "0001-01-01T00:00:00.000001Z",
    "9999-12-31T23:59:59.999999Z",
]


def test_timestamps_round_trip_to_the_microsecond(neo: Neo4jStore) -> None:
    """Sightings at each of EDGE_TIMES come back exactly (also before 1970, where Neo4j's
    epochSeconds truncates), and they are stored as DateTime values in UTC."""
    ts = pd.Series([pd.Timestamp(t) for t in EDGE_TIMES], dtype=TS)
    frame = pd.DataFrame(
        {
            "sighting_id": np.arange(len(ts), dtype="int64"),
            "pid": "a",
            "camera_id": "c1",
            "ts": ts,
            "confidence": 0.5,
        }
    )
    neo.write_sightings(frame)
    got = neo.trajectory("a")
    want = ts.sort_values(kind="stable").reset_index(drop=True)
    assert got["ts"].dtype == TS
    assert_frame_equal(got[["ts"]], want.to_frame("ts"))
    kinds = raw(neo, "MATCH ()-[r:SEEN_AT]->() RETURN DISTINCT valueType(r.ts)")
    assert kinds == [["ZONED DATETIME NOT NULL"]]
    # bounds one microsecond either side of a pre-1970 time select exactly it
    t = pd.Timestamp("1969-12-31T23:59:59.999999Z")
    one = pd.Timedelta(microseconds=1)
    assert neo.trajectory("a", start=t, end=t)["ts"].tolist() == [t]
    assert neo.trajectory("a", start=t + one, end=t + one)["ts"].tolist() == [t + one]


def test_contact_times_round_trip_with_empty_ones(neo: Neo4jStore) -> None:
    """first_ts/last_ts keep microseconds; an empty one stays empty (NaT)."""
    c = contacts_frame([("a", "b", 1.0, 0.000001, 10.5), ("a", "c", 2.0, None, None)])
    neo.write_contacts(c)
    edges = neo.ego_network("a").edges
    assert edges["first_ts"].tolist()[0] == c["first_ts"][0]
    assert edges["last_ts"].tolist()[0] == c["last_ts"][0]
    assert edges["first_ts"].isna().tolist() == [False, True]
    assert edges["last_ts"].dtype == TS


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    xs=st.lists(
        st.integers(min_value=-62135596800000000, max_value=253402300799999999),
        min_size=1,
        max_size=40,
    )
)
def test_time_expressions_invert_each_other_on_the_server(neo: Neo4jStore, xs: list[int]) -> None:
    """For any microsecond count from year 1 to 9999, us_from_datetime(datetime_from_us(x))
    is x on the real server (hypothesis)."""
    query = (
        f"UNWIND $xs AS x WITH x, {cypher.datetime_from_us('x')} AS t "
        f"RETURN collect([x, {cypher.us_from_datetime('t')}])"
    )
    rows = raw(neo, query, xs=xs)[0][0]
    assert [a for a, _ in rows] == xs
    assert [b for _, b in rows] == xs


# --- read plans ----------------------------------------------------------------------------


def plan_operators(store: Neo4jStore, query: str, **params: Any) -> list[str]:
    """The operator names of the plan the real server makes for ``query`` (EXPLAIN: not run)."""
    _, summary, _ = store.driver.execute_query("EXPLAIN " + query, params, database_=store.database)
    names: list[str] = []

    def walk(op: dict[str, Any]) -> None:
        names.append(str(op["operatorType"]).split("@")[0])
        for child in op.get("children", []):
            walk(child)

    walk(summary.plan)
    return names


@pytest.mark.parametrize("name", ["TRAJECTORY", "EXPAND_CONTACTS", "EGO_EDGES", "PAIR_SIGHTINGS"])
def test_per_subject_reads_seek_and_expand_never_scan_or_join(neo: Neo4jStore, name: str) -> None:
    """The reads behind a trajectory or an ego network start at an index seek and walk each
    subject's own edges: no label or node scan, no Cartesian product of the node list with
    itself and no Expand(Into) per pair of nodes (the ego network's edges once planned that
    way: n^2 pair checks, 766,000 db hits for 91 nodes at 1M sightings)."""
    everyone = [f"p{i:03d}" for i in range(80)]
    rows = [(a, b, 1.0, None, None) for i, a in enumerate(everyone) for b in everyone[i + 1 :]]
    neo.write_contacts(contacts_frame(rows))
    neo.write_sightings(sightings_frame([(1, "p000", "c1", 0, 1.0)]))
    for k in (3, 60):  # the planner buckets the size of list parameters; both buckets
        pids = everyone[:k]
        params = {"pid": pids[0], "pids": pids[:2], "frontier": pids, "nodes": pids}
        params |= {"min_score": 0.0, "start_us": None, "end_us": None}
        ops = plan_operators(neo, getattr(cypher, name), **params)
        assert any("IndexSeek" in op for op in ops), ops
        for bad in ("CartesianProduct", "Expand(Into)", "AllNodesScan", "NodeByLabelScan"):
            assert bad not in ops, (name, k, ops)


# --- schema and writes -----------------------------------------------------------------------


def test_schema_is_idempotent_and_complete(neo: Neo4jStore) -> None:
    """ensure_schema twice is fine; afterwards Person.pid and Camera.camera_id are unique and
    SEEN_AT has online range indexes on ts and sighting_id."""
    neo.ensure_schema()
    neo.ensure_schema()
    cons = raw(neo, "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties")
    assert ["UNIQUENESS", ["Person"], ["pid"]] in cons
    assert ["UNIQUENESS", ["Camera"], ["camera_id"]] in cons
    idx = raw(neo, "SHOW INDEXES YIELD type, entityType, labelsOrTypes, properties, state")
    for prop in ("ts", "sighting_id"):
        assert ["RANGE", "RELATIONSHIP", ["SEEN_AT"], [prop], "ONLINE"] in idx
    neo.write_sightings(sightings_frame([(1, "a", "c1", 0, 1.0)]))
    with pytest.raises(neo4j.exceptions.ConstraintError):
        raw(neo, "CREATE (:Person {pid: $pid})", pid="a")


def test_duplicate_and_stray_edges_are_repaired(neo: Neo4jStore) -> None:
    """Sighting 1 stored twice (e.g. by two concurrent loaders) and sighting 2 with a wrong
    camera: writing the frame again leaves exactly one correct edge for each."""
    frame = sightings_frame([(1, "a", "c1", 0, 0.5), (2, "a", "c1", 5, None)])
    neo.write_sightings(frame)
    raw(
        neo,
        "MATCH (p:Person {pid: $pid}), (c:Camera {camera_id: $cam}) "
        "CREATE (p)-[:SEEN_AT {sighting_id: 1, ts: datetime($ts), confidence: 0.5}]->(c)",
        pid="a",
        cam="c1",
        ts="2024-03-01T08:00:00Z",
    )
    raw(
        neo,
        "MATCH ()-[r:SEEN_AT {sighting_id: 2}]->() DELETE r WITH 1 AS x "
        "MATCH (p:Person {pid: $pid}) MERGE (c:Camera {camera_id: $cam}) "
        "CREATE (p)-[:SEEN_AT {sighting_id: 2, ts: datetime($ts)}]->(c)",
        pid="a",
        cam="elsewhere",
        ts="2024-03-01T08:00:05Z",
    )
    assert neo.counts()["sightings"] == 3
    neo.write_sightings(frame)
    assert neo.counts()["sightings"] == 2
    got = neo.trajectory("a")
    assert got["sighting_id"].tolist() == [1, 2]
    assert got["camera_id"].tolist() == ["c1", "c1"]
    assert got["confidence"].isna().tolist() == [False, True]


def test_small_batches_give_the_same_graph(neo: Neo4jStore) -> None:
    """A store writing 7 rows per transaction ends with the same graph as one batch."""
    w = random_world(1)
    write_world(neo, w)
    pids = sorted(w.persons)
    before = {p: neo.trajectory(p) for p in pids}
    ego = {p: neo.ego_network(p, hops=2) for p in pids[:5]}
    counts = neo.counts()
    neo.clear()
    small = Neo4jStore(neo.driver, database=neo.database, batch_size=7)
    write_world(small, w)
    assert small.counts() == counts
    for p in pids:
        assert_frame_equal(small.trajectory(p), before[p])
    for p, e in ego.items():
        got = small.ego_network(p, hops=2)
        assert_frame_equal(got.nodes, e.nodes)
        assert_frame_equal(got.edges, e.edges)
    small.clear()  # 7 at a time
    assert set(small.counts().values()) == {0}


def test_delete_before_in_small_batches(neo: Neo4jStore) -> None:
    """Retention with batch_size 2 over 9 old sightings of 3 subjects: all go, in 5 batches;
    the subjects emptied and their contact go; the one with a recent sighting stays."""
    rows = [(i, f"p{i % 3}", "c1", float(i), 1.0) for i in range(9)]
    rows.append((100, "p0", "c1", 1000.0, 1.0))
    small = Neo4jStore(neo.driver, database=neo.database, batch_size=2)
    small.write_sightings(sightings_frame(rows))
    small.write_contacts(contacts_frame([("p1", "p2", 1, 0, 1), ("p0", "p1", 1, 0, 1)]))
    cutoff = pd.Timestamp("2024-03-01T08:00:00Z") + pd.Timedelta(seconds=500)
    assert small.delete_before(cutoff) == {"sightings": 9, "persons": 2, "contacts": 2}
    assert small.counts()["persons"] == 1


# --- only registered Cypher reaches the driver ------------------------------------------------


class SpyDriver:
    """The real driver, recording every (query, parameters) sent through a transaction."""

    def __init__(self, driver: neo4j.Driver) -> None:
        self._driver = driver
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    def session(self, **kwargs: Any) -> Any:
        spy = self

        class Tx:
            def __init__(self, tx: Any) -> None:
                self._tx = tx

            def __getattr__(self, name: str) -> Any:
                return getattr(self._tx, name)

            def __enter__(self) -> Tx:
                self._tx.__enter__()
                return self

            def __exit__(self, *exc: Any) -> Any:
                return self._tx.__exit__(*exc)

            def run(self, query: str, parameters: dict[str, Any] | None = None) -> Any:
                spy.sent.append((query, dict(parameters or {})))
                return self._tx.run(query, parameters)

        class Session:
            def __init__(self, session: Any) -> None:
                self._session = session

            def __enter__(self) -> Session:
                self._session.__enter__()
                return self

            def __exit__(self, *exc: Any) -> Any:
                return self._session.__exit__(*exc)

            def begin_transaction(self, **kw: Any) -> Tx:
                return Tx(self._session.begin_transaction(**kw))

        return Session(self._driver.session(**kwargs))


def test_only_registered_texts_reach_the_real_driver(neo: Neo4jStore) -> None:
    """Every method, fed ids full of quotes, backslashes and Cypher, sends only texts of
    cypher.QUERIES; the ids travel in the parameters only, and come back unchanged."""
    spy = SpyDriver(neo.driver)
    store = Neo4jStore(spy, database=neo.database)  # type: ignore[arg-type]
    assert isinstance(store, Store)
    ids = WEIRD_IDS
    n = len(ids)
    store.ensure_schema()
    store.write_sightings(
        sightings_frame([(i, ids[i], ids[(i + 1) % n], float(i), 0.5) for i in range(n)])
    )
    store.write_contacts(contacts_frame([(ids[i], ids[(i + 1) % n], 1.0, 0, 5) for i in range(n)]))
    store.write_transitions(
        transitions_frame([(ids[i], ids[(i + 2) % n], 1, 2.0) for i in range(n)])
    )
    for pid in ids:
        assert store.trajectory(pid, start=pd.Timestamp("2024-03-01T08:00:00Z"))["sighting_id"].size
    assert store.ego_network(ids[0], hops=2).nodes["pid"].size == 5
    assert store.shortest_connection(ids[0], ids[3]) == ids[:4]
    store.pair_events(ids[0], ids[1])
    store.write_sightings(
        sightings_frame([(i, ids[i], ids[(i + 1) % n], float(i), 0.5) for i in range(n)])
    )
    store.forget(ids[4])
    store.delete_before(pd.Timestamp("2024-03-01T08:00:03Z"))
    store.counts()
    store.clear()
    assert len(spy.sent) > 30
    for query, _ in spy.sent:
        assert query in cypher.QUERIES
    sent_values = {
        v for _, p in spy.sent for vals in p.values() if isinstance(vals, list) for v in vals
    }
    assert set(ids) <= sent_values


def test_run_refuses_an_unregistered_text(neo: Neo4jStore) -> None:
    with pytest.raises(ValueError, match="not a sightgraph"):
        neo._execute(lambda tx: _run(tx, "MATCH (n) DETACH DELETE n"), "test")
    with pytest.raises(ValueError, match="not a sightgraph"):  # not even with other spacing
        neo._execute(lambda tx: _run(tx, cypher.COUNTS + " "), "test")


# --- connections -------------------------------------------------------------------------------


def test_connect_to_nothing_fails_fast_with_the_uri() -> None:
    """No server on the port: StoreUnavailableError (a UsageError: CLI exit 2) naming the URI,
    on one line, within the connect timeout."""
    uri = f"bolt://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        Neo4jStore.connect(uri, "neo4j", "x", timeout_s=3)
    assert time.monotonic() - t0 < 10
    msg = str(info.value)
    assert uri in msg and "\n" not in msg and "[" not in msg
    assert isinstance(info.value, UsageError)


@pytest.mark.parametrize("uri", ["http://127.0.0.1:7687", "bolt://", "not a uri"])
def test_connect_with_a_malformed_uri_is_a_usage_error(uri: str) -> None:
    with pytest.raises(UsageError):
        Neo4jStore.connect(uri, "neo4j", "x", timeout_s=2)


def test_connect_and_close(neo: Neo4jStore) -> None:
    """connect() checks the server and owns its driver: close() closes it, and a closed store
    refuses work with a UsageError; the session's shared driver is untouched."""
    store = Neo4jStore.connect(os.environ["NEO4J_URI"], "neo4j", "x")
    assert store.counts() == neo.counts()
    driver = store.driver
    store.close()
    store.close()
    with pytest.raises(UsageError, match="closed"):
        store.counts()
    with pytest.raises(Exception):  # noqa: B017 - the driver's own "closed" error
        driver.verify_connectivity()
    assert neo.counts()["persons"] == 0


def test_constructor_validates_its_arguments(neo: Neo4jStore) -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(UsageError, match="batch_size"):
            Neo4jStore(neo.driver, batch_size=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="retry_s"):
        Neo4jStore(neo.driver, retry_s=float("nan"))
