"""JSON from clients, checked once: what Python's ``json`` accepts but Shipyard cannot keep.

Python's parser takes several things that later break far from the request: a
``NaN`` or ``Infinity`` literal (no JSON word, refused again by PostgreSQL's JSON
and by our own responses), ``1e400`` (read as infinity), an integer of 400 digits
(no 64-bit column or float holds it), a lone UTF-16 surrogate such as ``"\\ud800"``
(a ``str`` Python can hold but never encode: every later write of it fails, so one
stored note made its page answer 500 for good), a NUL character (PostgreSQL text
refuses it) and nesting so deep that the parser or a later recursive walk runs out
of stack. :func:`loads` refuses each with one sentence that names the field, before
anything is stored; the API applies it to every JSON request body
(``shipyard.api._body``) and to JSON carried in form fields.
"""

from __future__ import annotations

import json
import math
from typing import Any

from shipyard.errors import InvalidRequest

#: Deepest nesting of arrays and objects a JSON body may have.
MAX_DEPTH = 64
#: Integers must fit a signed 64-bit column.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)


class _Constant(ValueError):
    """A NaN/Infinity literal, raised from inside the parser."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def loads(data: bytes | str, *, where: str = "The JSON body",
          max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` as JSON and check it (see the module docstring).

    Raises:
        InvalidRequest: malformed JSON, or JSON holding something refused; the message
            names the field (``hyperparameters.alpha``, ``[3].name``).
    """
    try:
        doc = json.loads(data, parse_constant=_refuse_constant)
    except _Constant as exc:
        raise InvalidRequest(
            f"{where} holds the literal {exc}, which is not JSON; send null for a missing "
            "number or a string for a special value.") from None
    except RecursionError:
        raise InvalidRequest(
            f"{where} is nested too deeply to read; the limit is {max_depth} levels of "
            "arrays and objects.") from None
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"{where} is not UTF-8 text (byte {exc.start} is invalid); encode it as "
            "UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}.") from None
    except ValueError:  # an integer past Python's digit limit (4300 digits)
        raise InvalidRequest(
            f"{where} holds an integer with thousands of digits; numbers must fit a 64-bit "
            "float or integer.") from None
    check(doc, where=where, max_depth=max_depth)
    return doc


def check(doc: Any, *, where: str = "The JSON body", max_depth: int = MAX_DEPTH) -> None:
    """Refuse deep nesting, out-of-range numbers and text that cannot be stored in ``doc``.

    Iterative, so a deep document cannot exhaust the stack here either. Paths are kept
    as linked pairs and spelled out only for the message.
    """
    stack: list[tuple[Any, Any, int]] = [(doc, None, 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _text(value, path, where)
        elif isinstance(value, dict):
            if depth >= max_depth:
                raise _too_deep(where, path, max_depth)
            for key, item in value.items():
                if isinstance(key, str):
                    _text(key, path, where, key=True)
                stack.append((item, (path, key), depth + 1))
        elif isinstance(value, list):
            if depth >= max_depth:
                raise _too_deep(where, path, max_depth)
            stack.extend((item, (path, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not MIN_INT <= value <= MAX_INT:
                raise InvalidRequest(
                    f"{where} holds an integer of {len(str(abs(value)))} digits in field "
                    f"{spell(path)!r}; integers must fit in 64 bits (up to {MAX_INT}). Send a "
                    "smaller number, or a string.", field=spell(path))
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequest(
                f"{where} holds a number out of range in field {spell(path)!r} (it reads as "
                f"{value}); numbers must fit a 64-bit float (about 1.8e308).",
                field=spell(path))


def bad_text(s: str) -> str | None:
    """Why ``s`` cannot be stored as text (a lone surrogate, a NUL), or None when it can."""
    if "\x00" in s:
        return "a NUL character (\\u0000)"
    if s.isascii():
        return None
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"a lone UTF-16 surrogate (\\u{ord(s[exc.start]):04x}, not Unicode text) at "
                f"character {exc.start}")
    return None


def _text(s: str, path: Any, where: str, *, key: bool = False) -> None:
    problem = bad_text(s)
    if problem is None:
        return
    if path is None:
        what = "a key at the top level" if key else "its top-level value"
    else:
        what = f"a key under {spell(path)!r}" if key else f"field {spell(path)!r}"
    raise InvalidRequest(
        f"{where} holds {problem} in {what}; send valid UTF-8 text without NUL there.",
        field=spell(path))


def spell(path: Any) -> str:
    """``(((None, "a"), 0), "b")`` → ``a[0].b``; the top level is ``the body``."""
    parts: list[Any] = []
    while path is not None:
        path, key = path
        parts.append(key)
    out = ""
    for key in reversed(parts):
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    if len(out) > 120:
        out = out[:117] + "..."
    return out or "the body"


def _too_deep(where: str, path: Any, max_depth: int) -> InvalidRequest:
    return InvalidRequest(
        f"{where} is nested more than {max_depth} levels deep (at {spell(path)}); the limit "
        f"is {max_depth} levels of arrays and objects.", field=spell(path))
