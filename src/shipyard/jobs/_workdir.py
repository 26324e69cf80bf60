"""A job's command line and environment, built exactly per the runtime contract.

Whatever executor runs the job, the process is started with :func:`command_line`
(the one command line, the same on every executor) in the environment made by
:func:`environment`, in a folder staged by :func:`shipyard.jobs._package.stage`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import ShipyardError
from shipyard.jobs._identity import open_below
from shipyard.jobs._spec import env_value
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.jobs._package import JobPackage


#: The artifact store's keys in the server's environment: never inherited by a job.
STORE_SECRETS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "AWS_SECURITY_TOKEN"})


class JobFailure(ShipyardError):
    """A job cannot go on; carries the failure reason recorded on the job."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def command_line(job_dir: Path, python: str | Path = sys.executable) -> list[str]:
    """The one command line that runs a job, on any executor."""
    return [str(python), "-m", "shipyard.runtime", str(job_dir)]


def environment(job_dir: Path, package: JobPackage,
                base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The job's variables: the server's (less ``SHIPYARD_*``), the user's, the contract's.

    No user's or admin token reaches a job: ``SHIPYARD_*`` of the server are dropped,
    and so are the keys the server (or a Ray worker) reaches the artifact store with
    (:data:`STORE_SECRETS`: a job that had them could rewrite any stored model; a job
    that needs keys of its own gets them from its spec's ``environment``),
    and ``SHIPYARD_TOKEN`` is the attempt's own job token (with ``SHIPYARD_URL``), so
    the SDK inside the job can read its own job and nothing else.
    ``PYTHONPATH`` is the package's extra import roots only (a plug-in kind's module
    that is not installed), never the server's.
    """
    spec = package.spec
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items()
           if not k.startswith("SHIPYARD_") and k not in STORE_SECRETS}
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(var, None)
    if package.python_path:
        env["PYTHONPATH"] = os.pathsep.join(package.python_path)
    env.update({k: env_value(v) for k, v in (spec.get("environment") or {}).items()})
    cpus = str(spec["resources"]["cpus"])
    env.update({
        c.ENV_JOB_ID: package.job_id,
        c.ENV_JOB_DIR: str(job_dir),
        c.ENV_MODEL_DIR: str(job_dir / c.MODEL_DIR),
        c.ENV_OUTPUT_DIR: str(job_dir / c.OUTPUT_DIR),
        c.ENV_NUM_CPUS: cpus,
        "PYTHONUNBUFFERED": "1",
    })
    if package.token:
        env[c.TOKEN_VARIABLE] = package.token
    if package.server_url:
        env[c.URL_VARIABLE] = package.server_url
    for var in c.THREAD_VARIABLES:
        env[var] = cpus
    for ch in spec.get("inputs") or {}:
        env[c.ENV_CHANNEL_PREFIX + c.env_suffix(ch)] = str(job_dir / c.INPUT_DATA_DIR / ch)
    for name in spec.get("outputs") or []:
        env[c.ENV_OUTPUT_DATA_PREFIX + c.env_suffix(name)] = str(
            job_dir / c.OUTPUT_DATA_DIR / name)
    for key, value in (spec.get("hyperparameters") or {}).items():
        env[c.ENV_HP_PREFIX + c.env_suffix(key)] = env_value(value)
    return env


def append_log(job_dir: Path, line: str) -> None:
    """Add a line of the platform's own to the job log (prefixed ``[shipyard]``)."""
    fd = open_below(job_dir, c.LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "ab") as fh:  # never through a link the job put in its place
        fh.write(f"[shipyard] {line}\n".encode())


def admit(job_dir: Path, attempt: int) -> None:
    """Open the start gate of ``attempt`` (:data:`~shipyard.runtime._contract.ADMITTED_FILE`):
    its process may run the job's code now. Idempotent (a restarted control plane admits
    a running attempt again); never through a link the job put in its place."""
    fd = open_below(job_dir, c.ADMITTED_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.fchmod(fd, 0o644)  # the job (maybe another OS user) reads it, whatever the umask
    with os.fdopen(fd, "wb") as fh:
        fh.write(f"{attempt}\n".encode())
