"""Approval → deploy: a group's auto_deploy setting creates, then rolls over, an endpoint."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shipyard.testing import LocalServer

from .test_endpoints import _until, rows, train_and_register

pytestmark = pytest.mark.slow


def _kinds(server: LocalServer, name: str) -> list[str]:
    return [e["kind"] for e in server.client().get("/api/v1/events", params={
        "resource_type": "endpoint", "resource_id": name}).json()]


def test_each_approved_version_is_deployed(server: LocalServer) -> None:
    c = server.client()
    v1 = train_and_register(server, approve=False)
    job_id = c.get(f"/api/v1/models/churn/versions/{v1}").json()["job_id"]

    # The CLI sets it; a broken setting is refused before anything is stored.
    env = server.sdk_env()
    bad = subprocess.run([sys.executable, "-m", "shipyard.cli", "models", "auto-deploy",
                          "churn"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--endpoint NAME" in bad.stderr
    r = c.patch("/api/v1/models/churn", json={"settings": {"auto_deploy": {"endpoint": "../x"}}})
    assert r.status_code == 400, r.text
    r = c.patch("/api/v1/models/churn", json={"settings": {"auto_deploy": {
        "endpoint": "churn-live", "replicas": 2}}})
    assert r.status_code == 400 and "replicas" in r.text
    done = subprocess.run([sys.executable, "-m", "shipyard.cli", "models", "auto-deploy",
                           "churn", "--endpoint", "churn-live"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert c.get("/api/v1/models/churn").json()["settings"]["auto_deploy"] == {
        "endpoint": "churn-live", "instances": 1}

    # A pending version deploys nothing; approving it creates the endpoint.
    assert c.get("/api/v1/endpoints/churn-live").status_code == 404
    r = c.post(f"/api/v1/models/churn/versions/{v1}/approve", json={"comment": "ship it"})
    assert r.status_code == 200, r.text
    doc = _until(lambda: (r := c.get("/api/v1/endpoints/churn-live")).status_code == 200
                 and r.json()["status"] == "InService" and r.json(), 120, "auto-deploy")
    assert doc["variants"][0]["model"] == f"churn:{v1}"
    assert doc["created_by"] == "admin"  # the group's owner; the events name auto-deploy

    # The next approval rolls the endpoint over to the new version.
    v2 = c.post("/api/v1/models/churn/versions", json={"job_id": job_id}).json()["version"]
    c.post(f"/api/v1/models/churn/versions/{v2}/approve", json={"comment": "better"})
    _until(lambda: (d := c.get("/api/v1/endpoints/churn-live").json())["status"] == "InService"
           and d["variants"][0]["model"] == f"churn:{v2}", 120, "the roll-over")
    answer = c.post("/api/v1/endpoints/churn-live/invocations", json=rows(2))
    assert answer.status_code == 200, answer.text
    assert int(answer.json()["model"]["version"]) == v2
    kinds = _kinds(server, "churn-live")
    assert kinds.count("endpoint.auto_deployed") == 2, kinds

    # Turned off, an approval deploys nothing more.
    c.patch("/api/v1/models/churn", json={"settings": {"auto_deploy": None}})
    v3 = c.post("/api/v1/models/churn/versions", json={"job_id": job_id}).json()["version"]
    c.post(f"/api/v1/models/churn/versions/{v3}/approve", json={"comment": "hold"})
    c.delete("/api/v1/endpoints/churn-live")
    assert _kinds(server, "churn-live").count("endpoint.auto_deployed") == 2
