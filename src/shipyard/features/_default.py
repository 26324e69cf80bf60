"""The default recipe: what any table needs to train with no hand work, and why (notes)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from shipyard.features._recipe import Recipe, StepSpec
from shipyard.features._semantic import ColumnFacts, frame_facts
from shipyard.features._steps import MISSING_SUFFIX, OTHER


def _drop_reason(f: ColumnFacts) -> str | None:
    if f.all_missing:
        return f"every value is missing ({f.rows} rows)"
    if f.constant:
        return "constant (one value in every row)"
    if f.semantic_type == "identifier":
        return f"identifier-like ({f.distinct} distinct of {f.rows - f.missing})"
    if f.semantic_type == "text":
        return (f"free text (mean {f.mean_length:.0f} characters, {f.distinct} distinct); "
                "text features are not built by default")
    return None


#: Semantic types of the dataset version's schema that are dropped whatever ``df`` shows.
DECLARED_DROPS = ("row_number", "identifier")


def _declared_reason(kind: str, s: pd.Series) -> str:
    """Why a column the dataset's schema types ``kind`` goes, in the words of the job log.

    The schema judged the whole version: a random 70% of 1..n no longer looks like
    row numbers, so these columns are dropped whatever the split.
    """
    values = s.dropna()
    span = ""
    if len(values) and pd.api.types.is_integer_dtype(values.dtype):
        span = f"{values.min()}..{values.max()}" + (", unique" if values.is_unique else "")
    if kind == "row_number":
        return (f"row number ({span})" if span else "row number") + \
            " per the dataset version's schema, whatever the split"
    return (f"identifier ({values.nunique()} distinct of {len(values)}) per the dataset "
            "version's schema")


def default_recipe(df: pd.DataFrame, target: str | None, *, scale: bool,
                   categorical: str = "onehot", max_categories: int = 20,
                   declared: Mapping[str, str] | None = None) -> tuple[Recipe, list[str]]:
    """A recipe that makes ``df`` trainable, and the notes for the job log.

    ``declared`` maps columns to the semantic types of the dataset version they come
    from (its schema, judged on every row): a ``row_number`` or ``identifier`` there is
    dropped even when the rows at hand (a random split) do not show it.

    Identifier-like, constant, all-missing and free-text columns are dropped;
    date/times become their parts; two-state columns 0/1; numbers are imputed
    with the median (plus a missing indicator where the data had gaps) and
    scaled when ``scale``; labels become one-hot columns or native categories
    (``categorical="native"``), rare ones grouped as ``__other__``.
    """
    facts = frame_facts(df, exclude=target)
    notes: list[str] = []
    drop: list[str] = []
    by_type: dict[str, list[str]] = {"datetime": [], "boolean": [], "categorical": []}
    forced = {n: k for n, k in (declared or {}).items() if k in DECLARED_DROPS}
    for f in facts:
        reason = (_declared_reason(forced[f.name], df[f.name]) if f.name in forced
                  else _drop_reason(f))
        if reason:
            drop.append(f.name)
            notes.append(f"dropped {f.name}: {reason}")
            continue
        if f.semantic_type in by_type:
            by_type[f.semantic_type].append(f.name)
        if f.semantic_type == "numeric" and f.missing:
            notes.append(f"{f.name}: {f.missing} missing values imputed with the median, "
                         f"indicator column {f.name}{MISSING_SUFFIX} added")
        if f.semantic_type == "categorical" and f.distinct > max_categories:
            notes.append(f"{f.name}: {f.distinct} distinct labels; the {max_categories} most "
                         f"frequent kept, the rest grouped as {OTHER}")
    for name in by_type["datetime"]:
        notes.append(f"{name}: date/time replaced by its parts (year, month, day, weekday, "
                     "hour where they vary)")
    steps: list[StepSpec] = []
    if drop:
        steps.append(StepSpec("drop", tuple(drop)))
    if by_type["datetime"]:
        steps.append(StepSpec("datetime_parts", tuple(by_type["datetime"])))
    if by_type["boolean"]:
        steps.append(StepSpec("boolean", tuple(by_type["boolean"])))
    if scale:
        # Before imputing, so the 0/1 missing indicators are not blown up by a tiny std.
        steps.append(StepSpec("scale", None))
    steps.append(StepSpec("impute", None, {"strategy": "median", "indicator": True}))
    if by_type["categorical"]:
        steps.append(StepSpec("categorical", tuple(by_type["categorical"]),
                              {"encoding": categorical, "max_categories": max_categories}))
    return Recipe(tuple(steps)), notes
