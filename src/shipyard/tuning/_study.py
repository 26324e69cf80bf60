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

from shipyard.tuning._space import ALGORITHM, Dimension, SearchSpace, study_algorithms

#: The strategies a tuning job may use, as ``--strategy`` names them.
STRATEGIES = ("bayesian", "random", "grid", "hyperband")
#: Hyperband's reduction factor: a third of the trials at a rung go on to the next.
REDUCTION_FACTOR = 3
#: Rungs of the most aggressive bracket: the first rung is at max rounds / 3**RUNGS.
RUNGS = 3
#: The prefix of the system attributes in which Optuna's pruner keeps the loss a trial
#: had at each rung it passed (``completed_rung_<i>``): the values others compete with.
RUNG_ATTR = "completed_rung_"
#: Validation metrics a tuning job can optimise, by problem type. A binary problem's
#: ``f1``, ``precision`` and ``recall`` are of its positive class (the second label, the
#: one its ROC AUC ranks), as training logs them.
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "f1", "precision",
               "recall", "f1_macro", "precision_macro", "recall_macro", "log_loss"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1_macro", "precision_macro",
                   "recall_macro", "roc_auc", "pr_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
    # The forecast's own figures over its validation backtests (docs/forecast.md).
    "forecasting": ("mase", "smape", "mape", "pinball"),
}
#: Metrics for which a smaller value is better (the others are maximised).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "mse", "mase", "smape",
                             "pinball"})
#: Trial outcomes as Optuna knows them.
COMPLETE, FAIL, RUNNING, PRUNED = "complete", "fail", "running", "pruned"


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
    #: A pruned trial's last intermediate value, as ``{step: value}`` (a loss).
    intermediate: Mapping[int, float] = field(default_factory=dict)


def _sampler(strategy: str, space: SearchSpace, seed: int) -> Any:
    optuna = _optuna()
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "grid":
        # Same seed on every rebuild: the grid's order must not change, trial n takes its
        # n-th point.
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    # constant_liar: trials still running count as bad guesses, so P trials started
    # together do not all go to the same place. (hyperband samples as bayesian does; its
    # pruner is in prune().)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=5)


def _states() -> dict[str, Any]:
    state = _optuna().trial.TrialState
    return {COMPLETE: state.COMPLETE, FAIL: state.FAIL, RUNNING: state.RUNNING,
            PRUNED: state.PRUNED}


def rebuild(strategy: str, space: SearchSpace, metric: str, seed: int,
            trials: Sequence[StoredTrial], goal: str | None = None) -> Any:
    """An in-memory Optuna study holding ``trials``, with the strategy's sampler; ``goal``
    (minimize or maximize) overrides the direction the metric's name implies."""
    optuna = _optuna()
    goal = goal or direction(metric)
    study = optuna.create_study(direction=goal,
                                sampler=_sampler(strategy, space, seed if strategy == "grid"
                                                 else seed + len(trials)))
    dists = {d.name: distribution(d) for d in space.dimensions}
    states = _states()
    # A pruned trial's loss, turned to the study's direction (TPE ranks pruned trials by
    # their last step, then their last intermediate value).
    sign = 1.0 if goal == "minimize" else -1.0
    for t in sorted(trials, key=lambda t: t.number):
        params = {k: v for k, v in t.params.items() if k in dists and v in _Contains(dists[k])}
        study.add_trial(optuna.trial.create_trial(
            state=states[t.state], value=t.value if t.state == COMPLETE else None,
            params=params, distributions={k: dists[k] for k in params},
            system_attrs=dict(t.system_attrs),
            intermediate_values={int(k): sign * v for k, v in t.intermediate.items()}
            if t.state == PRUNED else None))
    return study


