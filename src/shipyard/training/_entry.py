"""The in-job training flow: data in, a verified model bundle out.

:func:`run_training` is the whole flow on DataFrames (callable from tests and
notebooks, no server); :func:`main` reads a job's working folder per the runtime
contract and calls it. The steps: validate the request, split, fit the recipe on
the training split only, train, evaluate validation and test through the same
adapter serving uses, log metrics and curves, write the bundle.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import shipyard
from shipyard.bundle import InferencePipeline, get_framework, output_schema, write_bundle
from shipyard.errors import InvalidRequest
from shipyard.evaluation import (
    EvaluationReport,
    SplitSpec,
    sample_train,
    scalar_metrics,
    split_frame,
)
from shipyard.features import (
    FittedRecipe,
    UserRecipe,
    check_target,
    forward_target,
    inverse_outputs,
)
from shipyard.humanize import number
from shipyard.training._algorithms import (
    FitData,
    FitResult,
    get_algorithm,
    num_cpus,
    task_of,
    validate_hyperparameters,
)
from shipyard.training._crossval import CrossValidation
from shipyard.training._image_files import IMAGES_DIR, decode_channels
from shipyard.training._metrics import evaluate_split, supervised_metrics
from shipyard.training._prepared import META_FILE, PreparedData, PreparedDataError
from shipyard.training._problem import check_training_data, infer_problem_type, known_target
from shipyard.training._progress import CURVE_SECONDS, PROGRESS_SECONDS
from shipyard.training._recipes import dropped_columns, fit_recipe
from shipyard.training._sanity import (
    BUNDLE_SIZE_WARNING,
    chance_warnings,
    leak_warnings,
    size_warning,
    small_split_warnings,
)

TRAINING_CONFIG = "input/config/training.json"
RECIPE_FILE = "recipe.json"
EVALUATION_DIR = "evaluation"
EVAL_SPLITS = ("validation", "test")
#: Where a trial finds the data an earlier trial prepared, and where it keeps its own.
PREPARED_INPUT = "input/prepared"
PREPARED_OUTPUT = "output/prepared"


def _no_phase(name: str, seconds: float) -> None:
    return None


class _Phases:
    """A stopwatch over the phases of a fit: :meth:`start` ends the one running."""

    def __init__(self, record: Callable[[str, float], None]) -> None:
        self.record = record
        self.name: str | None = None
        self.at = 0.0

    def start(self, name: str | None) -> None:
        now = time.perf_counter()
        if self.name is not None:
            self.record(self.name, now - self.at)
        self.name, self.at = name, now


def _no_metric(name: str, value: float, step: int | None = None) -> None:
    """Metrics go nowhere outside a job unless a sink is given."""


@dataclass(frozen=True)
class TrainingContext:
    """One training request, as the in-job entry (or a test) hands it to :func:`run_training`."""

    train: pd.DataFrame
    algorithm: str
    target: str | None
    model_dir: Path
    validation: pd.DataFrame | None = None
    test: pd.DataFrame | None = None
    problem_type: str | None = None
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    split: Mapping[str, Any] | None = None
    recipe: Mapping[str, Any] | None = None
    seed: int = 42
    lineage: Mapping[str, Any] = field(default_factory=dict)
    #: Column → semantic type in the train input's dataset version schema (judged on all of
    #: its rows): the default recipe drops its row numbers and identifiers whatever the split.
    semantic_types: Mapping[str, str] | None = None
    n_jobs: int | None = None
    log: Callable[[str], None] = print
    log_metric: Callable[..., None] = _no_metric
    #: Render the evaluation plots into the bundle (tests that only need metrics skip them).
    plots: bool = True
    #: A bundle over this many bytes is called out (log, manifest, model card).
    bundle_size_warning: int = BUNDLE_SIZE_WARNING
    #: Seconds between progress lines of a fit, at most.
    progress_interval: float = PROGRESS_SECONDS
    #: Seconds between two flushes of a fit's live per-round metrics (``curve.*``).
    curve_interval: float = CURVE_SECONDS
    #: Workers that train together (``--instances``; XGBoost and LightGBM on Ray).
    instances: int = 1
    #: Where the seconds of each phase (prepare, fit, evaluate, write) go: the job's
    #: profile (:func:`shipyard.runtime.record_phase`); nowhere by default.
    record_phase: Callable[[str, float], None] = _no_phase
    #: Facts about the fit the debugger's rules read (``data.imbalance_ratio``,
    #: ``importance.<feature>``): :func:`shipyard.runtime.system_metric`.
    record_fact: Callable[[str, float], None] = _no_phase
    #: Score the test split. A tuning trial does not: its test rows stay unseen until the
    #: study's best settings are scored on them once (docs/tuning.md).
    score_test: bool = True
    #: The data as an earlier trial of the same study prepared it: the frames above are
    #: not read, and nothing is split or fitted again (shipyard.training._prepared).
    prepared: PreparedData | None = None
    #: Keep what this run prepares in this folder, for the study's later trials.
    save_prepared: Path | None = None
    #: The job's ``checkpoints/``: boosting saves checkpoints there and continues from the
    #: last one (None: no checkpoints; see shipyard.training._checkpoints).
    checkpoint_dir: Path | None = None
    #: Rounds between two checkpoints (None: a tenth of the rounds).
    checkpoint_every: int | None = None
    #: Seconds between two checkpoints, at least (see FitData.checkpoint_seconds).
    checkpoint_seconds: float = 2.0
    #: Keep the model's outputs on the validation split in this folder
    #: (``validation.npy``: class probabilities or values, through the serving adapter;
    #: ``validation_target.npy``: the encoded targets), for ensemble selection over
    #: candidates that share the split (shipyard.automl.select). None: not kept.
    save_predictions: Path | None = None
    #: Cross-validate over the train and validation rows in this many folds (None: no):
    #: the validation metrics (and kept predictions) are out-of-fold, and the bundle is
    #: the first fold's model (shipyard.training._crossval). Prepared data is not used.
    cv_folds: int | None = None


@dataclass(frozen=True)
class TrainingResult:
    """What a training produced: the bundle's manifest, its folder and the notes logged."""

    manifest: dict[str, Any]
    model_dir: Path
    notes: list[str]
    fit_seconds: float
    #: The trained model in memory, as the bundle will load it (recipe → model → labels).
    pipeline: InferencePipeline

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        return self.manifest["metrics"]


