"""The ``shipyard`` command line: ``shipyard <resource> <verb>``.

Every command takes ``--json``; errors are one sentence on stderr and a non-zero
exit. The server and token are found as the SDK finds them (``SHIPYARD_URL``,
``SHIPYARD_TOKEN``, the credentials file in ``SHIPYARD_HOME``), but the CLI never
starts a server on its own: ``shipyard server start`` does.
"""

from __future__ import annotations

import sys
from typing import Annotated

import httpx
import typer

from shipyard import __version__
from shipyard.cli import (
    _algorithms,
    _automl,
    _catalog,
    _datasets,
    _endpoints,
    _examples,
    _experiments,
    _hub,
    _hub_finetune,  # noqa: F401 - registers `hub fine-tune` on _hub.app
    _jobs,
    _labeling,
    _lineage,
    _models,
    _monitors,
    _pipelines,
    _reports,
    _schedules,
    _server,
    _sql,
    _studio,
    _tokens,
    _tune,
    _wrangle,
)
from shipyard.cli._common import CONNECTION, fail
from shipyard.cli._errors import command_of, in_flags
from shipyard.errors import ShipyardError

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipyard", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Shipyard: a self-hosted ML platform. `shipyard <resource> <verb> --help` for more.",
)
app.add_typer(_server.app, name="server")
app.add_typer(_datasets.app, name="datasets")
app.add_typer(_jobs.app, name="jobs")
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_models.app, name="models")
app.add_typer(_endpoints.app, name="endpoints")
app.add_typer(_monitors.app, name="monitors")
app.add_typer(_algorithms.app, name="algorithms")
app.add_typer(_tokens.app, name="tokens")
app.add_typer(_catalog.app, name="catalog")
app.add_typer(_schedules.app, name="schedules")
app.add_typer(_examples.app, name="examples")
app.add_typer(_tune.app, name="tune")
app.add_typer(_automl.app, name="automl")
app.add_typer(_pipelines.app, name="pipelines")
app.add_typer(_labeling.app, name="labeling")
app.add_typer(_hub.app, name="hub")
app.command("sql")(_sql.sql)
app.command("bias")(_reports.bias)
app.command("explain")(_reports.explain)
app.command("lineage")(_lineage.lineage)
app.command("evaluate")(_reports.evaluate)
_jobs.app.command("wrangle")(_wrangle.wrangle)
app.command("whoami")(_tokens.whoami)
app.command("studio")(_studio.studio)


def _version(value: bool) -> None:
    if value:
        print(f"shipyard {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    url: Annotated[str | None, typer.Option(
        "--url", metavar="URL",
        help="Server URL [$SHIPYARD_URL, else the home's running server].")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", metavar="TOKEN",
        help="API token [$SHIPYARD_TOKEN, else $SHIPYARD_HOME/credentials].")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    CONNECTION.url = url
    CONNECTION.token = token


def _one_line(message: str) -> str:
    return " ".join(message.split()) if message.count("\n") < 2 else message.strip()


try:  # Typer vendors its own Click; usage errors are raised from there
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - a Typer that uses Click itself
    from click import exceptions as _click_errors  # type: ignore[no-redef]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a ShipyardError or a network error becomes one sentence and exit 1."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="shipyard", standalone_mode=False)
    except _click_errors.UsageError as exc:
        # One sentence, not Click's usage block: what is wrong and where the help is.
        path = exc.ctx.command_path if exc.ctx else "shipyard"
        _exit(f"{exc.format_message().rstrip('.')}. Run '{path} --help' for usage.", code=2)
    except typer.Abort:
        _exit("Aborted.", code=1)
    except _click_errors.ClickException as exc:
        _exit(exc.format_message(), code=exc.exit_code)
    except ShipyardError as exc:
        # The server words its errors in API fields; the user typed this command's flags.
        _exit(in_flags(exc.message, command_of(sys.argv[1:] if argv is None else argv)))
    except httpx.HTTPError as exc:
        _exit(f"The request to the server failed ({type(exc).__name__}): {exc}.")
    except OSError as exc:
        # A local file the user named could not be read or written.
        _exit(f"{exc.strerror or exc}: {exc.filename}." if exc.filename else str(exc))
    else:
        if isinstance(code, int) and code:
            sys.exit(code)


def _exit(message: str, code: int | None = None) -> None:
    try:
        fail(_one_line(message))
    except typer.Exit as done:
        sys.exit(code if code is not None else done.exit_code)
