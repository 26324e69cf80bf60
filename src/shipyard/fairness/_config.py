"""What a bias analysis looks at: the label, its positive outcome, the facet and its groups.

:class:`BiasConfig` is the frozen, JSON-serialisable request. The helpers here turn it
into boolean masks over a DataFrame: which rows have the positive outcome, which rows
make the disadvantaged facet *d* (one mask per facet value when none is given). Values
arrive as JSON or CLI strings, so a value is matched to a column of any dtype: ``"1"``
matches the integer 1, ``"yes"`` matches ``True`` in a bool column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest

#: A facet with more distinct values than this needs facet_values or a facet_threshold:
#: "every value in turn against the rest" is for categories, not measurements.
MAX_FACET_VALUES = 50
_TRUE = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "0.0"})
Scalar = str | int | float | bool


@dataclass(frozen=True)
class BiasConfig:
    """One bias analysis: the label and its positive outcome, the facet and its groups.

    Args:
        label: The label (outcome) column.
        facet: The sensitive column whose groups are compared.
        positive: The label value(s) that are the positive (favourable) outcome.
        label_threshold: Instead of ``positive``: a label above it is positive.
            With neither, the label is taken as categories: the distribution metrics
            compare its category distributions and metrics that need a positive
            outcome are null.
        facet_values: The facet value(s) whose rows are the disadvantaged facet *d*;
            the other rows are the advantaged facet *a*.
        facet_threshold: Instead of ``facet_values``: a facet above it is *d*.
            With neither, every value of the facet in turn is *d* against the rest.
        group: An optional column to condition on (CDDL, CDDPL).
    """

    label: str
    facet: str
    positive: tuple[Scalar, ...] | None = None
    label_threshold: float | None = None
    facet_values: tuple[Scalar, ...] | None = None
    facet_threshold: float | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        problems = []
        for name in ("label", "facet"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                problems.append(f"'{name}' must be a column name; got {getattr(self, name)!r}")
        if self.group is not None and (not isinstance(self.group, str) or not self.group):
            problems.append(f"'group' must be a column name or null; got {self.group!r}")
        for values, threshold in (("positive", "label_threshold"),
                                  ("facet_values", "facet_threshold")):
            given = getattr(self, values)
            if given is not None:
                object.__setattr__(self, values, _as_tuple(given))
                if not getattr(self, values):
                    problems.append(f"'{values}' must list at least one value or be null")
            limit = getattr(self, threshold)
            if limit is not None:
                if given is not None:
                    problems.append(f"give '{values}' or '{threshold}', not both")
                if isinstance(limit, bool) or not isinstance(limit, int | float) \
                        or not math.isfinite(limit):
                    problems.append(f"'{threshold}' must be a finite number; got {limit!r}")
        if problems:
            raise InvalidRequest("Invalid bias config: " + "; ".join(problems) + ".")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasConfig:
        """The config from its JSON form (``input/config/bias.json``).

        Raises:
            InvalidRequest: an unknown key or a missing label or facet.
        """
        known = {"label", "facet", "positive", "label_threshold", "facet_values",
                 "facet_threshold", "group"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRequest(f"Unknown bias config key {unknown[0]!r}; the keys are "
                                 f"{sorted(known)}.")
        missing = [k for k in ("label", "facet") if not data.get(k)]
        if missing:
            raise InvalidRequest(f"The bias config needs {missing[0]!r} (a column name).")
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "positive": _listed(self.positive),
                "label_threshold": self.label_threshold, "facet": self.facet,
                "facet_values": _listed(self.facet_values),
                "facet_threshold": self.facet_threshold, "group": self.group}

    @property
    def binary(self) -> bool:
        """Whether the label has a positive outcome (a value rule or a threshold)."""
        return self.positive is not None or self.label_threshold is not None


def _as_tuple(value: Any) -> tuple[Scalar, ...]:
    if isinstance(value, str | int | float | bool):
        return (value,)
    return tuple(value)


def _listed(values: tuple[Scalar, ...] | None) -> list[Scalar] | None:
    return None if values is None else list(values)


@dataclass(frozen=True)
class FacetSplit:
    """One disadvantaged facet: its name for people and its row mask."""

    name: str
    value: Any
    mask: np.ndarray


def require_columns(df: pd.DataFrame, config: BiasConfig) -> None:
    """Raise :class:`InvalidRequest` naming the first column the config needs that is missing."""
    for role, column in (("label", config.label), ("facet", config.facet),
                         ("group", config.group)):
        if column is not None and column not in df.columns:
            names = [str(c) for c in df.columns]
            shown = ", ".join(repr(n) for n in names[:12]) + (", …" if len(names) > 12 else "")
            raise InvalidRequest(f"The {role} column {column!r} is not in the data; its "
                                 f"columns are {shown}. Fix the column name.")


def positive_mask(series: pd.Series, config: BiasConfig, *, what: str = "label",
                  check: bool = True) -> np.ndarray:
    """The rows of ``series`` (labels or predicted labels) that are the positive outcome.

    Raises:
        InvalidRequest: a threshold on a non-numeric column, or (with ``check``) a
            positive value that matches no row.
    """
    if config.label_threshold is not None:
        return _above(series, config.label_threshold, what, config.label)
    if config.positive is None:
        raise InvalidRequest("The label has no positive outcome: give 'positive' values or "
                             "a 'label_threshold'.")
    return value_mask(series, config.positive, column=config.label, role=what, check=check)


def like_labels(predicted: pd.Series, labels: pd.Series) -> pd.Series:
    """Predicted labels in the label column's dtype family: a bundle gives class values as
    text (``"True"``, ``"1"``), which a bool or numeric label's rule reads as such."""
    if pd.api.types.is_bool_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(
            predicted.dtype):
        return predicted.map(lambda v: None if pd.isna(v) else _as_bool(v)).astype("boolean")
    if pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_numeric_dtype(
            predicted.dtype):
        return pd.to_numeric(predicted, errors="coerce")
    return predicted


