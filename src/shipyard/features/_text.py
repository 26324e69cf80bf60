"""The recipe of a model that reads one text column as it is (text-bert: its tokenizer is
part of the model, so the recipe only picks the column).

The fitted recipe drops every other column (they stay in the input signature as not
required, so a batch of whole rows is accepted) and hands the text column to the model
as strings: :attr:`FittedRecipe.text_features` names it, so it is never cast to numbers.
A missing value is the empty string by the model's own reading, not the recipe's.
"""

from __future__ import annotations

import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._recipe import FittedRecipe, StepSpec, _signature_entry


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
