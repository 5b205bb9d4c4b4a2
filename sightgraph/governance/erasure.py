"""Erasure (``forget``) and retention over the Parquet lake, derived tables included (DESIGN §8).

Both functions work in two passes. First they *plan*: every file that may hold matching rows is
read (only its pid, timestamp and ``raw`` columns) and the rows to drop are worked out, so a file
that cannot be read stops the run before anything changed. Then they *apply* the plan, rewriting
only the Parquet files that change, one file at a time, atomically: the kept rows go to a hidden
temporary file in the same folder (``.<name>.<random>.tmp``, which lake readers ignore), which is
synced and then renamed over the original. A run interrupted while applying leaves every file
either old or new, and running it again finishes the job (both are idempotent: a second run
removes 0 rows). A sightings file left with no rows is deleted, and so is a date partition left
empty; a derived or quarantine file left with no rows is kept, empty, with its schema and
parameters (and later runs read it like any other).

Which tables are touched: those of the lake's table registry (:data:`sightgraph.lake.TABLES`),
never a glob of whatever is in the folder. A lake holding a file that no registered table claims
(a table a new job wrote without registering it, a copy someone put there) is refused with one
line before anything changes: erasure could not promise to have erased from it. By kind:

- ``sightings`` (primary, ``sightings/date=YYYY-MM-DD/*.parquet``): by ``pid`` (forget) or
  ``ts`` (retention);
- ``quarantine`` (``quarantine/*.parquet``): forget drops rows whose ``pid`` column equals the
  pid or whose ``raw`` text holds it as a whole token. Ingest never stores a raw subject id
  there: a row that parses but fails validation is kept with its subject field replaced by its
  pid (and that pid in the ``pid`` column); a row that cannot be split into fields (unbalanced
  quotes, a stray delimiter, invalid JSON, bad UTF-8) keeps no text at all, only its line,
  reason, byte length (``raw_bytes``) and a keyed hash of its bytes (``raw_hash``, HMAC-SHA256
  with the pseudonym key), so it is accounted for and nothing in it can identify anyone.
  Retention drops a quarantine row when its own timestamp (``ts``, when it could be read) is
  before the cutoff, else when it was ingested (``ingested_at``) before it; files written before
  these columns existed go by the run time in their name
  (``<stem>-<YYYYmmddTHHMMSSZ>-<hex>.parquet``);
- the derived tables (``colocations``, ``colocation_events``, ``contacts``, ``visits``,
  ``transitions``, ``predictions``; each a single ``<name>.parquet`` or a folder of them):
  forget drops rows where any of the table's registered pid columns (or any string column
  named like one: ``pid``, ``pid_*``, ``*_pid``) equals the pid, and deletes whole files under
  a hive partition folder of the pid (``visits/pid=<pid>/...``); retention drops rows whose
  newest timestamp column (``last_ts``, ``ts``, ``leave``, ...) is older than the cutoff;
- ``models`` (``models/*.parquet`` and ``models/*.joblib``: the model ``predict`` saved, fitted
  on every subject's visits): forget deletes the saved model, both files, when its manifest
  (``models/<name>.parquet``) lists the pid, or when an estimator file has no manifest (it
  cannot be told whom it saw); the report counts models dropped, and the next ``predict``
  fits a new one. Retention deletes it (the data it was fitted on may be gone) and the next
  ``predict`` fits a new one;
- ``cameras`` and the logs (``_ingest_log.jsonl``, ``_exports.jsonl``, ``_erasures.parquet``,
  which hold no subject ids) are never touched. Scratch files (hidden names and ``*.tmp*`` of a
  running or killed writer) are not data: forget removes the ones a killed ingest left (it holds
  the lock, so no ingest owns them), and an analytics job's scratch goes with its job, which
  refuses to commit after an erasure; ``sightgraph forget --verify`` scans them too.

Exports: forget also erases the subject from every export the lake recorded
(``LAKE/_exports.jsonl``: an ``--out`` of colocate, contacts or trajectories outside the lake)
that is still on disk, by the pid columns of the table it copies, in the same plan (read first,
then rewritten atomically); ``keep_exports=True`` leaves them, and :func:`exports_holding` lists
those that still hold the subject. Retention does not touch exports. To check an erasure, see
:mod:`sightgraph.governance.verify` (``sightgraph forget --verify``).

Tables without pid or timestamp columns (camera-to-camera transition counts) are aggregates and are
left as they are: recompute them to drop a subject's contribution; they only show cells with at
least k subjects anyway (see :mod:`sightgraph.governance.privacy`).

Both hold the lake's writer lock for the whole run and, when they changed anything, raise the
lake's erasure generation (``LAKE/_erasures.parquet``, :func:`sightgraph.lake.erasure_generation`)
before releasing it, so an analytics job that read the lake before or during the run refuses to
commit its table into the lake afterwards (:func:`sightgraph.lake.commit_lock`) rather than
write erased rows back.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sightgraph._lazy import LazyModule
from sightgraph.errors import SightgraphError, UsageError
from sightgraph.lake import (
    DERIVED,
    PRIMARY,
    QUARANTINE,
    TABLES,
    LakeTable,
    bump_erasure_generation,
    check_registered,
    export_files,
    in_lake,
    lake_files,
    lake_lock,
    read_exports,
    table,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use: `sightgraph colocate` never needs it

__all__ = ["exports_holding", "forget_subject", "retention_apply", "retention_cutoff"]

_SIGHTINGS = "sightings"
_QUARANTINE = "quarantine"
_UTC_US = pa.timestamp("us", tz="UTC")
_EXPORTS = "exports"
_MODELS = "models"
_TEXT = frozenset(name for entry in TABLES for name in entry.text_columns)  # e.g. raw


# ---------------------------------------------------------------------------------------------
# lake discovery: the table registry (sightgraph.lake.TABLES)
def _check_lake(lake: str | os.PathLike[str]) -> Path:
    path = Path(lake)
    if not path.is_dir():
        raise UsageError(f"no lake at {path}: expected a folder made by `sightgraph ingest`")
    return path


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Run the wrapped lake writer (first argument: the lake) under the lake's writer lock."""

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            lake = args[0] if args else kwargs["lake"]
            with lake_lock(_check_lake(lake), what):  # type: ignore[arg-type]
                return fn(*args, **kwargs)

        return run

    return decorate


