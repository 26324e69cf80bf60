"""Datasets: create and append from uploaded files, list, show, head, versions, download, delete."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import (
    APIRouter,
    Body,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile as StarletteUpload

from shipyard import safejson
from shipyard.api._auth import current_principal, permit, with_extra
from shipyard.api._context import Services, services
from shipyard.api._downloads import checked, image_file, verify_stored
from shipyard.api._owners import owned
from shipyard.api._uploads import saved_uploads
from shipyard.api.schemas import (
    Dataset,
    DatasetVersion,
    Deleted,
    Head,
    OpenDoc,
    binary,
    deleted,
)
from shipyard.datasets import dataset_to_dict, version_to_dict
from shipyard.datasets._export import table_rows
from shipyard.datasets._images import MAX_FILES
from shipyard.errors import InvalidRequest
from shipyard.names import check_name
from shipyard.profiling import Profile, VersionProfiles
from shipyard.tokens import Principal

router = APIRouter(prefix="/datasets", tags=["datasets"])

MAX_HEAD_ROWS = 10_000

Files = Annotated[list[UploadFile], File(description="One or more files, concatenated.")]
FormText = Annotated[str | None, Form()]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _json_object(field: str, raw: str | None) -> dict[str, Any] | None:
    if raw is None or not raw.strip():
        return None
    value = safejson.loads(raw, where=f"The form field {field!r}")
    if not isinstance(value, dict):
        raise InvalidRequest(f"The form field {field!r} must be a JSON object; got {raw[:40]!r}.")
    return value


#: The CSV dialect fields: delimiter (',', ';', '|', 'tab'), decimal mark ('.' or ','), and
#: text encoding (utf-8, latin-1, cp1252…); the first two are sniffed when absent.
Sep = Annotated[str | None, Form(description="CSV/TSV delimiter; sniffed if absent.")]
DecimalMark = Annotated[str | None, Form(description="Decimal mark '.' or ','; sniffed if absent.")]
Encoding = Annotated[str | None, Form(description="Text encoding; UTF-8 if absent.")]


def _ingest(svc: Services, who: Principal, name: str, mode: str, files: list[UploadFile],
            format: str | None, column_types: str | None, description: str | None,
            source: str | None, key: str | None, dialect: tuple[str | None, ...]
            ) -> dict[str, Any]:
    """Save the uploads to files of Shipyard's own naming, ingest, and always clean up."""
    check_name(name, "dataset name")
    types = _json_object("column_types", column_types)
    lineage = _json_object("source", source)
    with saved_uploads(files, svc.settings.tmp_dir) as saved:
        rec = svc.datasets.ingest(
            name, saved, mode=mode, format=format or None, column_types=types,
            description=description, source=lineage, actor=who.name, idempotency_key=key,
            sep=dialect[0], decimal=dialect[1], encoding=dialect[2],
        )
    return version_to_dict(rec)


@router.post("", status_code=201, response_model=DatasetVersion, **permit("write"))
def create_dataset(
    name: Annotated[str, Form()], file: Files, format: FormText = None,
    column_types: FormText = None, description: FormText = None, source: FormText = None,
    sep: Sep = None, decimal: DecimalMark = None, encoding: Encoding = None,
    idempotency_key: IdempotencyKey = None,
    svc: Services = Depends(services), who: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Create a dataset from uploaded files; its first version is the answer."""
    return _ingest(svc, who, name, "create", file, format, column_types, description, source,
                   idempotency_key, (sep, decimal, encoding))


@router.post("/{name}/versions", status_code=201, response_model=DatasetVersion,
             **permit("write"))
def append_version(
    name: str, file: Files, format: FormText = None, column_types: FormText = None,
    description: FormText = None, source: FormText = None,
    sep: Sep = None, decimal: DecimalMark = None, encoding: Encoding = None,
    idempotency_key: IdempotencyKey = None,
    svc: Services = Depends(services), who: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """Append rows: the new version holds the previous version's rows and the uploaded ones."""
    return _ingest(svc, who, name, "append", file, format, column_types, description, source,
                   idempotency_key, (sep, decimal, encoding))


#: The form fields of a files upload besides the files.
_FILES_FIELDS = ("mode", "description")


_FILES_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": "Each image; its file name is its path inside the folder."},
        "mode": {"type": "string", "enum": ["create", "append", "replace"]},
        "description": {"type": "string"}}}}}}}


@router.post("/{name}/files", status_code=201, response_model=DatasetVersion,
             **with_extra(permit("write"), _FILES_BODY))
