"""Active learning and auto-labeling for text classification.

A :class:`TextLabeler` (TF-IDF of word 1–2-grams with sublinear tf, then a
logistic regression) learns from the human labels so far. Two uses:

- *which items next*: :func:`uncertainty_order` puts the items the model is
  least sure of first (smallest margin between its two likeliest labels), so
  each human answer teaches it the most;
- *which items need no human*: :func:`auto_label` machine-labels the unlabeled
  items whose confidence (the top probability) is at least a threshold. The
  threshold comes from :func:`machine_label_threshold` on *out-of-fold*
  predictions of the human-labeled items (K-fold: each item predicted by a model
  that did not see it), never in-sample, where a model is always right: it is the
  lowest confidence at which the held-out accuracy of the items at or above it
  reaches the target. When no threshold does, nothing is machine-labeled.

:func:`simulate` plays a labeling job against known true labels: a random seed
set, rounds of the most uncertain items answered from the truth, then auto-labeling.

scikit-learn is imported on first use (``pip install 'shipyard[ml]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest


def _sklearn() -> Any:
    try:
        import sklearn  # noqa: F401
    except ModuleNotFoundError as exc:  # pragma: no cover - the dev install has it
        raise ModuleNotFoundError(
            "Active learning needs scikit-learn; install it with: pip install 'shipyard[ml]'"
        ) from exc
    import sklearn.feature_extraction.text
    import sklearn.linear_model
    import sklearn.model_selection
    import sklearn.pipeline

    return sklearn


@dataclass(frozen=True)
class LabelerConfig:
    """How a :class:`TextLabeler` is built (defaults measured on the review texts)."""

    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 1
    C: float = 10.0
    class_weight: str | None = "balanced"
    max_iter: int = 2000


class TextLabeler:
    """TF-IDF (word 1–2-grams, sublinear tf) + logistic regression for text labels."""

    def __init__(self, config: LabelerConfig | None = None) -> None:
        self.config = config or LabelerConfig()
        self._pipeline: Any = None
        self.classes_: np.ndarray = np.zeros(0, dtype=object)

    def _build(self) -> Any:
        sk = _sklearn()
        c = self.config
        return sk.pipeline.make_pipeline(
            sk.feature_extraction.text.TfidfVectorizer(
                ngram_range=c.word_ngrams, sublinear_tf=True, min_df=c.min_df),
            sk.linear_model.LogisticRegression(
                C=c.C, class_weight=c.class_weight, max_iter=c.max_iter))

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextLabeler:
        """Learn from ``texts`` and their human ``labels``; needs at least two distinct labels."""
        y = np.asarray([str(label) for label in labels], dtype=object)
        if len(texts) != len(y):
            raise InvalidRequest(f"Got {len(texts)} texts but {len(y)} labels; give one "
                                 "label per text.")
        if len(set(y.tolist())) < 2:
            raise InvalidRequest("A labeler needs at least two different labels among the "
                                 f"human answers; got only {sorted(set(y.tolist()))}.")
        self._pipeline = self._build().fit(list(texts), y)
        self.classes_ = np.asarray(self._pipeline.classes_, dtype=object)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``classes_`` order."""
        if self._pipeline is None:
            raise InvalidRequest("The labeler is not fitted yet; call fit() first.")
        return np.asarray(self._pipeline.predict_proba(list(texts)), dtype=float)

    def out_of_fold_proba(self, texts: Sequence[str], labels: Sequence[str], *,
                          folds: int = 5, random_state: int = 0) -> np.ndarray | None:
        """Stratified K-fold out-of-fold probabilities of the labeled texts.

        None when some label has fewer than two examples (no fold split can hold it out).
        Columns follow the sorted labels, as ``classes_`` after :meth:`fit`.
        """
        sk = _sklearn()
        y = np.asarray([str(label) for label in labels], dtype=object)
        _, counts = np.unique(y, return_counts=True)
        if len(counts) < 2 or counts.min() < 2:
            return None
        splitter = sk.model_selection.StratifiedKFold(
            n_splits=int(min(folds, counts.min())), shuffle=True, random_state=random_state)
        return np.asarray(sk.model_selection.cross_val_predict(
            self._build(), list(texts), y, cv=splitter, method="predict_proba"), dtype=float)


