"""Exact co-location (DESIGN §4, §6).

A **co-location event** is two sightings of *distinct* subjects at the same camera (or, with a
radius ``R > 0`` metres, at two cameras at most ``R`` metres apart, great-circle distance on the
cameras' lat/lon) whose times differ by at most the window ``W`` seconds (``|t1 - t2| <= W``;
default ``W = 60``, ``R = 0``). Every matching pair of sightings is one event. Per pair of subjects
(``pid_a < pid_b`` as strings): ``n_events``, ``first_ts`` and ``last_ts``, the earliest and the
latest timestamp among *both* sightings of all the pair's events (so ``last_ts - first_ts`` spans
everything that was seen of the pair together).

How it is computed (DESIGN §6): pids and camera ids become integer ranks of their sorted
distinct values; sightings are grouped by camera and sorted by time, and a compiled sweep
(:mod:`sightgraph.analytics._kernels`) matches each sighting only with the sightings inside its
time window, first counting the matches, then filling preallocated arrays. Nothing ever compares
all pairs of a camera's sightings. Over a lake, the work is a Dask job:

1. *reading sightings*: one task per group of Parquet row groups (string columns are read as
   dictionaries and re-coded to the global codes);
2. *sweeping cameras*: cameras are spread over ``npartitions`` partitions (largest expected work
   first, expected work being quadratic in the crowd per 15 minutes), each a task that sweeps its
   cameras in chunks of bounded size, folds each chunk's events into pair aggregates and appends
   them to on-disk bucket files (with ``R > 0`` a partition also reads the sightings of the
   neighbouring cameras it needs, and each pair of cameras is matched by exactly one partition);
3. *reducing pairs*: one task per bucket sorts and sums its rows (buckets too big for memory are
   processed in slices of ``pid_a``). Buckets are ranges of ``pid_a`` codes (a monotone hash of
   the pair, balanced on the expected rows) rather than a modulo hash, so that
4. *writing pairs* is a plain concatenation: while the reducers run, the calling thread appends
   each finished bucket, in order, to one Parquet file sorted by ``(pid_a, pid_b)``.

Memory is bounded by the chunk and bucket budgets, not by the number of events or pairs.
Results never depend on the partitioning, the scheduler or the row order of the input.

Fault tolerance (a cluster may lose a worker at any time, and Dask then re-runs tasks, even
finished ones whose results lived on that worker): no task deletes or rewrites a file that
another task, or a re-run of itself, may read. Every attempt of a sweep or reduce task writes
under its own unique names and *returns* those names with its counts; the calling thread uses
only the files named by the results it received (a re-run's duplicates are ignored), checks
that the counts add up (every partition's rows reach the buckets, every bucket's rows reach its
reducer, every reduced row reaches the table, every event reaches the events directory) and
raises :class:`~sightgraph.errors.SightgraphError` otherwise; it alone deletes scratch files,
once nothing can need them any more.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dask import delayed
from rich.progress import Progress

from sightgraph._lazy import LazyModule
from sightgraph.analytics import _kernels
from sightgraph.analytics.compute import Scheduler, progress_bar, resolve_scheduler, spill_dir
from sightgraph.analytics.trajectories import haversine_m
from sightgraph.errors import SightgraphError, UsageError
from sightgraph.lake import (
    PARAMS_KEY,
    commit_into,
    erasure_generation,
    read_cameras,
    sightings_files,
)
from sightgraph.schema import (
    COLOCATION_EVENT_COLUMNS,
    COLOCATION_EVENT_CONFIDENCE_COLUMNS,
    COLOCATION_PAIR_COLUMNS,
    require_columns,
    ts_to_epoch_us,
    validate_sightings,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use: `sightgraph colocate` never needs it

K: Any = _kernels  # the numba dispatchers, untyped for mypy

__all__ = [
    "EVENT_COLUMNS",
    "ColocationResult",
    "colocate_lake",
    "find_colocations",
    "map_event_partitions",
]

#: Columns of an events frame: :data:`~sightgraph.schema.COLOCATION_EVENT_COLUMNS` + confidences.
EVENT_COLUMNS = COLOCATION_EVENT_COLUMNS + COLOCATION_EVENT_CONFIDENCE_COLUMNS

_EARTH_R = 6_371_008.8  # metres, as trajectories.haversine_m
# Memory budgets (rows). A sweep chunk folds at most _CHUNK_EVENTS events (~56 bytes each in
# the pair buffers); a bucket is reduced in memory when it has at most _BUCKET_ROWS partial rows
# (~56 bytes each while folded), else in slices of pid_a.
_CHUNK_EVENTS = 4_000_000
_BUCKET_ROWS = 12_000_000
_CACHE_BITS = 14  # 16384-slot pre-aggregation cache (512 KiB, in L2)
_AGGREGATE_MIN_GAIN = 0.8  # keep aggregating chunks while they shrink to less than this
_AGGREGATE_PROBE_ROWS = 100_000  # ... or while they are too small to judge
_READ_ROWS = 2_000_000  # rows per reading task (whole row groups)
_ROW_GROUP = 2_000_000  # rows per row group of the output files
_TS = pa.timestamp("us", tz="UTC")
#: Test hook, off unless set (tests/analytics/test_fault_tolerance.py): the path of a file that
#: reads ``read``, ``sweep:K`` or ``reduce:Q``, optionally followed by `` hold``; see
#: :func:`_test_kill`.
_KILL_ENV = "SIGHTGRAPH_TEST_KILL_FILE"


def _test_kill(phase: str, index: int | None = None, start: bool = False) -> None:
    """Test hook: SIGKILL this process at the end of one task, once.

    Does nothing unless ``$SIGHTGRAPH_TEST_KILL_FILE`` names a file that reads ``phase`` or
    ``phase:index`` (a reading task; sweep of partition K; reduce of bucket Q). The first task
    to match renames the file away (atomically: only one wins) and kills its own process after
    its side effects, as a worker lost between finishing a task and reporting it. With
    `` hold`` after it, task 0 of the phase waits at its ``start`` until then and 3 s more (a
    slow first bucket: the calling thread, which needs bucket 0 first, has used no result
    when the worker dies, and Dask re-runs the lost tasks before it can).
    """
    spec = os.environ.get(_KILL_ENV)
    if not spec:
        return
    try:
        want, _, hold = Path(spec).read_text().strip().partition(" ")
    except OSError:
        return
    if start:
        if hold and index == 0 and want.startswith(f"{phase}:") and want != f"{phase}:0":
            deadline = time.monotonic() + 10
            while os.path.exists(spec) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(3)  # and is slow: the re-runs of the lost tasks finish first
        return
    if want not in (phase, f"{phase}:{index}"):
        return
    try:
        os.rename(spec, spec + ".fired")
    except OSError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ColocationResult:
    """What :func:`colocate_lake` wrote.

    Attributes
    ----------
    pairs : int
        Rows of the pair table (distinct pairs that co-located).
    events : int
        Co-location events (matching pairs of sightings).
    out : Path
        The pair table (one Parquet file sorted by ``pid_a, pid_b``).
    events_out : Path or None
        Directory of event Parquet files (``part-*.parquet``), if asked for.
    seconds : float
        Wall-clock time of the whole job.
    params : dict
        The parameters recorded in the files' metadata.
    """

    pairs: int
    events: int
    out: Path
    events_out: Path | None
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the command line."""
        extra = f"; events in {self.events_out}" if self.events_out is not None else ""
        return (
            f"{self.pairs:,} pairs from {self.events:,} co-location events "
            f"(W = {self.params.get('window_s', '?')} s, R = {self.params.get('radius_m', '?')} m) "
            f"in {self.seconds:.1f} s -> {self.out}{extra}"
        )


# ---------------------------------------------------------------------------------------------
# validation


def _check_number(value: Any, name: str, unit: str) -> float:
    if hasattr(value, "total_seconds"):  # datetime.timedelta, pandas.Timedelta
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise UsageError(f"{name} must be a finite number of {unit}, got {value!r}")
    if value < 0:
        raise UsageError(f"{name} must be >= 0 {unit}, got {value!r}")
    return float(value)


def _window_us(window_s: Any) -> int:
    return int(round(_check_number(window_s, "window", "seconds") * 1_000_000))


def _check_confidence(value: Any) -> float:
    v = _check_number(value, "min_confidence", "(a score in [0, 1])")
    if v > 1:
        raise UsageError(f"min_confidence must be in [0, 1], got {value!r}")
    return v


