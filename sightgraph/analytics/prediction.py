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

* ``ranker``: a learned ranker (scikit-learn, gradient-boosted trees over candidate places and
  features of the subject's history; :class:`sightgraph.analytics.prediction_ranker.NextPlaceRanker`).

Ranking is deterministic: by probability (or the baselines' counts), ties by the population's
popularity, then by camera id.

Model choice (:func:`choose_model`): every model is fitted on the first part of each subject's
(training) visits and validated on the rest with the same protocol; the model with the best
validation Acc@1 is used, where a model other than first-order Markov must beat Markov by more
than ``margin_z`` (1.64) standard errors of the paired per-visit difference; so the chosen
model's validation Acc@1 is never below Markov's. ``evaluate_predictions`` makes the choice
inside the fitting parts (the test visits play no part) and reports it as ``chosen`` with the
validation scores and the reason (``selection``); ``compute_predictions`` makes it on all of
the lake's visits, then fits the chosen model on all of them.

Saved models: ``compute_predictions`` (``sightgraph predict``) saves the model it chose under the
lake (the ``models`` table: ``LAKE/models/predict.parquet`` lists the subjects whose visits it
saw, with the model's name, the reason it was chosen, its parameters, the data version (the
sightings and cameras files' names and sizes, the ingest log's length and the erasure
generation) and the scikit-learn version in the metadata; ``LAKE/models/predict.joblib`` holds
the fitted ranker when the ranker was chosen; the counting models have nothing to store beyond
their choice: their counts are the subject's visits). A later ``predict`` with the same
parameters on unchanged data reuses it (no validation, no refit) and says so in its reason;
``sightgraph forget`` drops it, since it was fitted on the subject's visits
(:func:`sightgraph.governance.erasure.forget_subject`).

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
    "CANDIDATE_MODELS",
    "MODELS",
    "choose_model",
    "evaluate_predictions",
    "fano_bound",
    "lz_entropy",
    "predict_next",
    "compute_predictions",
    "data_version",
    "load_saved_model",
]

#: the saved model of ``predict``: LAKE/models/<MODEL_NAME>.parquet (+ .joblib for the ranker)
MODEL_NAME = "predict"

#: the counting models (one compiled pass), baselines first
MODELS = ("most_frequent", "markov", "sightgraph")
#: every model ``predict`` chooses from (the learned ranker is
#: :class:`sightgraph.analytics.prediction_ranker.NextPlaceRanker`); on equal validation scores
#: the one first in this order is chosen
CANDIDATE_MODELS = ("markov", "sightgraph", "ranker", "most_frequent")
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
    ranker: bool = True,
    select: bool = True,
    ranker_params: dict[str, Any] | None = None,
    margin_z: float = 1.64,
    max_validation_visits: int = 500_000,
    _keep_ranks: bool = False,
) -> dict[str, Any]:
    """Evaluate next-camera prediction with the protocol of the module docstring.

    ``ranker``: evaluate the learned ranker too (fitted on the fitting parts; ``ranker_params``
    for :class:`~sightgraph.analytics.prediction_ranker.NextPlaceRanker`). ``select``: choose a
    model by validation inside the fitting parts (see :func:`choose_model`): the same protocol
    on each subject's fitting visits alone (their first ``fit_share`` fit, the rest validate);
    the test visits play no part in the choice; ``margin_z`` as in :func:`choose_model`. On a
    large lake the validation uses a random sample of subjects (seed 0) with about
    ``max_validation_visits`` validation visits (the standard error of an Acc@1 difference is
    then below 0.0015).

    Returns
    -------
    dict
        ``subjects``, ``test_visits``, ``cameras``; per model ``acc1``, ``acc5``, ``mrr`` (under
        ``models``); ``predictability``: ``median``, ``mean`` of the subjects' Pi_max and
        ``subjects``; with ``select``, ``chosen`` (a model name) and ``selection``:
        ``validation_visits``, ``validation_subjects``, the validation scores (``models``) and
        ``reason``. Empty input (no subject with ``min_visits`` visits) gives zeros and NaNs.
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
    models = {m: _metrics(r) for m, r in ranks.items()}
    if ranker:
        ranks["ranker"] = _evaluate_ranker(
            visits, alpha, fit_share, min_visits, tz, ranker_params or {}
        )
        models["ranker"] = _metrics(ranks["ranker"])
    report: dict[str, Any] = {
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
    if select:
        # the fitting visits of every evaluated subject; split again the same way
        pos_in = v.groupby("pid", sort=False).cumcount().to_numpy()
        n_of = v.groupby("pid", sort=False)["pid"].transform("size").to_numpy()
        n_fit = np.maximum(1, np.floor(fit_share * n_of)).astype(np.int64)
        inner = v.loc[(n_of >= min_visits) & (pos_in < n_fit), list(_VISIT_COLUMNS)]
        val = evaluate_predictions(
            _sample_subjects(inner, max_validation_visits, fit_share),
            alpha=alpha,
            fit_share=fit_share,
            min_visits=2,
            tz=tz,
            scheduler=scheduler,
            chunks=chunks,
            progress=progress,
            ranker=ranker,
            select=False,
            ranker_params=ranker_params,
            _keep_ranks=True,
        )
        chosen, reason = choose_model(
            val["models"], val["test_visits"], _gains(val.pop("_ranks")), margin_z
        )
        report["chosen"] = chosen
        report["selection"] = {
            "validation_visits": val["test_visits"],
            "validation_subjects": val["subjects"],
            "models": val["models"],
            "reason": reason,
        }
    if _keep_ranks:
        report["_ranks"] = ranks
    return report


def _sample_subjects(visits: pd.DataFrame, max_test_visits: int, fit_share: float) -> pd.DataFrame:
    """The visits of a random sample of subjects (seed 0) holding about ``max_test_visits``
    visits past their fitting share; all of them when there are not more."""
    if max_test_visits < 1:
        raise UsageError(f"max_validation_visits must be >= 1, got {max_test_visits}")
    if len(visits) * (1 - fit_share) <= max_test_visits:
        return visits
    sizes = visits.groupby("pid", sort=True).size()
    order = np.random.default_rng(0).permutation(len(sizes))
    tests = (sizes.to_numpy()[order] * (1 - fit_share)).cumsum()
    keep = sizes.index[order[: int(np.searchsorted(tests, max_test_visits)) + 1]]
    return visits[visits["pid"].isin(keep)]


def _gains(ranks: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Per model: the mean and the standard error of its paired Acc@1 gain over first-order
    Markov (per visit: right minus Markov's right)."""
    base = ranks["markov"] == 1
    out = {}
    for m, r in ranks.items():
        d = (r == 1).astype(np.float64) - base
        se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("inf")
        out[m] = (float(np.mean(d)) if len(d) else 0.0, se)
    return out


