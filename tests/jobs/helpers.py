"""Helpers for job tests: build specs, submit, wait for a status, follow a log."""

from __future__ import annotations

import textwrap
import time
from typing import Any

import httpx

from shipyard.testing import LocalServer

TERMINAL = {"Completed", "Failed", "Stopped"}


def spec(source: str, kind: str = "script", filename: str = "main.py", **fields: Any) -> dict:
    """A job spec running ``source`` (dedented)."""
    return {"kind": kind, "script": {"filename": filename, "source": textwrap.dedent(source)},
            **fields}


def submit(client: httpx.Client, body: dict, key: str | None = None) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    r = client.post("/api/v1/jobs", json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def wait_for(client: httpx.Client, job_id: str, statuses: set[str] | str = TERMINAL,
             timeout: float = 30.0) -> dict:
    """Poll until the job is in one of ``statuses``; fail the test after ``timeout``."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in wanted:
            return job
        if job["status"] in TERMINAL:
            break
        time.sleep(0.05)
    log = client.get(f"/api/v1/jobs/{job_id}/logs").text
    raise AssertionError(f"job {job_id} is {job.get('status')} ({job.get('reason')}: "
                         f"{job.get('message')}), not {sorted(wanted)}; log:\n{log}")


def wait_log(client: httpx.Client, job_id: str, text: str, timeout: float = 30.0) -> str:
    """Poll the job's log until it holds ``text``."""
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        log = client.get(f"/api/v1/jobs/{job_id}/logs").text
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log of {job_id} after {timeout} s:\n{log}")


def follow_log(client: httpx.Client, job_id: str, timeout: float = 30.0) -> bytes:
    """Follow a log the way `shipyard jobs logs ID -f` does: poll by offset to the end."""
    out, offset = b"", 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/jobs/{job_id}/logs", params={"offset": offset})
        assert r.status_code == 200, r.text
        out += r.content
        offset = int(r.headers["X-Shipyard-Next-Offset"])
        if r.headers["X-Shipyard-Job-Status"] in TERMINAL and not r.content:
            return out
        if not r.content:
            time.sleep(0.05)
    raise AssertionError(f"the log of {job_id} did not end within {timeout} s")



def job_handle(server: LocalServer, job: dict) -> dict[str, Any]:
    """The job's handle state (what its executor recorded to find it again), as the
    server's database holds it."""
    from shipyard.store import Database, EventLog, JobRepository

    db = Database(f"sqlite:///{server.home / 'shipyard.db'}")
    try:
        return dict(JobRepository(db, EventLog(db)).get(job["id"]).handle or {})
    finally:
        db.dispose()


def job_actor(server: LocalServer, job: dict) -> str:
    """The name of the Ray actor running ``job``: a warm pool runner's or the job's own."""
    from shipyard.jobs._executors._ray import actor_name

    state = job_handle(server, job)
    return str(state.get("actor") or actor_name(job["id"], job["attempts"]))
