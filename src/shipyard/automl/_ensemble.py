"""Caruana's greedy ensemble selection, with replacement, over out-of-fold predictions.

Caruana, Niculescu-Mizil, Crew & Ksikes, "Ensemble selection from libraries of models"
(ICML 2004), as auto-sklearn and AutoGluon use it: start from nothing; at each round add
the candidate (any candidate, again if it helps most) whose addition gives the best
metric of the running mean of the chosen predictions; the weights are how often each
candidate was chosen. The first round picks the best single candidate, and the kept
ensemble is the best one seen over the rounds, so on the predictions it was selected on
it is never worse than the best single candidate.

The predictions must be out-of-fold (or on a held-out split): selecting on in-sample
predictions rewards the candidates that overfit most.

:func:`select` is pure NumPy plus scikit-learn's metrics; :func:`build_ensemble` reads
candidates' kept validation predictions and writes the chosen ones as an ensemble bundle
(docs/automl.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shipyard.errors import InvalidRequest

#: Rounds of selection (members chosen, with repeats) at most.
ROUNDS = 50
#: Stop after this many rounds in a row that did not improve the best ensemble.
PATIENCE = 10

Loss = Callable[[np.ndarray], float]
#: Classification metrics counted on hard labels, whose ties log loss breaks (a binary
#: problem's ``f1``, ``precision`` and ``recall`` are of its positive class, code 1).
HARD_LABEL_METRICS = frozenset({"accuracy", "balanced_accuracy", "f1", "precision", "recall",
                                "f1_macro", "precision_macro", "recall_macro"})
#: A binary prediction is the positive class when its probability is at least this, as
#: training scores it (``shipyard.evaluation``).
THRESHOLD = 0.5
#: The weight of log loss (clipped at 35) in a hard-label metric's loss: below a row's
#: share of the metric for up to ~10^7 rows.
TIE_BREAK = 1e-9


def _metrics():  # noqa: ANN202 - scikit-learn's module, imported when needed
    from sklearn import metrics

    return metrics


def loss_function(metric: str, problem_type: str, y: np.ndarray, n_classes: int = 0, *,
                  tie_break: bool = True) -> Loss:
    """``predictions -> loss`` (lower is better) for ``metric`` against targets ``y``.

    Classification predictions are class probabilities (n × classes, columns in class
    code order, ``y`` the codes 0..k-1); regression predictions are values. A hard-label
    metric's loss breaks ties with a pinch of log loss (for selection) unless
    ``tie_break`` is False (importance: a change that flips no label is no change).

    Raises:
        InvalidRequest: a metric Shipyard cannot select an ensemble on for this problem.
    """
    m = _metrics()
    if problem_type == "regression":
        regression: dict[str, Loss] = {
            "rmse": lambda p: float(np.sqrt(np.mean((y - p) ** 2))),
            "mae": lambda p: float(np.mean(np.abs(y - p))),
            "mape": lambda p: float(m.mean_absolute_percentage_error(y, p)),
            "r2": lambda p: -float(m.r2_score(y, p)),
        }
        if metric in regression:
            return regression[metric]
    elif problem_type in ("binary", "multiclass"):
        labels = np.arange(n_classes)
        binary = problem_type == "binary"

        def hard(p: np.ndarray) -> np.ndarray:
            return np.argmax(p, axis=1)

        def onehot() -> np.ndarray:
            return np.eye(n_classes)[y]

        classification: dict[str, Loss] = {
            "log_loss": lambda p: float(m.log_loss(y, np.clip(p, 1e-15, 1), labels=labels)),
            "accuracy": lambda p: 1.0 - float(np.mean(hard(p) == y)),
            "balanced_accuracy": lambda p: 1.0 - float(m.balanced_accuracy_score(y, hard(p))),
            "f1_macro": lambda p: 1.0 - float(m.f1_score(
                y, hard(p), labels=labels, average="macro", zero_division=0)),
            "precision_macro": lambda p: 1.0 - float(m.precision_score(
                y, hard(p), labels=labels, average="macro", zero_division=0)),
            "recall_macro": lambda p: 1.0 - float(m.recall_score(
                y, hard(p), labels=labels, average="macro", zero_division=0)),
            "roc_auc": (lambda p: 1.0 - _binary_auc(y, p[:, 1])) if binary else
                       (lambda p: 1.0 - float(m.roc_auc_score(
                           y, p, multi_class="ovr", average="macro", labels=labels))),
            "pr_auc": (lambda p: 1.0 - float(m.average_precision_score(y, p[:, 1]))) if binary
                      else (lambda p: 1.0 - float(m.average_precision_score(
                          onehot(), p, average="macro"))),
        }
        if binary:
            classification.update(_positive_class(y))
        if metric in classification:
            primary = classification[metric]
            if metric in HARD_LABEL_METRICS and tie_break:
                # Counted on hard labels, these tie often (on a small split, every good
                # candidate may reach the same accuracy): log loss breaks ties, scaled far
                # below one row's share of the metric so it never outweighs a row.
                smooth = classification["log_loss"]
                return lambda p: primary(p) + TIE_BREAK * min(smooth(p), 35.0)
            return primary
    raise InvalidRequest(f"An ensemble cannot be selected on metric {metric!r} for a "
                         f"{problem_type} problem.")


def _positive_class(y: np.ndarray) -> dict[str, Loss]:
    """Losses of the binary metrics of the positive class (code 1), on the labels training
    predicts (the positive class from a probability of 0.5 up)."""
    m = _metrics()

    def positive(p: np.ndarray) -> np.ndarray:
        return (p[:, 1] >= THRESHOLD).astype(int)

    return {
        "f1": lambda p: 1.0 - float(m.f1_score(y, positive(p), pos_label=1,
                                                zero_division=0)),
        "precision": lambda p: 1.0 - float(m.precision_score(y, positive(p), pos_label=1,
                                                              zero_division=0)),
        "recall": lambda p: 1.0 - float(m.recall_score(y, positive(p), pos_label=1,
                                                        zero_division=0)),
    }


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of a binary target from ranks (ties share their mean rank), as scikit-learn's
    ``roc_auc_score`` gives it, in a fraction of its time: selection computes it thousands
    of times."""
    from scipy.stats import rankdata

    positive = np.asarray(y) == 1
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise InvalidRequest("ROC AUC needs both classes among the selection's rows.")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class Selection:
    """What greedy selection chose."""

    #: One weight per candidate (0 for those never chosen); they sum to 1.
    weights: np.ndarray
    #: The kept ensemble's loss on the selection predictions (lower is better).
    loss: float
    #: The best single candidate, and its loss.
    best_single: int
    best_single_loss: float
    #: The best loss after each round (for a plot of the selection).
    trace: list[float] = field(default_factory=list)

    @property
    def members(self) -> list[int]:
        """Indices of the candidates with a weight, heaviest first."""
        order = np.argsort(-self.weights, kind="stable")
        return [int(i) for i in order if self.weights[i] > 0]


