"""Kind ``training``: a built-in algorithm over a training dataset (docs/training.md).

Submit time checks the data and the hyperparameters (filling the algorithm's
defaults, so runs compare); the job runs ``shipyard.training:main``, which reads
``input/config/training.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._debugger import DEFAULT_RULE_NAMES
from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._package import StagedFile
from shipyard.jobs._spec import JobSpecBase
from shipyard.jobs.kinds._common import MAX_INSTANCES, check_instances

#: The input channels a built-in training job reads.
TRAINING_CHANNELS = ("train", "validation", "test")
#: The spec fields written to ``training.json``.
TRAINING_FIELDS = ("algorithm", "target", "problem_type", "split", "recipe",
                   "semantic_types", "bundle_size_warning", "instances", "score_test", "plots",
                   "checkpoint_seconds", "cv_folds")
#: Training submits are checked on the whole dataset up to this many rows, else a sample.
TRAINING_SAMPLE_ROWS = 200_000
CONFIG_NAME = "training.json"

#: Arrow types that hold several values per row (lists, maps).
_NESTED = ("list<", "large_list<", "fixed_size_list<", "map<")


class TrialOf(BaseModel):
    """What makes a training (or script) job a trial of a tuning job, or a candidate of an
    AutoML job (written by their drivers)."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(max_length=40)
    #: The trial's number in the study (0, 1, ...), or -1 for the scoring of the best.
    number: int = Field(ge=-1)
    #: The Optuna trial's system attributes (e.g. the grid sampler's grid id), kept so the
    #: study is rebuilt exactly from the stored trials.
    system_attrs: dict[str, Any] = Field(default_factory=dict)
    #: An earlier trial of the same study and algorithm whose prepared data (its
    #: ``output/prepared/`` files, as its outputs list them) this trial trains on.
    prepared: PreparedFrom | None = None
    #: Keep what this trial prepares, for the later ones (the driver sets it until one did).
    save_prepared: bool = False
    #: Seconds between two flushes of the fit's live per-round metrics (None: the
    #: training default, 1 s): shorter for a trial its parent prunes on them while it
    #: runs, when its fit lasts a second or two (AutoML's candidates).
    curve_seconds: float | None = Field(default=None, gt=0, le=60)


class PreparedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(max_length=200, pattern=r"^output/prepared/[A-Za-z0-9_.-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class PreparedFrom(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job: str = Field(max_length=40)
    files: list[PreparedFile] = Field(max_length=20)


TrialOf.model_rebuild()


def check_channels(inputs: Mapping[str, Any], what: str) -> None:
    """A built-in algorithm's inputs: ``train``, and optionally ``validation`` and ``test``.

    Raises:
        ValueError: (a 400 at submit) naming what is missing or extra.
    """
    if "train" not in inputs:
        raise ValueError(f"{what} needs an input channel named 'train' "
                         "(e.g. inputs: {\"train\": \"churn\"})")
    extra = sorted(set(inputs) - set(TRAINING_CHANNELS))
    if extra:
        raise ValueError(f"{what} reads the channels train, validation and test; got "
                         f"{extra[0]!r}")


class TrainingSpec(JobSpecBase):
    """A training job: ``algorithm`` over ``inputs.train`` (and validation/test or a split)."""

    kind: Literal["training"]
    algorithm: str | None = None
    target: str | None = Field(default=None, max_length=256)
    problem_type: str | None = None
    split: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None
    #: Workers that train one model together, data parallel (XGBoost and LightGBM on the
    #: Ray executor; see shipyard.training._distributed).
    instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)
    #: Score the test split (a tuning trial does not; see docs/tuning.md).
    score_test: bool = True
    #: Render the evaluation plots into the bundle (tuning trials skip them: seconds each).
    plots: bool = True
    #: Keep the model's outputs on the validation split (``output/predictions/``), so an
    #: ``ensemble`` job can select over it (AutoML candidates keep them).
    keep_predictions: bool = False
    #: Cross-validate over the train and validation rows in this many folds: the
    #: validation metrics (and kept predictions) are out-of-fold over all of those rows,
    #: and the bundle is the first fold's model (shipyard.training._crossval).
    #: (2 to 20, checked at submit.)
    cv_folds: int | None = None
    #: Set on the trials of a tuning job (and its final scoring of the best settings): the
    #: tuning job's id, the trial's number and the sampler's state of the trial.
    tuning: TrialOf | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TrainingSpec:
        if not self.algorithm:
            raise ValueError("a training job needs an 'algorithm' (GET /api/v1/algorithms "
                             "lists them)")
        if self.outputs:
            raise ValueError("a training job writes a model, not datasets; drop 'outputs'")
        check_channels(self.inputs, "a training job")
        return self


