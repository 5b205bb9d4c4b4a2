"""Writes ingested sightings, cameras, quarantined rows and the ingest log into the lake.

Layout (see :mod:`sightgraph.lake`)::

    LAKE/sightings/date=YYYY-MM-DD/part-<run>-<chunk>.parquet   schema.SIGHTINGS_ARROW, sorted by ts
    LAKE/cameras/cameras.parquet                                 schema.CAMERAS_ARROW, upserted
    LAKE/quarantine/<source-stem>-<run>.parquet                  schema.QUARANTINE_COLUMNS (below)
    LAKE/_ingest_log.jsonl                                       one JSON object per run (counts only)
    LAKE/_lake.json                                              key record (sightgraph.lake.read_key_record)

A quarantine row never holds a raw subject id. A row that parses but fails validation keeps its
text (``raw``) with the subject field replaced by its pid, that pid (``pid``) and its timestamp
(``ts``) when it could be read; a row that cannot be split into fields keeps no text, only its
byte length (``raw_bytes``) and ``raw_hash``, the HMAC-SHA256 (pseudonym key) of its bytes. Every
row records when its run started (``ingested_at``), which retention uses for rows without ``ts``.

Files appear atomically (written under a dot-name, which dataset readers ignore, then renamed).

``sighting_id`` is a deterministic 64-bit hash of (pid, camera_id, ts in epoch microseconds):
``pandas.util.hash_array`` (SipHash with pandas' fixed key) of each id string, combined with the
timestamp through splitmix64 finalisers, viewed as int64. Two different sightings share an id
with probability about n^2 / 2^65 (3e-4 at a hundred million sightings).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sightgraph.errors import UsageError
from sightgraph.lake import read_cameras, table_path
from sightgraph.schema import CAMERAS_ARROW, QUARANTINE_COLUMNS, SIGHTINGS_ARROW

__all__ = [
    "INGEST_LOG",
    "QUARANTINE_ARROW",
    "IdSet",
    "QuarantineWriter",
    "SightingsWriter",
    "make_sighting_ids",
    "new_run_id",
    "read_ingest_log",
    "append_ingest_log",
    "remove_stale_tmp",
    "upsert_cameras",
]

INGEST_LOG = "_ingest_log.jsonl"
QUARANTINE_ARROW = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("field", pa.string()),
        ("pid", pa.string()),
        ("raw", pa.string()),
        ("raw_bytes", pa.int64()),
        ("raw_hash", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)
assert tuple(QUARANTINE_ARROW.names) == QUARANTINE_COLUMNS
_US_PER_DAY = 86_400 * 1_000_000


_RUN_ID = r"\d{8}T\d{6}Z-[0-9a-f]{6}"
#: Temporary names this module writes under (then renames): a sightings part, a quarantine file
#: and the cameras table. Only these are ever removed as stale (:func:`remove_stale_tmp`).
_STALE_TMP = {
    "sightings": re.compile(rf"\.part-{_RUN_ID}-\d{{5,}}\.parquet\.tmp"),
    "quarantine": re.compile(rf"\..+-{_RUN_ID}\.parquet\.tmp"),
    "cameras": re.compile(r"\.cameras\.parquet\.tmp"),
}


def remove_stale_tmp(lake: Path) -> int:
    """Remove the temporary files a killed ingest left in the lake; returns how many.

    Call it only under the lake's writer lock (:func:`sightgraph.lake.lake_lock`): then no live
    writer owns such a file. Only this module's own temporary names are touched (a sightings
    part ``sightings/date=YYYY-MM-DD/.part-<run>-<chunk>.parquet.tmp``, a quarantine file
    ``quarantine/.<stem>-<run>.parquet.tmp``, ``cameras/.cameras.parquet.tmp``); scratch files
    of other tools, e.g. an analytics job's ``.tmp-XXXX`` outputs, are left alone.
    """
    lake = Path(lake)
    candidates = [
        *table_path(lake, "sightings").glob("date=*/.part-*.parquet.tmp"),
        *table_path(lake, "quarantine").glob(".*.parquet.tmp"),
        *table_path(lake, "cameras").glob(".cameras.parquet.tmp"),
    ]
    removed = 0
    for path in candidates:
        table = path.parent.parent.name if path.parent.name.startswith("date=") else None
        pattern = _STALE_TMP[table or path.parent.name]
        if not pattern.fullmatch(path.name) or not path.is_file() or path.is_symlink():
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def new_run_id() -> str:
    """A sortable, unique run id such as ``20240501T101500Z-3f9a1c``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def _as_arrow_strings(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if values.null_count:
        raise UsageError("make_sighting_ids: ids must not be missing")
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _hash_strings(values: Any) -> np.ndarray:
    """SipHash (pandas.util.hash_array, fixed key) of each string, hashing distinct values once."""
    encoded = pc.dictionary_encode(_as_arrow_strings(values))
    uniques = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    hashed = (
        pd.util.hash_array(uniques, categorize=False) if len(uniques) else np.zeros(0, np.uint64)
    )
    return hashed[np.array(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]


def _take_strings(arr: pa.Array, order: np.ndarray) -> pa.Array:
    """arr[order] for strings: gather dictionary codes in numpy (pyarrow's string take is slow
    for random orders)."""
    encoded = pc.dictionary_encode(arr)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))[order]
    return encoded.dictionary.take(pa.array(codes))


