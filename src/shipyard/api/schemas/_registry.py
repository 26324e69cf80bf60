"""Response models of the model registry."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp
from shipyard.api.schemas._jobs import StoredFile, Verdict


class ModelVerdict(Verdict):
    override: dict[str, Any] | None = Field(
        None, description="{reason, by, failing} when it was registered despite failing.")


class Bundle(Out):
    files: list[StoredFile]
    manifest: OpenDoc | None = Field(description="The bundle's MODEL.json.")


class ModelCard(Out):
    """The model card: written at registration, four fields editable."""

    # A card stored by an older release may hold a key this one no longer writes.
    model_config = ConfigDict(extra="allow")

    description: str | None = None
    intended_use: str | None = None
    limitations: str | None = None
    ethical_considerations: str | None = None
    caveats: str | None = None
    metrics: dict[str, Any] | None = None
    training_data: list[dict[str, Any]] | None = None
    success_criteria: dict[str, Any] | None = None
    bundle_size: Any = Field(None, description="Bytes, and a sentence when it is large.")


class ModelVersion(Out):
    group: str
    version: int
    status: str = Field(description="PendingManualApproval, Approved or Rejected.")
    job_id: str
    metrics: dict[str, Any] = Field(description="Nested by split: metrics.test.roc_auc.")
    lineage: OpenDoc = Field(description="Dataset versions → job → bundle.")
    card: ModelCard
    criteria: ModelVerdict
    bundle: Bundle
    status_comment: str | None
    status_changed_by: str | None
    status_changed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None


class ModelGroup(Out):
    name: str
    description: str | None
    settings: OpenDoc = Field(description="e.g. auto_deploy: {endpoint, instances, variant}.")
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    versions: int
    latest_version: int | None
    latest_status: str | None
    latest_approved_version: int | None


class ModelGroupDetail(ModelGroup):
    version_list: list[ModelVersion]
