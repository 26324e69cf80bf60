"""``shipyard server``: run the control plane in the foreground, or start/stop/status it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard import server as srv
from shipyard.cli._common import JsonOpt, fail, out, print_json
from shipyard.settings import Settings

app = typer.Typer(help="Run the Shipyard server (foreground), or start/stop/check it.",
                  no_args_is_help=False)

HostOpt = Annotated[str | None, typer.Option(
    "--host", metavar="HOST", help="Interface to bind [127.0.0.1].")]
PortOpt = Annotated[int | None, typer.Option(
    "--port", metavar="PORT", help="Port to listen on [8484].")]
HomeOpt = Annotated[Path | None, typer.Option(
    "--home", metavar="DIR", help="The server's home folder [$SHIPYARD_HOME or ~/.shipyard].")]


def _settings(home: Path | None, host: str | None = None, port: int | None = None) -> Settings:
    return Settings.from_env(home=home, host=host, port=port)


@app.callback(invoke_without_command=True)
def server(ctx: typer.Context, host: HostOpt = None, port: PortOpt = None,
           home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Run the server in the foreground (Ctrl-C stops it); subcommands manage a detached one."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(home, host, port)
    holder = srv.lock_holder(settings)
    if holder is not None:  # serve() refuses too; say so before announcing anything
        fail(srv.refusal(settings, holder))
    if json_out:
        print_json({"url": settings.url, "home": str(settings.home), "foreground": True})
    else:
        out.print(f"Shipyard server on {settings.url} (home {settings.home}); Ctrl-C stops it.")
    srv.serve(settings)


@app.command("start")
def start(host: HostOpt = None, port: PortOpt = None, home: HomeOpt = None,
          json_out: JsonOpt = False) -> None:
    """Start the server in the background (its PID file lives in the home)."""
    settings = _settings(home, host, port)
    if json_out:
        pid = srv.start_detached(settings)
    else:
        with out.status(f"Starting the server on {settings.url}…"):
            pid = srv.start_detached(settings)
    creds = settings.credentials_path
    info = {"url": settings.url, "pid": pid, "home": str(settings.home),
            "pid_file": str(settings.pid_path),
            "credentials": str(creds) if creds.exists() else None}
    if json_out:
        print_json(info)
        return
    out.print(f"Shipyard server running at {settings.url} (PID {pid}, home {settings.home}).")
    if creds.exists():
        out.print(f"The admin token is in {creds}.")
    stop_cmd = "shipyard server stop" + (f" --home {settings.home}" if home else "")
    out.print(f"Stop it with `{stop_cmd}`.")


@app.command("stop")
def stop(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Stop the background server of the home."""
    settings = _settings(home)
    pid = srv.stop(settings)
    if json_out:
        print_json({"stopped": pid is not None, "pid": pid, "home": str(settings.home)})
    elif pid is None:
        out.print(f"No server was running for {settings.home}.")
    else:
        out.print(f"Stopped the server (PID {pid}) of {settings.home}.")


@app.command("status")
def status(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Whether the home's server runs and answers; exits 1 when it does not."""
    settings = _settings(home)
    pid = srv.read_pid(settings)
    info = srv.server_info(settings) or {}
    url = str(info.get("url") or settings.url)
    healthy = srv.is_healthy(url)
    doc = {"running": healthy, "url": url, "pid": pid or info.get("pid"),
           "home": str(settings.home)}
    if json_out:
        print_json(doc)
        if not healthy:
            raise typer.Exit(1)
        return
    if healthy:
        out.print(f"Shipyard server running at {url} (PID {doc['pid'] or 'unknown'}, "
                  f"home {settings.home}).")
    else:
        fail(f"No server answers at {url} for {settings.home}; start it with "
             "`shipyard server start`.")
