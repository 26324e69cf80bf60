"""Successive halving on rounds in the AutoML search, on a real store without a server: the
driver's judging of running candidates (shipyard.tuning's Hyperband) over candidates and
per-round validation losses stored as the supervisor stores them.

Each candidate is a ``training`` job record of the AutoML job, Running, with its
``curve.validation.<loss>`` points up to round 400 of at most 1,000 (rungs at 38, 114 and
342); the AutoML job judges it once, then it completes unless it was pruned. Optuna's
brackets follow from the AutoML job's id and the candidates' numbers, so each case is
deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shipyard.automl._driver import (
    JUDGED_CURVE_SECONDS,
    _prune,
    _ranked,
    _results,
    children,
    expected_seconds,
)
from shipyard.jobs._kinds import DriveContext
from shipyard.jobs.kinds.training import configs
from shipyard.store import (
    Database,
    EventLog,
    JobRecord,
    JobRepository,
    MetricPoint,
    upgrade,
    utcnow,
)
from shipyard.training import get_algorithm
from shipyard.training._progress import Progress
from shipyard.tuning import study_space
from shipyard.tuning._driver import stored_trial
from shipyard.tuning._study import PRUNED, StoredTrial, rungs

ALGORITHMS = ["lightgbm", "xgboost", "catboost", "linear"]
ROUNDS = 400


class _Jobs:
    """What the pruning asks of the job service, over a real store: ``repo``, and
    ``cancel`` (recorded; the job ends Stopped, as a cancelled one does)."""

    def __init__(self, repo: JobRepository) -> None:
        self.repo = repo
        self.cancelled: dict[str, str] = {}

    def cancel(self, job_id: str, by: str) -> None:
        self.cancelled[job_id] = by
        self.repo.transition(job_id, "Stopped", ["Running"], ended_at=utcnow())


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[JobRepository]:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(db)
    yield JobRepository(db, EventLog(db))
    db.dispose()


def _space() -> Any:
    declared = {a: get_algorithm(a).info.hyperparameters for a in ALGORITHMS}
    space, _ = study_space(ALGORITHMS, declared, {}, {})
    return space


def _automl(repo: JobRepository, job_id: str = "automl-halving") -> DriveContext:
    spec = {"prune": True, "max_rounds": 1000, "space": _space().to_list(),
            "objective": "roc_auc", "objective_metric": "validation.roc_auc",
            "direction": "maximize", "problem_type": "binary", "resolved_mode": "ensembling",
            "time_budget": 60}
    job, _ = repo.create(job_id, "automl", spec, name=None, max_attempts=1, actor="u",
                         initial_status="Running", experiment="exp")
    return DriveContext(job=job, jobs=_Jobs(repo))  # type: ignore[arg-type]


def _loss(base: float, step: int) -> float:
    """A falling per-round loss that levels off at ``base``."""
    return base * (1 + 1 / (step + 1))


def _candidate(ctx: DriveContext, base: float, *, algorithm: str = "xgboost",
               curve: str = "logloss", portfolio: int | None = None,
               recipe: dict[str, Any] | None = None, progress: float = 0.4) -> str:
    """A running candidate with its curve up to round ROUNDS; judged once, then Completed
    unless pruned. Returns its job id."""
    repo = ctx.jobs.repo
    number = len(children(ctx)[0])
    attrs = {"portfolio": portfolio} if portfolio is not None else {}
    job, _ = repo.create(f"cand-{number}", "training", {
        "algorithm": algorithm, "hyperparameters": {}, "recipe": recipe,
        "tuning": {"job": ctx.job.id, "number": number, "system_attrs": attrs}},
        name=None, max_attempts=1, actor="u", initial_status="Running", experiment="exp")
    repo.update_fields(job.id, started_at=utcnow())
    repo.add_metrics(job.id, [MetricPoint(f"curve.validation.{curve}", _loss(base, s), s,
                                          time.time()) for s in range(ROUNDS)]
                     + [MetricPoint("progress", progress, ROUNDS, time.time())])
    _tick(ctx)
    repo.transition(job.id, "Completed", ["Running"], ended_at=utcnow())
    return job.id


def _tick(ctx: DriveContext) -> tuple[list[JobRecord], list[StoredTrial]]:
    """The driver's pruning step as ``drive`` runs it on a tick."""
    candidates, _ = children(ctx)
    metrics = ctx.jobs.repo.last_metrics([j.id for j in candidates])
    stored = [stored_trial(j, metrics[j.id], "validation.roc_auc", _space())
              for j in candidates]
    return candidates, _prune(ctx, candidates, stored, metrics)


