"""Pipeline triggers from Python: what starts a pipeline's executions on its own.

::

    from shipyard.client._pipeline_triggers import create_trigger, list_triggers

    create_trigger("churn-retrain", on="schedule", every="1d")
    create_trigger("churn-retrain", on="git", repo="/srv/git/churn", branch="main")
    create_trigger("churn-retrain", on="model_approval", group="churn")
    create_trigger("churn-retrain", on="monitor_alert", monitor="churn-watch")
    create_trigger("churn-retrain", on="dataset_version", dataset="churn",
                parameters={"min_auc": 0.8})

Each returns the trigger as the API shows it (``id``, ``kind``, ``config``,
``parameters``, ``state``…); see docs/pipeline-triggers.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from shipyard.client._client import Client, default_client


def _path(pipeline: str, suffix: str = "") -> str:
    return f"/pipelines/{quote(pipeline, safe='')}/triggers{suffix}"


def create_trigger(pipeline: str, on: str, *, parameters: Mapping[str, Any] | None = None,
                client: Client | None = None, **config: Any) -> dict[str, Any]:
    """Create a trigger of kind ``on`` (schedule, git, model_approval, monitor_alert,
    dataset_version) with its config (``every``/``cron``, ``repo``/``branch``, ``group``,
    ``monitor``, ``dataset``) and fixed ``parameters`` for the executions it starts."""
    body = {"kind": on, "config": config, "parameters": dict(parameters or {})}
    return dict((client or default_client()).post(_path(pipeline), body))


def list_triggers(pipeline: str, *, client: Client | None = None) -> list[dict[str, Any]]:
    """The pipeline's triggers, oldest first."""
    return list((client or default_client()).get(_path(pipeline)))


def delete_trigger(pipeline: str, trigger_id: int, *,
                   client: Client | None = None) -> dict[str, Any]:
    """Delete a trigger (its executions stay); the API's DELETE answer."""
    return dict((client or default_client()).delete(_path(pipeline, f"/{int(trigger_id)}")))


def fire_commit(pipeline: str, trigger_id: int, commit: str, branch: str | None = None, *,
                client: Client | None = None) -> tuple[dict[str, Any], bool]:
    """Report a commit to a git trigger (what its hook does); return the execution and
    whether this call started it (False: the commit had started it already)."""
    body: dict[str, Any] = {"commit": commit}
    if branch is not None:
        body["branch"] = branch
    response = (client or default_client()).request(
        "POST", _path(pipeline, f"/{int(trigger_id)}/commits"), json=body)
    return dict(response.json()), response.status_code == 201
