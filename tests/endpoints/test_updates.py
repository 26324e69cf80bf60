"""Endpoint updates without downtime, variants (weights, shadow), stats and capture."""

from __future__ import annotations

import textwrap
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psutil
import pytest

import shipyard as sy
from shipyard.errors import ShipyardError
from shipyard.testing import LocalServer

from .test_endpoints import (
    _churn,
    _until,
    ok_json,
    rows,
    run_cli,
    train_and_register,
    wait_in_service,
)

# Passes the registration checks (a well-formed bundle), fails to load at deploy.
BROKEN = """
    from shipyard import runtime
    from shipyard.testing.bundles import write_handmade_bundle
    write_handmade_bundle(runtime.model_dir(), unloadable=True)
"""

# A bundle whose XGBoost model file starts like UBJSON but is not a model: it passes the
# registration check and loading it fails in C++, with a stack.
NATIVE = """
    import json
    from shipyard import runtime
    from shipyard.bundle import write_bundle
    recipe = {"format_version": 1, "target": "churn", "steps": [], "input_signature": [
        {"name": "tenure", "dtype": "int64", "semantic_type": "numeric", "categories": None,
         "required": True}], "feature_names": ["tenure"], "categorical_features": []}
    write_bundle(runtime.model_dir(), manifest={
        "task": "classification", "algorithm": "xgboost", "framework": {"name": "xgboost"},
        "recipe": "recipe.json", "model_files": ["model.ubj"], "classes": ["No", "Yes"],
        "target": "churn"}, files={"recipe.json": json.dumps(recipe).encode(),
                                   "model.ubj": b"{this is not an XGBoost model"})
"""


def _register_script(c: httpx.Client, source: str) -> int:
    """Run ``source`` as a script job and register what it left as a version of churn."""
    r = c.post("/api/v1/jobs", json={"kind": "script", "script": {
        "filename": "main.py", "source": textwrap.dedent(source)}})
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    _until(lambda: c.get(f"/api/v1/jobs/{job}").json()["status"] == "Completed", 60, "script")
    r = c.post("/api/v1/models/churn/versions", json={"job_id": job})
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