def _registered_tables(root: Path, what: str) -> list[tuple[LakeTable, list[Path]]]:
    """The lake's data tables (primary, derived, quarantine) with their files, in registry
    order; refuses a lake holding a file of no registered table (nothing changed)."""
    check_registered(root, what)
    files = lake_files(root)
    return [
        (entry, [f for f in files.get(entry.name, []) if f.suffix == ".parquet"])
        for entry in TABLES
        if entry.kind in (PRIMARY, DERIVED, QUARANTINE)
    ]


def _is_pid_name(name: str) -> bool:
    name = name.lower()
    return name == "pid" or name.startswith("pid_") or name.endswith("_pid")


def _pid_partitions(path: Path, root: Path) -> list[str]:
    """Values of hive partition folders named like a pid column (``pid=9f2c/...``)."""
    out = []
    for part in path.relative_to(root).parts[:-1]:
        key, sep, value = part.partition("=")
        if sep and _is_pid_name(key):
            out.append(unquote(value))
    return out


def _is_pid_column(field: pa.Field, names: frozenset[str] = frozenset()) -> bool:
    """A string column holding pseudonyms: registered as such (``names``) or named like one."""
    if field.name not in names and not _is_pid_name(field.name):
        return False
    typ = field.type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ))


# ---------------------------------------------------------------------------------------------
# atomic rewrite
def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_Mask = Callable[[pa.Table], pa.ChunkedArray | pa.Array]


@dataclass
class _Step:
    """One planned change: drop ``rows`` rows of ``table``'s file ``path``.

    ``keep`` is the boolean mask of the rows that stay (over the file as planned), or None to
    delete the whole file.
    """

    table: str
    path: Path
    rows: int
    keep: pa.Array | None


def _as_drop_mask(mask: Any, n: int) -> pa.Array:
    """A mask function's result as a boolean array of length ``n`` without nulls.

    An empty or all-null input can give a ``null``-typed array (``pa.array([])``); that means
    "drop nothing", never an error.
    """
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks() if mask.num_chunks else pa.array([], mask.type or pa.bool_())
    if pa.types.is_null(mask.type):
        return pa.array([False] * n, pa.bool_())
    if len(mask) != n:  # pragma: no cover - a mask function bug
        raise SightgraphError(f"internal error: a row mask of {len(mask)} rows for {n} rows")
    return pc.fill_null(mask.cast(pa.bool_()), False)


