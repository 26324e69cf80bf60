"""The model's input signature, checked against raw rows, and the values made uniform.

The rules are those of :meth:`shipyard.bundle.InferencePipeline.validate_input`,
applied value by value (no DataFrame per request): a numeric column takes numbers,
booleans or text that reads as a number; a boolean column takes true/false, yes/no,
numbers; a label column takes anything scalar (numbers become their text). Every
checked row comes out with one canonical Python type per column kind, so the fast
path and the general path see exactly the same values:

=============  ==================================================
numeric        ``float`` (``nan`` for missing)
boolean        ``float`` 1.0 / 0.0 (``nan`` for missing)
datetime       the value as sent (checked by the pipeline)
other          ``str`` or ``None``
=============  ==================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.errors import Unprocessable
from shipyard.features._semantic import FALSE_WORDS, TRUE_WORDS, number_value
from shipyard.humanize import count
from shipyard.serving._codec import Table

NAN = float("nan")
_SCALARS = (str, int, float, bool, type(None))


class SchemaError(Unprocessable):
    """Rows that do not match the model's input signature (HTTP 422)."""


def _where(row: int, n: int) -> str:
    return f" in row {row}" if n > 1 else ""


def _known(categories: frozenset[str], shown: int = 5) -> str:
    names = sorted(categories)
    head = ", ".join(repr(c) for c in names[:shown])
    return head + (f" and {len(names) - shown} more" if len(names) > shown else "")


def seen_categories(signature: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Per label column the model reads, every category it saw in training.

    From the signature's ``seen`` lists (written at training time). A column without
    one (a bundle trained before they were recorded, or one with too many categories
    to list) is not checked: a category cannot be called unseen without the list.
    """
    out: dict[str, frozenset[str]] = {}
    for e in signature:
        seen = e.get("seen")
        if e.get("required", True) and str(e.get("semantic_type")) == "categorical" \
                and isinstance(seen, list):
            out[str(e["name"])] = frozenset(str(v) for v in seen)
    return out


class Schema:
    """A model's input signature, ready to check rows against."""

    def __init__(self, signature: Sequence[Mapping[str, Any]], target: str | None = None) -> None:
        self.signature = [dict(e) for e in signature]
        self.kinds: dict[str, str] = {e["name"]: str(e["semantic_type"]) for e in signature}
        self.required = [e["name"] for e in signature if e.get("required", True)]
        self.target = target
        self.numeric = frozenset(n for n, k in self.kinds.items() if k in ("numeric", "boolean"))
        #: Label columns checked for categories the model never saw (see seen_categories).
        self.seen = seen_categories(self.signature)

    def unseen(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]] | None:
        """Per checked row, the columns holding a category the model never saw in training;
        None when no row has one (the common case costs one set lookup per label)."""
        if not self.seen:
            return None
        found: list[tuple[str, ...]] | None = None
        for i, row in enumerate(rows):
            bad = tuple(c for c, known in self.seen.items()
                        if (v := row.get(c)) is not None and v not in known)
            if bad:
                if found is None:
                    found = [()] * len(rows)
                found[i] = bad
        return found

    def refuse_unseen(self, rows: Sequence[Mapping[str, Any]],
                      unseen: Sequence[tuple[str, ...]]) -> SchemaError:
        """The 422 of an endpoint that refuses unseen categories: the first column and value."""
        n = len(rows)
        i = next(k for k, cols in enumerate(unseen) if cols)
        column = unseen[i][0]
        value = rows[i][column]
        more = sum(1 for cols in unseen if cols) - 1
        also = f" (and {count(more, 'more row')})" if more > 0 else ""
        return SchemaError(
            f"Column {column!r} has the category {value!r}{_where(i, n)}{also}, which the model "
            "never saw in training, and this endpoint refuses such rows; send one of the "
            f"categories it knows ({_known(self.seen[column])}), or set the endpoint's "
            "unseen_categories to warn.", field=column, row=i, value=value)

    def check(self, table: Table) -> list[dict[str, Any]]:
        """Check ``table`` and return its rows with canonical values (signature columns only).

        Raises:
            SchemaError: a missing required column, an unknown column, or a value of the
                wrong type; ``details`` name the ``field`` (and the ``row``).
        """
        present = set(table.columns)
        for name in self.required:
            if name not in present:
                raise SchemaError(
                    f"Column {name!r} is missing; the model needs it "
                    f"({self.kinds[name]}). Add it to every row.", field=name)
        extra = [c for c in table.columns if c not in self.kinds and c != self.target]
        if extra:
            raise SchemaError(
                f"Unknown column {extra[0]!r}; the model's inputs are {sorted(self.kinds)}. "
                "Remove the column or fix its name.", field=extra[0])
        columns = [(c, self.kinds[c]) for c in table.columns if c in self.kinds]
        n = len(table.records)
        out: list[dict[str, Any]] = []
        for i, record in enumerate(table.records):
            row: dict[str, Any] = {}
            for name, kind in columns:
                if name in record:
                    row[name] = self._value(name, kind, record[name], i, n)
            out.append(row)
        return out

    def _value(self, name: str, kind: str, v: Any, row: int, n: int) -> Any:
        if not isinstance(v, _SCALARS):
            raise SchemaError(
                f"Column {name!r} must hold a single value{_where(row, n)}; got a "
                f"{type(v).__name__}. Send a number, text, true/false or null.",
                field=name, row=row)
        if kind == "numeric":
            return self._number(name, v, row, n)
        if kind == "boolean":
            return self._boolean(name, v, row, n)
        if kind == "datetime":
            return v
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v if isinstance(v, str) else str(v)

    @staticmethod
    def _number(name: str, v: Any, row: int, n: int) -> float:
        # The one number rule (features._semantic): None, NaN, "nan" and an infinity
        # written as text are missing; a number too large for a float is refused below.
        try:
            x = number_value(v)
        except ValueError:
            raise SchemaError(
                f"Column {name!r} must be numeric; got {v!r}{_where(row, n)}. Send numbers "
                "(or null for a missing value).", field=name, row=row) from None
        if math.isinf(x):
            raise SchemaError(
                f"Column {name!r} holds a number out of range{_where(row, n)} (it reads as "
                f"{x}); send a finite number (at most about 1.8e308), or null for a missing "
                "value.", field=name, row=row)
        return x

    @staticmethod
    def _boolean(name: str, v: Any, row: int, n: int) -> float:
        if v is None:
            return NAN
        if isinstance(v, int | float):
            return Schema._number(name, v, row, n)
        word = v.strip().lower()
        if word in TRUE_WORDS:
            return 1.0
        if word in FALSE_WORDS:
            return 0.0
        raise SchemaError(
            f"Column {name!r} must be true/false (or yes/no); got {v!r}{_where(row, n)}.",
            field=name, row=row)
