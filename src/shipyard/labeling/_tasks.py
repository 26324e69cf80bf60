"""The labeling tasks: a registry of named tasks, each with what it shows and how it is answered.

A task says where an item's content comes from (a text column, the whole row, an image),
what an answer looks like, and how to check and normalise one. Answers are normalised
(labels in the job's order, spans sorted) so two equal answers compare equal: replays,
gold scoring and consolidation rely on it. Adding a task is one :func:`register` call;
``tests/labeling/test_tasks.py`` fails for a task without a case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shipyard.errors import InvalidRequest
from shipyard.names import did_you_mean

#: Where an item's content comes from.
Source = Literal["text", "row", "image"]
#: An answer body: ``{"label": …}``, ``{"labels": […]}``, ``{"spans": […]}``, ``{"boxes": […]}``.
Answer = dict[str, Any]
#: (answer body, the job's labels, the item's text or None) → the normalised answer.
Checker = Callable[[Mapping[str, Any], Sequence[str], str | None], Answer]

#: The tasks auto-labeling does: one label per item, a model per source (text, row, image).
AUTO_LABEL_TASKS = ("text_classification", "tabular_classification", "image_classification")
MAX_LABELS = 100
MAX_LABEL_LENGTH = 64
MAX_REGIONS = 500
#: A label is a short name: no comma (the CLI's --labels A,B,C), no control character.
_LABEL = re.compile(r"^[^,\x00-\x1f\x7f]{1,64}$")


@dataclass(frozen=True)
class Task:
    """One kind of labeling work."""

    name: str
    summary: str
    source: Source
    #: The key of the answer body (``label``, ``labels``, ``spans``, ``boxes``).
    answer: str
    check: Checker
    #: False for tasks whose items cannot exist yet (images need datasets of files).
    available: bool = True
    why_not: str = ""


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def task(name: str) -> Task:
    """The task called ``name``; a 400 naming it and the choices otherwise."""
    found = TASKS.get(name) if isinstance(name, str) else None
    if found is None:
        raise InvalidRequest(f"Unknown labeling task {name!r}.{did_you_mean(str(name), TASKS)} "
                             f"Choose one of: {', '.join(TASKS)}.")
    return found


def check_labels(labels: object) -> list[str]:
    """The job's labels: 1 to 100 unique short names, in the order given."""
    if not isinstance(labels, list | tuple) or not labels:
        raise InvalidRequest("A labeling job needs labels: give at least one, e.g. "
                             "--labels positive,negative (labels: [\"positive\", \"negative\"]).")
    if len(labels) > MAX_LABELS:
        raise InvalidRequest(f"A labeling job takes at most {MAX_LABELS} labels; got "
                             f"{len(labels)}.")
    out: list[str] = []
    for value in labels:
        if not isinstance(value, str) or not _LABEL.fullmatch(value) or not value.strip():
            raise InvalidRequest(
                f"Label {value!r} is not a short name: use 1-{MAX_LABEL_LENGTH} characters, "
                "without commas or control characters.")
        if value in out:
            raise InvalidRequest(f"Label {value!r} is given twice; labels must be unique.")
        out.append(value)
    return out