def _plan_file(
    table: str,
    path: Path,
    drop_mask: _Mask,
    delete_if_empty: bool,
    names: frozenset[str] = frozenset(),
) -> _Step | None:
    """Work out which rows of ``path`` go (None when none does); nothing is changed.

    The mask is computed from the pid columns (``names`` and pid-like names), timestamp and
    ``raw`` columns only.
    """
    pf = pq.ParquetFile(path)
    n = pf.metadata.num_rows
    if n == 0:
        return None
    needed = [
        f.name
        for f in pf.schema_arrow
        if _is_pid_column(f, names) or pa.types.is_timestamp(f.type) or f.name in _TEXT
    ]
    mask = _as_drop_mask(drop_mask(pf.read(columns=needed)), n)
    n_drop = int(pc.sum(mask).as_py() or 0)
    if n_drop == 0:
        return None
    if n_drop == n and delete_if_empty:
        return _Step(table, path, n, None)
    return _Step(table, path, n_drop, pc.invert(mask))


def _plan(what: str, work: list[tuple[str, Path, Callable[[], _Step | None]]]) -> list[_Step]:
    """Run every planner; a file that cannot be read stops here, before anything changed."""
    steps = []
    for _, path, planner in work:
        try:
            step = planner()
        except (OSError, pa.ArrowException) as exc:
            raise SightgraphError(
                f"{what}: cannot read {path} ({type(exc).__name__}: {exc}); nothing was changed"
            ) from exc
        if step is not None:
            steps.append(step)
    return steps


def _plan_and_apply(
    root: Path,
    kind: str,
    what: str,
    work: list[tuple[str, Path, Callable[[], _Step | None]]],
    report: dict[str, int],
    progress: bool,
) -> None:
    """:func:`_plan` every file, then :func:`_apply` the plan; rows removed added to ``report``."""
    steps = _plan(kind, work)
    _apply(root, kind, what, steps, progress)
    for step in steps:
        report[step.table] += step.rows


def _apply(root: Path, kind: str, what: str, steps: list[_Step], progress: bool) -> None:
    """Carry out a plan, one file at a time (each change atomic), then raise the lake's erasure
    generation (``kind``, e.g. ``"forget"``, is recorded; ``what`` may name the pid and is only
    shown).

    Raising the generation makes an analytics job that read the lake before or during this run
    refuse to commit its table (:func:`sightgraph.lake.commit_lock`) instead of writing erased
    rows back. It is raised at the end, not the start, so that a job that began reading while
    files were still being rewritten sees the change too. A plan with nothing to do changes
    nothing, not even the generation. Nor does a run that stops half way: it must be run again
    to finish, and that run, which erases from every lake file (one a job committed meanwhile
    included), raises it; so an interrupted run and its rerun leave the lake as one clean run.
    """
    if not steps:
        return
    _apply_steps(what, steps, progress)
    bump_erasure_generation(root, kind)


def _apply_steps(what: str, steps: list[_Step], progress: bool) -> None:
    for step in _progress(steps, what, progress):
        try:
            if step.keep is None:
                step.path.unlink()
                _fsync_dir(step.path.parent)
                continue
            table = pq.ParquetFile(step.path).read()
            if table.num_rows != len(step.keep):  # pragma: no cover - the lake lock prevents it
                raise SightgraphError(f"{step.path} changed while {what} was running")
            _write_atomic(table.filter(step.keep), step.path)
        except (OSError, pa.ArrowException) as exc:
            raise SightgraphError(
                f"{what} stopped while rewriting {step.path} ({type(exc).__name__}: {exc}); "
                "the files done so far are changed: run the same command again to finish"
            ) from exc


def _prune_empty_dirs(top: Path) -> None:
    """Remove folders under ``top`` (not ``top`` itself) left with nothing in them."""
    if not top.is_dir():
        return
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty


def _progress(items: list[Any], label: str, show: bool) -> Any:
    if not show:
        return items
    from rich.progress import track

    return track(items, description=label)


