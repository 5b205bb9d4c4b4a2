"""Verify an erasure (``sightgraph forget --verify PID``): look for a subject everywhere the lake
and the embedded store keep data, and say where anything of it remains.

What is scanned:

- every file in the lake folder, whatever table owns it (:func:`sightgraph.lake.lake_files`),
  including scratch files of running or killed jobs and files of no registered table;
- every export the lake recorded (``LAKE/_exports.jsonl``) that is still on disk;
- the embedded store's file (``graph.duckdb``) and its write-ahead log, when given.

How: the raw bytes of every file are searched for the pseudonym (and for the raw id, when the
request named one with ``--raw``; ids shorter than 6 bytes only as whole values, since such short
byte strings occur by chance). Bytes alone can miss a value that Parquet or DuckDB compressed, so
Parquet files are also decoded (every string column and the file's metadata: a value that
contains the needle), and the store's tables are queried for the pid. A finding names the file
and how it was found; none means nothing of the subject is left in any of these places.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sightgraph.errors import UsageError
from sightgraph.lake import export_files, in_lake, lake_files, read_exports

__all__ = ["Finding", "MIN_BYTES_NEEDLE", "verify_erasure"]

#: Needles shorter than this are not searched as bytes (they occur by chance), only as values.
MIN_BYTES_NEEDLE = 6


@dataclass(frozen=True)
class Finding:
    """Where something of the subject remains: ``path``, ``what`` was found (``"pid"`` or
    ``"raw id"``) and ``how`` (``"bytes"``, ``"column NAME"``, ``"metadata"``, ``"table T"``)."""

    path: Path
    what: str
    how: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what} ({self.how})"


def _bytes_hit(path: Path, needle: bytes) -> bool:
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(needle) != -1
    except (OSError, ValueError):
        return False


def _string_type(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return bool(
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    )


def _parquet_hits(path: Path, needles: dict[str, tuple[str, bool]]) -> list[tuple[str, str]]:
    """(what, how) for every needle found as (part of) a string value or in the metadata.

    ``needles``: what -> (text, whole): ``whole`` matches only a whole value."""
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException):
        return []
    out: list[tuple[str, str]] = []
    meta = pf.schema_arrow.metadata or {}
    blob = b"\n".join(k + b"=" + v for k, v in meta.items())
    for what, (text, whole) in needles.items():
        if not whole and text.encode() in blob:
            out.append((what, "metadata"))
    columns = [f.name for f in pf.schema_arrow if _string_type(f.type)]
    if not columns:
        return out
    found: set[tuple[str, str]] = set()
    for batch in pf.iter_batches(columns=columns, batch_size=65_536):
        for name in columns:
            col = batch.column(name)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
                col = col.cast(pa.large_string(), safe=False)
            for what, (text, whole) in needles.items():
                if (what, name) in found:
                    continue
                hit = pc.equal(col, text) if whole else pc.match_substring(col, text)
                if pc.any(hit).as_py():
                    found.add((what, name))
    out += [(what, f"column {name}") for what, name in sorted(found)]
    return out


def _scan_file(path: Path, needles: dict[str, tuple[str, bool]]) -> list[Finding]:
    hits: list[Finding] = []
    for what, (text, whole) in needles.items():
        if not whole and _bytes_hit(path, text.encode("utf-8")):
            hits.append(Finding(path, what, "bytes"))
    if path.suffix == ".parquet" or ".parquet." in path.name:
        hits += [Finding(path, what, how) for what, how in _parquet_hits(path, needles)]
    return hits


def _store_hits(store: Path, pid: str) -> list[Finding]:
    """The pid in the embedded store's tables (read-only; a store that cannot be opened is
    reported as a finding, since it could not be checked)."""
    import duckdb

    try:
        con = duckdb.connect(str(store), read_only=True)
    except duckdb.Error as exc:
        return [Finding(store, "pid", f"not checked: cannot open the store ({exc})")]
    try:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
        out = []
        for table, cols in (
            ("persons", ("pid",)),
            ("seen_at", ("pid",)),
            ("contacts", ("pid_a", "pid_b")),
        ):
            if table not in tables:
                continue
            where = " OR ".join(f"{c} = $pid" for c in cols)
            row = con.execute(
                f"SELECT count(*) FROM {table} WHERE {where}", {"pid": pid}
            ).fetchone()
            if row is not None and row[0]:
                out.append(Finding(store, "pid", f"table {table}: {row[0]} rows"))
        return out
    finally:
        con.close()


def verify_erasure(
    lake: str | os.PathLike[str],
    pid: str,
    raw: str | None = None,
    store: str | os.PathLike[str] | None = None,
) -> list[Finding]:
    """Every place where the subject ``pid`` (and the raw id ``raw``, if given) remains.

    Parameters
    ----------
    lake : path
        The lake folder: every file in it is scanned, and every export it recorded.
    pid : str
        The pseudonym.
    raw : str, optional
        The raw identifier the erasure request named (never stored by sightgraph: any hit is a
        leak).
    store : path, optional
        The embedded store's file (``graph.duckdb``); its ``.wal`` is scanned too. Neo4j keeps
        its own files and is not scanned here.

    Returns
    -------
    list of Finding
        Empty when nothing of the subject is left.

    Raises
    ------
    UsageError
        ``lake`` is not a folder, or ``pid`` is blank.
    """
    root = Path(lake)
    if not root.is_dir():
        raise UsageError(f"no lake at {root}: expected a folder made by `sightgraph ingest`")
    if not isinstance(pid, str) or not pid.strip():
        raise UsageError("forget --verify: pid must be a non-empty pseudonym")
    needles: dict[str, tuple[str, bool]] = {"pid": (pid, len(pid.encode()) < MIN_BYTES_NEEDLE)}
    if raw is not None and raw.strip():
        text = raw.strip()
        needles["raw id"] = (text, len(text.encode()) < MIN_BYTES_NEEDLE)
    files = [f for group in lake_files(root).values() for f in group]
    for record in read_exports(root):
        if not in_lake(root, record["path"]):
            files += export_files(record)
    findings: list[Finding] = []
    for f in sorted(set(files)):
        findings += _scan_file(f, needles)
    if store is not None:
        db = Path(store)
        for f in (db, Path(f"{db}.wal")):
            if f.is_file():
                findings += [h for h in _scan_file(f, needles) if h.how == "bytes"]
        if db.is_file():
            findings += _store_hits(db, pid)
    return findings
