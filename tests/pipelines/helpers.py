"""Helpers for pipeline tests: processing steps from small scripts, start, wait."""

from __future__ import annotations

import textwrap
import time
from typing import Any

import httpx

DONE = {"Succeeded", "Failed", "Stopped"}

CSV = "customer,tenure,churned\na,1,yes\nb,,no\nc,24,no\nd,7,\ne,3,yes\n"


def upload(client: httpx.Client, name: str, text: str = CSV, append: bool = False) -> dict:
    url = f"/api/v1/datasets/{name}/versions" if append else "/api/v1/datasets"
    data = {} if append else {"name": name}
    r = client.post(url, data=data, files={"file": (f"{name}.csv", text.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    return r.json()


def processing(name: str, source: str, inputs: dict[str, Any] | None = None,
               outputs: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    """A processing step running ``source`` (dedented)."""
    job: dict[str, Any] = {"script": {"filename": "step.py", "source": textwrap.dedent(source)}}
    if inputs:
        job["inputs"] = inputs
    if outputs:
        job["outputs"] = outputs
    return {"name": name, "type": "processing", "job": job, **fields}


def ref(text: str) -> dict[str, str]:
    return {"ref": text}


def create(client: httpx.Client, definition: dict[str, Any]) -> dict:
    r = client.post("/api/v1/pipelines", json=definition)
    assert r.status_code in (200, 201), r.text
    return r.json()


def start(client: httpx.Client, name: str, key: str | None = None, **params: Any) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    r = client.post(f"/api/v1/pipelines/{name}/executions", json={"parameters": params},
                    headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def wait(client: httpx.Client, execution_id: str, statuses: set[str] | str = DONE,
         timeout: float = 120.0) -> dict:
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    ex: dict = {}
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/pipeline-executions/{execution_id}")
        assert r.status_code == 200, r.text
        ex = r.json()
        if ex["status"] in wanted:
            return ex
        if ex["status"] in DONE:
            break
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} is {ex.get('status')}, not {sorted(wanted)}"
                         f": {ex}")


def steps(ex: dict) -> dict[str, dict]:
    return {s["name"]: s for s in ex["steps"]}
