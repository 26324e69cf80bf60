"""Warnings from a profile's figures, each with a severity and, where one helps, a recipe step.

The rules and thresholds are the constants below (documented in docs/profiling.md).
A column that should be dropped (constant, row number, identifier, personal data,
mostly missing, near-constant, a suspected leak) gets that one warning only; the
others describe columns worth keeping with care. Suggested steps use the recipe's
JSON format. Only a suspected leak is told to go: a merely strong predictor is told
to check how it is collected, since dropping the best features of a table is no fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.profiling._result import (
    ColumnProfile,
    Correlations,
    FeatureAssociation,
    ProfileWarning,
    TargetAnalysis,
    rank_warnings,
)
from shipyard.profiling._target import STRONG_ASSOCIATION

NEAR_CONSTANT_SHARE = 0.98
#: More distinct labels than the recipe's default ``max_categories`` (20) is high cardinality.
HIGH_CARDINALITY = 20
HIGH_CARDINALITY_MEDIUM = 100
#: Missing share thresholds: low, medium, high (high suggests dropping the column).
MISSING_LOW, MISSING_MEDIUM, MISSING_HIGH = 0.05, 0.2, 0.5
SKEW_LOW, SKEW_MEDIUM = 1.0, 2.0
#: A numeric column with at most this many distinct values is not judged for skew.
SKEW_MIN_DISTINCT = 20
HIGH_CORRELATION = 0.9
#: Largest over smallest standard deviation among numeric features.
SCALE_RATIO = 1000.0
#: Majority over minority class count: low, medium, high.
IMBALANCE_LOW, IMBALANCE_MEDIUM, IMBALANCE_HIGH = 3.0, 5.0, 20.0
DUPLICATES_MEDIUM = 0.05
#: Row numbers (or numeric identifiers) whose association with the target reaches this
#: follow the target's order: a leak a random split hands to any model.
ROW_ORDER_ASSOCIATION = 0.3
#: A categorical label must appear in this share of rows to keep its own column.
RARE_LABEL_SHARE = 0.01
_PII_WORDS = {"email": "email addresses", "phone": "phone numbers", "ssn": "social security "
              "numbers", "iban": "IBANs", "credit_card": "card numbers",
              "account_number": "account numbers"}


@dataclass(frozen=True)
class Facts:
    """What the rules need beyond the column profiles."""

    rows: int
    duplicate_rows: int
    pii: Mapping[str, str] = field(default_factory=dict)
    unique_integers: frozenset[str] = frozenset()
    target: str | None = None
    #: Row numbers and numeric identifiers → (association with the target, measure).
    row_order: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    #: Row numbers → why (``"1..2,930, unique"``), as :func:`row_number_reason` says.
    row_numbers: Mapping[str, str] = field(default_factory=dict)


def _drop(column: str) -> dict[str, Any]:
    return {"step": "drop", "columns": [column], "params": {}}


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%" if share < 0.995 or share == 1 else f"{100 * share:.2f}%"


def _top_share(c: ColumnProfile) -> tuple[Any, float] | None:
    """The most frequent value and its share of the values."""
    if c.top and c.count:
        return c.top[0]["value"], c.top[0]["count"] / c.count
    return None


def _follows_target(name: str, facts: Facts) -> str | None:
    """"its order follows the target 'price' (spearman 0.97)" when it does."""
    found = facts.row_order.get(name)
    if found is None or found[0] < ROW_ORDER_ASSOCIATION:
        return None
    return (f"its order follows the target {facts.target!r} ({found[1].replace('_', ' ')} "
            f"{found[0]:.2f})")


def _row_number(c: ColumnProfile, facts: Facts) -> ProfileWarning:
    name = c.name
    reason = facts.row_numbers.get(name)
    what = f"numbers the rows ({reason})" if reason else "numbers the rows"
    follows = _follows_target(name, facts)
    if follows:
        return ProfileWarning(
            "row_number", "high", (name,),
            f"Column {name!r} {what} and {follows}: a model would learn the row order instead "
            "of the data and score far better than it will in use; drop it.",
            facts.row_order[name][0], _drop(name), leak=True)
    assoc = facts.row_order.get(name)
    return ProfileWarning(
        "row_number", "high", (name,),
        f"Column {name!r} {what} rather than describing them; drop it before training (the "
        "default recipe does), or a random split lets a model learn the row order.",
        assoc[0] if assoc else 1.0, _drop(name))


def _dropping(c: ColumnProfile, facts: Facts) -> ProfileWarning | None:
    """The one warning that says a column should go, if any."""
    name = c.name
    if c.semantic_type == "row_number":
        return _row_number(c, facts)
    if c.count == 0:
        return ProfileWarning("constant", "high", (name,),
                              f"Column {name!r} has no values at all; drop it.", 1.0, _drop(name))
    if c.distinct <= 1:
        value = c.top[0]["value"] if c.top else (c.numeric or {}).get("min")
        return ProfileWarning("constant", "high", (name,),
                              f"Column {name!r} holds the single value {value!r} in every row "
                              "that has one, so it carries no information; drop it.", 1.0,
                              _drop(name))
    if name in facts.pii:
        kind = _PII_WORDS.get(facts.pii[name], facts.pii[name])
        return ProfileWarning("pii", "high", (name,),
                              f"Column {name!r} looks like personal data ({kind}); drop it, or "
                              "mask it before the data is shared or used to train.", 1.0,
                              _drop(name))
    if c.semantic_type == "identifier":
        follows = _follows_target(name, facts)
        return ProfileWarning("identifier", "high", (name,),
                              f"Column {name!r} is an identifier ({c.distinct:,} distinct values) "
                              "that names rows rather than describing them"
                              + (f", and {follows}" if follows else "")
                              + "; drop it before training.", c.distinct_share, _drop(name),
                              leak=follows is not None)
    if name in facts.unique_integers:
        return ProfileWarning("identifier", "medium", (name,),
                              f"Column {name!r} has a different whole number in every row, like "
                              "an identifier; drop it unless the numbers measure something.",
                              1.0, _drop(name))
    if c.missing_share >= MISSING_HIGH:
        return ProfileWarning("missing", "high", (name,),
                              f"Column {name!r} is missing in {_pct(c.missing_share)} of rows; "
                              "drop it, or keep only a was-it-missing flag.", c.missing_share,
                              _drop(name))
    top = _top_share(c)
    if top is not None and top[1] >= NEAR_CONSTANT_SHARE:
        return ProfileWarning("near_constant", "medium", (name,),
                              f"Column {name!r} is {top[0]!r} in {_pct(top[1])} of the rows "
                              "that have a value, so it says little; drop it.", top[1],
                              _drop(name))
    return None


def _keeping(c: ColumnProfile, facts: Facts) -> list[ProfileWarning]:
    """Warnings about a column worth keeping with care."""
    out = []
    name = c.name
    labels = c.text is not None or c.numeric is not None  # not lists, structs or bytes
    if c.semantic_type == "categorical" and labels and c.distinct > HIGH_CARDINALITY:
        severity = ("medium" if c.distinct > HIGH_CARDINALITY_MEDIUM
                    or c.distinct_share > 0.5 else "low")
        min_count = max(5, math.ceil(RARE_LABEL_SHARE * facts.rows))
        out.append(ProfileWarning(
            "high_cardinality", severity, (name,),
            f"Column {name!r} has {c.distinct:,} distinct labels; group the rare ones (seen "
            f"fewer than {min_count} times) into one before encoding.", c.distinct_share,
            {"step": "categorical", "columns": [name],
             "params": {"max_categories": HIGH_CARDINALITY, "min_count": min_count}}))
    if c.semantic_type == "categorical" and (variants := _label_variants(name, c.top, False)):
        out.append(variants)
    if c.missing_share >= MISSING_LOW:
        severity = "medium" if c.missing_share >= MISSING_MEDIUM else "low"
        if c.semantic_type == "numeric":
            step = {"step": "impute", "columns": [name], "params": {"strategy": "median"}}
            how = "impute it (the median, with a missing-indicator column)"
        else:
            step = {"step": "categorical", "columns": [name], "params": {}}
            how = "encode missing as a label of its own"
        out.append(ProfileWarning("missing", severity, (name,),
                                  f"Column {name!r} is missing in {_pct(c.missing_share)} of "
                                  f"rows; {how}.", c.missing_share, step))
    num = c.numeric or {}
    if num.get("infinite"):
        n = int(num["infinite"])
        out.append(ProfileWarning(
            "infinite", "medium", (name,),
            f"Column {name!r} holds {n:,} infinite value{'s' * (n != 1)} (±inf), left out of its "
            "statistics; the default recipe treats them as missing, so fix them at the source "
            "if they are errors (a division by zero?).", n / c.rows if c.rows else 0.0, None))
    skew = num.get("skew")
    if (c.semantic_type == "numeric" and skew is not None and abs(skew) >= SKEW_LOW
            and c.distinct > SKEW_MIN_DISTINCT):
        severity = "medium" if abs(skew) >= SKEW_MEDIUM else "low"
        if (num.get("min") or 0) >= 0 and skew > 0:
            step = {"step": "log", "columns": [name], "params": {"offset": 1.0}}
            how = "log(1 + x) evens it out"
        else:
            step = {"step": "clip", "columns": [name],
                    "params": {"method": "quantile", "lower": 0.01, "upper": 0.99}}
            how = "clipping it to its 1st–99th percentiles tames the tail"
        out.append(ProfileWarning("skew", severity, (name,),
                                  f"Column {name!r} is skewed (skewness {skew:.2f}); {how}.",
                                  abs(skew), step))
    return out


def _spellings(values: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Text labels that differ only in case or surrounding spaces ("No", " no", "NO"), each
    group most frequent first, as ``values`` (``{"value", "count"}``) rank them."""
    groups: dict[str, list[str]] = {}
    for v in values:
        if isinstance(v.get("value"), str):
            groups.setdefault(v["value"].strip().casefold(), []).append(v["value"])
    return [g for g in groups.values() if len(g) > 1]


