"""``shipyard endpoints``: deploy a model version as a real-time endpoint, invoke, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    ForceOpt,
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
    table,
    wait_option,
    when,
)
from shipyard.client._endpoints import Endpoint, create_endpoint
from shipyard.humanize import count, number, plural

app = typer.Typer(help="Real-time endpoints: deploy a model version, invoke it, delete it.",
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The endpoint's name.")]
#: Extensions of the files `endpoints invoke --file` reads rows from.
ROW_FILES = (".csv", ".json", ".jsonl", ".ndjson", ".parquet")
#: One image sent as it is, to a model that takes images (docs/images.md).
IMAGE_FILES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _models(doc: dict[str, Any]) -> str:
    return ", ".join(v["model"] for v in doc.get("variants", []))


VariantOpt = Annotated[list[str] | None, typer.Option(
    "--variant", metavar="name=N,model=G:V[,weight=W][,instances=I][,shadow=true]",
    help="A variant (repeat for several); replaces --model/--instances.")]


MinOpt = Annotated[int | None, typer.Option(
    "--min-instances", min=1, metavar="N",
    help="Autoscaling: instances each production variant keeps at least [1].")]
MaxOpt = Annotated[int | None, typer.Option(
    "--max-instances", min=1, metavar="N",
    help="Autoscaling: the most instances to scale out to (turns autoscaling on).")]
TargetOpt = Annotated[float | None, typer.Option(
    "--target-concurrency", metavar="N",
    help="Autoscaling: requests in flight per instance above which one more starts [4].")]
CooldownOpt = Annotated[float | None, typer.Option(
    "--cooldown", "--cooldown-seconds", metavar="SECONDS",
    help="Autoscaling: idle seconds before an instance is removed [60].")]
UnseenOpt = Annotated[str | None, typer.Option(
    "--unseen-categories", metavar="allow|warn|refuse",
    help="A category the model never saw in training: allow (answer, count), warn (answer, "
         "count, say so in the answer) or refuse (422 naming the column and value) "
         "[default: warn].")]


def _autoscaling_text(auto: dict[str, Any] | None) -> str:
    """The autoscaling settings in one line (``endpoints show``)."""
    if not auto:
        return "off (fixed instance count)"
    return (f"{auto['min_instances']}–{count(auto['max_instances'], 'instance')} per "
            f"variant; one more above {number(auto['target_concurrency'])} in flight per "
            f"instance, one fewer after {number(auto['cooldown_seconds'])} s idle")


def _unseen_text(doc: dict[str, Any]) -> str:
    """The endpoint's unseen-category setting and what its instances met since they started."""
    mode = str(doc.get("unseen_categories") or "warn")
    seen = doc.get("unseen") or {}
    if not seen.get("rows"):
        return f"{mode}; none met"
    parts = []
    for column, entry in sorted(seen.get("columns", {}).items()):
        values = ", ".join(f"{v!r} ×{number(n)}" for v, n in sorted(
            entry.get("values", {}).items(), key=lambda kv: -kv[1])[:3])
        parts.append(f"{column}: {values}")
    return f"{mode}; {count(seen['rows'], 'row')} held one ({'; '.join(parts)})"


def _parse_variants(specs: list[str] | None) -> list[dict[str, Any]] | None:
    if not specs:
        return None
    variants = []
    for text in specs:
        v: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in ("name", "model", "weight", "instances", "shadow"):
                fail(f"A --variant is name=N,model=GROUP:VERSION[,weight=W][,instances=I]"
                     f"[,shadow=true]; cannot read {part!r}.")
            try:
                v[key] = (float(value) if key == "weight" else int(value) if key == "instances"
                          else value.strip().lower() in ("1", "true", "yes") if key == "shadow"
                          else value.strip())
            except ValueError:
                fail(f"The {key} of a --variant must be a number; got {value!r}.")
        variants.append(v)
    return variants


