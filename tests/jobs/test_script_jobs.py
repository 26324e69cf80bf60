"""Script jobs (training in script mode) on a real server: model files, logs, metrics."""

from __future__ import annotations

import hashlib

from shipyard.testing import LocalServer

from .helpers import follow_log, spec, submit, wait_for

TRAIN = """
    import json, os, time
    from shipyard import runtime
    hp = runtime.hyperparameters()
    print("training", os.environ["SHIPYARD_JOB_ID"], "alpha", hp["alpha"], flush=True)
    for step in range(5):
        runtime.log_metric("loss", 1.0 / (step + 1), step=step)
        time.sleep(0.05)
    runtime.log_metric("accuracy", 0.9)
    model = runtime.model_dir()
    (model / "weights.json").write_text(json.dumps({"alpha": hp["alpha"], "w": [1, 2, 3]}))
    (model / "sub").mkdir()
    (model / "sub" / "vocab.txt").write_bytes(bytes(range(256)) * 4)
    (model / "env.json").write_text(json.dumps({
        "job_id": os.environ["SHIPYARD_JOB_ID"], "hp": os.environ["SHIPYARD_HP_ALPHA"],
        "cores": len(os.sched_getaffinity(0)), "cpus": os.environ["SHIPYARD_NUM_CPUS"],
        "threads": os.environ["OMP_NUM_THREADS"], "token": os.environ.get("SHIPYARD_TOKEN"),
    }))
    print("done")
"""


def test_script_job_keeps_its_model(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec(TRAIN, filename="train.py", name="train-1",
                              hyperparameters={"alpha": 0.25}))
    assert job["status"] == "Pending" and job["kind"] == "script" and job["attempts"] == 0
    assert "source" not in job["spec"]["script"] and len(job["spec"]["script"]["sha256"]) == 64
    log = follow_log(client, job["id"]).decode()
    done = wait_for(client, job["id"], "Completed")
    assert done["attempts"] == 1 and done["reason"] is None
    assert f"training {job['id']} alpha 0.25" in log and "done" in log
    assert log == client.get(f"/api/v1/jobs/{job['id']}/logs").text

    arts = client.get(f"/api/v1/jobs/{job['id']}/artifacts").json()
    paths = {f["path"]: f for f in arts["files"]}
    assert {"model/weights.json", "model/sub/vocab.txt", "model/env.json", "job.log"} <= set(paths)
    r = client.get(f"/api/v1/jobs/{job['id']}/artifacts/model/sub/vocab.txt")
    assert r.status_code == 200 and r.content == bytes(range(256)) * 4
    assert hashlib.sha256(r.content).hexdigest() == paths["model/sub/vocab.txt"]["sha256"]
    env = client.get(f"/api/v1/jobs/{job['id']}/artifacts/model/env.json").json()
    assert env == {"job_id": job["id"], "hp": "0.25", "cores": 1, "cpus": "1", "threads": "1",
                   "token": env["token"]}
    # The job's own token (only its hash is stored), never a user's or the admin's.
    assert env["token"].startswith("syj_")
    assert client.get(f"/api/v1/jobs/{job['id']}/artifacts/model/weights.json").json()["alpha"] \
        == 0.25

    series = client.get(f"/api/v1/jobs/{job['id']}/metrics").json()["metrics"]
    assert [(p["step"], p["value"]) for p in series["loss"]] == [
        (0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25), (4, 0.2)]
    assert series["accuracy"][0]["step"] is None
    assert done["metrics"] == {"loss": 0.2, "accuracy": 0.9}


def test_artifact_paths_outside_the_manifest_are_404(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("print('x')\n"))
    wait_for(client, job["id"], "Completed")
    for path in ("model/nothing.bin", "%2e%2e/%2e%2e/credentials", "..%2f..%2fshipyard.db",
                 "%252e%252e/x", "code/main.py", "model/%2e%2e/job.log"):
        r = client.get(f"/api/v1/jobs/{job['id']}/artifacts/{path}")
        assert r.status_code == 404, (path, r.status_code)
        assert "has no artifact" in r.json()["error"]["message"], path
    assert client.get(f"/api/v1/jobs/{job['id']}/artifacts/job.log").status_code == 200
    assert client.get("/api/v1/jobs/job-nope/artifacts").status_code == 404


