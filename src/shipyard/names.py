"""Validation of the names users give to resources, and "did you mean" for unknown ones.

A resource name is never used as a path, but it travels through URLs, file
names of downloads and log lines, so it is held to one safe alphabet. An unknown
name (a dataset, an algorithm, a column, a recipe step) is answered with the closest
known ones, by one helper so every message reads the same.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from shipyard.errors import InvalidName

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_name(value: object, kind: str = "name") -> str:
    """Return ``value`` if it is a valid resource name, else raise :class:`InvalidName`."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise InvalidName(
            f"Invalid {kind} {value!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and without '..'."
        )
    return value


def closest(name: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The ``candidates`` most like ``name`` (difflib), best first; a case-only match first.

    ``cutoff`` is difflib's similarity ratio (0..1) a candidate must reach.
    """
    names = list(dict.fromkeys(str(c) for c in candidates))
    if not isinstance(name, str) or not names:
        return []
    by_lower: dict[str, str] = {}
    for c in names:
        by_lower.setdefault(c.lower(), c)
    same_case = [c for c in names if c != name and c.lower() == name.lower()]
    near = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n,
                                                           cutoff)]
    return list(dict.fromkeys([*same_case, *near]))[:n]


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """``" Did you mean 'tenure'?"`` (or ``'a' or 'b'``) for the closest candidates, else ``""``.

    The one helper every "unknown name" message uses (datasets, algorithms, columns,
    recipe steps), so the suggestions read the same everywhere.
    """
    found = closest(name, candidates, n)
    if not found:
        return ""
    return " Did you mean " + " or ".join(repr(f) for f in found) + "?"


def names_hint(name: str, candidates: Iterable[str], what: str = "name",
               limit: int = 12) -> str:
    """The closest ``candidates`` to ``name`` when some are close, else the first ``limit``.

    For messages that must say where to look: "the closest columns are 'tenure',
    'tenor'", or "its columns are 'a', 'b', … and 30 more" when nothing is close.
    ``what`` is the singular word for a candidate.
    """
    names = list(dict.fromkeys(str(c) for c in candidates))
    found = closest(name, names)
    if len(found) == 1:
        return f"the closest {what} is {found[0]!r}"
    if found:
        return f"the closest {what}s are " + ", ".join(repr(f) for f in found)
    if not names:
        return f"there is no {what} at all"
    shown = ", ".join(repr(c) for c in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"the {what}s are {shown}{more}"
