"""Small HTML renderings of SDK objects for Jupyter (no scripts, no external assets)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from shipyard import humanize

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.lineage import Branch, LineageGraph

STATUS_COLOURS = {
    "Pending": "#6b7280", "Starting": "#2563eb", "Running": "#2563eb", "Stopping": "#d97706",
    "Completed": "#16a34a", "Failed": "#dc2626", "Stopped": "#92400e",
    "PendingManualApproval": "#d97706", "Approved": "#16a34a", "Rejected": "#dc2626",
    "Executing": "#2563eb", "Succeeded": "#16a34a", "Skipped": "#9ca3af",
}
_TABLE = 'style="border-collapse:collapse;font-size:12px;margin-top:4px"'
_CELL = 'style="padding:2px 8px;text-align:left;border-bottom:1px solid #e5e7eb"'


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td {_CELL}>{escape('' if v is None else str(v))}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_html(headers: list[str], rows: list[list[Any]]) -> str:
    """An HTML table of plain values (escaped)."""
    return _table(headers, rows)


def number(value: Any) -> Any:
    """Floats for people (``0.8123``, ``10,790``; :func:`shipyard.humanize.number`), so a
    notebook shows a figure as the CLI does; anything else as it is."""
    return humanize.number(value) if isinstance(value, float) else value


def dataset_html(name: str, version: int, num_rows: int, num_columns: int,
                 description: str | None, schema: list[dict[str, Any]],
                 max_columns: int = 30) -> str:
    headers = ["column", "dtype", "semantic type", "missing"]
    rows = [[s.get("name"), s.get("dtype"), s.get("semantic_type"),
             s.get("missing", s.get("num_missing"))] for s in schema[:max_columns]]
    more = (f"<div style='color:#6b7280'>… and {len(schema) - max_columns} more columns</div>"
            if len(schema) > max_columns else "")
    desc = f"<div>{escape(description)}</div>" if description else ""
    return (
        "<div class='shipyard-dataset'>"
        f"<b>Dataset {escape(name)}</b> <span style='color:#6b7280'>v{version} · "
        f"{humanize.count(num_rows, 'row')} × {humanize.count(num_columns, 'column')}"
        f"</span>{desc}"
        f"{_table(headers, rows)}{more}</div>"
    )


def status_badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#6b7280")
    return (f"<span style='background:{colour};color:white;border-radius:3px;"
            f"padding:1px 6px'>{escape(status)}</span>")


def job_html(doc: dict[str, Any], last_metrics: dict[str, Any]) -> str:
    status = str(doc.get("status", "?"))
    title = escape(str(doc.get("name") or doc.get("id")))
    facts = [["id", doc.get("id")], ["kind", doc.get("kind")],
             ["created", doc.get("created_at")], ["started", doc.get("started_at")],
             ["ended", doc.get("ended_at")], ["attempts", doc.get("attempts")]]
    spec = doc.get("spec") or {}
    for key in ("algorithm", "target"):
        if spec.get(key):
            facts.append([key, spec[key]])
    for key in ("experiment", "notes"):
        if doc.get(key):
            facts.append([key, doc[key]])
    if doc.get("tags"):
        facts.append(["tags", ", ".join(f"{k}={v}" for k, v in doc["tags"].items())])
    if doc.get("reason"):
        facts.append(["reason", doc.get("reason")])
    if doc.get("message"):
        facts.append(["message", doc.get("message")])
    metrics = (f"<div style='margin-top:6px'><b>Last metrics</b></div>"
               f"{_table(['name', 'value'], [[k, v] for k, v in last_metrics.items()])}"
               if last_metrics else "")
    rows = [[k, v] for k, v in facts if v is not None]
    return (f"<div class='shipyard-job'><b>Job {title}</b> {status_badge(status)}"
            f"{_table(['', ''], rows)}{metrics}</div>")


def job_status_line(doc: dict[str, Any], elapsed: float) -> str:
    return (f"<div class='shipyard-job-status'>Job <code>{escape(str(doc.get('id')))}</code> "
            f"{status_badge(str(doc.get('status')))} <span style='color:#6b7280'>"
            f"{elapsed:.0f} s</span></div>")


def _facts(rows: list[list[Any]]) -> str:
    return _table(["", ""], [[k, v] for k, v in rows if v not in (None, "", [], {})])


def _passed(value: Any) -> str:
    return {True: "pass", False: "FAIL"}.get(value, "not judged")


def experiment_html(doc: dict[str, Any], criteria: list[str], runs: list[dict[str, Any]],
                    max_runs: int = 20) -> str:
    facts = _facts([["problem", doc.get("problem_statement")],
                    ["description", doc.get("description")],
                    ["success criteria", ", ".join(criteria)], ["runs", len(runs)]])
    rows = []
    for r in runs[-max_runs:][::-1]:
        metrics = r.get("metrics") or {}
        shown = ", ".join(f"{k}={number(v)}" for k, v in sorted(metrics.items())
                          if k.startswith(("test.", "validation.")))
        rows.append([r.get("job_id"), r.get("status"), r.get("algorithm"), shown,
                     _passed((r.get("criteria") or {}).get("passed"))])
    table = (f"<div style='margin-top:6px'><b>Latest runs</b></div>"
             f"{_table(['job', 'status', 'algorithm', 'metrics', 'criteria'], rows)}"
             if rows else "")
    return (f"<div class='shipyard-experiment'><b>Experiment {escape(str(doc.get('name')))}"
            f"</b>{facts}{table}</div>")


def _metric_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for split, values in sorted(metrics.items()):
        if isinstance(values, dict):
            rows += [[split or "-", k, number(v)] for k, v in sorted(values.items())
                     if isinstance(v, int | float)]
        else:
            rows.append(["-", split, number(values)])
    return rows


def model_version_html(doc: dict[str, Any]) -> str:
    crit = doc.get("criteria") or {}
    override = crit.get("override") or {}
    card = doc.get("card") or {}
    datasets = ", ".join(f"{d.get('dataset')} v{d.get('version')}"
                         for d in (doc.get("lineage") or {}).get("datasets") or [])
    facts = _facts([["job", doc.get("job_id")], ["description", card.get("description")],
                    ["criteria", _passed(crit.get("passed")) if crit.get("results") else None],
                    ["override", override.get("reason")], ["training data", datasets],
                    ["decision", doc.get("status_comment")],
                    ["decided by", doc.get("status_changed_by")],
                    ["created", doc.get("created_at")], ["by", doc.get("created_by")]])
    metrics = _metric_rows(doc.get("metrics") or {})
    table = (f"<div style='margin-top:6px'><b>Metrics</b></div>"
             f"{_table(['split', 'metric', 'value'], metrics)}" if metrics else "")
    return (f"<div class='shipyard-model-version'><b>Model {escape(str(doc.get('group')))} "
            f"v{escape(str(doc.get('version')))}</b> {status_badge(str(doc.get('status')))}"
            f"{facts}{table}</div>")


def model_group_html(doc: dict[str, Any], versions: list[dict[str, Any]]) -> str:
    rows = [[v.get("version"), v.get("status"), v.get("job_id"),
             _passed((v.get("criteria") or {}).get("passed")), v.get("created_at")]
            for v in versions[::-1]]
    return (f"<div class='shipyard-model-group'><b>Model group {escape(str(doc.get('name')))}"
            f"</b> <span style='color:#6b7280'>{len(versions)} versions · latest approved: "
            f"{escape(str(doc.get('latest_approved_version') or '-'))}</span>"
            f"{_table(['version', 'status', 'job', 'criteria', 'created'], rows)}</div>")


def lineage_html(graph: LineageGraph) -> str:
    """A lineage graph as nested lists from its root: what made it, then what it made."""
    from shipyard.lineage import Node, branches, line, sides, summary

    def items(tree: tuple[Branch, ...]) -> str:
        if not tree:
            return ""
        return ("<ul style='margin:0;padding-left:18px'>" + "".join(
            f"<li>{escape(line(b))}{items(b.children)}</li>" for b in tree) + "</ul>")

    root = graph.node(graph.root) or Node.bare(graph.root)
    parts = []
    for side in sides(graph):
        tree = branches(graph, side)
        body = items(tree) if tree else "<div style='color:#6b7280'>nothing</div>"
        parts.append(f"<div style='margin-top:4px'><b>{escape(side)}</b>{body}</div>")
    more = ("<div style='color:#6b7280'>stopped at "
            f"{humanize.count(len(graph.nodes), 'node')}; ask for less depth or one side</div>"
            if graph.truncated else "")
    return (f"<div class='shipyard-lineage'><b>Lineage of {escape(summary(root))}</b>"
            f"{''.join(parts)}{more}</div>")
def pipeline_html(name: Any, version: int | None, description: Any,
                  parameters: list[list[Any]], steps: list[list[Any]]) -> str:
    """A pipeline's definition: its parameters and its steps with what each waits for."""
    version_text = f" <span style='color:#6b7280'>v{int(version)}</span>" if version else ""
    desc = f"<div>{escape(str(description))}</div>" if description else ""
    params = (f"<div style='margin-top:6px'><b>Parameters</b></div>"
              f"{_table(['name', 'type', 'default', 'description'], parameters)}"
              if parameters else "")
    return (f"<div class='shipyard-pipeline'><b>Pipeline {escape(str(name))}</b>{version_text}"
            f"{desc}{params}<div style='margin-top:6px'><b>Steps</b></div>"
            f"{_table(['step', 'type', 'depends on'], steps)}</div>")


def execution_html(doc: dict[str, Any], columns: list[str], rows: list[list[Any]]) -> str:
    """A pipeline execution: its status, parameters and a row per step."""
    params = ", ".join(f"{k}={v}" for k, v in (doc.get("parameters") or {}).items())
    facts = _facts([["pipeline", f"{doc.get('pipeline')} v{doc.get('version')}"],
                    ["reason", doc.get("reason")], ["parameters", params],
                    ["trigger", (doc.get("trigger") or {}).get("kind")],
                    ["created", doc.get("created_at")], ["ended", doc.get("ended_at")]])
    return (f"<div class='shipyard-execution'><b>Execution {escape(str(doc.get('id')))}</b> "
            f"{status_badge(str(doc.get('status')))}{facts}{_table(columns, rows)}</div>")
