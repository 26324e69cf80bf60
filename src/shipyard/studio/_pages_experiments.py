"""The studio's experiment pages: experiments, and one experiment's runs (sorted on the
server by a metric), a metric compared across runs, its success criteria per run, and a
tuning job's trials in parallel coordinates.

Read-only: every read is the REST route's service call (``GET /api/v1/experiments``,
``…/{name}/runs?metric=&descending=``, ``GET /api/v1/jobs/{id}`` for a tuning job's study).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from shipyard.api._context import Services, services
from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.experiments import experiment_to_dict
from shipyard.jobs import job_to_dict
from shipyard.studio._charts import bar_chart, parallel_coordinates
from shipyard.studio._security import PREFIX
from shipyard.studio._web import error_page, render

router = APIRouter(include_in_schema=False)

#: Metric columns the runs table shows at most (the rest are in each run's job page).
MAX_COLUMNS = 12
#: Runs the compare chart shows at most (the first in the table's order).
MAX_BARS = 50
#: Tuning jobs of one experiment whose trials are drawn.
MAX_STUDIES = 3


@router.get(PREFIX + "/experiments")
def experiments_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """Every experiment with its number of runs and its success criteria."""
    rows = [(e, len(svc.experiments.runs(e.name))) for e in svc.experiments.list()]
    return render(request, "experiments.html", experiments=rows)


@router.get(PREFIX + "/experiments/{name}")
def experiment_page(request: Request, name: str, sort: str | None = None,
                    order: str | None = None, chart: str | None = None,
                    svc: Services = Depends(services)) -> HTMLResponse:
    """An experiment's runs, sorted by ``sort`` (a metric, ``order`` asc or desc; by
    default best first), the ``chart`` metric compared across them, and its tuning jobs'
    trials. An unknown metric leaves the table unsorted and says so in place."""
    message = ""
    descending = {"asc": False, "desc": True}.get(order or "")
    try:
        rec = svc.experiments.get(name)
        try:
            runs = svc.experiments.runs(name, sort or None, descending)
        except InvalidRequest as exc:  # an unknown metric: said in place, runs unsorted
            message, sort = exc.message, None
            runs = svc.experiments.runs(name)
    except ShipyardError as exc:
        return error_page(request, exc)
    metrics = sorted({m for r in runs for m in r["metrics"]}, key=_metric_order)
    chosen = chart if chart in metrics else _default_chart(sort, rec.success_criteria, metrics)
    # The columns: the criteria's metrics, the sorted and the charted one, then the rest.
    wanted = [f"{c.get('split', 'test')}.{c.get('metric')}" for c in rec.success_criteria]
    first = [m for m in dict.fromkeys([*wanted, sort or "", chosen or ""]) if m in metrics]
    columns = (first + [m for m in metrics if m not in first])[:MAX_COLUMNS]
    compare = Markup(bar_chart(  # noqa: S704 - SVG we drew, labels escaped there
        [(_label(r), r["metrics"][chosen]) for r in runs if chosen in r["metrics"]][:MAX_BARS]
    )) if chosen else ""
    studies = [_study(svc, r["job_id"]) for r in runs if r["kind"] == "tuning"][-MAX_STUDIES:]
    return render(request, "experiment.html", rec=rec, runs=runs, message=message,
                  columns=columns, metrics=metrics, sort=sort or "",
                  order=order or "", chart=chosen or "", compare=compare,
                  criteria=experiment_to_dict(rec)["success_criteria_text"], studies=studies)


def _metric_order(key: str) -> tuple[int, str]:
    """Test metrics first, then validation, then the rest."""
    split = key.partition(".")[0]
    return ({"test": 0, "validation": 1, "train": 2}.get(split, 3), key)


def _default_chart(sort: str | None, criteria: list[dict[str, Any]],
                   metrics: list[str]) -> str | None:
    if sort:
        key = sort if "." in sort else f"test.{sort}"
        if key in metrics:
            return key
    for c in criteria:
        key = f"{c.get('split', 'test')}.{c.get('metric')}"
        if key in metrics:
            return key
    return metrics[0] if metrics else None


def _label(run: dict[str, Any]) -> str:
    return str(run.get("name") or run["job_id"])


def _study(svc: Services, job_id: str) -> dict[str, Any]:
    """A tuning job's trials ready to draw: the searched hyperparameters and the objective
    as axes, one line per completed trial (as ``shipyard tune report`` draws them)."""
    # The report model the CLI and the SDK draw from; its scaling is theirs too.
    from shipyard.tuning._report import TuningReport, _scaled
    from shipyard.tuning._space import ALGORITHM

    report = TuningReport.from_job(job_to_dict(svc.jobs.get(job_id)))
    done = report.completed
    out: dict[str, Any] = {"job_id": job_id, "report": report, "svg": "", "algorithm": None}
    if len(done) < 2:
        return out
    several = any(d.name == ALGORITHM for d in report.space.dimensions)
    algorithm = max({str(t.get("algorithm")) for t in done},
                    key=lambda a: sum(1 for t in done if str(t.get("algorithm")) == a))
    prefix = f"{algorithm}." if several else ""
    dims = [d for d in report.space.dimensions
            if d.name != ALGORITHM and d.name.startswith(prefix)]
    mine = [t for t in done if not several or str(t.get("algorithm")) == algorithm]
    values = [float(t["objective"]) for t in mine]
    low, high = min(values), max(values)
    maximize = report.direction == "maximize"

    def goodness(v: float) -> float:
        share = (v - low) / (high - low) if high > low else 1.0
        return share if maximize else 1.0 - share

    names = [d.name.removeprefix(prefix) for d in dims]
    lines = [[_scaled(d, t["hyperparameters"].get(n)) for d, n in zip(dims, names, strict=True)]
             + [(float(t["objective"]) - low) / (high - low) if high > low else 0.5]
             for t in mine]
    lines = [[v if math.isfinite(v) else math.nan for v in line] for line in lines]
    svg = parallel_coordinates([*names, report.metric], lines,
                               [goodness(float(t["objective"])) for t in mine])
    out.update(svg=Markup(svg),  # noqa: S704 - SVG we drew, axis names escaped there
               algorithm=algorithm if several else None)
    return out
