"""A safe expression language for derived columns: parsed with ``ast``, never ``eval``.

An expression is one Python expression over column names, parsed in ``eval``
mode and checked against an allow-list of node types before anything runs:

- numbers, strings, ``True``/``False``; column names (``tenure``), or ``col("Lot.Frontage")``
  for a name that is not an identifier;
- arithmetic ``+ - * / // % **``, unary ``-``/``+``, ``not``, ``and``/``or``;
- comparisons ``== != < <= > >=`` (chains too) and ``a if cond else b``;
- the functions in :data:`FUNCTIONS` (``log``, ``exp``, ``sqrt``, ``abs``, ``clip``,
  ``where``, ``min``, ``max``, ``lower``, ``upper``, ``len``…), positional arguments only.

Attributes, subscripts, any other call, lambdas, comprehensions, f-strings, walrus
and dunder names are refused with a one-sentence error naming the offending part.
Evaluation is vectorised over pandas/NumPy in float64, so a huge power such as
``9 ** 9 ** 9`` is ``inf`` (then missing), never a Python big-integer computation;
the result of any operation that is not finite becomes missing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest

#: Longest expression text accepted, in characters.
MAX_LENGTH = 2000
#: Most syntax-tree nodes an expression may have.
MAX_NODES = 300

Value = Any  # a pd.Series, or a scalar (float, str, bool)

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a ** b,
}
def _NE(a: Any, b: Any) -> Any:  # noqa: N802 - named like the other operators' table
    return a != b


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: _NE,
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
            ast.Call, ast.Name, ast.Constant, ast.Load, ast.USub, ast.UAdd, ast.Not,
            ast.And, ast.Or, *_BINOPS, *_COMPARE)


def _text(v: Value) -> pd.Series | str | None:
    if isinstance(v, pd.Series):
        return v.astype("object").where(v.notna(), None).map(
            lambda x: x if isinstance(x, str) or x is None else str(x))
    return v if isinstance(v, str) else None if v is None else str(v)


def _str_map(fn: Callable[[str], Any]) -> Callable[[Value], Value]:
    def apply(v: Value) -> Value:
        t = _text(v)
        if isinstance(t, pd.Series):
            return t.map(lambda x: fn(x) if isinstance(x, str) else None)
        return fn(t) if isinstance(t, str) else np.nan
    return apply


def _num_fn(fn: Callable[[Any], Any]) -> Callable[[Value], Value]:
    return lambda v: fn(_as_number(v))


def _where(cond: Value, a: Value, b: Value) -> Value:
    series = [v for v in (cond, a, b) if isinstance(v, pd.Series)]
    if not series:
        return a if _truth(cond) else b
    out = np.where(_truth(cond), a, b)
    return pd.Series(out, index=series[0].index)


def _fold(fn: Callable[[Any, Any], Any]) -> Callable[..., Value]:
    def apply(*args: Value) -> Value:
        if not args:
            raise InvalidRequest("min() and max() need at least one argument.")
        out = _as_number(args[0])
        for a in args[1:]:
            out = fn(out, _as_number(a))
        return out
    return apply


def _clip(v: Value, lo: Value, hi: Value) -> Value:
    return np.clip(_as_number(v), _as_number(lo), _as_number(hi))


def _round(v: Value, digits: Value = 0) -> Value:
    if isinstance(digits, pd.Series) or not float(digits).is_integer():
        raise InvalidRequest("round() takes a whole number of digits, e.g. round(x, 2).")
    return np.round(_as_number(v), int(digits))


def _isnull(v: Value) -> Value:
    return v.isna() if isinstance(v, pd.Series) else v is None or v != v


def _fillna(v: Value, fill: Value) -> Value:
    return v.where(v.notna(), fill) if isinstance(v, pd.Series) else fill if _isnull(v) else v


#: The functions an expression may call: name → (implementation, (min args, max args)).
FUNCTIONS: dict[str, tuple[Callable[..., Value], tuple[int, int]]] = {
    "log": (_num_fn(np.log), (1, 1)), "log1p": (_num_fn(np.log1p), (1, 1)),
    "log10": (_num_fn(np.log10), (1, 1)), "exp": (_num_fn(np.exp), (1, 1)),
    "sqrt": (_num_fn(np.sqrt), (1, 1)), "abs": (_num_fn(np.abs), (1, 1)),
    "floor": (_num_fn(np.floor), (1, 1)), "ceil": (_num_fn(np.ceil), (1, 1)),
    "round": (_round, (1, 2)), "clip": (_clip, (3, 3)), "where": (_where, (3, 3)),
    "min": (_fold(np.fmin), (1, 8)), "max": (_fold(np.fmax), (1, 8)),
    "lower": (_str_map(str.lower), (1, 1)), "upper": (_str_map(str.upper), (1, 1)),
    "strip": (_str_map(str.strip), (1, 1)),
    "len": (lambda v: _as_number(_str_map(len)(v)), (1, 1)),
    "isnull": (_isnull, (1, 1)), "fillna": (_fillna, (2, 2)),
}
#: ``col("name")`` reads a column whose name is not an identifier.
COLUMN_FUNCTION = "col"


def _as_number(v: Value) -> Any:
    if isinstance(v, pd.Series):
        if pd.api.types.is_bool_dtype(v.dtype) or pd.api.types.is_numeric_dtype(v.dtype):
            return v.astype("float64")
        return pd.to_numeric(v.astype("object"), errors="coerce").astype("float64")
    if isinstance(v, bool | np.bool_):
        return float(v)
    if isinstance(v, int | float | np.number):
        return np.float64(v)
    if v is None:
        return np.nan
    raise InvalidRequest(f"Arithmetic needs numbers; got the text {v!r}.")


def _truth(v: Value) -> Any:
    if isinstance(v, pd.Series):
        if pd.api.types.is_bool_dtype(v.dtype):
            return v.fillna(False).astype(bool)
        return _as_number(v).fillna(0.0) != 0.0
    return bool(v == v and v)


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text and the columns it reads."""

    text: str
    tree: ast.Expression
    columns: tuple[str, ...]

    def evaluate(self, df: pd.DataFrame) -> pd.Series:
        """The expression over the rows of ``df``; missing where it is not a finite value.

        A column the expression reads that ``df`` lacks counts as all missing.
        """
        with np.errstate(all="ignore"):
            out = _Evaluator(df, self.text).visit(self.tree.body)
        if not isinstance(out, pd.Series):
            out = pd.Series([out] * len(df), index=df.index)
        if pd.api.types.is_bool_dtype(out.dtype):
            return out.astype("float64")
        if pd.api.types.is_numeric_dtype(out.dtype):
            values = out.astype("float64")
            return values.where(np.isfinite(values))
        return out.astype("object").where(out.notna(), None)


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or type(node).__name__


