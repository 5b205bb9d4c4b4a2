"""Shared helpers of :mod:`sightgraph.analytics.contacts`: argument validation, frame checks,
string dictionaries and the constants every step uses."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from numbers import Real
from typing import TYPE_CHECKING, Any

import numba
import numba.extending
import numpy as np

from sightgraph._lazy import LazyModule
from sightgraph.analytics import _kernels  # noqa: F401  (sets NUMBA_CACHE_DIR before any jit)
from sightgraph.errors import UsageError
from sightgraph.schema import require_columns, ts_to_epoch_us

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use

MODEL = (
    "day-swap or time-shift (step max(G, 2 W)) Poisson null v3 (crowd-aware routines); "
    "score v4 (meetings saturate at 3 sightings, weighted by closeness in time 1 - lag / W, "
    "or 1 - lag / (W + tick) on a clock as coarse as W / 2, "
    "1/log2 busyness, excess, times 1 - q)"
)
STRATA = ("weekpart", "none")
_US = 1_000_000
_DAY_US = 86_400 * _US

_jit = numba.njit(nogil=True, cache=True)
#: A sighting's time of day and relative day in one int64 (``tod << _DAY_BITS | day``): a time
#: of day is below 2^37 us, so days up to 2^26 (any span of data) fit in 63 bits.
_DAY_BITS = 26
_DAY_MASK = (1 << _DAY_BITS) - 1


def _prefetch_typer(typingctx: Any, arr: Any, index: Any) -> Any:
    """The typer of ``_prefetch(arr, i)`` in a compiled function: a hint that ``arr.flat[i]``
    (C-contiguous) will be read soon (``llvm.prefetch``: no effect on results, no fault on any
    address).

    For dependent loads the processor cannot run ahead on (a pair's subject -> its camera runs
    -> their sightings): issued a few pairs ahead, the loads overlap instead of waiting one
    after another."""
    from llvmlite import binding, ir
    from numba.core import cgutils, types

    if not isinstance(arr, types.Array) or not isinstance(index, types.Integer):
        return None
    # LLVM 15+ names the intrinsic by the opaque pointer type
    name = "llvm.prefetch.p0" if binding.llvm_version_info >= (15,) else "llvm.prefetch.p0i8"

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arrty, idxty = signature.args
        ary = context.make_array(arrty)(context, builder, args[0])
        i = context.cast(builder, args[1], idxty, types.intp)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        ptr = builder.bitcast(builder.gep(ary.data, [i]), i8p)
        # read, high locality, data cache
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, index), codegen


#: (typed ``Any``: called from compiled code with two arguments, not as the typer above)
_prefetch: Any = numba.extending.intrinsic(_prefetch_typer)


# ---------------------------------------------------------------------------------------------
# validation


def _check_seconds(value: Any, name: str, *, positive: bool = False) -> float:
    if hasattr(value, "total_seconds"):  # datetime.timedelta, pandas.Timedelta
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise UsageError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        limit = "> 0" if positive else ">= 0"
        raise UsageError(f"{name} must be {limit} seconds, got {value!r}")
    return float(value)


def _check_radius(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise UsageError(f"radius_m must be a finite number of metres, got {value!r}")
    if value < 0:
        raise UsageError(f"radius_m must be >= 0 metres, got {value!r}")
    return float(value)


def _check_confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not (0.0 <= float(value) <= 1.0):
        raise UsageError(f"min_confidence must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_min_meetings(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise UsageError(f"min_meetings must be an integer >= 1, got {value!r}")
    return int(value)


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _check_shifts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= 100:
        raise UsageError(f"shifts must be an integer from 1 to 100, got {value!r}")
    return int(value)


def _check_strata(value: Any) -> str:
    if value not in STRATA:
        raise UsageError(f"strata must be one of {', '.join(STRATA)}, got {value!r}")
    return str(value)


def _to_us(seconds: float) -> int:
    return int(round(seconds * _US))


def _require_frame(df: Any, what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    return df


def _require_ts(df: pd.DataFrame, col: str, what: str) -> np.ndarray:
    if not isinstance(df[col].dtype, pd.DatetimeTZDtype):
        raise UsageError(
            f"{what}: column {col} must be timezone-aware timestamps (got {df[col].dtype})"
        )
    missing = df[col].isna().to_numpy()
    if missing.any():
        raise UsageError(
            f"{what} row {df.index[int(np.flatnonzero(missing)[0])]!r}: {col} is missing"
        )
    return ts_to_epoch_us(df[col])


def _require_strings(df: pd.DataFrame, col: str, what: str) -> np.ndarray:
    missing = df[col].isna().to_numpy()
    if missing.any():
        raise UsageError(
            f"{what} row {df.index[int(np.flatnonzero(missing)[0])]!r}: {col} is missing"
        )
    return df[col].astype(str).to_numpy(dtype=object)


def _sorted_codes(*columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """One sorted dictionary over several string columns and int32 codes of each column."""
    if not columns or sum(len(c) for c in columns) == 0:
        return np.empty(0, dtype=object), [np.empty(0, np.int32) for _ in columns]
    values = np.concatenate(columns)
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    out, pos = [], 0
    for c in columns:
        out.append(inv[pos : pos + len(c)].astype(np.int32))
        pos += len(c)
    return uniq.astype(object), out


def _sightings_arrays(
    sightings: pd.DataFrame, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_columns(sightings, ("pid", "camera_id", "ts"), what)
    pid = _require_strings(sightings, "pid", what)
    cam = _require_strings(sightings, "camera_id", what)
    ts = _require_ts(sightings, "ts", what)
    return pid, cam, ts


@_jit
def _sorted_within(sorted_key, t, order):
    """Whether ``t`` never decreases along ``order`` within runs of equal ``sorted_key`` (the
    keys of the rows of ``order``, in that order)."""
    for i in range(1, len(order)):
        if sorted_key[i] == sorted_key[i - 1] and t[order[i]] < t[order[i - 1]]:
            return False
    return True


@_jit
def _pack3(a, b, place, shift_a, shift_b, rows):
    """``a << shift_a | b << shift_b | place`` of ``rows`` as uint64 (non-negative codes that
    fit)."""
    key = np.empty(len(rows), np.uint64)
    for i in range(len(rows)):
        r = rows[i]
        key[i] = (
            (np.uint64(a[r]) << np.uint64(shift_a))
            | (np.uint64(b[r]) << np.uint64(shift_b))
            | np.uint64(place[r])
        )
    return key


@_jit
def _time_keys(t, t0):
    key = np.empty(len(t), np.uint64)
    for i in range(len(t)):
        key[i] = np.uint64(t[i] - t0)
    return key


def pair_place_time_order(
    a: np.ndarray, b: np.ndarray, place: np.ndarray, t: np.ndarray, *, time_sorted: bool = True
) -> np.ndarray:
    """``np.lexsort((t, place, b, a))``, by stable radix sorts (:func:`_radix_passes`) when the
    codes fit 64 bits together as one (a, b, place) key: of the time, then of the key (5M
    events: ~0.5 s against 2.4-3.3 s for ``np.lexsort``).

    With ``time_sorted`` (a bucket's meetings: those of one pair at one place come from one
    partition, in time order) the key alone is sorted first, kept if ``t`` does rise within
    each key (checked), which halves the passes. Equal rows keep their input order in every
    case, as in ``np.lexsort``. Positions are int32 when they fit."""
    n = len(a)
    if n:
        lo = min(int(a.min()), int(b.min()), int(place.min()))
        bits = [max(int(x.max()), 0).bit_length() for x in (a, b, place)]
        if lo >= 0 and sum(bits) <= 64:
            order = np.arange(n, dtype=_index_dtype(n))
            spare = np.empty_like(order)
            shifts = (bits[1] + bits[2], bits[2])
            if time_sorted:
                key = _pack3(a, b, place, *shifts, order)
                _radix_passes(key, order, spare, sum(bits))
                if _sorted_within(key, t, order):
                    return order
                del key
                order[:] = np.arange(n)
            t_min = int(t.min())
            _radix_passes(_time_keys(t, t_min), order, spare, (int(t.max()) - t_min).bit_length())
            _radix_passes(_pack3(a, b, place, *shifts, order), order, spare, sum(bits))
            return order
    return np.lexsort((t, place, b, a))


# ---------------------------------------------------------------------------------------------
# ordering ~70M pairs: a compiled stable argsort of floats

#: bits per pass of :func:`_radix_argsort` (8 passes over 64-bit keys: 256 counters stay in the
#: first-level cache, 3.8 s for 62M floats where 16 bits took 7.3 s; a pass whose digit is the
#: same for every key is skipped)
_RADIX_BITS = 8


@_jit
def _radix_passes(keys, rows, spare, nbits):
    """Reorder ``rows`` in place (and ``keys``, their uint64 keys, with them) by the low
    ``nbits`` bits of the keys, stably: least significant :data:`_RADIX_BITS` digit first, a
    pass whose digit is the same for every key skipped; ``spare``: scratch like ``rows``."""
    n = len(rows)
    nb = 1 << _RADIX_BITS
    npass = (nbits + _RADIX_BITS - 1) // _RADIX_BITS
    mask = np.uint64(nb - 1)
    count = np.zeros((max(npass, 1), nb), np.int64)  # every pass's digits, counted in one read
    for i in range(n):
        k = keys[i]
        for p in range(npass):
            count[p, (k >> np.uint64(p * _RADIX_BITS)) & mask] += 1
    keys2 = np.empty_like(keys)
    src = rows
    dst = spare
    ksrc = keys
    kdst = keys2
    moved = 0  # passes that moved rows: an odd number leaves them in ``spare``
    for p in range(npass):
        shift = np.uint64(p * _RADIX_BITS)
        if n == 0 or count[p, (ksrc[0] >> shift) & mask] == n:
            continue  # every key has this digit: the pass would not move anything
        total = 0
        for d in range(nb):
            c = count[p, d]
            count[p, d] = total
            total += c
        for i in range(n):
            d = (ksrc[i] >> shift) & mask
            j = count[p, d]
            count[p, d] = j + 1
            kdst[j] = ksrc[i]
            dst[j] = src[i]
        ksrc, kdst = kdst, ksrc
        src, dst = dst, src
        moved += 1
    if moved % 2:
        rows[:] = spare
        keys[:] = keys2


@_jit
def _float_keys(x, rows):
    """Order-preserving uint64 keys of ``x[rows]`` (``-0.0`` as ``0.0``; no NaN)."""
    sign = np.uint64(1) << np.uint64(63)
    keys = np.empty(len(rows), np.uint64)
    for i in range(len(rows)):
        u = np.float64(x[rows[i]] + 0.0).view(np.uint64)
        keys[i] = ~u if u & sign else u | sign
    return keys


#: From this many rows :func:`_radix_argsort` sorts the two halves on two threads, then merges
#: them (the ~68M zero-score pairs of a 10M-sighting city: 4.1 s on one core).
_RADIX_SPLIT_ROWS = 4_000_000


@_jit
def _merge_halves(keys, rows, h, out):
    """``out``: ``rows[:h]`` and ``rows[h:]`` (each sorted by its ``keys``) merged by key, the
    first half's first among equal keys (so a stable sort of both stays stable)."""
    i = 0
    j = h
    n = len(rows)
    for k in range(n):
        if j >= n or (i < h and keys[i] <= keys[j]):
            out[k] = rows[i]
            i += 1
        else:
            out[k] = rows[j]
            j += 1


