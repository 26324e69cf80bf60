"""``shipyard jobs``: run scripts as jobs, follow their logs, read metrics, cancel, resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    client,
    fail,
    fmt,
    hp_value,
    out,
    output_mode,
    parse_pairs,
    print_json,
    print_table,
    quiet_option,
    say,
    table,
    wait_option,
    when,
)
from shipyard.client import Job
from shipyard.client._jobs import build_spec, failure_sentence, transform_spec
from shipyard.client._logs import LogReader
from shipyard.client._training import (
    SPLITS,
    TRAINING_CHANNELS,
    flat_metrics,
    headline,
    nest_metrics,
    parse_split,
    training_spec,
)

app = typer.Typer(help="Jobs: run a script or train an algorithm on the server, follow it, "
                       "read its results.",
                  no_args_is_help=True)


def _path(job_id: str, suffix: str = "") -> str:
    return f"/jobs/{quote(job_id, safe='')}{suffix}"


def _failed_sentence(job: Job) -> str:
    return failure_sentence(job.id, job.status, job.reason, job.message)


_TRAINING_ONLY = ("--algorithm", "--target", "--split", "--split-method", "--time-column",
                  "--seed", "--problem-type", "--group-column", "--recipe", "--drop",
                  "--cv-folds")


@app.command("run")
def run(
    script: Annotated[Path | None, typer.Option(
        "--script", "-s", metavar="FILE",
        help="The Python file to run (processing and script jobs).")] = None,
    kind: Annotated[str, typer.Option(
        "--kind", metavar="KIND",
        help="A kind the server runs (`shipyard jobs kinds` lists them): processing, script, "
             "training, transform, …")] = "script",
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="CHANNEL=DATASET",
        help="An input channel: CHANNEL=DATASET or CHANNEL=DATASET:VERSION; repeatable. "
             "Training reads train (and optionally validation, test).")] = None,
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
    algorithm: Annotated[str | None, typer.Option(
        "--algorithm", metavar="NAME",
        help="Training: the built-in algorithm (`shipyard algorithms list`).")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="COLUMN", help="Training: the column to predict.")] = None,
    split: Annotated[str | None, typer.Option(
        "--split", metavar="TRAIN,VAL,TEST",
        help="Training: split fractions [default: 0.7,0.2,0.1].")] = None,
    split_method: Annotated[str | None, typer.Option(
        "--split-method", metavar="METHOD",
        help="Training: auto, random, stratified, time or group [default: auto].")] = None,
    time_column: Annotated[str | None, typer.Option(
        "--time-column", metavar="COLUMN", help="Training: the column a time split uses.")
    ] = None,
    group_column: Annotated[str | None, typer.Option(
        "--group-column", metavar="COLUMN",
        help="Training: the column a group split keeps together (no group spans two "
             "splits).")] = None,
    recipe: Annotated[Path | None, typer.Option(
        "--recipe", metavar="FILE",
        help='Training: a feature recipe (JSON). {"extends": "default", "steps": [...]} adds '
             'steps to the default recipe; {"steps": [...]} replaces it.')] = None,
    drop: Annotated[list[str] | None, typer.Option(
        "--drop", metavar="COLUMN",
        help="Training: columns to leave out of the features: repeatable, or comma-separated "
             "(--drop a,b).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", metavar="N", help="Training: the split's random seed [default: 42].")] = None,
    problem_type: Annotated[str | None, typer.Option(
        "--problem-type", metavar="TYPE",
        help="Training: binary, multiclass or regression [default: inferred].")] = None,
    experiment: Annotated[str | None, typer.Option(
        "--experiment", metavar="NAME",
        help="The experiment the job is a run of [training default: the train dataset's "
             "name].")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", metavar="KEY=VALUE", help="A tag of the job; repeatable.")] = None,
    notes: Annotated[str | None, typer.Option(
        "--notes", metavar="TEXT", help="Notes on the job.")] = None,
    metric_definition: Annotated[list[str] | None, typer.Option(
        "--metric-definition", metavar="NAME=REGEX",
        help="A metric read from the job's log: each match of REGEX (its one group is the "
             "value) is a point; repeatable.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="GROUP:VERSION",
        help="Transform: the registered model version to run over --input data=DATASET.")
    ] = None,
    keep_column: Annotated[list[str] | None, typer.Option(
        "--keep-column", metavar="COLUMN",
        help="Transform: an input column copied to the output, to join predictions back; "
             "repeatable; '*' copies every input column [default: inference_id, when the "
             "input has it].")] = None,
    chunk_rows: Annotated[int | None, typer.Option(
        "--chunk-rows", metavar="N",
        help="Transform: rows predicted at a time [default: 10000].")] = None,
    cv_folds: Annotated[int | None, typer.Option(
        "--cv-folds", metavar="K",
        help="Training: cross-validate over the train and validation rows in K folds (2-20); "
             "the validation metrics are out of fold.")] = None,
    instances: Annotated[int | None, typer.Option(
        "--instances", metavar="N", min=1,
        help="Training (xgboost, lightgbm) and transform: N workers share the work, data "
             "parallel; needs a server whose executor is Ray [default: 1].")] = None,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", metavar="NAME[:PARAM=VALUE,...]",
        help="A debugger rule judged while the job runs, e.g. overfit:patience=5,action=stop "
             "(action: record, alert or stop); repeatable. Training jobs have the default "
             "rules too.")] = None,
    no_default_rules: Annotated[bool, typer.Option(
        "--no-default-rules", help="Leave out the kind's default debugger rules.")] = False,
    wait: Annotated[bool, wait_option(
        "the job ends, following its log (exit 1 if it fails)")] = WAIT_DEFAULT,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", metavar="KEY",
        help="Submitting again with this key returns the same job.")
    ] = None,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option(
        "the job id, once the job ends (exit 1 if it fails)")] = False,
) -> None:
    """Submit a job: a script (--script), or a built-in algorithm (--kind training)."""
    output_mode(json_out, quiet)
    inputs = parse_pairs(input, "--input")
    hyperparameters = {k: hp_value(v) for k, v in parse_pairs(hp, "--hp").items()}
    transform_only = [flag for flag, value in (("--model", model),
                                               ("--keep-column", keep_column),
                                               ("--chunk-rows", chunk_rows)) if value]
    if instances is not None and kind not in ("training", "transform"):
        fail(f"--instances only applies to --kind training and --kind transform; this job is "
             f"{kind!r}.")
    if kind != "transform" and transform_only:
        fail(f"{', '.join(transform_only)} only apply to --kind transform; this job is "
             f"{kind!r}.")
    if kind == "transform":
        spec = _transform_spec(
            inputs, output, script=script, requirements=requirements, hyperparameters=hp,
            model=model, keep_columns=keep_column, chunk_rows=chunk_rows, cpus=cpus,
            memory=memory, max_runtime=max_runtime, name=name, retries=retries,
            training_flags=[flag for flag, value in zip(_TRAINING_ONLY, (
                algorithm, target, split, split_method, time_column, seed, problem_type,
                group_column, recipe, drop or None, cv_folds), strict=True) if value is not None])
        if instances is not None:
            spec["instances"] = instances
    elif kind == "training":
        if script is not None or output or requirements is not None:
            fail("A training job runs a built-in algorithm: drop --script, --output and "
                 "--requirements, and name it with --algorithm.")
        spec = _training_spec(
            inputs, hyperparameters, algorithm=algorithm, target=target, split=split,
            split_method=split_method, time_column=time_column, group_column=group_column,
            seed=seed, problem_type=problem_type, experiment=experiment,
            tags=parse_pairs(tag, "--tag"), notes=notes, cpus=cpus, memory=memory,
            max_runtime=max_runtime, name=name,
            recipe=read_recipe(recipe) if recipe is not None else None,
            drop=[col.strip() for flag in drop for col in flag.split(",") if col.strip()]
            if drop else None, instances=instances, cv_folds=cv_folds)
        if retries:
            spec["retries"] = retries
    else:
        given = [flag for flag, value in zip(_TRAINING_ONLY, (
            algorithm, target, split, split_method, time_column, seed, problem_type,
            group_column, recipe, drop or None, cv_folds), strict=True) if value is not None]
        if given:
            fail(f"{', '.join(given)} only apply to --kind training; this job is {kind!r}.")
        if script is None:
            fail(f"A {kind} job runs a script: give it with --script FILE (or use --kind "
                 "training --algorithm NAME for a built-in algorithm).")
        spec = build_spec(
            kind, script, inputs=inputs, outputs=output, requirements=requirements,
            hyperparameters=hyperparameters, cpus=cpus, memory=memory,
            max_runtime=max_runtime, retries=retries, name=name, experiment=experiment,
            tags=parse_pairs(tag, "--tag"), notes=notes,
            metric_definitions=parse_pairs(metric_definition, "--metric-definition"),
        )
    if rule:
        from shipyard.jobs._debugger import parse_rule

        try:
            spec["rules"] = [parse_rule(r).model_dump() for r in rule]
        except ValueError as exc:
            fail(str(exc))
    if no_default_rules:
        spec["default_rules"] = False
    c = client()
    known = [str(k.get("name")) for k in c.get("/jobs/kinds")]
    if kind not in known:  # the choices are the server's: built-in kinds and plug-ins
        fail(f"Unknown job kind {kind!r}; the server runs: {', '.join(known)} "
             "(`shipyard jobs kinds` describes them).")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    doc = c.post("/jobs", spec, headers=headers)
    job = Job(doc["id"], client=c, _doc=doc)
    talk = not (json_out or quiet)
    if talk:
        out.print(f"Submitted job {job.id} ({job.kind}).")
    follow_submitted(job, wait=wait, json_out=json_out, quiet=quiet)


def _training_spec(inputs: dict[str, str], hyperparameters: dict[str, Any], *,
                   algorithm: str | None, split: str | None, split_method: str | None,
                   seed: int | None, **fields: Any) -> dict[str, Any]:
    if not algorithm:
        fail("A training job needs --algorithm NAME; `shipyard algorithms list` shows them.")
    unknown = sorted(set(inputs) - set(TRAINING_CHANNELS))
    if unknown:
        fail(f"A training job reads the inputs train, validation and test; got "
             f"{', '.join(unknown)}.")
    if "train" not in inputs:
        fail("A training job needs its training data: --input train=DATASET.")
    if (split or split_method) and {"validation", "test"} <= set(inputs):
        fail("With both validation and test datasets given nothing is split: drop --split "
             "and --split-method.")
    return training_spec(
        algorithm, inputs["train"], validation=inputs.get("validation"),
        test=inputs.get("test"), split=parse_split(split) if split else (0.7, 0.2, 0.1),
        split_method=split_method or "auto", seed=42 if seed is None else seed,
        hyperparameters=hyperparameters, **fields)


def read_recipe(path: Path) -> dict[str, Any]:
    """A recipe file's JSON object, or a one-sentence exit naming the file."""
    try:
        doc = json.loads(path.expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"Cannot read the recipe file {str(path)!r}: {exc.strerror or exc}.")
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"The recipe file {str(path)!r} is not valid JSON ({exc}); write an object such "
             'as {"extends": "default", "steps": [...]}.')
    if not isinstance(doc, dict):
        fail(f"The recipe file {str(path)!r} must hold a JSON object such as "
             f'{{"extends": "default", "steps": [...]}}; got {type(doc).__name__}.')
    return doc


