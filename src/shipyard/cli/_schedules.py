"""``shipyard schedules``: run a job spec every interval or on a cron expression."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard.cli._common import (
    JsonOpt,
    YesOpt,
    client,
    confirm_delete,
    fail,
    out,
    print_deleted,
    print_json,
    print_table,
    table,
    when,
)

app = typer.Typer(help="Schedules: submit a job (or crawl a location) every interval or on a "
                       "cron expression.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME")]
Every = Annotated[str | None, typer.Option(
    "--every", metavar="INTERVAL", help="Run every INTERVAL: 30s, 15m, 1h, 1d.")]
Cron = Annotated[str | None, typer.Option(
    "--cron", metavar="EXPR", help="Run on a 5-field cron expression, in UTC: '0 6 * * *'.")]


def _path(name: str, suffix: str = "") -> str:
    return f"/schedules/{quote(name, safe='')}{suffix}"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.expanduser().read_text(encoding="utf-8"))
    except ValueError as exc:
        fail(f"The {what} {str(path)!r} is not valid JSON: {exc}.")


def print_schedule(doc: dict[str, Any]) -> None:
    rows: list[list[Any]] = [
            ["name", doc.get("name")], ["kind", doc.get("kind")], ["timing", doc.get("timing")],
            ["status", doc.get("status")], ["next run", when(doc.get("next_run_at"))],
            ["last run", when(doc.get("last_run_at"))], ["last job", doc.get("last_job_id")],
            ["last error", doc.get("last_error")], ["created", when(doc.get("created_at"))],
            ["by", doc.get("created_by")]]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "")])
    t.show_header = False
    out.print(t)


@app.command("create")
def create(
    name: Name, every: Every = None, cron: Cron = None,
    spec: Annotated[Path | None, typer.Option(
        "--spec", metavar="FILE", help="Kind job: the job spec (JSON) each run submits.")
    ] = None,
    kind: Annotated[str, typer.Option(
        "--kind", metavar="KIND", help="job, crawl, or a kind the server registers.")] = "job",
    target: Annotated[str | None, typer.Option(
        "--target", metavar="JSON",
        help="Other kinds: the target, e.g. '{\"location\": \"lake\"}'.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a schedule; its first run is one interval (or the next cron time) from now."""
    if (every is None) == (cron is None):
        fail("Give exactly one of --every INTERVAL or --cron EXPR.")
    if kind == "job":
        if spec is None:
            fail("A job schedule needs --spec FILE, the job spec each run submits "
                 "(or use `shipyard jobs wrangle ... --every`).")
        body_target = {"spec": _read_json(spec, "job spec")}
    else:
        try:
            body_target = json.loads(target or "{}")
        except ValueError as exc:
            fail(f"--target is not valid JSON: {exc}.")
    body: dict[str, Any] = {"name": name, "kind": kind, "target": body_target,
                            "every": every, "cron": cron}
    doc = client().post("/schedules", {k: v for k, v in body.items() if v is not None})
    if json_out:
        print_json(doc)
        return
    out.print(f"Created schedule {doc['name']!r} ({doc.get('timing')}); next run "
              f"{when(doc.get('next_run_at'))} UTC.")


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every schedule, with its next and last run."""
    docs = client().get("/schedules")
    if json_out:
        print_json(docs)
        return
    print_table(["name", "kind", "timing", "status", "next run", "last run", "last job",
                 "last error"],
                ([d.get("name"), d.get("kind"), d.get("timing"), d.get("status"),
                  when(d.get("next_run_at")), when(d.get("last_run_at")), d.get("last_job_id"),
                  d.get("last_error")] for d in docs),
                empty="No schedules.")


@app.command("show")
def show(name: Name, json_out: JsonOpt = False) -> None:
    """One schedule."""
    doc = client().get(_path(name))
    if json_out:
        print_json(doc)
        return
    print_schedule(doc)


@app.command("pause")
def pause(name: Name, json_out: JsonOpt = False) -> None:
    """Stop firing a schedule until it is resumed."""
    doc = client().post(_path(name, "/pause"))
    if json_out:
        print_json(doc)
        return
    out.print(f"Paused schedule {name!r}.")


@app.command("resume")
def resume(name: Name, json_out: JsonOpt = False) -> None:
    """Fire a schedule again, from its next planned time after now."""
    doc = client().post(_path(name, "/resume"))
    if json_out:
        print_json(doc)
        return
    out.print(f"Resumed schedule {name!r}; next run {when(doc.get('next_run_at'))} UTC.")


@app.command("delete")
def delete(name: Name, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete a schedule (the jobs it started stay)."""
    confirm_delete(f"schedule {name!r}", yes)
    doc = client().delete(_path(name))
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)
