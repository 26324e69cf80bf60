"""Auto-labeling a labeling job: when to train a model, what to do with what it says.

A labeling job created with ``auto_label`` gets an ``autolabel`` job (a model trained on
the human labels, ``shipyard.jobs.kinds.autolabel``) once ``after`` items are labeled by
people (complete: N answers each), and again each time that count has grown by half
since the last one; never two at once (:class:`~shipyard.store.AutolabelRepository`).
When the model's job completes, its outputs (JSON and Parquet, nothing unpickled) are
checked and written on the items: machine labels on the items nobody touched, a random
audit sample of them back to people first, the rest of the queue in the model's
uncertainty order.

Accuracy is reported two ways: the model's *estimate* (out-of-fold accuracy of the human
labels at or above the chosen threshold), and the *measured* accuracy of the machine
labels on the audit items people have labeled since.
"""

from __future__ import annotations

import io
import json
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.labeling._export import human_labels
from shipyard.labeling._tasks import AUTO_LABEL_TASKS
from shipyard.store import (
    AssignmentRecord,
    AutolabelRepository,
    AutolabelRun,
    Database,
    EventLog,
    LabelingJobRecord,
    MachineItem,
    utcnow,
)

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.jobs import JobService
    from shipyard.store import EventRecord

log = logging.getLogger("shipyard.labeling")

DEFAULT_AFTER = 100
DEFAULT_TARGET_ACCURACY = 0.9
#: A new model is trained when the human labels have grown by this share since the last.
GROWTH = 0.5
#: A text job's auto-label features (the ``autolabel`` job's ``text_features``): TF-IDF
#: words and characters, VADER sentiment, all-MiniLM-L6-v2 embeddings (the text extra).
TEXT_FEATURES = ("words", "words+chars", "words+sentiment", "words+chars+sentiment",
                 "embeddings", "words+chars+sentiment+embeddings")
MIN_AFTER, MAX_AFTER = 10, 1_000_000
#: The audit sample: this share of the machine labels (at least ``MIN_AUDIT``) goes to people.
AUDIT_SHARE, MIN_AUDIT = 0.05, 5
#: A run still ``Submitting`` after this long was left by a server that stopped.
STALE_SUBMIT_SECONDS = 300
#: The outputs of an ``autolabel`` job the server reads (``_autolabel_entry``'s names).
SUMMARY, MACHINE, UNCERTAIN = ("output/autolabel.json", "output/machine_labels.parquet",
                               "output/uncertain.parquet")


def check_config(task: str, after: int, target_accuracy: float, num_items: int,
                 features: str | None = None) -> dict[str, Any]:
    """The stored auto-label settings, or a 400 naming what is wrong.

    ``features``: a text job's ``text_features`` (None: the autolabel job's default);
    embeddings are refused at once when the text extra is not installed.
    """
    if task not in AUTO_LABEL_TASKS:
        raise InvalidRequest(f"Auto-labeling (auto_label) is for the one-label tasks "
                             f"{', '.join(AUTO_LABEL_TASKS)}; task {task!r} cannot be "
                             "auto-labeled. Create the job without auto_label.")
    if isinstance(after, bool) or not MIN_AFTER <= after <= MAX_AFTER:
        raise InvalidRequest(f"auto_label_after (K, the human-labeled items before the first "
                             f"model) must be {MIN_AFTER} to {MAX_AFTER:,}; got {after}.")
    if after >= num_items:
        raise InvalidRequest(f"auto_label_after is {after:,}, but the dataset has only "
                             f"{num_items:,} items; a model would never be trained. Use a "
                             "smaller K.")
    if not (isinstance(target_accuracy, int | float) and 0.5 < target_accuracy <= 1.0):
        raise InvalidRequest(f"target_accuracy must be above 0.5 and at most 1; got "
                             f"{target_accuracy}.")
    config: dict[str, Any] = {"after": int(after), "target_accuracy": float(target_accuracy),
                              "growth": GROWTH}
    if features is not None:
        if task != "text_classification":
            raise InvalidRequest(f"auto_label_features chooses a text model's features; "
                                 f"task {task!r} has no text. Leave it out.")
        if features not in TEXT_FEATURES:
            raise InvalidRequest(f"auto_label_features must be one of "
                                 f"{', '.join(TEXT_FEATURES)}; got {features!r}.")
        if "embeddings" in features:
            from shipyard.labeling._embeddings import check_available

            check_available(f"auto_label_features {features!r}")
        config["features"] = features
    return config


