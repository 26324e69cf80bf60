"""Drift of a current frame against a baseline: one test per column, then the dataset's share.

Selection rule (like Evidently's defaults), by the column's kind and the number
``n`` of non-missing values the baseline saw:

==========================================  ===================  ===================
column                                      n <= 1000            n > 1000
==========================================  ===================  ===================
numeric, more than 5 distinct values        ``ks`` (p < 0.05)    ``wasserstein`` (>= 0.1)
numeric with at most 5 values, categorical  ``chisquare``        ``jensenshannon`` (>= 0.1)
or boolean                                  (p < 0.05)
==========================================  ===================  ===================

Identifier, free-text and datetime columns, and columns constant in the
baseline, are skipped with a reason (the data-quality checks still watch them);
so is a column with fewer than ``min_rows`` current values. Any column may be
given another registered test or threshold (:class:`DriftOptions`). The dataset
drifts when the share of drifted feature columns reaches ``drift_share`` (0.5).
Model outputs (``prediction``, ``probability.*``) are tested the same way and
reported apart, as prediction drift; they do not count in the share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.monitoring._baseline import Baseline
from shipyard.monitoring._common import (
    as_frame,
    category_counts,
    coerce_numeric,
    column,
    num,
)
from shipyard.monitoring._stattests import TESTS, DriftTest, get_test
from shipyard.monitoring._summary import (
    bin_counts,
    histogram_counts,
    sorted_finite,
    value_frequencies,
)

#: Up to this many baseline values a column gets the small-sample tests (KS, chi-square).
SMALL_SAMPLE = 1000
#: Numeric columns with at most this many distinct values are tested like categories.
FEW_VALUES = 5
#: Categories drawn per feature in the report; the rest are summed as "other".
PLOT_CATEGORIES = 20
#: A few-valued numeric column compared value by value unless the window has more values.
MAX_NEW_VALUES = 200

#: A column not tested, by its short word: the kinds never tested, and the other reasons.
SKIPS = ("skipped by options", "identifier", "text", "datetime", "not in the window",
         "no baseline values", "constant", "not numbers", "too few rows")

_SKIP_KINDS = {
    "identifier": "identifiers name rows; their values are not expected to repeat",
    "text": "free text has no distribution to compare value by value",
    "datetime": "time moves forward by design; monitor features derived from it instead",
}


@dataclass(frozen=True)
class DriftOptions:
    """Which test and threshold each column gets, and when the whole dataset counts as drifted.

    Args:
        tests: column name → registered test name, instead of the selection rule.
        thresholds: test name → threshold, instead of the test's default.
        column_thresholds: column name → threshold (wins over ``thresholds``).
        drift_share: share of tested feature columns that must drift for dataset drift.
        min_rows: columns with fewer current values are skipped.
        skip: columns never tested.
    """

    tests: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    column_thresholds: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    min_rows: int = 30
    skip: Sequence[str] = ()

    def __post_init__(self) -> None:
        for col, name in self.tests.items():
            get_test(name)
            if not isinstance(col, str):
                raise InvalidRequest(f"Drift test overrides are keyed by column name; got {col!r}.")
        for name, value in self.thresholds.items():
            get_test(name)
            _threshold(value, f"the threshold of {name!r}")
        for col, value in self.column_thresholds.items():
            _threshold(value, f"the threshold of column {col!r}")
        if not 0 < self.drift_share <= 1:
            raise InvalidRequest(f"drift_share must be in (0, 1]; got {self.drift_share!r}.")
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int) or \
                self.min_rows < 1:
            raise InvalidRequest(f"min_rows must be a whole number >= 1; got {self.min_rows!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"tests": dict(self.tests), "thresholds": dict(self.thresholds),
                "column_thresholds": dict(self.column_thresholds),
                "drift_share": self.drift_share, "min_rows": self.min_rows,
                "skip": list(self.skip)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | None) -> DriftOptions:
        """Options from JSON (unknown keys are refused)."""
        doc = dict(doc or {})
        known = {"tests", "thresholds", "column_thresholds", "drift_share", "min_rows", "skip"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InvalidRequest(f"Unknown drift option {unknown[0]!r}; expected "
                                 f"{', '.join(sorted(known))}.")
        if "skip" in doc:
            doc["skip"] = tuple(doc["skip"])
        return cls(**doc)


@dataclass(frozen=True)
class ColumnDrift:
    """The drift test of one column, or why it was skipped (``reason``)."""

    column: str
    kind: str
    role: str
    test: str | None = None
    score: float | None = None
    statistic: float | None = None
    threshold: float | None = None
    drifted: bool = False
    reason: str | None = None
    n_reference: int = 0
    n_current: int = 0
    distribution: dict[str, Any] | None = None
    #: Why the column was not tested, as a short word for tables (``reason`` says it in
    #: full): one of :data:`SKIPS`.
    skip: str | None = None

    @property
    def tested(self) -> bool:
        return self.test is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftResult:
    """Per-column drift of the features and the model outputs, and the dataset's verdict."""

    columns: tuple[ColumnDrift, ...]
    outputs: tuple[ColumnDrift, ...]
    drift_share: float
    options: DriftOptions = field(default_factory=DriftOptions)

    @property
    def n_tested(self) -> int:
        return sum(c.tested for c in self.columns)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / self.n_tested if self.n_tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return self.n_tested > 0 and self.share_drifted >= self.drift_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_tested": self.n_tested, "n_drifted": len(self.drifted_columns),
            "share_drifted": self.share_drifted, "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift, "drifted_columns": self.drifted_columns,
            "columns": [c.to_dict() for c in self.columns],
            "outputs": [c.to_dict() for c in self.outputs],
            "options": self.options.to_dict(),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> DriftResult:
        return cls(
            columns=tuple(ColumnDrift(**c) for c in doc["columns"]),
            outputs=tuple(ColumnDrift(**c) for c in doc["outputs"]),
            drift_share=float(doc["drift_share"]),
            options=DriftOptions.from_dict(doc.get("options")),
        )


