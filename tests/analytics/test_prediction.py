"""Next-camera prediction against brute-force oracles: the Lempel-Ziv matches, Fano's bound, the
three models' rankings under the chronological protocol, and behaviour on routines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph.analytics import _kernels
from sightgraph.analytics import prediction as P
from sightgraph.analytics.prediction import (
    MODELS,
    evaluate_predictions,
    fano_bound,
    lz_entropy,
    predict_next,
)
from sightgraph.errors import UsageError

T0 = pd.Timestamp("2026-03-02T00:00:00Z")  # a Monday


def visits_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """rows: (pid, camera_id, hours after T0); each visit lasts 10 minutes."""
    arrive = pd.to_datetime([T0 + pd.Timedelta(hours=h) for _, _, h in rows], utc=True)
    return pd.DataFrame(
        {
            "pid": [r[0] for r in rows],
            "camera_id": [r[1] for r in rows],
            "arrive": arrive,
            "leave": arrive + pd.Timedelta(minutes=10),
        }
    )


# --- Lempel-Ziv and Fano ------------------------------------------------------------------


def oracle_lz_total(seq: list[int]) -> int:
    """Sum of L_i by the definition, with list slicing."""
    n, total = len(seq), 0
    for i in range(n):
        past = seq[:i]
        length = None
        for k in range(1, n - i + 1):
            sub = seq[i : i + k]
            if not any(past[j : j + k] == sub for j in range(len(past) - k + 1)):
                length = k
                break
        total += length if length is not None else n - i + 1
    return total


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=0, max_size=30))
def test_lz_matches_equal_the_definition(seq: list[int]) -> None:
    assert _kernels.lz_match_total(np.array(seq, dtype=np.int64)) == oracle_lz_total(seq)


def test_lz_entropy_orders_regular_below_random() -> None:
    rng = np.random.default_rng(0)
    periodic = [0, 1, 2, 3] * 50
    noisy = rng.integers(0, 4, size=200).tolist()
    assert lz_entropy(periodic) < 0.3 < 1.5 < lz_entropy(noisy) <= 2.2
    assert lz_entropy(["home", "work"] * 20) == lz_entropy([5, 9] * 20)  # labels do not matter
    assert lz_entropy([]) == lz_entropy([7]) == 0.0


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 500), st.floats(0.0, 1.0))
def test_fano_bound_inverts_fano(n: int, share: float) -> None:
    """For an entropy inside (0, log2 N) the bound P satisfies Fano's equation and lies in
    [1/N, 1]; more entropy never gives a higher bound."""
    s = share * math.log2(n)
    p = fano_bound(s, n)
    assert 1.0 / n - 1e-12 <= p <= 1.0
    if 0 < s < math.log2(n):
        h = -p * math.log2(p) - (1 - p) * math.log2(1 - p) if p < 1 else 0.0
        assert h + (1 - p) * math.log2(n - 1) == pytest.approx(s, abs=1e-9)
    assert fano_bound(min(s + 0.1, math.log2(n)), n) <= p + 1e-12


def test_fano_bound_edges() -> None:
    assert fano_bound(3.0, 1) == 1.0
    assert fano_bound(0.0, 7) == 1.0
    assert fano_bound(10.0, 4) == pytest.approx(0.25)
    with pytest.raises(UsageError):
        fano_bound(1.0, 0)


# --- the models against a brute-force oracle -------------------------------------------------


def slot_of(leave: pd.Timestamp) -> int:
    return (4 if leave.dayofweek >= 5 else 0) + leave.hour * 4 // 24


def oracle_ranks(
    visits: pd.DataFrame, alpha: float, fit_share: float, min_visits: int
) -> dict[str, list[int]]:
    """Each test visit's rank per model, recounting the whole history for every prediction
    (levels of the sightgraph model: from the current camera; after the previous and the
    current; ... and in the current visit's time slot)."""
    v = visits.sort_values(["pid", "arrive", "camera_id"], kind="stable")
    cams = sorted(v["camera_id"].unique())
    seqs = []
    for _, g in v.groupby("pid", sort=True):
        seq = [(cams.index(c), slot_of(t)) for c, t in zip(g["camera_id"], g["leave"], strict=True)]
        if len(seq) >= min_visits:
            seqs.append(seq)
    fits = [max(1, math.floor(fit_share * len(s))) for s in seqs]
    counts = [1.0] * len(cams)
    for seq, nf in zip(seqs, fits, strict=True):
        for c, _ in seq[:nf]:
            counts[c] += 1
    g = [x / sum(counts) for x in counts]
    out: dict[str, list[int]] = {m: [] for m in MODELS}
    for seq, nf in zip(seqs, fits, strict=True):
        for i in range(nf, len(seq)):
            hist, (cur, cur_slot), true = seq[:i], seq[i - 1], seq[i][0]
            freq = [sum(1 for c, _ in hist if c == x) for x in range(len(cams))]
            before = seq[i - 2][0] if i >= 2 else None
            n = len(cams)
            trans = [
                sum(1 for j in range(1, i) if (hist[j - 1][0], hist[j][0]) == (cur, x))
                for x in range(n)
            ]
            rows = [trans]
            if before is not None:
                rows.append(
                    [
                        sum(
                            1
                            for j in range(2, i)
                            if (hist[j - 2][0], hist[j - 1][0], hist[j][0]) == (before, cur, x)
                        )
                        for x in range(n)
                    ]
                )
                rows.append(
                    [
                        sum(
                            1
                            for j in range(2, i)
                            if (hist[j - 2][0], hist[j - 1], hist[j][0])
                            == (before, (cur, cur_slot), x)
                        )
                        for x in range(n)
                    ]
                )
            total = sum(freq)
            scores = {
                "most_frequent": [float(f) for f in freq],
                "markov": [
                    t + f / (total + 1) if sum(trans) else f / (total + 1)
                    for t, f in zip(trans, freq, strict=True)
                ],
            }
            p = [(freq[x] + alpha * g[x]) / (total + alpha) for x in range(len(cams))]
            for row in rows:
                if not sum(row):
                    break
                p = [(row[x] + alpha * p[x]) / (sum(row) + alpha) for x in range(len(cams))]
            scores["sightgraph"] = p
            for m, sc in scores.items():
                order = sorted(range(len(cams)), key=lambda x, sc=sc: (-sc[x], -g[x], x))
                out[m].append(order.index(true) + 1)
    return out


# scattered visits among six cameras; repetitive ones (three cameras at a few hours of thirty
# days) so that the second-order and time-slot contexts recur; and three subjects among forty
# cameras, so that most cameras are ones a subject never visited (popularity ties included)
visit_rows = st.one_of(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([f"k{i:02d}" for i in range(40)]),
            st.integers(0, 24 * 20),
        ),
        max_size=60,
        unique_by=lambda r: (r[0], r[2]),
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["c1", "c2", "c3", "c4", "c5", "c6"]),
            st.integers(0, 24 * 9),
        ),
        max_size=80,
        unique_by=lambda r: (r[0], r[2]),
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["c1", "c2", "c3"]),
            st.builds(
                lambda d, h: 24 * d + h, st.integers(0, 30), st.sampled_from([1, 7, 9, 13, 19, 23])
            ),
        ),
        max_size=120,
        unique_by=lambda r: (r[0], r[2]),
    ),
)