def _transform_spec(inputs: dict[str, str], output: list[str] | None, *,
                    script: Path | None, requirements: Path | None,
                    hyperparameters: list[str] | None, model: str | None,
                    training_flags: list[str], **fields: Any) -> dict[str, Any]:
    if script is not None or requirements is not None or hyperparameters or training_flags:
        extra = [*(["--script"] if script is not None else []),
                 *(["--requirements"] if requirements is not None else []),
                 *(["--hp"] if hyperparameters else []), *training_flags]
        fail(f"A transform job runs a registered model: drop {', '.join(extra)}.")
    if not model:
        fail("A transform job needs --model GROUP:VERSION (`shipyard models list` shows them).")
    if set(inputs) != {"data"}:
        fail("A transform job reads one input: --input data=DATASET (or DATASET:VERSION).")
    if not output or len(output) != 1:
        fail("A transform job writes one predictions dataset: --output DATASET.")
    return transform_spec(model, inputs["data"], output[0], **fields)


def _print_summary(doc: dict[str, Any]) -> None:
    """The headline metrics of a finished job: a row per metric, a column per split."""
    nested = nest_metrics(doc.get("metrics"))
    splits = {k: v for k, v in nested.items() if k in SPLITS and isinstance(v, dict)}
    if not splits:
        return
    names = headline(list(dict.fromkeys(n for values in splits.values() for n in values)), 8)
    print_table(["metric", *splits], ([n, *(splits[s].get(n) for s in splits)] for n in names))


