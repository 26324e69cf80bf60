"""Leaks, found before any candidate trains: the train version's profile against the target.

An AutoML job must not learn from a column that gives the answer away: its validation
and test scores would look near perfect and the model would be useless where the column
is not known yet (AER's CreditCard: ``expenditure`` and ``share`` are 0 for every refused
applicant; ISLR's Wage: ``logwage`` is the target's logarithm). At submit the job reads
the train version's cached profile with its target (:class:`shipyard.profiling.
VersionProfiles`, the same snapshot ``shipyard datasets profile --target`` and the
exploration notebook show) and takes its suspected leaks: features that predict the target
strongly *and* have something else pointing to a leak (a one-feature model scoring 0.98 or
more on held-out rows, a name repeating the target's or saying "label", "outcome"…, or,
for a numeric target, ranks that follow the target's at |Spearman| ≥ 0.99, as hfi's
``hf_rank`` does ``hf_score``'s, or do so within each group of a column, as the price's
rank within its neighbourhood would; see :mod:`shipyard.profiling._target`). A date the
target trends with is no leak (a time-order warning says to split by time instead).

What it does with them, as DataRobot does: every candidate leaves them out (the recipe's
``drop`` list), and the job says so (``outputs.automl.analysis``, the CLI, the SDK). A
column the user knows is available at prediction time is kept with ``keep``. The rule is
strict on purpose: on 13 real tables without a leak it flagged nothing (ames, penguins,
diamonds, Chicago, concrete, car_prices, hpc_data, cells, attrition, lending_club, HMDA,
OJ, tate_text), and it flagged the three known leaks of CreditCard and Wage.

Identifiers, row numbers and constant columns need no profile: the version's semantic
types say what they are and the default recipe drops them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The profile's problem types, by AutoML's.
PROFILE_PROBLEM = {"binary": "classification", "multiclass": "classification",
                   "regression": "regression"}


def suspected_leaks(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The features a profile snapshot (``Profile.to_dict()``) marks as leaks, most
    predictive first: ``column``, ``reasons`` (sentences), ``solo_metric`` and
    ``solo_score`` (the one-feature model's held-out score, when fitted)."""
    target = snapshot.get("target") or {}
    out = []
    for f in target.get("features") or []:
        if isinstance(f, Mapping) and f.get("leak"):
            out.append({"column": str(f.get("column")),
                        "reasons": [str(r) for r in f.get("leak_reasons") or []],
                        "solo_metric": f.get("solo_metric"), "solo_score": f.get("solo_score")})
    return out


def plan_drops(leaks: Sequence[Mapping[str, Any]], drop: Sequence[str],
               keep: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The columns every candidate leaves out, and the analysis the job reports.

    ``drop``: the user's; ``keep``: suspected leaks the user keeps. Returns the dropped
    columns (the user's first, then the leaks not kept) and ``{"leaks", "dropped",
    "kept"}``: the suspected leaks with their reasons, every dropped column with why
    (``user`` or ``leak``), and the leaks kept.
    """
    kept = [str(x["column"]) for x in leaks if x["column"] in set(keep)]
    dropped = [{"column": c, "why": "user"} for c in dict.fromkeys(drop)]
    given = {d["column"] for d in dropped}
    dropped += [{"column": str(x["column"]), "why": "leak"} for x in leaks
                if x["column"] not in given and x["column"] not in set(keep)]
    analysis = {"leaks": [dict(x) for x in leaks], "dropped": dropped, "kept": kept}
    return [d["column"] for d in dropped], analysis


def left_out(analysis: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(column, the last reason the profile gave, or "") of each suspected leak a job's
    ``analysis`` left out, in order."""
    reasons = {str(x.get("column")): list(x.get("reasons") or [])
               for x in (analysis or {}).get("leaks") or []}
    return [(str(d.get("column")), (reasons.get(str(d.get("column"))) or [""])[-1])
            for d in (analysis or {}).get("dropped") or [] if d.get("why") == "leak"]


def describe_leaks(analysis: Mapping[str, Any] | None, *, sdk: bool = False) -> str | None:
    """One sentence on the leaks a job left out (None when it left out none), for the CLI
    (``--keep a,b``) or the SDK (``keep=[...]``)."""
    found = left_out(analysis)
    if not found:
        return None
    gone = [column for column, _ in found]
    parts = [f"{column} ({reason})" if reason else column for column, reason in found]
    return (f"Left out {len(gone)} suspected leak{'s' if len(gone) > 1 else ''} of the "
            f"target: {'; '.join(parts)}. If {'they are' if len(gone) > 1 else 'it is'} "
            f"known at prediction time, keep {'them' if len(gone) > 1 else 'it'} with "
            + (f"keep={gone!r}." if sdk else f"--keep {','.join(gone)}."))


def describe_missing_target(spec: Mapping[str, Any]) -> str:
    """'59 of the 322 rows of hitters:1 have no 'Salary' and are left out.', or '': the
    rows an AutoML job's stored spec counted without a target (``target_missing``)."""
    missing = int(spec.get("target_missing") or 0)
    if not missing:
        return ""
    train = (spec.get("inputs") or {}).get("train") or {}
    return (f"{missing:,} of the {int(spec.get('rows') or 0):,} rows of "
            f"{train.get('dataset')}:{train.get('version')} have no {spec.get('target')!r} "
            "and are left out.")


def describe_numbers_as_classes(spec: Mapping[str, Any]) -> str:
    """A sentence when an AutoML job read a target of whole numbers as classes without
    being told (``numbers_as_classes`` in its stored spec), for the SDK; else ''."""
    if not spec.get("numbers_as_classes"):
        return ""
    return (f"The target {spec.get('target')!r} holds whole numbers with few distinct "
            "values, so it is read as classes (multiclass); if it is a quantity (a count, "
            "an amount), pass problem_type='regression'.")