def uncertainty_order(proba: np.ndarray) -> np.ndarray:
    """Row indices, most uncertain first, by the margin between the two top probabilities.

    Margin rather than entropy: the label an item gets is decided between its two
    likeliest classes, and with many classes entropy ranks high an item whose top
    class is clear but whose small probabilities are spread over the others. With
    two classes the two orders are the same. Ties keep row order.
    """
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape[1] == 0:
        raise InvalidRequest(f"Probabilities must be a 2-D array with a column per class; "
                             f"got shape {p.shape}.")
    if p.shape[1] == 1:
        return np.arange(len(p))
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return np.argsort(top2[:, 0] - top2[:, 1], kind="stable")


def machine_label_threshold(proba_heldout: np.ndarray, y_heldout: Sequence[str],
                            classes: Sequence[str], target_accuracy: float = 0.9,
                            min_support: int = 20) -> float | None:
    """The lowest confidence threshold whose held-out machine labels reach the target.

    Items are ranked by confidence (top probability); for each distinct confidence
    *t*, the accuracy of the held-out items with confidence ≥ *t* is checked. The
    answer is the lowest *t* with that accuracy ≥ ``target_accuracy`` over at least
    ``min_support`` items, or None when no *t* qualifies (then nothing should be
    machine-labeled).

    Args:
        proba_heldout: out-of-fold probabilities of human-labeled items (not in-sample).
        y_heldout: those items' human labels.
        classes: the label of each probability column.
    """
    p = np.asarray(proba_heldout, dtype=float)
    y = np.asarray([str(v) for v in y_heldout], dtype=object)
    names = np.asarray([str(c) for c in classes], dtype=object)
    if p.ndim != 2 or p.shape != (len(y), len(names)):
        raise InvalidRequest(f"Held-out probabilities must have one row per label and one "
                             f"column per class ({len(y)} × {len(names)}); got {p.shape}.")
    if not 0.0 < target_accuracy <= 1.0:
        raise InvalidRequest(f"target_accuracy must be in (0, 1]; got {target_accuracy}.")
    confidence = p.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    correct = (names[p.argmax(axis=1)] == y)[order]
    accuracy = np.cumsum(correct) / np.arange(1, len(y) + 1)
    # A threshold keeps every item tied at it: only the last of each run of ties is a cut.
    last_of_tie = np.r_[conf_sorted[1:] != conf_sorted[:-1], True]
    ok = last_of_tie & (accuracy >= target_accuracy) & (np.arange(1, len(y) + 1) >= min_support)
    if not ok.any():
        return None
    return float(conf_sorted[np.flatnonzero(ok)[-1]])


@dataclass(frozen=True)
class AutoLabelResult:
    """Which unlabeled items the machine labels, and the order for humans to do the rest.

    Attributes:
        indices: positions (into the unlabeled texts) of the machine-labeled items.
        labels: their machine labels.
        confidences: their top probabilities.
        threshold: the confidence threshold used; None when no threshold reached the
            target on held-out labels, and then nothing is machine-labeled.
        estimated_accuracy: the out-of-fold accuracy of the human-labeled items at or
            above the threshold (the estimate of the machine labels' accuracy), or None.
        uncertain_order: the positions of the other unlabeled items, most uncertain first.
    """

    indices: np.ndarray
    labels: np.ndarray
    confidences: np.ndarray
    threshold: float | None
    estimated_accuracy: float | None
    uncertain_order: np.ndarray = field(repr=False)


