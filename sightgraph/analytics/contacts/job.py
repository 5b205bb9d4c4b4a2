"""Frequent contacts of a whole lake as a Dask job (:func:`compute_contacts`): events become
meetings inside the camera-partition tasks, meetings are spilled to on-disk buckets by
``pid_a``, each bucket is scored (:mod:`sightgraph.analytics.contacts.score`), and the ranked
table is written a column at a time. The model: :mod:`sightgraph.analytics.contacts`."""

from __future__ import annotations

import functools
import importlib
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dask import delayed

from sightgraph._parquet_parallel import write_by_column
from sightgraph.analytics._kernels import count_others_in_window
from sightgraph.analytics.colocation import (
    _arrow,
    _check_crowd_cap,
    _Frag,
    _frag_from_table,
    _np,
    _pid_buckets,
    _remap,
    _sorted_union,
    _test_kill,
)
from sightgraph.analytics.contacts._common import (
    _DAY_US,
    _US,
    MODEL,
    _check_choice,
    _check_confidence,
    _check_min_meetings,
    _check_radius,
    _check_seconds,
    _check_shifts,
    _check_strata,
    _jit,
    _pair_starts,
    _to_us,
    pair_place_time_order,
    rank_order,
    stable_argsort,
    take,
)
from sightgraph.analytics.contacts.context import (
    NULLS,
    _busy_lookup,
    _Context,
    _make_context,
    _neighbours,
    _pair_days,
)
from sightgraph.analytics.contacts.meetings import _merge_events
from sightgraph.analytics.contacts.nulls.day_swap import _day_swap_null
from sightgraph.analytics.contacts.nulls.time_shift import _time_shift_null
from sightgraph.analytics.contacts.score import (
    _INT_FIELDS,
    _PAIR_FIELDS,
    CONTACTS_COLUMNS,
    DERIVED_FIELDS,
    RANK_COLUMN,
    RANKS,
    _association_indices,
    _bh_qvalues,
    _empty_pairs,
    _final_score,
    _pair_totals,
    _score_meetings,
    _tiebreak,
)
from sightgraph.errors import SightgraphError, UsageError
from sightgraph.lake import PARAMS_KEY, read_cameras, sightings_files

# Bounded memory (rows): the biggest events frame one partition may hand over without a crowd
# cap, and the meetings of one reduction bucket.
MAX_PARTITION_EVENTS = 25_000_000
_BUCKET_MEETINGS = 4_000_000
#: Up to this many meetings the scored pairs stay in memory (no spill files) before writing.
KEEP_IN_MEMORY_MEETINGS = 5_000_000
_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class ContactsResult:
    """What :func:`compute_contacts` wrote.

    Attributes
    ----------
    pairs : int
        Rows of the contacts table.
    pairs_met : int
        Distinct pairs with at least one meeting.
    meetings, events : int
        Meetings and co-location events behind them.
    significant : int
        Pairs with ``q_value < 0.05``.
    out : Path
        The contacts table (Parquet, ordered by score descending).
    seconds : float
        Wall-clock time of the whole job.
    params : dict
        The parameters recorded in the file's metadata.
    """

    pairs: int
    pairs_met: int
    meetings: int
    events: int
    significant: int
    out: Path
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the CLI."""
        cap = self.params.get("crowd_cap")
        capped = (
            ""
            if cap is None
            else f", crowd cap {cap} (kept {self.params.get('null_sightings', 0):,} sightings)"
        )
        return (
            f"contacts: {self.pairs:,} pairs scored ({self.pairs_met:,} met) from {self.meetings:,} meetings "
            f"and {self.events:,} events; {self.significant:,} with q < 0.05{capped}; "
            f"null {self.params.get('null')} ({self.params.get('null_reason')}); "
            f"{self.out} in {self.seconds:.1f} s"
        )


def _read_sightings_file(path: str, min_confidence: float) -> _Frag:
    """One sightings file (pid, camera_id, ts; rows below the confidence floor dropped, as a
    dataset filter drops them: a missing confidence too) with the file's own dictionaries."""
    cols = ["pid", "camera_id", "ts"] + (["confidence"] if min_confidence > 0 else [])
    table = pq.ParquetFile(path, read_dictionary=["pid", "camera_id"]).read(columns=cols)
    if min_confidence > 0:
        table = table.filter(pc.greater_equal(table.column("confidence"), min_confidence))
    return _frag_from_table(table, False)


def _read_lake_sightings(lake: str | Path, min_confidence: float):
    """pid and camera dictionaries (sorted) and integer-coded sightings of the lake.

    The files are read side by side on the machine's cores, each with its own dictionaries,
    which are then merged and sorted; no ``pyarrow.dataset`` (it imports pandas, which the job
    does not otherwise need: :func:`sightgraph.lake.sightings_files`)."""
    files = sightings_files(lake)
    if len(files) > 1:
        with ThreadPoolExecutor(min(len(files), os.cpu_count() or 1)) as pool:
            frags = list(pool.map(lambda f: _read_sightings_file(f, min_confidence), files))
    else:
        frags = [_read_sightings_file(f, min_confidence) for f in files]

    def merged(dicts: list[pa.Array], idx: list[np.ndarray]) -> tuple[pa.Array, np.ndarray]:
        # a file's dictionary also holds the ids of rows the confidence floor dropped: only
        # ids with a kept sighting are subjects (their count sets the q-values' family)
        for k, (d, i) in enumerate(zip(dicts, idx, strict=True)):
            used = np.bincount(i, minlength=len(d)) > 0
            if not used.all():
                dicts[k] = d.take(_arrow(np.flatnonzero(used), pa.int64()))
                idx[k] = (np.cumsum(used) - 1).astype(np.int32)[i]
        values = _sorted_union(dicts)  # sorted distinct strings: code -> value
        parts = [_remap(d, values)[i] for d, i in zip(dicts, idx, strict=True)]
        codes = np.concatenate(parts) if parts else np.empty(0, np.int32)
        return values, codes.astype(np.int32, copy=False)

    pids, pid = merged([f.pid_dict for f in frags], [f.pid_idx for f in frags])
    cams, cam = merged([f.cam_dict for f in frags], [f.cam_idx for f in frags])
    ts = np.concatenate([f.ts for f in frags]) if frags else np.empty(0, np.int64)
    return pids, pid, cams, cam, ts