def _radix_argsort(x: np.ndarray, rows: np.ndarray, spare: np.ndarray) -> None:
    """Reorder ``rows`` (int32 or int64 positions into float64 ``x``) in place by ``x[rows]``
    ascending, equal keys in the order they come in (a stable sort; ``-0.0 == 0.0``; no NaN);
    ``spare``: scratch of the same length and type. ~12 bytes read and written per row and
    pass, where a comparison sort of 70M floats takes 11-17 s; from
    :data:`_RADIX_SPLIT_ROWS` rows, each half on a thread of its own, then merged."""
    keys = _float_keys(x, rows)
    n = len(rows)
    if n < max(_RADIX_SPLIT_ROWS, 2):
        _radix_passes(keys, rows, spare, 64)
        return
    h = n // 2
    with ThreadPoolExecutor(2, thread_name_prefix="sightgraph-sort") as pool:
        halves = [(keys[:h], rows[:h], spare[:h]), (keys[h:], rows[h:], spare[h:])]
        list(pool.map(lambda kr: _radix_passes(kr[0], kr[1], kr[2], 64), halves))
    _merge_halves(keys, rows, h, spare)
    rows[:] = spare


@_jit
def _split_rows(score, order):
    """``order`` (length of ``score``) filled with the rows where ``score > 0``, then those
    where it is 0, each in increasing position; returns how many are > 0."""
    t = 0
    for i in range(len(score)):
        if score[i] > 0:
            t += 1
    hi = 0
    lo = t
    for i in range(len(score)):
        if score[i] > 0:
            order[hi] = i
            hi += 1
        else:
            order[lo] = i
            lo += 1
    return t


