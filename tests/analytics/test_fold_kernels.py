"""The pair-folding kernels against a dictionary: every pair once, sums, minima and maxima,
sorted by (a, b), whichever way a subject's partners are written out (insertion sort, sort,
or a scan of the accumulators when a subject has many partners)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph.analytics import _kernels as K


def _oracle(a, b, n, tmin, tmax):
    acc: dict[tuple[int, int], list[int]] = {}
    for key in zip(a.tolist(), b.tolist(), n.tolist(), tmin.tolist(), tmax.tolist(), strict=True):
        x = acc.setdefault(key[:2], [0, key[3], key[4]])
        x[0] += key[2]
        x[1] = min(x[1], key[3])
        x[2] = max(x[2], key[4])
    return [(*k, *v) for k, v in sorted(acc.items())]


def _rows(*cols):
    return list(zip(*(c.tolist() for c in cols), strict=True))


@st.composite
def pair_rows(draw):
    npids = draw(st.integers(2, 300))
    m = draw(st.integers(0, 400))
    a0 = draw(st.integers(0, npids - 1))
    a1 = draw(st.integers(a0 + 1, npids))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # few distinct a (many partners each) or many: both ways of writing partners out
    a = rng.integers(a0, a1, m).astype(np.int32)
    b = rng.integers(0, npids, m).astype(np.int32)
    n = rng.integers(1, 5, m).astype(np.int64)
    tmin = rng.integers(0, 1000, m).astype(np.int64)
    tmax = tmin + rng.integers(0, 100, m)
    return npids, a0, a1, a, b, n, tmin, tmax


@settings(max_examples=150, deadline=None)
@given(pair_rows())
def test_fold_pairs_sums_every_pair_once(case):
    npids, a0, a1, a, b, n, tmin, tmax = case
    m = len(a)
    x = tuple(arr.copy() for arr in (a, b, n, tmin, tmax))
    y = (np.empty(m, np.int32), np.empty(m, np.int32), *(np.empty(m, np.int64) for _ in range(3)))
    k = K.fold_pairs(m, *x, a0, a1, npids, *y)
    assert _rows(*(arr[:k] for arr in y)) == _oracle(a, b, n, tmin, tmax)
    assert _rows(*x) == _rows(a, b, n, tmin, tmax)  # the input is left alone


def test_fold_pairs_many_partners_of_one_subject():
    """One subject meets everyone (the scan of the accumulators), another 40 (a sort)."""
    npids = 64
    rng = np.random.default_rng(3)
    b = np.concatenate([rng.permutation(npids), rng.permutation(npids)[:40], [5, 5, 9]])
    a = np.concatenate([np.zeros(npids), np.ones(40), [2, 2, 2]]).astype(np.int32)
    b = b.astype(np.int32)
    m = len(a)
    n = np.ones(m, np.int64)
    tmin = rng.integers(0, 99, m).astype(np.int64)
    tmax = tmin + 1
    y = (np.empty(m, np.int32), np.empty(m, np.int32), *(np.empty(m, np.int64) for _ in range(3)))
    k = K.fold_pairs(m, a, b, n, tmin, tmax, 0, 3, npids, *y)
    assert _rows(*(arr[:k] for arr in y)) == _oracle(a, b, n, tmin, tmax)


@settings(max_examples=100, deadline=None)
@given(
    npids=st.integers(2, 40),
    rows=st.integers(0, 200),
    window=st.integers(0, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_fold_events_equals_brute_force(npids, rows, window, seed):
    """One camera's sightings swept: every pair of rows of distinct subjects within the window
    is one event of the pair (smaller pid first), with the times of both sightings."""
    rng = np.random.default_rng(seed)
    pid = rng.integers(0, npids, rows).astype(np.int32)
    ts = np.sort(rng.integers(0, 300, rows)).astype(np.int64)
    starts = np.array([0, rows], np.int64)
    job = np.zeros(1, np.int64)
    counter = np.zeros(npids, np.int64)
    ar, al, ah, ac = K.anchor_windows(starts, job, job, pid, ts, np.int64(window), counter)
    nev = int(ac.sum())
    scratch = (np.empty(nev, np.int32), np.empty(nev, np.int64), np.empty(nev, np.int64))
    y = (
        np.empty(nev, np.int32),
        np.empty(nev, np.int32),
        *(np.empty(nev, np.int64) for _ in range(3)),
    )
    k = K.fold_events(ar, al, ah, 0, len(ar), pid, ts, npids, *scratch, *y)
    acc: dict[tuple[int, int], list[int]] = {}
    for i in range(rows):
        for j in range(i + 1, rows):
            if pid[i] != pid[j] and abs(int(ts[i]) - int(ts[j])) <= window:
                key = (int(min(pid[i], pid[j])), int(max(pid[i], pid[j])))
                x = acc.setdefault(key, [0, int(ts[i]), int(ts[j])])
                x[0] += 1
                x[1] = min(x[1], int(ts[i]), int(ts[j]))
                x[2] = max(x[2], int(ts[i]), int(ts[j]))
    assert _rows(*(arr[:k] for arr in y)) == [(*key, *v) for key, v in sorted(acc.items())]
