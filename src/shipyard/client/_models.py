"""The model registry: ``sy.ModelGroup``, ``sy.ModelVersion`` and model cards."""

from __future__ import annotations

import builtins
import json
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.client._lineage import Lineage
from shipyard.client._training import flat_metrics
from shipyard.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client._endpoints import Endpoint

PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
CARD_FIELDS = ("intended_use", "limitations", "ethical_considerations", "caveats")
#: The folder a job's model files sit in among its artifacts (``model/MODEL.json``).
MODEL_PREFIX = "model/"


def register(client: Client, group: str, job_id: str, *, override_criteria: str | None = None,
             card: dict[str, str] | None = None,
             description: str | None = None, candidate: int | None = None) -> ModelVersion:
    """Register a Completed job's model as a new version of ``group`` (an AutoML job's
    final model, or its candidate numbered ``candidate``)."""
    body: dict[str, object] = {"job_id": job_id, "override_criteria": override_criteria,
                               "card": card, "description": description}
    if candidate is not None:
        body["candidate"] = candidate
    doc = client.post(f"/models/{quote(group, safe='')}/versions", body)  # CriteriaNotMet: 409
    return ModelVersion(group, int(doc["version"]), client=client, _doc=doc)


class ModelCard(str):
    """A model card's Markdown text; Jupyter shows it rendered."""

    __slots__ = ()

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        from markdown_it import MarkdownIt

        html = MarkdownIt("commonmark", {"html": False}).enable("table").render(str(self))
        return f"<div class='shipyard-model-card'>{html}</div>"