@_jit
def _take_into(col, rows, out):
    for i in range(len(rows)):
        out[i] = col[rows[i]]


def take(col: np.ndarray, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``col[rows]`` for int32 or int64 ``rows``, compiled: NumPy turns int32 positions into a
    new int64 array first (70M rows: 550 MB and 1.4-1.9 s a column against 0.6-1.2 s). Into
    ``out`` (``len(rows)`` of ``col``'s type) when given."""
    if out is None:
        out = np.empty(len(rows), col.dtype)
    elif out.shape != (len(rows),) or out.dtype != col.dtype:
        raise ValueError(
            f"take: out must be {len(rows)} of {col.dtype}, not {out.shape} {out.dtype}"
        )
    _take_into(col, rows, out)
    return out


def _pair_starts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where each pair's rows start, in rows sorted by (a, b)."""
    if len(a) == 0:
        return np.empty(0, np.int64)
    return np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])])


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n < 2**31 else np.int64


def stable_argsort(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")`` for float64 ``x`` without NaN, as int32 positions when
    they fit (else int64), by :func:`_radix_argsort`."""
    x = np.ascontiguousarray(x, np.float64)
    rows = np.arange(len(x), dtype=_index_dtype(len(x)))
    _radix_argsort(x, rows, np.empty_like(rows))
    return rows


def rank_order(score: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """``np.lexsort((tie, -score))`` (by ``score`` descending, then ``tie``, then position) for
    float64 keys without NaN where ``score >= 0`` and most rows score 0 (pairs with q = 1):
    those follow the few others, ordered by ``tie`` alone with :func:`_radix_argsort`; the
    others by ``np.lexsort``. Other keys: ``np.lexsort``. Holds ~24 bytes a zero row while
    it sorts (int32 positions)."""
    score = np.ascontiguousarray(score, np.float64)
    tie = np.ascontiguousarray(tie, np.float64)
    if len(score) == 0 or np.isnan(score).any() or np.isnan(tie).any() or score.min() < 0:
        return np.lexsort((tie, -score))
    order = np.empty(len(score), _index_dtype(len(score)))
    t = _split_rows(score, order)
    head = order[:t]
    head[:] = head[np.lexsort((tie[head], -score[head]))]
    zero = order[t:]
    _radix_argsort(tie, zero, np.empty_like(zero))
    return order