def _label_variants(name: str, values: Sequence[Mapping[str, Any]],
                    target: bool) -> ProfileWarning | None:
    """A column (or the target) whose labels repeat in other spellings: each spelling is a
    label, or a class, of its own, though they surely mean one thing."""
    groups = _spellings(values)
    if not groups:
        return None
    said = "; ".join(", ".join(repr(v) for v in g) for g in groups[:3])
    more = f" and {len(groups) - 3} more" if len(groups) > 3 else ""
    what = (f"The target {name!r} has classes", "so they are learned as different classes")
    if not target:
        what = (f"Column {name!r} has labels", "so they are encoded as different labels")
    return ProfileWarning(
        "label_variants", "high" if target else "medium", (name,),
        f"{what[0]} that differ only in case or surrounding spaces ({said}{more}), {what[1]}; "
        "write each one way (a processing job: strip and lower-case them) before training.",
        float(sum(len(g) - 1 for g in groups)), None)


def _correlated(columns: Sequence[ColumnProfile], corr: Correlations,
                target: TargetAnalysis | None, excluded: set[str]) -> list[ProfileWarning]:
    strength: dict[tuple[str, str], tuple[float, str]] = {}
    measures = (("pearson", corr.pearson), ("spearman", corr.spearman),
                ("Cramér's V", corr.cramers_v), ("correlation ratio", corr.correlation_ratio))
    for measure, m in measures:
        for i, a in enumerate(m.rows):
            for j, b in enumerate(m.columns):
                v = m.values[i][j]
                if a == b or v is None or abs(v) < HIGH_CORRELATION or {a, b} & excluded:
                    continue
                key = (a, b) if a < b else (b, a)
                if abs(v) > strength.get(key, (0.0, ""))[0]:
                    strength[key] = (abs(v), measure)
    order = {c.name: k for k, c in enumerate(columns)}
    by_name = {c.name: c for c in columns}
    power = {f.column: (f.importance or 0.0, f.mutual_info or 0.0)
             for f in (target.features if target else ())}
    dropped: set[str] = set()
    out = []
    for (a, b), (v, measure) in sorted(strength.items(), key=lambda kv: (-kv[1][0], kv[0])):
        if {a, b} & dropped:
            continue
        first, second = sorted((a, b), key=lambda n: order[n])
        if target is not None:
            victim = min((second, first), key=lambda n: power.get(n, (0.0, 0.0)))
            why = "it predicts the target less"
        elif by_name[first].missing != by_name[second].missing:
            victim = max((first, second), key=lambda n: by_name[n].missing)
            why = "it has more missing values"
        else:
            victim, why = second, "it comes later"
        keep = first if victim == second else second
        dropped.add(victim)
        out.append(ProfileWarning(
            "high_correlation", "medium", (a, b),
            f"Columns {a!r} and {b!r} are highly correlated ({measure} {v:.2f}); keep {keep!r} "
            f"and drop {victim!r}, since {why}.", v, _drop(victim)))
    return out