@app.command("create")
def create(
    name: NameArg,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="GROUP:VERSION", help="The registered model version to deploy.")
    ] = None,
    instances: Annotated[int, typer.Option(
        "--instances", min=1, help="Serving processes to run.")] = 1,
    variant: VariantOpt = None,
    capture_percent: Annotated[float, typer.Option(
        "--capture-percent", min=0, max=100,
        help="Percentage of invocations to capture for monitoring.")] = 0.0,
    allow_unapproved: Annotated[bool, typer.Option(
        "--allow-unapproved", help="Deploy a version that is not Approved (admin only).")
    ] = False,
    min_instances: MinOpt = None,
    max_instances: MaxOpt = None,
    target_concurrency: TargetOpt = None,
    cooldown: CooldownOpt = None,
    unseen_categories: UnseenOpt = None,
    wait: Annotated[bool, wait_option("the endpoint is InService")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
) -> None:
    """Deploy a model version as an endpoint (waits until it is InService)."""
    ep = create_endpoint(client(), name, model, instances=instances,
                         variants=_parse_variants(variant),
                         capture_percent=capture_percent, allow_unapproved=allow_unapproved,
                         min_instances=min_instances, max_instances=max_instances,
                         target_concurrency=target_concurrency, cooldown_seconds=cooldown,
                         unseen_categories=unseen_categories, wait=wait)
    if json_out:
        print_json(ep.doc)
        return
    state = "is InService" if wait else "is being created"
    out.print(f"Endpoint {name} ({_models(ep.doc)}) {state}; invoke it with "
              f"`shipyard endpoints invoke {name} --file rows.json` or POST rows to {ep.url}.")


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every endpoint with its status and model."""
    docs = client().get("/endpoints")
    if json_out:
        print_json(docs)
        return
    print_table(["name", "status", "model", "instances", "healthy", "invocations", "updated"],
                ([d["name"], d["status"], _models(d), d["instances"], d["healthy_instances"],
                  d["invocations"], when(d.get("updated_at"))] for d in docs),
                empty="No endpoints.")


@app.command("show")
def show(name: NameArg, json_out: JsonOpt = False) -> None:
    """An endpoint: status, reason, model, URL and instances."""
    ep = Endpoint(name, client=client())
    doc = ep.doc
    if json_out:
        print_json(doc)
        return
    rows = [["status", doc["status"]], ["reason", doc.get("reason")], ["model", _models(doc)],
            ["url", doc.get("url")], ["capture", f"{doc.get('capture_percent', 0):g}%"],
            ["autoscaling", _autoscaling_text(doc.get("autoscaling"))],
            ["unseen categories", _unseen_text(doc)],
            ["created", when(doc.get("created_at"))], ["by", doc.get("created_by")]]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "")])
    t.show_header = False
    out.print(t)
    print_table(["variant", "model", "weight", "shadow", "instances", "invocations", "errors",
                 "p50 ms", "p99 ms"],
                ([v["name"], v["model"], f"{v.get('weight', 1.0):g}",
                  "yes" if v.get("shadow") else "no", v.get("instances"),
                  v["stats"]["invocations"], v["stats"]["errors"],
                  _ms(v["stats"]["p50_ms"]), _ms(v["stats"]["p99_ms"])]
                 for v in ep.variants),
                title="Variants", empty="No variants.")
    print_table(["instance", "address", "pid", "healthy", "restarts", "invocations"],
                ([i["name"], i["url"], str(i["pid"] or ""), "yes" if i["healthy"] else "no",
                  i["restarts"], i["invocations"]] for i in ep.instances),
                title="Instances", empty="No instances are running.")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@app.command("update")
def update(
    name: NameArg,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="GROUP:VERSION", help="The model version to roll over to.")] = None,
    instances: Annotated[int | None, typer.Option(
        "--instances", min=1, help="Serving processes to run.")] = None,
    variant: VariantOpt = None,
    capture_percent: Annotated[float | None, typer.Option(
        "--capture-percent", min=0, max=100,
        help="Percentage of invocations to capture for monitoring.")] = None,
    allow_unapproved: Annotated[bool, typer.Option(
        "--allow-unapproved", help="Deploy a version that is not Approved (admin only).")
    ] = False,
    min_instances: MinOpt = None,
    max_instances: MaxOpt = None,
    target_concurrency: TargetOpt = None,
    cooldown: CooldownOpt = None,
    no_autoscaling: Annotated[bool, typer.Option(
        "--no-autoscaling", help="Turn autoscaling off (a fixed instance count).")] = False,
    unseen_categories: UnseenOpt = None,
    wait: Annotated[bool, wait_option("the update ends")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
) -> None:
    """Roll an endpoint over without downtime (new instances first, then the old ones drain).

    Autoscaling settings given change; the others stay as they were.
    """
    ep = Endpoint(name, client=client())
    ep.update(model, instances=instances, variants=_parse_variants(variant),
              capture_percent=capture_percent, allow_unapproved=allow_unapproved,
              min_instances=min_instances, max_instances=max_instances,
              target_concurrency=target_concurrency, cooldown_seconds=cooldown,
              autoscaling=False if no_autoscaling else None,
              unseen_categories=unseen_categories, wait=wait)
    if json_out:
        print_json(ep.doc)
        return
    state = "is updated" if wait else "is updating"
    out.print(f"Endpoint {name} ({_models(ep.doc)}) {state}.")


@app.command("capture")
def capture(
    name: NameArg,
    start: Annotated[str | None, typer.Option(
        "--start", metavar="ISO", help="Rows captured at or after this time.")] = None,
    end: Annotated[str | None, typer.Option(
        "--end", metavar="ISO", help="Rows captured before this time.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows.")] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """Captured invocations of an endpoint (inputs, prediction, inference id), oldest first."""
    doc = client().get(f"/endpoints/{name}/capture", start=start, end=end, limit=limit)
    if json_out:
        print_json(doc["rows"])
        return
    rows = doc["rows"]
    shown = [c for c in ("timestamp", "inference_id", "variant", "prediction")
             if rows and c in rows[0]]
    print_table(shown, ([r.get(c) for c in shown] for r in rows), empty="No captured rows.")
    if doc.get("truncated"):
        out.print(f"Showing the first {len(rows)} rows; pass --limit for more.")


@app.command("delete")
def delete(name: NameArg, yes: YesOpt = False, force: ForceOpt = False,
           json_out: JsonOpt = False) -> None:
    """Stop an endpoint's instances and delete it (refused while a monitor watches it)."""
    confirm_delete(f"endpoint {name!r}", yes, ", stopping its instances")
    doc = client().delete(f"/endpoints/{name}", force=force or None)
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)


