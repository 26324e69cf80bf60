"""``shipyard monitors``: watch an endpoint for data-quality problems, drift and model decay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
    print_deleted,
    print_json,
    print_table,
    wait_option,
    when,
)
from shipyard.client import Monitor
from shipyard.humanize import count, number

app = typer.Typer(help="Model monitors: baselines, drift, data quality, model quality, alerts.",
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The monitor.")]
#: The model-quality metrics a run's line shows (classification, then regression).
QUALITY_HEADLINE = ("roc_auc", "accuracy", "f1", "rmse", "mae", "r2")


def _json_file(path: Path | None, what: str) -> dict[str, Any] | None:
    if path is None:
        return None
    if not path.is_file():
        fail(f"No {what} file at {path}.")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        fail(f"The {what} file {path} is not valid JSON: {exc}.")
    if not isinstance(value, dict):
        fail(f"The {what} file {path} must hold a JSON object.")
    return value


@app.command("create")
def create(
    name: NameArg,
    endpoint: Annotated[str, typer.Option("--endpoint", metavar="EP",
                                          help="The endpoint to watch.")],
    baseline: Annotated[str, typer.Option(
        "--baseline", metavar="DATASET[:VERSION]", help="The baseline (the training data).")],
    every: Annotated[str | None, typer.Option("--every", metavar="INTERVAL",
                                              help="Evaluate every 30s, 15m, 1h, 1d…")] = None,
    cron: Annotated[str | None, typer.Option("--cron", metavar="EXPR",
                                             help="Evaluate on a cron expression (UTC).")] = None,
    webhook: Annotated[str | None, typer.Option(
        "--webhook", metavar="URL", help="Post alerts to this URL.")] = None,
    retrain: Annotated[Path | None, typer.Option(
        "--retrain-spec", metavar="FILE", help="A job spec (JSON) to submit on alerts.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", help="Settings (JSON): drift, thresholds, "
        "quality_window, label_key, label_column.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a monitor of an endpoint; its baseline statistics are computed now."""
    if every and cron:
        fail("Give --every or --cron, not both.")
    mon = Monitor.create(name, endpoint=endpoint, baseline=baseline, every=every, cron=cron,
                         webhook=webhook, retrain=_json_file(retrain, "retrain spec"),
                         client=client(), **(_json_file(config, "config") or {}))
    if json_out:
        print_json(mon.doc)
        return
    sched = mon.doc.get("schedule") or {}
    when_ = sched.get("every") and f"every {sched['every']}" or sched.get("cron") and \
        f"on cron {sched['cron']}" or "on demand (`shipyard monitors run`)"
    out.print(f"Monitor {name} watches endpoint {endpoint} against "
              f"{mon.doc['baseline']['dataset']}:{mon.doc['baseline']['version']} "
              f"({count(len(mon.doc['baseline']['columns']), 'column')} the model reads); it "
              f"is evaluated {when_}.")


@app.command("list")
def list_(endpoint: Annotated[str | None, typer.Option("--endpoint", metavar="EP")] = None,
          json_out: JsonOpt = False) -> None:
    """Every monitor, with its schedule and last execution."""
    docs = client().get("/monitors", endpoint=endpoint)
    if json_out:
        print_json(docs)
        return
    print_table(["name", "endpoint", "baseline", "schedule", "last execution", "alerts"], (
        [d["name"], d["endpoint"], f"{d['baseline']['dataset']}:{d['baseline']['version']}",
         (d.get("schedule") or {}).get("every") or (d.get("schedule") or {}).get("cron") or "-",
         (d.get("last_execution") or {}).get("status", "-"),
         len(((d.get("last_execution") or {}).get("summary") or {}).get("alerts") or [])]
        for d in docs), empty="No monitors yet; `shipyard monitors create` makes one.")


@app.command("show")
def show(name: NameArg, json_out: JsonOpt = False) -> None:
    """A monitor: endpoint, baseline, schedule, settings and its last execution."""
    doc = client().get(f"/monitors/{name}")
    if json_out:
        print_json(doc)
        return
    base = doc["baseline"]
    sched = doc.get("schedule") or {}
    out.print(f"{doc['name']}: endpoint {doc['endpoint']}, baseline "
              f"{base['dataset']}:{base['version']} ({count(base['rows'], 'row')}, "
              f"{count(len(base['columns']), 'column')})")
    out.print(f"schedule: {sched.get('every') or sched.get('cron') or 'none'}"
              + (f", next at {when(sched.get('next_run_at'))}" if sched else ""))
    if doc["config"].get("webhook"):
        out.print(f"webhook: {doc['config']['webhook']}")
    if doc["config"].get("retrain"):
        out.print("retraining: a job spec is submitted when an execution raises alerts")
    last = doc.get("last_execution")
    if last:
        _execution_line(last)