async def upload_files(name: str, request: Request, svc: Services = Depends(services),
                       who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """A version whose table is the manifest of the uploaded image files.

    Each ``file`` part's file name is its path inside the folder (POSIX, relative).
    ``mode``: ``create`` (default; 409 if the dataset exists), ``append`` (the previous
    manifest plus these files) or ``replace``. The form is read here rather than through
    FastAPI's ``File`` so a folder may hold more than Starlette's default 1,000 files.
    """
    check_name(name, "dataset name")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=len(_FILES_FIELDS))
    except Exception as exc:  # Starlette's HTTPException: a body that is not a form
        raise InvalidRequest(f"The upload is not a multipart form of files: {exc}") from None
    try:
        uploads = [f for f in form.getlist("file") if isinstance(f, StarletteUpload)]
        paths = [u.filename or "" for u in uploads]
        mode = str(form.get("mode") or "create")
        description = str(form.get("description") or "") or None

        def ingest() -> dict[str, Any]:
            with saved_uploads(uploads, svc.settings.tmp_dir, prefix="files-") as saved:
                named = [(p, local) for p, (_, local) in zip(paths, saved, strict=True)]
                rec = svc.datasets.ingest_files(name, named, mode=mode,
                                                description=description, actor=who.name)
            return version_to_dict(rec)

        return await anyio.to_thread.run_sync(ingest)
    finally:
        await form.close()


Sha = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="The file's SHA-256.")]


@router.get("/{name}/versions/{version}/files/{sha256}", response_class=StreamingResponse,
            responses=binary("The image file.", "image/png", "image/jpeg"), **permit("read"))
def get_file(name: str, version: int, sha256: Sha,
             svc: Services = Depends(services)) -> StreamingResponse:
    """An image of a files version, by SHA-256: only one its manifest lists (404 otherwise)."""
    sha, size, media = svc.datasets.file_object(name, version, sha256)
    return image_file(svc, sha, size, media, what=f"{sha[:12]}… of dataset {name!r}")


