"""Every Cypher statement the Neo4j store runs (DESIGN §3, §5), as module constants.

Rules this module keeps, and ``tests/graph/test_neo4j_cypher.py`` checks:

* values travel only as ``$parameters``; no statement contains a string literal (no quote
  character at all), so no id can ever be part of a query text;
* labels and relationship types come only from the allow-lists :data:`LABELS` and
  :data:`REL_TYPES` (backtick-quoted by :func:`quote_identifier`);
* batches travel as parallel column lists (``$pid``, ``$camera_id``, ...) unwound by row number,
  ``UNWIND range(0, size($col) - 1) AS i``: the Bolt encoding of a few long lists costs a quarter
  of that of as many small maps (measured: 50,000 sightings in 0.15 s instead of 0.65 s);
* every statement is registered in :data:`QUERIES`; the store refuses to run any other text;
* every lookup forces an index seek (``USING INDEX SEEK``): plans are cached while the graph
  is empty, and a planner that then believes an index empty scans all of it per row (a 1M load
  stalled for minutes on its second batch; a plain ``USING INDEX`` hint is met by a scan too).

Timestamps are stored as Neo4j ``DateTime`` values in UTC (so ``r.ts >= datetime(...)`` works
in the Neo4j Browser and the range index on ``SEEN_AT.ts`` serves time filters); they travel
as integer microseconds since the epoch and are converted on the server by the expressions
that :func:`datetime_from_us` and :func:`us_from_datetime` build, which keep every microsecond
(also before 1970).
"""

from __future__ import annotations

import re

__all__ = [
    "LABELS",
    "QUERIES",
    "REL_TYPES",
    "SCHEMA",
    "datetime_from_us",
    "delete_nodes_batch",
    "delete_relationships_batch",
    "quote_identifier",
    "us_from_datetime",
]

#: node labels the store may name in a statement
LABELS = ("Person", "Camera")
#: relationship types the store may name in a statement
REL_TYPES = ("SEEN_AT", "CONTACT", "TRANSITION")

_QUERIES: set[str] = set()
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a parameter, a variable or a property of one, optionally indexed by a variable: $ts_us[i], r.ts
_OPERAND = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?(?:\[[a-z]\])?")


def _query(text: str) -> str:
    """Register a statement (whitespace normalised) and return it."""
    text = " ".join(text.split())
    if "'" in text or '"' in text:
        raise ValueError(f"a sightgraph Cypher statement holds a string literal: {text}")
    _QUERIES.add(text)
    return text


def quote_identifier(name: str, allowed: tuple[str, ...]) -> str:
    """Backtick-quote a label or relationship type that is on an allow-list.

    Parameters
    ----------
    name : str
        The label or type.
    allowed : tuple of str
        :data:`LABELS` or :data:`REL_TYPES`.

    Raises
    ------
    ValueError
        ``name`` is not on the list (identifiers never come from data).
    """
    if name not in allowed or not _IDENT.fullmatch(name):
        raise ValueError(f"{name!r} is not an allowed label or relationship type")
    return f"`{name}`"


def _operand(expr: str) -> str:
    if not _OPERAND.fullmatch(expr):
        raise ValueError(f"not a Cypher variable, property or parameter: {expr!r}")
    return expr


def datetime_from_us(expr: str, nullable: bool = True) -> str:
    """A Cypher expression turning integer microseconds since the epoch into a UTC DateTime.

    ``datetime.fromepoch`` wants whole seconds and 0 <= nanoseconds < 10^9, so the seconds are
    floored (Cypher's ``/`` and ``%`` truncate towards zero). ``expr`` is a parameter or
    variable name such as ``$ts_us[i]``; with ``nullable`` a null gives null.
    """
    x = _operand(expr)
    frac = f"((({x} % 1000000) + 1000000) % 1000000)"
    conv = f"datetime.fromepoch(({x} - {frac}) / 1000000, {frac} * 1000)"
    return f"CASE WHEN {x} IS NULL THEN null ELSE {conv} END" if nullable else conv


