"""The task registry: every task has a case here (a new task without one fails), each checks
and normalises its answers, and a bad answer is a 400 naming what was wrong."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.errors import InvalidRequest
from shipyard.labeling import TASKS
from shipyard.labeling._tasks import check_inside, check_labels, gold_agrees, parse_gold, task

LABELS = ["PER", "ORG", "LOC"]
TEXT = "Ada Lovelace met Babbage in London."

#: task → (a good answer, its normalised form, a bad answer and words of its error).
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = {
    "text_classification": ({"label": "ORG"}, {"label": "ORG"}, {"label": "X"},
                            "'X' is not one of this job's labels: PER, ORG, LOC"),
    "text_multilabel": ({"labels": ["LOC", "PER", "LOC"]}, {"labels": ["PER", "LOC"]},
                        {"labels": "PER"}, "must be a list"),
    "text_spans": ({"spans": [{"start": 28, "end": 34, "label": "LOC"},
                              {"start": 0, "end": 12, "label": "PER"}]},
                   {"spans": [{"start": 0, "end": 12, "label": "PER"},
                              {"start": 28, "end": 34, "label": "LOC"}]},
                   {"spans": [{"start": 30, "end": 99, "label": "LOC"}]}, "<= 35"),
    "image_classification": ({"label": "PER"}, {"label": "PER"}, {}, 'is {"label"'),
    "image_boxes": ({"boxes": [{"x": 1, "y": 2, "width": 3, "height": 4, "label": "PER"}]},
                    {"boxes": [{"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0,
                                "label": "PER"}]},
                    {"boxes": [{"x": 1, "y": 2, "width": 0, "height": 4, "label": "PER"}]},
                    "is empty"),
    "tabular_classification": ({"label": "LOC"}, {"label": "LOC"}, {"label": 3},
                               "3 is not one of"),
}


def test_every_task_has_a_case() -> None:
    assert set(CASES) == set(TASKS), f"tasks without a case: {set(TASKS) - set(CASES)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_answers_are_checked_and_normalised(name: str) -> None:
    good, normal, bad, words = CASES[name]
    the_task = task(name)
    assert the_task.check(good, LABELS, TEXT) == normal
    with pytest.raises(InvalidRequest) as err:
        the_task.check(bad, LABELS, TEXT)
    assert words in err.value.message


def test_every_task_can_be_created() -> None:
    assert [t.name for t in TASKS.values() if not t.available] == []


def test_boxes_must_stay_inside_the_image() -> None:
    inside = {"boxes": [{"x": 0, "y": 2.5, "width": 32, "height": 29.5, "label": "PER"}]}
    assert check_inside(inside, 32, 32) == inside
    for box in ({"x": 1, "y": 0, "width": 32, "height": 4}, {"x": 0, "y": 30, "width": 1,
                                                             "height": 3}):
        with pytest.raises(InvalidRequest) as err:
            check_inside({"boxes": [{**box, "label": "PER"}]}, 32, 32)
        assert "Box 0" in err.value.message and "32 × 32" in err.value.message


def test_unknown_task_suggests_the_closest() -> None:
    with pytest.raises(InvalidRequest, match="Did you mean 'text_spans'"):
        task("text_span")


@pytest.mark.parametrize(("labels", "words"), [
    ([], "needs labels"), ("a,b", "needs labels"), (["a", "a"], "given twice"),
    (["a", ""], "not a short name"), (["x" * 65], "not a short name"),
    ([f"l{i}" for i in range(101)], "at most 100"), (["a", 1], "not a short name"),
])
def test_bad_labels(labels: Any, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        check_labels(labels)


def test_gold_values_become_answers() -> None:
    assert parse_gold(task("text_classification"), "ORG", LABELS, "g") == {"label": "ORG"}
    assert parse_gold(task("text_multilabel"), "LOC, PER", LABELS, "g") == {
        "labels": ["PER", "LOC"]}
    # Spans are a JSON list, checked against the item's text and normalised (sorted).
    spans = '[{"start": 6, "end": 9, "label": "LOC"}, {"start": 0, "end": 5, "label": "PER"}]'
    assert parse_gold(task("text_spans"), spans, LABELS, "g", "Alice met Bob") == {
        "spans": [{"start": 0, "end": 5, "label": "PER"}, {"start": 6, "end": 9, "label": "LOC"}]}
    with pytest.raises(InvalidRequest, match="g: the label is not JSON"):
        parse_gold(task("text_spans"), "x", LABELS, "g", "Alice")
    with pytest.raises(InvalidRequest, match=r"g: Span 0 \[0, 9\) must have"):
        parse_gold(task("text_spans"), '[{"start": 0, "end": 9, "label": "PER"}]', LABELS,
                   "g", "Alice")
    with pytest.raises(InvalidRequest, match="JSON text"):
        parse_gold(task("image_boxes"), None, LABELS, "g")


def test_gold_boxes_agree_by_overlap_one_to_one() -> None:
    def box(x: float, y: float, w: float, h: float, label: str = "PER") -> dict[str, Any]:
        return {"x": x, "y": y, "width": w, "height": h, "label": label}

    gold = {"boxes": [box(0, 0, 10, 10), box(20, 0, 10, 10, "LOC")]}
    near = {"boxes": [box(21, 1, 10, 10, "LOC"), box(1, 0, 10, 10)]}  # any order
    assert gold_agrees(gold, near)
    assert not gold_agrees(gold, {"boxes": [box(0, 0, 10, 10), box(20, 0, 10, 10)]})  # label
    assert not gold_agrees(gold, {"boxes": [box(0, 0, 10, 10)]})  # one gold box missed
    assert not gold_agrees(gold, {"boxes": [*near["boxes"], box(50, 50, 5, 5)]})  # extra
    assert not gold_agrees(gold, {"boxes": [box(5, 5, 10, 10), box(20, 0, 10, 10, "LOC")]})
    # Two answer boxes on one gold box do not count for the other gold box.
    twins = {"boxes": [box(0, 0, 10, 10), box(0, 0, 10, 10)]}
    assert not gold_agrees({"boxes": [box(0, 0, 10, 10), box(0, 0, 9, 9)]}, {"boxes": [
        box(0, 0, 10, 10), box(40, 40, 5, 5)]})
    assert gold_agrees({"boxes": [box(0, 0, 10, 10), box(0, 0, 9, 9)]}, twins)
    assert gold_agrees({"label": "PER"}, {"label": "PER"})
    assert not gold_agrees({"label": "PER"}, {"label": "LOC"})
