"""``shipyard labeling``: labeling jobs over a dataset's rows, their status and export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard import humanize
from shipyard.cli._common import (
    JsonOpt,
    client,
    fail,
    out,
    output_mode,
    print_json,
    print_table,
    quiet_option,
    say,
    table,
    when,
)

app = typer.Typer(help="Labeling jobs: annotators label a dataset's rows; export the "
                       "consolidated labels as a dataset.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME")]


def _path(name: str, suffix: str = "") -> str:
    return f"/labeling-jobs/{quote(name, safe='')}{suffix}"


def _labels(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def print_job(doc: dict[str, Any]) -> None:
    gold = doc.get("gold") or {}
    rows: list[list[Any]] = [
        ["name", doc.get("name")], ["task", doc.get("task")], ["dataset", doc.get("dataset")],
        ["column", doc.get("column")], ["labels", ", ".join(doc.get("labels") or [])],
        ["items", humanize.number(doc.get("items"))],
        ["annotators per item", doc.get("annotators_per_item")],
        ["gold", f"{gold['dataset']}:{gold['version']} ({gold['items']} items)" if gold else None],
        ["workforce", ", ".join(doc.get("workforce") or []) or "every annotator"],
        ["lease", f"{doc.get('lease_seconds')} s"], ["status", doc.get("status")],
        ["created", when(doc.get("created_at"))], ["by", doc.get("created_by")],
        ["instructions", doc.get("instructions")]]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "")])
    t.show_header = False
    out.print(t)


@app.command("create")
def create(
    name: Name,
    dataset: Annotated[str, typer.Option("--dataset", metavar="DATASET",
                                         help="NAME or NAME:VERSION; the version is pinned.")],
    task: Annotated[str, typer.Option(
        "--task", metavar="TASK", help="text_classification, text_multilabel, text_spans, "
        "tabular_classification, image_classification or image_boxes (the image tasks need "
        "a dataset of files).")],
    labels: Annotated[str, typer.Option("--labels", metavar="A,B,C",
                                        help="The labels, comma-separated.")],
    column: Annotated[str | None, typer.Option(
        "--column", metavar="TEXT_COLUMN", help="A text task's text column.")] = None,
    instructions: Annotated[Path | None, typer.Option(
        "--instructions", metavar="FILE", help="Instructions shown with each item "
        "(text or Markdown).")] = None,
    annotators_per_item: Annotated[int, typer.Option(
        "--annotators-per-item", metavar="N", help="Different annotators per item.")] = 1,
    gold: Annotated[str | None, typer.Option(
        "--gold", metavar="DATASET", help="Known answers: columns item (row number) and "
        "label; they measure each annotator's accuracy.")] = None,
    workforce: Annotated[str | None, typer.Option(
        "--workforce", metavar="TOKEN,…", help="Token names that may label (default: every "
        "annotator).")] = None,
    lease_seconds: Annotated[int, typer.Option(
        "--lease-seconds", metavar="S", help="How long an annotator holds an item.")] = 600,
    auto_label: Annotated[bool, typer.Option(
        "--auto-label", help="After K human-labeled items, a model labels the items it is "
        "sure of and orders the rest by uncertainty (one-label tasks).")] = False,
    auto_label_after: Annotated[int, typer.Option(
        "--auto-label-after", metavar="K", help="Human-labeled items before the first "
        "model (--auto-label).")] = 100,
    target_accuracy: Annotated[float, typer.Option(
        "--target-accuracy", metavar="A", help="The accuracy machine labels must reach on "
        "held-out human labels (--auto-label).")] = 0.9,
    auto_label_features: Annotated[str | None, typer.Option(
        "--auto-label-features", metavar="F", help="A text job's model features: "
        "words+chars+sentiment (default), embeddings or words+chars+sentiment+embeddings "
        "(the text extra), words, words+chars, words+sentiment (--auto-label).")] = None,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the job's name")] = False,
) -> None:
    """Create a labeling job: one item per row of the dataset version."""
    output_mode(json_out, quiet)
    text = None
    if instructions is not None:
        text = instructions.expanduser().read_text(encoding="utf-8")
    body: dict[str, Any] = {
        "name": name, "dataset": dataset, "task": task, "labels": _labels(labels),
        "column": column, "instructions": text, "annotators_per_item": annotators_per_item,
        "gold": gold, "workforce": _labels(workforce or ""), "lease_seconds": lease_seconds,
        "auto_label": auto_label}
    if auto_label:
        body.update(auto_label_after=auto_label_after, target_accuracy=target_accuracy,
                    auto_label_features=auto_label_features)
    elif auto_label_features is not None:
        body["auto_label_features"] = auto_label_features  # the server's 400 says why
    doc = client().post("/labeling-jobs", {k: v for k, v in body.items() if v is not None})
    if quiet:
        say(doc["name"])
        return
    if json_out:
        print_json(doc)
        return
    out.print(f"Created labeling job {doc['name']!r}: {humanize.number(doc['items'])} items of "
              f"{doc['dataset']}, {doc['annotators_per_item']} annotator(s) each.")


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every labeling job."""
    docs = client().get("/labeling-jobs")
    if json_out:
        print_json(docs)
        return
    print_table(["name", "task", "dataset", "labels", "items", "per item", "status", "by"],
                ([d.get("name"), d.get("task"), d.get("dataset"),
                  ", ".join(d.get("labels") or []), humanize.number(d.get("items")),
                  d.get("annotators_per_item"), d.get("status"), d.get("created_by")]
                 for d in docs), empty="No labeling jobs.")