def implementation_ranks(
    visits: pd.DataFrame, alpha: float, fit_share: float, min_visits: int
) -> dict[str, list[int]]:
    """The ranks the implementation gives every test visit (its internal steps, unchunked)."""
    v, cams = P._prepare(visits, "UTC")
    groups = [x for x in P._groups(v) if len(x[1]) >= min_visits]
    counts = np.zeros(len(cams))
    for _, c, _ in groups:
        np.add.at(counts, c[: P._fit_len(len(c), fit_share)], 1)
    g = P._popularity(counts)
    out: dict[str, list[int]] = {m: [] for m in MODELS}
    for _, c, sl in groups:
        for m, r in P._evaluate_subject(c, sl, g, alpha, fit_share).items():
            out[m].extend(r)
    return out


@settings(max_examples=150, deadline=None)
@given(visit_rows, st.sampled_from([0.5, 1.0, 3.0]), st.sampled_from([0.5, 0.8]), st.integers(2, 6))
def test_evaluation_equals_the_oracle(rows, alpha, fit_share, min_visits) -> None:
    """Every test visit's rank under each model is the oracle's, and the report's means are
    the means of those ranks."""
    visits = visits_frame([(p, c, float(h)) for p, c, h in rows])
    want = oracle_ranks(visits, alpha, fit_share, min_visits)
    assert implementation_ranks(visits, alpha, fit_share, min_visits) == want
    got = evaluate_predictions(
        visits,
        alpha=alpha,
        fit_share=fit_share,
        min_visits=min_visits,
        scheduler="sync",
        chunks=2,
        ranker=False,  # the counting models only (the ranker: test_prediction_ranker.py)
        select=False,
    )
    n = len(want["markov"])
    assert got["test_visits"] == n
    for m in MODELS:
        r = np.array(want[m], dtype=float)
        res = got["models"][m]
        if n == 0:
            assert math.isnan(res["acc1"]) and math.isnan(res["mrr"])
            continue
        assert res["acc1"] == pytest.approx(float(np.mean(r == 1)))
        assert res["acc5"] == pytest.approx(float(np.mean(r <= 5)))
        assert res["mrr"] == pytest.approx(float(np.mean(1 / r)))


