"""``shipyard experiments``: the runs of a problem side by side, judged by its criteria."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli._common import (
    JsonOpt,
    client,
    fail,
    fmt,
    out,
    print_json,
    print_table,
    table,
    when,
)
from shipyard.client import Experiment
from shipyard.client._plots import compare_png
from shipyard.client._training import criterion_text, headline, lower_is_better, metric_key

app = typer.Typer(help="Experiments: compare training runs against success criteria.",
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The experiment's name.")]


def _verdict(passed: Any) -> str:
    return {True: "pass", False: "FAIL"}.get(passed, "-")


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every experiment, with its number of runs and success criteria."""
    docs = client().get("/experiments")
    if json_out:
        print_json(docs)
        return
    print_table(["name", "runs", "success criteria", "problem", "updated"],
                ([d.get("name"), d.get("runs"),
                  ", ".join(criterion_text(c) for c in d.get("success_criteria") or []),
                  d.get("problem_statement"), when(d.get("updated_at"))] for d in docs),
                empty="No experiments.")


@app.command("create")
def create(
    name: NameArg,
    problem: Annotated[str | None, typer.Option(
        "--problem", metavar="TEXT", help="The problem statement the runs serve.")] = None,
    criterion: Annotated[list[str] | None, typer.Option(
        "--criterion", metavar="CRITERION",
        help="A success criterion, e.g. 'roc_auc>=0.80@test' or 'mape<=5%'; repeatable.")
    ] = None,
    description: Annotated[str | None, typer.Option(
        "--description", metavar="TEXT", help="A description.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an experiment, or update the problem, criteria or description of one."""
    exp = Experiment.create(name, problem_statement=problem, success_criteria=criterion,
                            description=description, client=client())
    if json_out:
        print_json(exp.doc)
        return
    criteria = ", ".join(exp.success_criteria) or "none"
    out.print(f"Experiment {exp.name}: success criteria {criteria}.")


@app.command("show")
def show(name: NameArg, json_out: JsonOpt = False) -> None:
    """An experiment's problem, criteria and runs."""
    exp = Experiment(name, client=client())
    if json_out:
        print_json(exp.doc)
        return
    facts = table(["", ""], [r for r in (
        ["name", exp.name], ["problem", exp.problem_statement],
        ["description", exp.description],
        ["success criteria", ", ".join(exp.success_criteria)],
        ["created", when(exp.doc.get("created_at"))], ["by", exp.doc.get("created_by")],
    ) if r[1]])
    facts.show_header = False
    out.print(facts)
    runs = exp.doc.get("runs") or []
    measured = list(dict.fromkeys(k for r in runs for k in (r.get("metrics") or {})))
    metrics = headline([m for m in measured if m.startswith("test.")] or measured, 4)
    print_table(["job", "status", "algorithm", *metrics, "tags", "criteria"],
                ([r.get("job_id"), r.get("status"), r.get("algorithm"),
                  *((r.get("metrics") or {}).get(m) for m in metrics),
                  ", ".join(f"{k}={v}" for k, v in (r.get("tags") or {}).items()),
                  _verdict((r.get("criteria") or {}).get("passed"))] for r in runs),
                title="Runs", empty="No runs yet.")


@app.command("compare")
def compare(
    name: NameArg,
    metric: Annotated[str, typer.Option(
        "--metric", "-m", metavar="METRIC",
        help="The metric to rank by, e.g. roc_auc (on --split) or validation.rmse.")],
    split: Annotated[str, typer.Option(
        "--split", metavar="SPLIT", help="The split the metric is measured on.")] = "test",
    plot: Annotated[Path | None, typer.Option(
        "--plot", metavar="FILE.png", help="Also write a bar chart of the ranking.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The runs ranked best first by a metric, with pass/fail against each criterion."""
    exp = Experiment(name, client=client())
    key = metric_key(metric, split)
    ranked = exp.ranked(metric, split)
    if plot is not None:
        if not ranked:
            fail(f"Experiment {name!r} has no run with the metric {key!r} to plot.")
        plot.write_bytes(compare_png(name, key, ranked, exp.criterion_for(key)))
    if json_out:
        print_json({"experiment": name, "metric": key, "lower_is_better": lower_is_better(key),
                    "runs": ranked, "plot": str(plot) if plot else None})
        return
    texts = [r["text"] for r in ((ranked[0].get("criteria") or {}).get("results") or [])] \
        if ranked else []
    rows = []
    for rank, r in enumerate(ranked, 1):
        results = (r.get("criteria") or {}).get("results") or []
        verdicts = [_criterion_cell(res) for res in results]
        rows.append([rank, r.get("job_id"), r.get("algorithm"), r["metrics"][key],
                     *verdicts, _verdict((r.get("criteria") or {}).get("passed"))])
    order = "lower is better" if lower_is_better(key) else "higher is better"
    print_table(["#", "job", "algorithm", key, *texts, "passed"], rows,
                title=f"{name}: {key} ({order})",
                empty=f"No run of {name} has measured {key}.")
    if plot is not None:
        out.print(f"Wrote {plot}.")


def _criterion_cell(result: dict[str, Any]) -> str:
    value = result.get("value")
    return f"{_verdict(result.get('passed'))} ({fmt(value)})" if value is not None else "-"