def precheck(spec: TrainingSpec) -> None:
    """The algorithm is a built-in one and its hyperparameters are its own (400s naming the
    known ones): what needs no data, so a pipeline's training step is checked at create."""
    from shipyard.training import validate_hyperparameters

    validate_hyperparameters(spec.algorithm or "", spec.hyperparameters)


def check(ctx: SubmitContext[TrainingSpec]) -> None:
    """Refuse a training job that cannot work before it exists (4xx, nothing started).

    Fills the algorithm's defaults into the stored hyperparameters, so runs compare, and
    makes the train dataset's name the default experiment.
    """
    from shipyard.evaluation import SplitSpec
    from shipyard.features import UserRecipe
    from shipyard.training import (
        check_held_out_inputs,
        check_training_columns,
        check_training_data,
        get_algorithm,
        validate_hyperparameters,
    )
    from shipyard.training._distributed import DISTRIBUTED_ALGORITHMS

    spec = ctx.spec
    algorithm = spec.algorithm or ""
    if spec.instances > 1 and algorithm not in DISTRIBUTED_ALGORITHMS:
        raise InvalidRequest(
            f"instances={spec.instances}: only {' and '.join(DISTRIBUTED_ALGORITHMS)} train "
            f"over several instances, not {algorithm!r}; use instances=1.")
    check_instances(ctx, "training")
    _check_cv(spec, get_algorithm(algorithm).info.supervised)
    if spec.tuning is not None:
        check_trial(ctx, spec.tuning)
    ctx.stored["hyperparameters"] = validate_hyperparameters(algorithm, spec.hyperparameters)
    recipe = UserRecipe.from_dict(spec.recipe) if spec.recipe is not None else None
    if spec.split is not None:
        if set(spec.inputs) >= {"validation", "test"}:
            raise InvalidRequest("Give either validation and test datasets or a split, "
                                 "not both.")
        SplitSpec.from_dict(spec.split)
    train = ctx.stored["inputs"]["train"]
    _check_held_out_rows(ctx.stored["inputs"])
    version = ctx.datasets.version(train["dataset"], train["version"])
    # The schema judged every row of the version (row numbers, identifiers); the job
    # sees only its split, so it gets the schema's word for them.
    ctx.stored["semantic_types"] = {str(c["name"]): str(c["semantic_type"])
                                    for c in version.schema if c.get("semantic_type")}
    held_out = {f"{r['dataset']}:{r['version']}": _column_names(
        ctx.datasets.version(r["dataset"], r["version"]))
        for ch, r in ctx.stored["inputs"].items() if ch != "train"}
    check_training_columns(
        _column_names(version), f"{train['dataset']}:{train['version']}",
        target=spec.target, supervised=get_algorithm(algorithm).info.supervised,
        split=spec.split, recipe=recipe, others=held_out)
    _check_time_column(spec.split, version.schema, f"{train['dataset']}:{train['version']}")
    check_held_out_inputs(
        version.schema, f"{train['dataset']}:{train['version']}",
        {f"{r['dataset']}:{r['version']}": ctx.datasets.version(r["dataset"], r["version"]).schema
         for ch, r in ctx.stored["inputs"].items() if ch != "train"},
        target=spec.target, drop=_recipe_drops(recipe))
    if spec.target and get_algorithm(algorithm).info.supervised:
        check_target_semantics(spec.target, version.schema,
                               f"{train['dataset']}:{train['version']}")
    # The job reads its size threshold from its config (jobs see no SHIPYARD_* variables).
    if ctx.settings is not None:
        ctx.stored["bundle_size_warning"] = ctx.settings.bundle_size_warning
        ctx.stored["checkpoint_seconds"] = ctx.settings.checkpoint_seconds
    dropped = set(recipe.drop) if recipe is not None else set()
    for col in version.schema:
        if version.num_rows and col.get("missing") == version.num_rows:
            raise InvalidRequest(
                f"Column {col['name']!r} of {train['dataset']}:{train['version']} is missing "
                "in every row; drop it (a processing job) or fill it before training.")
        if col["name"] not in dropped and str(col.get("dtype", "")).startswith(_NESTED):
            # pandas hands such a column over as arrays, which became categories named by
            # their repr ("['a' 'b']") that no invocation could send.
            raise InvalidRequest(
                f"Column {col['name']!r} of {train['dataset']}:{train['version']} holds "
                f"{col['dtype']} values (several per row), which no algorithm takes; turn it "
                "into text or numbers (a processing job), or add it to 'drop' (--drop "
                f"{col['name']} on the CLI).")
    rows = TRAINING_SAMPLE_ROWS if version.num_rows > TRAINING_SAMPLE_ROWS else None
    table = (ctx.datasets.head(train["dataset"], train["version"], n=rows) if rows
             else ctx.datasets.read_table(train["dataset"], train["version"]))
    frame = table.to_pandas()
    check_training_data(frame, spec.target, algorithm, spec.problem_type)
    if recipe is not None and recipe.target_transform and spec.target in frame.columns:
        _check_target_transform(recipe.target_transform, frame[spec.target], spec)
    if get_algorithm(algorithm).info.text:  # a missing or non-text text_column: a 400 now
        from shipyard.training._text_column import resolve_text_column

        resolve_text_column(frame.drop(columns=[spec.target], errors="ignore")
                            if spec.target else frame, ctx.stored["hyperparameters"])
    if get_algorithm(algorithm).info.problem_types == {"forecasting"}:
        _check_forecast(spec, frame, ctx.stored["hyperparameters"], complete=rows is None)
    # A text algorithm's text column (a 400 naming it), before any job exists.
    get_algorithm(algorithm).check_data(frame, spec.target, ctx.stored["hyperparameters"],
                                        spec.recipe)
    ctx.experiment = ctx.experiment or train["dataset"]
    ctx.stored["images"] = _image_files(ctx) if algorithm == "image-cnn" else None
    if spec.tuning is not None and spec.tuning.prepared is not None:
        from shipyard.store import JobRepository

        _check_prepared(JobRepository(ctx.models.db, ctx.models.events), ctx.stored,
                        spec.tuning)


