"""Data-quality checks of a window (or any frame) against a baseline's constraints.

Checks, by name: ``missing_column`` (a required column is absent),
``extra_column`` (a column the constraints do not know, unless
``allow_extra_columns``; the capture's own columns ``inference_id``,
``timestamp`` and ``variant`` never count), ``type`` (values that are not of
the column's kind), ``completeness`` (below ``min_completeness``),
``out_of_range`` (a share of values outside [min, max] above the tolerance) and
``unseen_category`` (a share of categories outside ``allowed`` above the
tolerance). Each violation names the column and the check, with what was
observed against what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.humanize import count as counted
from shipyard.humanize import number
from shipyard.monitoring._common import (
    CAPTURE_META,
    as_frame,
    category_counts,
    coerce_numeric,
    column,
    is_numeric_dtype,
    num,
)
from shipyard.monitoring._constraints import validate_constraints

#: At most this many examples of bad values are kept per violation.
EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One failed check: which column, which check, what was observed, what was expected."""

    column: str
    check: str
    observed: Any
    expected: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QualityResult:
    """Every violation found in a frame, and how much was checked."""

    n_rows: int
    columns_checked: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "columns_checked": self.columns_checked,
                "ok": self.ok, "violations": [v.to_dict() for v in self.violations]}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> QualityResult:
        return cls(n_rows=int(doc["n_rows"]), columns_checked=int(doc["columns_checked"]),
                   violations=tuple(Violation(**v) for v in doc["violations"]))


def check_quality(data: Any, constraints: Mapping[str, Any], *,
                  ignore: Iterable[str] = CAPTURE_META) -> QualityResult:
    """Check a frame against constraints (a baseline's, or a user's edited copy).

    Args:
        data: the window or dataset version (pandas DataFrame or pyarrow Table).
        constraints: a constraints document (validated here).
        ignore: columns that are neither checked nor reported as extra.

    Raises:
        InvalidRequest: the constraints are not valid.
    """
    spec = validate_constraints(constraints)
    frame = as_frame(data, "data to check")
    skip = set(ignore)
    tol = spec["tolerance"]
    found: list[Violation] = []
    known: set[str] = set()
    checked = 0
    for name, rules in spec["columns"].items():
        series = column(frame, name)
        if series is None:
            if rules["required"]:
                found.append(Violation(
                    name, "missing_column", None, "present",
                    f"Column {name!r} is missing; the constraints require it.",
                ))
            continue
        known.add(str(series.name))
        checked += 1
        found.extend(_check_column(name, series, rules, tol))
    if not spec["allow_extra_columns"]:
        for name in frame.columns:
            if name not in known and name not in skip:
                found.append(Violation(
                    str(name), "extra_column", "present", "absent",
                    f"Column {name!r} is not in the constraints; add it to them or set "
                    "allow_extra_columns.",
                ))
    return QualityResult(len(frame), checked, tuple(found))


def _check_column(name: str, series: pd.Series, rules: Mapping[str, Any],
                  tol: Mapping[str, float]) -> list[Violation]:
    out: list[Violation] = []
    n = len(series)
    kind = rules["kind"]
    missing = int(series.isna().sum())
    if kind == "numeric":
        values, bad, example = coerce_numeric(series)
        if bad:
            out.append(Violation(
                name, "type", {"dtype": str(series.dtype), "not_numbers": bad,
                               "example": example}, "numeric",
                f"Column {name!r} should be numeric but {number(bad)} of "
                f"{counted(n, 'value')} {'is not a number' if bad == 1 else 'are not numbers'}, "
                f"e.g. {example!r}.",
            ))
        missing = int(np.count_nonzero(~np.isfinite(values))) - bad
        out.extend(_range(name, values, rules, tol["out_of_range"]))
    elif kind in ("categorical", "boolean"):
        if is_numeric_dtype(series) and kind == "categorical":
            out.append(Violation(
                name, "type", {"dtype": str(series.dtype)}, "categorical",
                f"Column {name!r} should hold categories (text) but holds {series.dtype} "
                "numbers.",
            ))
        elif "allowed" in rules:
            counts = category_counts(series, boolean=kind == "boolean")
            out.extend(_unseen(name, counts, rules["allowed"], tol["unseen"]))
    completeness = (n - missing) / n if n else 1.0
    floor = rules.get("min_completeness")
    if floor is not None and n and completeness < floor:
        out.append(Violation(
            name, "completeness", num(completeness), floor,
            f"Column {name!r} is {completeness:.2%} complete ({number(missing)} of "
            f"{number(n)} missing); the constraints expect at least {floor:.2%}.",
        ))
    return out


def _range(name: str, values: np.ndarray, rules: Mapping[str, Any], tolerance: float
           ) -> list[Violation]:
    lo, hi = rules.get("min"), rules.get("max")
    finite = values[np.isfinite(values)]
    if finite.size == 0 or (lo is None and hi is None):
        return []
    outside = np.zeros(finite.size, dtype=bool)
    if lo is not None:
        outside |= finite < lo
    if hi is not None:
        outside |= finite > hi
    count = int(np.count_nonzero(outside))
    share = count / finite.size
    if share <= tolerance:
        return []
    observed = {"share": share, "count": count, "min": num(finite.min()),
                "max": num(finite.max())}
    return [Violation(
        name, "out_of_range", observed, {"min": lo, "max": hi, "max_share": tolerance},
        f"Column {name!r} has {counted(count, 'value')} ({share:.2%}) outside [{number(lo)}, "
        f"{number(hi)}] (observed {number(float(finite.min()))} to "
        f"{number(float(finite.max()))}); at most {tolerance:.2%} may be.",
    )]


def _unseen(name: str, counts: Mapping[str, int], allowed: list[str], tolerance: float
            ) -> list[Violation]:
    total = sum(counts.values())
    if not total:
        return []
    allowed_set = set(allowed)
    new = sorted(((k, c) for k, c in counts.items() if k not in allowed_set),
                 key=lambda kc: (-kc[1], kc[0]))
    count = sum(c for _, c in new)
    share = count / total
    if share <= tolerance:
        return []
    examples = [k for k, _ in new[:EXAMPLES]]
    return [Violation(
        name, "unseen_category",
        {"share": share, "count": count, "categories": len(new), "examples": examples},
        {"allowed": len(allowed), "max_share": tolerance},
        f"Column {name!r} has {counted(count, 'value')} ({share:.2%}) in "
        f"{counted(len(new), 'category')} the baseline never saw, e.g. "
        f"{', '.join(repr(e) for e in examples)}; at most {tolerance:.2%} may be.",
    )]
