"""The studio's dataset pages: the list, a dataset's versions, schema, first rows and
profile report, and uploads (a new dataset, or a new version).

Uploads are ``POST``s to paths ending in ``/upload``: the body guard gives those the
upload limit (``max_upload_bytes``, see :data:`shipyard.api._body.STUDIO_UPLOAD`), not
the JSON limit of the studio's other forms. ``static/upload.js`` sends them with
``XMLHttpRequest`` (for its upload progress events) and the page's CSRF token.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from shipyard.api._context import Services, services
from shipyard.api._uploads import saved_uploads
from shipyard.errors import ShipyardError
from shipyard.names import check_name
from shipyard.studio._security import CSP, PREFIX
from shipyard.studio._web import (
    BadRequest,
    action_error,
    authorize,
    error_page,
    render,
    run,
)

router = APIRouter(include_in_schema=False)

#: A dataset page frames its profile report (a studio page of its own, below).
FRAMING_CSP = CSP + "; frame-src 'self'"
#: The profile report: our own HTML with inline styles and data: images, and no script.
#: Only a studio page may frame it.
REPORT_CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
              "img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'")
#: The fields an upload form may have besides its files.
UPLOAD_FIELDS = ("name", "description")
MAX_UPLOAD_FILES = 100


@router.get(PREFIX + "/datasets")
def datasets_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    return render(request, "datasets.html", datasets=svc.datasets.list())


@router.get(PREFIX + "/datasets/{name}")
def dataset_page(request: Request, name: str, version: int | None = None,
                 svc: Services = Depends(services)) -> HTMLResponse:
    """A dataset: its versions, a version's schema, first rows and profile report."""
    try:
        rec = svc.datasets.get(name)
        versions = svc.datasets.versions(name)
        shown = svc.datasets.version(name, version)
        head = svc.datasets.head(name, shown.version, n=20).to_pylist()
    except ShipyardError as exc:
        return error_page(request, exc)
    columns = [c["name"] for c in shown.schema]
    rows = [[_cell(row.get(c)) for c in columns] for row in head]
    page = render(request, "dataset.html", rec=rec, versions=list(reversed(versions)),
                  shown=shown, columns=columns, rows=rows)
    page.headers["Content-Security-Policy"] = FRAMING_CSP
    return page


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


# -- the profile report ----------------------------------------------------------------------
@router.get(PREFIX + "/datasets/{name}/profile.html")
def profile_report(request: Request, name: str, version: int | None = None,
                   svc: Services = Depends(services)) -> HTMLResponse:
    """A version's profile report, for the dataset page's sandboxed frame (REST:
    ``GET /api/v1/datasets/{name}/profile.html``): computed once per content, then cached.

    The report has inline styles, so it is served with a policy of its own: no script at
    all, styles and ``data:`` images only, framed by studio pages only."""
    from shipyard.profiling import Profile, VersionProfiles

    try:
        authorize(request, svc, "read")
        profiles = VersionProfiles(svc.datasets, svc.artifacts, svc.settings.tmp_dir)
        doc = profiles.snapshot(name, version, None, None)
        source = doc["source"]
        page = Profile.from_dict(doc).to_html(
            f"Profile of {source['dataset']} v{source['version']}")
        status = 200
    except ShipyardError as exc:
        # Not the studio's error page: that one loads scripts this policy does not allow.
        page = f"<!doctype html><title>No profile</title><p>{html.escape(exc.message)}</p>"
        status = exc.http_status
    return HTMLResponse(page, status_code=status, headers={
        "Content-Security-Policy": REPORT_CSP, "X-Frame-Options": "SAMEORIGIN"})


# -- uploads ---------------------------------------------------------------------------------
@router.post(PREFIX + "/datasets/upload")
async def create_dataset(request: Request, svc: Services = Depends(services)) -> Response:
    """Create a dataset from an uploaded file (REST: ``POST /api/v1/datasets``)."""
    return await _upload(request, svc, None)


@router.post(PREFIX + "/datasets/{name}/upload")
async def append_version(request: Request, name: str,
                         svc: Services = Depends(services)) -> Response:
    """A new version holding the previous version's rows and the uploaded ones (REST:
    ``POST /api/v1/datasets/{name}/versions``)."""
    return await _upload(request, svc, name)


async def _upload(request: Request, svc: Services, name: str | None) -> Response:
    """The REST route's check (permission to write), then its service call: the files
    saved under names of Shipyard's own making, ingested, and cleaned up."""
    try:
        who = authorize(request, svc, "write")
        try:
            parsed = request.form(max_files=MAX_UPLOAD_FILES, max_fields=len(UPLOAD_FIELDS))
            form = await parsed
        except HTTPException as exc:  # a body that is not a multipart form
            raise BadRequest(f"The upload is not a form with a file: {exc.detail}") from exc
        try:
            files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
            target = name if name is not None else str(form.get("name") or "").strip()
            check_name(target, "dataset name")
            description = str(form.get("description") or "") or None
            mode = "create" if name is None else "append"

            def ingest() -> Any:
                with saved_uploads(files, svc.settings.tmp_dir) as saved:
                    return svc.datasets.ingest(target, saved, mode=mode,
                                               description=description, actor=who.name)

            rec = await run(ingest)
        finally:
            await form.close()
    except ClientDisconnect:
        # The body guard answered already (413, 408) or the browser went away.
        return Response(status_code=400)
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "_uploaded.html", http_status=201, rec=rec,
                  created=name is None)

