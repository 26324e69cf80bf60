"""``sy.hub``: the pre-trained models installed packages ship, their cards, and serving one.

::

    sy.hub.list()                                   # a DataFrame: one row per model
    sy.hub.show("all-minilm-l6-v2")                 # its card (a dict)
    sy.hub.show("all-minilm-l6-v2", measure=True)   # measure its speed here first
    ep = sy.hub.deploy("all-minilm-l6-v2", "embed") # an endpoint: text → 384-d vector
    ep.invoke({"text": "Great tea."})
    sy.hub.deploy("all-minilm-l6-v2", "sim", task="similarity")  # text_a, text_b → cosine

``deploy`` takes the codebase's one path to an endpoint: a job writes the model's files
as a bundle (a script job running ``shipyard.hub._bundle``), the bundle is registered as
a version of model group ``<name>-<task>``, approved (it is the published model, not
trained here; an approver's or admin's token), and deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client._client import Client, default_client
from shipyard.errors import Forbidden, InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client._endpoints import Endpoint

COLUMNS = ["name", "task", "architecture", "parameters", "licence", "installed", "install",
           "size_bytes", "speed"]


def list(*, client: Client | None = None) -> pd.DataFrame:  # noqa: A001 - sy.hub.list()
    """Every hub model as a row (not installed ones with the command that installs them)."""
    import pandas as pd

    docs = (client or default_client()).get("/hub")
    rows = [{**{k: d.get(k) for k in COLUMNS},
             "speed": (d.get("speed") or {}).get("sentences_per_second")} for d in docs]
    return pd.DataFrame(rows, columns=COLUMNS)


def show(name: str, *, measure: bool = False, client: Client | None = None) -> dict[str, Any]:
    """Hub model ``name``'s card; ``measure`` first measures its speed on this machine."""
    c = client or default_client()
    path = f"/hub/{quote(name, safe='')}"
    doc: dict[str, Any] = c.post(f"{path}/measure", {}) if measure else c.get(path)
    return doc


def bundle_script(name: str, task: str) -> str:
    """The job's script: write hub model ``name`` serving ``task`` as a bundle in model/."""
    return ("from shipyard.hub._bundle import main\n"
            f"main([{name!r}, {task!r}])\n")


def deploy(name: str, endpoint: str, *, task: str = "embedding", instances: int = 1,
           timeout: float | None = 900, client: Client | None = None) -> Endpoint:
    """Serve hub model ``name`` as endpoint ``endpoint`` (``task``: embedding | similarity).

    Raises:
        InvalidRequest: a task the model does not serve, or its package not installed.
        JobFailed: the job that writes the bundle failed.
        Forbidden: the token may not approve the version (an approver must; the version
            is left pending, named in the message).
    """
    from shipyard.client._endpoints import create_endpoint
    from shipyard.client._jobs import Job
    from shipyard.client._models import register

    c = client or default_client()
    card = show(name, client=c)
    if task not in card.get("deploy_tasks", []):
        raise InvalidRequest(f"Hub model {name!r} serves the tasks {card.get('deploy_tasks')}; "
                             f"got {task!r}. Pass task='embedding' or task='similarity' "
                             "(--task on the CLI).")
    if not card.get("installed"):
        raise InvalidRequest(f"Hub model {name!r} is not installed on the server; install it "
                             f"there with: {card.get('install')}")
    group = f"{name}-{task}"
    spec = {"kind": "script", "name": f"hub-{group}",
            "script": {"filename": "hub_bundle.py", "source": bundle_script(name, task)},
            "tags": {"hub": name, "task": task}}
    doc = c.post("/jobs", spec)
    job = Job(doc["id"], client=c, _doc=doc).wait(timeout=timeout, progress=False)
    version = register(c, group, job.id,
                       description=f"Hub model {name} served as published ({task}).")
    try:
        version.approve(f"hub model {name}: the published weights, not trained here")
    except Forbidden:
        raise Forbidden(f"Model {group}:{version.version} is registered but this token may "
                        "not approve it; an approver approves it, then deploy it with "
                        f"`shipyard endpoints create {endpoint} --model "
                        f"{group}:{version.version}`.") from None
    return create_endpoint(c, endpoint, f"{group}:{version.version}", instances=instances,
                           wait=True, timeout=timeout)


__all__ = ["bundle_script", "deploy", "list", "show"]
