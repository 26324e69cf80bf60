"""``cv_folds``: out-of-fold validation over the train and validation rows, on real tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest
from shipyard.evaluation import classification_metrics
from shipyard.training._crossval import fold_of
from shipyard.training._entry import PREDICTIONS_FILE, PREDICTIONS_TARGET_FILE

from .conftest import train

SPLIT = {"fractions": [0.7, 0.2, 0.1], "seed": 7}


def test_out_of_fold_predictions_cover_every_train_and_validation_row(
        tmp_path: Path, penguins: pd.DataFrame) -> None:
    result = train(penguins, "lightgbm", "species", tmp_path / "m", split=SPLIT, cv_folds=5,
                   hyperparameters={"early_stopping_rounds": 20},
                   save_predictions=tmp_path / "p")
    rows = result.manifest["split"]["row_counts"]
    cv = result.manifest["training"]["cv"]
    assert cv["folds"] == 5 and cv["stratified"] and cv["saved"] == "fold 1"
    assert cv["rows"] == rows["train"] + rows["validation"] == sum(cv["fold_rows"])
    # Early stopping chose a round in every fold; the refit's rounds are their mean.
    best = cv["best_iterations"]
    assert all(isinstance(b, int) for b in best)
    assert cv["rounds"] == round(np.mean(best) + 1)
    out = np.load(tmp_path / "p" / PREDICTIONS_FILE, allow_pickle=False)
    y = np.load(tmp_path / "p" / PREDICTIONS_TARGET_FILE, allow_pickle=False)
    assert out.shape == (cv["rows"], 3) and y.shape == (cv["rows"],)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    # The validation metric is the out-of-fold predictions' over all of those rows.
    oof = classification_metrics(y, out, result.manifest["classes"])
    assert result.metrics["validation"]["accuracy"] == pytest.approx(oof["accuracy"])
    assert result.metrics["validation"]["accuracy"] > 0.9
    # The test split was scored by the saved model (fold 1's), a normal bundle.
    assert result.metrics["test"]["accuracy"] > 0.9
    assert load_bundle(tmp_path / "m").predict(penguins.drop(columns="species").head(5)
                                               )["prediction"].notna().all()


def test_every_algorithm_gets_the_same_folds(tmp_path: Path, ames: pd.DataFrame) -> None:
    """Candidates of one AutoML job share their folds, so their predictions line up row by
    row; and a second run reproduces the first's metric exactly (the notebooks check it)."""
    small = ames.head(600).dropna(axis="columns", how="all")
    runs = {name: train(small, name, "price", tmp_path / name, split=SPLIT, cv_folds=4,
                        save_predictions=tmp_path / f"{name}-p")
            for name in ("linear", "xgboost")}
    targets = [np.load(tmp_path / f"{name}-p" / PREDICTIONS_TARGET_FILE) for name in runs]
    np.testing.assert_array_equal(targets[0], targets[1])
    assert runs["linear"].manifest["training"]["cv"]["fold_rows"] == \
        runs["xgboost"].manifest["training"]["cv"]["fold_rows"]
    again = train(small, "linear", "price", tmp_path / "again", split=SPLIT, cv_folds=4)
    assert again.metrics["validation"]["rmse"] == runs["linear"].metrics["validation"]["rmse"]
    assert "test" in again.metrics


def test_folds_are_stratified_when_every_class_fills_them() -> None:
    y = np.array([0] * 90 + [1] * 10)
    fold, stratified = fold_of(y, "binary", 5, 42)
    assert stratified and [int((y[fold == k] == 1).sum()) for k in range(5)] == [2] * 5
    rare = np.array([0] * 97 + [1] * 3)
    fold, stratified = fold_of(rare, "binary", 5, 42)
    assert not stratified and np.bincount(fold).tolist() == [20] * 5
    with pytest.raises(InvalidRequest, match="needs at least 5 train and validation rows"):
        fold_of(np.arange(3), "regression", 5, 42)


def test_bad_cv_settings_are_refused_before_training(tmp_path: Path,
                                                     penguins: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="cv_folds must be between 2 and 20; got 1"):
        train(penguins, "linear", "species", tmp_path / "a", cv_folds=1)
    with pytest.raises(InvalidRequest, match="learns without one"):
        train(penguins, "kmeans", "species", tmp_path / "b", cv_folds=3)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_first_folds_curves_are_logged_once(tmp_path: Path, penguins: pd.DataFrame) -> None:
    """The first fold's fit logs its curves live (the debugger's rules read them); the
    other folds log none, and no step is logged twice."""
    points: list[tuple[str, int | None]] = []
    train(penguins, "xgboost", "species", tmp_path / "m", cv_folds=3, progress_interval=0,
          hyperparameters={"n_estimators": 30},
          log_metric=lambda name, value, step=None: points.append((name, step)))
    curves = [p for p in points if p[0].startswith("curve.")]
    assert curves and len(curves) == len(set(curves))
    assert max(step for _, step in curves if step is not None) == 29
    assert [p for p in points if p[0] == "validation.accuracy"] == [("validation.accuracy", None)]
