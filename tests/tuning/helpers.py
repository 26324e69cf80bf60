"""Helpers of the tuning tests: the real CLI as a subprocess, submit, wait for a status."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx

TERMINAL = {"Completed", "Failed", "Stopped"}


def run_cli(*args: str, env: dict[str, str],
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, input="")


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


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