@dataclass
class _Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    record: dict[str, Any]


def _split(ctx: TrainingContext, target: str | None, problem_type: str,
           sample: bool = True) -> _Splits:
    """The train, validation and test rows, and the record of how they were cut; the
    training rows sampled down to the split's ``train_rows`` when ``sample``."""
    split = dict(ctx.split or {})
    split.setdefault("seed", ctx.seed)
    spec = SplitSpec.from_dict(split)
    keep = spec.train_rows if sample else None
    if ctx.validation is not None and ctx.test is not None:
        train = sample_train(ctx.train, keep, spec.seed)
        record: dict[str, Any] = {"method": "given", "row_counts": {
            "train": len(train), "validation": len(ctx.validation), "test": len(ctx.test)}}
        if len(train) < len(ctx.train):
            record["sampled_from"] = len(ctx.train)
        return _Splits(train, ctx.validation, ctx.test, record)
    tr, va, te = spec.fractions
    # A split given as its own input is not cut from 'train': its share goes to the others.
    if ctx.validation is not None:
        spec = replace(spec, fractions=(tr / (tr + te), 0.0, te / (tr + te)))
    elif ctx.test is not None:
        spec = replace(spec, fractions=(tr / (tr + va), va / (tr + va), 0.0))
    df = ctx.train.reset_index(drop=True)
    cut = split_frame(df, spec, target=target, problem_type=problem_type)
    train, validation, test = cut.frames(df)
    validation = ctx.validation if ctx.validation is not None else validation
    test = ctx.test if ctx.test is not None else test
    before = len(train)
    train = sample_train(train, keep, spec.seed)
    record = dict(cut.record)
    if len(train) < before:
        record["sampled_from"] = before
    record["given"] = [n for n, f in (("validation", ctx.validation), ("test", ctx.test))
                       if f is not None]
    record["row_counts"] = {"train": len(train), "validation": len(validation),
                            "test": len(test)}
    return _Splits(train, validation, test, record)


