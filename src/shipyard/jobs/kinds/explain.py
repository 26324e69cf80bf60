"""Kind ``explain``: SHAP values of a model version over a dataset's rows (docs/explain.md).

The model version is pinned like a transform's; the entry,
:func:`shipyard.explanations._job.main`, explains a seeded sample of ``rows`` rows
(exact TreeSHAP for tree models, KernelSHAP otherwise) over the raw input columns and
writes ``output/report.json`` and ``output/report.html`` (global importance, a
beeswarm, waterfalls of ``local_rows`` rows, partial dependence of the top
features). The registry summarises the report on the version's card.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase, check_model_ref
from shipyard.jobs.kinds._common import model_files, model_ref
from shipyard.jobs.kinds.bias import CHANNEL, pin_predictor

#: The settings written for the entry (``shipyard.explanations._job`` reads this name).
CONFIG_NAME = "explain.json"
#: Rows a job explains at most.
MAX_ROWS = 100_000


class ExplainSpec(JobSpecBase):
    """``model`` "group:version" over ``inputs.dataset``: ``rows`` explained, a few shown."""

    kind: Literal["explain"]
    model: str | None = Field(default=None, max_length=300)
    rows: int = Field(default=1000, ge=1, le=MAX_ROWS)
    local_rows: int = Field(default=5, ge=0, le=50)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> ExplainSpec:
        check_model_ref(self.model, "explain")
        if set(self.inputs) != {CHANNEL}:
            raise ValueError("an explain job reads one input channel named 'dataset' "
                             "(e.g. inputs: {\"dataset\": \"churn\"})")
        if self.outputs:
            raise ValueError("an explain job writes a report, not datasets; drop 'outputs'")
        return self


def check(ctx: SubmitContext[ExplainSpec]) -> None:
    """Refuse an explain job that cannot work (4xx, nothing started); pin its model."""
    pin_predictor(ctx, "SHAP explanations are for models that predict a label or a number")


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {"model": model_ref(stored), "rows": stored.get("rows") or 1000,
                          "local_rows": stored.get("local_rows", 5),
                          "seed": stored.get("seed") or 0,
                          "dataset": stored["inputs"][CHANNEL]}}


register(JobKind(
    name="explain", spec=ExplainSpec,
    summary="SHAP values of a model over a dataset's rows: global importance, local "
            "explanations, partial dependence.",
    entry="shipyard.explanations._job:main", check=check, configs=configs, stage=model_files,
    warm=True,
))
