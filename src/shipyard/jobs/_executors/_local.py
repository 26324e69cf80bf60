"""The local executor: each job is a subprocess in its own process group and working folder.

Working folder ``$SHIPYARD_HOME/jobs/<id>/``. A server running as root runs its
jobs as the job user (:mod:`shipyard.jobs._identity`: the folder is handed over
before the process starts and reclaimed when it ends). Limits: CPUs by affinity to N cores
(chosen least-used first); memory by the supervisor sampling the resident size of
the job's whole process tree through :meth:`LocalHandle.usage`. Built-in kinds
that allow it are forked from a warm runtime (:mod:`shipyard.jobs._spares`); a job with
requirements runs in a venv cached by their hash (:mod:`shipyard.jobs._venv`).

Jobs outlive a killed control plane (own session, output to the log file); the
next one re-attaches to them (:meth:`LocalExecutor.recover`) by the host, pid and
start time recorded in the handle's state, and reads the exit code the bootstrap
writes, since it can no longer wait for a process that is not its child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.jobs._checkpoints import CheckpointSync
from shipyard.jobs._collect import Manifest, collect, read_failure, read_metric_lines
from shipyard.jobs._executors._protocol import EXIT_UNKNOWN, CoreMeter, JobHandle, Usage, tree_usage
from shipyard.jobs._identity import check_reachable, hand_over, job_user, open_below, reclaim
from shipyard.jobs._package import JobPackage, open_log, package_for, stage
from shipyard.jobs._spares import WarmRuntime
from shipyard.jobs._spec import Capacity, local_capacity, usable_cpus
from shipyard.jobs._venv import EnvironmentFailed, ensure_venv, venv_python
from shipyard.jobs._workdir import JobFailure, admit, append_log, command_line, environment
from shipyard.runtime import _contract as c
from shipyard.settings import Settings
from shipyard.store import JobRecord, MetricPoint


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
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

    Found by their command line, so a job whose pid was never recorded is found too; a
    job forked by a warm runtime has the fork server's command line (``--spare``) and is
    found by its working folder, which it moved to before anything else.
    """
    targets = {str(d): d for d in job_dirs}
    found: dict[Path, list[psutil.Process]] = {}
    if not targets:
        return found
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if len(cmd) >= 4 and cmd[-3:-1] == ["-m", "shipyard.runtime"] and cmd[-1] in targets:
            found.setdefault(targets[cmd[-1]], []).append(proc)
        elif len(cmd) >= 3 and cmd[-3:] == ["-m", "shipyard.runtime", "--spare"]:
            try:
                cwd = proc.cwd()
            except psutil.Error:  # gone, or not ours to read
                continue
            if cwd in targets:
                found.setdefault(targets[cwd], []).append(proc)
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

    def reserve(self, cores: Sequence[int]) -> tuple[int, ...]:
        """Count ``cores`` as used (a re-attached job keeps the cores it had)."""
        kept = tuple(core for core in cores if core in self.cores)
        with self.lock:
            self.use.update(kept)
        return kept

    def give_back(self, cores: tuple[int, ...]) -> None:
        with self.lock:
            self.use.subtract(cores)