def default_test(stats: Mapping[str, Any], *, has_sample: bool = True) -> str:
    """The test the selection rule picks for a column's baseline statistics (module docstring)."""
    small = int(stats["count"]) <= SMALL_SAMPLE
    if stats["kind"] == "numeric" and int(stats.get("distinct") or 0) > FEW_VALUES:
        if not has_sample:
            return "jensenshannon"
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def compute_drift(baseline: Baseline, current: Any, options: DriftOptions | None = None
                  ) -> DriftResult:
    """Test every baseline column against the same column of ``current``.

    Args:
        baseline: from :func:`compute_baseline` or :meth:`Baseline.from_dict`.
        current: the window to test (pandas DataFrame or pyarrow Table); a column
            missing from it is skipped (the data-quality check reports it).
        options: test and threshold overrides; defaults to the selection rule.

    Raises:
        InvalidRequest: an override names a test that does not fit the column's kind.
    """
    opts = options or DriftOptions()
    frame = as_frame(current, "current data")
    unknown = sorted(set(opts.tests) - set(baseline.columns))
    if unknown:
        raise InvalidRequest(f"A drift test is set for column {unknown[0]!r}, which the baseline "
                             "does not have; check the spelling.")
    results = [_column_drift(baseline, name, stats, frame, opts)
               for name, stats in baseline.columns.items()]
    return DriftResult(
        columns=tuple(r for r in results if r.role != "output"),
        outputs=tuple(r for r in results if r.role == "output"),
        drift_share=opts.drift_share, options=opts,
    )


def _column_drift(baseline: Baseline, name: str, stats: Mapping[str, Any],
                  frame: pd.DataFrame, opts: DriftOptions) -> ColumnDrift:
    kind = stats["kind"]
    head = ColumnDrift(column=name, kind=kind, role=stats.get("role", "feature"),
                       n_reference=int(stats["count"]))
    series = column(frame, name)

    def skipped(skip: str, reason: str, n_current: int = 0) -> ColumnDrift:
        return ColumnDrift(**{**asdict(head), "reason": reason, "n_current": n_current,
                              "skip": skip})

    if name in opts.skip:
        return skipped("skipped by options", "skipped by the drift options")
    if kind in _SKIP_KINDS:
        return skipped(kind, f"{kind} column: {_SKIP_KINDS[kind]}")
    if series is None:
        return skipped("not in the window",
                       "not in the current data (the data-quality check reports it)")
    if head.n_reference == 0:
        return skipped("no baseline values", "the baseline has no values in this column")
    if int(stats.get("distinct") or 0) <= 1:
        return skipped("constant",
                       "constant in the baseline; the data-quality checks watch its value")
    if kind == "numeric":
        values, bad, example = coerce_numeric(series)
        if bad:
            return skipped("not numbers", f"{bad} current values are not numbers, e.g. "
                           f"{example!r} (see the data-quality check)")
        cur = sorted_finite(values)
        n_cur = int(cur.size)
    else:
        counts = category_counts(series, boolean=kind == "boolean")
        n_cur = sum(counts.values())
    if n_cur < opts.min_rows:
        return skipped("too few rows", f"only {n_cur} current values, fewer than "
                       f"min_rows={opts.min_rows}", n_cur)
    reference = baseline.reference_values(name) if kind == "numeric" else None
    test = _choose(name, stats, opts, has_sample=reference is not None and reference.size > 0)
    threshold = float(opts.column_thresholds.get(name, opts.thresholds.get(test.name,
                                                                           test.threshold)))
    if kind == "numeric":
        outcome, dist = _numeric(test, stats, reference, cur)
    else:
        outcome, dist = _categorical(test, stats, counts)
    return ColumnDrift(
        **{**asdict(head), "test": test.name, "score": num(outcome.score),
           "statistic": num(outcome.statistic), "threshold": threshold,
           "drifted": test.drifted(outcome.score, threshold), "n_current": n_cur,
           "distribution": dist},
    )