def _detached(job_id: str) -> None:
    fail(f"Stopped following job {job_id}; the job goes on (`shipyard jobs cancel {job_id}` "
         "stops it).", code=130)


def _job_json(doc: dict[str, Any]) -> dict[str, Any]:
    shaped = {"id": doc.get("id"), "status": doc.get("status"), "reason": doc.get("reason"),
              **doc}
    if isinstance(doc.get("metrics"), dict):
        # `metrics.test.roc_auc`, whichever shape this server version sends.
        shaped["metrics"] = nest_metrics(doc["metrics"])
    return shaped


@app.command("kinds")
def kinds(json_out: JsonOpt = False) -> None:
    """The job kinds the server runs (built-in and plug-ins), with what each one does."""
    docs = client().get("/jobs/kinds")
    if json_out:
        print_json(docs)
        return
    print_table(["kind", "summary", "plug-in"],
                ([d.get("name"), d.get("summary"), "" if d.get("builtin") else "yes"]
                 for d in docs), empty="No job kinds.")


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
    print_table(["id", "name", "kind", "algorithm", "dataset", "status", "reason", "created"],
                ([d.get("id"), d.get("name"), d.get("kind"), (d.get("spec") or {}).get(
                    "algorithm"), _datasets(d.get("spec") or {}), d.get("status"),
                  d.get("reason"), when(d.get("created_at"))] for d in docs),
                empty="No jobs.")