@router.get("", response_model=list[Dataset], **permit("read"))
def list_datasets(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [dataset_to_dict(d) for d in svc.datasets.list()]


@router.get("/{name}", response_model=Dataset, **permit("read"))
def get_dataset(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return dataset_to_dict(svc.datasets.get(name))


@router.get("/{name}/versions", response_model=list[DatasetVersion], **permit("read"))
def list_versions(name: str, svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [version_to_dict(v) for v in svc.datasets.versions(name)]


@router.get("/{name}/versions/{version}", response_model=DatasetVersion, **permit("read"))
def get_version(name: str, version: int, svc: Services = Depends(services)) -> dict[str, Any]:
    return version_to_dict(svc.datasets.version(name, version))


@router.get("/{name}/head", response_model=Head, **permit("read"))
def head(
    name: str, n: Annotated[int, Query(ge=0, le=MAX_HEAD_ROWS)] = 10,
    version: Annotated[int | None, Query(ge=1)] = None, svc: Services = Depends(services),
) -> dict[str, Any]:
    """The first ``n`` rows as ``{"columns", "data", "version"}`` with JSON-safe values."""
    rec = svc.datasets.version(name, version)
    table = svc.datasets.head(name, rec.version, n)
    return {"columns": table.column_names, "data": table_rows(table), "version": rec.version}


@router.get("/{name}/download", response_class=StreamingResponse,
            responses=binary("The version as one file.", "application/vnd.apache.parquet",
                             "text/csv"), **permit("read"))
def download(
    name: str, version: Annotated[int | None, Query(ge=1)] = None,
    format: Annotated[str, Query(pattern="^(parquet|csv)$")] = "parquet",
    verify: Annotated[bool, Query(
        description="Check the whole stored file before sending a byte.")] = False,
    svc: Services = Depends(services),
) -> StreamingResponse:
    """The version as one Parquet file (default) or CSV, streamed.

    Every stored part is checked against its SHA-256: a one-part version as Parquet is
    the stored object itself, checked while it streams and sent with
    ``X-Shipyard-SHA256``; any other download is built from parts checked before the
    first byte.
    """
    out = svc.datasets.download(name, version, format)
    # The file name is built from the checked dataset name and a number only.
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    chunks = out.chunks
    if out.sha256 is not None:
        what = f"{out.filename!r} of dataset {name!r}"
        if verify:
            verify_stored(svc, out.sha256, what)
        chunks = checked(svc, out.chunks, what, out.sha256)
        headers.update({"Content-Length": str(out.size), "X-Shipyard-SHA256": out.sha256})
    return StreamingResponse(chunks, media_type=out.media_type, headers=headers)


Force = Annotated[bool, Query(
    description="Delete it even though something still uses it (admin only; audited).")]


@router.delete("/{name}", response_model=Deleted, **owned("write", "dataset"))
def delete_dataset(name: str, force: Force = False, svc: Services = Depends(services),
                   who: Principal = Depends(current_principal)) -> Deleted:
    """Delete a dataset and its versions: its creator or an admin, and only when nothing
    uses it (a model's lineage, a monitor, an unfinished job, a schedule) unless forced."""
    audit = svc.references.check_delete("dataset", f"Dataset {name!r}", name, who, force)
    count = svc.datasets.delete(name, who.name, audit)
    return deleted("dataset", name, forced=bool(audit), versions=count)


class ProfileBody(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int | None = Field(default=None, ge=1, description="The version to profile [latest].")
    target: str | None = Field(default=None, description="A column to analyse the others against.")
    problem_type: str | None = Field(
        default=None, description="classification or regression [inferred from the target].")
    facet: str | None = Field(
        default=None, max_length=300,
        description="A sensitive column: the target's pre-training bias metrics across its "
                    "groups are added as `bias` (docs/bias.md). Needs `target`.")
    facet_values: list[str | int | float | bool] | None = Field(
        default=None, max_length=1000,
        description="The facet values of the disadvantaged group [each value in turn].")
    facet_threshold: float | None = Field(
        default=None, description="A numeric facet's disadvantaged group is above this.")
    positive: list[str | int | float | bool] | None = Field(
        default=None, max_length=1000,
        description="The target values that are the positive outcome.")
    label_threshold: float | None = Field(
        default=None, description="A numeric target is positive above this.")
    group: str | None = Field(default=None, max_length=300,
                              description="A column to condition CDDL on.")

    def facet_settings(self) -> dict[str, Any]:
        return {"facet": self.facet, "facet_values": self.facet_values,
                "facet_threshold": self.facet_threshold, "positive": self.positive,
                "label_threshold": self.label_threshold, "group": self.group}


#: No body: the latest version, no target (frozen, so sharing one default is safe).
_LATEST = ProfileBody()

#: The report may show any text from the data: let the browser run nothing and fetch nothing.
_REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _profiles(svc: Services) -> VersionProfiles:
    return VersionProfiles(svc.datasets, svc.artifacts, svc.settings.tmp_dir)


@router.post("/{name}/profile", response_model=OpenDoc, **permit("read"))
def profile_dataset(name: str, body: Annotated[ProfileBody, Body()] = _LATEST,
                    svc: Services = Depends(services)) -> dict[str, Any]:
    """The profile snapshot of a version: computed once per content and target, then cached.

    The body is optional: without one, the latest version is profiled with no target."""
    profiles = _profiles(svc)
    doc = profiles.snapshot(name, body.version, body.target, body.problem_type)
    if body.facet is not None:
        doc["bias"] = profiles.bias(name, body.version, body.target,
                                    body.facet_settings()).to_dict()
    return doc


@router.get("/{name}/profile.html", response_class=HTMLResponse, **permit("read"))
def profile_report(
    name: str, version: Annotated[int | None, Query(ge=1)] = None,
    target: str | None = None, problem_type: str | None = None,
    facet: Annotated[str | None, Query(max_length=300)] = None,
    facet_values: Annotated[list[str] | None, Query()] = None,
    facet_threshold: float | None = None,
    positive: Annotated[list[str] | None, Query()] = None,
    label_threshold: float | None = None, group: str | None = None,
    svc: Services = Depends(services),
) -> HTMLResponse:
    """The profile as a self-contained HTML report, drawn from the cached snapshot (with a
    facet: and the target's pre-training bias metrics across its groups)."""
    profiles = _profiles(svc)
    doc = profiles.snapshot(name, version, target, problem_type)
    source = doc["source"]
    title = f"Profile of {source['dataset']} v{source['version']}" + (
        f", target {target}" if target else "")
    page = Profile.from_dict(doc).to_html(title)
    if facet is not None:
        from shipyard.fairness import render_html

        report = profiles.bias(name, version, target, {
            "facet": facet, "facet_values": facet_values, "facet_threshold": facet_threshold,
            "positive": positive, "label_threshold": label_threshold, "group": group})
        section = ("<h2>Pre-training bias</h2>"
                   + render_html(report, full_page=False))
        page = page.replace("</body>", section + "</body>", 1)
    return HTMLResponse(page, headers={"Content-Security-Policy": _REPORT_CSP})
