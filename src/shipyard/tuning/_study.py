"""The Optuna side of a tuning job: samplers, objective direction, a study rebuilt from trials.

Shipyard keeps no Optuna storage of its own. The stored trial jobs *are* the study:
each one carries its parameters (its hyperparameters) and the sampler's state of the
trial (``system_attrs``, e.g. the grid sampler's grid id); its outcome is its status and
its validation metric. :func:`rebuild` turns them into an in-memory Optuna study with
``study.add_trial`` before each new trial is asked for, so a control plane that
restarted asks exactly the question the one before would have asked next (the
"equivalent" of Optuna's RDB storage, without a second schema in our database).

Each ask gets a sampler seeded with ``seed + number``: a sampler rebuilt with the same
seed would otherwise draw the same first point for every trial (the grid sampler keeps
``seed``: its order of the grid must not change, and trial n takes the n-th point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.tuning._space import Dimension, SearchSpace

#: The strategies a tuning job may use, as ``--strategy`` names them.
STRATEGIES = ("bayesian", "random", "grid")
#: Validation metrics a tuning job can optimise, by problem type.
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "f1_macro",
               "precision_macro", "recall_macro", "log_loss"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1_macro", "precision_macro",
                   "recall_macro", "roc_auc", "pr_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
}
#: Metrics for which a smaller value is better (the others are maximised).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "mse"})
#: Trial outcomes as Optuna knows them.
COMPLETE, FAIL, RUNNING = "complete", "fail", "running"


def direction(metric: str) -> str:
    """``"minimize"`` for an error or loss, ``"maximize"`` for a score."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:  # pragma: no cover - installed with the ml extra
        from shipyard.errors import ShipyardError
        raise ShipyardError("Tuning needs Optuna: pip install 'shipyard[ml]'.") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distribution(dim: Dimension) -> Any:
    """The Optuna distribution of one dimension."""
    d = _optuna().distributions
    if dim.type == "categorical":
        return d.CategoricalDistribution(list(dim.choices or ()))
    if dim.type == "int":
        return d.IntDistribution(int(dim.low or 0), int(dim.high or 0), log=dim.log)
    return d.FloatDistribution(float(dim.low or 0), float(dim.high or 0), log=dim.log)


@dataclass(frozen=True)
class StoredTrial:
    """One trial as the store holds it: its parameters, sampler state and outcome."""

    number: int
    params: Mapping[str, Any]
    state: str  # COMPLETE | FAIL | RUNNING
    value: float | None = None
    system_attrs: Mapping[str, Any] = field(default_factory=dict)


def _sampler(strategy: str, space: SearchSpace, seed: int) -> Any:
    optuna = _optuna()
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "grid":
        # Same seed on every rebuild: the grid's order must not change, trial n takes its
        # n-th point.
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    # constant_liar: trials still running count as bad guesses, so P trials started
    # together do not all go to the same place.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=5)


def rebuild(strategy: str, space: SearchSpace, metric: str, seed: int,
            trials: Sequence[StoredTrial]) -> Any:
    """An in-memory Optuna study holding ``trials``, with the strategy's sampler."""
    optuna = _optuna()
    study = optuna.create_study(direction=direction(metric),
                                sampler=_sampler(strategy, space, seed if strategy == "grid"
                                                 else seed + len(trials)))
    dists = {d.name: distribution(d) for d in space.dimensions}
    states = {COMPLETE: optuna.trial.TrialState.COMPLETE,
              FAIL: optuna.trial.TrialState.FAIL,
              RUNNING: optuna.trial.TrialState.RUNNING}
    for t in sorted(trials, key=lambda t: t.number):
        params = {k: v for k, v in t.params.items() if k in dists and v in _Contains(dists[k])}
        study.add_trial(optuna.trial.create_trial(
            state=states[t.state], value=t.value if t.state == COMPLETE else None,
            params=params, distributions={k: dists[k] for k in params},
            system_attrs=dict(t.system_attrs)))
    return study


class _Contains:
    """``value in _Contains(dist)``: the value is one the distribution can hold (a stored
    trial from before a narrower space is left out of the rebuilt study's parameters)."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist

    def __contains__(self, value: Any) -> bool:
        try:
            return bool(self.dist._contains(self.dist.to_internal_repr(value)))
        except (ValueError, TypeError):
            return False


@dataclass(frozen=True)
class Suggestion:
    """The next trial's parameters and the sampler's state of it."""

    number: int
    params: dict[str, Any]
    system_attrs: dict[str, Any]


def suggest(strategy: str, space: SearchSpace, metric: str, seed: int,
            trials: Sequence[StoredTrial]) -> Suggestion:
    """The parameters of trial number ``len(trials)``, given the trials so far."""
    study = rebuild(strategy, space, metric, seed, trials)
    trial = study.ask({d.name: distribution(d) for d in space.dimensions})
    frozen = study._storage.get_trial(trial._trial_id)
    attrs = {k: v for k, v in frozen.system_attrs.items() if _jsonable(v)}
    return Suggestion(number=len(trials), params=dict(trial.params), system_attrs=attrs)


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
