"""The labeling service: create jobs over a pinned dataset version, serve items to
annotators, take their answers, report status and export the consolidated labels.

Who may do what: ``write`` creates and stops jobs and exports them; ``read`` sees jobs
and their status; ``label`` fetches, answers and skips items of the jobs a token may
work on (a job's ``workforce`` names them; empty: every annotator), and undoes its own
latest answers and skips. A job an annotator may not work on answers 404, as if it did
not exist, so a queue list reveals nothing.
An annotator sees its own items and answers only, never another's nor the consolidated
labels.
"""

from __future__ import annotations

import builtins
import logging
import math
import shutil
import statistics
import tempfile
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.datasets import IMAGE_MEDIA_TYPES, DatasetService, is_files, parse_ref
from shipyard.errors import InvalidRequest, NotFound
from shipyard.labeling._agreement import fleiss_kappa, per_label_agreement
from shipyard.labeling._autolabel_service import (
    DEFAULT_AFTER,
    DEFAULT_TARGET_ACCURACY,
    AutoLabeler,
    AutoLabelStatus,
    check_config,
)
from shipyard.labeling._export import build_table
from shipyard.labeling._items import ItemReader
from shipyard.labeling._tasks import (
    AUTO_LABEL_TASKS,
    TASKS,
    Task,
    check_inside,
    check_labels,
    gold_agrees,
    parse_gold,
    task,
)
from shipyard.names import check_name, names_hint
from shipyard.references import Referrer
from shipyard.store import (
    AssignmentRecord,
    Database,
    EventLog,
    ItemCounts,
    LabelingJobRecord,
    LabelingRepository,
    NewItem,
    NewLabelingJob,
    VersionRecord,
    canonical_hash,
)
from shipyard.tokens import Principal

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.artifacts import ArtifactStore
    from shipyard.jobs import JobService
    from shipyard.store import EventRecord

log = logging.getLogger("shipyard.labeling")

MAX_ANNOTATORS_PER_ITEM = 20
DEFAULT_LEASE_SECONDS = 600
MAX_INSTRUCTIONS = 20_000
#: The columns a gold dataset must have: the item (row number) and its known label.
GOLD_COLUMNS = ("item", "label")


@dataclass(frozen=True)
class LabelingSpec:
    """What ``labeling create`` asks for; checked all at once by :meth:`LabelingService.create`."""

    name: str
    dataset: str
    task: str
    labels: list[str]
    column: str | None = None
    instructions: str | None = None
    annotators_per_item: int = 1
    gold: str | None = None
    auto_label: bool = False
    workforce: list[str] = field(default_factory=list)
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    #: K: complete human-labeled items before the first auto-label model.
    auto_label_after: int = DEFAULT_AFTER
    #: The accuracy machine labels must reach on held-out human labels.
    target_accuracy: float = DEFAULT_TARGET_ACCURACY
    #: A text job's auto-label features (None: the autolabel job's default).
    auto_label_features: str | None = None


@dataclass(frozen=True)
class ItemView:
    """One item as an annotator sees it: the job's question and the item's content."""

    job: LabelingJobRecord
    assignment: AssignmentRecord
    content: dict[str, Any]


@dataclass(frozen=True)
class AnnotatorStats:
    name: str
    answered: int
    gold_answered: int
    gold_accuracy: float | None
    median_seconds: float | None


@dataclass(frozen=True)
class LabelingStatus:
    job: LabelingJobRecord
    counts: ItemCounts
    label_counts: dict[str, int]
    #: Fleiss' kappa over items with two answers or more (None: not measured).
    agreement: float | None
    #: Each label's kappa against the rest (None where undefined).
    label_agreement: dict[str, float | None]
    agreement_note: str
    annotators: list[AnnotatorStats]
    #: Auto-labeling's figures (None: the job does not auto-label).
    auto_label: AutoLabelStatus | None = None


@dataclass(frozen=True)
class Progress:
    """One annotator's own progress in one job."""

    job: LabelingJobRecord
    answered: int
    median_seconds: float | None
    holding: str | None


