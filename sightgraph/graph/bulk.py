"""Bulk load: the first load of a lake into an EMPTY, project-managed Neo4j, offline.

``sightgraph load --lake DIR --store neo4j --bulk``. The online path (:func:`loader.load_lake`)
costs the server ~50 us of CPU per SEEN_AT edge (benchmarks/graph/RESULTS.md); Neo4j's offline
importer (``neo4j-admin database import full``) writes the store files directly instead:

1. check that ``NEO4J_URI`` is the server that ``scripts/neo4j/neo4j.sh`` runs (same state
   dir, ``SIGHTGRAPH_NEO4J_HOME``) on the default database, and that the graph has no node at
   all: the import REPLACES the database;
2. write node and relationship CSV files from the lake, validated exactly as the online path
   validates them (:mod:`sightgraph.graph.rows`: the last row per id wins), in a temporary
   directory;
3. ``neo4j.sh import``: stop the server, import, start it again with the settings it had;
4. create the constraints and indexes (:meth:`Neo4jStore.ensure_schema`).

The graph is the one the online load writes (same labels, types, property names and value
types: ids as strings, ``sighting_id`` and counts as integers, scores and coordinates as
floats, timestamps as UTC ``DateTime``, empty values as absent properties), so the store
answers every query the same way, and an online ``load`` afterwards finds everything stored and
changes nothing. Anything else (a user's own server, Aura, a non-empty graph) is refused with a
one-line UsageError that points to the online load.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from sightgraph.errors import UsageError
from sightgraph.graph.loader import contact_filter, derived_path, derived_tables
from sightgraph.graph.rows import (
    prepare_cameras,
    prepare_contacts,
    prepare_sightings,
    prepare_transitions,
)
from sightgraph.lake import read_cameras, sightings_dataset
from sightgraph.schema import CONTACT_COLUMNS

__all__ = ["NEO4J_SCRIPT", "bulk_load", "managed_uri", "write_import_files"]

#: the script that runs the project-managed server (absent in a non-editable install)
NEO4J_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "neo4j" / "neo4j.sh"

#: edges from which the importer runs with the C2 JIT
_C2_ROWS = 200_000
_ONLINE = "drop --bulk for the normal online load"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_RUNNING = re.compile(r"^running (bolt://127\.0\.0\.1:(\d+)) \(pid \d+\)$")

_SEEN_AT_HEADER = (
    ":START_ID(Person)",
    ":END_ID(Camera)",
    "sighting_id:long",
    "ts:datetime",
    "confidence:double",
)
_PERSON_HEADER = ("pid:ID(Person)",)
_CAMERA_HEADER = (
    "camera_id:ID(Camera)",
    "lat:double",
    "lon:double",
    "name:string",
    "site:string",
)
_CONTACT_HEADER = (
    ":START_ID(Person)",
    ":END_ID(Person)",
    "score:double",
    "p_value:double",
    "q_value:double",
    "meetings:long",
    "days:long",
    "places:long",
    "first_ts:datetime",
    "last_ts:datetime",
)
_TRANSITION_HEADER = (
    ":START_ID(Camera)",
    ":END_ID(Camera)",
    "count:long",
    "median_travel_s:double",
)


def _say(report: Callable[[str], None] | None, text: str) -> None:
    if report is not None:
        report(text)


# --- the target -------------------------------------------------------------------------------


def _script(script: Path | None) -> Path:
    path = NEO4J_SCRIPT if script is None else Path(script)
    if not path.is_file():
        raise UsageError(
            f"--bulk needs the project-managed Neo4j (scripts/neo4j/neo4j.sh, not found at "
            f"{path}); {_ONLINE}"
        )
    return path


def managed_uri(script: Path | None = None) -> str | None:
    """The Bolt URI of the server ``scripts/neo4j/neo4j.sh`` runs for this environment
    (``SIGHTGRAPH_NEO4J_HOME``), or None if it is not running."""
    proc = subprocess.run(
        ["bash", str(_script(script)), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    m = _RUNNING.match(proc.stdout.strip()) if proc.returncode == 0 else None
    return m.group(1) if m else None


def _same_server(uri: str, managed: str) -> bool:
    want = urlsplit(managed)
    try:
        got = urlsplit(uri)
        port = got.port or 7687
    except ValueError:
        return False
    return got.scheme in ("bolt", "neo4j") and got.hostname in _LOCAL_HOSTS and port == want.port


def check_target(uri: str | None, database: str | None, script: Path | None = None) -> str:
    """Refuse (UsageError) unless ``uri`` is the running project-managed server and the
    database is its default one; returns the managed URI."""
    if not uri:
        raise UsageError("--store neo4j needs NEO4J_URI (`make neo4j` starts the managed server)")
    managed = managed_uri(script)
    if managed is None:
        home = os.environ.get("SIGHTGRAPH_NEO4J_HOME") or "<repo>/.neo4j"
        raise UsageError(
            f"--bulk works only on the Neo4j server run by scripts/neo4j/neo4j.sh, and none is "
            f"running for SIGHTGRAPH_NEO4J_HOME={home} (NEO4J_URI is {uri}); {_ONLINE}"
        )
    if not _same_server(uri, managed):
        raise UsageError(
            f"--bulk works only on the Neo4j server run by scripts/neo4j/neo4j.sh ({managed}), "
            f"not on NEO4J_URI {uri}; {_ONLINE}"
        )
    if database not in (None, "", "neo4j"):
        raise UsageError(
            f"--bulk imports into the default database neo4j, not NEO4J_DATABASE={database!r}; "
            f"{_ONLINE}"
        )
    return managed


# --- the import files -----------------------------------------------------------------------


class _Csv:
    """One CSV file in the importer's format: our header line, then pyarrow-written rows (every
    string quoted, quotes doubled, an empty cell is an absent property).

    ``background``: the rows are formatted and written by a thread (pyarrow releases the GIL)
    while the caller prepares the next batch; at most two batches wait, in order."""

    def __init__(self, path: Path, header: tuple[str, ...], *, background: bool = False) -> None:
        self.path = path
        self.rows = 0
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write((",".join(header) + "\n").encode())
        self._writer: pacsv.CSVWriter | None = None
        self._width = len(header)
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sightgraph-csv")
            if background
            else None
        )
        self._pending: list[Future[None]] = []

    def write(self, columns: list[pa.Array]) -> None:
        if len(columns) != self._width:
            raise ValueError(
                f"{self.path.name}: {len(columns)} columns for a {self._width}-column header"
            )
        table = pa.table({f"c{i}": col for i, col in enumerate(columns)})
        if self._writer is None:
            self._writer = pacsv.CSVWriter(
                self._sink, table.schema, write_options=pacsv.WriteOptions(include_header=False)
            )
        if self._pool is None:
            self._writer.write_table(table)
        else:
            while len(self._pending) >= 2:
                self._pending.pop(0).result()
            self._pending.append(self._pool.submit(self._writer.write_table, table))
        self.rows += table.num_rows

    def close(self) -> None:
        try:
            for done in self._pending:
                done.result()
        finally:
            self._pending = []
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            if self._writer is not None:
                self._writer.close()
            self._sink.close()


def _csv_file(path: Path, header: tuple[str, ...], columns: list[pa.Array]) -> _Csv:
    """A whole CSV file written at once (a header line even when the columns are empty)."""
    f = _Csv(path, header)
    try:
        f.write(columns)
    finally:
        f.close()
    return f


def _strs(s: pd.Series | Iterable[Any]) -> pa.Array:
    return pa.array(s, type=pa.string(), from_pandas=True)


def _floats(s: pd.Series) -> pa.Array:
    return pa.array(s.to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True)  # NaN: empty


def _ints(s: pd.Series) -> pa.Array:
    return pa.array(s.to_numpy(dtype="int64"), type=pa.int64())


def _times(s: pd.Series) -> pa.Array:
    """UTC DateTime text the importer reads with every microsecond kept; whole seconds without
    the fraction: it parses ``2026-03-02T05:07:56Z`` faster than ``2026-03-02T05:07:56.000000Z``
    (1M sightings and 830k contacts: 13.8 s instead of 16.8 s of relationship import in one
    measurement). numpy formats 1M values in 1.0 s, ``pyarrow.compute.strftime`` in 1.6 s."""
    us = pa.array(s, type=pa.timestamp("us", tz="UTC"), from_pandas=True)  # NaT: null
    missing = us.is_null().to_numpy(zero_copy_only=False)
    t = us.cast(pa.int64()).fill_null(0).to_numpy().view("datetime64[us]")
    whole = t.astype(np.int64) % 1_000_000 == 0  # numpy's % floors: right before 1970 too
    if whole.all():
        fast = _whole_second_times(t.astype(np.int64) // 1_000_000, missing)
        if fast is not None:
            return fast
        text = np.datetime_as_string(t.astype("datetime64[s]"), unit="s", timezone="UTC")
    else:
        text = np.datetime_as_string(t, unit="us", timezone="UTC").astype(object)
        text[whole] = np.datetime_as_string(
            t[whole].astype("datetime64[s]"), unit="s", timezone="UTC"
        )
    return pa.array(text, type=pa.string(), mask=missing)


_SECOND_OF_DAY: list[np.ndarray] = []  # "HH:MM:SSZ" of the 86,400 seconds of a day, made once


def _whole_second_times(secs: np.ndarray, missing: np.ndarray) -> pa.Array | None:
    """``np.datetime_as_string(..., unit="s", timezone="UTC")`` of whole seconds since the
    epoch (``2026-03-02T05:07:56Z``) as an Arrow string array (``missing``: null), byte for
    byte, put together from a table of the days and one of the seconds of a day: 9.93M values
    in ~0.6 s instead of ~5 s. None (use numpy) when a date is not 10 characters long (years
    before 1 or after 9999) or the dates span more than 100,000 days."""
    n = len(secs)
    if n == 0:
        return None
    day, sod = np.divmod(secs, 86_400)
    valid_days = day[~missing] if missing.any() else day
    if not len(valid_days):
        return None
    first = int(valid_days.min())
    span = int(valid_days.max()) - first + 1
    if missing.any():
        day[missing] = first
    if span > 100_000:
        return None
    dates = np.datetime_as_string(np.arange(first, first + span).astype("datetime64[D]"))
    if np.char.str_len(dates).min() != 10 or np.char.str_len(dates).max() != 10:
        return None
    if not _SECOND_OF_DAY:
        text = np.datetime_as_string(np.arange(86_400).astype("datetime64[s]"), "s", "UTC")
        rows = np.frombuffer(text.astype("S20").tobytes(), np.uint8).reshape(86_400, 20)
        _SECOND_OF_DAY.append(rows[:, 11:].copy().view("V9").ravel())
    days = np.frombuffer(np.char.add(dates.astype("S10"), b"T").astype("S11").tobytes(), np.uint8)
    out = np.empty(n, dtype=[("date", "V11"), ("time", "V9")])
    out["date"] = days.reshape(span, 11).copy().view("V11").ravel()[day - first]
    out["time"] = _SECOND_OF_DAY[0][sod]
    offsets = np.arange(0, (n + 1) * 20, 20, dtype=np.int32)
    nulls = int(missing.sum())
    valid = pa.py_buffer(np.packbits(~missing, bitorder="little")) if nulls else None
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(out.view(np.uint8)), valid, nulls
    )


def _last_occurrence_mask(dset: Any, batch_size: int) -> np.ndarray | None:
    """Which sighting rows (in scan order) the online load would keep: the last row of each
    sighting_id. None when every id occurs once."""
    parts = [
        b.column(0).to_numpy(zero_copy_only=False)
        for b in dset.to_batches(columns=["sighting_id"], batch_size=batch_size)
    ]
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    # a hash table, not np.unique's sort: 9.77M ids in ~0.7 s instead of 3.3 s
    dup = pd.Series(ids).duplicated(keep="last").to_numpy()
    if not dup.any():
        return None
    return ~dup


def _read_derived(path: Path, flt: Any, columns: tuple[str, ...] | None) -> pd.DataFrame:
    """The rows of a derived table that pass ``flt`` with only ``columns``, in file order
    (:func:`sightgraph.graph.loader.derived_tables`: row group by row group)."""
    import pyarrow.dataset as ds

    parts = list(derived_tables(path, flt, columns))
    if parts:
        return pa.concat_tables(parts).to_pandas()
    schema = ds.dataset(path, format="parquet").schema
    names = schema.names if columns is None else [c for c in columns if c in schema.names]
    return pa.schema([schema.field(c) for c in names]).empty_table().to_pandas()


def write_import_files(
    lake: str | Path,
    out_dir: str | Path,
    batch_size: int = 200_000,
    *,
    max_q: float | None = None,
    min_score: float = 0.0,
) -> tuple[list[str], dict[str, int]]:
    """Write the lake as the importer's CSV files into ``out_dir`` (contacts filtered as by
    :func:`sightgraph.graph.loader.contact_filter`).

    Returns
    -------
    (list of str, dict)
        The importer's ``--nodes=``/``--relationships=`` arguments, and the number of rows per
        kind (persons, cameras, sightings, contacts, transitions).

    Raises
    ------
    UsageError
        The lake has no sightings or a row is invalid (the message the online load gives).
    """
    out = Path(out_dir)
    dset = sightings_dataset(lake)
    keep = _last_occurrence_mask(dset, batch_size)
    persons: set[str] = set()
    cameras_seen: set[str] = set()
    seen_at = _Csv(out / "seen_at.csv", _SEEN_AT_HEADER, background=True)
    try:
        offset = 0
        cols = ["sighting_id", "pid", "camera_id", "ts", "confidence"]
        for batch in dset.to_batches(columns=cols, batch_size=batch_size):
            n = batch.num_rows
            if not n:
                continue
            frame = batch.to_pandas()
            if keep is not None:
                frame = frame.loc[keep[offset : offset + n]].reset_index(drop=True)
            offset += n
            df = prepare_sightings(frame)
            persons.update(df["pid"].unique().tolist())
            cameras_seen.update(df["camera_id"].unique().tolist())
            seen_at.write(
                [
                    _strs(df["pid"]),
                    _strs(df["camera_id"]),
                    _ints(df["sighting_id"]),
                    _times(df["ts"]),
                    _floats(df["confidence"]),
                ]
            )
    finally:
        seen_at.close()

    files: dict[str, _Csv] = {}

    def derived(
        name: str, flt: Any = None, columns: tuple[str, ...] | None = None
    ) -> pd.DataFrame | None:
        path = derived_path(lake, name)
        if not path.exists():
            return None
        return _read_derived(path, flt, columns)

    contacts = derived("contacts", contact_filter(max_q, min_score), CONTACT_COLUMNS)
    if contacts is not None and len(contacts):
        c = prepare_contacts(contacts)
        persons.update(c["pid_a"].tolist())
        persons.update(c["pid_b"].tolist())
        files["contacts"] = _csv_file(
            out / "contacts.csv",
            _CONTACT_HEADER,
            [_strs(c["pid_a"]), _strs(c["pid_b"]), _floats(c["score"]), _floats(c["p_value"]),
             _floats(c["q_value"]), _ints(c["meetings"]), _ints(c["days"]), _ints(c["places"]),
             _times(c["first_ts"]), _times(c["last_ts"])],
        )  # fmt: skip
    transitions = derived("transitions")
    if transitions is not None and len(transitions):
        t = prepare_transitions(transitions)
        cameras_seen.update(t["camera_from"].tolist())
        cameras_seen.update(t["camera_to"].tolist())
        files["transitions"] = _csv_file(
            out / "transitions.csv",
            _TRANSITION_HEADER,
            [_strs(t["camera_from"]), _strs(t["camera_to"]), _ints(t["count"]),
             _floats(t["median_travel_s"])],
        )  # fmt: skip

    lake_cams = read_cameras(lake)
    cams = prepare_cameras(lake_cams) if len(lake_cams) else None
    known = set(cams["camera_id"].tolist()) if cams is not None else set()
    extra = sorted(cameras_seen - known)  # merged by id only, as the online load does
    camera_csv = _Csv(out / "cameras.csv", _CAMERA_HEADER)
    multiline = False
    if cams is not None:
        camera_csv.write(
            [_strs(cams["camera_id"]), _floats(cams["lat"]), _floats(cams["lon"]),
             _strs(cams["name"]), _strs(cams["site"])]
        )  # fmt: skip
        text = pd.concat([cams["name"], cams["site"]]).dropna().astype(str)
        multiline = bool(text.str.contains("[\r\n]", regex=True).any())
    if extra:
        empty = pa.nulls(len(extra))
        camera_csv.write(
            [_strs(extra), empty.cast(pa.float64()), empty.cast(pa.float64()),
             empty.cast(pa.string()), empty.cast(pa.string())]
        )  # fmt: skip
    camera_csv.close()
    person_csv = _csv_file(out / "persons.csv", _PERSON_HEADER, [_strs(sorted(persons))])

    args = [
        f"--nodes=Person={person_csv.path}",
        f"--nodes=Camera={camera_csv.path}",
        f"--relationships=SEEN_AT={seen_at.path}",
    ]
    if "contacts" in files:
        args.append(f"--relationships=CONTACT={files['contacts'].path}")
    if "transitions" in files:
        args.append(f"--relationships=TRANSITION={files['transitions'].path}")
    if multiline:  # camera names with line breaks: only that (small) file is parsed that way
        args += ["--multiline-fields-format=v2", f"--multiline-fields={camera_csv.path}"]
    counts = {
        "persons": person_csv.rows,
        "cameras": camera_csv.rows,
        "sightings": seen_at.rows,
        "contacts": files["contacts"].rows if "contacts" in files else 0,
        "transitions": files["transitions"].rows if "transitions" in files else 0,
    }
    return args, counts


# --- the whole load ---------------------------------------------------------------------------


def bulk_load(
    lake: str | Path,
    settings: Any,
    *,
    script: Path | None = None,
    report: Callable[[str], None] | None = None,
    max_q: float | None = None,
    min_score: float = 0.0,
) -> dict[str, int]:
    """Load ``lake`` into the empty project-managed Neo4j with the offline importer (contacts
    filtered as by :func:`sightgraph.graph.loader.contact_filter`).

    Parameters
    ----------
    lake : str or Path
        A lake with sightings (and optionally cameras, contacts and transitions).
    settings : sightgraph.config.Settings
        ``neo4j_uri``, ``neo4j_user``, ``neo4j_password``, ``neo4j_database``.
    script : Path, optional
        ``scripts/neo4j/neo4j.sh`` (default: the one next to this package).
    report : callable, optional
        Called with a line of text per step.

    Returns
    -------
    dict
        The store's counts afterwards.

    Raises
    ------
    UsageError
        Not the project-managed server, not its default database, the graph is not empty,
        the lake is unusable, or the import failed (the server is running again either way).
    """
    from sightgraph.graph.neo4j_store import Neo4jStore

    uri = check_target(settings.neo4j_uri, settings.neo4j_database, script)

    def connect() -> Neo4jStore:
        return Neo4jStore.connect(
            settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password, database=None
        )

    t0 = time.perf_counter()
    last = [t0]

    def step(text: str) -> None:
        """Report ``text`` with the seconds since the start and since the previous step."""
        now = time.perf_counter()
        _say(report, f"bulk: [{now - t0:7.1f} s, +{now - last[0]:.1f} s] {text}")
        last[0] = now

    with connect() as store:
        if not store.is_empty():
            raise UsageError(
                f"--bulk loads only into an empty graph and Neo4j at {uri} holds nodes "
                f"(counts: {store.counts()}); {_ONLINE}, which adds to it"
            )
    with tempfile.TemporaryDirectory(prefix="sightgraph-bulk-") as tmp:
        step(f"target checked and empty; writing the import files ({tmp})")
        args, rows = write_import_files(lake, tmp, max_q=max_q, min_score=min_score)
        step("import files written: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
        _say(report, "bulk: stopping Neo4j, importing, starting it again (neo4j.sh import)")
        env = dict(os.environ)
        if rows["sightings"] + rows["contacts"] >= _C2_ROWS:
            # C2 JIT for a large import (1.8M edges: 57 s instead of 68 s); neo4j.sh's C1
            # default halves a small one (3,000 edges: 7 s instead of 14 s)
            env.setdefault("NEO4J_IMPORT_JAVA_OPTS", "-XX:TieredStopAtLevel=4")
        proc = subprocess.run(
            [
                "bash",
                str(_script(script)),
                "import",
                "--bad-tolerance=0",
                f"--report-file={Path(tmp) / 'import.report'}",
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if proc.returncode != 0:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            why = next((ln for ln in reversed(lines) if "Exception" in ln or "rror" in ln), "")
            raise UsageError(
                f"the Neo4j bulk import failed (exit {proc.returncode}"
                f"{': ' + why[:300] if why else ''}); see import.log in the Neo4j state dir"
            )
        # neo4j.sh's own timings: "stopped after", "import done in", "ready after"
        for line in proc.stderr.splitlines():
            if re.search(r"\b(after|done in) \d+ s\b", line):
                _say(report, "bulk:   " + line.strip())
        step("neo4j.sh import done (stop, importer, start)")
    _say(report, "bulk: creating the constraints and indexes")
    with connect() as store:
        store.ensure_schema()
        step("constraints and indexes created and online")
        return store.counts()
