"""K-fold cross-validation of one training request (``cv_folds``; docs/training.md).

A single validation split of a few hundred rows is too noisy to judge a model on (or to
select an ensemble on: docs/automl.md, ames). With ``cv_folds = K`` the train and
validation rows together (the *development rows*; the test rows are never touched) are
cut into K folds, stratified by class for classification, shuffled with the request's
seed: the same rows fall in the same fold for every request of the same data, split and
seed, so the out-of-fold predictions of an AutoML job's candidates are comparable row by
row. For each fold the recipe is fitted on the other folds' rows only (a target encoding
never sees the rows it is judged on), the model is trained on them and, for the boosting
built-ins with ``early_stopping_rounds``, stops early on the held-out fold; its outputs
on the held-out fold are kept. The validation metrics are the out-of-fold predictions'
over every development row.

What is saved is the first fold's recipe and model: a normal bundle, trained on
(K-1)/K of the development rows. Fitting one more model on every development row would
cost another fit (a fifth more time at K = 5) in each of an AutoML job's candidates,
though its final job refits the chosen members on every development row anyway (with the
mean of the rounds early stopping chose over the folds, :data:`CrossValidation.rounds`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features import FittedRecipe
from shipyard.training._algorithms import FitResult
from shipyard.training._recipes import fit_recipe

#: Fewest and most folds a request may ask for.
MIN_FOLDS, MAX_FOLDS = 2, 20
#: The problem types cross-validation scores (against a target).
CV_PROBLEMS = ("binary", "multiclass", "regression")

#: (fold, X_fit, y_fit, X_held_out, y_held_out) -> the fold's fit.
FoldFit = Callable[[int, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray], FitResult]
#: (model, X) -> the model's outputs (class probabilities, or values).
Outputs = Callable[[Any, pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Fold:
    """What the first fold leaves for the bundle: its recipe, its training rows and fit."""

    fitted: FittedRecipe
    X_fit: pd.DataFrame
    y_fit: np.ndarray
    X_held_out: pd.DataFrame
    result: FitResult
    notes: list[str]


@dataclass(frozen=True)
class CrossValidation:
    """The out-of-fold outputs over the development rows, and what each fold took."""

    #: Class probabilities (rows × classes) or values, in the development rows' order
    #: (the train split's rows, then the validation split's).
    outputs: np.ndarray
    #: The development rows' encoded targets, in that order.
    y: np.ndarray
    #: The fold of each development row.
    fold: np.ndarray
    stratified: bool
    seed: int
    first: Fold
    fit_seconds: list[float]
    predict_seconds: float
    #: The best round (from 0) early stopping chose in each fold (None without it).
    best_iterations: list[int | None]

    @property
    def folds(self) -> int:
        return len(self.fit_seconds)

    @property
    def rounds(self) -> int | None:
        """The rounds a fit on every development row trains: the folds' mean."""
        best = [b for b in self.best_iterations if b is not None]
        return max(1, round(float(np.mean(best)) + 1)) if best else None

    def record(self) -> dict[str, Any]:
        """How the validation metrics were made (kept in the bundle's manifest)."""
        return {"folds": self.folds, "seed": self.seed, "stratified": self.stratified,
                "rows": len(self.y), "saved": "fold 1",
                "fold_rows": np.bincount(self.fold, minlength=self.folds).tolist(),
                "fit_seconds": [round(s, 6) for s in self.fit_seconds],
                "best_iterations": self.best_iterations, "rounds": self.rounds}


def fold_of(y: np.ndarray, problem_type: str, folds: int, seed: int) -> tuple[np.ndarray, bool]:
    """Each row's fold (0..folds-1), and whether the folds are stratified: by class when
    every class present has at least ``folds`` rows, else plain shuffled folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if n < folds:
        raise InvalidRequest(f"cv_folds={folds} needs at least {folds} train and validation "
                             f"rows; got {n}. Use fewer folds or more rows.")
    stratified = problem_type in ("binary", "multiclass") and \
        int(np.unique(y, return_counts=True)[1].min()) >= folds
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed) if stratified \
        else KFold(folds, shuffle=True, random_state=seed)
    fold = np.empty(n, dtype="int64")
    for k, (_, held_out) in enumerate(splitter.split(np.zeros((n, 1)), y)):
        fold[held_out] = k
    return fold, stratified


def cross_validate(rows: pd.DataFrame, y: np.ndarray, *, target: str, problem_type: str,
                   folds: int, seed: int, algorithm: str,
                   recipe: dict[str, Any] | None, semantic_types: dict[str, str] | None,
                   encode: Callable[[pd.Series], np.ndarray], fit: FoldFit,
                   outputs: Outputs, log: Callable[[str], None],
                   text_column: str | None = None,
                   hyperparameters: Mapping[str, Any] | None = None) -> CrossValidation:
    """Fit ``folds`` models on ``rows`` (the development rows, targets ``y`` encoded) and
    keep each one's outputs on its held-out fold (see the module's docstring);
    ``text_column``: the column a text algorithm reads raw."""
    if problem_type not in CV_PROBLEMS:
        raise InvalidRequest(f"cv_folds scores a model against a target; a {problem_type} "
                             "model has none. Drop cv_folds.")
    fold, stratified = fold_of(y, problem_type, folds, seed)
    out: np.ndarray | None = None
    first: Fold | None = None
    seconds: list[float] = []
    best: list[int | None] = []
    predict = 0.0
    for k in range(folds):
        notes: list[str] = []
        inside = rows[fold != k].reset_index(drop=True)
        held = rows[fold == k].reset_index(drop=True)
        fitted, fit_rows = fit_recipe(recipe, algorithm, inside, target, notes,
                                      declared=semantic_types, text_column=text_column,
                                      hyperparameters=hyperparameters)
        X_fit, y_fit = fit_rows[fitted.feature_names], encode(fit_rows[target])
        X_held = fitted.transform(held)
        started = time.perf_counter()
        result = fit(k, X_fit, y_fit, X_held, y[fold == k])
        seconds.append(time.perf_counter() - started)
        best.append(result.best_iteration)
        started = time.perf_counter()
        held_out = np.asarray(outputs(result.model, X_held), dtype="float64")
        predict += time.perf_counter() - started
        if out is None:
            out = np.zeros((len(rows), *held_out.shape[1:]), dtype="float64")
        out[fold == k] = held_out
        if k == 0:
            first = Fold(fitted, X_fit, y_fit, X_held, result, notes)
        log(f"[training] fold {k + 1} of {folds}: trained on {len(inside)} rows in "
            f"{seconds[-1]:.1f}s" + (f", best round {result.best_iteration + 1}"
                                     if result.best_iteration is not None else ""))
    assert out is not None and first is not None  # folds >= MIN_FOLDS
    return CrossValidation(outputs=out, y=y, fold=fold, stratified=stratified, seed=seed,
                           first=first, fit_seconds=seconds, predict_seconds=predict,
                           best_iterations=best)
