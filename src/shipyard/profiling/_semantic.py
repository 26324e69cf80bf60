"""Semantic types, identifiers, row numbers and personal data, decided from a column's figures.

The semantic types and their rules are the dataset schema's (see
``shipyard.datasets``): ``numeric``, ``categorical``, ``boolean``, ``datetime``,
``text``, ``identifier`` and ``row_number``. When the caller knows them (a dataset
version's schema), they are taken as given. The row-number rule
(:func:`row_number_reason`) lives here, in the core, and the dataset schema uses it
too, so a column reads the same everywhere. Personal data (emails, phone numbers,
card, IBAN, social security and account numbers) is recognised from the sampled
values and, for account numbers, the column's name.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from shipyard.profiling._columns import Col

SEMANTIC_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "identifier",
                  "row_number")

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


#: Names no feature has: R's row names and pandas' unnamed index columns.
_ROW_NAMES = frozenset({"rownames", "row.names", "row_names", "rowname"})
_UNNAMED = re.compile(r"^unnamed: \d+$")  # pandas' name for a blank header cell
#: Names of a column that numbers or keys the rows, when its values are a contiguous range.
_INDEX_NAMES = frozenset({"index", "idx", "id", "row", "rowid", "row_id", "row_number",
                          "rownumber", "row_num", "rownum", "obs", "observation"})
#: What R's ``read.csv`` ("X") and readr ("...1") call a blank first header cell.
_FIRST_INDEX_NAMES = frozenset({"x", "...1"})


def _index_name(name: str, position: int | None) -> tuple[bool, bool]:
    """(a name only row numbers have, a name a row number often has)."""
    low = name.strip().lower()
    strong = low in _ROW_NAMES or bool(_UNNAMED.match(low)) or (position == 0 and low == "")
    usual = strong or low in _INDEX_NAMES or (position == 0 and low in _FIRST_INDEX_NAMES)
    return strong, usual


def row_number_reason(name: str, position: int | None, *, integer: bool, rows: int,
                      missing: int, distinct: int, lo: int | None, hi: int | None) -> str | None:
    """Why a column numbers the rows rather than describing them, or ``None`` when it does not.

    A row number is an integer column without gaps that is

    - a permutation of ``0..n-1`` or ``1..n`` (any name; 20 rows at least, as for
      unique identifiers), or
    - a permutation of any contiguous range under a name row numbers have (``index``,
      ``id``, ``row_id``, ``rownames``, ``Unnamed: 0``; ``X`` or ``...1`` as the first
      column, as R names a blank first header cell), or
    - under a name only row numbers have (``rownames``, ``Unnamed: N``), even with
      repeats (exports concatenated).

    A sorted feature (``year`` 2001..2010 repeated, ``tenure``) is not unique, and a
    unique one (one row per year, 1990..2019) has neither a range from 0 or 1 nor such a
    name, so neither is taken for a row number.
    """
    if not integer or rows == 0 or missing or lo is None or hi is None:
        return None
    strong, usual = _index_name(name, position)
    contiguous = distinct == rows and hi - lo + 1 == rows
    if contiguous and ((lo in (0, 1) and rows >= MIN_ROWS_FOR_UNIQUE_ID) or usual):
        return f"{lo:,}..{hi:,}, unique"
    if strong:
        repeats = rows - distinct
        return f"named {name!r}" + (f", {repeats:,} values repeated" if repeats else "")
    return None


def is_row_number(col: Col, stats: dict[str, Any], rows: int) -> str | None:
    """The reason ``col`` is a row number (see :func:`row_number_reason`), from its figures."""
    lo, hi = stats.get("min"), stats.get("max")
    count = int(stats.get("count") or 0)
    return row_number_reason(
        col.name, col.i, integer=bool(pat.is_integer(col.dtype)), rows=rows,
        missing=rows - count, distinct=int(stats.get("distinct") or 0),
        lo=None if lo is None else int(lo), hi=None if hi is None else int(hi))


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
        if is_row_number(col, stats, rows):
            return "row_number"
        return "identifier" if looks_like_id(col.name) else "numeric"
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