def _execution_line(doc: dict[str, Any]) -> None:
    s = doc.get("summary") or {}
    out.print(f"execution {doc['execution']} ({doc['trigger']}): {doc['status']}, "
              f"{count(s.get('rows') or 0, 'row')}, {count(len(s.get('alerts') or []), 'alert')}"
              + (f", drifted: {', '.join(s['drifted_columns'])}" if s.get("drifted_columns")
                 else "") + (f" — {doc['error']}" if doc.get("error") else ""))
    if s.get("note"):
        out.print(f"  {s['note']}")
    if s.get("labels_only") and doc["status"] == "Completed" and not s.get("labelled"):
        out.print("  No new traffic. None of the labels uploaded since the last execution "
                  "matched a captured prediction by its key (inference_id unless the monitor's "
                  "label_key says otherwise), so there is no model quality; upload labels "
                  "keyed by the ids the endpoint answered with.")
    elif s.get("labels_only"):
        out.print("  No new traffic; the labels uploaded since the last execution were "
                  "scored.")
    quality = {k: v for k, v in (s.get("model_quality") or {}).items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    if quality:
        # The labels uploaded so far, joined to the predictions by inference id, scored;
        # the headline metrics here, every one in the report.
        shown = [k for k in QUALITY_HEADLINE if k in quality] or list(quality)[:4]
        out.print(f"  model quality on {count(s.get('labelled') or 0, 'labelled prediction')}: "
                  + ", ".join(f"{k} {number(quality[k])}" for k in shown))
    for column, rows in (s.get("unseen_categories") or {}).items():
        out.print(f"  {count(rows, 'row')} held a {column} category the model never saw in "
                  "training")
    for alert in s.get("alerts") or []:
        out.print(f"  ALERT {alert}")


def _after_execution(mon: Monitor, doc: dict[str, Any]) -> None:
    """The execution's line, then (once it has a report) its drift table with the skip
    reasons."""
    _execution_line(doc)
    if doc.get("has_report"):
        _drift_table(mon.client.get(f"/monitors/{mon.name}/report",
                                    execution=doc["execution"]))
    _exit_if_failed(mon.name, doc)


def _exit_if_failed(name: str, doc: dict[str, Any]) -> None:
    """A failed execution is a failed command (exit 1), as a failed job or pipeline is."""
    if doc.get("status") == "Failed":
        fail(f"Execution {doc['execution']} of monitor {name} failed: {doc.get('error')}")


@app.command("run")
def run(name: NameArg,
        wait: Annotated[bool, wait_option("the execution's report is ready")] = WAIT_DEFAULT,
        json_out: JsonOpt = False) -> None:
    """Run the monitor now over everything the endpoint answered since its last execution.

    The endpoint's instances first write the rows they hold in memory, so the execution
    reads up to the moment it was asked. With no new traffic it says why (capture off, or
    no traffic since execution N); labels uploaded since the last execution are scored all
    the same.
    """
    mon = Monitor(name, client=client(), _doc={})
    doc = mon.run(wait=wait)
    if json_out:
        print_json(doc)
        _exit_if_failed(name, doc)
        return
    _after_execution(mon, doc)


@app.command("check")
def check(name: NameArg,
          dataset: Annotated[str, typer.Option("--dataset", metavar="DATASET[:VERSION]",
                                               help="The dataset version to check.")],
          wait: Annotated[bool, wait_option("the check's report is ready")] = WAIT_DEFAULT,
          json_out: JsonOpt = False) -> None:
    """Check a dataset version against the monitor's baseline (quality and drift)."""
    mon = Monitor(name, client=client(), _doc={})
    doc = mon.check(dataset, wait=wait)
    if json_out:
        print_json(doc)
        _exit_if_failed(name, doc)
        return
    _after_execution(mon, doc)


@app.command("reports")
def reports(
    name: NameArg,
    execution: Annotated[int | None, typer.Option(
        "--execution", metavar="N", help="One monitoring execution's report in full.")] = None,
    html: Annotated[Path | None, typer.Option("--html", metavar="FILE",
                                              help="Write the report's HTML page.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The monitor's executions (its history), or one execution's report."""
    c = client()
    if execution is None and html is None:
        docs = c.get(f"/monitors/{name}/executions")
        if json_out:
            print_json(docs)
            return
        print_table(["execution", "status", "window end", "rows", "drift share", "drifted",
                     "not tested", "violations", "alerts"], (
            [d["execution"], d["status"], when(d["window_end"]), (d["summary"] or {}).get("rows"),
             (d["summary"] or {}).get("drift_share"),
             ", ".join((d["summary"] or {}).get("drifted_columns") or []),
             _not_tested(d["summary"] or {}),
             (d["summary"] or {}).get("violations"),
             len((d["summary"] or {}).get("alerts") or [])] for d in docs),
            empty=f"Monitor {name} has no execution yet; `shipyard monitors run {name}`.")
        for d in docs:
            if (d["summary"] or {}).get("note"):
                out.print(f"execution {d['execution']}: {d['summary']['note']}")
        return
    report = Monitor(name, client=c, _doc={}).report(execution)
    if html is not None:
        html.write_text(report.html or "", encoding="utf-8")
        out.print(f"Wrote {html}.")
    if json_out:
        print_json(report.doc)
    elif html is None:
        _print_report(report.doc)


def _not_tested(summary: dict[str, Any]) -> str:
    """``tailnum (identifier); year (constant); 17 columns (too few rows)``: the columns drift
    did not test, grouped by why."""
    by_reason: dict[str, list[str]] = {}
    for column, why in (summary.get("skipped") or {}).items():
        by_reason.setdefault(str(why), []).append(column)
    return "; ".join(
        f"{', '.join(cols) if len(cols) <= 3 else count(len(cols), 'column')} ({why})"
        for why, cols in by_reason.items())


def _drift_table(doc: dict[str, Any]) -> None:
    """Every column of the report's drift: its test and verdict, or why it was not tested;
    then the model's outputs (prediction drift, which a drift alert may name)."""
    drift = doc.get("drift") or {}
    columns = drift.get("columns") or []
    outputs = drift.get("outputs") or []
    if not columns and not outputs:
        return
    print_table(["column", "kind", "test", "score", "threshold", "drifted", "not tested"], (
        [c.get("column"), f"output ({c.get('kind')})" if c.get("role") == "output"
         else c.get("kind"),
         c.get("test"), c.get("score"), c.get("threshold"),
         ("yes" if c.get("drifted") else "no") if c.get("test") else "",
         "" if c.get("test") else (c.get("skip") or c.get("reason"))]
        for c in (*columns, *outputs)))


def _print_report(doc: dict[str, Any]) -> None:
    drift = doc.get("drift") or {}
    rows = count(doc.get("n_current_rows") or 0, "row")
    base = count(doc.get("n_baseline_rows") or 0, "baseline row")
    if drift:
        out.print(f"{rows} against {base}; {drift.get('n_drifted', 0)} of "
                  f"{count(drift.get('n_tested', 0), 'column')} drifted (share "
                  f"{number(drift.get('share_drifted', 0))}).")
    else:
        out.print(f"{rows} against {base}; {(doc.get('meta') or {}).get('note') or 'no drift'}.")
    _drift_table(doc)
    for v in (doc.get("quality") or {}).get("violations") or []:
        out.print(f"violation: {v.get('message')}")
    unseen = doc.get("unseen_categories") or {}
    for column, entry in (unseen.get("columns") or {}).items():
        values = ", ".join(f"{v!r} ({number(n)})" for v, n in entry.get("values", {}).items())
        out.print(f"never seen in training: {column}, {count(entry['rows'], 'row')}: {values}")
    overall = (doc.get("model_quality") or {}).get("overall") or {}
    if overall:
        out.print("model quality: " + ", ".join(
            f"{k} {number(v)}" for k, v in overall.items() if isinstance(v, int | float)))
    for a in doc.get("alerts") or []:
        out.print(f"ALERT {a.get('kind')}: {a.get('message')}")


@app.command("ground-truth")
def ground_truth(
    name: NameArg,
    file: Annotated[Path, typer.Option(
        "--file", "-f", metavar="PATH",
        help="CSV, JSON or Parquet: inference_id and the true label.")],
    label_column: Annotated[str | None, typer.Option(
        "--label-column", metavar="COLUMN",
        help="The file's label column [default: the monitor's label_column, else 'label' or "
             "the model's target].")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Upload true labels for the endpoint's predictions (joined by inference id)."""
    doc = Monitor(name, client=client(), _doc={}).upload_ground_truth(
        file, label_column=label_column)
    if json_out:
        print_json(doc)
        return
    out.print(f"Stored {doc['rows']} labels as {doc['dataset']}:{doc['version']}; the next "
              "execution scores the model against them.")
    if doc.get("note"):
        err.print(f"Note: {doc['note']}")


@app.command("alerts")
def alerts(name: NameArg, json_out: JsonOpt = False) -> None:
    """The alerts the monitor's executions raised."""
    docs = client().get(f"/monitors/{name}/alerts")
    if json_out:
        print_json(docs)
        return
    print_table(["when", "execution", "kind", "message"], (
        [when(d.get("created_at")), d.get("execution"), d.get("kind"), d.get("message")]
        for d in docs), empty=f"Monitor {name} has raised no alert.")


@app.command("constraints")
def constraints(
    name: NameArg,
    set_: Annotated[Path | None, typer.Option(
        "--set", metavar="FILE", help="Replace them with an edited JSON document.")] = None,
    json_out: JsonOpt = True,
) -> None:
    """Print the constraints each execution checks (JSON), or replace them with --set FILE."""
    mon = Monitor(name, client=client(), _doc={})
    if set_ is not None:
        mon.set_constraints(_json_file(set_, "constraints") or {})
    print_json(mon.constraints())


@app.command("statistics")
def statistics(name: NameArg, json_out: JsonOpt = True) -> None:
    """Print the baseline's statistics (JSON; it is a document, so always JSON)."""
    print_json(Monitor(name, client=client(), _doc={}).statistics())


@app.command("delete")
def delete(name: NameArg, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete a monitor, its schedule and its history."""
    confirm_delete(f"monitor {name!r}", yes, " with its schedule and history")
    doc = client().delete(f"/monitors/{name}")
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)
