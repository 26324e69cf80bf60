"""Kind ``tuning``: a study over a built-in algorithm's hyperparameters (docs/tuning.md).

A driven kind: it runs no process. Submit time checks everything a trial would need
(the training request, with the algorithm's defaults) and the search space (the
algorithm's declared hyperparameters narrowed or extended by ``ranges``), so a bad
hyperparameter name or range is a 400 before any trial exists. The supervisor then
calls :func:`shipyard.tuning.drive` on every tick; trials are ``training`` jobs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import DriveContext, JobKind, SubmitContext, register
from shipyard.jobs._spec import (
    HYPERPARAMETER_NAME,
    MAX_REQUIREMENTS_BYTES,
    JobSpecBase,
    MetricDefinition,
    ScriptSpec,
    check_env_collisions,
)
from shipyard.jobs.kinds import training

#: The most trials one tuning job may run, and the most at a time.
MAX_TRIALS = 1000
MAX_PARALLEL = 32
#: The hyperparameter counting boosting rounds, of the algorithms hyperband can prune
#: (the ones that log a per-round validation loss while they fit).
ROUNDS = {"xgboost": "n_estimators", "lightgbm": "n_estimators", "catboost": "iterations"}


#: Earlier tuning jobs one study may start from, at most.
MAX_WARM_START = 20


class TuningSpec(JobSpecBase):
    """A tuning job: ``algorithm`` over ``inputs.train``; ``hyperparameters`` are fixed.

    ``algorithm`` may name several, comma-separated (``xgboost,lightgbm``): each trial is
    one of them, with its own space. ``warm_start``: earlier tuning jobs whose finished
    trials the sampler is told first."""

    kind: Literal["tuning"]
    algorithm: str | None = Field(default=None, max_length=256)
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
    warm_start: list[Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]] = \
        Field(default_factory=list, max_length=MAX_WARM_START)
    #: A study over a script of yours (instead of ``algorithm``): each trial is a script
    #: job given the trial's hyperparameters; the objective is a metric it logs
    #: (``log_metric``, or a ``metric_definitions`` regex over its log).
    script: ScriptSpec | None = None
    requirements: str | None = Field(default=None, max_length=MAX_REQUIREMENTS_BYTES)
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, max_length=32)
    #: ``minimize`` or ``maximize``; inferred for the built-in metrics, needed for a
    #: script's own metric.
    direction: Literal["minimize", "maximize"] | None = None

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, v: dict[str, Any]) -> dict[str, Any]:
        """Range names become hyperparameter names (and a script's variables): the same
        rules as ``hyperparameters``."""
        for key, value in v.items():
            if not HYPERPARAMETER_NAME.fullmatch(key):
                raise ValueError(f"range names are hyperparameter names, matching "
                                 f"[A-Za-z_][A-Za-z0-9_.-]* (at most 64 characters); got "
                                 f"{key!r}")
            if len(str(value)) > 10_000:
                raise ValueError(f"the range of {key!r} is over 10,000 characters")
        check_env_collisions(list(v), "ranges")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TuningSpec:
        if bool(self.algorithm) == (self.script is not None):
            raise ValueError("a tuning job tunes either an 'algorithm' (GET /api/v1/"
                             "algorithms lists them; several separated by commas) or a "
                             "'script' of yours; give exactly one")
        if not self.objective:
            raise ValueError("a tuning job needs an 'objective': the validation metric to "
                             "optimise, e.g. roc_auc or rmse (or the metric a script logs)")
        if self.outputs:
            raise ValueError("a tuning job's trials write models, not datasets; drop "
                             "'outputs'")
        if self.script is not None:
            return self  # a script reads the channels it likes
        if self.requirements or self.metric_definitions:
            raise ValueError("requirements and metric_definitions are a script's; a built-in "
                             "algorithm takes neither")
        training.check_channels(self.inputs, "a tuning job")
        return self


def _algorithms(text: str) -> list[str]:
    names = list(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    if not names:
        raise InvalidRequest("A tuning job needs an 'algorithm' (GET /api/v1/algorithms "
                             "lists them), or several separated by commas.")
    return names


def _own(fixed: dict[str, Any], algorithm: str, several: bool) -> dict[str, Any]:
    """The fixed values of one algorithm of the study, named as it declares them."""
    if not several:
        return dict(fixed)
    prefix = f"{algorithm}."
    return {k.removeprefix(prefix): v for k, v in fixed.items() if k.startswith(prefix)}


def check(ctx: SubmitContext[TuningSpec]) -> None:
    """Refuse a study that cannot work before it exists: the training request its trials
    make (for each algorithm), the objective for the problem type, the search space and
    the studies it starts from (400, nothing started).

    Pins the search space (``space``), the fixed hyperparameters (``fixed``, named
    ``<algorithm>.<name>`` in a study over several), the metric without its
    ``validation.`` prefix (``objective``), the problem type and, for hyperband, the
    most rounds a trial fits (``max_rounds``).
    """
    from shipyard.jobs.kinds._common import target_zeros
    from shipyard.training import (
        check_objective,
        get_algorithm,
        infer_problem_type,
        validate_hyperparameters,
    )
    from shipyard.tuning import OBJECTIVES, direction, study_space

    spec = ctx.spec
    if spec.script is not None:
        _check_script(ctx)
        return
    if spec.direction is not None and spec.direction != direction(
            str(spec.objective).removeprefix("validation.")):
        raise InvalidRequest(f"The direction of {spec.objective!r} is "
                             f"{direction(str(spec.objective).removeprefix('validation.'))}; "
                             "drop 'direction' (it follows from a built-in metric).")
    algorithms = _algorithms(spec.algorithm or "")
    several = len(algorithms) > 1
    declared = {}
    for algorithm in algorithms:
        info = get_algorithm(algorithm).info
        if not info.supervised:
            raise InvalidRequest(f"Algorithm {algorithm!r} is unsupervised: there is no "
                                 "validation metric to tune it on; tune a supervised one.")
        declared[algorithm] = info.hyperparameters
    space, fixed = study_space(algorithms, declared, spec.ranges, spec.hyperparameters)
    checked: dict[str, Any] = {}
    for algorithm in algorithms:
        mine = _own(fixed, algorithm, several)
        valid = validate_hyperparameters(algorithm, mine)
        mine = {k: valid[k] for k in mine}
        checked.update({(f"{algorithm}.{k}" if several else k): v for k, v in mine.items()})
        # Every check a trial's submit makes, on a trial with the default settings.
        trial = training.TrainingSpec.model_validate({
            "kind": "training", "algorithm": algorithm, "target": spec.target,
            "problem_type": spec.problem_type, "split": spec.split, "recipe": spec.recipe,
            "inputs": spec.inputs, "hyperparameters": mine})
        trial_ctx: SubmitContext[Any] = SubmitContext(
            spec=trial, stored=dict(ctx.stored), datasets=ctx.datasets, models=ctx.models,
            artifacts=ctx.artifacts, catalog=ctx.catalog, actor=ctx.actor,
            settings=ctx.settings, experiment=ctx.experiment)
        training.check(trial_ctx)
    problem_type = spec.problem_type
    train = ctx.stored["inputs"]["train"]
    # The trials' check above refused a missing target or one not in the data.
    head = ctx.datasets.head(train["dataset"], train["version"], n=10_000).to_pandas()
    forecasting = [a for a in algorithms
                   if get_algorithm(a).info.problem_types == {"forecasting"}]
    if forecasting and several:
        raise InvalidRequest(
            f"{forecasting[0]!r} forecasts and is scored by backtests; tune it on its own "
            "(one 'algorithm'), not beside algorithms scored on a validation split.")
    if problem_type is None:
        problem_type = ("forecasting" if forecasting
                        else infer_problem_type(head[str(spec.target)]))
    metric = str(spec.objective).removeprefix("validation.")
    allowed = OBJECTIVES.get(problem_type, ())
    if metric not in allowed:
        raise InvalidRequest(
            f"Objective {spec.objective!r} is not a validation metric of a {problem_type} "
            f"problem; use one of: {', '.join(allowed)}.")
    if not forecasting:  # a forecast's MAPE skips zero actuals (docs/forecast.md)
        target = str(spec.target)
        check_objective(metric, head[target], target, lambda: target_zeros(
            ctx.datasets, train["dataset"], train["version"], target))
    if spec.strategy == "grid" and several:
        raise InvalidRequest("A grid is one algorithm's: give one 'algorithm' with strategy "
                             "grid, or use bayesian or random over several.")
    if spec.strategy == "grid" and space.grid_size() > 100_000:
        raise InvalidRequest(
            f"The grid has {space.grid_size():,} points ({len(space.names)} hyperparameters); "
            "fix some (hyperparameters) or give each a short list in 'ranges' (--range "
            "NAME=a,b,c on the CLI).")
    if spec.strategy == "hyperband":
        ctx.stored["max_rounds"] = max(
            max_rounds(a, declared[a], space, _own(checked, a, several),
                        f"{a}." if several else "") for a in algorithms)
    _check_warm_start(ctx, algorithms, metric, problem_type)
    ctx.stored.update(space=space.to_list(), fixed=checked, objective=metric,
                      objective_metric=f"validation.{metric}", direction=direction(metric),
                      problem_type=problem_type, algorithms=algorithms)
    ctx.experiment = trial_ctx.experiment


def _check_script(ctx: SubmitContext[TuningSpec]) -> None:
    """A study over a script: the script kept as a blob, the space from ``ranges`` only,
    the objective the metric as the script logs it, and its direction (given, or known
    from a built-in metric's name)."""
    from shipyard.jobs.kinds._common import store_script
    from shipyard.tuning import LOWER_IS_BETTER, OBJECTIVES
    from shipyard.tuning._space import script_space

    spec = ctx.spec
    if spec.strategy == "hyperband":
        raise InvalidRequest("Strategy hyperband prunes the built-in boosting algorithms' "
                             "trials on their per-round loss; tune a script with bayesian, "
                             "random or grid.")
    if spec.target or spec.split or spec.recipe or spec.problem_type:
        raise InvalidRequest("target, split, recipe and problem_type are a built-in "
                             "algorithm's; a script reads its inputs as it likes.")
    try:  # each becomes a variable of the trial's process: no two may share one
        check_env_collisions([*spec.ranges, *spec.hyperparameters], "hyperparameters")
    except ValueError as exc:
        raise InvalidRequest(f"{exc}.") from None
    space = script_space(spec.ranges, spec.hyperparameters)
    if spec.strategy == "grid" and space.grid_size() > 100_000:
        raise InvalidRequest(f"The grid has {space.grid_size():,} points; give shorter "
                             "lists in 'ranges' (--range NAME=a,b,c on the CLI).")
    metric = str(spec.objective)
    last = metric.rsplit(".", 1)[-1]
    known = last in LOWER_IS_BETTER or any(last in m for m in OBJECTIVES.values())
    goal = spec.direction or (("minimize" if last in LOWER_IS_BETTER else "maximize")
                              if known else None)
    if goal is None:
        raise InvalidRequest(f"Is a higher {metric!r} better or worse? Give 'direction' "
                             "maximize or minimize for a script's own metric (--direction "
                             "on the CLI).")
    store_script(ctx)
    _check_warm_start(ctx, ["script"], metric, "script")
    ctx.stored.update(space=space.to_list(), fixed=dict(spec.hyperparameters),
                      objective=metric, objective_metric=metric, direction=goal,
                      problem_type="script", algorithms=["script"])


def _check_warm_start(ctx: SubmitContext[TuningSpec], algorithms: list[str], metric: str,
                      problem_type: str) -> None:
    """Each study to start from exists, is a tuning job, optimises the same metric of the
    same problem type and shares an algorithm with this one."""
    from shipyard.errors import NotFound

    for job_id in dict.fromkeys(ctx.spec.warm_start):
        if ctx.jobs is None:
            raise InvalidRequest("warm_start needs the job store.")
        try:
            earlier = ctx.jobs.get(job_id)
        except NotFound:
            raise InvalidRequest(f"warm_start {job_id}: there is no such job; `shipyard "
                                 "jobs list --kind tuning` lists tuning jobs.") from None
        if earlier.kind != "tuning":
            raise InvalidRequest(f"warm_start {job_id}: it is a {earlier.kind} job; warm "
                                 "start takes earlier tuning jobs.")
        theirs = earlier.spec.get("algorithms") or [earlier.spec.get("algorithm")]
        if earlier.spec.get("objective") != metric or \
                earlier.spec.get("problem_type") != problem_type:
            raise InvalidRequest(
                f"warm_start {job_id}: it optimised validation."
                f"{earlier.spec.get('objective')} of a {earlier.spec.get('problem_type')} "
                f"problem; this study optimises validation.{metric} of a {problem_type} "
                "problem, so its trials' scores cannot seed this one.")
        if not set(theirs) & set(algorithms):
            raise InvalidRequest(f"warm_start {job_id}: it tuned {', '.join(theirs)}; this "
                                 f"study tunes {', '.join(algorithms)}: no trial of it fits.")


def max_rounds(algorithm: str, declared: Any, space: Any, fixed: dict[str, Any],
                prefix: str) -> int:
    """Hyperband's resource: the most boosting rounds a trial of ``algorithm`` may fit
    (the searched high, the fixed value, or the default)."""
    rounds = ROUNDS.get(algorithm)
    if rounds is None:
        raise InvalidRequest(
            f"Strategy hyperband prunes trials on the validation loss they report each "
            f"boosting round, which only {', '.join(ROUNDS)} report; use bayesian, random "
            f"or grid for {algorithm!r}.")
    if rounds in fixed:
        return int(fixed[rounds])
    dim = next((d for d in space.dimensions if d.name == f"{prefix}{rounds}"), None)
    if dim is not None:
        return int(max(dim.choices) if dim.choices is not None else dim.high)
    return int(next(h.default for h in declared if h.name == rounds))


def drive(ctx: DriveContext) -> None:
    from shipyard.tuning import drive as drive_study

    drive_study(ctx)


def precheck(spec: TuningSpec) -> None:
    """Each algorithm of the study is a built-in one (a 400 naming the known ones)."""
    from shipyard.training import get_algorithm

    if spec.script is None:
        for algorithm in _algorithms(spec.algorithm or ""):
            get_algorithm(algorithm)


register(JobKind(
    name="tuning", spec=TuningSpec,
    summary="A hyperparameter study: training jobs as trials, the best scored on test.",
    # Never launched: a driven kind runs in the control plane's supervisor.
    entry="shipyard.tuning:main", check=check, precheck=precheck, driver=drive,
))
