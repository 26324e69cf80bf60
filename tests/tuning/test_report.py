"""A tuning job's report from its document: plots and one offline HTML page (no server)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from shipyard.training import get_algorithm
from shipyard.tuning import build_space
from shipyard.tuning._report import TuningReport
from shipyard.tuning._space import study_space


def _doc(space: Any, trials: list[dict[str, Any]], best: dict[str, Any] | None) -> dict:
    return {"id": "job-t", "kind": "tuning", "status": "Completed",
            "spec": {"space": space.to_list()},
            "outputs": {"study": {"objective": {"metric": "validation.roc_auc",
                                                "direction": "maximize"},
                                  "state": "completed", "stopped_by": "max_trials",
                                  "trials": trials, "best": best}}}


def _trial(n: int, algorithm: str, hp: dict[str, Any], objective: float | None,
           state: str = "complete") -> dict[str, Any]:
    return {"number": n, "job_id": f"job-{n}", "algorithm": algorithm, "hyperparameters": hp,
            "objective": objective, "state": state, "duration_seconds": 1.5}


def test_a_report_draws_the_objective_importances_and_parallel_coordinates() -> None:
    declared = get_algorithm("lightgbm").info.hyperparameters
    space = build_space("lightgbm", declared, {"num_leaves": "4:64:log",
                                               "learning_rate": "0.01:0.3:log"},
                        {h.name: h.default for h in declared
                         if h.name not in ("num_leaves", "learning_rate")})
    # The objective follows the learning rate only: fANOVA must say so.
    trials = [_trial(i, "lightgbm", {"num_leaves": 4 + 5 * i, "learning_rate": lr},
                     0.7 + lr) for i, lr in enumerate([0.01, 0.2, 0.05, 0.3, 0.02, 0.1,
                                                       0.15, 0.03])]
    trials.append(_trial(8, "lightgbm", {"num_leaves": 9, "learning_rate": 0.011}, None,
                         "pruned"))
    best = {"trial_job_id": "job-3", "number": 3, "objective": 1.0,
            "test": {"roc_auc": 0.91, "n_samples": 100.0}}
    report = TuningReport.from_job(_doc(space, trials, best))
    found = report.importances()["lightgbm"]
    assert max(found, key=found.__getitem__) == "learning_rate", found
    plots = report.plots()
    assert set(plots) == {"Objective over trials", "Hyperparameter importances (fANOVA)",
                          "Parallel coordinates"}
    for png in plots.values():
        assert base64.b64decode(png)[:4] == b"\x89PNG"
    page = report.render_html()
    assert page.startswith("<!doctype html>") and page.count("<img ") == 3
    assert "roc_auc 0.91" in page and "pruned" in page and "job-3" in page
    assert report._repr_html_().startswith("<div>")


def test_a_report_over_several_algorithms_draws_each_ones_importances() -> None:
    declared = {n: get_algorithm(n).info.hyperparameters for n in ("linear", "knn")}
    space, _ = study_space(["linear", "knn"], declared, {}, {})
    trials = [_trial(i, "linear", {"alpha": 10 ** (i - 3), "class_weight": "none"},
                     0.7 + 0.01 * i) for i in range(5)]
    trials += [_trial(5 + i, "knn", {"n_neighbors": 5 + 10 * i, "weights": "uniform",
                                     "p": 2}, 0.6 + 0.02 * i) for i in range(5)]
    report = TuningReport.from_job(_doc(space, trials, None))
    assert set(report.importances()) == {"linear", "knn"}
    assert len(report.plots()) == 3


@pytest.mark.parametrize("n", [0, 1])
def test_a_report_of_a_young_study_draws_what_it_can(n: int) -> None:
    declared = get_algorithm("linear").info.hyperparameters
    space = build_space("linear", declared, {}, {})
    trials = [_trial(i, "linear", {"alpha": 1.0, "class_weight": "none"}, 0.7)
              for i in range(n)]
    report = TuningReport.from_job(_doc(space, trials, None))
    assert len(report.plots()) == n  # the objective once there is a trial; nothing else
    assert "Trials" in report.render_html()
