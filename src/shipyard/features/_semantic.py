"""Semantic types of pandas columns, as the feature recipe sees them.

The rules follow the dataset schema's (``shipyard.datasets``) so a column reads
the same everywhere, applied to a pandas Series because a recipe works on frames:

``numeric``      numbers to compute with
``categorical``  a small vocabulary of labels (or a larger one, grouped by the recipe)
``boolean``      two states (``bool``, or text such as yes/no, true/false)
``datetime``     points in time (timestamps, or text that parses as ISO dates)
``text``         free text (long values with spaces)
``identifier``   keys that name rows (``id``, ``*_id``, ``customerId``, unique strings,
                 a 0..n-1 or 1..n row number)

Pure functions: a Series in, a string out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SEMANTIC_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "identifier")

TRUE_WORDS = frozenset({"yes", "true", "y", "t"})
FALSE_WORDS = frozenset({"no", "false", "n", "f"})
_ID_WORDS = frozenset({"id", "uuid", "guid"})
_SUFFIX_ID = re.compile(r"[_\-. ](id|uuid|guid)$")
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
#: Unique values only count as an identifier when there are enough rows to mean it.
MIN_ROWS_FOR_UNIQUE_ID = 20
#: Mean length (characters) above which strings with spaces are free text.
TEXT_MEAN_LENGTH = 30.0
#: Share of distinct values above which strings with spaces are free text.
TEXT_DISTINCT_RATIO = 0.5


@dataclass(frozen=True)
class ColumnFacts:
    """What the default recipe needs to know of one column."""

    name: str
    dtype: str
    semantic_type: str
    rows: int
    missing: int
    distinct: int
    mean_length: float = 0.0

    @property
    def all_missing(self) -> bool:
        return self.rows > 0 and self.missing == self.rows

    @property
    def constant(self) -> bool:
        return self.distinct <= 1 and not self.all_missing


def looks_like_id(name: str) -> bool:
    """True for column names such as ``id``, ``customer_id``, ``orderId`` or ``CustomerID``."""
    low = name.lower()
    return low in _ID_WORDS or bool(_SUFFIX_ID.search(low) or _CAMEL_ID.search(name))


def is_text_dtype(s: pd.Series) -> bool:
    """Strings (pandas ``str``/``string``), Python objects or categoricals."""
    return bool(
        pd.api.types.is_string_dtype(s.dtype)
        or pd.api.types.is_object_dtype(s.dtype)
        or isinstance(s.dtype, pd.CategoricalDtype)
    )


def is_numeric_dtype(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype))


# -- the number rule ------------------------------------------------------------------------
# Where a number is expected (an endpoint's numeric input, a monitored column, a regression
# target), a value is one of three things, the same everywhere:
#   missing       None, NaN, the text "nan", an infinity written as text ("inf", a CSV's);
#   a number      an int, a float or a bool (1/0), or text that reads as one (" 4.5 ");
#   not a number  anything else, the empty text included.
# A column's semantic type still comes from its dtype: numbers in an object column are
# parsed where a number is expected, not typed as numeric.

#: Words an infinity is written as (after an optional sign): missing, as training's
#: recipe treats ±inf.
INFINITY_WORDS = frozenset({"inf", "infinity"})


def number_value(v: object) -> float:
    """``v`` as a float, NaN for missing (see the rule above); a number too large for a
    float is ±inf, for the caller to refuse or treat as missing.

    Raises:
        ValueError: ``v`` is not a number.
    """
    if v is None:
        return math.nan
    if isinstance(v, int | float | np.integer | np.floating):  # bool included: 1.0/0.0
        try:
            return float(v)
        except OverflowError:  # an int past a float's range (JSON's 1 and 400 zeros)
            return math.inf if v > 0 else -math.inf
    if not isinstance(v, str):
        if v is pd.NA or v is pd.NaT:
            return math.nan
        raise ValueError(f"{v!r} is not a number")
    text = v.strip()
    if text.lower().lstrip("+-") in INFINITY_WORDS:
        return math.nan
    try:
        return float(text)
    except OverflowError:
        return math.inf


def parse_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`number_value` over a column: its values as float64 (NaN for missing and
    for what is not a number), and where it held something that is not a number."""
    if pd.api.types.is_numeric_dtype(series.dtype):  # bool included
        return (series.to_numpy(dtype=float, na_value=np.nan),
                np.zeros(len(series), dtype=bool))
    parsed = np.array(pd.to_numeric(series, errors="coerce"), dtype=float)
    words = series.astype("string").str.strip().str.lower()
    said_missing = (words.isin(["nan", "+nan", "-nan"])
                    | words.str.lstrip("+-").isin(INFINITY_WORDS)).fillna(False).to_numpy()
    parsed[said_missing] = np.nan
    bad = np.isnan(parsed) & series.notna().to_numpy() & ~said_missing
    return parsed, bad