def us_from_datetime(expr: str) -> str:
    """A Cypher expression turning a stored DateTime into integer microseconds since the epoch
    (null stays null). ``epochMillis`` is floored, while ``epochSeconds`` is not before 1970
    (it is ``epochMillis / 1000`` truncated), so the milliseconds are the base."""
    t = _operand(expr)
    return f"({t}.epochMillis * 1000 + {t}.microsecond % 1000)"


def delete_relationships_batch(rel_type: str) -> str:
    """Delete up to ``$limit`` relationships of an allowed type; returns ``deleted``."""
    t = quote_identifier(rel_type, REL_TYPES)
    return _query(f"MATCH ()-[r:{t}]->() WITH r LIMIT $limit DELETE r RETURN count(*) AS deleted")


def delete_nodes_batch(label: str) -> str:
    """Delete up to ``$limit`` nodes of an allowed label (with any relationship left on them);
    returns ``deleted``."""
    lab = quote_identifier(label, LABELS)
    return _query(f"MATCH (n:{lab}) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted")


# --- schema -------------------------------------------------------------------------------------

#: constraints and indexes, each idempotent (IF NOT EXISTS). SEEN_AT.sighting_id cannot be a
#: uniqueness constraint on Community edition; the store keeps it unique by checking which ids
#: exist before creating (in the same transaction) and the range index makes that check cheap.
SCHEMA = tuple(
    _query(q)
    for q in (
        "CREATE CONSTRAINT sightgraph_person_pid IF NOT EXISTS "
        "FOR (p:Person) REQUIRE p.pid IS UNIQUE",
        "CREATE CONSTRAINT sightgraph_camera_id IF NOT EXISTS "
        "FOR (c:Camera) REQUIRE c.camera_id IS UNIQUE",
        "CREATE INDEX sightgraph_seen_at_ts IF NOT EXISTS FOR ()-[r:SEEN_AT]-() ON (r.ts)",
        "CREATE INDEX sightgraph_seen_at_sighting_id IF NOT EXISTS "
        "FOR ()-[r:SEEN_AT]-() ON (r.sighting_id)",
    )
)
#: wait until the indexes are online (``$timeout_s`` seconds at most)
AWAIT_INDEXES = _query("CALL db.awaitIndexes($timeout_s)")

# --- writes ---------------------------------------------------------------------------------------

