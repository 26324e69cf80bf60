"""The model registry: groups, versions, approval and model cards."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._downloads import stored_file
from shipyard.api._owners import owned
from shipyard.api.schemas import (
    Deleted,
    ModelCard,
    ModelGroup,
    ModelGroupDetail,
    ModelVersion,
    binary,
    deleted,
)
from shipyard.endpoints import AUTO_DEPLOY_SETTING as SETTING
from shipyard.endpoints import check_auto_deploy
from shipyard.errors import NotFound
from shipyard.registry import APPROVED, REJECTED, card_markdown, group_to_dict, version_to_dict
from shipyard.tokens import Principal, check_owner

router = APIRouter(prefix="/models", tags=["models"])


class RegisterBody(BaseModel):
    job_id: str
    override_criteria: str | None = Field(
        None, description="Reason to register despite failing criteria")
    card: dict[str, str] | None = None
    description: str | None = None
    candidate: int | None = Field(
        None, ge=0, description="An AutoML job's candidate to register instead of its final "
                                "model (the leaderboard's number)")


class DecisionBody(BaseModel):
    comment: str


class GroupSettingsBody(BaseModel):
    #: The group's description (unchanged when absent).
    description: str | None = Field(default=None, max_length=10_000)
    settings: dict[str, Any] = Field(default_factory=dict)


@router.get("", response_model=list[ModelGroup], **permit("read"))
def list_groups(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [group_to_dict(g, svc.registry.versions(g.name)) for g in svc.registry.groups()]


@router.get("/{group}", response_model=ModelGroupDetail, **permit("read"))
def show_group(group: str, svc: Services = Depends(services)) -> dict[str, Any]:
    g = svc.registry.group(group)
    versions = svc.registry.versions(group)
    return {**group_to_dict(g, versions), "version_list": [version_to_dict(v) for v in versions]}


@router.patch("/{group}", response_model=ModelGroup, **owned("write", "model_group"))
def update_group(group: str, body: GroupSettingsBody, svc: Services = Depends(services),
                 who: Principal = Depends(current_principal)) -> dict[str, Any]:
    settings = dict(body.settings)
    if SETTING in settings:  # approval → deploy: refuse a broken setting before it is stored
        settings[SETTING] = check_auto_deploy(settings[SETTING])
        target = settings[SETTING] and svc.endpoints.repo.find(settings[SETTING]["endpoint"])
        if target:  # approvals would roll that endpoint over: it must be the caller's own
            check_owner(who, f"Endpoint {target.name!r}", target.created_by)
    g = svc.registry.update_group_settings(group, settings, who.name, body.description)
    return group_to_dict(g, svc.registry.versions(group))


@router.delete("/{group}", response_model=Deleted, **owned("write", "model_group"))
def delete_group(group: str, force: Annotated[bool, Query(
                     description="Delete it even though something uses it: an endpoint "
                                 "serves it, or an unfinished job, a schedule or a pipeline "
                                 "names it (admin only; audited).")] = False,
                 svc: Services = Depends(services),
                 who: Principal = Depends(current_principal)) -> Deleted:
    """Delete a model group and its versions (its creator or an admin); refused while an
    endpoint serves one of them or an unfinished job, a schedule or a pipeline uses it,
    unless an admin forces it. The bundles' files stay: they are the training jobs'
    outputs."""
    audit = svc.references.check_delete("model_group", f"Model group {group!r}", group, who,
                                        force)
    count = svc.registry.delete_group(group, who.name, audit)
    return deleted("model_group", group, forced=bool(audit), versions=count)


@router.post("/{group}/versions", status_code=201, response_model=ModelVersion,
             **permit("write"))
def register(group: str, body: RegisterBody, svc: Services = Depends(services),
             who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Register a Completed job's model as a new version (PendingManualApproval)."""
    rec = svc.registry.register(group, body.job_id, who.name, card=body.card,
                                override_reason=body.override_criteria,
                                description=body.description, candidate=body.candidate)
    return version_to_dict(rec)


@router.get("/{group}/versions", response_model=list[ModelVersion], **permit("read"))
def list_versions(group: str, svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [version_to_dict(v) for v in svc.registry.versions(group)]


@router.get("/{group}/latest", response_model=ModelVersion, **permit("read"))
def latest(group: str, status: str | None = APPROVED,
           svc: Services = Depends(services)) -> dict[str, Any]:
    """The newest version with ``status`` (default Approved; ``status=`` for any)."""
    return version_to_dict(svc.registry.get(group, None, status or None))


@router.get("/{group}/versions/{version}", response_model=ModelVersion, **permit("read"))
def show_version(group: str, version: int, svc: Services = Depends(services)) -> dict[str, Any]:
    return version_to_dict(svc.registry.get(group, version))


@router.post("/{group}/versions/{version}/approve", response_model=ModelVersion,
             **permit("approve"))
def approve(group: str, version: int, body: DecisionBody, svc: Services = Depends(services),
            who: Principal = Depends(current_principal)) -> dict[str, Any]:
    rec = svc.registry.set_status(group, version, APPROVED, body.comment, who.name)
    return version_to_dict(rec)


@router.post("/{group}/versions/{version}/reject", response_model=ModelVersion,
             **permit("approve"))
def reject(group: str, version: int, body: DecisionBody, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    rec = svc.registry.set_status(group, version, REJECTED, body.comment, who.name)
    return version_to_dict(rec)


@router.get("/{group}/versions/{version}/card", response_model=ModelCard, responses={
    200: {"content": {"text/markdown": {"schema": {"type": "string"}}},
          "description": "The card as JSON, or as Markdown with format=markdown."}},
    **permit("read"))
def get_card(group: str, version: int,
             format: Annotated[str, Query(pattern="^(json|markdown)$")] = "json",
             svc: Services = Depends(services)) -> Any:
    rec = svc.registry.get(group, version)
    if format == "markdown":
        return PlainTextResponse(card_markdown(rec), media_type="text/markdown")
    return rec.card


@router.patch("/{group}/versions/{version}/card", response_model=ModelCard,
              **owned("write", "model_version"))
def edit_card(group: str, version: int, body: dict[str, str], svc: Services = Depends(services),
              who: Principal = Depends(current_principal)) -> dict[str, Any]:
    return svc.registry.update_card(group, version, body, who.name).card


@router.get("/{group}/versions/{version}/files/{path:path}", response_class=StreamingResponse,
            responses=binary("The file's bytes.", "application/octet-stream"), **permit("read"))
def download_file(group: str, version: int, path: str,
                  verify: Annotated[bool, Query(
                      description="Check the whole file before sending a byte.")] = False,
                  svc: Services = Depends(services)) -> StreamingResponse:
    """A file of the version's bundle, looked up by name in its manifest (never a path).

    Checked against its SHA-256 while it streams (``X-Shipyard-SHA256``), as job
    artifacts are.
    """
    rec = svc.registry.get(group, version)
    entry = next((f for f in rec.bundle.get("files", []) if f["path"] == path), None)
    if entry is None:
        raise NotFound(f"Model {group}:{version} has no file {path!r}.")
    return stored_file(svc, entry["sha256"], int(entry["size"]),
                       what=f"{path!r} of model {group}:{version}",
                       filename=path.rsplit("/", 1)[-1], verify=verify)
