"""A learned next-place ranker (scikit-learn), beside the counting models of
:mod:`sightgraph.analytics.prediction`.

For each prediction (a subject, after one of its visits) the ranker builds *candidate* next
places: the places the subject has visited so far, the ``max_own`` best by the back-off model,
plus the ``n_popular`` most popular places of the population. Each candidate gets a row of
features computed from the subject's visits *before* the one predicted (names in
:data:`FEATURES`):

* transition counts and shares from the current place (order 1), after the previous and the
  current place (order 2), from the current place in the current time slot, and the back-off
  probabilities over them (``backoff_order2``; ``backoff`` adds the time slot: it is exactly
  the ``sightgraph`` model's probability);
* the subject's visit frequency of the candidate, recency (visits and hours since the last visit
  there), time-of-day match (its share of the candidate's visits that arrived within an hour of
  the current time of day, and the candidate's share of all visits at that hour) and
  day-of-week match;
* the dwell at the current place (log seconds, and relative to the subject's mean dwell there);
* the population's transition share from the current place to the candidate, counting the
  *other* subjects only (the subject's own counts are its own features), and the candidate's
  popularity;
* whether the candidate is the current or the previous place, the length of the history, the
  number of places seen, and the distance from the current place where the cameras have
  coordinates (``coordinates``; NaN otherwise, which the trees handle natively);
* where the cameras have coordinates, the two terms of a correlated random walk, the standard
  model of animal movement (Kareiva & Shigesada 1983; Turchin 1998): the cosine of the turn
  from the last move (previous place -> current place) to the candidate move (current place ->
  candidate; 1 = straight on, -1 = straight back; NaN without a previous place or for a stay),
  and the last move's length (km), against which the candidate's distance is a step length.

Where the cameras have coordinates, the ``n_nearby`` places nearest to the current one are
candidates too (a GPS track moves to cells it never visited).

A :class:`~sklearn.ensemble.HistGradientBoostingClassifier` learns P(candidate is the next
place | features) from the steps of the fitting visits (every step of every subject, or a random
sample of ``max_train_steps`` steps); a prediction ranks the candidates by that probability
(ties by popularity, then camera id), then the subject's other known places by the back-off
probability, then every other place by popularity. ``predict_proba`` reports the candidates'
probabilities normalised to sum to 1 (every other place: 0).

The features of a subject's steps are computed in one pass over its visits by a compiled kernel
(numba, ``nogil``): the counts are updated visit by visit, so a feature never sees the visit it
predicts or any later one. Population counts (popularity, transitions) come from the fitting
visits only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba  # noqa: E402,I001
import numpy as np
import pandas as pd
from numba import types  # noqa: E402
from numba.typed import Dict  # noqa: E402
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sightgraph.analytics import _kernels  # noqa: F401  (sets NUMBA_CACHE_DIR before numba)
from sightgraph.analytics import prediction as P
from sightgraph.errors import UsageError

__all__ = ["FEATURES", "NextPlaceRanker"]

#: the features of a candidate, in column order
FEATURES = (
    "backoff",
    "backoff_order2",
    "freq_share",
    "freq_log",
    "trans1_share",
    "trans1_log",
    "trans2_share",
    "trans2_log",
    "slot_trans_share",
    "recency_visits_log",
    "recency_hours_log",
    "tod_match",
    "tod_share",
    "dow_share",
    "dwell_log",
    "dwell_rel",
    "population_trans_share",
    "popularity_log",
    "is_current",
    "is_previous",
    "history_log",
    "distance_km",
    "places_log",
    "turn_cos",
    "last_step_km",
)
_NF = len(FEATURES)

_jit = numba.njit(nogil=True, cache=True)


@_jit
def _lookup(ptr, idx, val, row, col):
    """``val`` at (row, col) of a CSR matrix with sorted column indices (0 if absent)."""
    a = ptr[row]
    b = ptr[row + 1]
    while a < b:
        mid = (a + b) // 2
        if idx[mid] < col:
            a = mid + 1
        else:
            b = mid
    if a < ptr[row + 1] and idx[a] == col:
        return val[a]
    return 0.0


@_jit
def _levels(j, c, freq, total, g, alpha, m, cur, n1, t1, prev, n2, t2, k2, n3, t3, k3):
    """(order-2 back-off probability, the same with the time slot) of camera ``c`` (local
    index ``j``, -1 if never visited by the subject): the ``sightgraph`` model's levels."""
    f = freq[j] if j >= 0 else 0.0
    p = (f + alpha * g[c]) / (total + alpha)
    p3 = p
    p4 = p
    if n1 > 0:
        x = t1.get(cur * m + j, 0.0) if j >= 0 else 0.0
        p = (x + alpha * p) / (n1 + alpha)
        p3 = p
        p4 = p
        if prev >= 0 and n2 > 0:
            x = t2.get(k2 * m + j, 0.0) if j >= 0 else 0.0
            p = (x + alpha * p) / (n2 + alpha)
            p3 = p
            p4 = p
            if n3 > 0:
                x = t3.get(k3 * m + j, 0.0) if j >= 0 else 0.0
                p4 = (x + alpha * p) / (n3 + alpha)
    return p3, p4