def facet_splits(series: pd.Series, config: BiasConfig) -> list[FacetSplit]:
    """Each disadvantaged facet *d* the config asks for, as a row mask over ``series``.

    Raises:
        InvalidRequest: a value that matches no row, a threshold on a non-numeric facet,
            a facet with one value only, or one with too many values to take in turn.
    """
    column = config.facet
    if config.facet_threshold is not None:
        mask = _above(series, config.facet_threshold, "facet", column)
        return [FacetSplit(f"{column} > {config.facet_threshold:g}",
                           config.facet_threshold, mask)]
    if config.facet_values is not None:
        mask = value_mask(series, config.facet_values, column=column, role="facet")
        shown = ", ".join(str(v) for v in config.facet_values)
        return [FacetSplit(f"{column} = {shown}", list(config.facet_values), mask)]
    values = pd.unique(series)
    if len(values) < 2:
        raise InvalidRequest(f"The facet column {column!r} has one value only "
                             f"({_few(series)}): there is no other group to compare with.")
    if len(values) > MAX_FACET_VALUES:
        raise InvalidRequest(
            f"The facet column {column!r} has {len(values)} distinct values (at most "
            f"{MAX_FACET_VALUES} are taken in turn); give 'facet_values' or, for a "
            "numeric facet, a 'facet_threshold'.")
    try:
        values = sorted(values)
    except TypeError:
        values = sorted(values, key=str)
    return [FacetSplit(f"{column} = {_plain(v)}", _plain(v), (series == v).to_numpy(bool))
            for v in values]


def value_mask(series: pd.Series, values: Sequence[Scalar], *, column: str, role: str,
               check: bool = True) -> np.ndarray:
    """The rows of ``series`` equal to any of ``values``, each read in the column's dtype."""
    mask = np.zeros(len(series), dtype=bool)
    for value in values:
        hit = _equal(series, value)
        if check and not hit.any():
            raise InvalidRequest(
                f"The {role} value {value!r} matches no row of column {column!r}; its "
                f"values include {_few(series)}. Fix the value.")
        mask |= hit
    return mask


def _equal(series: pd.Series, value: Scalar) -> np.ndarray:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        flag = _as_bool(value)
        if flag is None:
            return np.zeros(len(series), bool)
        return (series == flag).fillna(False).to_numpy(bool)
    if pd.api.types.is_numeric_dtype(dtype):
        number = _as_number(value)
        if number is None:
            return np.zeros(len(series), bool)
        if _is_word(value) and not set(series.dropna().unique()) <= {0, 1}:
            # "yes" is 1 only in a 0/1 column: in tenure it would silently pick month 1.
            return np.zeros(len(series), bool)
        return (series == number).fillna(False).to_numpy(bool)
    # Text, categories, mixed objects: compare what each value reads as.
    return (series.notna() & series.astype(str).isin(_forms(value))).to_numpy(bool)


def _is_word(value: Scalar) -> bool:
    """A true/false word ("yes", "no", "true"…), not a number or a bool."""
    if isinstance(value, bool | np.bool_ | int | float):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return True
    return False


def _forms(value: Scalar) -> set[str]:
    forms = {str(value)}
    if isinstance(value, bool):
        forms |= {str(value).lower()}
    elif isinstance(value, int | float) and float(value).is_integer():
        forms |= {str(int(value)), str(float(value))}
    return forms


def _as_bool(value: Scalar) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _as_number(value: Scalar) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        flag = _as_bool(value)
        return None if flag is None else float(flag)


def _above(series: pd.Series, threshold: float, role: str, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(
            series.dtype):
        converted = pd.to_numeric(series, errors="coerce")
        if converted.isna().any():
            raise InvalidRequest(
                f"A {role} threshold needs a numeric column; {column!r} holds "
                f"{_few(series)}. Give values instead of a threshold.")
        series = converted
    return (series.astype(float) > threshold).to_numpy(bool)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _few(series: pd.Series, n: int = 5) -> str:
    counts = series.value_counts(dropna=True)
    shown = [repr(_plain(v)) for v in counts.index[:n]]
    more = f" and {len(counts) - n} more" if len(counts) > n else ""
    return (", ".join(shown) + more) if shown else "no values"