def _sorted_unique(ids: np.ndarray) -> np.ndarray:
    """np.unique for int64, without numpy 2.x's slow hash path."""
    a = np.sort(np.asarray(ids, dtype=np.int64))
    if len(a) < 2:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def make_sighting_ids(pid: Any, camera_id: Any, ts_us: Any) -> np.ndarray:
    """Deterministic int64 ids from (pid, camera_id, ts in epoch microseconds), vectorised.

    Parameters
    ----------
    pid, camera_id : array-like of str (list, numpy, pandas or pyarrow)
        Pseudonyms and camera ids (no missing values).
    ts_us : array-like of int64
        Microseconds since 1970-01-01 UTC (see ``schema.ts_to_epoch_us``).

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> a = make_sighting_ids(["p1", "p1"], ["c1", "c1"], [0, 1])
    >>> str(a.dtype), bool(a[0] != a[1]), bool(make_sighting_ids(["p1"], ["c1"], [0])[0] == a[0])
    ('int64', True, True)
    """
    ts = np.asarray(ts_us, dtype=np.int64)
    if not (len(ts) == len(pid) == len(camera_id)):
        raise UsageError("make_sighting_ids: pid, camera_id and ts_us must have the same length")
    if len(ts) == 0:
        return np.zeros(0, dtype=np.int64)
    h = _splitmix64(_hash_strings(pid))
    with np.errstate(over="ignore"):
        h = _splitmix64(h ^ _hash_strings(camera_id))
        h = _splitmix64(h ^ _splitmix64(ts.view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)))
    return h.view(np.int64)


class IdSet:
    """A growing set of int64 ids with vectorised membership (sorted runs, merged as they grow)."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return int(sum(len(r) for r in self._runs))

    def add(self, ids: np.ndarray) -> None:
        """Add ids (duplicates harmless)."""
        ids = _sorted_unique(ids)
        if len(ids) == 0:
            return
        self._runs.append(ids)
        while len(self._runs) >= 2 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(np.sort(np.concatenate([a, b]), kind="stable"))

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are in the set."""
        ids = np.asarray(ids, dtype=np.int64)
        found = np.zeros(len(ids), dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, ids)
            pos[pos == len(run)] = len(run) - 1
            found |= run[pos] == ids
        return found


def _date_strings(day_numbers: np.ndarray) -> list[str]:
    return [str(d) for d in np.asarray(day_numbers, dtype="datetime64[D]")]