@_jit
def _haversine_km(lat1, lon1, lat2, lon2):
    r = math.pi / 180.0
    p1 = lat1 * r
    p2 = lat2 * r
    dp = p2 - p1
    dl = (lon2 - lon1) * r
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    a = min(max(a, 0.0), 1.0)
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@_jit
def subject_features(
    cams,
    mine,
    arr_hour,
    arr_dow,
    leave_hour,
    leave_dow,
    slots,
    dwell_s,
    leave_s,
    g,
    pos,
    popular,
    pop_ptr,
    pop_idx,
    pop_val,
    n_popfit,
    lat,
    lon,
    near,
    steps,
    alpha,
    nslots,
    max_own,
):
    """Candidate rows of one subject's prediction steps.

    ``cams``: the visits' places as indices into ``mine`` (the subject's places, global
    indices, sorted); per visit the local arrival hour and weekday, the hour and weekday and
    time slot of its end, its dwell (s) and end (epoch s). ``g``, ``pos``: the population
    popularity of every place and its position in the popularity order; ``popular``: the
    ``n_popular`` first places of that order; ``pop_*``: the population's transition counts
    (CSR, global indices) of which the subject's first ``n_popfit`` visits are a part (they are
    subtracted: other subjects only). ``near[c]``: the places nearest to ``c`` (-1: none),
    candidates too. ``steps`` (ascending, each in 1..n): predict visit ``i``
    from visits ``[:i]`` (``i == n``: after the last visit, no truth).

    Returns (features[R, F] float32, candidate global index[R], label[R] (1: the true next
    place), step[R] (index into ``steps``), per step: n candidates, 1 if the truth is a
    candidate, the truth's rank when it is not).
    """
    n = len(cams)
    m = len(mine)
    npop = len(popular)
    nnear = near.shape[1]
    k = len(steps)
    width = min(m, max_own) + npop + nnear
    cap = k * width
    feats = np.full((cap, _NF), np.nan, np.float32)
    cand_out = np.empty(cap, np.int64)
    label = np.zeros(cap, np.int8)
    step_of = np.empty(cap, np.int64)
    ncand = np.zeros(k, np.int64)
    true_in = np.zeros(k, np.int8)
    absent_rank = np.zeros(k, np.int64)

    freq = np.zeros(m)
    total = 0.0
    last_idx = np.full(m, -1, np.int64)
    last_leave = np.zeros(m)
    tod = np.zeros((m, 24))
    tod_tot = np.zeros(24)
    dow = np.zeros((m, 7))
    dow_tot = np.zeros(7)
    dwell_sum = np.zeros(m)
    t1 = Dict.empty(key_type=types.int64, value_type=types.float64)
    t1tot = np.zeros(m)
    t2 = Dict.empty(key_type=types.int64, value_type=types.float64)
    t2tot = Dict.empty(key_type=types.int64, value_type=types.float64)
    t3 = Dict.empty(key_type=types.int64, value_type=types.float64)
    t3tot = Dict.empty(key_type=types.int64, value_type=types.float64)
    ts = Dict.empty(key_type=types.int64, value_type=types.float64)
    tstot = Dict.empty(key_type=types.int64, value_type=types.float64)
    own = Dict.empty(key_type=types.int64, value_type=types.float64)
    own_tot = np.zeros(m)
    for i in range(1, min(n_popfit, n)):
        key = cams[i - 1] * m + cams[i]
        own[key] = own.get(key, 0.0) + 1.0
        own_tot[cams[i - 1]] += 1.0

    is_cand = np.zeros(m, np.bool_)
    cand_g = np.empty(width, np.int64)
    cand_l = np.empty(width, np.int64)
    extra = np.empty(npop + nnear, np.int64)
    r = 0
    s = 0
    for i in range(n + 1):
        while s < k and steps[s] == i:
            if i >= 1:
                cur = cams[i - 1]
                curg = mine[cur]
                prev = cams[i - 2] if i >= 2 else -1
                slot = slots[i - 1]
                hh = leave_hour[i - 1]
                dd = leave_dow[i - 1]
                now = leave_s[i - 1]
                dw = dwell_s[i - 1]
                n1 = t1tot[cur]
                k2 = prev * m + cur
                n2 = t2tot.get(k2, 0.0) if prev >= 0 else 0.0
                k3 = k2 * nslots + slot
                n3 = t3tot.get(k3, 0.0) if prev >= 0 else 0.0
                ks = cur * nslots + slot
                ns = tstot.get(ks, 0.0)
                prow = 0.0
                for q in range(pop_ptr[curg], pop_ptr[curg + 1]):
                    prow += pop_val[q]
                prow -= own_tot[cur]
                # the subject's known places, by the back-off model (ties: popularity)
                nseen = 0
                for j in range(m):
                    if freq[j] > 0:
                        nseen += 1
                seen = np.empty(nseen, np.int64)
                sc = np.empty(nseen)
                q = 0
                for j in range(m):
                    if freq[j] > 0:
                        seen[q] = j
                        q += 1
                seen = seen[np.argsort(pos[mine[seen]])]
                for q in range(nseen):
                    sc[q] = _levels(
                        seen[q], mine[seen[q]], freq, total, g, alpha, m, cur, n1, t1,
                        prev, n2, t2, k2, n3, t3, k3,
                    )[1]  # fmt: skip
                order = np.argsort(-sc, kind="mergesort")
                nc = 0
                for q in range(min(nseen, max_own)):
                    j = seen[order[q]]
                    is_cand[j] = True
                    cand_l[nc] = j
                    cand_g[nc] = mine[j]
                    nc += 1
                for q in range(npop):
                    extra[q] = popular[q]
                for q in range(nnear):
                    extra[npop + q] = near[curg, q]
                for q in range(npop + nnear):
                    c = extra[q]
                    if c < 0:
                        continue
                    dup = False
                    for u in range(nc):
                        if cand_g[u] == c:
                            dup = True
                    if dup:
                        continue
                    j = np.searchsorted(mine, c)
                    if j < m and mine[j] == c:
                        if is_cand[j]:
                            continue
                        if freq[j] > 0:
                            is_cand[j] = True
                        else:
                            j = -1
                    else:
                        j = -1
                    cand_l[nc] = j
                    cand_g[nc] = c
                    nc += 1
                ncand[s] = nc
                tg = mine[cams[i]] if i < n else -1
                wt = tod_tot[(hh + 23) % 24] + tod_tot[hh] + tod_tot[(hh + 1) % 24]
                # the last move (previous -> current place) in a local plane, for the turn
                kx = math.cos(lat[curg] * math.pi / 180.0)
                mx = np.nan
                my = np.nan
                last_km = np.nan
                if prev >= 0:
                    pg = mine[prev]
                    mx = (lon[curg] - lon[pg]) * kx
                    my = lat[curg] - lat[pg]
                    last_km = _haversine_km(lat[pg], lon[pg], lat[curg], lon[curg])
                mnorm = math.sqrt(mx * mx + my * my)
                mean_dw = dwell_sum[cur] / freq[cur]
                for q in range(nc):
                    c = cand_g[q]
                    j = cand_l[q]
                    row = feats[r]
                    p3, p4 = _levels(
                        j, c, freq, total, g, alpha, m, cur, n1, t1, prev, n2, t2, k2, n3, t3, k3
                    )
                    row[0] = p4
                    row[1] = p3
                    f = freq[j] if j >= 0 else 0.0
                    row[2] = f / total
                    row[3] = math.log1p(f)
                    x = t1.get(cur * m + j, 0.0) if j >= 0 else 0.0
                    if n1 > 0:
                        row[4] = x / n1
                    row[5] = math.log1p(x)
                    x = t2.get(k2 * m + j, 0.0) if (j >= 0 and prev >= 0) else 0.0
                    if n2 > 0:
                        row[6] = x / n2
                    row[7] = math.log1p(x)
                    if ns > 0:
                        x = ts.get(ks * m + j, 0.0) if j >= 0 else 0.0
                        row[8] = x / ns
                    w = 0.0
                    if f > 0:
                        row[9] = math.log1p(i - 1 - last_idx[j])
                        row[10] = math.log1p(max(0.0, now - last_leave[j]) / 3600.0)
                        w = tod[j, (hh + 23) % 24] + tod[j, hh] + tod[j, (hh + 1) % 24]
                        row[11] = w / f
                    if wt > 0:
                        row[12] = w / wt
                    if dow_tot[dd] > 0:
                        row[13] = (dow[j, dd] if f > 0 else 0.0) / dow_tot[dd]
                    row[14] = math.log1p(max(dw, 0.0))
                    if mean_dw > 0:
                        row[15] = dw / mean_dw
                    if prow > 0:
                        x = _lookup(pop_ptr, pop_idx, pop_val, curg, c)
                        if j >= 0:
                            x -= own.get(cur * m + j, 0.0)
                        row[16] = max(x, 0.0) / prow
                    row[17] = math.log(g[c])
                    row[18] = 1.0 if c == curg else 0.0
                    row[19] = 1.0 if (prev >= 0 and c == mine[prev]) else 0.0
                    row[20] = math.log1p(i)
                    row[21] = _haversine_km(lat[curg], lon[curg], lat[c], lon[c])
                    row[22] = math.log1p(nseen)
                    cx = (lon[c] - lon[curg]) * kx
                    cy = lat[c] - lat[curg]
                    cnorm = math.sqrt(cx * cx + cy * cy)
                    if mnorm > 0 and cnorm > 0:
                        row[23] = (mx * cx + my * cy) / (mnorm * cnorm)
                    row[24] = last_km
                    cand_out[r] = c
                    step_of[r] = s
                    if c == tg:
                        label[r] = 1
                        true_in[s] = 1
                    r += 1
                if i < n and true_in[s] == 0:
                    t = cams[i]
                    pt = pos[tg]
                    if freq[t] > 0:  # known, not a candidate: among the other known places
                        st = _levels(
                            t, tg, freq, total, g, alpha, m, cur, n1, t1, prev, n2, t2, k2,
                            n3, t3, k3,
                        )[1]  # fmt: skip
                        better = 0
                        for q in range(nseen):
                            j = seen[order[q]]
                            if is_cand[j]:
                                continue
                            if sc[order[q]] > st or (sc[order[q]] == st and pos[mine[j]] < pt):
                                better += 1
                        absent_rank[s] = nc + 1 + better
                    else:  # after the candidates and the other known places: by popularity
                        ahead = 0
                        others = 0
                        for q in range(nc):
                            if pos[cand_g[q]] < pt:
                                ahead += 1
                        for q in range(nseen):
                            j = seen[q]
                            if not is_cand[j]:
                                others += 1
                                if pos[mine[j]] < pt:
                                    ahead += 1
                        absent_rank[s] = nc + others + 1 + pt - ahead
                for q in range(nc):
                    if cand_l[q] >= 0:
                        is_cand[cand_l[q]] = False
            s += 1
        if i == n:
            break
        c = cams[i]
        if i >= 1:
            a = cams[i - 1]
            key = a * m + c
            t1[key] = t1.get(key, 0.0) + 1.0
            t1tot[a] += 1.0
            ks = a * nslots + slots[i - 1]
            key = ks * m + c
            ts[key] = ts.get(key, 0.0) + 1.0
            tstot[ks] = tstot.get(ks, 0.0) + 1.0
            if i >= 2:
                k2 = cams[i - 2] * m + a
                key = k2 * m + c
                t2[key] = t2.get(key, 0.0) + 1.0
                t2tot[k2] = t2tot.get(k2, 0.0) + 1.0
                k3 = k2 * nslots + slots[i - 1]
                key = k3 * m + c
                t3[key] = t3.get(key, 0.0) + 1.0
                t3tot[k3] = t3tot.get(k3, 0.0) + 1.0
        freq[c] += 1.0
        total += 1.0
        last_idx[c] = i
        last_leave[c] = leave_s[i]
        tod[c, arr_hour[i]] += 1.0
        tod_tot[arr_hour[i]] += 1.0
        dow[c, arr_dow[i]] += 1.0
        dow_tot[arr_dow[i]] += 1.0
        dwell_sum[c] += dwell_s[i]
    return (
        feats[:r],
        cand_out[:r],
        label[:r],
        step_of[:r],
        ncand,
        true_in,
        absent_rank,
    )


