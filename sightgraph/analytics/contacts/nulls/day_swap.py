"""The day-swap null (:mod:`sightgraph.analytics.contacts`, *Null model*): every pair's
expected number of meetings when each subject's days are swapped among its own days of the same
stratum, and per meeting the share of swapped day pairs that meet at that place and time of day.
Compiled (numba, ``nogil=True, cache=True``)."""

from __future__ import annotations

import numpy as np

from sightgraph.analytics.contacts._common import _DAY_BITS, _DAY_MASK, _jit, _prefetch

#: Prefetch distances in pairs (:func:`_day_swap_null`): a pair's subject B's runs' offset and
#: day bits, its runs, then the sightings of the runs at cameras A saw too.
_AHEAD_OFFSETS = 16
_AHEAD_RUNS = 8
_AHEAD_SIGHTINGS = 4


@_jit
def _popcount(x):
    """Set bits of a uint64 (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


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
def _count(ia, ja, lo, hi, s_tk, stratum, w):
    """Swapped-day matches of A's sightings ``[ia, ja)`` and B's ``[lo, hi)`` (each sorted by
    time of day) at one place: same time of day within ``w``, distinct days of one stratum.

    The same sweep as :func:`_fill`, kept apart on purpose: one function with a ``write`` flag
    (numba does not specialise on it) made the kernel ~20% slower (0.80 against 0.68 s on the
    2,000-person city)."""
    n = 0
    j0 = lo
    for ii in range(ia, ja):
        ti = s_tk[ii] >> _DAY_BITS
        di = s_tk[ii] & _DAY_MASK
        while j0 < hi and (s_tk[j0] >> _DAY_BITS) < ti - w:
            j0 += 1
        jj = j0
        while jj < hi and (s_tk[jj] >> _DAY_BITS) <= ti + w:
            dj = s_tk[jj] & _DAY_MASK
            if di != dj and stratum[di] == stratum[dj]:
                n += 1
            jj += 1
    return n


@_jit
def _fill(ia, ja, lo, hi, place, s_tk, stratum, ndays, w, x_key, x_t, x_te, nx):
    """Write the matches :func:`_count` counts from ``x[nx]`` on (capacity checked by the
    caller: arrays are never reassigned in the loop, which keeps numba's loop tight)."""
    j0 = lo
    for ii in range(ia, ja):
        ti = s_tk[ii] >> _DAY_BITS
        di = s_tk[ii] & _DAY_MASK
        while j0 < hi and (s_tk[j0] >> _DAY_BITS) < ti - w:
            j0 += 1
        jj = j0
        while jj < hi and (s_tk[jj] >> _DAY_BITS) <= ti + w:
            dj = s_tk[jj] & _DAY_MASK
            if di != dj and stratum[di] == stratum[dj]:
                x_key[nx] = (place * ndays + di) * ndays + dj
                tj = s_tk[jj] >> _DAY_BITS
                x_t[nx] = min(ti, tj)
                x_te[nx] = max(ti, tj)
                nx += 1
            jj += 1
    return nx


@_jit
def _fill_shared(
    A, B, r_off, r_cam, r_lh, a_run, a_stamp, s_tk, stratum, ndays, w, x_key, x_t, x_te,
    count_only=False,
):  # fmt: skip
    """With R = 0: the swapped-day matches of A and B at every camera both saw (B's runs in
    camera order, A's looked up in ``a_run`` where ``a_stamp`` holds A + 1), written to the
    buffers; their number, or -1 when they do not fit; with ``count_only``, how many there are
    (nothing written). A function of its own so that the buffers are never reassigned in its
    loop: a conditional growth inside the kernel's loop over B's runs cost 30% of the
    kernel (numba then reloads and counts references to the arrays each time round)."""
    nx = 0
    cap = len(x_key)
    for rb in range(r_off[B], r_off[B + 1]):
        cb = r_cam[rb]
        if a_stamp[cb] != A + 1:  # a camera both saw, in camera order
            continue
        ra = a_run[cb]
        ia, ja, lo, hi = r_lh[ra, 0], r_lh[ra, 1], r_lh[rb, 0], r_lh[rb, 1]
        if count_only:
            nx += _count(ia, ja, lo, hi, s_tk, stratum, w)
        elif (  # a bound first; count only when it is too big
            nx + (ja - ia) * (hi - lo) > cap and nx + _count(ia, ja, lo, hi, s_tk, stratum, w) > cap
        ):
            return -1
        else:
            nx = _fill(ia, ja, lo, hi, cb, s_tk, stratum, ndays, w, x_key, x_t, x_te, nx)
    return nx


@_jit
def _fill_near(
    A, B, s_off, s_cam, s_tk, n_off, n_cam, stratum, ndays, w, x_key, x_t, x_te, count_only=False
):
    """With R > 0: :func:`_fill_shared` for every camera of A and every camera within R of it
    that B saw (the place of a match: the smaller camera code); with ``count_only``, how many
    matches there are (nothing written: the R > 0 path is not the hot one, one function will do)."""
    nx = 0
    cap = len(x_key)
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
            if count_only:
                nx += _count(ia, ja, lo, hi, s_tk, stratum, w)
            elif (
                nx + (ja - ia) * (hi - lo) > cap
                and nx + _count(ia, ja, lo, hi, s_tk, stratum, w) > cap
            ):
                return -1
            else:
                nx = _fill(
                    ia, ja, lo, hi, min(c1, c2), s_tk, stratum, ndays, w, x_key, x_t, x_te, nx
                )
        ia = ja
    return nx


#: Up to this many swapped-day matches a pair's are ordered by insertion sort into buffers the
#: kernel keeps (median 3 matches a pair on the 1M city): an ``np.argsort`` per pair allocates
#: its temporaries, which cost more than the sort.
_SMALL_SORT = 32


@_jit
def _small_argsort(x_key, x_t, nx, o2):
    """``o2[:nx]``: the matches in (key, time of day) order, by insertion sort (for at most
    :data:`_SMALL_SORT` of them). Matches equal in both merge the same way in any order."""
    for u in range(nx):
        kk = x_key[u]
        tt = x_t[u]
        v = u
        while v > 0 and (x_key[o2[v - 1]] > kk or (x_key[o2[v - 1]] == kk and x_t[o2[v - 1]] > tt)):
            o2[v] = o2[v - 1]
            v -= 1
        o2[v] = u


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
    s_tk,
    n_off,
    n_cam,
    d_off,
    d_day,
    d_mask,
    st_mask,
    stratum,
    nstrata,
    w,
    g,
    r_off,
    r_cam,
    r_lh,
    identity,
    cap=1 << 16,
):
    """The day-swap null of every pair (see :mod:`sightgraph.analytics.contacts`).

    Per pair ``k`` (codes ``pair_a[k] < pair_b[k]``, meetings ``[m_lo[k], m_hi[k])`` sorted by
    place then start time of day): ``expected``, the days A / B / both were seen, per meeting
    ``rho``, ``r`` and the slot's expected meetings, and ``floor`` (what ``expected`` would be
    had the swapped days produced no meeting: the shrinkage alone). Sightings are a CSR by pid (``s_off``), each block sorted by camera then
    time of day; ``n_cam[n_off[c]:n_off[c+1]]`` are the cameras within R of camera c (itself
    included, sorted); ``d_day[d_off[p]:d_off[p+1]]`` the sorted days pid p was seen.
    ``s_tk[i]``: sighting i's time of day << ``_DAY_BITS`` | day. ``d_mask[p]``: the days pid
    p was seen as bits when there are at most 64 (else empty: the sorted lists are merged),
    ``st_mask[s]`` the days of stratum s. ``r_off``/``r_cam``/``r_lh``: each pid's camera runs (``r_lh[r]``
    = [lo, hi) of the sightings at ``r_cam[r]``); with ``identity`` (R = 0: every camera's
    only neighbour is itself) only the cameras both subjects saw are visited: B's runs, looked
    up among A's (indexed by camera once per A, as pairs come grouped by A). A pair's work is
    mostly waiting for B's data (pairs come grouped by A, B varies): the layout (a sighting's
    time and day in one int64, a run's bounds side by side, days as bits) and prefetching B's
    data a few pairs ahead (:func:`_prefetch`) made the kernel 25-30% and then another ~20%
    faster on the 10M city than one array per field.
    """
    npairs = len(pair_a)
    ndays = len(stratum)
    expected = np.zeros(npairs)
    floor = np.zeros(npairs)
    days_a = np.zeros(npairs, np.int64)
    days_b = np.zeros(npairs, np.int64)
    days_ab = np.zeros(npairs, np.int64)
    rho = np.zeros(len(m_place))
    slot_expected = np.zeros(len(m_place))
    rr = np.ones(len(m_place), np.int64)
    stamp = np.zeros(ndays * ndays, np.int64)
    stamp_id = 0
    # identity: camera -> A's run there, valid where a_stamp holds A + 1
    a_run = np.zeros(max(len(n_off) - 1, 1), np.int64)
    a_stamp = np.zeros(max(len(n_off) - 1, 1), np.int64)
    # ``cap``: the match buffers' first size (one pair's matches, its swapped meetings and their
    # order), doubled (at least) whenever a pair needs more (the tests start it at one row)
    k = 0
    while k < npairs:
        buffers = np.empty((12, cap), np.int64)
        k, need, stamp_id = _day_swap_pairs(
            k, pair_a, pair_b, m_lo, m_hi, m_place, m_day, m_s, m_e, s_off, s_cam, s_tk,
            n_off, n_cam, d_off, d_day, d_mask, st_mask, stratum, nstrata, w, g, r_off,
            r_cam, r_lh, identity, expected, floor, days_a, days_b, days_ab, rho, rr,
            slot_expected, stamp, stamp_id, a_run, a_stamp, buffers,
        )  # fmt: skip
        cap = max(need, 2 * cap)  # (pair k did not fit: it is scored again, with room)
    return expected, days_a, days_b, days_ab, rho, rr, slot_expected, floor


