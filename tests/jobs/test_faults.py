"""The issue's fault list: lost processes, a killed server, cancels, limits, retries."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from shipyard.testing import LocalServer

from .helpers import spec, submit, wait_for, wait_log

SLEEPER = """
    import time
    print("sleeping", flush=True)
    time.sleep(60)
"""
#: Sleeps on its first attempt only, so a retry after a lost worker completes.
SLEEP_ON_FIRST_ATTEMPT = """
    import json, time
    attempt = json.load(open("input/config/job.json"))["attempt"]
    print(f"attempt {attempt}", flush=True)
    if attempt == 1:
        time.sleep(60)
"""


def _gone(pid: int) -> bool:
    """The process is dead (a zombie nobody reaps in a container counts as dead)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_killed_job_process_is_worker_lost(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec(SLEEPER))
    running = wait_for(client, job["id"], "Running")
    wait_log(client, job["id"], "sleeping")
    os.kill(running["pid"], signal.SIGKILL)
    killed = time.monotonic()
    failed = wait_for(client, job["id"], "Failed", timeout=10)
    assert time.monotonic() - killed < 10
    assert failed["reason"] == "worker_lost" and "SIGKILL" in failed["message"]
    assert failed["attempts"] == 1


def test_lost_worker_is_retried(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec(SLEEP_ON_FIRST_ATTEMPT, retries=1))
    running = wait_for(client, job["id"], "Running")
    wait_log(client, job["id"], "attempt 1")
    os.kill(running["pid"], signal.SIGKILL)
    done = wait_for(client, job["id"], "Completed", timeout=15)
    assert done["attempts"] == 2
    log = client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert "attempt 1" in log and "attempt 2" in log and "Retrying" in log


def test_cancel_a_job_that_ignores_sigterm(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("""
        import signal, time
        signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """))
    wait_for(client, job["id"], "Running")
    wait_log(client, job["id"], "ready")
    t0 = time.monotonic()
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "Stopping"
    stopped = wait_for(client, job["id"], "Stopped", timeout=15)
    waited = time.monotonic() - t0
    assert 1.8 <= waited < 8, waited  # the server's grace period is 2 s
    assert "ignoring SIGTERM" in client.get(f"/api/v1/jobs/{job['id']}/logs").text
    assert _gone(stopped["pid"])
    again = client.post(f"/api/v1/jobs/{job['id']}/cancel").json()
    assert again["status"] == "Stopped"


def test_cancel_honours_the_spec_grace_period(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """, grace_period_seconds=3.5))
    wait_for(client, job["id"], "Running")
    wait_log(client, job["id"], "ready")
    t0 = time.monotonic()
    client.post(f"/api/v1/jobs/{job['id']}/cancel")
    wait_for(client, job["id"], "Stopped", timeout=15)
    assert time.monotonic() - t0 >= 3.4  # the spec's 3.5 s, not the server's 2 s


def test_cancel_a_polite_job_does_not_wait_for_the_grace(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec(SLEEPER, grace_period_seconds=30))
    wait_for(client, job["id"], "Running")
    t0 = time.monotonic()
    client.post(f"/api/v1/jobs/{job['id']}/cancel")
    wait_for(client, job["id"], "Stopped", timeout=20)
    assert time.monotonic() - t0 < 10


def test_memory_limit(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("""
        import time
        block = bytearray(400 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        print("allocated", flush=True)
        time.sleep(30)
    """, resources={"memory": "128M"}))
    failed = wait_for(client, job["id"], "Failed", timeout=20)
    assert failed["reason"] == "memory_limit"
    assert "128M" in failed["message"]
    assert failed["attempts"] == 1


def test_memory_error_is_memory_limit(server: LocalServer) -> None:
    client = server.client()
    job = submit(client, spec("raise MemoryError()\n"))
    failed = wait_for(client, job["id"], "Failed")
    assert failed["reason"] == "memory_limit"


def test_max_runtime(server: LocalServer) -> None:
    client = server.client()
    t0 = time.monotonic()
    job = submit(client, spec(SLEEPER, max_runtime_seconds=1))
    failed = wait_for(client, job["id"], "Failed", timeout=15)
    assert failed["reason"] == "max_runtime"
    assert 1 <= time.monotonic() - t0 < 6


@pytest.mark.slow
def test_server_killed_and_restarted(fresh_server: LocalServer) -> None:
    client = fresh_server.client()
    lost = submit(client, spec(SLEEPER))
    retried = submit(client, spec(SLEEP_ON_FIRST_ATTEMPT, retries=1))
    pids = []
    for job in (lost, retried):
        pids.append(wait_for(client, job["id"], "Running")["pid"])
    wait_log(client, retried["id"], "attempt 1")
    fresh_server.kill()
    assert not any(_gone(pid) for pid in pids)  # the jobs outlive the server...

    fresh_server.launch()
    client = fresh_server.client()
    failed = client.get(f"/api/v1/jobs/{lost['id']}").json()
    assert failed["status"] == "Failed" and failed["reason"] == "worker_lost"
    assert "restarted" in failed["message"]
    assert all(_gone(pid) for pid in pids)  # ...until the new server ends them
    done = wait_for(client, retried["id"], "Completed", timeout=15)
    assert done["attempts"] == 2
    assert not client.get("/api/v1/jobs", params={"status": "Running,Starting,Stopping"}).json()


def test_graceful_shutdown_fails_running_jobs(fresh_server: LocalServer) -> None:
    client = fresh_server.client()
    job = submit(client, spec(SLEEPER))
    pid = wait_for(client, job["id"], "Running")["pid"]
    fresh_server.stop()
    assert _gone(pid)
    fresh_server.launch()
    failed = fresh_server.client().get(f"/api/v1/jobs/{job['id']}").json()
    assert failed["status"] == "Failed" and failed["reason"] == "server_shutdown"
