"""Shared by the benchmarks that compare Shipyard with another tool in the same run.

A competitor (Evidently, ydata-profiling, MLflow) is a benchmark-only dependency: it
lives in a venv of its own under ``.bench/`` with exact pins, created on first use,
so it never touches Shipyard's install. Its side runs in a child process of that
venv, which prints one JSON line of figures as its last line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent / ".bench"


def bench_venv(name: str, pins: list[str], probe: str) -> Path | None:
    """The python of ``.bench/<name>`` with ``pins`` installed, or None when that fails.

    ``probe`` is Python code that prints the installed versions of the first two pins
    (``"<version> <version>"``); when it prints anything else the pins are installed again.
    """
    venv = BENCH_DIR / name
    python = venv / "bin" / "python"
    want = " ".join(p.split("==")[1] for p in pins[:2])
    if python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True,
                                          text=True).stdout.strip() == want:
        return python
    print(f"Installing {', '.join(pins)} into {venv} (once) ...", flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *pins], check=True, timeout=1800)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"{name} could not be installed ({exc}); showing Shipyard's figures only.")
        return None
    return python


def run_child(script: str | Path, python: Path, child: str, data: Path,
              repeat: int) -> dict[str, Any] | None:
    """Run ``script --child CHILD`` with ``python``; its last stdout line is JSON figures."""
    cmd = [str(python), str(Path(script).resolve()), "--child", child, "--data", str(data),
           "--repeat", str(repeat)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        print(f"{child} failed:\n{done.stderr[-2000:]}")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def deploy_churn_xgboost(client: Any, df: Any) -> None:
    """On a running server: the churn table as dataset ``churn``, an xgboost model trained
    on it, registered and approved as ``churn:1``, deployed as endpoint ``churn`` (waits
    until it is InService)."""
    client.post("/api/v1/datasets", data={"name": "churn"}, files={
        "file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")}
    ).raise_for_status()
    job_id = client.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "xgboost", "inputs": {"train": "churn"},
        "target": "churn"}).json()["id"]
    while client.get(f"/api/v1/jobs/{job_id}").json()["status"] not in ("Completed", "Failed"):
        time.sleep(0.2)
    client.post("/api/v1/models/churn/versions", json={"job_id": job_id}).raise_for_status()
    client.post("/api/v1/models/churn/versions/1/approve",
                json={"comment": "benchmark"}).raise_for_status()
    client.post("/api/v1/endpoints", json={"name": "churn", "model": "churn:1"}
                ).raise_for_status()
    while (doc := client.get("/api/v1/endpoints/churn").json())["status"] != "InService":
        if doc["status"] == "Failed":
            raise SystemExit(f"deploy failed: {doc['reason']}")
        time.sleep(0.2)
