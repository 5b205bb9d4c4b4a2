"""The learned next-place ranker (sightgraph.analytics.prediction_ranker): hand-built sequences
it must learn, features that never see the future, and the scikit-learn API."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sightgraph.analytics import prediction_ranker as R
from sightgraph.analytics.prediction_ranker import FEATURES, NextPlaceRanker, prepare_visits
from sightgraph.analytics.trajectories import build_visits
from sightgraph.errors import UsageError
from tests.analytics.test_prediction import visits_frame

T0 = pd.Timestamp("2026-03-02T00:00:00Z")  # a Monday
SMALL = {"max_iter": 20, "random_state": 0}


def sequences(seqs: dict[str, list[str]], step_h: float = 1.7) -> pd.DataFrame:
    return visits_frame([(p, c, i * step_h) for p, s in seqs.items() for i, c in enumerate(s)])


def protocol_ranks(model: NextPlaceRanker, visits: pd.DataFrame, share: float = 0.8) -> np.ndarray:
    """Ranks of the true next place of each subject's last (1 - share) visits, fitted on the
    first ``share`` (the evaluation protocol)."""
    data = prepare_visits(visits)
    n_fit = np.floor(share * data.lengths()).astype(np.int64)
    model._fit_visits(data, n_fit)
    return model._ranks(data, n_fit, n_fit)


# --- hand-built sequences ---------------------------------------------------------------------


def test_learns_a_deterministic_cycle() -> None:
    """Six subjects, each going round its own cycle of four places: every test visit is the
    next place of the cycle, ranked first."""
    seqs = {f"s{k}": [f"p{k}_{i % 4}" for i in range(40)] for k in range(6)}
    ranks = protocol_ranks(NextPlaceRanker(**SMALL), sequences(seqs))
    assert len(ranks) == 6 * 8
    assert (ranks == 1).all()


def test_learns_second_order_where_markov_cannot() -> None:
    """home -> a -> home -> b -> home -> a ...: from home the next place depends on the one
    before (first-order Markov gets half of those right); the order-2 features get all."""
    seqs = {
        f"s{k}": [["home", f"a{k}", "home", f"b{k}"][i % 4] for i in range(60)] for k in range(6)
    }
    visits = sequences(seqs)
    ranks = protocol_ranks(NextPlaceRanker(**SMALL), visits)
    assert (ranks == 1).all()
    from sightgraph.analytics.prediction import evaluate_predictions

    rep = evaluate_predictions(visits, scheduler="sync", ranker=False, select=False)
    assert rep["models"]["markov"]["acc1"] < 0.8  # the baseline it beats


def test_time_of_day_decides() -> None:
    """Each morning at 8 the subjects go from home to work, at 12 from home to a cafe, at 19
    from home to a gym (home in between): the same place before, so only the time tells."""
    rows = []
    for k in range(5):
        for d in range(25):
            base = 24.0 * d
            for h, place in ((8, f"work{k}"), (12, f"cafe{k}"), (19, f"gym{k}")):
                rows.append((f"s{k}", f"home{k}", base + h - 1.5))
                rows.append((f"s{k}", place, base + h))
    ranks = protocol_ranks(NextPlaceRanker(**SMALL), visits_frame(rows))
    assert np.mean(ranks == 1) > 0.95


def test_unseen_truth_is_ranked_after_the_candidates() -> None:
    """A subject that only ever visits new places: its truth is never a known place; the rank
    counts the candidates and the known places before it, so it is > 1 and <= the places."""
    seqs = {"new": [f"n{i}" for i in range(30)], "r": ["x", "y"] * 15}
    visits = sequences(seqs)
    ranks = protocol_ranks(NextPlaceRanker(n_popular=2, **SMALL), visits)
    n_places = visits["camera_id"].nunique()
    assert ranks.min() >= 1 and ranks.max() <= n_places
    data = prepare_visits(visits)
    new_ranks = ranks[: len(ranks) // 2]  # "new" sorts before "r"
    assert (new_ranks > 1).all()
    assert data.pids == ["new", "r"]


# --- property: no feature sees the visit it predicts or any later one ----------------------------


def _features_at(visits: pd.DataFrame, i: int) -> pd.DataFrame:
    """The candidate rows of step ``i`` (predict visit i of the single subject)."""
    data = prepare_visits(visits)
    model = NextPlaceRanker(n_popular=3)
    model._fit_visits(data, np.zeros(1, np.int64))  # population: nothing (no subject counts)
    pop = model._population(data.cams)
    feats, cand, _, _, _, _, _ = model._subject(data, 0, np.array([i], np.int64), 0, pop)
    df = pd.DataFrame(feats.astype(np.float64), columns=list(FEATURES))
    df.insert(0, "camera_id", data.cams[cand])
    return df.sort_values("camera_id").reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=3, max_size=25),
    st.lists(st.floats(0.2, 30.0), min_size=25, max_size=25),
    st.data(),
)
def test_features_ignore_the_future(seq: list[str], gaps: list[float], data) -> None:
    """The features of step i computed from the whole sequence equal those computed from its
    first i visits alone (same candidates, same values), whatever comes after."""
    hours = np.cumsum(gaps[: len(seq)])
    full = visits_frame([("s", c, float(h)) for c, h in zip(seq, hours, strict=True)])
    i = data.draw(st.integers(1, len(seq) - 1))
    head = full.iloc[:i].copy()
    # the places must be the same in both (the popularity prior counts places): keep every
    # place in the head's frame by an extra subject that visits all of them once
    pad = visits_frame([("z", c, 1000.0 + k) for k, c in enumerate(sorted(set(seq)))])
    a = _features_at(pd.concat([full, pad]), i)
    b = _features_at(pd.concat([head, pad]), i)
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([f"k{i}" for i in range(8)]),
            st.integers(0, 24 * 10),
        ),
        min_size=4,
        max_size=60,
        unique_by=lambda r: (r[0], r[2]),
    ),
    st.randoms(use_true_random=False),
)
def test_ranks_and_probabilities_are_well_formed(rows, rnd) -> None:
    """Any visits: every rank is in 1..places, predict_proba gives each subject a ranking
    1..n with probabilities that descend and sum to 1, and the row order of the input does
    not matter."""
    visits = visits_frame([(p, c, float(h)) for p, c, h in rows])
    model = NextPlaceRanker(max_iter=5)
    ranks = protocol_ranks(model, visits, 0.5)
    assert ((ranks >= 1) & (ranks <= visits["camera_id"].nunique())).all()
    proba = model.predict_proba(visits)
    assert set(proba["pid"]) == set(visits["pid"])
    for _, g in proba.groupby("pid"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert (np.diff(g["probability"].to_numpy()) <= 1e-12).all()
        assert g["probability"].sum() == pytest.approx(1.0)
    order = list(range(len(visits)))
    rnd.shuffle(order)
    shuffled = visits.iloc[order].reset_index(drop=True)
    again = clone(model)
    assert (protocol_ranks(again, shuffled, 0.5) == ranks).all()
    pd.testing.assert_frame_equal(again.predict_proba(shuffled), proba)


# --- the scikit-learn API ---------------------------------------------------------------------

#: checks of check_estimator that cannot apply, and why. The estimator's input is a table of
#: visits (pid, camera_id, arrive, leave), its target the next place of each visit, derived from
#: the visits themselves; the checks feed numeric matrices X with labels y.
NOT_APPLICABLE = {
    # they fit on a numeric matrix X (and y): not visits; the same properties are tested on
    # visits below (fit returns self, pickling, idempotent fit, unchanged input and
    # parameters, row order, not fitted)
    "check_fit_score_takes_y": "numeric X",
    "check_estimators_overwrite_params": "numeric X (see test_api_properties_on_visits)",
    "check_dont_overwrite_parameters": "numeric X (see test_api_properties_on_visits)",
    "check_estimators_fit_returns_self": "numeric X (see test_api_properties_on_visits)",
    "check_readonly_memmap_input": "numeric X; visits are a DataFrame",
    "check_n_features_in_after_fitting": "visits have no n_features_in_: the features are built",
    "check_n_features_in": "visits have no n_features_in_: the features are built",
    "check_positive_only_tag_during_fit": "numeric X",
    "check_estimators_dtypes": "numeric X of several dtypes",
    "check_complex_data": "numeric X",
    "check_dtype_object": "numeric X",
    "check_estimators_empty_data_messages": "empty numeric X (empty visits: tested below)",
    "check_pipeline_consistency": "numeric X (a Pipeline on visits: tested below)",
    "check_estimators_nan_inf": "numeric X with NaN (visits are validated by the lake schema)",
    "check_estimator_sparse_tag": "sparse numeric X",
    "check_estimator_sparse_array": "sparse numeric X",
    "check_estimator_sparse_matrix": "sparse numeric X",
    "check_estimators_pickle": "numeric X (see test_api_properties_on_visits)",
    "check_f_contiguous_array_estimator": "numeric X",
    "check_methods_sample_order_invariance": "numeric X (row order: the property test above)",
    "check_methods_subset_invariance": "rows are not independent samples: a subject's history",
    "check_fit2d_1sample": "numeric X",
    "check_fit2d_1feature": "numeric X",
    "check_dict_unchanged": "numeric X (see test_api_properties_on_visits)",
    "check_fit_idempotent": "numeric X (see test_api_properties_on_visits)",
    "check_fit_check_is_fitted": "numeric X (see test_api_properties_on_visits)",
    "check_fit1d": "numeric X",
    "check_fit2d_predict1d": "numeric X",
    "check_array_api_input": "numeric X in array-API namespaces",
}
#: the API checks that apply: they must pass
MUST_PASS = {
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_estimators_unfitted",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
}


def test_check_estimator_where_its_api_applies() -> None:
    """Every check of check_estimator passes or is in NOT_APPLICABLE (with the reason); the API
    checks in MUST_PASS pass. A check that a newer scikit-learn adds fails this test until it is
    classified here."""
    import inspect

    from sklearn.utils.estimator_checks import check_estimator

    if "on_fail" not in inspect.signature(check_estimator).parameters:
        pytest.skip("check_estimator(on_fail=None) needs scikit-learn >= 1.6")
    results = check_estimator(NextPlaceRanker(max_iter=5), on_fail=None)
    status = {}
    for r in results:
        status.setdefault(r["check_name"], set()).add(r["status"])
    assert set(status) >= MUST_PASS
    for name in MUST_PASS:
        assert status[name] == {"passed"}, name
    unexpected = {n: s for n, s in status.items() if s != {"passed"} and n not in NOT_APPLICABLE}
    assert not unexpected, unexpected


def routine(weeks: int = 3) -> pd.DataFrame:
    rows = []
    for k in range(6):
        for d in range(7 * weeks):
            base = 24.0 * d
            rows.append((f"s{k}", f"home{k}", base + 7))
            rows.append((f"s{k}", f"park{k % 2}" if d % 7 >= 5 else f"work{k % 3}", base + 9))
            rows.append((f"s{k}", f"home{k}", base + 18))
    return visits_frame(rows)


def test_api_properties_on_visits() -> None:
    """What the numeric checks test, on visits: fit returns self and changes neither its
    parameters nor its input; fitting twice gives the same model; it pickles; unfitted it
    raises NotFittedError; get_params/set_params round-trip."""
    visits = routine()
    before = visits.copy()
    model = NextPlaceRanker(**SMALL)
    params = model.get_params()
    with pytest.raises(NotFittedError):
        model.predict_proba(visits)
    assert model.fit(visits) is model
    assert model.get_params() == params
    pd.testing.assert_frame_equal(visits, before)
    first = model.predict_proba(visits)
    pd.testing.assert_frame_equal(model.fit(visits).predict_proba(visits), first)
    again = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(again.predict_proba(visits), first)
    assert model.set_params(max_own=7).get_params()["max_own"] == 7
    assert 0.0 <= model.score(visits) <= 1.0
    with pytest.raises(UsageError):
        NextPlaceRanker().fit(np.zeros((3, 3)))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        NextPlaceRanker(alpha=0).fit(visits)


def test_in_a_pipeline_from_sightings() -> None:
    """Sightings -> visits (a FunctionTransformer) -> ranker, in a Pipeline, cloned with new
    parameters; predict gives every subject's next place (home after work/park)."""
    visits = routine()
    sightings = visits.rename(columns={"arrive": "ts"})[["pid", "camera_id", "ts"]]
    pipe = Pipeline(
        [
            ("visits", FunctionTransformer(build_visits, kw_args={"gap_s": 900.0})),
            ("rank", NextPlaceRanker(**SMALL)),
        ]
    )
    pipe.fit(sightings)
    nxt = pipe.predict(sightings)
    # the last visits are home at 18:00; the next visit is home again the next morning
    assert nxt.to_dict() == {f"s{k}": f"home{k}" for k in range(6)}
    other = clone(pipe).set_params(rank__max_iter=10).fit(sightings)
    assert other.named_steps["rank"].model_.max_iter == 10
    proba = pipe.predict_proba(sightings)
    assert set(proba.columns) == {"pid", "camera_id", "probability", "rank"}


