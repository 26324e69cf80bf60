"""Declared hyperparameters: name, type, range, default, scale; and their validation.

Tuning reads these declarations to build its search space, so each one says
everything about its domain: ``low``/``high`` (inclusive), ``log`` for ranges
searched on a log scale, ``choices`` for categorical ones. A ``str`` one is free text
(never searched), in the form ``pattern`` says when it has one (an image shape
``"8x8"``). A default of None means "off" or "unlimited" (said in the description);
``nullable`` allows None (that same "off") for a hyperparameter whose default is a value.

The declared range is what is *valid*; ``search`` is what tuning searches by default
when that is narrower (``(low, high, log)``: 50 to 1,000 boosting rounds, not 1 to
10,000), and ``tuned=False`` keeps a hyperparameter out of the default search (a
solver's iteration cap). A ``--range`` may still name any valid domain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.names import did_you_mean

#: ``str`` is a free string (a column name, e.g. ``text_column``): never searched by tuning.
TYPES = ("int", "float", "categorical", "bool", "str")
#: The longest value a ``str`` hyperparameter (a column name, a list of lags) takes.
MAX_TEXT = 256
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of an algorithm, as tuning and validation read it."""

    name: str
    type: str
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    description: str = ""
    #: None is allowed although the default is a value (it means "no limit").
    nullable: bool = False
    #: The default search domain ``(low, high, log)``, inside ``low``..``high``; None:
    #: the declared range, on the declared scale.
    search: tuple[float, float, bool] | None = None
    #: Whether tuning searches it when no ``--range`` names it.
    tuned: bool = True
    #: The regular expression a ``str`` value must match whole (None: any non-empty text).
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"Hyperparameter {self.name!r}: type must be one of {TYPES}.")
        if self.pattern is not None and self.type != "str":
            raise ValueError(f"Hyperparameter {self.name!r}: only a str one has a pattern.")
        if self.type == "categorical" and not self.choices:
            raise ValueError(f"Hyperparameter {self.name!r}: a categorical one needs choices.")
        if self.log and (self.low is None or self.low <= 0):
            raise ValueError(f"Hyperparameter {self.name!r}: a log scale needs low > 0.")
        if self.default is not None:
            self.validate(self.default)
        if self.search is not None:
            low, high, log = self.search
            if self.type not in ("int", "float") or not low < high or (log and low <= 0):
                raise ValueError(f"Hyperparameter {self.name!r}: search must be (low, high, "
                                 "log) of a number, low < high, low > 0 on a log scale.")
            self.validate(low)
            self.validate(high)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default,
                "low": self.low, "high": self.high, "log": self.log,
                "choices": list(self.choices) if self.choices else None,
                "description": self.description, **({"pattern": self.pattern}
                                                     if self.pattern else {}),
                "nullable": self.nullable or self.default is None,
                "search": self._search_dict()}

    def _search_dict(self) -> dict[str, Any] | None:
        """The domain tuning searches when no range names it (None: not searched)."""
        if not self.tuned or self.default is None or self.type == "str":
            return None
        if self.type == "str":  # a name (a column), never searched
            return None
        if self.type == "bool":
            return {"choices": [True, False]}
        if self.type == "categorical":
            return {"choices": list(self.choices or ())}
        if self.search is not None:
            return {"low": self.search[0], "high": self.search[1], "log": self.search[2]}
        if self.low is None or self.high is None or self.low >= self.high:
            return None
        return {"low": self.low, "high": self.high, "log": self.log}

    def _range(self) -> str:
        if self.type == "categorical":
            return f"one of {list(self.choices or ())}"
        if self.type == "bool":
            return "true or false"
        if self.type == "str":
            return (f"text matching {self.pattern}" if self.pattern
                    else f"a non-empty string of at most {MAX_TEXT} characters")
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        kind = "an integer" if self.type == "int" else "a number"
        return f"{kind} in [{lo}, {hi}]"

    def _refuse(self, value: Any) -> InvalidRequest:
        none = " (or null)" if self.default is None or self.nullable else ""
        return InvalidRequest(
            f"Hyperparameter {self.name!r} must be {self._range()}{none}; got {value!r}.")

    def validate(self, value: Any) -> Any:
        """``value`` coerced to its declared type; InvalidRequest names name, range and value."""
        if value is None:
            if self.default is None or self.nullable:
                return None
            raise self._refuse(value)
        if self.type == "bool":
            return self._bool(value)
        if self.type == "str":
            if not isinstance(value, str) or not 0 < len(value.strip()) <= MAX_TEXT or (
                    self.pattern and not re.fullmatch(self.pattern, value.strip())):
                raise self._refuse(value)
            return value.strip() if self.pattern else value
        if self.type == "categorical":
            for choice in self.choices or ():
                if value == choice or (isinstance(value, str) and value == str(choice)):
                    return choice
            raise self._refuse(value)
        number = self._number(value)
        if (self.low is not None and number < self.low) or (
                self.high is not None and number > self.high):
            raise self._refuse(value)
        return number

    def _bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self._refuse(value)

    def _number(self, value: Any) -> int | float:
        if isinstance(value, bool):
            raise self._refuse(value)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self._refuse(value) from None
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise self._refuse(value)
        if self.type == "int":
            if float(value) != int(value):
                raise self._refuse(value)
            return int(value)
        return float(value)


def validate_all(algorithm: str, declared: tuple[Hyperparameter, ...],
                 given: dict[str, Any]) -> dict[str, Any]:
    """Every declared hyperparameter, validated, with defaults for those not given."""
    by_name = {h.name: h for h in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise InvalidRequest(
            f"Algorithm {algorithm!r} has no hyperparameter {unknown[0]!r}; its "
            f"hyperparameters are {sorted(by_name)}.{did_you_mean(unknown[0], by_name)}")
    return {h.name: h.validate(given[h.name]) if h.name in given else h.default
            for h in declared}