class LocalHandle:
    """One attempt of a job in a local working folder (see :class:`JobHandle`)."""

    def __init__(self, executor: LocalExecutor, package: JobPackage, job_dir: Path) -> None:
        self.executor = executor
        self.package = package
        self.job_id = package.job_id
        self.job_dir = job_dir
        self.popen: subprocess.Popen[bytes] | None = None
        #: The warm runtime that forked the process (it reports the exit code).
        self.forked_by: WarmRuntime | None = None
        self._code: int | None = None
        self._pid: int | None = None
        self.create_time: float | None = None
        self.cores: tuple[int, ...] = ()
        self.python = sys.executable
        self.seen_at = time.time()
        self._cpu = -1.0
        self._meter = CoreMeter()
        self._released = False
        self.checkpoints = CheckpointSync(job_dir, package.job_id, executor.artifacts,
                                          executor.settings.tmp_dir)

    # -- identity -------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def state(self) -> dict[str, Any]:
        return {"executor": "local", "host": socket.gethostname(), "pid": self._pid,
                "create_time": self.create_time, "job_dir": str(self.job_dir),
                "cores": list(self.cores)}

    def _started(self, pid: int, cores: tuple[int, ...],
                 popen: subprocess.Popen[bytes] | None) -> None:
        self.popen, self._pid, self.cores = popen, pid, cores
        try:
            self.create_time = psutil.Process(pid).create_time()
        except psutil.Error:
            self.create_time = time.time()
        self.seen_at = time.time()

    # -- watching -------------------------------------------------------------------------
    def poll(self) -> int | None:
        if self.popen is not None:
            return self.popen.poll()
        if self._pid is None:
            return EXIT_UNKNOWN
        if self._code is not None:
            return self._code
        if process_alive(self._pid, self.create_time):
            return None
        if self.forked_by is not None:  # not our child: the warm runtime reaped it
            known, code = self.forked_by.exit_code(self._pid)
            if not known:
                return None  # ended a moment ago; its report is on the way
            if code is not None:
                self._code = code
                return code
        try:  # not our child (re-attached): the bootstrap wrote its exit code, or was killed
            fd = open_below(self.job_dir, c.EXIT_FILE)
            with os.fdopen(fd, "rb") as fh:
                return int(fh.read(64).strip())
        except (OSError, ValueError):
            return EXIT_UNKNOWN

    def signal(self, sig: int) -> None:
        if self._pid is not None:
            signal_group(self._pid, sig)

    def admit(self) -> None:
        with contextlib.suppress(OSError):  # the folder was removed: the job is gone
            admit(self.job_dir, self.package.attempt)

    def usage(self) -> Usage:
        rss, cpu, read, written = tree_usage(self._pid)
        if cpu > self._cpu:  # busy (maybe in one long C call, heartbeat thread blocked)
            self._cpu, self.seen_at = cpu, time.time()
        return Usage(rss_bytes=rss, cpu_seconds=cpu, read_bytes=read, write_bytes=written,
                     core_percent=self._meter.percent(self.cores))

    def heartbeat(self) -> float:
        try:
            beat = (self.job_dir / c.HEARTBEAT_FILE).stat().st_mtime
        except OSError:
            beat = 0.0
        return max(beat, self.seen_at)

    # -- the log, metrics, failure --------------------------------------------------------
    def read_log(self, offset: int, limit: int) -> bytes:
        try:  # the job may own its log: never through a link it put there
            with os.fdopen(open_below(self.job_dir, c.LOG_FILE), "rb") as fh:
                fh.seek(offset)
                return fh.read(limit)
        except OSError:
            return b""

    def append_log(self, line: str) -> None:
        with contextlib.suppress(OSError):  # the folder was removed under us
            append_log(self.job_dir, line)

    def read_metrics(self, offset: int) -> tuple[list[MetricPoint], int]:
        lines, offset = read_metric_lines(self.job_dir / c.METRICS_FILE, offset)
        return [MetricPoint(p["name"], p["value"], p["step"], p["timestamp"])
                for p in lines], offset

    def failure(self) -> tuple[str | None, str]:
        return read_failure(self.job_dir)

    def _reclaim(self) -> None:
        links = reclaim(self.job_dir)
        if links:
            self.append_log(f"the job left links in place of {', '.join(links)}; they were "
                            "removed, not followed (what they replaced is lost)")

    def collect(self, *, outputs: bool = True, log: bool = True) -> Manifest:
        if outputs and self._pid is not None:  # nothing the job left may write meanwhile
            signal_group(self._pid, signal.SIGKILL)
        if self.executor.user is not None and self.poll() is not None:
            self._reclaim()  # root's again: what is collected is what the job left
        return collect(self.job_dir, dict(self.package.spec), self.executor.artifacts,
                       outputs=outputs, log=log)

    def sync_checkpoints(self) -> int:
        # Read as the server's user through descriptors that never follow a link the job
        # (maybe another OS user) left there.
        return self.checkpoints.sync().uploaded

    def release(self) -> None:
        """End any process the job left in its group; free its cores (once)."""
        self.checkpoints.close()
        if self._pid is not None:
            signal_group(self._pid, signal.SIGKILL)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
        if self.executor.user is not None:  # a later job cannot read this one's folder
            with contextlib.suppress(OSError):
                self._reclaim()
        if not self._released:
            self._released = True
            self.executor.cores.give_back(self.cores)


