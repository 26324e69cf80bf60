"""Semantic types, identifiers and personal data, decided from a column's figures.

The semantic types and their rules are the dataset schema's (see
``shipyard.datasets``): ``numeric``, ``categorical``, ``boolean``, ``datetime``,
``text`` and ``identifier``. When the caller knows them (a dataset version's
schema), they are taken as given. Personal data (emails, phone numbers, card,
IBAN, social security and account numbers) is recognised from the sampled values
and, for account numbers, the column's name.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from shipyard.profiling._columns import Col

SEMANTIC_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "identifier")

_TRUE = frozenset({"yes", "true", "y", "t"})
_FALSE = frozenset({"no", "false", "n", "f"})
_ID_WORDS = frozenset({"id", "uuid", "guid"})
_SUFFIX_ID = re.compile(r"[_\-. ](id|uuid|guid)$")
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")
#: Unique values only count as an identifier when there are enough of them to mean it.
MIN_ROWS_FOR_UNIQUE_ID = 20
TEXT_MEAN_LENGTH = 30.0
TEXT_DISTINCT_RATIO = 0.5
#: Share of the sampled values that must match a personal-data pattern.
PII_SHARE = 0.9
#: Sampled values a personal-data pattern is tried on, at most.
PII_PROBE = 5000

_PATTERNS: dict[str, str] = {
    "email": r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$",
    "ssn": r"^\d{3}-\d{2}-\d{4}$",
    "iban": r"^[A-Z]{2}\d{2} ?[A-Z0-9]{4}( ?[A-Z0-9]{1,4}){2,7}$",
    "credit_card": r"^\d{4}([ \-]?\d{4}){2}[ \-]?\d{1,7}$",
    # A leading "+", or digit groups split by spaces, dots, dashes or brackets: 7 to 15 digits.
    "phone": r"^(\+\d{1,3}[ .\-]?)?(\(\d{1,4}\)[ .\-]?)?\d{2,4}([ .\-]\d{2,5}){1,4}$",
}
_ACCOUNT_NAME = re.compile(r"(account|acct|iban|card_?n(o|um)|ssn|routing|sort_?code|bsb)",
                           re.IGNORECASE)
_PHONE_NAME = re.compile(r"(phone|mobile|cell|fax|tel(ephone)?)($|[_\- .])", re.IGNORECASE)
_DIGITS = re.compile(r"^[0-9][0-9 \-]{4,30}[0-9]$")


def looks_like_id(name: str) -> bool:
    """True for column names such as ``id``, ``customer_id``, ``orderId`` or ``CustomerID``."""
    low = name.lower()
    return low in _ID_WORDS or bool(_SUFFIX_ID.search(low) or _CAMEL_ID.search(name))


def is_row_number(col: Col, stats: dict[str, Any], rows: int) -> bool:
    """An integer column holding 0..n-1 or 1..n (every row once): a row number."""
    count = int(stats.get("count") or 0)
    lo, hi = stats.get("min"), stats.get("max")
    return (pat.is_integer(col.dtype) and count == rows >= MIN_ROWS_FOR_UNIQUE_ID
            and int(stats.get("distinct") or 0) == count and lo in (0, 1)
            and hi is not None and int(hi) - int(lo) + 1 == count)


def _boolean_words(top: list[tuple[Any, int]], distinct: int) -> bool:
    if distinct != 2 or len(top) != 2:
        return False
    words = {str(v).strip().lower() for v, _ in top}
    return len(words & _TRUE) == 1 and len(words & _FALSE) == 1


def _space_share(values: pa.ChunkedArray | None) -> float:
    if values is None or len(values) == 0:
        return 0.0
    return float(pc.mean(pc.cast(pc.match_substring(values, " "), pa.int8())).as_py() or 0.0)


def semantic_type(col: Col, stats: dict[str, Any], top: list[tuple[Any, int]], rows: int,
                  sampled: pa.ChunkedArray | None, declared: str | None = None) -> str:
    """The semantic type of ``col`` from its pass-1 ``stats``, ``top`` values and sample."""
    if declared in SEMANTIC_TYPES:
        return declared
    count, distinct = int(stats.get("count") or 0), int(stats.get("distinct") or 0)
    if col.kind == "numeric":
        if looks_like_id(col.name) or is_row_number(col, stats, rows):
            return "identifier"
        return "numeric"
    if col.kind in ("boolean", "datetime"):
        return col.kind
    if col.kind != "text" or count == 0:
        return "categorical"
    if _boolean_words(top, distinct):
        return "boolean"
    if looks_like_id(col.name):
        return "identifier"
    mean_length = float(stats.get("mean_length") or 0.0)
    varied = distinct / count > TEXT_DISTINCT_RATIO and count >= MIN_ROWS_FOR_UNIQUE_ID
    if _space_share(sampled) >= 0.5 and (mean_length > TEXT_MEAN_LENGTH or varied):
        return "text"
    if distinct == count and count >= MIN_ROWS_FOR_UNIQUE_ID:
        return "identifier"
    return "categorical"


def _luhn(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _share(values: pa.Array, pattern: str) -> float:
    return float(pc.mean(pc.cast(pc.match_substring_regex(values, pattern), pa.int8())).as_py()
                 or 0.0)


def personal_data(col: Col, sampled: pa.ChunkedArray | None) -> str | None:
    """The kind of personal data the sampled values hold (``email``, ``phone``…), or ``None``.

    Text values must match a pattern in at least :data:`PII_SHARE` of the sample;
    numbers count as account or phone numbers only when the column's name says so.
    """
    if sampled is None or col.kind not in ("text", "numeric"):
        return None
    values = pc.drop_null(sampled).slice(0, PII_PROBE)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) < 5:
        return None
    if col.kind == "numeric":
        if not pat.is_integer(col.dtype):
            return None
        text = pc.cast(values, pa.string())
        long_enough = _share(text, r"^\d{6,}$") >= PII_SHARE
        if long_enough and _ACCOUNT_NAME.search(col.name):
            return "account_number"
        if _share(text, r"^\d{7,15}$") >= PII_SHARE and _PHONE_NAME.search(col.name):
            return "phone"
        return None
    text = pc.utf8_trim_whitespace(values)
    for kind, pattern in _PATTERNS.items():
        if _share(text, pattern) < PII_SHARE:
            continue
        if kind == "credit_card":
            cards = [v for v in text.to_pylist() if v is not None]
            if sum(map(_luhn, cards)) < PII_SHARE * len(cards):
                continue
        if kind == "phone" and (_share(text, r"^(\D*\d){7,15}\D*$") < PII_SHARE
                                or _share(text, r"^\d{4}-\d{2}-\d{2}") > 0):
            continue  # too few digits for a phone number, or dates
        return kind
    if _ACCOUNT_NAME.search(col.name) and _share(text, _DIGITS.pattern) >= PII_SHARE:
        return "account_number"
    return None
