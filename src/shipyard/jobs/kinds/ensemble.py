"""Kind ``ensemble``: completed training jobs' models as one model, scored on test.

The candidates are training jobs that kept their validation predictions
(``keep_predictions``; an AutoML job's candidates do) and share their data: the same
inputs, target, problem type, split and ``cv_folds``, so their validation rows (or, when
cross-validated, their out-of-fold rows: every train and validation row) are the same.
``selection: caruana`` chooses weights over them by greedy selection on those
predictions (:func:`shipyard.automl.build_ensemble`) and writes an ensemble bundle;
``selection: best`` keeps the best candidate's own bundle. Either way the job scores
the result on the test split once (the candidates never saw it) and its model is what
``models register GROUP --job ID`` takes.

Submit time pins every candidate's model and prediction files (by hash), so a retry
stages exactly the same; the job reads them under ``input/candidates/NN/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shipyard.automl._final import CANDIDATES_DIR
from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._package import StagedFile
from shipyard.jobs._spec import JobSpecBase

#: The most candidates one ensemble job selects over (an ensemble bundle holds at most 64
#: members; the selection keeps fewer).
MAX_CANDIDATES = 64
CONFIG_NAME = "ensemble.json"
#: The spec fields a candidate must share with the first one (its data, so its rows).
SAME_DATA = ("inputs", "target", "problem_type", "split", "cv_folds")
PREDICTIONS_PREFIX = "output/predictions/"
JOB_ID = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class EnsembleOf(BaseModel):
    """Set on the ensemble job an AutoML job submits (its final model)."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(max_length=40)


class EnsembleSpec(JobSpecBase):
    """An ensemble job: ``candidates`` (training job ids), selected on ``metric``."""

    kind: Literal["ensemble"]
    candidates: list[JOB_ID] = Field(min_length=1, max_length=MAX_CANDIDATES)
    #: The validation metric to select on (``roc_auc``, ``rmse``, ...); the problem type's
    #: usual one by default.
    metric: str | None = Field(default=None, max_length=64)
    selection: Literal["caruana", "best"] = "caruana"
    #: Train each chosen member again on the train and validation rows together before
    #: the ensemble is written (the same settings; the rounds early stopping kept).
    refit: bool = False
    #: Unix time by which the job should end: a member whose refit would pass it keeps
    #: its candidate's model (an AutoML job sets its budget's end).
    deadline: float | None = Field(default=None, gt=0)
    #: Unix time the refits must end by, leaving the rest before ``deadline`` to scoring
    #: and explaining the model (an AutoML job sets it as its reserve counted it); by
    #: default the deadline less the 6 s a churn-sized table's scoring and explanations
    #: take (``shipyard.automl._final.after_refit_seconds``).
    refit_until: float | None = Field(default=None, gt=0)
    automl: EnsembleOf | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EnsembleSpec:
        if self.inputs:
            raise ValueError("an ensemble job reads its candidates' data; drop 'inputs'")
        if self.outputs:
            raise ValueError("an ensemble job writes a model, not datasets; drop 'outputs'")
        if len(set(self.candidates)) != len(self.candidates):
            raise ValueError("each candidate may be named once")
        if self.refit_until is not None and not self.refit:
            raise ValueError("'refit_until' bounds the refits; set 'refit': true or drop it")
        if self.refit_until is not None and self.deadline is not None \
                and self.refit_until > self.deadline:
            raise ValueError("'refit_until' is after 'deadline'; the refits must end first")
        return self


#: The metric selected on when none is given, by problem type.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}