def _stacked(predictions: Sequence[np.ndarray], n: int) -> np.ndarray:
    if not predictions:
        raise InvalidRequest("Ensemble selection needs at least one candidate's predictions.")
    arrays = [np.asarray(p, dtype="float64") for p in predictions]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape or a.shape[0] != n:
            raise InvalidRequest(
                f"Candidate {i}'s predictions have shape {a.shape}; every candidate needs "
                f"{(n, *shape[1:])} (one row per target, the same columns).")
        if not np.all(np.isfinite(a)):
            raise InvalidRequest(f"Candidate {i}'s predictions hold NaN or infinity; leave "
                                 "that candidate out of the ensemble.")
    return np.stack(arrays)


def select(predictions: Sequence[np.ndarray], y: np.ndarray, metric: str, problem_type: str,
           *, rounds: int = ROUNDS, patience: int = PATIENCE) -> Selection:
    """Greedy selection with replacement over ``predictions`` (one array per candidate).

    Ties go to the candidate listed first, so the result is deterministic.

    Raises:
        InvalidRequest: no candidates, predictions of different shapes or not finite, or
            a metric that cannot be selected on.
    """
    y = np.asarray(y)
    P = _stacked(predictions, len(y))
    n_classes = P.shape[2] if P.ndim == 3 else 0
    loss = loss_function(metric, problem_type, y, n_classes)
    singles = [loss(p) for p in P]
    best_single = int(np.argmin(singles))
    counts = np.zeros(len(P), dtype="int64")
    total = np.zeros_like(P[0])
    best_loss, best_counts, since, trace = np.inf, counts.copy(), 0, []
    for size in range(1, rounds + 1):
        losses = [loss((total + p) / size) for p in P]
        pick = int(np.argmin(losses))
        total += P[pick]
        counts[pick] += 1
        if losses[pick] < best_loss - 1e-12:
            best_loss, best_counts, since = losses[pick], counts.copy(), 0
        else:
            since += 1
        trace.append(float(best_loss))
        if since >= patience:
            break
    return Selection(weights=best_counts / best_counts.sum(), loss=float(best_loss),
                     best_single=best_single, best_single_loss=float(singles[best_single]),
                     trace=trace)


