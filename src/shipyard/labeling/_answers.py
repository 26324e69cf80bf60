"""Checking annotators' answers and turning them into integer codes (shared by the core modules).

Every consolidation and agreement function takes answers as a long DataFrame, one
row per (item, annotator) answer. These helpers check the columns and the label
vocabulary once, with messages that name what was wrong, and factorise the
strings into the integer arrays the numpy code works on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest


def check_columns(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    """Raise InvalidRequest naming every missing column of ``frame``."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InvalidRequest(
            f"{what} need the columns {', '.join(map(repr, required))}; "
            f"missing {', '.join(map(repr, missing))} (got {list(map(str, frame.columns))}).",
            missing=missing)


def check_labels(labels: Sequence[str]) -> list[str]:
    """The label vocabulary as a list: non-empty, strings, no duplicates."""
    out = [str(label) for label in labels]
    if not out:
        raise InvalidRequest("The label set is empty; give at least one label.")
    duplicated = sorted({label for label in out if out.count(label) > 1})
    if duplicated:
        raise InvalidRequest(f"The label set repeats {', '.join(map(repr, duplicated))}; "
                             "give each label once.", duplicated=duplicated)
    return out


def check_known(used: Iterable[str], labels: Sequence[str], where: str = "answers") -> None:
    """Raise InvalidRequest naming the labels in ``used`` that are not in ``labels``."""
    known = set(labels)
    unknown = sorted({str(u) for u in used} - known)
    if unknown:
        shown = ", ".join(map(repr, unknown[:10])) + (" …" if len(unknown) > 10 else "")
        raise InvalidRequest(
            f"The {where} use the label(s) {shown}, which are not in the job's labels "
            f"{list(labels)}. Fix the answers or add the label to the job.",
            unknown=unknown[:10])


@dataclass(frozen=True)
class EncodedAnswers:
    """Single-label answers as integer codes, sorted by item.

    ``item``, ``annotator`` and ``label`` are aligned arrays of codes into
    ``items`` (sorted), ``annotators`` (sorted) and the job's ``labels`` (in the
    job's order). ``starts`` holds the first row of each item, for ``np.add.reduceat``.
    """

    items: np.ndarray
    annotators: np.ndarray
    labels: list[str]
    item: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    starts: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        """Votes per item and label, an ``n_items × n_classes`` float array."""
        k = self.n_classes
        flat = np.bincount(self.item * k + self.label, minlength=self.n_items * k)
        return flat.reshape(self.n_items, k).astype(float)


def encode_answers(answers: pd.DataFrame, labels: Sequence[str]) -> EncodedAnswers:
    """Check single-label answers (columns item, annotator, label) and encode them."""
    check_columns(answers, ("item", "annotator", "label"), "Answers")
    vocabulary = check_labels(labels)
    frame = answers[["item", "annotator", "label"]].dropna()
    label_str = frame["label"].astype(str)
    check_known(label_str.unique(), vocabulary)
    item_codes, items = pd.factorize(frame["item"].astype(str), sort=True)
    ann_codes, annotators = pd.factorize(frame["annotator"].astype(str), sort=True)
    label_codes = pd.Categorical(label_str, categories=vocabulary).codes
    order = np.argsort(item_codes, kind="stable")
    item_sorted = np.asarray(item_codes, dtype=np.int64)[order]
    starts = np.flatnonzero(np.r_[True, item_sorted[1:] != item_sorted[:-1]]) \
        if len(item_sorted) else np.zeros(0, dtype=np.int64)
    return EncodedAnswers(
        items=np.asarray(items, dtype=object), annotators=np.asarray(annotators, dtype=object),
        labels=vocabulary, item=item_sorted,
        annotator=np.asarray(ann_codes, dtype=np.int64)[order],
        label=np.asarray(label_codes, dtype=np.int64)[order], starts=starts)


def label_frame(items: np.ndarray, labels: Sequence[str], chosen: np.ndarray,
                confidence: np.ndarray) -> pd.DataFrame:
    """The consolidated frame every class method returns: item, label, confidence."""
    names = np.asarray(list(labels), dtype=object)
    return pd.DataFrame({
        "item": pd.Series(items, dtype=object),
        "label": pd.Series(names[chosen] if len(chosen) else [], dtype=object),
        "confidence": np.asarray(confidence, dtype=float),
    })
