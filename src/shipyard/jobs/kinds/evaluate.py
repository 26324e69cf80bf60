"""Kind ``evaluate``: the metrics of a model on a dataset, as training scores its test split.

The model is a registered version (``model: "group:version"``) or the model a Completed
job saved (``job``: a training or ensemble job, or a tuning or AutoML job's best), so a
pipeline can score a model before it is registered. Either way submit time pins every
bundle file by SHA-256 (:func:`~shipyard.jobs.kinds._common.pin_model`,
:func:`~shipyard.jobs.kinds._common.pin_job_model`) and checks the dataset: the model's
input columns and the target column are there. The entry (:mod:`._evaluate_entry`)
predicts the ``test`` input's rows and logs ``test.<metric>`` as training does, so
``GET /jobs/{id}`` shows ``metrics.test.roc_auc``; it leaves the report and its plots in
``output/evaluation/`` (what ``job.evaluation()`` reads in the SDK).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase, check_model_ref
from shipyard.jobs.kinds._common import model_files, model_label, model_ref
from shipyard.jobs.kinds._evaluate_entry import CHANNEL, CONFIG_NAME
from shipyard.jobs.kinds.bias import pin_predictor

#: A dtype the profile names for a numeric column (pandas' names: int64, Float64, ...).
_NUMERIC_DTYPE = re.compile(r"^(u?int|float|double|decimal)", re.IGNORECASE)


class EvaluateSpec(JobSpecBase):
    """``model`` "group:version" or ``job`` (exactly one) over ``inputs.test``."""

    kind: Literal["evaluate"]
    model: str | None = Field(default=None, max_length=300)
    #: A Completed job whose saved model is evaluated (a tuning or AutoML job: its best).
    job: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    #: The target column of the dataset (default: the model's own, from its MODEL.json).
    target: str | None = Field(default=None, min_length=1, max_length=300)
    #: Render the evaluation's plots (ROC and PR curves, confusion matrix, residuals).
    plots: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> EvaluateSpec:
        if (self.model is None) == (self.job is None):
            raise ValueError("an evaluate job needs exactly one of 'model' (a registered "
                             "version, e.g. 'churn-model:3') and 'job' (a Completed job "
                             "whose model is evaluated, e.g. 'job-…')")
        if self.model is not None:
            check_model_ref(self.model, "evaluate")
        if set(self.inputs) != {CHANNEL}:
            raise ValueError("an evaluate job reads one input channel named 'test' "
                             "(e.g. inputs: {\"test\": \"churn-holdout\"})")
        if self.outputs:
            raise ValueError("an evaluate job writes metrics, not datasets; drop 'outputs'")
        return self


def check(ctx: SubmitContext[EvaluateSpec]) -> None:
    """Refuse an evaluation that cannot work (4xx, nothing started); pin its model and
    its target column."""
    spec = ctx.spec
    manifest = pin_predictor(ctx, "an evaluate job scores models that predict a label or a "
                                  "number", channel=CHANNEL, job=spec.job)
    whose = model_label(ctx.stored, start=True)
    kind = problem_type(manifest)
    if kind is None:
        raise InvalidRequest(f"{whose} names no problem type (binary, multiclass or "
                             "regression) in its MODEL.json; evaluate a model of a built-in "
                             "training job.")
    target = spec.target or manifest.get("target")
    if not target:
        raise InvalidRequest(f"{whose} names no target column; say which column holds the "
                             "true values with 'target' (--target on the CLI).")
    data = ctx.stored["inputs"][CHANNEL]
    rec = ctx.datasets.version(data["dataset"], data["version"])
    column = next((c for c in rec.schema if str(c["name"]) == target), None)
    if column is None:
        raise InvalidRequest(
            f"The target column {target!r} is not in {data['dataset']}:{data['version']}; "
            f"its columns are {[str(c['name']) for c in rec.schema]}. Name the column that "
            "holds the true values with 'target' (--target on the CLI).")
    dtype = str(column.get("dtype") or "")
    if kind == "regression" and dtype and not _NUMERIC_DTYPE.match(dtype):
        raise InvalidRequest(
            f"{whose} predicts a number, but the target column "
            f"{target!r} of {data['dataset']}:{data['version']} holds {dtype} values; name a "
            "numeric column with 'target' (--target on the CLI).")
    ctx.stored["target"] = target


def problem_type(manifest: Mapping[str, Any]) -> str | None:
    """binary, multiclass or regression, from a MODEL.json (None: another kind of model)."""
    given = manifest.get("problem_type")
    if given in ("binary", "multiclass", "regression"):
        return str(given)
    return None


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {"model": model_ref(stored), "target": stored.get("target"),
                          "plots": stored.get("plots") is not False,
                          "dataset": stored["inputs"][CHANNEL]}}


register(JobKind(
    name="evaluate", spec=EvaluateSpec,
    summary="The metrics of a model (a registered version or a job's) on a dataset, as "
            "training scores its test split.",
    entry="shipyard.jobs.kinds._evaluate_entry:main", check=check, configs=configs,
    stage=model_files, warm=True,
))