def build_ensemble(candidates: Sequence[tuple[Path, Path]], metric: str, problem_type: str,
                   dest: Path, *, rounds: int = ROUNDS) -> Selection:
    """Select over candidates and write the chosen ones as an ensemble bundle at ``dest``.

    ``candidates``: (bundle folder, predictions folder) per candidate, the predictions as
    :attr:`shipyard.training.TrainingContext.save_predictions` keeps them (the validation
    split's outputs and targets, ``.npy`` read without pickle). Every candidate must have
    been validated on the same rows: their targets must be identical. MODEL.json gets an
    ``ensemble`` record: the metric, the kept loss, the best single candidate's, and the
    weight of every candidate (0 for those left out).

    Raises:
        InvalidRequest: no candidates, missing or unreadable predictions, candidates
            validated on different rows, or a metric that cannot be selected on.
    """
    from shipyard.bundle import read_manifest, write_ensemble
    from shipyard.training._entry import PREDICTIONS_FILE, PREDICTIONS_TARGET_FILE

    if not candidates:
        raise InvalidRequest("An ensemble needs at least one candidate.")
    preds, targets = [], []
    for bundle, folder in candidates:
        try:
            preds.append(np.load(Path(folder) / PREDICTIONS_FILE, allow_pickle=False))
            targets.append(np.load(Path(folder) / PREDICTIONS_TARGET_FILE, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise InvalidRequest(f"The validation predictions of candidate {Path(bundle)} "
                                 f"cannot be read ({exc}); train it with save_predictions."
                                 ) from None
    for i, t in enumerate(targets[1:], start=1):
        if t.shape != targets[0].shape or not np.array_equal(t, targets[0]):
            raise InvalidRequest(f"Candidate {i} was validated on other rows than candidate "
                                 "0; an ensemble is selected over candidates of one split.")
    sel = select(preds, targets[0], metric, problem_type, rounds=rounds)
    names = [str(read_manifest(Path(b)).get("algorithm")) for b, _ in candidates]
    write_ensemble(dest, [(Path(candidates[i][0]), float(sel.weights[i]))
                          for i in sel.members], manifest={"ensemble": {
        "metric": metric, "loss": sel.loss, "best_single": sel.best_single,
        "best_single_loss": sel.best_single_loss, "rounds": len(sel.trace),
        "candidates": [{"index": i, "algorithm": names[i], "weight": float(sel.weights[i])}
                       for i in range(len(candidates))]}})
    return sel