@app.command("show")
def show(name: Name, json_out: JsonOpt = False) -> None:
    """One labeling job."""
    doc = client().get(_path(name))
    if json_out:
        print_json(doc)
        return
    print_job(doc)


def _figure(value: Any, suffix: str = "") -> str:
    return "" if value is None else f"{humanize.number(value)}{suffix}"


@app.command("status")
def status(name: Name, json_out: JsonOpt = False) -> None:
    """How far a job is: items, answers per label, agreement, each annotator."""
    doc = client().get(_path(name, "/status"))
    if json_out:
        print_json(doc)
        return
    items = doc["items"]
    out.print(f"{doc['name']} ({doc['task']}, {doc['status']}): "
              f"{humanize.number(items['complete'])} of {humanize.number(items['total'])} "
              f"items complete, {humanize.number(items['answered'])} with an answer, "
              f"{humanize.number(items['leased'])} being labelled now.")
    print_table(["label", "answers"], ([k, humanize.number(v)] for k, v in doc["labels"].items()))
    kappa = doc.get("agreement")
    out.print(f"Agreement: {_figure(kappa) or 'not measured'} ({doc['agreement_note']})")
    print_table(["annotator", "answered", "gold answered", "gold accuracy", "median s/item"],
                ([a["name"], humanize.number(a["answered"]), humanize.number(a["gold_answered"]),
                  _figure(a["gold_accuracy"]), _figure(a["median_seconds"])]
                 for a in doc["annotators"]), empty="No answers yet.")
    if doc.get("auto_label"):
        print_auto_label(doc["auto_label"])


def print_auto_label(auto: dict[str, Any]) -> None:
    """Auto-labeling's figures: the share machine-labeled, estimated and measured accuracy."""
    audit = auto["audit"]
    out.print(f"Auto-labeling: {humanize.number(auto['machine_labeled'])} items machine-labeled "
              f"({auto['machine_share']:.1%}); held-out estimate of their accuracy "
              f"{_figure(auto['estimated_accuracy']) or 'none yet'} (target "
              f"{_figure(auto['target_accuracy'])}); measured on "
              f"{humanize.number(audit['answered'])} of {humanize.number(audit['sampled'])} "
              f"audited items: {_figure(audit['accuracy']) or 'not yet'}.")
    nxt = auto.get("next_at")
    out.print(f"Next model at {humanize.number(nxt)} human-labeled items." if nxt is not None
              else "A model is being trained.")
    print_table(["run", "job", "status", "human labels", "machine labels", "threshold",
                 "estimate", "error"],
                ([r["run"], r["job"], r["status"], humanize.number(r["human_labels"]),
                  _figure(r["machine_labeled"]), _figure(r["threshold"]),
                  _figure(r["estimated_accuracy"]), r["error"]] for r in auto["runs"]),
                empty=f"No model yet (the first after {humanize.number(auto['after'])} "
                      "human-labeled items).")


@app.command("stop")
def stop(name: Name, json_out: JsonOpt = False) -> None:
    """Hand out no more items (answers to items already held are still taken)."""
    doc = client().post(_path(name, "/stop"))
    if json_out:
        print_json(doc)
        return
    out.print(f"Stopped labeling job {name!r}.")


@app.command("export")
def export(
    name: Name,
    output: Annotated[str, typer.Option("--output", metavar="DATASET",
                                        help="The dataset the labels are written to.")],
    method: Annotated[str, typer.Option(
        "--method", metavar="METHOD", help="dawid_skene or majority (one-label tasks).")
    ] = "dawid_skene",
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the new version as NAME:VERSION")] = False,
) -> None:
    """Write the consolidated labels of the complete items as a new dataset version."""
    output_mode(json_out, quiet)
    if method not in ("dawid_skene", "majority"):
        fail(f"Unknown --method {method!r}; use dawid_skene or majority.")
    doc = client().post(_path(name, "/export"), {"output": output, "method": method})
    if quiet:
        say(doc["ref"])
        return
    if json_out:
        print_json(doc)
        return
    out.print(f"Exported {humanize.number(doc['num_rows'])} labeled items of {name!r} to "
              f"{doc['ref']}.")
