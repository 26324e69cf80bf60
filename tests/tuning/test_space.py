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


def test_default_space_is_the_declared_search_domains_and_ranges_narrow_or_add() -> None:
    space = build_space("lightgbm", LGBM, {"num_leaves": "4:64:log",
                                           "early_stopping_rounds": "10,20"},
                        {"n_estimators": 50})
    dims = {d.name: d for d in space.dimensions}
    assert "n_estimators" not in dims  # fixed: not searched
    assert (dims["num_leaves"].low, dims["num_leaves"].high, dims["num_leaves"].log) == \
        (4, 64, True)
    assert dims["early_stopping_rounds"].choices == (10, 20)  # off by default, added
    declared = {h.name: h for h in LGBM}
    lr = dims["learning_rate"]  # untouched: its declared search domain, log scale included
    assert (lr.low, lr.high, lr.log) == declared["learning_rate"].search == (0.01, 0.3, True)
    assert "max_depth" not in dims  # default None ("no limit"): stays off
    # The default search is where good settings are, inside what is valid: not 1..10,000
    # boosting rounds.
    default = {d.name: d for d in build_space("lightgbm", LGBM, {}, {}).dimensions}
    assert (default["n_estimators"].low, default["n_estimators"].high) == (50, 1000)
    # A range may still name anything valid, wider than the default search.
    wide = build_space("lightgbm", LGBM, {"n_estimators": "10:5000"}, {})
    assert wide.dimensions[0].high == 5000
    # A solver's iteration cap is not searched unless a range names it.
    linear = get_algorithm("linear").info.hyperparameters
    assert "max_iter" not in build_space("linear", linear, {}, {}).names
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


def test_hyperband_prunes_the_worse_curves_at_its_rungs_and_keeps_its_state() -> None:
    """Optuna's HyperbandPruner over per-round losses, the study rebuilt each time from the
    trials' stored rung values (``completed_rung_<i>``) as the driver does."""
    from shipyard.tuning._study import PRUNED, prune, rungs

    first, steps = rungs(300)
    assert (first, steps) == (12, [12, 36, 108])  # none at the last rounds
    bases = [0.3, 0.5, 0.25, 0.6, 0.4, 0.35, 0.7, 0.2, 0.45, 0.55, 0.28, 0.33]
    trials: list[StoredTrial] = []
    pruned_at: dict[int, int] = {}
    for n, base in enumerate(bases):
        curve = {s: base * (1 + 1 / (s + 1)) for s in range(300)}  # a loss, falling
        trials.append(StoredTrial(number=n, params={}, state=RUNNING))
        judged = prune("job-hb", trials, n, {s: v for s, v in curve.items() if s < 50}, 300)
        if judged.pruned_at is None:
            # Judged again on the same curve, as the next tick does: nothing changes.
            again = prune("job-hb", [*trials[:-1], StoredTrial(
                number=n, params={}, state=RUNNING, system_attrs=judged.system_attrs)],
                n, {s: v for s, v in curve.items() if s < 50}, 300)
            assert again == judged
            judged = prune("job-hb", [*trials[:-1], StoredTrial(
                number=n, params={}, state=RUNNING, system_attrs=judged.system_attrs)],
                n, curve, 300)
        assert "completed_rung_0" in judged.system_attrs
        if judged.pruned_at is not None:
            pruned_at[n] = judged.pruned_at
            assert judged.pruned_at in steps
        trials[-1] = StoredTrial(
            number=n, params={}, value=0.5, system_attrs=judged.system_attrs,
            state=PRUNED if judged.pruned_at is not None else COMPLETE,
            intermediate={judged.pruned_at: curve[judged.pruned_at]}
            if judged.pruned_at is not None else {})
    assert 3 <= len(pruned_at) < len(bases)
    best = min(range(len(bases)), key=lambda i: bases[i])
    assert best not in pruned_at  # the best curve always goes on
    # A pruned trial was worse at its rung than one that went on past that rung.
    for n, step in pruned_at.items():
        assert any(bases[m] < bases[n] for m in range(n) if m not in pruned_at), n


def _declared(*names: str) -> dict[str, Any]:
    return {n: get_algorithm(n).info.hyperparameters for n in names}