def _scales(columns: Sequence[ColumnProfile], excluded: set[str]) -> list[ProfileWarning]:
    spread: dict[str, float] = {}
    for c in columns:
        std = (c.numeric or {}).get("std")
        if c.semantic_type == "numeric" and c.name not in excluded and c.distinct > 2 and std:
            spread[c.name] = float(std)
    if len(spread) < 2:
        return []
    wide, narrow = max(spread, key=spread.__getitem__), min(spread, key=spread.__getitem__)
    ratio = spread[wide] / spread[narrow]
    if ratio < SCALE_RATIO:
        return []
    return [ProfileWarning(
        "scale", "low", (wide, narrow),
        f"Numeric columns have vastly different scales (the standard deviation of {wide!r} is "
        f"{ratio:,.0f} times that of {narrow!r}); standardise them for linear and distance-based "
        "models.", ratio, None)]


def _strength(f: FeatureAssociation) -> str:
    """"spearman 0.93; alone r2 0.86 on held-out rows"."""
    said = []
    if f.association is not None:
        said.append(f"{(f.measure or '').replace('_', ' ')} {f.association:.2f}")
    if f.solo_score is not None:
        said.append(f"alone {(f.solo_metric or '').replace('_', ' ')} {f.solo_score:.2f} on "
                    "held-out rows")
    return "; ".join(said)


