"""Feature recipes: the transformations between a raw table and a model's features.

A :class:`Recipe` is an ordered list of named steps (a registry: ``drop``,
``datetime_parts``, ``boolean``, ``impute``, ``scale``, ``categorical``, ``encode``,
``bin``, ``elapsed_days``, ``expression``, ``clip``, ``log``, ``tfidf``, ``raw_text``, ``balance``,
``select``; see docs/features.md), each
JSON-serialisable; fitting it on training rows gives a :class:`FittedRecipe`
whose state is JSON too, so it travels inside the model bundle and runs the same
at serving time. :func:`default_recipe` builds one that makes any table
trainable, with notes that say what it did; a training job's recipe may extend it
(:class:`UserRecipe`: ``{"extends": "default", "steps": [...], "drop": [...]}``)::

    recipe, notes = default_recipe(df, "churn", scale=False)
    fitted = recipe.fit(df, "churn")
    X = fitted.transform(df)

:func:`select_features` reports which columns a selection method keeps and, for
each dropped one, why (and the figure behind it).

Pure: DataFrames and dicts in, frozen results out; no I/O.
"""

from __future__ import annotations

# The step modules register their steps on import, so import them all here.
from shipyard.features import _balance, _derive, _encode, _numeric, _text  # noqa: F401
from shipyard.features._default import default_recipe
from shipyard.features._expression import Expression, parse_expression
from shipyard.features._extend import UserRecipe, extending_recipe
from shipyard.features._recipe import FittedRecipe, Recipe, StepSpec
from shipyard.features._selection import Dropped, SelectionResult, select_features
from shipyard.features._semantic import SEMANTIC_TYPES, ColumnFacts, column_facts, looks_like_id
from shipyard.features._steps import (
    MISSING,
    MISSING_SUFFIX,
    OTHER,
    STEPS,
    Lineage,
    Step,
    register_step,
)
from shipyard.features._target import TARGET_TRANSFORMS, check_target, inverse_outputs
from shipyard.features._target import forward as forward_target
from shipyard.features._target import inverse as inverse_target
from shipyard.features._text import raw_text_recipe

__all__ = [
    "MISSING", "MISSING_SUFFIX", "OTHER", "SEMANTIC_TYPES", "STEPS", "TARGET_TRANSFORMS",
    "ColumnFacts", "Dropped",
    "Expression", "FittedRecipe", "Lineage", "Recipe", "SelectionResult", "Step", "StepSpec",
    "UserRecipe",
    "check_target", "column_facts", "default_recipe", "forward_target", "inverse_outputs",
    "inverse_target", "extending_recipe", "looks_like_id", "parse_expression",
    "raw_text_recipe", "register_step", "select_features",
]
