"""Export: a labeling job's answers consolidated into a table ready for a training job.

Only complete items (N answers) are exported. The consolidation itself is the labeling
core's (``shipyard.labeling._consolidate``: Dawid–Skene or majority for one label,
label-by-label votes for several, token votes for spans); this module gathers the
answers into the core's frames and joins the result back to the items' own columns, so
the output trains with target ``label``.

Columns: ``item`` (the row number, as text), the item's own columns (a text task's text
column; a row task's whole row; a column named like one below gets the prefix ``row_``),
``label`` (spans and boxes: a JSON list), ``confidence``, ``source`` (``human``, or
``machine`` for an auto-labeled item no human completed), ``annotators`` and ``answers``
(JSON lists, in the same order; ``[]`` on a machine row).

Boxes are exported one row per image, never one per box: a detection training job reads
an image with all its objects at once (as COCO and YOLO label files hold them), and an
image where the annotators agreed there is nothing keeps its row, with ``[]``: dropping
it would lose the negatives a detector learns "background" from. ``label`` is the JSON
list of ``{x, y, width, height, label, confidence, support}`` (pixels, top-left origin)
and the item's own columns are its manifest row (``path``, ``sha256``, ``width``…; the
manifest's folder ``label`` becomes ``row_label``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from shipyard.errors import InvalidRequest
from shipyard.labeling._consolidate import (
    consolidate_classes,
    consolidate_multilabel,
    consolidate_spans,
)
from shipyard.labeling._items import ItemReader
from shipyard.labeling._regions import consolidate_boxes
from shipyard.labeling._tasks import task
from shipyard.store import AssignmentRecord, LabelingJobRecord, MachineItem

#: The columns an export adds; an item column with one of these names is renamed ``row_…``.
OUTPUT_COLUMNS = ("item", "label", "confidence", "source", "annotators", "answers")
METHODS = ("dawid_skene", "majority")


def complete_answers(job: LabelingJobRecord, answers: list[AssignmentRecord]
                     ) -> dict[str, list[AssignmentRecord]]:
    """The answers of each item with the job's N answers, by item, in item order."""
    by_item: dict[str, list[AssignmentRecord]] = defaultdict(list)
    for a in answers:
        by_item[a.item].append(a)
    return {k: v for k, v in by_item.items() if len(v) >= job.annotators_per_item}


def consolidate(job: LabelingJobRecord, items: dict[str, list[AssignmentRecord]],
                texts: Callable[[], dict[str, str]], method: str
                ) -> dict[str, tuple[str, float | None]]:
    """item → (label as the output writes it, confidence)."""
    import pandas as pd

    kind = task(job.task).answer
    rows = [(a.item, a.annotator, a.answer or {}) for group in items.values() for a in group]
    if kind == "label":
        frame = pd.DataFrame([(i, n, ans["label"]) for i, n, ans in rows],
                             columns=["item", "annotator", "label"])
        out = consolidate_classes(frame, job.labels, method=method)
        return {str(r.item): (str(r.label), float(r.confidence)) for r in out.itertuples()}
    if kind == "labels":
        frame = pd.DataFrame([(i, n, list(ans["labels"])) for i, n, ans in rows],
                             columns=["item", "annotator", "labels"])
        out = consolidate_multilabel(frame, job.labels)
        return {str(r.item): (",".join(r.labels), float(r.confidence))
                for r in out.itertuples()}
    if kind == "spans":
        frame = pd.DataFrame([(i, n, s["start"], s["end"], s["label"]) for i, n, ans in rows
                              for s in ans["spans"]],
                             columns=["item", "annotator", "start", "end", "label"])
        voted = consolidate_spans(frame, texts(), {k: len(v) for k, v in items.items()})
        spans: dict[str, list[dict[str, Any]]] = {k: [] for k in items}
        for r in voted.itertuples():
            spans[str(r.item)].append({"start": int(r.start), "end": int(r.end),
                                       "label": str(r.label),
                                       "confidence": round(float(r.confidence), 4)})
        return {k: (json.dumps(v), (sum(s["confidence"] for s in v) / len(v)) if v else None)
                for k, v in spans.items()}
    if kind == "boxes":
        return _boxes(items, rows)
    raise InvalidRequest(f"Task {job.task!r} cannot be exported yet.")