def test_a_study_over_several_algorithms_names_each_ones_space() -> None:
    from shipyard.tuning._space import space_params, study_space, trial_settings

    space, fixed = study_space(["xgboost", "lightgbm"], _declared("xgboost", "lightgbm"),
                               {"learning_rate": "0.05:0.2:log",
                                "lightgbm.num_leaves": "8:32"},
                               {"n_estimators": 100, "xgboost.max_depth": 3})
    dims = {d.name: d for d in space.dimensions}
    assert dims["algorithm"].choices == ("xgboost", "lightgbm")
    # A bare name is every algorithm's that declares it; ALGORITHM.NAME only that one's.
    assert dims["xgboost.learning_rate"].low == dims["lightgbm.learning_rate"].low == 0.05
    assert (dims["lightgbm.num_leaves"].low, dims["lightgbm.num_leaves"].high) == (8, 32)
    assert fixed == {"xgboost.n_estimators": 100, "lightgbm.n_estimators": 100,
                     "xgboost.max_depth": 3}
    assert "xgboost.max_depth" not in dims and "lightgbm.n_estimators" not in dims
    # A trial is one algorithm's settings, and back.
    algo, hp = trial_settings(space, {"algorithm": "lightgbm", "lightgbm.num_leaves": 9,
                                      "lightgbm.learning_rate": 0.1}, fixed, "unused")
    assert algo == "lightgbm" and hp == {"n_estimators": 100, "num_leaves": 9,
                                         "learning_rate": 0.1}
    assert space_params(space, "lightgbm", hp) == {
        "algorithm": "lightgbm", "lightgbm.num_leaves": 9, "lightgbm.learning_rate": 0.1}
    assert space_params(space, "catboost", {}) is None
    with pytest.raises(InvalidRequest) as err:
        study_space(["xgboost", "lightgbm"], _declared("xgboost", "lightgbm"),
                    {"num_leafs": "8:32"}, {})
    assert "num_leafs" in err.value.message and "ALGORITHM.NAME" in err.value.message


@pytest.mark.parametrize("strategy", ["bayesian", "random", "hyperband"])
def test_each_trial_of_several_algorithms_asks_only_its_own_hyperparameters(
        strategy: str) -> None:
    from shipyard.tuning._space import study_space

    space, _ = study_space(["xgboost", "lightgbm"], _declared("xgboost", "lightgbm"), {}, {})
    trials: list[StoredTrial] = []
    seen = set()
    for i in range(12):
        s = suggest(strategy, space, "roc_auc", 0, trials)
        algo = s.params["algorithm"]
        seen.add(algo)
        assert all(k == "algorithm" or k.startswith(f"{algo}.") for k in s.params), s.params
        assert len(s.params) == 1 + sum(1 for n in space.names if n.startswith(f"{algo}."))
        trials.append(StoredTrial(number=i, params=s.params, state=COMPLETE,
                                  value=0.8 + (0.05 if algo == "lightgbm" else 0.0)))
    assert seen == {"xgboost", "lightgbm"}


def test_a_warm_start_tells_the_sampler_the_earlier_trials_first() -> None:
    """Earlier trials where only a high learning rate scored well: TPE's first own trials
    follow them; without them it starts at random."""
    space = build_space("lightgbm", LGBM, {"learning_rate": "0.01:0.3:log"},
                        {h.name: h.default for h in LGBM if h.name != "learning_rate"})
    seeds = [StoredTrial(number=i, params={"learning_rate": lr}, state=COMPLETE,
                         value=0.5 + lr)
             for i, lr in enumerate([0.01 * 1.18 ** k for k in range(21)])]

    def first(n: int, warm: list[StoredTrial]) -> list[float]:
        trials: list[StoredTrial] = []
        for i in range(n):
            s = suggest("bayesian", space, "roc_auc", 0, trials, warm)
            trials.append(StoredTrial(number=i, params=s.params, state=COMPLETE,
                                      value=0.5 + s.params["learning_rate"]))
        return [t.params["learning_rate"] for t in trials]

    warm, cold = first(4, seeds), first(4, [])
    assert min(warm) > 0.1, warm  # TPE from the first trial, where the seeds did well
    assert warm != cold
