"""Recipes that extend the default: how they are read, and the order their steps run in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.features import (
    MISSING_SUFFIX,
    Recipe,
    UserRecipe,
    default_recipe,
    extending_recipe,
)


def _resolve(df: pd.DataFrame, target: str, recipe: dict, *, scale: bool = False,
             categorical: str = "onehot") -> tuple[Recipe, list[str]]:
    return UserRecipe.from_dict(recipe).resolve(df, target, scale=scale,
                                                categorical=categorical)


@pytest.mark.parametrize(("recipe", "words"), [
    ([], r"A recipe must be an object"),
    ({"extend": "default"}, r"A recipe has no field 'extend'; Did you mean 'extends'\?"),
    ({"extends": "defualt"}, r"can extend 'default'; got 'defualt'\. Did you mean 'default'\?"),
    ({}, r"A recipe needs a 'steps' list .* \"extends\": \"default\""),
    ({"extends": "default", "steps": {"step": "impute"}}, r"'steps' must be a list"),
    ({"extends": "default", "drop": "tenure"}, r"'drop' must be a list of column names"),
    ({"steps": [{"step": "impute"}, {"step": "imptue"}]},
     r"Recipe step 2: Unknown recipe step 'imptue'.* Did you mean 'impute'\?"),
    ({"extends": "default", "steps": [{"step": "impute", "params": {"stratgy": "mean"}}]},
     r"Recipe step 1 \('impute'\) has no parameter 'stratgy'.* Did you mean 'strategy'\?"),
    ({"steps": [{"step": "expression", "params": {"name": "x", "expression": "a.b"}}]},
     r"Recipe step 1"),
])
def test_a_bad_recipe_is_refused_naming_the_step(recipe: object, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        UserRecipe.from_dict(recipe)


def test_a_plain_recipe_still_replaces_the_default(churn: pd.DataFrame) -> None:
    recipe, notes = _resolve(churn, "churn", {"steps": [
        {"step": "drop", "columns": ["customer_id"]}, {"step": "impute"},
        {"step": "categorical"}]})
    assert [s.step for s in recipe.steps] == ["drop", "impute", "categorical"]
    assert notes == ["the user's (3 steps)"]
    # A plain recipe with drops (--drop on a replacing recipe) drops first.
    recipe, notes = _resolve(churn, "churn", {"steps": [{"step": "impute"}],
                                              "drop": ["female"]})
    assert recipe.steps[0].step == "drop" and recipe.steps[0].columns == ("female",)
    assert notes == ["the user's (1 steps, dropping female first)",
                     "dropped female: listed in the recipe's drop list (--drop)"]


def test_extending_keeps_the_default_and_its_notes(churn: pd.DataFrame) -> None:
    default, default_notes = default_recipe(churn, "churn", scale=True)
    recipe, notes = _resolve(churn, "churn", {"extends": "default"}, scale=True)
    assert recipe == default
    assert notes == ["the default recipe, extended", *default_notes]


def test_an_expression_runs_first_and_the_default_imputes_what_it_made(
        churn: pd.DataFrame) -> None:
    # total_charges has 11 gaps: the ratio inherits them, and only the default can fill them.
    recipe, notes = _resolve(churn, "churn", {"extends": "default", "steps": [
        {"step": "expression", "params": {"name": "per_month",
                                          "expression": "total_charges / tenure"}}]})
    assert [s.step for s in recipe.steps][:2] == ["expression", "drop"]
    assert "the user's steps (expression) run first, on the raw columns" in notes
    assert any(n.startswith("per_month: ") and "imputed with the median" in n for n in notes)
    fitted, rows = recipe.fit_transform(churn, "churn")
    assert {"per_month", f"per_month{MISSING_SUFFIX}"} <= set(fitted.feature_names)
    assert rows["per_month"].notna().all() and rows[f"per_month{MISSING_SUFFIX}"].sum() == 11
    # New rows go through the same steps: nothing non-finite reaches a model.
    assert np.isfinite(fitted.transform(churn.head(50))["per_month"]).all()


def test_drop_comes_first_so_the_default_never_sees_the_column(churn: pd.DataFrame) -> None:
    recipe, notes = _resolve(churn, "churn", {"extends": "default",
                                              "drop": ["contract", "customer_id"]})
    assert recipe.steps[0].step == "drop"
    assert recipe.steps[0].columns == ("contract", "customer_id")
    assert notes[:3] == ["the default recipe, extended: contract, customer_id dropped first",
                         "dropped contract: listed in the recipe's drop list (--drop)",
                         "dropped customer_id: listed in the recipe's drop list (--drop)"]
    assert not any("customer_id" in n for n in notes[3:])  # the default never saw it
    fitted = recipe.fit(churn, "churn")
    assert not any(f.startswith(("contract", "customer_id")) for f in fitted.feature_names)
    assert [e for e in fitted.input_signature if e["name"] == "contract"][0]["required"] is False


def test_a_users_step_for_a_column_replaces_the_defaults_handling(
        reviews: pd.DataFrame) -> None:
    recipe, _ = _resolve(reviews, "score", {"extends": "default", "steps": [
        {"step": "tfidf", "columns": ["review"], "params": {"max_features": 12}}]})
    fitted = recipe.fit(reviews.head(600), "score")
    terms = [f for f in fitted.feature_names if f.startswith("review.tfidf.")]
    assert len(terms) == 12  # the user's 12 terms, not the default's 300
    assert [s.step for s in recipe.steps].count("tfidf") == 1


def test_balance_and_select_run_last_on_the_defaults_features(churn: pd.DataFrame) -> None:
    # SMOTE needs numbers: run first, it would meet the raw text columns and fail.
    recipe, notes = _resolve(churn, "churn", {"extends": "default", "steps": [
        {"step": "balance", "params": {"method": "smote"}},
        {"step": "select", "params": {"method": "variance"}}]})
    assert [s.step for s in recipe.steps][-2:] == ["balance", "select"]
    assert "the user's steps (balance, select) run last, on the default's features" in notes
    _, rows = recipe.fit_transform(churn.sample(2000, random_state=1), "churn")
    counts = rows["churn"].value_counts()
    assert counts["Yes"] == counts["No"]


def test_when_the_user_scales_the_default_does_not_scale_again(churn: pd.DataFrame) -> None:
    recipe, notes = _resolve(churn, "churn", {"extends": "default", "steps": [
        {"step": "scale", "columns": ["tenure"], "params": {"method": "minmax"}}]},
        scale=True)
    assert [s.step for s in recipe.steps].count("scale") == 1
    assert "the default does not scale again: the user's recipe scales" in notes
    X = recipe.fit(churn, "churn").transform(churn)
    assert X["tenure"].min() == 0 and X["tenure"].max() == 1


def test_column_references_are_checked_against_the_data() -> None:
    recipe = UserRecipe.from_dict({"extends": "default", "drop": ["tenur"], "steps": [
        {"step": "expression", "params": {"name": "ratio",
                                          "expression": "total / max(tenure, 1)"}},
        {"step": "log", "columns": ["ratio", "monthly"]},
        {"step": "elapsed_days", "columns": ["start"], "params": {"reference_column": "end"}},
        {"step": "select", "columns": ["contract=One year", "ratio__missing", "start.year"]},
    ]})
    columns = ["tenure", "total", "contract", "start", "end"]
    assert recipe.unknown_columns(columns) == [
        ("drop", "tenur"), ("step 2 (log)", "monthly")]
    assert recipe.unknown_columns([*columns, "tenur", "monthly"]) == []


def test_suggested_steps_become_an_extending_recipe() -> None:
    recipe = extending_recipe([
        {"step": "drop", "columns": ["id"], "params": {}},
        {"step": "log", "columns": ["income"], "params": {"offset": 1}},
        {"step": "drop", "columns": ["id", "zip"]},
    ])
    assert recipe == {"extends": "default", "drop": ["id", "zip"],
                      "steps": [{"step": "log", "columns": ["income"], "params": {"offset": 1}}]}
    assert UserRecipe.from_dict(recipe).drop == ("id", "zip")


def test_a_plain_recipe_object_refuses_the_training_only_form() -> None:
    with pytest.raises(InvalidRequest, match="'extends' or 'drop' is for a training job"):
        Recipe.from_dict({"extends": "default", "steps": []})
