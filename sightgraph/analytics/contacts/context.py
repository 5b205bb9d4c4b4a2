"""The scoring context of :mod:`sightgraph.analytics.contacts`: the sightings as integer arrays
(per subject, per day, camera neighbourhoods, busyness) shared by the scoring of every pair."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sightgraph._lazy import LazyModule
from sightgraph.analytics._kernels import count_others_in_window
from sightgraph.analytics.contacts._common import (
    _DAY_BITS,
    _DAY_MASK,
    _DAY_US,
    _jit,
    pair_place_time_order,
)
from sightgraph.analytics.contacts.busyness import _busyness_arrays
from sightgraph.errors import UsageError
from sightgraph.schema import require_columns

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use


@dataclass
class _Context:
    """Everything the scoring of any pair needs, as integer arrays (shared by all tasks)."""

    npids: int
    day0: int  # first UTC day number
    stratum: np.ndarray  # per relative day
    nstrata: int
    s_off: np.ndarray
    s_cam: np.ndarray
    s_tk: np.ndarray  # each sighting's time of day << _DAY_BITS | relative day
    d_off: np.ndarray
    d_day: np.ndarray
    d_mask: np.ndarray  # per pid, its days as bits (at most 64 days; else empty)
    st_mask: np.ndarray  # per stratum, its days as bits (idem)
    n_off: np.ndarray
    n_cam: np.ndarray
    busy_key: np.ndarray  # sorted cam * 2^32 + period
    busy_n: np.ndarray
    period_us: int
    window_us: int
    gap_us: int
    kept: int  # sightings used by the null (after the crowd cap)
    r_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # camera runs
    r_cam: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # per pid (CSR)
    r_lh: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.int64))  # [lo, hi)
    identity: bool = False  # R = 0: every camera's only neighbour is itself
    tick_us: int = 0  # the clock's resolution: gcd of the sightings' times (clock_tick_us)
    null: str = "day-swap"  # the null model in use (never "auto" here)
    null_reason: str = ""  # why (for auto: the median days a subject was seen)
    offsets: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # time-shift
    ts_cam: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # CSR as s_off,
    ts_ts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # by camera, time
    # busy_key/busy_n as a dense table [camera, period - busy_p0] (set_busyness; empty: too big)
    busy_p0: int = 0
    busy_nper: int = 0
    busy_table: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))

    def set_busyness(self, busy_key: np.ndarray, busy_n: np.ndarray) -> None:
        """The busyness per (camera, period): sorted keys ``cam << 32 | period`` and counts,
        also as a dense table when it has at most :data:`BUSY_TABLE_CELLS` cells (a lookup is
        one load instead of a binary search: 5% of scoring a 1M city). The first of equal keys
        counts, as a search finds it."""
        self.busy_key, self.busy_n = busy_key, busy_n
        self.busy_p0, self.busy_nper = 0, 0
        self.busy_table = np.empty(0, np.int32)
        if len(busy_key) == 0:
            return
        cam, per = busy_key >> 32, busy_key & 0xFFFFFFFF
        p0, nper, ncam = int(per.min()), int(per.max() - per.min()) + 1, int(cam.max()) + 1
        if ncam * nper > BUSY_TABLE_CELLS or busy_n.max() >= 2**31:
            return
        _, first = np.unique(busy_key, return_index=True)
        table = np.zeros(ncam * nper, np.int32)
        table[cam[first] * nper + per[first] - p0] = busy_n[first]
        self.busy_p0, self.busy_nper, self.busy_table = p0, nper, table

    def busyness(self, place: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Distinct subjects at each meeting's camera (``place``) in the period it started
        (at least 2: a meeting means two subjects), from the dense table or, when there is none,
        a search of the sorted keys."""
        if self.busy_nper:
            return _busy_lookup(
                place, start, self.period_us, self.busy_p0, self.busy_nper, self.busy_table
            )
        busy = np.full(len(place), 2, np.int64)
        if len(self.busy_key):
            key = (place << 32) + start // self.period_us
            pos = np.minimum(np.searchsorted(self.busy_key, key), len(self.busy_key) - 1)
            hit = self.busy_key[pos] == key
            busy[hit] = self.busy_n[pos[hit]]
        return np.maximum(busy, 2)


