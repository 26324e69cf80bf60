"""The README test lists the blocks it skipped at the end of the run, with their reasons."""

from __future__ import annotations

from typing import Any

#: (README line, reason, the block's description), filled by the test as it runs.
SKIPPED: list[tuple[int, str, str]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SKIPPED:
        return
    terminalreporter.section("README blocks the README test skipped (marked in README.md)")
    for _, reason, described in SKIPPED:
        terminalreporter.write_line(f"{described} — skipped: {reason}")