# --- preparing visits ----------------------------------------------------------------------


@dataclass
class _Visits:
    """Visits sorted by subject and time, as arrays (global place codes into ``cams``)."""

    cams: np.ndarray  # place ids, sorted (code order)
    pids: list[str]  # subjects, sorted
    bounds: np.ndarray  # subject s: rows bounds[s]:bounds[s + 1]
    cam: np.ndarray
    arr_hour: np.ndarray
    arr_dow: np.ndarray
    leave_hour: np.ndarray
    leave_dow: np.ndarray
    slot: np.ndarray
    dwell_s: np.ndarray
    leave_s: np.ndarray
    leave: np.ndarray  # the visits' ends (datetime64[us], UTC)

    def lengths(self) -> np.ndarray:
        return np.diff(self.bounds)

    def truncated(self, lengths: np.ndarray) -> _Visits:
        """The first ``lengths[s]`` visits of every subject."""
        return self.take(np.arange(len(self.pids)), np.asarray(lengths, np.int64))

    def take(self, subjects: np.ndarray, lengths: np.ndarray) -> _Visits:
        """The first ``lengths[k]`` visits of subject ``subjects[k]``, for every k."""
        starts = self.bounds[:-1][subjects]
        rows = np.concatenate(
            [np.arange(a, a + k) for a, k in zip(starts, lengths, strict=True)]
            or [np.zeros(0, np.int64)]
        ).astype(np.int64)
        return _Visits(
            self.cams,
            [self.pids[s] for s in subjects],
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            *(getattr(self, f)[rows] for f in _PER_VISIT),
        )


