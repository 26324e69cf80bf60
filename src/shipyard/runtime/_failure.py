"""The one sentence a failed job (or serving instance) reports: where it failed, and why.

A job's record carries this sentence as its ``message`` and the CLI and the SDK's
``JobFailed`` show it as it is, so it has to read on its own: the last frame of
the user's own code and the exception line (``train.py:12: KeyError: 'price'``),
never a traceback tail cut in the middle of a frame. The whole traceback still
goes to the job's log. A library that fails in native code (XGBoost, LightGBM,
CatBoost…) puts a C++ stack in its message; :func:`error_line` keeps the line
that names the cause and drops the stack.

Standard library only: the bootstrap imports it before anything else.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

#: The log line a serving instance that cannot start begins with; the control plane reads
#: the cause after it into the endpoint's reason (shipyard.endpoints._reasons).
SERVING_FAILURE_MARK = "shipyard.serving cannot serve: "
#: A sentence is cut here (an exception message can be a whole data dump).
MAX_CHARS = 500
#: Lines that are frames of a native stack, not the cause: ``[bt] (0) libxgboost.so(...)``,
#: ``#3 0x7f… in …``, ``  3: 0x7f…``, ``  at foo.cc:12``, ``File "…", line N``.
_FRAME = re.compile(
    r"^\s*(\[bt\]|#\d+\s|\d+:\s+0x|0x[0-9a-f]+\s|at\s\S+[:(]|File \"|Traceback \()", re.I)
#: Where a native stack starts: everything after it is frames.
_STACK_START = re.compile(r"^\s*(stack trace|backtrace|call stack)\s*:?\s*$", re.I)
#: The time stamp and C++ source location of a native log line, wherever it sits in the
#: line: ``[10:20:30] /workspace/src/learner.cc:123: ``.
_PREFIX = re.compile(r"(\[\d{1,2}:\d{2}:\d{2}\]\s*)?\S+\.(cc|cpp|cxx|c|h|hpp|cu):\d+:\s*"
                     r"|^\[\d{1,2}:\d{2}:\d{2}\]\s*")


def error_line(text: str) -> str:
    """The error message in one line, without a native stack.

    A message that carries a native stack (a ``Stack trace:`` block, ``[bt]`` frames)
    gives its last line before the stack, the one that names the cause, with the
    time stamp and C++ source location of a native log line removed. Any other
    message is joined into one line. ``""`` for no text.
    """
    lines: list[str] = []
    located: list[str] = []  # lines of a native log (time stamp / source location)
    native = False
    for raw in str(text).splitlines():
        if _STACK_START.match(raw):
            native = True
            break
        if _FRAME.match(raw):
            native = True
        elif raw.strip():
            line = _PREFIX.sub("", raw.strip()).strip() or raw.strip()
            lines.append(line)
            if _PREFIX.search(raw.strip()):
                located.append(line)
    if not lines:
        return ""
    if native:
        # The native log line names the cause; what follows it may be context (the input
        # echoed with a caret under the bad character), not the cause.
        return _cut(located[-1] if located else lines[-1])
    return _cut(" ".join(lines))


def exception_line(exc: BaseException) -> str:
    """``KeyError: 'price'``: the exception's class and the line naming its cause."""
    name = type(exc).__name__
    message = error_line(str(exc))
    return f"{name}: {message}" if message else name


def user_frame(exc: BaseException, code_dir: Path | None) -> str | None:
    """``train.py:12`` (or ``pkg/util.py:3``): the last frame of the exception's traceback in
    a file under ``code_dir``; None when no frame is the user's code."""
    if code_dir is None:
        return None
    root = Path(code_dir).resolve()
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            rel = Path(frame.filename).resolve().relative_to(root)
        except (ValueError, OSError):
            continue
        found = f"{rel.as_posix()}:{frame.lineno}"
    if found is None and isinstance(exc, SyntaxError) and exc.filename:
        try:
            rel = Path(exc.filename).resolve().relative_to(root)
            found = f"{rel.as_posix()}:{exc.lineno}"
        except (ValueError, OSError):
            pass
    return found


def failure_sentence(exc: BaseException, code_dir: Path | None = None,
                     what: str | None = None) -> str:
    """The job's failure message: ``train.py:12: KeyError: 'price'``.

    Args:
        exc: the exception the job ended with.
        code_dir: the folder of the user's code (a script job); its last frame is named.
        what: for a built-in kind with no user code, what failed ("Training", "The
            transform"), so the sentence reads ``Training failed: XGBoostError: …``.
    """
    if isinstance(exc, SyntaxError):
        where = user_frame(exc, code_dir)
        line = f"SyntaxError: {exc.msg}"
        return _cut(f"{where}: {line}" if where else line)
    where = user_frame(exc, code_dir)
    line = exception_line(exc)
    if where:
        return _cut(f"{where}: {line}")
    if what:
        return _cut(f"{what} failed: {line}")
    return line


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"
