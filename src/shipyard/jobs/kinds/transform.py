"""Kind ``transform`` (batch transform): a registered model version over a dataset.

Submit time pins the model version and every bundle file's SHA-256; staging copies
the bundle into ``input/model/``; the entry (:mod:`._transform_entry`) streams the
input in chunks and writes the predictions as one output dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase, check_model_ref
from shipyard.jobs.kinds._common import (
    MAX_INSTANCES,
    check_instances,
    model_files,
    model_ref,
    pin_job_model,
    pin_model,
)
from shipyard.jobs.kinds._transform_entry import CHANNEL, CONFIG_NAME, DEFAULT_CHUNK_ROWS
from shipyard.serving._codec import ID_COLUMN

MAX_CHUNK_ROWS = 1_000_000
#: ``keep_columns`` naming every input column (the output joins the input, as a managed
#: service's "join source: input" does).
ALL = "*"


class TransformSpec(JobSpecBase):
    """``model`` "group:version" or ``job`` (a Completed job's model, e.g. a Canvas build's
    before it is registered) over ``inputs.data``, predictions into one output."""

    kind: Literal["transform"]
    model: str | None = Field(default=None, max_length=300)
    #: A Completed job whose saved model predicts (a tuning or AutoML job: its best).
    job: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    #: Input columns copied into the output before the predictions, to join them back:
    #: ``["*"]`` copies every input column (the input joined with its predictions). None
    #: (the default) copies the caller's id column, ``inference_id``, when the input has
    #: one, as an endpoint's answer carries it; ``[]`` copies none.
    keep_columns: list[str] | None = Field(default=None, max_length=1000)
    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, ge=1, le=MAX_CHUNK_ROWS)
    #: Predictor instances working on chunks in parallel (more than one: Ray executor only).
    instances: int = Field(default=1, ge=1, le=MAX_INSTANCES)

    @model_validator(mode="after")
    def _consistent(self) -> TransformSpec:
        if self.model is not None and self.job is not None:
            raise ValueError("a transform job needs one of 'model' (a registered version, "
                             "e.g. 'churn-model:3') and 'job' (a Completed job whose model "
                             "predicts), not both")
        if self.job is None:
            check_model_ref(self.model, "transform")
        if set(self.inputs) != {CHANNEL}:
            raise ValueError("a transform job reads one input channel named 'data' "
                             "(e.g. inputs: {\"data\": \"churn\"})")
        if len(self.outputs) != 1:
            raise ValueError("a transform job writes exactly one output dataset, the "
                             f"predictions; got {len(self.outputs)}")
        keep = self.keep_columns or []
        if len(set(keep)) != len(keep):
            raise ValueError(f"keep_columns must not repeat a column; got {keep}")
        if ALL in keep and len(keep) > 1:
            raise ValueError(f"keep_columns {ALL!r} copies every input column; give it "
                             f"alone, not with {[k for k in keep if k != ALL]}")
        return self


def check(ctx: SubmitContext[TransformSpec]) -> None:
    """Refuse a transform that cannot work (4xx, nothing started); pin its model."""
    from shipyard.jobs.kinds.bias import check_model_inputs, version_manifest

    check_instances(ctx, "a batch transform")
    if ctx.spec.job is not None:
        manifest = pin_job_model(ctx, ctx.spec.job, "used by a batch transform")
    else:
        pin_model(ctx)
        manifest = version_manifest(ctx)
    # The version is pinned and its schema known: a column the model reads that it lacks
    # is a 400 now, not a job that fails at its first chunk (a user trial).
    check_model_inputs(ctx, manifest, CHANNEL)
    data = ctx.stored["inputs"][CHANNEL]
    rec = ctx.datasets.version(data["dataset"], data["version"])
    columns = [str(col["name"]) for col in rec.schema]
    ctx.stored["keep_columns"] = keep = _kept(ctx.spec.keep_columns, columns)
    for name in keep:
        if name not in columns:
            raise InvalidRequest(
                f"keep_columns: {data['dataset']}:{data['version']} has no column "
                f"{name!r}; its columns are {columns}.")
        if name == "prediction" or name.startswith("probability."):
            raise InvalidRequest(
                f"keep_columns: {name!r} would clash with the model's output columns; "
                "rename it in the dataset first.")


def _kept(keep: list[str] | None, columns: list[str]) -> list[str]:
    """The input columns the output carries, pinned at submit: ``*`` is every one, and
    no choice is the caller's id column when the input has it (an endpoint's answer
    carries it too), so predictions can be joined back to their rows."""
    if keep is None:
        return [ID_COLUMN] if ID_COLUMN in columns else []
    return list(columns) if keep == [ALL] else list(keep)


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {"model": model_ref(stored),
                          "keep_columns": list(stored.get("keep_columns") or []),
                          "chunk_rows": stored.get("chunk_rows") or DEFAULT_CHUNK_ROWS,
                          "instances": stored.get("instances") or 1}}


def helpers(stored: Mapping[str, Any]) -> tuple[str, int] | None:
    """On Ray, the other instances' predictors start as the job launches (they import
    the ML libraries while the job's input is staged; the job loads its model into them)."""
    instances = int(stored.get("instances") or 1)
    return ("shipyard.jobs.kinds._transform_ray:Predictor", instances - 1) \
        if instances > 1 else None


register(JobKind(
    name="transform", spec=TransformSpec,
    summary="A registered model version predicts over a dataset, in chunks (batch transform).",
    entry="shipyard.jobs.kinds._transform_entry:main", check=check, configs=configs,
    stage=model_files, warm=True, helpers=helpers,
))
