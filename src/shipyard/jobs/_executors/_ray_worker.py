"""The worker side of the Ray executor: one :class:`JobRunner` actor per job attempt.

The actor lives on a Ray worker node (detached and named, so it outlives a
control-plane restart). It stages the :class:`~shipyard.jobs._package.JobPackage`
from the artifact store into a working folder of that node, starts the one
command line (:func:`~shipyard.jobs._workdir.command_line`) as its own process
group, and answers the control plane's questions about it (exit, usage,
heartbeat, log, metrics, failure); at the end it puts the job's outputs into the
artifact store from where they were written (:func:`~shipyard.jobs._collect.collect`).

A runner is created either for one attempt (the package given at creation: the cold
path) or idle, for the executor's warm pool (:mod:`._ray_pool`): it has its process
started and this module imported, and takes an attempt later with :meth:`JobRunner.assign`.
Once assigned it behaves exactly like a runner created for that attempt.

This module imports Ray only to name the cluster: :mod:`._ray` wraps :class:`JobRunner`
as an actor.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.jobs._checkpoints import CheckpointSync
from shipyard.jobs._collect import collect, read_failure, read_metric_lines
from shipyard.jobs._executors._protocol import CoreMeter, tree_usage
from shipyard.jobs._package import JobPackage, stage
from shipyard.jobs._venv import EnvironmentFailed, ensure_venv, venv_python
from shipyard.jobs._workdir import JobFailure, admit, append_log, command_line, environment
from shipyard.runtime import _contract as c

#: At most this much of the log goes back per :meth:`JobRunner.status` call.
LOG_CHUNK = 1024 * 1024
_PR_SET_PDEATHSIG = 1
#: The job's variable naming its cluster (set by this executor only).
RAY_ADDRESS_VARIABLE = "SHIPYARD_RAY_ADDRESS"


def work_root() -> Path:
    """Where job folders live on this node: under the worker's temporary folder
    (``TMPDIR`` moves it)."""
    return Path(tempfile.gettempdir()) / "shipyard-ray"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """The job process is killed when the actor that started it dies (a killed worker
    must not leave the job running unwatched)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _cluster_address() -> str:
    """The GCS address of the cluster this actor runs on (a job that spreads over several
    instances connects its own driver to it)."""
    import ray

    return str(ray.get_runtime_context().gcs_address)


