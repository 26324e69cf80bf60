"""``shipyard tune``: tune a built-in algorithm's hyperparameters; ``tune trials ID``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    client,
    fail,
    hp_value,
    out,
    output_mode,
    parse_pairs,
    print_json,
    print_table,
    quiet_option,
    say,
    wait_option,
)
from shipyard.client import Job
from shipyard.client._jobs import failure_sentence
from shipyard.client._training import TRAINING_CHANNELS, parse_split
from shipyard.client._tuning import (
    STRATEGIES,
    parse_ranges,
    script_tuning_spec,
    trial_rows,
    tuning_spec,
)
from shipyard.errors import InvalidRequest

app = typer.Typer(help="Tune a built-in algorithm's hyperparameters: trials are training "
                       "jobs; the best settings are scored on test (docs/tuning.md).",
                  invoke_without_command=True)


@app.callback()
def tune(
    ctx: typer.Context,
    algorithm: Annotated[str | None, typer.Option(
        "--algorithm", metavar="NAME[,NAME…]",
        help="The built-in algorithm (`shipyard algorithms list`), or several, comma-"
             "separated: each trial is one of them.")] = None,
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="CHANNEL=DATASET",
        help="train=DATASET (and optionally validation=, test=); repeatable.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="COLUMN", help="The column to predict.")] = None,
    objective: Annotated[str | None, typer.Option(
        "--objective", metavar="METRIC",
        help="The validation metric to optimise: roc_auc, accuracy, log_loss, rmse, mae, r2, "
             "… (the direction follows from it).")] = None,
    max_trials: Annotated[int, typer.Option(
        "--max-trials", metavar="N", min=1, help="Trials at most.")] = 20,
    parallel: Annotated[int, typer.Option(
        "--parallel", metavar="P", min=1, help="Trials running at a time.")] = 1,
    strategy: Annotated[str, typer.Option(
        "--strategy", metavar="NAME", help=f"{', '.join(STRATEGIES)}.")] = "bayesian",
    range_: Annotated[list[str] | None, typer.Option(
        "--range", metavar="NAME=LOW:HIGH[:log]|NAME=a,b,c",
        help="Narrow or add a searched hyperparameter; repeatable.")] = None,
    hp: Annotated[list[str] | None, typer.Option(
        "--hp", metavar="KEY=VALUE", help="A fixed hyperparameter of every trial; "
                                          "repeatable.")] = None,
    max_runtime: Annotated[float | None, typer.Option(
        "--max-runtime", metavar="SECONDS",
        help="Seconds the study may run; trials still running then are stopped.")] = None,
    patience: Annotated[int | None, typer.Option(
        "--patience", metavar="K", min=1,
        help="Stop after K finished trials in a row without improvement.")] = None,
    split: Annotated[str | None, typer.Option(
        "--split", metavar="TRAIN,VAL,TEST", help="Split fractions [default: 0.7,0.2,0.1].")
    ] = None,
    split_method: Annotated[str | None, typer.Option(
        "--split-method", metavar="METHOD",
        help="auto, random, stratified, time or group [default: auto], as training takes it; "
             "every trial and the scoring job split the same way.")] = None,
    time_column: Annotated[str | None, typer.Option(
        "--time-column", metavar="COLUMN", help="The column a time split orders by.")
    ] = None,
    group_column: Annotated[str | None, typer.Option(
        "--group-column", metavar="COLUMN",
        help="The column a group split keeps together (no group spans two splits).")
    ] = None,
    split_seed: Annotated[int | None, typer.Option(
        "--split-seed", metavar="N",
        help="The split's random seed [default: 42] (`jobs run --kind training --seed`): "
             "every trial and the scoring job split the same way.")] = None,
    seed: Annotated[int, typer.Option(
        "--seed", metavar="N", help="The samplers' seed (--split-seed seeds the split).")
    ] = 0,
    script: Annotated[Path | None, typer.Option(
        "--script", metavar="FILE",
        help="Tune a script of yours instead of a built-in algorithm: each trial runs it with "
             "the trial's hyperparameters; --objective is a metric it logs.")] = None,
    direction: Annotated[str | None, typer.Option(
        "--direction", metavar="minimize|maximize",
        help="Whether a lower or higher objective is better (a script's own metric).")
    ] = None,
    requirements: Annotated[Path | None, typer.Option(
        "--requirements", "-r", metavar="FILE", help="A script's requirements file.")] = None,
    metric_definition: Annotated[list[str] | None, typer.Option(
        "--metric-definition", metavar="NAME=REGEX",
        help="A metric read from a script's log; repeatable.")] = None,
    warm_start: Annotated[list[str] | None, typer.Option(
        "--warm-start", metavar="JOB_ID",
        help="An earlier tuning job with the same objective whose trials seed the sampler; "
             "repeatable.")] = None,
    experiment: Annotated[str | None, typer.Option(
        "--experiment", metavar="NAME",
        help="The experiment the trials are runs of [default: the train dataset's name].")
    ] = None,
    cpus: Annotated[int | None, typer.Option(
        "--cpus", metavar="N", help="CPUs for each trial.")] = None,
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", help="Memory limit of each trial, e.g. 2G.")] = None,
    wait: Annotated[bool, wait_option(
        "the study ends (exit 1 if it fails)")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the tuning job's id")] = False,
) -> None:
    """Submit a tuning job: `shipyard tune --algorithm NAME --input train=DATASET --target
    COLUMN --objective METRIC`. `shipyard tune trials ID` shows its trials."""
    if ctx.invoked_subcommand is not None:
        return
    output_mode(json_out, quiet)
    if script is not None:
        given = [flag for flag, value in (
            ("--algorithm", algorithm), ("--target", target), ("--split", split),
            ("--split-method", split_method), ("--time-column", time_column),
            ("--group-column", group_column), ("--split-seed", split_seed is not None))
            if value]
        if given:
            named = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1
                                 else given)
            fail(f"--script tunes a script of yours; {named} "
                 f"{'is' if len(given) == 1 else 'are'} a built-in algorithm's: drop "
                 f"{'it' if len(given) == 1 else 'them'}.")
        if not objective:
            fail("shipyard tune --script FILE needs --objective METRIC: a metric the script "
                 "logs (and --direction minimize|maximize for a metric of its own).")
        if direction not in (None, "minimize", "maximize"):
            fail(f"--direction is minimize or maximize; got {direction!r}.")
        try:
            spec = script_tuning_spec(
                script, objective, inputs=parse_pairs(input or [], "--input"),
                direction=direction, requirements=requirements,
                metric_definitions=parse_pairs(metric_definition or [],
                                               "--metric-definition"),
                max_trials=max_trials, parallel=parallel, strategy=strategy,
                ranges=parse_ranges(range_ or []), max_runtime=max_runtime,
                patience=patience, seed=seed, warm_start=warm_start or [],
                hyperparameters={k: hp_value(v) for k, v in parse_pairs(hp, "--hp").items()},
                experiment=experiment, cpus=cpus, memory=memory)
        except InvalidRequest as exc:
            fail(exc.message)
        _submit_and_follow(spec, max_trials, parallel, wait, json_out, quiet)
        return
    if not algorithm or not objective or not input:
        fail("shipyard tune needs --algorithm NAME (or --script FILE), --input "
             "train=DATASET and --objective METRIC (and --target COLUMN); `shipyard tune "
             "--help` shows the rest.")
    inputs = parse_pairs(input, "--input")
    unknown = sorted(set(inputs) - set(TRAINING_CHANNELS))
    if unknown or "train" not in inputs:
        fail("A tuning job reads --input train=DATASET (and optionally validation=, test=); "
             f"got {', '.join(sorted(inputs))}.")
    if (split or split_method or time_column or group_column or split_seed is not None) \
            and {"validation", "test"} <= set(inputs):
        fail("With both validation and test datasets given nothing is split: drop --split, "
             "--split-method, --time-column, --group-column and --split-seed.")
    try:
        spec = tuning_spec(
            algorithm, inputs["train"], target, objective, max_trials=max_trials,
            parallel=parallel, strategy=strategy, ranges=parse_ranges(range_ or []),
            max_runtime=max_runtime, patience=patience, seed=seed,
            warm_start=warm_start or [],
            hyperparameters={k: hp_value(v) for k, v in parse_pairs(hp, "--hp").items()},
            validation=inputs.get("validation"), test=inputs.get("test"),
            split=parse_split(split) if split else (0.7, 0.2, 0.1),
            split_method=split_method or "auto", time_column=time_column,
            group_column=group_column, experiment=experiment,
            cpus=cpus, memory=memory, direction=direction, split_seed=split_seed)
    except InvalidRequest as exc:
        fail(exc.message)
    _submit_and_follow(spec, max_trials, parallel, wait, json_out, quiet)


def _submit_and_follow(spec: dict[str, Any], max_trials: int, parallel: int, wait: bool,
                       json_out: bool, quiet: bool) -> None:
    c = client()
    doc = c.post("/jobs", spec)
    job = Job(doc["id"], client=c, _doc=doc)
    talk = not (json_out or quiet)
    if talk:
        out.print(f"Submitted tuning job {job.id}: up to {max_trials} trials, {parallel} at a "
                  "time.")
    if wait:
        job.wait(progress=talk, raise_on_failure=False)
    if quiet:
        say(job.id)
    elif json_out:
        print_json(job.doc)
    elif wait:
        _print_trials(job.doc)
        _print_best(job.doc)
    else:
        out.print(f"Follow it with `shipyard tune trials {job.id}`.")
    if wait and job.status != "Completed":
        fail(failure_sentence(job.id, job.status, job.reason, job.message))


#: Searched hyperparameters shown as columns of their own at most; more go in one column.
WIDE = 4


def _print_trials(doc: dict[str, Any]) -> None:
    rows = trial_rows(doc)
    fixed = ("number", "job_id", "state", "objective", "duration_seconds", "best",
             "algorithm")
    names = list(dict.fromkeys(k for r in rows for k in r if k not in fixed))
    several = any("algorithm" in r for r in rows)
    metric = ((doc.get("outputs") or {}).get("study") or {}).get("objective", {}).get(
        "metric", "objective")
    wide = len(names) <= WIDE  # else one "settings" column, name=value, fits a terminal
    head = ["#", "job", "state", metric, "seconds", *(["algorithm"] if several else []),
            *(names if wide else ["settings"])]
    print_table(head,
                ([f"{r['number']}{' *' if r['best'] else ''}", r["job_id"], r["state"],
                  r["objective"], r["duration_seconds"],
                  *([r.get("algorithm")] if several else []),
                  *((r.get(n) for n in names) if wide else
                    [", ".join(f"{n}={_short(r[n])}" for n in names if r.get(n) is not None)])]
                 for r in rows),
                title=f"Trials of {doc['id']} ({doc['status']}; * best)",
                empty=f"Tuning job {doc['id']} has no trials yet.")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _print_best(doc: dict[str, Any]) -> None:
    best = doc.get("best")
    if not best:
        return
    test = best.get("test")
    tail = (f"; scored on test by job {best['model_job_id']}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in sorted(test.items()) if k != "n_samples")
            if test else "")
    out.print(f"Best: trial {best['number']} (job {best['trial_job_id']}), objective "
              f"{best['objective']:.4g}{tail}.")
    if test:
        out.print(f"Register it with `shipyard models register GROUP --job {doc['id']}`.")


@app.command("trials")
def trials(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The tuning job.")],
    json_out: JsonOpt = False,
) -> None:
    """The trials of a tuning job: state, objective, duration and hyperparameters."""
    doc = client().get(f"/jobs/{quote(job_id, safe='')}")
    if doc.get("kind") != "tuning":
        fail(f"Job {job_id} is a {doc.get('kind')} job, not a tuning job; `shipyard jobs list "
             "--kind tuning` lists those.")
    if json_out:
        print_json({"id": doc["id"], "status": doc["status"], "trials": doc.get("trials") or [],
                    "best": doc.get("best")})
        return
    _print_trials(doc)
    _print_best(doc)


@app.command("report")
def report(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The tuning job.")],
    html: Annotated[Path, typer.Option(
        "--html", metavar="FILE", help="Where to write the report (one offline HTML page "
                                       "with its plots).")] = Path("tuning-report.html"),
    json_out: JsonOpt = False,
) -> None:
    """A tuning job's report as one HTML page: objective over trials, hyperparameter
    importances, parallel coordinates, the best trial and every trial."""
    from shipyard.tuning._report import TuningReport

    doc = client().get(f"/jobs/{quote(job_id, safe='')}")
    if doc.get("kind") != "tuning":
        fail(f"Job {job_id} is a {doc.get('kind')} job, not a tuning job; `shipyard jobs list "
             "--kind tuning` lists those.")
    try:
        html.write_text(TuningReport.from_job(doc).render_html(), encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot write the report to {html}: {exc.strerror}; give another --html FILE.")
    if json_out:
        print_json({"id": doc["id"], "html": str(html)})
        return
    say(f"Wrote the report of tuning job {job_id} to {html}.")
