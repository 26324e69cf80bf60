"""Column profiles and semantic types: pure functions of an Arrow column.

The physical type says how values are stored (``int64``, ``string``…); the
semantic type says how a person or an algorithm should treat them:

``numeric``      numbers to compute with (an integer column with few values is still numeric)
``categorical``  a small vocabulary of labels
``boolean``      two states (``bool``, or text such as yes/no, true/false, y/n)
``datetime``     points in time (timestamps, dates, or text that parses as ISO dates)
``text``         free text (long values with spaces)
``identifier``   keys that name rows (``id``, ``*_id``, ``customerId``, or unique strings,
                 names of a few words among them)
``row_number``   row numbers: integers 0..n-1 or 1..n in any order, a contiguous range
                 under an index-like name (``index``, ``id``), R's ``rownames``, pandas'
                 ``Unnamed: 0`` (see :func:`shipyard.profiling.row_number_reason`);
                 judged on the whole version, since any sample of 1..n looks ordinary

A column's schema also counts its ``infinite`` values (±inf in a floating-point
column: accepted, but the default recipe treats them as missing) and says why it is
a ``row_number`` (``semantic_reason``).

Nothing here does I/O: columns in, frozen results out.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from shipyard.datasets._types import ZONED_TIME
from shipyard.profiling import row_number_reason

SEMANTIC_TYPES = ("numeric", "categorical", "boolean", "datetime", "text", "identifier",
                  "row_number")

_TRUE = frozenset({"yes", "true", "y", "t"})
_FALSE = frozenset({"no", "false", "n", "f"})
_ID_WORDS = frozenset({"id", "uuid", "guid"})
_SUFFIX_ID = re.compile(r"[_\-. ](id|uuid|guid)$")  # customer_id, order-id, Order ID
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")  # customerId, CustomerID (not "paid", "valid")
#: Unique strings only count as an identifier when there are enough of them to mean it.
MIN_ROWS_FOR_UNIQUE_ID = 20
#: Mean length (characters) above which strings with spaces are free text.
TEXT_MEAN_LENGTH = 30.0
#: Share of distinct values above which strings with spaces are free text.
TEXT_DISTINCT_RATIO = 0.5
#: Unique strings of at most this many words on average (and no longer than
#: :data:`TEXT_MEAN_LENGTH`) are names, so identifiers, not free text.
NAME_MAX_WORDS = 4


@dataclass(frozen=True)
class ColumnSchema:
    """One column of a dataset version's schema."""

    name: str
    dtype: str
    semantic_type: str
    missing: int
    distinct: int
    #: ±inf values of a floating-point column (they count neither as missing nor as values).
    infinite: int = 0
    #: Why the semantic type was chosen where it is not obvious (a ``row_number``'s evidence).
    semantic_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def looks_like_id(name: str) -> bool:
    """True for column names such as ``id``, ``customer_id``, ``orderId`` or ``CustomerID``."""
    low = name.lower()
    return low in _ID_WORDS or bool(_SUFFIX_ID.search(low) or _CAMEL_ID.search(name))


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _is_string(t: pa.DataType) -> bool:
    return bool(pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t))


def _boolean_text(distinct: pa.Array) -> bool:
    """Exactly two distinct values (ignoring case), one true-like and one false-like."""
    if len(distinct) > 4:  # "Yes", "yes", "No", "no" at most
        return False
    words = {str(v).strip().lower() for v in distinct.to_pylist()}
    return len(words) == 2 and len(words & _TRUE) == 1 and len(words & _FALSE) == 1


