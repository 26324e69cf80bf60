"""Numbers and counts for people: ``10,790`` not ``1.079e+04``, ``1 category``, ``2 categories``.

One helper for every table and message a person reads (the CLI's tables, its
sentences, the SDK's summaries), so the same figure looks the same everywhere.
Machine output (``--json``, the API) keeps the raw numbers.
"""

from __future__ import annotations

import math
from typing import Any

#: Below this, a fraction keeps 4 significant digits (0.8123); above, thousands separators.
_SEPARATED = 1000.0


def number(value: Any) -> str:
    """``value`` written for a person.

    Integers get thousands separators (``10,790``); a float that is a whole number is
    written as one (``10790.0`` → ``10,790``); other floats keep one decimal from 1,000
    up (``12,345.7``) and 4 significant digits below (``0.8123``, ``3.142``). Tiny
    values stay in scientific notation (``1.2e-07``), as a p-value reads best. ``None``
    is empty; anything else is ``str(value)``.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= _SEPARATED:
            return f"{value:,.1f}"
        return f"{value:.4g}"
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        return number(value.item())
    return str(value)


def plural(n: float, word: str, many: str | None = None) -> str:
    """``word`` or its plural for ``n`` things (``category`` → ``categories``)."""
    if n == 1:
        return word
    if many is not None:
        return many
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def count(n: float, word: str, many: str | None = None) -> str:
    """``1 category``, ``2 categories``, ``10,790 rows``."""
    return f"{number(n)} {plural(n, word, many)}"


def duration(seconds: float) -> str:
    """``75.2`` → ``"1m15s"``; ``8.04`` → ``"8s"``: for people, not for parsing."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
