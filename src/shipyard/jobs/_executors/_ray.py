"""The Ray executor: each job attempt runs in a detached, named actor on a Ray cluster.

``SHIPYARD_EXECUTOR=ray``; ``SHIPYARD_RAY_ADDRESS`` is ``auto`` (the cluster this
machine belongs to), ``ray://host:port`` (Ray Client), a GCS ``host:port``, or empty
to start a local Ray instance with the server. The actor
(:class:`~shipyard.jobs._executors._ray_worker.JobRunner`) asks Ray for the job's
CPUs and memory, stages the package on its node from the artifact store, runs the
one command line there, and stores the outputs from there (docs/deploy.md). A job
takes an idle runner of the warm pool when there is one (:mod:`._ray_pool`: its CPUs
and memory are then reserved on that runner's node), else it gets an actor of its own,
named :func:`actor_name`; the handle's state names the actor either way.

The control plane keeps the attempt's log in its own job folder as a mirror
(everything before the launch, then the worker's log as each supervisor tick
fetches it), so the log survives a worker that dies, and a control-plane restart
re-attaches to the actors by the name in each job's handle state
(:meth:`RayExecutor.recover`). An actor that dies under a running job is a worker
killed by ``SIGKILL``: ``worker_lost``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ShipyardError
from shipyard.jobs._collect import Manifest, store_log
from shipyard.jobs._executors import _ray_pool
from shipyard.jobs._executors._protocol import EXIT_UNKNOWN, JobHandle, Usage
from shipyard.jobs._package import JobPackage, open_log, package_for
from shipyard.jobs._spec import Capacity
from shipyard.jobs._workdir import JobFailure, append_log
from shipyard.runtime import _contract as c
from shipyard.settings import Settings
from shipyard.store import JobRecord, MetricPoint

#: Ray's namespace for Shipyard's actors (job runners are found by name in it).
NAMESPACE = "shipyard"
#: How long one question to a job's actor may take before the tick goes on without it.
CALL_TIMEOUT = 30.0
#: A status older than this is fetched again for usage() and heartbeat().
STATUS_TTL = 0.5
#: Variables of the control plane a job's actor gets, so it reaches the same artifact store.
PASSED_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                    "AWS_REGION")


def import_ray() -> Any:
    """Ray, or the one sentence that says how to install it."""
    from shipyard.jobs._executors import ExecutorUnavailable

    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable(
            "SHIPYARD_EXECUTOR=ray needs Ray: pip install 'shipyard[ray]'") from None
    return ray


def actor_name(job_id: str, attempt: int) -> str:
    return f"shipyard-job-{job_id}-{attempt}"


def connect(address: str) -> Any:
    """Connect this process to the Ray cluster at ``address`` (once; empty: start one)."""
    ray = import_ray()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False,
                                  "logging_level": logging.WARNING}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(include_dashboard=False, **kwargs)
    return ray


class RayHandle:
    """One attempt of a job in a Ray actor (see :class:`JobHandle`)."""

    def __init__(self, executor: RayExecutor, package: JobPackage, mirror: Path) -> None:
        self.executor = executor
        self.package = package
        self.job_id = package.job_id
        self.mirror = mirror
        #: The actor's name: a pool runner's, or :func:`actor_name` for an actor of its own.
        self.name = actor_name(package.job_id, package.attempt)
        self.actor: Any = None
        #: The job runs on a runner of the warm pool, its resources in this reservation.
        self.warm = False
        self.reservation: str | None = None
        self.where: dict[str, Any] = {}
        #: Bytes of the mirror before the worker's log starts.
        self.log_base = 0
        self.dead = False
        self._lock = threading.RLock()
        self._status: dict[str, Any] = {}
        self._status_at = 0.0
        self._exit: int | None = None
        self._released = False

    # -- identity -------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        pid = self.where.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def state(self) -> dict[str, Any]:
        return {"executor": "ray", "actor": self.name, "namespace": NAMESPACE,
                "warm": self.warm, "reservation": self.reservation,
                "log_base": self.log_base, **self.where}

    # -- talking to the actor -------------------------------------------------------------
    def _call(self, method: str, *args: Any, timeout: float = CALL_TIMEOUT) -> Any:
        """``actor.method(*args)``; marks the handle dead when the actor is gone.

        Raises:
            LookupError: the actor is gone (or never started).
            TimeoutError: it did not answer within ``timeout``.
        """
        ray = self.executor.ray
        if self.actor is None or self.dead:
            raise LookupError(self.name)
        try:
            return ray.get(getattr(self.actor, method).remote(*args), timeout=timeout)
        except ray.exceptions.RayActorError:
            self.dead = True
            raise LookupError(self.name) from None
        except ray.exceptions.GetTimeoutError:
            raise TimeoutError(self.name) from None

    def _refresh(self) -> dict[str, Any]:
        """The actor's status, its new log bytes appended to the mirror."""
        with self._lock:
            if self._released:  # the actor was ended on purpose: nothing more to fetch
                return self._status
            offset = self.mirror.stat().st_size - self.log_base if self.mirror.exists() else 0
            try:
                status = self._call("status", max(offset, 0))
            except LookupError:
                if self._exit is None and self.actor is not None:
                    self._exit = -signal.SIGKILL
                    self._mirror_line("the job's Ray actor died (its worker was killed or "
                                      "lost)")
                return self._status
            except TimeoutError:
                return self._status
            if status["log"]:
                with open(self.mirror, "ab") as fh:
                    fh.write(status["log"])
            self._status, self._status_at = status, time.monotonic()
            return status

    def _fresh(self) -> dict[str, Any]:
        if time.monotonic() - self._status_at > STATUS_TTL:
            return self._refresh()
        return self._status

    def _mirror_line(self, line: str) -> None:
        with contextlib.suppress(OSError):
            append_log(self.mirror.parent, line)

    # -- watching -------------------------------------------------------------------------
    def poll(self) -> int | None:
        if self._exit is not None:
            return self._exit
        if self.actor is None:
            return EXIT_UNKNOWN
        status = self._fresh()  # one call to the actor per STATUS_TTL, however fast the tick
        if self._exit is not None:
            return self._exit
        code = status.get("exit")
        return code if isinstance(code, int) else None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(LookupError, TimeoutError):
            self._call("signal", int(sig))

    def admit(self) -> None:
        with contextlib.suppress(LookupError, TimeoutError):  # gone: nothing to admit
            self._call("admit")

    def usage(self) -> Usage:
        status = self._fresh()
        return Usage(rss_bytes=int(status.get("rss") or 0),
                     cpu_seconds=float(status.get("cpu") or 0.0),
                     read_bytes=int(status.get("read") or 0),
                     write_bytes=int(status.get("written") or 0),
                     core_percent={int(k): float(v)
                                   for k, v in (status.get("cores") or {}).items()})

    def heartbeat(self) -> float:
        return float(self._fresh().get("beat") or 0.0)

    # -- the log, metrics, failure --------------------------------------------------------
    def read_log(self, offset: int, limit: int) -> bytes:
        if not self.dead and self.actor is not None:
            self._refresh()
        try:
            with open(self.mirror, "rb") as fh:
                fh.seek(offset)
                return fh.read(limit)
        except FileNotFoundError:
            return b""

    def append_log(self, line: str) -> None:
        """To the worker's log while the actor lives (it keeps the order of the job's own
        lines), else to the mirror."""
        with self._lock:
            if self.actor is not None and not self.dead and not self._released:
                try:
                    self._call("append_log", line)
                    self._refresh()
                    return
                except (LookupError, TimeoutError):
                    pass
            self._mirror_line(line)

    def read_metrics(self, offset: int) -> tuple[list[MetricPoint], int]:
        try:
            lines, offset = self._call("read_metrics", offset)
        except (LookupError, TimeoutError):
            return [], offset
        return [MetricPoint(p["name"], p["value"], p["step"], p["timestamp"])
                for p in lines], offset

    def failure(self) -> tuple[str | None, str]:
        try:
            reason, message = self._call("failure")
        except (LookupError, TimeoutError):
            return None, ""
        return reason, message

    def collect(self, *, outputs: bool = True, log: bool = True) -> Manifest:
        """Outputs are stored by the actor, on its node; the log from the mirror here."""
        manifest = Manifest()
        if outputs:
            try:
                manifest = Manifest.from_dict(self._call("collect", timeout=3600.0))
            except (LookupError, TimeoutError):
                raise JobFailure("output_error", "The job's Ray actor was lost before its "
                                                 "outputs were stored.") from None
            except self.executor.ray.exceptions.RayTaskError as exc:
                # (Checked before JobFailure: Ray raises a class that is both.)
                cause = getattr(exc, "cause", None)
                if isinstance(cause, JobFailure):
                    raise JobFailure(cause.reason, cause.message) from None
                raise
        if log:
            with self._lock:
                if not self.dead and self.actor is not None and not self._released:
                    self._refresh()
                entry = store_log(self.mirror.parent, self.executor.artifacts)
            manifest = Manifest(model=manifest.model, data=manifest.data,
                                files=manifest.files, log=entry)
        return manifest

    def sync_checkpoints(self) -> int:
        """The actor stores the checkpoints from its node (a dead actor has none to give)."""
        try:
            return int(self._call("sync_checkpoints", timeout=3600.0))
        except (LookupError, TimeoutError):
            return 0

    def release(self) -> None:
        """Sync the log, stop the job, then end the actor and free its reservation (once)."""
        with self._lock:
            if self._released:
                return
            if self.actor is not None and not self.dead:
                self._refresh()
                with contextlib.suppress(LookupError, TimeoutError):
                    self._call("release")
            self._released = True
            if self.actor is not None:
                with contextlib.suppress(Exception):  # gone already
                    self.executor.ray.kill(self.actor, no_restart=True)
            if self.reservation:
                _ray_pool.unreserve(self.reservation)