def rebuild_split(train: pd.DataFrame, validation: pd.DataFrame | None,
                  test: pd.DataFrame | None, target: str, problem_type: str,
                  split: Mapping[str, Any] | None,
                  seed: int = 42, *,
                  sample: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The train, validation and test rows a training job of these inputs and split used
    (a given ``validation`` or ``test`` input as it is), rows of a missing target left out
    as training leaves them: what an ``ensemble`` job refits its members on and scores
    their combination on. ``sample=False``: every training row, not the split's
    ``train_rows`` sample (a refit on the whole; the other rows are the same either way)."""
    frames = {k: f for k, f in (("train", train), ("validation", validation), ("test", test))
              if f is not None}
    kept = {k: f[known_target(f[target])].reset_index(drop=True) for k, f in frames.items()}
    ctx = TrainingContext(train=kept["train"], validation=kept.get("validation"),
                          test=kept.get("test"), algorithm="", target=target,
                          model_dir=Path("."), split=split, seed=seed)
    parts = _split(ctx, target, problem_type, sample)
    return parts.train, parts.validation, parts.test


def encode_target(y: pd.Series, problem_type: str, classes: list[str] | None) -> np.ndarray:
    """A target column as the model's metrics read it (class indices, or values)."""
    return _encode(y, problem_type, classes)


def _classes(frames: list[pd.DataFrame], target: str) -> list[str]:
    values = pd.concat([f[target] for f in frames]).dropna()
    distinct = pd.unique(values)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return [str(v) for v in sorted(distinct)]
    return sorted(str(v) for v in distinct)


def _encode(y: pd.Series, problem_type: str, classes: list[str] | None) -> np.ndarray:
    if problem_type == "regression":
        return y.to_numpy(dtype="float64")
    index = {c: i for i, c in enumerate(classes or [])}
    return np.array([index[str(v)] for v in y], dtype="int64")


def _fitted_recipe(ctx: TrainingContext, train: pd.DataFrame, target: str | None,
                   notes: list[str], text_column: str | None = None,
                   ) -> tuple[FittedRecipe, pd.DataFrame]:
    """The recipe fitted on the training split only, and those rows as the model trains on
    them (out-of-fold target encoding; resampled by a ``balance`` step, target included)."""
    return fit_recipe(ctx.recipe, ctx.algorithm, train, target, notes,
                      declared=ctx.semantic_types, text_column=text_column,
                      hyperparameters=ctx.hyperparameters)


def _log_curves(ctx: TrainingContext, curves: Mapping[str, list[float | None]],
                logged: Mapping[str, int]) -> None:
    """The fit's per-round metrics as ``curve.*`` points, but for the first ``logged[name]``
    steps of each, which the fit logged live."""
    for key, values in curves.items():
        for step in range(logged.get(f"curve.{key}", 0), len(values)):
            value = values[step]
            if value is not None and np.isfinite(value):
                ctx.log_metric(f"curve.{key}", float(value), step)


@dataclass(frozen=True)
class _Problem:
    """The request once checked: the frames to use, the target, problem type and classes."""

    ctx: TrainingContext
    target: str | None
    problem_type: str
    classes: list[str] | None
    hyperparameters: dict[str, Any]
    notes: list[str]


def _frames(ctx: TrainingContext) -> dict[str, pd.DataFrame]:
    given = {"train": ctx.train, "validation": ctx.validation, "test": ctx.test}
    return {k: f for k, f in given.items() if f is not None}


def _prepare(ctx: TrainingContext) -> _Problem:
    info = get_algorithm(ctx.algorithm).info
    hp = validate_hyperparameters(ctx.algorithm, ctx.hyperparameters)
    notes = check_training_data(ctx.train, ctx.target, ctx.algorithm, ctx.problem_type)
    if not info.supervised:
        # The target column of an unsupervised request is not one of its features.
        frames = {k: f.drop(columns=[ctx.target], errors="ignore") if ctx.target else f
                  for k, f in _frames(ctx).items()}
        return _Problem(replace(ctx, **frames), None, next(iter(info.problem_types)), None,
                        hp, notes)
    target = str(ctx.target)  # check_training_data refused a request without one
    for name, frame in _frames(ctx).items():
        if target not in frame.columns:
            raise InvalidRequest(f"The {name} input has no target column {target!r}; every "
                                 "input of a training job needs it.")
    if info.text:
        from shipyard.training._text_column import TEXT_COLUMN, resolve_text_column

        hp[TEXT_COLUMN] = resolve_text_column(ctx.train.drop(columns=[target]), hp)
    problem_type = ctx.problem_type or infer_problem_type(ctx.train[target])
    classes = None if problem_type == "regression" else _classes(
        list(_frames(ctx).values()), target)
    frames = {k: f[known_target(f[target])].reset_index(drop=True)
              for k, f in _frames(ctx).items()}
    return _Problem(replace(ctx, **frames), target, problem_type, classes, hp, notes)


def _evaluate(problem: _Problem, pipeline: InferencePipeline, model: Any,
              X: dict[str, pd.DataFrame], y: dict[str, np.ndarray | None],
              ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    ctx = problem.ctx
    metrics: dict[str, dict[str, Any]] = {}
    baseline: dict[str, dict[str, Any]] = {}
    for split in EVAL_SPLITS:
        if len(X[split]) == 0 or (split == "test" and not ctx.score_test):
            continue
        metrics[split], base = evaluate_split(problem.problem_type, pipeline, model, X[split],
                                              y[split], y["train"], problem.classes)
        if base is not None:
            baseline[split] = base
        scalars = scalar_metrics(metrics[split])
        for name, value in scalars.items():
            ctx.log_metric(f"{split}.{name}", value)
        ctx.log(f"[training] {split}: " + ", ".join(f"{k} {number(v)}" for k, v in scalars.items()))
    return metrics, baseline


def _prepare_data(ctx: TrainingContext) -> tuple[_Problem, PreparedData]:
    """Validate, split, fit the recipe on the training split, and make the features."""
    problem = _prepare(ctx)
    ctx, target, problem_type, notes = problem.ctx, problem.target, problem.problem_type, \
        problem.notes
    for note in notes:
        ctx.log(f"[training] {note}")
    parts = _split(ctx, target, problem_type)
    fitted, fit_rows = _fitted_recipe(ctx, parts.train, target, notes,
                                      problem.hyperparameters.get("text_column"))
    named = {"train": parts.train, "validation": parts.validation, "test": parts.test}
    # The train split's features as such are never scored (the model's are "fit"); its
    # targets are the baseline's.
    X = {name: fitted.transform(named[name]) for name in EVAL_SPLITS}
    y = {name: _encode(frame[target], problem_type, problem.classes) if target else None
         for name, frame in named.items()}
    # The model trains on the rows as the recipe's fit left them (a 'balance' step
    # resampled them); validation, test and the train-split baseline use the rows as they are.
    X["fit"] = fit_rows[fitted.feature_names]
    y["fit"] = _encode(fit_rows[target], problem_type, problem.classes) if target else None
    if target and y["fit"] is not None:
        check_target(fitted.target_transform, y["fit"], problem_type, target)
    data = PreparedData(target=target, problem_type=problem_type, classes=problem.classes,
                        notes=list(notes), record=parts.record, fitted=fitted, X=X, y=y)
    _rows_line(ctx, data)
    for note in notes:
        if note.startswith("recipe:"):
            ctx.log(f"[training] {note}")
    return problem, data


def _rows_line(ctx: TrainingContext, data: PreparedData) -> None:
    rows = data.record["row_counts"]
    ctx.log(f"[training] {ctx.algorithm} ({data.problem_type}); rows: train {rows['train']}, "
            f"validation {rows['validation']}, test {rows['test']}")


def _save_prepared(ctx: TrainingContext, data: PreparedData, folder: Path) -> None:
    """Keep the prepared data for the study's later trials; a failure only costs them time."""
    import shutil

    try:
        data.save(folder)
    except Exception as exc:  # noqa: BLE001 - the trial itself goes on
        shutil.rmtree(folder, ignore_errors=True)
        ctx.log(f"[training] the prepared data could not be kept for later trials "
                f"({type(exc).__name__}: {exc}); they prepare it again")


def _prepared(ctx: TrainingContext) -> tuple[_Problem, PreparedData]:
    """The data as an earlier trial prepared it, or prepared now (and kept if asked)."""
    if ctx.prepared is None:
        problem, data = _prepare_data(ctx)
        if ctx.save_prepared is not None:
            _save_prepared(ctx, data, ctx.save_prepared)
        return problem, data
    data = ctx.prepared
    for note in data.notes:
        ctx.log(f"[training] {note}")
    _rows_line(ctx, data)
    return _Problem(ctx, data.target, data.problem_type, data.classes,
                    validate_hyperparameters(ctx.algorithm, ctx.hyperparameters),
                    list(data.notes)), data


def _fit_data(ctx: TrainingContext, problem: _Problem, X_fit: pd.DataFrame,
              y_fit: np.ndarray | None, X_valid: pd.DataFrame | None,
              y_valid: np.ndarray | None, *, live: bool = True,
              checkpoints: bool = True) -> FitData:
    """One fit's context; ``live`` False: its progress and curves are not logged (the
    folds of a cross-validation after the first)."""
    return FitData(
        X_train=X_fit, y_train=y_fit, X_valid=X_valid, y_valid=y_valid,
        problem_type=problem.problem_type, hyperparameters=problem.hyperparameters,
        n_classes=len(problem.classes or []), seed=ctx.seed,
        n_jobs=ctx.n_jobs or num_cpus(), log=ctx.log if live else _no_log,
        log_metric=ctx.log_metric if live else _no_metric,
        progress_interval=ctx.progress_interval, curve_interval=ctx.curve_interval,
        instances=ctx.instances, checkpoint_dir=ctx.checkpoint_dir if checkpoints else None,
        checkpoint_every=ctx.checkpoint_every, checkpoint_seconds=ctx.checkpoint_seconds)


def _no_log(line: str) -> None:
    return None


def _cross_validate(ctx: TrainingContext, phases: _Phases
                    ) -> tuple[_Problem, PreparedData, CrossValidation, dict[str, int]]:
    """Split, then fit ``cv_folds`` models over the train and validation rows (see
    shipyard.training._crossval); the data is the first fold's, as its bundle keeps it.
    Also returns the ``curve.*`` steps the first fold logged live."""
    from shipyard.training._crossval import MAX_FOLDS, MIN_FOLDS, cross_validate

    folds = ctx.cv_folds or 0
    if not MIN_FOLDS <= folds <= MAX_FOLDS:
        raise InvalidRequest(f"cv_folds must be between {MIN_FOLDS} and {MAX_FOLDS}; got "
                             f"{folds}. Use e.g. 5, or leave it out for one validation split.")
    if ctx.instances > 1:
        raise InvalidRequest("cv_folds trains one model per fold on one instance; use "
                             "instances=1 with cv_folds.")
    problem = _prepare(ctx)
    ctx, target, problem_type = problem.ctx, problem.target, problem.problem_type
    if target is None:
        raise InvalidRequest(f"cv_folds scores a model against a target; {ctx.algorithm} "
                             "learns without one. Drop cv_folds.")
    for note in problem.notes:
        ctx.log(f"[training] {note}")
    parts = _split(ctx, target, problem_type)
    rows = pd.concat([parts.train, parts.validation], ignore_index=True)
    classes = problem.classes

    def encode(values: pd.Series) -> np.ndarray:
        return _encode(values, problem_type, classes)

    transform = UserRecipe.from_dict(ctx.recipe).target_transform if ctx.recipe else None
    check_target(transform, encode(rows[target]), problem_type, target)

    algorithm = get_algorithm(ctx.algorithm)
    framework, task = get_framework(algorithm.info.framework), task_of(problem_type)
    key = "proba" if task == "classification" else "value"

    logged: dict[str, int] = {}

    def fit(k: int, X_fit: pd.DataFrame, y_fit: np.ndarray, X_held: pd.DataFrame,
            y_held: np.ndarray) -> FitResult:
        # Fold fits keep no checkpoints: each is short, and a retried job redoes them.
        data = _fit_data(ctx, problem, X_fit, forward_target(transform, y_fit), X_held,
                         forward_target(transform, y_held), live=k == 0, checkpoints=False)
        result = algorithm.fit(data)
        if k == 0:
            logged.update(data.curves_logged)
        return result

    record = dict(parts.record)
    ctx.log(f"[training] {ctx.algorithm} ({problem_type}); {folds}-fold cross-validation "
            f"over {len(rows)} train and validation rows; test {len(parts.test)}")
    phases.start("fit")
    cv = cross_validate(
        rows, encode(rows[target]), target=target, problem_type=problem_type, folds=folds,
        seed=ctx.seed, algorithm=ctx.algorithm,
        recipe=dict(ctx.recipe) if ctx.recipe is not None else None,
        semantic_types=dict(ctx.semantic_types) if ctx.semantic_types is not None else None,
        encode=encode, log=ctx.log, fit=fit,
        text_column=problem.hyperparameters.get("text_column"),
        hyperparameters=problem.hyperparameters,
        outputs=lambda model, X: inverse_outputs(
            transform, framework.outputs(model, X, task, len(classes or [])))[key])
    ctx.log(f"[training] {folds} folds fitted in {sum(cv.fit_seconds):.1f}s "
            f"({'stratified' if cv.stratified else 'shuffled'}, seed {ctx.seed}); the bundle "
            "keeps fold 1's model")
    first = cv.first
    notes = problem.notes + first.notes
    for note in first.notes:
        ctx.log(f"[training] {note}")
    record["cv"] = cv.record()
    score = ctx.score_test and len(parts.test) > 0
    X = {"fit": first.X_fit, "validation": first.X_held_out.iloc[:0],
         "test": first.fitted.transform(parts.test) if score
         else first.X_held_out.iloc[:0]}
    y: dict[str, np.ndarray | None] = {
        "fit": first.y_fit, "train": cv.y, "validation": cv.y[:0],
        "test": encode(parts.test[target]) if score else cv.y[:0]}
    data = PreparedData(target=target, problem_type=problem_type, classes=classes,
                        notes=notes, record=record, fitted=first.fitted, X=X, y=y)
    return replace(problem, notes=notes), data, cv, logged


def run_training(ctx: TrainingContext) -> TrainingResult:
    """Train ``ctx.algorithm`` on ``ctx.train`` and write the model bundle into ``ctx.model_dir``.

    Raises:
        InvalidRequest: a bad request (unknown algorithm or hyperparameter, a value
            out of range, a missing or constant target, an all-missing column…),
            before anything is trained.
    """
    if get_algorithm(ctx.algorithm).info.problem_types == {"forecasting"}:
        # Backtests and a bundle of its own shape (docs/forecast.md).
        from shipyard.training._forecast_entry import run_forecast

        return run_forecast(ctx)
    phases = _Phases(ctx.record_phase)
    phases.start("prepare")
    get_framework(get_algorithm(ctx.algorithm).info.framework).import_serializer()
    began = time.perf_counter()
    cv: CrossValidation | None = None
    if ctx.cv_folds is not None:
        problem, data, cv, logged = _cross_validate(ctx, phases)
        result, fit_seconds = cv.first.result, sum(cv.fit_seconds)
    else:
        problem, data = _prepared(ctx)
    ctx, target, problem_type, notes = problem.ctx, problem.target, problem.problem_type, \
        problem.notes
    algorithm = get_algorithm(ctx.algorithm)
    fitted, X, y = data.fitted, data.X, data.y
    if problem.classes and y["train"] is not None and len(y["train"]):
        counts = np.bincount(y["train"], minlength=len(problem.classes))
        ctx.record_fact("data.imbalance_ratio", float(counts.max() / max(counts.min(), 1)))
    if cv is None:
        ctx.log(f"[training] {len(fitted.feature_names)} features; fitting {ctx.algorithm}")
        phases.start("fit")
        started = time.perf_counter()
        # A recipe's target transform (log): the model learns the transformed values.
        transform = fitted.target_transform
        fit_data = _fit_data(ctx, problem, X["fit"], forward_target(transform, y["fit"]),
                             X["validation"], forward_target(transform, y["validation"]))
        result = algorithm.fit(fit_data)
        fit_seconds = time.perf_counter() - started
        logged = fit_data.curves_logged
        ctx.log(f"[training] fitted in {fit_seconds:.1f}s")
    for note in result.notes:
        notes.append(note)
        ctx.log(f"[training] {note}")
    _log_curves(ctx, result.curves, logged)
    for name, share in _importance_shares(result.model, fitted.feature_names)[:5]:
        ctx.record_fact(f"importance.{name[:100]}", share)

    phases.start("evaluate")
    task = task_of(problem_type)
    framework = get_framework(algorithm.info.framework)
    draft = {"task": task, "classes": problem.classes, "target": target}
    metrics, baseline = _evaluate(problem, InferencePipeline(draft, fitted, result.model,
                                                             framework), result.model, X, y)
    if cv is not None:
        metrics, baseline = _out_of_fold(problem, cv, metrics, baseline)
    if ctx.save_predictions is not None and cv is not None:
        _write_predictions(ctx.save_predictions, cv.outputs, cv.y, cv.predict_seconds)
    elif ctx.save_predictions is not None:
        _save_predictions(ctx.save_predictions, framework, result.model, task, problem, X, y,
                          fitted.target_transform)
    warnings = chance_warnings(problem_type, metrics, baseline, dropped_columns(fitted))
    warnings += leak_warnings(problem_type, metrics, _leaders(result.model, fitted.feature_names),
                              ctx.lineage.get("dataset"), target)
    warnings += small_split_warnings(problem_type, metrics)
    # The first of the framework's files is the model file; a model made of several (a
    # text model's config and tokenizer, an encoder and its head) lists its companions
    # after it, SHA-256-listed like every file.
    model_files = framework.bundle_files(result.model)
    model_file = next(iter(model_files))
    files: dict[str, bytes | Path] = {RECIPE_FILE: _json(fitted.to_dict()), **model_files}
    size = sum(len(b) if isinstance(b, bytes) else b.stat().st_size for b in files.values())
    too_big = size_warning(size, ctx.bundle_size_warning, ctx.algorithm,
                           algorithm.info.size_drivers, problem.hyperparameters)
    warnings += [too_big] if too_big else []
    for warning in warnings:
        ctx.log(f"[training] WARNING: {warning}")
    report = EvaluationReport(problem_type=problem_type, metrics=metrics,
                              curves=result.curves or None, baseline=baseline or None,
                              warnings=warnings or None)
    files[f"{EVALUATION_DIR}/evaluation.json"] = _json(report.to_dict())
    if ctx.plots:
        files.update({f"{EVALUATION_DIR}/{name}": png for name, png in report.plots().items()})
    phases.start("write")
    n_components = int(getattr(result.model, "n_components_", 0)) \
        if problem_type == "dimensionality_reduction" else 0
    manifest = {
        "task": task, "problem_type": problem_type, "algorithm": ctx.algorithm,
        "framework": {"name": framework.name, "version": framework.version()},
        "shipyard_version": shipyard.__version__, "target": target,
        "classes": problem.classes, "input_signature": fitted.input_signature,
        "feature_names": fitted.feature_names,
        "output_schema": output_schema(task, problem.classes, n_components),
        "recipe": RECIPE_FILE, "model_files": [model_file],
        "hyperparameters": problem.hyperparameters, "split": data.record,
        "metrics": {s: scalar_metrics(m) for s, m in metrics.items()},
        "baseline": {s: scalar_metrics(m) for s, m in baseline.items()},
        # ``seconds``: the whole training (the recipe's fit, the model's, the scoring); a
        # refit (an ensemble's members) costs that, and the recipe may outweigh the model.
        # ``n_jobs``: the threads those seconds were measured with (a refit uses as many).
        "training": {"best_iteration": result.best_iteration, "fit_seconds": fit_seconds,
                     "seconds": time.perf_counter() - began,
                     "n_jobs": ctx.n_jobs or num_cpus(),
                     "notes": notes, "warnings": warnings,
                     **({"cv": data.record["cv"]} if cv is not None else {})},
        "bundle_size": {"bytes": size, "warning": too_big},
        "lineage": dict(ctx.lineage), "created_at": datetime.now(UTC).isoformat(),
    }
    written = write_bundle(ctx.model_dir, manifest=manifest, files=files)
    phases.start(None)
    ctx.log(f"[training] model bundle written to {ctx.model_dir}")
    return TrainingResult(manifest=written, model_dir=ctx.model_dir, notes=notes,
                          fit_seconds=fit_seconds,
                          pipeline=InferencePipeline(written, fitted, result.model, framework))


#: The files :attr:`TrainingContext.save_predictions` writes: the outputs, the encoded
#: targets, and ``{"rows", "seconds"}`` (how long predicting them took, in this process).
PREDICTIONS_FILE, PREDICTIONS_TARGET_FILE = "validation.npy", "validation_target.npy"
PREDICTIONS_TIMING_FILE = "predictions.json"
#: Where a training job keeps them (``save_predictions`` in its config: AutoML candidates).
PREDICTIONS_OUTPUT = "output/predictions"


def _save_predictions(folder: Path, framework: Any, model: Any, task: str, problem: _Problem,
                      X: Mapping[str, pd.DataFrame], y: Mapping[str, np.ndarray | None],
                      transform: str | None = None) -> None:
    """The validation split's outputs and targets, as plain ``.npy`` (read without pickle)."""
    if task not in ("classification", "regression") or not len(X["validation"]):
        return
    started = time.perf_counter()
    out = inverse_outputs(transform, framework.outputs(model, X["validation"], task,
                                                       len(problem.classes or [])))
    seconds = time.perf_counter() - started
    _write_predictions(folder, out["proba" if task == "classification" else "value"],
                       y["validation"], seconds)


def _write_predictions(folder: Path, outputs: Any, y: Any, seconds: float) -> None:
    """Outputs (validation or out-of-fold), their targets and the time predicting took."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PREDICTIONS_TIMING_FILE).write_text(json.dumps(
        {"rows": len(y), "seconds": round(seconds, 6)}), encoding="utf-8")
    np.save(folder / PREDICTIONS_FILE, np.asarray(outputs, "float64"), allow_pickle=False)
    np.save(folder / PREDICTIONS_TARGET_FILE, np.asarray(y), allow_pickle=False)


def _out_of_fold(problem: _Problem, cv: CrossValidation, metrics: dict[str, dict[str, Any]],
                 baseline: dict[str, dict[str, Any]]
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The validation metrics of a cross-validation: its out-of-fold outputs' over every
    train and validation row (the baseline: their own targets' prior), logged."""
    from shipyard.evaluation import baseline_metrics

    ctx, key = problem.ctx, "value" if problem.problem_type == "regression" else "proba"
    oof = supervised_metrics(problem.problem_type, {key: cv.outputs}, cv.y, problem.classes)
    base = baseline_metrics(problem.problem_type, cv.y, cv.y, problem.classes)
    scalars = scalar_metrics(oof)
    for name, value in scalars.items():
        ctx.log_metric(f"validation.{name}", value)
    ctx.log(f"[training] validation ({cv.folds}-fold, out of fold): "
            + ", ".join(f"{k} {number(v)}" for k, v in scalars.items()))
    return {"validation": oof, **metrics}, {"validation": base, **baseline}


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False).encode("utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{path.name} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path.name} must hold a JSON object; got {type(data).__name__}.")
    return data


def read_channel(folder: Path) -> pd.DataFrame:
    """Every Parquet part of a channel folder, in order, as one DataFrame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(p for p in folder.iterdir() if p.suffix == ".parquet")
    if not parts:
        raise InvalidRequest(f"Input channel {folder.name!r} holds no Parquet files.")
    tables = [pq.read_table(p) for p in parts]
    return (tables[0] if len(tables) == 1 else pa.concat_tables(tables)).to_pandas()


def main(job_dir: Path) -> None:
    """The entry the runtime calls for a job of kind ``training``.

    Reads ``input/config/training.json`` (algorithm, target, problem_type, split,
    recipe, seed), ``input/config/hyperparameters.json`` and the channels
    ``input/data/{train,validation,test}/*.parquet``; writes the bundle into
    ``model/`` and metrics through :func:`shipyard.runtime.log_metric`.
    """
    from shipyard import runtime
    from shipyard.runtime import _contract as c

    job_dir = Path(job_dir).resolve()
    # log_metric finds the job's output folder through the contract's variables.
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    (job_dir / c.OUTPUT_DIR).mkdir(parents=True, exist_ok=True)
    config = _read_json(job_dir / TRAINING_CONFIG)
    if not config.get("algorithm"):
        raise InvalidRequest(f"{TRAINING_CONFIG} names no 'algorithm'.")
    data = job_dir / c.INPUT_DATA_DIR
    given = config.get("prepared")
    study: dict[str, Any] = given if isinstance(given, dict) else {}
    prepared = None
    # Image files are decoded by each job (they set image_shape and pixel_max): a study's
    # prepared pixels are not reused.
    images = (job_dir / IMAGES_DIR).is_dir()
    with runtime.phase("read"):
        if study.get("from") and not config.get("cv_folds") and not images and \
                (job_dir / PREPARED_INPUT / META_FILE).is_file():
            try:
                prepared = PreparedData.load(job_dir / PREPARED_INPUT,
                                             test=config.get("score_test") is not False)
                print(f"[training] data as trial job {study['from']} of the study prepared it",
                      flush=True)
            except PreparedDataError as exc:
                print(f"[training] the study's prepared data is not usable ({exc}); "
                      "preparing it again", flush=True)
        channels = {"train": pd.DataFrame()} if prepared is not None else {
            ch: read_channel(data / ch) for ch in ("train", "validation", "test")
            if (data / ch).is_dir() and any((data / ch).iterdir())}
    if "train" not in channels:
        raise InvalidRequest("A training job needs an input channel named 'train'.")
    inputs = _read_json(job_dir / c.INPUTDATA_FILE)
    job = _read_json(job_dir / c.JOB_FILE)
    train_ref = inputs.get("train", {}) if isinstance(inputs.get("train"), dict) else {}
    lineage = {
        "dataset": train_ref.get("dataset"), "version": train_ref.get("version"),
        "content_hash": train_ref.get("content_hash"), "job_id": job.get("job_id"),
        "inputs": {ch: {k: v for k, v in ref.items() if k != "path"}
                   for ch, ref in inputs.items() if isinstance(ref, dict)},
    }

    def log(line: str) -> None:
        print(line, flush=True)

    model_dir = Path(os.environ.get(c.ENV_MODEL_DIR) or job_dir / c.MODEL_DIR)
    hyperparameters = _read_json(job_dir / c.HYPERPARAMETERS_FILE)
    if images:  # image-cnn on a dataset of image files
        with runtime.phase("read"):
            channels, hyperparameters = decode_channels(
                channels, job_dir / IMAGES_DIR, hyperparameters, config.get("target"), log)
    run_training(TrainingContext(
        train=channels["train"], validation=channels.get("validation"),
        test=channels.get("test"), algorithm=str(config["algorithm"]),
        target=config.get("target"), problem_type=config.get("problem_type"),
        hyperparameters=hyperparameters,
        split=config.get("split"), recipe=config.get("recipe"),
        seed=int(config.get("seed", 42)), lineage=lineage, model_dir=model_dir,
        semantic_types=config.get("semantic_types"),
        log=log, log_metric=runtime.log_metric, instances=int(config.get("instances") or 1),
        record_phase=runtime.record_phase, record_fact=runtime.system_metric,
        score_test=config.get("score_test") is not False,
        plots=config.get("plots") is not False,
        checkpoint_dir=job_dir / c.CHECKPOINTS_DIR, prepared=prepared,
        save_prepared=job_dir / PREPARED_OUTPUT if study.get("save") and prepared is None
        and not config.get("cv_folds") and not images else None,
        cv_folds=int(config["cv_folds"]) if config.get("cv_folds") is not None else None,
        save_predictions=job_dir / PREDICTIONS_OUTPUT if config.get("save_predictions")
        else None,
        bundle_size_warning=int(config.get("bundle_size_warning") or BUNDLE_SIZE_WARNING),
        checkpoint_seconds=float(config["checkpoint_seconds"])
        if isinstance(config.get("checkpoint_seconds"), (int, float)) else 2.0,
        curve_interval=float(config["curve_seconds"])
        if isinstance(config.get("curve_seconds"), (int, float)) else CURVE_SECONDS))


def _weights(model: Any, feature_names: list[str]) -> np.ndarray | None:
    """How much a fitted model weighs each feature, when it says (trees, boosters, linear)."""
    weights: Any = getattr(model, "feature_importances_", None)
    if weights is None and hasattr(model, "get_score"):  # an XGBoost booster: gain by name
        gain = model.get_score(importance_type="gain")
        weights = [gain.get(name, gain.get(f"f{i}", 0.0)) for i, name in enumerate(feature_names)]
    elif weights is None and hasattr(model, "feature_importance"):  # a LightGBM booster
        weights = model.feature_importance(importance_type="gain")
    elif weights is None and hasattr(model, "get_feature_importance"):  # CatBoost
        weights = model.get_feature_importance()
    elif weights is None and getattr(model, "coef_", None) is not None:
        weights = np.abs(np.asarray(model.coef_, dtype=float)).reshape(
            -1, len(feature_names)).sum(axis=0)
    if weights is None or len(weights) != len(feature_names):
        return None
    return np.asarray(weights, dtype=float)


def _leaders(model: Any, feature_names: list[str]) -> list[str]:
    """The features a fitted model weighs most (at most three)."""
    weights = _weights(model, feature_names)
    if weights is None:
        return []
    order = np.argsort(-weights, kind="stable")
    return [feature_names[i] for i in order[:3] if weights[i] > 0]


def _importance_shares(model: Any, feature_names: list[str]) -> list[tuple[str, float]]:
    """(feature, share of the model's total importance), largest first."""
    weights = _weights(model, feature_names)
    if weights is None or not np.isfinite(weights).all() or weights.sum() <= 0:
        return []
    order = np.argsort(-weights, kind="stable")
    total = float(weights.sum())
    return [(feature_names[i], float(weights[i]) / total) for i in order if weights[i] > 0]