@_jit
def _day_swap_pairs(
    k0, pair_a, pair_b, m_lo, m_hi, m_place, m_day, m_s, m_e, s_off, s_cam, s_tk, n_off,
    n_cam, d_off, d_day, d_mask, st_mask, stratum, nstrata, w, g, r_off, r_cam, r_lh,
    identity, expected, floor, days_a, days_b, days_ab, rho, rr, slot_expected, stamp,
    stamp_id, a_run, a_stamp, buffers,
):  # fmt: skip
    """:func:`_day_swap_null`'s pairs from ``k0`` on, into its arrays; returns ``(npairs, 0,
    stamp_id)``, or ``(k, need, stamp_id)`` when pair ``k``'s matches need buffers of ``need``
    rows (``buffers``: twelve rows as long as any pair's matches so far). The buffers are never
    reassigned in this loop: a conditional growth of them inside the loop over pairs and runs
    made numba reload (and count references to) them every time round, 30-40% of the kernel."""
    npairs = len(pair_a)
    ndays = len(stratum)
    x_key, x_t, x_te = buffers[0], buffers[1], buffers[2]
    w_place, w_da, w_db, w_s, w_e = buffers[3], buffers[4], buffers[5], buffers[6], buffers[7]
    o2 = buffers[8]
    na = np.zeros(nstrata, np.int64)
    nb = np.zeros(nstrata, np.int64)
    nab = np.zeros(nstrata, np.int64)
    m_off = np.zeros(nstrata, np.int64)
    run_of_pid = -1
    maxdur = 0
    for k in range(k0, npairs):
        A = pair_a[k]
        B = pair_b[k]
        if k + _AHEAD_OFFSETS < npairs:
            _prefetch(r_off, pair_b[k + _AHEAD_OFFSETS])
            if len(d_mask):
                _prefetch(d_mask, pair_b[k + _AHEAD_OFFSETS])
        if k + _AHEAD_RUNS < npairs:
            r0 = r_off[pair_b[k + _AHEAD_RUNS]]  # (prefetched 8 pairs ago)
            if r0 < len(r_cam):
                _prefetch(r_cam, r0)
                _prefetch(r_lh, 2 * r0)
                if r0 + 4 < len(r_cam):
                    _prefetch(r_lh, 2 * r0 + 8)
        # days seen, per stratum
        na[:] = 0
        nb[:] = 0
        nab[:] = 0
        if len(d_mask):  # days as bits: no merge of two lists
            ma = d_mask[A]
            mb = d_mask[B]
            for st in range(nstrata):
                na[st] = _popcount(ma & st_mask[st])
                nb[st] = _popcount(mb & st_mask[st])
                nab[st] = _popcount(ma & mb & st_mask[st])
        else:
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
        if identity:
            if run_of_pid != A:  # pairs come grouped by A: index A's runs by camera once
                run_of_pid = A
                for ra in range(r_off[A], r_off[A + 1]):
                    a_run[r_cam[ra]] = ra
                    a_stamp[r_cam[ra]] = A + 1
            if k + _AHEAD_SIGHTINGS < npairs and pair_a[k + _AHEAD_SIGHTINGS] == A:
                # the sightings a later pair of this A will merge (its runs are cached by now)
                bq = pair_b[k + _AHEAD_SIGHTINGS]
                for rq in range(r_off[bq], r_off[bq + 1]):
                    if a_stamp[r_cam[rq]] == A + 1:
                        lo_q = r_lh[rq, 0]
                        _prefetch(s_tk, lo_q)
                        if r_lh[rq, 1] - lo_q > 8:
                            _prefetch(s_tk, lo_q + 8)
            args = (A, B, r_off, r_cam, r_lh, a_run, a_stamp, s_tk, stratum, ndays, w)
            nx = _fill_shared(*args, x_key, x_t, x_te)
            if nx < 0:  # more matches than the buffers hold (rare): the caller grows them
                return k, _fill_shared(*args, x_key, x_t, x_te, True), stamp_id
        else:
            args_n = (A, B, s_off, s_cam, s_tk, n_off, n_cam, stratum, ndays, w)
            nx = _fill_near(*args_n, x_key, x_t, x_te)
            if nx < 0:
                return k, _fill_near(*args_n, x_key, x_t, x_te, True), stamp_id
        # swapped-day meetings: group by (place, d, d'), merge while gaps < g
        nw = 0
        m_off[:] = 0
        if nx > 0:
            if nx <= _SMALL_SORT:  # most pairs: no allocation (see _small_argsort)
                _small_argsort(x_key, x_t, nx, o2)
            elif x_key[:nx].max() < (1 << 26):  # (key, time of day < 2^37 us) in one int64
                o2[:nx] = np.argsort((x_key[:nx] << 37) | x_t[:nx])
            else:
                o1 = np.argsort(x_t[:nx], kind="mergesort")
                o2[:nx] = o1[np.argsort(x_key[:nx][o1], kind="mergesort")]
            prev_key = -1
            prev_t = 0
            for u in range(nx):
                v = o2[u]
                key = x_key[v]
                t = x_t[v]
                if key != prev_key or t - prev_t >= g:
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
        floor_k = 0.0
        for st in range(nstrata):
            combos = na[st] * nb[st] - nab[st]
            exp_k += nab[st] * (m_off[st] + 0.5) / (combos + 1.0)
            floor_k += nab[st] * 0.5 / (combos + 1.0)
        expected[k] = exp_k
        floor[k] = floor_k
        # per observed meeting: rho (swapped day pairs meeting there then) and r (same slot)
        few = (m_hi[k] - m_lo[k]) <= 4  # few meetings: scan the swapped ones, no index
        if nw > 0 and not few:
            # (place, start time of day < 2^37 us) in one int64
            # rows 9-11: the order, then the places and starts in that order (kept in the
            # buffers: arrays made here and reassigned each time round slowed every pair)
            for u in range(nw):
                buffers[10, u] = (w_place[u] << 37) | w_s[u]
            buffers[9, :nw] = np.argsort(buffers[10, :nw])
            for u in range(nw):
                buffers[10, u] = w_place[buffers[9, u]]
                buffers[11, u] = w_s[buffers[9, u]]
            maxdur = 0
            for u in range(nw):
                maxdur = max(maxdur, w_e[u] - w_s[u])
        for mi in range(m_lo[k], m_hi[k]):
            st = stratum[m_day[mi]]
            combos = na[st] * nb[st] - nab[st]
            cnt = 0
            if nw > 0 and few:
                stamp_id += 1
                for v in range(nw):
                    if (
                        w_place[v] == m_place[mi]
                        and w_s[v] <= m_e[mi] + g
                        and w_e[v] >= m_s[mi] - g
                        and stratum[w_da[v]] == st
                    ):
                        combo = w_da[v] * ndays + w_db[v]
                        if stamp[combo] != stamp_id:
                            stamp[combo] = stamp_id
                            cnt += 1
            elif nw > 0:
                stamp_id += 1
                plo, phi = _segment(buffers[10], 0, nw, m_place[mi])
                # first swapped meeting that may overlap [s - g, e + g]
                lo_t = m_s[mi] - g - maxdur
                l_ = plo
                r_ = phi
                while l_ < r_:
                    mid = (l_ + r_) // 2
                    if buffers[11, mid] < lo_t:
                        l_ = mid + 1
                    else:
                        r_ = mid
                u = l_
                while u < phi and buffers[11, u] <= m_e[mi] + g:
                    v = buffers[9, u]
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
    return npairs, 0, stamp_id
