"""Real-time endpoints: ``sy.Endpoint("churn-ep")``, ``ModelVersion.deploy(...)``."""

from __future__ import annotations

import builtins
import json
import time
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.errors import InvalidRequest, ShipyardError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

IN_SERVICE, FAILED = "InService", "Failed"


class EndpointFailed(ShipyardError):
    """The endpoint could not start (its reason says why, with the instance's log tail)."""

    code = "endpoint_failed"


def create_endpoint(client: Client, name: str, model: str, *, instances: int = 1,
                    capture_percent: float = 0.0, allow_unapproved: bool = False,
                    wait: bool = True, timeout: float | None = 300) -> Endpoint:
    """Deploy ``model`` (``GROUP:VERSION``) as endpoint ``name``; wait for InService."""
    doc = client.post("/endpoints", {"name": name, "model": model, "instances": instances,
                                     "capture_percent": capture_percent,
                                     "allow_unapproved": allow_unapproved})
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
    def create(cls, name: str, model: str, *, instances: int = 1, capture_percent: float = 0.0,
               allow_unapproved: bool = False, wait: bool = True,
               client: Client | None = None) -> Endpoint:
        return create_endpoint(client or default_client(), name, model, instances=instances,
                               capture_percent=capture_percent,
                               allow_unapproved=allow_unapproved, wait=wait)

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
    def invoke(self, rows: Any) -> pd.DataFrame:
        """Predict ``rows``: one DataFrame row per input with prediction, probabilities, id."""
        import pandas as pd

        response = self.client.request("POST", self._path("/invocations"), content=_records(rows),
                                       headers={"Content-Type": "application/json"})
        doc = response.json()
        out = pd.DataFrame({"prediction": doc.get("predictions", [])})
        probs = doc.get("probabilities")
        if probs:
            p = pd.DataFrame(probs)
            p.columns = [f"probability_{c}" for c in p.columns]
            out = pd.concat([out, p], axis=1)
        out["inference_id"] = doc.get("inference_ids")
        return out

    def delete(self) -> None:
        """Stop the endpoint's instances and delete it."""
        self.client.delete(self._path())

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
