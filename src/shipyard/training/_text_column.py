"""Which column a text built-in reads: the ``text_column`` hyperparameter, or the one free text.

Shared by every text algorithm (text-bert, text-linear, text-embedding), so the rule reads
the same everywhere:

- ``text_column`` given: it must be a column of the data holding strings; otherwise a 400
  naming it (and the closest names, or what it holds).
- not given: the single column the recipe's semantic detection calls free text
  (:func:`shipyard.features.column_facts`, the default recipe's TF-IDF rule); none or
  several is a 400 naming the candidates (the string columns), asking for ``text_column``.

Pure: a frame and the hyperparameters in, a column name or an exception out. The jobs
service calls it at submit on the dataset (a 400 before any job exists) and the training
entry again on the job's rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._semantic import column_facts, is_text_dtype
from shipyard.names import names_hint


def _holds_strings(s: pd.Series) -> bool:
    """Strings (of a string, object or categorical column), judged on the first values."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return all(isinstance(v, str) for v in s.cat.categories)
    return is_text_dtype(s) and all(isinstance(v, str) for v in s.dropna().head(1000))


def resolve_text_column(frame: pd.DataFrame, hyperparameters: Mapping[str, Any]) -> str:
    """The text column of a text algorithm's request (see the module docstring).

    Args:
        frame: the training rows (the target column left out by the caller, or kept: a
            target is never free text worth reading here, and naming it is refused).
        hyperparameters: the request's; ``text_column`` is read (None or absent: infer).

    Raises:
        InvalidRequest: the named column is absent or holds no strings; or, with none
            named, no column or several columns are free text (naming the candidates).
    """
    columns = [str(c) for c in frame.columns]
    named = hyperparameters.get("text_column")
    if named is not None:
        if not isinstance(named, str) or not named.strip():
            raise InvalidRequest(f"text_column must name a column of the data; got {named!r}.")
        if named not in frame.columns:
            raise InvalidRequest(
                f"text_column {named!r} is not a column of the data; "
                f"{names_hint(named, columns, 'column')}. Fix text_column.")
        s = frame[named]
        if not _holds_strings(s):
            raise InvalidRequest(
                f"text_column {named!r} is not a text column (it holds {s.dtype} values); "
                "name a column of strings, e.g. a review or a description.")
        return named
    free = [c for c in columns if column_facts(c, frame[c]).semantic_type == "text"]
    if len(free) == 1:
        return free[0]
    strings = [c for c in columns if _holds_strings(frame[c])]
    if not free:
        raise InvalidRequest(
            "No column of the data reads as free text (long values with spaces), so there is "
            "no text to learn from; name the column with the hyperparameter text_column"
            + (f" (string columns: {strings})." if strings else "; the data has no string "
               "column."))
    raise InvalidRequest(
        f"Several columns read as free text: {free}; name the one to learn from with the "
        "hyperparameter text_column.")
