"""Classification metrics agree with scikit-learn on real predictions, and survive edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from shipyard.errors import InvalidRequest
from shipyard.evaluation import classification_metrics

from .data import Classified

approx = pytest.approx


def test_binary_agrees_with_sklearn(binary: Classified) -> None:
    y, p = binary.y_true, binary.proba
    pred = (p[:, 1] >= 0.5).astype(int)
    m = classification_metrics(y, p, binary.labels)

    assert m["n_samples"] == y.size
    assert m["accuracy"] == approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == approx(skm.balanced_accuracy_score(y, pred))
    macro = skm.precision_recall_fscore_support(y, pred, average="macro")
    assert (m["precision_macro"], m["recall_macro"], m["f1_macro"]) == approx(macro[:3])
    per = skm.precision_recall_fscore_support(y, pred)
    for c, label in enumerate(binary.labels):
        got = m["per_class"][label]
        assert (got["precision"], got["recall"], got["f1"]) == approx(
            (per[0][c], per[1][c], per[2][c])
        )
        assert got["support"] == per[3][c]
    assert m["positive_class"] == "Yes"
    assert m["precision"] == approx(skm.precision_score(y, pred))
    assert m["recall"] == approx(skm.recall_score(y, pred))
    assert m["f1"] == approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == approx(skm.roc_auc_score(y, p[:, 1]))
    assert m["pr_auc"] == approx(skm.average_precision_score(y, p[:, 1]))
    assert m["log_loss"] == approx(skm.log_loss(y, p))
    assert m["confusion_matrix"] == {
        "labels": ["No", "Yes"], "matrix": skm.confusion_matrix(y, pred).tolist()
    }
    # The model is better than chance: the agreement above is about a real model.
    assert 0.7 < m["roc_auc"] < 1.0


def test_binary_curves_are_sklearns_thinned(binary: Classified) -> None:
    y, score = binary.y_true, binary.proba[:, 1]
    m = classification_metrics(y, binary.proba, binary.labels)
    fpr, tpr, _ = skm.roc_curve(y, score)
    roc = m["roc_curve"]
    assert len(fpr) > 200  # so thinning happened
    assert 2 < len(roc["fpr"]) <= 200
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"])
    assert (roc["fpr"][0], roc["tpr"][0]) == (fpr[0], tpr[0])
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert roc["thresholds"][0] is None  # +inf in scikit-learn, None in JSON
    assert np.all(np.diff(roc["fpr"]) >= 0)
    # Every kept point is a point of scikit-learn's curve.
    pairs = set(zip(fpr.tolist(), tpr.tolist(), strict=True))
    assert all((a, b) in pairs for a, b in zip(roc["fpr"], roc["tpr"], strict=True))
    pr = m["pr_curve"]
    assert len(pr["precision"]) == len(pr["recall"]) == len(pr["thresholds"]) <= 200
    assert (pr["precision"][-1], pr["recall"][-1], pr["thresholds"][-1]) == (1.0, 0.0, None)


def test_multiclass_agrees_with_sklearn(multiclass: Classified) -> None:
    y, p, labels = multiclass.y_true, multiclass.proba, multiclass.labels
    pred = p.argmax(axis=1)
    m = classification_metrics(y, p, labels)

    assert m["accuracy"] == approx(skm.accuracy_score(y, pred))
    assert m["accuracy"] < 1.0
    assert m["balanced_accuracy"] == approx(skm.balanced_accuracy_score(y, pred))
    # This model never predicts one species: scikit-learn's default scores its
    # precision 0 in the macro average (and warns); per class it is undefined (None).
    assert set(pred) != set(y)
    macro = skm.precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    assert (m["precision_macro"], m["recall_macro"], m["f1_macro"]) == approx(macro[:3])
    per = skm.precision_recall_fscore_support(y, pred, zero_division=np.nan)
    for c, label in enumerate(labels):
        got = m["per_class"][label]
        for i, key in enumerate(("precision", "recall", "f1")):
            expected = per[i][c]
            assert got[key] is None if np.isnan(expected) else got[key] == approx(expected)
        assert got["support"] == per[3][c]
    assert m["roc_auc"] == approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert m["pr_auc"] == approx(skm.average_precision_score(y, p, average="macro"))
    assert m["log_loss"] == approx(skm.log_loss(y, p))
    assert m["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert set(m["roc_curve"]["per_class"]) == set(labels)
    for c, label in enumerate(labels):
        curve = m["roc_curve"]["per_class"][label]
        assert curve["auc"] == approx(skm.roc_auc_score(y == c, p[:, c]))
        assert len(curve["fpr"]) <= 200
    assert "precision" not in m  # the positive-class metrics are binary only


def test_result_is_plain_json(binary: Classified, multiclass: Classified) -> None:
    for case in (binary, multiclass):
        m = classification_metrics(case.y_true, case.proba, case.labels)
        assert json.loads(json.dumps(m, allow_nan=False)) == m


def test_single_class_present_gives_none_without_warning() -> None:
    y = np.zeros(6, dtype=int)
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3], [0.8, 0.2], [0.2, 0.8], [0.6, 0.4]])
    m = classification_metrics(y, proba, ["no", "yes"])  # warnings are errors here
    assert m["roc_auc"] is None and m["roc_curve"] is None
    assert m["pr_auc"] is None and m["pr_curve"] is None
    assert m["accuracy"] == approx(4 / 6)
    assert m["per_class"]["yes"] == {"precision": 0.0, "recall": None, "f1": 0.0, "support": 0}
    assert m["log_loss"] == approx(skm.log_loss(y, proba, labels=[0, 1]))
    assert any("Only one class" in note for note in m["notes"])


def test_class_missing_from_y_true_in_multiclass() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)  # class 2 never occurs
    proba = rng.dirichlet([1, 1, 1], size=40)
    m = classification_metrics(y, proba, ["a", "b", "c"])
    assert m["per_class"]["c"]["support"] == 0 and m["per_class"]["c"]["recall"] is None
    # AUCs average over the classes present, one-vs-rest.
    expected = np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in (0, 1)])
    assert m["roc_auc"] == approx(expected)
    assert set(m["roc_curve"]["per_class"]) == {"a", "b"}
    assert m["log_loss"] == approx(skm.log_loss(y, proba, labels=[0, 1, 2]))
    assert m["confusion_matrix"]["matrix"][2] == [0, 0, 0]
    assert any("'c'" in note for note in m["notes"])


def test_constant_predictions() -> None:
    y = np.array([0, 1, 1, 0, 1, 0, 0])
    proba = np.tile([0.6, 0.4], (7, 1))
    m = classification_metrics(y, proba, ["neg", "pos"])
    assert m["roc_auc"] == approx(0.5)
    assert m["pr_auc"] == approx(3 / 7)
    assert m["precision"] == 0.0 and m["recall"] == 0.0  # positive never predicted
    assert m["per_class"]["pos"]["precision"] is None  # undefined, not a made-up 0
    assert m["accuracy"] == approx(4 / 7)


def test_probabilities_slightly_off_are_renormalised() -> None:
    y = np.array([0, 1, 2, 1])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]])
    m = classification_metrics(y, (proba * 1.00001).astype(np.float32), ["a", "b", "c"])
    assert m["log_loss"] == approx(skm.log_loss(y, proba), rel=1e-6)


@pytest.mark.parametrize(
    ("y", "proba", "labels", "message"),
    [
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["only"], "at least 2 class labels"),
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "a"], "distinct"),
        ([0, 1], [0.2, 0.8], ["a", "b"], "one column per class"),
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], "one class index per row"),
        ([0, 2], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], "indices 0..1; got 2"),
        (["a", "b"], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], "encode the labels"),
        ([0, 1], [[2.0, -1.0], [0.5, 0.5]], ["a", "b"], "not decision scores"),
        ([0, 1], [[0.9, 0.9], [0.5, 0.5]], ["a", "b"], "row 0 sums to 1.8"),
        ([], np.empty((0, 2)), ["a", "b"], "no rows"),
    ],
)
def test_bad_input_is_a_clear_error(y, proba, labels, message) -> None:
    with pytest.raises(InvalidRequest, match=message):
        classification_metrics(np.asarray(y), np.asarray(proba), labels)
