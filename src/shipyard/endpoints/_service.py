"""What an endpoint is and who may deploy what: validation, records, events."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import Conflict, Forbidden, InvalidRequest, Unprocessable
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
_NO_STATS = {"invocations": 0, "errors": 0, "p50_ms": None, "p99_ms": None, "window": 0}
MAX_INSTANCES = 16
#: The autoscaling settings, by their one name in the API, the SDK, the CLI
#: (``--min-instances`` …, ``--cooldown``) and the docs, with their defaults
#: (``max_instances`` has none: without it an endpoint would never scale out).
AUTOSCALING_DEFAULTS: dict[str, float | None] = {
    "min_instances": 1, "max_instances": None, "target_concurrency": 4.0,
    "cooldown_seconds": 60.0}
#: What an instance does with a category its model never saw in training.
UNSEEN_CATEGORIES = ("allow", "warn", "refuse")
#: Warn: the answer is given, the rows are counted, and the answer says so.
DEFAULT_UNSEEN_CATEGORIES = "warn"


def unknown_autoscaling_keys(auto: Mapping[str, Any]) -> str | None:
    """The sentence refusing keys that are not autoscaling settings (None: all are known)."""
    unknown = [str(k) for k in auto if k not in AUTOSCALING_DEFAULTS]
    if not unknown:
        return None
    hints = []
    for key in unknown:
        close = [k for k in AUTOSCALING_DEFAULTS if k.startswith(key.lower())] or \
            difflib.get_close_matches(key, list(AUTOSCALING_DEFAULTS), n=1, cutoff=0.6)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]}?)" if close else ""))
    keys = "key " if len(unknown) == 1 else "keys "
    return (f"autoscaling has no {keys}{', '.join(hints)}; its keys are "
            f"{', '.join(AUTOSCALING_DEFAULTS)}.")


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

    def _check_model(self, model: str, allow_unapproved: bool,
                     actor_role: str | None) -> tuple[str, int]:
        group, version = parse_model(model)
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
        return group, version

    def _variants(self, variants: list[dict[str, Any]], allow_unapproved: bool,
                  actor_role: str | None) -> list[dict[str, Any]]:
        """Validated spec variants from ``[{name, model, weight, instances, shadow}]``."""
        if not variants:
            raise InvalidRequest("An endpoint needs at least one variant.")
        out: list[dict[str, Any]] = []
        for v in variants:
            name = str(v.get("name") or DEFAULT_VARIANT)
            check_name(name, "variant name")
            if any(o["name"] == name for o in out):
                raise InvalidRequest(f"Variant names must be unique; {name!r} appears twice.")
            if not v.get("model"):
                raise InvalidRequest(f"Variant {name!r} needs a model (GROUP:VERSION).")
            instances = int(v.get("instances", 1))
            if not 1 <= instances <= MAX_INSTANCES:
                raise InvalidRequest(f"An endpoint runs 1 to {MAX_INSTANCES} instances per "
                                     f"variant; got {instances}.")
            weight = float(v.get("weight", 1.0))
            if weight < 0:
                raise InvalidRequest(f"Variant {name!r} has a negative weight ({weight:g}).")
            group, version = self._check_model(str(v["model"]), allow_unapproved, actor_role)
            out.append({"name": name, "model_group": group, "model_version": version,
                        "weight": weight, "instances": instances,
                        "shadow": bool(v.get("shadow", False))})
        production = [v for v in out if not v["shadow"]]
        if not production:
            raise InvalidRequest("An endpoint needs at least one variant that is not a shadow.")
        if sum(v["weight"] for v in production) <= 0:
            raise InvalidRequest("The weights of the production variants must not all be 0.")
        self._same_inputs(out)
        return out

    def _same_inputs(self, variants: list[dict[str, Any]]) -> None:
        """Refuse variants whose models read different columns.

        Each request goes to one variant picked by weight (and a copy to each shadow), and
        an instance refuses a missing or an unknown column, so a request that fits one
        variant would fail on another at random. A model without a signature is not checked.
        """
        first: tuple[dict[str, Any], set[str]] | None = None
        for v in variants:
            rec = self.registry.get(v["model_group"], int(v["model_version"]))
            signature = ((rec.bundle or {}).get("manifest") or {}).get("input_signature")
            if not signature:
                continue
            columns = {str(e["name"]) for e in signature}
            if first is None:
                first = (v, columns)
                continue
            if columns != first[1]:
                a, b = first[0], v

                def only(x: set[str], y: set[str]) -> str:
                    return ", ".join(sorted(x - y)[:8]) or "nothing else"
                raise InvalidRequest(
                    f"Variants {a['name']!r} ({a['model_group']}:{a['model_version']}) and "
                    f"{b['name']!r} ({b['model_group']}:{b['model_version']}) read different "
                    f"columns: only {a['name']!r} reads {only(first[1], columns)}; only "
                    f"{b['name']!r} reads {only(columns, first[1])}. Each request goes to one "
                    "variant (and a copy to each shadow), so it would fail on the other; deploy "
                    "models of other inputs as endpoints of their own.", field="variants")

    @staticmethod
    def _autoscaling(auto: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Validated ``{min_instances, max_instances, target_concurrency, cooldown_seconds}``.

        Raises:
            Unprocessable: a key that is not one of these (422, naming it).
            InvalidRequest: a value out of range, or no ``max_instances``.
        """
        if not auto:
            return None
        unknown = unknown_autoscaling_keys(auto)
        if unknown:
            raise Unprocessable(unknown)
        given = {**{k: v for k, v in AUTOSCALING_DEFAULTS.items() if v is not None},
                 **{k: v for k, v in auto.items() if v is not None}}
        if "max_instances" not in given:
            raise InvalidRequest("autoscaling needs max_instances, the most instances to scale "
                                 "out to (min_instances is 1 unless given).")
        try:
            lo = int(given["min_instances"])
            hi = int(given["max_instances"])
            target = float(given["target_concurrency"])
            cooldown = float(given["cooldown_seconds"])
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"autoscaling takes numbers: {exc}.") from None
        if not 1 <= lo <= hi <= MAX_INSTANCES:
            raise InvalidRequest(f"autoscaling needs 1 <= min_instances <= max_instances <= "
                                 f"{MAX_INSTANCES}; got {lo} and {hi}.")
        if target <= 0 or cooldown < 0:
            raise InvalidRequest("autoscaling needs target_concurrency > 0 and "
                                 "cooldown_seconds >= 0.")
        return {"min_instances": lo, "max_instances": hi, "target_concurrency": target,
                "cooldown_seconds": cooldown}

    @staticmethod
    def _unseen(mode: str | None) -> str:
        value = DEFAULT_UNSEEN_CATEGORIES if mode is None else str(mode).lower()
        if value not in UNSEEN_CATEGORIES:
            raise InvalidRequest(f"unseen_categories is one of {', '.join(UNSEEN_CATEGORIES)}; "
                                 f"got {mode!r}.")
        return value

    @staticmethod
    def _clamp(variants: list[dict[str, Any]],
               auto: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Production variants start within the autoscaling bounds."""
        if auto is None:
            return variants
        return [v if v.get("shadow") else
                {**v, "instances": min(max(v["instances"], auto["min_instances"]),
                                       auto["max_instances"])} for v in variants]

    @staticmethod
    def _capture(capture_percent: float) -> float:
        if not 0 <= capture_percent <= 100:
            raise InvalidRequest(
                f"capture_percent is a percentage from 0 to 100; got {capture_percent}.")
        return float(capture_percent)

    def create(self, name: str, model: str | None = None, *, instances: int = 1,
               variants: list[dict[str, Any]] | None = None,
               capture_percent: float = 0.0, allow_unapproved: bool = False,
               autoscaling: Mapping[str, Any] | None = None,
               unseen_categories: str | None = None,
               actor: str | None = None, actor_role: str | None = None,
               owner: str | None = None) -> EndpointRecord:
        """Record a new endpoint (Creating); the supervisor deploys it in the background.

        ``owner`` is recorded as its creator when someone else acts for them (auto-deploy
        acts for the model group's owner); by default the creator is ``actor``.
        """
        check_name(name, "endpoint name")
        if variants and model:
            raise InvalidRequest("Give either model (one variant) or variants, not both.")
        if not variants:
            if not model:
                raise InvalidRequest("Give the model to deploy as GROUP:VERSION, or variants.")
            parse_model(model)
            variants = [{"name": DEFAULT_VARIANT, "model": model, "instances": instances}]
        auto = self._autoscaling(autoscaling)
        spec: dict[str, Any] = {
            "variants": self._clamp(self._variants(variants, allow_unapproved, actor_role),
                                    auto),
            "capture_percent": self._capture(capture_percent),
            "allow_unapproved": bool(allow_unapproved),
            "unseen_categories": self._unseen(unseen_categories),
        }
        if auto is not None:
            spec["autoscaling"] = auto
        created = self.repo.create(name, CREATING, spec, actor, owner=owner)
        if self.supervisor is not None:
            self.supervisor.deploy(created)
        return created

    def update(self, name: str, *, model: str | None = None, instances: int | None = None,
               variants: list[dict[str, Any]] | None = None,
               capture_percent: float | None = None, allow_unapproved: bool = False,
               autoscaling: Mapping[str, Any] | None = None,
               unseen_categories: str | None = None,
               actor: str | None = None, actor_role: str | None = None) -> EndpointRecord:
        """Start a rolling update (Updating): new instances first, then swap, then drain.

        ``autoscaling`` changes only the settings it gives (``{}`` turns autoscaling off).
        """
        rec = self.repo.get(name)
        if rec.status != IN_SERVICE:
            raise Conflict(f"Endpoint {name!r} is {rec.status}; only an InService endpoint "
                           "can be updated.")
        if self.supervisor is None or self.supervisor.status(name) != IN_SERVICE:
            raise Conflict(f"Endpoint {name!r} is not running on this server right now.")
        if variants and (model or instances is not None):
            raise InvalidRequest("Give either model/instances (one variant) or variants, "
                                 "not both.")
        current = rec.spec.get("variants", [])
        if variants:
            new_variants = self._variants(variants, allow_unapproved, actor_role)
        elif model is not None or instances is not None:
            if len(current) != 1:
                raise InvalidRequest(f"Endpoint {name!r} has {len(current)} variants; give "
                                     "variants to change them.")
            v = current[0]
            new_variants = self._variants([{
                "name": v["name"],
                "model": model or f"{v['model_group']}:{v['model_version']}",
                "weight": v.get("weight", 1.0),
                "instances": v.get("instances", 1) if instances is None else instances,
                "shadow": False}], allow_unapproved, actor_role)
        else:
            new_variants = current
        if capture_percent is None and autoscaling is None and unseen_categories is None \
                and new_variants == current:
            raise InvalidRequest("Nothing to update: give model, instances, variants, "
                                 "capture_percent, autoscaling or unseen_categories.")
        before = rec.spec.get("autoscaling")
        if autoscaling is None:
            auto = before
        elif not autoscaling:
            auto = None
        else:
            unknown = unknown_autoscaling_keys(autoscaling)
            if unknown:
                raise Unprocessable(unknown)
            auto = self._autoscaling({**(before or {}), **{
                k: v for k, v in autoscaling.items() if v is not None}})
        spec = {
            **rec.spec,
            "variants": self._clamp(new_variants, auto),
            "autoscaling": auto,
            "capture_percent": self._capture(rec.spec.get("capture_percent", 0.0)
                                             if capture_percent is None else capture_percent),
            "allow_unapproved": bool(allow_unapproved or rec.spec.get("allow_unapproved")),
            "unseen_categories": self._unseen(rec.spec.get("unseen_categories")
                                              if unseen_categories is None
                                              else unseen_categories),
        }
        updated = self.repo.update(name, status=UPDATING, actor=actor,
                                   event="endpoint.update_started", target=spec)
        self.supervisor.update(name, spec, actor)
        return updated

    def get(self, name: str) -> EndpointRecord:
        return self.repo.get(name)

    def list(self) -> list[EndpointRecord]:
        return self.repo.list()

    def delete(self, name: str, actor: str | None,
               audit: Mapping[str, Any] | None = None) -> None:
        """Stop the endpoint and forget it; ``audit`` goes into the delete event."""
        rec = self.repo.get(name)
        if rec.status != DELETING:
            self.repo.update(name, status=DELETING, actor=actor)
        if self.supervisor is not None:
            self.supervisor.remove(name)
        self.repo.delete(name, actor, **(audit or {}))


def endpoint_to_dict(rec: EndpointRecord, supervisor: EndpointSupervisor | None,
                     base_url: str | None = None, instances: bool = False) -> dict[str, Any]:
    """The endpoint as the API shows it; ``instances`` also asks the running instances what
    they counted (categories the model never saw) — one local request each."""
    live = supervisor.snapshot(rec.name) if supervisor is not None else {}
    stats = supervisor.stats(rec.name) if supervisor is not None else {}
    variants = []
    for v in rec.spec.get("variants", []):
        insts = live.get(v["name"], [])
        variants.append({**v, "shadow": bool(v.get("shadow", False)),
                         "model": f"{v['model_group']}:{v['model_version']}",
                         "instance_list": insts,
                         "healthy_instances": sum(1 for i in insts if i["healthy"]),
                         "stats": stats.get(v["name"], _NO_STATS)})
    doc: dict[str, Any] = {
        "name": rec.name,
        "status": rec.status,
        "reason": rec.reason,
        "capture_percent": rec.spec.get("capture_percent", 0.0),
        "unseen_categories": rec.spec.get("unseen_categories", DEFAULT_UNSEEN_CATEGORIES),
        "autoscaling": rec.spec.get("autoscaling"),
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
    if instances and supervisor is not None:
        doc["unseen"] = supervisor.unseen(rec.name)
    return doc
