"""What every command shares: the connection, ``--json`` output, tables and errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shipyard.client import Client, connect
from shipyard.humanize import count, number

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def quiet_option(prints: str) -> Any:
    """The ``-q/--quiet`` option of a command that creates something: print only its id.

    One convention for scripts and the README: ``JOB=$(shipyard jobs run … -q)``. Nothing
    else reaches stdout (no progress, no log); errors still go to stderr with exit 1.
    """
    return typer.Option("--quiet", "-q",
                        help=f"Print only {prints} (for scripts: VAR=$(shipyard … -q)).")


def output_mode(json_out: bool, quiet: bool) -> None:
    """Refuse ``--json`` with ``--quiet``: each says what stdout holds."""
    if json_out and quiet:
        fail("Give --json or --quiet, not both: each says what the command prints.")


def say(text: str) -> None:
    """Print the one line a quiet command prints: plain, never wrapped or styled."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Delete it even though something still uses it (admin only; audited).")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="Delete without asking (needed when stdin is not a terminal).")]


def confirm_delete(what: str, yes: bool, also: str = "") -> None:
    """Ask before a delete that cannot be undone, unless ``--yes``; with no terminal to ask
    on (a script, a pipe), one sentence saying to pass ``--yes`` and nothing deleted.

    Args:
        what: the thing, as the sentence names it: ``"model group 'churn'"``.
        also: what goes with it, for the question: ``" and all its versions"``.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"Deleting {what} needs confirmation; pass --yes.")
    typer.confirm(f"Delete {what}{also}?", abort=True)

#: One default for every command that starts work on the server (``jobs run``, ``jobs
#: wrangle``, ``endpoints create|update``, ``monitors run|check``): wait for it. A person at
#: a terminal wants the outcome (and a failure as a non-zero exit) where they typed the
#: command; a script that only starts work says ``--no-wait``.
WAIT_DEFAULT = True


def wait_option(until: str) -> Any:
    """The ``--wait/--no-wait`` option of a command that starts work (see WAIT_DEFAULT)."""
    return typer.Option("--wait/--no-wait",
                        help=f"Wait until {until}. The default; --no-wait returns once it "
                             "has started.")


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, markup=False)
    if not console.is_terminal:
        # Piped output keeps whole rows on one line instead of wrapping at 80 columns.
        console.width = max(console.width, 160)
    return console


out = _console()
err = _console(stderr=True)


@dataclass
class Connection:
    """``--url`` / ``--token`` from the command line; the rest is found as the SDK finds it."""

    url: str | None = None
    token: str | None = None
    _client: Client | None = None

    def client(self) -> Client:
        # The CLI never starts a server on its own: only `shipyard server start` does.
        if self._client is None:
            self._client = connect(self.url, self.token, autostart=False, set_default=False)
        return self._client


CONNECTION = Connection()


def client() -> Client:
    return CONNECTION.client()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    if err.is_terminal:
        err.print(Text.assemble(("Error: ", "bold red"), message), soft_wrap=True)
    else:
        print(f"Error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_deleted(doc: dict[str, Any]) -> None:
    """The one line every ``delete`` (and ``tokens revoke``) prints, read from the API's one
    DELETE answer ``{kind, name, status, forced, deleted: {versions: 3}}``."""
    kind = str(doc.get("kind") or "resource").replace("_", " ")
    verb = "Revoked" if doc.get("status") == "Revoked" else "Deleted"
    with_it = ", ".join(count(n, str(noun).removesuffix("s"))
                        for noun, n in (doc.get("deleted") or {}).items())
    out.print(f"{verb} {kind} {doc.get('name')!r}" + (f" with {with_it}" if with_it else "")
              + (", although something still used it (forced; audited)"
                 if doc.get("forced") else "") + ".")


def fmt(value: Any) -> str:
    """A table cell: numbers for people (``10,790``, ``0.8123``), JSON for structures."""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return number(value)


def data_cell(value: Any) -> str:
    """A cell of a data preview (rows of a dataset or a query): the value as stored, so a
    year stays ``2013`` and an id ``10790``; floats without exponent noise."""
    if value is None:
        return ""
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.10g}"
    return fmt(value) if isinstance(value, dict | list) else str(value)


def when(value: Any) -> str:
    """An ISO timestamp from the API as ``YYYY-MM-DD HH:MM:SS`` (UTC) for tables."""
    if not isinstance(value, str):
        return fmt(value)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None,
          data: bool = False) -> Table:
    """A table; ``data`` for rows of data (cells as stored), else figures for people."""
    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for i, c in enumerate(columns):
        # The first column names the row (an id, a name): keep it whole.
        t.add_column(c, overflow="fold", no_wrap=i == 0)
    cell = data_cell if data else fmt
    for row in rows:
        t.add_row(*(cell(v) for v in row))
    return t


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]],
                title: str | None = None, empty: str | None = None, data: bool = False) -> None:
    rows = list(rows)
    if not rows and empty:
        out.print(empty)
        return
    out.print(table(columns, rows, title, data=data))


def hp_value(text: str) -> Any:
    """A ``--hp`` value: JSON when it parses (3, 0.1, true, [1, 2]), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(items: Sequence[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; a missing ``=`` is a clear error."""
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"Invalid {what} {item!r}: expected KEY=VALUE.")
        pairs[key.strip()] = value
    return pairs


def human_bytes(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover
