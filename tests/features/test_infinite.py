"""±inf in training data is a gap: the default recipe imputes it, says so, and serving agrees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest
from shipyard.features import MISSING_SUFFIX, Recipe, default_recipe
from shipyard.serving import Predictor, parse_body
from shipyard.training import TrainingContext, run_training

INF = float("inf")


def _with_inf(churn: pd.DataFrame) -> pd.DataFrame:
    df = churn.drop(columns="customer_id").copy()
    df["monthly_charges"] = df["monthly_charges"].where(df.index % 50 != 0, INF)
    df["tenure"] = df["tenure"].astype("float64").where(df.index % 70 != 1, -INF)
    return df


def test_impute_treats_inf_as_missing() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, INF, 3.0, -INF, np.nan], "y": [0, 1, 0, 1, 0, 1]})
    recipe = Recipe.from_dict({"steps": [{"step": "scale"}, {"step": "impute"}]})
    fitted = recipe.fit(df, "y")
    scale, impute = (state for _, state in fitted.steps)
    assert scale["columns"]["x"] == pytest.approx([2.0, np.sqrt(2 / 3)])  # finite values only
    assert impute["columns"]["x"] == {"value": 0.0, "indicator": True}
    X = fitted.transform(pd.DataFrame({"x": [INF, -INF, 2.0, None]}))
    assert X["x"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert X[f"x{MISSING_SUFFIX}"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_the_default_recipe_says_it_imputes_inf(churn: pd.DataFrame) -> None:
    df = _with_inf(churn)
    _, notes = default_recipe(df, "churn", scale=False)
    assert ("monthly_charges: 0 missing and 141 ±inf values (±inf is treated as missing) "
            f"imputed with the median, indicator column monthly_charges{MISSING_SUFFIX} added"
            in notes)
    assert any(n.startswith("tenure: 0 missing and 101 ±inf values") for n in notes)


def test_a_recipe_that_leaves_inf_is_refused_by_name(churn: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    recipe = {"steps": [{"step": "drop", "columns": ["customer_id"]}, {"step": "categorical"}]}
    with pytest.raises(InvalidRequest, match="Feature 'tenure' still holds ±inf"):
        run_training(TrainingContext(train=_with_inf(churn), algorithm="linear", target="churn",
                                     model_dir=tmp_path / "m", recipe=recipe, plots=False,
                                     log=lambda line: None))


@pytest.mark.parametrize("algorithm", ["xgboost", "linear"])
def test_a_table_with_inf_trains_and_serves_on_both_paths(
        algorithm: str, churn: pd.DataFrame, tmp_path: Path) -> None:
    lines: list[str] = []
    df = _with_inf(churn)
    result = run_training(TrainingContext(
        train=df, algorithm=algorithm, target="churn", model_dir=tmp_path / "m",
        hyperparameters={"n_estimators": 40} if algorithm == "xgboost" else {},
        n_jobs=1, plots=False, log=lines.append))
    assert result.metrics["test"]["roc_auc"] > 0.75
    assert any("±inf values (±inf is treated as missing)" in line for line in lines)
    predictor = Predictor(load_bundle(tmp_path / "m"))
    predictor.warm_up()
    assert predictor.fast is not None, predictor.fast_reason
    rows = df.drop(columns="churn").head(120)
    body = rows.to_csv(index=False).encode()  # inf / -inf, as pandas writes them
    assert b"inf" in body  # (JSON has no infinity: its Infinity literal is refused, a 400)
    fast = predictor.predict(parse_body("csv", body))
    want = predictor.pipeline.predict(rows.reset_index(drop=True))
    assert fast.predictions == want["prediction"].tolist()
    proba = np.array([[p[c] for c in predictor.classes] for p in fast.probabilities or []])
    np.testing.assert_allclose(
        proba, want[[f"probability.{c}" for c in predictor.classes]].to_numpy(), rtol=1e-9)
    # An inf row predicts as the same row with the value missing.
    inf_row = rows[np.isinf(rows["monthly_charges"])].head(1)
    gap_row = inf_row.assign(monthly_charges=np.nan)
    assert np.allclose(predictor.pipeline.predict(inf_row).filter(like="probability").to_numpy(),
                       predictor.pipeline.predict(gap_row).filter(like="probability").to_numpy())