def _boxes(items: dict[str, list[AssignmentRecord]],
           rows: list[tuple[str, str, dict[str, Any]]]) -> dict[str, tuple[str, float | None]]:
    """Each item's consolidated boxes as one JSON list (see the module doc for why)."""
    import pandas as pd

    frame = pd.DataFrame([(i, n, b["label"], b["x"], b["y"], b["width"], b["height"])
                          for i, n, ans in rows for b in ans["boxes"]],
                         columns=["item", "annotator", "label", "x", "y", "width", "height"])
    voted = consolidate_boxes(frame, annotators_per_item={k: len(v) for k, v in items.items()})
    boxes: dict[str, list[dict[str, Any]]] = {k: [] for k in items}
    for r in voted.itertuples():
        boxes[str(r.item)].append({
            "x": round(float(r.x), 2), "y": round(float(r.y), 2),
            "width": round(float(r.width), 2), "height": round(float(r.height), 2),
            "label": str(r.label), "confidence": round(float(r.confidence), 4),
            "support": int(r.support)})
    return {k: (json.dumps(v), (sum(b["confidence"] for b in v) / len(v)) if v else None)
            for k, v in boxes.items()}


def human_labels(job: LabelingJobRecord, answers: list[AssignmentRecord],
                 method: str = "dawid_skene") -> dict[str, str]:
    """item → the consolidated human label of each complete item (one-label tasks)."""
    items = complete_answers(job, answers)
    if not items:
        return {}
    return {k: label for k, (label, _) in consolidate(job, items, dict, method).items()}


def build_table(job: LabelingJobRecord, answers: list[AssignmentRecord], reader: ItemReader,
                method: str, machine: Sequence[MachineItem] = ()) -> pa.Table:
    """The export table of ``job``: its complete items, and the items whose label is the
    machine's (``machine``: a machine label and no complete human answer; a human answer
    always wins). Machine rows have no annotators nor answers (``[]``).

    Raises:
        InvalidRequest: an unknown method, or no complete item (nor machine label) yet.
    """
    if method not in METHODS:
        raise InvalidRequest(f"Unknown consolidation method {method!r}; choose one of: "
                             f"{', '.join(METHODS)}.")
    items = complete_answers(job, answers)
    by_machine = {m.item: m for m in machine if m.item not in items}
    if not items and not by_machine:
        raise InvalidRequest(
            f"Labeling job {job.name!r} has no complete item yet (an item is complete with "
            f"{job.annotators_per_item} answer(s)); `shipyard labeling status {job.name}` "
            "shows how far it is.")
    position = {k: v[0].position for k, v in items.items()}
    position.update({k: m.position for k, m in by_machine.items()})
    order = sorted(position, key=position.__getitem__)
    positions = [position[k] for k in order]

    def texts() -> dict[str, str]:
        got = reader.texts(job.dataset, job.version, str(job.column), positions)
        return dict(zip(order, got, strict=True))

    voted = consolidate(job, items, texts, method) if items else {}
    voted.update({k: (m.label, m.confidence) for k, m in by_machine.items()})
    if task(job.task).source == "text" and job.column is not None:
        own = reader.table(job.dataset, job.version, job.column).take(
            pa.array(positions, type=pa.int64()))
    else:
        own = reader.rows(job.dataset, job.version, positions)
    own = own.rename_columns([f"row_{c}" if c in OUTPUT_COLUMNS else c
                              for c in own.column_names])
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"item": pa.array(order, pa.string())}
    for name in own.column_names:
        columns[name] = own.column(name)
    columns["label"] = pa.array([voted[k][0] for k in order], pa.string())
    columns["confidence"] = pa.array([voted[k][1] for k in order], pa.float64())
    columns["source"] = pa.array(["human" if k in items else "machine" for k in order],
                                 pa.string())
    columns["annotators"] = pa.array([json.dumps([a.annotator for a in items.get(k, [])])
                                      for k in order], pa.string())
    columns["answers"] = pa.array([json.dumps([a.answer for a in items.get(k, [])])
                                   for k in order], pa.string())
    return pa.table(columns)