_VISIT_COLUMNS = ("pid", "camera_id", "arrive", "leave")


def _metrics(r: np.ndarray) -> dict[str, float]:
    nan = float("nan")
    return {
        "acc1": float(np.mean(r == 1)) if len(r) else nan,
        "acc5": float(np.mean(r <= 5)) if len(r) else nan,
        "mrr": float(np.mean(1.0 / r)) if len(r) else nan,
    }


def _evaluate_ranker(
    visits: pd.DataFrame,
    alpha: float,
    fit_share: float,
    min_visits: int,
    tz: str,
    params: dict[str, Any],
) -> np.ndarray:
    """The ranks the learned ranker gives the test visits under the protocol (fitted on the
    fitting parts, each test visit ranked from all earlier visits), in the order of the
    counting models' ranks (by pid, then time)."""
    from sightgraph.analytics.prediction_ranker import NextPlaceRanker, prepare_visits

    data = prepare_visits(visits, tz, min_visits)
    n_fit = np.array([_fit_len(int(n), fit_share) for n in data.lengths()], dtype=np.int64)
    if not len(n_fit):
        return np.zeros(0, np.int64)
    model = NextPlaceRanker(**{"alpha": alpha, "tz": tz, **params})
    model._fit_visits(data, n_fit)
    return model._ranks(data, n_fit, n_fit)


