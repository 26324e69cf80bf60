"""Why an instance could not serve, in one sentence, from its log.

An endpoint's ``reason`` is what ``endpoints show``, the ``endpoint.failed`` event
and the 503 of an invocation say, so it is one sentence: what happened, the cause
(the line that names it, never a native stack), and where the whole log is. A
serving instance that fails to start writes its cause on a line of its own
(:data:`shipyard.runtime._failure.SERVING_FAILURE_MARK`); when there is none (it crashed before it
could), the last line of the log that is not a stack frame is the best guess.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.runtime._failure import SERVING_FAILURE_MARK as FAILURE_MARK
from shipyard.runtime._failure import error_line

#: How much of the end of a log is read for the cause.
TAIL_BYTES = 64 * 1024


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log (empty when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - TAIL_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def cause_from_log(path: Path) -> str:
    """The cause an instance's log gives for its failure, in one line ("" when none)."""
    tail = log_tail(path, lines=200)
    for line in reversed(tail.splitlines()):
        if line.startswith(FAILURE_MARK):
            return line[len(FAILURE_MARK):].strip()
    # No marker: the instance died before it could say why (an import error, a crash).
    # Drop the supervisor's own "--- starting" lines and keep the last line naming a cause.
    body = "\n".join(line for line in tail.splitlines() if not line.startswith("--- "))
    return error_line(body)


def instance_failed(instance: str, what: str, log_path: Path) -> str:
    """``Instance primary-1 exited with code 1 before it was healthy: <cause>. Its log: …``."""
    cause = cause_from_log(log_path).rstrip(".")
    because = f": {cause}" if cause else ""
    return f"Instance {instance} {what}{because}. Its log is {log_path}."