def _pruned(ctx: DriveContext) -> dict[str, dict[str, Any]]:
    return {j.id: j.spec["tuning"]["pruned"] for j in children(ctx)[0]
            if j.spec["tuning"].get("pruned")}


def test_a_clearly_bad_search_candidate_is_pruned_at_a_rung_and_a_good_one_is_not(
        repo: JobRepository) -> None:
    ctx = _automl(repo)
    good = [_candidate(ctx, base) for base in (0.50, 0.48, 0.46, 0.44, 0.42, 0.40)]
    bad = _candidate(ctx, 0.90)
    best = _candidate(ctx, 0.30)
    pruned = _pruned(ctx)
    assert set(pruned) == {bad}, pruned  # each good one was the best of its rung so far
    at = pruned[bad]["round"]
    assert at in rungs(1000)[1] == [38, 114, 342]
    assert pruned[bad] == {"round": at, "loss": pytest.approx(_loss(0.90, at)),
                           "metric": "validation.logloss"}
    jobs: _Jobs = ctx.jobs  # type: ignore[assignment]
    assert list(jobs.cancelled) == [bad]
    assert f"AutoML job {ctx.job.id}: pruned at round {at}" in jobs.cancelled[bad]
    assert repo.get(bad).status == "Stopped" and repo.get(best).status == "Completed"
    # The judged candidates kept the rung values the pruner compares later ones with.
    assert all(any(k.startswith("completed_rung_") for k in
                   repo.get(j).spec["tuning"]["system_attrs"]) for j in [*good, best])

    # Judged again on the next tick (it is Stopped now): nothing changes.
    _tick(ctx)
    assert _pruned(ctx) == pruned and list(jobs.cancelled) == [bad]

    # The leaderboard: "pruned at round N" with its loss, no validation metric.
    candidates, stored = _tick(ctx)
    board = _results(ctx, candidates, stored, None, {}, "searching")["automl"]
    row = next(r for r in board["candidates"] if r["job_id"] == bad)
    assert row["state"] == "pruned" and row["validation"] is None
    assert row["pruned_at"] == {"round": at, "validation.logloss": pytest.approx(
        _loss(0.90, at))}
    assert board["prune"] is True and board["pruned"] == 1
    assert all("pruned_at" not in r for r in board["candidates"] if r["job_id"] != bad)


def test_a_pruned_candidate_is_never_a_member_nor_counted_in_time_estimates(
        repo: JobRepository) -> None:
    ctx = _automl(repo)
    for base in (0.50, 0.48, 0.46, 0.44, 0.42, 0.40):
        _candidate(ctx, base)
    bad = _candidate(ctx, 0.90)
    # It ended before the cancel landed, with its outputs, as a race may have it.
    repo.transition(bad, "Completed", ["Stopped"], outputs={"files": [
        {"path": "output/predictions/predictions.json", "sha256": "0" * 64, "size": 1}]})
    candidates, stored = _tick(ctx)
    assert stored[-1].state == PRUNED
    assert bad not in {j.id for j, _ in _ranked(candidates, stored, "maximize")}
    # Run times: the others' 10 s; the pruned one's 0.5 s does not pull the median down.
    start = utcnow()
    done = [replace(j, started_at=start,
                    ended_at=start + timedelta(seconds=0.5 if j.id == bad else 10.0))
            for j in candidates]
    one_each = [done[0], done[-1]]  # a good one and the pruned one
    assert expected_seconds("xgboost", one_each) == pytest.approx(10.0)
    assert expected_seconds("catboost", one_each) == pytest.approx(20.0)  # twice the median


