"""Compiled kernels (numba, ``nogil=True, cache=True``): the co-location sweep, and the
Lempel-Ziv matches and model loop of next-camera prediction (:func:`lz_match_total`,
:func:`predict_subject`; see sightgraph.analytics.prediction).

Everything here works on integer codes: ``pid`` and camera codes are int32 ranks of the sorted
distinct strings (so ``code_a < code_b`` exactly when ``pid_a < pid_b``), times are int64
microseconds since the epoch, row indices and counts are int64.

The sweep never compares all pairs of a camera's sightings. Sightings are grouped by camera and
sorted by time; each sighting (the *anchor*) is matched only with the sightings inside its time
window, found with two moving pointers. A first pass counts the matches of every anchor (with a
sliding per-subject counter, so sightings of the anchor's own subject are not counted), a second
pass fills preallocated output arrays for a range of anchors whose matches fit a memory budget.

The on-disk cache of compiled code lives in ``NUMBA_CACHE_DIR``; when that is not set, this module
sets it to ``<repository>/.numba_cache`` for a source checkout and to ``~/.cache/sightgraph-numba``
otherwise (it must be set before the first kernel is compiled). With the threaded scheduler, call
:func:`warm_up` once before fanning out, so that threads never compile or write the cache at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _default_cache_dir() -> str:
    """``<repo>/.numba_cache`` in a writable source checkout, else ``~/.cache/sightgraph-numba``."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return str(repo / ".numba_cache")
    return str(Path.home() / ".cache" / "sightgraph-numba")


if not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = _default_cache_dir()

import numba  # noqa: E402  (NUMBA_CACHE_DIR must be set first)
import numpy as np  # noqa: E402
from numba import types  # noqa: E402
from numba.typed import Dict  # noqa: E402


def _load_numpy_support() -> None:
    """Import numba's NumPy support now, without its BLAS probe.

    When numba first compiles or loads a kernel it imports ``numba.np.arraymath``, which checks
    for a BLAS by importing ``scipy.linalg`` (a quarter of a second, in every job's process).
    None of these kernels calls BLAS (``np.dot``, ``np.linalg``), so the probe is answered "no"
    here; a process that imported ``scipy.linalg.cython_blas`` before keeps numba's BLAS.
    """
    probe = "scipy.linalg.cython_blas"
    if probe in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    sys.modules[probe] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules[probe]


_load_numpy_support()

if not numba.config.CACHE_DIR:  # type: ignore[attr-defined]  # numba read its config earlier
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # type: ignore[attr-defined]

__all__ = [
    "anchor_windows",
    "camera_pairs_within",
    "count_others_in_window",
    "fill_event_rows",
    "fill_pair_partials",
    "fold_events",
    "fold_pairs",
    "group_rows",
    "lz_match_total",
    "predict_subject",
    "scatter_by_bucket",
    "warm_up",
]

_jit = numba.njit(nogil=True, cache=True)


