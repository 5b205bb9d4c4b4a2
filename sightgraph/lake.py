"""Where each table lives in the Parquet lake (DESIGN §3) and the small readers/writers every layer
shares. The lake is a directory::

    LAKE/sightings/date=YYYY-MM-DD/part-*.parquet   hive-partitioned by UTC date
    LAKE/cameras/cameras.parquet
    LAKE/quarantine/*.parquet                       rejected input rows with line and reason
    LAKE/<derived>/...                              colocations, contacts, visits, transitions,
                                                    predictions; parameters in Parquet metadata
"""

from __future__ import annotations

import json
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
    "PARAMS_KEY",
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