def _recode(
    codes: np.ndarray,
    row_a: np.ndarray,
    row_b: np.ndarray,
    source: pa.Array,
    target: pa.Array,
    what: str,
) -> np.ndarray:
    """The sightings' ``codes`` into the string dictionary ``source`` -> codes into ``target``
    (the contacts job's dictionary of the same lake; it lacks only ids without a sighting it
    keeps, which no event, rows ``row_a`` / ``row_b``, may name)."""
    found = pc.index_in(source, value_set=target)
    if found.null_count:  # ids only in rows below a confidence floor: no event may name one
        known = _np(pc.cast(pc.is_valid(found), pa.int8())).astype(bool)
        bad = ~known[codes]
        if bad.any() and (bad[row_a].any() or bad[row_b].any()):
            raise RuntimeError(f"an event names {what} that the contacts job does not know")
        # (not fill_null: its pa.scalar imports pandas, a third of a second of the job)
        found = pc.coalesce(found, _arrow(np.zeros(len(found), np.int32), found.type))
    to = _np(found).astype(np.int32)
    return to[codes]


@_jit
def _event_columns(sel, row_a, row_b, pid, cam, ts, conf):
    """Events ``sel`` (rows of the sightings ``row_a`` / ``row_b``) as the columns meetings are
    merged from: the pair's codes, the place (the smaller camera code), the event's first and
    last sighting time, ``conf_a * conf_b``; one pass, no column of all events gathered."""
    n = len(sel)
    a = np.empty(n, np.int32)
    b = np.empty(n, np.int32)
    place = np.empty(n, np.int32)
    t0 = np.empty(n, np.int64)
    t1 = np.empty(n, np.int64)
    c = np.empty(n, np.float64)
    for i in range(n):
        e = sel[i]
        r1 = row_a[e]
        r2 = row_b[e]
        a[i] = pid[r1]
        b[i] = pid[r2]
        place[i] = min(cam[r1], cam[r2])
        x = ts[r1]
        y = ts[r2]
        t0[i] = min(x, y)
        t1[i] = max(x, y)
        c[i] = np.float64(conf[r1]) * np.float64(conf[r2])
    return a, b, place, t0, t1, c


#: a meeting's columns in the bucket files, and their types
_MEETING_FIELDS = ("a", "b", "place", "start", "end", "n", "conf_sum", "conf_n", "lag")
#: the types meetings wait on disk with: counts of events as int32 (a partition's events are
#: fewer than MAX_PARTITION_EVENTS < 2^31), 52 bytes a meeting (~100M at 10M sightings)
_MEETING_DTYPES = (
    np.int32,
    np.int32,
    np.int32,
    np.int64,
    np.int64,
    np.int32,
    np.float64,
    np.int32,
    np.float64,
)


@dataclass(frozen=True)
class _Swept:
    """What one attempt of a partition task wrote (see :func:`_partition_to_buckets`)."""

    events: int  # co-location events of the partition
    meetings: int  # meetings made of them
    tag: str  # the attempt's file name in each bucket folder it wrote to
    per_bucket: np.ndarray  # meetings written per bucket (sums to ``meetings``)


def _bucket_file(q: int, tag: str) -> str:
    """A partition attempt's meetings for bucket ``q``, relative to the spill directory."""
    return f"b{q:05d}/{tag}.npy"


def _partition_to_buckets(
    ev: dict[str, np.ndarray],
    ev_pids: pa.Array,
    ev_cams: pa.Array,
    *,
    pids: pa.Array,
    cams: pa.Array,
    gap_us: int,
    spill: str,
    bucket_of: np.ndarray,
    nbuckets: int,
) -> _Swept:
    """Meetings of one partition's events (``map_event_partitions(raw=True)`` arrays), written
    to the reduction buckets (by pid_a): ``spill/b<q>/<tag>.npy``, under a tag of this attempt.

    A task that Dask runs again (its worker was lost) writes under a new tag; only the files of
    the attempt whose result the driver received are read (:func:`_check_sweeps`)."""
    tag = uuid.uuid4().hex[:12]
    per_bucket = np.zeros(nbuckets, np.int64)
    row_a, row_b = ev["row_a"], ev["row_b"]
    n = len(row_a)
    if n == 0:
        _test_kill("contacts-sweep")
        return _Swept(0, 0, tag, per_bucket)
    if n >= 2**31:  # (a meeting's counts wait on disk as int32: _MEETING_DTYPES)
        raise SightgraphError(f"a camera partition gave {n:,} co-location events: use a crowd cap")
    # codes of the partition's sightings (not of its events) into the job's dictionaries
    pid = _recode(ev["pid"], row_a, row_b, ev_pids, pids, "a subject")
    cam = _recode(ev["cam"], row_a, row_b, ev_cams, cams, "a camera")
    ts = ev["ts"].astype(np.int64, copy=False)
    conf = ev["conf"].astype(np.float64, copy=False)
    # Meetings never cross buckets (a bucket is a range of pid_a), so the events are grouped
    # by bucket first and each group merged on its own: the same meetings in the same order as
    # merging all and then splitting, with the temporaries of one group at a time (a hub
    # camera's partition holds tens of millions of events).
    q = bucket_of[pid][row_a]
    order = np.argsort(q, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(q, minlength=nbuckets))])
    del q
    for k in np.flatnonzero(np.diff(bounds)):
        sel = order[bounds[k] : bounds[k + 1]]
        a, b, place, t0, t1, c = _event_columns(sel, row_a, row_b, pid, cam, ts, conf)
        m = _merge_events(a, b, place, t0, t1, c, gap_us)
        del a, b, place, t0, t1, c, sel
        per_bucket[k] = len(m["a"])
        with open(Path(spill) / _bucket_file(int(k), tag), "wb") as fh:
            for name, dtype in zip(_MEETING_FIELDS, _MEETING_DTYPES, strict=True):
                np.save(fh, m[name].astype(dtype, copy=False), allow_pickle=False)
        del m
    _test_kill("contacts-sweep")
    return _Swept(n, int(per_bucket.sum()), tag, per_bucket)


