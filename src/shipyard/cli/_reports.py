"""``shipyard bias``, ``shipyard explain`` and ``shipyard evaluate``: bias metrics, SHAP
explanations and a model's metrics on a dataset as jobs, their results printed, saved as
offline HTML, or as JSON (docs/bias.md, docs/explain.md, docs/training.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    client,
    fail,
    fmt,
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
from shipyard.client._evaluation import evaluate_spec
from shipyard.client._jobs import failure_sentence
from shipyard.client._reports import (
    BiasReport,
    ExplainReport,
    bias_rows,
    bias_spec,
    explain_spec,
    importance_rows,
)
from shipyard.errors import InvalidRequest


def bias(
    dataset: Annotated[str, typer.Argument(metavar="DATASET",
                                           help="The rows: NAME or NAME:VERSION.")],
    label: Annotated[str | None, typer.Option(
        "--label", metavar="COLUMN", help="The observed outcome column.")] = None,
    positive: Annotated[list[str] | None, typer.Option(
        "--positive", metavar="VALUE",
        help="A label value that is the favourable outcome (repeatable), or '>X' for a "
             "numeric label above X.")] = None,
    facet: Annotated[str | None, typer.Option(
        "--facet", metavar="COLUMN[=VALUE]",
        help="The sensitive column and its disadvantaged group: sex=female, age=>40, "
             "race=a,b; a bare COLUMN measures each of its values in turn.")] = None,
    group: Annotated[str | None, typer.Option(
        "--group", metavar="COLUMN",
        help="A column to condition on (CDDL, CDDPL), e.g. an age band.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="GROUP:VERSION",
        help="Also the post-training metrics of this model's predictions on the rows.")
    ] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", help="Save the offline HTML report (plots) here.")] = None,
    wait: Annotated[bool, wait_option("the report is written")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the bias job's id")] = False,
) -> None:
    """Bias metrics of a dataset's label across a facet's groups (and of a model's
    predictions): `shipyard bias DATASET --label COLUMN --positive VALUE --facet COLUMN[=VALUE]`."""
    output_mode(json_out, quiet)
    if not label or not facet or not positive:
        fail("shipyard bias needs --label COLUMN, --positive VALUE and --facet "
             "COLUMN[=VALUE]; `shipyard bias --help` shows the rest.")
    try:
        spec = bias_spec(dataset, label, positive=positive, facet=facet, group=group,
                         model=model)
    except InvalidRequest as exc:
        fail(exc.message)
    report = BiasReport(_submit(spec))
    _finish(report, wait, html_out, json_out, quiet, _print_bias)


def explain(
    model: Annotated[str, typer.Argument(metavar="GROUP:VERSION",
                                         help="The registered model version to explain.")],
    dataset: Annotated[str | None, typer.Option(
        "--dataset", metavar="DATASET", help="The rows to explain: NAME or NAME:VERSION.")
    ] = None,
    rows: Annotated[int, typer.Option(
        "--rows", metavar="N", min=1, max=100_000,
        help="Rows explained (a seeded sample when the dataset has more).")] = 1000,
    local_rows: Annotated[int, typer.Option(
        "--local-rows", metavar="K", min=0, max=50,
        help="Rows shown one by one (waterfalls) in the report.")] = 5,
    html_out: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", help="Save the offline HTML report (plots) here.")] = None,
    wait: Annotated[bool, wait_option("the report is written")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the explain job's id")] = False,
) -> None:
    """SHAP explanations of a model over a dataset's rows: global importance, local
    explanations, partial dependence: `shipyard explain GROUP:VERSION --dataset DATASET`."""
    output_mode(json_out, quiet)
    if not dataset:
        fail("shipyard explain needs --dataset DATASET: the rows to explain.")
    try:
        spec = explain_spec(model, dataset, rows=rows, local_rows=local_rows)
    except InvalidRequest as exc:
        fail(exc.message)
    report = ExplainReport(_submit(spec))
    _finish(report, wait, html_out, json_out, quiet, _print_explain)


def evaluate(
    model: Annotated[str | None, typer.Option(
        "--model", metavar="GROUP:VERSION", help="The registered model version to score.")
    ] = None,
    job: Annotated[str | None, typer.Option(
        "--job", metavar="JOB_ID",
        help="Or the model a Completed job saved (a tuning or AutoML job: its best).")
    ] = None,
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="test=DATASET",
        help="The rows to score: test=NAME or test=NAME:VERSION.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="COLUMN",
        help="The column of the true values (default: the model's own target).")] = None,
    wait: Annotated[bool, wait_option("the metrics are computed")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the evaluate job's id")] = False,
) -> None:
    """The metrics of a model on a dataset, as training scores its test split:
    `shipyard evaluate --model GROUP:VERSION|--job JOB_ID --input test=DATASET`."""
    output_mode(json_out, quiet)
    inputs = parse_pairs(input, "--input")
    extra = sorted(set(inputs) - {"test"})
    if extra:
        fail(f"--input {extra[0]}=...: an evaluate job reads one input, test=DATASET.")
    try:
        spec = evaluate_spec(model=model, job=job, test=inputs.get("test"), target=target)
    except InvalidRequest as exc:
        fail(exc.message)
    submitted = _submit(spec)
    talk = not (json_out or quiet)
    if talk:
        out.print(f"Submitted evaluate job {submitted.id}.")
    if wait:
        submitted.wait(progress=talk, raise_on_failure=False)
        if submitted.status != "Completed":
            fail(failure_sentence(submitted.id, submitted.status, submitted.reason,
                                  submitted.message))
    if quiet:
        say(submitted.id)
    elif json_out:
        print_json(submitted.doc)
    elif not wait:
        out.print(f"Follow it with `shipyard jobs show {submitted.id}`.")
    else:
        scores = submitted.summary_metrics.get("test") or {}
        print_table(["metric", "value"], ([k, fmt(v)] for k, v in sorted(scores.items())),
                    title=f"Test metrics on {inputs['test']}", empty="The job logged no metric.")


def _submit(spec: dict[str, Any]) -> Job:
    c = client()
    doc = c.post("/jobs", spec)
    return Job(doc["id"], client=c, _doc=doc)


def _finish(report: Any, wait: bool, html_out: Path | None, json_out: bool, quiet: bool,
            show: Any) -> None:
    talk = not (json_out or quiet)
    if talk:
        out.print(f"Submitted {report.kind} job {report.id}.")
    if not wait:
        if quiet:
            say(report.id)
        elif json_out:
            print_json(report.job.doc)
        else:
            out.print(f"Follow it with `shipyard jobs show {report.id}`.")
        return
    report.job.wait(progress=talk, raise_on_failure=False)
    job = report.job
    if job.status != "Completed":
        fail(failure_sentence(job.id, job.status, job.reason, job.message))
    if html_out is not None:
        saved = report.save_html(html_out)
        if talk:
            out.print(f"Saved the HTML report to {saved}.")
    if quiet:
        say(report.id)
    elif json_out:
        print_json(report.report)
    else:
        show(report.report)


def _print_bias(report: dict[str, Any]) -> None:
    rows = bias_rows(report)
    print_table(["facet", "stage", "metric", "value", "meaning"],
                ([r["facet"], r["stage"], r["metric"], fmt(r["value"]),
                  r["title"] if r["value"] is not None else r.get("reason") or r["title"]]
                 for r in rows),
                title="Bias metrics (pre: the data's labels; post: the model's predictions)",
                empty="The report holds no metric.")


def _print_explain(report: dict[str, Any]) -> None:
    rows = importance_rows(report)
    print_table(["column", "mean |SHAP|"], ([r["column"], fmt(r["importance"])]
                                            for r in rows[:20]),
                title=f"Input columns by mean |SHAP value| ({report.get('method')}, "
                      f"{report.get('output_space')} space)",
                empty="The report holds no importance.")