def _strings(schema: Mapping[str, pa.DataType]) -> list[str]:
    """The text columns of ``schema``, in order."""
    return [c for c, t in schema.items() if pa.types.is_string(t) or pa.types.is_large_string(t)]


def _tasks_of(source: str) -> str:
    """The names of the tasks whose items come from ``source``: "a, b or c"."""
    names = [n for n, t in TASKS.items() if t.source == source]
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


def _schema_fields(schema: pa.Schema) -> dict[str, pa.DataType]:
    return {f.name: f.type for f in schema}


class LabelingService:
    def __init__(self, db: Database, events: EventLog, datasets: DatasetService,
                 jobs: JobService | None = None, artifacts: ArtifactStore | None = None
                 ) -> None:
        """``jobs`` and ``artifacts``: what auto-labeling submits its model's job to and
        reads its outputs from (without them, ``auto_label`` is refused)."""
        self.repo = LabelingRepository(db, events)
        self.datasets = datasets
        self.items = ItemReader(datasets)
        self.auto = (AutoLabeler(db, events, jobs, artifacts)
                     if jobs is not None and artifacts is not None else None)

    # -- managing jobs (write / read) ------------------------------------------------------
    def create(self, spec: LabelingSpec, actor: str | None) -> LabelingJobRecord:
        """Check ``spec`` against the dataset and store the job with one item per row."""
        return self.create_once(spec, actor)[0]

    def create_once(self, spec: LabelingSpec, actor: str | None,
                    idempotency_key: str | None = None) -> tuple[LabelingJobRecord, bool]:
        """:meth:`create` under an ``Idempotency-Key``: ``(job, created?)``; the same key and
        spec answer the job it made, another spec under the key is a 409.

        Raises:
            InvalidRequest: an unknown task, no labels, a bad column, bad gold rows, a task
                or option not built yet; each names what was wrong.
            NotFound: the dataset (or gold dataset) does not exist.
        """
        check_name(spec.name, "labeling job name")
        the_task = task(spec.task)
        if not the_task.available:
            raise InvalidRequest(f"Task {the_task.name!r} cannot be created yet: "
                                 f"{the_task.why_not}")
        labels = check_labels(spec.labels)
        if spec.auto_label and the_task.name not in AUTO_LABEL_TASKS:
            # Raises at once, naming the task; the other settings are checked below.
            check_config(the_task.name, spec.auto_label_after, spec.target_accuracy, 0)
        if spec.auto_label and self.auto is None:
            raise InvalidRequest("This labeling service runs no jobs, so it cannot "
                                 "auto-label; create the job without auto_label.")
        if not 1 <= spec.annotators_per_item <= MAX_ANNOTATORS_PER_ITEM:
            raise InvalidRequest(f"annotators_per_item must be 1 to {MAX_ANNOTATORS_PER_ITEM}; "
                                 f"got {spec.annotators_per_item}.")
        if not 1 <= spec.lease_seconds <= 86_400:
            raise InvalidRequest(f"lease_seconds must be 1 to 86400; got {spec.lease_seconds}.")
        if spec.instructions is not None and len(spec.instructions) > MAX_INSTRUCTIONS:
            raise InvalidRequest(f"Instructions are at most {MAX_INSTRUCTIONS:,} characters; "
                                 f"got {len(spec.instructions):,}.")
        workforce = [check_name(w, "token name in the workforce") for w in spec.workforce]
        name, number = parse_ref(spec.dataset)
        version = self.datasets.version(name, number)
        column = self._check_column(the_task, spec.column, version)
        gold, gold_ref = self._gold(spec.gold, the_task, labels, (version, column))
        if spec.auto_label_features is not None and not spec.auto_label:
            raise InvalidRequest("auto_label_features chooses the auto-label model's features; "
                                 "add auto_label, or leave it out.")
        auto_config = (check_config(the_task.name, spec.auto_label_after, spec.target_accuracy,
                                    version.num_rows, spec.auto_label_features)
                       if spec.auto_label else None)
        job = NewLabelingJob(
            name=spec.name, task=the_task.name, labels=labels, dataset=version.dataset,
            version=version.version, column=column, instructions=spec.instructions,
            annotators_per_item=spec.annotators_per_item, gold=gold_ref,
            auto_label=spec.auto_label, workforce=workforce, lease_seconds=spec.lease_seconds,
            auto_label_config=auto_config)
        items = (NewItem(str(i), i, gold.get(str(i))) for i in range(version.num_rows))
        keyed = (idempotency_key, canonical_hash(asdict(spec))) if idempotency_key else None
        return self.repo.create(job, items, actor, idempotency=keyed)

    def _check_column(self, the_task: Task, column: str | None,
                      version: VersionRecord) -> str | None:
        schema = _schema_fields(self.datasets.head(version.dataset, version.version, 0).schema)
        where = f"dataset {version.dataset}:{version.version}"
        files = is_files(version)
        if the_task.source == "image" and not files:
            text = (f"; column {column!r} holds text: label it with a text task "
                    f"({_tasks_of('text')})" if column in _strings(schema) else "")
            raise InvalidRequest(
                f"Task {the_task.name!r} needs a dataset of image files (a files manifest, "
                f"made by `shipyard datasets create NAME --files DIR`); {where} is a table "
                f"with columns {', '.join(list(schema)[:10])}{text}.")
        if the_task.source == "text" and files:
            # Every string of a files manifest (path, sha256, format, folder label) describes
            # an image: labelling it as text would label file names, never the pictures.
            what = (f"Column {column!r} of {where} holds image files, not text"
                    if column in schema else f"Task {the_task.name!r} labels text, but "
                    f"{where} holds image files")
            raise InvalidRequest(
                f"{what} (the dataset is a files manifest, made by `shipyard datasets create "
                f"NAME --files DIR`); label its images with an image task: "
                f"{_tasks_of('image')}.")
        if the_task.source != "text":
            if column is not None and column not in schema:
                raise InvalidRequest(f"Column {column!r} is not in {where}; "
                                     f"{names_hint(column, schema, 'column')}.")
            return column
        strings = _strings(schema)
        if column is None:
            raise InvalidRequest(f"Task {the_task.name!r} needs the text column (--column, "
                                 f"column); the text columns of {where} are "
                                 f"{', '.join(map(repr, strings)) or 'none'}.")
        if column not in schema:
            raise InvalidRequest(f"Column {column!r} is not in {where}; "
                                 f"{names_hint(column, schema, 'column')}.")
        if column not in strings:
            raise InvalidRequest(f"Column {column!r} of {where} is {schema[column]}, not text; "
                                 f"the text columns are {', '.join(map(repr, strings)) or 'none'}.")
        return column

    def _gold_answer(self, the_task: Task, label: object, labels: list[str], where: str,
                     target: tuple[VersionRecord, str | None], position: int) -> dict[str, Any]:
        """One gold row's answer, checked as an annotator's would be: spans against the
        item's text, boxes against its image's size."""
        version, column = target
        text = None
        if the_task.answer == "spans":
            text = self.items.text(version.dataset, version.version, str(column), position)
        answer = parse_gold(the_task, label, labels, where, text)
        if the_task.answer == "boxes":
            row = self.items.row(version.dataset, version.version, position)
            try:
                answer = check_inside(answer, int(row["width"]), int(row["height"]))
            except InvalidRequest as exc:
                raise InvalidRequest(f"{where}: {exc}") from None
        return answer

    def _gold(self, ref: str | None, the_task: Task, labels: list[str],
              target: tuple[VersionRecord, str | None]
              ) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        """Gold answers by item, and the reference the job records (None: no gold).

        ``target``: the labelled version and the text column (spans are checked against
        the item's text, boxes against its image)."""
        if ref is None:
            return {}, None
        name, number = parse_ref(ref)
        version = self.datasets.version(name, number)
        table = self.datasets.read_table(version.dataset, version.version)
        where = f"Gold dataset {version.dataset}:{version.version}"
        missing = [c for c in GOLD_COLUMNS if c not in table.column_names]
        if missing:
            raise InvalidRequest(f"{where} needs the columns 'item' (the row number of the "
                                 "labelled dataset) and 'label' (its known label); it has no "
                                 f"{', '.join(map(repr, missing))} "
                                 f"({names_hint(missing[0], table.column_names, 'column')}).")
        gold: dict[str, dict[str, Any]] = {}
        num_rows = target[0].num_rows
        for i, (item, label) in enumerate(zip(table.column("item").to_pylist(),
                                              table.column("label").to_pylist(), strict=True)):
            key = str(item).strip() if item is not None else ""
            if not key.isdigit() or int(key) >= num_rows:
                raise InvalidRequest(f"{where}, row {i}: item {item!r} is not a row number of "
                                     f"the labelled dataset (0 to {num_rows - 1}).")
            gold[str(int(key))] = self._gold_answer(the_task, label, labels,
                                                    f"{where}, row {i}", target, int(key))
        return gold, {"dataset": version.dataset, "version": version.version,
                      "items": len(gold)}

    def list(self, who: Principal | None = None) -> list[LabelingJobRecord]:
        """Every job, or (``who`` given) the jobs ``who`` may label in."""
        jobs = self.repo.list()
        return jobs if who is None else [j for j in jobs if self.may_label(j, who)]

    def get(self, name: str) -> LabelingJobRecord:
        return self.repo.get(check_name(name, "labeling job name"))

    def referrers(self, dataset: str) -> builtins.list[Referrer]:
        """The labeling jobs that read ``dataset`` (its items, or its gold answers): a
        delete would leave their items without content."""
        out = []
        for job in self.repo.list():
            if job.dataset == dataset:
                out.append(Referrer("labeling job", job.name, f"labels version {job.version}"))
            elif job.gold and job.gold.get("dataset") == dataset:
                out.append(Referrer("labeling job", job.name, "its gold answers"))
        return out

    def stop(self, name: str, actor: str | None) -> LabelingJobRecord:
        return self.repo.stop(check_name(name, "labeling job name"), actor)

    # -- annotators (label) ----------------------------------------------------------------
    @staticmethod
    def may_label(job: LabelingJobRecord, who: Principal) -> bool:
        if not who.can("label"):
            return False
        return who.can("admin") or not job.workforce or who.name in job.workforce

    def _job_for(self, name: str, who: Principal) -> LabelingJobRecord:
        job = self.get(name)
        if not self.may_label(job, who):
            raise NotFound(f"No labeling job named {name!r} that token {who.name!r} may "
                           "label in; GET /api/v1/labeling-queues lists them.")
        return job

    def content(self, job: LabelingJobRecord, position: int) -> dict[str, Any]:
        """What an annotator sees of an item: its text, its whole row, or its image (the
        manifest row and the URL its bytes come from, for this job and item only)."""
        source = task(job.task).source
        if job.column is not None and source == "text":
            return {"text": self.items.text(job.dataset, job.version, job.column, position)}
        row = self.items.row(job.dataset, job.version, position)
        if source == "image":
            url = f"/api/v1/labeling-jobs/{quote(job.name, safe='')}/items/{position}/image"
            return {"image": {"sha256": row["sha256"], "width": row["width"],
                              "height": row["height"], "path": row["path"], "url": url}}
        return {"row": row}

    def image(self, name: str, item: str, who: Principal) -> tuple[str, int, str]:
        """``(sha256, size, media type)`` of the image of an item ``who`` holds or answered.

        Raises:
            NotFound: as :meth:`item` (not held nor answered by ``who``), or a job that is
                not an image task.
        """
        view = self.item(name, item, who)
        if task(view.job.task).source != "image":
            raise NotFound(f"Labeling job {name!r} is a {view.job.task} job; its items have "
                           "no image.")
        row = self.items.row(view.job.dataset, view.job.version, view.assignment.position)
        return (str(row["sha256"]), int(row["bytes"]), IMAGE_MEDIA_TYPES[str(row["format"])])

    def next(self, name: str, who: Principal) -> ItemView | None:
        """Lease the next item for ``who`` (None: nothing left for it, or the job stopped)."""
        job = self._job_for(name, who)
        got = self.repo.next(job.name, who.name)
        if got is None:
            return None
        return ItemView(job, got, self.content(job, got.position))

    def item(self, name: str, item: str, who: Principal) -> ItemView:
        """An item ``who`` holds or answered, with its own answer; 404 for any other."""
        job = self._job_for(name, who)
        mine = self.repo.assignment(job.name, item, who.name)
        if mine is None or mine.status not in ("leased", "answered"):
            raise NotFound(f"Token {who.name!r} holds no item {item!r} in labeling job "
                           f"{name!r}; GET …/next gives it one.")
        return ItemView(job, mine, self.content(job, mine.position))

    def answer(self, name: str, item: str, who: Principal,
               body: Mapping[str, Any]) -> tuple[AssignmentRecord, bool]:
        """Check and store ``who``'s answer to an item it holds; ``(record, stored now?)``."""
        job = self._job_for(name, who)
        the_task = task(job.task)
        # Spans are checked against the item's text, boxes against its image's size.
        position = self._held(job, item, who) if the_task.answer in ("spans", "boxes") else 0
        text = None
        if the_task.answer == "spans":
            text = self.items.text(job.dataset, job.version, str(job.column), position)
        answer = the_task.check(body, job.labels, text)
        if the_task.answer == "boxes":
            row = self.items.row(job.dataset, job.version, position)
            answer = check_inside(answer, int(row["width"]), int(row["height"]))
        got = self.repo.answer(job.name, item, who.name, answer, agrees=gold_agrees)
        if got[1] and job.auto_label and self.auto is not None:
            self._auto_label(self.auto, job)
        return got

    def _auto_label(self, auto: AutoLabeler, job: LabelingJobRecord) -> None:
        """Start the auto-label model when it is due; an answer never fails because of it."""
        try:
            auto.maybe_start(job, self.repo.counts(job.name).complete)
        except Exception:  # noqa: BLE001 - logged; the answer itself is stored
            log.exception("starting the auto-label job of %s failed", job.name)

    def on_job_event(self, event: EventRecord) -> None:
        """Dispatcher callback (``job.status_changed``): apply an auto-label job's result."""
        if self.auto is not None:
            self.auto.on_job_event(event)

    def _held(self, job: LabelingJobRecord, item: str, who: Principal) -> int:
        """The position of an item ``who`` has an assignment to (404 otherwise)."""
        held = self.repo.assignment(job.name, item, who.name)
        if held is None:
            raise NotFound(f"Token {who.name!r} holds no item {item!r} in labeling job "
                           f"{job.name!r}; GET …/next gives it one.")
        return held.position

    def skip(self, name: str, item: str, who: Principal) -> AssignmentRecord:
        job = self._job_for(name, who)
        return self.repo.skip(job.name, item, who.name)

    def undo(self, name: str, who: Principal) -> ItemView:
        """Take back ``who``'s own latest answer or skip in the job; the item is its lease
        again, with the answer taken back as its ``answer`` (the pre-fill).

        Raises:
            Conflict: the job is stopped, ``who`` has nothing to undo, or the item it skipped
                has since gone to other annotators.
        """
        job = self._job_for(name, who)
        got = self.repo.undo(job.name, who.name)
        return ItemView(job, got, self.content(job, got.position))

    def undoable(self, name: str, who: Principal) -> bool:
        """Whether :meth:`undo` has something to take back now (a running job)."""
        job = self._job_for(name, who)
        return job.status == "Running" and self.repo.last(job.name, who.name) is not None

    def progress(self, name: str, who: Principal) -> Progress:
        job = self._job_for(name, who)
        mine = self.repo.answers(job.name, annotator=who.name)
        held = self.repo.held(job.name, who.name)
        seconds = [a.seconds for a in mine if a.seconds is not None]
        return Progress(job, len(mine), statistics.median(seconds) if seconds else None,
                        held.item if held else None)

    # -- status (read) ---------------------------------------------------------------------
    def status(self, name: str) -> LabelingStatus:
        job = self.get(name)
        counts = self.repo.counts(job.name)
        answers = self.repo.answers(job.name)
        labels: Counter[str] = Counter({label: 0 for label in job.labels})
        per: dict[str, list[AssignmentRecord]] = defaultdict(list)
        for a in answers:
            per[a.annotator].append(a)
            labels.update(_labels_of(a.answer or {}))
        stats = []
        for annotator in sorted(per):
            mine = per[annotator]
            gold = [a.correct for a in mine if a.correct is not None]
            seconds = [a.seconds for a in mine if a.seconds is not None]
            stats.append(AnnotatorStats(
                annotator, len(mine), len(gold),
                sum(gold) / len(gold) if gold else None,
                statistics.median(seconds) if seconds else None))
        kappa, per_label, note = _agreement(job, answers)
        auto = (self.auto.status(job, answers, counts.total)
                if job.auto_label and self.auto is not None else None)
        return LabelingStatus(job, counts, dict(labels), kappa, per_label, note, stats, auto)

    # -- export (write) --------------------------------------------------------------------
    def export(self, name: str, output: str, *, method: str = "dawid_skene",
               actor: str | None = None) -> VersionRecord:
        """Write the consolidated labels of the complete items as a new version of ``output``.

        Raises:
            InvalidRequest: no complete item yet, or an unknown method.
        """
        job = self.get(name)
        check_name(output, "dataset name")
        machine = self.auto.machine_items(job) if job.auto_label and self.auto else []
        table = build_table(job, self.repo.answers(job.name), self.items, method, machine)
        tmp_root = self.datasets.settings.tmp_dir
        tmp_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="labels-", dir=tmp_root))
        try:
            path = work / f"{job.name}-labels.parquet"
            pq.write_table(table, path)
            source = {"type": "labeling_job", "labeling_job": job.name, "task": job.task,
                      "method": method, "dataset": f"{job.dataset}:{job.version}",
                      "items": table.num_rows}
            return self.datasets.ingest(
                output, [(path.name, path)], mode="replace", format="parquet",
                source=source, actor=actor,
                description=f"Labels of labeling job {job.name!r} ({job.task}).")
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _labels_of(answer: Mapping[str, Any]) -> list[str]:
    if "label" in answer:
        return [answer["label"]]
    if "labels" in answer:
        return list(answer["labels"])
    return [r["label"] for r in answer.get("spans", answer.get("boxes", []))]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _agreement(job: LabelingJobRecord, answers: list[AssignmentRecord]
               ) -> tuple[float | None, dict[str, float | None], str]:
    """Fleiss' kappa over the items with two answers or more (one-label tasks only)."""
    if task(job.task).answer != "label":
        return None, {}, "Agreement is measured for one-label tasks only."
    import pandas as pd

    frame = pd.DataFrame([{"item": a.item, "annotator": a.annotator,
                           "label": (a.answer or {}).get("label")} for a in answers],
                         columns=["item", "annotator", "label"])
    frame = frame[frame.groupby("item")["annotator"].transform("count") >= 2]
    if frame.empty:
        return None, {}, "No item has two answers yet."
    per_label = {k: _finite(v) for k, v in per_label_agreement(frame, job.labels).items()}
    kappa = _finite(fleiss_kappa(frame, job.labels))
    items = frame["item"].nunique()
    if kappa is None:
        # Every answer so far is one label: chance alone would agree as often, so kappa
        # has no value. Said, rather than a note that promises a kappa and shows none.
        given = ", ".join(sorted({str(v) for v in frame["label"]}))
        return (None, per_label,
                f"Fleiss' kappa is not defined yet: every answer on the {items:,} items with "
                f"2+ answers is {given!r}, so the answers agree but chance would as well.")
    return kappa, per_label, f"Fleiss' kappa over {items:,} items with 2+ answers."
