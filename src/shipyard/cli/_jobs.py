"""``shipyard jobs``: run scripts as jobs, follow their logs, read metrics, cancel."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard.cli._common import (
    JsonOpt,
    client,
    fail,
    fmt,
    out,
    parse_pairs,
    print_json,
    print_table,
    table,
    when,
)
from shipyard.client import Job
from shipyard.client._jobs import build_spec
from shipyard.client._logs import LogReader

app = typer.Typer(help="Jobs: run a script on the server, follow it, read its results.",
                  no_args_is_help=True)


def _hp_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _path(job_id: str, suffix: str = "") -> str:
    return f"/jobs/{quote(job_id, safe='')}{suffix}"


def _failed_sentence(job: Job) -> str:
    reason = job.reason or "unknown reason"
    detail = f": {' '.join(job.message.split())}" if job.message else ""
    return (f"Job {job.id} ended {job.status} ({reason}){detail}. "
            f"`shipyard jobs logs {job.id}` shows its log.")


@app.command("run")
def run(
    script: Annotated[Path, typer.Option(
        "--script", "-s", metavar="FILE", help="The Python file to run.")],
    kind: Annotated[str, typer.Option(
        "--kind", metavar="KIND", help="processing or script.")] = "script",
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="CHANNEL=DATASET",
        help="An input channel: CHANNEL=DATASET or CHANNEL=DATASET:VERSION; repeatable.")] = None,
    output: Annotated[list[str] | None, typer.Option(
        "--output", "-o", metavar="DATASET",
        help="A dataset the job writes (a new version); repeatable.")] = None,
    requirements: Annotated[Path | None, typer.Option(
        "--requirements", "-r", metavar="FILE",
        help="A requirements file; the job runs in a venv built from it.")] = None,
    cpus: Annotated[int | None, typer.Option(
        "--cpus", metavar="N", help="CPUs for the job.")] = None,
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", help="Memory limit, e.g. 2G.")] = None,
    max_runtime: Annotated[float | None, typer.Option(
        "--max-runtime", metavar="SECONDS", help="Seconds before the job is stopped.")] = None,
    hp: Annotated[list[str] | None, typer.Option(
        "--hp", metavar="KEY=VALUE",
        help="A hyperparameter (VALUE is read as JSON when it parses); repeatable.")
    ] = None,
    retries: Annotated[int, typer.Option(
        "--retries", metavar="N", help="Retries after an infrastructure failure.")] = 0,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="A name for the job.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="Follow the log until the job ends; exit 1 if it fails.")
    ] = False,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", metavar="KEY",
        help="Submitting again with this key returns the same job.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a script as a job."""
    spec = build_spec(
        kind, script, inputs=parse_pairs(input, "--input"), outputs=output,
        requirements=requirements,
        hyperparameters={k: _hp_value(v) for k, v in parse_pairs(hp, "--hp").items()},
        cpus=cpus, memory=memory, max_runtime=max_runtime, retries=retries, name=name,
    )
    c = client()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    doc = c.post("/jobs", spec, headers=headers)
    job = Job(doc["id"], client=c, _doc=doc)
    if not json_out:
        out.print(f"Submitted job {job.id} ({job.kind}).")
    if wait:
        try:
            job.wait(progress=not json_out, logs=not json_out, raise_on_failure=False)
        except KeyboardInterrupt:
            _detached(job.id)
    if json_out:
        print_json(_job_json(job.doc))
    elif wait and job.status == "Completed":
        out.print(f"Job {job.id} completed.")
    elif not wait:
        out.print(f"Follow it with `shipyard jobs logs {job.id} -f`.")
    if wait and job.status != "Completed":
        fail(_failed_sentence(job))


def _detached(job_id: str) -> None:
    fail(f"Stopped following job {job_id}; the job goes on (`shipyard jobs cancel {job_id}` "
         "stops it).", code=130)


