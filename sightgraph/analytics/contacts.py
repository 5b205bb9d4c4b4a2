"""Frequent contacts beyond chance (DESIGN §4 *Meeting* and *Contact score*, §9 ``contacts``).

A naive count of co-locations is dominated by busy places: two strangers who take the same train
every morning are seen together 200 times, two friends who meet at a different bar each week 6
times. This module ranks pairs by evidence of association and gives each a significance from a
stated null model.

Meetings
--------
The co-location events (:mod:`sightgraph.analytics.colocation`) of one pair at one *place* (the
camera; with a radius ``R > 0`` the camera of the event's two sightings whose id sorts first),
ordered by event time ``min(ts_a, ts_b)``, are merged while consecutive event times are less than
``G`` apart (default 15 min). A meeting starts at its first event time and ends at the latest
sighting of its events.

Null model (significance)
-------------------------
*H0: A and B move independently, each following their own routine.* Days are UTC dates, split
into strata (``strata='weekpart'``: weekdays and weekend days; ``'none'``: one stratum). Under
H0, each subject's whole day of sightings (cameras and times of day) is a random draw from that
subject's own observed days of the same stratum, independently of the other subject: the
day-swap randomisation of animal-movement studies (Spiegel et al. 2016, *Methods Ecol. Evol.*
7:971), which keeps every individual's spatial and time-of-day routine and breaks only the
day-to-day coupling of the two. For a stratum ``s`` let ``a_s``, ``b_s`` be the days on which A,
resp. B, was seen and ``n_s`` the days on which both were. Every ordered pair of *distinct* days
``(d, d')`` (A's day ``d``, B's day ``d'``; ``C_s = a_s b_s - n_s`` of them) is replayed on one
date with the same ``W``, ``R`` and ``G``; ``M_s`` is the number of meetings these swapped days
produce. The expected number of meetings under H0 is::

    expected = sum_s  n_s * (M_s + 1/2) / (C_s + 1)

(the ``+1/2, +1`` is a Jeffreys-style shrinkage: a pair with few days never gets an expectation
of exactly zero). The number of meetings is taken as ``Poisson(expected)`` and
``p_value = P(X >= meetings)``. ``q_value`` is the Benjamini-Hochberg adjustment over the family
of *all* ``P (P - 1) / 2`` pairs of the ``P`` subjects seen (pairs that never met have
``p = 1``; they are not listed), so ``q >= p``.

What it means: routine strangers (same hub, same train, every weekday) meet on swapped days as
often as on real ones, so ``expected ~ meetings`` and ``p ~ 0.5``; friends who meet at a
different bar each time never meet on swapped days, so ``expected ~ 0`` and ``p`` is tiny. Its
limit, stated plainly: a tie that is *nothing but* a shared daily routine (two colleagues who
take the same train every day and never meet elsewhere) is explained by H0 just as well, because
co-location alone cannot tell a shared routine from a tie; such a pair is neither significant
nor ranked high (the score counts only the share of meetings beyond the null's expectation).

Approximations, stated: ``expected`` is a plug-in estimate (the uncertainty of ``M_s / C_s`` is
ignored, which matters little once a pair has a few days per stratum); meetings within one day
are treated as Poisson although a routine can produce them in fixed bundles; days are UTC dates
(a meeting across midnight belongs to the day it started). With a crowd cap the swapped days
replay the capped sightings, exactly as the events were found; the days each subject was seen
count all its sightings.

Score (ranking)
---------------
``score = f * sum over the pair's meetings m of  n_m * c_m * beta_m * u_m``: the raw co-location
count (``n_m`` events in meeting ``m``) with every event weighted, times the share of the pair's
meetings that chance does not explain, where

- ``c_m`` (confidence): the mean over the meeting's events of ``confidence_a * confidence_b``
  (the chance both identifications are right; 1 when unknown);
- ``beta_m`` (busyness): ``1 / log2(N_m)``, where ``N_m`` is the number of distinct subjects the
  meeting's camera saw in the clock hour (``period_s``) the meeting started (at least 2): the
  Adamic-Adar weight of link prediction (Adamic & Adar 2003), a shared place-hour counts less the
  more subjects share it. A meeting where the camera saw only the two of them weighs 1, one at a
  hub that saw 200 subjects that hour 0.13. (The steeper ``1 / (N_m - 1)`` of
  gambit-of-the-group indices lets one chance encounter on a quiet street, ``N_m = 3``, outweigh
  two weeks of lunches at a cafe with ``N_m = 40``.)
- ``u_m`` (novelty): ``(1 - s_m) + s_m / r_m``, with ``r_m`` the number of the pair's meetings at
  the same place and stratum within ``G`` of that time of day (itself included: a *routine
  slot*) and ``s_m = min(1, e_m / r_m)`` the share of the slot's meetings that the two routines
  explain. ``e_m = rho_m * n_s`` is the slot's expected number of meetings under H0: ``rho_m``
  is the share of the pair's swapped day pairs (of the meeting's stratum, shrunk as above) that
  also put them together at that place within ``G`` of that time of day, ``n_s`` the days both
  were seen in that stratum. A slot the routines fully explain (the same train every weekday)
  counts once in all, a meeting no routine explains counts fully;
- ``f = max(0, 1 - expected / meetings)``: the share of the pair's meetings in excess of the
  null's expectation (0 when the pair met no more often than their routines predict).

Hence meetings at busy places and times weigh less, repetition on different days at different
places adds fully, repeating one slot at one place adds little, being seen together again and
again within a meeting adds (as in the raw count), doubtful identifications weigh less, and a
pair whose meetings are what their routines produce (routine strangers) scores about 0.

Evidence columns
----------------
``meetings``, ``days`` (distinct UTC dates of meeting starts), ``places`` (distinct cameras),
``first_ts`` / ``last_ts`` (first meeting start, last meeting end), ``n_events`` (the raw
co-location count), ``expected`` (under H0), ``excess = meetings - expected``, ``routine_share``
(mean ``rho_m``), ``effective_meetings`` (sum of ``u_m``), ``mean_busyness`` (mean ``N_m``),
``mean_confidence`` (mean ``c_m``), and the association indices of animal social-network analysis
(Cairns & Schwager 1987; Whitehead 2008) with the UTC day as the sampling period: ``x`` days on
which the pair met, ``y_AB`` days both were seen but did not meet, ``y_A`` / ``y_B`` days only A /
only B was seen; ``sri = x / (x + y_A + y_B + y_AB)`` (simple ratio index) and
``hwi = x / (x + y_AB + (y_A + y_B) / 2)`` (half-weight index); ``days_a``, ``days_b``,
``days_both`` are the days each / both were seen.

All parameters that shaped a table (``W``, ``R``, ``G``, confidence floor, crowd cap, strata,
model) are recorded in its Parquet metadata (:func:`sightgraph.lake.read_params`).
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dask import delayed
from scipy import stats

from sightgraph.analytics import _kernels  # noqa: F401  (sets NUMBA_CACHE_DIR before any jit)
from sightgraph.analytics.colocation import _check_crowd_cap
from sightgraph.errors import UsageError
from sightgraph.lake import PARAMS_KEY, read_cameras, sightings_dataset
from sightgraph.schema import CONTACT_COLUMNS, epoch_us_to_ts, require_columns, ts_to_epoch_us

__all__ = [
    "BUSYNESS_COLUMNS",
    "CONTACTS_COLUMNS",
    "CONTACT_EVIDENCE_COLUMNS",
    "MEETING_COLUMNS",
    "ContactsResult",
    "build_meetings",
    "camera_busyness",
    "compute_contacts",
    "score_contacts",
]

#: Columns of :func:`build_meetings`.
MEETING_COLUMNS = ("pid_a", "pid_b", "camera_id", "start_ts", "end_ts", "n_events", "confidence")
#: Columns of :func:`camera_busyness`.
BUSYNESS_COLUMNS = ("camera_id", "period_start", "subjects")
#: Evidence columns that follow :data:`~sightgraph.schema.CONTACT_COLUMNS` in a contacts table.
CONTACT_EVIDENCE_COLUMNS = (
    "n_events",
    "expected",
    "excess",
    "routine_share",
    "effective_meetings",
    "mean_busyness",
    "mean_confidence",
    "sri",
    "hwi",
    "days_a",
    "days_b",
    "days_both",
)
#: All columns of a contacts table, in order.
CONTACTS_COLUMNS = CONTACT_COLUMNS + CONTACT_EVIDENCE_COLUMNS

MODEL = "day-swap Poisson null v1; score v2 (1/log2 busyness, excess over the null)"
STRATA = ("weekpart", "none")
_US = 1_000_000
_DAY_US = 86_400 * _US
_EVENT_REQUIRED = ("pid_a", "pid_b", "camera_a", "camera_b", "ts_a", "ts_b")
# Bounded memory (rows): the biggest events frame one partition may hand over without a crowd
# cap, and the meetings of one reduction bucket.
MAX_PARTITION_EVENTS = 25_000_000
_BUCKET_MEETINGS = 4_000_000
_TS = pa.timestamp("us", tz="UTC")

_jit = numba.njit(nogil=True, cache=True)


# ---------------------------------------------------------------------------------------------
# validation


def _check_seconds(value: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(value, pd.Timedelta) or hasattr(value, "total_seconds"):
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


# ---------------------------------------------------------------------------------------------
# meetings


def _merge_events(
    a: np.ndarray,
    b: np.ndarray,
    place: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    conf: np.ndarray,
    gap_us: int,
) -> dict[str, np.ndarray]:
    """Events (integer codes, times in us) -> meetings, sorted by (a, b, place, start).

    ``conf`` is the per-event ``confidence_a * confidence_b`` (NaN if unknown); a meeting's
    ``conf_sum``/``conf_n`` add up the known ones.
    """
    n = len(a)
    if n == 0:
        e64 = np.empty(0, np.int64)
        return {
            "a": np.empty(0, np.int32),
            "b": np.empty(0, np.int32),
            "place": np.empty(0, np.int32),
            "start": e64,
            "end": e64.copy(),
            "n": e64.copy(),
            "conf_sum": np.empty(0, np.float64),
            "conf_n": e64.copy(),
        }
    order = np.lexsort((t0, place, b, a))
    a, b, place, t0, t1, conf = a[order], b[order], place[order], t0[order], t1[order], conf[order]
    new = np.ones(n, bool)
    new[1:] = (
        (a[1:] != a[:-1])
        | (b[1:] != b[:-1])
        | (place[1:] != place[:-1])
        | (t0[1:] - t0[:-1] >= gap_us)
    )
    starts = np.flatnonzero(new)
    known = ~np.isnan(conf)
    return {
        "a": a[starts].astype(np.int32),
        "b": b[starts].astype(np.int32),
        "place": place[starts].astype(np.int32),
        "start": t0[starts].astype(np.int64),
        "end": np.maximum.reduceat(t1, starts).astype(np.int64),
        "n": np.diff(np.append(starts, n)).astype(np.int64),
        "conf_sum": np.add.reduceat(np.where(known, conf, 0.0), starts),
        "conf_n": np.add.reduceat(known.astype(np.int64), starts),
    }


def _event_arrays(events: pd.DataFrame, what: str) -> dict[str, Any]:
    """Validate an events frame; oriented string columns, times in us, per-event confidence."""
    require_columns(events, _EVENT_REQUIRED, what)
    pa_ = _require_strings(events, "pid_a", what)
    pb_ = _require_strings(events, "pid_b", what)
    ca = _require_strings(events, "camera_a", what)
    cb = _require_strings(events, "camera_b", what)
    ta = _require_ts(events, "ts_a", what)
    tb = _require_ts(events, "ts_b", what)
    same = pa_ == pb_
    if same.any():
        row = events.index[int(np.flatnonzero(same)[0])]
        raise UsageError(
            f"{what} row {row!r}: pid_a equals pid_b ({pa_[int(np.flatnonzero(same)[0])]!r})"
        )
    conf = np.ones(len(events))
    for col in ("confidence_a", "confidence_b"):
        if col in events.columns:
            conf = conf * pd.to_numeric(events[col], errors="coerce").to_numpy(np.float64)
        else:
            conf = conf * np.nan
    swap = pa_ > pb_  # orient so that pid_a < pid_b
    lo = np.where(swap, pb_, pa_)
    hi = np.where(swap, pa_, pb_)
    place = np.where(ca <= cb, ca, cb)  # the camera whose id sorts first
    return {
        "pid_a": lo,
        "pid_b": hi,
        "place": place,
        "t0": np.minimum(ta, tb),
        "t1": np.maximum(ta, tb),
        "conf": conf,
    }


def build_meetings(events: pd.DataFrame, gap_s: float = 900) -> pd.DataFrame:
    """Merge co-location events into meetings (DESIGN §4).

    The events of one pair at one place (the camera; for cross-camera events with ``R > 0`` the
    camera whose id sorts first), ordered by event time ``min(ts_a, ts_b)``, belong to one meeting
    while consecutive event times are less than ``gap_s`` apart. Pure: works on any subset of
    events that holds all events of each place (e.g. one partition of
    :func:`~sightgraph.analytics.colocation.map_event_partitions`).

    Parameters
    ----------
    events : DataFrame
        ``pid_a``, ``pid_b``, ``camera_a``, ``camera_b``, ``ts_a``, ``ts_b`` (timezone-aware) and
        optionally ``confidence_a``, ``confidence_b``, as from
        ``find_colocations(..., events=True)``. Rows with ``pid_a > pid_b`` are oriented.
    gap_s : float
        ``G`` in seconds (``>= 0``); default 15 minutes.

    Returns
    -------
    DataFrame
        :data:`MEETING_COLUMNS`: ``pid_a < pid_b``, ``camera_id`` (the place), ``start_ts`` (first
        event time), ``end_ts`` (latest sighting of its events), ``n_events``, ``confidence``
        (mean over its events of ``confidence_a * confidence_b``, NaN if unknown); sorted by
        ``pid_a, pid_b, camera_id, start_ts``.

    Raises
    ------
    UsageError
        Missing columns or values, naive timestamps, a pair of one subject, or a negative gap.

    Examples
    --------
    >>> t = pd.to_datetime(["2026-03-02 08:00", "2026-03-02 08:10", "2026-03-02 09:00"], utc=True)
    >>> ev = pd.DataFrame({"pid_a": "a", "pid_b": "b", "camera_a": "c1", "camera_b": "c1",
    ...                    "ts_a": t, "ts_b": t})
    >>> build_meetings(ev)["n_events"].tolist()
    [2, 1]
    """
    what = "events"
    _require_frame(events, what)
    gap_us = _to_us(_check_seconds(gap_s, "gap"))
    arr = _event_arrays(events, what)
    pids, (a, b) = _sorted_codes(arr["pid_a"], arr["pid_b"])
    places, (pl,) = _sorted_codes(arr["place"])
    m = _merge_events(a, b, pl, arr["t0"], arr["t1"], arr["conf"], gap_us)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(m["conf_n"] > 0, m["conf_sum"] / np.maximum(m["conf_n"], 1), np.nan)
    return pd.DataFrame(
        {
            "pid_a": pd.Series(pids[m["a"]], dtype="str"),
            "pid_b": pd.Series(pids[m["b"]], dtype="str"),
            "camera_id": pd.Series(places[m["place"]], dtype="str"),
            "start_ts": epoch_us_to_ts(m["start"]),
            "end_ts": epoch_us_to_ts(m["end"]),
            "n_events": pd.Series(m["n"], dtype="int64"),
            "confidence": pd.Series(conf, dtype="float64"),
        },
        columns=list(MEETING_COLUMNS),
    )


# ---------------------------------------------------------------------------------------------
# busyness


def _busyness_arrays(cam: np.ndarray, pid: np.ndarray, ts: np.ndarray, period_us: int):
    """Distinct subjects per (camera, period): sorted keys (cam, period) and counts."""
    if len(cam) == 0:
        e = np.empty(0, np.int64)
        return e, e.copy(), e.copy()
    per = ts // period_us
    order = np.lexsort((pid, per, cam))
    c, p, s = cam[order], per[order], pid[order]
    first = np.ones(len(c), bool)
    first[1:] = (c[1:] != c[:-1]) | (p[1:] != p[:-1]) | (s[1:] != s[:-1])
    c, p = c[first], p[first]
    grp = np.ones(len(c), bool)
    grp[1:] = (c[1:] != c[:-1]) | (p[1:] != p[:-1])
    starts = np.flatnonzero(grp)
    counts = np.diff(np.append(starts, len(c)))
    return c[starts].astype(np.int64), p[starts].astype(np.int64), counts.astype(np.int64)


def _sightings_arrays(
    sightings: pd.DataFrame, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_columns(sightings, ("pid", "camera_id", "ts"), what)
    pid = _require_strings(sightings, "pid", what)
    cam = _require_strings(sightings, "camera_id", what)
    ts = _require_ts(sightings, "ts", what)
    return pid, cam, ts


def camera_busyness(sightings: pd.DataFrame, period_s: float = 3600) -> pd.DataFrame:
    """How busy each camera was: distinct subjects per camera per clock period (default hour).

    Parameters
    ----------
    sightings : DataFrame
        ``pid``, ``camera_id``, ``ts`` (timezone-aware).
    period_s : float
        Period length in seconds (``> 0``); periods are aligned on the UTC epoch (clock hours).

    Returns
    -------
    DataFrame
        :data:`BUSYNESS_COLUMNS`: ``camera_id``, ``period_start`` (UTC), ``subjects`` (distinct
        pids seen there then), sorted by camera and period; only periods with sightings.

    Examples
    --------
    >>> t = pd.to_datetime(["2026-03-02 08:05", "2026-03-02 08:50", "2026-03-02 09:10"], utc=True)
    >>> s = pd.DataFrame({"pid": ["a", "b", "a"], "camera_id": "c1", "ts": t})
    >>> camera_busyness(s)["subjects"].tolist()
    [2, 1]
    """
    what = "sightings"
    _require_frame(sightings, what)
    period_us = _to_us(_check_seconds(period_s, "period", positive=True))
    pid, cam, ts = _sightings_arrays(sightings, what)
    cams, (cc,) = _sorted_codes(cam)
    _, (pc_,) = _sorted_codes(pid)
    kc, kp, n = _busyness_arrays(cc.astype(np.int64), pc_.astype(np.int64), ts, period_us)
    return pd.DataFrame(
        {
            "camera_id": pd.Series(cams[kc] if len(kc) else [], dtype="str"),
            "period_start": epoch_us_to_ts(kp * period_us),
            "subjects": pd.Series(n, dtype="int64"),
        },
        columns=list(BUSYNESS_COLUMNS),
    )


# ---------------------------------------------------------------------------------------------
# compiled kernels


@_jit
def _crowd_counts(cam, pid, ts, w, npids):
    """Per sighting (rows sorted by camera, ts): sightings of other subjects within |dt| <= w."""
    n = len(cam)
    out = np.zeros(n, np.int64)
    counter = np.zeros(npids, np.int64)
    lo = 0
    hi = 0
    for i in range(n):
        if i > 0 and cam[i] != cam[i - 1]:
            while lo < hi:
                counter[pid[lo]] -= 1
                lo += 1
            lo = i
            hi = i
        while hi < n and cam[hi] == cam[i] and ts[hi] <= ts[i] + w:
            counter[pid[hi]] += 1
            hi += 1
        while ts[lo] < ts[i] - w:
            counter[pid[lo]] -= 1
            lo += 1
        out[i] = (hi - lo) - counter[pid[i]]
    return out


@_jit
def _grow(arr, need):
    if need <= len(arr):
        return arr
    new = np.empty(max(need, 2 * len(arr)), arr.dtype)
    new[: len(arr)] = arr
    return new


@_jit
def _segment(keys, lo, hi, value):
    """[l, r) of ``value`` in the sorted slice keys[lo:hi]."""
    l_ = lo
    r_ = hi
    while l_ < r_:
        mid = (l_ + r_) // 2
        if keys[mid] < value:
            l_ = mid + 1
        else:
            r_ = mid
    start = l_
    r_ = hi
    while l_ < r_:
        mid = (l_ + r_) // 2
        if keys[mid] <= value:
            l_ = mid + 1
        else:
            r_ = mid
    return start, l_


@_jit
def _day_swap_null(
    pair_a,
    pair_b,
    m_lo,
    m_hi,
    m_place,
    m_day,
    m_s,
    m_e,
    s_off,
    s_cam,
    s_tod,
    s_day,
    n_off,
    n_cam,
    d_off,
    d_day,
    stratum,
    nstrata,
    w,
    g,
):
    """The day-swap null of every pair (see the module docstring).

    Per pair ``k`` (codes ``pair_a[k] < pair_b[k]``, meetings ``[m_lo[k], m_hi[k])`` sorted by
    place then start time of day): ``expected``, the days A / B / both were seen, and per meeting
    ``rho`` and ``r``. Sightings are a CSR by pid (``s_off``), each block sorted by camera then
    time of day; ``n_cam[n_off[c]:n_off[c+1]]`` are the cameras within R of camera c (itself
    included, sorted); ``d_day[d_off[p]:d_off[p+1]]`` the sorted days pid p was seen.
    """
    npairs = len(pair_a)
    ndays = len(stratum)
    expected = np.zeros(npairs)
    days_a = np.zeros(npairs, np.int64)
    days_b = np.zeros(npairs, np.int64)
    days_ab = np.zeros(npairs, np.int64)
    rho = np.zeros(len(m_place))
    slot_expected = np.zeros(len(m_place))
    rr = np.ones(len(m_place), np.int64)
    stamp = np.zeros(ndays * ndays, np.int64)
    stamp_id = 0
    cap = 1024
    x_key = np.empty(cap, np.int64)
    x_t = np.empty(cap, np.int64)
    x_te = np.empty(cap, np.int64)
    w_place = np.empty(cap, np.int64)
    w_da = np.empty(cap, np.int64)
    w_db = np.empty(cap, np.int64)
    w_s = np.empty(cap, np.int64)
    w_e = np.empty(cap, np.int64)
    na = np.zeros(nstrata, np.int64)
    nb = np.zeros(nstrata, np.int64)
    nab = np.zeros(nstrata, np.int64)
    m_off = np.zeros(nstrata, np.int64)
    order = np.empty(0, np.int64)
    sp = np.empty(0, np.int64)
    ss = np.empty(0, np.int64)
    maxdur = 0
    for k in range(npairs):
        A = pair_a[k]
        B = pair_b[k]
        # days seen, per stratum
        na[:] = 0
        nb[:] = 0
        nab[:] = 0
        i = d_off[A]
        j = d_off[B]
        while i < d_off[A + 1] or j < d_off[B + 1]:
            if j >= d_off[B + 1] or (i < d_off[A + 1] and d_day[i] < d_day[j]):
                na[stratum[d_day[i]]] += 1
                i += 1
            elif i >= d_off[A + 1] or d_day[j] < d_day[i]:
                nb[stratum[d_day[j]]] += 1
                j += 1
            else:
                st = stratum[d_day[i]]
                na[st] += 1
                nb[st] += 1
                nab[st] += 1
                i += 1
                j += 1
        days_a[k] = na.sum()
        days_b[k] = nb.sum()
        days_ab[k] = nab.sum()
        # swapped-day matches: A's sighting on day d, B's on day d' != d of the same stratum
        nx = 0
        ia = s_off[A]
        ea = s_off[A + 1]
        while ia < ea:
            c1 = s_cam[ia]
            ja = ia
            while ja < ea and s_cam[ja] == c1:
                ja += 1
            for q in range(n_off[c1], n_off[c1 + 1]):
                c2 = n_cam[q]
                lo, hi = _segment(s_cam, s_off[B], s_off[B + 1], c2)
                if lo == hi:
                    continue
                place = min(c1, c2)
                j0 = lo
                for ii in range(ia, ja):
                    ti = s_tod[ii]
                    di = s_day[ii]
                    while j0 < hi and s_tod[j0] < ti - w:
                        j0 += 1
                    jj = j0
                    while jj < hi and s_tod[jj] <= ti + w:
                        dj = s_day[jj]
                        if di != dj and stratum[di] == stratum[dj]:
                            if nx >= len(x_key):
                                x_key = _grow(x_key, nx + 1)
                                x_t = _grow(x_t, nx + 1)
                                x_te = _grow(x_te, nx + 1)
                            x_key[nx] = (place * ndays + di) * ndays + dj
                            x_t[nx] = min(ti, s_tod[jj])
                            x_te[nx] = max(ti, s_tod[jj])
                            nx += 1
                        jj += 1
            ia = ja
        # swapped-day meetings: group by (place, d, d'), merge while gaps < g
        nw = 0
        m_off[:] = 0
        if nx > 0:
            o1 = np.argsort(x_t[:nx], kind="mergesort")
            o2 = o1[np.argsort(x_key[:nx][o1], kind="mergesort")]
            prev_key = -1
            prev_t = 0
            for u in range(nx):
                v = o2[u]
                key = x_key[v]
                t = x_t[v]
                if key != prev_key or t - prev_t >= g:
                    if nw >= len(w_place):
                        w_place = _grow(w_place, nw + 1)
                        w_da = _grow(w_da, nw + 1)
                        w_db = _grow(w_db, nw + 1)
                        w_s = _grow(w_s, nw + 1)
                        w_e = _grow(w_e, nw + 1)
                    dd = key % (ndays * ndays)
                    w_place[nw] = key // (ndays * ndays)
                    w_da[nw] = dd // ndays
                    w_db[nw] = dd % ndays
                    w_s[nw] = t
                    w_e[nw] = x_te[v]
                    m_off[stratum[w_da[nw]]] += 1
                    nw += 1
                else:
                    w_e[nw - 1] = max(w_e[nw - 1], x_te[v])
                prev_key = key
                prev_t = t
        exp_k = 0.0
        for st in range(nstrata):
            combos = na[st] * nb[st] - nab[st]
            exp_k += nab[st] * (m_off[st] + 0.5) / (combos + 1.0)
        expected[k] = exp_k
        # per observed meeting: rho (swapped day pairs meeting there then) and r (same slot)
        if nw > 0:
            p1 = np.argsort(w_s[:nw], kind="mergesort")
            order = p1[np.argsort(w_place[:nw][p1], kind="mergesort")]
            sp = w_place[:nw][order]
            ss = w_s[:nw][order]
            maxdur = 0
            for u in range(nw):
                maxdur = max(maxdur, w_e[u] - w_s[u])
        for mi in range(m_lo[k], m_hi[k]):
            st = stratum[m_day[mi]]
            combos = na[st] * nb[st] - nab[st]
            cnt = 0
            if nw > 0:
                stamp_id += 1
                plo, phi = _segment(sp, 0, nw, m_place[mi])
                # first swapped meeting that may overlap [s - g, e + g]
                lo_t = m_s[mi] - g - maxdur
                l_ = plo
                r_ = phi
                while l_ < r_:
                    mid = (l_ + r_) // 2
                    if ss[mid] < lo_t:
                        l_ = mid + 1
                    else:
                        r_ = mid
                u = l_
                while u < phi and ss[u] <= m_e[mi] + g:
                    v = order[u]
                    if w_e[v] >= m_s[mi] - g and stratum[w_da[v]] == st:
                        combo = w_da[v] * ndays + w_db[v]
                        if stamp[combo] != stamp_id:
                            stamp[combo] = stamp_id
                            cnt += 1
                    u += 1
            rho[mi] = (cnt + 0.5) / (combos + 1.0)
            slot_expected[mi] = rho[mi] * nab[st]
            # r: the pair's meetings at this place and stratum within g of this time of day
            r = 0
            for mj in range(m_lo[k], m_hi[k]):
                if (
                    m_place[mj] == m_place[mi]
                    and stratum[m_day[mj]] == st
                    and m_s[mj] <= m_e[mi] + g
                    and m_e[mj] >= m_s[mi] - g
                ):
                    r += 1
            rr[mi] = max(r, 1)
    return expected, days_a, days_b, days_ab, rho, rr, slot_expected


# ---------------------------------------------------------------------------------------------
# the scoring context: sightings as arrays shared by every pair


@dataclass
class _Context:
    """Everything the scoring of any pair needs, as integer arrays (shared by all tasks)."""

    npids: int
    day0: int  # first UTC day number
    stratum: np.ndarray  # per relative day
    nstrata: int
    s_off: np.ndarray
    s_cam: np.ndarray
    s_tod: np.ndarray
    s_day: np.ndarray
    d_off: np.ndarray
    d_day: np.ndarray
    n_off: np.ndarray
    n_cam: np.ndarray
    busy_key: np.ndarray  # sorted cam * 2^32 + period
    busy_n: np.ndarray
    period_us: int
    window_us: int
    gap_us: int
    kept: int  # sightings used by the null (after the crowd cap)


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
) -> _Context:
    """Arrays for the null and the busyness weights from integer-coded sightings."""
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
        others = _crowd_counts(
            cam[order], pid[order], ts[order], np.int64(window_us), max(npids, 1)
        )
        keep[order] = others <= crowd_cap
    p, c, t, r = pid[keep], cam[keep], ts[keep], rel[keep]
    tod = t - (t // _DAY_US) * _DAY_US
    order = np.lexsort((tod, c, p))
    s_off = np.zeros(npids + 1, np.int64)
    np.add.at(s_off, p + 1, 1)
    s_off = np.cumsum(s_off)
    # days each subject was seen (all sightings, before the cap)
    dk = np.unique(pid * ndays + rel) if len(ts) else np.empty(0, np.int64)
    d_pid = dk // ndays
    d_day = dk % ndays
    d_off = np.zeros(npids + 1, np.int64)
    np.add.at(d_off, d_pid + 1, 1)
    return _Context(
        npids=npids,
        day0=day0,
        stratum=stratum,
        nstrata=nstrata,
        s_off=s_off,
        s_cam=c[order].astype(np.int64),
        s_tod=tod[order].astype(np.int64),
        s_day=r[order].astype(np.int64),
        d_off=np.cumsum(d_off),
        d_day=d_day.astype(np.int64),
        n_off=n_off,
        n_cam=n_cam,
        busy_key=busy_key,
        busy_n=bn,
        period_us=period_us,
        window_us=window_us,
        gap_us=gap_us,
        kept=int(keep.sum()),
    )


# ---------------------------------------------------------------------------------------------
# scoring of meetings (integer codes) -> per-pair arrays


_PAIR_FIELDS = (
    "a",
    "b",
    "score",
    "p_value",
    "meetings",
    "days",
    "places",
    "first_ts",
    "last_ts",
    *CONTACT_EVIDENCE_COLUMNS,
)


_INT_FIELDS = (
    "meetings",
    "days",
    "places",
    "first_ts",
    "last_ts",
    "n_events",
    "days_a",
    "days_b",
    "days_both",
)


def _empty_pairs() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in _PAIR_FIELDS:
        if f in ("a", "b"):
            out[f] = np.empty(0, np.int32)
        elif f in _INT_FIELDS:
            out[f] = np.empty(0, np.int64)
        else:
            out[f] = np.empty(0, np.float64)
    return out


def _novelty(rho: np.ndarray, r: np.ndarray, slot_expected: np.ndarray) -> np.ndarray:
    """``u_m = (1 - s_m) + s_m / r_m`` with ``s_m = min(1, e_m / r_m)`` (module docstring)."""
    s = np.minimum(1.0, slot_expected / r)
    return (1.0 - s) + s / r


def _excess_share(expected: np.ndarray, meetings: np.ndarray) -> np.ndarray:
    """``f = max(0, 1 - expected / meetings)`` of the module docstring."""
    return np.clip(1.0 - expected / meetings, 0.0, 1.0)


def _busyness_weight(busy: np.ndarray) -> np.ndarray:
    """``beta_m = 1 / log2(N_m)`` (Adamic-Adar) from ``N_m`` (at least 2)."""
    return 1.0 / np.log2(busy)


def _score_meetings(
    m: dict[str, np.ndarray], ctx: _Context, min_meetings: int
) -> dict[str, np.ndarray]:
    """Score the pairs of a set of meetings sorted by (a, b, place, start); see module docstring."""
    n = len(m["a"])
    if n == 0:
        return _empty_pairs()
    a, b = m["a"].astype(np.int64), m["b"].astype(np.int64)
    new_pair = np.ones(n, bool)
    new_pair[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    p_start = np.flatnonzero(new_pair)
    p_count = np.diff(np.append(p_start, n))
    keep_pair = p_count >= min_meetings
    if not keep_pair.any():
        return _empty_pairs()
    sel = np.repeat(keep_pair, p_count)
    m = {k: v[sel] for k, v in m.items()}
    a, b = a[sel], b[sel]
    n = len(a)
    p_start = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])])
    p_end = np.append(p_start[1:], n)
    pair_idx = np.repeat(np.arange(len(p_start)), p_end - p_start)
    start, end = m["start"], m["end"]
    day_abs = start // _DAY_US
    day = np.clip(day_abs - ctx.day0, 0, len(ctx.stratum) - 1).astype(np.int64)
    tod = start - day_abs * _DAY_US
    dur = end - start
    place = m["place"].astype(np.int64)
    expected, days_a, days_b, days_ab, rho, r, slot_expected = _day_swap_null(
        a[p_start],
        b[p_start],
        p_start.astype(np.int64),
        p_end.astype(np.int64),
        place,
        day,
        tod.astype(np.int64),
        (tod + dur).astype(np.int64),
        ctx.s_off,
        ctx.s_cam,
        ctx.s_tod,
        ctx.s_day,
        ctx.n_off,
        ctx.n_cam,
        ctx.d_off,
        ctx.d_day,
        ctx.stratum,
        ctx.nstrata,
        np.int64(ctx.window_us),
        np.int64(ctx.gap_us),
    )
    # busyness of each meeting: distinct subjects at its camera in the period it started
    key = (place << 32) + start // ctx.period_us
    busy = np.full(n, 2, np.int64)
    if len(ctx.busy_key):
        pos = np.minimum(np.searchsorted(ctx.busy_key, key), len(ctx.busy_key) - 1)
        hit = ctx.busy_key[pos] == key
        busy[hit] = ctx.busy_n[pos[hit]]
    busy = np.maximum(busy, 2).astype(np.float64)  # a meeting means at least two subjects
    beta = _busyness_weight(busy)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(m["conf_n"] > 0, m["conf_sum"] / np.maximum(m["conf_n"], 1), np.nan)
    c = np.where(np.isnan(conf), 1.0, conf)
    u = _novelty(rho, r, slot_expected)
    contrib = m["n"].astype(np.float64) * c * beta * u
    npairs = len(p_start)

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(pair_idx, weights=x, minlength=npairs)

    meetings = p_end - p_start
    days_key = np.unique(pair_idx.astype(np.int64) * (len(ctx.stratum) + 1) + day)
    n_days = np.bincount(days_key // (len(ctx.stratum) + 1), minlength=npairs)
    pl_key = np.unique(pair_idx.astype(np.int64) * (1 << 32) + place)
    n_places = np.bincount(pl_key >> 32, minlength=npairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(
            pair_idx, weights=np.where(np.isnan(conf), 0.0, conf), minlength=npairs
        ) / np.bincount(pair_idx, weights=(~np.isnan(conf)).astype(np.float64), minlength=npairs)
    x = n_days.astype(np.float64)
    y_ab = np.maximum(days_ab - n_days, 0)
    y_a = days_a - days_ab
    y_b = days_b - days_ab
    with np.errstate(invalid="ignore", divide="ignore"):
        sri = x / (x + y_a + y_b + y_ab)
        hwi = x / (x + y_ab + 0.5 * (y_a + y_b))
    p_value = stats.poisson.sf(meetings - 1, expected)
    return {
        "a": a[p_start].astype(np.int32),
        "b": b[p_start].astype(np.int32),
        "score": total(contrib) * _excess_share(expected, meetings),
        "p_value": np.clip(p_value, 0.0, 1.0),
        "meetings": meetings.astype(np.int64),
        "days": n_days.astype(np.int64),
        "places": n_places.astype(np.int64),
        "first_ts": np.minimum.reduceat(start, p_start).astype(np.int64),
        "last_ts": np.maximum.reduceat(end, p_start).astype(np.int64),
        "n_events": total(m["n"].astype(np.float64)).round().astype(np.int64),
        "expected": expected,
        "excess": meetings - expected,
        "routine_share": total(rho) / meetings,
        "effective_meetings": total(u),
        "mean_busyness": total(busy) / meetings,
        "mean_confidence": mean_conf,
        "sri": sri,
        "hwi": hwi,
        "days_a": days_a,
        "days_b": days_b,
        "days_both": days_ab,
    }


def _bh_qvalues(p: np.ndarray, m_total: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p`` within a family of ``m_total >= len(p)`` tests whose
    other members have p = 1."""
    n = len(p)
    if n == 0:
        return np.empty(0, np.float64)
    m_total = max(int(m_total), n)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m_total / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n, np.float64)
    q[order] = np.minimum(q_sorted, 1.0)
    return np.maximum(q, p)


