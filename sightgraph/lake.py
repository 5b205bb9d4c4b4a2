"""Where each table lives in the Parquet lake (DESIGN §3) and the small readers/writers every layer
shares. The lake is a directory::

    LAKE/sightings/date=YYYY-MM-DD/part-*.parquet   hive-partitioned by UTC date
    LAKE/cameras/cameras.parquet
    LAKE/quarantine/*.parquet                       rejected input rows with line and reason
    LAKE/<derived>/...                              colocations, contacts, visits, transitions,
                                                    predictions; parameters in Parquet metadata
    LAKE/_lake.json                                 the key record: pseudonymised or not, and the
                                                    key's fingerprint (:func:`read_key_record`)
    LAKE/_erasures.parquet                          the erasure generation: a counter that every
                                                    forget or retention run that changed the lake
                                                    raises (:func:`erasure_generation`)
    LAKE/_exports.jsonl                             the export log: every --out written outside
                                                    the lake (path, table, time; no ids)
    LAKE/.sightgraph.lock                           the writer lock (:func:`lake_lock`)

The table registry, :data:`TABLES`, is the one list of what may live in a lake: each table's name,
where its files are (globs relative to the lake), its key columns, the columns that hold subject
pseudonyms and its kind (primary, derived, quarantine, log, control, scratch). Erasure and
retention walk it (:func:`lake_files`), and a file that belongs to no registered table
(:func:`unregistered_files`) stops them with one line, since they could not erase from it.

Writers and the lock: ingest, forget and retention hold :func:`lake_lock` for their whole run.
Analytics jobs read without it (they can take minutes) and *commit* their derived tables under it
with :func:`commit_lock`, which also refuses the commit when an erasure ran since the job read its
input (the erasure generation changed), so a job cannot write a forgotten subject back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from sightgraph._lazy import LazyModule
from sightgraph.errors import UsageError
from sightgraph.schema import CAMERAS_ARROW, SIGHTINGS_ARROW

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.dataset as ds
else:
    pd = LazyModule("pandas")  # imported on first use: `sightgraph colocate` never needs it
    ds = LazyModule("pyarrow.dataset")  # (it imports pandas)

__all__ = [
    "COMMIT_WAIT_ENV",
    "COMMIT_WAIT_S",
    "DERIVED_TABLES",
    "ERASURES_NAME",
    "ROTATION_JOURNAL_NAME",
    "EXPORTS_NAME",
    "KINDS",
    "KEY_MODES",
    "KEY_RECORD_NAME",
    "LOCK_NAME",
    "MODE_NOT_PSEUDONYMISED",
    "MODE_PSEUDONYMISED",
    "PARAMS_KEY",
    "TABLES",
    "LakeTable",
    "check_registered",
    "bump_erasure_generation",
    "commit_into",
    "commit_lock",
    "commit_wait",
    "erasure_generation",
    "in_lake",
    "lake_files",
    "lake_lock",
    "owner",
    "export_files",
    "read_cameras",
    "read_exports",
    "record_export",
    "read_key_record",
    "read_params",
    "read_sightings",
    "sightings_dataset",
    "sightings_files",
    "table",
    "table_path",
    "unregistered_files",
    "write_key_record",
    "write_table",
]

PARAMS_KEY = b"sightgraph.params"
LOCK_NAME = ".sightgraph.lock"
KEY_RECORD_NAME = "_lake.json"
KEY_RECORD_FORMAT = "sightgraph-lake-key"
MODE_PSEUDONYMISED = "pseudonymised"
MODE_NOT_PSEUDONYMISED = "not-pseudonymised"
KEY_MODES = (MODE_PSEUDONYMISED, MODE_NOT_PSEUDONYMISED)
ERASURES_NAME = "_erasures.parquet"
COMMIT_WAIT_S = 30.0
COMMIT_WAIT_ENV = "SIGHTGRAPH_COMMIT_WAIT"
EXPORTS_NAME = "_exports.jsonl"
INGEST_LOG_NAME = "_ingest_log.jsonl"
ROTATION_JOURNAL_NAME = "_rotation.json"


# ---------------------------------------------------------------------------------------------
# the table registry
PRIMARY, DERIVED, QUARANTINE, LOG, CONTROL, SCRATCH = (
    "primary",
    "derived",
    "quarantine",
    "log",
    "control",
    "scratch",
)
KINDS = (PRIMARY, DERIVED, QUARANTINE, LOG, CONTROL, SCRATCH)


@dataclass(frozen=True)
class LakeTable:
    """One registered table of the lake.

    Attributes
    ----------
    name : str
        The table's name (``LAKE/<name>/...`` for data tables).
    kind : str
        ``primary`` (ingested: sightings, cameras), ``derived`` (written by an analytics job),
        ``quarantine`` (rejected input rows), ``log`` (records without subject ids),
        ``control`` (the lock and the key record) or ``scratch`` (temporary files of a running
        or killed writer: hidden names and ``*.tmp*``; never read as data).
    paths : tuple of str
        Where its files are: globs relative to the lake (``*`` within a name, ``**`` any
        folders). Data tables only claim files without a hidden (``.``) part.
    key : tuple of str
        The columns that identify a row (empty for logs).
    pid_columns : tuple of str
        The columns that hold subject pseudonyms: erasure drops a row when any of them equals
        the pid. Empty for tables without subjects (cameras, aggregates, logs).
    text_columns : tuple of str
        Free-text columns that may quote a pseudonym (the quarantine's ``raw``).
    fmt : str
        ``parquet``, ``jsonl``, ``json``, ``lock`` or ``any`` (scratch).
    schema : pyarrow.Schema or None
        The table's fixed Arrow schema, where it has one (sightings, cameras); derived tables
        carry the columns their job wrote, with the parameters in the Parquet metadata.
    """

    name: str
    kind: str
    paths: tuple[str, ...]
    key: tuple[str, ...] = ()
    pid_columns: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()
    fmt: str = "parquet"
    schema: pa.Schema | None = None

    @property
    def holds_subjects(self) -> bool:
        """Whether rows of this table can name a subject (erasure must visit its files)."""
        return bool(self.pid_columns or self.text_columns)

    def matches(self, rel: str | PurePosixPath) -> bool:
        """Whether the lake-relative path ``rel`` is one of this table's files."""
        text = str(PurePosixPath(rel))
        return any(_glob_regex(p).fullmatch(text) for p in self.paths)

    def files(self, lake: str | Path) -> list[Path]:
        """This table's files in ``lake``, sorted (see :func:`lake_files`)."""
        return lake_files(lake).get(self.name, [])


def _derived(name: str, key: tuple[str, ...], pids: tuple[str, ...]) -> LakeTable:
    """A derived table: one file at the top (``<name>.parquet``) or a folder of Parquet files
    (``<name>/<name>.parquet`` is the lake's current copy, what `load` reads)."""
    return LakeTable(name, DERIVED, (f"{name}.parquet", f"{name}/**/*.parquet"), key, pids)


#: Every table a lake may hold. Add a table here before any job writes it: erasure and retention
#: refuse to run on a lake holding files that no entry claims.
TABLES: tuple[LakeTable, ...] = (
    LakeTable(
        "sightings",
        PRIMARY,
        ("sightings/date=*/*.parquet",),
        ("sighting_id",),
        ("pid",),
        schema=SIGHTINGS_ARROW,
    ),
    LakeTable(
        "cameras", PRIMARY, ("cameras/cameras.parquet",), ("camera_id",), schema=CAMERAS_ARROW
    ),
    LakeTable(
        "quarantine",
        QUARANTINE,
        ("quarantine/*.parquet",),
        ("source", "line"),
        ("pid",),
        ("raw",),
    ),
    _derived("colocations", ("pid_a", "pid_b"), ("pid_a", "pid_b")),
    _derived("colocation_events", ("pid_a", "pid_b", "ts_a", "ts_b"), ("pid_a", "pid_b")),
    _derived("contacts", ("pid_a", "pid_b"), ("pid_a", "pid_b")),
    _derived("visits", ("pid", "arrive"), ("pid",)),
    _derived("transitions", ("camera_from", "camera_to"), ()),  # aggregate: cells of >= k
    _derived("predictions", ("pid", "rank"), ("pid",)),
    # the model `predict` fitted: models/<name>.parquet lists the subjects whose visits it saw
    # (its parameters, data version and scikit-learn version in the metadata), and
    # models/<name>.joblib holds the fitted estimator (the ranker's); forget drops both
    LakeTable("models", DERIVED, ("models/*.parquet", "models/*.joblib"), ("pid",), ("pid",)),
    LakeTable("ingest_log", LOG, (INGEST_LOG_NAME,), fmt="jsonl"),
    LakeTable("exports", LOG, (EXPORTS_NAME,), fmt="jsonl"),
    LakeTable("erasures", LOG, (ERASURES_NAME,)),
    LakeTable("key_record", CONTROL, (KEY_RECORD_NAME,), fmt="json"),
    LakeTable("lock", CONTROL, (LOCK_NAME,), fmt="lock"),
    # an unfinished `keys rotate` (sightgraph.governance.keys): files to move, fingerprints
    LakeTable("rotation_journal", CONTROL, (ROTATION_JOURNAL_NAME,), fmt="json"),
    LakeTable(
        "scratch",
        SCRATCH,
        ("**/.*", "**/.*/**", "**/*.tmp", "**/*.tmp-*", "**/*.tmp-*/**"),
        fmt="any",
    ),
)

DERIVED_TABLES = tuple(t.name for t in TABLES if t.kind == DERIVED)
_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> LakeTable:
    """The registered table ``name``.

    Raises
    ------
    KeyError
        No table of that name is registered.
    """
    return _BY_NAME[name]


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A lake-relative glob as a regex: ``*`` and ``?`` within one name, ``**`` any folders."""
    cached = _GLOB_CACHE.get(pattern)
    if cached is not None:
        return cached
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    regex = re.compile("".join(out))
    _GLOB_CACHE[pattern] = regex
    return regex


def _is_scratch(rel: PurePosixPath) -> bool:
    return str(rel) != LOCK_NAME and _BY_NAME["scratch"].matches(rel)


def owner(rel: str | PurePosixPath) -> LakeTable | None:
    """The registered table that the lake-relative path ``rel`` belongs to, or None.

    The lock file is ``lock``; any other path with a hidden part or a ``.tmp`` name is
    ``scratch``; else the first table with a matching glob."""
    path = PurePosixPath(rel)
    if str(path) == LOCK_NAME:
        return _BY_NAME["lock"]
    if _is_scratch(path):
        return _BY_NAME["scratch"]
    for entry in TABLES:
        if entry.kind != SCRATCH and entry.matches(path):
            return entry
    return None


def _walk(lake: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    for dirpath, dirnames, filenames in os.walk(lake):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            yield PurePosixPath(full.relative_to(lake).as_posix()), full


def lake_files(lake: str | Path) -> dict[str, list[Path]]:
    """Every file in the lake by owning table (``"?"``: files no registered table claims).

    Tables without files are absent; the lists are sorted."""
    root = Path(lake)
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for rel, full in _walk(root):
        entry = owner(rel)
        out.setdefault("?" if entry is None else entry.name, []).append(full)
    return out


def unregistered_files(lake: str | Path) -> list[Path]:
    """The lake's files that belong to no registered table (should be none)."""
    return lake_files(lake).get("?", [])


def check_registered(lake: str | Path, what: str) -> None:
    """Refuse (one line) a lake holding files that no registered table claims.

    Raises
    ------
    UsageError
        Such files exist; ``what`` (e.g. ``"forget"``) names the refused command.
    """
    stray = unregistered_files(lake)
    if stray:
        root = Path(lake)
        names = ", ".join(str(p.relative_to(root)) for p in stray[:5])
        more = f" and {len(stray) - 5} more" if len(stray) > 5 else ""
        raise UsageError(
            f"{what}: lake {root} holds files of no registered table ({names}{more}), which it "
            "could not erase from; move them out of the lake (or register their table in "
            "sightgraph.lake.TABLES); nothing was changed"
        )


@contextlib.contextmanager
def lake_lock(lake: str | Path, what: str = "writing", wait: float = 0.0) -> Iterator[Path]:
    """Hold the lake's writer lock (``LAKE/.sightgraph.lock``) while ingesting, erasing or
    committing a derived table.

    Two writers at once could interleave partitions and ingest logs, and an erasure racing an
    ingest could miss the rows being written; so a second writer fails with a clear message
    (readers never lock). By default it fails at once; with ``wait`` seconds it retries until
    the lock is free or that time is up (:func:`commit_lock` waits this way, since the holders
    it meets, a forget or another commit, are short). The lock is an ``flock`` on the file: the
    operating system releases it when the holder exits, however it exits, so a crashed run
    never leaves the lake locked. A lake folder created only to hold the lock is removed again
    when nothing else was written into it.

    Raises
    ------
    UsageError
        Another process (or another open of the lake in this one) holds the lock, and still held
        it after ``wait`` seconds.
    """
    root = Path(lake)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(float(wait), 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left > 0:
                    time.sleep(min(0.1, left))
                    continue
                holder = (
                    os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
                )
                waited = f" (waited {wait:g} s)" if wait > 0 else ""
                raise UsageError(
                    f"lake {root} is busy{waited}: {holder} is writing to it; wait for it to "
                    "finish, then retry"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({what})".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            if created and [p.name for p in root.iterdir()] == [LOCK_NAME]:
                # a refused first run (bad input) leaves no empty lake behind
                path.unlink()
                root.rmdir()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# erasure generation: analytics jobs commit only if no forget/retention ran since they read
def erasure_generation(lake: str | Path) -> int:
    """The lake's erasure generation: 0 for a lake where no forget or retention run ever
    changed anything, raised by one by every run that did (:func:`bump_erasure_generation`).

    An analytics job reads it *before* it reads the lake and passes it to :func:`commit_lock`
    when it puts its table into the lake; a different value then means an erasure ran in
    between, and the job's table may hold what was erased. Read without the lock: the record
    is replaced atomically, so a reader sees the old or the new value.

    The record, ``LAKE/_erasures.parquet``, is one row (``generation``, ``last``: ``"forget"``
    or ``"retention apply"``) and holds no subject id (it must not keep what was erased). It is
    Parquet like every other data file in the lake (tools that read every file of a lake read
    it too); the leading ``_`` keeps lake readers and erasure from taking it for a table.

    Raises
    ------
    UsageError
        The file exists but cannot be read or holds no generation.
    """
    path = Path(lake) / ERASURES_NAME
    if not path.exists():
        return 0
    generation = _read_generation(path)
    if generation is None:
        raise UsageError(
            f"lake {lake}: its erasure record {path} is damaged; remove it (the next forget or "
            "retention run writes a new one) and run the job again"
        )
    return generation


def _read_generation(path: Path) -> int | None:
    """The generation in the record at ``path``; None when it is unreadable or malformed."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException):
        return None
    if table.num_rows != 1 or "generation" not in table.column_names:
        return None
    value = table.column("generation")[0].as_py()
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def bump_erasure_generation(lake: str | Path, what: str = "erasure") -> int:
    """Raise the lake's erasure generation by one (atomically) and return the new value.

    Called by :func:`sightgraph.governance.erasure.forget_subject` and
    :func:`~sightgraph.governance.erasure.retention_apply` at the end of a run that changed
    the lake, while they still hold the writer lock, so a job that read the lake before or during
    the erasure finds a new generation when it commits, and refuses. ``what`` (``"forget"``,
    ``"retention apply"``) is recorded; never a subject id. A missing record counts as 0; a
    damaged one is replaced by one whose generation (a clock reading in nanoseconds) no job
    can hold.
    """
    root = Path(lake)
    path = root / ERASURES_NAME
    current = _read_generation(path) if path.exists() else 0
    new = time.time_ns() if current is None else current + 1
    record = pa.table(
        {"generation": pa.array([new], pa.int64()), "last": pa.array([what], pa.string())}
    )
    tmp = root / f".{ERASURES_NAME}.tmp"
    with tmp.open("wb") as fh:
        pq.write_table(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(root)
    return new


def commit_wait() -> float:
    """Seconds :func:`commit_lock` waits for a busy lake: ``$SIGHTGRAPH_COMMIT_WAIT``, else 30."""
    raw = os.environ.get(COMMIT_WAIT_ENV, "").strip()
    if not raw:
        return COMMIT_WAIT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{COMMIT_WAIT_ENV}={raw!r}: give the seconds to wait, a number >= 0")
    return value


@contextlib.contextmanager
def commit_lock(
    lake: str | Path, generation: int, what: str, wait: float | None = None
) -> Iterator[Path]:
    """Hold the writer lock to put a derived table into the lake, if no erasure ran meanwhile.

    ``generation`` is :func:`erasure_generation` as the job read it before reading the lake.
    Inside the block the caller writes (renames) its table into the lake; nothing else can
    write then, and no forget or retention can start until the block ends (and then they erase
    what was committed, like any other lake file).

    Wait-or-fail: a lake that is busy (a forget, a retention run, an ingest or another commit
    holds the lock) is retried for up to ``wait`` seconds (default :func:`commit_wait`: 30 s or
    ``$SIGHTGRAPH_COMMIT_WAIT``), since those are short next to the job that is committing; then
    the commit fails with one line and the job's table is not written.

    Raises
    ------
    UsageError
        The lake is still busy after ``wait`` seconds, or its erasure generation is no longer
        ``generation``: "the lake changed under this job (forget/retention ran); run it again".
        Nothing is committed then.
    """
    seconds = commit_wait() if wait is None else wait
    with lake_lock(lake, f"committing {what}", wait=seconds) as path:
        if erasure_generation(lake) != generation:
            raise UsageError(
                f"{what}: the lake changed under this job (forget/retention ran); run it again "
                f"(nothing was written into lake {lake})"
            )
        yield path


def in_lake(lake: str | Path, path: str | Path) -> bool:
    """Whether ``path`` (existing or not) lies inside the lake folder."""
    return Path(path).resolve().is_relative_to(Path(lake).resolve())


@contextlib.contextmanager
def commit_into(
    lake: str | Path,
    paths: Iterable[str | Path],
    generation: int,
    what: str,
    wait: float | None = None,
) -> Iterator[None]:
    """:func:`commit_lock` when any of ``paths`` lies inside the lake, else nothing: the block
    writes those paths (a job's outputs), and only writes into the lake need the lock."""
    if any(in_lake(lake, p) for p in paths):
        with commit_lock(lake, generation, what, wait=wait):
            yield
    else:
        yield


# ---------------------------------------------------------------------------------------------
# exports: --out copies of per-subject tables outside the lake
def record_export(lake: str | Path, path: str | Path, name: str, command: str) -> dict[str, Any]:
    """Append one record to the lake's export log (``LAKE/_exports.jsonl``): ``path`` (absolute),
    the registered table ``name`` it is a copy of, the ``command`` and the time; never an id.

    The caller holds the lake's writer lock (:func:`commit_lock`), so the record and a forget
    cannot interleave. :func:`sightgraph.governance.erasure.forget_subject` erases the subject
    from every recorded export still on disk.

    Raises
    ------
    KeyError
        ``name`` is not a registered table.
    """
    table(name)  # only registered tables are exported
    record = {
        "path": str(Path(path).resolve()),
        "table": name,
        "command": command,
        "time": datetime.now(UTC).isoformat(),
    }
    log = Path(lake) / EXPORTS_NAME
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return record


def read_exports(lake: str | Path) -> list[dict[str, Any]]:
    """The lake's export records, one per path (the latest), in the order first recorded.

    Lines that cannot be read (a torn last line of a killed run) are skipped.
    """
    log = Path(lake) / EXPORTS_NAME
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UsageError(f"lake {lake}: cannot read its export log {log}: {exc}") from exc
    out: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("path"), str):
            out[record["path"]] = record
    return list(out.values())


def export_files(record: dict[str, Any]) -> list[Path]:
    """The Parquet files of one export still on disk (a file, or a folder's visible files)."""
    path = Path(record["path"])
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*.parquet")
            if p.is_file()
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
    return []


def table_path(lake: str | Path, name: str) -> Path:
    return Path(lake) / name


def derived_path(lake: str | Path, name: str) -> Path:
    """The lake's current copy of a derived table, e.g. LAKE/contacts/contacts.parquet."""
    return table_path(lake, name) / f"{name}.parquet"


def _sightings_path(lake: str | Path) -> Path:
    """``LAKE/sightings`` (raises UsageError if the lake has no sightings)."""
    path = table_path(lake, "sightings")
    if not path.exists() or not any(path.rglob("*.parquet")):
        raise UsageError(
            f"no sightings in lake {lake}: run `sightgraph ingest ... --lake {lake}` first"
        )
    return path


def sightings_files(lake: str | Path) -> list[str]:
    """The files of :func:`sightings_dataset`, sorted, without importing ``pyarrow.dataset``
    (which imports pandas: half a second for a job that only reads Parquet row groups).

    The same discovery as pyarrow's: every file below ``LAKE/sightings``, skipping files and
    directories whose name starts with ``.`` or ``_``.
    """
    files: list[str] = []
    for root, dirs, names in os.walk(_sightings_path(lake)):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        files.extend(os.path.join(root, n) for n in names if not n.startswith((".", "_")))
    return sorted(files)


def sightings_dataset(lake: str | Path) -> ds.Dataset:
    """The sightings table as a pyarrow dataset (raises UsageError if the lake has none)."""
    path = _sightings_path(lake)
    return ds.dataset(
        str(path),
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive"),
        schema=SIGHTINGS_ARROW.append(pa.field("date", pa.string())),
    )


def read_sightings(
    lake: str | Path,
    columns: list[str] | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    min_confidence: float | None = None,
    pids: list[str] | None = None,
) -> pd.DataFrame:
    """Read sightings (optionally a time range [start, end], a confidence floor, some pids)."""
    dset = sightings_dataset(lake)
    cols = list(columns) if columns is not None else list(SIGHTINGS_ARROW.names)
    flt = None

    def _and(a: Any, b: Any) -> Any:
        return b if a is None else a & b

    if start is not None:
        flt = _and(
            flt,
            ds.field("ts")
            >= pa.scalar(pd.Timestamp(start).tz_convert("UTC"), pa.timestamp("us", "UTC")),
        )
        flt = _and(
            flt, ds.field("date") >= pd.Timestamp(start).tz_convert("UTC").strftime("%Y-%m-%d")
        )
    if end is not None:
        flt = _and(
            flt,
            ds.field("ts")
            <= pa.scalar(pd.Timestamp(end).tz_convert("UTC"), pa.timestamp("us", "UTC")),
        )
        flt = _and(
            flt, ds.field("date") <= pd.Timestamp(end).tz_convert("UTC").strftime("%Y-%m-%d")
        )
    if min_confidence is not None and min_confidence > 0:
        flt = _and(flt, ds.field("confidence") >= min_confidence)
    if pids is not None:
        flt = _and(flt, ds.field("pid").isin(list(pids)))
    table = dset.to_table(columns=cols, filter=flt)
    return table.to_pandas()


def read_cameras(lake: str | Path) -> pd.DataFrame:
    """Cameras table (empty frame with the right columns if none was ingested)."""
    path = table_path(lake, "cameras") / "cameras.parquet"
    if not path.exists():
        return CAMERAS_ARROW.empty_table().to_pandas()
    return pq.read_table(path).to_pandas()


def write_table(df: pd.DataFrame, path: str | Path, params: dict[str, Any] | None = None) -> Path:
    """Write one Parquet file with the producing parameters recorded in its metadata.

    A job writing a derived table into a lake does so inside :func:`commit_lock` (or
    :func:`commit_into`), so that a forget or retention run cannot race it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    if params is not None:
        meta = dict(table.schema.metadata or {})
        meta[PARAMS_KEY] = json.dumps(params, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def read_params(path: str | Path) -> dict[str, Any] | None:
    """The parameters recorded by :func:`write_table` (None if absent)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PARAMS_KEY)
    return None if raw is None else json.loads(raw)


def read_key_record(lake: str | Path) -> dict[str, Any] | None:
    """The lake's key record (``LAKE/_lake.json``), or None when the lake has none yet.

    The record says how the lake's subject ids were made, so every writer can refuse to mix
    two kinds of pid in one lake::

        {"format": "sightgraph-lake-key", "version": 1,
         "mode": "pseudonymised" | "not-pseudonymised",
         "key_fingerprint": "<12 hex>" | null,       # null exactly when not pseudonymised
         "fingerprint": "HMAC-SHA256(key, 'sightgraph key fingerprint v1'), first 12 hex",
         "created_utc": "...", "origin": "..."}       # origin: how the record was decided

    The fingerprint is :func:`sightgraph.ingest.pseudonymize.fingerprint_key` of the key (the
    same value the ingest log records); the key itself is never stored.

    Raises
    ------
    UsageError
        The file exists but cannot be read, or does not hold a valid record; or a key rotation
        was interrupted (``LAKE/_rotation.json``): the lake's pids are half rotated until
        ``sightgraph keys rotate`` finishes it.
    """
    path = Path(lake) / KEY_RECORD_NAME
    if (Path(lake) / ROTATION_JOURNAL_NAME).exists():
        raise UsageError(
            f"lake {lake}: a key rotation was interrupted ({ROTATION_JOURNAL_NAME}); run "
            "`sightgraph keys rotate` again with the same keys to finish it"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"lake {lake}: cannot read its key record {path}: {exc}") from exc
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    problem = _key_record_problem(record)
    if problem:
        raise UsageError(
            f"lake {lake}: its key record {path} is damaged ({problem}); "
            "restore it from a backup or use a new lake"
        )
    assert isinstance(record, dict)
    return record


def _key_record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    mode = record.get("mode")
    fingerprint = record.get("key_fingerprint")
    if mode not in KEY_MODES:
        return f"mode {mode!r} is neither {' nor '.join(KEY_MODES)}"
    if mode == MODE_PSEUDONYMISED and not (isinstance(fingerprint, str) and fingerprint):
        return "a pseudonymised lake without a key fingerprint"
    if mode == MODE_NOT_PSEUDONYMISED and fingerprint is not None:
        return "a key fingerprint in a lake that is not pseudonymised"
    return None


def write_key_record(
    lake: str | Path, mode: str, key_fingerprint: str | None, origin: str
) -> dict[str, Any]:
    """Write ``LAKE/_lake.json`` atomically (temporary file, fsync, rename); returns the record.

    The caller holds the lake's writer lock (:func:`lake_lock`) and has checked the lake's
    existing record (:func:`read_key_record`): this replaces whatever is there.

    Parameters
    ----------
    mode : str
        ``"pseudonymised"`` or ``"not-pseudonymised"``.
    key_fingerprint : str or None
        The key's fingerprint (never the key); None exactly when not pseudonymised.
    origin : str
        How the record was decided, e.g. ``"first ingest"`` or ``"ingest log"``.
    """
    record: dict[str, Any] = {
        "format": KEY_RECORD_FORMAT,
        "version": 1,
        "mode": mode,
        "key_fingerprint": key_fingerprint,
        "fingerprint": "HMAC-SHA256(key, 'sightgraph key fingerprint v1'), first 12 hex",
        "created_utc": datetime.now(UTC).isoformat(),
        "origin": origin,
    }
    problem = _key_record_problem(record)
    if problem:
        raise UsageError(f"lake {lake}: refusing to write a key record: {problem}")
    root = Path(lake)
    root.mkdir(parents=True, exist_ok=True)
    path = root / KEY_RECORD_NAME
    tmp = root / f".{KEY_RECORD_NAME}.tmp"
    data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(root)  # the rename survives a crash too
    return record


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
