"""Next-camera prediction and predictability (DESIGN §4).

Given a subject's visits up to now (:func:`sightgraph.analytics.trajectories.build_visits`), rank
the cameras it may visit next, with probabilities.

Models (all per subject, from that subject's own earlier visits only, plus the population's
camera popularity ``g`` from the fitting data):

* ``most_frequent`` (baseline): the cameras the subject visited most often.
* ``markov`` (baseline): first-order Markov: the cameras the subject went to most often *from
  the current camera*; ties and unseen states fall back to ``most_frequent``.
* ``sightgraph``: a hierarchy of the same counts, each level smoothed towards the one below
  (Dirichlet / additive back-off, the way n-gram language models are)::

      P0(c) = g(c)                                      population popularity (+1 per camera)
      P1(c) = (freq(c) + a P0(c)) / (F + a)              the subject's visit counts
      P2(c) = (n(cur -> c) + a P1(c)) / (N2 + a)         its transitions from the current camera
      P3(c) = (n(prev, cur -> c) + a P2(c)) / (N3 + a)   ... after the same previous camera
      P4(c) = (n(prev, cur, slot -> c) + a P3(c)) / (N4 + a)  ... in the same time slot

  where ``N`` is the row's total, the time slot is the quarter of the day (0-6, 6-12, 12-18,
  18-24 h in ``tz``) and weekday/weekend of the moment the current visit ends, and ``a`` =
  ``alpha`` (default 1). A level whose context the subject never met is skipped with those above
  it. A subject with no history gets the population's popularity; a known place at a new hour,
  its transitions from there; a routine, the routine. On the 1M synthetic city the second-order
  level raised Acc@1 from 0.528 to 0.569; alpha (0.25-4) and the slot length (3-12 h) changed it
  by less than 0.005 (benchmarks/prediction/RESULTS.md).

Ranking is deterministic: by probability (or the baselines' counts), ties by the population's
popularity, then by camera id.

Evaluation protocol (DESIGN §4): per subject, visits in time order, the first 80% fit and the
last 20% test; each test visit is predicted from *all* earlier visits (the history grows through
the test part); the current camera is the previous visit's. Subjects with fewer than
``min_visits`` visits are left out. Reported: Acc@1, Acc@5 (the true camera ranked first, in the
top five), MRR (mean of 1 / rank), for every model; the population popularity ``g`` comes from
the fitting parts only.

The evaluation runs as a Dask job over chunks of subjects; the model loop is compiled
(:func:`sightgraph.analytics._kernels.predict_subject`, numba, ``nogil``), so the threaded
scheduler uses every core, and a ``dask.distributed`` cluster its workers.

Predictability (Song et al. 2010, Science 327:1018): the entropy rate of a subject's whole
sequence of visited cameras is estimated with the Lempel-Ziv estimator of Kontoyiannis et al.
(1998), ``S = n log2(n) / sum_i L_i``, where ``L_i`` is the length of the shortest substring
starting at ``i`` that does not occur in ``seq[:i]`` (``n - i + 1`` when every substring
starting at ``i`` does); Fano's inequality ``S = H(P) + (1 - P) log2(N - 1)`` with ``N`` the
subject's distinct cameras is solved for ``P``: the upper bound ``Pi_max`` on the share of next
visits any predictor can get right. The bound is an estimate (it assumes a stationary source)
and is reported as the median over subjects, beside Acc@1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sightgraph.analytics import _kernels
from sightgraph.errors import UsageError
from sightgraph.schema import require_columns, ts_to_epoch_us

K: Any = _kernels  # the numba dispatchers, untyped for mypy

__all__ = [
    "MODELS",
    "evaluate_predictions",
    "fano_bound",
    "lz_entropy",
    "predict_next",
    "compute_predictions",
]

#: the models, baselines first
MODELS = ("most_frequent", "markov", "sightgraph")
_SLOTS_PER_DAY = 4
_N_SLOTS = 2 * _SLOTS_PER_DAY  # weekday and weekend


def lz_entropy(seq: Sequence[Any] | np.ndarray) -> float:
    """Lempel-Ziv (Kontoyiannis) estimate of the entropy rate of ``seq``, in bits per symbol.

    ``n log2(n) / sum_i L_i`` with ``L_i`` the length of the shortest substring starting at
    ``i`` that does not occur in ``seq[:i]`` (``n - i + 1`` if none). 0 for fewer than 2 symbols.

    >>> lz_entropy("aaaaaaaa") < lz_entropy("abbabaababbbaaab")
    True
    """
    arr = np.asarray(seq)
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int64)
    else:
        codes = pd.factorize(pd.Series(list(seq), dtype=object))[0].astype(np.int64)
    n = len(codes)
    if n < 2:
        return 0.0
    return float(n * math.log2(n) / K.lz_match_total(codes))


def fano_bound(entropy: float, n_places: int) -> float:
    """Largest ``P`` in [1/N, 1] with ``H(P) + (1 - P) log2(N - 1) = entropy`` (Fano).

    1.0 for one place (or zero entropy); ``1/N`` when the entropy reaches ``log2 N``.

    >>> round(fano_bound(0.0, 10), 6), round(fano_bound(math.log2(10), 10), 6)
    (1.0, 0.1)
    """
    if n_places < 1:
        raise UsageError(f"n_places must be >= 1, got {n_places}")
    if n_places == 1 or entropy <= 0:
        return 1.0
    if entropy >= math.log2(n_places):
        return 1.0 / n_places

    def f(p: float) -> float:
        h = 0.0 if p >= 1.0 else -p * math.log2(p) - (1 - p) * math.log2(1 - p)
        return h + (1 - p) * math.log2(n_places - 1)

    lo, hi = 1.0 / n_places, 1.0  # f decreases from log2 N to 0 on this interval
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(mid) > entropy:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _prepare(visits: pd.DataFrame, tz: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Visits sorted by pid, arrive with integer camera codes and the time slot of each visit's
    end; and the camera ids in code order."""
    require_columns(visits, ("pid", "camera_id", "arrive", "leave"), "visits")
    v = visits[["pid", "camera_id", "arrive", "leave"]].copy()
    v["t"] = ts_to_epoch_us(v["arrive"])
    v = v.sort_values(["pid", "t", "camera_id"], kind="stable").reset_index(drop=True)
    cams = np.array(sorted(pd.unique(v["camera_id"].astype(str))), dtype=object)
    v["cam"] = np.searchsorted(cams, v["camera_id"].astype(str).to_numpy()).astype(np.int64)
    try:
        local = pd.to_datetime(v["leave"], utc=True).dt.tz_convert(tz)
    except Exception as exc:  # unknown zone names come from users
        raise UsageError(f"unknown time zone {tz!r}: {exc}") from None
    weekend = (local.dt.dayofweek >= 5).to_numpy().astype(np.int64)
    quarter = (local.dt.hour.to_numpy() * _SLOTS_PER_DAY // 24).astype(np.int64)
    v["slot"] = weekend * _SLOTS_PER_DAY + quarter
    return v, cams


def _popularity(counts: np.ndarray) -> np.ndarray:
    """The population prior: visit counts + 1 per camera, normalised."""
    c = counts.astype(np.float64) + 1.0
    return c / c.sum()


def _popularity_order(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``g`` in ranking order (descending, ties by camera index) and each camera's position in
    that order."""
    order = np.lexsort((np.arange(len(g)), -g))
    pos = np.empty(len(g), np.int64)
    pos[order] = np.arange(len(g))
    return g[order], pos


def _groups(v: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(pid, camera codes, slots) of each subject's visits, in time order (``v`` from _prepare)."""
    if not len(v):
        return []
    pid = v["pid"].to_numpy()
    cut = np.flatnonzero(pid[1:] != pid[:-1]) + 1
    bounds = np.concatenate([[0], cut, [len(v)]]).astype(np.int64)
    cam, slot = v["cam"].to_numpy(), v["slot"].to_numpy()
    return [
        (str(pid[a]), cam[a:b], slot[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _fit_len(n: int, fit_share: float) -> int:
    return max(1, int(math.floor(fit_share * n)))


def _evaluate_subject(
    cams: np.ndarray,
    slots: np.ndarray,
    g: np.ndarray,
    alpha: float,
    fit_share: float,
    order: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, list[int]]:
    """Ranks of the true camera of each test visit of one subject, per model (compiled:
    :func:`sightgraph.analytics._kernels.predict_subject`)."""
    mine = np.unique(cams)
    local = np.searchsorted(mine, cams).astype(np.int64)
    n_fit = _fit_len(len(cams), fit_share)
    g_sorted, pos = order if order is not None else _popularity_order(g)
    ranks, _ = K.predict_subject(
        local, slots.astype(np.int64), mine, g, g_sorted, pos, n_fit, float(alpha), _N_SLOTS, False
    )
    return {m: ranks[k].tolist() for k, m in enumerate(MODELS)}


def _evaluate_chunk(
    subjects: list[tuple[str, np.ndarray, np.ndarray]],
    g: np.ndarray,
    alpha: float,
    fit_share: float,
) -> list[tuple[str, dict[str, list[int]], float]]:
    """Per subject of the chunk: (pid, the test visits' ranks per model, Pi_max)."""
    out = []
    order = _popularity_order(g)
    for pid, cams, slots in subjects:
        ranks = _evaluate_subject(cams, slots, g, alpha, fit_share, order)
        out.append((pid, ranks, fano_bound(lz_entropy(cams), len(np.unique(cams)))))
    return out


def _warm_up() -> None:
    """Compile (or load from the on-disk cache) the kernels before threads use them."""
    K.lz_match_total(np.zeros(2, np.int64))
    one = np.zeros(1, np.int64)
    K.predict_subject(one, one, one, np.ones(1), np.ones(1), one, 1, 1.0, _N_SLOTS, True)


def _check(alpha: float, fit_share: float, min_visits: int, k: int) -> None:
    if not alpha > 0:
        raise UsageError(f"alpha must be > 0, got {alpha}")
    if not 0 < fit_share < 1:
        raise UsageError(f"fit share must be between 0 and 1 (exclusive), got {fit_share}")
    if min_visits < 2:
        raise UsageError(f"min_visits must be >= 2, got {min_visits}")
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")


def evaluate_predictions(
    visits: pd.DataFrame,
    *,
    alpha: float = 1.0,
    fit_share: float = 0.8,
    min_visits: int = 5,
    tz: str = "UTC",
    scheduler: str | None = None,
    chunks: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate next-camera prediction with the protocol of the module docstring.

    Returns
    -------
    dict
        ``subjects``, ``test_visits``, ``cameras``; per model ``acc1``, ``acc5``, ``mrr`` (under
        ``models``); ``predictability``: ``median``, ``mean`` of the subjects' Pi_max and
        ``subjects``. Empty input (no subject with ``min_visits`` visits) gives zeros and NaNs.
    """
    import dask

    from sightgraph.analytics.compute import resolve_scheduler

    _check(alpha, fit_share, min_visits, 1)
    v, cams = _prepare(visits, tz)
    groups = [s for s in _groups(v) if len(s[1]) >= min_visits]
    fit_counts = np.zeros(len(cams))
    for _, c, _ in groups:
        np.add.at(fit_counts, c[: _fit_len(len(c), fit_share)], 1)
    g = _popularity(fit_counts)
    n_chunks = max(1, min(len(groups), chunks or 16))
    parts = [groups[i::n_chunks] for i in range(n_chunks)] if groups else []
    with resolve_scheduler(scheduler) as sched:
        sched.run_everywhere(_warm_up)
        tasks = [dask.delayed(_evaluate_chunk)(p, g, alpha, fit_share) for p in parts]
        results = sched.compute(tasks, "predicting test visits", progress=progress)
    # in pid order, whatever the chunks: the means are then the same to the last bit
    per_subject = sorted((x for chunk in results for x in chunk), key=lambda x: x[0])
    ranks = {
        m: np.array([r for _, rs, _ in per_subject for r in rs[m]], dtype=np.int64) for m in MODELS
    }
    bounds = np.array([b for _, _, b in per_subject], dtype=np.float64)
    nan = float("nan")
    models = {
        m: {
            "acc1": float(np.mean(r == 1)) if len(r) else nan,
            "acc5": float(np.mean(r <= 5)) if len(r) else nan,
            "mrr": float(np.mean(1.0 / r)) if len(r) else nan,
        }
        for m, r in ranks.items()
    }
    return {
        "subjects": len(groups),
        "test_visits": int(len(ranks[MODELS[0]])),
        "cameras": len(cams),
        "params": {"alpha": alpha, "fit_share": fit_share, "min_visits": min_visits, "tz": tz},
        "models": models,
        "predictability": {
            "median": float(np.median(bounds)) if len(bounds) else nan,
            "mean": float(np.mean(bounds)) if len(bounds) else nan,
            "subjects": int(len(bounds)),
        },
    }


def predict_next(
    visits: pd.DataFrame, *, k: int = 5, alpha: float = 1.0, tz: str = "UTC"
) -> pd.DataFrame:
    """The ``k`` most likely next cameras of every subject after its last visit.

    Returns pid, rank (1..k), camera_id, probability, as_of (the end of the last visit); by pid,
    rank. Uses the ``sightgraph`` model fitted on all of each subject's visits.
    """
    _check(alpha, 0.5, 2, k)
    v, cams = _prepare(visits, tz)
    cols: dict[str, list[Any]] = {
        "pid": [],
        "rank": [],
        "camera_id": [],
        "probability": [],
        "as_of": [],
    }
    if not len(v):
        return _predictions_frame(cols)
    counts = np.bincount(v["cam"].to_numpy(), minlength=len(cams)).astype(np.float64)
    g = _popularity(counts)
    leave = v["leave"].to_numpy()
    last = 0
    _warm_up()
    g_sorted, pos = _popularity_order(g)
    for pid, c, s in _groups(v):
        last += len(c)
        mine = np.unique(c)
        local = np.searchsorted(mine, c).astype(np.int64)
        _, p = K.predict_subject(
            local, s.astype(np.int64), mine, g, g_sorted, pos, len(c), float(alpha), _N_SLOTS, True
        )
        order = np.lexsort((np.arange(len(p)), -g, -p))[:k]
        for r, i in enumerate(order, start=1):
            cols["pid"].append(pid)
            cols["rank"].append(r)
            cols["camera_id"].append(cams[i])
            cols["probability"].append(float(p[i]))
            cols["as_of"].append(leave[last - 1])
    return _predictions_frame(cols)


def _predictions_frame(cols: dict[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": pd.Series(cols["pid"], dtype=object),
            "rank": pd.Series(cols["rank"], dtype="int64"),
            "camera_id": pd.Series(cols["camera_id"], dtype=object),
            "probability": pd.Series(cols["probability"], dtype="float64"),
            "as_of": pd.Series(pd.to_datetime(cols["as_of"], utc=True)).astype(
                "datetime64[us, UTC]"
            ),
        }
    )


def compute_predictions(
    lake: str | Path,
    *,
    gap_s: float = 900.0,
    evaluate: bool = False,
    k: int = 5,
    alpha: float = 1.0,
    min_visits: int = 5,
    tz: str = "UTC",
    scheduler: str | None = None,
    progress: bool = True,
    generation: int | None = None,
) -> dict[str, Any]:
    """Visits of the lake's sightings, then either the evaluation report (``evaluate``) or the
    ``predictions`` table written into the lake (its parameters in the Parquet metadata).

    The table is committed under the lake's writer lock, and only if no forget or retention ran
    since the lake was read (:func:`sightgraph.lake.commit_lock`): ``generation`` is the lake's
    :func:`~sightgraph.lake.erasure_generation` as the caller read it before this job started
    (default: read here, before the sightings). Otherwise :class:`UsageError` ("the lake changed
    under this job") and nothing is written. ``evaluate`` writes nothing and checks nothing.
    """
    from sightgraph.analytics.trajectories import build_visits
    from sightgraph.lake import (
        commit_lock,
        erasure_generation,
        read_sightings,
        table_path,
        write_table,
    )

    if generation is None and not evaluate:
        generation = erasure_generation(lake)
    visits = build_visits(read_sightings(lake, columns=["pid", "camera_id", "ts"]), gap_s=gap_s)
    if evaluate:
        report = evaluate_predictions(
            visits,
            alpha=alpha,
            min_visits=min_visits,
            tz=tz,
            scheduler=scheduler,
            progress=progress,
        )
        report["params"]["gap_s"] = gap_s
        return report
    table = predict_next(visits, k=k, alpha=alpha, tz=tz)
    path = table_path(lake, "predictions") / "predictions.parquet"
    assert generation is not None
    with commit_lock(lake, generation, "predict"):
        write_table(
            table, path, {"gap_s": gap_s, "k": k, "alpha": alpha, "tz": tz, "model": "sightgraph"}
        )
    return {"subjects": int(table["pid"].nunique()), "rows": len(table), "path": str(path)}
