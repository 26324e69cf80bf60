"""Metric definitions: metrics read from a job's own log by regular expressions.

A script that cannot call :func:`shipyard.runtime.log_metric` (a tool it shells out
to, a framework's own progress lines) still reports metrics: the job spec names
each metric with a regular expression over the log, as managed services offer.

The scan runs inside the job process, on a daemon thread that tails the job's log,
so an expensive expression only ever slows the job that brought it, never the
control plane. Each match becomes a point of the metric's time series; its step is
the match's ordinal (0, 1, 2, …) unless the expression has a named group ``step``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Longest log line scanned; longer lines are cut (their tail is not a metric anyway).
MAX_LINE = 4096
POLL_SECONDS = 0.25


def compile_definitions(defs: list[dict[str, Any]]) -> list[tuple[str, re.Pattern[str]]]:
    return [(str(d["name"]), re.compile(str(d["regex"]))) for d in defs]


def match_value(rx: re.Pattern[str], line: str) -> tuple[float, int | None] | None:
    """The metric value (and step, if the expression names one) in ``line``, or None."""
    m = rx.search(line)
    if m is None:
        return None
    groups = m.groupdict()
    raw = groups.get("value") if "value" in groups else (m.group(1) if rx.groups else None)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    step = groups.get("step")
    try:
        return value, int(step) if step is not None else None
    except ValueError:
        return value, None


class LogMetricScanner:
    """Tails ``log_path`` and reports every match through ``report(name, value, step)``."""

    def __init__(self, log_path: Path, definitions: list[dict[str, Any]],
                 report: Callable[[str, float, int | None], None]) -> None:
        self.log_path = log_path
        self.rules = compile_definitions(definitions)
        self.report = report
        self.offset = self._size()
        self.counts = {name: 0 for name, _ in self.rules}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipyard-log-metrics",
                                        daemon=True)

    def _size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop tailing and scan what the job wrote last."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.scan()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.scan()

    def scan(self) -> None:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(8 * 1024 * 1024)
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        self.offset += end + 1
        for raw in data[:end].split(b"\n"):
            line = raw[:MAX_LINE].decode("utf-8", errors="replace")
            for name, rx in self.rules:
                found = match_value(rx, line)
                if found is None:
                    continue
                value, step = found
                self.report(name, value, self.counts[name] if step is None else step)
                self.counts[name] += 1