_PER_VISIT = (
    "cam",
    "arr_hour",
    "arr_dow",
    "leave_hour",
    "leave_dow",
    "slot",
    "dwell_s",
    "leave_s",
    "leave",
)


def prepare_visits(visits: pd.DataFrame, tz: str = "UTC", min_visits: int = 1) -> _Visits:
    """Visits (pid, camera_id, arrive, leave) as :class:`_Visits`; subjects with fewer than
    ``min_visits`` visits are left out (their places stay in ``cams``)."""
    v, cams = P._prepare(visits, tz)
    arrive = pd.to_datetime(v["arrive"], utc=True).dt.tz_convert(tz)
    leave = pd.to_datetime(v["leave"], utc=True)
    leave_local = leave.dt.tz_convert(tz)
    leave_us = P.ts_to_epoch_us(leave)
    leave_s = leave_us / 1e6
    arrive_s = v["t"].to_numpy() / 1e6
    pid = v["pid"].astype(str).to_numpy()
    if len(v):
        cut = np.flatnonzero(pid[1:] != pid[:-1]) + 1
        bounds = np.concatenate([[0], cut, [len(v)]]).astype(np.int64)
    else:
        bounds = np.zeros(1, np.int64)
    data = _Visits(
        cams=cams,
        pids=[str(pid[a]) for a in bounds[:-1]],
        bounds=bounds,
        cam=v["cam"].to_numpy().astype(np.int64),
        arr_hour=arrive.dt.hour.to_numpy().astype(np.int64),
        arr_dow=arrive.dt.dayofweek.to_numpy().astype(np.int64),
        leave_hour=leave_local.dt.hour.to_numpy().astype(np.int64),
        leave_dow=leave_local.dt.dayofweek.to_numpy().astype(np.int64),
        slot=v["slot"].to_numpy().astype(np.int64),
        dwell_s=np.maximum(leave_s - arrive_s, 0.0),
        leave_s=leave_s,
        leave=leave_us.astype("datetime64[us]"),
    )
    if min_visits > 1:
        lengths = data.lengths()
        keep = np.flatnonzero(lengths >= min_visits)
        if len(keep) < len(lengths):
            data = data.take(keep, lengths[keep])
    return data


