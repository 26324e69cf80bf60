"""Which column a text built-in reads: the ``text_column`` hyperparameter, or the one free text.

The rule every text algorithm shares (``text-linear``, ``text-embedding``, ``text-bert``):
``text_column`` names the column; when it is omitted, the single column the recipe's
semantic detection calls free text is used. None or several such columns, a name that is
not a column, or a column that is not text (numbers, true/false, dates) is the client's
mistake: an :class:`~shipyard.errors.InvalidRequest` (a 400) that names it and says what
to pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features import column_facts
from shipyard.names import did_you_mean

#: The hyperparameter every text algorithm declares for it.
TEXT_COLUMN = "text_column"


def text_candidates(frame: pd.DataFrame, exclude: str | None = None) -> list[str]:
    """The columns of ``frame`` that semantic detection calls free text, in order."""
    return [str(c) for c in frame.columns
            if c != exclude and column_facts(str(c), frame[c]).semantic_type == "text"]


def _is_string_column(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype) or \
            pd.api.types.is_datetime64_any_dtype(s.dtype):
        return False
    values = s.dropna()
    return bool(len(values)) and bool(values.map(lambda v: isinstance(v, str)).all())


def resolve_text_column(frame: pd.DataFrame, hyperparameters: Mapping[str, Any]) -> str:
    """The text column a text algorithm reads from ``frame`` (its training rows).

    Raises:
        InvalidRequest: ``text_column`` names no column or a non-text one; or it is
            omitted and ``frame`` has no free-text column, or several (naming them).
    """
    given = hyperparameters.get(TEXT_COLUMN)
    if given is not None:
        name = str(given)
        if name not in frame.columns:
            raise InvalidRequest(
                f"text_column {name!r} is not a column of the data; its columns are "
                f"{[str(c) for c in frame.columns]}.{did_you_mean(name, map(str, frame.columns))}"
                " Pass the name of the column that holds the text.")
        facts = column_facts(name, frame[name])
        if not _is_string_column(frame[name]):
            candidates = text_candidates(frame)
            hint = (f" The free-text column(s) here: {candidates}." if candidates else "")
            raise InvalidRequest(
                f"text_column {name!r} is not a text column (its values are {facts.dtype}, "
                f"{facts.semantic_type}); a text algorithm reads strings.{hint} Pass the "
                "name of a column that holds text.")
        return name
    candidates = text_candidates(frame)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidRequest(
            "The data has no free-text column for a text algorithm (no column looks like "
            "sentences); pass text_column=<column> naming the column that holds the text.")
    raise InvalidRequest(
        f"The data has several free-text columns {candidates}; a text algorithm reads one. "
        "Pass text_column=<column> to choose it.")