@_jit
def _busy_lookup(place, start, period_us, p0, nper, table):
    """:meth:`_Context.busyness` from its dense table (2 where the table has none)."""
    ncam = len(table) // nper
    busy = np.full(len(place), 2, np.int64)
    for i in range(len(place)):
        per = start[i] // period_us - p0
        if 0 <= per < nper and 0 <= place[i] < ncam:
            busy[i] = max(table[place[i] * nper + per], 2)
    return busy


#: At most this many (camera, period) cells go into :meth:`_Context.set_busyness`'s dense
#: table (4 bytes each).
BUSY_TABLE_CELLS = 1 << 24

#: Null models: ``auto`` picks day-swap or time-shift from the data (:func:`choose_null`).
NULLS = ("auto", "day-swap", "time-shift")
#: ``auto`` uses the day-swap when the median subject was seen on at least this many days.
AUTO_MIN_DAYS = 3


def _day_masks(
    d_pid: np.ndarray, d_day: np.ndarray, npids: int, stratum: np.ndarray, nstrata: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each pid's days (``d_mask``) and each stratum's days (``st_mask``) as bits of a uint64,
    when there are at most 64 days (else both empty: the day-swap kernel merges day lists)."""
    if len(stratum) > 64:
        return np.empty(0, np.uint64), np.empty(0, np.uint64)
    bits = np.left_shift(np.uint64(1), np.arange(len(stratum), dtype=np.uint64))
    d_mask = np.zeros(npids, np.uint64)
    np.bitwise_or.at(d_mask, d_pid, bits[d_day])
    st_mask = np.zeros(nstrata, np.uint64)
    np.bitwise_or.at(st_mask, np.asarray(stratum, np.int64), bits)
    return d_mask, st_mask


def choose_null(null: str, days_per_subject: np.ndarray) -> tuple[str, str]:
    """The null model to use and why.

    ``auto``: the day-swap when the median subject was seen on at least :data:`AUTO_MIN_DAYS`
    UTC days (each day then has at least two others to be swapped with), otherwise the
    time-shift (one or two observation sessions: pedestrians, a conference, a school day).
    """
    seen = days_per_subject[days_per_subject > 0]
    median = float(np.median(seen)) if len(seen) else 0.0
    if null != "auto":
        return null, f"chosen by the caller (median subject seen on {median:g} days)"
    if median >= AUTO_MIN_DAYS:
        return "day-swap", f"auto: median subject seen on {median:g} days (>= {AUTO_MIN_DAYS})"
    return "time-shift", f"auto: median subject seen on {median:g} days (< {AUTO_MIN_DAYS})"


def clock_tick_us(ts: np.ndarray, at_least: int = 1) -> int:
    """The resolution of the sightings' clock: the greatest common divisor of their times
    (microseconds; 20 s for badges that report every 20 s, 1 s for whole-second times), or
    ``0`` when it is below ``at_least`` (the only question the score asks: read in chunks, it
    stops as soon as the answer is "finer than that") or all times are equal."""
    ts = np.asarray(ts, np.int64)
    if len(ts) == 0:
        return 0
    g = np.int64(0)
    step = 1 << 20
    for lo in range(0, len(ts), step):
        g = np.gcd(g, np.gcd.reduce(ts[lo : lo + step] - ts[0]))
        if 0 < g < at_least:
            return 0
    return int(g) if g >= at_least else 0


def default_shift_us(window_us: int, gap_us: int) -> int:
    """The time-shift null's default step: ``max(G, 2 W, 1 s)``.

    Offsets must be longer than the meeting scale: a meeting's events are merged while less than
    ``G`` apart, so a shift of at least ``G`` moves B out of the meeting it had with A unless the
    two stayed together at the place for longer than that (explained: a shared long stay), and at
    least ``2 W`` so that a shifted sighting never matches the one it came from. Chosen over
    ``2 W`` (the default until 2026-12-06) and ``2 G`` on the Zara scenes (precision at K 0.773
    against 0.759 and 0.766; ``benchmarks/contacts/RESULTS.md``)."""
    return max(int(gap_us), 2 * int(window_us), 1_000_000)


@_jit
def _pair_days(pair_a, pair_b, d_off, d_day):
    """Days A, B and both were seen, per pair (sorted day lists per pid)."""
    n = len(pair_a)
    da = np.zeros(n, np.int64)
    db = np.zeros(n, np.int64)
    dab = np.zeros(n, np.int64)
    for k in range(n):
        A = pair_a[k]
        B = pair_b[k]
        da[k] = d_off[A + 1] - d_off[A]
        db[k] = d_off[B + 1] - d_off[B]
        i = d_off[A]
        j = d_off[B]
        while i < d_off[A + 1] and j < d_off[B + 1]:
            if d_day[i] < d_day[j]:
                i += 1
            elif d_day[j] < d_day[i]:
                j += 1
            else:
                dab[k] += 1
                i += 1
                j += 1
    return da, db, dab


def _neighbours(
    ncams: int, cams: np.ndarray, cameras: pd.DataFrame | None, radius_m: float, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """CSR of cameras within radius_m of each camera (itself included, sorted codes)."""
    if radius_m <= 0 or ncams == 0:
        return np.arange(ncams + 1, dtype=np.int64), np.arange(ncams, dtype=np.int64)
    from sightgraph.analytics.trajectories import haversine_m

    if cameras is None:
        raise UsageError(f"radius {radius_m:g} m needs a cameras table with lat/lon ({where})")
    require_columns(cameras, ("camera_id", "lat", "lon"), f"cameras ({where})")
    pos = cameras.assign(camera_id=cameras["camera_id"].astype(str)).drop_duplicates(
        "camera_id", keep="last"
    )
    pos = pos.set_index("camera_id").reindex(list(cams))
    lat = pd.to_numeric(pos["lat"], errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(pos["lon"], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(lat) & np.isfinite(lon))
    if bad.any():
        raise UsageError(
            f"radius {radius_m:g} m needs coordinates for every camera: camera "
            f"{cams[int(np.flatnonzero(bad)[0])]!r} has no lat/lon ({where})"
        )
    rows, cols = [], []
    for c in range(ncams):  # cameras are few (thousands): a row of distances each
        d = haversine_m(np.full(ncams, lat[c]), np.full(ncams, lon[c]), lat, lon)
        nb = np.flatnonzero(d <= radius_m)
        nb = np.union1d(nb, [c])
        rows.append(np.full(len(nb), c))
        cols.append(nb)
    r = np.concatenate(rows)
    off = np.zeros(ncams + 1, np.int64)
    np.add.at(off, r + 1, 1)
    return np.cumsum(off), np.concatenate(cols).astype(np.int64)


def _make_context(
    pid: np.ndarray,
    cam: np.ndarray,
    ts: np.ndarray,
    npids: int,
    ncams: int,
    n_off: np.ndarray,
    n_cam: np.ndarray,
    *,
    window_us: int,
    gap_us: int,
    period_us: int,
    crowd_cap: int | None,
    strata: str,
    null: str = "day-swap",
    shift_us: int | None = None,
    shifts: int = 3,
) -> _Context:
    """Arrays for the null and the busyness weights from integer-coded sightings.

    ``null`` as :data:`NULLS` (``auto`` is resolved here, :func:`choose_null`); for the
    time-shift null, offsets ``+-k * shift_us`` for ``k = 1..shifts`` (default shift
    :func:`default_shift_us`).
    """
    pid = pid.astype(np.int64)
    cam = cam.astype(np.int64)
    ts = ts.astype(np.int64)
    bc, bp, bn = _busyness_arrays(cam, pid, ts, period_us)
    busy_key = (bc << 32) + bp
    if len(ts):
        day_abs = ts // _DAY_US
        day0 = int(day_abs.min())
        ndays = int(day_abs.max()) - day0 + 1
    else:
        day_abs = ts
        day0, ndays = 0, 1
    if ndays > _DAY_MASK:  # (the null's per-pair tables are ndays^2 long well before)
        raise UsageError(f"sightings span {ndays:,} days: the null model needs fewer than 2^26")
    rel = (day_abs - day0).astype(np.int64)
    days = np.arange(ndays) + day0
    if strata == "weekpart":
        stratum = (((days + 3) % 7) >= 5).astype(np.int64)  # 1970-01-01 was a Thursday
        nstrata = 2
    else:
        stratum = np.zeros(ndays, np.int64)
        nstrata = 1
    keep = np.ones(len(ts), bool)
    if crowd_cap is not None and len(ts):
        order = np.lexsort((ts, cam))
        cam_sorted = cam[order]
        # camera k's rows are order[starts[k]:starts[k + 1]] (runs of equal camera codes)
        starts = np.flatnonzero(
            np.concatenate(([True], cam_sorted[1:] != cam_sorted[:-1], [True]))
        ).astype(np.int64)
        others = count_others_in_window(
            starts,
            pid[order].astype(np.int32),
            ts[order],
            np.int64(window_us),
            np.zeros(max(npids, 1), np.int64),
        )
        keep[order] = others <= crowd_cap
    p, c, t, r = pid[keep], cam[keep], ts[keep], rel[keep]
    tod = t - (t // _DAY_US) * _DAY_US
    order = pair_place_time_order(p, np.zeros(len(p), np.int64), c, tod, time_sorted=False)
    s_off = np.zeros(npids + 1, np.int64)
    np.add.at(s_off, p + 1, 1)
    s_off = np.cumsum(s_off)
    # days each subject was seen (all sightings, before the cap)
    dk = np.sort(pid * ndays + rel)  # (np.unique sorts more slowly)
    dk = dk[np.r_[True, dk[1:] != dk[:-1]]] if len(dk) else dk
    d_pid = dk // ndays
    d_day = dk % ndays
    d_off = np.zeros(npids + 1, np.int64)
    np.add.at(d_off, d_pid + 1, 1)
    # camera runs of each pid's block (sorted by pid, camera): [r_lo, r_hi) at r_cam
    ps, cs = p[order], c[order]
    run = np.ones(len(ps), bool)
    run[1:] = (ps[1:] != ps[:-1]) | (cs[1:] != cs[:-1])
    r_lo = np.flatnonzero(run).astype(np.int64)
    r_hi = np.append(r_lo[1:], len(ps)).astype(np.int64)
    r_off = np.zeros(npids + 1, np.int64)
    np.add.at(r_off, ps[r_lo] + 1, 1)
    identity = bool(len(n_cam) == len(n_off) - 1 and np.array_equal(n_cam, np.arange(len(n_cam))))
    extra_runs: dict[str, Any] = {
        # a clock at least half as coarse as the window (score._proximity)
        "tick_us": clock_tick_us(ts, (window_us + 1) // 2) if window_us > 0 else 0,
        "r_off": np.cumsum(r_off),
        "r_cam": cs[r_lo].astype(np.int64),
        "r_lh": np.ascontiguousarray(np.column_stack([r_lo, r_hi])),
        "identity": identity,
    }
    d_mask, st_mask = _day_masks(d_pid, d_day, npids, stratum, nstrata)
    chosen, reason = choose_null(null, np.diff(np.cumsum(d_off)))
    extra: dict[str, Any] = {"null": chosen, "null_reason": reason}
    if chosen == "time-shift":
        from sightgraph.analytics.contacts.nulls.time_shift import shift_offsets

        step = shift_us if shift_us is not None else default_shift_us(window_us, gap_us)
        extra["offsets"] = shift_offsets(int(step), int(shifts))
        o2 = np.lexsort((t, c, p))
        extra["ts_cam"] = c[o2].astype(np.int64)
        extra["ts_ts"] = (t[o2] - day0 * _DAY_US).astype(np.int64)
    ctx = _Context(
        **extra_runs,
        **extra,
        npids=npids,
        day0=day0,
        stratum=stratum,
        nstrata=nstrata,
        s_off=s_off,
        s_cam=c[order].astype(np.int64),
        s_tk=(tod[order].astype(np.int64) << _DAY_BITS) | r[order].astype(np.int64),
        d_off=np.cumsum(d_off),
        d_day=d_day.astype(np.int64),
        d_mask=d_mask,
        st_mask=st_mask,
        n_off=n_off,
        n_cam=n_cam,
        busy_key=np.empty(0, np.int64),
        busy_n=np.empty(0, np.int64),
        period_us=period_us,
        window_us=window_us,
        gap_us=gap_us,
        kept=int(keep.sum()),
    )
    ctx.set_busyness(busy_key, bn)
    return ctx
