"""The studio's dataset pages: the list, and a dataset's versions, schema and first rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.api._context import Services, services
from shipyard.errors import ShipyardError
from shipyard.studio._security import PREFIX
from shipyard.studio._web import error_page, render

router = APIRouter(include_in_schema=False)


@router.get(PREFIX + "/datasets")
def datasets_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    return render(request, "datasets.html", datasets=svc.datasets.list())


@router.get(PREFIX + "/datasets/{name}")
def dataset_page(request: Request, name: str, version: int | None = None,
                 svc: Services = Depends(services)) -> HTMLResponse:
    """A dataset: its versions, a version's schema and its first rows."""
    try:
        rec = svc.datasets.get(name)
        versions = svc.datasets.versions(name)
        shown = svc.datasets.version(name, version)
        head = svc.datasets.head(name, shown.version, n=20).to_pylist()
    except ShipyardError as exc:
        return error_page(request, exc)
    columns = [c["name"] for c in shown.schema]
    rows = [[_cell(row.get(c)) for c in columns] for row in head]
    return render(request, "dataset.html", rec=rec, versions=list(reversed(versions)),
                  shown=shown, columns=columns, rows=rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"
