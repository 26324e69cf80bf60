"""What an endpoint is and who may deploy what: validation, records, events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.errors import Conflict, Forbidden, InvalidRequest
from shipyard.names import check_name
from shipyard.registry import APPROVED, RegistryService
from shipyard.store import EndpointRecord, EndpointRepository, iso

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.endpoints._supervisor import EndpointSupervisor

CREATING, IN_SERVICE, UPDATING, FAILED, DELETING = (
    "Creating", "InService", "Updating", "Failed", "Deleting")
#: Statuses whose instances should be running (started again when the server starts).
ACTIVE = (CREATING, IN_SERVICE, UPDATING)
DEFAULT_VARIANT = "primary"
MAX_INSTANCES = 16


def parse_model(model: str) -> tuple[str, int]:
    group, sep, version = model.rpartition(":")
    if not sep or not group or not version.isdigit():
        raise InvalidRequest(
            f"The model must be given as GROUP:VERSION (for example churn:3); got {model!r}.")
    return group, int(version)


class EndpointService:
    def __init__(self, repo: EndpointRepository, registry: RegistryService) -> None:
        self.repo = repo
        self.registry = registry
        self.supervisor: EndpointSupervisor | None = None

    def create(self, name: str, model: str, *, instances: int = 1,
               capture_percent: float = 0.0, allow_unapproved: bool = False,
               actor: str | None = None, actor_role: str | None = None) -> EndpointRecord:
        """Record a new endpoint (Creating); the supervisor deploys it in the background."""
        check_name(name, "endpoint name")
        group, version = parse_model(model)
        if not 1 <= instances <= MAX_INSTANCES:
            raise InvalidRequest(
                f"An endpoint runs 1 to {MAX_INSTANCES} instances per variant; got {instances}.")
        if not 0 <= capture_percent <= 100:
            raise InvalidRequest(
                f"capture_percent is a percentage from 0 to 100; got {capture_percent}.")
        rec = self.registry.get(group, version)
        if rec.status != APPROVED:
            if not allow_unapproved:
                raise Conflict(
                    f"Model {group}:{version} is {rec.status}; only Approved versions are "
                    "deployed (an admin may pass allow_unapproved).")
            if actor_role != "admin":
                raise Forbidden(
                    f"Model {group}:{version} is {rec.status}, and only an admin may deploy "
                    "an unapproved version with allow_unapproved.")
        spec = {
            "variants": [{"name": DEFAULT_VARIANT, "model_group": group,
                          "model_version": version, "weight": 1.0, "instances": instances}],
            "capture_percent": float(capture_percent),
            "allow_unapproved": bool(allow_unapproved),
        }
        created = self.repo.create(name, CREATING, spec, actor)
        if self.supervisor is not None:
            self.supervisor.deploy(created)
        return created

    def get(self, name: str) -> EndpointRecord:
        return self.repo.get(name)

    def list(self) -> list[EndpointRecord]:
        return self.repo.list()

    def delete(self, name: str, actor: str | None) -> None:
        rec = self.repo.get(name)
        if rec.status != DELETING:
            self.repo.update(name, status=DELETING, actor=actor)
        if self.supervisor is not None:
            self.supervisor.remove(name)
        self.repo.delete(name, actor)


def endpoint_to_dict(rec: EndpointRecord, supervisor: EndpointSupervisor | None,
                     base_url: str | None = None) -> dict[str, Any]:
    live = supervisor.snapshot(rec.name) if supervisor is not None else {}
    variants = []
    for v in rec.spec.get("variants", []):
        insts = live.get(v["name"], [])
        variants.append({**v, "model": f"{v['model_group']}:{v['model_version']}",
                         "instance_list": insts,
                         "healthy_instances": sum(1 for i in insts if i["healthy"])})
    doc: dict[str, Any] = {
        "name": rec.name,
        "status": rec.status,
        "reason": rec.reason,
        "capture_percent": rec.spec.get("capture_percent", 0.0),
        "variants": variants,
        "instances": sum(len(v["instance_list"]) for v in variants),
        "healthy_instances": sum(v["healthy_instances"] for v in variants),
        "invocations": sum(i["invocations"] for v in variants for i in v["instance_list"]),
        "restarts": sum(i["restarts"] for v in variants for i in v["instance_list"]),
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "created_by": rec.created_by,
    }
    if base_url:
        doc["url"] = f"{base_url.rstrip('/')}/api/v1/endpoints/{rec.name}/invocations"
    return doc