class RayExecutor:
    """Starts job actors on a Ray cluster, keeps the warm pool, and finds a job's actor
    again after a restart."""

    name = "ray"

    def __init__(self, settings: Settings, artifacts: ArtifactStore) -> None:
        import_ray()  # fail at server start, with the install command, when Ray is missing
        self.settings = settings
        self.artifacts = artifacts
        self._ray: Any = None
        self._lock = threading.Lock()
        self.pool: _ray_pool.RunnerPool | None = None
        #: Pool runners that :meth:`recover` took back as running jobs' actors.
        self._recovered: set[str] = set()

    @property
    def ray(self) -> Any:
        with self._lock:
            if self._ray is None:
                self._ray = connect(self.settings.ray_address)
            return self._ray

    def capacity(self) -> Capacity:
        """The largest node's CPUs and memory (as Ray counts them)."""
        nodes = [n.get("Resources") or {} for n in self.ray.nodes() if n.get("Alive")]
        best = max(nodes, key=lambda r: (r.get("CPU", 0), r.get("memory", 0)), default={})
        return Capacity(cpus=int(best.get("CPU", 0)), memory_bytes=int(best.get("memory", 0)),
                        where="a node of the Ray cluster")

    def start(self) -> None:
        """Kill the pool runners a previous process of this home left (but those that
        :meth:`recover` took back), then start the warm pool."""
        ray = self.ray
        prefix = _ray_pool.pool_prefix(self.settings.home)
        _ray_pool.reap(ray, prefix, keep=self._recovered)
        self._recovered = set()
        if self.settings.ray_warm_runners > 0 and self.pool is None:
            self.pool = _ray_pool.RunnerPool(ray, self.settings.ray_warm_runners, prefix,
                                        self._create_idle)
            self.pool.refill()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        with self._lock:
            if self._ray is not None:
                with contextlib.suppress(Exception):
                    self._ray.shutdown()
                self._ray = None

    def mirror_dir(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id

    def prepare(self, package: JobPackage) -> RayHandle:
        path = open_log(package, self.mirror_dir(package.job_id), self.artifacts)
        handle = RayHandle(self, package, path)
        handle.append_log(f"attempt {package.attempt} of {package.max_attempts} starting "
                          "on Ray")
        return handle

    def _actor_options(self, name: str) -> dict[str, Any]:
        options: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "lifetime": "detached",
                                   "max_restarts": 0, "max_concurrency": 8}
        env = {k: os.environ[k] for k in PASSED_VARIABLES if os.environ.get(k)}
        if env:
            options["runtime_env"] = {"env_vars": env}
        return options

    def _runner_options(self, package: JobPackage) -> dict[str, Any]:
        """A job's own actor asks for the job's CPUs and memory."""
        options = self._actor_options(actor_name(package.job_id, package.attempt))
        options["num_cpus"] = 0 if _spread(package) else package.cpus
        if not _spread(package):
            options["memory"] = package.memory_bytes
        return options

    def _create_idle(self, name: str) -> Any:
        """An idle pool runner: it asks for nothing until its job reserves (see _ray_pool);
        spread over the nodes, so a job's reservation is likelier to fit beside one."""
        from shipyard.jobs._executors._ray_worker import JobRunner

        options = {**self._actor_options(name), "num_cpus": 0, "scheduling_strategy": "SPREAD"}
        return self.ray.remote(JobRunner).options(**options).remote(None, self.artifacts.url)

    def _start_warm(self, h: RayHandle, should_abort: Callable[[], bool]) -> Any:
        """Hand the job to an idle runner of the pool; None when it must go cold."""
        runners = self.pool
        if runners is None:
            return None
        ray, package = self.ray, h.package
        try:
            asked = time.monotonic()
            runner = runners.take(should_abort)
            if runner is None:
                return None
            waited = time.monotonic() - asked
            if waited >= 0.1:  # none was idle: it took the one being started
                h.append_log(f"waited {waited:.1f} s for a warm runner being started")
            try:
                idle = ray.get(runner.actor.assigned.remote(), timeout=5.0) is None
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                idle = False  # died (or hangs) while idle: dropped
            if not idle:
                with contextlib.suppress(Exception):
                    ray.kill(runner.actor, no_restart=True)
                return None
            reservation = None
            if not _spread(package):  # a spread job's own process only coordinates
                reservation = _ray_pool.reserve(ray, runner, package.cpus, package.memory_bytes)
                if reservation is None:
                    runners.put_back(runner)
                    h.append_log(f"the warm runner's node has no room for {package.cpus} "
                                 "CPUs and the job's memory now: starting an actor of its own")
                    return None
            h.name, h.actor, h.warm, h.reservation = runner.name, runner.actor, True, reservation
            h.log_base = h.mirror.stat().st_size
            return h.actor.assign.remote(package.to_dict())
        finally:
            runners.refill()  # the replacement, on a thread of its own

    def _start_cold(self, h: RayHandle) -> Any:
        from shipyard.jobs._executors._ray_worker import JobRunner

        runner = self.ray.remote(JobRunner).options(**self._runner_options(h.package))
        h.log_base = h.mirror.stat().st_size
        h.actor = runner.remote(h.package.to_dict(), self.artifacts.url)
        return h.actor.launch.remote()

    def launch(self, handle: JobHandle, should_abort: Callable[[], bool]) -> bool:
        """Hand the job to a warm runner, or create its own actor (Ray places it where its
        CPUs and memory are free); the runner stages the package and starts the job.

        Raises:
            JobFailure: ``input_error`` or ``environment_error`` (as the actor raised them).
        """
        if not isinstance(handle, RayHandle):
            raise TypeError(f"the Ray executor launches its own handles; got {handle!r}")
        ray, h = self.ray, handle
        if should_abort():
            return False
        ref = self._start_warm(h, should_abort)
        if ref is None:
            if should_abort():
                return False
            ref = self._start_cold(h)
        while True:  # waiting for a place in the cluster, then for staging
            ready, _ = ray.wait([ref], timeout=0.2)
            if ready:
                break
            if should_abort():
                h.release()
                return False
        try:
            h.where = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            h._refresh()
            cause = getattr(exc, "cause", None)
            h.release()
            if isinstance(cause, JobFailure):
                raise JobFailure(cause.reason, cause.message) from None
            raise JobFailure(c.ENVIRONMENT_ERROR, f"The job's Ray actor failed to start it: "
                                                  f"{exc}") from None
        except ray.exceptions.RayActorError as exc:
            h.release()
            raise JobFailure(c.ENVIRONMENT_ERROR,
                             f"The job's Ray actor could not start: {exc}") from None
        how = "a warm runner" if h.warm else "its own actor"
        h.append_log(f"running on Ray node {h.where.get('host')} (pid {h.pid}), in {how} "
                     f"({h.name})")
        return True

    def recover(self, active: Sequence[JobRecord]) -> dict[str, RayHandle]:
        """Handles of the ``active`` jobs whose actor is alive, found by the name their
        handle state holds (:func:`actor_name` when it holds none); a job whose actor is
        gone gets a handle that reports no exit code (it is lost and retried)."""
        handles: dict[str, RayHandle] = {}
        for job in active:
            state = job.handle or {}
            if state and state.get("executor") != self.name:
                continue
            try:
                package = package_for(job.id, job.spec, attempt=job.attempts,
                                      max_attempts=job.max_attempts)
            except ShipyardError:  # its kind is no longer registered here
                continue
            mirror = self.mirror_dir(job.id) / c.LOG_FILE
            mirror.parent.mkdir(parents=True, exist_ok=True)
            mirror.touch()
            h = RayHandle(self, package, mirror)
            h.name = str(state.get("actor") or h.name)
            h.warm = bool(state.get("warm"))
            h.reservation = state.get("reservation") or None
            h.log_base = int(state.get("log_base") or 0)
            h.where = {k: v for k, v in state.items()
                       if k in ("host", "job_dir", "actor_pid", "pid", "cores")}
            try:
                h.actor = self.ray.get_actor(h.name, namespace=NAMESPACE)
                self._recovered.add(h.name)
            except ValueError:
                if not state:
                    continue  # never launched: nothing to watch, nothing to stop
            handles[job.id] = h
        return handles


def _spread(package: JobPackage) -> bool:
    """A training job over several instances only coordinates them; each instance asks
    for the CPUs and memory of ``resources`` (training/_distributed.py). (A transform's
    own process is one of its instances: kinds/_transform_ray.py.)"""
    return package.kind == "training" and int(package.spec.get("instances") or 1) > 1
