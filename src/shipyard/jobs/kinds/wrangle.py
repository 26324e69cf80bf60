"""Kind ``wrangle``: a SQL query or a feature recipe that writes one dataset (docs/catalog.md).

Submit time checks the query (one read-only SELECT) or the recipe and pins the
catalog tables the query reads; the entry (:mod:`._wrangle_entry`) runs it in the
SQL sandbox inside the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase
from shipyard.jobs.kinds._wrangle_entry import CONFIG_NAME

MAX_SQL_CHARS = 1_000_000
#: What ``plan_wrangle`` pins into the stored spec, written to ``wrangle.json``.
PLANNED_FIELDS = ("sql", "recipe", "target", "tables", "allowed_directories", "filesystems")


class WrangleSpec(JobSpecBase):
    """Exactly one of ``sql`` or ``recipe``, and one output dataset."""

    kind: Literal["wrangle"]
    sql: str | None = Field(default=None, max_length=MAX_SQL_CHARS)
    recipe: dict[str, Any] | None = None
    target: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _consistent(self) -> WrangleSpec:
        if (self.sql is None) == (self.recipe is None):
            raise ValueError("a wrangle job needs exactly one of 'sql' (a SELECT over its "
                             "inputs and catalog tables) or 'recipe' (feature recipe steps)")
        if len(self.outputs) != 1:
            raise ValueError("a wrangle job writes exactly one output dataset; got "
                             f"{len(self.outputs)}")
        if self.recipe is not None and len(self.inputs) != 1:
            raise ValueError("a recipe wrangle job reads exactly one input channel (e.g. "
                             "inputs: {\"raw\": \"churn\"})")
        if self.sql is not None and self.target is not None:
            raise ValueError("'target' is for a recipe (the column its steps keep aside)")
        return self


def check(ctx: SubmitContext[WrangleSpec]) -> None:
    from shipyard.catalog import plan_wrangle

    plan_wrangle(ctx.spec, ctx.stored, ctx.catalog, ctx.datasets)


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {"output": stored["outputs"][0],
                          **{k: stored.get(k) for k in PLANNED_FIELDS}}}


register(JobKind(
    name="wrangle", spec=WrangleSpec,
    summary="A SQL query over datasets and catalog tables, or a feature recipe, into a dataset.",
    entry="shipyard.jobs.kinds._wrangle_entry:main", check=check, configs=configs,
))
