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
    LAKE/.sightgraph.lock                           the writer lock (:func:`lake_lock`)

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
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sightgraph.errors import UsageError
from sightgraph.schema import CAMERAS_ARROW, SIGHTINGS_ARROW

__all__ = [
    "COMMIT_WAIT_ENV",
    "COMMIT_WAIT_S",
    "DERIVED_TABLES",
    "ERASURES_NAME",
    "KEY_MODES",
    "KEY_RECORD_NAME",
    "LOCK_NAME",
    "MODE_NOT_PSEUDONYMISED",
    "MODE_PSEUDONYMISED",
    "PARAMS_KEY",
    "bump_erasure_generation",
    "commit_into",
    "commit_lock",
    "commit_wait",
    "erasure_generation",
    "in_lake",
    "lake_lock",
    "read_cameras",
    "read_key_record",
    "read_params",
    "read_sightings",
    "sightings_dataset",
    "table_path",
    "write_key_record",
    "write_table",
]

DERIVED_TABLES = (
    "colocations",
    "colocation_events",
    "contacts",
    "visits",
    "transitions",
    "predictions",
)
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


def table_path(lake: str | Path, name: str) -> Path:
    return Path(lake) / name


def sightings_dataset(lake: str | Path) -> ds.Dataset:
    """The sightings table as a pyarrow dataset (raises UsageError if the lake has none)."""
    path = table_path(lake, "sightings")
    if not path.exists() or not any(path.rglob("*.parquet")):
        raise UsageError(
            f"no sightings in lake {lake}: run `sightgraph ingest ... --lake {lake}` first"
        )
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
        The file exists but cannot be read, or does not hold a valid record.
    """
    path = Path(lake) / KEY_RECORD_NAME
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