def choose_model(
    models: dict[str, dict[str, float]],
    n_visits: int,
    gains: dict[str, tuple[float, float]] | None = None,
    margin_z: float = 1.64,
) -> tuple[str, str]:
    """The model with the best validation Acc@1 (then MRR, then the order of
    :data:`CANDIDATE_MODELS`), and why, in one sentence.

    ``gains``: per model, the mean and standard error of its paired per-visit Acc@1 gain over
    first-order Markov on the validation visits. With them, a model other than Markov is a
    candidate only if its gain exceeds ``margin_z`` standard errors (1.64: one-sided 95%): on
    little data (a few birds) a gain within the noise of validation does not replace the
    simpler model. First-order Markov is always a candidate, so the chosen model's validation
    Acc@1 is never below Markov's. With no validation visit, ``sightgraph`` (the default) is
    chosen.

    >>> choose_model({"markov": {"acc1": 0.5, "mrr": 0.6}, "ranker": {"acc1": 0.5, "mrr": 0.7}}, 9)[0]
    'ranker'
    """
    scored = _all(models)
    if not scored or n_visits == 0:
        return "sightgraph", "no validation visits: the default model"
    within_noise = []
    if gains is not None and "markov" in dict(scored):
        keep = []
        for m, x in scored:
            gain, se = gains.get(m, (0.0, float("inf")))
            if m == "markov" or gain > margin_z * se:
                keep.append((m, x))
            elif x["acc1"] > dict(scored)["markov"]["acc1"]:
                within_noise.append(f"{m} +{gain:.3f} (SE {se:.3f})")
        scored = keep
    best = max(
        scored,
        key=lambda x: (x[1]["acc1"], x[1]["mrr"], -CANDIDATE_MODELS.index(x[0])),
    )
    name, best_scores = best
    others = ", ".join(f"{o} {x['acc1']:.3f}" for o, x in _all(models) if o != name)
    lead = "highest validation Acc@1" if not within_noise else "validation Acc@1"
    why = (
        f"{lead} ({best_scores['acc1']:.3f}; {others}) on {n_visits:,} validation "
        "visits: the last part of each subject's fitting visits, predicted from the rest"
    )
    if within_noise:
        why += (
            f"; not chosen, their gain over Markov within {margin_z:g} standard errors: "
            + ", ".join(within_noise)
        )
    return name, why


def _all(models: dict[str, dict[str, float]]) -> list[tuple[str, dict[str, float]]]:
    return [
        (m, models[m])
        for m in CANDIDATE_MODELS
        if m in models and not math.isnan(models[m]["acc1"])
    ]