def test_a_portfolio_candidate_is_never_pruned(repo: JobRepository) -> None:
    ctx = _automl(repo)
    for base in (0.50, 0.48, 0.46, 0.44, 0.42, 0.40):
        _candidate(ctx, base)
    bad = _candidate(ctx, 0.90, portfolio=12)
    jobs: _Jobs = ctx.jobs  # type: ignore[assignment]
    assert _pruned(ctx) == {} and jobs.cancelled == {}
    assert repo.get(bad).spec["tuning"]["system_attrs"] == {"portfolio": 12}  # not judged
    # The same curve from the search is pruned: the test above's case.
    assert set(_pruned_after(ctx, 0.90)) == {f"cand-{len(children(ctx)[0]) - 1}"}


def test_a_candidate_whose_fit_is_over_is_not_pruned_but_keeps_its_rungs(
        repo: JobRepository) -> None:
    ctx = _automl(repo)
    for base in (0.50, 0.48, 0.46, 0.44, 0.42, 0.40):
        _candidate(ctx, base)
    # Seen only once its fit ended (early stopping: progress 1), scoring and writing: it
    # is not stopped, but the rung values it reached are kept for the later ones.
    done = _candidate(ctx, 0.90, progress=1.0)
    assert _pruned(ctx) == {}
    attrs = repo.get(done).spec["tuning"]["system_attrs"]
    assert any(k.startswith("completed_rung_") for k in attrs), attrs
    assert len(_pruned_after(ctx, 0.90)) == 1  # the same curve, still fitting: pruned


def _pruned_after(ctx: DriveContext, base: float, **how: Any) -> dict[str, Any]:
    _candidate(ctx, base, **how)
    return _pruned(ctx)


@pytest.mark.parametrize(("earlier", "later"), [
    # LightGBM's binary log loss and XGBoost's log loss are different curves.
    ({"algorithm": "lightgbm", "curve": "binary_logloss"},
     {"algorithm": "xgboost", "curve": "logloss"}),
    # A log-target candidate's rmse is of log(1 + y): not comparable with a raw one's.
    ({"algorithm": "lightgbm", "curve": "rmse",
      "recipe": {"extends": "default", "target_transform": "log"}},
     {"algorithm": "lightgbm", "curve": "rmse"}),
])
def test_losses_of_different_curves_or_scales_are_never_compared(
        repo: JobRepository, earlier: dict[str, Any], later: dict[str, Any]) -> None:
    ctx = _automl(repo)
    for base in (0.30, 0.29, 0.28, 0.27, 0.26, 0.25):
        _candidate(ctx, base, **earlier)
    # Far worse in number than every earlier loss, but of another loss: not pruned.
    assert _pruned_after(ctx, 25_000.0, **later) == {}
    # The same value on the earlier candidates' loss is pruned.
    assert len(_pruned_after(ctx, 25_000.0, **earlier)) == 1


def test_judged_candidates_flush_their_curves_more_often() -> None:
    config = configs({"algorithm": "xgboost", "tuning": {
        "job": "a", "number": 3, "curve_seconds": JUDGED_CURVE_SECONDS}})["training.json"]
    assert config["curve_seconds"] == JUDGED_CURVE_SECONDS < 1.0
    assert "curve_seconds" not in configs({"algorithm": "xgboost"})["training.json"]
    now = [0.0]
    logged: list[tuple[str, float, int]] = []
    progress = Progress(total=100, unit="rounds", log=lambda line: None,
                        log_metric=lambda *a: logged.append(a), clock=lambda: now[0],
                        curve_interval=JUDGED_CURVE_SECONDS)
    progress.curves({"validation.logloss": [0.7]})
    now[0] = JUDGED_CURVE_SECONDS / 2
    assert not progress.curves_due()
    now[0] = JUDGED_CURVE_SECONDS
    assert progress.curves_due()
    # A training job's default: a second between flushes.
    default = Progress(total=100, unit="rounds", log=lambda line: None,
                       log_metric=lambda *a: None, clock=lambda: now[0])
    default.curves({"validation.logloss": [0.7]})
    now[0] += JUDGED_CURVE_SECONDS
    assert not default.curves_due()


def test_pruning_is_on_by_default_and_the_sdk_turns_it_off() -> None:
    from shipyard.client._automl import automl_spec
    from shipyard.jobs.kinds.automl import AutoMLSpec

    body = automl_spec("churn", "churn")
    assert "prune" not in body and AutoMLSpec.model_validate(body).prune is True
    off = automl_spec("churn", "churn", prune=False)
    assert off["prune"] is False and AutoMLSpec.model_validate(off).prune is False
