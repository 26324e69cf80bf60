"""A control plane killed with SIGKILL in the middle of an execution: after the restart the
execution completes, and no step ran twice."""

from __future__ import annotations

import os
import time
from pathlib import Path

from shipyard.testing import LocalServer

from .helpers import create, processing, start, steps, wait


def _shared(tmp_path: Path) -> Path:
    """A folder the jobs (run as the job user when the server is root) may write in."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    return shared


def _step(name: str, ledger: Path, wait_for: Path | None = None, **fields: object) -> dict:
    gate = (f"while not pathlib.Path({str(wait_for)!r}).exists():\n    time.sleep(0.05)\n"
            if wait_for else "")
    source = ("import pathlib, time\n" + gate
              + f"with open({str(ledger)!r}, 'a') as f:\n    f.write({name!r} + '\\n')\n")
    return processing(name, source, cache=False, **fields)


def test_an_execution_survives_a_kill_9_and_no_step_runs_twice(fresh_server: LocalServer,
                                                                 tmp_path: Path) -> None:
    ledger, gate = _shared(tmp_path) / "ledger.txt", tmp_path / "go"
    client = fresh_server.client()
    create(client, {"name": "durable", "steps": [
        _step("first", ledger),
        _step("slow", ledger, wait_for=gate, depends_on=["first"]),
        _step("fan-a", ledger, depends_on=["slow"]),
        _step("fan-b", ledger, depends_on=["slow"]),
        _step("last", ledger, depends_on=["fan-a", "fan-b"]),
    ]})
    ex = start(client, "durable")
    deadline = time.monotonic() + 60
    while True:  # the slow step's job is running: kill the control plane now
        by = steps(client.get(f"/api/v1/pipeline-executions/{ex['id']}").json())
        job_id = by["slow"]["job_id"]
        if job_id and client.get(f"/api/v1/jobs/{job_id}").json()["status"] == "Running":
            break
        assert by["first"]["status"] != "Failed", by["first"]
        assert time.monotonic() < deadline, by
        time.sleep(0.05)
    slow_job = by["slow"]["job_id"]

    fresh_server.kill()
    gate.touch()  # the slow job finishes while no control plane watches
    fresh_server.launch()
    client = fresh_server.client()
    done = wait(client, ex["id"], timeout=120)
    assert done["status"] == "Succeeded", done
    by = steps(done)
    old = client.get(f"/api/v1/jobs/{slow_job}").json()
    assert by["slow"]["job_id"] == slow_job and by["slow"]["attempt"] == 1, (
        by["slow"], old["status"], old["reason"], old["message"], old["attempts"])
    assert sorted(ledger.read_text().split()) == sorted(
        ["first", "slow", "fan-a", "fan-b", "last"])
    jobs = [j for j in client.get("/api/v1/jobs", params={"limit": 1000}).json()
            if (j.get("tags") or {}).get("pipeline_execution") == ex["id"]]
    assert len(jobs) == 5, [j["name"] for j in jobs]


def test_repeated_kill_9s_while_steps_start(fresh_server: LocalServer, tmp_path: Path) -> None:
    """Kill the control plane again and again while steps start: the execution completes
    with one completed job per step (a step's submit is keyed by execution, step and
    attempt, so a restart never submits it twice), and each step's script ran exactly once
    (a job whose process started but whose Running status was not yet recorded waited at
    the start gate: it is lost on restart and retried, and only the retry ran the script).
    """
    ledger = _shared(tmp_path) / "ledger.txt"
    client = fresh_server.client()
    names = [f"s{i}" for i in range(6)]
    create(client, {"name": "chain", "steps": [
        _step(n, ledger, depends_on=[names[i - 1]]) if i else _step(n, ledger)
        for i, n in enumerate(names)]})
    ex = start(client, "chain")
    for _ in range(3):
        time.sleep(1.0)
        fresh_server.kill()
        fresh_server.launch()
    client = fresh_server.client()
    done = wait(client, ex["id"], timeout=180)
    assert done["status"] == "Succeeded", done
    jobs = [j for j in client.get("/api/v1/jobs", params={"limit": 1000}).json()
            if (j.get("tags") or {}).get("pipeline_execution") == ex["id"]]
    completed = sorted(j["name"] for j in jobs if j["status"] == "Completed")
    assert completed == [f"chain.{n}" for n in names]
    assert all(j["reason"] == "worker_lost" for j in jobs if j["status"] != "Completed")
    assert sorted(ledger.read_text().split()) == names
