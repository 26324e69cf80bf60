"""Bias and explanation reports summarised on the model card, for the approver to read.

When a ``bias`` or ``explain`` job that names a model version completes, the registry
reads its ``output/report.json`` (already in the artifact store) and puts a summary
first in the version's ``card["reports"]``: the job, the dataset version, and the
headline figures (each facet group's metrics; the most important input columns). The
full report stays the job's (``shipyard jobs show``, ``…/artifacts/output/report.html``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from shipyard.humanize import number

#: The job kinds whose reports reach the card.
REPORT_KINDS = ("bias", "explain")
#: Reports a card keeps, newest first.
KEEP_REPORTS = 10
#: Facet groups and columns a summary keeps.
SUMMARY_GROUPS = 5
SUMMARY_COLUMNS = 10
REPORT_FILE = "output/report.json"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _values(metrics: Any) -> dict[str, Any]:
    """``{code: {"value": x, …}}`` or ``{code: x}`` → ``{code: x}``."""
    out: dict[str, Any] = {}
    for code, m in (metrics or {}).items():
        value = m.get("value") if isinstance(m, dict) else m
        out[str(code)] = _finite(value) if isinstance(value, int | float | type(None)) else None
    return out


def summarize(kind: str, report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a bias or explain report."""
    if kind == "bias":
        groups = []
        for f in (report.get("facets") or [])[:SUMMARY_GROUPS]:
            groups.append({"facet": f.get("facet"), "n_d": f.get("n_d"), "n_a": f.get("n_a"),
                           "pre": _values(f.get("pre")), "post": _values(f.get("post"))})
        config = report.get("config") or {}
        positive = config.get("positive")
        if positive is None and config.get("label_threshold") is not None:
            positive = f"> {config['label_threshold']}"
        return {"label": config.get("label"), "positive": positive,
                "model": report.get("model"), "facets": groups}
    top = [{"column": r.get("column"), "importance": _finite(r.get("mean_abs_shap"))}
           for r in (report.get("global_importance") or [])[:SUMMARY_COLUMNS]]
    return {"method": report.get("method"), "output_space": report.get("output_space"),
            "rows": report.get("rows_explained"), "top": top}


def report_entry(job: Any, report_bytes: bytes) -> dict[str, Any]:
    """The card's entry for a Completed bias or explain job."""
    report = json.loads(report_bytes)
    data = ((job.spec.get("inputs") or {}).get("dataset")) or {}
    finished = getattr(job, "finished_at", None)
    return {"kind": job.kind, "job_id": job.id,
            "dataset": f"{data.get('dataset')}:{data.get('version')}" if data else None,
            "finished_at": finished.isoformat() if finished is not None else None,
            "summary": summarize(job.kind, report)}


def _num(value: Any) -> str:
    return "–" if value is None else number(value)


def reports_markdown(card: dict[str, Any]) -> list[str]:
    """The card's Markdown sections for its reports (none when it has no report)."""
    lines: list[str] = []
    reports = card.get("reports") or []
    bias = [r for r in reports if r.get("kind") == "bias"]
    explain = [r for r in reports if r.get("kind") == "explain"]
    if bias:
        r = bias[0]
        s = r.get("summary") or {}
        lines += ["", "## Bias", "",
                  f"Job {r.get('job_id')} on dataset {r.get('dataset')}: label "
                  f"{s.get('label')!r}, positive {s.get('positive')!r}.", ""]
        for g in s.get("facets") or []:
            lines += [f"**{g.get('facet')}** (facet d: {g.get('n_d')} rows, the rest: "
                      f"{g.get('n_a')})", "", "| stage | metric | value |", "|---|---|---|"]
            for stage, what in (("pre", "data"), ("post", "model")):
                lines += [f"| {what} | {code} | {_num(value)} |"
                          for code, value in (g.get(stage) or {}).items()]
            lines.append("")
    if explain:
        r = explain[0]
        s = r.get("summary") or {}
        lines += ["", "## Explanations", "",
                  f"Job {r.get('job_id')} on dataset {r.get('dataset')} "
                  f"({s.get('method')} SHAP, {s.get('output_space')} space): the input "
                  "columns by mean |SHAP value|.", "", "| column | mean abs SHAP |",
                  "|---|---|"]
        lines += [f"| {t.get('column')} | {_num(t.get('importance'))} |"
                  for t in s.get("top") or []]
    if len(reports) > (1 if bias else 0) + (1 if explain else 0):
        lines += ["", f"Earlier reports: {', '.join(str(x.get('job_id')) for x in reports)} "
                  "(`shipyard jobs show ID`)."]
    return lines