@_jit
def group_rows(keys, nkeys, ts):
    """Order rows by (key, ts): a stable counting sort by key, then a time sort of each group.

    Parameters
    ----------
    keys : int32 array
        Group (local camera) of each row, in ``[0, nkeys)``.
    nkeys : int
        Number of groups.
    ts : int64 array
        Time of each row (microseconds).

    Returns
    -------
    order : int64 array
        Row indices in (key, ts) order; rows with equal key and time keep their input order.
    starts : int64 array of nkeys + 1
        Group ``k`` is ``order[starts[k]:starts[k + 1]]``.
    """
    n = keys.shape[0]
    starts = np.zeros(nkeys + 1, np.int64)
    for i in range(n):
        starts[keys[i] + 1] += 1
    for k in range(nkeys):
        starts[k + 1] += starts[k]
    pos = starts[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        k = keys[i]
        order[pos[k]] = i
        pos[k] += 1
    for k in range(nkeys):
        s, e = starts[k], starts[k + 1]
        ordered = True
        for r in range(s + 1, e):
            if ts[order[r]] < ts[order[r - 1]]:
                ordered = False
                break
        if not ordered:
            seg = order[s:e].copy()
            sub = np.argsort(ts[seg], kind="mergesort")
            for r in range(e - s):
                order[s + r] = seg[sub[r]]
    return order, starts


@_jit
def count_others_in_window(starts, pid, ts, window, counter):
    """For each row: how many rows of OTHER subjects lie within ``window`` of it at its camera.

    Rows are in (camera, ts) order with camera ``k`` at ``starts[k]:starts[k + 1]``; the window
    is two-sided, ``|t - t_row| <= window``. ``counter`` is a zeroed int64 scratch array with one
    slot per pid code; it is zero again on return.
    """
    n = pid.shape[0]
    out = np.zeros(n, np.int64)
    for k in range(starts.shape[0] - 1):
        s, e = starts[k], starts[k + 1]
        lo = s
        hi = s
        for j in range(s, e):
            while hi < e and ts[hi] <= ts[j] + window:
                counter[pid[hi]] += 1
                hi += 1
            while ts[lo] < ts[j] - window:
                counter[pid[lo]] -= 1
                lo += 1
            out[j] = (hi - lo) - counter[pid[j]]
        for r in range(lo, hi):
            counter[pid[r]] -= 1
    return out


@_jit
def anchor_windows(starts, job_c1, job_c2, pid, ts, window, counter):
    """Candidate windows and match counts of every anchor (the counting pass).

    A job ``(c1, c2)`` with ``c1 == c2`` matches the sightings of one camera among themselves:
    anchor row ``j`` is matched with the earlier rows ``[lo, j)`` at most ``window`` before it
    (each unordered pair of rows once). A job with ``c1 != c2`` matches every row ``j`` of camera
    ``c2`` (the anchor) with the rows ``[lo, hi)`` of camera ``c1`` within ``window`` of it.
    Only rows of other subjects count as matches.

    Returns
    -------
    anc_row, anc_lo, anc_hi, anc_cnt : int64 arrays, one entry per anchor
        The anchor row, its candidate rows ``[anc_lo, anc_hi)`` and its number of matches.
    """
    total = 0
    for q in range(job_c2.shape[0]):
        total += starts[job_c2[q] + 1] - starts[job_c2[q]]
    anc_row = np.empty(total, np.int64)
    anc_lo = np.empty(total, np.int64)
    anc_hi = np.empty(total, np.int64)
    anc_cnt = np.empty(total, np.int64)
    a = 0
    for q in range(job_c2.shape[0]):
        c1 = job_c1[q]
        c2 = job_c2[q]
        s2, e2 = starts[c2], starts[c2 + 1]
        if c1 == c2:
            lo = s2
            for j in range(s2, e2):
                while ts[j] - ts[lo] > window:
                    counter[pid[lo]] -= 1
                    lo += 1
                anc_row[a] = j
                anc_lo[a] = lo
                anc_hi[a] = j
                anc_cnt[a] = (j - lo) - counter[pid[j]]
                counter[pid[j]] += 1
                a += 1
            for r in range(lo, e2):
                counter[pid[r]] -= 1
        else:
            s1, e1 = starts[c1], starts[c1 + 1]
            lo = s1
            hi = s1
            for j in range(s2, e2):
                while hi < e1 and ts[hi] <= ts[j] + window:
                    counter[pid[hi]] += 1
                    hi += 1
                while lo < hi and ts[lo] < ts[j] - window:
                    counter[pid[lo]] -= 1
                    lo += 1
                anc_row[a] = j
                anc_lo[a] = lo
                anc_hi[a] = hi
                anc_cnt[a] = (hi - lo) - counter[pid[j]]
                a += 1
            for r in range(lo, hi):
                counter[pid[r]] -= 1
    return anc_row, anc_lo, anc_hi, anc_cnt


@_jit
def fill_event_rows(anc_row, anc_lo, anc_hi, k0, k1, nevents, pid):
    """Rows of the events of anchors ``[k0, k1)``, oriented so that ``pid[row_a] < pid[row_b]``.

    ``nevents`` is the sum of their counts (from :func:`anchor_windows`): the output size.
    """
    row_a = np.empty(nevents, np.int64)
    row_b = np.empty(nevents, np.int64)
    m = 0
    for k in range(k0, k1):
        j = anc_row[k]
        pj = pid[j]
        for i in range(anc_lo[k], anc_hi[k]):
            pi = pid[i]
            if pi < pj:
                row_a[m] = i
                row_b[m] = j
                m += 1
            elif pi > pj:
                row_a[m] = j
                row_b[m] = i
                m += 1
    return row_a, row_b


@_jit
def fill_pair_partials(
    anc_row, anc_lo, anc_hi, k0, k1, pid, ts, npids, cache_bits, oa, ob, on, omin, omax
):
    """Partial pair aggregates of the events of anchors ``[k0, k1)``, into ``oa..omax``.

    Events are folded into a small direct-mapped cache keyed by the pair (``2**cache_bits``
    slots of 32 bytes, in CPU cache): an event of a cached pair updates its slot, any other evicts
    the slot's aggregate to the output. Nothing is lost: a pair may appear in several output rows,
    whose sums, minima and maxima :func:`fold_pairs` combines. A pair that meets repeatedly
    within a short stretch of time (the common case) leaves one row.

    The output arrays need room for one row per event (the counting pass gives the number).
    Columns: ``a < b`` pid codes (int32), ``n`` events, ``tmin``/``tmax`` the earliest/latest
    timestamp of both sightings of the events. Returns the number of rows written.
    """
    size = np.int64(1) << cache_bits
    mask = size - 1
    cache = np.empty((size, 4), np.int64)  # key, n, tmin, tmax
    cache[:, 0] = -1
    m = 0
    npids64 = np.int64(npids)
    for k in range(k0, k1):
        j = anc_row[k]
        pj = np.int64(pid[j])
        tj = ts[j]
        for i in range(anc_lo[k], anc_hi[k]):
            pi = np.int64(pid[i])
            if pi == pj:
                continue
            ti = ts[i]
            key = pi * npids64 + pj if pi < pj else pj * npids64 + pi
            lo_t = min(ti, tj)
            hi_t = max(ti, tj)
            h = ((key * np.int64(-7046029254386353131)) >> np.int64(24)) & mask
            old = cache[h, 0]
            if old == key:
                cache[h, 1] += 1
                if lo_t < cache[h, 2]:
                    cache[h, 2] = lo_t
                if hi_t > cache[h, 3]:
                    cache[h, 3] = hi_t
            else:
                if old >= 0:
                    oa[m] = old // npids64
                    ob[m] = old % npids64
                    on[m] = cache[h, 1]
                    omin[m] = cache[h, 2]
                    omax[m] = cache[h, 3]
                    m += 1
                cache[h, 0] = key
                cache[h, 1] = 1
                cache[h, 2] = lo_t
                cache[h, 3] = hi_t
    for h in range(size):
        old = cache[h, 0]
        if old >= 0:
            oa[m] = old // npids64
            ob[m] = old % npids64
            on[m] = cache[h, 1]
            omin[m] = cache[h, 2]
            omax[m] = cache[h, 3]
            m += 1
    return m


@_jit
def _emit_partners(a, t, touched, acc_n, acc_min, acc_max, out, ya, yb, yn, ymin, ymax):
    """Write the pairs ``(a, b)`` for ``b`` in ``touched[:t]``, in ``b`` order, from the
    accumulators at ``y*[out:]``; clear their counts. Returns the next free output row."""
    npids = acc_n.shape[0]
    if t * 8 > npids:  # many partners: one scan of the accumulators beats a sort
        t = 0
        for b in range(npids):
            if acc_n[b] > 0:
                touched[t] = b
                t += 1
    elif t <= 32:
        for x in range(1, t):
            v = touched[x]
            y = x - 1
            while y >= 0 and touched[y] > v:
                touched[y + 1] = touched[y]
                y -= 1
            touched[y + 1] = v
    else:
        touched[:t].sort()
    for x in range(t):
        b = touched[x]
        ya[out] = a
        yb[out] = b
        yn[out] = acc_n[b]
        ymin[out] = acc_min[b]
        ymax[out] = acc_max[b]
        acc_n[b] = 0
        out += 1
    return out


@_jit
def _fold_groups(start, base, sb, sn, smin, smax, npids, ya, yb, yn, ymin, ymax):
    """Rows grouped by ``a`` (group ``q`` = rows ``[start[q], start[q + 1])``, ``a = base + q``;
    columns ``sb`` (int32), ``sn`` (counts, or None for one event per row), ``smin``,
    ``smax``) -> one row per pair, sorted by ``(a, b)``, at ``y*[0:]``.

    Each group is summed into dense per-``b`` accumulators (``npids`` entries, in CPU cache for
    up to ~100k subjects) and written out in ``b`` order. ``y*`` may be the arrays that hold the
    groups: a group is read before its output is written, and its output never reaches past it.
    """
    acc_n = np.zeros(npids, np.int64)
    acc_min = np.empty(npids, np.int64)
    acc_max = np.empty(npids, np.int64)
    touched = np.empty(npids, np.int32)
    out = 0
    for q in range(start.shape[0] - 1):
        s, e = start[q], start[q + 1]
        if s == e:
            continue
        t = 0
        for p in range(s, e):
            b = sb[p]
            c = np.int64(1) if sn is None else sn[p]
            if acc_n[b] == 0:
                touched[t] = b
                t += 1
                acc_n[b] = c
                acc_min[b] = smin[p]
                acc_max[b] = smax[p]
            else:
                acc_n[b] += c
                if smin[p] < acc_min[b]:
                    acc_min[b] = smin[p]
                if smax[p] > acc_max[b]:
                    acc_max[b] = smax[p]
        out = _emit_partners(
            base + q, t, touched, acc_n, acc_min, acc_max, out, ya, yb, yn, ymin, ymax
        )
    return out


@_jit
def fold_events(
    anc_row, anc_lo, anc_hi, k0, k1, pid, ts, npids, sb, smin, smax, ya, yb, yn, ymin, ymax
):
    """Pair aggregates of the events of anchors ``[k0, k1)``, sorted by ``(a, b)``, at ``y*``.

    Exact (every pair of the chunk once): the events are counted per ``a`` (the smaller pid),
    placed by a counting sort into the scratch arrays ``sb`` (int32), ``smin``, ``smax`` (one
    entry per event), and each ``a``'s events are summed by :func:`_fold_groups`. Columns as in
    :func:`fill_pair_partials`. Returns the number of pairs.
    """
    start = np.zeros(npids + 1, np.int64)
    for k in range(k0, k1):
        pj = pid[anc_row[k]]
        for i in range(anc_lo[k], anc_hi[k]):
            pi = pid[i]
            if pi != pj:
                start[min(pi, pj) + 1] += 1
    for q in range(npids):
        start[q + 1] += start[q]
    pos = start[:-1].copy()
    for k in range(k0, k1):
        j = anc_row[k]
        pj = pid[j]
        tj = ts[j]
        for i in range(anc_lo[k], anc_hi[k]):
            pi = pid[i]
            if pi == pj:
                continue
            ti = ts[i]
            a = min(pi, pj)
            p = pos[a]
            sb[p] = max(pi, pj)
            smin[p] = min(ti, tj)
            smax[p] = max(ti, tj)
            pos[a] = p + 1
    return _fold_groups(start, 0, sb, None, smin, smax, npids, ya, yb, yn, ymin, ymax)


@_jit
def fold_pairs(m, a, b, n, tmin, tmax, a0, a1, npids, ya, yb, yn, ymin, ymax):
    """Sum/min/max the rows ``[0, m)`` of each pair; write them sorted by ``(a, b)`` to ``y*``.

    Every ``a`` must be in ``[a0, a1)`` and every ``b`` in ``[0, npids)``. A counting sort by
    ``a`` into ``y*``, then :func:`_fold_groups` in place. Returns the number of rows written.
    """
    span = a1 - a0
    start = np.zeros(span + 1, np.int64)
    for r in range(m):
        start[a[r] - a0 + 1] += 1
    for q in range(span):
        start[q + 1] += start[q]
    pos = start[:-1].copy()
    for r in range(m):
        q = a[r] - a0
        p = pos[q]
        yb[p] = b[r]
        yn[p] = n[r]
        ymin[p] = tmin[r]
        ymax[p] = tmax[r]
        pos[q] = p + 1
    return _fold_groups(start, a0, yb, yn, ymin, ymax, npids, ya, yb, yn, ymin, ymax)


@_jit
def scatter_by_bucket(m, bucket_of, a, b, n, tmin, tmax, nbuckets, ya, yb, yn, ymin, ymax):
    """Stable counting sort of rows ``[0, m)`` by ``bucket_of[a]`` into ``y*``; the offsets."""
    starts = np.zeros(nbuckets + 1, np.int64)
    for r in range(m):
        starts[bucket_of[a[r]] + 1] += 1
    for q in range(nbuckets):
        starts[q + 1] += starts[q]
    pos = starts[:-1].copy()
    for r in range(m):
        q = bucket_of[a[r]]
        p = pos[q]
        ya[p] = a[r]
        yb[p] = b[r]
        yn[p] = n[r]
        ymin[p] = tmin[r]
        ymax[p] = tmax[r]
        pos[q] = p + 1
    return starts


@_jit
def camera_pairs_within(lat_rad, order, max_dlat):
    """Candidate camera pairs whose latitudes differ by at most ``max_dlat`` radians.

    ``order`` sorts ``lat_rad``; returns index pairs ``(i, j)`` with ``i < j`` (in input
    indices). A great-circle distance is at least ``earth_radius * |dlat|``, so every pair within
    a radius is among the candidates; the caller checks the exact distance.
    """
    n = order.shape[0]
    total = 0
    hi = 0
    for p in range(n):
        if hi < p + 1:
            hi = p + 1
        while hi < n and lat_rad[order[hi]] - lat_rad[order[p]] <= max_dlat:
            hi += 1
        total += hi - p - 1
    ci = np.empty(total, np.int64)
    cj = np.empty(total, np.int64)
    m = 0
    hi = 0
    for p in range(n):
        if hi < p + 1:
            hi = p + 1
        while hi < n and lat_rad[order[hi]] - lat_rad[order[p]] <= max_dlat:
            hi += 1
        for q in range(p + 1, hi):
            x, y = order[p], order[q]
            if x < y:
                ci[m] = x
                cj[m] = y
            else:
                ci[m] = y
                cj[m] = x
            m += 1
    return ci, cj


@_jit
def lz_match_total(codes):
    """Sum over i of L_i, the length of the shortest substring starting at i that does not
    occur in ``codes[:i]`` (``n - i + 1`` when every one does): the Lempel-Ziv estimator's
    denominator (sightgraph.analytics.prediction.lz_entropy). O(n^2) worst case, fine for a
    subject's few thousand visits."""
    n = len(codes)
    total = 0
    for i in range(n):
        best = 0
        for j in range(i):
            if codes[j] != codes[i]:
                continue
            k = 0
            while i + k < n and j + k < i and codes[j + k] == codes[i + k]:
                k += 1
            if k > best:
                best = k
        if i + best < n:
            total += best + 1
        else:
            total += n - i + 1
    return total


@_jit
def _row_of(d, key):
    """The row index stored under ``key``, or -1."""
    if key in d:
        return d[key]
    return -1


@_jit
def _count_next(d, key, cam, rows, sums, nrows):
    """Count ``cam`` as the next camera of context ``key`` (a new row if the context is new);
    returns the number of rows in use."""
    r = _row_of(d, key)
    if r < 0:
        r = nrows
        d[key] = r
        nrows += 1
    rows[r, cam] += 1.0
    sums[r] += 1.0
    return nrows


@_jit
def _zero_score(model, gc, total, alpha, sums, found, nfound):
    """Score of a camera the subject never visited, from its popularity ``gc``: non-decreasing
    in ``gc`` (each step multiplies or divides by a positive number)."""
    if model != 2:
        return 0.0
    p = (0.0 + alpha * gc) / (total + alpha)
    for k in range(nfound):
        p = (0.0 + alpha * p) / (sums[found[k]] + alpha)
    return p


@_jit
def _score(model, c, loc, freq, total, g, alpha, rows, sums, found, nfound):
    """Score of global camera ``c`` (local index ``loc``, -1 if the subject never visited it)
    under ``model`` (0 most frequent, 1 first-order Markov, 2 back-off) in the state whose
    context rows are ``found[:nfound]``; the same floating-point operations, in the same order,
    as the documented formulas (sightgraph.analytics.prediction)."""
    if loc < 0:
        return _zero_score(model, g[c], total, alpha, sums, found, nfound)
    f = freq[loc]
    if model == 0:
        return f
    if model == 1:
        tie = f / (total + 1.0)
        if nfound == 0:
            return tie
        return rows[found[0], loc] + tie
    p = (f + alpha * g[c]) / (total + alpha)
    for k in range(nfound):
        r = found[k]
        p = (rows[r, loc] + alpha * p) / (sums[r] + alpha)
    return p


@_jit
def _count_zero_above(model, g_sorted, st, strict, total, alpha, sums, found, nfound):
    """How many cameras, scored as never visited, score > ``st`` (``strict``) or >= ``st``:
    a prefix of the popularity order, found by binary search."""
    lo = 0
    hi = len(g_sorted)
    while lo < hi:
        mid = (lo + hi) // 2
        v = _zero_score(model, g_sorted[mid], total, alpha, sums, found, nfound)
        if v > st or (not strict and v == st):
            lo = mid + 1
        else:
            hi = mid
    return lo


@_jit
def predict_subject(cams, slots, mine, g, g_sorted, pos, n_fit, alpha, nslots, want_final):
    """Next-camera prediction for one subject's visits (sightgraph.analytics.prediction).

    ``cams``: the visits' cameras as indices into ``mine`` (the subject's cameras, global
    indices, sorted); ``slots``: each visit's time slot; ``g``: the population popularity of
    every camera, ``g_sorted`` the same in rank order (descending, ties by index) and ``pos``
    each camera's position in that order. Walks the visits in order; each visit from ``n_fit``
    on is ranked among all cameras by the three models (score, then popularity, then index) before it is counted.
    Context rows: the current camera; the previous and the current; those and the current
    visit's slot (a level is used only if the ones below it were met).

    Returns (ranks[3, n - n_fit], p) with ``p`` the back-off model's probabilities of every
    camera after the last visit when ``want_final`` (else empty).
    """
    n = len(cams)
    nl = len(mine)
    nc = len(g)
    g2l = np.full(nc, -1, np.int64)
    for j in range(nl):
        g2l[mine[j]] = j
    freq = np.zeros(nl)
    # one row of next-camera counts per context met (at most three per visit); grown by
    # doubling, so a long history over many cameras does not allocate 3n rows up front
    cap = min(3 * n + 3, 16)
    rows = np.zeros((cap, nl))
    sums = np.zeros(cap)
    nrows = 0
    d0 = Dict.empty(key_type=types.int64, value_type=types.int64)
    d1 = Dict.empty(key_type=types.int64, value_type=types.int64)
    d2 = Dict.empty(key_type=types.int64, value_type=types.int64)
    n_test = max(0, n - n_fit)
    ranks = np.zeros((3, n_test), np.int64)
    found = np.zeros(3, np.int64)
    total = 0.0
    before = -1
    prev = -1
    prev_slot = 0
    for i in range(n + 1):
        if i >= n_fit or i == n:
            # the context rows of the current state
            nfound = 0
            if prev >= 0:
                r = _row_of(d0, prev)
                if r >= 0:
                    found[0] = r
                    nfound = 1
                    if before >= 0:
                        k1 = before * nl + prev
                        r = _row_of(d1, k1)
                        if r >= 0:
                            found[1] = r
                            nfound = 2
                            r = _row_of(d2, k1 * nslots + prev_slot)
                            if r >= 0:
                                found[2] = r
                                nfound = 3
            if i == n:
                if want_final:
                    final = np.empty(nc)
                    for c in range(nc):
                        final[c] = _score(
                            2, c, g2l[c], freq, total, g, alpha, rows, sums, found, nfound
                        )
                    return ranks, final
                break
            cam = cams[i]
            t = mine[cam]
            pt = pos[t]
            for model in range(3):
                st = _score(model, t, cam, freq, total, g, alpha, rows, sums, found, nfound)
                # cameras that beat t (score, then popularity and index = pos): the subject's
                # own ones counted directly; all others score as never visited, so they are a
                # prefix of the popularity order: count everyone that way, remove the own ones
                better = 0
                for j in range(nl):
                    c = mine[j]
                    sc = _score(model, c, j, freq, total, g, alpha, rows, sums, found, nfound)
                    if sc > st or (sc == st and pos[c] < pt):
                        better += 1
                    zc = _zero_score(model, g[c], total, alpha, sums, found, nfound)
                    if zc > st or (zc == st and pos[c] < pt):
                        better -= 1
                above = _count_zero_above(
                    model, g_sorted, st, True, total, alpha, sums, found, nfound
                )
                upto = _count_zero_above(
                    model, g_sorted, st, False, total, alpha, sums, found, nfound
                )
                better += above + max(0, min(upto, pt) - above)
                ranks[model, i - n_fit] = better + 1
        cam = cams[i]
        freq[cam] += 1.0
        total += 1.0
        if nrows + 3 > rows.shape[0]:
            grown = np.zeros((2 * rows.shape[0] + 3, nl))
            grown[:nrows] = rows[:nrows]
            rows = grown
            more = np.zeros(grown.shape[0])
            more[:nrows] = sums[:nrows]
            sums = more
        if prev >= 0:
            nrows = _count_next(d0, prev, cam, rows, sums, nrows)
            if before >= 0:
                k1 = before * nl + prev
                nrows = _count_next(d1, k1, cam, rows, sums, nrows)
                nrows = _count_next(d2, k1 * nslots + prev_slot, cam, rows, sums, nrows)
        before = prev
        prev = cam
        prev_slot = slots[i]
    return ranks, np.empty(0)


def warm_up(
    pairs: bool = True, events: bool = True, crowd: bool = True, radius: bool = True
) -> None:
    """Compile (or load from the on-disk cache) the kernels a job needs, for the dtypes it uses.

    Call it once in the driver (and once per distributed worker) before tasks run in threads.
    Loading a cached kernel takes about a tenth of a second, so only the needed ones are loaded.
    """
    i32 = np.zeros(3, np.int32)
    i64 = np.arange(3, dtype=np.int64)
    counter = np.zeros(3, np.int64)
    order, starts = group_rows(i32, 1, i64)
    if crowd:
        count_others_in_window(starts, i32, i64, np.int64(1), counter)
    job = np.zeros(1, np.int64)
    ar, al, ah, ac = anchor_windows(starts, job, job, i32, i64, np.int64(1), counter)
    if events:
        fill_event_rows(ar, al, ah, 0, 3, 0, i32)
    if pairs:
        bufs = (np.zeros(3, np.int32), np.zeros(3, np.int32), i64.copy(), i64.copy(), i64.copy())
        out = (np.zeros(3, np.int32), np.zeros(3, np.int32), i64.copy(), i64.copy(), i64.copy())
        m = fill_pair_partials(ar, al, ah, 0, 3, i32, i64, 3, 4, *bufs)
        fold_events(ar, al, ah, 0, 3, i32, i64, 3, bufs[1], bufs[3], bufs[4], *out)
        fold_pairs(m, *bufs, 0, 3, 3, *out)
        scatter_by_bucket(m, np.zeros(3, np.int32), *bufs, 1, *out)
    if radius:
        camera_pairs_within(np.zeros(3, np.float64), i64, 0.1)
