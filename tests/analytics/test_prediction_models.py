"""Saved models (issue 12 step 6): `predict` saves the chosen model under the lake with its
parameters, data version and scikit-learn version, reuses it while nothing changed, refits
when something did, and `forget` drops it (it was fitted on the subject's visits)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sklearn

import sightgraph.analytics.prediction as prediction
from sightgraph.analytics.prediction import compute_predictions, data_version, load_saved_model
from sightgraph.governance.erasure import forget_subject
from sightgraph.ingest.pipeline import ingest
from sightgraph.lake import lake_files, owner, read_params, unregistered_files
from sightgraph.synthetic.city import generate_city, write_city


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    city = generate_city(persons=60, cameras=20, days=5, seed=3)
    paths = write_city(city, tmp_path / "city")
    lake = tmp_path / "lake"
    ingest(paths["sightings"], lake, cameras=paths["cameras"], pseudonymize=False, progress=False)
    return lake


def _no_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation ran although the saved model applied")

    monkeypatch.setattr(prediction, "evaluate_predictions", fail)


def test_predict_saves_then_reuses_the_model(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = compute_predictions(lake, progress=False)
    assert first["saved_model"] == "saved"
    manifest = lake / "models" / "predict.parquet"
    meta = read_params(manifest)
    assert meta is not None
    assert meta["model"] == first["model"] and meta["reason"] == first["reason"]
    assert meta["sklearn_version"] == sklearn.__version__
    assert meta["data_version"] == data_version(lake)
    assert meta["fit_params"] == {
        "alpha": 1.0,
        "gap_s": 900.0,
        "min_visits": 5,
        "model": "auto",
        "tz": "UTC",
    }
    subjects = set(pd.read_parquet(manifest)["pid"])
    assert subjects == set(pd.read_parquet(lake / "predictions" / "predictions.parquet")["pid"])
    assert owner("models/predict.parquet").name == "models"  # type: ignore[union-attr]
    assert owner("models/predict.joblib").name == "models"  # type: ignore[union-attr]
    assert unregistered_files(lake) == []
    before = pd.read_parquet(lake / "predictions" / "predictions.parquet")

    _no_validation(monkeypatch)
    again = compute_predictions(lake, progress=False)
    assert again["saved_model"] == "reused" and again["model"] == first["model"]
    assert "saved model reused" in again["reason"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(lake / "predictions" / "predictions.parquet"), before
    )
    # other parameters: not reused (a model fitted with them is saved instead)
    assert load_saved_model(lake, {"gap_s": 600.0}) is None
    other = compute_predictions(lake, progress=False, model="markov")
    assert other["saved_model"] == "saved" and other["model"] == "markov"
    assert read_params(manifest)["fit_params"]["model"] == "markov"  # type: ignore[index]
    assert not (lake / "models" / "predict.joblib").exists()  # a counting model: no estimator


def test_the_saved_ranker_is_the_fitted_estimator(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = compute_predictions(lake, progress=False, model="ranker")
    assert first["saved_model"] == "saved"
    saved = load_saved_model(lake)
    assert saved is not None and saved["model"] == "ranker"
    est = saved["estimator"]
    assert est is not None and est.get_params()["tz"] == "UTC" and hasattr(est, "model_")
    before = pd.read_parquet(lake / "predictions" / "predictions.parquet")
    again = compute_predictions(lake, progress=False, model="ranker")
    assert again["saved_model"] == "reused"
    pd.testing.assert_frame_equal(
        pd.read_parquet(lake / "predictions" / "predictions.parquet"), before
    )
    # a damaged estimator file is not loaded: the model is refitted and saved again
    blob = lake / "models" / "predict.joblib"
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    assert load_saved_model(lake) is None
    assert compute_predictions(lake, progress=False, model="ranker")["saved_model"] == "saved"
    # a ranker fitted on another feature set (an older sightgraph): not reused
    from sightgraph.analytics import prediction_ranker

    assert load_saved_model(lake) is not None
    monkeypatch.setattr(prediction_ranker, "FEATURES", prediction_ranker.FEATURES[:-2])
    assert load_saved_model(lake) is None
    monkeypatch.undo()
    # another scikit-learn version: not reused
    monkeypatch.setattr(sklearn, "__version__", "0.0.1")
    assert load_saved_model(lake) is None


def test_new_data_refits(lake: Path, tmp_path: Path) -> None:
    compute_predictions(lake, progress=False, model="markov")
    v0 = data_version(lake)
    extra = generate_city(persons=30, cameras=20, days=2, seed=9, start="2026-04-06")
    paths = write_city(extra, tmp_path / "extra")
    ingest(paths["sightings"], lake, pseudonymize=False, progress=False)
    assert data_version(lake) != v0
    assert compute_predictions(lake, progress=False, model="markov")["saved_model"] == "saved"


def test_forget_drops_the_saved_model_and_says_so(lake: Path) -> None:
    compute_predictions(lake, progress=False, model="ranker")
    pid = str(pd.read_parquet(lake / "models" / "predict.parquet")["pid"].iloc[0])
    assert len(lake_files(lake).get("models", [])) == 2
    report = forget_subject(lake, "not-a-subject")
    assert report.get("models") == 0 and len(lake_files(lake).get("models", [])) == 2
    report = forget_subject(lake, pid)
    assert report["models"] == 1 and report["sightings"] > 0
    assert not lake_files(lake).get("models")
    assert forget_subject(lake, pid).get("models", 0) == 0  # a second run removes nothing
    res = compute_predictions(lake, progress=False, model="ranker")
    assert res["saved_model"] == "saved"
    assert pid not in set(pd.read_parquet(lake / "models" / "predict.parquet")["pid"])


def test_forget_drops_an_estimator_without_manifest(lake: Path) -> None:
    compute_predictions(lake, progress=False, model="ranker")
    (lake / "models" / "predict.parquet").unlink()  # e.g. killed between the two writes
    report = forget_subject(lake, "anyone")
    assert report["models"] == 0 and not lake_files(lake).get("models")


def test_retention_drops_the_saved_model(lake: Path) -> None:
    """Retention may remove data the model was fitted on: the saved model goes (and the next
    predict fits a new one on what is left)."""
    from sightgraph.governance.erasure import retention_apply

    compute_predictions(lake, progress=False, model="ranker")
    assert len(lake_files(lake).get("models", [])) == 2
    last = pd.read_parquet(lake / "sightings")["ts"].max()
    report = retention_apply(lake, 2, now=last)
    assert report["models"] == 1 and report["sightings"] > 0
    assert not lake_files(lake).get("models")
    assert compute_predictions(lake, progress=False, model="ranker")["saved_model"] == "saved"