class ModelVersion(Resource):
    """One registered model: ``sy.ModelVersion("churn", 3)``.

    A new version waits in PendingManualApproval until an approver approves or
    rejects it, with a comment.
    """

    def __init__(self, group: str, version: int, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.group = group
        self.version = int(version)
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/models/{quote(self.group, safe='')}/versions/{self.version}{suffix}"

    @classmethod
    def get(cls, group: str, version: int, *, client: Client | None = None) -> ModelVersion:
        return cls(group, version, client=client)

    # -- state ------------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    @property
    def status(self) -> str:
        return str(self._doc.get("status"))

    @property
    def job_id(self) -> str | None:
        return self._doc.get("job_id")

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics nested by split: ``{"test": {"roc_auc": 0.84}}``."""
        return dict(self._doc.get("metrics") or {})

    @property
    def training_data(self) -> builtins.list[dict[str, Any]]:
        """The dataset versions it was trained on, as recorded when it was registered:
        ``[{"channel", "dataset", "version", "content_hash", "rows"}]``."""
        return list((self._doc.get("lineage") or {}).get("datasets") or [])

    def lineage(self, direction: str = "both", depth: int | None = None) -> Lineage:
        """What made this version (upstream: its job, the dataset versions it read) and what
        it made (downstream: endpoints serving it, their monitors, jobs that used it)."""
        return Lineage(f"model:{self.group}:{self.version}", direction, depth,
                       client=self.client)

    @property
    def criteria(self) -> dict[str, Any]:
        """The success-criteria verdict at registration (``passed``, ``results``, ``override``)."""
        return dict(self._doc.get("criteria") or {})

    def manifest(self) -> dict[str, Any]:
        """The bundle's MODEL.json: signature, classes, recipe, split, metrics, lineage."""
        return json.loads(self.client.get_bytes(self._path("/files/MODEL.json")))

    @property
    def files(self) -> builtins.list[dict[str, Any]]:
        """The bundle's files: ``path``, ``sha256``, ``size``."""
        return list((self._doc.get("bundle") or {}).get("files") or [])

    # -- approval ---------------------------------------------------------------------------
    def approve(self, comment: str) -> ModelVersion:
        """Approve the version (approver or admin token); return self."""
        self._doc = self.client.post(self._path("/approve"), {"comment": comment})
        return self

    def reject(self, comment: str) -> ModelVersion:
        """Reject the version (approver or admin token); return self."""
        self._doc = self.client.post(self._path("/reject"), {"comment": comment})
        return self

    # -- card -------------------------------------------------------------------------------
    @property
    def card(self) -> ModelCard:
        """The model card as Markdown, fetched from the server (rendered in Jupyter)."""
        text = self.client.get_bytes(self._path("/card"), format="markdown")
        return ModelCard(text.decode("utf-8"))

    @property
    def card_fields(self) -> dict[str, Any]:
        """The model card as data (description, intended_use, limitations, metrics…)."""
        return dict(self._doc.get("card") or {})

    def update_card(self, **fields: str) -> ModelVersion:
        """Write card fields: intended_use, limitations, ethical_considerations, caveats."""
        unknown = sorted(set(fields) - set(CARD_FIELDS))
        if unknown:
            raise InvalidRequest(
                f"Model card fields {', '.join(unknown)} cannot be edited; editable fields: "
                f"{', '.join(CARD_FIELDS)}."
            )
        self.client.patch(self._path("/card"), {k: str(v) for k, v in fields.items()})
        return self.refresh()

    # -- files ------------------------------------------------------------------------------
    def download(self, dest_dir: str | Path) -> Path:
        """Download the bundle's files into ``dest_dir`` (MODEL.json at its top); return it."""
        dest = Path(dest_dir).expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for entry in self.files:
            path = str(entry["path"])
            target = (root / _local_path(path)).resolve()
            if not target.is_relative_to(root):  # pragma: no cover - _local_path refuses it
                raise InvalidRequest(f"Refusing to write the bundle file {path!r} outside {dest}.")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.client.download(self._path(f"/files/{quote(path)}"), target,
                                 what=f"{path!r} of model {self.group}:{self.version}",
                                 sha256=entry.get("sha256"))
        return dest

    # -- deploy -----------------------------------------------------------------------------
    def deploy(self, name: str, instances: int = 1, capture_percent: float = 0.0,
               allow_unapproved: bool = False, wait: bool = True) -> Endpoint:
        """Deploy this version as real-time endpoint ``name``; wait until InService."""
        from shipyard.client._endpoints import create_endpoint

        return create_endpoint(self.client, name, f"{self.group}:{self.version}",
                               instances=instances, capture_percent=capture_percent,
                               allow_unapproved=allow_unapproved, wait=wait)

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<ModelVersion {self.group}:{self.version} {self.status}>"

    def _repr_html_(self) -> str:
        return _render.model_version_html(self._doc)


def _local_path(path: str) -> PurePosixPath:
    """A bundle file's path below the download folder (a ``model/`` prefix dropped).

    The paths come from the server; one that could leave the folder is refused.
    """
    p = PurePosixPath(path.removeprefix(MODEL_PREFIX))
    if p.is_absolute() or ".." in p.parts or "\\" in path or not p.parts:
        raise InvalidRequest(f"Refusing the unsafe bundle file path {path!r}.")
    return p


class ModelGroup(Resource):
    """A model group: the versions of one model, ``sy.ModelGroup("churn")``."""

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/models/{quote(self.name, safe='')}{suffix}"

    @classmethod
    def get(cls, name: str, *, client: Client | None = None) -> ModelGroup:
        return cls(name, client=client)

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        """Every model group, with its latest and latest approved versions."""
        import pandas as pd

        docs = (client or default_client()).get("/models")
        columns = ["name", "versions", "latest_version", "latest_status",
                   "latest_approved_version", "description", "updated_at"]
        return pd.DataFrame([{c: d.get(c) for c in columns} for d in docs], columns=columns)

    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self._doc.get("settings") or {})

    def update_settings(self, **settings: Any) -> ModelGroup:
        """Merge ``settings`` into the group's settings; return self."""
        self.client.patch(self._path(), {"settings": settings})
        return self.refresh()

    def auto_deploy(self, endpoint: str | None, *, instances: int = 1,
                    variant: str | None = None) -> ModelGroup:
        """Deploy each version approved from now on to ``endpoint`` (None turns it off).

        The endpoint is created with the approved version if it does not exist, or rolled
        over to it without downtime if it does; ``variant`` names the variant to roll
        over when the endpoint has several. Outcomes are the endpoint's events
        (``endpoint.auto_deployed``, ``endpoint.auto_deploy_failed``).
        """
        setting = None if endpoint is None else {
            "endpoint": endpoint, "instances": instances,
            **({"variant": variant} if variant else {})}
        return self.update_settings(auto_deploy=setting)

    def delete(self, force: bool = False) -> dict[str, Any]:
        """Delete the group and its versions (its creator or an admin); files stay.

        Returns:
            The API's one DELETE answer: ``{"kind": "model_group", "name", "status": "Deleted",
            "forced", "deleted": {...counts}}``.

        Raises:
            Conflict: an endpoint serves one of its versions, or an unfinished job or a
                schedule uses it; an admin may pass ``force=True`` (audited).
        """
        return dict(self.client.delete(self._path(), force=force or None))

    def versions(self) -> pd.DataFrame:
        """One row per version: status, job, criteria verdict, metrics (flat names)…"""
        return versions_frame(self.version_docs())

    def version_docs(self) -> builtins.list[dict[str, Any]]:
        """Every version as the server documents it, oldest first."""
        return list(self.client.get(self._path("/versions")))

    def version(self, version: int) -> ModelVersion:
        return ModelVersion(self.name, version, client=self._client)

    def latest(self, status: str | None = APPROVED) -> ModelVersion:
        """The newest version with ``status`` (None: the newest of any status).

        Raises:
            NotFound: the group has no version with that status.
        """
        doc = self.client.get(self._path("/latest"), status=status or "")
        return ModelVersion(self.name, int(doc["version"]), client=self._client, _doc=doc)

    def __repr__(self) -> str:
        return f"<ModelGroup {self.name} ({self._doc.get('versions', '?')} versions)>"

    def _repr_html_(self) -> str:
        docs = self._doc.get("version_list")
        if not isinstance(docs, builtins.list):
            docs = self.version_docs()
        return _render.model_group_html(self._doc, docs)