#: Semantic types of a column whose values name rows rather than describe them.
NOT_TARGETS = {"identifier": "an identifier", "row_number": "a row number"}


def check_target_semantics(target: str, schema: Sequence[Mapping[str, Any]], name: str) -> None:
    """A target the version's schema calls an identifier or a row number is a 400: a model
    trained on it learns nothing (a class per row, or a regression on row keys)."""
    column = next((col for col in schema if col.get("name") == target), None)
    kind = (column or {}).get("semantic_type")
    if kind in NOT_TARGETS:
        raise InvalidRequest(
            f"The target column {target!r} of {name} is {NOT_TARGETS[kind]} (its values name "
            "rows rather than describe them), so no model can learn it; pick the column you "
            "want to predict.")


def _check_target_transform(name: str, y: Any, spec: TrainingSpec) -> None:
    """A recipe's target transform the target cannot take (a class, a negative value):
    a 400 at submit, as the job would refuse it before fitting."""
    import numpy as np

    from shipyard.features import check_target
    from shipyard.training import infer_problem_type

    known = y.dropna()
    problem_type = spec.problem_type or infer_problem_type(known)
    values = known.to_numpy(dtype="float64") if problem_type == "regression" else np.zeros(0)
    check_target(name, values, problem_type, str(spec.target))


def _check_forecast(spec: TrainingSpec, frame: Any, hp: Mapping[str, Any],
                    complete: bool) -> None:
    """A forecast needs a date/time column, one value per time per series, enough history;
    it scores itself by backtests, so it takes no validation or test input."""
    from shipyard.training import check_forecast_request

    given = sorted(set(spec.inputs) - {"train"})
    if given:
        raise InvalidRequest(f"A forecast scores itself by rolling-origin backtests on its "
                             f"train input; drop the {' and '.join(given)} input.")
    check_forecast_request(frame, spec.target, (spec.split or {}).get("time_column"), hp,
                           complete=complete)


#: The kinds whose drivers submit training jobs as their trials (or candidates).
PARENT_KINDS = ("tuning", "automl")