def _finish(
    parts: list[dict[str, np.ndarray]], npids: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Concatenate per-bucket pair arrays, add q-values, order by score (desc) then pids.

    Frees the parts column by column (``parts`` is emptied), so the peak is about one copy of
    the table plus one column.
    """
    cols: dict[str, np.ndarray] = {}
    for f in _PAIR_FIELDS:
        cols[f] = np.concatenate([p.pop(f) for p in parts]) if parts else _empty_pairs()[f]
    parts.clear()
    m_total = npids * (npids - 1) // 2
    cols["q_value"] = _bh_qvalues(cols["p_value"], m_total)
    order = np.lexsort((cols["b"], cols["a"], -cols["score"]))
    for k in list(cols):
        cols[k] = cols[k][order]
    return cols, order


def _pairs_frame(cols: dict[str, np.ndarray], pids: np.ndarray | pa.Array) -> pd.DataFrame:
    def names(codes: np.ndarray) -> pd.Series:
        if isinstance(pids, pa.Array):
            return pd.Series(pids.take(pa.array(codes, pa.int32())).to_pandas(), dtype="str")
        return pd.Series(np.asarray(pids, dtype=object)[codes] if len(codes) else [], dtype="str")

    data: dict[str, Any] = {"pid_a": names(cols["a"]), "pid_b": names(cols["b"])}
    for f in CONTACTS_COLUMNS[2:]:
        if f in ("first_ts", "last_ts"):
            data[f] = epoch_us_to_ts(cols[f])
        elif f in _INT_FIELDS:
            data[f] = pd.Series(cols[f], dtype="int64")
        else:
            data[f] = pd.Series(cols[f], dtype="float64")
    return pd.DataFrame(data, columns=list(CONTACTS_COLUMNS))


# ---------------------------------------------------------------------------------------------
# in memory


def score_contacts(
    meetings: pd.DataFrame,
    busyness: pd.DataFrame | None,
    sightings: pd.DataFrame,
    *,
    window_s: float = 60,
    gap_s: float = 900,
    radius_m: float = 0,
    cameras: pd.DataFrame | None = None,
    crowd_cap: int | None = None,
    period_s: float = 3600,
    strata: str = "weekpart",
    min_meetings: int = 1,
) -> pd.DataFrame:
    """Rank pairs by evidence of association beyond chance (model: module docstring).

    Pure: nothing is modified, read or written.

    Parameters
    ----------
    meetings : DataFrame
        :data:`MEETING_COLUMNS` as from :func:`build_meetings` (``confidence`` optional).
    busyness : DataFrame or None
        :data:`BUSYNESS_COLUMNS` as from :func:`camera_busyness` with the same ``period_s``;
        None computes it from ``sightings``.
    sightings : DataFrame
        ``pid``, ``camera_id``, ``ts``: the sightings the events were found in (after the same
        confidence filter); the null model replays each subject's own days from them.
    window_s, gap_s, radius_m, cameras, crowd_cap
        ``W``, ``G``, ``R`` (``cameras`` with lat/lon when ``R > 0``) and the crowd cap the events
        and meetings were made with: the null replays swapped days with the same rules.
    period_s : float
        Busyness period (default one clock hour).
    strata : {'weekpart', 'none'}
        Days swap only within weekdays and within weekend days, or across all days.
    min_meetings : int
        Score only pairs with at least this many meetings (others have p >= P(X >= 1) and are
        left out; q-values stay valid, as if their p were 1).

    Returns
    -------
    DataFrame
        :data:`CONTACTS_COLUMNS`, one row per pair (``pid_a < pid_b``), ordered by ``score``
        descending (ties by ``pid_a, pid_b``).

    Raises
    ------
    UsageError
        Missing columns, naive times, a negative window, gap or radius, bad strata.

    Examples
    --------
    >>> from sightgraph.analytics.colocation import find_colocations
    >>> t = pd.Timestamp("2026-03-02 20:00", tz="UTC")
    >>> s = pd.DataFrame({"sighting_id": [1, 2, 3, 4], "pid": ["a", "b", "a", "b"],
    ...     "camera_id": ["bar1", "bar1", "bar2", "bar2"],
    ...     "ts": [t, t, t + pd.Timedelta(days=7), t + pd.Timedelta(days=7)]})
    >>> m = build_meetings(find_colocations(s, events=True))
    >>> score_contacts(m, None, s)[["pid_a", "pid_b", "meetings", "places"]].values.tolist()
    [['a', 'b', 2, 2]]
    """
    what = "meetings"
    _require_frame(meetings, what)
    _require_frame(sightings, "sightings")
    window_us = _to_us(_check_seconds(window_s, "window"))
    gap_us = _to_us(_check_seconds(gap_s, "gap"))
    radius_m = _check_radius(radius_m)
    crowd_cap = _check_crowd_cap(crowd_cap)
    period_us = _to_us(_check_seconds(period_s, "period", positive=True))
    strata = _check_strata(strata)
    min_meetings = _check_min_meetings(min_meetings)
    require_columns(
        meetings, ("pid_a", "pid_b", "camera_id", "start_ts", "end_ts", "n_events"), what
    )
    s_pid, s_cam, s_ts = _sightings_arrays(sightings, "sightings")
    ma = _require_strings(meetings, "pid_a", what)
    mb = _require_strings(meetings, "pid_b", what)
    mc = _require_strings(meetings, "camera_id", what)
    m_start = _require_ts(meetings, "start_ts", what)
    m_end = _require_ts(meetings, "end_ts", what)
    pids, (sp, pa_, pb_) = _sorted_codes(s_pid, ma, mb)
    cams, (sc, mcc) = _sorted_codes(s_cam, mc)
    known = set(np.unique(sp).tolist())
    unknown = [p for p in np.unique(np.concatenate([pa_, pb_])) if p not in known]
    if unknown:
        raise UsageError(
            f"meetings: pid {pids[unknown[0]]!r} has no sightings (pass the sightings the events came from)"
        )
    if len(ma) and (pa_ >= pb_).any():
        row = meetings.index[int(np.flatnonzero(pa_ >= pb_)[0])]
        raise UsageError(f"meetings row {row!r}: pid_a must sort before pid_b")
    n_off, n_cam = _neighbours(len(cams), cams, cameras, radius_m, "cameras argument")
    ctx = _make_context(
        sp,
        sc,
        s_ts,
        len(pids),
        len(cams),
        n_off,
        n_cam,
        window_us=window_us,
        gap_us=gap_us,
        period_us=period_us,
        crowd_cap=crowd_cap,
        strata=strata,
    )
    if busyness is not None:
        _require_frame(busyness, "busyness")
        require_columns(busyness, BUSYNESS_COLUMNS, "busyness")
        bcam = _require_strings(busyness, "camera_id", "busyness")
        bper = _require_ts(busyness, "period_start", "busyness") // period_us
        code = pd.Index(cams).get_indexer(bcam)
        ok = code >= 0
        key = (code[ok].astype(np.int64) << 32) + bper[ok]
        o = np.argsort(key, kind="stable")
        ctx.busy_key = key[o]
        ctx.busy_n = busyness["subjects"].to_numpy(np.int64)[ok][o]
    conf_col = (
        pd.to_numeric(meetings["confidence"], errors="coerce").to_numpy(np.float64)
        if "confidence" in meetings.columns
        else np.full(len(meetings), np.nan)
    )
    known_conf = ~np.isnan(conf_col)
    m = {
        "a": pa_.astype(np.int32),
        "b": pb_.astype(np.int32),
        "place": mcc.astype(np.int32),
        "start": m_start,
        "end": np.maximum(m_end, m_start),
        "n": meetings["n_events"].to_numpy(np.int64),
        "conf_sum": np.where(known_conf, conf_col, 0.0),
        "conf_n": known_conf.astype(np.int64),
    }
    order = np.lexsort((m["start"], m["place"], m["b"], m["a"]))
    m = {k: v[order] for k, v in m.items()}
    cols, _ = _finish([_score_meetings(m, ctx, min_meetings)], len(np.unique(sp)) if len(sp) else 0)
    return _pairs_frame(cols, pids)


# ---------------------------------------------------------------------------------------------
# over a lake


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
            f"{self.out} in {self.seconds:.1f} s"
        )


def _read_lake_sightings(lake: str | Path, min_confidence: float):
    """pid and camera dictionaries (sorted) and integer-coded sightings of the lake."""
    dset = sightings_dataset(lake)
    flt = None
    if min_confidence > 0:
        flt = pc.field("confidence") >= min_confidence
    table = dset.to_table(columns=["pid", "camera_id", "ts"], filter=flt)

    def encode(col: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
        arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        if not pa.types.is_string(arr.type):
            arr = pc.cast(arr, pa.string())
        enc = pc.dictionary_encode(arr)
        dictionary = enc.dictionary.cast(pa.string())
        order = pc.sort_indices(dictionary).to_numpy()
        rank = np.empty(len(order), np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        codes = rank[enc.indices.to_numpy(zero_copy_only=False)]
        return dictionary.take(pa.array(order)), codes

    pids, pid = encode(table.column("pid"))
    cams, cam = encode(table.column("camera_id"))
    ts_col = table.column("ts")
    if ts_col.type != _TS:
        ts_col = pc.cast(ts_col, _TS)
    ts = pc.cast(ts_col, pa.int64()).to_numpy().astype(np.int64, copy=False)
    del table
    return pids, pid, cams, cam, ts


def _recode(
    a: np.ndarray, b: np.ndarray, source: pa.Array, target: pa.Array, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``a``, ``b`` into the string dictionary ``source`` -> codes into ``target`` (the
    contacts job's dictionary of the same lake; it lacks only ids without a sighting it keeps)."""
    to = pc.index_in(source, value_set=target).fill_null(-1).to_numpy(zero_copy_only=False)
    to = to.astype(np.int32)
    a, b = to[a], to[b]
    if len(a) and min(a.min(), b.min()) < 0:
        raise RuntimeError(f"an event names {what} that the contacts job does not know")
    return a, b


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
) -> tuple[int, int]:
    """Meetings of one partition's events (``map_event_partitions(raw=True)`` arrays),
    appended to the reduction buckets (by pid_a)."""
    n = len(ev["a"])
    if n == 0:
        return 0, 0
    a, b = _recode(ev["a"], ev["b"], ev_pids, pids, "a subject")
    ca, cb = _recode(ev["cam_a"], ev["cam_b"], ev_cams, cams, "a camera")
    ta, tb = ev["ts_a"].astype(np.int64, copy=False), ev["ts_b"].astype(np.int64, copy=False)
    conf = ev["conf_a"].astype(np.float64) * ev["conf_b"].astype(np.float64, copy=False)
    m = _merge_events(
        a, b, np.minimum(ca, cb), np.minimum(ta, tb), np.maximum(ta, tb), conf, gap_us
    )
    q = bucket_of[m["a"]]
    order = np.argsort(q, kind="stable")
    bounds = np.searchsorted(q[order], np.arange(nbuckets + 1))
    tag = uuid.uuid4().hex[:12]
    for k in np.flatnonzero(np.diff(bounds)):
        sel = order[bounds[k] : bounds[k + 1]]
        with open(Path(spill) / f"b{k:05d}" / f"{tag}.npy", "wb") as fh:
            for name in ("a", "b", "place", "start", "end", "n", "conf_sum", "conf_n"):
                np.save(fh, m[name][sel], allow_pickle=False)
    return n, len(m["a"])