def _boolean_words(distinct: list[str]) -> bool:
    words = {v.strip().lower() for v in distinct}
    return len(words) == 2 and len(words & TRUE_WORDS) == 1 and len(words & FALSE_WORDS) == 1


def _parses_as_datetime(distinct: list[str]) -> bool:
    sample = distinct[:200]
    return bool(sample) and all(_ISO_DATE.match(v.strip()) for v in sample)


def _integer_identifier(name: str, values: pd.Series) -> bool:
    n = len(values)
    if n < MIN_ROWS_FOR_UNIQUE_ID or values.nunique() != n:
        return False
    if looks_like_id(name):
        return True
    # A row number (0..n-1 or 1..n, in any order) carries no information about the row.
    ordered = np.sort(values.to_numpy(dtype=np.int64))
    return bool(np.all(np.diff(ordered) == 1) and ordered[0] in (0, 1))


def _text_semantic(name: str, values: pd.Series, distinct: list[str]) -> tuple[str, float]:
    n = len(values)
    if n == 0:
        return "categorical", 0.0
    lengths = values.str.len()
    mean_len = float(lengths.mean())
    if _boolean_words(distinct):
        return "boolean", mean_len
    if looks_like_id(name) and len(distinct) > n / 2:
        return "identifier", mean_len
    if _parses_as_datetime(distinct):
        return "datetime", mean_len
    spaced = float(values.str.contains(" ", regex=False).mean())
    varied = len(distinct) / n > TEXT_DISTINCT_RATIO and n >= MIN_ROWS_FOR_UNIQUE_ID
    if spaced >= 0.5 and (mean_len > TEXT_MEAN_LENGTH or varied):
        return "text", mean_len
    if len(distinct) == n and n >= MIN_ROWS_FOR_UNIQUE_ID:
        return "identifier", mean_len
    return "categorical", mean_len


def column_facts(name: str, s: pd.Series) -> ColumnFacts:
    """Physical type, semantic type, missing and distinct counts of one column."""
    values = s.dropna()
    rows, missing = len(s), len(s) - len(values)
    mean_len = 0.0
    if pd.api.types.is_bool_dtype(s.dtype):
        semantic = "boolean"
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        semantic = "datetime"
    elif pd.api.types.is_integer_dtype(s.dtype):
        semantic = "identifier" if _integer_identifier(name, values) else "numeric"
    elif is_numeric_dtype(s):
        semantic = "numeric"
    elif is_text_dtype(s):
        text = values.astype(str)
        distinct = list(pd.unique(text))
        if set(map(type, values.head(50))) <= {bool, np.bool_} and len(values):
            semantic = "boolean"
        else:
            semantic, mean_len = _text_semantic(name, text, distinct)
    else:
        semantic = "categorical"
    distinct_count = int(values.astype(str).nunique()) if is_text_dtype(s) else int(
        values.nunique())
    return ColumnFacts(name=name, dtype=str(s.dtype), semantic_type=semantic, rows=rows,
                       missing=missing, distinct=distinct_count, mean_length=mean_len)


def frame_facts(df: pd.DataFrame, *, exclude: str | None = None) -> list[ColumnFacts]:
    """:func:`column_facts` for every column of ``df`` but ``exclude``, in order."""
    return [column_facts(str(c), df[c]) for c in df.columns if c != exclude]
