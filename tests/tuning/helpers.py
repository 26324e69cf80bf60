"""Helpers of the tuning tests: the real CLI as a subprocess, submit, wait for a status."""

from __future__ import annotations

import time
from typing import Any

import httpx

from shipyard.testing import ok, ok_json, one_sentence_error, run_cli

TERMINAL = {"Completed", "Failed", "Stopped"}
__all__ = ["TERMINAL", "ok", "ok_json", "one_sentence_error", "run_cli", "submit"]


def submit(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def wait_for(client: httpx.Client, job_id: str, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] == status or job["status"] in TERMINAL:
            break
        time.sleep(0.2)
    assert job.get("status") == status, job
    return job
