"""The values a recipe step's parameters may take, checked when the step is made.

A step declares ``checks`` beside its ``defaults``: parameter name → a :class:`Check`
built from the small validators here (a bool that really is a bool, an integer in a
range, a finite number in a range, one of a set of choices, a list, a mapping…).
``Step.__init__`` runs them, so ``make_step``, ``StepSpec.from_dict`` and ``UserRecipe``
refuse a bad value when the recipe is read (at submit), with one sentence naming the
step, the parameter, the value and what is allowed, rather than a job that fails at
fit. Rules that tie parameters together (clip's lower below its upper) are a step's
``check_params``.

A test never raises: a value that makes it fail in any way (a huge int that no float
holds, a list where a string was expected) is simply not allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The largest integer a parameter takes (an int64); JSON can carry 10**400.
MAX_INT = 2**63 - 1
#: A seed numpy and scikit-learn all take.
MAX_SEED = 2**32 - 1
#: Characters of a bad value's repr quoted in a message, at most.
SHOWN = 60


@dataclass(frozen=True)
class Check:
    """One parameter's rule: ``allowed`` says it in words, ``test`` applies it."""

    allowed: str
    test: Callable[[Any], bool]
    #: The strings allowed, for a "did you mean" hint (one_of only).
    choices: tuple[str, ...] = ()
    #: The value as the step uses it, once allowed: a whole-number float (5.0, which JSON
    #: writers produce) becomes the int 5, as a hyperparameter's does.
    normal: Callable[[Any], Any] = lambda v: v

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, OverflowError, ArithmeticError, RecursionError):
            return False


def shown(value: Any) -> str:
    """``value``'s repr for a message, cut to :data:`SHOWN` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {int(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit; a deep list
        return f"a {type(value).__name__}"
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def is_int(v: Any) -> bool:
    """An integer that is not a bool (``True`` is an int in Python, but not a count)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def is_number(v: Any) -> bool:
    """An int or a float (not a bool) that a float holds and that is finite."""
    if not (is_int(v) or isinstance(v, float | np.floating)):
        return False
    return math.isfinite(float(v))  # OverflowError past 1.8e308: refused by Check


def is_text(v: Any) -> bool:
    """A string with no NUL and no lone surrogate: one every store and JSON encoder takes."""
    if not isinstance(v, str) or "\x00" in v:
        return False
    v.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    return True


def boolean() -> Check:
    return Check("true or false", lambda v: isinstance(v, bool))


def integer(low: int = 0, high: int = MAX_INT) -> Check:
    words = (f"a whole number >= {low}" if high == MAX_INT
             else f"a whole number from {low} to {high}")
    return Check(words, lambda v: (is_int(v) or is_whole(v)) and low <= v <= high,
                 normal=lambda v: int(v))


def is_whole(v: Any) -> bool:
    """A float that is a whole number (5.0): an integer parameter takes it as the int."""
    return isinstance(v, float | np.floating) and math.isfinite(v) and float(v).is_integer()


def seed() -> Check:
    return integer(0, MAX_SEED)


def _bound(x: float, low: float, high: float, low_open: bool, high_open: bool) -> bool:
    above = x > low if low_open else x >= low
    below = x < high if high_open else x <= high
    return above and below


def number(low: float = -math.inf, high: float = math.inf, *, low_open: bool = False,
           high_open: bool = False) -> Check:
    if low == -math.inf and high == math.inf:
        words = "a finite number"
    elif high == math.inf:
        words = f"a number {'>' if low_open else '>='} {low:g}"
    elif low == -math.inf:
        words = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        words = (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
                 f"{')' if high_open else ']'}")
    return Check(words, lambda v: is_number(v) and _bound(float(v), low, high, low_open,
                                                          high_open))


def one_of(*choices: str | None) -> Check:
    strings = tuple(c for c in choices if c is not None)
    said = ["null" if c is None else repr(c) for c in choices]
    words = said[0] if len(said) == 1 else "one of " + ", ".join(said)
    return Check(words, lambda v: (v is None and None in choices)
                 or (isinstance(v, str) and v in strings), choices=strings)


def text(*, empty: bool = False) -> Check:
    words = "a string" if empty else "a non-empty string"
    return Check(words + " (no NUL or unpaired surrogate)",
                 lambda v: is_text(v) and (empty or bool(v)))


def optional(check: Check) -> Check:
    return Check(f"null or {check.allowed}", lambda v: v is None or check(v), check.choices,
                 normal=lambda v: None if v is None else check.normal(v))


def either(first: Check, second: Check) -> Check:
    return Check(f"{first.allowed} or {second.allowed}", lambda v: first(v) or second(v),
                 first.choices + second.choices,
                 normal=lambda v: first.normal(v) if first(v) else second.normal(v))


def list_of(item: Check, *, what: str | None = None) -> Check:
    """A JSON list (a tuple too, from Python) whose every item passes ``item``."""
    words = what or f"a list of which each item is {item.allowed}"
    return Check(words, lambda v: isinstance(v, list | tuple) and all(item(i) for i in v),
                 item.choices, normal=lambda v: [item.normal(i) for i in v])


def mapping_of(value: Check, *, what: str) -> Check:
    """An object whose keys are strings and whose every value passes ``value``."""
    return Check(what, lambda v: isinstance(v, Mapping) and all(
        is_text(k) and value(x) for k, x in v.items()),
        normal=lambda v: {k: value.normal(x) for k, x in v.items()})


def label() -> Check:
    """A category label as a recipe reads it (text; a number or bool stands for its text)."""
    return Check("a label (a string or a number)",
                 lambda v: is_text(v) or is_number(v) or isinstance(v, bool))


def strictly_increasing(v: Any) -> bool:
    """A non-empty list of finite numbers, each above the one before (bin edges)."""
    if not isinstance(v, list | tuple) or not v or not all(is_number(x) for x in v):
        return False
    xs = [float(x) for x in v]
    return all(b > a for a, b in zip(xs, xs[1:], strict=False))