def auto_label(texts_labeled: Sequence[str], y_labeled: Sequence[str],
               texts_unlabeled: Sequence[str], target_accuracy: float = 0.9, *,
               config: LabelerConfig | None = None, folds: int = 5, min_support: int = 20,
               random_state: int = 0) -> AutoLabelResult:
    """Machine-label the unlabeled texts the model is sure enough of (see the module docstring)."""
    labeler = TextLabeler(config)
    held_out = labeler.out_of_fold_proba(texts_labeled, y_labeled, folds=folds,
                                         random_state=random_state)
    labeler.fit(texts_labeled, y_labeled)
    proba = (labeler.predict_proba(texts_unlabeled) if len(texts_unlabeled)
             else np.zeros((0, len(labeler.classes_))))
    threshold = estimate = None
    if held_out is not None:
        threshold = machine_label_threshold(held_out, y_labeled, labeler.classes_,
                                            target_accuracy, min_support)
    if threshold is not None and held_out is not None:
        above = held_out.max(axis=1) >= threshold
        y = np.asarray([str(v) for v in y_labeled], dtype=object)
        estimate = float((labeler.classes_[held_out[above].argmax(axis=1)] == y[above]).mean())
    confidence = proba.max(axis=1) if len(proba) else np.zeros(0)
    machine = (confidence >= threshold) if threshold is not None \
        else np.zeros(len(proba), dtype=bool)
    rest = np.flatnonzero(~machine)
    return AutoLabelResult(
        indices=np.flatnonzero(machine),
        labels=labeler.classes_[proba[machine].argmax(axis=1)] if machine.any()
        else np.zeros(0, dtype=object),
        confidences=confidence[machine], threshold=threshold, estimated_accuracy=estimate,
        uncertain_order=rest[uncertainty_order(proba[rest])] if len(rest) else rest)


@dataclass(frozen=True)
class SimulationResult:
    """What a simulated labeling job reached.

    Attributes:
        human_labels: items answered by the (simulated) annotator.
        rounds: active-learning rounds after the seed set.
        machine_labeled: items auto-labeled out of the ``remaining`` unlabeled ones.
        remaining: items left unlabeled by humans.
        coverage: ``machine_labeled / remaining``.
        machine_accuracy: accuracy of the machine labels against the truth (None when
            nothing was machine-labeled).
        threshold: the confidence threshold chosen on held-out human labels, or None.
        estimated_accuracy: what the held-out labels predicted ``machine_accuracy`` to be.
    """

    human_labels: int
    rounds: int
    machine_labeled: int
    remaining: int
    coverage: float
    machine_accuracy: float | None
    threshold: float | None
    estimated_accuracy: float | None


def simulate(texts: Sequence[str], truth: Sequence[str], *, seed_size: int = 50,
             batch: int = 50, budget: int = 300, target_accuracy: float = 0.9,
             config: LabelerConfig | None = None, random_state: int = 0) -> SimulationResult:
    """Play a labeling job whose annotator answers from ``truth``.

    Start from ``seed_size`` random items (more are drawn one by one while the seed
    has a single label), then each round train, and have the ``batch`` most uncertain
    unlabeled items answered, until ``budget`` human labels; then auto-label the rest.
    """
    text_list = list(texts)
    y = np.asarray([str(v) for v in truth], dtype=object)
    if len(text_list) != len(y):
        raise InvalidRequest(f"Got {len(text_list)} texts but {len(y)} true labels.")
    if not 0 < seed_size <= budget < len(y) or batch < 1:
        raise InvalidRequest("Need 0 < seed_size ≤ budget < number of texts and batch ≥ 1; "
                             f"got seed_size={seed_size}, budget={budget}, batch={batch}, "
                             f"{len(y)} texts.")
    rng = np.random.default_rng(random_state)
    shuffled = rng.permutation(len(y))
    size = seed_size
    while len(set(y[shuffled[:size]].tolist())) < 2 and size < len(y):
        size += 1
    labeled = list(shuffled[:size])
    rounds = 0
    while len(labeled) < budget:
        pool = np.setdiff1d(np.arange(len(y)), labeled)
        model = TextLabeler(config).fit([text_list[i] for i in labeled], y[labeled])
        proba = model.predict_proba([text_list[i] for i in pool])
        take = min(batch, budget - len(labeled))
        labeled.extend(pool[uncertainty_order(proba)[:take]].tolist())
        rounds += 1
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    result = auto_label([text_list[i] for i in labeled], y[labeled],
                        [text_list[i] for i in pool], target_accuracy, config=config,
                        random_state=random_state)
    hits = y[pool[result.indices]] == result.labels
    return SimulationResult(
        human_labels=len(labeled), rounds=rounds, machine_labeled=len(result.indices),
        remaining=len(pool), coverage=len(result.indices) / len(pool),
        machine_accuracy=float(hits.mean()) if len(hits) else None,
        threshold=result.threshold, estimated_accuracy=result.estimated_accuracy)
