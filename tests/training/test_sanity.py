"""A model at chance level or a large bundle is said loudly; nothing left to train on fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.training import TrainingContext, run_training
from shipyard.training._sanity import (
    chance_warnings,
    leak_warnings,
    sanity_warnings,
    size_warning,
    small_split_warnings,
)

MB = 1024**2


def test_chance_level_rules() -> None:
    base = {"test": {"accuracy": 0.7}}
    assert chance_warnings("binary", {"test": {"roc_auc": 0.81, "accuracy": 0.8}}, base) == []
    (auc,) = chance_warnings("binary", {"test": {"roc_auc": 0.515, "accuracy": 0.75}}, base,
                             dropped=["review"])
    assert auc.startswith("The test ROC AUC 0.515 is at chance level (0.5 ± 0.02)")
    assert "The recipe dropped review; the job log says why" in auc
    (acc,) = chance_warnings("binary", {"test": {"roc_auc": 0.9, "accuracy": 0.7}}, base)
    assert acc.startswith("The test accuracy 0.700 is no better than always predicting the "
                          "most frequent class (0.700). Its ROC AUC 0.900 says the ranking")
    (r2,) = chance_warnings("regression", {"validation": {"r2": -0.01}, "test": {}}, {})
    assert r2.startswith("The validation R² -0.010 is at most 0")
    assert chance_warnings("regression", {"test": {"r2": 0.3}}, {}) == []
    assert chance_warnings("clustering", {"test": {"silhouette": 0.0}}, {}) == []


def test_a_score_too_good_to_be_true_names_its_suspects() -> None:
    perfect = {"test": {"roc_auc": 1.0, "n_samples": 75}}
    (text,) = leak_warnings("binary", perfect, ["hoursw", "hearnw"], "mroz", "work")
    assert text.startswith("The test ROC AUC 1.000 is near perfect")
    assert "leans most on hoursw, hearnw" in text
    assert "shipyard datasets profile mroz --target work" in text
    assert leak_warnings("regression", {"test": {"r2": 0.9995, "n_samples": 400}})
    # Ordinary scores, or a perfect score on a handful of rows (iris), say nothing.
    assert leak_warnings("binary", {"test": {"roc_auc": 0.97, "n_samples": 900}}) == []
    assert leak_warnings("multiclass", {"test": {"roc_auc": 1.0, "n_samples": 23}}) == []
    assert leak_warnings("clustering", {"test": {"silhouette": 1.0, "n_samples": 900}}) == []


def _classes(**support: int) -> dict[str, dict[str, int]]:
    return {name: {"support": n} for name, n in support.items()}


def test_a_test_split_of_too_few_rows_or_of_a_class_is_called_out() -> None:
    (few,) = small_split_warnings("binary", {"test": {
        "n_samples": 8, "per_class": _classes(No=5, Yes=3)}})
    assert few.startswith("The test metrics rest on 8 rows, with 3 of class 'Yes', 5 of "
                          "class 'No' (fewer than 10): one row predicted differently moves "
                          "accuracy by 0.12, so they cannot be trusted.")
    assert "split 0.6,0.2,0.2, --split on the CLI" in few and "cv_folds 5, --cv-folds" in few
    # Enough rows, but one class has too few: recall and F1 of that class swing.
    (rare,) = small_split_warnings("binary", {"test": {
        "n_samples": 400, "per_class": _classes(good=396, bad=4)}})
    assert "400 rows, with 4 of class 'bad' (fewer than 10)" in rare
    # More than three small classes (MASS's fgl: six glass types in 21 test rows): the
    # rest are counted once, without saying "under 10 (fewer than 10)".
    (many,) = small_split_warnings("multiclass", {"test": {
        "n_samples": 21, "per_class": _classes(Con=1, Tabl=1, Veh=2, Head=4, WinF=6,
                                               WinNF=7)}})
    assert "with 1 of class 'Con', 1 of class 'Tabl', 2 of class 'Veh' and 3 more classes " \
        "(each fewer than 10): one row" in many, many
    (absent,) = small_split_warnings("multiclass", {"test": {
        "n_samples": 60, "per_class": _classes(a=30, b=30, c=0)}})
    assert "0 of class 'c'" in absent
    (values,) = small_split_warnings("regression", {"validation": {"n_samples": 12},
                                                    "test": {}})
    assert values.startswith("The validation metrics rest on 12 rows: one row's error is "
                             "1/12 of every mean reported")
    assert small_split_warnings("binary", {"test": {
        "n_samples": 60, "per_class": _classes(No=44, Yes=16)}}) == []
    assert small_split_warnings("regression", {"test": {"n_samples": 30}}) == []
    assert small_split_warnings("clustering", {"test": {"n_samples": 5}}) == []
    # What an AutoML job's final model is told (scored on test alone) says it too.
    test = {"n_samples": 6, "accuracy": 0.83, "roc_auc": 0.8,
            "per_class": _classes(No=4, Yes=2)}
    warned = sanity_warnings("binary", test, np.array([0, 1, 0, 0]), np.array([0, 0, 1, 0, 0, 1]),
                             ["No", "Yes"], [], "churn")
    assert any(w.startswith("The test metrics rest on 6 rows") for w in warned), warned


@pytest.mark.parametrize("rows", [20, 50])
def test_a_small_table_s_test_metrics_come_with_a_warning(churn: pd.DataFrame, rows: int,
                                                          tmp_path: Path) -> None:
    """A 25% holdout of 20-50 churn rows leaves 5-13 test rows: trained, with a warning."""
    small = churn.sample(rows, random_state=1)
    lines: list[str] = []
    result = run_training(TrainingContext(
        train=small, algorithm="linear", target="churn", model_dir=tmp_path / "m",
        split={"fractions": [0.5, 0.25, 0.25]}, plots=False, log=lines.append))
    n = int(result.manifest["metrics"]["test"]["n_samples"])
    assert n <= 13
    warned = [w for w in result.manifest["training"]["warnings"]
              if w.startswith(f"The test metrics rest on {n} rows")]
    assert warned, result.manifest["training"]["warnings"]
    assert f"[training] WARNING: {warned[0]}" in lines


def test_size_warning_names_what_drives_the_size() -> None:
    hp = {"n_estimators": 200, "max_depth": None, "min_samples_leaf": 3, "class_weight": "none"}
    drivers = "n_estimators, and each tree's leaves (min_samples_leaf, max_depth)"
    assert size_warning(50 * MB, 100 * MB, "random-forest", drivers, hp) is None
    text = size_warning(240 * MB, 100 * MB, "random-forest", drivers, hp)
    assert text == ("The model bundle is 240 MB, over 100 MB: random-forest's size grows with "
                    f"{drivers} (here n_estimators=200, max_depth=None, min_samples_leaf=3); "
                    "lower those to shrink it, as a large bundle is slow to load, copy and "
                    "serve.")
    small = size_warning(30_000, 10_000, "xgboost", "n_estimators and max_depth", {})
    assert small is not None and small.startswith("The model bundle is 29 KB, over 10 KB")


def _independent(n: int, regression: bool) -> pd.DataFrame:
    """A feature that tells nothing of the target: every (x, y) pair equally often."""
    x = np.arange(n) % 2
    pair = np.arange(n) // 2  # each pair of rows has both values of x
    target = (pair % 7) * 1.5 if regression else np.where(pair % 2 == 1, "yes", "no")
    return pd.DataFrame({"x": x.astype(float), "y": target})


@pytest.mark.parametrize("regression", [False, True])
def test_a_chance_level_model_completes_with_a_loud_warning(regression: bool,
                                                             tmp_path: Path) -> None:
    train = _independent(420, regression)
    test = _independent(84, regression)
    if regression:  # a test mean off the training mean: R² strictly below 0
        test = test.assign(y=test["y"] + 1.0)
    lines: list[str] = []
    result = run_training(TrainingContext(
        train=train, validation=train.head(0), test=test, algorithm="linear", target="y",
        problem_type="regression" if regression else "binary", model_dir=tmp_path / "m",
        plots=False, log=lines.append))
    warned = [line for line in lines if line.startswith("[training] WARNING: ")]
    assert warned, lines
    metric = "R²" if regression else "ROC AUC 0.500 is at chance level"
    assert metric in warned[0]
    report = json.loads((tmp_path / "m" / "evaluation" / "evaluation.json").read_text())
    assert report["warnings"] == [w.removeprefix("[training] WARNING: ") for w in warned]
    assert result.manifest["training"]["warnings"] == report["warnings"]


def test_a_useful_model_has_no_warning(churn: pd.DataFrame, tmp_path: Path) -> None:
    result = run_training(TrainingContext(train=churn, algorithm="linear", target="churn",
                                          model_dir=tmp_path / "m", plots=False,
                                          log=lambda line: None))
    assert result.manifest["training"]["warnings"] == []
    assert result.manifest["bundle_size"] == {"bytes": pytest.approx(
        result.manifest["bundle_size"]["bytes"]), "warning": None}


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "random-forest", "linear"])
def test_a_leaked_target_is_called_out_by_the_column_the_model_leans_on(
        churn: pd.DataFrame, algorithm: str, tmp_path: Path) -> None:
    # 'cancel_date' is known only once the customer left: the target in disguise.
    sample = churn.sample(1500, random_state=0)
    leaky = sample.assign(cancel_date=np.where(sample["churn"] == "Yes", 1.0, 0.0))
    result = run_training(TrainingContext(train=leaky, algorithm=algorithm, target="churn",
                                          model_dir=tmp_path / "m", plots=False,
                                          log=lambda line: None))
    (warning,) = result.manifest["training"]["warnings"]
    assert warning.startswith("The test ROC AUC 1.000 is near perfect")
    assert "The model leans most on cancel_date" in warning


def test_nothing_left_to_train_on_names_each_dropped_column(tmp_path: Path) -> None:
    df = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(200)],
                       "country": ["FR"] * 200, "y": ["a", "b"] * 100})
    with pytest.raises(InvalidRequest) as caught:
        run_training(TrainingContext(train=df, algorithm="xgboost", target="y",
                                     model_dir=tmp_path / "m", log=lambda line: None))
    assert caught.value.message == (
        "Nothing is left to train on, the recipe dropped every column (on the training split): "
        "customer_id: identifier-like (140 distinct of 140); country: constant (one value in "
        "every row). "
        "Keep an informative column with a recipe that does not drop it (e.g. --recipe with a "
        "step for it), or add feature columns.")


def test_a_large_bundle_is_called_out_with_its_hyperparameters(churn: pd.DataFrame,
                                                               tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_training(TrainingContext(
        train=churn, algorithm="random-forest", target="churn", model_dir=tmp_path / "m",
        hyperparameters={"n_estimators": 10}, plots=False, log=lines.append,
        bundle_size_warning=100_000))
    size = result.manifest["bundle_size"]
    model = tmp_path / "m" / "model.skops"
    assert size["bytes"] >= model.stat().st_size > 100_000
    assert size["warning"].startswith("The model bundle is ")
    assert "random-forest's size grows with n_estimators" in size["warning"]
    assert "(here n_estimators=10, max_depth=None, min_samples_leaf=" in size["warning"]
    assert f"[training] WARNING: {size['warning']}" in lines
    assert size["warning"] in result.manifest["training"]["warnings"]


def test_rows_with_an_inf_target_are_left_out_and_counted(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = 2 * x + rng.normal(scale=0.3, size=300)
    y[::37], y[5] = np.inf, -np.inf
    lines: list[str] = []
    result = run_training(TrainingContext(
        train=pd.DataFrame({"x": x, "y": y}), algorithm="xgboost", target="y",
        hyperparameters={"n_estimators": 30}, model_dir=tmp_path / "m", plots=False,
        log=lines.append))
    assert "[training] 10 rows with a ±inf target are left out (as missing)" in lines
    assert sum(result.manifest["split"]["row_counts"].values()) == 290
    assert result.metrics["test"]["r2"] > 0.8