def _check_positive_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_crowd_cap(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise UsageError(f"crowd_cap must be an integer >= 0 (or None), got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# encoding: strings -> sorted integer codes


@dataclass
class _Frag:
    """Sightings of one reading task, with fragment-local dictionaries."""

    pid_dict: pa.Array
    pid_idx: np.ndarray  # int32 into pid_dict
    cam_dict: pa.Array
    cam_idx: np.ndarray  # int32 into cam_dict
    ts: np.ndarray  # int64 us
    sid: np.ndarray | None = None  # int64
    conf: np.ndarray | None = None  # float64


@dataclass
class _Summary:
    pid_dict: pa.Array
    pid_counts: np.ndarray
    cam_dict: pa.Array
    cam_counts: np.ndarray
    cam_events: np.ndarray  # expected events per camera (see _summarize)
    rows: int


_NUMPY_OF = {
    pa.int8(): np.int8,
    pa.int16(): np.int16,
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.uint8(): np.uint8,
    pa.uint16(): np.uint16,
    pa.uint32(): np.uint32,
    pa.uint64(): np.uint64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow array as NumPy: a read-only view of a primitive array without nulls.

    pyarrow's own ``to_numpy`` imports pandas on its first call (pyarrow 26): a third of a
    second of every ``sightgraph colocate``, which otherwise never needs pandas. Other arrays
    (nulls, other types) go through ``to_numpy``.
    """
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            return _np(arr.chunk(0))
        if arr.num_chunks == 0 or arr.type not in _NUMPY_OF:
            return arr.to_numpy()
        return np.concatenate([_np(c) for c in arr.chunks])
    dtype = _NUMPY_OF.get(arr.type)
    if dtype is None or arr.null_count:
        return arr.to_numpy(zero_copy_only=False)
    if len(arr) == 0:
        return np.empty(0, dtype)
    width = np.dtype(dtype).itemsize
    return np.frombuffer(arr.buffers()[1], dtype, len(arr), arr.offset * width)


def _arrow(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A NumPy array as an Arrow array of ``type_`` (same width, no nulls), without a copy of
    a contiguous array and without ``pa.array``, which imports pandas (see :func:`_np`)."""
    values = np.ascontiguousarray(values, np.dtype(f"{values.dtype.kind}{type_.bit_width // 8}"))
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def _encode_column(arr: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Strings -> (distinct strings, int32 index per row). Dictionary chunks (as read from
    Parquet with ``read_dictionary``) are merged without touching the rows' strings."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if chunks and all(pa.types.is_dictionary(c.type) for c in chunks):
        dicts = [c.dictionary.cast(pa.string()) for c in chunks]
        union = pc.unique(pa.concat_arrays(dicts)) if len(dicts) > 1 else dicts[0]
        parts = []
        for c, d in zip(chunks, dicts, strict=True):
            remap = _remap(d, union) if len(dicts) > 1 else np.arange(len(d), dtype=np.int32)
            parts.append(remap[_np(c.indices)])
        idx = np.concatenate(parts) if parts else np.empty(0, np.int32)
        return union, idx.astype(np.int32, copy=False)
    if isinstance(arr, pa.ChunkedArray):
        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks != 1 else arr.chunk(0)
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    enc = pc.dictionary_encode(arr)
    idx = _np(enc.indices).astype(np.int32, copy=False)
    return enc.dictionary.cast(pa.string()), idx


def _frag_from_table(table: pa.Table, with_ids: bool) -> _Frag:
    pid_dict, pid_idx = _encode_column(table.column("pid"))
    cam_dict, cam_idx = _encode_column(table.column("camera_id"))
    ts_col = table.column("ts")
    if ts_col.type != _TS:
        ts_col = pc.cast(ts_col, _TS)
    ts = _np(pc.cast(ts_col, pa.int64())).astype(np.int64, copy=False)
    frag = _Frag(pid_dict, pid_idx, cam_dict, cam_idx, ts)
    if with_ids:
        frag.sid = _np(table.column("sighting_id")).astype(np.int64, copy=False)
        conf = table.column("confidence")
        frag.conf = _np(pc.cast(conf, pa.float64())).astype(np.float64, copy=False)
    return frag


def _summarize(frag: _Frag, window_us: int) -> _Summary:
    """Counts per pid and camera, and each camera's expected events (for balancing work).

    The expectation treats sightings as uniform in time within bins of
    ``max(15 min, 4 W)``: sum over bins of ``n**2 / 2 * (2 W + 1) / bin``, so that rush hours
    and crowds weigh what they cost (quadratically).
    """
    ncam = len(frag.cam_dict)
    events = np.zeros(ncam, np.float64)
    if len(frag.ts):
        width = max(900_000_000, 4 * window_us)
        t0 = int(frag.ts.min())
        nbins = int(frag.ts.max() - t0) // width + 1
        while ncam * nbins > 4_000_000 and nbins > 1:
            width *= 2
            nbins = int(frag.ts.max() - t0) // width + 1
        cell = frag.cam_idx.astype(np.int64) * nbins + (frag.ts - t0) // width
        n = np.bincount(cell, minlength=ncam * nbins).astype(np.float64).reshape(ncam, nbins)
        events = (n * n).sum(axis=1) / 2 * min(1.0, (2 * window_us + 1) / width)
    return _Summary(
        frag.pid_dict,
        np.bincount(frag.pid_idx, minlength=len(frag.pid_dict)),
        frag.cam_dict,
        np.bincount(frag.cam_idx, minlength=ncam),
        events,
        len(frag.ts),
    )


def _sorted_union(dicts: Sequence[pa.Array]) -> pa.Array:
    if not dicts:
        return pa.array([], pa.string())
    u = pc.unique(pa.concat_arrays(list(dicts)))
    return u.take(pc.sort_indices(u))


def _remap(local: pa.Array, global_dict: pa.Array) -> np.ndarray:
    return _np(pc.index_in(local, value_set=global_dict)).astype(np.int32)


# ---------------------------------------------------------------------------------------------
# partitions


@dataclass
class _Plan:
    """Codes, partitions and jobs shared by every task of one run."""

    pids: pa.Array  # sorted distinct pids (code -> string)
    cams: pa.Array  # sorted distinct camera ids
    pid_remaps: list[np.ndarray]
    cam_remaps: list[np.ndarray]
    part_of: np.ndarray  # global camera code -> owning partition
    needed: list[np.ndarray]  # per partition: sorted global camera codes it reads
    jobs: list[tuple[np.ndarray, np.ndarray]]  # per partition: (c1, c2) global codes
    window_us: int
    est_events: float
    pid_counts: np.ndarray


def _neighbour_pairs(
    cams: pa.Array, present: np.ndarray, cameras: pd.DataFrame | None, radius_m: float, where: str
):
    """Global camera-code pairs (i < j) at most ``radius_m`` apart, among the cameras that have
    sightings (``present``); each of those needs coordinates."""
    ids = cams.to_pylist()
    if cameras is None:
        raise UsageError(f"radius {radius_m:g} m needs a cameras table with lat/lon ({where})")
    require_columns(cameras, ("camera_id", "lat", "lon"), f"cameras ({where})")
    pos = (
        pd.DataFrame(
            {
                "camera_id": cameras["camera_id"].astype(str),
                "lat": cameras["lat"],
                "lon": cameras["lon"],
            }
        )
        .drop_duplicates("camera_id", keep="last")
        .set_index("camera_id")
    )
    found = pos.reindex(ids)
    lat = pd.to_numeric(found["lat"], errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(found["lon"], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(lat) & np.isfinite(lon)) & present
    if bad.any():
        cam = ids[int(np.flatnonzero(bad)[0])]
        raise UsageError(
            f"radius {radius_m:g} m needs coordinates for every camera: camera {cam!r} has no "
            f"lat/lon in the cameras table ({where})"
        )
    idx = np.flatnonzero(present).astype(np.int64)
    if len(idx) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lat_rad = np.radians(lat)
    order = idx[np.argsort(lat_rad[idx], kind="stable")]
    max_dlat = radius_m / _EARTH_R * (1 + 1e-9) + 1e-12
    ci, cj = K.camera_pairs_within(lat_rad, order, max_dlat)
    keep = haversine_m(lat[ci], lon[ci], lat[cj], lon[cj]) <= radius_m
    ci, cj = ci[keep], cj[keep]
    o = np.lexsort((cj, ci))
    return ci[o], cj[o]


def _make_plan(
    summaries: Sequence[_Summary],
    window_us: int,
    radius_m: float,
    cameras: pd.DataFrame | None,
    npartitions: int,
    where: str,
) -> _Plan:
    pids = _sorted_union([s.pid_dict for s in summaries])
    cams = _sorted_union([s.cam_dict for s in summaries])
    pid_remaps = [_remap(s.pid_dict, pids) for s in summaries]
    cam_remaps = [_remap(s.cam_dict, cams) for s in summaries]
    ncam = len(cams)
    pid_counts = np.zeros(len(pids), np.int64)
    rows = np.zeros(ncam, np.float64)
    est = np.zeros(ncam, np.float64)
    for s, pr, cr in zip(summaries, pid_remaps, cam_remaps, strict=True):
        np.add.at(pid_counts, pr, s.pid_counts)
        n = s.cam_counts.astype(np.float64)
        np.add.at(rows, cr, n)
        np.add.at(est, cr, s.cam_events)
    if radius_m > 0:
        ci, cj = _neighbour_pairs(cams, rows > 0, cameras, radius_m, where)
    else:
        ci = cj = np.empty(0, np.int64)
    # expected work per camera: its rows, its own events, and events with bigger neighbours
    weight = rows + est
    if len(ci):
        cross = np.sqrt(est[ci] * est[cj]) * 2 + rows[cj]
        np.add.at(weight, ci, cross)
    nparts = max(1, min(npartitions, ncam))
    part_of = np.zeros(ncam, np.int64)
    load = np.zeros(nparts, np.float64)
    for c in np.lexsort((np.arange(ncam), -weight)):  # largest first (LPT), ties by code
        k = int(np.argmin(load))
        part_of[c] = k
        load[k] += weight[c]
    needed: list[np.ndarray] = []
    jobs: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(nparts):
        own = np.flatnonzero(part_of == k)
        sel = part_of[ci] == k
        c1 = np.concatenate([own, ci[sel]]).astype(np.int64)
        c2 = np.concatenate([own, cj[sel]]).astype(np.int64)
        needed.append(np.unique(np.concatenate([own, cj[sel]])).astype(np.int32))
        jobs.append((c1, c2))
    est_events = float(est.sum())
    if len(ci):
        est_events += float((np.sqrt(est[ci] * est[cj]) * 2).sum())
    return _Plan(
        pids, cams, pid_remaps, cam_remaps, part_of, needed, jobs, window_us, est_events, pid_counts
    )


@dataclass
class _Piece:
    """Rows of one fragment that one partition needs, with global codes."""

    cam: np.ndarray
    pid: np.ndarray
    ts: np.ndarray
    sid: np.ndarray | None
    conf: np.ndarray | None


def _split_fragment(
    frag: _Frag, pid_remap: np.ndarray, cam_remap: np.ndarray, plan_parts
) -> list[_Piece]:
    """Split a fragment's rows by the partitions that need them (global codes)."""
    part_of, needed, radius = plan_parts
    gcam = cam_remap[frag.cam_idx]
    gpid = pid_remap[frag.pid_idx]
    nparts = len(needed)

    def take(sel) -> _Piece:
        return _Piece(
            gcam[sel],
            gpid[sel],
            frag.ts[sel],
            None if frag.sid is None else frag.sid[sel],
            None if frag.conf is None else frag.conf[sel],
        )

    if not radius:
        p = part_of[gcam]
        order = np.argsort(p.astype(np.int32 if nparts > 32_000 else np.int16), kind="stable")
        bounds = np.searchsorted(p[order], np.arange(nparts + 1))
        return [take(order[bounds[k] : bounds[k + 1]]) for k in range(nparts)]
    pieces = []
    ncam = len(part_of)
    for k in range(nparts):
        want = np.zeros(ncam, bool)
        want[needed[k]] = True
        pieces.append(take(np.flatnonzero(want[gcam])))
    return pieces


# ---------------------------------------------------------------------------------------------
# the sweep of one partition


@dataclass
class _Matched:
    """A partition's sightings in (camera, ts) order with the anchors of the sweep."""

    cam: np.ndarray  # global camera codes, sorted rows
    pid: np.ndarray
    ts: np.ndarray
    sid: np.ndarray | None
    conf: np.ndarray | None
    anc_row: np.ndarray
    anc_lo: np.ndarray
    anc_hi: np.ndarray
    offsets: np.ndarray  # cumulative event counts, len = anchors + 1

    @property
    def events(self) -> int:
        return int(self.offsets[-1])

    def chunks(self, budget: int) -> Iterator[tuple[int, int, int]]:
        """Anchor ranges ``[k0, k1)`` with at most ``budget`` events each (or one anchor)."""
        n = len(self.anc_row)
        k0 = 0
        while k0 < n:
            k1 = int(np.searchsorted(self.offsets, self.offsets[k0] + budget, side="right")) - 1
            k1 = min(max(k1, k0 + 1), n)
            yield k0, k1, int(self.offsets[k1] - self.offsets[k0])
            k0 = k1


def _match_partition(
    pieces: Sequence[_Piece],
    needed: np.ndarray,
    jobs: tuple[np.ndarray, np.ndarray],
    npids: int,
    window_us: int,
    crowd_cap: int | None,
) -> _Matched:
    """Concatenate a partition's pieces, order them and run the counting pass."""
    cam = np.concatenate([p.cam for p in pieces]) if pieces else np.empty(0, np.int32)
    pid = np.concatenate([p.pid for p in pieces]) if pieces else np.empty(0, np.int32)
    ts = np.concatenate([p.ts for p in pieces]) if pieces else np.empty(0, np.int64)
    has_ids = bool(pieces) and pieces[0].sid is not None
    sid = np.concatenate([p.sid for p in pieces]) if has_ids else None
    conf = np.concatenate([p.conf for p in pieces]) if has_ids else None
    lut = np.zeros(int(needed[-1]) + 1 if len(needed) else 1, np.int32)
    lut[needed] = np.arange(len(needed), dtype=np.int32)
    order, starts = K.group_rows(lut[cam], len(needed), ts)
    cam, pid, ts = cam[order], pid[order].astype(np.int32), ts[order].astype(np.int64)
    if sid is not None and conf is not None:
        sid, conf = sid[order], conf[order]
    counter = np.zeros(max(npids, 1), np.int64)
    w = np.int64(window_us)
    if crowd_cap is not None and len(ts):
        others = K.count_others_in_window(starts, pid, ts, w, counter)
        keep = others <= crowd_cap
        if not keep.all():
            kept_before = np.concatenate([[0], np.cumsum(keep)])
            starts = kept_before[starts].astype(np.int64)
            cam, pid, ts = cam[keep], pid[keep], ts[keep]
            if sid is not None and conf is not None:
                sid, conf = sid[keep], conf[keep]
    c1 = lut[jobs[0]].astype(np.int64)
    c2 = lut[jobs[1]].astype(np.int64)
    anc_row, anc_lo, anc_hi, anc_cnt = K.anchor_windows(starts, c1, c2, pid, ts, w, counter)
    offsets = np.zeros(len(anc_cnt) + 1, np.int64)
    np.cumsum(anc_cnt, out=offsets[1:])
    return _Matched(cam, pid, ts, sid, conf, anc_row, anc_lo, anc_hi, offsets)


class _PairBuffers:
    """Reusable arrays for aggregating chunks of events (no page faults per chunk)."""

    def __init__(self, npids: int) -> None:
        self.npids = npids
        self.cap = -1

    def ensure(self, rows: int) -> None:
        if rows <= self.cap:
            return
        cap = max(rows, 16)
        kinds = (np.int32, np.int32, np.int64, np.int64, np.int64)
        self.x = tuple(np.empty(cap, t) for t in kinds)
        self.y = tuple(np.empty(cap, t) for t in kinds)
        self.cap = cap


_POOL: dict[tuple[str, int], _PairBuffers] = {}
_POOL_LOCK = threading.Lock()


def _pooled_buffers(job: str, npids: int) -> _PairBuffers:
    """This thread's buffers for the job whose scratch directory is ``job``, kept between its
    sweep and reduce tasks: a fresh 200 MB of buffers per task costs its page faults (a
    quarter of the sweep's time went to the kernel zeroing pages). Released by
    :func:`_release_buffers` when the job ends."""
    key = (job, threading.get_ident())
    with _POOL_LOCK:
        buf = _POOL.get(key)
        if buf is None or buf.npids != npids:
            buf = _POOL[key] = _PairBuffers(npids)
    return buf


def _release_buffers(job: str) -> None:
    with _POOL_LOCK:
        for key in [k for k in _POOL if k[0] == job]:
            del _POOL[key]


@contextmanager
def _buffers_released(sched: Scheduler, job: str) -> Iterator[None]:
    """Around a job: its pooled buffers are released here and on a cluster's workers."""
    try:
        yield
    finally:
        _release_buffers(job)
        if sched.client is not None:
            with suppress(Exception):  # a lost worker took its buffers with it
                sched.client.run(functools.partial(_release_buffers, job))


def _partials(m: _Matched, k0: int, k1: int, nev: int, buf: _PairBuffers) -> int:
    """Partial pair aggregates of the events of anchors ``[k0, k1)`` into ``buf.x``; rows."""
    buf.ensure(nev)
    return int(
        K.fill_pair_partials(
            m.anc_row, m.anc_lo, m.anc_hi, k0, k1, m.pid, m.ts, buf.npids, _CACHE_BITS, *buf.x
        )
    )


def _fold_chunk(m: _Matched, k0: int, k1: int, nev: int, buf: _PairBuffers) -> int:
    """Exact pair aggregates of the events of anchors ``[k0, k1)`` into ``buf.y``; pairs."""
    buf.ensure(nev)
    sb, smin, smax = buf.x[1], buf.x[3], buf.x[4]
    return int(
        K.fold_events(
            m.anc_row, m.anc_lo, m.anc_hi, k0, k1, m.pid, m.ts, buf.npids, sb, smin, smax, *buf.y
        )
    )


def _event_arrays(m: _Matched, k0: int, k1: int, nev: int) -> dict[str, np.ndarray]:
    ra, rb = K.fill_event_rows(m.anc_row, m.anc_lo, m.anc_hi, k0, k1, nev, m.pid)
    assert m.sid is not None and m.conf is not None, "events need sighting ids"
    return {
        "a": m.pid[ra],
        "b": m.pid[rb],
        "cam_a": m.cam[ra],
        "cam_b": m.cam[rb],
        "ts_a": m.ts[ra],
        "ts_b": m.ts[rb],
        "sid_a": m.sid[ra],
        "sid_b": m.sid[rb],
        "conf_a": m.conf[ra],
        "conf_b": m.conf[rb],
    }


def _sort_events(ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Order by pid_a, pid_b, ts_a, ts_b, sighting_a, sighting_b, camera_a, camera_b."""
    names = ("a", "b", "ts_a", "ts_b", "sid_a", "sid_b", "cam_a", "cam_b")
    order = np.lexsort([ev[k] for k in reversed(names)])  # lexsort: last key is primary
    return {k: v[order] for k, v in ev.items()}


def _take(codes: np.ndarray, dictionary: pa.Array) -> pa.Array:
    return dictionary.take(_arrow(codes, pa.int32()))


def _events_frame(ev: dict[str, np.ndarray], pids: pa.Array, cams: pa.Array) -> pd.DataFrame:
    table = pa.table(
        {
            "pid_a": _take(ev["a"], pids),
            "pid_b": _take(ev["b"], pids),
            "camera_a": _take(ev["cam_a"], cams),
            "camera_b": _take(ev["cam_b"], cams),
            "ts_a": pa.array(ev["ts_a"], _TS),
            "ts_b": pa.array(ev["ts_b"], _TS),
            "sighting_a": pa.array(ev["sid_a"], pa.int64()),
            "sighting_b": pa.array(ev["sid_b"], pa.int64()),
            "confidence_a": pa.array(ev["conf_a"], pa.float64()),
            "confidence_b": pa.array(ev["conf_b"], pa.float64()),
        }
    )
    return table.to_pandas()


def _pairs_frame(a, b, n, tmin, tmax, pids: pa.Array) -> pd.DataFrame:
    table = pa.table(
        {
            "pid_a": _take(a, pids),
            "pid_b": _take(b, pids),
            "n_events": pa.array(n, pa.int64()),
            "first_ts": pa.array(tmin, _TS),
            "last_ts": pa.array(tmax, _TS),
        }
    )
    return table.to_pandas()


# ---------------------------------------------------------------------------------------------
# in memory


def _frag_from_frame(sightings: pd.DataFrame, events: bool) -> _Frag:
    """Validate an in-memory sightings frame and encode it as one fragment."""
    what = "sightings"
    if not isinstance(sightings, pd.DataFrame):
        raise UsageError(f"{what} must be a pandas DataFrame, got {type(sightings).__name__}")
    required = ("sighting_id", "pid", "camera_id", "ts") if events else ("pid", "camera_id", "ts")
    require_columns(sightings, required, what)
    validate_sightings(sightings, what)
    for col in ("pid", "camera_id", "ts") + (("sighting_id",) if events else ()):
        missing = sightings[col].isna().to_numpy()
        if missing.any():
            row = sightings.index[int(np.flatnonzero(missing)[0])]
            raise UsageError(f"{what} row {row!r}: {col} is missing")
    pid = pa.array(sightings["pid"].astype(str).to_numpy(dtype=object), pa.string())
    cam = pa.array(sightings["camera_id"].astype(str).to_numpy(dtype=object), pa.string())
    pid_dict, pid_idx = _encode_column(pid)
    cam_dict, cam_idx = _encode_column(cam)
    frag = _Frag(pid_dict, pid_idx, cam_dict, cam_idx, ts_to_epoch_us(sightings["ts"]))
    if events:
        try:
            frag.sid = sightings["sighting_id"].to_numpy(dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{what}: sighting_id must be integers ({exc})") from None
        if "confidence" in sightings.columns:
            frag.conf = pd.to_numeric(sightings["confidence"], errors="coerce").to_numpy(np.float64)
        else:
            frag.conf = np.full(len(sightings), np.nan)
    return frag


def find_colocations(
    sightings: pd.DataFrame,
    window_s: float = 60,
    radius_m: float = 0,
    cameras: pd.DataFrame | None = None,
    events: bool = False,
) -> pd.DataFrame:
    """Co-location pairs (or events) of an in-memory sightings frame.

    Pure: the input is not modified and nothing is read or written.

    Parameters
    ----------
    sightings : DataFrame
        ``pid``, ``camera_id``, ``ts`` (timezone-aware), and for ``events=True`` also
        ``sighting_id`` (int); ``confidence`` is optional (NaN in the output when absent).
        pid and camera_id are compared as strings.
    window_s : float
        ``W``: two sightings match when ``|t1 - t2| <= W`` seconds (``>= 0``; 0 matches equal
        timestamps only). Compared exactly in whole microseconds.
    radius_m : float
        ``R``: with ``R > 0`` sightings at different cameras at most ``R`` metres apart
        (haversine) also match; then ``cameras`` must give ``lat``/``lon`` of every camera seen.
    cameras : DataFrame, optional
        ``camera_id``, ``lat``, ``lon`` (only used when ``radius_m > 0``).
    events : bool
        Return one row per event instead of one per pair.

    Returns
    -------
    DataFrame
        Pairs: :data:`~sightgraph.schema.COLOCATION_PAIR_COLUMNS` (``pid_a < pid_b``,
        ``n_events``; ``first_ts``/``last_ts`` are the earliest/latest timestamp of either
        sighting over all the pair's events), sorted by ``pid_a, pid_b``.
        Events: :data:`EVENT_COLUMNS` (each event oriented so that ``pid_a < pid_b``, the ``_a``
        columns describing ``pid_a``'s sighting), sorted by ``pid_a, pid_b, ts_a, ts_b,
        sighting_a, sighting_b, camera_a, camera_b``.

    Raises
    ------
    UsageError
        Missing columns or values, naive timestamps, a negative window or radius, or a camera
        without coordinates when ``radius_m > 0``.

    Examples
    --------
    >>> ts = pd.to_datetime(["2026-03-02 08:00:00", "2026-03-02 08:00:30",
    ...                      "2026-03-02 08:05:00"], utc=True)
    >>> s = pd.DataFrame({"pid": ["b", "a", "c"], "camera_id": ["c1", "c1", "c1"], "ts": ts})
    >>> find_colocations(s)[["pid_a", "pid_b", "n_events"]].values.tolist()
    [['a', 'b', 1]]
    """
    window_us = _window_us(window_s)
    radius_m = _check_number(radius_m, "radius_m", "metres")
    frag = _frag_from_frame(sightings, events)
    summary = _summarize(frag, window_us)
    plan = _make_plan([summary], window_us, radius_m, cameras, 1, "cameras argument")
    npids = len(plan.pids)
    piece = _Piece(
        plan.cam_remaps[0][frag.cam_idx],
        plan.pid_remaps[0][frag.pid_idx],
        frag.ts,
        frag.sid,
        frag.conf,
    )
    m = _match_partition([piece], plan.needed[0], plan.jobs[0], npids, window_us, None)
    if events:
        ev = _sort_events(_event_arrays(m, 0, len(m.anc_row), m.events))
        return _events_frame(ev, plan.pids, plan.cams)
    buf = _PairBuffers(npids)
    k = _fold_chunk(m, 0, len(m.anc_row), m.events, buf)
    a, b, n, tmin, tmax = (arr[:k] for arr in buf.y)
    return _pairs_frame(a, b, n, tmin, tmax, plan.pids)


# ---------------------------------------------------------------------------------------------
# over a lake: reading


def _absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against this process's working directory (not resolving links).

    Paths handed to Dask tasks must be absolute: a distributed cluster's workers run in working
    directories of their own, where a relative lake or output path names nothing.
    """
    return Path(os.path.abspath(path))


def _read_units(lake: str | Path, workers: int) -> list[list[tuple[str, list[int]]]]:
    """Reading tasks: lists of (file, row groups), whole row groups of consecutive files, of
    about a quarter of the rows per worker thread (at most ``_READ_ROWS``; a lake of many small
    files makes a few tasks, not one per file: every task costs the driver graph work)."""
    groups: list[tuple[str, int, int]] = []  # file, row group, rows
    for path in sightings_files(lake):
        md = pq.ParquetFile(path).metadata
        groups.extend((path, g, md.row_group(g).num_rows) for g in range(md.num_row_groups))
    total = sum(r for _, _, r in groups)
    target = max(1, min(_READ_ROWS, math.ceil(total / (4 * max(1, workers)))))
    units: list[list[tuple[str, list[int]]]] = []
    cur: list[tuple[str, list[int]]] = []
    rows = 0
    for path, g, n in groups:
        if cur and cur[-1][0] == path:
            cur[-1][1].append(g)
        else:
            cur.append((path, [g]))
        rows += n
        if rows >= target:
            units.append(cur)
            cur, rows = [], 0
    if cur:
        units.append(cur)
    return units


def _read_unit(parts: list[tuple[str, list[int]]], with_ids: bool, min_confidence: float) -> _Frag:
    cols = ["pid", "camera_id", "ts"]
    if with_ids:
        cols = ["sighting_id", *cols]
    if with_ids or min_confidence > 0:
        cols.append("confidence")
    tables = []
    for path, groups in parts:
        table = pq.ParquetFile(path, read_dictionary=["pid", "camera_id"]).read_row_groups(
            groups, columns=cols
        )
        for col in ("pid", "camera_id", "ts") + (("sighting_id",) if with_ids else ()):
            if table.column(col).null_count:
                raise UsageError(f"sightings file {path}: column {col} has missing values")
        if min_confidence > 0:
            table = table.filter(pc.greater_equal(table.column("confidence"), min_confidence))
        tables.append(table)
    frag = _frag_from_table(pa.concat_tables(tables), with_ids)
    _test_kill("read")
    return frag


def _prepare(
    sched: Scheduler,
    lake: str | Path,
    window_us: int,
    radius_m: float,
    min_confidence: float,
    npartitions: int | None,
    with_ids: bool,
    progress: bool | Progress,
    warm: dict[str, bool],
) -> tuple[list[Any], _Plan, list[Any]]:
    """Read the lake, build the plan and the per-partition piece handles (not yet computed)."""
    units = _read_units(lake, sched.num_workers)
    # kernels load while the lake is read (the sweep waits for them below)
    warmed = sched.start_everywhere(functools.partial(K.warm_up, radius=radius_m > 0, **warm))
    read = delayed(_read_unit, pure=False)
    frags = sched.persist(
        [read(u, with_ids, min_confidence) for u in units], "reading sightings", progress
    )
    summaries = sched.compute(
        [delayed(_summarize)(f, window_us) for f in frags], "summarising", False
    )
    cameras = read_cameras(lake) if radius_m > 0 else None
    if radius_m > 0:
        warmed()  # the plan runs a kernel
    nparts = npartitions or _default_partitions(sum(s.rows for s in summaries), sched.num_workers)
    plan = _make_plan(summaries, window_us, radius_m, cameras, nparts, f"{Path(lake) / 'cameras'}")
    parts_arg = delayed((plan.part_of, plan.needed, radius_m > 0), pure=False)
    nout = len(plan.needed)
    split = delayed(_split_fragment, pure=False, nout=nout)
    pieces_by_frag = [
        split(f, pr, cr, parts_arg)
        for f, pr, cr in zip(frags, plan.pid_remaps, plan.cam_remaps, strict=True)
    ]
    per_part = [[pf[k] for pf in pieces_by_frag] for k in range(nout)]
    warmed()
    return frags, plan, per_part


def _default_partitions(rows: int, workers: int) -> int:
    return max(4 * workers, math.ceil(rows / 1_000_000))


# ---------------------------------------------------------------------------------------------
# over a lake: pairs


def _pid_buckets(pid_counts: np.ndarray, nbuckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Ranges of pid_a codes with about equal expected pair rows: (bucket_of, bounds)."""
    npids = len(pid_counts)
    nbuckets = max(1, min(nbuckets, npids))
    c = pid_counts.astype(np.float64)
    after = c.sum() - np.cumsum(c)  # sightings of bigger codes
    w = np.cumsum(c * after + c)
    total = w[-1] if npids else 0.0
    bounds = np.zeros(nbuckets + 1, np.int64)
    if npids:
        cuts = np.searchsorted(w, total * np.arange(1, nbuckets) / nbuckets, side="right")
        bounds[1:-1] = np.maximum.accumulate(cuts)
    bounds[-1] = npids
    bounds = np.unique(bounds)
    bucket_of = np.zeros(max(npids, 1), np.int32)
    for q in range(len(bounds) - 1):
        bucket_of[bounds[q] : bounds[q + 1]] = q
    return bucket_of, bounds


def _save_block(path: Path, arrays: Sequence[np.ndarray], append: bool) -> None:
    with open(path, "ab" if append else "wb") as fh:
        for arr in arrays:
            np.save(fh, arr, allow_pickle=False)


def _iter_blocks(path: Path, n: int = 5) -> Iterator[tuple[np.ndarray, ...]]:
    """The blocks of ``n`` arrays of a scratch file; a missing or damaged file is a
    :class:`SightgraphError` (a job must not go on without a part of its data)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            while fh.tell() < size:
                blk = tuple(np.load(fh, allow_pickle=False) for _ in range(n))
                yield blk
    except (OSError, EOFError, ValueError) as exc:
        raise SightgraphError(
            f"scratch file {path.parent.name}/{path.name} is missing or damaged ({exc}); "
            "no output was written"
        ) from None


_EVENT_KINDS = {
    "a": np.int32,
    "b": np.int32,
    "cam_a": np.int32,
    "cam_b": np.int32,
    "ts_a": np.int64,
    "ts_b": np.int64,
    "sid_a": np.int64,
    "sid_b": np.int64,
    "conf_a": np.float64,
    "conf_b": np.float64,
}


def _event_table(ev: dict[str, np.ndarray], pids: pa.Array, cams: pa.Array) -> pa.Table:
    return pa.table(
        {
            "pid_a": _dict_column(ev["a"], pids),
            "pid_b": _dict_column(ev["b"], pids),
            "camera_a": _dict_column(ev["cam_a"], cams),
            "camera_b": _dict_column(ev["cam_b"], cams),
            "ts_a": pa.array(ev["ts_a"], _TS),
            "ts_b": pa.array(ev["ts_b"], _TS),
            "sighting_a": pa.array(ev["sid_a"], pa.int64()),
            "sighting_b": pa.array(ev["sid_b"], pa.int64()),
            "confidence_a": pa.array(ev["conf_a"], pa.float64()),
            "confidence_b": pa.array(ev["conf_b"], pa.float64()),
        }
    )


@dataclass(frozen=True)
class _Swept:
    """What one attempt of a sweep task wrote (see :func:`_sweep_to_buckets`)."""

    events: int  # co-location events of the partition
    rows: np.ndarray  # partial rows written per bucket
    attempt: str  # the attempt's tag in its file names
    event_parts: list[str]  # event files written (names in the staging directory)
    sightings: int  # sightings of the partition's own cameras


def _bucket_file(q: int, part: int, attempt: str) -> str:
    """A sweep attempt's partial rows for bucket ``q``, relative to the spill directory."""
    return f"b{q:05d}/p{part:05d}-{attempt}.npy"


def _sweep_to_buckets(
    pieces: Sequence[_Piece],
    part: int,
    needed: np.ndarray,
    jobs: tuple[np.ndarray, np.ndarray],
    pids: pa.Array,
    cams: pa.Array,
    window_us: int,
    bounds: np.ndarray,
    spill: str,
    events_dir: str | None,
    params: dict[str, Any],
) -> _Swept:
    """Sweep one partition; write its pair aggregates to the bucket files.

    Each chunk of at most ``_CHUNK_EVENTS`` events is aggregated per pair; its rows for bucket
    ``q`` (``bounds[q] <= a < bounds[q + 1]``) are appended to :func:`_bucket_file` as one
    block. When the first chunk shows that aggregation hardly shrinks the rows (crowds of
    strangers: nearly every event is a new pair), later chunks skip it and only split the
    cache's partial rows by bucket; the reduction aggregates them anyway. Events, if asked for,
    go to ``events_dir/part-<part>-<chunk>-<attempt>.parquet``. Every attempt writes under its
    own tag, so a re-run never touches the files of an attempt whose result was used.
    """
    npids = len(pids)
    nbuckets = len(bounds) - 1
    attempt = uuid.uuid4().hex[:12]
    _test_kill("sweep", part, start=True)
    m = _match_partition(pieces, needed, jobs, npids, window_us, None)
    own = np.zeros(int(needed[-1]) + 1 if len(needed) else 1, bool)
    own[jobs[0][jobs[0] == jobs[1]]] = True
    sightings = int(np.count_nonzero(own[m.cam])) if len(m.cam) else 0
    event_parts: list[str] = []
    written = np.zeros(nbuckets, np.int64)
    buf = _pooled_buffers(spill, npids)
    buf.ensure(min(_CHUNK_EVENTS, m.events))
    bucket_of = np.zeros(max(npids, 1), np.int32)
    for q in range(nbuckets):
        bucket_of[bounds[q] : bounds[q + 1]] = q
    aggregate = True
    for c, (k0, k1, nev) in enumerate(m.chunks(_CHUNK_EVENTS)):
        if nev == 0:
            continue
        if aggregate:
            k = _fold_chunk(m, k0, k1, nev, buf)
            cols = tuple(arr[:k] for arr in buf.y)
            cuts = np.searchsorted(cols[0], bounds)
            aggregate = k < _AGGREGATE_MIN_GAIN * nev or nev < _AGGREGATE_PROBE_ROWS
        else:
            rows = _partials(m, k0, k1, nev, buf)
            cuts = K.scatter_by_bucket(rows, bucket_of, *buf.x, nbuckets, *buf.y)
            cols = tuple(arr[:rows] for arr in buf.y)
        for q in np.flatnonzero(np.diff(cuts)).tolist():
            lo, hi = int(cuts[q]), int(cuts[q + 1])
            path = Path(spill) / _bucket_file(q, part, attempt)
            _save_block(path, [x[lo:hi] for x in cols], append=written[q] > 0)
            written[q] += hi - lo
        if events_dir is not None:
            ev = _event_arrays(m, k0, k1, nev)
            name = f"part-{part:05d}-{c:05d}-{attempt}.parquet"
            _write_parquet(_event_table(ev, pids, cams), Path(events_dir) / name, params)
            event_parts.append(name)
    _test_kill("sweep", part)
    return _Swept(m.events, written, attempt, event_parts, sightings)


def _reduce_bucket(
    spill: str, q: int, a0: int, a1: int, npids: int, total: int, inputs: Sequence[str]
) -> tuple[int, int, str, int]:
    """Sum one bucket's ``total`` rows, read from ``inputs`` (files relative to ``spill``, as
    written by the sweeps whose results were used); write the pairs sorted by (a, b).

    A bucket of more than ``_BUCKET_ROWS`` rows is reduced in slices of pid_a codes (the files
    are read once per slice), so memory stays bounded whatever the skew. The inputs are left in
    place (a re-run of this task may need them) and the result goes to a new file
    ``res/b<q>-<attempt>.npy`` (renamed into place when complete; blocks of 7 arrays: the
    codes ``pid_a`` uses and its rows' indices into them, the same for ``pid_b``, then
    ``n_events``, ``tmin``, ``tmax``). Returns
    ``(q, pairs, result file name, rows read)``; raises if the inputs do not hold ``total`` rows.
    """
    _test_kill("reduce", q, start=True)
    files = [Path(spill) / f for f in inputs]
    out = Path(spill) / "res" / f"b{q:05d}-{uuid.uuid4().hex[:12]}.npy"
    ranges = [(a0, a1)]
    if total > _BUCKET_ROWS:
        hist = np.zeros(a1 - a0, np.int64)
        for f in files:
            for blk in _iter_blocks(f):
                hist += np.bincount(blk[0] - a0, minlength=a1 - a0)
        _check_rows(q, int(hist.sum()), total)
        cum = np.cumsum(hist)
        nsub = math.ceil(total / _BUCKET_ROWS)
        cuts = np.searchsorted(cum, total * np.arange(1, nsub) / nsub, side="right")
        edges = sorted({a0, a1, *(a0 + int(x) for x in cuts if 0 < x < a1 - a0)})
        ranges = list(zip(edges[:-1], edges[1:], strict=True))
    rows = 0
    read = 0
    tmp = out.with_name(out.name + ".tmp")
    buf = _pooled_buffers(spill, npids)
    with open(tmp, "wb") as fh:
        for lo, hi in ranges:
            runs: list[tuple[np.ndarray, ...]] = []
            for f in files:
                for blk in _iter_blocks(f):
                    if len(ranges) > 1:
                        sel = (blk[0] >= lo) & (blk[0] < hi)
                        blk = tuple(x[sel] for x in blk)
                    if len(blk[0]):
                        runs.append(blk)
            n = sum(len(r[0]) for r in runs)
            read += n
            buf.ensure(n)
            for j, arr in enumerate(buf.x):
                if runs:
                    np.concatenate([r[j] for r in runs], out=arr[:n])
            del runs
            k = K.fold_pairs(n, *buf.x, lo, hi, npids, *buf.y)
            rows += k
            ya, yb, yn, ymin, ymax = (arr[:k] for arr in buf.y)
            # the writer's dictionary columns, made here in parallel (its thread is the
            # last step of the job)
            for arr in (*_dict_codes(ya, npids), *_dict_codes(yb, npids), yn, ymin, ymax):
                np.save(fh, arr, allow_pickle=False)
    _check_rows(q, read, total)
    tmp.replace(out)
    _test_kill("reduce", q)
    return q, rows, out.name, read


def _check_rows(q: int, read: int, total: int) -> None:
    if read != total:
        raise SightgraphError(
            f"pair bucket {q}: its input files hold {read:,} rows where the sweep wrote "
            f"{total:,}; a scratch file was lost or changed, no output was written"
        )


def _dict_codes(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes into a dictionary of ``size`` -> (the codes used, ascending; each row's index
    into them, int32)."""
    if len(codes) * 8 < size:
        used, inv = np.unique(codes, return_inverse=True)
        return used, inv.astype(np.int32)
    mask = np.zeros(size, bool)
    mask[codes] = True
    rank = np.cumsum(mask, dtype=np.int32) - 1
    return np.flatnonzero(mask), rank[codes]


def _dict_array(used: np.ndarray, idx: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """A dictionary column holding only the strings ``used`` (fast to write)."""
    if len(idx) == 0:
        return pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], pa.string()))
    return pa.DictionaryArray.from_arrays(
        _arrow(idx, pa.int32()), dictionary.take(_arrow(used.astype(np.int64), pa.int64()))
    )


def _dict_column(codes: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """Codes -> a dictionary column holding only the strings it uses (fast to write)."""
    return _dict_array(*_dict_codes(codes, len(dictionary)), dictionary)


_PAIR_SCHEMA = pa.schema(
    list(
        zip(
            COLOCATION_PAIR_COLUMNS,
            [pa.dictionary(pa.int32(), pa.string())] * 2 + [pa.int64(), _TS, _TS],
            strict=True,
        )
    )
)


def _writer_options(
    dict_columns: Sequence[str], delta_columns: Sequence[str] = ()
) -> dict[str, Any]:
    """Parquet options: dictionary pages (snappy) only for the pre-encoded string columns,
    DELTA_BINARY_PACKED without compression for ``delta_columns`` (cheap and compact for counts
    and clustered times), statistics for the sort key; ``store_schema=False`` so that readers
    get plain strings rather than dictionaries."""
    opts: dict[str, Any] = dict(
        use_dictionary=list(dict_columns),
        dictionary_pagesize_limit=256 << 20,
        write_statistics=list(dict_columns[:1]),
        store_schema=False,
        data_page_size=4 << 20,
    )
    if delta_columns:
        opts["compression"] = {c: "snappy" for c in dict_columns} | {
            c: "none" for c in delta_columns
        }
        opts["column_encoding"] = {c: "DELTA_BINARY_PACKED" for c in delta_columns}
    else:
        opts["compression"] = "snappy"
    return opts


def _params_metadata(params: dict[str, Any]) -> dict[bytes, bytes]:
    """The key/value metadata that :func:`sightgraph.lake.read_params` reads."""
    return {PARAMS_KEY: json.dumps(params, sort_keys=True, default=str).encode()}


def _write_parquet(table: pa.Table, path: Path, params: dict[str, Any]) -> None:
    dict_cols = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex[:8]}")
    with pq.ParquetWriter(tmp, table.schema, **_writer_options(dict_cols)) as writer:
        writer.write_table(table, row_group_size=_ROW_GROUP)
        writer.add_key_value_metadata(_params_metadata(params))
    tmp.replace(path)


def _write_pairs(
    reduced: Iterator[tuple[int, Any]],
    expected: np.ndarray,
    spill: str,
    pids: pa.Array,
    out: Path,
    params: dict[str, Any],
    bar: Progress,
    commit: Callable[[Path], AbstractContextManager[Any]] = lambda _out: nullcontext(),
) -> int:
    """Append the reduced buckets, in order, to one Parquet file, as their results arrive.

    ``reduced`` yields ``(q, result of _reduce_bucket)`` as the reducers finish; only the file
    each result names is read (a re-run's other file is ignored). Each bucket's rows read must
    be ``expected[q]`` (the sweeps' rows), its file must hold the pairs its result counts, and
    every bucket must arrive; otherwise :class:`SightgraphError` and ``out`` is not touched.
    A bucket's scratch files are deleted once its result is written (its task can no longer be
    re-run: :meth:`Scheduler.completed` released it). Returns the number of pairs written.
    The finished file becomes ``out`` inside ``commit(out)`` (the lake's commit lock, when
    ``out`` is in the lake).
    """
    nbuckets = len(expected)
    tmp = out.with_name(out.name + f".tmp-{uuid.uuid4().hex[:8]}")
    tid = bar.add_task("writing pairs", total=nbuckets, unit="buckets")
    written = 0
    arrived: dict[int, tuple[int, str]] = {}
    nxt = 0
    try:
        opts = _writer_options(["pid_a", "pid_b"], ["n_events", "first_ts", "last_ts"])
        with pq.ParquetWriter(tmp, _PAIR_SCHEMA, **opts) as writer:
            for i, (q, pairs, name, read) in reduced:
                if q != i or q in arrived or q < nxt:
                    raise SightgraphError(f"pair bucket {i}: unexpected reducer result {q}")
                _check_rows(q, read, int(expected[q]))
                arrived[q] = (pairs, name)
                while nxt in arrived:
                    pairs, name = arrived.pop(nxt)
                    path = Path(spill) / "res" / name
                    got = 0
                    for a_used, a, b_used, b, n, tmin, tmax in _iter_blocks(path, 7):
                        for lo in range(0, len(a), _ROW_GROUP):
                            hi = lo + _ROW_GROUP
                            table = pa.Table.from_arrays(
                                [
                                    _dict_array(a_used, a[lo:hi], pids),
                                    _dict_array(b_used, b[lo:hi], pids),
                                    _arrow(n[lo:hi], pa.int64()),
                                    _arrow(tmin[lo:hi], _TS),
                                    _arrow(tmax[lo:hi], _TS),
                                ],
                                schema=_PAIR_SCHEMA,
                            )
                            writer.write_table(table, row_group_size=_ROW_GROUP)
                            got += len(table)
                    if got != pairs:
                        raise SightgraphError(
                            f"pair bucket {nxt}: {path.name} holds {got:,} pairs where its "
                            f"reducer counted {pairs:,}; no output was written"
                        )
                    written += got
                    path.unlink()
                    shutil.rmtree(Path(spill) / f"b{nxt:05d}", ignore_errors=True)
                    nxt += 1
                    bar.advance(tid)
            if nxt != nbuckets:
                raise SightgraphError(
                    f"only {nxt} of {nbuckets} pair buckets were reduced; no output was written"
                )
            if written == 0:
                writer.write_table(_PAIR_SCHEMA.empty_table())
            writer.add_key_value_metadata(_params_metadata({**params, "pairs": written}))
        with commit(out):
            tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def _check_sweeps(
    swept: Sequence[_Swept], nbuckets: int, sightings: int
) -> tuple[int, np.ndarray, list[list[str]]]:
    """Check that every partition's sweep reported, covering all ``sightings``; return the
    events, the rows per bucket and each bucket's input files (those of the used attempts)."""
    seen = sum(r.sightings for r in swept)
    if seen != sightings:
        raise SightgraphError(
            f"the camera partitions swept {seen:,} sightings of the {sightings:,} read; "
            "no output was written"
        )
    per_bucket = np.zeros(nbuckets, np.int64)
    inputs: list[list[str]] = [[] for _ in range(nbuckets)]
    for part, r in enumerate(swept):
        if len(r.rows) != nbuckets:
            raise SightgraphError(f"partition {part}: {len(r.rows)} buckets, not {nbuckets}")
        per_bucket += r.rows
        for q in np.flatnonzero(r.rows).tolist():
            inputs[q].append(_bucket_file(q, part, r.attempt))
    return int(sum(r.events for r in swept)), per_bucket, inputs


def _commit_events(swept: Sequence[_Swept], staging: Path, folder: Path, n_events: int) -> None:
    """Move the event files of the used sweep attempts from ``staging`` into ``folder`` as
    ``part-<partition>-<chunk>.parquet``, check that they hold ``n_events`` rows, and delete
    ``staging`` with whatever other attempts left there."""
    rows = 0
    for r in swept:
        for name in r.event_parts:
            src = staging / name
            try:
                rows += pq.ParquetFile(src).metadata.num_rows
            except (OSError, ValueError) as exc:
                raise SightgraphError(
                    f"event file {name} of a finished sweep is missing or unreadable ({exc}); "
                    "no output was written"
                ) from None
            src.replace(folder / (name.rsplit("-", 1)[0] + ".parquet"))
    if rows != n_events:
        raise SightgraphError(
            f"the event files hold {rows:,} events where the sweeps counted {n_events:,}; "
            "no output was written"
        )
    shutil.rmtree(staging, ignore_errors=True)


def _prepare_events_dir(events_out: Path) -> Path:
    if events_out.exists():
        if not events_out.is_dir():
            raise UsageError(f"events_out {events_out} exists and is not a directory")
        strangers = [p.name for p in events_out.iterdir() if not p.name.startswith("part-")]
        if strangers:
            raise UsageError(
                f"events_out {events_out} holds files that are not event parts ({strangers[0]}); "
                "choose an empty or new directory"
            )
    tmp = events_out.with_name(events_out.name + f".tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    return tmp


def colocate_lake(
    lake: str | Path,
    out: Path,
    window_s: float = 60,
    radius_m: float = 0,
    events_out: Path | None = None,
    scheduler: str | None = None,
    npartitions: int | None = None,
    min_confidence: float = 0.0,
    progress: bool = True,
    generation: int | None = None,
) -> ColocationResult:
    """Exact co-location over ``LAKE/sightings`` as a Dask job; writes the pair table.

    Parameters
    ----------
    lake : path
        The Parquet lake (``LAKE/sightings/date=.../*.parquet``; ``LAKE/cameras`` when
        ``radius_m > 0``).
    out : path
        The pair table: one Parquet file, :data:`~sightgraph.schema.COLOCATION_PAIR_COLUMNS`,
        sorted by ``pid_a, pid_b``, the parameters and counts recorded in its metadata (read them
        with :func:`sightgraph.lake.read_params`). Written atomically.
    window_s, radius_m
        As for :func:`find_colocations`.
    events_out : path, optional
        Also write every event (:data:`EVENT_COLUMNS`) to this directory as ``part-*.parquet``
        files (unordered across files). The directory is replaced; it must not hold other files.
    scheduler : str, optional
        See :func:`sightgraph.analytics.compute.resolve_scheduler`: default the threaded
        scheduler, or ``$DASK_SCHEDULER_ADDRESS``, or a ``'tcp://host:port'`` address (the
        workers must see the lake and the directory of ``out``).
    npartitions : int, optional
        Camera partitions (default: 4 per worker thread, at least one per million sightings).
    min_confidence : float
        Ignore sightings whose confidence is below this (and, if > 0, those without one).
    progress : bool
        Show rich progress bars.
    generation : int, optional
        The lake's :func:`~sightgraph.lake.erasure_generation` as the caller read it before the
        job started (default: read here, before the lake). When ``out`` or ``events_out`` lies
        inside the lake, it is put there under the lake's writer lock and only if no forget or
        retention ran since (:func:`sightgraph.lake.commit_lock`); otherwise
        :class:`UsageError` ("the lake changed under this job") and it is not written.

    Returns
    -------
    ColocationResult

    Notes
    -----
    Memory is bounded by the budgets ``_CHUNK_EVENTS`` (events aggregated at once by a task) and
    ``_BUCKET_ROWS`` (rows reduced at once), not by the number of events or pairs: partial
    aggregates go to temporary files next to ``out``, which are removed at the end.

    Raises
    ------
    SightgraphError
        The output would not account for every input: a scratch file was lost or damaged, or
        the counts of the phases disagree (see the module docstring); nothing is written then.
        A worker lost mid-job is not an error: Dask re-runs its tasks and the result is exact.
    """
    t0 = time.perf_counter()
    given_lake = lake
    # absolute before any task is built: a cluster's workers run in directories of their own
    lake = _absolute(lake)
    gen = erasure_generation(lake) if generation is None else generation
    window_us = _window_us(window_s)
    radius_m = _check_number(radius_m, "radius_m", "metres")
    min_confidence = _check_confidence(min_confidence)
    npartitions = _check_positive_int(npartitions, "npartitions")
    out = _absolute(out)
    if out.is_dir():
        raise UsageError(f"out {out} is a directory; give a file name such as colocations.parquet")
    events_dir = _absolute(events_out) if events_out is not None else None
    params: dict[str, Any] = {
        "table": "colocations",
        "window_s": window_us / 1_000_000,
        "radius_m": radius_m,
        "min_confidence": min_confidence,
        "first_last_ts": "min/max over both sightings of every event",
        "lake": str(given_lake),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    ev_tmp = _prepare_events_dir(events_dir) if events_dir is not None else None
    spill = spill_dir(out.parent, "colocate")
    try:
        with (
            resolve_scheduler(scheduler) as sched,
            progress_bar(progress) as bar,
            _buffers_released(sched, spill),
        ):
            _frags, plan, per_part = _prepare(
                sched,
                lake,
                window_us,
                radius_m,
                min_confidence,
                npartitions,
                ev_tmp is not None,
                bar,
                {"pairs": True, "events": ev_tmp is not None, "crowd": False},
            )
            npids = len(plan.pids)
            nbuckets = max(
                8 * sched.num_workers, min(4096, math.ceil(2 * plan.est_events / _BUCKET_ROWS))
            )
            _, bounds = _pid_buckets(plan.pid_counts, nbuckets)
            nbuckets = len(bounds) - 1
            for q in range(nbuckets):
                (Path(spill) / f"b{q:05d}").mkdir()
            (Path(spill) / "res").mkdir()
            # sweeps write events here, under names of their own; the used ones move up
            ev_stage = None if ev_tmp is None else ev_tmp / ".staging"
            if ev_stage is not None:
                ev_stage.mkdir()
            sweep = delayed(_sweep_to_buckets, pure=False)
            shared = delayed((plan.pids, plan.cams), pure=False)
            run = uuid.uuid4().hex[:8]
            # partition 0 has the most expected work: name it so that Dask's ordering of these
            # otherwise equal tasks (last name first) starts it first
            nparts = len(plan.needed)
            tasks = [
                sweep(
                    per_part[k],
                    k,
                    plan.needed[k],
                    plan.jobs[k],
                    shared[0],
                    shared[1],
                    window_us,
                    bounds,
                    spill,
                    None if ev_stage is None else str(ev_stage),
                    params,
                    dask_key_name=f"colocate-sweep-{run}-{nparts - 1 - k:05d}",
                )
                for k in range(nparts)
            ]
            swept = sched.compute(tasks, "sweeping cameras", bar)
            del _frags, per_part, tasks
            n_events, per_bucket, inputs = _check_sweeps(
                swept, nbuckets, int(plan.pid_counts.sum())
            )
            params["events"] = n_events
            if ev_tmp is not None and ev_stage is not None:
                _commit_events(swept, ev_stage, ev_tmp, n_events)
            del swept
            reduce = delayed(_reduce_bucket, pure=False)
            reducers = [
                reduce(
                    spill,
                    q,
                    int(bounds[q]),
                    int(bounds[q + 1]),
                    npids,
                    int(per_bucket[q]),
                    inputs[q],
                    dask_key_name=f"colocate-reduce-{run}-{nbuckets - 1 - q:05d}",
                )
                for q in range(nbuckets)
            ]
            # reduce on the workers while this thread writes finished buckets in order (the
            # names make bucket 0 start first, as for the sweep)
            reduced = sched.completed(reducers, "reducing pairs", bar)
            try:
                n_pairs = _write_pairs(
                    reduced,
                    per_bucket,
                    spill,
                    plan.pids,
                    out,
                    params,
                    bar,
                    lambda path: commit_into(lake, [path], gen, "colocate"),
                )
            finally:
                reduced.close()
        params["pairs"] = n_pairs
        if events_dir is not None and ev_tmp is not None:
            if not any(ev_tmp.iterdir()):  # no events: one empty part keeps the schema readable
                empty = {k: np.empty(0, t) for k, t in _EVENT_KINDS.items()}
                _write_parquet(
                    _event_table(empty, plan.pids, plan.cams),
                    ev_tmp / "part-00000-00000.parquet",
                    params,
                )
            with commit_into(lake, [events_dir], gen, "colocate events"):
                if events_dir.exists():
                    shutil.rmtree(events_dir)
                ev_tmp.replace(events_dir)
            ev_tmp = None
    finally:
        shutil.rmtree(spill, ignore_errors=True)
        if ev_tmp is not None:
            shutil.rmtree(ev_tmp, ignore_errors=True)
    return ColocationResult(
        pairs=n_pairs,
        events=n_events,
        out=out,
        events_out=events_dir,
        seconds=time.perf_counter() - t0,
        params=params,
    )


# ---------------------------------------------------------------------------------------------
# over a lake: events of each partition, to a caller's function


def _events_of_partition(
    pieces: Sequence[_Piece],
    needed: np.ndarray,
    jobs: tuple[np.ndarray, np.ndarray],
    pids: pa.Array,
    cams: pa.Array,
    window_us: int,
    crowd_cap: int | None,
    func: Callable[..., Any],
    raw: bool = False,
) -> Any:
    m = _match_partition(pieces, needed, jobs, len(pids), window_us, crowd_cap)
    if raw:  # the events as rows of the sightings: no column of them is gathered here
        ra, rb = K.fill_event_rows(
            m.anc_row, m.anc_lo, m.anc_hi, 0, len(m.anc_row), m.events, m.pid
        )
        assert m.conf is not None, "events need confidences"
        rows = {"row_a": ra, "row_b": rb, "pid": m.pid, "cam": m.cam, "ts": m.ts, "conf": m.conf}
        return func(rows, pids, cams)
    ev = _event_arrays(m, 0, len(m.anc_row), m.events)
    return func(_events_frame(_sort_events(ev), pids, cams))


def map_event_partitions(
    lake: str | Path,
    func: Callable[..., Any],
    *,
    window_s: float = 60,
    radius_m: float = 0,
    min_confidence: float = 0.0,
    crowd_cap: int | None = None,
    npartitions: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    raw: bool = False,
) -> list[Any]:
    """Run ``func(events)`` on the co-location events of each camera partition, as Dask tasks.

    Every event is delivered exactly once. With ``radius_m = 0`` all events of a camera are in
    the same call; with ``radius_m > 0`` all same-camera events of a camera are in one call, and
    an event between two cameras is in the call of the camera whose id sorts first.

    Parameters
    ----------
    lake : path
        The Parquet lake.
    func : callable
        Called in a worker with a DataFrame of :data:`EVENT_COLUMNS` (pids and camera ids as
        strings, ``ts_a``/``ts_b`` as ``datetime64[us, UTC]``, oriented ``pid_a < pid_b``,
        sorted as by :func:`find_colocations`); may be called with an empty frame. Its return
        values must be picklable for a distributed cluster.
    window_s, radius_m, min_confidence, npartitions, scheduler, progress
        As for :func:`colocate_lake`.
    crowd_cap : int, optional
        Before matching, drop every sighting that has more than ``crowd_cap`` sightings of
        *other* subjects within the window (``|dt| <= W``) at the same camera (neighbouring
        cameras do not count, even with ``radius_m > 0``). The counts are taken on all
        sightings (after the confidence filter), before anything is dropped.
    raw : bool
        Call ``func(events, pids, cams)`` instead, with the events as rows of the partition's
        sightings, in no particular order: ``row_a``, ``row_b`` (int64 positions, oriented so
        that ``pid[row_a] < pid[row_b]``) into the sightings' arrays ``pid`` (codes into the
        string array ``pids``), ``cam`` (codes into ``cams``), ``ts`` (int64 microseconds since
        the epoch) and ``conf`` (NaN when unknown). No strings and no per-event columns are
        built: a hub's tens of millions of events then cost 16 bytes each until ``func``
        gathers what it needs (the contacts job gathers them once, in its own order).

    Returns
    -------
    list
        ``func``'s results, one per partition, in partition order.
    """
    window_us = _window_us(window_s)
    radius_m = _check_number(radius_m, "radius_m", "metres")
    min_confidence = _check_confidence(min_confidence)
    npartitions = _check_positive_int(npartitions, "npartitions")
    crowd_cap = _check_crowd_cap(crowd_cap)
    if not callable(func):
        raise UsageError(f"func must be callable, got {type(func).__name__}")
    lake = _absolute(lake)  # tasks read the lake's files in workers' own directories
    with resolve_scheduler(scheduler) as sched:
        _frags, plan, per_part = _prepare(
            sched,
            lake,
            window_us,
            radius_m,
            min_confidence,
            npartitions,
            True,
            progress,
            {"pairs": False, "events": True, "crowd": crowd_cap is not None},
        )
        task = delayed(_events_of_partition, pure=False)
        shared = delayed((plan.pids, plan.cams), pure=False)
        tasks = [
            task(
                per_part[k],
                plan.needed[k],
                plan.jobs[k],
                shared[0],
                shared[1],
                window_us,
                crowd_cap,
                func,
                raw,
            )
            for k in range(len(plan.needed))
        ]
        return sched.compute(tasks, "matching events", progress)