def check_trial(ctx: SubmitContext[Any], trial: TrialOf) -> None:
    """Only a running tuning (or AutoML) job's own driver, acting as its owner, adds trials
    (candidates) to it."""
    from shipyard.store import JobRepository

    # The registry's repository shares the jobs' database.
    repo = JobRepository(ctx.models.db, ctx.models.events)
    try:
        job = repo.get(trial.job)
    except Exception:  # noqa: BLE001 - NotFound, reworded below
        job = None
    if job is None or job.kind not in PARENT_KINDS or job.status != "Running" or \
            job.created_by != ctx.actor:
        raise InvalidRequest(f"'tuning' names {trial.job!r}, which is not a running tuning "
                             "or AutoML job of yours; trials are submitted by a tuning job "
                             "itself (shipyard tune), candidates by an AutoML job (shipyard "
                             "automl).")


def _check_prepared(repo: Any, stored: Mapping[str, Any], trial: TrialOf) -> None:
    """The prepared data comes from a completed trial of the same study and algorithm,
    and only files that trial left: no other artifact can be staged this way."""
    assert trial.prepared is not None
    try:
        source = repo.get(trial.prepared.job)
    except Exception:  # noqa: BLE001 - NotFound, reworded below
        source = None
    src_trial = (source.spec.get("tuning") or {}) if source is not None else {}
    if source is None or source.kind != "training" or source.status != "Completed" or \
            src_trial.get("job") != trial.job or \
            source.spec.get("algorithm") != stored.get("algorithm") or \
            source.spec.get("inputs") != stored.get("inputs") or \
            any(source.spec.get(k) != stored.get(k) for k in _SAME_DATA):
        raise InvalidRequest(f"'tuning.prepared' names {trial.prepared.job!r}, which is not a "
                             "completed trial of the same study, algorithm and data.")
    left = {(f["path"], f["sha256"], int(f["size"]))
            for f in (source.outputs or {}).get("files") or []}
    for f in trial.prepared.files:
        if (f.path, f.sha256, f.size) not in left:
            raise InvalidRequest(f"'tuning.prepared' lists {f.path!r}, which trial "
                                 f"{trial.prepared.job} did not leave.")


#: The fields that decide what a training job prepares (with its algorithm and inputs).
_SAME_DATA = ("target", "problem_type", "split", "recipe", "semantic_types", "cv_folds")


def _image_files(ctx: SubmitContext[TrainingSpec]) -> list[list[Any]] | None:
    """``[sha256, size]`` of every image the inputs list, when they are files manifests
    (image-cnn on a dataset of image files); None for pixel columns. Only a genuine files
    version counts: a table that merely has a sha256 column could name any stored object."""
    from shipyard.datasets._service import is_files

    records = {ch: ctx.datasets.version(r["dataset"], r["version"])
               for ch, r in ctx.stored["inputs"].items()}
    files = {ch for ch, rec in records.items() if is_files(rec)}
    if not files:
        return None
    if files != set(records):
        raise InvalidRequest(
            f"image-cnn reads image files in every input or pixel columns in every input; "
            f"{', '.join(sorted(files))} hold files but {', '.join(sorted(set(records) - files))}"
            " do not.")
    sizes: dict[str, int] = {}
    for rec in records.values():
        table = ctx.datasets.read_table(rec.dataset, rec.version)
        sizes.update(zip(table.column("sha256").to_pylist(), table.column("bytes").to_pylist(),
                         strict=True))
    return [[sha, int(size)] for sha, size in sorted(sizes.items())]


def stage(stored: Mapping[str, Any]) -> list[StagedFile]:
    """The image files of image-cnn's inputs under input/images/, and a trial's prepared
    data, from the earlier trial that left it, under input/prepared/."""
    images = [StagedFile(f"input/images/{sha}", sha, int(size), f"Image {sha[:12]}")
              for sha, size in stored.get("images") or []]
    prepared = (stored.get("tuning") or {}).get("prepared")
    if not prepared:
        return images
    return images + [StagedFile(f"input/prepared/{f['path'].rsplit('/', 1)[-1]}", f["sha256"],
                       int(f["size"]), f"the prepared data of trial {prepared['job']}")
            for f in prepared["files"]]


