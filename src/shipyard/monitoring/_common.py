"""Column kinds and the conversions every monitoring module shares.

A column's *kind* uses the semantic-type words of :mod:`shipyard.datasets`
(``numeric``, ``categorical``, ``boolean``, ``datetime``, ``text``,
``identifier``). A service that monitors a dataset version passes the types
its schema already holds; standalone use infers them here with the same rules,
cheaply (pandas dtypes, names, and a look at the distinct values), so
importing this package never pulls in the metadata store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._semantic import is_numeric_dtype, parse_numbers

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "identifier")
#: Columns the serving data capture adds to every row (see ``shipyard.serving``).
CAPTURE_META = ("inference_id", "timestamp", "variant", "unseen")
#: A string column with more distinct values than this is treated as an identifier.
MAX_CATEGORIES = 1000
#: Mean length (characters) above which strings with spaces are free text.
TEXT_MEAN_LENGTH = 30.0
#: Unique strings only count as an identifier when there are enough of them to mean it.
MIN_ROWS_FOR_UNIQUE_ID = 20

_ID_WORDS = frozenset({"id", "uuid", "guid"})
_SUFFIX_ID = re.compile(r"[_\-. ](id|uuid|guid)$")
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def num(value: Any) -> float | None:
    """A JSON-able float: Python ``float``, or None for missing, NaN and infinities."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def is_output(name: str) -> bool:
    """True for the model-output columns of a capture: ``prediction`` and ``probability.*``."""
    return name == "prediction" or name.startswith("probability.")


def looks_like_id(name: str) -> bool:
    """True for column names such as ``id``, ``customer_id``, ``orderId`` or ``CustomerID``."""
    low = name.lower()
    return low in _ID_WORDS or bool(_SUFFIX_ID.search(low) or _CAMEL_ID.search(name))


def column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The column ``name`` of a frame, or None.

    The capture stores an input named like one of its own columns (``timestamp``,
    ``prediction``…) as ``input.<name>``; that spelling wins when present.
    """
    alias = f"input.{name}"
    if alias in frame.columns:
        return frame[alias]
    return frame[name] if name in frame.columns else None


def as_frame(data: Any, what: str) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame or an Arrow table, else a clear error."""
    if isinstance(data, pd.DataFrame):
        if not data.columns.is_unique:
            dup = data.columns[data.columns.duplicated()][0]
            raise InvalidRequest(f"The {what} has the column {dup!r} twice; rename one.")
        return data
    if hasattr(data, "to_pandas") and hasattr(data, "schema"):
        return as_frame(data.to_pandas(), what)
    raise InvalidRequest(
        f"The {what} must be a pandas DataFrame or a pyarrow Table; got {type(data).__name__}."
    )


def numeric_values(series: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for missing (booleans become 0/1)."""
    return series.to_numpy(dtype=float, na_value=np.nan)


def coerce_numeric(series: pd.Series) -> tuple[np.ndarray, int, str | None]:
    """Float values of a column that should be numeric, the count that are not, and one example.

    Numeric and boolean columns convert as they are; text is parsed by the one number
    rule (``features._semantic.parse_numbers``): "nan" and "inf" written as text are
    missing, and what is not a number counts (and is missing in the values returned).
    """
    values, bad = parse_numbers(series)
    count = int(bad.sum())
    example = str(series[bad].iloc[0]) if count else None
    return values, count, example


def category_counts(series: pd.Series, *, boolean: bool = False) -> dict[str, int]:
    """Counts of each value's text form (booleans as ``false``/``true``), missing left out.

    With ``boolean``, the numbers 0 and 1 count as ``false`` and ``true`` too (the
    data capture stores boolean inputs as 0.0/1.0).
    """
    counts = series.value_counts(dropna=True, sort=False)
    numbers = boolean and is_numeric_dtype(series)
    out: dict[str, int] = {}
    for key, count in zip(counts.index.tolist(), counts.to_numpy().tolist(), strict=True):
        text = category_text(bool(key) if numbers and key in (0, 1) else key)
        out[text] = out.get(text, 0) + int(count)
    return out


def category_text(value: Any) -> str:
    """The text form a category is stored and compared as."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def infer_kind(name: str, series: pd.Series, counts: Mapping[str, int] | None = None) -> str:
    """The kind of one column from its dtype, its name and (for text) its distinct values.

    Args:
        name: the column name (``*_id`` and the like are identifiers).
        series: the values.
        counts: :func:`category_counts` of ``series`` when the caller has them already.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        integer = pd.api.types.is_integer_dtype(dtype)
        return "identifier" if integer and looks_like_id(name) else "numeric"
    counts = category_counts(series) if counts is None else counts
    n = sum(counts.values())
    if n == 0:
        return "categorical"
    keys = list(counts)
    if set(keys) <= {"true", "false"}:
        return "boolean"
    if looks_like_id(name):
        return "identifier"
    probe = keys[:50]
    if all(len(k) >= 10 and _ISO_DATE.match(k) for k in probe):
        return "datetime"
    mean_len = sum(len(k) * c for k, c in counts.items()) / n
    spaced = sum(c for k, c in counts.items() if " " in k) / n
    if spaced >= 0.5 and mean_len > TEXT_MEAN_LENGTH:
        return "text"
    if len(keys) == n and n >= MIN_ROWS_FOR_UNIQUE_ID:
        return "identifier"
    if len(keys) > MAX_CATEGORIES:
        return "identifier"
    return "categorical"


def as_served(frame: pd.DataFrame, signature: Any) -> pd.DataFrame:
    """``frame``'s model inputs as a serving instance checks and captures them.

    The capture holds each input after the model's signature check: a two-state
    column (``yes``/``no``, ``True``/``False``) as 1.0/0.0, a number as a float. A
    baseline read from a dataset holds them as written, so a monitor compares the
    two only after this same conversion; otherwise every two-state column would be
    "text expected, numbers found" on every run.

    Args:
        frame: dataset rows (a baseline, or a dataset version checked as a window).
        signature: the bundle's input signature (``{"name", "semantic_type"}`` entries).
    """
    from shipyard.features._semantic import FALSE_WORDS, TRUE_WORDS

    out = frame.copy()
    for entry in signature or ():
        name, kind = str(entry.get("name")), entry.get("semantic_type")
        if name not in out.columns:
            continue
        col = out[name]
        if kind == "boolean" and not pd.api.types.is_numeric_dtype(col):
            words = col.map(lambda v: str(v).strip().lower() if v is not None else v)
            flags = words.map(lambda w: 1.0 if w in TRUE_WORDS else 0.0 if w in FALSE_WORDS
                              else np.nan)
            out[name] = flags.astype("float64")
        elif kind in ("boolean", "numeric"):
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
    return out
