"""Showing a job's status while waiting: a Rich spinner in a terminal, a line in Jupyter."""

from __future__ import annotations

import sys
from typing import Any

from shipyard.client import _render


def in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:  # pragma: no cover - an unusual IPython
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class WaitDisplay:
    """Status and log output of one wait; a context manager that cleans up its spinner.

    Log text goes to stdout, whole lines at a time (a partial last line is held until
    its newline or the end). Status goes to a spinner in a terminal, to an updating
    HTML line in Jupyter, or to one stderr line per status change otherwise.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._pending = ""
        self._status: Any = None
        self._handle: Any = None
        self._console: Any = None
        self._last_status: str | None = None
        self._mode = "off"
        if not enabled:
            return
        if in_jupyter():
            self._mode = "jupyter"
            return
        from rich.console import Console

        self._console = Console()
        self._mode = "terminal" if self._console.is_terminal else "lines"

    def __enter__(self) -> WaitDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, doc: dict[str, Any], elapsed: float) -> None:
        status = str(doc.get("status"))
        text = f"Job {doc.get('id')} ({doc.get('kind')}): {status}"
        if self._mode == "terminal":
            label = f"{text} [dim]{elapsed:.0f} s[/dim]"
            if self._status is None:
                self._status = self._console.status(label)
                self._status.start()
            else:
                self._status.update(label)
        elif self._mode == "jupyter":
            from IPython.display import HTML, display

            html = HTML(_render.job_status_line(doc, elapsed))
            if self._handle is None:
                self._handle = display(html, display_id=True)
            else:
                self._handle.update(html)
        elif self._mode == "lines" and status != self._last_status:
            reason = f" ({doc.get('reason')})" if doc.get("reason") else ""
            print(f"{text}{reason}", file=sys.stderr, flush=True)
        self._last_status = status

    def log(self, text: str) -> None:
        if not text:
            return
        text = self._pending + text
        complete, _, self._pending = text.rpartition("\n")
        if complete:
            self._write(complete + "\n")

    def _write(self, text: str) -> None:
        if self._status is not None:
            # Printed through the live spinner so it stays at the bottom.
            self._status.console.print(text, end="", markup=False, highlight=False,
                                       soft_wrap=True)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def close(self) -> None:
        if self._pending:
            self._write(self._pending + "\n")
            self._pending = ""
        if self._status is not None:
            self._status.stop()
            self._status = None


class ExecutionDisplay:
    """The steps of a pipeline execution while waiting for it; a context manager.

    In a terminal, a live table of the steps on stderr (it stays, as the final one); in
    Jupyter, an updating HTML table; otherwise one stderr line per change of a step's
    status: step, status, cache hit, job id, and the reason.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._mode = "off"
        self._live: Any = None
        self._handle: Any = None
        self._seen: dict[str, tuple[Any, ...]] = {}
        if not enabled:
            return
        if in_jupyter():
            self._mode = "jupyter"
            return
        from rich.console import Console

        self._console = Console(stderr=True, highlight=False, markup=False)
        self._mode = "terminal" if self._console.is_terminal else "lines"

    @property
    def live(self) -> bool:
        """True when the steps show as a live table (it stays on screen afterwards)."""
        return self._mode == "terminal"

    def __enter__(self) -> ExecutionDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, doc: dict[str, Any], rows: list[list[Any]]) -> None:
        """Show ``doc`` (an execution) whose steps are ``rows`` (of STEP_COLUMNS)."""
        if self._mode == "terminal":
            from rich.live import Live

            table = _steps_table(doc, rows)
            if self._live is None:
                self._live = Live(table, console=self._console, refresh_per_second=4)
                self._live.start()
            else:
                self._live.update(table)
        elif self._mode == "jupyter":
            from IPython.display import HTML, display

            html = HTML(_render.execution_html(doc, STEP_COLUMNS, rows))
            if self._handle is None:
                self._handle = display(html, display_id=True)
            else:
                self._handle.update(html)
        elif self._mode == "lines":
            self._lines(doc, rows)

    def _lines(self, doc: dict[str, Any], rows: list[list[Any]]) -> None:
        status = str(doc.get("status"))
        ended = status in ("Succeeded", "Failed", "Stopped")
        if not ended:
            self._execution_line(doc, status)
        for name, _type, step_status, attempt, cache, job, _took, reason in rows:
            key = (step_status, attempt, job)
            if self._seen.get(name) == key or (step_status == "Pending"
                                               and name not in self._seen):
                continue
            self._seen[name] = key
            facts = [f"attempt {attempt}" if attempt and attempt > 1 else "",
                     "cache hit" if cache else "", f"job {job}" if job else ""]
            said = ", ".join(f for f in facts if f)
            print(f"step {name}: {step_status}" + (f" ({said})" if said else "")
                  + (f": {reason}" if reason else ""), file=sys.stderr, flush=True)
        if ended:
            self._execution_line(doc, status)

    def _execution_line(self, doc: dict[str, Any], status: str) -> None:
        if self._seen.get("") != (status,):  # "" is no step's name
            self._seen[""] = (status,)
            print(f"Execution {doc.get('id')} of {doc.get('pipeline')}: {status}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


STEP_COLUMNS = ["step", "type", "status", "attempt", "cache", "job", "duration", "reason"]


def _steps_table(doc: dict[str, Any], rows: list[list[Any]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=f"Execution {doc.get('id')} of {doc.get('pipeline')}: "
                        f"{doc.get('status')}", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD)
    for c in STEP_COLUMNS:
        # Short columns stay whole; the job id and the reason fold when the terminal is narrow.
        table.add_column(c, overflow="fold", no_wrap=c not in ("job", "reason"))
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table
