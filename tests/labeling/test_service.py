"""LabelingService on a real SQLite file and PostgreSQL: create checks, the annotators'
queue, gold scoring, status and export of the review texts."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest

from shipyard.errors import Conflict, InvalidRequest, NotFound
from shipyard.labeling import LabelingSpec

from .conftest import ADMIN, DS, World, annotator


def _spec(**kw: object) -> LabelingSpec:
    base: dict[str, object] = dict(name="reviews", dataset="reviews", task="text_classification",
                                   labels=["great", "other"], column="review",
                                   annotators_per_item=2)
    base.update(kw)
    return LabelingSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "words"), [
    ({"task": "sentiment"}, ["Unknown labeling task 'sentiment'", "text_classification"]),
    ({"labels": []}, ["needs labels"]),
    ({"labels": ["a", "a"]}, ["'a' is given twice"]),
    ({"labels": ["a,b"]}, ["not a short name"]),
    ({"column": "revew"}, ["Column 'revew' is not in dataset reviews:1", "'review'"]),
    ({"column": "rownames"}, ["'rownames'", "not text", "'review'"]),
    ({"column": None}, ["needs the text column", "'review'"]),
    ({"task": "image_classification"}, ["needs a dataset of image files", "reviews:1 is a table"]),
    ({"task": "image_boxes"}, ["datasets create NAME --files DIR"]),
    ({"task": "image_classification", "column": "review"},
     ["reviews:1 is a table", "column 'review' holds text: label it with a text task "
      "(text_classification, text_multilabel or text_spans)"]),
    ({"auto_label": True, "task": "text_spans"}, ["'text_spans' cannot be auto-labeled"]),
    ({"auto_label": True}, ["runs no jobs, so it cannot auto-label"]),
    ({"annotators_per_item": 0}, ["annotators_per_item must be 1 to 20"]),
])
def test_bad_create_is_a_400_naming_it(world: World, change: dict, words: list[str]) -> None:
    with pytest.raises(InvalidRequest) as err:
        world.labeling.create(_spec(**change), "ds")
    for word in words:
        assert word in err.value.message
    assert err.value.http_status == 400
    assert world.labeling.list() == []


def test_unknown_dataset_is_a_404(world: World) -> None:
    with pytest.raises(NotFound):
        world.labeling.create(_spec(dataset="nope"), "ds")


def test_annotators_label_the_reviews(world: World) -> None:
    svc = world.labeling
    job = svc.create(_spec(instructions="Is the review great?"), "ds")
    assert (job.num_items, job.dataset, job.version, job.status) == (200, "reviews", 1, "Running")
    a, b, c = annotator("ann-a"), annotator("ann-b"), annotator("ann-c")
    va = svc.next("reviews", a)
    assert va is not None and va.assignment.item == "0"
    assert va.content["text"].startswith(str(world.datasets.head("reviews", 1, 1)
                                             .column("review")[0].as_py())[:20])
    vb = svc.next("reviews", b)
    assert vb is not None and vb.assignment.item == "0"
    vc = svc.next("reviews", c)
    assert vc is not None and vc.assignment.item == "1"  # item 0 has its two annotators
    with pytest.raises(InvalidRequest, match="'meh' is not one of this job's labels: great, "
                                             "other"):
        svc.answer("reviews", "0", a, {"label": "meh"})
    with pytest.raises(InvalidRequest, match="Unknown answer field"):
        svc.answer("reviews", "0", a, {"label": "great", "why": "x"})
    rec, stored = svc.answer("reviews", "0", a, {"label": "great"})
    assert stored and rec.answer == {"label": "great"}
    assert svc.answer("reviews", "0", a, {"label": "great"})[1] is False  # a replay
    # An annotator sees its own item and answer, never another's.
    assert svc.item("reviews", "0", a).assignment.answer == {"label": "great"}
    with pytest.raises(NotFound):
        svc.item("reviews", "1", a)  # c's lease
    with pytest.raises(Conflict, match="holds no lease"):
        svc.answer("reviews", "1", a, {"label": "great"})
    svc.skip("reviews", "1", c)
    again = svc.next("reviews", a)
    assert again is not None and again.assignment.item == "1"  # c's skip went back
    progress = svc.progress("reviews", a)
    assert (progress.answered, progress.holding) == (1, "1")
    assert [j.name for j in svc.list(a)] == ["reviews"]


def test_workforce_limits_who_sees_a_job(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(workforce=["ann-a"]), "ds")
    assert svc.next("reviews", annotator("ann-a")) is not None
    with pytest.raises(NotFound, match="may label in"):
        svc.next("reviews", annotator("ann-b"))
    assert svc.list(annotator("ann-b")) == []
    with pytest.raises(NotFound):
        svc.next("reviews", DS)  # a data-scientist does not label
    assert svc.next("reviews", ADMIN) is not None  # an admin may do anything


def test_gold_items_measure_accuracy(world: World) -> None:
    svc = world.labeling
    world.dataset("gold", pd.DataFrame({"item": [0, 1], "label": ["great", "other"]}))
    world.dataset("bad-gold", pd.DataFrame({"item": [0], "answer": ["great"]}))
    world.dataset("far-gold", pd.DataFrame({"item": [999], "label": ["great"]}))
    world.dataset("odd-gold", pd.DataFrame({"item": [0], "label": ["meh"]}))
    with pytest.raises(InvalidRequest, match="needs the columns 'item'"):
        svc.create(_spec(gold="bad-gold"), "ds")
    with pytest.raises(InvalidRequest, match="item 999 is not a row number"):
        svc.create(_spec(gold="far-gold"), "ds")
    with pytest.raises(InvalidRequest, match="'meh' is not one of this job's labels"):
        svc.create(_spec(gold="odd-gold"), "ds")
    job = svc.create(_spec(gold="gold:1", annotators_per_item=1), "ds")
    assert job.gold == {"dataset": "gold", "version": 1, "items": 2}
    a = annotator("ann-a")
    for label in ("great", "great", "other"):  # right, wrong, not gold
        view = svc.next("reviews", a)
        assert view is not None
        svc.answer("reviews", view.assignment.item, a, {"label": label})
    status = svc.status("reviews")
    (stats,) = status.annotators
    assert (stats.name, stats.answered, stats.gold_answered, stats.gold_accuracy) == (
        "ann-a", 3, 2, 0.5)
    assert stats.median_seconds is not None and stats.median_seconds >= 0
    assert status.label_counts == {"great": 2, "other": 1}
    assert (status.counts.total, status.counts.answered, status.counts.complete) == (200, 3, 3)


def test_gold_spans_are_checked_against_the_item_text_and_score_exactly(
        world: World, reviews_frame: pd.DataFrame) -> None:
    svc = world.labeling
    first = str(reviews_frame["review"][0])
    span = json.dumps([{"start": 0, "end": 4, "label": "FOOD"}])
    world.dataset("span-gold", pd.DataFrame({"item": [0], "label": [span]}))
    long = json.dumps([{"start": 0, "end": len(first) + 1, "label": "FOOD"}])
    world.dataset("long-gold", pd.DataFrame({"item": [0], "label": [long]}))
    spec = _spec(task="text_spans", labels=["FOOD", "BRAND"], annotators_per_item=1)
    with pytest.raises(InvalidRequest, match=r"long-gold:1, row 0: Span 0 .* \(the text's length"):
        svc.create(replace(spec, gold="long-gold"), "ds")
    svc.create(replace(spec, gold="span-gold"), "ds")
    a = annotator("ann-s")
    view = svc.next("reviews", a)
    while view is not None and view.assignment.item != "0":
        svc.skip("reviews", view.assignment.item, a)
        view = svc.next("reviews", a)
    assert view is not None
    svc.answer("reviews", "0", a, {"spans": [{"start": 0, "end": 4, "label": "FOOD"}]})
    (stats,) = svc.status("reviews").annotators
    assert (stats.gold_answered, stats.gold_accuracy) == (1, 1.0)


def test_undo_keeps_gold_accuracy_and_counts_right(world: World) -> None:
    svc = world.labeling
    world.dataset("gold", pd.DataFrame({"item": [0, 1], "label": ["great", "other"]}))
    svc.create(_spec(gold="gold:1", annotators_per_item=2), "ds")
    a, b = annotator("ann-a"), annotator("ann-b")
    assert not svc.undoable("reviews", a)
    for label in ("great", "great"):  # item 0 right, item 1 wrong
        view = svc.next("reviews", a)
        assert view is not None
        svc.answer("reviews", view.assignment.item, a, {"label": label})
    view = svc.next("reviews", b)
    assert view is not None and view.assignment.item == "0"
    svc.answer("reviews", "0", b, {"label": "other"})
    assert svc.status("reviews").annotators[0].gold_accuracy == 0.5
    # a takes back its wrong answer to item 1: the item is its lease again, pre-filled.
    back = svc.undo("reviews", a)
    assert (back.assignment.item, back.assignment.status, back.assignment.answer) == (
        "1", "leased", {"label": "great"})
    assert svc.item("reviews", "1", a).assignment.answer == {"label": "great"}
    st = svc.status("reviews")
    assert [(s.name, s.answered, s.gold_answered, s.gold_accuracy) for s in st.annotators] == [
        ("ann-a", 1, 1, 1.0), ("ann-b", 1, 1, 0.0)]
    assert (st.counts.answers, st.counts.answered, st.counts.complete, st.counts.leased) == (
        2, 1, 1, 1)
    assert st.label_counts == {"great": 1, "other": 1}
    assert svc.progress("reviews", a).answered == 1
    svc.answer("reviews", "1", a, {"label": "other"})
    (ann_a, ann_b) = svc.status("reviews").annotators
    assert (ann_a.answered, ann_a.gold_accuracy, ann_b.gold_accuracy) == (2, 1.0, 0.0)
    # b's undo takes back b's answer only; a's stay.
    assert svc.undo("reviews", b).assignment.item == "0"
    assert [x.annotator for x in svc.repo.answers("reviews")] == ["ann-a", "ann-a"]
    svc.stop("reviews", "ds")
    with pytest.raises(Conflict, match="cannot be undone"):
        svc.undo("reviews", a)
    assert not svc.undoable("reviews", a)
    with pytest.raises(NotFound):
        svc.undo("nope", a)


def test_multilabel_and_spans_answers_are_checked(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(name="tags", task="text_multilabel", labels=["price", "quality", "fit"]),
               "ds")
    a = annotator("ann-a")
    view = svc.next("tags", a)
    assert view is not None
    with pytest.raises(InvalidRequest, match="'size' is not one of"):
        svc.answer("tags", view.assignment.item, a, {"labels": ["size"]})
    rec, _ = svc.answer("tags", view.assignment.item, a, {"labels": ["fit", "price"]})
    assert rec.answer == {"labels": ["price", "fit"]}  # in the job's label order

    svc.create(_spec(name="ner", task="text_spans", labels=["PRODUCT", "BRAND"]), "ds")
    view = svc.next("ner", a)
    assert view is not None
    size = len(view.content["text"])
    with pytest.raises(InvalidRequest, match="start < end"):
        svc.answer("ner", view.assignment.item, a,
                   {"spans": [{"start": 0, "end": size + 1, "label": "BRAND"}]})
    with pytest.raises(InvalidRequest, match="'PERSON' is not one of"):
        svc.answer("ner", view.assignment.item, a,
                   {"spans": [{"start": 0, "end": 1, "label": "PERSON"}]})
    rec, _ = svc.answer("ner", view.assignment.item, a,
                        {"spans": [{"start": 2, "end": 4, "label": "BRAND"},
                                   {"start": 0, "end": 1, "label": "PRODUCT"}]})
    assert [s["start"] for s in rec.answer["spans"]] == [0, 2]


def test_tabular_items_show_the_whole_row(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(name="rows", task="tabular_classification", column=None), "ds")
    view = svc.next("rows", annotator("ann-a"))
    assert view is not None
    assert set(view.content["row"]) == {"rownames", "product", "review", "score"}


def test_stop_ends_assignments(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(), "ds")
    assert svc.stop("reviews", "ds").status == "Stopped"
    assert svc.next("reviews", annotator("ann-a")) is None


def test_export_with_no_complete_item_is_a_400(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(), "ds")
    with pytest.raises(InvalidRequest, match="no complete item"):
        svc.export("reviews", "reviews-labels", actor="ds")


def test_export_writes_a_training_ready_version(world: World, reviews_frame: pd.DataFrame
                                                ) -> None:
    svc = world.labeling
    svc.create(_spec(annotators_per_item=3), "ds")
    truth = reviews_frame["score"].tolist()
    people = [annotator(f"ann-{i}") for i in range(3)]
    for _ in range(10):
        for i, who in enumerate(people):
            view = svc.next("reviews", who)
            assert view is not None
            pos = view.assignment.position
            label = truth[pos] if i < 2 or pos % 2 else ("other" if truth[pos] == "great"
                                                          else "great")
            svc.answer("reviews", view.assignment.item, who, {"label": label})
    version = svc.export("reviews", "reviews-labels", actor="ds")
    table = world.datasets.read_table("reviews-labels", version.version).to_pandas()
    assert table.columns.tolist() == ["item", "review", "label", "confidence", "source",
                                      "annotators", "answers"]
    assert len(table) == 10
    assert table["label"].tolist() == truth[:10]  # two of three agree with the truth
    assert set(table["source"]) == {"human"}
    assert table["confidence"].between(0, 1).all()
    majority = svc.export("reviews", "reviews-labels", method="majority", actor="ds")
    assert majority.version == version.version + 1
    with pytest.raises(InvalidRequest, match="Unknown consolidation method"):
        svc.export("reviews", "reviews-labels", method="vote", actor="ds")


def test_status_measures_agreement(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(), "ds")
    a, b = annotator("ann-a"), annotator("ann-b")
    for labels in (("great", "great"), ("other", "other"), ("great", "other")):
        for who, label in zip((a, b), labels, strict=True):
            view = svc.next("reviews", who)
            assert view is not None
            svc.answer("reviews", view.assignment.item, who, {"label": label})
    status = svc.status("reviews")
    assert status.agreement is not None and -1 <= status.agreement < 1
    assert set(status.label_agreement) == {"great", "other"}
    assert "3 items" in status.agreement_note


def test_status_says_why_kappa_has_no_value_when_every_answer_is_one_label(
        world: World) -> None:
    """Two annotators both answered 'prof' on Prestige's first row: the job page said
    "Fleiss' kappa over 1 items with 2+ answers." and showed no kappa."""
    svc = world.labeling
    svc.create(_spec(), "ds")
    for who in (annotator("ann-a"), annotator("ann-b")):
        view = svc.next("reviews", who)
        assert view is not None
        svc.answer("reviews", view.assignment.item, who, {"label": "great"})
    status = svc.status("reviews")
    assert status.agreement is None
    assert status.agreement_note == (
        "Fleiss' kappa is not defined yet: every answer on the 1 items with 2+ answers is "
        "'great', so the answers agree but chance would as well.")


def _answer_all(world: World, name: str, n: int, answer: dict) -> None:
    for i in range(n):
        who = annotator(f"ann-{i}")
        view = world.labeling.next(name, who)
        assert view is not None
        world.labeling.answer(name, view.assignment.item, who, answer)


def test_export_of_every_buildable_task(world: World) -> None:
    svc = world.labeling
    svc.create(_spec(name="tags", task="text_multilabel", labels=["price", "taste"]), "ds")
    _answer_all(world, "tags", 2, {"labels": ["taste", "price"]})
    tags = world.datasets.read_table("tags-out", svc.export("tags", "tags-out").version)
    assert tags.column("label").to_pylist() == ["price,taste"]

    svc.create(_spec(name="ner", task="text_spans", labels=["FOOD"]), "ds")
    _answer_all(world, "ner", 2, {"spans": [{"start": 0, "end": 3, "label": "FOOD"}]})
    ner = world.datasets.read_table("ner-out", svc.export("ner", "ner-out").version)
    (spans,) = [json.loads(v) for v in ner.column("label").to_pylist()]
    assert [s["label"] for s in spans] == ["FOOD"] and spans[0]["start"] == 0

    world.dataset("table", pd.DataFrame({"x": [1.5, 2.5], "label": ["a", "b"]}))
    svc.create(_spec(name="rows", dataset="table", task="tabular_classification",
                     column=None, labels=["ok", "bad"]), "ds")
    _answer_all(world, "rows", 2, {"label": "ok"})
    rows = world.datasets.read_table("rows-out", svc.export("rows", "rows-out").version)
    assert rows.column_names == ["item", "x", "row_label", "label", "confidence", "source",
                                 "annotators", "answers"]
    assert json.loads(rows.column("annotators")[0].as_py()) == ["ann-0", "ann-1"]
    assert json.loads(rows.column("answers")[0].as_py()) == [{"label": "ok"}] * 2



def test_export_of_agreed_spans_slices_to_the_agreed_text(world: World) -> None:
    text = "New Yorkers paid $50 for Coke Pepsi, really."
    world.dataset("ner-texts", pd.DataFrame({"review": [text]}))
    world.labeling.create(_spec(name="ner", dataset="ner-texts", task="text_spans",
                                labels=["LOC", "BRAND", "PRICE"], annotators_per_item=3), "ds")
    agreed = [("New York", "LOC"), ("$5", "PRICE"), ("Coke", "BRAND"), ("Pepsi", "BRAND")]
    spans = [{"start": text.index(t), "end": text.index(t) + len(t), "label": label}
             for t, label in agreed]
    _answer_all(world, "ner", 3, {"spans": spans})
    out = world.datasets.read_table("ner-out", world.labeling.export("ner", "ner-out").version)
    (voted,) = [json.loads(v) for v in out.column("label").to_pylist()]
    assert [(text[s["start"]:s["end"]], s["label"]) for s in voted] == agreed

def test_many_annotators_at_once_never_exceed_n(world: World) -> None:
    """Eight annotators label in threads until the queue is empty: every item ends with
    exactly N answers from N different annotators."""
    import threading

    svc = world.labeling
    svc.create(_spec(dataset="reviews", annotators_per_item=3), "ds")
    failures: list[BaseException] = []

    def work(i: int) -> None:
        who = annotator(f"ann-{i}")
        try:
            for _ in range(200):
                view = svc.next("reviews", who)
                if view is None:
                    return
                svc.answer("reviews", view.assignment.item, who, {"label": "great"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    answers = svc.repo.answers("reviews")
    per_item: dict[str, list[str]] = {}
    for a in answers:
        per_item.setdefault(a.item, []).append(a.annotator)
    assert len(per_item) == 200
    assert all(len(v) == 3 and len(set(v)) == 3 for v in per_item.values())
    assert svc.status("reviews").counts.complete == 200
