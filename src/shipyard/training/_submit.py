"""Submit-time checks of the columns a training request names, against a dataset's schema.

The target, the split's time and group columns, the recipe's ``drop`` list and the
columns its steps name are all checked before a job exists, so a typo is a 400
naming the column and the closest names, not a job that fails a minute later.
Pure: column names in, an exception or nothing out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.features import UserRecipe
from shipyard.names import names_hint


def _missing(column: str, columns: Sequence[str], what: str, dataset: str,
             fix: str) -> InvalidRequest:
    return InvalidRequest(f"{what} {column!r}, which is not a column of {dataset}; "
                          f"{names_hint(column, columns, 'column')}. {fix}")


def check_training_columns(columns: Sequence[str], dataset: str, *, target: str | None,
                           supervised: bool, split: Mapping[str, Any] | None,
                           recipe: UserRecipe | None,
                           others: Mapping[str, Sequence[str]] | None = None) -> None:
    """Refuse a training request that names a column ``dataset`` does not have.

    Args:
        columns: the train dataset version's column names.
        dataset: how to name it in a message (``"churn:3"``).
        target: the target column (checked for supervised algorithms only).
        split: the request's split object (``time_column``, ``group_column``).
        recipe: the request's recipe, read already.
        others: the column names of the validation/test inputs, by message name;
            each must have the target too.

    Raises:
        InvalidRequest: the first unknown column, with the closest names.
    """
    if supervised and target:
        if target not in columns:
            raise _missing(target, columns, "The target is", dataset, "Fix --target.")
        for name, cols in (others or {}).items():
            if target not in cols:
                raise _missing(target, cols, "The target is", name,
                               "Every input of a training job needs the target column.")
    for key, flag in (("time_column", "--time-column"), ("group_column", "--group-column")):
        column = (split or {}).get(key)
        if isinstance(column, str) and column not in columns:
            raise _missing(column, columns, f"The {key.replace('_', ' ')} is", dataset,
                           f"Fix {flag}.")
    if recipe is None:
        return
    for where, column in recipe.unknown_columns(columns):
        if where == "drop":
            raise _missing(column, columns, "The recipe drops", dataset,
                           "Fix --drop (or the recipe's 'drop' list).")
        raise _missing(column, columns, f"Recipe {where} names", dataset, "Fix the recipe.")
    if supervised and target and target in recipe.drop:
        raise InvalidRequest(f"The recipe drops the target {target!r}; the target is kept "
                             "aside for the model to learn, so leave it out of --drop.")