# ---------------------------------------------------------------------------------------------
# forget
def _pid_mask(pid: str, names: frozenset[str] = frozenset()) -> _Mask:
    def mask(table: pa.Table) -> pa.ChunkedArray | pa.Array:
        out: Any = pa.array([False] * table.num_rows, pa.bool_())
        for field in table.schema:
            if _is_pid_column(field, names):
                col = table.column(field.name)
                if pa.types.is_dictionary(field.type):
                    col = col.cast(field.type.value_type)
                out = pc.or_(out, pc.fill_null(pc.equal(col, pa.scalar(pid, col.type)), False))
        return out

    return mask


def _quarantine_mask(pid: str, names: frozenset[str], text: tuple[str, ...]) -> _Mask:
    token = re.compile(r"(?<!\w)" + re.escape(pid) + r"(?!\w)")
    by_column = _pid_mask(pid, names)

    def mask(table: pa.Table) -> pa.ChunkedArray | pa.Array:
        out = by_column(table)
        for name in text:
            if name in table.column_names:
                raw = table.column(name).to_pylist()
                hits = pa.array(
                    [isinstance(r, str) and token.search(r) is not None for r in raw], pa.bool_()
                )
                out = pc.or_(out, hits)
        return out

    return mask


def _pid_partition_step(table: str, path: Path) -> _Step:
    return _Step(table, path, pq.ParquetFile(path).metadata.num_rows, None)


def _model_step(pid: str, files: list[Path], path: Path) -> _Step | None:
    """Delete ``path``, one file of a saved model, when the model saw ``pid``: its manifest
    (``<name>.parquet``) lists the pid, or an estimator file has no manifest. Counted as one
    model per manifest (an estimator file: 0)."""
    stem = path.with_suffix("")
    manifest = stem.with_suffix(".parquet")
    if manifest in files:
        col = pq.read_table(manifest, columns=["pid"]).column("pid")
        if not pc.any(pc.equal(col, pid)).as_py():
            return None
    return _Step(_MODELS, path, 1 if path.suffix == ".parquet" else 0, None)


def _drop_model_step(path: Path) -> _Step:
    """Delete ``path``, one file of a saved model, whatever it saw (retention: the data it was
    fitted on may be gone). Counted as one model per manifest."""
    return _Step(_MODELS, path, 1 if path.suffix == ".parquet" else 0, None)


def _export_work(root: Path, pid: str) -> list[tuple[str, Path, Callable[[], _Step | None]]]:
    """Plans for the lake's recorded exports still on disk (outside the lake: inside it, the
    registry covers them): rows whose pid columns equal ``pid``."""
    work: list[tuple[str, Path, Callable[[], _Step | None]]] = []
    for record in read_exports(root):
        if in_lake(root, record["path"]):
            continue
        try:
            names = frozenset(table(str(record.get("table"))).pid_columns)
        except KeyError:
            names = frozenset()
        for f in export_files(record):
            if any(_is_pid_column(fl, names) for fl in _read_schema(f)):
                mask = _pid_mask(pid, names)
                work.append(
                    (_EXPORTS, f, functools.partial(_plan_file, _EXPORTS, f, mask, False, names))
                )
    return work


def exports_holding(lake: str | os.PathLike[str], pid: str) -> list[tuple[Path, int]]:
    """The lake's exports still on disk that hold ``pid``: (file, rows), nothing changed.

    Raises
    ------
    SightgraphError
        An export cannot be read.
    """
    root = _check_lake(lake)
    return [(step.path, step.rows) for step in _plan("forget", _export_work(root, pid))]


