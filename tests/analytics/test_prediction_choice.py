"""Model choice by validation (sightgraph.analytics.prediction.choose_model and the report of
evaluate_predictions / compute_predictions / `sightgraph predict`): never below first-order
Markov on validation, the test visits play no part, the JSON shape scripts depend on."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph.analytics.prediction import (
    CANDIDATE_MODELS,
    choose_model,
    evaluate_predictions,
    predict_next,
)
from sightgraph.errors import UsageError
from tests.analytics.test_prediction import visits_frame

T0 = pd.Timestamp("2026-03-02T00:00:00Z")  # a Monday
SMALL = {"max_iter": 20}
#: a ranker that cannot learn anything (no split allowed): every candidate scores the same
CRIPPLED = {"max_iter": 1, "max_leaf_nodes": 2, "min_samples_leaf": 10**7}


def routine_city(weeks: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, float]] = []
    for s in range(8):
        for day in range(7 * weeks):
            base = 24.0 * day
            rows.append((f"s{s}", f"home{s}", base + 7))
            rows.append((f"s{s}", f"park{s % 2}" if day % 7 >= 5 else f"work{s % 3}", base + 9))
            rows.append((f"s{s}", f"home{s}", base + 18))
            if rng.random() < 0.3:
                rows.append((f"s{s}", f"shop{rng.integers(0, 3)}", base + 20))
    return visits_frame(rows)


def cycles() -> pd.DataFrame:
    """Deterministic first-order cycles: Markov is perfect."""
    return visits_frame([(f"s{k}", f"p{k}_{i % 3}", 1.5 * i) for k in range(5) for i in range(30)])


# --- the rule -----------------------------------------------------------------------------


def test_choose_model_rule() -> None:
    m = {
        "most_frequent": {"acc1": 0.2, "mrr": 0.3},
        "markov": {"acc1": 0.5, "mrr": 0.6},
        "sightgraph": {"acc1": 0.5, "mrr": 0.65},
        "ranker": {"acc1": 0.49, "mrr": 0.9},
    }
    name, why = choose_model(m, 100)
    assert name == "sightgraph"  # equal Acc@1, better MRR
    assert "0.500" in why and "markov 0.500" in why and "100 validation visits" in why
    m["sightgraph"]["mrr"] = 0.6
    assert choose_model(m, 100)[0] == "markov"  # all equal: the order of CANDIDATE_MODELS
    m["ranker"]["acc1"] = 0.51
    assert choose_model(m, 100)[0] == "ranker"
    assert choose_model(m, 0)[0] == "sightgraph"  # nothing to validate on: the default
    nan = {x: {"acc1": math.nan, "mrr": math.nan} for x in CANDIDATE_MODELS}
    assert choose_model(nan, 5)[0] == "sightgraph"


scores = st.fixed_dictionaries(
    {
        x: st.fixed_dictionaries({"acc1": st.floats(0, 1), "mrr": st.floats(0, 1)})
        for x in CANDIDATE_MODELS
    }
)


@settings(max_examples=300, deadline=None)
@given(scores, st.integers(1, 10**6))
def test_chosen_is_never_below_markov(models, n) -> None:
    name, _ = choose_model(models, n)
    assert models[name]["acc1"] >= models["markov"]["acc1"]
    assert models[name]["acc1"] == max(m["acc1"] for m in models.values())


# --- the evaluation report ------------------------------------------------------------------


def test_report_shape_and_choice_on_routines() -> None:
    rep = evaluate_predictions(routine_city(), scheduler="sync", ranker_params=SMALL)
    assert {"test_visits", "subjects", "models", "chosen", "predictability"} <= set(rep)
    assert {"cameras", "params", "selection"} <= set(rep)  # today's keys stay
    assert set(rep["models"]) == {"most_frequent", "markov", "sightgraph", "ranker"}
    for m in rep["models"].values():
        assert set(m) == {"acc1", "acc5", "mrr"}
        assert 0 <= m["acc1"] <= m["acc5"] <= 1
    assert {"median", "mean", "subjects"} <= set(rep["predictability"])
    sel = rep["selection"]
    assert rep["chosen"] in CANDIDATE_MODELS
    val = sel["models"]
    assert val[rep["chosen"]]["acc1"] >= val["markov"]["acc1"]
    assert val[rep["chosen"]]["acc1"] == max(m["acc1"] for m in val.values())
    assert 0 < sel["validation_visits"] < rep["test_visits"] * 4
    assert sel["validation_subjects"] == rep["subjects"] == 8
    assert rep["chosen"] in sel["reason"] or "highest" in sel["reason"]
    # the routine's time of week is learnt: a time-aware model, far above Markov
    assert rep["chosen"] in ("sightgraph", "ranker")
    assert rep["models"][rep["chosen"]]["acc1"] > rep["models"]["markov"]["acc1"] + 0.15


def test_validation_never_sees_the_test_visits() -> None:
    """Changing every test visit (the last 20% of each subject) changes no validation score
    and so not the choice."""
    v = routine_city(seed=4)
    a = evaluate_predictions(v, scheduler="sync", ranker_params=SMALL)
    w = v.sort_values(["pid", "arrive"]).copy()
    n = w.groupby("pid")["pid"].transform("size")
    k = w.groupby("pid").cumcount()
    test = k >= np.floor(0.8 * n)
    w.loc[test, "camera_id"] = "somewhere_else"
    b = evaluate_predictions(w, scheduler="sync", ranker_params=SMALL)
    assert a["selection"]["models"] == b["selection"]["models"]
    assert a["chosen"] == b["chosen"]
    assert a["models"]["markov"] != b["models"]["markov"]


def test_a_ranker_that_loses_is_not_chosen() -> None:
    """A ranker that learns nothing, on cycles first-order Markov predicts perfectly: Markov
    (first in the order among the perfect ones) is chosen."""
    rep = evaluate_predictions(cycles(), scheduler="sync", ranker_params=CRIPPLED)
    val = rep["selection"]["models"]
    assert val["markov"]["acc1"] == 1.0
    assert val["ranker"]["acc1"] < 1.0
    assert rep["chosen"] == "markov"


def test_no_selection_and_no_ranker() -> None:
    rep = evaluate_predictions(cycles(), scheduler="sync", ranker=False, select=False)
    assert set(rep["models"]) == {"most_frequent", "markov", "sightgraph"}
    assert "chosen" not in rep


def test_empty_input_reports_nan_and_the_default() -> None:
    rep = evaluate_predictions(visits_frame([]), scheduler="sync")
    assert rep["test_visits"] == 0 and rep["chosen"] == "sightgraph"
    assert math.isnan(rep["models"]["ranker"]["acc1"])


@pytest.mark.parametrize("model", CANDIDATE_MODELS)
def test_predict_next_with_every_model(model: str) -> None:
    v = routine_city(weeks=2)
    out = predict_next(v, k=3, model=model, ranker_params=SMALL)
    assert set(out["pid"]) == {f"s{i}" for i in range(8)}
    assert list(out.columns) == ["pid", "rank", "camera_id", "probability", "as_of"]
    for _, g in out.groupby("pid"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1)) and len(g) <= 3
        assert (np.diff(g["probability"].to_numpy()) <= 1e-12).all() or model == "markov"
        assert 0 <= g["probability"].sum() <= 1 + 1e-9
    if model == "markov":  # after the last visit (home), the transitions from home
        s0 = out[out["pid"] == "s0"]
        assert s0["camera_id"].iloc[0] in {"home0", "work0"}
    with pytest.raises(UsageError):
        predict_next(v, model="oracle")


# --- the command line --------------------------------------------------------------------------


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {
        k: v for k, v in os.environ.items() if k not in ("SIGHTGRAPH_PURPOSE", "SIGHTGRAPH_ROLE")
    }
    full.update(SIGHTGRAPH_PSEUDONYM_KEY="choice-test-key", **env)
    return subprocess.run(
        [sys.executable, "-m", "sightgraph.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=full,
        timeout=600,
    )


def test_cli_evaluate_json_and_table_name_the_chosen_model(tmp_path: Path) -> None:
    """`predict --evaluate --json` has the shape scripts depend on (today's keys plus
    `chosen`); `predict` writes the table with the chosen model in its metadata and says why."""
    from sightgraph.lake import read_params

    city, lake = tmp_path / "city", tmp_path / "lake"
    admin = {"SIGHTGRAPH_WORKDIR": str(tmp_path), "SIGHTGRAPH_ROLE": "admin"}
    r = run("generate", "--out", city, "--persons", "120", "--days", "7", env=admin)
    assert r.returncode == 0, r.stderr
    r = run("ingest", city / "sightings.parquet", "--lake", lake, env=admin)
    assert r.returncode == 0, r.stderr
    r = run("predict", "--lake", lake, "--evaluate", "--json", env={"SIGHTGRAPH_ROLE": "viewer"})
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert {"test_visits", "subjects", "cameras", "models", "chosen", "predictability"} <= set(rep)
    assert set(rep["models"]) == {"most_frequent", "markov", "sightgraph", "ranker"}
    assert rep["chosen"] in CANDIDATE_MODELS and rep["predictability"]["median"] > 0
    val = rep["selection"]["models"]
    assert val[rep["chosen"]]["acc1"] >= val["markov"]["acc1"]
    env = {**admin, "SIGHTGRAPH_PURPOSE": "test"}
    r = run("predict", "--lake", lake, "--k", "2", env=env)
    assert r.returncode == 0, r.stderr
    assert "model: " in r.stdout and "validation" in r.stdout
    path = lake / "predictions" / "predictions.parquet"
    params = read_params(path)
    assert params is not None and params["model"] in CANDIDATE_MODELS
    assert pd.read_parquet(path).groupby("pid")["rank"].max().le(2).all()
    r = run("predict", "--lake", lake, "--model", "markov", env=env)
    assert r.returncode == 0, r.stderr
    assert read_params(path)["model"] == "markov"  # type: ignore[index]
    r = run("predict", "--lake", lake, "--model", "oracle", env=env)
    assert r.returncode == 2 and "oracle" in r.stderr and "Traceback" not in r.stderr


def test_a_gain_within_the_noise_keeps_markov() -> None:
    """With the paired gains: a model whose Acc@1 gain over Markov is within margin_z
    standard errors is not chosen (a few validation visits of a few birds), one beyond it is;
    the reason names the one left out."""
    m = {
        "markov": {"acc1": 0.578, "mrr": 0.7},
        "sightgraph": {"acc1": 0.55, "mrr": 0.7},
        "ranker": {"acc1": 0.606, "mrr": 0.75},
    }
    gains = {"markov": (0.0, 0.0), "sightgraph": (-0.028, 0.03), "ranker": (0.028, 0.05)}
    name, why = choose_model(m, 109, gains)
    assert name == "markov" and "ranker +0.028 (SE 0.050)" in why
    gains["ranker"] = (0.028, 0.01)
    assert choose_model(m, 109, gains)[0] == "ranker"
    assert choose_model(m, 109, gains, margin_z=3.0)[0] == "markov"


def test_gains_are_paired_differences() -> None:
    from sightgraph.analytics.prediction import _gains

    ranks = {
        "markov": np.array([1, 2, 1, 3]),
        "ranker": np.array([1, 1, 1, 1]),
        "most_frequent": np.array([2, 2, 2, 2]),
    }
    g = _gains(ranks)
    assert g["markov"] == (0.0, 0.0)
    assert g["ranker"][0] == pytest.approx(0.5)
    assert g["ranker"][1] == pytest.approx(np.std([0, 1, 0, 1], ddof=1) / 2)
    assert g["most_frequent"][0] == pytest.approx(-0.5)


def test_validation_on_a_sample_of_subjects() -> None:
    """With a small max_validation_visits the choice is made on a random sample of subjects
    (the same every run); the test scores do not change."""
    v = routine_city(seed=2)
    full = evaluate_predictions(v, scheduler="sync", ranker_params=SMALL)
    small = evaluate_predictions(v, scheduler="sync", ranker_params=SMALL, max_validation_visits=20)
    again = evaluate_predictions(v, scheduler="sync", ranker_params=SMALL, max_validation_visits=20)
    assert small["models"] == full["models"]
    assert small["selection"]["validation_subjects"] < full["selection"]["validation_subjects"]
    assert small["selection"]["validation_visits"] >= 20
    assert small["selection"] == again["selection"]
    val = small["selection"]["models"]
    assert val[small["chosen"]]["acc1"] >= val["markov"]["acc1"]
    with pytest.raises(UsageError):
        evaluate_predictions(v, scheduler="sync", ranker=False, max_validation_visits=0)
