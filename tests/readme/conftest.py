"""The README test lists the blocks it skipped at the end of the run, with their reasons."""

from __future__ import annotations

from typing import Any

#: (README line, reason, first line of the block), filled by the test as it runs.
SKIPPED: list[tuple[int, str, str]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SKIPPED:
        return
    terminalreporter.section("README blocks the README test skipped (marked in README.md)")
    for line, reason, first in SKIPPED:
        terminalreporter.write_line(f"line {line}: {first!r} — {reason}")
