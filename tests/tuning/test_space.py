"""The search space of a tuning job, and the study rebuilt from stored trials (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipyard.errors import InvalidRequest
from shipyard.store import JobRecord
from shipyard.training import get_algorithm
from shipyard.tuning import SearchSpace, build_space, direction
from shipyard.tuning._driver import _over
from shipyard.tuning._study import COMPLETE, RUNNING, StoredTrial, suggest

LGBM = get_algorithm("lightgbm").info.hyperparameters


def test_default_space_is_the_declared_domains_and_ranges_narrow_or_add() -> None:
    space = build_space("lightgbm", LGBM, {"num_leaves": "4:64:log",
                                           "early_stopping_rounds": "10,20"},
                        {"n_estimators": 50})
    dims = {d.name: d for d in space.dimensions}
    assert "n_estimators" not in dims  # fixed: not searched
    assert (dims["num_leaves"].low, dims["num_leaves"].high, dims["num_leaves"].log) == \
        (4, 64, True)
    assert dims["early_stopping_rounds"].choices == (10, 20)  # off by default, added
    declared = {h.name: h for h in LGBM}
    lr = dims["learning_rate"]  # untouched: its declaration, log scale included
    assert (lr.low, lr.high, lr.log) == (declared["learning_rate"].low,
                                         declared["learning_rate"].high, True)
    assert "max_depth" not in dims  # default None ("no limit"): stays off
    assert SearchSpace.from_list(space.to_list()) == space


@pytest.mark.parametrize(("ranges", "fixed", "needle"), [
    ({"num_leafs": "4:8"}, {}, "no hyperparameter 'num_leafs'"),
    ({"num_leaves": "1:8"}, {}, "num_leaves=1:8"),          # under the declared low of 2
    ({"num_leaves": "8:4"}, {}, "LOW must be less than HIGH"),
    ({"num_leaves": "2.5:8"}, {}, "integer"),
    ({"reg_alpha": "0:1:log"}, {}, "log scale needs LOW > 0"),
    ({"learning_rate": "0.1:0.2:cube"}, {}, "LOW:HIGH or LOW:HIGH:log"),
    ({"learning_rate": "fast,slow"}, {}, "got 'fast'"),
    ({"num_leaves": "4:8"}, {"num_leaves": 8}, "both a value and a range"),
])
def test_a_bad_range_is_refused_with_what_to_do(ranges: dict, fixed: dict, needle: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        build_space("lightgbm", LGBM, ranges, fixed)
    assert needle in err.value.message


def test_the_grid_takes_each_point_once_across_rebuilds() -> None:
    space = build_space("lightgbm", LGBM, {"num_leaves": "4,8,16", "learning_rate": "0.05,0.1"},
                        {h.name: h.default for h in LGBM
                         if h.name not in ("num_leaves", "learning_rate")})
    assert space.grid_size() == 6
    trials: list[StoredTrial] = []
    for i in range(6):  # the study is rebuilt from the stored trials for every ask
        s = suggest("grid", space, "roc_auc", 0, trials)
        trials.append(StoredTrial(s.number, s.params, RUNNING if i % 2 else COMPLETE,
                                  value=None if i % 2 else 0.5, system_attrs=s.system_attrs))
    points = {(t.params["num_leaves"], t.params["learning_rate"]) for t in trials}
    assert len(points) == 6


def test_random_trials_differ_and_the_direction_follows_the_metric() -> None:
    space = build_space("lightgbm", LGBM, {}, {})
    trials: list[StoredTrial] = []
    for _ in range(3):
        s = suggest("random", space, "rmse", 7, trials)
        trials.append(StoredTrial(s.number, s.params, COMPLETE, value=1.0))
    assert len({t.params["num_leaves"] for t in trials}) == 3
    assert direction("rmse") == "minimize" and direction("roc_auc") == "maximize"


def _study_job(started_seconds_ago: float = 0.0, **spec: Any) -> JobRecord:
    now = datetime.now(UTC)
    return JobRecord(
        id="job-tuning", kind="tuning", name=None, status="Running", reason=None,
        message=None, attempts=1, max_attempts=1, pid=None, pid_started_at=None, outputs={},
        created_at=now, started_at=now - timedelta(seconds=started_seconds_ago),
        ended_at=None, updated_at=now, created_by="admin",
        spec={"max_trials": 10, "strategy": "random", "max_runtime_seconds": 60,
              "objective": "rmse", "patience": None, **spec})


def _done(values: list[float | None]) -> list[StoredTrial]:
    return [StoredTrial(i, {}, COMPLETE if v is not None else RUNNING, value=v)
            for i, v in enumerate(values)]


def test_a_study_stops_for_trials_runtime_patience_or_an_exhausted_grid() -> None:
    space = build_space("lightgbm", LGBM, {"num_leaves": "4,8"},
                        {h.name: h.default for h in LGBM if h.name != "num_leaves"})
    three = _done([3.0, 2.0, 2.5])
    assert _over(_study_job(), three, 3, space) is None
    assert _over(_study_job(max_trials=3), three, 3, space) == "max_trials"
    assert _over(_study_job(max_trials=3), three, 2, space) is None  # one cut short
    assert _over(_study_job(started_seconds_ago=61), three, 3, space) == "max_runtime"
    # rmse is minimised: 2.0 (trial 1) is the best; one finished trial after it.
    assert _over(_study_job(patience=1), three, 3, space) == "no_improvement"
    assert _over(_study_job(patience=2), three, 3, space) is None
    assert _over(_study_job(patience=1), _done([3.0, 2.0, None]), 3, space) is None
    assert _over(_study_job(strategy="grid"), _done([1.0, 2.0]), 2, space) == "grid_exhausted"