def check(ctx: SubmitContext[EnsembleSpec]) -> None:
    """Each candidate is a completed training job of the actor's that kept its validation
    predictions, and all share their data; pins their files, data and the metric (400)."""
    from shipyard.store import JobRepository
    from shipyard.tuning import OBJECTIVES

    spec = ctx.spec
    repo = JobRepository(ctx.models.db, ctx.models.events)
    if spec.automl is not None:
        _check_parent(repo, spec.automl.job, ctx.actor)
    members: list[dict[str, Any]] = []
    first: Any = None
    for number, job_id in enumerate(spec.candidates):
        try:
            job = repo.get(job_id)
        except Exception:  # noqa: BLE001 - NotFound, reworded below
            job = None
        if job is None or job.kind != "training" or (
                ctx.actor is not None and job.created_by != ctx.actor):
            raise InvalidRequest(f"Candidate {job_id!r} is not a training job of yours; "
                                 "`shipyard jobs list --kind training` lists them.")
        if job.status != "Completed":
            raise InvalidRequest(f"Candidate {job_id} is {job.status}; an ensemble takes "
                                 "completed training jobs.")
        outputs = job.outputs or {}
        model = list((outputs.get("model") or {}).get("files") or [])
        predictions = [f for f in outputs.get("files") or []
                       if str(f.get("path", "")).startswith(PREDICTIONS_PREFIX)]
        if not predictions or not model:
            raise InvalidRequest(f"Candidate {job_id} kept no validation predictions; train "
                                 "it with keep_predictions (AutoML candidates keep them).")
        if first is None:
            first = job
        else:
            differs = [k for k in SAME_DATA if job.spec.get(k) != first.spec.get(k)]
            if differs:
                raise InvalidRequest(
                    f"Candidate {job_id} differs from candidate {first.id} in {differs[0]}; "
                    "an ensemble's candidates share their inputs, target, problem type, "
                    "split and cv_folds (so they were validated on the same rows).")
        members.append({"job": job.id, "number": number,
                        "algorithm": job.spec.get("algorithm"),
                        "recipe": job.spec.get("recipe"),
                        "semantic_types": job.spec.get("semantic_types"),
                        "model": [_entry(f) for f in model],
                        "predictions": [_entry(f) for f in predictions]})
    kinds = {m["job"]: _problem_type(ctx, m["model"]) for m in members}
    problem_type = kinds[first.id]
    other = next((j for j, k in kinds.items() if k != problem_type), None)
    if other is not None:
        raise InvalidRequest(f"Candidate {other} solves a {kinds[other]} problem and "
                             f"candidate {first.id} a {problem_type} one; an ensemble's "
                             "candidates solve the same problem.")
    if problem_type not in OBJECTIVES:
        raise InvalidRequest(f"An ensemble is built for classification and regression "
                             f"models; candidate {first.id} is {problem_type}.")
    metric = str(spec.metric or DEFAULT_METRIC[problem_type]).removeprefix("validation.")
    if metric not in OBJECTIVES[problem_type]:
        raise InvalidRequest(f"Metric {spec.metric!r} is not a metric of a {problem_type} "
                             f"problem; use one of: {', '.join(OBJECTIVES[problem_type])}.")
    ctx.stored.update(inputs=first.spec.get("inputs"), target=first.spec.get("target"),
                      problem_type=problem_type, split=first.spec.get("split"),
                      metric=metric, members=members)
    ctx.experiment = ctx.experiment or first.experiment


def _problem_type(ctx: SubmitContext[EnsembleSpec], model: list[dict[str, Any]]) -> str:
    """The problem type a candidate's MODEL.json names (read as JSON, nothing else)."""
    import json

    entry = next((f for f in model if f["path"] == "model/MODEL.json"), None)
    try:
        manifest = json.loads(ctx.artifacts.read_bytes(entry["sha256"])) if entry else {}
    except (OSError, ValueError):
        manifest = {}
    return str(manifest.get("problem_type") if isinstance(manifest, dict) else "")


def _check_parent(repo: Any, job_id: str, actor: str | None) -> None:
    try:
        job = repo.get(job_id)
    except Exception:  # noqa: BLE001 - NotFound, reworded below
        job = None
    if job is None or job.kind != "automl" or job.status != "Running" or \
            job.created_by != actor:
        raise InvalidRequest(f"'automl' names {job_id!r}, which is not a running AutoML job "
                             "of yours; an AutoML job submits its own ensemble.")


def _entry(f: Mapping[str, Any]) -> dict[str, Any]:
    return {"path": str(f["path"]), "sha256": str(f["sha256"]), "size": int(f["size"])}


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {
        "target": stored.get("target"), "problem_type": stored.get("problem_type"),
        "metric": stored.get("metric"), "selection": stored.get("selection") or "caruana",
        "split": stored.get("split"), "refit": bool(stored.get("refit")),
        "deadline": stored.get("deadline"), "refit_until": stored.get("refit_until"),
        "candidates": [{k: m.get(k) for k in ("job", "algorithm", "recipe", "semantic_types")}
                       for m in stored.get("members") or []]}}


def stage(stored: Mapping[str, Any]) -> list[StagedFile]:
    """Each candidate's bundle under ``input/candidates/NN/model/`` and its predictions
    under ``input/candidates/NN/predictions/`` (names as its outputs list them)."""
    files = []
    for i, m in enumerate(stored.get("members") or []):
        where = f"{CANDIDATES_DIR}/{i:02d}"
        for f in m["model"]:
            files.append(StagedFile(f"{where}/{f['path']}", f["sha256"], int(f["size"]),
                                    f"the model of candidate {m['job']}"))
        for f in m["predictions"]:
            name = f["path"].removeprefix(PREDICTIONS_PREFIX)
            files.append(StagedFile(f"{where}/predictions/{name}", f["sha256"],
                                    int(f["size"]), f"the predictions of candidate {m['job']}"))
    return files


register(JobKind(
    name="ensemble", spec=EnsembleSpec,
    summary="Training jobs' models as one weighted ensemble (or the best), scored on test.",
    entry="shipyard.automl._final:main", check=check, configs=configs, stage=stage,
    warm=True,
))
