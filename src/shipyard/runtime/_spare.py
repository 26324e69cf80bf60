"""A warm runtime: an interpreter that has already imported what a built-in job needs.

A fresh interpreter spends seconds importing pandas, scikit-learn, the boosting
libraries and matplotlib before a built-in entry does any work. The local executor
keeps one *spare* process started ahead of time: it imports those modules, then
blocks reading one line from its stdin. When a job of a kind that allows it (the
kind's ``warm`` flag) starts, the executor writes the job's order there (its folder,
environment and CPU cores); the spare takes on the job's environment, redirects its
output to the job's log, pins all its threads to the job's cores, and runs the very
same bootstrap as ``python -m shipyard.runtime JOB_DIR``. Each spare runs one job, then exits.

The spare is the executor's direct child in a session of its own, so exit codes,
signals, memory sampling and cancellation work exactly as for a cold start. If the
server dies, the spare's stdin reaches end of file and it exits.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from shipyard.runtime import _contract as c

#: Imported ahead of time; each is optional (a missing extra just stays cold).
WARM_MODULES = (
    "numpy", "pandas", "pyarrow.parquet", "sklearn.metrics", "sklearn.linear_model",
    "sklearn.ensemble", "shipyard.training", "xgboost", "lightgbm",
    "matplotlib.backends.backend_agg", "matplotlib.figure",
)


def warm_up() -> list[str]:
    """Import the warm modules; return the ones that could not be imported."""
    import importlib

    missing = []
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional extra that is not installed
            missing.append(name)
    return missing


def _pin_threads(cores: list[int]) -> None:
    """Pin every thread (the libraries' pools started while warming up) to ``cores``."""
    if not cores or not hasattr(os, "sched_setaffinity"):
        return
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:
            continue


def take_order(order: dict[str, Any]) -> Path:
    """Become the job: its environment, its log as stdout/stderr, its cores, its folder."""
    job_dir = Path(str(order["job_dir"]))
    env = order.get("env") or {}
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(env).items()})
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(job_dir / c.LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _pin_threads([int(x) for x in order.get("cores") or []])
    os.chdir(job_dir)
    return job_dir


def serve(argv: list[str]) -> int:
    """``python -m shipyard.runtime --spare``: warm up, wait for one job, run it."""
    missing = warm_up()
    if missing:
        print(f"spare: not warmed: {', '.join(missing)}", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the server went away, or closed the spare unused
    job_dir = take_order(json.loads(line))
    from shipyard.runtime._bootstrap import main

    return main([str(job_dir)])
