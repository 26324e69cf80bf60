"""Kind ``autolabel``: a model trained on a labeling job's human labels so far labels the
items it is sure of and orders the rest for people (docs/labeling.md, "Auto-labeling").

The labeling service submits it (a job with ``--auto-label``, after K human-labeled items
and again as labels grow); it can be submitted by hand too: ``{"kind": "autolabel",
"labeling_job": "reviews"}``. Submit time pins everything a retry must see unchanged: the
labeled dataset version (input channel ``items``), the consolidated human labels of the
complete items (a JSON blob, staged as ``input/labels/labels.json``) and, for an image
task, every image of the manifest (staged as ``input/images/<sha256>``). The entry
(:mod:`._autolabel_entry`) writes JSON and Parquet only, which is what the server reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._package import StagedFile
from shipyard.jobs._spec import JobSpecBase
from shipyard.jobs.kinds._autolabel_entry import (
    CHANNEL,
    CONFIG_NAME,
    IMAGES_DIR,
    LABELS_FILE,
    TEXT_FEATURES,
)
from shipyard.labeling._tasks import AUTO_LABEL_TASKS

#: Human-labeled items a model needs at least (the threshold is chosen on them).
MIN_HUMAN_LABELS = 10


class AutolabelSpec(JobSpecBase):
    """``labeling_job``; the accuracy the machine labels must reach on held-out labels."""

    kind: Literal["autolabel"]
    labeling_job: str = Field(min_length=1, max_length=128)
    target_accuracy: float = Field(default=0.9, gt=0.5, le=1.0)
    #: Held-out items the chosen threshold must hold over, at least.
    min_support: int = Field(default=20, ge=5, le=10_000)
    folds: int = Field(default=5, ge=2, le=10)
    #: A text task's features: word 1–2-grams, with character 2–5-grams (slower; a little
    #: more accurate on short reviews) and/or VADER's sentiment scores, and/or
    #: all-MiniLM-L6-v2 sentence embeddings (the ``text`` extra; docs/labeling.md).
    text_features: Literal["words", "words+chars", "words+sentiment",
                           "words+chars+sentiment", "embeddings",
                           "words+chars+sentiment+embeddings"] = TEXT_FEATURES
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> AutolabelSpec:
        if self.inputs or self.outputs:
            raise ValueError("an autolabel job reads its labeling job's dataset and labels "
                             "itself; drop 'inputs' and 'outputs'")
        return self


def check(ctx: SubmitContext[AutolabelSpec]) -> None:
    """Refuse a labeling job a model cannot label (4xx); pin its items, labels and images."""
    from shipyard.labeling._export import human_labels
    from shipyard.store import LabelingRepository

    spec = ctx.spec
    repo = LabelingRepository(ctx.models.db, ctx.models.events)
    job = repo.get(spec.labeling_job)  # NotFound → 404
    if job.task not in AUTO_LABEL_TASKS:
        raise InvalidRequest(f"Labeling job {job.name!r} is a {job.task} job; auto-labeling "
                             f"is for {', '.join(AUTO_LABEL_TASKS)}.")
    if job.task == "text_classification" and "embeddings" in spec.text_features:
        from shipyard.labeling._embeddings import check_available

        check_available(f"text_features {spec.text_features!r}")
    labels = human_labels(job, repo.answers(job.name))
    if len(labels) < MIN_HUMAN_LABELS or len(set(labels.values())) < 2:
        raise InvalidRequest(
            f"Labeling job {job.name!r} has {len(labels)} human-labeled item(s) with "
            f"{len(set(labels.values()))} different label(s); a model needs at least "
            f"{MIN_HUMAN_LABELS} and two different labels.")
    version = ctx.datasets.version(job.dataset, job.version)
    ctx.stored["inputs"] = {CHANNEL: {"dataset": version.dataset, "version": version.version,
                                      "content_hash": version.content_hash}}
    blob = ctx.artifacts.put_bytes(json.dumps(labels, sort_keys=True).encode())
    ctx.stored["labels"] = {"sha256": blob.sha256, "size": blob.size, "items": len(labels)}
    ctx.stored.update(task=job.task, column=job.column, classes=list(job.labels))
    ctx.stored["images"] = None
    if job.task == "image_classification":
        table = ctx.datasets.read_table(version.dataset, version.version)
        sizes = dict(zip(table.column("sha256").to_pylist(), table.column("bytes").to_pylist(),
                         strict=True))
        ctx.stored["images"] = [[sha, int(size)] for sha, size in sorted(sizes.items())]


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {k: stored.get(k) for k in (
        "labeling_job", "task", "column", "classes", "target_accuracy", "min_support",
        "folds", "seed", "text_features")}}


def stage(stored: Mapping[str, Any]) -> list[StagedFile]:
    labels = stored["labels"]
    files = [StagedFile(LABELS_FILE, labels["sha256"], int(labels["size"]),
                        f"The human labels of labeling job {stored['labeling_job']!r}")]
    files += [StagedFile(f"{IMAGES_DIR}/{sha}", sha, int(size), f"Image {sha[:12]}")
              for sha, size in stored.get("images") or []]
    return files


register(JobKind(
    name="autolabel", spec=AutolabelSpec,
    summary="Train on a labeling job's human labels; machine-label the items the model is "
            "sure of (held-out threshold) and order the rest by uncertainty.",
    entry="shipyard.jobs.kinds._autolabel_entry:main", check=check, configs=configs,
    stage=stage, warm=True,
))