@_locked("forget")
def forget_subject(
    lake: str | os.PathLike[str], pid: str, *, progress: bool = False, keep_exports: bool = False
) -> dict[str, int]:
    """Erase one subject (by pseudonym) from the lake: sightings, quarantine and derived tables.

    Parameters
    ----------
    lake : str or Path
        The lake folder.
    pid : str
        The subject's pseudonym (as stored in the lake, not the raw id).
    progress : bool, default False
        Show a rich progress bar over the files.
    keep_exports : bool, default False
        Leave the lake's exports (``--out`` copies outside the lake, recorded in
        ``LAKE/_exports.jsonl``) as they are; :func:`exports_holding` lists the ones that
        still hold the subject. By default the subject is erased from them too.

    Returns
    -------
    dict of str to int
        Rows removed per table: ``"sightings"`` and ``"quarantine"`` always, then every other
        table that has a pid column (``"contacts"``, ``"colocations"``, ...), 0 where nothing
        matched, ``"models"`` (saved prediction models dropped because they were fitted on the
        subject's visits) when the lake has one, and ``"exports"`` (rows removed from exports) when the lake has recorded
        exports on disk and ``keep_exports`` is false. A second run returns all zeros.

    Raises
    ------
    UsageError
        If ``lake`` is not a folder or ``pid`` is blank.
    SightgraphError
        If a file cannot be read (nothing was changed) or cannot be rewritten (the files done
        so far are changed; running forget again finishes the job).

    Notes
    -----
    Every file is read (pid and ``raw`` columns only) before any is changed; then only the
    files that hold the pid are rewritten (atomically, one at a time). Quarantine rows are
    dropped when their ``pid`` column equals ``pid`` or when the ``raw`` text contains ``pid``
    as a whole token (not preceded or followed by a letter, digit or underscore, so forgetting
    ``p1`` leaves ``p10`` alone). Aggregate tables without pid columns are not changed.

    Examples
    --------
    >>> forget_subject("lake", "9f2c")  # doctest: +SKIP
    {'sightings': 12, 'quarantine': 1, 'colocations': 3, 'contacts': 2}
    """
    root = _check_lake(lake)
    if not isinstance(pid, str) or not pid.strip():
        raise UsageError("forget: pid must be a non-empty pseudonym")

    report: dict[str, int] = {_SIGHTINGS: 0, _QUARANTINE: 0}
    work: list[tuple[str, Path, Callable[[], _Step | None]]] = []
    tables = _registered_tables(root, "forget")
    _remove_stale_ingest_tmp(root)
    for entry, files in tables:
        names = frozenset(entry.pid_columns)
        if entry.name == _MODELS:
            models = table(_MODELS).files(root)  # the estimator files too, not only Parquet
            if models:
                report.setdefault(_MODELS, 0)
            for f in models:
                work.append((_MODELS, f, functools.partial(_model_step, pid, models, f)))
            continue
        for f in files:
            planner: Callable[[], _Step | None]
            if entry.kind != PRIMARY and pid in _pid_partitions(f, root):
                # a partition of this subject only: drop the file
                planner = functools.partial(_pid_partition_step, entry.name, f)
            elif entry.kind == QUARANTINE:
                in_quarantine = _quarantine_mask(pid, names, entry.text_columns)
                planner = functools.partial(_plan_file, entry.name, f, in_quarantine, False, names)
            elif entry.name == _SIGHTINGS:
                planner = functools.partial(
                    _plan_file, entry.name, f, _pid_mask(pid, names), True, names
                )
            elif entry.kind == DERIVED and (
                any(_is_pid_column(fl, names) for fl in _read_schema(f)) or _pid_partitions(f, root)
            ):
                planner = functools.partial(
                    _plan_file, entry.name, f, _pid_mask(pid, names), False, names
                )
            else:
                continue  # cameras, aggregates: no subjects
            report.setdefault(entry.name, 0)
            work.append((entry.name, f, planner))
    if not keep_exports:
        exports = _export_work(root, pid)
        if exports:
            report.setdefault(_EXPORTS, 0)
            work.extend(exports)

    _plan_and_apply(root, "forget", f"forget {pid}", work, report, progress)
    for name in report:
        if name not in (_QUARANTINE, _EXPORTS):
            _prune_empty_dirs(root / name)
    return report


def _remove_stale_ingest_tmp(root: Path) -> None:
    """Remove the temporary files a killed ingest left (they may hold the subject); safe under
    the lake's writer lock, which every ingest holds while it writes them."""
    from sightgraph.ingest.lake_writer import remove_stale_tmp

    remove_stale_tmp(root)


def _read_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise SightgraphError(
            f"cannot read {path} ({type(exc).__name__}: {exc}); nothing was changed"
        ) from exc


