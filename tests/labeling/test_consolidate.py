"""Consolidating annotators' answers: majority vote, Dawid–Skene, multi-label, boxes, spans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.labeling import (
    consolidate_boxes,
    consolidate_classes,
    consolidate_multilabel,
    consolidate_spans,
    dawid_skene,
    iou,
    majority_vote,
)

LABELS = ["great", "other"]
RELIABILITY = {"ann_a": 0.95, "ann_b": 0.80, "ann_c": 0.65, "ann_d": 0.55, "ann_e": 0.55}


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "annotator", "label"])


def simulated_crowd(truth: pd.Series, seed: int) -> pd.DataFrame:
    """Each item answered by 3 or 5 of the annotators, each right with their reliability."""
    rng = np.random.default_rng(seed)
    names = np.array(list(RELIABILITY))
    accuracy = np.array(list(RELIABILITY.values()))
    n = len(truth)
    # A random ranking of the annotators per item; the first 3 or 5 answer it.
    ranking = rng.random((n, len(names))).argsort(axis=1)
    answering = ranking < rng.choice([3, 5], size=n)[:, None]
    item_pos, who = np.nonzero(answering)
    right = rng.random(len(who)) < accuracy[who]
    true = truth.to_numpy()[item_pos]
    wrong = np.where(true == "great", "other", "great")
    return pd.DataFrame({"item": truth.index.to_numpy()[item_pos], "annotator": names[who],
                         "label": np.where(right, true, wrong)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_beats_majority_vote_on_the_review_labels(reviews: pd.DataFrame,
                                                               seed: int) -> None:
    truth = pd.Series(reviews["score"].to_numpy(),
                      index=[f"review-{i:04d}" for i in range(len(reviews))])
    answers = simulated_crowd(truth, seed)
    ds = dawid_skene(answers, LABELS, max_iter=500)  # EM's tail is slow; see converged below
    mv = majority_vote(answers, LABELS)
    ds_acc = (ds.consolidated.set_index("item")["label"] == truth).mean()
    mv_acc = (mv.set_index("item")["label"] == truth).mean()
    # Measured on seeds 0-7: DS 0.906-0.920, majority 0.813-0.827, gap 0.080-0.105.
    assert ds_acc > mv_acc + 0.05
    assert ds.converged
    estimated = ds.annotator_accuracy
    ranked = sorted(estimated, key=estimated.__getitem__, reverse=True)
    assert ranked[:3] == ["ann_a", "ann_b", "ann_c"]  # d and e are equally reliable
    for name, accuracy in RELIABILITY.items():
        assert estimated[name] == pytest.approx(accuracy, abs=0.05)
    assert ds.priors == pytest.approx([0.65, 0.35], abs=0.04)
    for matrix in ds.confusion.values():
        assert matrix.shape == (2, 2) and matrix.sum(axis=1) == pytest.approx([1.0, 1.0])


# A small hand-made case: x and y are always right, z is right on 3 of 6 items.
HAND = frame([
    ("i1", "x", "cat"), ("i1", "y", "cat"), ("i1", "z", "dog"),
    ("i2", "x", "dog"), ("i2", "y", "dog"), ("i2", "z", "dog"),
    ("i3", "x", "cat"), ("i3", "y", "cat"), ("i3", "z", "cat"),
    ("i4", "x", "dog"), ("i4", "y", "dog"), ("i4", "z", "cat"),
    ("i5", "x", "cat"), ("i5", "y", "cat"), ("i5", "z", "dog"),
    ("i6", "x", "dog"), ("i6", "y", "dog"), ("i6", "z", "dog"),
])
HAND_TRUTH = ["cat", "dog", "cat", "dog", "cat", "dog"]


def test_majority_vote_on_a_hand_made_case() -> None:
    out = majority_vote(HAND.sample(frac=1, random_state=3), ["cat", "dog"])
    assert list(out.columns) == ["item", "label", "confidence"]
    assert out["item"].tolist() == ["i1", "i2", "i3", "i4", "i5", "i6"]
    assert out["label"].tolist() == HAND_TRUTH
    assert out["confidence"].tolist() == pytest.approx([2 / 3, 1, 1, 2 / 3, 2 / 3, 1])


def test_dawid_skene_on_a_hand_made_case_trusts_the_reliable_annotators() -> None:
    result = dawid_skene(HAND, ["cat", "dog"])
    assert result.consolidated["label"].tolist() == HAND_TRUTH
    conf = result.consolidated.set_index("item")["confidence"]
    assert (conf > 0.5).all()
    assert conf["i2"] > conf["i1"]  # unanimous items are surer than 2-to-1 ones
    acc = result.annotator_accuracy
    assert acc["x"] > acc["z"] and acc["y"] > acc["z"]


def test_gold_items_are_clamped_to_their_known_label() -> None:
    answers = frame([("g", "x", "dog"), ("g", "y", "dog"), ("g", "z", "cat"),
                     ("h", "x", "cat"), ("h", "y", "dog"), ("h", "z", "cat")])
    free = dawid_skene(answers, ["cat", "dog"])
    clamped = dawid_skene(answers, ["cat", "dog"], gold={"g": "cat", "unseen": "dog"})
    row = clamped.consolidated.set_index("item").loc["g"]
    assert row["label"] == "cat" and row["confidence"] == 1.0
    assert free.consolidated.set_index("item").loc["g", "label"] == "dog"
    # z agreed with the gold answer, x and y did not: z now looks the more reliable.
    assert clamped.annotator_accuracy["z"] > clamped.annotator_accuracy["x"]
    assert free.annotator_accuracy["z"] < free.annotator_accuracy["x"]
    with pytest.raises(InvalidRequest, match="'bird'"):
        dawid_skene(answers, ["cat", "dog"], gold={"g": "bird"})


def test_ties_are_broken_by_the_label_order_whatever_the_row_order() -> None:
    tie = frame([("t", "x", "dog"), ("t", "y", "cat")])
    for rows in (tie, tie.iloc[::-1]):
        assert majority_vote(rows, ["cat", "dog"])["label"].tolist() == ["cat"]
        assert majority_vote(rows, ["dog", "cat"])["label"].tolist() == ["dog"]
        assert consolidate_classes(rows, ["dog", "cat"], "dawid_skene")["label"].tolist() \
            == ["dog"]
    assert majority_vote(tie, ["cat", "dog"])["confidence"].tolist() == [0.5]


def test_consolidate_classes_dispatches_and_refuses_unknown_names() -> None:
    assert consolidate_classes(HAND, ["cat", "dog"], "majority").equals(
        majority_vote(HAND, ["cat", "dog"]))
    assert consolidate_classes(HAND, ["cat", "dog"])["label"].tolist() == HAND_TRUTH
    with pytest.raises(InvalidRequest, match="'snorkel'"):
        consolidate_classes(HAND, ["cat", "dog"], "snorkel")
    with pytest.raises(InvalidRequest, match="'dog'") as info:
        consolidate_classes(HAND, ["cat", "bird"])
    assert info.value.code == "invalid_request"
    with pytest.raises(InvalidRequest, match="'label'"):
        majority_vote(HAND.drop(columns="label"), ["cat", "dog"])


def test_multilabel_votes_each_label_by_more_than_half_of_the_annotators() -> None:
    answers = pd.DataFrame({
        "item": ["a", "a", "a", "b", "b"],
        "annotator": ["x", "y", "z", "x", "y"],
        "labels": [["sports", "news"], ["news"], [], ["sports"], ["sports", "news"]],
    })
    out = consolidate_multilabel(answers, ["news", "sports", "tech"])
    assert out["item"].tolist() == ["a", "b"]
    assert out["labels"].tolist() == [["news"], ["sports"]]  # b: news 1 of 2 is not > half
    # a: news 2/3, sports 2/3 (off), tech 3/3 → 7/9; b: news 1/2, sports 1, tech 1 → 5/6.
    assert out["confidence"].tolist() == pytest.approx([7 / 9, 5 / 6])
    with pytest.raises(InvalidRequest, match="'politics'"):
        consolidate_multilabel(answers.assign(labels=[["politics"]] * 5), ["news"])


def test_iou_of_known_boxes() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_noisy_boxes_consolidate_close_to_the_true_box_and_a_lone_box_is_dropped() -> None:
    truth = (120.0, 80.0, 60.0, 40.0)
    rng = np.random.default_rng(7)
    rows = []
    for name in ["a", "b", "c", "d", "e"]:
        x, y, w, h = (v + rng.uniform(-3, 3) for v in truth)
        if name == "e":  # an outlier: e dragged the right edge 25 px too far
            w += 25
        rows.append((name, "car", x, y, w, h))
    rows.append(("c", "car", 400.0, 300.0, 50.0, 30.0))  # a false box only c drew
    boxes = pd.DataFrame(rows, columns=["annotator", "label", "x", "y", "width", "height"])
    boxes.insert(0, "item", "img-1")
    out = consolidate_boxes(boxes)
    assert len(out) == 1
    box = out.iloc[0]
    assert box["label"] == "car" and box["support"] == 5
    assert iou(truth, (box["x"], box["y"], box["width"], box["height"])) >= 0.9
    assert 0.5 < box["confidence"] <= 1.0
    # The outlier moves a mean box by 5 px; the median box does not follow it.
    assert abs(box["x"] + box["width"] - (truth[0] + truth[2])) < 4


def test_boxes_count_the_annotators_who_drew_nothing() -> None:
    boxes = pd.DataFrame({"item": ["i", "i"], "annotator": ["a", "b"], "label": ["car"] * 2,
                          "x": [0, 1], "y": [0, 0], "width": [10, 10], "height": [10, 10]})
    assert len(consolidate_boxes(boxes)) == 1
    assert consolidate_boxes(boxes, annotators_per_item={"i": 4}).empty  # 2 of 4 is not > half
    with pytest.raises(InvalidRequest, match="width"):
        consolidate_boxes(boxes.assign(width=[-1, 10]))


def test_spans_with_slightly_different_boundaries_vote_to_one_span() -> None:
    text = "Yesterday Barack Obama visited Paris."
    spans = pd.DataFrame([
        ("doc", "a", 10, 22, "PERSON"),   # "Barack Obama"
        ("doc", "b", 10, 23, "PERSON"),   # "Barack Obama " (a trailing space)
        ("doc", "c", 17, 22, "PERSON"),   # "Obama"
        ("doc", "c", 31, 36, "LOC"),      # "Paris", marked by c alone
    ], columns=["item", "annotator", "start", "end", "label"])
    out = consolidate_spans(spans, {"doc": text})
    assert out[["item", "start", "end", "label"]].values.tolist() == [
        ["doc", 10, 22, "PERSON"]]
    assert text[10:22] == "Barack Obama"
    assert out["confidence"].iloc[0] == pytest.approx((2 / 3 + 1) / 2)
    with pytest.raises(InvalidRequest, match="'doc'"):
        consolidate_spans(spans, {})


@pytest.mark.parametrize(("text", "agreed"), [
    ("I paid $50 today.", [(7, 9)]),               # "$5": part of a token, not "$50"
    ("New Yorkers love it", [(0, 8)]),             # "New York", not "New Yorkers"
    ("Try snake_case names", [(4, 9)]),            # "snake"
    ("Coke Pepsi Sprite", [(0, 4), (5, 10)]),      # two entities side by side stay two
    ("Dr. Smith, Paris.", [(0, 3), (4, 9), (11, 16)]),
])
def test_a_span_the_annotators_agree_on_is_exported_exactly(
        text: str, agreed: list[tuple[int, int]]) -> None:
    spans = pd.DataFrame([("doc", who, s, e, "X") for who in ("a", "b", "c")
                          for s, e in agreed],
                         columns=["item", "annotator", "start", "end", "label"])
    out = consolidate_spans(spans, {"doc": text})
    assert list(zip(out["start"], out["end"], strict=True)) == agreed
    assert [text[s:e] for s, e in zip(out["start"], out["end"], strict=True)] == [
        text[s:e] for s, e in agreed]
    assert out["confidence"].tolist() == [1.0] * len(agreed)


def test_a_minority_boundary_neither_cuts_a_word_nor_splits_a_span() -> None:
    text = "I paid $50 to Coke Pepsi"
    spans = pd.DataFrame([
        ("doc", "a", 7, 9, "X"), ("doc", "b", 7, 10, "X"), ("doc", "c", 7, 10, "X"),
        ("doc", "a", 14, 24, "X"), ("doc", "b", 14, 24, "X"),
        ("doc", "c", 14, 18, "X"), ("doc", "c", 19, 24, "X"),
    ], columns=["item", "annotator", "start", "end", "label"])
    out = consolidate_spans(spans, {"doc": text})
    assert [text[s:e] for s, e in zip(out["start"], out["end"], strict=True)] == [
        "$50", "Coke Pepsi"]


def test_dawid_skene_with_three_classes_learns_each_annotators_reliability() -> None:
    # Synthetic, for an exact truth: 3,000 items, 4 annotators right 0.9/0.7/0.5/0.4 of
    # the time, wrong answers spread evenly. Measured: DS 0.890, majority 0.790.
    rng = np.random.default_rng(1)
    n, names = 3000, np.array(["x", "y", "z"])
    truth = rng.integers(0, 3, n)
    parts = []
    for j, accuracy in enumerate([0.9, 0.7, 0.5, 0.4]):
        right = rng.random(n) < accuracy
        answer = np.where(right, truth, (truth + rng.integers(1, 3, n)) % 3)
        parts.append(pd.DataFrame({"item": [f"i{i:04d}" for i in range(n)],
                                   "annotator": f"a{j}", "label": names[answer]}))
    answers = pd.concat(parts, ignore_index=True)
    ds = dawid_skene(answers, ["x", "y", "z"])
    mv = majority_vote(answers, ["x", "y", "z"])
    ds_acc = (ds.consolidated["label"].to_numpy() == names[truth]).mean()
    mv_acc = (mv["label"].to_numpy() == names[truth]).mean()
    assert ds_acc > mv_acc + 0.05
    assert [round(ds.annotator_accuracy[f"a{j}"], 1) for j in range(4)] == [0.9, 0.7, 0.5, 0.4]
    assert all(m.shape == (3, 3) for m in ds.confusion.values())