class LocalExecutor:
    """Prepares working folders and starts job processes on this machine."""

    name = "local"

    def __init__(self, settings: Settings, artifacts: ArtifactStore) -> None:
        self.settings = settings
        self.artifacts = artifacts
        self.cores = CorePool()
        #: Who jobs run as (None: the server's own user; see shipyard.jobs._identity).
        self.user = job_user(settings)
        if self.user is not None:  # it must reach the home and Python (opened if need be)
            check_reachable(settings, self.user)
        self.spares = WarmRuntime(settings.tmp_dir / "spares", enabled=settings.warm_runtime,
                                  user=self.user)

    def job_dir(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id

    def capacity(self) -> Capacity:
        return local_capacity()

    def start(self) -> None:
        self.spares.fill(reopen=True)

    def close(self) -> None:
        self.spares.close()

    def prepare(self, package: JobPackage) -> LocalHandle:
        job_dir = self.job_dir(package.job_id)
        if self.user is not None:  # a retry: the last attempt's folder is root's first
            reclaim(job_dir)
        open_log(package, job_dir, self.artifacts)
        handle = LocalHandle(self, package, job_dir)
        handle.append_log(f"attempt {package.attempt} of {package.max_attempts} starting")
        return handle

    def launch(self, handle: JobHandle, should_abort: Callable[[], bool]) -> bool:
        """Stage the folder, build the venv if the job has requirements, start the process.

        Raises:
            JobFailure: ``input_error`` (staging) or ``environment_error`` (venv, spawn).
        """
        if not isinstance(handle, LocalHandle):
            raise TypeError(f"the local executor launches its own handles; got {handle!r}")
        h = handle
        package = h.package
        if not stage(package, h.job_dir, self.artifacts, should_abort) or should_abort():
            return False
        if package.requirements:
            try:
                text = self.artifacts.read_bytes(package.requirements).decode()
                venv = ensure_venv(text, self.settings.venvs_dir, h.job_dir / c.LOG_FILE,
                                   should_abort)
            except (EnvironmentFailed, ShipyardError) as exc:
                raise JobFailure(st.ENVIRONMENT_ERROR, exc.message) from None
            h.python = str(venv_python(venv))
        if should_abort():
            return False
        if self.user is not None:
            hand_over(h.job_dir, self.user)
        self._spawn(h)
        return True

    def _spawn(self, h: LocalHandle) -> None:
        """Start the job process: own session and group, output appended to the job log."""
        env = environment(h.job_dir, h.package)
        drop: dict[str, Any] = {}
        if self.user is not None:  # the server is root: the job runs as the job user
            env["HOME"] = str(h.job_dir)
            drop = {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
        cores = self.cores.take(h.package.cpus)
        try:
            popen, pid = None, None
            if h.package.warm and h.python == sys.executable:
                # Built-in code of ours: a warm runtime skips seconds of imports.
                pid = self.spares.take(h.job_dir, env, cores)
                if pid is not None:
                    h.forked_by = self.spares
                    h.append_log("running in a warm runtime")
            if pid is None:
                with os.fdopen(open_below(h.job_dir, c.LOG_FILE, os.O_WRONLY | os.O_APPEND),
                               "ab") as log:
                    popen = subprocess.Popen(
                        command_line(h.job_dir, h.python), cwd=h.job_dir, env=env,
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        start_new_session=True, **drop,
                    )
                pid = popen.pid
        except OSError as exc:
            self.cores.give_back(cores)
            raise JobFailure(st.ENVIRONMENT_ERROR,
                             f"The job process could not start: {exc}") from None
        # Set before the interpreter has finished starting, so the script and anything it
        # starts inherit the affinity.
        if hasattr(os, "sched_setaffinity"):  # Linux; elsewhere only the thread variables
            with contextlib.suppress(OSError):  # already exited: the supervisor sees the exit
                os.sched_setaffinity(pid, cores)
        h._started(pid, cores, popen)

    def recover(self, active: Sequence[JobRecord]) -> dict[str, LocalHandle]:
        """Handles of the ``active`` jobs whose folder is here; end every stray process.

        A job whose recorded process (this host, pid and start time) still runs is
        re-attached and keeps its cores; the handle of one whose process is gone reads
        the exit code the bootstrap left (or reports :data:`EXIT_UNKNOWN`); a job that was
        still starting has no process to watch, and any process of it is killed.
        """
        host = socket.gethostname()
        handles: dict[str, LocalHandle] = {}
        alive: set[str] = set()
        for job in active:
            state = job.handle or {}
            if state and (state.get("executor") != self.name or state.get("host") != host):
                continue  # not run by this machine's executor
            job_dir = self.job_dir(job.id)
            if not job_dir.is_dir():
                continue
            try:
                package = package_for(job.id, job.spec, attempt=job.attempts,
                                      max_attempts=job.max_attempts)
            except ShipyardError:  # its kind is no longer registered here
                continue
            h = LocalHandle(self, package, job_dir)
            pid, created = state.get("pid"), state.get("create_time")
            if isinstance(pid, int):
                h._pid, h.create_time = pid, created
                if process_alive(pid, created):
                    h.cores = self.cores.reserve(state.get("cores") or ())
                    alive.add(job.id)
            handles[job.id] = h
        rest = [job for job in active if job.id not in alive]
        orphans = find_job_processes({self.job_dir(job.id) for job in rest})
        for job in rest:
            # (A job recorded before handles were, by pid and start time.)
            if job.pid and job.pid_started_at and process_alive(job.pid, job.pid_started_at):
                signal_group(job.pid, signal.SIGKILL)
            for proc in orphans.get(self.job_dir(job.id), []):
                signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(psutil.Error):  # it is gone already
                    proc.kill()
        return handles
