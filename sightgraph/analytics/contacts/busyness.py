"""How busy each camera was: distinct subjects per camera and clock period (the ``N_m`` of the
busyness weight, :mod:`sightgraph.analytics.contacts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sightgraph._lazy import LazyModule
from sightgraph.analytics.contacts._common import (
    _check_seconds,
    _require_frame,
    _sightings_arrays,
    _sorted_codes,
    _to_us,
)
from sightgraph.schema import epoch_us_to_ts

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use

#: Columns of :func:`camera_busyness`.
BUSYNESS_COLUMNS = ("camera_id", "period_start", "subjects")


def _busyness_arrays(cam: np.ndarray, pid: np.ndarray, ts: np.ndarray, period_us: int):
    """Distinct subjects per (camera, period): sorted keys (cam, period) and counts."""
    if len(cam) == 0:
        e = np.empty(0, np.int64)
        return e, e.copy(), e.copy()
    per = ts // period_us
    p0, nper = int(per.min()), int(per.max() - per.min()) + 1
    npid, ncam = int(pid.max()) + 1, int(cam.max()) + 1
    if min(int(cam.min()), int(pid.min())) >= 0 and ncam * nper * npid < 2**62:
        # (camera, period, pid) as one integer: one sort (SIMD quicksort: 15x faster than the
        # three-key lexsort on a 1M city; equal keys are equal rows, so stability is moot)
        key = np.sort((cam.astype(np.int64) * nper + (per - p0)) * npid + pid)
        key = key[np.r_[True, key[1:] != key[:-1]]] // npid  # one row per subject and cell
        c, p = key // nper, key % nper + p0
    else:
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