def test_script_error_fails_without_retry(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("""
        print("about to fail")
        raise ValueError("tenure must be numeric; got 'abc'")
    """, retries=2))
    done = wait_for(client, job["id"])
    assert done["status"] == "Failed" and done["reason"] == "script_error"
    assert done["attempts"] == 1 and done["max_attempts"] == 3
    assert "ValueError: tenure must be numeric; got 'abc'" in done["message"]
    log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "about to fail" in log and "Traceback" in log


def test_exit_code_without_exception(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("import sys\nsys.exit(4)\n"))
    done = wait_for(client, job["id"], "Failed")
    assert done["reason"] == "script_error" and "code 4" in done["message"]


def test_list_filters_and_permissions(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("pass\n", name="listed"))
    wait_for(client, job["id"], "Completed")
    completed = client.get("/api/v1/jobs", params={"status": "Completed", "kind": "script"}).json()
    assert job["id"] in {j["id"] for j in completed}
    assert all(j["status"] == "Completed" for j in completed)
    assert client.get("/api/v1/jobs", params={"status": "Done"}).status_code == 400
    assert client.get("/api/v1/jobs", params={"kind": "x"}).status_code == 400
    assert client.get("/api/v1/jobs/job-missing").status_code == 404

    viewer = server.client("viewer")
    assert viewer.get(f"/api/v1/jobs/{job['id']}").status_code == 200
    assert viewer.get(f"/api/v1/jobs/{job['id']}/logs").status_code == 200
    assert viewer.post("/api/v1/jobs", json=spec("pass\n")).status_code == 403
    assert viewer.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 403
    assert server.client(None).get("/api/v1/jobs").status_code == 401


def test_logs_by_offset(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("for i in range(1000):\n    print(f'line {i:04d}')\n"))
    wait_for(client, job["id"], "Completed")
    full = client.get(f"/api/v1/jobs/{job['id']}/logs").content
    r = client.get(f"/api/v1/jobs/{job['id']}/logs", params={"offset": 100})
    assert r.content == full[100:]
    assert r.headers["X-Shipyard-Next-Offset"] == str(len(full))
    assert r.headers["X-Shipyard-Job-Status"] == "Completed"
    end = client.get(f"/api/v1/jobs/{job['id']}/logs", params={"offset": len(full)})
    assert end.content == b"" and end.headers["X-Shipyard-Next-Offset"] == str(len(full))
    assert client.get(f"/api/v1/jobs/{job['id']}/logs", params={"offset": -1}).status_code \
        in (400, 422)


def test_metric_definitions_read_metrics_from_the_log(server: LocalServer) -> None:
    client = server.client()
    body = spec("""
        for epoch, loss in enumerate([0.9, 0.5, 0.25]):
            print(f"epoch={epoch} train loss={loss} acc: {1 - loss:.2f}", flush=True)
        print("no metric on this line")
    """, metric_definitions=[
        {"name": "loss", "regex": r"loss=([0-9.]+)"},
        {"name": "accuracy", "regex": r"epoch=(?P<step>\d+).*acc: (?P<value>[0-9.]+)"},
    ])
    job = submit(client, body)
    wait_for(client, job["id"], "Completed")
    series = client.get(f"/api/v1/jobs/{job['id']}/metrics").json()["metrics"]
    assert [(p["step"], p["value"]) for p in series["loss"]] == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert [(p["step"], p["value"]) for p in series["accuracy"]] == [
        (0, 0.1), (1, 0.5), (2, 0.75)]


def test_metric_definitions_are_checked_at_submit(server: LocalServer) -> None:
    client = server.client()
    for regex, needle in [("loss=([0-9.]+", "does not compile"),
                          ("loss=[0-9.]+", "must capture the value"),
                          ("(a)(b)", "must capture the value")]:
        r = client.post("/api/v1/jobs", json=spec("pass", metric_definitions=[
            {"name": "loss", "regex": regex}]))
        assert r.status_code == 400 and needle in r.json()["error"]["message"], r.text
