"""Bad requests are refused before training, with a sentence saying what and how to fix it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.training import TrainingContext, check_training_data, run_training

from .conftest import train


def test_a_good_request_passes_with_notes(churn: pd.DataFrame) -> None:
    notes = check_training_data(churn, "churn", "xgboost", None)
    assert notes == ["problem type binary inferred from the target 'churn'"]
    assert check_training_data(churn, "churn", "linear", "binary") == []


@pytest.mark.parametrize("mutate, target, algorithm, problem_type, words", [
    (None, "churn", "gbm", None, r"Unknown algorithm 'gbm'; the built-in algorithms are"),
    (None, "churned", "xgboost", None,
     r"The target column 'churned' is not in the data; the closest column is 'churn'\. Fix"),
    (None, "zzz", "xgboost", None,
     r"The target column 'zzz' is not in the data; the columns are 'churn', 'female'"),
    (None, "churn", "xgbost", None, r"Unknown algorithm 'xgbost'; .* Did you mean 'xgboost'\?"),
    (None, None, "xgboost", None, r"learns to predict a column; name it as 'target'"),
    (lambda d: d.assign(churn="No"), "churn", "xgboost", None,
     r"The target column 'churn' is constant \('No' in every row\)"),
    (lambda d: d.assign(churn=None), "churn", "xgboost", None,
     r"The target column 'churn' has no values"),
    (lambda d: d.assign(notes=np.nan), "churn", "xgboost", None,
     r"Column 'notes' has no values \(missing in every row\); drop it from the dataset"),
    (None, "churn", "xgboost", "regression",
     r"'regression' needs a numeric target; 'churn' holds (str|object) values"),
    (None, "contract", "xgboost", "binary",
     r"'binary' needs a target with 2 classes; 'contract' has 3"),
    (None, "churn", "kmeans", "binary", r"Algorithm 'kmeans' does clustering, not 'binary'"),
    (None, "churn", "xgboost", "clustering", r"Problem type 'clustering' has no target"),
    (None, "churn", "xgboost", "ranking", r"Unknown problem type 'ranking'"),
    (lambda d: d.head(5), "churn", "xgboost", None, r"has 5 rows; at least 10 are needed"),
    (lambda d: d.head(50).assign(customer=[f"c{i}" for i in range(50)]), "customer", "linear",
     None, r"'customer' has a different value in every row \(50 distinct values in 50 rows\)"),
])
def test_bad_requests_are_refused(churn: pd.DataFrame, mutate, target: str | None,
                                  algorithm: str, problem_type: str | None, words: str) -> None:
    df = mutate(churn) if mutate else churn
    with pytest.raises(InvalidRequest, match=words):
        check_training_data(df, target, algorithm, problem_type)


def test_an_unsupervised_algorithm_ignores_a_target(penguins: pd.DataFrame) -> None:
    notes = check_training_data(penguins, "species", "kmeans", None)
    assert notes == ["the target 'species' is not used: kmeans is unsupervised (clustering), "
                     "so the column is left out of the features"]
    assert check_training_data(penguins, None, "pca", None) == []


@pytest.mark.parametrize("options, words", [
    ({"algorithm": "svm"}, "Unknown algorithm 'svm'"),
    ({"hyperparameters": {"depth": 3}}, "has no hyperparameter 'depth'"),
    ({"hyperparameters": {"max_depth": 99}}, r"'max_depth' must be an integer in \[1, 20\]"),
    ({"target": "nope"}, "The target column 'nope' is not in the data"),
    ({"recipe": {"steps": [{"step": "magic"}]}}, "Unknown recipe step 'magic'"),
    ({"split": {"fractions": [0.5, 0.5]}}, "Split fractions must be three numbers"),
])
def test_run_training_refuses_before_writing_anything(churn: pd.DataFrame, tmp_path: Path,
                                                      options: dict, words: str) -> None:
    request = {"train": churn, "algorithm": "xgboost", "target": "churn",
               "model_dir": tmp_path / "model", **options}
    with pytest.raises(InvalidRequest, match=words):
        run_training(TrainingContext(**request))
    assert not (tmp_path / "model").exists()


def test_early_stopping_needs_a_validation_split(churn: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="early_stopping_rounds needs a validation split"):
        train(churn, "xgboost", "churn", tmp_path, split={"fractions": [0.9, 0.0, 0.1]},
              hyperparameters={"early_stopping_rounds": 5})


def test_a_given_input_without_the_target_is_refused(penguins: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="The test input has no target column 'species'"):
        train(penguins.iloc[:300], "linear", "species", tmp_path,
              test=penguins.iloc[300:].drop(columns="species"))