#: ``$pids``: distinct pids
MERGE_PERSONS = _query("UNWIND $pids AS pid MERGE (:Person {pid: pid})")
#: ``$camera_ids``: distinct camera ids; unknown cameras get no coordinates
MERGE_CAMERA_IDS = _query("UNWIND $camera_ids AS camera_id MERGE (:Camera {camera_id: camera_id})")
#: columns camera_id, lat, lon, name, site (null removes a property)
UPSERT_CAMERAS = _query(
    """
    UNWIND range(0, size($camera_id) - 1) AS i
    MERGE (c:Camera {camera_id: $camera_id[i]})
    SET c.lat = $lat[i], c.lon = $lon[i], c.name = $name[i], c.site = $site[i]
    RETURN count(*) AS written
    """
)
#: the ``$sighting_id`` values that are stored already, as one list (once per stored edge;
#: one record instead of one per row: streaming 100k records costs seconds, one list 0.1 s)
EXISTING_SIGHTING_IDS = _query(
    """
    UNWIND $sighting_id AS sid
    MATCH ()-[r:SEEN_AT {sighting_id: sid}]->() USING INDEX SEEK r:SEEN_AT(sighting_id)
    RETURN collect(sid) AS sighting_ids
    """
)
#: of the stored sightings given as columns sighting_id, pid, camera_id, ts_us, confidence,
#: the ids whose stored edge differs in any value (compared on the server: nothing to send back)
CHANGED_SIGHTINGS = _query(
    f"""
    UNWIND range(0, size($sighting_id) - 1) AS i
    MATCH (p)-[r:SEEN_AT {{sighting_id: $sighting_id[i]}}]->(c)
    USING INDEX SEEK r:SEEN_AT(sighting_id)
    WITH i, p, r, c
    WHERE NOT (p.pid = $pid[i] AND c.camera_id = $camera_id[i]
               AND {us_from_datetime("r.ts")} = $ts_us[i]
               AND coalesce(r.confidence = $confidence[i],
                            r.confidence IS NULL AND $confidence[i] IS NULL))
    RETURN collect(DISTINCT $sighting_id[i]) AS sighting_ids
    """
)
#: delete every SEEN_AT edge with one of these ``$sighting_id`` values
DELETE_SIGHTINGS = _query(
    """
    UNWIND $sighting_id AS sid
    MATCH ()-[r:SEEN_AT {sighting_id: sid}]->() USING INDEX SEEK r:SEEN_AT(sighting_id)
    DELETE r
    RETURN count(*) AS deleted
    """
)
#: columns sighting_id, pid, camera_id, ts_us, confidence; persons and cameras exist already
CREATE_SIGHTINGS = _query(
    f"""
    UNWIND range(0, size($sighting_id) - 1) AS i
    WITH i, $pid[i] AS pid, $camera_id[i] AS camera_id, $ts_us[i] AS us
    MATCH (p:Person {{pid: pid}}) USING INDEX SEEK p:Person(pid)
    MATCH (c:Camera {{camera_id: camera_id}}) USING INDEX SEEK c:Camera(camera_id)
    CREATE (p)-[:SEEN_AT {{sighting_id: $sighting_id[i], ts: {datetime_from_us("us", False)},
                          confidence: $confidence[i]}}]->(c)
    RETURN count(*) AS created
    """
)
#: columns pid_a < pid_b, score, p_value, q_value, meetings, days, places, first_us, last_us
UPSERT_CONTACTS = _query(
    f"""
    UNWIND range(0, size($pid_a) - 1) AS i
    WITH i, $pid_a[i] AS pid_a, $pid_b[i] AS pid_b
    MATCH (a:Person {{pid: pid_a}}) USING INDEX SEEK a:Person(pid)
    MATCH (b:Person {{pid: pid_b}}) USING INDEX SEEK b:Person(pid)
    MERGE (a)-[r:CONTACT]->(b)
    SET r.score = $score[i], r.p_value = $p_value[i], r.q_value = $q_value[i],
        r.meetings = $meetings[i], r.days = $days[i], r.places = $places[i],
        r.first_ts = {datetime_from_us("$first_us[i]")},
        r.last_ts = {datetime_from_us("$last_us[i]")}
    RETURN count(*) AS written
    """
)
#: columns camera_from, camera_to, count, median_travel_s
UPSERT_TRANSITIONS = _query(
    """
    UNWIND range(0, size($camera_from) - 1) AS i
    WITH i, $camera_from[i] AS camera_from, $camera_to[i] AS camera_to
    MATCH (a:Camera {camera_id: camera_from}) USING INDEX SEEK a:Camera(camera_id)
    MATCH (b:Camera {camera_id: camera_to}) USING INDEX SEEK b:Camera(camera_id)
    MERGE (a)-[r:TRANSITION]->(b)
    SET r.count = $count[i], r.median_travel_s = $median_travel_s[i]
    RETURN count(*) AS written
    """
)

# --- reads ----------------------------------------------------------------------------------------

_SIGHTING_BOUNDS = (
    f"($start_us IS NULL OR r.ts >= {datetime_from_us('$start_us')})"
    f" AND ($end_us IS NULL OR r.ts <= {datetime_from_us('$end_us')})"
)
_EDGE_FILTER = (
    "r.score >= $min_score"
    f" AND ($start_us IS NULL OR r.last_ts >= {datetime_from_us('$start_us')})"
    f" AND ($end_us IS NULL OR r.first_ts <= {datetime_from_us('$end_us')})"
)

