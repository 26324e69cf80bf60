"""A recipe's ``target_transform: log``: the model learns log(1 + y), everything reads y.

On openintro's ames (``price``, skewed right): the bundle's predictions, its metrics, its
kept validation predictions, a cross-validated fit, the serving fast path and the
explainer all answer on the price's own scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest
from shipyard.features import FittedRecipe, UserRecipe
from shipyard.serving import Predictor, parse_body
from shipyard.training._entry import PREDICTIONS_FILE

from .conftest import train

LOG = {"extends": "default", "target_transform": "log"}


@pytest.fixture(scope="module")
def small_ames(ames: pd.DataFrame) -> pd.DataFrame:
    return ames.drop(columns=["Order", "PID"]).sample(1200, random_state=0).reset_index(
        drop=True)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_the_model_learns_the_log_and_answers_in_the_targets_units(
        small_ames: pd.DataFrame, tmp_path: Path) -> None:
    test = small_ames.tail(300)
    result = train(small_ames.head(900), "lightgbm", "price", tmp_path / "log", recipe=LOG,
                   test=test, save_predictions=tmp_path / "kept")
    raw = train(small_ames.head(900), "lightgbm", "price", tmp_path / "raw", test=test)
    assert any("log(1 + price)" in n for n in result.notes)
    recipe = json.loads((tmp_path / "log" / "recipe.json").read_text())
    assert recipe["target_transform"] == "log"
    assert "target_transform" not in json.loads((tmp_path / "raw" / "recipe.json").read_text())

    pipeline = load_bundle(tmp_path / "log")
    predicted = pipeline.predict(test.drop(columns="price"))["prediction"].to_numpy()
    # Prices, not log prices (ames' are 12,789 to 755,000), and the metric is of these.
    assert predicted.min() > 20_000 and 100_000 < np.median(predicted) < 300_000
    assert result.metrics["test"]["rmse"] == pytest.approx(_rmse(predicted, test["price"]))
    # The booster itself predicts the log; the pipeline turns it back.
    booster = pipeline.model.predict(pipeline.transform(test.drop(columns="price")))
    np.testing.assert_allclose(np.expm1(booster), predicted, rtol=1e-9)
    # A model of the price, not of noise: within 25% of the untransformed one's RMSE.
    assert result.metrics["test"]["rmse"] < 1.25 * raw.metrics["test"]["rmse"]
    # The validation outputs kept for ensemble selection are prices too.
    kept = np.load(tmp_path / "kept" / PREDICTIONS_FILE)
    assert kept.min() > 20_000


def test_the_serving_fast_path_turns_the_log_back(small_ames: pd.DataFrame,
                                                    tmp_path: Path) -> None:
    train(small_ames, "xgboost", "price", tmp_path / "m", recipe=LOG)
    predictor = Predictor(load_bundle(tmp_path / "m"))
    predictor.warm_up()
    assert predictor.fast is not None, predictor.fast_reason
    rows = small_ames.drop(columns="price").head(40)
    got = predictor.predict(parse_body("json", rows.to_json(orient="records").encode()))
    want = predictor.pipeline.predict(rows)["prediction"]
    np.testing.assert_allclose(got.predictions, want, rtol=1e-9)
    assert min(got.predictions) > 20_000


def test_cross_validation_scores_on_the_targets_scale(small_ames: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    result = train(small_ames, "lightgbm", "price", tmp_path / "m", recipe=LOG, cv_folds=3)
    # Out-of-fold RMSE in dollars (a log-scale RMSE would be under 1).
    assert 5_000 < result.metrics["validation"]["rmse"] < 80_000


def test_the_explainer_explains_the_price_by_default(small_ames: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    from shipyard.explanations import Explainer

    train(small_ames, "lightgbm", "price", tmp_path / "m", recipe=LOG)
    pipeline = load_bundle(tmp_path / "m")
    rows = small_ames.drop(columns="price")
    explainer = Explainer(pipeline, rows.head(20), n_coalitions=64)
    assert explainer.method == "kernel" and explainer.output_space == "value"
    tree = Explainer(pipeline, method="tree")
    assert tree.output_space == "margin"  # its raw output: the log of the price


@pytest.mark.parametrize(("recipe", "problem", "words"), [
    ({"extends": "default", "target_transform": "sqrt"}, None, "must be one of log"),
    (LOG, "churn", "is for a regression target"),
    (LOG, "negative", "needs values ≥ 0"),
])
def test_a_transform_the_target_cannot_take_is_a_400(
        recipe: dict, problem: str | None, words: str, small_ames: pd.DataFrame,
        churn: pd.DataFrame, tmp_path: Path) -> None:
    df, target = small_ames, "price"
    if problem == "churn":
        df, target = churn.head(500), "churn"
    elif problem == "negative":
        df = small_ames.assign(price=small_ames["price"] - 100_000)
    with pytest.raises(InvalidRequest, match=words):
        train(df, "lightgbm", target, tmp_path / "m", recipe=recipe)
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_the_recipe_keeps_the_transform_through_a_round_trip() -> None:
    user = UserRecipe.from_dict(LOG)
    assert user.target_transform == "log"
    assert UserRecipe.from_dict(user.to_dict()) == user
    assert "target_transform" not in UserRecipe.from_dict({"extends": "default"}).to_dict()
    fitted = FittedRecipe(steps=(), input_signature=[], feature_names=["x"],
                          categorical_features=[], target="y", target_transform="log")
    assert FittedRecipe.from_dict(fitted.to_dict()) == fitted
    with pytest.raises(InvalidRequest, match="target_transform"):
        FittedRecipe.from_dict({**fitted.to_dict(), "target_transform": "exp"})