def _datasets(spec: dict[str, Any]) -> str:
    """A job's input datasets: ``churn:3``, or ``train=churn:3, test=churn-test:1``."""
    refs = []
    for channel, ref in (spec.get("inputs") or {}).items():
        if isinstance(ref, dict):
            ref = f"{ref.get('dataset')}:{ref.get('version')}" if ref.get("version") is not None \
                else str(ref.get("dataset"))
        refs.append((str(channel), str(ref)))
    if len(refs) == 1:
        return refs[0][1]
    return ", ".join(f"{channel}={ref}" for channel, ref in refs)


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
            ["algorithm", spec.get("algorithm")], ["target", spec.get("target")],
            ["problem type", spec.get("problem_type")],
            ["inputs", spec.get("inputs")], ["outputs", spec.get("outputs") or None],
            ["split", spec.get("split") if spec.get("kind") == "training" else None],
            ["recipe", spec.get("recipe") if spec.get("kind") == "training" else None],
            ["hyperparameters", spec.get("hyperparameters")],
            ["experiment", doc.get("experiment")],
            ["tags", ", ".join(f"{k}={v}" for k, v in (doc.get("tags") or {}).items())],
            ["notes", doc.get("notes")],
            ["resources", {k: v for k, v in (spec.get("resources") or {}).items()
                           if k != "memory_bytes"}],
            ["metrics", _metrics_text(doc.get("metrics"))],
            ["findings", "\n".join(f"{f['rule']} ({f['action']}): {f['message']}"
                                    for f in doc.get("findings") or []) or None],
            ["datasets written", results.get("datasets")],
            ["model files", len(model_files) if model_files else None],
            ["study", _study_text(doc)]]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "", {}, [])])
    t.show_header = False
    out.print(t)


def _study_text(doc: dict[str, Any]) -> str | None:
    """A tuning job's study in one line (its trials: `shipyard tune trials ID`)."""
    if doc.get("trials") is None:
        return None
    best = doc.get("best")
    line = f"{len(doc['trials'])} trials"
    if best:
        line += f", best {fmt(best['objective'])} (trial {best['number']}, {best['trial_job_id']})"
    return f"{line}; `shipyard tune trials {doc['id']}` lists them"


def _metrics_text(metrics: Any) -> str | None:
    flat = {k: v for k, v in flat_metrics(metrics).items() if not k.startswith("curve.")}
    return ", ".join(f"{k}={fmt(v)}" for k, v in flat.items()) or None