def _nearest(lat: np.ndarray, lon: np.ndarray, k: int) -> np.ndarray:
    """``[c, :k]``: the ``k`` places nearest to place ``c`` (great-circle), -1 where fewer or
    without coordinates; shape (places, 0) when no place has coordinates."""
    ok = np.flatnonzero(~(np.isnan(lat) | np.isnan(lon)))
    if k == 0 or len(ok) < 2:
        return np.zeros((len(lat), 0), np.int64)
    from scipy.spatial import cKDTree

    la, lo = np.radians(lat[ok]), np.radians(lon[ok])
    xyz = np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    kk = min(k + 1, len(ok))
    _, idx = cKDTree(xyz).query(xyz, k=kk)
    out = np.full((len(lat), k), -1, np.int64)
    nb = ok[np.asarray(idx).reshape(len(ok), kk)]
    for r, c in enumerate(ok):
        row = [x for x in nb[r] if x != c][:k]
        out[c, : len(row)] = row
    return out


def _warm_up() -> None:
    one = np.zeros(1, np.int64)
    f = np.zeros(1)
    ptr = np.zeros(2, np.int64)
    subject_features(
        one, one, one, one, one, one, one, f, f, np.ones(1), one, one, ptr, one[:0], f[:0],
        1, f, f, np.zeros((1, 0), np.int64), np.ones(1, np.int64), 1.0, P._N_SLOTS, 1,
    )  # fmt: skip


# --- the estimator ---------------------------------------------------------------------------


