"""Where each table lives in the Parquet lake (DESIGN §3) and the small readers/writers every layer
shares. The lake is a directory::

    LAKE/sightings/date=YYYY-MM-DD/part-*.parquet   hive-partitioned by UTC date
    LAKE/cameras/cameras.parquet
    LAKE/quarantine/*.parquet                       rejected input rows with line and reason
    LAKE/<derived>/...                              colocations, contacts, visits, transitions,
                                                    predictions; parameters in Parquet metadata
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
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
    "LOCK_NAME",
    "PARAMS_KEY",
    "lake_lock",
    "read_cameras",
    "read_params",
    "read_sightings",
    "sightings_dataset",
    "table_path",
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