def _one_label(value: object, labels: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in labels:
        raise InvalidRequest(f"Label {value!r} is not one of this job's labels: "
                             f"{', '.join(labels)}.")
    return value


def _body(body: Mapping[str, Any], key: str, example: str) -> Any:
    if not isinstance(body, Mapping) or key not in body:
        raise InvalidRequest(f"An answer to this task is {example}; got {dict(body or {})!r}.")
    extra = sorted(set(body) - {key})
    if extra:
        raise InvalidRequest(f"Unknown answer field(s) {', '.join(extra)}; an answer to this "
                             f"task is {example}.")
    return body[key]


def _check_class(body: Mapping[str, Any], labels: Sequence[str], text: str | None) -> Answer:
    return {"label": _one_label(_body(body, "label", '{"label": "<one label>"}'), labels)}


def _check_multilabel(body: Mapping[str, Any], labels: Sequence[str],
                      text: str | None) -> Answer:
    chosen = _body(body, "labels", '{"labels": ["<label>", …]} (any subset, even none)')
    if not isinstance(chosen, list):
        raise InvalidRequest(f"'labels' must be a list of this job's labels; got {chosen!r}.")
    picked = {_one_label(v, labels) for v in chosen}
    return {"labels": [label for label in labels if label in picked]}


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{what} must be a whole number; got {value!r}.")
    return value


def _check_spans(body: Mapping[str, Any], labels: Sequence[str], text: str | None) -> Answer:
    spans = _body(body, "spans", '{"spans": [{"start": 0, "end": 5, "label": "<label>"}, …]}')
    if not isinstance(spans, list) or len(spans) > MAX_REGIONS:
        raise InvalidRequest(f"'spans' must be a list of at most {MAX_REGIONS} spans.")
    size = len(text or "")
    out = []
    for i, span in enumerate(spans):
        if not isinstance(span, Mapping) or set(span) != {"start", "end", "label"}:
            raise InvalidRequest(f"Span {i} must be {{start, end, label}}; got {span!r}.")
        start, end = _whole(span["start"], f"Span {i}'s start"), _whole(span["end"],
                                                                         f"Span {i}'s end")
        if not 0 <= start < end <= size:
            raise InvalidRequest(f"Span {i} [{start}, {end}) must have 0 <= start < end <= "
                                 f"{size} (the text's length in characters).")
        out.append({"start": start, "end": end, "label": _one_label(span["label"], labels)})
    out.sort(key=lambda s: (s["start"], s["end"], labels.index(s["label"])))
    return {"spans": out}


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidRequest(f"{what} must be a number of pixels, 0 or more; got {value!r}.")
    return float(value)


def _check_boxes(body: Mapping[str, Any], labels: Sequence[str], text: str | None) -> Answer:
    boxes = _body(body, "boxes", '{"boxes": [{"x", "y", "width", "height", "label"}, …]}')
    if not isinstance(boxes, list) or len(boxes) > MAX_REGIONS:
        raise InvalidRequest(f"'boxes' must be a list of at most {MAX_REGIONS} boxes.")
    out = []
    for i, box in enumerate(boxes):
        if not isinstance(box, Mapping) or set(box) != {"x", "y", "width", "height", "label"}:
            raise InvalidRequest(f"Box {i} must be {{x, y, width, height, label}}; got {box!r}.")
        x, y = _number(box["x"], f"Box {i}'s x"), _number(box["y"], f"Box {i}'s y")
        w, h = _number(box["width"], f"Box {i}'s width"), _number(box["height"],
                                                                  f"Box {i}'s height")
        if w == 0 or h == 0:
            raise InvalidRequest(f"Box {i} is empty (width and height must be above 0).")
        out.append({"x": x, "y": y, "width": w, "height": h,
                    "label": _one_label(box["label"], labels)})
    return {"boxes": out}


register(Task("text_classification", "one label per text", "text", "label", _check_class))
register(Task("text_multilabel", "any subset of the labels per text", "text", "labels",
              _check_multilabel))
register(Task("text_spans", "labelled character spans in a text (named entities)", "text",
              "spans", _check_spans))
register(Task("image_classification", "one label per image", "image", "label", _check_class))
register(Task("image_boxes", "labelled bounding boxes on an image", "image", "boxes",
              _check_boxes))
register(Task("tabular_classification", "one label per table row", "row", "label",
              _check_class))


def check_inside(answer: Answer, width: int, height: int) -> Answer:
    """``answer``'s boxes, each inside the ``width`` × ``height`` image (400 naming one that
    is not: a box off the image would train a detector on pixels that do not exist)."""
    for i, box in enumerate(answer.get("boxes", [])):
        if box["x"] + box["width"] > width or box["y"] + box["height"] > height:
            raise InvalidRequest(
                f"Box {i} ({box['x']:g}, {box['y']:g}, {box['width']:g} × {box['height']:g}) "
                f"goes outside the image, which is {width} × {height} pixels: keep x + width "
                f"<= {width} and y + height <= {height}.")
    return answer


#: Characters a gold row's JSON (spans or boxes) may have.
MAX_GOLD_JSON = 100_000
#: IoU at which an annotator's box counts as finding a gold box (PASCAL VOC's rule).
GOLD_IOU = 0.5


def parse_gold(task_: Task, value: object, labels: Sequence[str], where: str,
               text: str | None = None) -> Answer:
    """A gold row's known answer as an answer of ``task_`` (normalised like one).

    Gold answers are the ``label`` column: one label; for ``text_multilabel`` the labels
    joined by commas (empty: none of them); for spans and boxes a JSON list of them, as
    an answer holds them (``[{"start": 0, "end": 5, "label": "FOOD"}]``), checked like an
    answer (spans against the item's ``text``; the caller checks boxes against the image).
    """
    if task_.answer in ("spans", "boxes"):
        if not isinstance(value, str) or len(value) > MAX_GOLD_JSON:
            raise InvalidRequest(f"{where}: a gold {task_.answer[:-1]} list is JSON text of at "
                                 f"most {MAX_GOLD_JSON:,} characters; got {str(value)[:60]!r}.")
        try:
            regions = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{where}: the label is not JSON ({exc.msg}); give the "
                                 f"{task_.answer} as a JSON list, e.g. "
                                 f"{_GOLD_EXAMPLE[task_.answer]}.") from None
        try:
            return task_.check({task_.answer: regions}, labels, text)
        except InvalidRequest as exc:
            raise InvalidRequest(f"{where}: {exc}") from None
    if task_.answer == "label":
        if not isinstance(value, str) or value not in labels:
            raise InvalidRequest(f"{where}: label {value!r} is not one of this job's labels: "
                                 f"{', '.join(labels)}.")
        return {"label": value}
    if task_.answer == "labels":
        text = "" if value is None else str(value)
        parts = [p.strip() for p in text.split(",") if p.strip()]
        bad = [p for p in parts if p not in labels]
        if bad:
            raise InvalidRequest(f"{where}: label {bad[0]!r} is not one of this job's labels: "
                                 f"{', '.join(labels)}.")
        return {"labels": [label for label in labels if label in parts]}
    raise InvalidRequest(f"Task {task_.name!r} answers with {task_.answer}, which gold rows "
                         "cannot hold.")


