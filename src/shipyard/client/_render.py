"""Small HTML renderings of SDK objects for Jupyter (no scripts, no external assets)."""

from __future__ import annotations

from html import escape
from typing import Any

STATUS_COLOURS = {
    "Pending": "#6b7280", "Starting": "#2563eb", "Running": "#2563eb", "Stopping": "#d97706",
    "Completed": "#16a34a", "Failed": "#dc2626", "Stopped": "#92400e",
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
        f"{num_rows:,} rows × {num_columns} columns</span>{desc}"
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
