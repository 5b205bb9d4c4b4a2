"""Where each table lives in the Parquet lake (DESIGN §3) and the small readers/writers every layer
shares. The lake is a directory::

    LAKE/sightings/date=YYYY-MM-DD/part-*.parquet   hive-partitioned by UTC date
    LAKE/cameras/cameras.parquet
    LAKE/quarantine/*.parquet                       rejected input rows with line and reason
    LAKE/<derived>/...                              colocations, contacts, visits, transitions,
                                                    predictions; parameters in Parquet metadata
    LAKE/_lake.json                                 the key record: pseudonymised or not, and the
                                                    key's fingerprint (:func:`read_key_record`)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
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
    "DERIVED_TABLES",
    "KEY_MODES",
    "KEY_RECORD_NAME",
    "LOCK_NAME",
    "MODE_NOT_PSEUDONYMISED",
    "MODE_PSEUDONYMISED",
    "PARAMS_KEY",
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


@contextlib.contextmanager
def lake_lock(lake: str | Path, what: str = "writing") -> Iterator[Path]:
    """Hold the lake's writer lock (``LAKE/.sightgraph.lock``) while ingesting or erasing.

    Two writers at once could interleave partitions and ingest logs, and an erasure racing an
    ingest could miss the rows being written; so a second writer fails at once with a clear
    message instead of waiting (readers never lock). The lock is an ``flock`` on the file: the
    operating system releases it when the holder exits, however it exits, so a crashed run
    never leaves the lake locked. A lake folder created only to hold the lock is removed again
    when nothing else was written into it.

    Raises
    ------
    UsageError
        Another process (or another open of the lake in this one) holds the lock.
    """
    root = Path(lake)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise UsageError(
                f"lake {root} is busy: {holder} is writing to it; wait for it to finish, then retry"
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
    """Write one Parquet file with the producing parameters recorded in its metadata."""
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
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename survives a crash too
    finally:
        os.close(dir_fd)
    return record