def _check_sweeps(
    swept: list[_Swept], nbuckets: int
) -> tuple[int, int, np.ndarray, list[list[str]]]:
    """Events, meetings, meetings per bucket and each bucket's input files (those of the
    attempts whose results were received, one per partition); a result that does not add up is
    a :class:`SightgraphError`."""
    expected = np.zeros(nbuckets, np.int64)
    inputs: list[list[str]] = [[] for _ in range(nbuckets)]
    tags: set[str] = set()
    for part, r in enumerate(swept):
        if not isinstance(r, _Swept) or len(r.per_bucket) != nbuckets or r.tag in tags:
            raise SightgraphError(
                f"camera partition {part}: unexpected result of its task; no output was written"
            )
        if int(r.per_bucket.sum()) != r.meetings:
            raise SightgraphError(
                f"camera partition {part}: wrote {int(r.per_bucket.sum()):,} meetings to the "
                f"buckets of its {r.meetings:,}; no output was written"
            )
        tags.add(r.tag)
        expected += r.per_bucket
        for q in np.flatnonzero(r.per_bucket).tolist():
            inputs[q].append(_bucket_file(q, r.tag))
    n_events = int(sum(r.events for r in swept))
    return n_events, int(expected.sum()), expected, inputs


def _load_bucket(spill: str, q: int, inputs: list[str], expected: int) -> dict[str, np.ndarray]:
    """Bucket ``q``'s meetings from ``inputs`` (files relative to ``spill``), sorted by
    (a, b, place, start). The files stay (a re-run of this task may need them); a missing or
    damaged file, or other than ``expected`` meetings, is a :class:`SightgraphError`.

    Each block of each file is read straight into its place in arrays of ``expected`` rows
    (arrays read one by one and concatenated were a copy of every meeting in fresh memory)."""
    m = {k: np.empty(expected, t) for k, t in zip(_MEETING_FIELDS, _MEETING_DTYPES, strict=True)}
    read = 0
    for f in inputs:
        path = Path(spill) / f
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                while fh.tell() < size:
                    count = -1
                    for k in _MEETING_FIELDS:
                        shape, dtype = _npy_header(fh)
                        if count not in (-1, shape[0]):
                            raise ValueError("columns of different lengths")
                        count = shape[0]
                        if read + count <= expected:
                            _read_into(fh, dtype, m[k][read : read + count])
                        else:  # more than expected: counted, not kept (_check_meetings says so)
                            fh.seek(count * dtype.itemsize, os.SEEK_CUR)
                    read += count
        except (OSError, EOFError, ValueError) as exc:
            raise SightgraphError(
                f"meeting bucket {q}: scratch file {f} is missing or damaged ({exc}); "
                "no output was written"
            ) from None
    _check_meetings(q, read, expected)
    order = pair_place_time_order(m["a"], m["b"], m["place"], m["start"])
    return {k: take(v, order) for k, v in m.items()}  # int32 positions: no int64 copy of them


def _remove_meetings(spill: str, nbuckets: int) -> None:
    """The meetings' bucket folders (``spill/b<q>``), once every bucket is scored."""
    for q in range(nbuckets):
        shutil.rmtree(Path(spill) / f"b{q:05d}", ignore_errors=True)


def _check_meetings(q: int, read: int, expected: int) -> None:
    if read != expected:
        raise SightgraphError(
            f"meeting bucket {q}: its input files hold {read:,} meetings where the camera "
            f"partitions wrote {expected:,}; a scratch file was lost or changed, no output was "
            "written"
        )


#: what stays in memory per scored pair until the table is written: the global order and the
#: q-values need these (24 bytes a pair), and they are put in the table's order and written from
#: there; every other column waits on disk
_RANK_FIELDS = ("a", "b", "evidence", "p_value", "exposure_s")


def _rank_fields(rank_col: str) -> tuple[str, ...]:
    """The columns a scoring task returns to the driver for ordering by ``rank_col`` (the others
    wait in its files): ``exposure_s`` only when the table is ordered by it."""
    return tuple(f for f in _RANK_FIELDS if f != "exposure_s" or rank_col == "exposure_s")


#: what a scoring task returns when it keeps its pairs in memory (the derived columns are
#: computed as the rows are written)
_KEPT_FIELDS = tuple(f for f in _PAIR_FIELDS if f not in DERIVED_FIELDS)
#: the columns a large job's scored bucket keeps: all but the score, which is evidence * (1 - q)
#: once the q-values over all pairs are known; those of :func:`_rank_fields` go to the driver,
#: the others wait on disk (:func:`_spilled_fields`)
_SPILLED_FIELDS = tuple(f for f in _KEPT_FIELDS if f != "score")


def _spilled_fields(rank_fields: tuple[str, ...]) -> tuple[str, ...]:
    """The columns a large job's scored bucket writes to its files."""
    return tuple(f for f in _SPILLED_FIELDS if f not in rank_fields)


#: counts that wait on disk as int32 when they fit (the table has them as int64)
_NARROW_FIELDS = ("meetings", "days", "places", "n_events", "days_a", "days_b", "days_both")


def _spill_dtype(f: str, bound: int) -> np.dtype[Any]:
    """The type field ``f`` waits on disk with: counts as int32 when ``bound`` (at least any
    count of the bucket: its events, its days) fits, else as in the table."""
    if f in _NARROW_FIELDS and bound < 2**31:
        return np.dtype(np.int32)
    return _empty_pairs()[f].dtype


#: What each column computed from others (:data:`DERIVED_FIELDS`) is computed from: a large job
#: does not keep them on disk while the table's order is found, they are computed (in bucket
#: order, from the buckets' columns) as the table is written.
_DERIVED_FROM = {
    "excess": ("meetings", "expected"),
    "sri": ("days", "days_a", "days_b", "days_both"),
    "hwi": ("days", "days_a", "days_b", "days_both"),
}


