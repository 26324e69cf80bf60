"""``shipyard pipelines``: save definitions, start executions, follow, retry and stop them.

A definition is a JSON file, or a Python file defining a module-level ``pipeline`` (an
``sy.Pipeline``). The Python file runs here, in a subprocess of this CLI's own Python
(``sys.executable``), never on the server: the server only ever gets its JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    YesOpt,
    client,
    confirm_delete,
    err,
    fail,
    out,
    output_mode,
    parse_pairs,
    print_deleted,
    print_json,
    print_table,
    quiet_option,
    say,
    table,
    wait_option,
    when,
)
from shipyard.cli._pipeline_triggers import hook_app, triggers_app
from shipyard.client._pipeline_refs import condition_text, step_dependencies
from shipyard.client._pipelines import Execution, duration, failure_sentence, step_rows
from shipyard.client._progress import STEP_COLUMNS

app = typer.Typer(help="Pipelines: the lifecycle as a DAG of steps (processing, training, "
                       "conditions, registration, deployment…), started and followed as "
                       "executions.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The pipeline's name.")]
ExecutionId = Annotated[str, typer.Argument(metavar="EXECUTION_ID",
                                            help="The execution's id (exec-…).")]
#: Seconds a pipeline file may take to build its pipeline.
BUILD_TIMEOUT = 300
#: Runs a pipeline file and prints its pipeline's JSON; what the file prints goes to stderr.
_BUILDER = r"""
import json, os, runpy, sys
path = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
real, sys.stdout = sys.stdout, sys.stderr
from shipyard.errors import ShipyardError
try:
    found = runpy.run_path(path, run_name="__shipyard_pipeline__").get("pipeline")
    doc = found.to_dict() if callable(getattr(found, "to_dict", None)) else None
except ShipyardError as exc:  # the DSL's own sentence, without a traceback
    sys.stderr.write(f"{path}: {exc.message}\n")
    sys.exit(3)
sys.stdout = real
if doc is None:
    sys.stderr.write(f"{path} defines no module-level `pipeline`; end it with "
                     "pipeline = sy.Pipeline(NAME, steps=[...]).\n")
    sys.exit(3)