def _choose(name: str, stats: Mapping[str, Any], opts: DriftOptions, *, has_sample: bool
            ) -> DriftTest:
    chosen = opts.tests.get(name)
    if chosen is None:
        return TESTS[default_test(stats, has_sample=has_sample)]
    test = get_test(chosen)
    if stats["kind"] not in test.kinds:
        raise InvalidRequest(
            f"Drift test {test.name!r} does not apply to {stats['kind']} column {name!r}; "
            f"use one of {', '.join(t for t, d in TESTS.items() if stats['kind'] in d.kinds)}."
        )
    if test.data == "values" and not has_sample:
        raise InvalidRequest(
            f"Drift test {test.name!r} needs the baseline's reference sample of column "
            f"{name!r}, which this baseline lacks; load it with the sample, or use psi or "
            "jensenshannon."
        )
    return test


def _numeric(test: DriftTest, stats: Mapping[str, Any], reference: np.ndarray | None,
             cur: np.ndarray) -> tuple[Any, dict[str, Any]]:
    freq = stats.get("frequencies")
    dist: dict[str, Any]
    if freq:
        cur_values, cur_counts = value_frequencies(cur)
        if cur_values.size > MAX_NEW_VALUES:  # no longer a few values: compare bins instead
            freq = None
    if freq:
        ref_values = np.asarray(freq["values"], dtype=float)
        keys = np.union1d(ref_values, cur_values)
        ref = np.zeros(keys.size)
        ref[np.searchsorted(keys, ref_values)] = freq["counts"]
        now = np.zeros(keys.size)
        now[np.searchsorted(keys, cur_values)] = cur_counts
        dist = _bars([_label(k) for k in keys], ref, now)
    else:
        hist = stats["histogram"]
        edges = np.asarray(hist["edges"], dtype=float)
        counts, below, above = histogram_counts(cur, edges)
        ref_total = max(int(stats["count"]), 1)
        dist = {
            "type": "histogram", "edges": hist["edges"],
            "reference": [c / ref_total for c in hist["counts"]],
            "current": [c / cur.size for c in counts],
            "below": [hist["below"] / ref_total, below / cur.size],
            "above": [hist["above"] / ref_total, above / cur.size],
        }
    if test.data == "values":
        assert reference is not None  # _choose only picks a values test with a sample
        return test.function(reference, cur, reference_std=float(stats["std"] or 0.0)), dist
    if freq:
        return test.function(ref, now), dist
    edges = np.asarray(stats["bins"]["edges"], dtype=float)
    ref_bins = np.asarray(stats["bins"]["counts"], dtype=float)
    return test.function(ref_bins, bin_counts(cur, edges).astype(float)), dist


def _categorical(test: DriftTest, stats: Mapping[str, Any], counts: Mapping[str, int]
                 ) -> tuple[Any, dict[str, Any]]:
    freq = stats["frequencies"]
    ref_counts = dict(zip(freq["values"], freq["counts"], strict=True))
    other = int(freq.get("other") or 0)
    keys = list(ref_counts)
    if other:
        # The baseline kept only its top categories: anything else is pooled as "other".
        cur_other = sum(c for k, c in counts.items() if k not in ref_counts)
        ref = np.array([*ref_counts.values(), other], dtype=float)
        now = np.array([*(counts.get(k, 0) for k in keys), cur_other], dtype=float)
        labels = [*keys, "(other)"]
    else:
        keys += sorted(k for k in counts if k not in ref_counts)
        ref = np.array([ref_counts.get(k, 0) for k in keys], dtype=float)
        now = np.array([counts.get(k, 0) for k in keys], dtype=float)
        labels = keys
    return test.function(ref, now), _bars(labels, ref, now)


def _bars(labels: list[str], ref: np.ndarray, now: np.ndarray) -> dict[str, Any]:
    """Proportions per label for the report, the largest :data:`PLOT_CATEGORIES` kept."""
    p = ref / max(ref.sum(), 1.0)
    q = now / max(now.sum(), 1.0)
    order = np.argsort(-np.maximum(p, q), kind="stable")
    keep = np.sort(order[:PLOT_CATEGORIES])
    rest = np.setdiff1d(np.arange(len(labels)), keep)
    names = [labels[i] for i in keep]
    ref_share = [float(p[i]) for i in keep]
    cur_share = [float(q[i]) for i in keep]
    if rest.size:
        names.append(f"({rest.size} more)")
        ref_share.append(float(p[rest].sum()))
        cur_share.append(float(q[rest].sum()))
    return {"type": "bars", "labels": names, "reference": ref_share, "current": cur_share}


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _threshold(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) \
            or value < 0:
        raise InvalidRequest(f"{what} must be a non-negative number; got {value!r}.")
    return float(value)
