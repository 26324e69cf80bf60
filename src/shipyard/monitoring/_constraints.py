"""Suggested constraints from baseline statistics, and validation of a user's edited copy.

The constraints document is meant to be read and edited by a person, so it is
small and flat::

    {
      "format": "shipyard.monitoring.constraints/1",
      "allow_extra_columns": false,
      "tolerance": {"out_of_range": 0.01, "unseen": 0.01},
      "columns": {
        "dep_delay": {"kind": "numeric", "required": true, "min_completeness": 0.965,
                      "min": -43.0, "max": 1301.0},
        "carrier":   {"kind": "categorical", "required": true, "min_completeness": 1.0,
                      "allowed": ["9E", "AA", "..."]}
      }
    }

Every key but ``kind`` is optional in an edited copy; a key that is absent is
not checked. :func:`validate_constraints` returns the normalised document or
raises :class:`~shipyard.errors.InvalidRequest` with one sentence naming the
key that is wrong.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.monitoring._common import KINDS

CONSTRAINTS_FORMAT = "shipyard.monitoring.constraints/1"
#: Share of a window's values that may fall outside [min, max] before it is a violation.
OUT_OF_RANGE_TOLERANCE = 0.01
#: Share of a window's values that may be categories the baseline never saw.
UNSEEN_TOLERANCE = 0.01
#: A column with missing values in the baseline may lose this much completeness.
COMPLETENESS_MARGIN = 0.01

_COLUMN_KEYS = frozenset({"kind", "required", "min_completeness", "min", "max", "allowed"})
_TOP_KEYS = frozenset({"format", "allow_extra_columns", "tolerance", "columns"})
_TOLERANCE_KEYS = frozenset({"out_of_range", "unseen"})


def suggest_constraints(statistics: Mapping[str, Any]) -> dict[str, Any]:
    """The constraints a baseline suggests: kind, completeness, numeric range, allowed categories.

    Completeness: a column complete in the baseline must stay complete; one with
    missing values may lose :data:`COMPLETENESS_MARGIN` (rounded down to 4 places).
    Range: the baseline's min and max. Categories: every category the baseline saw,
    when it kept them all (identifiers and free text get no domain).
    """
    columns: dict[str, Any] = {}
    for name, stats in statistics["columns"].items():
        kind = stats["kind"]
        completeness = float(stats["completeness"])
        floor = completeness if completeness >= 1.0 else completeness - COMPLETENESS_MARGIN
        entry: dict[str, Any] = {
            "kind": kind, "required": True,
            "min_completeness": max(0.0, math.floor(floor * 10_000) / 10_000),
        }
        if kind == "numeric" and stats.get("min") is not None:
            entry["min"], entry["max"] = stats["min"], stats["max"]
        freq = stats.get("frequencies")
        if kind in ("categorical", "boolean") and freq and not freq.get("other"):
            entry["allowed"] = sorted(freq["values"])
        columns[name] = entry
    return {
        "format": CONSTRAINTS_FORMAT,
        "allow_extra_columns": False,
        "tolerance": {"out_of_range": OUT_OF_RANGE_TOLERANCE, "unseen": UNSEEN_TOLERANCE},
        "columns": columns,
    }


def validate_constraints(doc: Any) -> dict[str, Any]:
    """A checked, normalised copy of a constraints document (e.g. after a user edited it).

    Raises:
        InvalidRequest: a key or value that is not what the format expects.
    """
    if not isinstance(doc, Mapping):
        raise InvalidRequest(
            f"Constraints must be a JSON object; got {type(doc).__name__}. Start from the "
            "baseline's suggested constraints."
        )
    _no_unknown(doc, _TOP_KEYS, "the constraints document")
    fmt = doc.get("format", CONSTRAINTS_FORMAT)
    if fmt != CONSTRAINTS_FORMAT:
        raise InvalidRequest(
            f"Constraints format {fmt!r} is not one this Shipyard reads ({CONSTRAINTS_FORMAT!r})."
        )
    extra = doc.get("allow_extra_columns", False)
    if not isinstance(extra, bool):
        raise InvalidRequest(f"allow_extra_columns must be true or false; got {extra!r}.")
    tolerance = doc.get("tolerance", {})
    if not isinstance(tolerance, Mapping):
        raise InvalidRequest(f"tolerance must be an object; got {tolerance!r}.")
    _no_unknown(tolerance, _TOLERANCE_KEYS, "tolerance")
    tol = {
        "out_of_range": _fraction(tolerance.get("out_of_range", OUT_OF_RANGE_TOLERANCE),
                                  "tolerance.out_of_range"),
        "unseen": _fraction(tolerance.get("unseen", UNSEEN_TOLERANCE), "tolerance.unseen"),
    }
    columns = doc.get("columns")
    if not isinstance(columns, Mapping):
        raise InvalidRequest("The constraints need a 'columns' object mapping column names to "
                             "their constraints.")
    return {
        "format": CONSTRAINTS_FORMAT, "allow_extra_columns": extra, "tolerance": tol,
        "columns": {str(name): _column(str(name), spec) for name, spec in columns.items()},
    }


def _column(name: str, spec: Any) -> dict[str, Any]:
    where = f"column {name!r}"
    if not isinstance(spec, Mapping):
        raise InvalidRequest(f"The constraints of {where} must be an object; got {spec!r}.")
    _no_unknown(spec, _COLUMN_KEYS, where)
    kind = spec.get("kind")
    if kind not in KINDS:
        raise InvalidRequest(
            f"The kind of {where} must be one of {', '.join(KINDS)}; got {kind!r}."
        )
    out: dict[str, Any] = {"kind": kind}
    required = spec.get("required", True)
    if not isinstance(required, bool):
        raise InvalidRequest(f"'required' of {where} must be true or false; got {required!r}.")
    out["required"] = required
    if "min_completeness" in spec:
        out["min_completeness"] = _fraction(spec["min_completeness"],
                                            f"min_completeness of {where}")
    for key in ("min", "max"):
        if key in spec:
            if kind != "numeric":
                raise InvalidRequest(
                    f"'{key}' only applies to numeric columns; {where} is {kind}. Remove it "
                    "or change the kind."
                )
            out[key] = _number(spec[key], f"'{key}' of {where}")
    if out.get("min") is not None and out.get("max") is not None and out["min"] > out["max"]:
        raise InvalidRequest(
            f"'min' of {where} ({out['min']}) is greater than its 'max' ({out['max']}); "
            "swap them."
        )
    if "allowed" in spec:
        allowed = spec["allowed"]
        if kind not in ("categorical", "boolean"):
            raise InvalidRequest(
                f"'allowed' only applies to categorical and boolean columns; {where} is {kind}."
            )
        if not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed):
            raise InvalidRequest(
                f"'allowed' of {where} must be a list of category strings; got {allowed!r}."
            )
        out["allowed"] = sorted(set(allowed))
    return copy.deepcopy(out)


def _no_unknown(doc: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InvalidRequest(
            f"Unknown key {unknown[0]!r} in {where}; expected only {', '.join(sorted(known))}."
        )


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"{what} must be a finite number or null; got {value!r}.")
    return float(value)


def _fraction(value: Any, what: str) -> float:
    number = _number(value, what)
    if number is None or not 0.0 <= number <= 1.0:
        raise InvalidRequest(f"{what} must be a number between 0 and 1; got {value!r}.")
    return number