def _rows_body(file: Path) -> tuple[bytes, str]:
    """The rows of ``file`` as an invocation body and its content type.

    CSV goes as it is; JSON goes as it is when it is one document (records, or any body
    the endpoint takes), and as a list of records when it holds JSON Lines; Parquet
    (and .jsonl) is read here and sent as JSON records.
    """
    import json

    suffix = file.suffix.lower()
    if suffix in IMAGE_FILES and file.is_file():  # one image, for an image model
        return file.read_bytes(), IMAGE_FILES[suffix]
    if suffix not in ROW_FILES:
        fail(f"The rows file must be CSV (.csv), JSON (.json, .jsonl) or Parquet (.parquet); "
             f"got {file.name!r}.")
    if not file.is_file():
        fail(f"No file at {file}.")
    if suffix == ".csv":
        return file.read_bytes(), "text/csv"
    if suffix == ".parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(file)
        except Exception as exc:  # noqa: BLE001 - any reader failure is the file's
            fail(f"{file.name} is not a readable Parquet file ({exc}).")
        return frame.to_json(orient="records", date_format="iso").encode(), "application/json"
    text = file.read_bytes().decode("utf-8-sig", errors="replace")
    if suffix == ".json":
        try:
            json.loads(text)
            return text.encode(), "application/json"
        except json.JSONDecodeError:
            pass  # one object per line, perhaps
    records = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                fail(f"Line {line_no} of {file.name} is not valid JSON ({exc.msg}); give JSON "
                     "records, JSON Lines (one object per line), CSV or Parquet.")
    return json.dumps(records).encode(), "application/json"


@app.command("invoke")
def invoke(
    name: NameArg,
    file: Annotated[Path, typer.Option(
        "--file", "-f", metavar="PATH",
        help="Rows to predict: CSV (.csv), JSON records or JSON Lines (.json, .jsonl), one "
             "image (.png, .jpg) for an image model, or "
             "Parquet (.parquet). An inference_id column keys each row (never passed to the "
             "model), so ground truth keyed by it joins.")],
    explain: Annotated[bool, typer.Option(
        "--explain", help="Also each row's SHAP values over the input columns ("
                          "docs/explain.md).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Predict the rows in a file with the endpoint."""
    body, content_type = _rows_body(file)
    query = "?explain=true" if explain else ""
    r = client().request("POST", f"/endpoints/{name}/invocations{query}", content=body,
                         headers={"Content-Type": content_type})
    doc = r.json()
    if json_out:
        print_json(doc)
        return
    for column, values in (doc.get("unseen_categories") or {}).items():
        shown = ", ".join(f"{v!r} ({count(n, 'row')})" for v, n in values.items())
        what = plural(len(values), "a category", "categories")
        err.print(f"Note: column {column!r} holds {what} the model never saw in training: "
                  f"{shown}; its predictions there are guesses.")
    probs = doc.get("probabilities") or []
    labels = list(probs[0]) if probs else []
    print_table(["inference id", "prediction", *labels],
                ([iid, pred, *(f"{(probs[k] or {}).get(lbl, 0):.3f}" for lbl in labels)]
                 for k, (iid, pred) in enumerate(zip(doc.get("inference_ids", []),
                                                     doc.get("predictions", []), strict=False))),
                empty="No predictions.")
    for iid, e in zip(doc.get("inference_ids", []), doc.get("explanations") or [],
                      strict=False):
        top = sorted(e["values"].items(), key=lambda kv: -abs(kv[1]))[:5]
        out.print(f"{iid}: {e['space']} of {e['output']!r} = {e['base_value']:.3g} (base) "
                  + " ".join(f"{v:+.3g} {k}" for k, v in top) + " …")
