"""Kind ``bias``: the bias metrics of a dataset version, and of a model on it (docs/bias.md).

Pre-training metrics (class imbalance, label proportions and distances between the
facet's groups) need only the dataset; with ``model`` the model version is pinned
like a transform's and the post-training metrics (the model's predictions per group)
are computed too. The entry, :func:`shipyard.fairness._job.main`, writes
``output/report.json`` and ``output/report.html``; when a model was given, the
registry summarises the report on that version's card (:mod:`shipyard.registry._reports`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase, check_model_ref
from shipyard.jobs.kinds._common import (
    model_files,
    model_label,
    model_ref,
    pin_job_model,
    pin_model,
)

#: The channel the rows come in on.
CHANNEL = "dataset"
#: The settings written for the entry (``shipyard.fairness._job`` reads this name).
CONFIG_NAME = "bias.json"

Value = str | int | float | bool


class BiasSpec(JobSpecBase):
    """``inputs.dataset``; the label and what counts as positive; the facet; a model."""

    kind: Literal["bias"]
    label: str = Field(min_length=1, max_length=300)
    #: The label values that count as the positive outcome (or ``label_threshold``).
    positive: list[Value] | None = Field(default=None, max_length=1000)
    #: A numeric label is positive above this value.
    label_threshold: float | None = None
    facet: str = Field(min_length=1, max_length=300)
    #: The facet values that make the disadvantaged group (none: each value in turn).
    facet_values: list[Value] | None = Field(default=None, max_length=1000)
    #: A numeric facet's disadvantaged group is above this value.
    facet_threshold: float | None = None
    #: The column that conditions CDDL and CDDPL (strata such as an age band).
    group: str | None = Field(default=None, min_length=1, max_length=300)
    model: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _consistent(self) -> BiasSpec:
        if set(self.inputs) != {CHANNEL}:
            raise ValueError("a bias job reads one input channel named 'dataset' "
                             "(e.g. inputs: {\"dataset\": \"churn\"})")
        if self.outputs:
            raise ValueError("a bias job writes a report, not datasets; drop 'outputs'")
        if (self.positive is None) == (self.label_threshold is None):
            raise ValueError("say what a positive label is: 'positive' (the label values, "
                             "e.g. [\"yes\"]) or 'label_threshold' (a number: above it is "
                             "positive), one of the two")
        if self.positive is not None and not self.positive:
            raise ValueError("'positive' lists at least one label value")
        if self.facet_values is not None and self.facet_threshold is not None:
            raise ValueError("the facet's group is 'facet_values' or 'facet_threshold', "
                             "not both")
        if self.facet_values is not None and not self.facet_values:
            raise ValueError("'facet_values' lists at least one value (or leave it out to "
                             "measure each value of the facet in turn)")
        named = [self.label, self.facet] + ([self.group] if self.group else [])
        if len(set(named)) != len(named):
            raise ValueError(f"the label, facet and group must be different columns; got "
                             f"{named}")
        if self.model is not None:
            check_model_ref(self.model, "bias")
        return self


def columns_of(ctx: SubmitContext[Any], channel: str = CHANNEL) -> list[str]:
    data = ctx.stored["inputs"][channel]
    rec = ctx.datasets.version(data["dataset"], data["version"])
    return [str(col["name"]) for col in rec.schema]


def check_columns(ctx: SubmitContext[Any], wanted: Mapping[str, str | None]) -> None:
    """Every named column is in the dataset version (400 naming it and the columns)."""
    columns = columns_of(ctx)
    data = ctx.stored["inputs"][CHANNEL]
    for role, name in wanted.items():
        if name is not None and name not in columns:
            raise InvalidRequest(
                f"The {role} column {name!r} is not in {data['dataset']}:{data['version']}; "
                f"its columns are {columns}.")


def check(ctx: SubmitContext[BiasSpec]) -> None:
    """Refuse a bias job that cannot work (4xx, nothing started); pin its model."""
    spec = ctx.spec
    check_columns(ctx, {"label": spec.label, "facet": spec.facet, "group": spec.group})
    if spec.model is not None:
        manifest = pin_predictor(ctx, "post-training bias needs a model that predicts the "
                                      "label")
        task = manifest.get("task")
        if task == "regression" and spec.label_threshold is None:
            raise InvalidRequest(
                f"Model {spec.model} predicts a number; say which predictions count as "
                "positive with label_threshold (--positive '>VALUE' on the CLI).")
        classes = [str(c) for c in manifest.get("classes") or []]
        if task == "classification" and classes and spec.positive is not None:
            wanted = set().union(*(_forms(v) for v in spec.positive))
            if not wanted & {c.lower() for c in classes}:
                raise InvalidRequest(
                    f"Model {spec.model} predicts {classes[:10]}, none of which is a positive "
                    f"value {spec.positive}; give the positive outcome as the model names it.")
    _check_values(ctx)


def _check_values(ctx: SubmitContext[BiasSpec]) -> None:
    """A positive label value or a facet value that matches no row (``'Yes'`` where the
    label holds ``'yes'``), or a facet threshold that leaves one side empty, is a 400, as
    the job would refuse it once started. The rules run on the distinct values of the two
    columns (most frequent first, over the rows where both hold one), which the dataset
    service counts reading only those columns: cheap for a version of any size. A side
    of a facet split is empty over the rows exactly when it is over their values."""
    import pandas as pd

    from shipyard.fairness._config import BiasConfig, facet_splits, positive_mask
    from shipyard.fairness._report import check_sides

    spec = ctx.spec
    data = ctx.stored["inputs"][CHANNEL]
    config = BiasConfig.from_dict({k: ctx.stored.get(k) for k in (
        "label", "positive", "label_threshold", "facet", "facet_values", "facet_threshold",
        "group")})
    counts = ctx.datasets.value_counts(data["dataset"], data["version"],
                                       [spec.label, spec.facet])

    def values(column: str) -> pd.Series:
        return counts[column].column(column).to_pandas() if column in counts else \
            pd.Series([], dtype=object)

    labels = values(spec.label)
    if labels.empty:
        return  # no row holds both: the job says so, with the counts
    if config.binary:
        positive_mask(labels, config)
    for split in facet_splits(values(spec.facet), config):
        check_sides(split, config)


_TRUE_FORMS = frozenset({"true", "yes", "1", "1.0", "t", "y"})
_FALSE_FORMS = frozenset({"false", "no", "0", "0.0", "f", "n"})


def _forms(value: Any) -> set[str]:
    """How a positive value may read as a class name: ``1.0`` → "1"; a true/false word
    → every spelling of it (a bool label's classes are "False" and "True")."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().lower()
    for words in (_TRUE_FORMS, _FALSE_FORMS):
        if text in words:
            return set(words)
    return {text}


def pin_predictor(ctx: SubmitContext[Any], purpose: str, *, channel: str = CHANNEL,
                  job: str | None = None) -> dict[str, Any]:
    """Pin the spec's model (with ``job``: the model that job saved, see
    :func:`pin_job_model`); refuse one that predicts neither a label nor a number, or
    whose inputs the dataset of input ``channel`` lacks; return its MODEL.json."""
    if job is not None:
        manifest = pin_job_model(ctx, job, use=f"used by {ctx.spec.kind} jobs")
    else:
        pin_model(ctx)
        manifest = version_manifest(ctx)
    task = manifest.get("task")
    if task not in (None, "classification", "regression"):
        raise InvalidRequest(f"{model_label(ctx.stored, start=True)} is a {task} model; "
                             f"{purpose} "
                             "(classification or regression).")
    check_model_inputs(ctx, manifest, channel)
    return manifest


def version_manifest(ctx: SubmitContext[Any]) -> dict[str, Any]:
    """The MODEL.json of the model version :func:`pin_model` pinned."""
    model = ctx.stored["model"]
    version = ctx.models.get(model["group"], int(model["version"]))
    return dict((version.bundle or {}).get("manifest") or {})


def check_model_inputs(ctx: SubmitContext[Any], manifest: Mapping[str, Any],
                       channel: str = CHANNEL) -> None:
    """The dataset of input ``channel`` holds every column the model needs (a 400 now, not
    a failed job)."""
    columns = set(columns_of(ctx, channel))
    needed = [str(e["name"]) for e in manifest.get("input_signature") or []
              if e.get("required", True)]
    missing = [n for n in needed if n not in columns]
    if missing:
        data = ctx.stored["inputs"][channel]
        raise InvalidRequest(
            f"{data['dataset']}:{data['version']} lacks the column(s) {missing[:5]} that "
            f"{model_label(ctx.stored)} reads; use a dataset with the model's inputs.")


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {
        "label": stored["label"], "positive": stored.get("positive"),
        "label_threshold": stored.get("label_threshold"), "facet": stored["facet"],
        "facet_values": stored.get("facet_values"),
        "facet_threshold": stored.get("facet_threshold"), "group": stored.get("group"),
        "model": model_ref(stored) if stored.get("model") else None,
        "dataset": stored["inputs"][CHANNEL]}}


def stage(stored: Mapping[str, Any]) -> list[Any]:
    return model_files(stored) if stored.get("model") else []


register(JobKind(
    name="bias", spec=BiasSpec,
    summary="Bias metrics of a dataset's label across a facet's groups, and of a model's "
            "predictions when one is given.",
    entry="shipyard.fairness._job:main", check=check, configs=configs, stage=stage, warm=True,
))
