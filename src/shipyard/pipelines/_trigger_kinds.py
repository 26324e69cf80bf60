"""The kinds of pipeline trigger, what each one's config holds, and the checks on it.

=================  ======================================  ===============================
kind               config                                  parameters it passes
=================  ======================================  ===============================
schedule           ``every`` ("15m") or ``cron``           none
git                ``repo`` (absolute path), ``branch``    commit, branch, repository
model_approval     ``group``                               model_version, when declared
monitor_alert      ``monitor``                             none
dataset_version    ``dataset``                             dataset ("name:version"), when
                                                           declared
=================  ======================================  ===============================

Each check raises one :class:`~shipyard.errors.InvalidRequest` (a 400) saying what was
wrong and how to fix it. Existence checks of the group, monitor and dataset need the
services and live in :class:`~shipyard.pipelines._triggers.TriggerService`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.names import check_name, closest
from shipyard.pipelines._definition import Definition, coerce
from shipyard.pipelines._git import check_branch, check_repository
from shipyard.scheduling import Schedule

KINDS = ("schedule", "git", "model_approval", "monitor_alert", "dataset_version")
#: The config fields of each kind.
FIELDS: dict[str, tuple[str, ...]] = {
    "schedule": ("every", "cron"),
    "git": ("repo", "branch"),
    "model_approval": ("group",),
    "monitor_alert": ("monitor",),
    "dataset_version": ("dataset",),
}
#: The parameters each kind passes to the executions it starts (git's always; the others'
#: only when the definition declares them).
NATURAL: dict[str, tuple[str, ...]] = {
    "schedule": (),
    "git": ("commit", "branch", "repository"),
    "model_approval": ("model_version",),
    "monitor_alert": (),
    "dataset_version": ("dataset",),
}
#: The kinds that react to events of the log, by event kind.
EVENT_KINDS = {"model_version.status_changed": "model_approval",
               "monitor.alert": "monitor_alert",
               "dataset.version_created": "dataset_version"}
MAX_PARAMETERS = 100


def check_kind(kind: object) -> str:
    """The kind, spelled as the API spells it (``model-approval`` → ``model_approval``)."""
    text = kind.strip().lower().replace("-", "_") if isinstance(kind, str) else ""
    if text not in KINDS:
        hint = closest(text, KINDS) if text else []
        raise InvalidRequest(f"Unknown trigger kind {kind!r}"
                             + (f" (did you mean {hint[0]!r}?)" if hint else "")
                             + f"; use one of {', '.join(KINDS)}.")
    return text


def check_fields(kind: str, config: object) -> dict[str, Any]:
    """``config`` as a dict holding only the fields of ``kind``."""
    if not isinstance(config, Mapping):
        raise InvalidRequest(f"A trigger's config is a JSON object; got {type(config).__name__}.")
    allowed = FIELDS[kind]
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise InvalidRequest(f"A {kind} trigger takes {' and '.join(allowed)}; it has no "
                             f"{unknown[0]!r}.")
    return dict(config)


def check_schedule(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"every": "1h"}`` or ``{"cron": "0 6 * * *"}``, normalised."""
    schedule = Schedule.parse(every=config.get("every"), cron=config.get("cron"))
    return {"every": schedule.every} if schedule.every else {"cron": schedule.cron}


def check_git(config: Mapping[str, Any], protected: Sequence[Path]) -> dict[str, Any]:
    """``{"repo": "/abs/path", "branch": "main"}`` with the path resolved."""
    if "repo" not in config:
        raise InvalidRequest("A git trigger needs repo, the absolute path of a local git "
                             "repository on the server.")
    repo = check_repository(config["repo"], protected)
    return {"repo": str(repo), "branch": check_branch(config.get("branch"))}


def check_named(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The one name an event trigger watches (group, monitor or dataset), checked."""
    (field,) = FIELDS[kind]
    if field not in config:
        raise InvalidRequest(f"A {kind} trigger needs {field}, the name of the {field} it "
                             "watches.")
    return {field: check_name(config[field], f"{field} name")}


def check_parameters(defn: Definition, kind: str, parameters: object) -> dict[str, Any]:
    """The fixed parameters a trigger passes, typed by the definition; every parameter
    without a default must be among them or among the kind's natural ones."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise InvalidRequest("A trigger's parameters are a JSON object of NAME: VALUE; got "
                             f"{type(parameters).__name__}.")
    if len(parameters) > MAX_PARAMETERS:
        raise InvalidRequest(f"A trigger passes at most {MAX_PARAMETERS} parameters; got "
                             f"{len(parameters)}.")
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        p = defn.parameter(name)
        if p is None:
            hint = closest(name, [q.name for q in defn.parameters])
            raise InvalidRequest(f"Pipeline {defn.name!r} has no parameter {name!r}"
                                 + (f" (did you mean {hint[0]!r}?)" if hint else "")
                                 + "; declare it in the definition or leave it out.")
        try:
            out[name] = coerce(p.type, value, f"parameter {name!r}")
        except ValueError as exc:
            raise InvalidRequest(f"The trigger's {exc}.") from None
    natural = NATURAL[kind]
    missing = [p.name for p in defn.parameters
               if p.default is None and p.name not in out and p.name not in natural]
    if missing:
        raise InvalidRequest(f"Parameter {missing[0]!r} of pipeline {defn.name!r} has no "
                             f"default and a {kind} trigger does not pass it; give it with "
                             f"--param {missing[0]}=VALUE.")
    return out
