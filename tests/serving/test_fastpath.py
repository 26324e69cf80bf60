"""The compiled fast path equals the bundle's pipeline, and falls back where it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.serving import Predictor, Unsupported, compile_fast_path, parse_body

from .helpers import QUICK, target, train

CASES = [(name, algo) for name in ("churn", "penguins", "ames") for algo in QUICK]


def assert_same(predictor: Predictor, rows: pd.DataFrame) -> None:
    expected = predictor.pipeline.predict(rows.reset_index(drop=True))
    got = predictor.predict(parse_body("json", rows.to_json(orient="records").encode()))
    if predictor.task == "classification":
        assert got.predictions == expected["prediction"].tolist()
        assert got.probabilities is not None
        proba = np.array([[p[c] for c in predictor.classes] for p in got.probabilities])
        want = expected[[f"probability.{c}" for c in predictor.classes]].to_numpy()
        np.testing.assert_allclose(proba, want, rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(got.predictions, expected["prediction"], rtol=1e-12)


@pytest.mark.parametrize(("name", "algorithm"), CASES)
def test_fast_path_equals_the_pipeline(name: str, algorithm: str, frames: dict,
                                       bundles: dict) -> None:
    predictor = Predictor(load_bundle(bundles[(name, algorithm)]))
    predictor.warm_up()
    assert predictor.fast is not None, predictor.fast_reason
    df = frames[name].drop(columns=target(name))
    rows = df.sample(min(400, len(df)), random_state=7)
    assert_same(predictor, rows)
    assert_same(predictor, rows.head(1))  # the single-row request


def test_unknown_categories_and_missing_values(frames: dict, bundles: dict) -> None:
    predictor = Predictor(load_bundle(bundles[("ames", "xgboost")]))
    assert predictor.fast is not None
    rows = frames["ames"].drop(columns="price").head(50).copy()
    rows["Neighborhood"] = "Atlantis"
    rows.loc[::2, "Lot.Frontage"] = np.nan
    rows.loc[1::3, "Garage.Type"] = None
    assert_same(predictor, rows)


def test_a_step_it_does_not_cover_falls_back(tmp_path: Path, frames: dict) -> None:
    df = frames["penguins"].copy()
    df["seen"] = pd.date_range("2007-01-01", periods=len(df), freq="37h").strftime(
        "%Y-%m-%dT%H:%M:%S")
    pipeline = load_bundle(train(df, "xgboost", "species", tmp_path / "model"))
    with pytest.raises(Unsupported, match="datetime_parts"):
        compile_fast_path(pipeline)
    predictor = Predictor(pipeline)
    predictor.warm_up()
    assert predictor.fast is None and "datetime_parts" in predictor.fast_reason
    assert_same(predictor, df.drop(columns="species").sample(200, random_state=1))


def test_disagreement_at_warm_up_drops_the_fast_path(bundles: dict) -> None:
    predictor = Predictor(load_bundle(bundles[("churn", "xgboost")]))
    assert predictor.fast is not None
    object.__setattr__(predictor.fast, "predict_raw", lambda X: np.full(len(X), 0.123))
    predictor.warm_up()
    assert predictor.fast is None and "disagreed" in predictor.fast_reason


def test_general_path_only(frames: dict, bundles: dict) -> None:
    predictor = Predictor(load_bundle(bundles[("penguins", "lightgbm")]), fast=False)
    assert predictor.fast is None
    assert_same(predictor, frames["penguins"].drop(columns="species").head(100))