@pytest.fixture(scope="module")
def versions(server: LocalServer) -> dict[str, int]:
    """churn v1 and v2 (same job, both approved) and an approved version that cannot load."""
    c = server.client()
    v1 = train_and_register(server)
    job_id = c.get(f"/api/v1/models/churn/versions/{v1}").json()["job_id"]
    r = c.post("/api/v1/models/churn/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    v2 = r.json()["version"]
    broken = _register_script(c, BROKEN)
    native = _register_script(c, NATIVE)
    for v in (v2, broken, native):
        r = c.post(f"/api/v1/models/churn/versions/{v}/approve", json={"comment": "ok"})
        assert r.status_code == 200, r.text
    return {"v1": v1, "v2": v2, "broken": broken, "native": native}


class Load:
    """A thread invoking the endpoint in a loop; records the version of every answer."""

    def __init__(self, server: LocalServer, name: str) -> None:
        self.client = server.client("viewer")
        self.url = f"/api/v1/endpoints/{name}/invocations"
        self.versions: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.payload = rows(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                r = self.client.post(self.url, json=self.payload)
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
                continue
            if r.status_code != 200:
                self.failures.append(f"{r.status_code} {r.text[:200]}")
            else:
                self.versions.append(int(r.json()["model"]["version"]))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(30)


def _pids(doc: dict) -> list[int]:
    return [i["pid"] for v in doc["variants"] for i in v["instance_list"]]


def _kinds(c: httpx.Client, name: str) -> list[str]:
    return [e["kind"] for e in c.get("/api/v1/events", params={
        "resource_type": "endpoint", "resource_id": name}).json()]


def _settled(c: httpx.Client, name: str) -> dict:
    return _until(lambda: (d := c.get(f"/api/v1/endpoints/{name}").json())["status"]
                  == "InService" and d, 90, f"{name} to leave Updating")


def test_rolling_update_and_scale_without_downtime(server: LocalServer,
                                                   versions: dict[str, int]) -> None:
    c = server.client()
    ds = server.client("data-scientist")  # its own endpoint: a data-scientist may update it
    r = ds.post("/api/v1/endpoints", json={"name": "roll", "model": f"churn:{versions['v1']}"})
    assert r.status_code == 202, r.text
    old = _pids(wait_in_service(c, "roll"))
    with Load(server, "roll") as load:
        _until(lambda: len(load.versions) >= 5, 30, "load to start")
        r = ds.patch("/api/v1/endpoints/roll", json={"model": f"churn:{versions['v2']}"})
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "Updating"
        assert c.patch("/api/v1/endpoints/roll", json={"instances": 2}).status_code == 409
        doc = _settled(c, "roll")
        n = len(load.versions)
        _until(lambda: len(load.versions) >= n + 5, 30, "answers after the update")
        # scale 1 -> 2 through the same path, still under load
        r = c.patch("/api/v1/endpoints/roll", json={"instances": 2})
        assert r.status_code == 202, r.text
        scaled = _settled(c, "roll")
        n = len(load.versions)
        _until(lambda: len(load.versions) >= n + 5, 30, "answers after scaling")
    assert not load.failures, load.failures[:5]
    seen = load.versions
    assert seen[0] == versions["v1"] and seen[-1] == versions["v2"]
    switch = seen.index(versions["v2"])
    assert set(seen[switch:]) == {versions["v2"]}, "traffic went back to the old version"
    assert doc["reason"] is None and doc["variants"][0]["model"] == f"churn:{versions['v2']}"
    assert scaled["healthy_instances"] == 2 and scaled["variants"][0]["instances"] == 2
    _until(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status()
                           != psutil.STATUS_ZOMBIE for p in old), 30, "old instances to stop")
    kinds = _kinds(c, "roll")
    assert kinds[-4:] == ["endpoint.update_started", "endpoint.updated"] * 2, kinds


def test_failed_update_rolls_back(server: LocalServer, versions: dict[str, int]) -> None:
    c = server.client()
    r = c.post("/api/v1/endpoints", json={"name": "stay", "model": f"churn:{versions['v1']}"})
    assert r.status_code == 202, r.text
    before = _pids(wait_in_service(c, "stay"))
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sc:
        ep = sy.Endpoint("stay", client=sc)
        with pytest.raises(ShipyardError, match="rolled back"):
            ep.update(f"churn:{versions['broken']}")
    doc = c.get("/api/v1/endpoints/stay").json()
    assert doc["status"] == "InService" and "rolled back" in doc["reason"]
    assert doc["variants"][0]["model"] == f"churn:{versions['v1']}"
    assert _pids(doc) == before
    r = c.post("/api/v1/endpoints/stay/invocations", json=rows(2))
    assert r.status_code == 200 and int(r.json()["model"]["version"]) == versions["v1"]
    assert _kinds(c, "stay")[-1] == "endpoint.update_failed"
    # a good update afterwards (from the CLI) clears the reason
    doc = ok_json(run_cli("endpoints", "update", "stay", "--model", f"churn:{versions['v2']}",
                          "--json", env=server.sdk_env()))
    assert doc["status"] == "InService" and doc["reason"] is None
    assert doc["variants"][0]["model"] == f"churn:{versions['v2']}"
    assert c.delete("/api/v1/endpoints/stay").status_code == 200


def _failed(c: httpx.Client, name: str, version: int) -> dict:
    r = c.post("/api/v1/endpoints", json={"name": name, "model": f"churn:{version}"})
    assert r.status_code == 202, r.text
    return _until(lambda: (d := c.get(f"/api/v1/endpoints/{name}").json())["status"] == "Failed"
                  and d, 120, f"the create of {name} to fail")


def test_a_version_that_cannot_serve_fails_the_create(server: LocalServer,
                                                      versions: dict[str, int]) -> None:
    c = server.client()
    doc = _failed(c, "doomed", versions["broken"])
    reason = doc["reason"]
    log = server.home / "endpoints" / "doomed" / "primary-1.log"
    # One sentence: what happened, the cause, and where the whole log is.
    assert reason.startswith("Instance primary-1 exited with code 1 before it was healthy: "
                             "Model file 'model.ubj' could not be loaded by xgboost: "), reason
    assert reason.endswith(f"Its log is {log}.") and "\n" not in reason, reason
    assert doc["healthy_instances"] == 0 and log.is_file()
    r = c.post("/api/v1/endpoints/doomed/invocations", json=rows(1))
    message = r.json()["error"]["message"]
    assert r.status_code == 503 and "Failed" in message
    # The cause is not cut off.
    assert "could not be loaded by xgboost" in message and str(log) in message
    assert c.get("/api/v1/endpoints/doomed/health").status_code == 503
    events = c.get("/api/v1/events", params={"resource_type": "endpoint",
                                             "resource_id": "doomed"}).json()
    failed = [e for e in events if e["kind"] == "endpoint.failed"]
    assert failed and failed[-1]["payload"]["reason"] == reason
    assert c.delete("/api/v1/endpoints/doomed").status_code == 200
    assert c.get("/api/v1/endpoints/doomed").status_code == 404


def test_a_native_load_failure_gives_its_cause_not_a_cpp_stack(server: LocalServer,
                                                                versions: dict[str, int]) -> None:
    c = server.client()
    doc = _failed(c, "native", versions["native"])
    reason = doc["reason"]
    log = server.home / "endpoints" / "native" / "primary-1.log"
    assert "[bt]" in log.read_text()  # the log keeps the whole stack for whoever needs it
    assert "\n" not in reason and "[bt]" not in reason and "Stack trace" not in reason, reason
    assert "could not be loaded by xgboost: Expecting:" in reason and "json.cc" not in reason
    assert "~^~" not in reason  # the echoed input under the native line is context, not cause
    assert reason.endswith(f"Its log is {log}.")
    shown = run_cli("endpoints", "show", "native", env=server.sdk_env())
    assert shown.returncode == 0 and "Expecting:" in shown.stdout
    assert "[bt]" not in shown.stdout
    r = c.post("/api/v1/endpoints/native/invocations", json=rows(1))
    assert r.status_code == 503 and "Expecting:" in r.json()["error"]["message"]
    assert c.delete("/api/v1/endpoints/native").status_code == 200


def test_weighted_variants_and_shadow(server: LocalServer, versions: dict[str, int]) -> None:
    c = server.client()
    created = ok_json(run_cli(
        "endpoints", "create", "split", "--json",
        "--variant", f"name=main,model=churn:{versions['v1']},weight=0.8",
        "--variant", f"name=canary,model=churn:{versions['v2']},weight=0.2",
        "--variant", f"name=shade,model=churn:{versions['v2']},shadow=true",
        env=server.sdk_env()))
    assert created["status"] == "InService"
    assert [(v["name"], v["weight"], v["shadow"]) for v in created["variants"]] == [
        ("main", 0.8, False), ("canary", 0.2, False), ("shade", 1.0, True)]
    viewer = server.client("viewer")
    body = rows(1)

    def invoke(_: int) -> str:
        r = viewer.post("/api/v1/endpoints/split/invocations", json=body)
        assert r.status_code == 200, r.text
        return str(r.headers["x-shipyard-variant"])
    with ThreadPoolExecutor(4) as pool:
        seen = Counter(pool.map(invoke, range(500)))
    assert set(seen) == {"main", "canary"}, seen  # the shadow never answers the caller
    assert abs(seen["main"] / 500 - 0.8) <= 0.06, seen

    def stats() -> dict | None:
        doc = c.get("/api/v1/endpoints/split").json()
        s = {v["name"]: v["stats"] for v in doc["variants"]}
        return s if s["shade"]["invocations"] >= 500 else None
    s = _until(stats, 30, "the shadow copies")
    assert s["main"]["invocations"] == seen["main"]
    assert s["canary"]["invocations"] == seen["canary"]
    assert all(s[v]["errors"] == 0 and s[v]["p50_ms"] > 0 and s[v]["p99_ms"] >= s[v]["p50_ms"]
               for v in s), s
    shown = run_cli("endpoints", "show", "split", env=server.sdk_env())
    assert shown.returncode == 0, shown.stderr
    assert "canary" in shown.stdout and "shade" in shown.stdout and "p99" in shown.stdout
    r = c.post("/api/v1/endpoints", json={"name": "allshadow", "variants": [
        {"name": "s", "model": f"churn:{versions['v1']}", "shadow": True}]})
    assert r.status_code == 400, r.text
    assert c.delete("/api/v1/endpoints/split").status_code == 200


def test_capture_query(server: LocalServer, versions: dict[str, int]) -> None:
    c = server.client()
    r = c.post("/api/v1/endpoints", json={"name": "cap", "model": f"churn:{versions['v1']}",
                                          "capture_percent": 100})
    assert r.status_code == 202, r.text
    wait_in_service(c, "cap")
    start = time.time()
    ids = []
    for _ in range(3):
        r = c.post("/api/v1/endpoints/cap/invocations", json=rows(3))
        assert r.status_code == 200, r.text
        ids += r.json()["inference_ids"]

    def captured() -> list | None:
        got = c.get("/api/v1/endpoints/cap/capture").json()["rows"]
        return got if set(ids) <= {row["inference_id"] for row in got} else None
    got = _until(captured, 20, "the capture flush")
    assert {"prediction", "timestamp", "variant", "tenure"} <= set(got[0])
    later = c.get("/api/v1/endpoints/cap/capture",
                  params={"start": "2999-01-01T00:00:00Z"}).json()
    assert later["rows"] == []
    assert c.get("/api/v1/endpoints/cap/capture", params={"limit": 2}).json()["count"] == 2
    with sy.connect(url=server.url, token=server.token(), set_default=False) as sc:
        frame = sy.Endpoint("cap", client=sc).capture(
            start=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start - 60)))
    assert set(ids) <= set(frame["inference_id"])
    cli = ok_json(run_cli("endpoints", "capture", "cap", "--json", env=server.sdk_env()))
    assert set(ids) <= {row["inference_id"] for row in cli}
    assert c.get("/api/v1/endpoints/nope/capture").status_code == 404


