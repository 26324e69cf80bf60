"""Kind ``tuning``: a study over a built-in algorithm's hyperparameters (docs/tuning.md).

A driven kind: it runs no process. Submit time checks everything a trial would need
(the training request, with the algorithm's defaults) and the search space (the
algorithm's declared hyperparameters narrowed or extended by ``ranges``), so a bad
hyperparameter name or range is a 400 before any trial exists. The supervisor then
calls :func:`shipyard.tuning.drive` on every tick; trials are ``training`` jobs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import DriveContext, JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase
from shipyard.jobs.kinds import training

#: The most trials one tuning job may run, and the most at a time.
MAX_TRIALS = 1000
MAX_PARALLEL = 32
#: The hyperparameter counting boosting rounds, of the algorithms hyperband can prune
#: (the ones that log a per-round validation loss while they fit).
ROUNDS = {"xgboost": "n_estimators", "lightgbm": "n_estimators", "catboost": "iterations"}


class TuningSpec(JobSpecBase):
    """A tuning job: ``algorithm`` over ``inputs.train``; ``hyperparameters`` are fixed."""

    kind: Literal["tuning"]
    algorithm: str | None = None
    target: str | None = Field(default=None, max_length=256)
    problem_type: str | None = None
    split: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None
    #: The validation metric to optimise (``roc_auc``, ``rmse``, ...); a ``validation.``
    #: prefix is allowed. The direction follows from the metric.
    objective: str | None = Field(default=None, max_length=64)
    strategy: Literal["bayesian", "random", "grid", "hyperband"] = "bayesian"
    max_trials: int = Field(default=20, ge=1, le=MAX_TRIALS)
    parallel: int = Field(default=1, ge=1, le=MAX_PARALLEL)
    #: ``{name: "LOW:HIGH[:log]" | "a,b,c" | [a, b, c]}``: narrow or add dimensions.
    ranges: dict[str, str | list[Any]] = Field(default_factory=dict, max_length=256)
    #: Stop after this many finished trials in a row without a better objective.
    patience: int | None = Field(default=None, ge=1, le=MAX_TRIALS)
    #: The samplers' seed (a study is reproducible given its trials' outcomes).
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> TuningSpec:
        if not self.algorithm:
            raise ValueError("a tuning job needs an 'algorithm' (GET /api/v1/algorithms "
                             "lists them)")
        if not self.objective:
            raise ValueError("a tuning job needs an 'objective': the validation metric to "
                             "optimise, e.g. roc_auc or rmse")
        if self.outputs:
            raise ValueError("a tuning job's trials write models, not datasets; drop "
                             "'outputs'")
        if "train" not in self.inputs:
            raise ValueError("a tuning job needs an input channel named 'train'")
        extra = sorted(set(self.inputs) - set(training.TRAINING_CHANNELS))
        if extra:
            raise ValueError(f"a tuning job reads the channels train, validation and test; "
                             f"got {extra[0]!r}")
        return self


def check(ctx: SubmitContext[TuningSpec]) -> None:
    """Refuse a study that cannot work before it exists: the training request its trials
    make, the objective for the problem type, and the search space (400, nothing started).

    Pins the search space (``space``), the fixed hyperparameters (``fixed``), the metric
    without its ``validation.`` prefix (``objective``) and the problem type.
    """
    from shipyard.training import get_algorithm, infer_problem_type, validate_hyperparameters
    from shipyard.tuning import OBJECTIVES, build_space

    spec = ctx.spec
    algorithm = spec.algorithm or ""
    info = get_algorithm(algorithm).info
    if not info.supervised:
        raise InvalidRequest(f"Algorithm {algorithm!r} is unsupervised: there is no "
                             "validation metric to tune it on; tune a supervised one.")
    fixed = validate_hyperparameters(algorithm, spec.hyperparameters)
    fixed = {k: fixed[k] for k in spec.hyperparameters}
    space = build_space(algorithm, info.hyperparameters, spec.ranges, fixed)
    # Every check a trial's submit makes, on a trial with the default settings.
    trial = training.TrainingSpec.model_validate({
        "kind": "training", "algorithm": algorithm, "target": spec.target,
        "problem_type": spec.problem_type, "split": spec.split, "recipe": spec.recipe,
        "inputs": spec.inputs, "hyperparameters": fixed})
    trial_ctx: SubmitContext[Any] = SubmitContext(
        spec=trial, stored=dict(ctx.stored), datasets=ctx.datasets, models=ctx.models,
        artifacts=ctx.artifacts, catalog=ctx.catalog, actor=ctx.actor, settings=ctx.settings,
        experiment=ctx.experiment)
    training.check(trial_ctx)
    problem_type = spec.problem_type
    if problem_type is None:
        train = ctx.stored["inputs"]["train"]
        head = ctx.datasets.head(train["dataset"], train["version"], n=10_000).to_pandas()
        problem_type = infer_problem_type(head[str(spec.target)])
    metric = str(spec.objective).removeprefix("validation.")
    allowed = OBJECTIVES.get(problem_type, ())
    if metric not in allowed:
        raise InvalidRequest(
            f"Objective {spec.objective!r} is not a validation metric of a {problem_type} "
            f"problem; use one of: {', '.join(allowed)}.")
    if spec.strategy == "grid" and space.grid_size() > 100_000:
        raise InvalidRequest(
            f"The grid has {space.grid_size():,} points ({len(space.names)} hyperparameters); "
            "fix some (hyperparameters) or give each a short list with --range a,b,c.")
    if spec.strategy == "hyperband":
        ctx.stored["max_rounds"] = _max_rounds(algorithm, info.hyperparameters, space, fixed)
    ctx.stored.update(space=space.to_list(), fixed=fixed, objective=metric,
                      problem_type=problem_type)
    ctx.experiment = trial_ctx.experiment


def _max_rounds(algorithm: str, declared: Any, space: Any, fixed: dict[str, Any]) -> int:
    """Hyperband's resource: the most boosting rounds a trial may fit (the searched high,
    the fixed value, or the default)."""
    rounds = ROUNDS.get(algorithm)
    if rounds is None:
        raise InvalidRequest(
            f"--strategy hyperband prunes trials on the validation loss they report each "
            f"boosting round, which only {', '.join(ROUNDS)} report; use bayesian, random "
            f"or grid for {algorithm!r}.")
    if rounds in fixed:
        return int(fixed[rounds])
    dim = next((d for d in space.dimensions if d.name == rounds), None)
    if dim is not None:
        return int(max(dim.choices) if dim.choices is not None else dim.high)
    return int(next(h.default for h in declared if h.name == rounds))


def drive(ctx: DriveContext) -> None:
    from shipyard.tuning import drive as drive_study

    drive_study(ctx)


register(JobKind(
    name="tuning", spec=TuningSpec,
    summary="A hyperparameter study: training jobs as trials, the best scored on test.",
    # Never launched: a driven kind runs in the control plane's supervisor.
    entry="shipyard.tuning:main", check=check, driver=drive,
))
