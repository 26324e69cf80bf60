"""Approval → deploy: a registry group setting that deploys each newly approved version.

A model group's settings may hold::

    {"auto_deploy": {"endpoint": "churn", "instances": 1, "variant": "primary"}}

When a version of that group becomes Approved (the ``model_version.status_changed``
event, delivered by the control plane's :class:`~shipyard.events.EventDispatcher`),
the endpoint is created with that version if it does not exist, or rolled over to
it (a zero-downtime update of the named variant, or of its only variant) if it does.
An endpoint that is busy (Creating or Updating) is waited for, up to
:data:`WAIT_SECONDS`. The deployment is audited under the actor ``auto-deploy``
with the approver named; a deployment that cannot happen records
``endpoint.auto_deploy_failed`` with the reason, so it is never silent.

Approvals made while the control plane is down are not replayed: the dispatcher
delivers the events committed after it starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from shipyard.endpoints._service import CREATING, IN_SERVICE, UPDATING, EndpointService
from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.names import check_name
from shipyard.registry import APPROVED, RegistryService
from shipyard.store import EventRecord

SETTING = "auto_deploy"
ACTOR = "auto-deploy"
#: How long a deployment waits for a busy endpoint (Creating, Updating) to settle.
WAIT_SECONDS = 600.0

log = logging.getLogger("shipyard.endpoints")


def check_auto_deploy(value: Any) -> dict[str, Any] | None:
    """The validated ``auto_deploy`` setting (None turns it off); one-sentence errors."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("endpoint"), str):
        raise InvalidRequest(
            "The auto_deploy setting must be an object naming the endpoint, e.g. "
            '{"endpoint": "churn", "instances": 1}; or null to turn it off.')
    unknown = sorted(set(value) - {"endpoint", "instances", "variant"})
    if unknown:
        raise InvalidRequest(f"The auto_deploy setting has no field {unknown[0]!r}; its fields "
                             "are endpoint, instances and variant.")
    out: dict[str, Any] = {"endpoint": check_name(value["endpoint"], "endpoint name")}
    instances = value.get("instances", 1)
    if not isinstance(instances, int) or isinstance(instances, bool) or not 1 <= instances <= 64:
        raise InvalidRequest(f"auto_deploy.instances must be a whole number from 1 to 64; "
                             f"got {instances!r}.")
    out["instances"] = instances
    if value.get("variant") is not None:
        out["variant"] = check_name(str(value["variant"]), "variant name")
    return out


class AutoDeployer:
    """The event subscriber that carries out ``auto_deploy`` (see the module doc)."""

    def __init__(self, registry: RegistryService, endpoints: EndpointService,
                 wait_seconds: float = WAIT_SECONDS) -> None:
        self.registry = registry
        self.endpoints = endpoints
        self.wait_seconds = wait_seconds
        self._threads: set[threading.Thread] = set()

    def __call__(self, event: EventRecord) -> None:
        if event.payload.get("status") != APPROVED:
            return
        group, version = event.payload.get("group"), event.payload.get("version")
        if not isinstance(group, str) or not isinstance(version, int):
            return
        try:
            setting = check_auto_deploy(self.registry.group(group).settings.get(SETTING))
        except ShipyardError as exc:  # the group was deleted, or its setting is broken
            log.warning("auto-deploy of %s:%s skipped: %s", group, version, exc)
            return
        if setting is None:
            return
        # A busy endpoint is waited for off the dispatcher's thread, so other events flow.
        thread = threading.Thread(target=self._deploy, args=(group, version, setting,
                                                             event.actor),
                                  name=f"auto-deploy-{group}-{version}", daemon=True)
        self._threads.add(thread)
        thread.start()

    def _deploy(self, group: str, version: int, setting: dict[str, Any],
                approver: str | None) -> None:
        name, model = setting["endpoint"], f"{group}:{version}"
        try:
            deadline = time.monotonic() + self.wait_seconds
            while True:
                rec = self.endpoints.repo.find(name)
                if rec is None:
                    # The endpoint belongs to the group's owner, who may then change it.
                    self.endpoints.create(name, model, instances=setting["instances"],
                                          actor=ACTOR, actor_role="admin",
                                          owner=self.registry.group(group).created_by)
                    break
                if rec.status == IN_SERVICE and self._serving(name):
                    self._update(name, model, setting)
                    break
                if rec.status not in (CREATING, UPDATING) or time.monotonic() > deadline:
                    raise InvalidRequest(
                        f"Endpoint {name!r} is {rec.status}; auto-deploy updates only an "
                        "InService endpoint. Fix or delete it, then approve again.")
                time.sleep(1.0)
            self.endpoints.repo.record(name, "endpoint.auto_deployed", ACTOR, model=model,
                                       approved_by=approver)
        except ShipyardError as exc:
            log.warning("auto-deploy of %s to %s failed: %s", model, name, exc.message)
            self.endpoints.repo.record(name, "endpoint.auto_deploy_failed", ACTOR, model=model,
                                       reason=exc.message)
        finally:
            self._threads.discard(threading.current_thread())

    def _serving(self, name: str) -> bool:
        sup = self.endpoints.supervisor
        return sup is not None and sup.status(name) == IN_SERVICE

    def _update(self, name: str, model: str, setting: dict[str, Any]) -> None:
        rec = self.endpoints.repo.get(name)
        variants = rec.spec.get("variants", [])
        target = setting.get("variant")
        if target is None and len(variants) == 1:
            self.endpoints.update(name, model=model, instances=setting["instances"],
                                  actor=ACTOR, actor_role="admin")
            return
        if target is None or not any(v["name"] == target for v in variants):
            raise InvalidRequest(
                f"Endpoint {name!r} has variants {[v['name'] for v in variants]}; set "
                "auto_deploy.variant to the one that takes newly approved versions.")
        self.endpoints.update(name, variants=[{
            "name": v["name"],
            "model": model if v["name"] == target
            else f"{v['model_group']}:{v['model_version']}",
            "weight": v.get("weight", 1.0),
            "instances": setting["instances"] if v["name"] == target else v.get("instances", 1),
            "shadow": v.get("shadow", False)} for v in variants],
            actor=ACTOR, actor_role="admin")
