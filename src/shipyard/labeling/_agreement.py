"""Inter-annotator agreement on single-label answers: Fleiss' kappa and Krippendorff's alpha.

Both start from the item × label count table ``n[i, k]`` (how many annotators
gave item *i* label *k*), ``n_i = Σ_k n[i, k]``, over the items with ``n_i ≥ 2``
(an item with one answer says nothing about agreement).

Fleiss' kappa (Fleiss 1971), in the usual generalisation to a varying number of
raters per item (each item's agreement uses its own ``n_i``)::

    P_i = Σ_k n[i, k] (n[i, k] - 1) / (n_i (n_i - 1))      agreeing pairs of item i
    P̄   = mean_i P_i                                        observed agreement
    p_k = Σ_i n[i, k] / Σ_i n_i,   P_e = Σ_k p_k²          chance agreement
    κ   = (P̄ - P_e) / (1 - P_e)

With the same number of raters on every item this is exactly Fleiss' 1971 kappa.

Krippendorff's alpha (nominal) from the coincidence matrix
``o[c, k] = Σ_i n[i, c] (n[i, k] - [c = k]) / (n_i - 1)``, with ``n_c = Σ_k o[c, k]``
and ``n = Σ_c n_c``::

    α = 1 - (n - 1) (n - Σ_c o[c, c]) / (n² - Σ_c n_c²)

Both are NaN when undefined: no item has two answers, or every answer is the same
label (no chance disagreement to correct for).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shipyard.labeling._answers import encode_answers


def _paired_counts(answers: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    """The item × label count table of the items with at least two answers."""
    counts = encode_answers(answers, labels).counts()
    return counts[counts.sum(axis=1) >= 2]


def _fleiss(counts: np.ndarray) -> float:
    """Fleiss' kappa of an item × category count table (rows with ≥ 2 ratings)."""
    if len(counts) == 0:
        return float("nan")
    raters = counts.sum(axis=1)
    observed = ((counts * (counts - 1)).sum(axis=1) / (raters * (raters - 1))).mean()
    shares = counts.sum(axis=0) / raters.sum()
    chance = float((shares ** 2).sum())
    if chance >= 1.0 - 1e-12:
        return float("nan")
    return float((observed - chance) / (1.0 - chance))


def fleiss_kappa(answers: pd.DataFrame, labels: Sequence[str]) -> float:
    """Fleiss' kappa of single-label answers (columns item, annotator, label).

    Items answered once are left out; items may have different numbers of answers
    (see the module docstring for the formula). NaN when undefined.

    Raises:
        InvalidRequest: a missing column or a label outside ``labels``.
    """
    return _fleiss(_paired_counts(answers, labels))


def krippendorff_alpha(answers: pd.DataFrame, labels: Sequence[str]) -> float:
    """Krippendorff's alpha for nominal labels (columns item, annotator, label).

    Items answered once are not pairable and left out. NaN when undefined.

    Raises:
        InvalidRequest: a missing column or a label outside ``labels``.
    """
    counts = _paired_counts(answers, labels)
    if len(counts) == 0:
        return float("nan")
    weights = 1.0 / (counts.sum(axis=1) - 1.0)
    coincidence = counts.T @ (counts * weights[:, None])
    coincidence -= np.diag((counts * weights[:, None]).sum(axis=0))
    per_label = coincidence.sum(axis=1)
    total = per_label.sum()
    expected = total ** 2 - (per_label ** 2).sum()
    if expected <= 0:
        return float("nan")
    return float(1.0 - (total - 1.0) * (total - np.trace(coincidence)) / expected)


def per_label_agreement(answers: pd.DataFrame, labels: Sequence[str]) -> dict[str, float]:
    """Fleiss' kappa of each label against the rest (label → kappa, in the job's order).

    Each label's table has two columns: the item's votes for the label and its other
    votes. A label nobody (or everybody) used gets NaN: there is nothing to agree on.

    Raises:
        InvalidRequest: a missing column or a label outside ``labels``.
    """
    counts = _paired_counts(answers, labels)
    raters = counts.sum(axis=1)
    return {str(label): _fleiss(np.column_stack([counts[:, k], raters - counts[:, k]]))
            for k, label in enumerate(labels)}
