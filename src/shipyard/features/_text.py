"""The ``raw_text`` step: a free-text column kept as its raw strings, for a text model.

The text built-ins (``text-linear``, ``text-embedding``, ``text-bert``) tokenise a text
column themselves, inside the model, so the same code reads it at training and in the
serving instance. Their recipe keeps that column as it is (a missing value becomes the
empty string) instead of turning it into TF-IDF columns; the fitted recipe lists it in
:attr:`FittedRecipe.text_features`, the one kind of feature that is not a number or a
category.

:func:`raw_text_recipe` is the whole recipe of a model that reads one text column and
nothing else (text-bert: its tokenizer is part of the model). It drops every other column
(they stay in the input signature as not required, so a batch of whole rows is accepted).
"""

from __future__ import annotations

import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._recipe import FittedRecipe, StepSpec, _signature_entry
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


def raw_text_recipe(df: pd.DataFrame, column: str,
                    target: str | None = None) -> tuple[FittedRecipe, pd.DataFrame]:
    """A recipe that keeps only ``column``, as raw text, fitted on ``df``.

    Returns the fitted recipe and the rows as the model trains on them (the text column,
    then the target when given), like :meth:`Recipe.fit_transform`.

    Raises:
        InvalidRequest: ``column`` is not in ``df`` or is the target.
    """
    if column not in df.columns or column == target:
        raise InvalidRequest(f"The text column {column!r} is not a feature column of the data; "
                             "name a column of strings other than the target.")
    raw = df.reset_index(drop=True)
    inputs = raw.drop(columns=[target]) if target is not None else raw
    others = tuple(str(c) for c in inputs.columns if c != column)
    fitted: list[tuple[StepSpec, dict]] = []
    if others:
        spec = StepSpec("drop", others)
        fitted.append((spec, spec.build().fit(inputs, None)))
    signature = [_signature_entry(raw, str(c), str(c) == column, fitted) for c in inputs.columns]
    recipe = FittedRecipe(steps=tuple(fitted), input_signature=signature,
                          feature_names=[column], categorical_features=[], target=target,
                          text_features=[column])
    out = recipe.transform(raw)
    if target is not None:
        out = pd.concat([out, raw[target].rename(target)], axis=1)
    return recipe, out