# ---------------------------------------------------------------------------------------------
# retention
def retention_cutoff(days: float, now: Any = None) -> pd.Timestamp:
    """The retention cutoff ``now - days`` (UTC); sightings at or after it are kept.

    Parameters
    ----------
    days : int or float
        Days to keep (>= 0).
    now : timestamp-like, optional
        Timezone-aware "now" (default: the current UTC time). Naive times are refused.

    Returns
    -------
    pandas.Timestamp
        Timezone-aware UTC cutoff.

    Examples
    --------
    >>> retention_cutoff(7, now="2024-05-08T12:00:00Z")
    Timestamp('2024-05-01 12:00:00+0000', tz='UTC')
    """
    if isinstance(days, bool) or not isinstance(days, (int, float)):
        raise UsageError(f"retention: days must be a number, got {days!r}")
    if not pd.notna(days) or days < 0 or days == float("inf"):
        raise UsageError(f"retention: days must be a finite number >= 0, got {days!r}")
    if now is None:
        now_ts = pd.Timestamp.now(tz="UTC")
    else:
        try:
            now_ts = pd.Timestamp(now)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"retention: cannot read now={now!r} as a time ({exc})") from None
        if now_ts.tzinfo is None:
            raise UsageError(f"retention: now={now!r} must be timezone-aware (UTC)")
    return (now_ts.tz_convert("UTC") - pd.Timedelta(days=days)).as_unit("us")