PERSON_EXISTS = _query(
    "MATCH (p:Person {pid: $pid}) USING INDEX SEEK p:Person(pid) RETURN count(p) AS n"
)
# Reads answer with ONE record of column lists, already in the contract's row order: streaming
# one record per row costs ~50 us each in the driver, a few long lists a fraction of that, and
# sorted input makes the final (stable) sort in rows.normalize_* linear. collect() skips nulls,
# so nullable values are collected as NaN (floats) or the int64 that numpy reads as NaT.
_NAN = "(0.0 / 0.0)"
_NAT = "-9223372036854775808"

#: ``$pid`` with optional ``$start_us``, ``$end_us`` (null = open); columns sighting_id, ts_us,
#: camera_id, lat, lon, confidence, ordered by ts, sighting_id
TRAJECTORY = _query(
    f"""
    MATCH (p:Person {{pid: $pid}})-[r:SEEN_AT]->(c:Camera) USING INDEX SEEK p:Person(pid)
    WHERE {_SIGHTING_BOUNDS}
    WITH r, c ORDER BY r.ts, r.sighting_id
    RETURN collect(r.sighting_id) AS sighting_id, collect({us_from_datetime("r.ts")}) AS ts_us,
           collect(c.camera_id) AS camera_id, collect(coalesce(c.lat, {_NAN})) AS lat,
           collect(coalesce(c.lon, {_NAN})) AS lon,
           collect(coalesce(r.confidence, {_NAN})) AS confidence
    """
)
#: the sightings of the ``$pids`` (two subjects) within the bounds, for pair_events; columns
#: pid, sighting_id, camera_id, ts_us
PAIR_SIGHTINGS = _query(
    f"""
    UNWIND $pids AS pid
    MATCH (p:Person {{pid: pid}})-[r:SEEN_AT]->(c:Camera) USING INDEX SEEK p:Person(pid)
    WHERE {_SIGHTING_BOUNDS}
    RETURN collect(pid) AS pid, collect(r.sighting_id) AS sighting_id,
           collect(c.camera_id) AS camera_id, collect({us_from_datetime("r.ts")}) AS ts_us
    """
)
#: qualifying CONTACT edges touching the ``$frontier`` pids; columns pid, other
EXPAND_CONTACTS = _query(
    f"""
    UNWIND $frontier AS pid
    MATCH (p:Person {{pid: pid}})-[r:CONTACT]-(other:Person) USING INDEX SEEK p:Person(pid)
    WHERE {_EDGE_FILTER}
    RETURN collect(pid) AS pid, collect(other.pid) AS other, collect(r.score) AS score
    """
)
#: qualifying CONTACT edges among the ``$nodes`` (each once, stored direction pid_a < pid_b);
#: columns pid_a, pid_b, score, meetings, days, places, first_us, last_us, by pid_a, pid_b.
#: ``b`` has no label on purpose: with ``(b:Person)`` the planner seeks every b of ``$nodes``
#: and runs Expand(Into) for each of the n^2 pairs (766,000 db hits for 91 nodes at 1M
#: sightings); without it each a expands its own edges once (13,000), 4-6x faster.
EGO_EDGES = _query(
    f"""
    UNWIND $nodes AS pid
    MATCH (a:Person {{pid: pid}})-[r:CONTACT]->(b) USING INDEX SEEK a:Person(pid)
    WHERE {_EDGE_FILTER}
    WITH a, r, b WHERE b.pid IN $nodes
    WITH a.pid AS pid_a, b.pid AS pid_b, r ORDER BY pid_a, pid_b
    RETURN collect(pid_a) AS pid_a, collect(pid_b) AS pid_b, collect(r.score) AS score,
           collect(r.meetings) AS meetings, collect(r.days) AS days, collect(r.places) AS places,
           collect(coalesce({us_from_datetime("r.first_ts")}, {_NAT})) AS first_us,
           collect(coalesce({us_from_datetime("r.last_ts")}, {_NAT})) AS last_us
    """
)
#: node and relationship counts (answered from Neo4j's count store)
COUNTS = _query(
    """
    RETURN COUNT { MATCH (n:Person) } AS persons,
           COUNT { MATCH (n:Camera) } AS cameras,
           COUNT { MATCH ()-[r:SEEN_AT]->() } AS sightings,
           COUNT { MATCH ()-[r:CONTACT]->() } AS contacts,
           COUNT { MATCH ()-[r:TRANSITION]->() } AS transitions
    """
)