def _time_order(f: FeatureAssociation, target: str) -> ProfileWarning:
    """A strong feature that tells the target the time: how to split, not what to drop."""
    axis = f.follows_time
    why = (f"{axis!r} alone scores {_strength(f).split('; alone ')[-1]}" if f.column == axis
           else f"{f.column!r} moves with {axis!r}, and so predicts it ({_strength(f)})")
    return ProfileWarning(
        "time_order", "medium", (f.column,),
        f"The target {target!r} follows time: {why}, since neighbouring dates have "
        "similar values. A random split lets a model interpolate between them and overstates "
        "how it predicts later dates; split by time (or train a forecasting job) to judge it. "
        f"The column is kept{' as date features' if f.column == axis else ''}.",
        max(f.association or 0.0, f.solo_score or 0.0), None)


def _target_warnings(target: TargetAnalysis, rows: int) -> list[ProfileWarning]:
    out = []
    for f in target.features:
        if f.leak:
            strong = (f" ({(f.measure or '').replace('_', ' ')} {f.association:.2f})"
                      if f.association is not None and f.association >= STRONG_ASSOCIATION
                      else "")
            out.append(ProfileWarning(
                "target_leak", "high", (f.column,),
                f"Column {f.column!r} looks like a leak of the target {target.column!r}{strong}: "
                f"{' and '.join(f.leak_reasons)}; drop it unless it is known at prediction "
                "time.", max(f.association or 0.0, f.solo_score or 0.0), _drop(f.column),
                leak=True))
        elif f.follows_time:
            out.append(_time_order(f, target.column))
        elif f.strong:
            out.append(ProfileWarning(
                "strong_predictor", "medium", (f.column,),
                f"Column {f.column!r} is a strong predictor of the target {target.column!r} "
                f"({_strength(f)}); check how it is collected: is it known at prediction time? "
                "Keep it if so.", max(f.association or 0.0, f.solo_score or 0.0), None))
    ratio = target.imbalance_ratio
    if ratio is not None and ratio >= IMBALANCE_LOW:
        severity = ("high" if ratio >= IMBALANCE_HIGH else
                    "medium" if ratio >= IMBALANCE_MEDIUM else "low")
        rare = min(target.classes, key=lambda c: c["count"])
        out.append(ProfileWarning(
            "imbalance", severity, (target.column,),
            f"The target {target.column!r} is imbalanced: its majority class is {ratio:.1f} times "
            f"as frequent as {rare['value']!r} ({_pct(rare['share'])} of rows); weigh the "
            "classes or resample, and judge models by balanced metrics.", ratio, None))
    if (variants := _label_variants(target.column, target.classes, True)) is not None:
        out.append(variants)
    if target.missing:
        share = target.missing / rows if rows else 0.0
        out.append(ProfileWarning(
            "target_missing", "medium", (target.column,),
            f"The target {target.column!r} is missing in {target.missing:,} rows "
            f"({_pct(share)}); those rows cannot be used to train.", share, None))
    return out


def warnings_for(columns: Sequence[ColumnProfile], corr: Correlations,
                 target: TargetAnalysis | None, facts: Facts) -> tuple[ProfileWarning, ...]:
    """Every warning the rules find, most severe first."""
    out: list[ProfileWarning] = []
    excluded: set[str] = {facts.target} if facts.target else set()
    leaks = set(target.leaks) if target is not None else set()
    for c in columns:
        if c.name == facts.target:
            continue
        if c.name in leaks:  # its leak warning says to drop it, and why
            excluded.add(c.name)
        elif (dropping := _dropping(c, facts)) is not None:
            out.append(dropping)
            excluded.add(c.name)
        else:
            out.extend(_keeping(c, facts))
    if target is not None:
        out.extend(_target_warnings(target, facts.rows))
    out.extend(_correlated(columns, corr, target, excluded))
    out.extend(_scales(columns, excluded))
    if facts.duplicate_rows:
        share = facts.duplicate_rows / facts.rows
        out.append(ProfileWarning(
            "duplicates", "medium" if share >= DUPLICATES_MEDIUM else "low", (),
            f"{facts.duplicate_rows:,} rows ({_pct(share)}) repeat an earlier row exactly; "
            "remove them unless repeats are real events.", share, None))
    return rank_warnings(out)