_GOLD_EXAMPLE = {
    "spans": '[{"start": 0, "end": 5, "label": "FOOD"}]',
    "boxes": '[{"x": 10, "y": 8, "width": 36, "height": 30, "label": "car"}]',
}


def gold_agrees(gold: Answer, answer: Answer) -> bool:
    """Whether ``answer`` gets a gold item right (both normalised by the task's check).

    Labels and spans must be equal (spans: the same boundaries and labels, the exact
    match NER is scored by). Boxes: each gold box is found by its own answer box of the
    same label with IoU ≥ :data:`GOLD_IOU`, and no answer box is left over; boxes drawn
    by hand never land on the same pixel, so equality would score everyone wrong.
    """
    if "boxes" not in gold:
        return gold == answer
    want, got = gold["boxes"], answer.get("boxes", [])
    if len(want) != len(got):
        return False
    from shipyard.labeling._regions import iou

    def xywh(b: Mapping[str, Any]) -> tuple[float, float, float, float]:
        return (b["x"], b["y"], b["width"], b["height"])

    free = list(range(len(got)))
    # Greedy on the best IoU first: each gold box takes the free answer box it overlaps most.
    pairs = sorted(((iou(xywh(g), xywh(got[j])), i, j) for i, g in enumerate(want)
                    for j in range(len(got)) if got[j]["label"] == g["label"]), reverse=True)
    matched: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < GOLD_IOU:
            break
        if i not in matched and j in free:
            matched.add(i)
            free.remove(j)
    return len(matched) == len(want)