@dataclass(frozen=True)
class AuditFigures:
    """The machine labels people checked: how many were sampled, answered, right."""

    sampled: int
    answered: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


@dataclass(frozen=True)
class AutoLabelStatus:
    after: int
    target_accuracy: float
    #: Human-labeled items at which the next model is trained (None: one is running).
    next_at: int | None
    runs: list[AutolabelRun]
    #: Items whose label is the machine's (no complete human answer), and their share.
    machine_labeled: int
    machine_share: float
    #: The last model's out-of-fold estimate of its machine labels' accuracy.
    estimated_accuracy: float | None
    threshold: float | None
    audit: AuditFigures


class AutoLabeler:
    """Starts auto-label jobs and applies their results (see the module docstring)."""

    def __init__(self, db: Database, events: EventLog, jobs: JobService,
                 artifacts: ArtifactStore) -> None:
        self.repo = AutolabelRepository(db, events)
        self.jobs = jobs
        self.artifacts = artifacts

    # -- starting models -------------------------------------------------------------------
    def next_at(self, job: LabelingJobRecord, runs: list[AutolabelRun]) -> int | None:
        config = job.auto_label_config or {}
        if any(r.status in ("Submitting", "Running") for r in runs):
            return None
        if not runs:
            return int(config.get("after", DEFAULT_AFTER))
        last = runs[-1].human_labels
        return max(last + 1, math.ceil(last * (1 + float(config.get("growth", GROWTH)))))

    def maybe_start(self, job: LabelingJobRecord, human_labeled: int) -> str | None:
        """Submit the next model's job when it is due; its id, or None."""
        if not job.auto_label or job.status != "Running":
            return None
        due = self.next_at(job, self.catch_up(self.repo.runs(job.name)))
        if due is None or human_labeled < due:
            return None
        seq = self.repo.claim(job.name, human_labeled)
        if seq is None:
            return None
        config = job.auto_label_config or {}
        body = {"kind": "autolabel", "labeling_job": job.name,
                "target_accuracy": float(config.get("target_accuracy",
                                                    DEFAULT_TARGET_ACCURACY)),
                "name": f"autolabel-{job.name}-{seq}"[:128], "tags": {"labeling_job": job.name}}
        if config.get("features"):
            body["text_features"] = config["features"]
        try:
            model_job, _ = self.jobs.submit(body, job.created_by,
                                            idempotency_key=f"labeling:{job.name}:{seq}")
        except ShipyardError as exc:
            self.repo.failed(job.name, seq, exc.message)
            log.warning("auto-label job of %s not submitted: %s", job.name, exc.message)
            return None
        self.repo.started(job.name, seq, model_job.id)
        return model_job.id

    def catch_up(self, runs: list[AutolabelRun]) -> list[AutolabelRun]:
        """Settle an active run whose end no event delivered (the server was down when its
        job ended, or stopped between claiming a run and submitting its job), so one lost
        event never blocks auto-labeling; the runs as they are now."""
        from shipyard.jobs import TERMINAL

        active = next((r for r in runs if r.status in ("Submitting", "Running")), None)
        if active is None:
            return runs
        age = (utcnow() - active.created_at).total_seconds()
        if active.status == "Submitting" and age > STALE_SUBMIT_SECONDS:
            self.repo.failed(active.job, active.seq, "The server stopped while submitting "
                                                     "the model's job.")
        elif active.model_job and self.jobs.get(active.model_job).status in TERMINAL:
            try:
                self.finish(active)
            except ShipyardError as exc:
                self.repo.failed(active.job, active.seq, exc.message)
        else:
            return runs
        return self.repo.runs(active.job)

    # -- applying results ------------------------------------------------------------------
    def on_job_event(self, event: EventRecord) -> None:
        """Dispatcher callback: an auto-label job ended; apply its result or record why not."""
        from shipyard.jobs import TERMINAL

        if event.payload.get("status") not in TERMINAL:
            return
        run = self.repo.run_of(event.resource_id)
        if run is None or run.status != "Running":
            return
        try:
            self.finish(run)
        except ShipyardError as exc:
            self.repo.failed(run.job, run.seq, exc.message)

    def finish(self, run: AutolabelRun) -> None:
        """Read the completed job's outputs and write them on the items.

        Raises:
            InvalidRequest: the job did not complete, or its outputs are not as expected.
        """
        import pyarrow.parquet as pq

        from shipyard.store import LabelingRepository

        model_job = self.jobs.get(str(run.model_job))
        if model_job.status != "Completed":
            raise InvalidRequest(f"Job {model_job.id} ended {model_job.status}: "
                                 f"{model_job.message or model_job.reason or 'no reason'}.")
        files = {f["path"]: f for f in (model_job.outputs or {}).get("files") or []}
        missing = [p for p in (SUMMARY, MACHINE, UNCERTAIN) if p not in files]
        if missing:
            raise InvalidRequest(f"Job {model_job.id} left no {', '.join(missing)}.")
        summary = json.loads(self.artifacts.read_bytes(files[SUMMARY]["sha256"]))
        machine = pq.read_table(io.BytesIO(self.artifacts.read_bytes(files[MACHINE]["sha256"])))
        order = pq.read_table(io.BytesIO(self.artifacts.read_bytes(files[UNCERTAIN]["sha256"])))
        job = LabelingRepository(self.repo.db, self.repo.events).get(run.job)
        labels = _machine_labels(machine.to_pydict(), job)
        self.repo.apply(job.name, run.seq, labels,
                        [str(i) for i in order.column("item").to_pylist()],
                        {k: summary.get(k) for k in (
                            "threshold", "estimated_accuracy", "machine_labeled", "human_labels",
                            "model", "seconds", "target_accuracy")},
                        audit_share=AUDIT_SHARE, min_audit=MIN_AUDIT)

    # -- reading ---------------------------------------------------------------------------
    def status(self, job: LabelingJobRecord, answers: list[AssignmentRecord],
               total: int) -> AutoLabelStatus:
        runs = self.repo.runs(job.name)
        machine = self.repo.machine_items(job.name)
        n = job.annotators_per_item
        labeled = [m for m in machine if m.answers < n]
        human = human_labels(job, answers)
        audited = [m for m in machine if m.audit]
        checked = [m for m in audited if m.item in human]
        done = [r for r in runs if r.status == "Completed" and r.summary]
        last = done[-1].summary if done else {}
        config = job.auto_label_config or {}
        return AutoLabelStatus(
            after=int(config.get("after", DEFAULT_AFTER)),
            target_accuracy=float(config.get("target_accuracy", DEFAULT_TARGET_ACCURACY)),
            next_at=self.next_at(job, runs), runs=runs, machine_labeled=len(labeled),
            machine_share=len(labeled) / total if total else 0.0,
            estimated_accuracy=(last or {}).get("estimated_accuracy"),
            threshold=(last or {}).get("threshold"),
            audit=AuditFigures(len(audited), len(checked),
                               sum(human[m.item] == m.label for m in checked)))

    def machine_items(self, job: LabelingJobRecord) -> list[MachineItem]:
        """Items whose label is the machine's: a machine label and no complete human answer."""
        return [m for m in self.repo.machine_items(job.name)
                if m.answers < job.annotators_per_item]


def _machine_labels(columns: dict[str, list[Any]], job: LabelingJobRecord
                    ) -> list[tuple[str, str, float]]:
    """Check the job's machine labels: known items, labels of the job, confidences in [0, 1]."""
    out = []
    for item, label, conf in zip(columns.get("item", []), columns.get("label", []),
                                 columns.get("confidence", []), strict=True):
        if not (isinstance(item, str) and item.isdigit() and int(item) < job.num_items):
            raise InvalidRequest(f"The model labeled an unknown item {str(item)[:40]!r}.")
        if label not in job.labels:
            raise InvalidRequest(f"The model gave item {item} the label {str(label)[:70]!r}, "
                                 "which is not one of the job's.")
        if not (isinstance(conf, float) and 0.0 <= conf <= 1.0):
            raise InvalidRequest(f"The model's confidence for item {item} is not in [0, 1].")
        out.append((item, str(label), float(conf)))
    return out