def _job_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc.get("id"), "status": doc.get("status"), "reason": doc.get("reason"), **doc}


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(
        "--status", metavar="STATUS", help="Only jobs in this status.")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", metavar="KIND", help="Only jobs of this kind.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", metavar="N", help="At most this many.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Jobs, newest first."""
    docs = client().get("/jobs", status=status, kind=kind, limit=limit)
    if json_out:
        print_json(docs)
        return
    print_table(["id", "name", "kind", "status", "reason", "created"],
                ([d.get("id"), d.get("name"), d.get("kind"), d.get("status"), d.get("reason"),
                  when(d.get("created_at"))] for d in docs),
                empty="No jobs.")


@app.command("show")
def show(job_id: Annotated[str, typer.Argument(metavar="ID")], json_out: JsonOpt = False) -> None:
    """A job's status, reason, timestamps and spec."""
    doc = client().get(_path(job_id))
    if json_out:
        print_json(_job_json(doc))
        return
    spec = doc.get("spec") or {}
    results = doc.get("outputs") or {}
    model_files = (results.get("model") or {}).get("files") or []
    rows = [["id", doc.get("id")], ["name", doc.get("name")], ["kind", doc.get("kind")],
            ["status", doc.get("status")], ["reason", doc.get("reason")],
            ["message", doc.get("message")], ["attempts", doc.get("attempts")],
            ["created", when(doc.get("created_at"))], ["started", when(doc.get("started_at"))],
            ["ended", when(doc.get("ended_at"))],
            ["script", (spec.get("script") or {}).get("filename")],
            ["inputs", spec.get("inputs")], ["outputs", spec.get("outputs") or None],
            ["hyperparameters", spec.get("hyperparameters")],
            ["resources", {k: v for k, v in (spec.get("resources") or {}).items()
                           if k != "memory_bytes"}],
            ["metrics", doc.get("metrics")],
            ["datasets written", results.get("datasets")],
            ["model files", len(model_files) if model_files else None]]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "", {}, [])])
    t.show_header = False
    out.print(t)


@app.command("logs")
def logs(
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing until the job ends.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """A job's log (stdout and stderr); -f follows it until the job ends."""
    reader = LogReader(client(), job_id)
    if json_out:
        text = "".join(reader.follow()) if follow else reader.read(max_requests=10_000)
        print_json({"id": job_id, "status": reader.status, "log": text,
                    "next_offset": reader.offset})
        return
    chunks = reader.follow() if follow else iter([reader.read(max_requests=10_000)])
    try:
        for chunk in chunks:
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except KeyboardInterrupt:
        _detached(job_id)


@app.command("cancel")
def cancel(job_id: Annotated[str, typer.Argument(metavar="ID")], json_out: JsonOpt = False) -> None:
    """Stop a job (a Pending job stops at once, a running one after its grace period)."""
    doc = client().post(_path(job_id, "/cancel"))
    if json_out:
        print_json(_job_json(doc))
    else:
        out.print(f"Job {job_id} is {doc.get('status')}.")


@app.command("metrics")
def metrics(job_id: Annotated[str, typer.Argument(metavar="ID")],
            json_out: JsonOpt = False) -> None:
    """The metrics a job logged (name, value, step, timestamp)."""
    frame = Job(job_id, client=client(), _doc={"id": job_id}).metrics()
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    if json_out:
        print_json(records)
        return
    print_table(["name", "value", "step", "timestamp"],
                ([r["name"], r["value"], r["step"], r["timestamp"]] for r in records),
                empty=f"Job {job_id} logged no metrics.")


@app.command("artifacts")
def artifacts(job_id: Annotated[str, typer.Argument(metavar="ID")],
              json_out: JsonOpt = False) -> None:
    """The files a job left."""
    items = Job(job_id, client=client(), _doc={"id": job_id}).artifacts()
    if json_out:
        print_json(items)
        return
    columns = list(dict.fromkeys(k for item in items for k in item)) or ["path"]
    print_table(columns, ([fmt(i.get(c)) for c in columns] for i in items),
                empty=f"Job {job_id} has no artifacts.")


@app.command("download")
def download(
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    path: Annotated[str, typer.Argument(help="The artifact's path, as `jobs artifacts` lists.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="PATH", help="File or folder.")] = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Download one artifact of a job."""
    target = Job(job_id, client=client(), _doc={"id": job_id}).download(path, output)
    if json_out:
        print_json({"id": job_id, "path": path, "output": str(target)})
    else:
        out.print(f"Wrote {target}.")
