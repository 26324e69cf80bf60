"""``shipyard jobs wrangle``: a SQL query or a feature recipe as a job, now or on a schedule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    client,
    fail,
    out,
    parse_pairs,
    print_json,
    wait_option,
    when,
)
from shipyard.client import Job
from shipyard.client._catalog import wrangle_spec
from shipyard.client._jobs import failure_sentence


def wrangle(
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="DATASET", help="The dataset the job writes (a new version).")],
    sql: Annotated[str | None, typer.Option(
        "--sql", metavar="QUERY",
        help="A SELECT over the input channels (by name) and catalog tables.")] = None,
    sql_file: Annotated[Path | None, typer.Option(
        "--sql-file", metavar="FILE", help="The query, read from a file.")] = None,
    recipe: Annotated[Path | None, typer.Option(
        "--recipe", metavar="FILE",
        help="A feature recipe (JSON, {\"steps\": [...]}) fitted on the one input.")] = None,
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="CHANNEL=DATASET",
        help="An input: the query reads it as table CHANNEL; repeatable.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="COLUMN", help="Recipe: the column its steps keep aside.")] = None,
    every: Annotated[str | None, typer.Option(
        "--every", metavar="INTERVAL",
        help="Do not run now: submit the job every INTERVAL (30s, 15m, 1h, 1d).")] = None,
    cron: Annotated[str | None, typer.Option(
        "--cron", metavar="EXPR", help="Do not run now: submit it on a cron expression (UTC).")
    ] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule-name", metavar="NAME",
        help="The schedule's name [default: wrangle-DATASET].")] = None,
    cpus: Annotated[int | None, typer.Option("--cpus", metavar="N", help="CPUs.")] = None,
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", help="Memory limit, e.g. 2G.")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="A name for the job.")] = None,
    wait: Annotated[bool, wait_option("the job ends (exit 1 if it fails)")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
) -> None:
    """Run a query or a recipe as a job writing a dataset, now or on a schedule."""
    given = [flag for flag, value in (("--sql", sql), ("--sql-file", sql_file),
                                      ("--recipe", recipe)) if value is not None]
    if len(given) != 1:
        fail("Give exactly one of --sql QUERY, --sql-file FILE or --recipe FILE.")
    if every is not None and cron is not None:
        fail("Give at most one of --every and --cron.")
    query = sql_file.expanduser().read_text(encoding="utf-8") if sql_file else sql
    steps = None
    if recipe is not None:
        try:
            steps = json.loads(recipe.expanduser().read_text(encoding="utf-8"))
        except ValueError as exc:
            fail(f"The recipe {str(recipe)!r} is not valid JSON: {exc}.")
    spec = wrangle_spec(output, sql=query, recipe=steps, inputs=parse_pairs(input, "--input"),
                        target=target, cpus=cpus, memory=memory, name=name)
    c = client()
    if every is not None or cron is not None:
        body = {"name": schedule or f"wrangle-{output}", "kind": "job",
                "target": {"spec": spec}, "every": every, "cron": cron}
        doc = c.post("/schedules", {k: v for k, v in body.items() if v is not None})
        if json_out:
            print_json(doc)
        else:
            out.print(f"Created schedule {doc['name']!r} ({doc.get('timing')}); next run "
                      f"{when(doc.get('next_run_at'))} UTC.")
        return
    job_doc = c.post("/jobs", spec)
    job = Job(job_doc["id"], client=c, _doc=job_doc)
    if wait:
        job.wait(progress=not json_out, raise_on_failure=False)
    if json_out:
        print_json(job.doc)
    else:
        written = (job.doc.get("outputs") or {}).get("datasets") or {}
        versions = ", ".join(f"{d['dataset']}:{d['version']}" for d in written.values())
        out.print(f"Job {job.id} is {job.status}" + (f"; wrote {versions}." if versions
                                                      else "."))
    if wait and job.status != "Completed":
        fail(failure_sentence(job.id, job.status, job.reason, job.message))