def _derived(f: str, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Derived column ``f`` from the columns it is computed from (:data:`_DERIVED_FROM`)."""
    if f == "excess":
        return cols["meetings"] - cols["expected"]
    sri, hwi = _association_indices(cols["days"], cols["days_a"], cols["days_b"], cols["days_both"])
    return sri if f == "sri" else hwi


#: rows per row group of a written contacts table
_WRITE_ROWS = 500_000


@dataclass(frozen=True)
class _Scored:
    """What one attempt of a scoring task returned (see :func:`_reduce_bucket`)."""

    q: int  # the bucket
    cols: dict[str, np.ndarray]  # every pair column (kept) or only _RANK_FIELDS
    met: int  # distinct pairs with a meeting
    read: int  # meetings read
    folder: str | None  # where the columns were written (None: kept in memory)


#: A bucket's meetings are scored this many at a time (cut between pairs): the scoring's
#: temporaries are a few hundred bytes per meeting, and two buckets are scored at once.
_SCORE_CHUNK_MEETINGS = 1_000_000


def _scored_chunks(
    m: dict[str, np.ndarray], ctx: _Context, min_meetings: int
) -> Iterator[dict[str, np.ndarray]]:
    """:func:`_score_meetings` on consecutive runs of whole pairs of at most about
    :data:`_SCORE_CHUNK_MEETINGS` meetings: pairs are scored independently of each other, so
    the chunks are the pairs of scoring all at once, with bounded temporaries."""
    n = len(m["a"])
    if n <= _SCORE_CHUNK_MEETINGS:
        yield _score_meetings(m, ctx, min_meetings, derived=False)
        return
    # a cut at the first pair start at or after each step
    bounds = np.append(_pair_starts(m["a"], m["b"]), n)
    cuts = np.unique(bounds[np.searchsorted(bounds, np.arange(0, n, _SCORE_CHUNK_MEETINGS))])
    cuts = np.unique(np.append(cuts, n))
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        yield _score_meetings({k: v[lo:hi] for k, v in m.items()}, ctx, min_meetings, derived=False)


def _score_in_chunks(
    m: dict[str, np.ndarray], ctx: _Context, min_meetings: int
) -> dict[str, np.ndarray]:
    """Every column of :func:`_scored_chunks`, concatenated."""
    parts = list(_scored_chunks(m, ctx, min_meetings))
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _write_npy_header(fh: Any, dtype: np.dtype[Any], n: int) -> None:
    np.lib.format.write_array_header_1_0(
        fh, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)}
    )


def _reduce_bucket(
    spill: str,
    q: int,
    inputs: list[str],
    expected: int,
    ctx: _Context,
    min_meetings: int,
    keep: bool = False,
    rank_fields: tuple[str, ...] = _RANK_FIELDS,
) -> _Scored:
    """Score bucket ``q`` from its ``inputs`` (``expected`` meetings); its pairs (in pid
    order) go to a new folder ``spill/s<q>-<tag>/<column>.npy`` of this attempt and only
    ``rank_fields`` (:func:`_rank_fields`) come back, with the folder's name; with ``keep`` (small jobs) nothing
    is written and every column comes back. The inputs are left in place."""
    m = _load_bucket(spill, q, inputs, expected)
    n = len(m["a"])
    pair_start = _pair_starts(m["a"], m["b"])
    met = len(pair_start)
    if keep:
        cols = _score_in_chunks(m, ctx, min_meetings)  # meetings in (a, b) order: so are pairs
        del m
        _test_kill("contacts-reduce", q)
        return _Scored(q, cols, met, n, None)
    name = f"s{q:05d}-{uuid.uuid4().hex[:12]}"
    folder = Path(spill) / name
    folder.mkdir()
    # Each chunk's columns are appended to the files as it is scored (no whole-bucket copy of
    # every column): the headers need the number of pairs and the types, known beforehand.
    kept = int(np.count_nonzero(np.diff(np.append(pair_start, n)) >= min_meetings))
    bound = max(int(m["n"].sum()) if n else 0, len(ctx.stratum))
    dtypes = {f: _spill_dtype(f, bound) for f in _SPILLED_FIELDS}
    parts: dict[str, list[np.ndarray]] = {f: [] for f in _SPILLED_FIELDS if f in rank_fields}
    files = {f: open(folder / f"{f}.npy", "wb") for f in _spilled_fields(rank_fields)}  # noqa: SIM115
    try:
        for f, fh in files.items():
            _write_npy_header(fh, dtypes[f], kept)
        wrote = 0
        for chunk in _scored_chunks(m, ctx, min_meetings):  # in (a, b) order
            for f, fh in files.items():
                np.ascontiguousarray(chunk.pop(f), dtypes[f]).tofile(fh)
            for f, got in parts.items():
                got.append(chunk.pop(f))
            wrote += len(chunk["score"])
    finally:
        for fh in files.values():
            fh.close()
    del m
    if wrote != kept:
        raise SightgraphError(
            f"meeting bucket {q}: scored {wrote:,} pairs where {kept:,} were expected; "
            "no output was written"
        )
    rank = {f: np.concatenate(v) if v else _empty_pairs()[f] for f, v in parts.items()}
    _test_kill("contacts-reduce", q)
    return _Scored(q, rank, met, n, name)


def _check_scored(
    spill: str,
    scored: list[_Scored],
    expected: np.ndarray,
    keep: bool,
    rank_fields: tuple[str, ...] = _RANK_FIELDS,
) -> list[str] | None:
    """Check that every bucket was scored from all its meetings and that the columns of its
    pairs are all there, as many as it returned; the folders of the used attempts (None when
    kept in memory). Otherwise :class:`SightgraphError`."""
    if len(scored) != len(expected):
        raise SightgraphError(
            f"{len(scored)} of {len(expected)} meeting buckets were scored; no output was written"
        )
    fields = _KEPT_FIELDS if keep else rank_fields
    folders: list[str] = []
    for q, r in enumerate(scored):
        if not isinstance(r, _Scored) or r.q != q or (r.folder is None) != keep:
            raise SightgraphError(
                f"meeting bucket {q}: unexpected result of its scoring; no output was written"
            )
        _check_meetings(q, r.read, int(expected[q]))
        n = len(r.cols["a"]) if "a" in r.cols else -1
        if n < 0 or any(f not in r.cols or len(r.cols[f]) != n for f in fields):
            raise SightgraphError(
                f"meeting bucket {q}: its scored columns are incomplete; no output was written"
            )
        if r.folder is None:
            continue
        for f in _spilled_fields(rank_fields):
            path = Path(spill) / r.folder / f"{f}.npy"
            try:
                got = len(np.load(path, mmap_mode="r"))
            except (OSError, EOFError, ValueError) as exc:
                raise SightgraphError(
                    f"meeting bucket {q}: scratch file {r.folder}/{f}.npy is missing or damaged "
                    f"({exc}); no output was written"
                ) from None
            if got != n:
                raise SightgraphError(
                    f"meeting bucket {q}: {r.folder}/{f}.npy holds {got:,} pairs where its "
                    f"scoring returned {n:,}; no output was written"
                )
        folders.append(r.folder)
    return None if keep else folders


@_jit
def _pairs_in_order(a, b):
    """Whether the pairs (a, b) strictly increase along the rows: then a stable sort by the
    rank keys alone leaves equal keys in pid order (no pid keys to sort by)."""
    for k in range(1, len(a)):
        if a[k] < a[k - 1] or (a[k] == a[k - 1] and b[k] <= b[k - 1]):
            return False
    return True


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of the .npy file open at its start (left at its data)."""
    major, _ = np.lib.format.read_magic(fh)
    read = (
        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read(fh)
    if fortran or len(shape) != 1:
        raise ValueError("not a one-dimensional array")
    return shape, dtype


def _read_npy_into(path: Path, out: np.ndarray) -> None:
    """The one-dimensional array of an .npy file into ``out`` (as long), read in one call
    (cast when its dtype differs: a bucket whose counts did not fit int32)."""
    with open(path, "rb") as fh:
        shape, dtype = _npy_header(fh)
        if shape != (len(out),):
            raise ValueError(f"{len(out):,} values expected, found {shape[0]:,}")
        _read_into(fh, dtype, out)


def _read_into(fh: Any, dtype: np.dtype[Any], out: np.ndarray) -> None:
    """``len(out)`` values of ``dtype`` from ``fh`` at its position into ``out`` (cast when the
    types differ)."""
    if dtype == out.dtype:
        if fh.readinto(out.data.cast("B")) != out.nbytes:
            raise EOFError("the file ends early")
    else:
        got = np.fromfile(fh, dtype=dtype, count=len(out))
        if len(got) != len(out):
            raise EOFError("the file ends early")
        out[:] = got


class _BucketColumns:
    """The scored pairs' columns, bucket after bucket (bucket ``q``'s pairs are rows
    ``offsets[q]:offsets[q + 1]``), from the buckets' files (large jobs: ``spill/<dir>/<f>.npy``)
    or their arrays (small jobs: ``held``), each put in the table's ``order`` on demand
    (:meth:`ordered`) by the writer's threads, a column at a time each.

    A field's files go as soon as no column needs them any more (its own, and those derived
    from it)."""

    def __init__(
        self,
        spill: str,
        dirs: list[str],
        held: list[dict[str, np.ndarray]] | None,
        offsets: np.ndarray,
        order: np.ndarray,
        fields: tuple[str, ...] = _SPILLED_FIELDS,
    ) -> None:
        self.spill, self.dirs, self.held = Path(spill), dirs, held
        self.offsets, self.order = offsets, order
        self.lock = threading.Lock()
        self.uses = {f: 1 for f in fields}
        for inputs in _DERIVED_FROM.values():
            for f in inputs:
                self.uses[f] += 1
        # each thread reads and permutes its columns in two buffers it keeps (as bytes, viewed
        # as each column's type): fresh 550 MB arrays for each of ~20 columns had the kernel
        # zero ~20 GB of new pages (a third of this step's CPU at 10M sightings)
        self.buffers = threading.local()

    def _bucket(self, f: str, q: int, out: np.ndarray | None = None) -> np.ndarray:
        """Bucket ``q``'s values of spilled field ``f`` (into ``out`` when given)."""
        if self.held is not None:
            if out is None:
                return self.held[q][f]
            out[:] = self.held[q][f]
        else:
            path = self.spill / self.dirs[q] / f"{f}.npy"
            if out is None:
                return np.load(path, allow_pickle=False)
            _read_npy_into(path, out)
        return out

    def _dtype(self, f: str) -> np.dtype[Any]:
        if f in _DERIVED_FROM:
            return np.dtype(np.float64)
        if self.held is not None:
            dtypes = [h[f].dtype for h in self.held]
        else:
            dtypes = []
            for d in self.dirs:
                with open(self.spill / d / f"{f}.npy", "rb") as fh:
                    dtypes.append(_npy_header(fh)[1])
        return np.dtype(np.result_type(*dtypes) if dtypes else np.float64)

    def _done(self, fields: tuple[str, ...]) -> None:
        with self.lock:
            gone = []
            for f in fields:
                self.uses[f] -= 1
                if self.uses[f] == 0:
                    gone.append(f)
        if self.held is None:
            for f in gone:
                for d in self.dirs:
                    (self.spill / d / f"{f}.npy").unlink()

    def ordered(self, f: str) -> np.ndarray:
        """Field ``f`` (spilled or derived) of every pair, in the table's order: a view of
        this thread's buffer, valid until its next call."""
        n = int(self.offsets[-1])
        dtype = self._dtype(f)
        if not hasattr(self.buffers, "raw"):  # 8 bytes a row: the widest column type
            self.buffers.raw = (np.empty(8 * n, np.uint8), np.empty(8 * n, np.uint8))
        raw = self.buffers.raw
        col = raw[0][: n * dtype.itemsize].view(dtype)
        inputs = _DERIVED_FROM.get(f, (f,))
        for q in range(len(self.offsets) - 1):
            part = col[self.offsets[q] : self.offsets[q + 1]]
            if f in _DERIVED_FROM:
                part[:] = _derived(f, {x: self._bucket(x, q) for x in inputs})
            else:
                self._bucket(f, q, out=part)
        self._done(inputs)
        return take(col, self.order, out=raw[1][: n * dtype.itemsize].view(dtype))


def _ranked_columns(
    spill: str,
    parts: list[dict[str, np.ndarray]],
    npids: int,
    rank_col: str = "score",
    folders: list[str] | None = None,
) -> tuple[int, int, Callable[[str], np.ndarray]]:
    """The whole table's order (``rank_col`` descending, then pids) from the per-bucket pairs
    of :func:`_reduce_bucket`: q-values over all pairs, then the score (evidence times 1 - q),
    then the order; returns the number of pairs, of pairs with q < 0.05, and ``column(f)``:
    field ``f`` of :data:`CONTACTS_COLUMNS` (``a`` / ``b``: the pid codes) in the table's
    order (see :class:`_BucketColumns`; the spill directory must live until the table is
    written).

    Memory holds the rank fields of all pairs (:func:`_rank_fields`), the q-values, the scores
    and the order, then those fields in the table's order, and two whole columns a writer
    thread (two threads) while each is put in order and encoded; with ``folders`` (the
    buckets' files that :func:`_check_scored` returned) the other columns wait on disk,
    without (small jobs) ``parts`` hold them in memory.
    """
    sizes = np.array([len(p["a"]) for p in parts], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(sizes)]
    rank = {f: np.concatenate([p.pop(f) for p in parts]) if parts else _empty_pairs()[f]
            for f in _rank_fields(rank_col)}  # fmt: skip
    # buckets scored with keep=True hold their other columns in memory (no files)
    held = list(parts) if folders is None else None
    parts.clear()
    # Each bucket is in (a, b) order and buckets hold increasing ranges of pid_a codes
    # (_buckets), so the concatenation is in (a, b) order (checked): a stable sort by the rank
    # keys alone is the table's order.
    if not _pairs_in_order(rank["a"], rank["b"]):
        raise RuntimeError("contacts buckets are not in pid order")
    p_value = rank["p_value"]
    q_value = _bh_qvalues(p_value, npids * (npids - 1) // 2)
    evidence = rank["evidence"]
    score = _final_score(evidence, q_value)
    if rank_col == "score":  # equal scores (q = 1: score 0) by evidence * (1 - p)
        tie = _tiebreak(evidence, p_value, out=np.empty_like(p_value))  # (p is written too)
        np.negative(tie, out=tie)
        order = rank_order(score, tie)  # np.lexsort((tie, -score)), compiled
        del tie
    else:
        order = stable_argsort(-rank[rank_col])
    del evidence, p_value
    n = len(order)
    significant = int(np.count_nonzero(q_value < 0.05))
    rank |= {"q_value": q_value, "score": score}
    del q_value, score
    # the rank fields, q-values and scores in the table's order, two at a time (nogil takes),
    # each dropped once taken
    ordered: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(2, thread_name_prefix="sightgraph-order") as pool:
        while rank:
            two = [rank.popitem() for _ in range(min(2, len(rank)))]
            for (f, _), got in zip(two, pool.map(lambda fx: take(fx[1], order), two), strict=True):
                ordered[f] = got
            del two
    buckets = _BucketColumns(
        spill, folders or [], held, offsets, order, _spilled_fields(tuple(ordered))
    )

    def column(f: str) -> np.ndarray:
        return ordered[f] if f in ordered else buckets.ordered(f)

    return n, significant, column


def _warm_up() -> None:
    """Compile the kernels once before threads fan out (tiny inputs of the types the tasks
    use): the events' and meetings' sorts and gathers, the nulls."""
    e = np.zeros(0, np.int64)
    one = np.zeros(1, np.int64)
    codes = np.array([1, 0, 1], np.int32)
    times = np.array([5, 3, 4], np.int64)
    rows = np.array([0, 1, 2], np.int64)
    _event_columns(rows, rows, rows, codes, codes, times, np.ones(3))
    _merge_events(codes, codes, codes, times, times, np.ones(3), 1)  # radix sorts, takes
    order = pair_place_time_order(codes, codes, codes, times)  # a bucket's meetings
    for col in (codes, times, np.ones(3)):
        take(col, order)
    count_others_in_window(
        np.zeros(1, np.int64), np.zeros(0, np.int32), e, np.int64(0), np.zeros(1, np.int64)
    )
    e2 = np.zeros((0, 2), np.int64)
    u = np.zeros(1, np.uint64)
    _day_swap_null(
        *(e,) * 8,
        np.zeros(2, np.int64),  # s_off
        e,
        e,  # s_tk
        np.zeros(2, np.int64),  # n_off
        one,
        np.zeros(2, np.int64),  # d_off
        e,
        u,  # d_mask
        u,  # st_mask
        one,
        1,
        np.int64(0),
        np.int64(0),
        np.zeros(2, np.int64),  # r_off
        e,
        e2,  # r_lh
        True,
    )
    _time_shift_null(
        *(e,) * 7,
        np.zeros(2, np.int64),
        e,
        e,
        np.zeros(2, np.int64),
        one,
        one,
        np.int64(0),
        np.int64(0),
    )
    _pair_days(e, e, np.zeros(2, np.int64), e)
    f = np.zeros(0)
    _pair_totals(e, e, e, e, 1, e, e, e, f, e, f, f, f, f, e, f, 0.0, 1.0)
    _busy_lookup(e, e, 1, 0, 1, np.zeros(1, np.int32))


def _buckets(pid_counts: np.ndarray, nbuckets: int) -> np.ndarray:
    """pid_a code -> bucket, ranges of codes with about equal expected pairs (co-location's
    :func:`~sightgraph.analytics.colocation._pid_buckets`: a pair belongs to the bucket of its
    smaller code, so ranges of equal sightings gave the first bucket of the 1M city 7x the
    pairs of the last, and its scoring task ran alone for half the scoring phase). Buckets that
    would be empty are dropped from the end of the range: some of the ``nbuckets`` get nothing."""
    return _pid_buckets(pid_counts, nbuckets)[0]


def _contacts_schema(params: dict[str, Any] | None) -> pa.Schema:
    import json

    # every column is required (never null; a missing mean confidence is NaN): Parquet then
    # stores no definition levels, ~15% less time writing the table
    fields = [pa.field("pid_a", pa.string(), False), pa.field("pid_b", pa.string(), False)]
    for f in CONTACTS_COLUMNS[2:]:
        if f in ("first_ts", "last_ts"):
            fields.append(pa.field(f, _TS, False))
        elif f in _INT_FIELDS:
            fields.append(pa.field(f, pa.int64(), False))
        else:
            fields.append(pa.field(f, pa.float64(), False))
    schema = pa.schema(fields)
    if params is not None:
        schema = schema.with_metadata(
            {PARAMS_KEY: json.dumps(params, sort_keys=True, default=str).encode()}
        )
    return schema


def _write_contacts(
    n: int, column: Callable[[str], np.ndarray], pids: pa.Array, out: Path, params: dict[str, Any]
) -> None:
    """Write the table's ``n`` rows, a column at a time (``column(f)``: :func:`_ranked_columns`),
    in row groups of :data:`_WRITE_ROWS`, atomically: columns put in order and encoded two at a
    time (:func:`sightgraph._parquet_parallel.write_by_column`), then assembled.

    pids go in as dictionary pages built from the codes (as the co-location pairs:
    :func:`~sightgraph.analytics.colocation._dict_column`), without the Arrow schema, so readers
    get plain strings; the parameters are the file's key/value metadata."""
    from sightgraph.analytics.colocation import _dict_column, _params_metadata, _writer_options

    plain = _contacts_schema(None)
    schema = pa.schema(
        [pa.field(f.name, pa.dictionary(pa.int32(), pa.string()), False) for f in list(plain)[:2]]
        + list(plain)[2:]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp-{uuid.uuid4().hex[:8]}")
    ints = [f for f in CONTACTS_COLUMNS[2:] if f in _INT_FIELDS]
    opts = _writer_options(["pid_a", "pid_b"], ints)
    # floats compressed too: most pairs score 0 with q = 1, and ratios of small counts repeat,
    # so snappy halves the table (9.1 -> ~4.6 GB for a 10M-sighting city) for ~15% more
    # encoding time, less than the disk time it saves
    opts["compression"] |= {f: "snappy" for f in CONTACTS_COLUMNS[2:] if f not in _INT_FIELDS}
    # min/max statistics for the sort key, the score (a reader asking for score > x skips the
    # row groups below it), not for pid_a: in score order each row group spans ~all pids, and
    # string statistics were an eighth of encoding a row group
    opts["write_statistics"] = ["score"]

    def source(name: str) -> Callable[[int, int], pa.Array]:
        if name in ("pid_a", "pid_b"):
            codes = column("a" if name == "pid_a" else "b")
            return lambda s0, s1: _dict_column(codes[s0:s1], pids)
        values = column(name)
        type_ = schema.field(name).type
        return lambda s0, s1: _column(values[s0:s1], type_)

    # the columns computed from others first (they need the files of several), the ones already
    # in order (q-values, scores) last
    first = [f for f in CONTACTS_COLUMNS if f in _DERIVED_FROM]
    last = ["q_value", "score"]
    order = first + [f for f in CONTACTS_COLUMNS if f not in first and f not in last] + last
    sizes = [min(_WRITE_ROWS, n - s0) for s0 in range(0, n, _WRITE_ROWS)]
    try:
        write_by_column(tmp, schema, opts, sizes, source, _params_metadata(params), 2, order)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _column(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A table column from NumPy: float64, or int64 (counts, and times in microseconds for a
    timestamp column), without ``pa.array`` (which imports pandas: a third of a second)."""
    dtype = np.float64 if pa.types.is_floating(type_) else np.int64
    return _arrow(np.asarray(values, dtype), type_)


def _largest_partition_events(
    cam: np.ndarray, ts: np.ndarray, ncams: int, window_us: int
) -> tuple[int, float]:
    """The camera with the most expected events and that number: per camera and UTC day,
    ``n^2 / 2`` times the window's share of a day (uniform times within the day)."""
    if len(cam) == 0:
        return -1, 0.0
    day = ts // _DAY_US
    span = int(day.max() - day.min()) + 1
    key, cnt = np.unique(cam.astype(np.int64) * span + (day - day.min()), return_counts=True)
    share = min(1.0, (2 * window_us + 1) / _DAY_US)
    est = np.bincount(key // span, weights=cnt.astype(np.float64) ** 2 * share / 2, minlength=ncams)
    c = int(np.argmax(est))
    return c, float(est[c])


def compute_contacts(
    lake: str | Path,
    out: str | Path,
    window_s: float = 60,
    radius_m: float = 0,
    gap_s: float = 900,
    min_confidence: float = 0.0,
    crowd_cap: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    *,
    strata: str = "weekpart",
    period_s: float = 3600,
    min_meetings: int = 1,
    npartitions: int | None = None,
    null: str = "auto",
    shift_s: float | None = None,
    shifts: int = 3,
    rank: str = "association",
) -> ContactsResult:
    """Frequent contacts of a whole lake as a Dask job; writes the ranked contacts table.

    1. the lake's sightings are read once (integer codes) for the busyness weights and the null;
    2. :func:`~sightgraph.analytics.colocation.map_event_partitions` runs one task per camera
       partition: its events become meetings (:func:`build_meetings`'s rule) inside the task and
       are written to on-disk buckets by ``pid_a``, in files named by a tag of that attempt;
    3. one task per bucket scores its pairs (:func:`score_contacts`'s model) from the files of
       the attempts whose results the driver received, and writes them (large jobs) to a folder
       of its own attempt;
    4. q-values over all pairs, ordered by score (or exposure), written to ``out`` with the
       parameters (the null model chosen among them).

    Memory stays bounded: events never leave their partition task (as integer arrays), meetings
    are spilled to disk, a bucket holds only its own pairs' meetings, and scored pairs wait on disk
    while 24 bytes a pair (pids, evidence, p-value) serve the q-values and the order; the table
    is then written a column at a time, each put in order and encoded on one of two threads
    (:func:`sightgraph._parquet_parallel.write_by_column`; 10M sightings, 68.6M pairs: 6.8 GiB
    at the peak). The events of one camera are
    in one task, so a camera with huge crowds needs ``crowd_cap`` (DESIGN §6): without one, a job whose
    busiest camera would yield more than :data:`MAX_PARTITION_EVENTS` events stops with a
    UsageError before starting.

    Parameters
    ----------
    lake : path
        The Parquet lake (``LAKE/cameras`` too when ``radius_m > 0``).
    out : path
        Output Parquet file (:data:`CONTACTS_COLUMNS`), written atomically.
    window_s, radius_m, gap_s
        ``W`` (seconds, e.g. 2 for pedestrians crossing small zones), ``R`` (metres), ``G``.
    min_confidence : float
        Ignore sightings with a lower confidence (everywhere: events, busyness, null).
    crowd_cap : int, optional
        Drop sightings that have more than this many sightings of other subjects within the
        window at their camera, for events and for the null alike (recorded in the metadata).
    scheduler : str, optional
        As for :func:`sightgraph.analytics.compute.resolve_scheduler`.
    progress : bool
        Rich progress bars.
    strata, period_s, min_meetings, null, shift_s, shifts, rank
        As for :func:`score_contacts`.
    npartitions : int, optional
        Camera partitions for the event sweep (default: about one per 250,000 sightings).

    Returns
    -------
    ContactsResult

    Raises
    ------
    SightgraphError
        The output would not account for every input: a scratch file was lost or damaged, or
        the meetings the partitions wrote, those the buckets read and the pairs they returned
        disagree; nothing is written then. A worker lost mid-job is not an error: Dask re-runs
        its tasks, a re-run writes under new names, and only the files of the results received
        are read (nothing is deleted before the table is written), so the result is exact.
    """
    from sightgraph.analytics.colocation import map_event_partitions
    from sightgraph.analytics.compute import resolve_scheduler, spill_dir

    t_start = time.perf_counter()
    window_us = _to_us(_check_seconds(window_s, "window"))
    gap_us = _to_us(_check_seconds(gap_s, "gap"))
    radius_m = _check_radius(radius_m)
    min_confidence = _check_confidence(min_confidence)
    crowd_cap = _check_crowd_cap(crowd_cap)
    strata = _check_strata(strata)
    period_us = _to_us(_check_seconds(period_s, "period", positive=True))
    min_meetings = _check_min_meetings(min_meetings)
    null = _check_choice(null, "null", NULLS)
    rank = _check_choice(rank, "rank", RANKS)
    shifts = _check_shifts(shifts)
    shift_us = None if shift_s is None else _to_us(_check_seconds(shift_s, "shift", positive=True))
    out = Path(os.path.abspath(out))
    if out.exists() and out.is_dir():
        raise UsageError(f"out {out} is a directory; give a file name such as contacts.parquet")
    given_lake = lake
    # absolute before any task is built: a cluster's workers run in directories of their own
    lake = Path(os.path.abspath(lake))
    pids, pid, cams, cam, ts = _read_lake_sightings(lake, min_confidence)
    npids, ncams = len(pids), len(cams)
    if crowd_cap is None:
        c, est = _largest_partition_events(cam, ts, ncams, window_us)
        if est > MAX_PARTITION_EVENTS:
            raise UsageError(
                f"camera {cams[c].as_py()!r} alone would give about {est:,.0f} co-location events to hold "
                f"in memory (limit {MAX_PARTITION_EVENTS:,}); pass a crowd cap, e.g. --crowd-cap 20 "
                "(DESIGN §6), or a smaller --window"
            )
    cameras = read_cameras(lake) if radius_m > 0 else None
    n_off, n_cam = _neighbours(
        ncams,
        np.asarray(cams.to_pylist(), dtype=object),
        cameras,
        radius_m,
        f"{Path(lake) / 'cameras'}",
    )
    # the null's context is built while the events are found (it needs only the sightings):
    # its serial sorts fill the cores the event tasks leave idle
    ctx_pool = ThreadPoolExecutor(1)
    ctx_pool.submit(importlib.import_module, "scipy.special")  # for the p-values, meanwhile
    ctx_future = ctx_pool.submit(
        _make_context,
        pid,
        cam,
        ts,
        npids,
        ncams,
        n_off,
        n_cam,
        window_us=window_us,
        gap_us=gap_us,
        period_us=period_us,
        crowd_cap=crowd_cap,
        strata=strata,
        null=null,
        shift_us=shift_us,
        shifts=shifts,
    )
    pid_counts = np.bincount(pid, minlength=npids)
    n_sightings = len(ts)
    del pid, cam, ts
    out.parent.mkdir(parents=True, exist_ok=True)
    spill = spill_dir(out.parent, "contacts")
    try:
        with resolve_scheduler(scheduler) as sched:
            nbuckets = max(2 * sched.num_workers, math.ceil(n_sightings / 500_000))
            # int16 when it fits: NumPy's stable sort of 16-bit keys (the events by bucket, in
            # each partition) is a radix sort, 7x faster than of int64 keys
            bucket_of = _buckets(pid_counts, nbuckets).astype(
                np.int16 if nbuckets < 2**15 else np.int64
            )
            for q in range(nbuckets):
                (Path(spill) / f"b{q:05d}").mkdir()
            func = functools.partial(
                _partition_to_buckets,
                pids=pids,
                cams=cams,
                gap_us=gap_us,
                spill=spill,
                bucket_of=bucket_of,
                nbuckets=nbuckets,
            )
            sched.run_everywhere(_warm_up)  # before any task: threads never compile at once
            swept = map_event_partitions(
                lake,
                func,
                window_s=window_us / _US,
                radius_m=radius_m,
                min_confidence=min_confidence,
                crowd_cap=crowd_cap,
                npartitions=npartitions
                or max(4 * sched.num_workers, math.ceil(n_sightings / 250_000)),
                scheduler=scheduler,
                progress=progress,
                raw=True,
            )
            # only the files of the attempts whose results came back are read
            n_events, n_meetings, expected, inputs = _check_sweeps(swept, nbuckets)
            del swept
            ctx = ctx_future.result()
            params: dict[str, Any] = {
                "table": "contacts",
                "model": MODEL,
                "window_s": window_us / _US,
                "radius_m": radius_m,
                "gap_s": gap_us / _US,
                "min_confidence": min_confidence,
                "crowd_cap": crowd_cap,
                "strata": strata,
                "null": ctx.null,
                "null_requested": null,
                "null_reason": ctx.null_reason,
                "shift_s": float(ctx.offsets[-1]) / (len(ctx.offsets) // 2) / _US
                if len(ctx.offsets)
                else None,
                "shifts": len(ctx.offsets) // 2 if len(ctx.offsets) else None,
                "clock_tick_s": ctx.tick_us / _US if ctx.tick_us else None,
                "rank": rank,
                "period_s": period_us / _US,
                "min_meetings": min_meetings,
                "sightings": n_sightings,
                "null_sightings": ctx.kept,
                "subjects": npids,
                "family_pairs": npids * (npids - 1) // 2,
                "lake": str(given_lake),
            }
            # small jobs keep the scored pairs in memory; large ones wait on disk (bounded)
            keep = n_meetings <= KEEP_IN_MEMORY_MEETINGS
            fields = _rank_fields(RANK_COLUMN[rank])
            shared = delayed(ctx, pure=False)
            reduce = delayed(_reduce_bucket, pure=False)
            results = sched.compute(
                [
                    reduce(
                        spill, q, inputs[q], int(expected[q]), shared, min_meetings, keep, fields
                    )
                    for q in range(nbuckets)
                ],
                "scoring pairs",
                progress,
            )
        del ctx, shared  # the null's context (the sightings, sorted) is not needed any more
        folders = _check_scored(spill, results, expected, keep, fields)
        # every bucket is scored and its result in: its meetings' files go now, beside the
        # ranking (which leaves a core idle), not at the end (10M: 5.3 GB, 1.5 s of unlinking)
        ctx_pool.submit(_remove_meetings, spill, len(expected))
        pairs_met = int(sum(r.met for r in results))
        n_pairs, significant, column = _ranked_columns(
            spill, [r.cols for r in results], npids, RANK_COLUMN[rank], folders
        )
        del results
        params.update(
            events=n_events,
            meetings=n_meetings,
            pairs_met=pairs_met,
            pairs=n_pairs,
            significant=significant,
        )
        _write_contacts(n_pairs, column, pids, out, params)
    finally:
        ctx_pool.shutdown(wait=True)
        shutil.rmtree(spill, ignore_errors=True)
    return ContactsResult(
        pairs=n_pairs,
        pairs_met=pairs_met,
        meetings=n_meetings,
        events=n_events,
        significant=significant,
        out=out,
        seconds=time.perf_counter() - t_start,
        params=params,
    )