class SightingsWriter:
    """Appends one run's sightings to ``LAKE/sightings`` and tells duplicates apart.

    A row is a *duplicate in the file* when an earlier row of this run had the same sighting_id,
    and a *duplicate in the lake* when the lake held it before the run (read per date partition,
    the first time the run touches that date). Ids of the touched partitions stay in memory
    (8 bytes per sighting).
    """

    def __init__(self, lake: Path, run_id: str) -> None:
        self.lake = Path(lake)
        self.run_id = run_id
        self.root = table_path(self.lake, "sightings")
        self._lake_ids = IdSet()
        self._run_ids = IdSet()
        self._loaded_days: set[int] = set()
        self._chunk = 0
        self.partitions: set[str] = set()

    def _load_days(self, days: Iterable[int]) -> None:
        for day in sorted(set(days) - self._loaded_days):
            self._loaded_days.add(day)
            part = self.root / f"date={_date_strings(np.array([day]))[0]}"
            if not part.is_dir():
                continue
            for f in sorted(part.glob("*.parquet")):
                if f.name.startswith(f"part-{self.run_id}-"):
                    continue
                try:
                    col = pq.read_table(f, columns=["sighting_id"]).column(0)
                except Exception as exc:
                    raise UsageError(f"cannot read lake file {f}: {exc}") from exc
                self._lake_ids.add(col.to_numpy())

    def classify(self, ids: np.ndarray, ts_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(duplicate-in-file mask, duplicate-in-lake mask) for the rows of one chunk."""
        ids = np.asarray(ids, dtype=np.int64)
        self._load_days(pd.unique(np.asarray(ts_us, dtype=np.int64) // _US_PER_DAY).tolist())
        in_file = pd.Series(ids).duplicated(keep="first").to_numpy() | self._run_ids.contains(ids)
        in_lake = ~in_file & self._lake_ids.contains(ids)
        return in_file, in_lake

    def write(
        self,
        sighting_id: np.ndarray,
        pid: Any,
        camera_id: Any,
        ts_us: np.ndarray,
        confidence: np.ndarray,
    ) -> int:
        """Write new rows (one file per UTC date, sorted by ts); returns rows written."""
        n = len(sighting_id)
        if n == 0:
            return 0
        ts_us = np.asarray(ts_us, dtype=np.int64)
        if len(ts_us) > 1 and bool(np.all(ts_us[1:] >= ts_us[:-1])):
            order = np.arange(n)
        else:
            order = np.argsort(ts_us, kind="stable")
        table = pa.Table.from_arrays(
            [
                pa.array(np.asarray(sighting_id, dtype=np.int64)[order], pa.int64()),
                _take_strings(_as_arrow_strings(pid), order),
                _take_strings(_as_arrow_strings(camera_id), order),
                pa.array(ts_us[order], pa.timestamp("us", tz="UTC")),
                pa.array(np.asarray(confidence, dtype=np.float64)[order], pa.float64()),
            ],
            schema=SIGHTINGS_ARROW,
        )
        days = ts_us[order] // _US_PER_DAY
        cuts = np.flatnonzero(np.diff(days)) + 1
        bounds = np.concatenate([[0], cuts, [n]])
        names = _date_strings(days[bounds[:-1]])
        for name, lo, hi in zip(names, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            part = self.root / f"date={name}"
            part.mkdir(parents=True, exist_ok=True)
            final = part / f"part-{self.run_id}-{self._chunk:05d}.parquet"
            tmp = part / f".{final.name}.tmp"
            pq.write_table(table.slice(lo, hi - lo), tmp, use_dictionary=["pid", "camera_id"])
            tmp.replace(final)
            self.partitions.add(name)
        self._run_ids.add(np.asarray(sighting_id, dtype=np.int64))
        self._chunk += 1
        return n


class QuarantineWriter:
    """Streams rejected rows to ``LAKE/quarantine/<stem>-<run>.parquet`` (no file if none).

    ``ingested_at`` (timezone-aware; default: now) is written into every row.
    """

    def __init__(
        self, lake: Path, source: Path, run_id: str, ingested_at: datetime | None = None
    ) -> None:
        stem = source.name.split(".")[0] or "input"
        self.path = table_path(lake, "quarantine") / f"{stem}-{run_id}.parquet"
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._writer: pq.ParquetWriter | None = None
        self.ingested_at = ingested_at if ingested_at is not None else datetime.now(UTC)
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Append rows with the columns of ``QUARANTINE_ARROW`` but ``ingested_at`` (set here);
        missing optional columns (pid, raw_bytes, raw_hash, ts) are written as nulls."""
        if len(frame) == 0:
            return
        n = len(frame)
        columns = []
        for field in QUARANTINE_ARROW:
            if field.name == "ingested_at":
                columns.append(pa.array([self.ingested_at] * n, field.type))
            elif field.name in frame:
                columns.append(pa.array(frame[field.name], field.type, from_pandas=True))
            else:
                columns.append(pa.nulls(n, field.type))
        table = pa.Table.from_arrays(columns, schema=QUARANTINE_ARROW)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, QUARANTINE_ARROW)
        self._writer.write_table(table)
        self.rows += n

    def close(self) -> Path | None:
        """Finish the file; returns its path (None when nothing was quarantined)."""
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Drop a half-written file after an error."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)


def upsert_cameras(lake: Path, cameras: pd.DataFrame) -> Path:
    """Merge cameras into ``LAKE/cameras/cameras.parquet`` (new rows win on camera_id)."""
    existing = read_cameras(lake)
    merged = pd.concat(
        [existing.astype(object), cameras[list(CAMERAS_ARROW.names)].astype(object)],
        ignore_index=True,
    )
    merged = merged.drop_duplicates("camera_id", keep="last").sort_values(
        "camera_id", kind="stable"
    )
    table = pa.Table.from_pandas(
        merged.reset_index(drop=True), schema=CAMERAS_ARROW, preserve_index=False
    )
    path = table_path(lake, "cameras") / "cameras.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def append_ingest_log(lake: Path, record: dict[str, Any]) -> Path:
    """Append one run record (counts and parameters only, never ids) to ``LAKE/_ingest_log.jsonl``."""
    path = Path(lake) / INGEST_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    return path


def read_ingest_log(lake: str | Path) -> list[dict[str, Any]]:
    """All run records of a lake, oldest first (empty when none)."""
    path = Path(lake) / INGEST_LOG
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