json.dump(doc, real)
"""


def _path(name: str, suffix: str = "") -> str:
    return f"/pipelines/{quote(name, safe='')}{suffix}"


def _execution_path(execution_id: str, suffix: str = "") -> str:
    return f"/pipeline-executions/{quote(execution_id, safe='')}{suffix}"


# -- definitions --------------------------------------------------------------------------
def read_definition(path: Path) -> dict[str, Any]:
    """The definition in ``path``: a .json file as it is, or the JSON of the ``pipeline``
    a .py file defines (built in a subprocess, in the file's folder)."""
    path = path.expanduser()
    if path.suffix not in (".json", ".py"):
        fail(f"The definition file {str(path)!r} must be a .json definition or a .py file "
             "defining `pipeline`; rename it or give another with --file.")
    if not path.is_file():
        fail(f"No definition file {str(path)!r}; give an existing pipeline.json or "
             "pipeline.py with --file.")
    if path.suffix == ".py":
        text = _build(path)
        what = f"the pipeline {path.name} built"
    else:
        text = path.read_text(encoding="utf-8")
        what = f"the definition file {str(path)!r}"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        fail(f"{what[0].upper()}{what[1:]} is not valid JSON ({exc}); fix it and try again.")
    if not isinstance(doc, dict):
        fail(f"{what[0].upper()}{what[1:]} must be a JSON object with name, parameters and "
             f"steps; got {type(doc).__name__}.")
    return doc


def _build(path: Path) -> str:
    try:
        done = subprocess.run([sys.executable, "-c", _BUILDER, path.name],
                              cwd=path.resolve().parent, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        fail(f"{path} did not build its pipeline within {BUILD_TIMEOUT} s; a pipeline file "
             "should only define steps, not run them.")
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    if done.returncode == 3 and lines:
        fail(lines[-1])
    if done.returncode != 0:
        why = lines[-1] if lines else f"exit code {done.returncode}"
        fail(f"Building the pipeline of {path} failed: {why.rstrip('.')}; run `python "
             f"{path}` to see the whole error.")
    if done.stderr:
        sys.stderr.write(done.stderr)  # what the file printed
    return done.stdout


@app.command("create")
def create(
    name: Name,
    file: Annotated[Path, typer.Option(
        "--file", "-f", metavar="FILE",
        help="pipeline.json (the definition), or pipeline.py defining `pipeline` (an "
             "sy.Pipeline), run by this Python.")],
    json_out: JsonOpt = False,
) -> None:
    """Create a pipeline from its definition, or save a new version of it (a definition
    equal to the latest version changes nothing)."""
    doc = read_definition(file)
    given = doc.get("name")
    if given in (None, ""):
        doc = {"name": name, **{k: v for k, v in doc.items() if k != "name"}}
    elif given != name:
        fail(f"The definition in {str(file)!r} is named {given!r}, not {name!r}; run "
             f"`shipyard pipelines create {given} --file {file}` or change its name.")
    saved = client().post("/pipelines", doc)
    if json_out:
        print_json(saved)
        return
    version = saved.get("version")
    if not saved.get("changed"):
        out.print(f"Pipeline {name!r} is unchanged at version {version}.")
    elif version == 1:
        out.print(f"Created pipeline {name!r} (version 1).")
    else:
        out.print(f"Saved pipeline {name!r} as version {version} (the definition changed).")


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every pipeline, with its latest version."""
    docs = client().get("/pipelines")
    if json_out:
        print_json(docs)
        return
    print_table(["name", "version", "description", "updated", "by"],
                ([d.get("name"), d.get("latest_version"), d.get("description"),
                  when(d.get("updated_at")), d.get("created_by")] for d in docs),
                empty="No pipelines.")


@app.command("describe")
def describe(
    name: Name,
    version: Annotated[int | None, typer.Option(
        "--version", metavar="N", min=1, help="This version [default: the latest].")] = None,
    json_out: JsonOpt = False,
) -> None:
    """A pipeline's definition: its parameters, and its steps with what each waits for."""
    doc = client().get(_path(name) if version is None else _path(name, f"/versions/{version}"))
    if json_out:
        print_json(doc)
        return
    definition = doc.get("definition") or {}
    number = doc.get("version", doc.get("latest_version"))
    out.print(f"Pipeline {name!r}, version {number}"
              + (f": {definition['description']}" if definition.get("description") else "."))
    print_table(["parameter", "type", "default", "description"],
                ([p.get("name"), p.get("type", "string"),
                  "(required)" if p.get("default") is None else json.dumps(p.get("default")),
                  p.get("description")] for p in definition.get("parameters") or []),
                title="Parameters", empty="No parameters.")
    needs = step_dependencies(definition)
    print_table(["step", "type", "depends on", "what"],
                ([s.get("name"), s.get("type"), ", ".join(needs.get(str(s.get("name")), [])),
                  _step_summary(s)] for s in definition.get("steps") or []),
                title="Steps")


def _step_summary(step: dict[str, Any]) -> str:
    """A step in a few words: its branches, its model group, its script…"""
    if step.get("type") == "condition":
        return (f"if {condition_text(step.get('if'))} then "
                f"{', '.join(step.get('then') or []) or '-'} else "
                f"{', '.join(step.get('else') or []) or '-'}")
    job = step.get("job")
    if isinstance(job, dict):
        bits = [f"script {job['script'].get('filename')}" if isinstance(job.get("script"), dict)
                else "", f"algorithm {job['algorithm']}" if job.get("algorithm") else "",
                f"outputs {', '.join(map(str, job['outputs']))}" if job.get("outputs") else ""]
        return "; ".join(b for b in bits if b)
    fields = {k: v for k, v in step.items()
              if k in ("group", "endpoint", "url", "message", "dataset")}
    return "; ".join(f"{k} {json.dumps(v) if not isinstance(v, str) else v}"
                     for k, v in fields.items())


@app.command("delete")
def delete(name: Name, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete a pipeline with its versions and executions (not while one is executing)."""
    confirm_delete(f"pipeline {name!r}", yes, " with its versions and executions")
    doc = client().delete(_path(name))
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)


# -- executions ---------------------------------------------------------------------------
def _follow(execution: Execution, talk: bool) -> None:
    try:
        execution.wait(progress=talk, raise_on_failure=False)
    except KeyboardInterrupt:
        fail(f"Stopped following execution {execution.id}; it goes on (`shipyard pipelines "
             f"stop {execution.id}` stops it).", code=130)


def _finish(execution: Execution, wait: bool, json_out: bool, quiet: bool) -> None:
    """Print what a start or retry left, and exit non-zero if it ended without success."""
    if quiet:
        say(execution.id)
    elif json_out:
        print_json(execution.doc)
    elif wait:
        # A terminal kept the live table of the steps; elsewhere stdout gets them here.
        _print_execution(execution.doc, steps=not err.is_terminal)
    else:
        out.print(f"Follow it with `shipyard pipelines show {execution.id}`.")
    if wait and execution.status != "Succeeded":
        fail(failure_sentence(execution.doc))


@app.command("start")
def start(
    name: Name,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", metavar="NAME=VALUE",
        help="A parameter's value (the server converts it to the parameter's type: "
             "3, 0.8, true, churn:2); repeatable.")] = None,
    version: Annotated[int | None, typer.Option(
        "--version", metavar="N", min=1, help="Start this version [default: the latest].")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", metavar="KEY",
        help="Starting again with this key returns the same execution.")] = None,
    wait: Annotated[bool, wait_option(
        "the execution ends, showing its steps (exit 1 if it fails or is stopped)")
    ] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the execution id")] = False,
) -> None:
    """Start an execution of a pipeline with parameters (the defaults fill the rest)."""
    output_mode(json_out, quiet)
    body: dict[str, Any] = {"parameters": parse_pairs(param, "--param")}
    if version is not None:
        body["version"] = version
    c = client()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    doc = c.post(_path(name, "/executions"), body, headers=headers)
    execution = Execution(doc["id"], client=c, _doc=doc)
    talk = not (json_out or quiet)
    if talk:
        out.print(f"Started execution {execution.id} of pipeline {name!r} (version "
                  f"{doc.get('version')}).")
    if wait:
        _follow(execution, talk)
    _finish(execution, wait, json_out, quiet)


@app.command("executions")
def executions(
    name: Name,
    status: Annotated[str | None, typer.Option(
        "--status", metavar="STATUS",
        help="Only these: Executing, Succeeded, Failed, Stopping, Stopped (comma-separated).")
    ] = None,
    limit: Annotated[int, typer.Option(
        "--limit", metavar="N", min=1, max=1000, help="At most this many.")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """A pipeline's executions, newest first."""
    docs = client().get(_path(name, "/executions"), status=status, limit=limit)
    if json_out:
        print_json(docs)
        return
    print_table(["id", "version", "status", "trigger", "created", "duration", "reason"],
                ([d.get("id"), d.get("version"), d.get("status"),
                  (d.get("trigger") or {}).get("kind"), when(d.get("created_at")),
                  duration(d.get("created_at"), d.get("ended_at")), d.get("reason")]
                 for d in docs),
                empty=f"Pipeline {name!r} has no executions"
                      + (f" that are {status}." if status else "."))


def _print_execution(doc: dict[str, Any], steps: bool = True) -> None:
    params = ", ".join(f"{k}={json.dumps(v)}" for k, v in (doc.get("parameters") or {}).items())
    rows: list[list[Any]] = [["execution", doc.get("id")],
            ["pipeline", f"{doc.get('pipeline')} (version {doc.get('version')})"],
            ["status", doc.get("status")], ["reason", doc.get("reason")],
            ["parameters", params], ["trigger", (doc.get("trigger") or {}).get("kind")],
            ["created", when(doc.get("created_at"))], ["ended", when(doc.get("ended_at"))],
            ["by", doc.get("created_by")]]
    facts = table(["", ""], [r for r in rows if r[1] not in (None, "")])
    facts.show_header = False
    out.print(facts)
    if steps:
        print_table(STEP_COLUMNS, step_rows(doc))


@app.command("show")
def show(execution_id: ExecutionId, json_out: JsonOpt = False) -> None:
    """An execution: its status and parameters, and each step's status, attempt, cache
    hit, job, duration and reason."""
    doc = client().get(_execution_path(execution_id))
    if json_out:
        print_json(doc)
        return
    _print_execution(doc)


@app.command("retry")
def retry(
    execution_id: ExecutionId,
    wait: Annotated[bool, wait_option(
        "the execution ends again (exit 1 if it fails or is stopped)")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
) -> None:
    """Start a Failed or Stopped execution again from the steps that did not succeed
    (those that did keep their outputs)."""
    c = client()
    doc = c.post(_execution_path(execution_id, "/retry"))
    execution = Execution(doc["id"], client=c, _doc=doc)
    if not json_out:
        out.print(f"Execution {execution.id} is {execution.status} again.")
    if wait:
        _follow(execution, not json_out)
    _finish(execution, wait, json_out, quiet=False)


@app.command("stop")
def stop(execution_id: ExecutionId, json_out: JsonOpt = False) -> None:
    """Stop an execution: its running jobs are cancelled, its pending steps never start."""
    doc = client().post(_execution_path(execution_id, "/stop"))
    if json_out:
        print_json(doc)
        return
    out.print(f"Execution {execution_id} is {doc.get('status')}.")


# What starts a pipeline: `shipyard pipelines triggers …`, `shipyard pipelines hook install …`.
app.add_typer(triggers_app, name="triggers")
app.add_typer(hook_app, name="hook")