def test_autoscaling_burst(server: LocalServer, versions: dict[str, int]) -> None:
    c = server.client()
    # Unknown keys (the names an older page of the docs gave) are refused, each named.
    r = c.post("/api/v1/endpoints", json={
        "name": "auto", "model": f"churn:{versions['v1']}",
        "autoscaling": {"min": 1, "max": 2, "target_concurrency": 1, "cooldown": 2}})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    for hint in ("'min' (did you mean min_instances?)", "'max' (did you mean max_instances?)",
                 "'cooldown' (did you mean cooldown_seconds?)"):
        assert hint in message, message
    assert c.get("/api/v1/endpoints/auto").status_code == 404
    # Set from the CLI, by the same names.
    created = ok_json(run_cli(
        "endpoints", "create", "auto", "--model", f"churn:{versions['v1']}",
        "--min-instances", "1", "--max-instances", "2", "--target-concurrency", "1",
        "--cooldown", "2", "--json", env=server.sdk_env()))
    assert created["status"] == "InService"
    assert created["autoscaling"] == {"min_instances": 1, "max_instances": 2,
                                      "target_concurrency": 1.0, "cooldown_seconds": 2.0}
    shown = run_cli("endpoints", "show", "auto", env=server.sdk_env())
    assert shown.returncode == 0 and "1–2 instances per variant" in shown.stdout, shown.stdout
    stop = threading.Event()
    failures: list[str] = []
    server.token("viewer")  # made once here: six threads asking at once would race for it

    def burst() -> None:
        client = server.client("viewer")
        while not stop.is_set():
            r = client.post("/api/v1/endpoints/auto/invocations", json=rows(20))
            if r.status_code != 200:
                failures.append(r.text[:200])
    threads = [threading.Thread(target=burst, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        _until(lambda: c.get("/api/v1/endpoints/auto").json()["healthy_instances"] == 2, 60,
               "a scale out")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:3]
    _until(lambda: c.get("/api/v1/endpoints/auto").json()["instances"] == 1, 30, "a scale in")
    # The event is written just after the routing table changes: wait for it too.
    kinds = _until(lambda: (k := _kinds(c, "auto"))[-1] == "endpoint.scaled_in" and k, 30,
                   "the scale-in event")
    assert "endpoint.scaled_out" in kinds, kinds
    r = c.post("/api/v1/endpoints", json={"name": "badauto", "model": f"churn:{versions['v1']}",
                                          "autoscaling": {"min_instances": 3,
                                                          "max_instances": 2}})
    assert r.status_code == 400, r.text
    # An update changes the settings it names and keeps the rest; unknown keys are refused.
    r = c.patch("/api/v1/endpoints/auto", json={"autoscaling": {"maximum": 3}})
    assert r.status_code == 422 and "'maximum'" in r.text, r.text
    updated = ok_json(run_cli("endpoints", "update", "auto", "--max-instances", "3", "--json",
                              env=server.sdk_env()))
    assert updated["autoscaling"] == {"min_instances": 1, "max_instances": 3,
                                      "target_concurrency": 1.0, "cooldown_seconds": 2.0}
    off = ok_json(run_cli("endpoints", "update", "auto", "--no-autoscaling", "--json",
                          env=server.sdk_env()))
    assert off["autoscaling"] is None
    assert c.delete("/api/v1/endpoints/auto").status_code == 200


def test_variants_of_models_with_other_inputs_are_refused(server: LocalServer,
                                                          versions: dict[str, int]) -> None:
    # The churn model reads every churn column; one trained on tenure and contract alone
    # reads two. As variants of one endpoint, a request fitting one would fail on the other
    # at random (a missing or an unknown column).
    c = server.client()
    small = _churn()[["tenure", "contract", "churn"]]
    r = c.post("/api/v1/datasets", data={"name": "churn-small"}, files={
        "file": ("small.csv", small.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "linear",
                                     "inputs": {"train": "churn-small"}, "target": "churn"})
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    _until(lambda: c.get(f"/api/v1/jobs/{job}").json()["status"] == "Completed", 180,
           "training")
    r = c.post("/api/v1/models/churn-small/versions", json={"job_id": job})
    assert r.status_code == 201, r.text
    assert c.post("/api/v1/models/churn-small/versions/1/approve",
                  json={"comment": "ok"}).status_code == 200
    body = {"name": "mixed", "variants": [
        {"name": "a", "model": f"churn:{versions['v1']}"},
        {"name": "b", "model": "churn-small:1", "shadow": True}]}
    r = c.post("/api/v1/endpoints", json=body)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith(
        f"Variants 'a' (churn:{versions['v1']}) and 'b' (churn-small:1) read different "
        "columns: only 'a' reads dependents, device_protection, "), message
    assert "only 'b' reads nothing else. Each request goes to one variant (and a copy to " \
        "each shadow)" in message, message
    assert c.get("/api/v1/endpoints/mixed").status_code == 404
