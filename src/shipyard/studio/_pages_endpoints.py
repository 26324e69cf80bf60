"""The studio's endpoint pages: the list of endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.api._context import Services, services
from shipyard.studio._security import PREFIX
from shipyard.studio._web import render

router = APIRouter(include_in_schema=False)


@router.get(PREFIX + "/endpoints")
def endpoints_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    return render(request, "endpoints.html", endpoints=svc.endpoints.list())