def take_cores(job_key: str, n: int) -> tuple[int, ...]:
    """``n`` cores of this node for ``job_key``, the least used first.

    Every actor of the node shares one small table under a file lock; entries of
    actors that are gone are dropped, so a killed actor's cores come back.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else list(range(os.cpu_count() or 1))
    root = work_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "cores.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        table = _read_table(root / "cores.json")
        table = {k: v for k, v in table.items() if k != job_key and psutil.pid_exists(v["pid"])}
        use = {core: 0 for core in cores}
        for entry in table.values():
            for core in entry["cores"]:
                if core in use:
                    use[core] += 1
        chosen = tuple(sorted(sorted(cores, key=lambda k: (use[k], k))[:n]))
        table[job_key] = {"pid": os.getpid(), "cores": list(chosen)}
        (root / "cores.json").write_text(json.dumps(table))
    return chosen


def give_back_cores(job_key: str) -> None:
    root = work_root()
    with contextlib.suppress(OSError), open(root / "cores.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        table = _read_table(root / "cores.json")
        if table.pop(job_key, None) is not None:
            (root / "cores.json").write_text(json.dumps(table))


def _read_table(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class JobRunner:
    """One attempt of a job on this node (a Ray actor; see the module docstring).

    Args:
        package: the attempt (:meth:`JobPackage.to_dict`), or None for an idle runner
            of the warm pool, which gets its attempt from :meth:`assign`.
    """

    #: The attempt, its key and folder: set once, at creation or by :meth:`assign`.
    package: JobPackage
    key: str
    job_dir: Path
    checkpoints: CheckpointSync

    def __init__(self, package: dict[str, Any] | None, artifact_url: str,
                 artifact_options: dict[str, Any] | None = None) -> None:
        self.tmp = work_root() / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.artifacts = ArtifactStore(artifact_url, tmp_dir=self.tmp,
                                       options=artifact_options)
        self.popen: subprocess.Popen[bytes] | None = None
        self.cores: tuple[int, ...] = ()
        self.seen_at = time.time()
        self._cpu = -1.0
        self._meter = CoreMeter()
        self.helpers: list[Any] = []
        self._assigned = False
        self._assign_lock = threading.Lock()
        if package is not None:
            self._take(package)

    def _take(self, package: dict[str, Any]) -> None:
        self.package = JobPackage.from_dict(package)
        self.key = f"{self.package.job_id}-{self.package.attempt}"
        self.job_dir = work_root() / "jobs" / self.key
        # A fresh folder each attempt: the control plane holds the log of earlier ones.
        shutil.rmtree(self.job_dir, ignore_errors=True)
        self.job_dir.mkdir(parents=True)
        (self.job_dir / c.LOG_FILE).touch()
        self.checkpoints = CheckpointSync(self.job_dir, self.package.job_id, self.artifacts,
                                          self.tmp)
        self.seen_at = time.time()
        self._assigned = True

    # -- the warm pool --------------------------------------------------------------------
    def node(self) -> str:
        """The Ray node this runner lives on (hex id): a job's CPUs are reserved there."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def assigned(self) -> tuple[str, int] | None:
        """(job id, attempt) of the attempt this runner has, None while it is idle."""
        return (self.package.job_id, self.package.attempt) if self._assigned else None

    def assign(self, package: dict[str, Any]) -> dict[str, Any]:
        """Take the attempt ``package`` and start it, as :meth:`launch` does (one call:
        a threaded actor does not keep the order of two).

        Raises:
            RuntimeError: this runner has an attempt already (it is never given another).
            JobFailure: as :meth:`launch`.
        """
        with self._assign_lock:
            if self._assigned:
                raise RuntimeError(f"this runner runs {self.key} already")
            self._take(package)
        return self.launch()

    def where(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "job_dir": str(self.job_dir),
                "actor_pid": os.getpid()}

    # -- starting -------------------------------------------------------------------------
    def launch(self) -> dict[str, Any]:
        """Stage the package, build its venv if it has requirements, start the process.

        Raises:
            JobFailure: ``input_error`` (staging) or ``environment_error`` (venv, spawn).
        """
        helpers = self._start_helpers()  # first: their cold start overlaps the staging
        stage(self.package, self.job_dir, self.artifacts)
        python = sys.executable
        if self.package.requirements:
            try:
                text = self.artifacts.read_bytes(self.package.requirements).decode()
                venv = ensure_venv(text, work_root() / "venvs", self.job_dir / c.LOG_FILE,
                                   lambda: False)
            except (EnvironmentFailed, ShipyardError) as exc:
                raise JobFailure(st.ENVIRONMENT_ERROR, exc.message) from None
            python = str(venv_python(venv))
        env = environment(self.job_dir, self.package)
        env[RAY_ADDRESS_VARIABLE] = _cluster_address()
        if helpers:
            env[c.ENV_RAY_HELPERS] = ",".join(helpers)
        self.cores = take_cores(self.key, self.package.cpus)
        try:
            with open(self.job_dir / c.LOG_FILE, "ab") as log:
                self.popen = subprocess.Popen(
                    command_line(self.job_dir, python), cwd=self.job_dir, env=env,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509
                )
        except OSError as exc:
            give_back_cores(self.key)
            raise JobFailure(st.ENVIRONMENT_ERROR,
                             f"The job process could not start: {exc}") from None
        if hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.popen.pid, self.cores)
        self.seen_at = time.time()
        return {**self.where(), "pid": self.popen.pid, "cores": list(self.cores)}

    def _start_helpers(self) -> list[str]:
        """The actors the job's kind asks for beside it (``JobKind.helpers``), named after
        this attempt; owned by this actor, so they end with it at the latest."""
        if not self.package.helpers or self.package.helpers[1] < 1:
            return []
        import importlib

        import ray

        path, count = self.package.helpers
        module, _, name = path.partition(":")
        actor = ray.remote(getattr(importlib.import_module(module), name))
        names = [f"shipyard-job-{self.key}-helper-{i}" for i in range(count)]
        self.helpers = [actor.options(name=n, num_cpus=self.package.cpus).remote()
                        for n in names]
        return names

    # -- watching -------------------------------------------------------------------------
    def status(self, log_offset: int) -> dict[str, Any]:
        """Everything the supervisor asks each tick, in one call: the exit code (None while
        it runs), usage, the last sign of life, and the log after ``log_offset``."""
        code = None if self.popen is None else self.popen.poll()
        rss, cpu, read, written = self._usage()
        try:
            beat = (self.job_dir / c.HEARTBEAT_FILE).stat().st_mtime
        except OSError:
            beat = 0.0
        return {"exit": code, "rss": rss, "cpu": cpu, "read": read, "written": written,
                "cores": {str(k): v for k, v in self._meter.percent(self.cores).items()},
                "beat": max(beat, self.seen_at),
                "log": self.read_log(log_offset, LOG_CHUNK)}

    def _usage(self) -> tuple[int, float, int, int]:
        rss, cpu, read, written = tree_usage(None if self.popen is None else self.popen.pid)
        if cpu > self._cpu:  # busy in one long C call counts as alive
            self._cpu, self.seen_at = cpu, time.time()
        return rss, cpu, read, written

    def admit(self) -> None:
        """Open the start gate of the attempt (see ``JobHandle.admit``)."""
        with contextlib.suppress(OSError):
            admit(self.job_dir, self.package.attempt)

    def signal(self, sig: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def read_log(self, offset: int, limit: int) -> bytes:
        try:
            with open(self.job_dir / c.LOG_FILE, "rb") as fh:
                fh.seek(offset)
                return fh.read(limit)
        except FileNotFoundError:
            return b""

    def append_log(self, line: str) -> None:
        with contextlib.suppress(OSError):
            append_log(self.job_dir, line)

    def read_metrics(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        return read_metric_lines(self.job_dir / c.METRICS_FILE, offset)

    def failure(self) -> tuple[str | None, str]:
        return read_failure(self.job_dir)

    # -- the end --------------------------------------------------------------------------
    def collect(self) -> dict[str, Any]:
        """Model files, output data and other output files into the artifact store (the
        control plane stores the log, which it holds whole).

        Raises:
            JobFailure: ``output_error``.
        """
        self.signal(signal.SIGKILL)  # nothing the job left may write meanwhile
        return collect(self.job_dir, dict(self.package.spec), self.artifacts,
                       log=False).to_dict()

    def sync_checkpoints(self) -> int:
        """The job's changed checkpoint files into the artifact store (see
        ``shipyard.jobs._checkpoints``); how many were stored anew."""
        return self.checkpoints.sync().uploaded

    def release(self) -> None:
        """Stop what the job left running, free its cores, remove the folder."""
        self.checkpoints.close()
        self.signal(signal.SIGKILL)
        if self.helpers:
            import ray

            for helper in self.helpers:
                with contextlib.suppress(Exception):
                    ray.kill(helper)
            self.helpers = []
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
        give_back_cores(self.key)
        shutil.rmtree(self.job_dir, ignore_errors=True)