def routine_city(weeks: int = 4, seed: int = 0) -> pd.DataFrame:
    """Ten subjects, each with a home, a workplace and a park of its own (some shared): on
    weekdays home -> work -> home, on weekends home -> park -> home, plus a random errand to a
    shop on some evenings."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, float]] = []
    for s in range(10):
        home, work, park = f"home{s}", f"work{s % 3}", f"park{s % 2}"
        for day in range(7 * weeks):
            base = 24.0 * day
            weekend = day % 7 >= 5
            rows.append((f"s{s}", home, base + 7))
            rows.append((f"s{s}", park if weekend else work, base + 9 + rng.random()))
            rows.append((f"s{s}", home, base + 18))
            if rng.random() < 0.3:
                rows.append((f"s{s}", f"shop{rng.integers(0, 3)}", base + 20))
    return visits_frame(rows)


def test_routines_are_learnt_and_time_of_week_matters() -> None:
    """Where a commuter goes from home depends on the time of the week (work on weekday
    mornings, the park at weekends, home again in the evening): first-order Markov and the most
    frequent camera cannot tell (both ~0.56-0.59 here), the time-slot level can."""
    rep = evaluate_predictions(routine_city(), scheduler="sync")
    m = rep["models"]
    assert rep["subjects"] == 10 and rep["cameras"] == 10 + 3 + 2 + 3
    assert m["sightgraph"]["acc1"] > 0.85
    assert m["sightgraph"]["acc1"] > max(m["markov"]["acc1"], m["most_frequent"]["acc1"]) + 0.2
    assert m["sightgraph"]["mrr"] > max(m["markov"]["mrr"], m["most_frequent"]["mrr"])
    assert m["sightgraph"]["acc5"] >= 0.95  # only the random errands can miss the top five
    assert 0.8 < rep["predictability"]["median"] <= 1.0


def test_same_answer_on_any_scheduler_and_chunking() -> None:
    v = routine_city(weeks=2, seed=3)
    ref = evaluate_predictions(v, scheduler="sync", chunks=1)
    for sched, chunks in (("threads", 3), ("sync", 7)):
        assert (
            evaluate_predictions(v.sample(frac=1, random_state=1), scheduler=sched, chunks=chunks)
            == ref
        )


def test_predict_next_follows_the_routine() -> None:
    """After a weekday's 18:00 visit home... the next visit of a commuter whose last visit was
    home in the morning is work; probabilities descend and sum to at most 1."""
    v = routine_city(weeks=2)
    morning = v[~((v["pid"] == "s0") & (v["arrive"] > T0 + pd.Timedelta(days=7, hours=8)))]
    out = predict_next(morning, k=3)
    s0 = out[out["pid"] == "s0"]
    assert s0["rank"].tolist() == [1, 2, 3]
    assert s0["camera_id"].iloc[0] == "work0"  # Monday of week 2, at home in the morning
    assert (np.diff(s0["probability"].to_numpy()) <= 0).all()
    for _, g in out.groupby("pid"):
        assert 0 < g["probability"].sum() <= 1.0 + 1e-12
    assert set(out["pid"]) == {f"s{i}" for i in range(10)}
    assert (out["as_of"] == out.groupby("pid")["as_of"].transform("max")).all()


def test_empty_and_bad_input() -> None:
    empty = visits_frame([])
    rep = evaluate_predictions(empty, scheduler="sync")
    assert rep["subjects"] == rep["test_visits"] == 0
    assert math.isnan(rep["models"]["sightgraph"]["acc1"])
    assert predict_next(empty).empty
    v = routine_city(weeks=1)
    for kwargs in ({"alpha": 0}, {"fit_share": 1.0}, {"min_visits": 1}, {"tz": "Mars/Olympus"}):
        with pytest.raises(UsageError):
            evaluate_predictions(v, scheduler="sync", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        predict_next(v, k=0)
    with pytest.raises(UsageError, match="camera_id"):
        predict_next(v.drop(columns="camera_id"))


@pytest.mark.parametrize("seed", [1, 2])
def test_long_history_equals_the_oracle(seed: int) -> None:
    """A subject with 144 visits among 8 cameras meets hundreds of contexts, more than the
    kernel's first allocation: the rows it grows into keep their counts."""
    rng = np.random.default_rng(seed)
    rows = [("a", f"c{rng.integers(0, 8)}", float(h)) for h in range(0, 24 * 30, 5)]
    rows += [("b", f"c{rng.integers(0, 3)}", float(h)) for h in range(0, 24 * 10, 7)]
    visits = visits_frame(rows)
    want = oracle_ranks(visits, 1.0, 0.5, 2)
    assert implementation_ranks(visits, 1.0, 0.5, 2) == want
    assert len(want["sightgraph"]) > 80