def predict_next(
    visits: pd.DataFrame,
    *,
    k: int = 5,
    alpha: float = 1.0,
    tz: str = "UTC",
    model: str = "sightgraph",
    ranker_params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The ``k`` most likely next cameras of every subject after its last visit.

    Returns pid, rank (1..k), camera_id, probability, as_of (the end of the last visit); by pid,
    rank. ``model`` (one of :data:`CANDIDATE_MODELS`, default ``sightgraph``) is fitted on all
    of each subject's visits (the ranker: on all visits of all subjects). The probability is the
    model's: the back-off model's, the ranker's (normalised over its candidates), the share of
    the transitions from the current camera (``markov``; the visit shares when there are none)
    or of the visits (``most_frequent``).
    """
    _check(alpha, 0.5, 2, k)
    if model not in CANDIDATE_MODELS:
        raise UsageError(f"unknown model {model!r}: one of {', '.join(CANDIDATE_MODELS)}")
    if model == "ranker":
        return _ranker_next(visits, k, alpha, tz, ranker_params or {})
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
        if model == "sightgraph":
            _, p = K.predict_subject(
                local,
                s.astype(np.int64),
                mine,
                g,
                g_sorted,
                pos,
                len(c),
                float(alpha),
                _N_SLOTS,
                True,
            )
            order = np.lexsort((np.arange(len(p)), -g, -p))[:k]
        else:
            p, score = _baseline_scores(c, len(cams), model)
            order = np.lexsort((np.arange(len(p)), -g, -score))[:k]
        for r, i in enumerate(order, start=1):
            cols["pid"].append(pid)
            cols["rank"].append(r)
            cols["camera_id"].append(cams[i])
            cols["probability"].append(float(p[i]))
            cols["as_of"].append(leave[last - 1])
    return _predictions_frame(cols)


def _baseline_scores(c: np.ndarray, n_cams: int, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(probability, ranking score) of every camera after the last of visits ``c`` under a
    baseline: the visit shares (``most_frequent``), or the shares of the transitions from the
    current camera with ties and unseen states by visit counts (``markov``), as evaluated."""
    freq = np.bincount(c, minlength=n_cams).astype(np.float64)
    share = freq / freq.sum()
    if model == "most_frequent":
        return share, freq
    frm = np.flatnonzero(c[:-1] == c[-1])
    trans = np.bincount(c[frm + 1], minlength=n_cams).astype(np.float64)
    if not trans.sum():
        return share, freq
    return trans / trans.sum(), trans + freq / (freq.sum() + 1)


def _ranker_next(
    visits: pd.DataFrame,
    k: int,
    alpha: float,
    tz: str,
    params: dict[str, Any],
    fitted: Any = None,
    out: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The ranker's top ``k``: ``fitted`` (a NextPlaceRanker fitted on these visits) or one
    fitted here, which is put into ``out["estimator"]`` when ``out`` is given."""
    from sightgraph.analytics.prediction_ranker import NextPlaceRanker, prepare_visits

    data = prepare_visits(visits, tz)
    cols: dict[str, list[Any]] = {c: [] for c in ("pid", "rank", "camera_id", "probability")}
    if not len(data.pids):
        return _predictions_frame({**cols, "as_of": []})
    model = fitted
    if model is None:
        model = NextPlaceRanker(**{"alpha": alpha, "tz": tz, **params})
        model._fit_visits(data, data.lengths())
    if out is not None:
        out["estimator"] = model
    proba = model.predict_proba(data)
    top = proba[proba["rank"] <= k]
    as_of = dict(zip(data.pids, data.leave[data.bounds[1:] - 1], strict=True))
    return _predictions_frame(
        {
            "pid": top["pid"].tolist(),
            "rank": top["rank"].tolist(),
            "camera_id": top["camera_id"].tolist(),
            "probability": top["probability"].tolist(),
            "as_of": [as_of[p] for p in top["pid"]],
        }
    )


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


def data_version(lake: str | Path) -> dict[str, Any]:
    """What a saved model saw of ``lake``: the sightings and cameras files (a SHA-256 of their
    lake-relative names and sizes, their count and bytes), the ingest log's length (entries) and
    the lake's erasure generation. Equal versions: nothing was ingested, rewritten or erased."""
    import hashlib

    from sightgraph.lake import INGEST_LOG_NAME, erasure_generation, table

    root = Path(lake)
    files = sorted(
        (f.relative_to(root).as_posix(), f.stat().st_size)
        for name in ("sightings", "cameras")
        for f in table(name).files(root)
    )
    log = root / INGEST_LOG_NAME
    entries = sum(1 for line in log.read_text().splitlines() if line.strip()) if log.exists() else 0
    return {
        "files": len(files),
        "bytes": int(sum(size for _, size in files)),
        "digest": hashlib.sha256(repr(files).encode()).hexdigest(),
        "ingest_log_entries": entries,
        "erasure_generation": int(erasure_generation(root)),
    }


def _model_paths(lake: str | Path) -> tuple[Path, Path]:
    from sightgraph.lake import table_path

    folder = table_path(lake, "models")
    return folder / f"{MODEL_NAME}.parquet", folder / f"{MODEL_NAME}.joblib"


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_saved_model(
    lake: str | Path,
    fit_params: dict[str, Any] | None = None,
    version: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The model ``predict`` saved in ``lake``, or None when there is none or it does not apply.

    Returns its metadata (``model``, ``reason``, ``fit_params``, ``data_version``,
    ``sklearn_version``, ``subjects``) and ``estimator`` (the fitted ranker, or None for a
    counting model). When ``fit_params`` or ``version`` are given, a saved model fitted with
    other parameters, on other data (:func:`data_version`), under another scikit-learn
    version, on another feature set of the ranker, or whose estimator file does not match its
    recorded SHA-256, is not used (None).
    """
    import sklearn

    from sightgraph.lake import read_params

    manifest, blob = _model_paths(lake)
    if not manifest.exists():
        return None
    meta = read_params(manifest) or {}
    if fit_params is not None and meta.get("fit_params") != json_safe(fit_params):
        return None
    if version is not None and meta.get("data_version") != version:
        return None
    if meta.get("sklearn_version") != sklearn.__version__:
        return None
    if meta.get("model") == "ranker" and meta.get("ranker_features") != list(_ranker_features()):
        return None  # fitted on another feature set (an older sightgraph)
    estimator = None
    if meta.get("model") == "ranker" and not meta.get("estimator_sha256"):
        return None
    if meta.get("estimator_sha256"):
        if not blob.exists() or _sha256(blob) != meta["estimator_sha256"]:
            return None
        import joblib

        estimator = joblib.load(blob)  # our own file (checked above), in the operator's lake
    return {**meta, "estimator": estimator}


def _ranker_features() -> tuple[str, ...]:
    from sightgraph.analytics.prediction_ranker import FEATURES

    return FEATURES


def json_safe(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as they read back from Parquet metadata (JSON round trip)."""
    import json

    return dict(json.loads(json.dumps(params, sort_keys=True, default=str)))


def _save_model(
    lake: str | Path,
    subjects: np.ndarray,
    model: str,
    reason: str,
    fit_params: dict[str, Any],
    version: dict[str, Any],
    estimator: Any,
) -> None:
    """Write the saved model (call under the lake's writer lock): the estimator file first
    (atomically), then the manifest that names its SHA-256; a stale estimator file goes."""
    import sklearn

    from sightgraph.lake import write_table

    manifest, blob = _model_paths(lake)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    digest = None
    if estimator is not None:
        import joblib

        tmp = blob.with_suffix(".joblib.tmp")
        joblib.dump(estimator, tmp)
        tmp.replace(blob)
        digest = _sha256(blob)
    elif blob.exists():
        blob.unlink()
    write_table(
        pd.DataFrame({"pid": pd.Series(np.sort(np.unique(subjects)), dtype=object)}),
        manifest,
        {
            "model": model,
            "reason": reason,
            "fit_params": json_safe(fit_params),
            "data_version": version,
            "sklearn_version": sklearn.__version__,
            "ranker_features": list(_ranker_features()),
            "estimator_sha256": digest,
            "subjects": int(len(np.unique(subjects))),
        },
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
    model: str = "auto",
    reuse: bool = True,
) -> dict[str, Any]:
    """Visits of the lake's sightings, then either the evaluation report (``evaluate``) or the
    ``predictions`` table written into the lake (its parameters in the Parquet metadata).

    ``model``: ``auto`` (default) chooses by validation on the lake's visits (the protocol:
    each subject's first 80% fit, the rest validate; :func:`choose_model`), then fits the chosen
    model on all visits; or one of :data:`CANDIDATE_MODELS`. The result says which (``model``)
    and why (``reason``), and so does the table's metadata. The ranker uses the cameras'
    coordinates when the lake has them.

    The chosen model is saved under the lake (the ``models`` table, see the module docstring)
    and reused by a later run with the same ``gap_s``, ``alpha``, ``tz``, ``min_visits`` and
    ``model`` on unchanged data (:func:`data_version`): then no validation or refit runs, the
    result's ``saved_model`` is ``"reused"`` (else ``"saved"``) and the reason says so.
    ``reuse=False`` always refits (and saves the new model).

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
        read_cameras,
        read_sightings,
        table_path,
        write_table,
    )

    if model != "auto" and model not in CANDIDATE_MODELS:
        raise UsageError(f"unknown model {model!r}: auto or one of {', '.join(CANDIDATE_MODELS)}")
    if generation is None and not evaluate:
        generation = erasure_generation(lake)
    requested = model
    fit_params = {
        "gap_s": gap_s,
        "alpha": alpha,
        "tz": tz,
        "min_visits": min_visits,
        "model": requested,
    }
    version = None if evaluate else data_version(lake)  # before the sightings are read
    visits = build_visits(read_sightings(lake, columns=["pid", "camera_id", "ts"]), gap_s=gap_s)
    cameras = read_cameras(lake)  # an empty table when none was ingested: no distances
    ranker_params = (
        {"coordinates": cameras}
        if len(cameras) and {"camera_id", "lat", "lon"} <= set(cameras.columns)
        else {}
    )
    if evaluate:
        report = evaluate_predictions(
            visits,
            alpha=alpha,
            min_visits=min_visits,
            tz=tz,
            scheduler=scheduler,
            progress=progress,
            ranker_params=ranker_params,
        )
        report["params"]["gap_s"] = gap_s
        return report
    reason = "given"
    saved = load_saved_model(lake, fit_params, version) if reuse else None
    if saved is not None and saved.get("model") not in CANDIDATE_MODELS:
        saved = None  # not a model this version knows: refit
    if saved is not None:
        model, reason = saved["model"], saved["reason"]
    elif model == "auto":
        val = evaluate_predictions(
            _sample_subjects(visits, 500_000, 0.8),
            alpha=alpha,
            min_visits=min_visits,
            tz=tz,
            scheduler=scheduler,
            progress=progress,
            select=False,
            ranker_params=ranker_params,
            _keep_ranks=True,
        )
        model, reason = choose_model(val["models"], val["test_visits"], _gains(val["_ranks"]))
    fitted: dict[str, Any] = {}
    if model == "ranker":
        _check(alpha, 0.5, 2, k)
        table = _ranker_next(
            visits,
            k,
            alpha,
            tz,
            ranker_params,
            fitted=saved["estimator"] if saved is not None else None,
            out=fitted,
        )
    else:
        table = predict_next(
            visits, k=k, alpha=alpha, tz=tz, model=model, ranker_params=ranker_params
        )
    path = table_path(lake, "predictions") / "predictions.parquet"
    assert generation is not None and version is not None
    with commit_lock(lake, generation, "predict"):
        write_table(
            table,
            path,
            {"gap_s": gap_s, "k": k, "alpha": alpha, "tz": tz, "model": model, "reason": reason},
        )
        if saved is None:
            _save_model(
                lake,
                visits["pid"].to_numpy(),
                model,
                reason,
                fit_params,
                version,
                fitted.get("estimator"),
            )
    shown = reason
    if saved is not None:
        shown += (
            "; saved model reused (same parameters, the lake's data unchanged since it was fitted)"
        )
    return {
        "subjects": int(table["pid"].nunique()),
        "rows": len(table),
        "path": str(path),
        "model": model,
        "reason": shown,
        "saved_model": "reused" if saved is not None else "saved",
    }
