"""No leakage, through a real training run: the recipe learns from the training split only.

The bundle's fitted recipe is compared with the same recipe fitted by hand on the
training split's rows (rebuilt from the split record in MODEL.json) and on all rows:
its imputation, scaling and target-encoding states equal the first and differ from
the second. ``balance`` resamples the training split only: validation and test are
evaluated on their own rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.evaluation import reproduce_split
from shipyard.features import FittedRecipe, Recipe
from shipyard.training import TrainingContext, TrainingResult, run_training

RECIPE = {"steps": [
    {"step": "drop", "columns": ["customer_id"]},
    {"step": "impute", "columns": ["total_charges"], "params": {"strategy": "mean"}},
    {"step": "scale", "columns": ["tenure", "monthly_charges", "total_charges"]},
    {"step": "encode", "columns": ["contract", "payment_method"],
     "params": {"method": "target", "smoothing": 5.0}},
    {"step": "categorical"},
    {"step": "balance", "params": {"method": "oversample"}},
]}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame) -> TrainingResult:
    return run_training(TrainingContext(
        train=churn, algorithm="xgboost", target="churn",
        model_dir=tmp_path_factory.mktemp("leak") / "model",
        hyperparameters={"n_estimators": 30}, recipe=RECIPE, n_jobs=1, plots=False,
        log=lambda line: None))


def _states(fitted: FittedRecipe) -> dict[str, Any]:
    return {spec.step: state for spec, state in fitted.steps}


def test_recipe_states_are_those_of_the_training_split(run: TrainingResult,
                                                       churn: pd.DataFrame) -> None:
    bundle = FittedRecipe.from_dict(json.loads((run.model_dir / "recipe.json").read_text()))
    split = reproduce_split(churn, run.manifest["split"])
    train_rows = churn.iloc[split.train]
    on_train = _states(Recipe.from_dict(RECIPE).fit(train_rows, "churn"))
    on_all = _states(Recipe.from_dict(RECIPE).fit(churn, "churn"))
    got = _states(bundle)
    for step in ("impute", "scale", "encode", "categorical"):
        assert got[step] == on_train[step], step
    for step in ("impute", "scale", "encode"):
        assert got[step] != on_all[step], step
    # The figures themselves: the training split's mean, std and churn rate.
    charges = train_rows["total_charges"]
    assert got["impute"]["columns"]["total_charges"]["value"] == pytest.approx(charges.mean())
    assert got["scale"]["columns"]["tenure"] == pytest.approx(
        [train_rows["tenure"].mean(), train_rows["tenure"].std(ddof=0)])
    rate = (train_rows["churn"] == "Yes").mean()
    assert got["encode"]["prior"] == pytest.approx([rate])
    assert rate != pytest.approx((churn["churn"] == "Yes").mean(), abs=1e-6)


def test_balance_resamples_the_training_split_only(run: TrainingResult,
                                                   churn: pd.DataFrame) -> None:
    split = reproduce_split(churn, run.manifest["split"])
    balance = _states(run.pipeline.recipe)["balance"]
    train_counts = churn.iloc[split.train]["churn"].value_counts().to_dict()
    assert balance["before"] == train_counts
    assert balance["after"] == {"No": train_counts["No"], "Yes": train_counts["No"]}
    assert any(n.startswith("recipe: balance (oversample) resampled") for n in run.notes)
    assert run.manifest["split"]["row_counts"] == {
        "train": len(split.train), "validation": len(split.validation), "test": len(split.test)}
    report = json.loads((run.model_dir / "evaluation" / "evaluation.json").read_text())
    for name, rows in (("validation", split.validation), ("test", split.test)):
        cells = report["metrics"][name]["confusion_matrix"]["matrix"]
        assert sum(map(sum, cells)) == len(rows), name  # evaluated on its own rows
    # Serving never resamples: one row in, one prediction out.
    assert len(load_bundle(Path(run.model_dir)).predict(churn.head(7))) == 7
