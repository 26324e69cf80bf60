"""A job's working folder and environment, built exactly per the runtime contract.

Whatever executor runs the job, the folder and the variables are the ones made
here, and the process is started with :func:`command_line`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.jobs._spec import env_value
from shipyard.runtime import _contract as c


class JobFailure(ShipyardError):
    """A job cannot go on; carries the failure reason recorded on the job."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def command_line(job_dir: Path, python: str | Path = sys.executable) -> list[str]:
    """The one command line that runs a job, on any executor."""
    return [str(python), "-m", "shipyard.runtime", str(job_dir)]


def layout(job_dir: Path, spec: Mapping[str, Any], job_id: str, attempt: int) -> None:
    """Create (or, for a retry, reset) the folder; keep ``checkpoints/`` and ``job.log``."""
    for sub in ("input", c.CODE_DIR, c.MODEL_DIR, c.OUTPUT_DIR):
        shutil.rmtree(job_dir / sub, ignore_errors=True)
    for sub in (c.CONFIG_DIR, c.INPUT_DATA_DIR, c.CODE_DIR, c.MODEL_DIR, c.OUTPUT_DATA_DIR,
                c.CHECKPOINTS_DIR):
        (job_dir / sub).mkdir(parents=True, exist_ok=True)
    for channel in spec.get("inputs", {}):
        (job_dir / c.INPUT_DATA_DIR / channel).mkdir(parents=True, exist_ok=True)
    for name in spec.get("outputs", []):
        (job_dir / c.OUTPUT_DATA_DIR / name).mkdir(parents=True, exist_ok=True)
    (job_dir / c.LOG_FILE).touch()
    resources = spec["resources"]
    inputs = {
        ch: {**ref, "path": str(job_dir / c.INPUT_DATA_DIR / ch)}
        for ch, ref in spec.get("inputs", {}).items()
    }
    configs: dict[str, Any] = {
        c.HYPERPARAMETERS_FILE: spec.get("hyperparameters", {}),
        c.RESOURCES_FILE: {"cpus": resources["cpus"], "memory": resources["memory"],
                           "memory_bytes": resources["memory_bytes"]},
        c.INPUTDATA_FILE: inputs,
        c.JOB_FILE: {"job_id": job_id, "kind": spec["kind"],
                     "script": (spec.get("script") or {}).get("filename"),
                     "outputs": spec.get("outputs", []), "attempt": attempt,
                     "metric_definitions": spec.get("metric_definitions") or []},
    }
    if spec["kind"] == "training":
        configs[c.TRAINING_FILE] = {k: spec.get(k) for k in
                                    ("algorithm", "target", "problem_type", "split", "recipe",
                                     "bundle_size_warning")}
    if spec["kind"] == "transform":
        model = spec["model"]
        configs[c.TRANSFORM_FILE] = {
            "model": f"{model['group']}:{model['version']}",
            "keep_columns": spec.get("keep_columns") or [],
            "chunk_rows": spec.get("chunk_rows")}
    if spec["kind"] == "monitoring":
        model = spec["model"]
        configs[c.MONITORING_FILE] = {"model": f"{model['group']}:{model['version']}",
                                      **spec["monitor"]}
    if spec["kind"] == "wrangle":
        configs[c.WRANGLE_FILE] = {
            "output": spec["outputs"][0],
            **{k: spec.get(k) for k in ("sql", "recipe", "target", "tables",
                                         "allowed_directories", "filesystems")}}
    for rel, data in configs.items():
        (job_dir / rel).write_text(json.dumps(data, indent=2, sort_keys=True))


def environment(job_dir: Path, spec: Mapping[str, Any], job_id: str,
                base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The job's variables: the server's (less ``SHIPYARD_*``), the user's, the contract's."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith("SHIPYARD_")}
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(var, None)
    env.update({k: env_value(v) for k, v in spec.get("environment", {}).items()})
    cpus = str(spec["resources"]["cpus"])
    env.update({
        c.ENV_JOB_ID: job_id,
        c.ENV_JOB_DIR: str(job_dir),
        c.ENV_MODEL_DIR: str(job_dir / c.MODEL_DIR),
        c.ENV_OUTPUT_DIR: str(job_dir / c.OUTPUT_DIR),
        c.ENV_NUM_CPUS: cpus,
        "PYTHONUNBUFFERED": "1",
    })
    for var in c.THREAD_VARIABLES:
        env[var] = cpus
    for ch in spec.get("inputs", {}):
        env[c.ENV_CHANNEL_PREFIX + c.env_suffix(ch)] = str(job_dir / c.INPUT_DATA_DIR / ch)
    for name in spec.get("outputs", []):
        env[c.ENV_OUTPUT_DATA_PREFIX + c.env_suffix(name)] = str(
            job_dir / c.OUTPUT_DATA_DIR / name)
    for key, value in spec.get("hyperparameters", {}).items():
        env[c.ENV_HP_PREFIX + c.env_suffix(key)] = env_value(value)
    return env


def read_failure(job_dir: Path) -> tuple[str | None, str]:
    """The reason and message the job left in ``output/failure`` (None, "" if none)."""
    path = job_dir / c.FAILURE_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:20_000]
    except (FileNotFoundError, IsADirectoryError):
        return None, ""
    first, _, rest = text.partition("\n")
    if first.strip() in (c.SCRIPT_ERROR, c.MEMORY_LIMIT, c.INPUT_ERROR):
        return first.strip(), rest.strip()
    return c.SCRIPT_ERROR, text.strip()


def append_log(job_dir: Path, line: str) -> None:
    """Add a line of the platform's own to the job log (prefixed ``[shipyard]``)."""
    with open(job_dir / c.LOG_FILE, "ab") as fh:
        fh.write(f"[shipyard] {line}\n".encode())
