"""The default recipe: what any table needs to train with no hand work, and why (notes)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from shipyard.features._recipe import Recipe, StepSpec
from shipyard.features._semantic import ColumnFacts, frame_facts
from shipyard.features._steps import MISSING_SUFFIX, OTHER

#: TF-IDF terms the default keeps per free-text column, and for all of them together:
#: each term is a float column of every row (300 terms of 50k rows: 120 MB).
TEXT_TERMS = 300
TEXT_TERMS_TOTAL = 1000


def _drop_reason(f: ColumnFacts) -> str | None:
    if f.all_missing:
        return f"every value is missing ({f.rows} rows)"
    if f.constant:
        return "constant (one value in every row)"
    if f.semantic_type == "identifier":
        return f"identifier-like ({f.distinct} distinct of {f.rows - f.missing})"
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


def _text_step(columns: list[str], rows: int) -> tuple[StepSpec, list[str]]:
    """TF-IDF of the free-text columns, bounded in terms (memory) and in rarity.

    English stop words are kept: the list drops "not", "no" and "nor", and
    on review text that costs more than it saves (test ROC AUC 0.84 → 0.81 on
    modeldata's reviews); the most frequent terms are kept instead.
    """
    terms = min(TEXT_TERMS, max(50, TEXT_TERMS_TOTAL // len(columns)))
    min_df = 2 if rows >= 100 else 1  # a word seen in one row only cannot generalise
    notes = [f"{c}: free text, turned into TF-IDF features (the {terms} most frequent words "
             f"seen in at least {min_df} rows, as {c}.tfidf.<word>)" for c in columns]
    return StepSpec("tfidf", tuple(columns), {"max_features": terms, "min_df": min_df}), notes


def _infinite(df: pd.DataFrame, name: str) -> int:
    values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64")
    return int(np.isinf(values).sum())


def default_recipe(df: pd.DataFrame, target: str | None, *, scale: bool,
                   categorical: str = "onehot", max_categories: int = 20,
                   declared: Mapping[str, str] | None = None,
                   keep_text: str | None = None) -> tuple[Recipe, list[str]]:
    """A recipe that makes ``df`` trainable, and the notes for the job log.

    ``declared`` maps columns to the semantic types of the dataset version they come
    from (its schema, judged on every row): a ``row_number`` or ``identifier`` there is
    dropped even when the rows at hand (a random split) do not show it.

    Identifier-like, constant and all-missing columns are dropped; free text
    becomes TF-IDF features; date/times become their parts; two-state columns
    0/1; numbers are imputed with the median (plus a missing indicator where the
    data had gaps; ±inf counts as missing) and scaled when ``scale``; labels
    become one-hot columns or native categories (``categorical="native"``),
    rare ones grouped as ``__other__``. ``keep_text`` names the free-text column a text
    model reads raw (a ``raw_text`` step, whatever its semantic type looks like).
    """
    facts = frame_facts(df, exclude=target)
    notes: list[str] = []
    drop: list[str] = []
    by_type: dict[str, list[str]] = {"datetime": [], "boolean": [], "categorical": [],
                                     "text": []}
    forced = {n: k for n, k in (declared or {}).items() if k in DECLARED_DROPS}
    for f in facts:
        if f.name == keep_text:
            notes.append(f"{f.name}: free text, kept as raw text for the model to tokenise")
            continue
        reason = (_declared_reason(forced[f.name], df[f.name]) if f.name in forced
                  else _drop_reason(f))
        if reason:
            drop.append(f.name)
            notes.append(f"dropped {f.name}: {reason}")
            continue
        if f.semantic_type in by_type:
            by_type[f.semantic_type].append(f.name)
        infinite = _infinite(df, f.name) if f.semantic_type == "numeric" else 0
        if f.semantic_type == "numeric" and (f.missing or infinite):
            gaps = (f"{f.missing} missing and {infinite} ±inf values (±inf is treated as "
                    "missing)" if infinite else f"{f.missing} missing values")
            notes.append(f"{f.name}: {gaps} imputed with the median, indicator column "
                         f"{f.name}{MISSING_SUFFIX} added")
        if f.semantic_type == "categorical" and f.distinct > max_categories:
            notes.append(f"{f.name}: {f.distinct} distinct labels; the {max_categories} most "
                         f"frequent kept, the rest grouped as {OTHER}")
    for name in by_type["datetime"]:
        notes.append(f"{name}: date/time replaced by its parts (year, month, day, weekday, "
                     "hour where they vary)")
    steps: list[StepSpec] = []
    if keep_text is not None:
        steps.append(StepSpec("raw_text", (keep_text,)))
    if drop:
        steps.append(StepSpec("drop", tuple(drop)))
    if by_type["datetime"]:
        steps.append(StepSpec("datetime_parts", tuple(by_type["datetime"])))
    if by_type["boolean"]:
        steps.append(StepSpec("boolean", tuple(by_type["boolean"])))
    if by_type["text"]:
        text, text_notes = _text_step(by_type["text"], len(df))
        steps.append(text)
        notes.extend(text_notes)
    if scale:
        # Before imputing, so the 0/1 missing indicators are not blown up by a tiny std.
        steps.append(StepSpec("scale", None))
    steps.append(StepSpec("impute", None, {"strategy": "median", "indicator": True}))
    if by_type["categorical"]:
        steps.append(StepSpec("categorical", tuple(by_type["categorical"]),
                              {"encoding": categorical, "max_categories": max_categories}))
    return Recipe(tuple(steps)), notes
