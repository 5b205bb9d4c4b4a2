"""Meetings: co-location events of one pair at one place merged while consecutive event times
are less than ``G`` apart (:mod:`sightgraph.analytics.contacts`, DESIGN §4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sightgraph._lazy import LazyModule
from sightgraph.analytics.contacts._common import (
    _check_seconds,
    _require_frame,
    _require_strings,
    _require_ts,
    _sorted_codes,
    _to_us,
    pair_place_time_order,
    take,
)
from sightgraph.errors import UsageError
from sightgraph.schema import epoch_us_to_ts, require_columns

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use

#: Columns of :func:`build_meetings`.
MEETING_COLUMNS = (
    "pid_a",
    "pid_b",
    "camera_id",
    "start_ts",
    "end_ts",
    "n_events",
    "confidence",
    "lag_s",
)
_EVENT_REQUIRED = ("pid_a", "pid_b", "camera_a", "camera_b", "ts_a", "ts_b")


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
    ``conf_sum``/``conf_n`` add up the known ones. ``lag`` is the mean over its events of
    ``t1 - t0`` (the time between the two sightings, us).
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
            "lag": np.empty(0, np.float64),
        }
    # np.lexsort((t0, place, b, a)): a partition's events are not in time order within a pair
    order = pair_place_time_order(a, b, place, t0, time_sorted=False)
    # int32 positions: a compiled take (fancy indexing widens them to an int64 copy each time)
    a, b, place, t0, t1, conf = (take(x, order) for x in (a, b, place, t0, t1, conf))
    new = np.ones(n, bool)
    new[1:] = (
        (a[1:] != a[:-1])
        | (b[1:] != b[:-1])
        | (place[1:] != place[:-1])
        | (t0[1:] - t0[:-1] >= gap_us)
    )
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, n)).astype(np.int64)
    known = ~np.isnan(conf)
    return {
        "a": a[starts].astype(np.int32),
        "b": b[starts].astype(np.int32),
        "place": place[starts].astype(np.int32),
        "start": t0[starts].astype(np.int64),
        "end": np.maximum.reduceat(t1, starts).astype(np.int64),
        "n": counts,
        "conf_sum": np.add.reduceat(np.where(known, conf, 0.0), starts),
        "conf_n": np.add.reduceat(known.astype(np.int64), starts),
        "lag": np.add.reduceat(t1 - t0, starts) / counts,
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
        (mean over its events of ``confidence_a * confidence_b``, NaN if unknown), ``lag_s`` (mean
        over its events of ``|ts_a - ts_b|``, seconds: how close in time the two were seen);
        sorted by ``pid_a, pid_b, camera_id, start_ts``.

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
            "lag_s": pd.Series(m["lag"] / 1e6, dtype="float64"),
        },
        columns=list(MEETING_COLUMNS),
    )
