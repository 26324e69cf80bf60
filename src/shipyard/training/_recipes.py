"""The feature recipe of a training request: resolved, fitted, and checked for sense.

The training entry calls :func:`fit_recipe` on the training split only. A recipe
that leaves nothing to train on fails with the columns it dropped and why (never a
model at chance level reported as done), and ±inf left in the features is named
rather than left to fail inside the library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features import FittedRecipe, Recipe, StepSpec, UserRecipe, default_recipe
from shipyard.training._algorithms import get_algorithm


def fit_recipe(user: Mapping[str, Any] | None, algorithm: str, train: pd.DataFrame,
               target: str | None, notes: list[str], *,
               declared: Mapping[str, str] | None = None,
               text_column: str | None = None,
               hyperparameters: Mapping[str, Any] | None = None,
               ) -> tuple[FittedRecipe, pd.DataFrame]:
    """The recipe of a training request fitted on ``train`` (the training split only).

    ``user`` is the request's recipe (None: the default); notes for the job log are
    appended to ``notes``. Returns the fitted recipe and the training rows as the
    model trains on them (out-of-fold target encoding; resampled by a ``balance``
    step, target included). ``declared`` is the input version's schema (column →
    semantic type): its row numbers and identifiers are dropped by the default recipe
    whatever the split. ``text_column`` is the column a text algorithm reads raw: the
    recipe keeps it as strings (a ``raw_text`` step) rather than TF-IDF columns.

    Raises:
        InvalidRequest: the recipe leaves nothing to train on (naming what it dropped
            and why), leaves categories for a model that needs numbers, or ±inf.
    """
    built_in = get_algorithm(algorithm)
    info = built_in.info
    # An algorithm with its own recipe (text-bert reads its text column as it is).
    built_in.check_data(train, target, hyperparameters or {}, user)
    transform = UserRecipe.from_dict(user).target_transform if user is not None else None
    own = built_in.own_recipe(train, target, hyperparameters or {}, notes)
    if own is not None:
        return (replace(own[0], target_transform=transform), own[1]) if transform else own
    user = user if user is not None else info.recipe
    if user is not None:
        recipe, recipe_notes = UserRecipe.from_dict(user).resolve(
            train, target, scale=info.needs_scaling, categorical=info.categorical,
            declared=declared, keep_text=text_column)
        if text_column is not None and not any(s.step == "raw_text" for s in recipe.steps):
            # A recipe of the user's own steps: the text column is kept raw before them.
            recipe = Recipe((StepSpec("raw_text", (text_column,)), *recipe.steps))
    else:
        recipe, recipe_notes = default_recipe(train, target, scale=info.needs_scaling,
                                              categorical=info.categorical, declared=declared,
                                              keep_text=text_column)
    notes.extend(f"recipe: {n}" for n in recipe_notes)
    fitted, fit_rows = recipe.fit_transform(train, target)
    for spec, state in fitted.steps:
        if spec.step == "balance":
            notes.append(f"recipe: balance ({state['method']}) resampled the training rows: "
                         f"classes {state['before']} became {state['after']}")
        elif spec.step == "select":
            notes.extend(f"recipe: select dropped {c}: {d['reason']}"
                         for c, d in state["dropped"].items())
    if fitted.categorical_features and info.categorical == "onehot" and \
            info.framework == "scikit-learn":
        raise InvalidRequest(
            f"Algorithm {algorithm!r} needs numeric features, but the recipe leaves "
            f"{fitted.categorical_features[:3]} as categories; use encoding 'onehot' in the "
            "recipe's categorical step.")
    if not fitted.feature_names:
        raise InvalidRequest(no_features_message(fitted, recipe_notes))
    _refuse_infinite(fit_rows[fitted.feature_names])
    if transform:
        notes.append(f"recipe: the model learns log(1 + {target}); its predictions are "
                     "turned back (exp − 1) before they are scored or served")
        fitted = replace(fitted, target_transform=transform)
    return fitted, fit_rows


def dropped_columns(fitted: FittedRecipe) -> list[str]:
    """The input columns the recipe's ``drop`` steps removed, in order."""
    out: list[str] = []
    for spec, state in fitted.steps:
        if spec.step == "drop":
            out.extend(c for c in state["columns"] if c not in out)
    return out


def no_features_message(fitted: FittedRecipe, notes: list[str]) -> str:
    """Why nothing is left to train on: each dropped column with the recipe's reason."""
    reasons = []
    for col in dropped_columns(fitted):
        why = next((n.split(": ", 1)[1] for n in notes if n.startswith(f"dropped {col}: ")),
                   "listed in a drop step")
        reasons.append(f"{col}: {why}")
    if not reasons:
        return ("The recipe leaves no feature columns to train on; keep at least one column "
                "(check its 'drop' steps).")
    return ("Nothing is left to train on, the recipe dropped every column (on the training "
            "split): " + "; ".join(reasons) + ". Keep an informative column with a recipe "
            "that does not drop it (e.g. --recipe with a step for it), or add feature columns.")


def _refuse_infinite(features: pd.DataFrame) -> None:
    """A model cannot read ±inf: name the column rather than fail in the library."""
    numeric = features.select_dtypes("number")
    if numeric.empty:
        return
    bad = numeric.columns[np.isinf(numeric.to_numpy(dtype="float64")).any(axis=0)]
    if len(bad):
        raise InvalidRequest(
            f"Feature {bad[0]!r} still holds ±inf after the recipe; add an 'impute' step for "
            "it (impute treats ±inf as missing) or leave the recipe to the default.")
