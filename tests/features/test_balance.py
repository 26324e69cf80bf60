"""The balance step: training rows resampled at fit; new rows never."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.features import Recipe

PREP = [{"step": "drop", "columns": ["customer_id"]}, {"step": "impute"},
        {"step": "categorical"}]


def _fit(df: pd.DataFrame, target: str, params: dict, prep: list[dict] = PREP):
    recipe = Recipe.from_dict({"steps": [*prep, {"step": "balance", "params": params}]})
    return recipe.fit_transform(df, target)


@pytest.fixture(scope="module")
def features(churn: pd.DataFrame) -> pd.DataFrame:
    """Churn as numeric features (the rows before any resampling)."""
    return Recipe.from_dict({"steps": PREP}).fit_transform(churn, "churn")[1]


def test_oversampling_repeats_minority_rows(churn: pd.DataFrame, features: pd.DataFrame) -> None:
    fitted, rows = _fit(churn, "churn", {"method": "oversample", "seed": 3})
    counts = churn["churn"].value_counts()
    assert rows["churn"].value_counts().to_dict() == {"No": counts["No"], "Yes": counts["No"]}
    state = next(s for spec, s in fitted.steps if spec.step == "balance")
    assert state["before"] == counts.to_dict() and state["method"] == "oversample"
    # Every row is a copy of a training row, and every training row is kept.
    original = set(map(tuple, features.to_numpy(dtype=object).tolist()))
    resampled = set(map(tuple, rows.to_numpy(dtype=object).tolist()))
    assert resampled == original
    # New rows pass unchanged: one output row per input row.
    X = fitted.transform(churn)
    pd.testing.assert_frame_equal(X, features.drop(columns="churn"))


def test_undersampling_keeps_a_subset(churn: pd.DataFrame, features: pd.DataFrame) -> None:
    _, rows = _fit(churn, "churn", {"method": "undersample", "ratio": 0.5})
    yes = int((churn["churn"] == "Yes").sum())
    assert rows["churn"].value_counts().to_dict() == {"No": 2 * yes, "Yes": yes}
    original = set(map(tuple, features.to_numpy(dtype=object).tolist()))
    assert set(map(tuple, rows.to_numpy(dtype=object).tolist())) <= original


def test_smote_synthesises_rows_between_neighbours(churn: pd.DataFrame,
                                                   features: pd.DataFrame) -> None:
    _, rows = _fit(churn, "churn", {"method": "smote", "k_neighbors": 5, "seed": 1})
    counts = rows["churn"].value_counts()
    assert counts["Yes"] == counts["No"] == (churn["churn"] == "No").sum()
    minority = features[features["churn"] == "Yes"].drop(columns="churn")
    synthetic = rows.iloc[len(features):]
    assert (synthetic["churn"] == "Yes").all()
    values = synthetic.drop(columns="churn")
    assert (values >= minority.min() - 1e-9).all().all()
    assert (values <= minority.max() + 1e-9).all().all()
    original = set(map(tuple, minority.round(9).to_numpy().tolist()))
    new = [tuple(r) for r in values.round(9).to_numpy().tolist()]
    assert sum(r not in original for r in new) > 0.9 * len(new)  # interpolated, not copied


def test_multiclass_and_refusals(penguins: pd.DataFrame) -> None:
    prep = [{"step": "impute"}, {"step": "categorical"}]
    _, rows = _fit(penguins, "species", {"method": "oversample"}, prep)
    assert set(rows["species"].value_counts()) == {int(penguins["species"].value_counts().max())}
    with pytest.raises(InvalidRequest, match="needs a classification target"):
        _fit(penguins, "body_mass_g", {}, [{"step": "drop", "columns": ["island", "sex",
                                                                        "species"]}])
    with pytest.raises(InvalidRequest, match="The target has 2 missing value"):
        _fit(penguins.assign(species=penguins["species"].where(penguins.index > 1)), "species",
             {}, prep)
    with pytest.raises(InvalidRequest, match="SMOTE needs numeric, complete features"):
        _fit(penguins, "species", {"method": "smote"}, [])
    with pytest.raises(InvalidRequest, match=r"'balance': parameter 'ratio' must be in \(0, 1\]"):
        _fit(penguins, "species", {"ratio": 2}, prep)
    assert np.isfinite(rows.drop(columns="species").to_numpy()).all()
