"""The studio's dataset pages: the list, a dataset's versions, schema, first rows and
profile report, uploads (a new dataset, or a new version), and the SQL editor. The train
form on a dataset's page is ``_pages_train``'s.

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
from shipyard.studio._pages_train import train_form
from shipyard.studio._security import CSP, PREFIX
from shipyard.studio._web import (
    BadRequest,
    action_error,
    authorize,
    error_page,
    read_form,
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
UPLOAD_FIELDS = ("name", "description", "encoding")
#: The upload form's text encodings (value, what the select shows): a CSV saved by Excel
#: in Western Europe is Windows-1252, which the ingest refuses as UTF-8 and names. Only
#: encodings the ingest takes: it refuses UTF-16 and UTF-32 for every file (docs/datasets.md).
ENCODINGS = (("", "UTF-8 (the default)"), ("cp1252", "Windows-1252 (Excel, Western Europe)"),
             ("latin-1", "Latin-1 (ISO-8859-1)"))
MAX_UPLOAD_FILES = 100
#: Rows of a query's answer the SQL page shows (the REST route returns up to 10,000).
SQL_ROWS = 200
#: A query form: the body guard's limit of a studio form (the JSON limit, 1 MiB by default)
#: lets through what fits; the query's own limit (1,000,000 characters) is the service's.
MAX_SQL_FORM_BYTES = 4 * 1024**2


@router.get(PREFIX + "/datasets")
def datasets_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    return render(request, "datasets.html", datasets=svc.datasets.list(), encodings=ENCODINGS)


@router.get(PREFIX + "/datasets/{name}")
def dataset_page(request: Request, name: str, version: int | None = None,
                 svc: Services = Depends(services)) -> HTMLResponse:
    """A dataset: its versions, a version's schema, first rows and profile report, and
    (for a writer) the form that trains a model on the version shown."""
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
                  shown=shown, columns=columns, rows=rows, train=train_form(shown),
                  encodings=ENCODINGS)
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
            form = await request.form(max_files=MAX_UPLOAD_FILES,
                                      max_fields=len(UPLOAD_FIELDS))
        except HTTPException as exc:  # a body that is not a multipart form
            raise BadRequest(f"The upload is not a form with a file: {exc.detail}") from exc
        try:
            files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
            target = name if name is not None else str(form.get("name") or "").strip()
            check_name(target, "dataset name")
            description = str(form.get("description") or "") or None
            encoding = str(form.get("encoding") or "").strip() or None
            mode = "create" if name is None else "append"

            def ingest() -> Any:
                with saved_uploads(files, svc.settings.tmp_dir) as saved:
                    return svc.datasets.ingest(target, saved, mode=mode,
                                               description=description, actor=who.name,
                                               encoding=encoding)

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


# -- the SQL editor --------------------------------------------------------------------------
@router.get(PREFIX + "/sql")
def sql_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """A query box: run a read-only query and see its rows, or save them as a dataset."""
    return render(request, "sql.html", datasets=svc.datasets.list(), shown_rows=SQL_ROWS)


@router.post(PREFIX + "/sql/run")
async def sql_run(request: Request, svc: Services = Depends(services)) -> Response:
    """Run one read-only query; its first rows as a table (REST: ``POST /api/v1/sql``)."""
    from shipyard.datasets._export import table_rows

    try:
        form = await read_form(request, max_bytes=MAX_SQL_FORM_BYTES)
        authorize(request, svc, "read")
        query = _query(form)
        result = await run(lambda: svc.sql.query(query, max_rows=SQL_ROWS))
    except ShipyardError as exc:
        return action_error(exc)
    table = result.table
    rows = [[_cell(v) for v in row] for row in table_rows(table)]
    return render(request, "_sql_result.html", columns=table.column_names,
                  types=[str(t) for t in table.schema.types], rows=rows,
                  truncated=result.truncated, seconds=result.seconds, shown_rows=SQL_ROWS)


@router.post(PREFIX + "/sql/save")
async def sql_save(request: Request, svc: Services = Depends(services)) -> Response:
    """Save every row of a query as a new version of a dataset (REST: ``POST /api/v1/sql``
    with ``save``, which needs permission to write)."""
    try:
        form = await read_form(request, max_bytes=MAX_SQL_FORM_BYTES)
        who = authorize(request, svc, "write")
        query = _query(form)
        target = check_name((form.get("save") or "").strip(), "dataset name")
        rec = await run(lambda: svc.sql.save(query, target, actor=who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "_uploaded.html", http_status=201, rec=rec, created=rec.version == 1)


def _query(form: dict[str, str]) -> str:
    query = form.get("query", "").strip()
    if not query:
        raise BadRequest("Write a query first, e.g. SELECT * FROM datasets.<name> LIMIT 10.")
    return query