def _load_bucket(spill: str, q: int) -> dict[str, np.ndarray]:
    names = ("a", "b", "place", "start", "end", "n", "conf_sum", "conf_n")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
    folder = Path(spill) / f"b{q:05d}"
    for f in sorted(folder.glob("*.npy")):
        with open(f, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            while fh.tell() < size:
                for k in names:
                    parts[k].append(np.load(fh, allow_pickle=False))
    dtypes = (np.int32, np.int32, np.int32, np.int64, np.int64, np.int64, np.float64, np.int64)
    m = {
        k: (np.concatenate(parts[k]) if parts[k] else np.empty(0, t))
        for k, t in zip(names, dtypes, strict=True)
    }
    order = np.lexsort((m["start"], m["place"], m["b"], m["a"]))
    shutil.rmtree(folder, ignore_errors=True)
    return {k: v[order] for k, v in m.items()}


#: what stays in memory per scored pair until the table is written: the global order and the
#: q-values need these (24 bytes a pair); every other column waits on disk
_RANK_FIELDS = ("a", "b", "score", "p_value")
#: rows per row group of a written contacts table
_WRITE_ROWS = 1_000_000


def _reduce_bucket(
    spill: str, q: int, ctx: _Context, min_meetings: int
) -> tuple[dict[str, np.ndarray], int]:
    """Score bucket ``q``; its pairs go back to disk (``spill/s{q}/<column>.npy``) in the table's
    order (score descending, then pids), and only :data:`_RANK_FIELDS` come back."""
    m = _load_bucket(spill, q)
    n = len(m["a"])
    met = (
        int(
            np.count_nonzero(np.r_[True, (m["a"][1:] != m["a"][:-1]) | (m["b"][1:] != m["b"][:-1])])
        )
        if n
        else 0
    )
    cols = _score_meetings(m, ctx, min_meetings)
    del m
    order = np.lexsort((cols["b"], cols["a"], -cols["score"]))
    folder = Path(spill) / f"s{q:05d}"
    folder.mkdir()
    rank: dict[str, np.ndarray] = {}
    for f in _PAIR_FIELDS:
        col = cols.pop(f)[order]
        if f in _RANK_FIELDS:
            rank[f] = col
        np.save(folder / f"{f}.npy", col, allow_pickle=False)
    return rank, met


def _ranked_chunks(
    spill: str, parts: list[dict[str, np.ndarray]], npids: int
) -> tuple[int, int, Iterator[dict[str, np.ndarray]]]:
    """The whole table in its order (score descending, then pids), :data:`_WRITE_ROWS` rows at
    a time, from the per-bucket files of :func:`_reduce_bucket`; q-values over all pairs.

    Every bucket's file is already in the table's order, so the rows one chunk takes from a
    bucket are a contiguous slice of it (read through a memory map): memory holds the rank
    fields of all pairs and one chunk of the others. Returns the number of pairs, of pairs with
    q < 0.05, and the chunks (the spill directory must live until they are consumed).
    """
    sizes = np.array([len(p["a"]) for p in parts], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(sizes)]
    rank = {f: np.concatenate([p.pop(f) for p in parts]) if parts else _empty_pairs()[f]
            for f in _RANK_FIELDS}  # fmt: skip
    parts.clear()
    q_value = _bh_qvalues(rank.pop("p_value"), npids * (npids - 1) // 2)
    # Each bucket is sorted by (score desc, a, b) and buckets hold increasing ranges of pid_a
    # codes (_buckets), so among equal scores the concatenation is already in (a, b) order: a
    # stable sort by score alone is the table's order (timsort merges the sorted runs: 68.6M
    # pairs in ~2 s instead of ~26 s for a three-key lexsort).
    neg = -rank.pop("score")
    order = np.argsort(neg, kind="stable")
    neg = neg[order]
    key = rank.pop("a").astype(np.int64)[order] * max(npids, 1) + rank.pop("b")[order]
    if np.any((neg[1:] == neg[:-1]) & (key[1:] <= key[:-1])):
        raise RuntimeError("contacts buckets are not in pid order")
    del neg, key
    n = len(order)
    significant = int(np.count_nonzero(q_value < 0.05))

    def chunks(step: int = _WRITE_ROWS) -> Iterator[dict[str, np.ndarray]]:
        for s0 in range(0, n, step):
            idx = order[s0 : s0 + step]
            bucket = np.searchsorted(offsets, idx, side="right") - 1
            by_bucket = np.argsort(bucket, kind="stable")  # within a bucket: increasing idx
            bounds = np.searchsorted(bucket[by_bucket], np.arange(len(offsets)))
            reads = []  # (bucket, positions in the chunk, slice of the bucket's file)
            for q in np.flatnonzero(np.diff(bounds)):
                at = by_bucket[bounds[q] : bounds[q + 1]]
                lo = int(idx[at[0]] - offsets[q])
                hi = int(idx[at[-1]] - offsets[q]) + 1
                if hi - lo != len(at):
                    raise RuntimeError(f"contacts bucket {q} is not in the table's order")
                reads.append((q, at, lo, hi))
            chunk: dict[str, np.ndarray] = {"q_value": q_value[idx]}
            for f in _PAIR_FIELDS:
                cols = [
                    np.load(Path(spill) / f"s{q:05d}" / f"{f}.npy", mmap_mode="r")
                    for q, _, _, _ in reads
                ]
                out = np.empty(len(idx), dtype=cols[0].dtype)
                for col, (_, at, lo, hi) in zip(cols, reads, strict=True):
                    out[at] = col[lo:hi]
                chunk[f] = out
            yield chunk

    return n, significant, chunks()


def _warm_up() -> None:
    """Compile the kernels once before threads fan out (tiny inputs)."""
    e = np.zeros(0, np.int64)
    one = np.zeros(1, np.int64)
    _crowd_counts(e, e, e, np.int64(0), 1)
    _day_swap_null(
        e,
        e,
        e,
        e,
        e,
        e,
        e,
        e,
        np.zeros(2, np.int64),
        e,
        e,
        e,
        np.zeros(2, np.int64),
        one,
        np.zeros(2, np.int64),
        e,
        one,
        1,
        np.int64(0),
        np.int64(0),
    )


def _buckets(pid_counts: np.ndarray, nbuckets: int) -> np.ndarray:
    """pid_a code -> bucket, ranges of codes with about equal sightings."""
    npids = len(pid_counts)
    if npids == 0:
        return np.zeros(1, np.int32)
    cum = np.cumsum(pid_counts.astype(np.float64))
    edges = np.searchsorted(cum, cum[-1] * np.arange(1, nbuckets) / nbuckets, side="right")
    bucket_of = np.zeros(npids, np.int32)
    for e in edges:
        bucket_of[e:] += 1
    return np.minimum(bucket_of, nbuckets - 1)


def _contacts_schema(params: dict[str, Any] | None) -> pa.Schema:
    import json

    fields = [pa.field("pid_a", pa.string()), pa.field("pid_b", pa.string())]
    for f in CONTACTS_COLUMNS[2:]:
        if f in ("first_ts", "last_ts"):
            fields.append(pa.field(f, _TS))
        elif f in _INT_FIELDS:
            fields.append(pa.field(f, pa.int64()))
        else:
            fields.append(pa.field(f, pa.float64()))
    schema = pa.schema(fields)
    if params is not None:
        schema = schema.with_metadata(
            {PARAMS_KEY: json.dumps(params, sort_keys=True, default=str).encode()}
        )
    return schema


def _write_contacts(
    chunks: Iterable[dict[str, np.ndarray]], pids: pa.Array, out: Path, params: dict[str, Any]
) -> None:
    """Write ordered chunks of pair arrays, one row group each (pids as strings), atomically."""
    schema = _contacts_schema(params)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp-{uuid.uuid4().hex[:8]}")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            wrote = False
            for cols in chunks:
                arrays = [
                    pids.take(pa.array(cols["a"], pa.int32())),
                    pids.take(pa.array(cols["b"], pa.int32())),
                ]
                for f in CONTACTS_COLUMNS[2:]:
                    arrays.append(pa.array(cols[f], schema.field(f).type))
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                wrote = True
            if not wrote:
                writer.write_table(schema.empty_table())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


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
) -> ContactsResult:
    """Frequent contacts of a whole lake as a Dask job; writes the ranked contacts table.

    1. the lake's sightings are read once (integer codes) for the busyness weights and the null;
    2. :func:`~sightgraph.analytics.colocation.map_event_partitions` runs one task per camera
       partition: its events become meetings (:func:`build_meetings`'s rule) inside the task and
       are appended to on-disk buckets by ``pid_a``;
    3. one task per bucket scores its pairs (:func:`score_contacts`'s model);
    4. q-values over all pairs, ordered by score, written to ``out`` with the parameters.

    Memory stays bounded: events never leave their partition task (as integer arrays), meetings
    are spilled to disk, a bucket holds only its own pairs' meetings, and scored pairs wait on disk
    while 24 bytes a pair (pids, score, p-value) serve the q-values and the order; the table is
    then written in chunks (10M sightings, 68.6M pairs: 9.7 GiB). The events of one camera are
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
    strata, period_s, min_meetings
        As for :func:`score_contacts`.
    npartitions : int, optional
        Camera partitions for the event sweep (default: about one per 250,000 sightings).

    Returns
    -------
    ContactsResult
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
    out = Path(out)
    if out.exists() and out.is_dir():
        raise UsageError(f"out {out} is a directory; give a file name such as contacts.parquet")
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
    ctx = _make_context(
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
    )
    pid_counts = np.bincount(pid, minlength=npids)
    n_sightings = len(ts)
    del pid, cam, ts
    params: dict[str, Any] = {
        "table": "contacts",
        "model": MODEL,
        "window_s": window_us / _US,
        "radius_m": radius_m,
        "gap_s": gap_us / _US,
        "min_confidence": min_confidence,
        "crowd_cap": crowd_cap,
        "strata": strata,
        "period_s": period_us / _US,
        "min_meetings": min_meetings,
        "sightings": n_sightings,
        "null_sightings": ctx.kept,
        "subjects": npids,
        "family_pairs": npids * (npids - 1) // 2,
        "lake": str(lake),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    spill = spill_dir(out.parent, "contacts")
    try:
        with resolve_scheduler(scheduler) as sched:
            nbuckets = max(2 * sched.num_workers, math.ceil(n_sightings / 500_000))
            bucket_of = _buckets(pid_counts, nbuckets)
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
            n_events = int(sum(e for e, _ in swept))
            n_meetings = int(sum(m for _, m in swept))
            sched.run_everywhere(_warm_up)
            shared = delayed(ctx, pure=False)
            reduce = delayed(_reduce_bucket, pure=False)
            results = sched.compute(
                [reduce(spill, q, shared, min_meetings) for q in range(nbuckets)],
                "scoring pairs",
                progress,
            )
        pairs_met = int(sum(n for _, n in results))
        n_pairs, significant, chunks = _ranked_chunks(spill, [r for r, _ in results], npids)
        del results
        params.update(
            events=n_events,
            meetings=n_meetings,
            pairs_met=pairs_met,
            pairs=n_pairs,
            significant=significant,
        )
        _write_contacts(chunks, pids, out, params)
    finally:
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
