"""The local executor: each job is a subprocess in its own process group and working folder.

Limits: CPUs by affinity to N cores (chosen least-used first), memory by the
supervisor sampling the resident size of the job's whole process tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.jobs._spares import SparePool
from shipyard.jobs._spec import usable_cpus
from shipyard.jobs._venv import EnvironmentFailed, ensure_venv, venv_python
from shipyard.jobs._workdir import (
    JobFailure,
    append_log,
    command_line,
    environment,
    layout,
)
from shipyard.runtime import _contract as c
from shipyard.settings import Settings
from shipyard.store import JobRecord


@dataclass
class JobProcess:
    """A started job process (the leader of its own process group)."""

    job_id: str
    job_dir: Path
    pid: int
    create_time: float
    popen: subprocess.Popen[bytes]
    cores: tuple[int, ...]
    started: float = field(default_factory=time.monotonic)

    def poll(self) -> int | None:
        return self.popen.poll()

    def signal(self, sig: int) -> None:
        signal_group(self.pid, sig)

    def rss(self) -> int:
        """Resident bytes of the process and all its descendants."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def process_alive(pid: int, create_time: float | None) -> bool:
    """True if ``pid`` is still the process that was started at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(proc.create_time() - create_time) < 0.5
    except psutil.Error:
        return False


def find_job_processes(job_dirs: set[Path]) -> dict[Path, list[psutil.Process]]:
    """Processes started with :func:`command_line` for one of ``job_dirs``, by job folder.

    Found by their command line, so a job whose pid was never recorded is found too.
    """
    targets = {str(d): d for d in job_dirs}
    found: dict[Path, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if len(cmd) >= 4 and cmd[-3:-1] == ["-m", "shipyard.runtime"] and cmd[-1] in targets:
            found.setdefault(targets[cmd[-1]], []).append(proc)
    return found


class CorePool:
    """Hands out CPU cores to jobs, the least used ones first."""

    def __init__(self) -> None:
        self.cores = usable_cpus()
        self.use: Counter[int] = Counter()
        self.lock = threading.Lock()

    def take(self, n: int) -> tuple[int, ...]:
        with self.lock:
            chosen = sorted(self.cores, key=lambda core: (self.use[core], core))[:n]
            self.use.update(chosen)
            return tuple(sorted(chosen))

    def give_back(self, cores: tuple[int, ...]) -> None:
        with self.lock:
            self.use.subtract(cores)


class LocalExecutor:
    """Prepares working folders and starts job processes on this machine."""

    def __init__(self, settings: Settings, artifacts: ArtifactStore, datasets: Any) -> None:
        self.settings = settings
        self.artifacts = artifacts
        self.datasets = datasets
        self.cores = CorePool()
        self.spares = SparePool(settings.tmp_dir / "spares", enabled=settings.warm_runtime)

    def job_dir(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id

    def prepare(self, job: JobRecord, should_abort: Callable[[], bool]) -> str:
        """Build the working folder, inputs and environment; return the interpreter to use.

        Raises:
            JobFailure: ``input_error`` or ``environment_error``.
        """
        spec = job.spec
        job_dir = self.job_dir(job.id)
        job_dir.mkdir(parents=True, exist_ok=True)
        layout(job_dir, spec, job.id, job.attempts)
        append_log(job_dir, f"attempt {job.attempts} of {job.max_attempts} starting")
        script = spec.get("script")
        try:
            if script:
                self.artifacts.copy_to(script["sha256"],
                                       job_dir / c.CODE_DIR / script["filename"])
        except ShipyardError as exc:
            raise JobFailure(st.INPUT_ERROR,
                             f"The job's script could not be read: {exc.message}") from None
        if spec.get("kind") in ("transform", "monitoring"):
            self._materialize_model(spec["model"], job_dir / c.INPUT_MODEL_DIR)
        for channel, ref in spec.get("inputs", {}).items():
            if should_abort():
                return sys.executable
            dest = job_dir / c.INPUT_DATA_DIR / channel
            try:
                self.datasets.materialize(ref["dataset"], ref["version"], dest)
            except Exception as exc:  # noqa: BLE001 - any failure here is the input's
                msg = exc.message if isinstance(exc, ShipyardError) else repr(exc)
                raise JobFailure(
                    st.INPUT_ERROR,
                    f"Input {channel!r} (dataset {ref['dataset']!r} version {ref['version']}) "
                    f"could not be prepared: {msg}",
                ) from None
        requirements = spec.get("requirements")
        if not requirements:
            return sys.executable
        try:
            text = self.artifacts.read_bytes(requirements["sha256"]).decode()
            venv = ensure_venv(text, self.settings.venvs_dir, job_dir / c.LOG_FILE, should_abort)
        except (EnvironmentFailed, ShipyardError) as exc:
            raise JobFailure(st.ENVIRONMENT_ERROR, exc.message) from None
        return str(venv_python(venv))

    def _materialize_model(self, model: dict[str, Any], dest: Path) -> None:
        """Checked copies of a model version's bundle files (a transform job's model)."""
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for entry in model["files"]:
            target = (dest / entry["path"]).resolve()
            try:
                if not target.is_relative_to(root) or target == root:
                    raise ShipyardError(f"unsafe file name {entry['path']!r}")
                self.artifacts.copy_to(entry["sha256"], target)
            except ShipyardError as exc:
                raise JobFailure(
                    st.INPUT_ERROR,
                    f"Model {model['group']}:{model['version']} could not be prepared: "
                    f"{exc.message}") from None

    def spawn(self, job: JobRecord, python: str) -> JobProcess:
        """Start the job process: own session and group, output appended to the job log."""
        job_dir = self.job_dir(job.id)
        env = environment(job_dir, job.spec, job.id)
        cores = self.cores.take(int(job.spec["resources"]["cpus"]))
        try:
            popen = None
            if job.kind in ("training", "transform", "monitoring") and python == sys.executable:
                # Built-in code of ours: a warm runtime skips seconds of imports.
                popen = self.spares.take(job_dir, env, cores)
                if popen is not None:
                    append_log(job_dir, "running in a warm runtime")
            if popen is None:
                with open(job_dir / c.LOG_FILE, "ab") as log:
                    popen = subprocess.Popen(
                        command_line(job_dir, python), cwd=job_dir, env=env, stdout=log,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
        except OSError as exc:
            self.cores.give_back(cores)
            raise JobFailure(st.ENVIRONMENT_ERROR, f"The job process could not start: {exc}") \
                from None
        # Set before the interpreter has finished starting, so the script and anything it
        # starts inherit the affinity.
        if hasattr(os, "sched_setaffinity"):  # Linux; elsewhere only the thread variables
            with contextlib.suppress(OSError):  # already exited: the supervisor sees the exit
                os.sched_setaffinity(popen.pid, cores)
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            create_time = time.time()
        return JobProcess(job.id, job_dir, popen.pid, create_time, popen, cores)

    def release(self, proc: JobProcess) -> None:
        """After the exit: end any process the job left in its group, free its cores."""
        signal_group(proc.pid, signal.SIGKILL)
        self.cores.give_back(proc.cores)
