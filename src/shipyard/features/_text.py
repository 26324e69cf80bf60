"""The ``raw_text`` step: a free-text column kept as its raw strings, for a text model.

The text built-ins (``text-linear``, ``text-embedding``, ``text-bert``) tokenise a text
column themselves, inside the model, so the same code reads it at training and in the
serving instance. Their recipe keeps that column as it is (a missing value becomes the
empty string) instead of turning it into TF-IDF columns; the fitted recipe lists it in
:attr:`FittedRecipe.text_features`, the one kind of feature that is not a number or a
category.
"""

from __future__ import annotations

import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._steps import Lineage, State, Step, passthrough, register_step


def raw_strings(s: pd.Series | None, n: int) -> pd.Series:
    """A column as plain Python strings, a missing value (or a missing column) as ``""``."""
    if s is None:
        return pd.Series([""] * n, dtype="object")
    return pd.Series([v if isinstance(v, str) else ("" if pd.isna(v) else str(v))
                      for v in s.astype("object")], index=s.index, dtype="object")


@register_step
class RawText(Step):
    name = "raw_text"
    description = ("Keep free-text columns as raw strings for a model that tokenises them "
                   "itself (the text built-ins); a missing value becomes ''.")
    defaults = {}
    accepts = "text"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        columns = self.select(df)
        numeric = [c for c in columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
        if numeric:
            raise InvalidRequest(
                f"Column {numeric[0]!r} is numeric, not text; raw_text keeps free-text "
                "columns only. Name a column of text.")
        return {"columns": columns}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        for col in state["columns"]:
            out[col] = raw_strings(out[col] if col in out.columns else None, len(out)).values
        return out

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        return passthrough(inputs)