def test_distance_feature_from_coordinates() -> None:
    """With the cameras' coordinates the distance from the current place is a feature (the
    trees get it); without, it is NaN throughout and left out."""
    visits = routine()
    cams = sorted(visits["camera_id"].unique())
    coords = pd.DataFrame({"camera_id": cams, "lat": 52.0 + np.arange(len(cams)) / 100, "lon": 5.0})
    dist = FEATURES.index("distance_km")
    with_c = NextPlaceRanker(coordinates=coords, **SMALL).fit(visits)
    without = NextPlaceRanker(**SMALL).fit(visits)
    assert dist in with_c.features_ and dist not in without.features_


def test_empty_and_new_places() -> None:
    empty = visits_frame([])
    model = NextPlaceRanker(**SMALL).fit(empty)
    assert model.model_ is None
    assert model.predict_proba(empty).empty
    # fitted on some places, asked about a subject at a place it never saw
    fitted = NextPlaceRanker(**SMALL).fit(routine())
    new = visits_frame([("q", "elsewhere", 1.0), ("q", "home0", 2.0)])
    p = fitted.predict_proba(new)
    assert p["rank"].iloc[0] == 1 and set(p["pid"]) == {"q"}


def test_kernel_compiles_and_warm_up_is_cheap() -> None:
    R._warm_up()
    R._warm_up()


