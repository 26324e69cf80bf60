"""Consolidating several annotators' answers into one label per item, with a confidence.

Single-label classes have two methods:

- ``majority``: the most voted label; confidence is its share of the item's votes.
  Ties go to the label that comes first in the job's ``labels``.
- ``dawid_skene`` (Dawid & Skene 1979): each annotator *j* has a confusion matrix
  ``π_j[k, l] = P(j answers l | true class k)`` and the classes have priors ``p_k``.
  EM alternates

  - E-step: ``T[i, k] ∝ p_k · Π_{answers (j, l) on i} π_j[k, l]`` (posterior of
    item *i*'s true class), with gold items clamped to their known class;
  - M-step: ``p_k = mean_i T[i, k]`` and
    ``π_j[k, l] ∝ α_kl + Σ_{i answered l by j} T[i, k]``,

  starting from the majority vote's soft counts. The additive ``α`` (a Dirichlet
  prior: 1 off the diagonal, ``K`` on it, see :data:`CONFUSION_SMOOTHING`)
  keeps an annotator with a handful of answers from a degenerate 0/1 matrix that
  would veto every other annotator. Every step is a few array operations over all
  answers (``np.bincount``, ``np.add.reduceat``), never a Python loop per answer.

Multi-label answers (a list of labels per answer) are voted label by label.
Boxes and text spans live in :mod:`shipyard.labeling._regions` and are
re-exported here, so every consolidation is reachable from this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.labeling._answers import (
    EncodedAnswers,
    check_columns,
    check_known,
    check_labels,
    encode_answers,
    label_frame,
)
from shipyard.labeling._regions import consolidate_boxes, consolidate_spans, iou

__all__ = [
    "CLASS_METHODS",
    "DawidSkeneResult",
    "consolidate_boxes",
    "consolidate_classes",
    "consolidate_multilabel",
    "consolidate_spans",
    "dawid_skene",
    "iou",
    "majority_vote",
]

#: The methods :func:`consolidate_classes` accepts.
CLASS_METHODS = ("dawid_skene", "majority")

#: Pseudo-count added to every off-diagonal cell of every annotator's confusion counts;
#: the diagonal gets ``K`` times as much, so with no data an annotator is presumed right
#: ``K / (2K - 1)`` of the time (2/3 for two labels: better than chance, which keeps a job
#: with few answers per annotator close to the majority vote instead of drifting to one class).
CONFUSION_SMOOTHING = 1.0
#: Pseudo-count added to every class's prior count.
PRIOR_SMOOTHING = 1.0


def majority_vote(answers: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """The most voted label of each item.

    Args:
        answers: one row per answer, columns ``item``, ``annotator``, ``label``.
        labels: the job's labels; their order breaks ties (the earlier label wins).

    Returns:
        Columns ``item, label, confidence`` (the winner's share of the item's
        votes), one row per item, sorted by item.

    Raises:
        InvalidRequest: a column is missing or an answer uses a label outside ``labels``.
    """
    enc = encode_answers(answers, labels)
    counts = enc.counts()
    if enc.n_items == 0:
        return label_frame(enc.items, enc.labels, np.zeros(0, int), np.zeros(0))
    winner = counts.argmax(axis=1)  # argmax keeps the first maximum: label order breaks ties
    share = counts[np.arange(enc.n_items), winner] / counts.sum(axis=1)
    return label_frame(enc.items, enc.labels, winner, share)


@dataclass(frozen=True)
class DawidSkeneResult:
    """What Dawid–Skene EM found.

    Attributes:
        consolidated: ``item, label, confidence`` (the chosen class's posterior), sorted by item.
        annotator_accuracy: each annotator's estimated share of right answers: the mean,
            over their answers, of the posterior that the answer is the true class.
        confusion: annotator → ``K × K`` row-stochastic matrix ``π[true, answered]``,
            rows and columns in the job's label order.
        priors: the estimated class shares, in the job's label order.
        iterations: EM rounds run.
        converged: whether the mean log-likelihood per item moved less than ``tol``.
    """

    consolidated: pd.DataFrame
    annotator_accuracy: dict[str, float]
    confusion: dict[str, np.ndarray]
    priors: np.ndarray
    iterations: int
    converged: bool


def dawid_skene(answers: pd.DataFrame, labels: Sequence[str], *, max_iter: int = 500,
                tol: float = 1e-6, gold: Mapping[str, str] | None = None) -> DawidSkeneResult:
    """Consolidate single-label answers by Dawid & Skene's EM (see the module docstring).

    Args:
        answers: one row per answer, columns ``item``, ``annotator``, ``label``.
        labels: the job's labels; ties in the posterior go to the earlier label.
        max_iter: at most this many EM rounds (jobs of a few thousand items took 58–102
            rounds to meet ``tol``; each round is a few vectorised passes).
        tol: stop when the mean log-likelihood per item improves by less than this.
        gold: known answers, item → label; those items' posteriors are clamped to
            their known label in every E-step, which anchors the confusion matrices.
            Gold items without answers are ignored.

    Raises:
        InvalidRequest: a column is missing, a label (in answers or gold) is outside
            ``labels``, or ``max_iter`` is below 1.
    """
    if max_iter < 1:
        raise InvalidRequest(f"max_iter must be at least 1; got {max_iter}.")
    enc = encode_answers(answers, labels)
    k, n, m = enc.n_classes, enc.n_items, len(enc.annotators)
    gold_rows, gold_labels = _gold_codes(enc, gold or {})
    if n == 0:
        return DawidSkeneResult(
            label_frame(enc.items, enc.labels, np.zeros(0, int), np.zeros(0)), {}, {},
            np.full(k, 1.0 / k), 0, True)

    counts = enc.counts()
    posterior = counts / counts.sum(axis=1, keepdims=True)
    posterior[gold_rows] = np.eye(k)[gold_labels]
    cell = enc.annotator * k + enc.label  # the (annotator, answered label) of each answer
    smoothing = CONFUSION_SMOOTHING * (1.0 + np.eye(k) * (k - 1))

    previous = -np.inf
    converged = False
    iterations = 0  # EM rounds run so far
    confusion = np.full((m, k, k), 1.0 / k)
    priors = np.full(k, 1.0 / k)
    while iterations < max_iter:
        iterations += 1
        # M-step: soft counts of (annotator, true class, answered label), then smoothing.
        soft = np.empty((m, k, k))
        weights = posterior[enc.item]
        for true in range(k):  # a loop over classes, not answers
            soft[:, true, :] = np.bincount(cell, weights=weights[:, true],
                                           minlength=m * k).reshape(m, k)
        soft += smoothing
        confusion = soft / soft.sum(axis=2, keepdims=True)
        priors = (posterior.sum(axis=0) + PRIOR_SMOOTHING) / (n + k * PRIOR_SMOOTHING)

        # E-step: log p_k + Σ log π_j[k, l] over each item's answers, normalised.
        # Rows of (annotator, answered label), columns the true class: one gather per answer.
        log_conf = np.log(confusion).transpose(0, 2, 1).reshape(m * k, k)
        per_answer = log_conf[cell]  # (answers, K)
        joint = np.add.reduceat(per_answer, enc.starts, axis=0) + np.log(priors)
        top = joint.max(axis=1, keepdims=True)
        evidence = top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))
        posterior = np.exp(joint - evidence[:, None])
        posterior[gold_rows] = np.eye(k)[gold_labels]

        mean_ll = float(evidence.mean())
        if abs(mean_ll - previous) < tol:
            converged = True
            break
        previous = mean_ll

    chosen = posterior.argmax(axis=1)
    consolidated = label_frame(enc.items, enc.labels, chosen,
                               posterior[np.arange(n), chosen])
    right = np.bincount(enc.annotator, weights=posterior[enc.item, enc.label], minlength=m)
    answered = np.bincount(enc.annotator, minlength=m)
    names = [str(a) for a in enc.annotators]
    return DawidSkeneResult(
        consolidated=consolidated,
        annotator_accuracy={a: float(right[j] / answered[j]) for j, a in enumerate(names)},
        confusion={a: confusion[j].copy() for j, a in enumerate(names)},
        priors=priors, iterations=iterations, converged=converged)


def _gold_codes(enc: EncodedAnswers, gold: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows (into ``enc.items``) and label codes of the gold items that have answers."""
    if not gold:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    check_known(gold.values(), enc.labels, where="gold answers")
    index = pd.Index(enc.items)
    keys = [str(item) for item in gold]
    rows = index.get_indexer(keys)
    codes = np.array([enc.labels.index(str(gold[item])) for item in gold], dtype=np.int64)
    present = rows >= 0
    return rows[present].astype(np.int64), codes[present]


def consolidate_classes(answers: pd.DataFrame, labels: Sequence[str],
                        method: str = "dawid_skene") -> pd.DataFrame:
    """One label per item by ``method`` (``"dawid_skene"`` or ``"majority"``).

    Returns:
        Columns ``item, label, confidence``, one row per item, sorted by item.

    Raises:
        InvalidRequest: an unknown method, a missing column or a label outside ``labels``.
    """
    if method == "majority":
        return majority_vote(answers, labels)
    if method == "dawid_skene":
        return dawid_skene(answers, labels).consolidated
    raise InvalidRequest(
        f"Unknown consolidation method {method!r}; expected one of {', '.join(CLASS_METHODS)}.",
        method=method)


def consolidate_multilabel(answers: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Vote each label on or off per item.

    A label is on when more than half of the item's annotators chose it. An
    annotator who answered with an empty list counts as voting every label off.

    Args:
        answers: one row per answer, columns ``item``, ``annotator`` and ``labels``
            (a list of label strings).
        labels: the job's labels; each item's chosen labels come in this order.

    Returns:
        Columns ``item``, ``labels`` (list of str) and ``confidence``: the mean, over
        the job's labels, of the share of annotators on the winning side of that
        label's vote (1.0 when everyone agreed on every label). Sorted by item.
    """
    check_columns(answers, ("item", "annotator", "labels"), "Multi-label answers")
    vocabulary = check_labels(labels)
    frame = answers[["item", "annotator", "labels"]].copy()
    frame["item"] = frame["item"].astype(str)
    frame["annotator"] = frame["annotator"].astype(str)
    raters = frame.groupby("item")["annotator"].nunique().sort_index()
    if raters.empty:
        return pd.DataFrame({"item": pd.Series([], dtype=object), "labels": [],
                             "confidence": pd.Series([], dtype=float)})
    chosen = frame.explode("labels").dropna(subset=["labels"])
    chosen["labels"] = chosen["labels"].astype(str)
    check_known(chosen["labels"].unique(), vocabulary)
    chosen = chosen.drop_duplicates(["item", "annotator", "labels"])
    votes = (pd.crosstab(chosen["item"], chosen["labels"])
             .reindex(index=raters.index, columns=vocabulary, fill_value=0)
             .to_numpy(dtype=float))
    n = raters.to_numpy(dtype=float)[:, None]
    on = votes > n / 2
    share = np.maximum(votes, n - votes) / n
    names = np.asarray(vocabulary, dtype=object)
    return pd.DataFrame({
        "item": pd.Series(raters.index.to_numpy(dtype=object), dtype=object),
        "labels": [list(names[row]) for row in on],
        "confidence": share.mean(axis=1),
    })