def _check_cv(spec: TrainingSpec, supervised: bool) -> None:
    """``cv_folds`` needs a supervised algorithm on one instance, and shuffled folds make no
    sense of rows split by time (the folds would train on the future)."""
    from shipyard.training._crossval import MAX_FOLDS, MIN_FOLDS

    if spec.cv_folds is None:
        return
    if not MIN_FOLDS <= spec.cv_folds <= MAX_FOLDS:
        raise InvalidRequest(f"cv_folds must be between {MIN_FOLDS} and {MAX_FOLDS}; got "
                             f"{spec.cv_folds}. Use e.g. 5, or leave it out for one "
                             "validation split.")
    if not supervised:
        raise InvalidRequest(f"cv_folds={spec.cv_folds}: cross-validation scores a model "
                             f"against a target, and {spec.algorithm!r} learns without one; "
                             "drop cv_folds.")
    if spec.instances > 1:
        raise InvalidRequest(f"cv_folds={spec.cv_folds} trains one model per fold on one "
                             f"instance; got instances={spec.instances}. Use instances=1.")
    if (spec.split or {}).get("train_rows") is not None:
        raise InvalidRequest(f"cv_folds={spec.cv_folds} scores every train and validation "
                             "row out of fold, so it cannot train on a sample of them "
                             "(split.train_rows). Drop one of the two.")
    if (spec.split or {}).get("time_column"):
        raise InvalidRequest(f"cv_folds={spec.cv_folds} cuts shuffled folds, which would "
                             "train on rows later than those they are scored on; a split by "
                             "time_column keeps one validation split. Drop cv_folds or the "
                             "time column.")


#: Semantic types a split by time can order rows by.
TIME_TYPES = ("datetime", "numeric", "row_number")


def _check_time_column(split: Mapping[str, Any] | None, schema: list[dict[str, Any]],
                       dataset: str) -> None:
    """A time split's column must hold dates, times or numbers: refused at submit (400)
    rather than by the job a minute later."""
    column = (split or {}).get("time_column")
    found = next((c for c in schema if c.get("name") == column), None)
    if not isinstance(column, str) or found is None:
        return  # no time split, or an unknown column (named by check_training_columns)
    kind = found.get("semantic_type")
    if kind not in TIME_TYPES:
        raise InvalidRequest(
            f"The time column {column!r} of {dataset} holds {kind} values "
            f"({found.get('dtype')}), not dates, times or numbers, so rows cannot be ordered "
            "by it; pick a date or number column for split.time_column (--time-column on the "
            "CLI), or convert it first.")


def _check_held_out_rows(inputs: Mapping[str, Mapping[str, Any]]) -> None:
    """A validation or test input holding the train input's very rows is a 400: the model
    trains on them, so their metrics would flatter it, silently."""
    train = inputs["train"]
    for channel, ref in inputs.items():
        same = (ref["dataset"], ref["version"]) == (train["dataset"], train["version"]) or (
            ref.get("content_hash") and ref.get("content_hash") == train.get("content_hash"))
        if channel != "train" and same:
            raise InvalidRequest(
                f"The {channel} input {ref['dataset']}:{ref['version']} holds the same rows as "
                f"the train input {train['dataset']}:{train['version']}, which the model "
                f"trains on, so its {channel} metrics would flatter it; give held-out rows, "
                f"or leave the {channel} input out (the split holds rows out).")


def _recipe_drops(recipe: Any) -> list[str]:
    """The columns a recipe leaves out: its ``drop`` list and its ``drop`` steps'."""
    if recipe is None:
        return []
    return [*recipe.drop, *(c for step in recipe.steps if step.step == "drop"
                            for c in step.columns or ())]


def _column_names(version: Any) -> list[str]:
    return [str(col["name"]) for col in version.schema]


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    config = {k: stored.get(k) for k in TRAINING_FIELDS}
    trial = stored.get("tuning") or {}
    if trial.get("prepared") or trial.get("save_prepared"):
        config["prepared"] = {"from": (trial.get("prepared") or {}).get("job"),
                              "save": bool(trial.get("save_prepared"))}
    if stored.get("keep_predictions"):
        config["save_predictions"] = True
    if trial.get("curve_seconds"):
        config["curve_seconds"] = float(trial["curve_seconds"])
    return {CONFIG_NAME: config}


register(JobKind(
    name="training", spec=TrainingSpec,
    summary="A built-in algorithm trained on a dataset; the model bundle is kept.",
    entry="shipyard.training:main", check=check, precheck=precheck, configs=configs,
    stage=stage, warm=True,
    default_rules=DEFAULT_RULE_NAMES,
))
