"""The time-shift null (:mod:`sightgraph.analytics.contacts`, *Null models*): for data with one
observation session (pedestrians crossing a street, a conference, a school day), where a
day-swap has no other days to swap with.

*H0: A and B move independently at the scale of the meeting*: each keeps its own places, its
own order of visits and its own dwell times, but B's timing relative to A is arbitrary at scales
longer than a meeting. B's sightings are shifted by each offset ``delta`` of ``D = {+-k * shift,
k = 1..K}`` (``shift`` longer than the meeting scale: by default ``max(G, 2 W, 1 s)``, K = 3) and
replayed against A's with the same ``W``, ``R`` and ``G``; ``M`` is the number of meetings all
the shifted replays produce. Then::

    expected = (M + 1/2) / (|D| + 1)

(the same Jeffreys-style shrinkage as the day-swap: never exactly zero), and for each observed
meeting ``rho = (d + 1/2) / (|D| + 1)`` with ``d`` the offsets whose replay still meets at that
place within ``G`` of the meeting: a long stay that both make at one place is still a meeting
after a shift, so it is explained; a pair that walks through five cells together is not.

Compiled (numba, ``nogil=True, cache=True``); a brute-force replay in the tests is the oracle.
"""

from __future__ import annotations

import numpy as np

from sightgraph.analytics.contacts._common import _jit
from sightgraph.analytics.contacts.nulls.day_swap import _segment


def shift_offsets(shift_us: int, shifts: int) -> np.ndarray:
    """``D = {-K s, ..., -s, s, ..., K s}`` in microseconds (int64, sorted)."""
    k = np.arange(1, shifts + 1, dtype=np.int64)
    return np.concatenate([-k[::-1], k]) * np.int64(shift_us)


@_jit
def _time_shift_null(
    pair_a,
    pair_b,
    m_lo,
    m_hi,
    m_place,
    m_s,
    m_e,
    s_off,
    s_cam,
    s_ts,
    n_off,
    n_cam,
    offsets,
    w,
    g,
    cap=1024,
):
    """Per pair ``k`` (codes ``pair_a[k] < pair_b[k]``, meetings ``[m_lo[k], m_hi[k])`` with
    places ``m_place`` and times ``m_s``/``m_e``): ``expected``, ``floor`` (its value had the
    replays produced no meeting) and per meeting ``rho``. Sightings are a CSR by pid
    (``s_off``), each block sorted by camera then time (``s_ts``, any common origin);
    ``n_cam[n_off[c]:n_off[c+1]]`` are the cameras within R of camera c (itself included).
    ``cap``: the match buffers' first size, doubled whenever a pair needs more."""
    npairs = len(pair_a)
    nd = len(offsets)
    expected = np.zeros(npairs)
    floor = np.zeros(npairs)
    rho = np.zeros(len(m_place))
    stamp = np.zeros(max(nd, 1), np.int64)
    stamp_id = 0
    k = 0
    while k < npairs:
        buffers = np.empty((11, cap), np.int64)
        k, stamp_id = _time_shift_pairs(
            k, pair_a, pair_b, m_lo, m_hi, m_place, m_s, m_e, s_off, s_cam, s_ts, n_off,
            n_cam, offsets, w, g, expected, floor, rho, stamp, stamp_id, buffers,
        )  # fmt: skip
        cap *= 2  # (pair k did not fit: it is replayed again, with room)
    return expected, floor, rho


@_jit
def _time_shift_pairs(
    k0, pair_a, pair_b, m_lo, m_hi, m_place, m_s, m_e, s_off, s_cam, s_ts, n_off, n_cam,
    offsets, w, g, expected, floor, rho, stamp, stamp_id, buffers,
):  # fmt: skip
    """:func:`_time_shift_null`'s pairs from ``k0`` on; returns ``(npairs, stamp_id)``, or
    ``(k, stamp_id)`` when pair ``k``'s matches do not fit in ``buffers`` (eleven rows). The
    buffers are never reassigned in the loop (as in the day-swap kernel, see
    :func:`~sightgraph.analytics.contacts.nulls.day_swap._day_swap_pairs`)."""
    npairs = len(pair_a)
    nd = len(offsets)
    cap = buffers.shape[1]
    x_key, x_t, x_te = buffers[0], buffers[1], buffers[2]
    w_place, w_d, w_s, w_e = buffers[3], buffers[4], buffers[5], buffers[6]
    for k in range(k0, npairs):
        A = pair_a[k]
        B = pair_b[k]
        # shifted matches: A's sighting at c1, B's at a camera c2 within R, |tA - (tB + d)| <= w
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
                for di in range(nd):
                    d = offsets[di]
                    j0 = lo
                    for ii in range(ia, ja):
                        ti = s_ts[ii]
                        while j0 < hi and s_ts[j0] + d < ti - w:
                            j0 += 1
                        jj = j0
                        while jj < hi and s_ts[jj] + d <= ti + w:
                            if nx >= cap:
                                return k, stamp_id
                            tj = s_ts[jj] + d
                            x_key[nx] = place * nd + di
                            x_t[nx] = min(ti, tj)
                            x_te[nx] = max(ti, tj)
                            nx += 1
                            jj += 1
            ia = ja
        # shifted meetings: group by (place, offset), merge while gaps < g (at most one per
        # match: they fit); rows 7-10: the order by time, then by key (stable), and the keys
        nw = 0
        if nx > 0:
            buffers[7, :nx] = np.argsort(x_t[:nx], kind="mergesort")
            for u in range(nx):
                buffers[9, u] = x_key[buffers[7, u]]
            buffers[8, :nx] = np.argsort(buffers[9, :nx], kind="mergesort")
            for u in range(nx):
                buffers[10, u] = buffers[7, buffers[8, u]]
            prev_key = -1
            prev_t = 0
            for u in range(nx):
                v = buffers[10, u]
                key = x_key[v]
                t = x_t[v]
                if key != prev_key or t - prev_t >= g:
                    w_place[nw] = key // nd
                    w_d[nw] = key % nd
                    w_s[nw] = t
                    w_e[nw] = x_te[v]
                    nw += 1
                else:
                    w_e[nw - 1] = max(w_e[nw - 1], x_te[v])
                prev_key = key
                prev_t = t
        expected[k] = (nw + 0.5) / (nd + 1.0)
        floor[k] = 0.5 / (nd + 1.0)
        # shifted meetings are in (place, offset, start) order: per observed meeting, scan its
        # place's run and count the distinct offsets overlapping [s - g, e + g]
        for mi in range(m_lo[k], m_hi[k]):
            cnt = 0
            stamp_id += 1
            plo = 0
            phi = nw
            while plo < phi:  # first shifted meeting at this place
                mid = (plo + phi) // 2
                if w_place[mid] < m_place[mi]:
                    plo = mid + 1
                else:
                    phi = mid
            u = plo
            while u < nw and w_place[u] == m_place[mi]:
                overlap = w_s[u] <= m_e[mi] + g and w_e[u] >= m_s[mi] - g
                if overlap and stamp[w_d[u]] != stamp_id:
                    stamp[w_d[u]] = stamp_id
                    cnt += 1
                u += 1
            rho[mi] = (cnt + 0.5) / (nd + 1.0)
    return npairs, stamp_id
