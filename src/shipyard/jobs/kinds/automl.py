"""Kind ``automl``: a table and a target in, a ranked, deployable model out, in a budget.

A driven kind (docs/automl.md): it runs no process. Submit time refuses what cannot
work before anything starts (a target that is an identifier, a row number, constant or
missing in every row; an unknown metric or algorithm; a bad split) and pins the plan: the
problem type, the metric and its direction, the algorithms, the portfolio of first
candidates, the search space the sampler explores after them, the mode (``auto`` is
resolved here) and how many candidates run at a time. The supervisor then calls
:func:`shipyard.automl.drive` on every tick; candidates are ``training`` jobs and the
final model is an ``ensemble`` job's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.jobs._kinds import DriveContext, JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase
from shipyard.jobs.kinds import training

#: The most candidates one AutoML job may train, and the most at a time.
MAX_CANDIDATES = 1000
MAX_PARALLEL = 32
#: ``--mode auto`` ensembles up to this many training rows and keeps the single best
#: tuned pipeline above (an ensemble of many models costs memory and latency on big data).
ENSEMBLE_ROWS = 200_000
#: ``cv_folds`` (opt-in) cross-validates the candidates when the train and validation rows
#: are at most this many: a validation split of a fifth of the rows is then a few hundred to
#: a few thousand rows, noisy to select an ensemble on (ames, 2,197 rows: a linear member
#: that looked fine on 488 validation rows lost on test); above it the split is big enough
#: and K fits per candidate would cost most of the search, so the job keeps one split.
CV_ROWS = 20_000
#: The shortest budget worth running (a few candidates and the final model).
MIN_BUDGET = 10.0
#: ``sample_rows`` is opt-in: candidates train on a sample of the training rows (the
#: split's ``train_rows``) and the final model's members are refit on all of them; the
#: validation rows stay whole, so every candidate is scored on the same rows. Not on by
#: default: on flights (327,346 rows, 60 s) a 50,000-row sample trained 9 candidates and
#: scored 10.66 test RMSE, all rows 7 candidates and 9.69 (docs/automl.md).
#: The metric optimised when none is given, by problem type.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
#: Hyperparameters that weigh classes: a regression fit ignores them, so its search leaves
#: them out rather than model a dimension that changes nothing.
CLASSIFICATION_ONLY = frozenset({"class_weight"})
#: A column name in ``drop`` or ``keep``.
COLUMN = Annotated[str, Field(min_length=1, max_length=256)]


class AutoMLSpec(JobSpecBase):
    """An AutoML job over ``inputs.train`` (and optionally ``test``), predicting ``target``."""

    kind: Literal["automl"]
    target: str = Field(max_length=256)
    problem_type: Literal["binary", "multiclass", "regression"] | None = None
    #: The validation metric to optimise (``roc_auc``, ``accuracy``, ``rmse``, ...); the
    #: problem type's usual one by default.
    metric: str | None = Field(default=None, max_length=64)
    #: Seconds from submit to the final model, everything included.
    time_budget: float = Field(default=300.0, ge=MIN_BUDGET, le=7 * 86400)
    mode: Literal["auto", "ensembling", "hpo"] = "auto"
    max_candidates: int = Field(default=200, ge=1, le=MAX_CANDIDATES)
    #: Candidates training at a time (default: the CPUs Shipyard may use / each one's).
    parallel: int | None = Field(default=None, ge=1, le=MAX_PARALLEL)
    #: The built-in algorithms to use (default: every suitable one of
    #: shipyard.automl.DEFAULT_ALGORITHMS).
    algorithms: list[str] | None = Field(default=None, max_length=16)
    split: dict[str, Any] | None = None
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    #: Cross-validate each candidate in this many folds and select on out-of-fold
    #: predictions (docs/automl.md): steadier selection on small tables, at K fits per
    #: candidate, so fewer candidates in a budget. Off by default.
    cv_folds: int | None = Field(default=None, ge=2, le=20)
    #: Candidates train on at most this many training rows, sampled (seeded), and the
    #: final model is refit on all of them. None or 0 (the default): every row.
    sample_rows: int | None = Field(default=None, ge=0, le=10**9)
    #: Successive halving on rounds: the search's boosting candidates are judged on their
    #: live validation loss at Hyperband's rungs and the poor ones are stopped early
    #: (docs/automl.md). On by default.
    prune: bool = True
    #: Columns every candidate leaves out (on top of what the default recipe drops).
    drop: list[COLUMN] | None = Field(default=None, max_length=10_000)
    #: Suspected leaks to keep: columns the profile marks as leaks of the target that the
    #: user knows are available at prediction time (otherwise every candidate leaves
    #: them out; docs/automl.md, "Leaks").
    keep: list[COLUMN] | None = Field(default=None, max_length=10_000)

    @field_validator("time_budget", mode="before")
    @classmethod
    def _long_enough(cls, value: Any) -> Any:
        # Before the bound's own check, which says neither the unit nor what would work.
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and value < MIN_BUDGET:
            raise ValueError(f"{value:g} s is too short for an AutoML job, which needs at "
                             f"least {MIN_BUDGET:g} s to train a few candidates and the final "
                             "model; give 60 s or more for a search worth running")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AutoMLSpec:
        if self.outputs:
            raise ValueError("an AutoML job's candidates write models, not datasets; drop "
                             "'outputs'")
        if self.hyperparameters:
            raise ValueError("an AutoML job chooses the hyperparameters; drop "
                             "'hyperparameters' (or tune them yourself with a tuning job)")
        training.check_channels(self.inputs, "an AutoML job")
        return self


def _check_target(ctx: SubmitContext[AutoMLSpec], version: Any, name: str) -> None:
    """The target is a column with values to learn: not an identifier or row number, not
    missing in every row (constant targets are refused by the training check)."""
    from shipyard.names import names_hint

    target = ctx.spec.target
    column = next((col for col in version.schema if col.get("name") == target), None)
    if column is None:
        columns = [str(col["name"]) for col in version.schema]
        raise InvalidRequest(f"The target column {target!r} is not in {name}; "
                             f"{names_hint(target, columns, 'column')}. Fix 'target' "
                             "(--target on the CLI).")
    if version.num_rows and column.get("missing") == version.num_rows:
        raise InvalidRequest(f"The target column {target!r} of {name} is missing in every "
                             "row, so there is nothing to learn; pick a column with values.")
    training.check_target_semantics(target, version.schema, name)


def check(ctx: SubmitContext[AutoMLSpec]) -> None:
    """Refuse an AutoML job that cannot work (400, nothing started) and pin its plan."""
    import time

    from shipyard.automl._portfolio import (
        BOOSTING,
        DEFAULT_ALGORITHMS,
        EARLY_STOPPING,
        portfolio,
        recipe_variants,
        skewed_target,
    )
    from shipyard.features._semantic import is_numeric_dtype
    from shipyard.jobs._spec import local_capacity
    from shipyard.jobs.kinds._common import target_zeros
    from shipyard.jobs.kinds.tuning import max_rounds
    from shipyard.training import (
        check_objective,
        get_algorithm,
        infer_problem_type,
        validate_hyperparameters,
    )
    from shipyard.tuning import OBJECTIVES, direction, study_space

    # The budget counts from here, the request's arrival, not from the record's creation:
    # the checks below read the profile (3-7 s for ames on a busy machine), and a user's
    # clock started when they submitted.
    ctx.stored["submitted_at"] = time.time()
    spec = ctx.spec
    train = ctx.stored["inputs"]["train"]
    name = f"{train['dataset']}:{train['version']}"
    version = ctx.datasets.version(train["dataset"], train["version"])
    _check_target(ctx, version, name)
    _check_columns(spec, version, name)
    problem_type: str | None = spec.problem_type
    head = None
    numbers_as_classes = False
    if problem_type is None:
        head = ctx.datasets.head(train["dataset"], train["version"], n=10_000).to_pandas()
        problem_type = infer_problem_type(head[spec.target])
        # Whole numbers with few values read as classes (a count, a rating): the CLI says
        # "inferred" at submit; the SDK warns on this ambiguous reading alone.
        numbers_as_classes = problem_type == "multiclass" and is_numeric_dtype(
            head[spec.target])
    assert problem_type is not None
    log_target = False
    if problem_type == "regression":
        if head is None:
            head = ctx.datasets.head(train["dataset"], train["version"], n=10_000).to_pandas()
        log_target = skewed_target(head[spec.target])
    metric = str(spec.metric or DEFAULT_METRIC[problem_type]).removeprefix("validation.")
    if metric not in OBJECTIVES[problem_type]:
        raise InvalidRequest(f"Metric {spec.metric!r} is not a validation metric of a "
                             f"{problem_type} problem; use one of: "
                             f"{', '.join(OBJECTIVES[problem_type])}.")
    if head is not None:
        check_objective(metric, head[spec.target], spec.target, lambda: target_zeros(
            ctx.datasets, train["dataset"], train["version"], spec.target))
    if spec.algorithms is not None and not spec.algorithms:
        raise InvalidRequest("algorithms is an empty list; leave it out to search every "
                             "suitable built-in algorithm, or name at least one (shipyard "
                             "algorithms list).")
    named = list(dict.fromkeys(spec.algorithms or []))
    algorithms = named or [a for a in DEFAULT_ALGORITHMS if _usable(a, problem_type)]
    declared = {}
    for algorithm in algorithms:
        info = get_algorithm(algorithm).info  # unknown: a 400 naming the known ones
        if problem_type not in info.problem_types:
            raise InvalidRequest(f"Algorithm {algorithm!r} does not solve {problem_type} "
                                 f"problems; it solves {sorted(info.problem_types)}.")
        declared[algorithm] = tuple(h for h in info.hyperparameters
                                    if problem_type != "regression"
                                    or h.name not in CLASSIFICATION_ONLY)
    if not algorithms:
        raise InvalidRequest(f"No installed algorithm solves {problem_type} problems; "
                             "install shipyard[ml].")
    # Every check a candidate's submit makes (data, target, split), once.
    trial = training.TrainingSpec.model_validate({
        "kind": "training", "algorithm": algorithms[0], "target": spec.target,
        "problem_type": problem_type, "split": spec.split, "inputs": spec.inputs,
        "recipe": {"extends": "default", "drop": list(spec.drop)} if spec.drop else None})
    trial_ctx: SubmitContext[Any] = SubmitContext(
        spec=trial, stored=dict(ctx.stored), datasets=ctx.datasets, models=ctx.models,
        artifacts=ctx.artifacts, catalog=ctx.catalog, actor=ctx.actor,
        settings=ctx.settings, experiment=ctx.experiment)
    training.check(trial_ctx)
    several = len(algorithms) > 1
    fixed = {(f"{a}.early_stopping_rounds" if several else "early_stopping_rounds"):
             EARLY_STOPPING for a in algorithms if a in BOOSTING}
    space, _ = study_space(algorithms, declared, {}, {})
    boosting = [a for a in algorithms if a in BOOSTING]
    if spec.prune and boosting:  # Hyperband's resource: the most rounds the search fits
        ctx.stored["max_rounds"] = max(max_rounds(a, declared[a], space, {},
                                                  f"{a}." if several else "")
                                       for a in boosting)
    else:
        ctx.stored["prune"] = False  # nothing it could judge
    dropped, analysis = _leaks(ctx, train, version, name, problem_type)
    variants = recipe_variants(version.schema, spec.target, dropped, log_target=log_target,
                               rows=version.num_rows)
    plan = portfolio(algorithms, variants)
    for entry in plan:
        try:
            validate_hyperparameters(entry["algorithm"], entry["hyperparameters"])
        except InvalidRequest as exc:  # the portfolio is ours: a bug, not the user's
            raise ShipyardError(f"AutoML portfolio entry {entry}: {exc.message}") from None
    mode = spec.mode
    if mode == "auto":
        mode = "ensembling" if version.num_rows <= ENSEMBLE_ROWS else "hpo"
    parallel = spec.parallel or max(1, local_capacity().cpus // spec.resources.cpus)
    _check_test_rows(ctx)
    rows = _development_rows(ctx, version.num_rows)
    cv_folds = spec.cv_folds
    if cv_folds and (spec.split or {}).get("time_column"):
        raise InvalidRequest("cv_folds: a split by time keeps its order (train before "
                             "validation before test); cross-validation would shuffle it. "
                             "Leave cv_folds out, or split at random.")
    if cv_folds and rows > CV_ROWS:
        cv_folds = None  # a split this size is steady: outputs.automl.cv_folds says None
    split = _search_split(spec, cv_folds)
    ctx.stored.update(cv_folds=cv_folds, development_rows=rows, split=split,
        sample_rows=(split or {}).get("train_rows"),
        problem_type=problem_type, objective=metric, objective_metric=f"validation.{metric}",
        direction=direction(metric), algorithms=algorithms, space=space.to_list(),
        fixed=fixed, portfolio=plan, variants=variants, resolved_mode=mode, parallel=parallel,
        strategy="bayesian", rows=version.num_rows, dropped=dropped, analysis=analysis,
        target_missing=_target_missing(version, spec.target),
        numbers_as_classes=numbers_as_classes)
    ctx.experiment = trial_ctx.experiment


def _target_missing(version: Any, target: str) -> int:
    """Rows of the train version with no target: every candidate leaves them out (as
    training does), so the job says how many."""
    column = next(col for col in version.schema if col.get("name") == target)
    return int(column.get("missing") or 0)


def _check_columns(spec: AutoMLSpec, version: Any, name: str) -> None:
    """``drop`` and ``keep`` name columns of the train version, never the target."""
    from shipyard.names import names_hint

    columns = [str(col["name"]) for col in version.schema]
    for field, given in (("drop", spec.drop or []), ("keep", spec.keep or [])):
        for column in given:
            if column == spec.target:
                raise InvalidRequest(f"{field!r} names the target column {column!r}; list "
                                     f"only feature columns there (--{field} on the CLI).")
            if column not in columns:
                raise InvalidRequest(f"{field!r} names {column!r}, which is not a column of "
                                     f"{name}; {names_hint(column, columns, 'column')} "
                                     f"(--{field} on the CLI).")
    both = sorted(set(spec.drop or []) & set(spec.keep or []))
    if both:
        raise InvalidRequest(f"Column {both[0]!r} is in both 'drop' and 'keep' (--drop and "
                             "--keep on the CLI); pick one.")
    features = _features(version) - {spec.target} - set(spec.drop or [])
    if not features:
        raise InvalidRequest(f"'drop' leaves no column of {name} but the target to learn "
                             f"from{_unlearnable(version)}; drop fewer columns (--drop on "
                             "the CLI).")


def _features(version: Any) -> set[str]:
    """The train version's columns a model can learn from: the default recipe leaves out
    identifiers and row numbers (training.NOT_TARGETS), so they count as no feature."""
    return {str(col["name"]) for col in version.schema
            if col.get("semantic_type") not in training.NOT_TARGETS}


def _unlearnable(version: Any) -> str:
    """', as 'rownames' is a row number every candidate leaves out', or ''."""
    named = [f"{col['name']!r} is {training.NOT_TARGETS[str(col.get('semantic_type'))]}"
             for col in version.schema if col.get("semantic_type") in training.NOT_TARGETS]
    return f" ({'; '.join(named)}, which every candidate leaves out)" if named else ""


def _leaks(ctx: SubmitContext[AutoMLSpec], train: dict[str, Any], version: Any, name: str,
           problem_type: str) -> tuple[list[str], dict[str, Any]]:
    """The columns every candidate leaves out (the user's ``drop``, then the profile's
    suspected leaks not in ``keep``: shipyard.automl._analysis), and the analysis the
    job reports."""
    from shipyard.automl._analysis import PROFILE_PROBLEM, plan_drops, suspected_leaks
    from shipyard.profiling import VersionProfiles
    from shipyard.settings import Settings

    spec = ctx.spec
    settings = ctx.settings or Settings.from_env()
    try:
        snapshot = VersionProfiles(ctx.datasets, ctx.artifacts, settings.tmp_dir).snapshot(
            train["dataset"], train["version"], spec.target, PROFILE_PROBLEM[problem_type])
    except InvalidRequest as exc:  # a target the profile cannot analyse: no leak check
        dropped, analysis = plan_drops([], spec.drop or [], [])
        analysis["skipped"] = exc.message
        return dropped, _not_leaks(analysis, spec.keep)
    dropped, analysis = plan_drops(suspected_leaks(snapshot), spec.drop or [],
                                   spec.keep or [])
    _not_leaks(analysis, spec.keep)
    columns = _features(version) - {spec.target}
    if not columns - set(dropped):
        raise InvalidRequest(
            f"Every column of {name} but the target is dropped or a suspected leak of it "
            f"({', '.join(dropped)}){_unlearnable(version)}; keep the ones known at "
            "prediction time with 'keep' (--keep on the CLI).")
    return dropped, analysis


def _not_leaks(analysis: dict[str, Any], keep: list[str] | None) -> dict[str, Any]:
    """Record the ``keep`` columns no leak check suspected (``not_leaks``): keeping them
    changes nothing, and a user who named one should hear so."""
    suspected = {str(x.get("column")) for x in analysis.get("leaks") or []}
    given = [c for c in dict.fromkeys(keep or []) if c not in suspected]
    if given:
        analysis["not_leaks"] = given
    return analysis


def _search_split(spec: AutoMLSpec, cv_folds: int | None) -> dict[str, Any] | None:
    """The split the candidates train on: the job's, with ``train_rows`` when they search
    on a sample of the training rows (``sample_rows``)."""
    from shipyard.evaluation._splits import MIN_TRAIN_ROWS

    split = dict(spec.split) if spec.split else None
    sample = spec.sample_rows
    if not sample:
        return split
    if sample < MIN_TRAIN_ROWS:
        raise InvalidRequest(f"sample_rows={sample} is too few training rows to learn from; "
                             f"give at least {MIN_TRAIN_ROWS}, or 0 to train on every row.")
    if cv_folds:
        raise InvalidRequest(f"sample_rows={sample} with cv_folds={cv_folds}: "
                             "cross-validation scores every train and validation row out of "
                             "fold, so its candidates cannot train on a sample. Drop one.")
    return {**(split or {}), "train_rows": sample}


def _check_test_rows(ctx: SubmitContext[AutoMLSpec]) -> None:
    """The final model is scored once on test rows and explained on them: without a test
    input, the split must hold some out."""
    from shipyard.evaluation import SplitSpec

    if "test" in ctx.stored["inputs"]:
        return
    fractions = SplitSpec.from_dict(dict(ctx.spec.split or {})).fractions
    if fractions[2] <= 0:
        shown = ",".join(f"{f:g}" for f in fractions)
        raise InvalidRequest(
            f"The split {shown} holds no rows out for test, and an AutoML job scores and "
            "explains its final model on test rows; give the test a share of 'split' (--split "
            "0.7,0.2,0.1 on the CLI) or the test rows as inputs.test (--input test=DATASET "
            "on the CLI).")


def _development_rows(ctx: SubmitContext[AutoMLSpec], train_rows: int) -> int:
    """About how many train and validation rows the candidates get: the train input's
    rows less the test share its split holds out (none when a test input is given),
    plus a validation input's."""
    from shipyard.evaluation import SplitSpec

    inputs = ctx.stored["inputs"]
    tr, va, te = SplitSpec.from_dict(dict(ctx.spec.split or {})).fractions
    if "test" in inputs:
        held_out = 0.0
    elif "validation" in inputs:
        held_out = te / (tr + te)
    else:
        held_out = te
    rows = round(train_rows * (1 - held_out))
    if "validation" in inputs:
        ref = inputs["validation"]
        rows += ctx.datasets.version(ref["dataset"], ref["version"]).num_rows
    return rows


def _usable(algorithm: str, problem_type: str) -> bool:
    """An algorithm of the default set that is installed and solves the problem."""
    from shipyard.training import get_algorithm

    try:
        return problem_type in get_algorithm(algorithm).info.problem_types
    except (InvalidRequest, ShipyardError, ImportError):
        return False


def drive(ctx: DriveContext) -> None:
    from shipyard.automl._driver import drive as drive_automl

    drive_automl(ctx)


def precheck(spec: AutoMLSpec) -> None:
    """Each algorithm named is a built-in one (a 400 naming the known ones)."""
    from shipyard.training import get_algorithm

    for algorithm in spec.algorithms or []:
        get_algorithm(algorithm)


register(JobKind(
    name="automl", spec=AutoMLSpec,
    summary="AutoML: candidate pipelines in a time budget, ranked; the best (or an "
            "ensemble) scored on test.",
    # Never launched: a driven kind runs in the control plane's supervisor.
    entry="shipyard.automl:main", check=check, precheck=precheck, driver=drive,
))
