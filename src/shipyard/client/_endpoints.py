"""Real-time endpoints: ``sy.Endpoint("churn-ep")``, ``ModelVersion.deploy(...)``."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.client._lineage import Lineage
from shipyard.errors import InvalidRequest, ShipyardError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

IN_SERVICE, FAILED = "InService", "Failed"


class EndpointFailed(ShipyardError):
    """The endpoint could not start (its reason says why, with the instance's log tail)."""

    code = "endpoint_failed"


class EndpointUpdateFailed(ShipyardError):
    """A rolling update failed; the endpoint still serves what it served before."""

    code = "endpoint_update_failed"


def autoscaling_body(min_instances: int | None = None, max_instances: int | None = None,
                     target_concurrency: float | None = None,
                     cooldown_seconds: float | None = None) -> dict[str, Any] | None:
    """The API's ``autoscaling`` object from the settings given (None: none given)."""
    given = {"min_instances": min_instances, "max_instances": max_instances,
             "target_concurrency": target_concurrency, "cooldown_seconds": cooldown_seconds}
    body = {k: v for k, v in given.items() if v is not None}
    return body or None


def create_endpoint(client: Client, name: str, model: str | None = None, *, instances: int = 1,
                    variants: list[dict[str, Any]] | None = None,
                    capture_percent: float = 0.0, allow_unapproved: bool = False,
                    min_instances: int | None = None, max_instances: int | None = None,
                    target_concurrency: float | None = None,
                    cooldown_seconds: float | None = None,
                    unseen_categories: str | None = None,
                    wait: bool = True, timeout: float | None = 300) -> Endpoint:
    """Deploy ``model`` (``GROUP:VERSION``) or ``variants`` as endpoint ``name``.

    Each variant is ``{"name", "model", "weight", "instances", "shadow"}``; waits for
    InService unless ``wait`` is False. With ``max_instances`` each production variant
    autoscales between ``min_instances`` (1) and ``max_instances``: one more instance
    while more than ``target_concurrency`` (4) requests per instance are in flight, one
    fewer after ``cooldown_seconds`` (60) without any. ``unseen_categories`` says what an
    instance does with a category the model never saw: ``allow``, ``warn`` (the
    default: answered, counted and said so) or ``refuse`` (422).
    """
    body: dict[str, Any] = {"name": name, "instances": instances,
                            "capture_percent": capture_percent,
                            "allow_unapproved": allow_unapproved}
    if model is not None:
        body["model"] = model
    if variants:
        body["variants"] = variants
    auto = autoscaling_body(min_instances, max_instances, target_concurrency, cooldown_seconds)
    if auto:
        body["autoscaling"] = auto
    if unseen_categories is not None:
        body["unseen_categories"] = unseen_categories
    doc = client.post("/endpoints", body)
    endpoint = Endpoint(name, client=client, _doc=doc)
    return endpoint.wait(timeout=timeout) if wait else endpoint


def _records(rows: Any) -> bytes:
    """JSON records for a DataFrame, a list of dicts or one dict."""
    if isinstance(rows, dict):
        rows = [rows]
    if hasattr(rows, "to_json"):
        return str(rows.to_json(orient="records", date_format="iso")).encode()
    if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
        return json.dumps(rows, default=str).encode()
    raise InvalidRequest(
        f"Endpoint.invoke takes a DataFrame, a list of dicts or a dict; got {type(rows).__name__}.")


class Endpoint(Resource):
    """A real-time endpoint: ``sy.Endpoint("churn-ep").invoke(df)``."""

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/endpoints/{quote(self.name, safe='')}{suffix}"

    @classmethod
    def get(cls, name: str, *, client: Client | None = None) -> Endpoint:
        return cls(name, client=client)

    @classmethod
    def create(cls, name: str, model: str | None = None, *, instances: int = 1,
               variants: builtins.list[dict[str, Any]] | None = None,
               capture_percent: float = 0.0,
               allow_unapproved: bool = False, min_instances: int | None = None,
               max_instances: int | None = None, target_concurrency: float | None = None,
               cooldown_seconds: float | None = None, unseen_categories: str | None = None,
               wait: bool = True, client: Client | None = None) -> Endpoint:
        """Deploy a model version (see :func:`create_endpoint` for the settings)."""
        return create_endpoint(client or default_client(), name, model, instances=instances,
                               variants=variants, capture_percent=capture_percent,
                               allow_unapproved=allow_unapproved, min_instances=min_instances,
                               max_instances=max_instances,
                               target_concurrency=target_concurrency,
                               cooldown_seconds=cooldown_seconds,
                               unseen_categories=unseen_categories, wait=wait)

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        """Every endpoint with its status, model and instances."""
        import pandas as pd

        docs = (client or default_client()).get("/endpoints")
        columns = ["name", "status", "model", "instances", "healthy_instances", "invocations",
                   "url", "updated_at"]
        rows = [{**{c: d.get(c) for c in columns},
                 "model": ", ".join(v["model"] for v in d.get("variants", []))} for d in docs]
        return pd.DataFrame(rows, columns=columns)

    # -- state ------------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    @property
    def status(self) -> str:
        """The status as the server says now (Creating, InService, Failed, …)."""
        return str(self.refresh()._doc.get("status"))

    @property
    def reason(self) -> str | None:
        return self._doc.get("reason")

    @property
    def url(self) -> str | None:
        """The stable invocation URL (POST rows to it with a bearer token)."""
        return self._doc.get("url")

    @property
    def variants(self) -> builtins.list[dict[str, Any]]:
        """The variants with their model, weight, instances and stats (as last fetched)."""
        return list(self._doc.get("variants", []))

    @property
    def instances(self) -> builtins.list[dict[str, Any]]:
        return [i for v in self._doc.get("variants", []) for i in v.get("instance_list", [])]

    def wait(self, timeout: float | None = 300, poll_interval: float = 0.5) -> Endpoint:
        """Block until the endpoint is InService; raise :class:`EndpointFailed` if it fails."""
        start = time.monotonic()
        while True:
            self.refresh()
            status = self._doc.get("status")
            if status == IN_SERVICE:
                return self
            if status == FAILED:
                raise EndpointFailed(f"Endpoint {self.name!r} failed: {self.reason}")
            if timeout is not None and time.monotonic() - start > timeout:
                from shipyard.client._jobs import WaitTimeout

                raise WaitTimeout(f"Endpoint {self.name!r} is still {status} after "
                                  f"{timeout:g} s; wait again or delete it.")
            time.sleep(poll_interval)

    # -- use --------------------------------------------------------------------------------
    def invoke(self, rows: Any, *, explain: bool = False) -> pd.DataFrame:
        """Predict ``rows``: one DataFrame row per input with prediction, probabilities, id.

        An ``inference_id`` column in ``rows`` is each row's id (text, unique in the call;
        never passed to the model), so labels keyed by it join later; without one the
        endpoint makes the ids. Either way they come back in ``inference_id``.

        ``explain=True`` also returns each row's SHAP values over the input
        columns, as ``shap.<column>`` columns plus ``shap.base_value``, ``shap.output``
        and ``shap.space`` (base value + the values = the model's output for that class
        in that space, docs/explain.md).
        """
        path = self._path("/invocations") + ("?explain=true" if explain else "")
        response = self.client.request("POST", path, content=_records(rows),
                                       headers={"Content-Type": "application/json"})
        return _predictions(response.json())

    def invoke_images(self, images: Iterable[bytes | str | Path]) -> pd.DataFrame:
        """Predict PNG or JPEG images (bytes, or paths to files) with an image model
        (docs/images.md): one DataFrame row per image, as :meth:`invoke` returns them."""
        import base64

        records = [{"image": base64.b64encode(
            image if isinstance(image, bytes) else Path(image).read_bytes()).decode("ascii")}
            for image in images]
        response = self.client.request("POST", self._path("/invocations"),
                                       content=json.dumps({"instances": records}).encode(),
                                       headers={"Content-Type": "application/json"})
        return _predictions(response.json())

    def update(self, model: str | None = None, *, instances: int | None = None,
               variants: builtins.list[dict[str, Any]] | None = None,
               capture_percent: float | None = None, allow_unapproved: bool = False,
               min_instances: int | None = None, max_instances: int | None = None,
               target_concurrency: float | None = None, cooldown_seconds: float | None = None,
               autoscaling: bool | None = None, unseen_categories: str | None = None,
               wait: bool = True, timeout: float | None = 300,
               poll_interval: float = 0.5) -> Endpoint:
        """Roll the endpoint over to a new model, instance count, variants or settings,
        without downtime.

        The autoscaling settings given change, the others stay; ``autoscaling=False``
        turns autoscaling off. Waits until the update ends; raises
        :class:`EndpointUpdateFailed` when it was rolled back (the endpoint still serves
        what it served before).
        """
        body: dict[str, Any] = {"allow_unapproved": allow_unapproved}
        for key, value in (("model", model), ("instances", instances), ("variants", variants),
                           ("capture_percent", capture_percent),
                           ("unseen_categories", unseen_categories)):
            if value is not None:
                body[key] = value
        auto = autoscaling_body(min_instances, max_instances, target_concurrency,
                                cooldown_seconds)
        if autoscaling is False:
            if auto:
                raise InvalidRequest("autoscaling=False turns autoscaling off; give no "
                                     "autoscaling settings with it.")
            body["autoscaling"] = {}
        elif auto:
            body["autoscaling"] = auto
        self._doc = self.client.patch(self._path(), body)
        if not wait:
            return self
        start = time.monotonic()
        while self.refresh()._doc.get("status") == "Updating":
            if timeout is not None and time.monotonic() - start > timeout:
                from shipyard.client._jobs import WaitTimeout

                raise WaitTimeout(f"Endpoint {self.name!r} is still Updating after "
                                  f"{timeout:g} s.")
            time.sleep(poll_interval)
        if self._doc.get("reason"):
            raise EndpointUpdateFailed(f"Updating endpoint {self.name!r} failed: {self.reason}")
        return self

    def capture(self, start: Any = None, end: Any = None, limit: int = 100_000) -> pd.DataFrame:
        """Captured invocations (inputs, prediction, inference id, variant) in ``[start, end)``."""
        import pandas as pd

        params: dict[str, Any] = {"limit": limit}
        for key, value in (("start", start), ("end", end)):
            if value is not None:
                params[key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        doc = self.client.get(self._path("/capture"), **params)
        frame = pd.DataFrame(doc.get("rows", []))
        if "timestamp" in frame:
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame

    def delete(self, force: bool = False) -> dict[str, Any]:
        """Stop the endpoint's instances and delete it (its creator or an admin).

        Returns:
            The API's one DELETE answer: ``{"kind": "endpoint", "name", "status": "Deleted",
            "forced", "deleted": {...counts}}``.

        Raises:
            Conflict: a monitor watches it; an admin may pass ``force=True`` (audited).
        """
        return dict(self.client.delete(self._path(), force=force or None))

    def lineage(self, direction: str = "both", depth: int | None = None) -> Lineage:
        """What made this endpoint (upstream: the model versions it serves, their jobs and
        dataset versions) and what it made (downstream: its capture, monitors, executions,
        the retraining jobs they started)."""
        return Lineage(f"endpoint:{self.name}", direction, depth, client=self.client)

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Endpoint {self.name} {self._doc.get('status')}>"

    def _repr_html_(self) -> str:
        d = self._doc
        rows = [[i.get("name"), i.get("url"), i.get("pid"), "yes" if i.get("healthy") else "no",
                 i.get("restarts"), i.get("invocations")] for i in self.instances]
        models = ", ".join(f"{v['name']}: {v['model']} (weight {v.get('weight')})"
                           for v in d.get("variants", []))
        reason = (f"<div style='color:#dc2626'>{escape(str(d['reason']))}</div>"
                  if d.get("reason") else "")
        headers = ["instance", "address", "pid", "healthy", "restarts", "invocations"]
        return (
            "<div class='shipyard-endpoint'>"
            f"<b>Endpoint {escape(self.name)}</b> {_render.status_badge(str(d.get('status')))}"
            f"<div>{escape(models)}</div><div><code>{escape(str(d.get('url')))}</code></div>"
            f"{reason}"
            f"{_render.table_html(headers, rows)}</div>"
        )


def _predictions(doc: dict[str, Any]) -> pd.DataFrame:
    """An invocation's answer as one DataFrame row per input (:meth:`Endpoint.invoke`)."""
    import pandas as pd

    out = pd.DataFrame({"prediction": doc.get("predictions", [])})
    probs = doc.get("probabilities")
    if probs:
        # The capture's, the batch transform's and the reports' spelling.
        p = pd.DataFrame(probs)
        p.columns = [f"probability.{c}" for c in p.columns]
        out = pd.concat([out, p], axis=1)
    out["inference_id"] = doc.get("inference_ids")
    if doc.get("explanations") is not None:
        shap = pd.DataFrame([{"shap.output": e["output"], "shap.space": e["space"],
                              "shap.base_value": e["base_value"],
                              **{f"shap.{k}": v for k, v in e["values"].items()}}
                             for e in doc["explanations"]])
        out = pd.concat([out, shap], axis=1)
    # Categories the model never saw (the endpoint warns): {column: {value: rows}}.
    out.attrs["unseen_categories"] = doc.get("unseen_categories") or {}
    return out