#: no node at all (of any label): the offline bulk import replaces the whole database
GRAPH_IS_EMPTY = _query("RETURN NOT EXISTS { MATCH (n) } AS empty")

# --- governance -----------------------------------------------------------------------------------

FORGET_SIGHTINGS = _query(
    "MATCH (p:Person {pid: $pid})-[r:SEEN_AT]->() USING INDEX SEEK p:Person(pid) "
    "DELETE r RETURN count(*) AS deleted"
)
FORGET_CONTACTS = _query(
    "MATCH (p:Person {pid: $pid})-[r:CONTACT]-() USING INDEX SEEK p:Person(pid) "
    "DELETE r RETURN count(*) AS deleted"
)
FORGET_PERSON = _query(
    "MATCH (p:Person {pid: $pid}) USING INDEX SEEK p:Person(pid) DETACH DELETE p RETURN count(*) AS deleted"
)
#: one retention batch: delete up to ``$limit`` sightings older than ``$cutoff_us``; returns
#: the pids that lost sightings and how many sightings went
RETENTION_DELETE_BATCH = _query(
    f"""
    MATCH (p)-[r:SEEN_AT]->() USING INDEX SEEK r:SEEN_AT(ts)
    WHERE r.ts < {datetime_from_us("$cutoff_us", False)}
    WITH p, r LIMIT $limit
    DELETE r
    WITH p.pid AS pid, count(*) AS n
    RETURN collect(pid) AS pids, sum(n) AS deleted
    """
)
#: one contacts-retention batch: delete up to ``$limit`` CONTACT edges whose newest known time
#: (last_ts, else first_ts) is before ``$cutoff_us``; edges without times stay
RETENTION_CONTACTS_BATCH = _query(
    f"""
    MATCH ()-[r:CONTACT]->()
    WHERE coalesce(r.last_ts, r.first_ts) < {datetime_from_us("$cutoff_us", False)}
    WITH r LIMIT $limit
    DELETE r
    RETURN count(*) AS deleted
    """
)
#: of the ``$pids``, the persons without any sighting left
PERSONS_WITHOUT_SIGHTINGS = _query(
    """
    UNWIND $pids AS pid
    MATCH (p:Person {pid: pid}) USING INDEX SEEK p:Person(pid)
    WHERE NOT EXISTS { (p)-[:SEEN_AT]->() }
    RETURN collect(p.pid) AS pids
    """
)
#: delete the CONTACT edges touching the ``$pids`` (each edge once)
DELETE_CONTACTS_OF = _query(
    """
    UNWIND $pids AS pid
    MATCH (p:Person {pid: pid})-[r:CONTACT]-() USING INDEX SEEK p:Person(pid)
    WITH DISTINCT r
    DELETE r
    RETURN count(*) AS deleted
    """
)
DELETE_PERSONS = _query(
    """
    UNWIND $pids AS pid
    MATCH (p:Person {pid: pid}) USING INDEX SEEK p:Person(pid)
    DETACH DELETE p
    RETURN count(*) AS deleted
    """
)
#: clear(): relationships first (in batches), then nodes
CLEAR = tuple(delete_relationships_batch(t) for t in REL_TYPES) + tuple(
    delete_nodes_batch(label) for label in LABELS
)

#: every statement the store may run
QUERIES: frozenset[str] = frozenset(_QUERIES)