@app.command("tag")
def tag(
    job_id: Annotated[str, typer.Argument(metavar="ID")],
    tags: Annotated[list[str] | None, typer.Option(
        "--tag", metavar="KEY=VALUE", help="A tag to add or change; repeatable.")] = None,
    notes: Annotated[str | None, typer.Option(
        "--notes", metavar="TEXT", help="Replace the job's notes.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Tag a job (KEY=VALUE labels, e.g. to find runs in an experiment) or set its notes."""
    new = parse_pairs(tags, "--tag")
    if not new and notes is None:
        fail("Nothing to change: give --tag KEY=VALUE and/or --notes TEXT.")
    job = Job(job_id, client=client())
    if new:
        job.tag(**new)
    if notes is not None:
        job.set_notes(notes)
    if json_out:
        print_json(_job_json(job.doc))
        return
    shown = ", ".join(f"{k}={v}" for k, v in job.tags.items()) or "none"
    out.print(f"Job {job.id}: tags {shown}" + ("; notes updated." if notes is not None else "."))


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


@app.command("resume")
def resume(job_id: Annotated[str, typer.Argument(metavar="ID")], json_out: JsonOpt = False) -> None:
    """Start a Failed or Stopped job again as a new attempt, from its last checkpoint."""
    doc = client().post(_path(job_id, "/resume"))
    if json_out:
        print_json(_job_json(doc))
    else:
        out.print(f"Job {job_id} is {doc.get('status')} again (attempt "
                  f"{int(doc.get('attempts') or 0) + 1} will start from its last checkpoint, "
                  f"if it saved one); follow it with `shipyard jobs logs {job_id} -f`.")


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


@app.command("profile")
def profile(job_id: Annotated[str, typer.Argument(metavar="ID")],
            html: Annotated[Path | None, typer.Option(
                "--html", metavar="FILE",
                help="Also write the profile with its plots as one HTML page.")] = None,
            json_out: JsonOpt = False) -> None:
    """Where a job's time and resources went: CPU, memory and I/O over time, the seconds
    of each phase, and what to change."""
    from shipyard.jobs._profile import READ, WRITE, render_html

    prof = Job(job_id, client=client(), _doc={"id": job_id}).profile()
    if html is not None:
        try:
            html.write_text(render_html(prof), encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(f"cannot write {html}: {exc.strerror}",
                                     param_hint="--html") from None
    if json_out:
        print_json(prof.to_dict())
        return
    mib = 1024**2
    cpu = "—" if prof.cpu_mean is None else \
        f"{prof.cpu_mean:,.0f}% mean, {prof.cpu_peak:,.0f}% peak (100% = one core)"
    rows = [["duration", f"{prof.duration:,.1f} s"], ["CPUs", str(prof.cpus)], ["CPU", cpu],
            ["peak memory", "—" if prof.rss_peak is None else
             f"{prof.rss_peak / mib:,.0f} MiB of {prof.memory_limit / mib:,.0f} MiB"],
            ["read / written", f"{(prof.io_total(READ) or 0) / mib:,.1f} MiB / "
                               f"{(prof.io_total(WRITE) or 0) / mib:,.1f} MiB"]]
    total = sum(prof.phases.values())
    rows += [[f"phase {name}", f"{secs:,.2f} s ({secs / total:.0%})"]
             for name, secs in prof.phases.items()]
    print_table(["", f"job {job_id}"], rows)
    for finding in prof.findings:
        out.print(f"- {finding.message}")
    if not prof.findings:
        out.print("Nothing stands out.")
    if html is not None:
        out.print(f"Wrote {html}.")


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


def follow_submitted(job: Job, *, wait: bool, json_out: bool, quiet: bool) -> None:
    """After a submit: follow the job when ``wait`` (progress and logs unless JSON or
    quiet), then print its id, JSON or summary, and fail with one sentence if it failed."""
    talk = not (json_out or quiet)
    if wait:
        try:
            job.wait(progress=talk, logs=talk, raise_on_failure=False)
        except KeyboardInterrupt:
            _detached(job.id)
    if quiet:
        say(job.id)  # also when it failed: `shipyard jobs logs "$JOB"` needs it
    elif json_out:
        print_json(_job_json(job.doc))
    elif wait and job.status == "Completed":
        out.print(f"Job {job.id} completed.")
        _print_summary(job.doc)
    elif not wait:
        out.print(f"Follow it with `shipyard jobs logs {job.id} -f`.")
    if wait and job.status != "Completed":
        fail(_failed_sentence(job))