def test_nearby_new_places_are_candidates_with_coordinates() -> None:
    """Subjects walking east along their own row of cells, one cell per visit, never back: the
    next place is always new, so no count can predict it; with coordinates the nearest cells
    are candidates, and the nearest one never visited is the next."""
    rows, cams = [], []
    for k in range(4):
        for i in range(40):
            cell = f"r{k}_c{i:02d}"
            rows.append((f"s{k}", cell, 2.0 * i))
    for k in range(4):
        for i in range(40):
            cams.append((f"r{k}_c{i:02d}", 50.0 + 0.01 * k, 5.0 + 0.01 * i))
    coords = pd.DataFrame(cams, columns=["camera_id", "lat", "lon"])
    visits = visits_frame(rows)
    with_c = protocol_ranks(NextPlaceRanker(coordinates=coords, **SMALL), visits)
    without = protocol_ranks(NextPlaceRanker(**SMALL), visits)
    assert np.mean(with_c == 1) > 0.9
    assert np.mean(without == 1) < 0.1


def test_movement_persistence_picks_straight_on_among_equidistant_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Walkers cross a grid of cells (on the equator, so the four neighbours of a cell are
    equally far) straight east, north, west or south, one cell per visit; another subject has
    visited every cell, so every neighbour is a known place and equally near. Only the turn
    from the last move tells straight on (cos 1) from the sides (0); the ranker learns it."""
    n = 24
    rows = []
    for k in range(8):
        line = 2 + 2 * k
        path = [(i, line) if k % 2 == 0 else (line, i) for i in range(n)]
        if k % 4 >= 2:
            path = path[::-1]  # west / south
        rows += [(f"s{k}", f"x{x:02d}y{y:02d}", 2.0 * i) for i, (x, y) in enumerate(path)]
    cells = [(x, y) for x in range(n) for y in range(n)]
    rng = np.random.default_rng(0)
    rows += [
        ("z_fill", f"x{x:02d}y{y:02d}", 2.0 * i)
        for i, (x, y) in enumerate(cells[j] for j in rng.permutation(len(cells)))
    ]
    coords = pd.DataFrame(
        [(f"x{x:02d}y{y:02d}", 0.01 * y, 0.01 * x) for x, y in cells],
        columns=["camera_id", "lat", "lon"],
    )
    tested = 8 * (n - int(0.8 * n))  # the walkers' test visits come first (pids)
    ranks = protocol_ranks(NextPlaceRanker(coordinates=coords, **SMALL), visits_frame(rows))
    assert np.mean(ranks[:tested] == 1) > 0.8
    turn = FEATURES.index("turn_cos")
    assert turn in NextPlaceRanker(coordinates=coords, **SMALL).fit(visits_frame(rows)).features_
    # the same without the two movement terms: the three cells ahead and aside look alike
    kernel = R.subject_features

    def blind(*args):  # type: ignore[no-untyped-def]
        out = kernel(*args)
        out[0][:, turn:] = np.nan
        return out

    monkeypatch.setattr(R, "subject_features", blind)
    ranks = protocol_ranks(NextPlaceRanker(coordinates=coords, **SMALL), visits_frame(rows))
    assert np.mean(ranks[:tested] == 1) < 0.6


def test_nearest_places() -> None:
    lat = np.array([0.0, 0.0, 0.0, np.nan, 0.0])
    lon = np.array([0.0, 1.0, 3.0, 0.0, 0.5])
    near = R._nearest(lat, lon, 2)
    assert near[0].tolist() == [4, 1] and near[2].tolist() == [1, 4]
    assert near[3].tolist() == [-1, -1]
    assert R._nearest(lat, lon, 0).shape == (5, 0)
    assert R._nearest(np.full(3, np.nan), np.full(3, np.nan), 2).shape == (3, 0)


def test_threads_do_not_change_the_ranks() -> None:
    visits = routine()
    data = prepare_visits(visits)
    n_fit = np.floor(0.8 * data.lengths()).astype(np.int64)
    model = NextPlaceRanker(**SMALL)._fit_visits(data, n_fit)
    one = model._ranks(data, n_fit, n_fit)
    model.set_params(n_jobs=3, n_threads=2)
    assert (model._ranks(data, n_fit, n_fit) == one).all()