def versions_frame(docs: builtins.list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    metric_names = sorted({k for d in docs for k in flat_metrics(d.get("metrics"))})
    rows = []
    for d in docs:
        crit = d.get("criteria") or {}
        row = {"version": d.get("version"), "status": d.get("status"), "job_id": d.get("job_id"),
               "passed": crit.get("passed"), "override": bool(crit.get("override")),
               "created_at": d.get("created_at"), "created_by": d.get("created_by"),
               "status_comment": d.get("status_comment")}
        flat = flat_metrics(d.get("metrics"))
        row.update({k: flat.get(k) for k in metric_names})
        rows.append(row)
    columns = ["version", "status", "job_id", "passed", "override", "created_at", "created_by",
               "status_comment", *metric_names]
    return pd.DataFrame(rows, columns=columns)


def algorithms(*, client: Client | None = None) -> pd.DataFrame:
    """The built-in training algorithms: name, problem types, framework, hyperparameters."""
    import pandas as pd

    docs = (client or default_client()).get("/algorithms")
    columns = ["name", "problem_types", "framework", "description", "hyperparameters"]
    rows = [{"name": d.get("name"), "problem_types": sorted(d.get("problem_types") or []),
             "framework": d.get("framework"), "description": d.get("description"),
             "hyperparameters": [h.get("name") for h in d.get("hyperparameters") or []]}
            for d in docs]
    return pd.DataFrame(rows, columns=columns)


def hyperparameters(algorithm: str, *, client: Client | None = None) -> pd.DataFrame:
    """The hyperparameters ``algorithm`` takes: type, default, range or choices."""
    import pandas as pd

    doc = (client or default_client()).get(f"/algorithms/{quote(algorithm, safe='')}")
    columns = ["name", "type", "default", "low", "high", "log", "choices", "description"]
    return pd.DataFrame([{c: h.get(c) for c in columns} for h in doc.get("hyperparameters") or []],
                        columns=columns)
