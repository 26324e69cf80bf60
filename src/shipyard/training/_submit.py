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
            raise _missing(target, columns, "The target is", dataset,
                           "Fix 'target' (--target on the CLI).")
        for name, cols in (others or {}).items():
            if target not in cols:
                raise _missing(target, cols, "The target is", name,
                               "Every input (train, validation, test) needs the target column: the "
                               "model is scored on it.")
    for key, flag in (("time_column", "--time-column"), ("group_column", "--group-column")):
        # split.time_column, not 'time_column': the CLI's error printer would turn the bare
        # field into its flag too (cli/_errors.py), naming it twice.
        column = (split or {}).get(key)
        if isinstance(column, str) and column not in columns:
            raise _missing(column, columns, f"The {key.replace('_', ' ')} is", dataset,
                           f"Fix split.{key} ({flag} on the CLI).")
    if recipe is None:
        return
    for where, column in recipe.unknown_columns(columns):
        if where == "drop":
            raise _missing(column, columns, "The recipe drops", dataset,
                           "Fix the 'drop' list (--drop on the CLI).")
        raise _missing(column, columns, f"Recipe {where} names", dataset, "Fix the recipe.")
    if supervised and target and target in recipe.drop:
        raise InvalidRequest(f"The recipe drops the target {target!r}; the target is kept "
                             "aside for the model to learn, so leave it out of 'drop' "
                             "(--drop on the CLI).")


#: Semantic types the default recipe drops: a held-out input may lack them.
_DROPPED_TYPES = frozenset({"identifier", "row_number"})


def _values(dtype: str) -> str | None:
    """What a schema dtype holds, where the model reads numbers and text differently."""
    low = dtype.lower()
    if low.startswith(("int", "uint", "float", "double", "decimal")):
        return "numbers"
    if low in ("string", "large_string", "utf8", "large_utf8", "str", "object"):
        return "text"
    return None


def check_held_out_inputs(train: Sequence[Mapping[str, Any]], dataset: str,
                          others: Mapping[str, Sequence[Mapping[str, Any]]], *,
                          target: str | None, drop: Sequence[str] = ()) -> None:
    """Refuse validation or test inputs the model trained on ``train`` could not read.

    Each must have every column the model reads (all of train's but the target, the
    recipe's ``drop`` list and the identifiers and row numbers the default recipe drops),
    holding numbers where train holds numbers and text where it holds text. Else the job
    would train every candidate and fail when it scores them.

    Args:
        train: the train version's schema (``name``, ``dtype``, ``semantic_type``).
        dataset: how to name it in a message (``"titanic:1"``).
        others: the validation and test inputs' schemas, by message name.
        target: the target column, which :func:`check_training_columns` checks.
        drop: columns the recipe drops.

    Raises:
        InvalidRequest: the first column missing or of other values, and how to fix it.
    """
    skip = {target, *drop}
    needed = [c for c in train if c.get("name") not in skip
              and c.get("semantic_type") not in _DROPPED_TYPES]
    for name, schema in others.items():
        given = {str(c.get("name")): c for c in schema}
        for column in needed:
            col = str(column["name"])
            if col not in given:
                raise InvalidRequest(
                    f"{name} lacks the column {col!r} that the model reads from {dataset}; "
                    f"{names_hint(col, list(given), 'column')}. Give an input with the "
                    f"train input's columns, or leave {col!r} out (add it to 'drop'; --drop "
                    f"{col} on the CLI).")
            want = _values(str(column.get("dtype") or ""))
            got = _values(str(given[col].get("dtype") or ""))
            if want and got and want != got:
                raise InvalidRequest(
                    f"Column {col!r} holds {got} in {name} but {want} in {dataset}, so the "
                    f"model cannot read it; give {name} the same values as the train input "
                    f"(or leave {col!r} out: add it to 'drop', --drop {col} on the CLI).")
