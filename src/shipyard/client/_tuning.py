"""Tuning jobs from the client side: the spec of ``kind: tuning`` and its trials as a table.

Pure helpers shared by the SDK (``sy.Job.tune``) and the CLI (``shipyard tune``), so
both send the same spec (docs/tuning.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.client._training import training_spec
from shipyard.errors import InvalidRequest

#: ``--strategy`` values.
STRATEGIES = ("bayesian", "random", "grid", "hyperband")


def parse_ranges(pairs: Sequence[str]) -> dict[str, str]:
    """``["num_leaves=8:64", "learning_rate=0.01:0.3:log", "depth=4,6,8"]`` → a dict.

    The server checks each range against the algorithm's declarations.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise InvalidRequest(f"Invalid --range {pair!r}: expected NAME=LOW:HIGH, "
                                 "NAME=LOW:HIGH:log or NAME=a,b,c.")
        if name.strip() in out:
            raise InvalidRequest(f"--range {name.strip()} is given twice; keep one.")
        out[name.strip()] = value.strip()
    return out


def tuning_spec(
    algorithm: str, train: Any, target: str | None, objective: str, *,
    max_trials: int = 20, parallel: int = 1, strategy: str = "bayesian",
    ranges: Mapping[str, Any] | None = None, max_runtime: float | None = None,
    patience: int | None = None, seed: int = 0, split_seed: int | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    warm_start: Sequence[str] = (), direction: str | None = None, **training: Any,
) -> dict[str, Any]:
    """The JSON spec of a tuning job (``POST /jobs`` with ``kind: tuning``).

    Args:
        objective: the validation metric to optimise (``roc_auc``, ``rmse``, ...); the
            direction follows from it.
        ranges: hyperparameter → ``"LOW:HIGH"``, ``"LOW:HIGH:log"``, ``"a,b,c"`` or a list;
            they narrow or add to the algorithm's declared search space.
        max_runtime: seconds the study may run; trials still running then are stopped.
        patience: stop after this many finished trials in a row without improvement.
        hyperparameters: fixed values for every trial (not searched); with several
            algorithms (``"xgboost,lightgbm"``), ``ALGORITHM.NAME`` is one algorithm's.
        warm_start: earlier tuning jobs (same objective) whose trials seed the sampler.
        seed: the sampler's seed; ``split_seed``: the seed of the split every trial and
            the scoring job use (the training spec's ``seed``; default 42).
        training: the training arguments of :func:`training_spec` (validation, test,
            split, recipe, experiment, cpus, memory, ...), which every trial uses.
    """
    if strategy not in STRATEGIES:
        raise InvalidRequest(f"Unknown strategy {strategy!r}; use one of: "
                             f"{', '.join(STRATEGIES)}.")
    if split_seed is not None:
        training["seed"] = split_seed
    spec = training_spec(algorithm, train, target, hyperparameters=hyperparameters,
                         **training)
    spec.update(kind="tuning", objective=objective, max_trials=max_trials,
                parallel=parallel, strategy=strategy, ranges=dict(ranges or {}), seed=seed)
    if max_runtime is not None:
        spec["max_runtime_seconds"] = max_runtime
    if patience is not None:
        spec["patience"] = patience
    if warm_start:
        spec["warm_start"] = list(warm_start)
    if direction is not None:
        spec["direction"] = direction
    return spec


def script_tuning_spec(
    script: Any, objective: str, *, inputs: Mapping[str, Any] | None = None,
    direction: str | None = None, requirements: Any = None,
    metric_definitions: Mapping[str, str] | None = None, max_trials: int = 20,
    parallel: int = 1, strategy: str = "bayesian", ranges: Mapping[str, Any] | None = None,
    max_runtime: float | None = None, patience: int | None = None, seed: int = 0,
    hyperparameters: Mapping[str, Any] | None = None, warm_start: Sequence[str] = (),
    experiment: str | None = None, cpus: int | None = None, memory: str | int | None = None,
) -> dict[str, Any]:
    """The JSON spec of a tuning job over a script of yours (``script``: its path): each
    trial runs it with the trial's hyperparameters (``shipyard.runtime.hyperparameters()``)
    and the objective is a metric it logs (``log_metric`` or ``metric_definitions``).

    Args:
        ranges: name → ``"LOW:HIGH"``, ``"LOW:HIGH:log"`` or ``"a,b,c"``: the whole space
            (a script declares no hyperparameters).
        direction: minimize or maximize (needed unless the metric is a built-in one's
            name, such as rmse or roc_auc).
    """
    from shipyard.client._jobs import build_spec

    if strategy not in STRATEGIES:
        raise InvalidRequest(f"Unknown strategy {strategy!r}; use one of: "
                             f"{', '.join(STRATEGIES)}.")
    spec = build_spec("script", script, inputs=inputs, requirements=requirements,
                      hyperparameters=hyperparameters, cpus=cpus, memory=memory,
                      experiment=experiment, metric_definitions=metric_definitions)
    spec.update(kind="tuning", objective=objective, max_trials=max_trials,
                parallel=parallel, strategy=strategy, ranges=dict(ranges or {}), seed=seed)
    for key, value in (("max_runtime_seconds", max_runtime), ("patience", patience),
                       ("direction", direction)):
        if value is not None:
            spec[key] = value
    if warm_start:
        spec["warm_start"] = list(warm_start)
    return spec


def trial_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A tuning job's trials as flat rows (number, job, state, objective, duration, each
    searched hyperparameter), the best one marked."""
    best = (doc.get("best") or {}).get("trial_job_id")
    rows = []
    for t in doc.get("trials") or []:
        state = t["state"]
        if t.get("pruned_at"):  # hyperband: where it was stopped
            state = f"pruned at round {int(t['pruned_at']['round']):,}"
        several = len({x.get("algorithm") for x in doc.get("trials") or []}) > 1
        algo = {"algorithm": t.get("algorithm")} if several else {}
        rows.append({"number": t["number"], "job_id": t["job_id"], "state": state, **algo,
                     "objective": t["objective"], "duration_seconds": t["duration_seconds"],
                     "best": t["job_id"] == best, **t["hyperparameters"]})
    return rows