def rungs(max_resource: int) -> tuple[int, list[int]]:
    """Hyperband's first rung (``min_resource``) for fits of ``max_resource`` rounds, and
    every step at which some bracket judges a trial (``min_resource * 3**k``).

    Rounded up, so the last rung falls past ``max_resource``: a rung at 9,990 of 10,000
    rounds would judge trials that have all but finished."""
    first = max(1, -(-max_resource // REDUCTION_FACTOR ** RUNGS))
    steps, step = [], first
    while step < max_resource:
        steps.append(step)
        step *= REDUCTION_FACTOR
    return first, steps


@dataclass(frozen=True)
class Pruning:
    """Hyperband's judgement of one running trial: its sampler state after the rungs it
    reached (``completed_rung_<i>``), and the step at which it is pruned (None: go on)."""

    system_attrs: dict[str, Any]
    pruned_at: int | None = None


def prune(study_name: str, trials: Sequence[StoredTrial], number: int,
          curve: Mapping[int, float], max_resource: int) -> Pruning:
    """Optuna's HyperbandPruner on trial ``number`` (running) given its per-round
    validation loss ``curve`` (``{round: loss}``, lower is better) and the other trials'
    rung values (``completed_rung_<i>`` in their ``system_attrs``).

    The pruner is asked at each rung step the curve has reached, in order, with the curve
    cut there (Optuna's own loop reports every step; the driver sees the curve a second
    at a time): a trial is judged at each rung on the loss it had at that rung. Brackets
    follow from ``study_name`` (the tuning job's id) and the trial's number, as in Optuna.
    """
    import copy

    optuna = _optuna()
    first, steps = rungs(max_resource)
    pruner = optuna.pruners.HyperbandPruner(min_resource=first, max_resource=max_resource,
                                            reduction_factor=REDUCTION_FACTOR)
    study = optuna.create_study(study_name=study_name, direction="minimize", pruner=pruner)
    states = _states()
    for t in sorted(trials, key=lambda t: t.number):
        here = t.number == number
        study.add_trial(optuna.trial.create_trial(
            state=states[RUNNING if here else t.state],
            value=0.0 if t.state == COMPLETE and not here else None,
            system_attrs=dict(t.system_attrs),
            intermediate_values={int(k): float(v) for k, v in
                                 (curve if here else t.intermediate).items()} or None))
    storage = study._storage
    frozen = next(f for f in storage.get_all_trials(study._study_id, deepcopy=False)
                  if f.number == number)
    last = max(curve) if curve else -1
    for step in (s for s in steps if s <= last):
        if step not in curve:
            continue
        judged = copy.deepcopy(storage.get_trial(frozen._trial_id))
        judged.intermediate_values = {k: v for k, v in curve.items() if k <= step}
        if pruner.prune(study, judged):
            attrs = storage.get_trial(frozen._trial_id).system_attrs
            return Pruning(system_attrs=_json_attrs(attrs), pruned_at=step)
    return Pruning(system_attrs=_json_attrs(storage.get_trial(frozen._trial_id).system_attrs))


def _json_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if _jsonable(v)}


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
            trials: Sequence[StoredTrial], seeds: Sequence[StoredTrial] = (),
            goal: str | None = None) -> Suggestion:
    """The parameters of trial number ``len(trials)``, given the trials so far.

    ``seeds``: finished trials of earlier studies (warm start), told to the sampler
    before this study's own. A study over several algorithms asks define-by-run: the
    algorithm first, then only that algorithm's dimensions (``<algorithm>.<name>``), so
    TPE models each algorithm's hyperparameters on the trials that had them.
    """
    numbered = [StoredTrial(number=i - len(seeds), params=t.params, state=t.state,
                            value=t.value, intermediate=t.intermediate)
                for i, t in enumerate(seeds)]  # before this study's trial 0, in order
    study = rebuild(strategy, space, metric, seed, [*numbered, *trials], goal)
    algorithms = study_algorithms(space)
    if algorithms is None:
        trial = study.ask({d.name: distribution(d) for d in space.dimensions})
    else:
        trial = study.ask()
        chosen = trial.suggest_categorical(ALGORITHM, list(algorithms))
        for d in space.dimensions:
            if d.name.startswith(f"{chosen}."):
                _ask(trial, d)
    frozen = study._storage.get_trial(trial._trial_id)
    attrs = {k: v for k, v in frozen.system_attrs.items() if _jsonable(v)}
    return Suggestion(number=len(trials), params=dict(trial.params), system_attrs=attrs)


def _ask(trial: Any, d: Dimension) -> Any:
    """``trial.suggest_*`` for one dimension (define-by-run)."""
    if d.type == "categorical":
        return trial.suggest_categorical(d.name, list(d.choices or ()))
    if d.type == "int":
        return trial.suggest_int(d.name, int(d.low or 0), int(d.high or 0), log=d.log)
    return trial.suggest_float(d.name, float(d.low or 0), float(d.high or 0), log=d.log)


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
