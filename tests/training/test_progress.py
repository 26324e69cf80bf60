"""Progress of a fit: lines with an estimate, a ``progress`` series, forests grown in slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.training import TrainingContext, run_training
from shipyard.training._progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_reports_at_the_interval_with_an_estimate() -> None:
    clock, lines, points = Clock(), [], []
    progress = Progress(total=100, unit="boosting rounds", log=lines.append,
                        log_metric=lambda name, value, step: points.append((name, value, step)),
                        interval=5.0, clock=clock)
    for done in range(1, 101):
        clock.now += 0.2  # 0.2 s a round: a line every 25 rounds
        progress.update(done)
    progress.finish(100)
    assert lines == [
        "[training] progress: 25 of 100 boosting rounds (25%), elapsed 5s, ETA 15s",
        "[training] progress: 50 of 100 boosting rounds (50%), elapsed 10s, ETA 10s",
        "[training] progress: 75 of 100 boosting rounds (75%), elapsed 15s, ETA 5s",
        "[training] progress: 100 of 100 boosting rounds (100%), done in 20s",
    ]
    assert points == [("progress", 0.25, 25), ("progress", 0.5, 50), ("progress", 0.75, 75),
                      ("progress", 1.0, 100)]


def test_an_early_stop_ends_the_series_at_one() -> None:
    clock, lines, points = Clock(), [], []
    progress = Progress(total=500, unit="boosting rounds", log=lines.append,
                        log_metric=lambda name, value, step: points.append((value, step)),
                        interval=5.0, clock=clock)
    for done in range(1, 41):
        clock.now += 0.01
        progress.update(done)
    progress.finish(40)
    assert lines == ["[training] progress: 40 of 500 boosting rounds (8%), stopped early "
                     "(no improvement), elapsed 0s"]
    assert points == [(1.0, 40)]


def test_durations_read_for_people() -> None:
    assert [duration(s) for s in (4.4, 75.2, 3725)] == ["4s", "1m15s", "1h02m"]


@pytest.mark.parametrize(("algorithm", "hp", "unit", "total"), [
    ("xgboost", {"n_estimators": 30}, "boosting rounds", 30),
    ("lightgbm", {"n_estimators": 30}, "boosting rounds", 30),
    ("catboost", {"iterations": 30}, "boosting rounds", 30),
    ("random-forest", {"n_estimators": 12}, "trees", 12),
])
def test_every_tree_learner_reports_progress(algorithm: str, hp: dict, unit: str, total: int,
                                             churn: pd.DataFrame, tmp_path: Path) -> None:
    lines: list[str] = []
    points: list[tuple[str, float, int | None]] = []
    run_training(TrainingContext(
        train=churn.head(1500), algorithm=algorithm, target="churn", model_dir=tmp_path / "m",
        hyperparameters=hp, n_jobs=2, plots=False, log=lines.append,
        log_metric=lambda name, value, step=None: points.append((name, value, step)),
        progress_interval=0.0))  # a line at every update, so the test needs no clock
    progress = [line for line in lines if line.startswith("[training] progress: ")]
    assert progress[-1].startswith(f"[training] progress: {total} of {total} {unit} (100%), "
                                   "done in ")
    assert any("ETA" in line for line in progress[:-1])
    series = [(value, step) for name, value, step in points if name == "progress"]
    assert series[-1] == (1.0, total)
    steps = [step for _, step in series]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)


def test_early_stopping_says_so(churn: pd.DataFrame, tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_training(TrainingContext(
        train=churn.head(1500), algorithm="xgboost", target="churn", model_dir=tmp_path / "m",
        hyperparameters={"n_estimators": 2000, "learning_rate": 0.3, "early_stopping_rounds": 5},
        n_jobs=1, plots=False, log=lines.append))
    rounds = result.manifest["training"]["best_iteration"] + 6
    assert any(line.startswith(f"[training] progress: {rounds} of 2,000 boosting rounds")
               and "stopped early" in line for line in lines)


@pytest.mark.parametrize("regression", [True, False])
def test_a_forest_grown_in_slices_is_the_forest_of_one_fit(regression: bool) -> None:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from shipyard.training import FitData
    from shipyard.training._sklearn import grow_in_slices

    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 5))
    y = X[:, 0] + rng.normal(size=600) if regression else (X[:, 1] > 0).astype(int)
    cls = RandomForestRegressor if regression else RandomForestClassifier
    whole = cls(n_estimators=23, min_samples_leaf=2, random_state=7, n_jobs=2).fit(X, y)
    sliced = cls(min_samples_leaf=2, random_state=7, n_jobs=2)
    lines: list[str] = []
    data = FitData(X_train=pd.DataFrame(X), y_train=y, problem_type="regression",
                   hyperparameters={}, n_jobs=2, log=lines.append, progress_interval=0.0)
    grow_in_slices(sliced, X, y, 23, data)
    assert len(sliced.estimators_) == 23 and sliced.warm_start is False
    assert len(lines) >= 2  # at least the first slice (2 trees) and the end
    for a, b in zip(sliced.estimators_, whole.estimators_, strict=True):  # tree by tree
        np.testing.assert_array_equal(a.tree_.threshold, b.tree_.threshold)
        np.testing.assert_array_equal(a.tree_.value, b.tree_.value)
    predict = (lambda m: m.predict(X)) if regression else (lambda m: m.predict_proba(X))
    # Threads add the trees' votes in any order: equal to the last bits.
    np.testing.assert_allclose(predict(sliced), predict(whole), rtol=1e-12, atol=1e-12)