def _parses_as_datetime(values: pa.Array) -> bool:
    """True when every value is an ISO date or date-time (with or without a zone offset)."""
    if len(values) == 0:
        return False
    lengths = pc.utf8_length(values)
    # Ten characters at least ("2020-01-31"), so bare numbers such as "2020" never qualify.
    if pc.min(lengths).as_py() < 10:
        return False
    zoned = pc.match_substring_regex(values, ZONED_TIME)
    groups = [(pc.filter(values, zoned), pa.timestamp("us", tz="UTC")),
              (pc.filter(values, pc.invert(zoned)), pa.timestamp("us"))]
    try:
        for group, target in groups:
            pc.cast(group, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _string_semantic(name: str, values: pa.Array, distinct: pa.Array) -> str:
    """Semantic type of a string column from its non-null ``values``."""
    n = len(values)
    if n == 0:
        return "categorical"
    if _boolean_text(distinct):
        return "boolean"
    if looks_like_id(name):
        return "identifier"
    if _parses_as_datetime(distinct):
        return "datetime"
    spaced = pc.mean(pc.cast(pc.match_substring(values, " "), pa.int8())).as_py() or 0.0
    mean_len = pc.mean(pc.utf8_length(values)).as_py() or 0.0
    ratio = len(distinct) / n
    varied = ratio > TEXT_DISTINCT_RATIO and n >= MIN_ROWS_FOR_UNIQUE_ID
    unique = len(distinct) == n and n >= MIN_ROWS_FOR_UNIQUE_ID
    if unique and mean_len <= TEXT_MEAN_LENGTH and spaced and (pc.mean(pc.count_substring(
            values, " ")).as_py() or 0.0) < NAME_MAX_WORDS:
        # A short phrase in every row, never repeated: a name ("-Andy Allanson", "Acura
        # Integra"), which names the row; as text it made TF-IDF features of 322 names.
        return "identifier"
    if spaced >= 0.5 and (mean_len > TEXT_MEAN_LENGTH or varied):
        return "text"
    if len(distinct) == n and n >= MIN_ROWS_FOR_UNIQUE_ID:
        return "identifier"
    return "categorical"


def infer_semantic_type(name: str, column: pa.Array | pa.ChunkedArray) -> str:
    """The semantic type of one column (see the module docstring for the rules)."""
    return profile_column(name, column).semantic_type


def _row_number(name: str, position: int | None, column: pa.Array | pa.ChunkedArray,
                missing: int, distinct: int) -> str | None:
    if not pat.is_integer(column.type) or missing or len(column) == 0:
        return None
    bounds = pc.min_max(column).as_py()
    return row_number_reason(name, position, integer=True, rows=len(column), missing=missing,
                             distinct=distinct, lo=bounds["min"], hi=bounds["max"])


def profile_column(name: str, column: pa.Array | pa.ChunkedArray,
                   position: int | None = None) -> ColumnSchema:
    """Physical type, semantic type, missing, distinct and infinite counts of one column.

    Args:
        position: the column's place in the table (0 first), which a blank or ``X``
            header makes a row-number signal; ``None`` when unknown.
    """
    t = column.type
    # NaN is as missing as null to anyone reading the numbers, and no value of its own.
    nans = int(pc.sum(pc.is_nan(column)).as_py() or 0) if pat.is_floating(t) else 0
    infinite = int(pc.sum(pc.is_inf(column)).as_py() or 0) if pat.is_floating(t) else 0
    missing = int(column.null_count) + nans
    nested = pat.is_nested(t) or pat.is_dictionary(t)
    distinct = 0 if nested or pat.is_null(t) else int(pc.count_distinct(column).as_py())
    distinct -= 1 if nans else 0
    reason = _row_number(name, position, column, missing, distinct)
    if reason is not None:
        semantic = "row_number"
    elif pat.is_boolean(t):
        semantic = "boolean"
    elif pat.is_temporal(t) and not pat.is_duration(t):
        semantic = "datetime"
    elif pat.is_integer(t):
        semantic = "identifier" if looks_like_id(name) else "numeric"
    elif pat.is_floating(t) or pat.is_decimal(t) or pat.is_duration(t):
        semantic = "numeric"
    elif _is_string(t):
        values = pc.drop_null(_combined(column))
        semantic = _string_semantic(name, values, pc.unique(values))
    else:  # null, binary, lists, structs: no finer claim can be made
        semantic = "categorical"
    return ColumnSchema(name=name, dtype=str(t), semantic_type=semantic, missing=missing,
                        distinct=distinct, infinite=infinite, semantic_reason=reason)


def profile_table(table: pa.Table) -> tuple[ColumnSchema, ...]:
    """:func:`profile_column` for every column of ``table``, in order."""
    return tuple(profile_column(n, table.column(i), i)
                 for i, n in enumerate(table.column_names))