class NextPlaceRanker(BaseEstimator):
    """Learned next-place ranker: candidates, features per candidate, gradient-boosted trees.

    Parameters
    ----------
    max_own : int
        Known places of the subject among the candidates (the best by the back-off model).
    n_popular : int
        Most popular places of the population added to the candidates.
    n_nearby : int
        Places nearest to the current one added to the candidates (with ``coordinates``).
    alpha : float
        Smoothing of the back-off features (as ``sightgraph.analytics.prediction``).
    max_train_steps : int
        Prediction steps sampled (uniformly, ``random_state``) from the fitting visits to train
        the classifier; all of them when there are fewer.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Of the :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
    tz : str
        Time zone of the time-of-day and day-of-week features.
    coordinates : DataFrame or None
        camera_id, lat, lon: adds the distance from the current place (else NaN).
    n_threads : int or None
        OpenMP threads of the gradient boosting (None: its default, every core). 1 by default:
        on a shared 2-core machine its threads wait on each other (the 1M city's fit took 32 s
        on two threads, 5 s on one; scoring 500k rows 3.8 s against 1.1 s).
    n_jobs : int or None
        Threads that rank blocks of subjects at once (-1 or None: one per core); the results do
        not depend on it. 1 by default: on the shared 2-core machine two measured no faster.
    random_state : int
        Seeds the step sample and the classifier.

    Attributes
    ----------
    classes_ : ndarray
        The places seen in fitting (sorted ids).
    model_ : HistGradientBoostingClassifier or None
        The fitted classifier over the features ``features_`` (indices into :data:`FEATURES`;
        one that is NaN throughout the training rows is left out); None when the training rows
        had one class only (then candidates are ranked by the back-off probability).
    counts_, transitions_ : ndarray, sparse matrix
        The fitting visits' counts per place and transitions between places (the population).
    fit_lengths_ : dict
        Per subject, how many of its first visits were fitted (subtracted from the population's
        transitions when it is predicted: "where the others go").
    n_train_rows_, n_train_steps_ : int
        Candidate rows and steps it was trained on.

    Examples
    --------
    >>> t = pd.date_range("2026-03-02", periods=60, freq="3h", tz="UTC")
    >>> v = pd.DataFrame({"pid": "a", "camera_id": ["home", "work", "gym"] * 20,
    ...                   "arrive": t, "leave": t + pd.Timedelta(minutes=30)})
    >>> NextPlaceRanker(max_iter=20).fit(v).predict(v).tolist()   # after the last 'gym'
    ['home']
    """

    def __init__(
        self,
        *,
        max_own: int = 20,
        n_popular: int = 5,
        n_nearby: int = 5,
        alpha: float = 1.0,
        max_train_steps: int = 20_000,
        max_iter: int = 50,
        learning_rate: float = 0.2,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        tz: str = "UTC",
        coordinates: pd.DataFrame | None = None,
        n_threads: int | None = 1,
        n_jobs: int | None = 1,
        random_state: int = 0,
    ) -> None:
        self.max_own = max_own
        self.n_popular = n_popular
        self.n_nearby = n_nearby
        self.alpha = alpha
        self.max_train_steps = max_train_steps
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.tz = tz
        self.coordinates = coordinates
        self.n_threads = n_threads
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- sklearn API --

    def fit(self, X: pd.DataFrame, y: Any = None) -> NextPlaceRanker:
        """Fit on visits ``X`` (pid, camera_id, arrive, leave): every visit after a subject's
        first is a training step, predicted from the visits before it. ``y`` is ignored (the
        next place is the target)."""
        data = self._as_visits(X)
        return self._fit_visits(data, data.lengths())

    def predict_proba(self, X: pd.DataFrame | _Visits) -> pd.DataFrame:
        """The candidate next places of every subject of ``X`` after its last visit.

        Returns pid, camera_id, probability (the classifier's, normalised over the subject's
        candidates; other places 0), rank; by pid and rank."""
        data, rows, steps = self._final_rows(X)
        if not len(rows["cand"]):
            return pd.DataFrame(
                {
                    "pid": pd.Series(dtype=object),
                    "camera_id": pd.Series(dtype=object),
                    "probability": pd.Series(dtype="float64"),
                    "rank": pd.Series(dtype="int64"),
                }
            )
        score = self._score_rows(rows["feats"])
        step = rows["step"]
        tot = np.bincount(step, weights=score, minlength=len(steps))
        prob = score / np.where(tot[step] > 0, tot[step], 1.0)
        out = pd.DataFrame(
            {
                "pid": np.array(data.pids, dtype=object)[steps[step]],
                "camera_id": data.cams[rows["cand"]],
                "probability": prob,
                "_pos": rows["pos"],
            }
        )
        out = out.sort_values(["pid", "probability", "_pos"], ascending=[True, False, True])
        out["rank"] = out.groupby("pid").cumcount().astype("int64") + 1
        return out.drop(columns="_pos").reset_index(drop=True)

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """The most likely next place of every subject of ``X`` (a Series indexed by pid)."""
        p = self.predict_proba(X)
        top = p[p["rank"] == 1]
        return pd.Series(top["camera_id"].to_numpy(), index=top["pid"].to_numpy(), name="next")

    def score(self, X: pd.DataFrame, y: Any = None) -> float:
        """Acc@1 of predicting every visit of ``X`` after a subject's first from the visits
        before it (population counts from the fitting data)."""
        data = self._as_visits(X)
        ranks = self._ranks(data, np.ones(len(data.pids), np.int64))
        return float(np.mean(ranks == 1)) if len(ranks) else float("nan")

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.requires_fit = True
        tags.target_tags.required = False
        return tags

    # -- used by sightgraph.analytics.prediction --

    def _as_visits(self, X: Any) -> _Visits:
        if isinstance(X, _Visits):
            return X
        if not isinstance(X, pd.DataFrame):
            raise UsageError(
                "NextPlaceRanker takes visits: a DataFrame with pid, camera_id, arrive, leave"
            )
        return prepare_visits(X, self.tz)

    def _check_params(self) -> None:
        if self.max_own < 1 or self.n_popular < 0 or self.n_nearby < 0:
            raise UsageError("max_own must be >= 1, n_popular and n_nearby >= 0")
        if not self.alpha > 0:
            raise UsageError(f"alpha must be > 0, got {self.alpha}")
        if self.max_train_steps < 1:
            raise UsageError("max_train_steps must be >= 1")

    def _fit_visits(self, data: _Visits, n_fit: np.ndarray) -> NextPlaceRanker:
        """Fit on the first ``n_fit[s]`` visits of every subject of ``data``."""
        from scipy import sparse
        from sklearn.ensemble import HistGradientBoostingClassifier

        self._check_params()
        lengths = data.lengths()
        n_fit = np.minimum(np.asarray(n_fit, np.int64), lengths)
        nc = len(data.cams)
        fit_rows = data.truncated(n_fit)
        counts = np.bincount(fit_rows.cam, minlength=nc).astype(np.float64)
        a, b = fit_rows.cam[:-1], fit_rows.cam[1:]
        same = np.ones(len(a), bool)
        if len(a):
            starts = np.zeros(len(fit_rows.cam), bool)
            starts[fit_rows.bounds[:-1][n_fit > 0]] = True
            same = ~starts[1:]
        trans = sparse.csr_matrix(
            (np.ones(int(same.sum())), (a[same], b[same])), shape=(nc, nc), dtype=np.float64
        )
        trans.sum_duplicates()
        trans.sort_indices()
        self.classes_ = data.cams
        self.counts_ = counts
        self.transitions_ = trans
        self.fit_lengths_ = dict(zip(data.pids, n_fit.tolist(), strict=True))
        self._coords = self._coords_for(data.cams)
        # the training steps: i in 1..n_fit-1 of every subject, sampled
        n_steps = np.maximum(n_fit - 1, 0)
        total = int(n_steps.sum())
        rng = np.random.default_rng(self.random_state)
        share = min(1.0, self.max_train_steps / total) if total else 1.0
        pop = self._population(data.cams)
        feats, labels, n_train = [], [], 0
        _warm_up()
        for s in range(len(data.pids)):
            if n_steps[s] == 0:
                continue
            steps = np.arange(1, n_fit[s], dtype=np.int64)
            if share < 1.0:
                steps = steps[rng.random(len(steps)) < share]
            if not len(steps):
                continue
            out = self._subject(data, s, steps, int(n_fit[s]), pop)
            feats.append(out[0])
            labels.append(out[2])
            n_train += len(steps)
        X = np.concatenate(feats) if feats else np.zeros((0, _NF), np.float32)
        y = np.concatenate(labels) if labels else np.zeros(0, np.int8)
        self.n_train_rows_ = len(y)
        self.n_train_steps_ = n_train
        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )
        # a feature that is NaN throughout (no coordinates; no second-order context) is left out
        self.features_ = np.flatnonzero(~np.isnan(X).all(axis=0)) if len(X) else np.arange(_NF)
        if len(np.unique(y)) == 2:
            with self._threads():
                self.model_: HistGradientBoostingClassifier | None = model.fit(
                    X[:, self.features_], y
                )
        else:  # nothing to learn from (too few steps, or the truth never / always a candidate)
            self.model_ = None
        return self

    def _coords_for(self, cams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat = np.full(len(cams), np.nan)
        lon = np.full(len(cams), np.nan)
        if self.coordinates is not None and len(cams):
            c = self.coordinates.drop_duplicates("camera_id").set_index("camera_id")
            c.index = c.index.astype(str)
            pos = c.reindex(pd.Index(cams.astype(str)))
            lat = pos["lat"].to_numpy(dtype=np.float64)
            lon = pos["lon"].to_numpy(dtype=np.float64)
        return lat, lon

    def _population(self, cams: np.ndarray) -> dict[str, Any]:
        """The fitted population counts aligned to the places ``cams`` (a superset of, or equal
        to, ``classes_``): popularity, its order, the popular places, transitions."""
        from scipy import sparse

        check_is_fitted(self, "counts_")
        if len(cams) == len(self.classes_) and np.array_equal(cams, self.classes_):
            counts, trans = self.counts_, self.transitions_
            lat, lon = self._coords
        else:
            idx = np.searchsorted(cams, self.classes_)
            counts = np.zeros(len(cams))
            counts[idx] = self.counts_
            t = self.transitions_.tocoo()
            trans = sparse.csr_matrix(
                (t.data, (idx[t.row], idx[t.col])), shape=(len(cams), len(cams))
            )
            trans.sort_indices()
            lat, lon = self._coords_for(cams)
        g = P._popularity(counts)
        _, pos = P._popularity_order(g)
        order = np.argsort(pos)
        return {
            "g": g,
            "pos": pos,
            "popular": order[: self.n_popular].astype(np.int64),
            "ptr": trans.indptr.astype(np.int64),
            "idx": trans.indices.astype(np.int64),
            "val": trans.data.astype(np.float64),
            "lat": lat,
            "lon": lon,
            "near": _nearest(lat, lon, self.n_nearby),
        }

    def _subject(
        self, data: _Visits, s: int, steps: np.ndarray, n_popfit: int, pop: dict[str, Any]
    ) -> tuple[np.ndarray, ...]:
        a, b = data.bounds[s], data.bounds[s + 1]
        c = data.cam[a:b]
        mine = np.unique(c)
        local = np.searchsorted(mine, c).astype(np.int64)
        return subject_features(  # type: ignore[no-any-return]
            local,
            mine,
            data.arr_hour[a:b],
            data.arr_dow[a:b],
            data.leave_hour[a:b],
            data.leave_dow[a:b],
            data.slot[a:b],
            data.dwell_s[a:b],
            data.leave_s[a:b],
            pop["g"],
            pop["pos"],
            pop["popular"],
            pop["ptr"],
            pop["idx"],
            pop["val"],
            n_popfit,
            pop["lat"],
            pop["lon"],
            pop["near"],
            steps,
            float(self.alpha),
            P._N_SLOTS,
            int(self.max_own),
        )

    def _score_rows(self, feats: np.ndarray) -> np.ndarray:
        if self.model_ is None:  # no classifier: the back-off probability
            return feats[:, 0].astype(np.float64)
        with self._threads():
            return self.model_.predict_proba(feats[:, self.features_])[:, 1]  # type: ignore[no-any-return]

    def _threads(self) -> Any:
        from contextlib import nullcontext

        from threadpoolctl import threadpool_limits

        if self.n_threads is None:
            return nullcontext()
        return threadpool_limits(limits=int(self.n_threads), user_api="openmp")

    def _popfit(self, data: _Visits, s: int, n_fit: np.ndarray | None) -> int:
        if n_fit is not None:
            return int(n_fit[s])
        return int(self.fit_lengths_.get(data.pids[s], 0))

    def _final_rows(
        self, X: pd.DataFrame | _Visits
    ) -> tuple[_Visits, dict[str, np.ndarray], np.ndarray]:
        check_is_fitted(self, "counts_")
        data = self._as_visits(X)
        cams = np.union1d(self.classes_, data.cams).astype(object)
        if len(cams) != len(data.cams):  # re-code the visits over the fitted places too
            data.cam = np.searchsorted(cams, data.cams[data.cam]).astype(np.int64)
            data.cams = cams
        pop = self._population(data.cams)
        _warm_up()
        parts: dict[str, list[np.ndarray]] = {"feats": [], "cand": [], "step": [], "pos": []}
        steps: list[int] = []
        for s in range(len(data.pids)):
            n = int(data.bounds[s + 1] - data.bounds[s])
            out = self._subject(data, s, np.array([n], np.int64), self._popfit(data, s, None), pop)
            parts["feats"].append(out[0])
            parts["cand"].append(out[1])
            parts["step"].append(np.full(len(out[1]), len(steps), np.int64))
            parts["pos"].append(pop["pos"][out[1]])
            steps.append(s)
        rows = {
            k: (np.concatenate(v) if v else np.zeros((0, _NF) if k == "feats" else 0))
            for k, v in parts.items()
        }
        rows["cand"] = rows["cand"].astype(np.int64)
        rows["step"] = rows["step"].astype(np.int64)
        return data, rows, np.array(steps, np.int64)

    def _ranks(
        self,
        data: _Visits,
        start: np.ndarray,
        n_popfit: np.ndarray | None = None,
        batch_steps: int = 100_000,
    ) -> np.ndarray:
        """The rank of the true place of every visit ``i >= start[s]`` of every subject,
        predicted from the visits before it (in subject order, then time)."""
        check_is_fitted(self, "counts_")
        pop = self._population(data.cams)
        _warm_up()
        n = len(data.pids)
        jobs = self._n_jobs()
        if jobs > 1 and n > 1:  # blocks of subjects in threads (kernel and trees release the GIL)
            from concurrent.futures import ThreadPoolExecutor

            cuts = np.linspace(0, n, min(jobs, n) + 1).astype(np.int64)
            with ThreadPoolExecutor(len(cuts) - 1) as ex:
                parts = ex.map(
                    lambda ab: self._ranks_of(
                        data, start, n_popfit, pop, range(ab[0], ab[1]), batch_steps
                    ),
                    zip(cuts[:-1], cuts[1:], strict=True),
                )
                return np.concatenate(list(parts))
        return self._ranks_of(data, start, n_popfit, pop, range(n), batch_steps)

    def _n_jobs(self) -> int:
        import os

        if self.n_jobs is None or self.n_jobs < 1:
            return max(1, os.cpu_count() or 1)
        return int(self.n_jobs)

    def _ranks_of(
        self,
        data: _Visits,
        start: np.ndarray,
        n_popfit: np.ndarray | None,
        pop: dict[str, Any],
        subjects: range,
        batch_steps: int,
    ) -> np.ndarray:
        out: list[np.ndarray] = []
        batch: list[tuple[np.ndarray, ...]] = []
        n_batch = 0
        for s in subjects:
            n = int(data.bounds[s + 1] - data.bounds[s])
            lo = max(1, int(start[s]))
            if lo >= n:
                continue
            steps = np.arange(lo, n, dtype=np.int64)
            batch.append(self._subject(data, s, steps, self._popfit(data, s, n_popfit), pop))
            n_batch += len(steps)
            if n_batch >= batch_steps:
                out.append(self._rank_batch(batch, pop["pos"]))
                batch, n_batch = [], 0
        if batch:
            out.append(self._rank_batch(batch, pop["pos"]))
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def _rank_batch(self, batch: list[tuple[np.ndarray, ...]], pos: np.ndarray) -> np.ndarray:
        offsets = np.cumsum([0] + [len(b[4]) for b in batch])
        feats = np.concatenate([b[0] for b in batch])
        cand = np.concatenate([b[1] for b in batch])
        label = np.concatenate([b[2] for b in batch]).astype(bool)
        step = np.concatenate([b[3] + o for b, o in zip(batch, offsets[:-1], strict=True)])
        true_in = np.concatenate([b[5] for b in batch]).astype(bool)
        absent = np.concatenate([b[6] for b in batch])
        score = self._score_rows(feats) if len(feats) else np.zeros(0)
        n = int(offsets[-1])
        t_score = np.full(n, np.nan)
        t_pos = np.zeros(n, np.int64)
        t_score[step[label]] = score[label]
        t_pos[step[label]] = pos[cand[label]]
        cpos = pos[cand]
        better = (score > t_score[step]) | ((score == t_score[step]) & (cpos < t_pos[step]))
        n_better = np.bincount(step, weights=better, minlength=n).astype(np.int64)
        return np.where(true_in, n_better + 1, absent).astype(np.int64)