def _ts_bounds(path: Path) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(min, max) of column ts from the Parquet footer statistics; (None, None) if unknown."""
    meta = pq.ParquetFile(path).metadata
    if meta.num_rows == 0:
        return None, None
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if "ts" not in names:
        return None, None
    idx = names.index("ts")
    lo: pd.Timestamp | None = None
    hi: pd.Timestamp | None = None
    for rg in range(meta.num_row_groups):
        col = meta.row_group(rg).column(idx)
        st = col.statistics
        if st is None or not st.has_min_max or st.null_count != 0:
            return None, None  # unknown, or rows without ts: read the file instead
        try:
            mn, mx = pd.Timestamp(st.min), pd.Timestamp(st.max)
        except (TypeError, ValueError):
            return None, None
        mn = mn.tz_localize("UTC") if mn.tzinfo is None else mn.tz_convert("UTC")
        mx = mx.tz_localize("UTC") if mx.tzinfo is None else mx.tz_convert("UTC")
        lo = mn if lo is None or mn < lo else lo
        hi = mx if hi is None or mx > hi else hi
    return lo, hi


def _utc(col: Any, typ: pa.TimestampType) -> Any:
    """A timestamp column as timestamp[us, UTC] (naive values are read as UTC)."""
    if typ.tz is None:
        col = col.cast(pa.timestamp(typ.unit), safe=False)
        col = pc.assume_timezone(col, "UTC")
    return col.cast(_UTC_US, safe=False)


def _old_mask(cutoff: pd.Timestamp) -> _Mask:
    """Rows with at least one timestamp whose every timestamp is < cutoff (nulls ignored)."""
    scalar = pa.scalar(cutoff.to_pydatetime(), _UTC_US)

    def mask(table: pa.Table) -> pa.ChunkedArray | pa.Array:
        any_time: Any = pa.array([False] * table.num_rows, pa.bool_())
        any_new: Any = pa.array([False] * table.num_rows, pa.bool_())
        for field in table.schema:
            if not pa.types.is_timestamp(field.type):
                continue
            col = _utc(table.column(field.name), field.type)
            any_time = pc.or_(any_time, pc.is_valid(col))
            any_new = pc.or_(any_new, pc.fill_null(pc.greater_equal(col, scalar), False))
        return pc.and_(any_time, pc.invert(any_new))

    return mask


_RUN_TIME = re.compile(r"-(\d{8}T\d{6}Z)-[0-9a-f]+\.parquet$")


def _run_time(path: Path) -> pd.Timestamp | None:
    """When the ingest run that wrote a quarantine file started, from its name (or None)."""
    m = _RUN_TIME.search(path.name)
    if m is None:
        return None
    try:
        return pd.Timestamp(m.group(1)).tz_convert("UTC").as_unit("us")
    except ValueError:
        return None


def _quarantine_old_mask(cutoff: pd.Timestamp, fallback: pd.Timestamp | None) -> _Mask:
    """Quarantine rows whose time is < cutoff: the row's ``ts`` when it was read, else its
    ``ingested_at``, else ``fallback`` (the run time in the file name); rows with no time at
    all stay."""
    scalar = pa.scalar(cutoff.to_pydatetime(), _UTC_US)
    fb = None if fallback is None else pa.scalar(fallback.to_pydatetime(), _UTC_US)

    def mask(table: pa.Table) -> pa.ChunkedArray | pa.Array:
        when: Any = pa.nulls(table.num_rows, _UTC_US)
        for name in ("ts", "ingested_at"):
            if name in table.column_names:
                typ = table.schema.field(name).type
                if pa.types.is_timestamp(typ):
                    when = pc.coalesce(when, _utc(table.column(name), typ))
        if fb is not None:
            when = pc.coalesce(when, fb)
        return pc.fill_null(pc.less(when, scalar), False)

    return mask


def _has_timestamp(schema: pa.Schema) -> bool:
    return any(pa.types.is_timestamp(f.type) for f in schema)


def _sightings_step(path: Path, cutoff: pd.Timestamp, old: _Mask) -> _Step | None:
    """Retention plan of one sightings file: its ``ts`` statistics decide whole files."""
    lo, hi = _ts_bounds(path)
    if lo is not None and hi is not None:
        if lo >= cutoff:
            return None  # wholly kept: not opened
        if hi < cutoff:  # wholly old: dropped without reading the data
            return _Step(_SIGHTINGS, path, pq.ParquetFile(path).metadata.num_rows, None)
    return _plan_file(_SIGHTINGS, path, old, delete_if_empty=True)


@_locked("retention apply")
def retention_apply(
    lake: str | os.PathLike[str], days: float, now: Any = None, *, progress: bool = False
) -> dict[str, int]:
    """Delete data older than ``now - days`` from the lake's sightings, quarantine and derived
    tables.

    Parameters
    ----------
    lake : str or Path
        The lake folder.
    days : int or float
        Days to keep (>= 0).
    now : timestamp-like, optional
        Timezone-aware "now" (default: the current UTC time); see :func:`retention_cutoff`.
    progress : bool, default False
        Show a rich progress bar over the files.

    Returns
    -------
    dict of str to int
        Rows removed per table: ``"sightings"`` always, ``"quarantine"`` when the lake has a
        quarantine, then every other table with a timestamp column, 0 where nothing was old
        enough. A second run with the same ``now`` returns zeros.

    Raises
    ------
    SightgraphError
        If a file cannot be read (nothing was changed) or cannot be rewritten (the files done
        so far are changed; running retention again finishes the job).

    Notes
    -----
    The cutoff is kept: a sighting with ``ts == now - days`` stays, one a microsecond earlier
    goes. A sightings file whose ``ts`` statistics lie wholly before the cutoff is deleted
    without reading it (so are date partitions left empty), a file wholly at or after the cutoff
    is not opened, and only the boundary file(s) are rewritten. A derived row goes when all its
    timestamps (``first_ts``, ``last_ts``, ``arrive``, ``leave``, ...) are before the cutoff, i.e.
    its newest one is; rows whose timestamps are all missing stay. A quarantine row goes when its
    ``ts`` is before the cutoff, or, when it has none (its time could not be read, or the row
    could not be parsed), when it was ingested before the cutoff.
    """
    root = _check_lake(lake)
    cutoff = retention_cutoff(days, now)
    old = _old_mask(cutoff)

    report: dict[str, int] = {_SIGHTINGS: 0}
    work: list[tuple[str, Path, Callable[[], _Step | None]]] = []
    for entry, files in _registered_tables(root, "retention apply"):
        if entry.name == _MODELS:  # fitted on data that may now be gone: the next predict refits
            models = table(_MODELS).files(root)
            if models:
                report.setdefault(_MODELS, 0)
            for f in models:
                work.append((_MODELS, f, functools.partial(_drop_model_step, f)))
            continue
        for f in files:
            planner: Callable[[], _Step | None]
            if entry.name == _SIGHTINGS:
                planner = functools.partial(_sightings_step, f, cutoff, old)
            elif entry.kind == QUARANTINE:
                q_old = _quarantine_old_mask(cutoff, _run_time(f))
                planner = functools.partial(_plan_file, entry.name, f, q_old, False)
            elif entry.kind == DERIVED and _has_timestamp(_read_schema(f)):
                planner = functools.partial(_plan_file, entry.name, f, old, False)
            else:
                continue  # cameras; tables without times
            report.setdefault(entry.name, 0)
            work.append((entry.name, f, planner))

    what = f"retention before {cutoff.isoformat()}"
    _plan_and_apply(root, "retention apply", what, work, report, progress)
    _prune_empty_dirs(root / _SIGHTINGS)
    return report