def parse_expression(text: Any) -> Expression:
    """Parse and check ``text`` against the allow-list.

    Raises:
        InvalidRequest: not a string, too long, not one expression, or a part that is
            not allowed (named in the message).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"An expression must be a non-empty string; got {text!r}.")
    if len(text) > MAX_LENGTH:
        raise InvalidRequest(f"The expression is {len(text)} characters long; keep it under "
                             f"{MAX_LENGTH}.")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise InvalidRequest(f"The expression {text!r} is not valid: {exc}.") from None
    text = text.strip()
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise InvalidRequest(f"The expression has {len(nodes)} parts; keep it under "
                             f"{MAX_NODES}.")
    columns: list[tuple[int, int, str]] = []
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        _check_node(text, node, columns)
        if isinstance(node, ast.Name) and id(node) not in called and (
                node.id in FUNCTIONS or node.id == COLUMN_FUNCTION):
            raise InvalidRequest(f"{node.id!r} is a function; call it, e.g. {node.id}(x).")
    ordered = (name for *_, name in sorted(columns))  # in the order they are written
    return Expression(text=text, tree=tree, columns=tuple(dict.fromkeys(ordered)))


def _check_node(text: str, node: ast.AST, columns: list[tuple[int, int, str]]) -> None:
    """Refuse ``node`` unless allowed; note the columns it reads (with their position)."""
    where = _segment(text, node)
    if isinstance(node, ast.operator | ast.cmpop | ast.unaryop | ast.boolop) and not isinstance(
            node, _ALLOWED):
        raise InvalidRequest(f"The operator {type(node).__name__} is not allowed in an "
                             "expression; use + - * / // % ** and comparisons.")
    if not isinstance(node, _ALLOWED):
        raise InvalidRequest(
            f"{type(node).__name__} is not allowed in an expression (in {where!r}); use "
            "arithmetic, comparisons, column names and the functions "
            f"{sorted([*FUNCTIONS, COLUMN_FUNCTION])}.")
    if isinstance(node, ast.Name) and node.id.startswith("__"):
        raise InvalidRequest(f"The name {node.id!r} is not allowed in an expression.")
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str | bool):
        raise InvalidRequest(f"The constant {where!r} is not allowed; use numbers, strings, "
                             "True or False.")
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and abs(node.value) > 1e300:
        raise InvalidRequest(f"The number {where[:20]!r}… is too large; numbers are 64-bit "
                             "floats.")
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is None or (name not in FUNCTIONS and name != COLUMN_FUNCTION):
            raise InvalidRequest(
                f"The call {where!r} is not allowed; an expression may only call "
                f"{sorted([*FUNCTIONS, COLUMN_FUNCTION])}.")
        if node.keywords:
            raise InvalidRequest(f"The call {where!r} uses a keyword argument; pass "
                                 "arguments by position.")
        if name == COLUMN_FUNCTION:
            arg = node.args[0] if len(node.args) == 1 else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise InvalidRequest(f"{where!r}: col() takes one column name in quotes, "
                                     "e.g. col(\"Lot.Frontage\").")
            columns.append((node.lineno, node.col_offset, arg.value))
            return
        low, high = FUNCTIONS[name][1]
        if not low <= len(node.args) <= high:
            raise InvalidRequest(f"{where!r}: {name}() takes {low}" +
                                 (f" to {high}" if high > low else "") +
                                 f" argument(s); got {len(node.args)}.")
    if isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id != COLUMN_FUNCTION:
        columns.append((node.lineno, node.col_offset, node.id))


class _Evaluator:
    """Walks a checked tree; every node type here was allowed by :func:`_check_node`."""

    def __init__(self, df: pd.DataFrame, text: str) -> None:
        self.df = df
        self.text = text

    def column(self, name: str) -> pd.Series:
        if name not in self.df.columns:
            return pd.Series(np.nan, index=self.df.index, dtype="float64")
        s = self.df[name]
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype("float64")
        if pd.api.types.is_numeric_dtype(s.dtype):
            return s.astype("float64")
        return s.astype("object").where(s.notna(), None)

    def visit(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Constant):
            v = node.value
            return v if isinstance(v, str) else np.float64(v)  # type: ignore[arg-type]
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS or node.id == COLUMN_FUNCTION:
                raise InvalidRequest(f"{node.id!r} is a function; call it, e.g. {node.id}(x).")
            return self.column(node.id)
        if isinstance(node, ast.BinOp):
            a, b = self.visit(node.left), self.visit(node.right)
            try:
                return _BINOPS[type(node.op)](_as_number(a), _as_number(b))
            except InvalidRequest as exc:
                raise InvalidRequest(f"In {_segment(self.text, node)!r}: {exc}") from None
        if isinstance(node, ast.UnaryOp):
            v = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return ~_truth(v) if isinstance(v, pd.Series) else not _truth(v)
            n = _as_number(v)
            return -n if isinstance(node.op, ast.USub) else n
        if isinstance(node, ast.BoolOp):
            values = [_truth(self.visit(v)) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            return _where(self.visit(node.test), self.visit(node.body),
                          self.visit(node.orelse))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == COLUMN_FUNCTION:
                arg = node.args[0]
                return self.column(str(arg.value) if isinstance(arg, ast.Constant) else "")
            fn = FUNCTIONS[node.func.id][0]
            return fn(*(self.visit(a) for a in node.args))
        raise InvalidRequest(f"{_segment(self.text, node)!r} is not allowed in an expression.")

    def compare(self, node: ast.Compare) -> Value:
        left = self.visit(node.left)
        out: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            result = _compare(_COMPARE[type(op)], left, right)
            out = result if out is True else out & result
            left = right
        return out


def _is_text(v: Value) -> bool:
    if isinstance(v, pd.Series):
        return not (pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype))
    return isinstance(v, str)


def _compare(op: Callable[[Any, Any], Any], a: Value, b: Value) -> Value:
    """Text compares with text, numbers with numbers (a text column against a number is read
    as numbers); a missing value compares as NaN does (only ``!=`` is true)."""
    if not (_is_text(a) and _is_text(b)):
        return op(_as_number(a), _as_number(b))
    ta, tb = _text(a), _text(b)
    if not isinstance(ta, pd.Series) and not isinstance(tb, pd.Series):
        return bool(op(ta, tb)) if ta is not None and tb is not None else op is _NE
    index: pd.Index = ta.index if isinstance(ta, pd.Series) else tb.index  # type: ignore[union-attr]
    xs: Any = ta if isinstance(ta, pd.Series) else [ta] * len(index)
    ys: Any = tb if isinstance(tb, pd.Series) else [tb] * len(index)
    return pd.Series([bool(op(x, y)) if x is not None and y is not None else op is _NE
                      for x, y in zip(xs, ys, strict=True)], index=index, dtype=bool)
