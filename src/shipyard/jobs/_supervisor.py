"""The supervisor: the scheduler thread that starts, watches, limits and finishes jobs.

One daemon thread ticks every ``job_poll_interval`` seconds, or at once when a job
is submitted or cancelled. A tick starts Pending jobs (oldest first) while fewer
than ``max_concurrent_jobs`` hold a slot, and watches every running process:
its exit, its memory (the whole process tree), its run time, a cancel, and the
metrics it writes. Preparing a job (inputs, environment) and finishing one
(outputs) happen on a thread of their own, so a slow job never delays another.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from shipyard.jobs import _states as st
from shipyard.jobs._executor import (
    JobProcess,
    LocalExecutor,
    find_job_processes,
    process_alive,
    signal_group,
)
from shipyard.jobs._outputs import collect_model, ingest_outputs, read_metrics, store_log
from shipyard.jobs._service import JobService
from shipyard.jobs._workdir import JobFailure, append_log, read_failure
from shipyard.runtime import _contract as c
from shipyard.settings import Settings
from shipyard.store import JobRecord, utcnow

log = logging.getLogger("shipyard.jobs")

#: How long running jobs get to exit on SIGTERM when the server shuts down.
SHUTDOWN_GRACE = 3.0
CANCEL = "cancel"


@dataclass
class _Watched:
    """A running job as the supervisor sees it."""

    job: JobRecord
    proc: JobProcess
    memory_limit: int
    max_runtime: float
    grace: float
    metrics_offset: int = 0
    stop_reason: str | None = None
    term_at: float | None = None
    killed: bool = False
    finishing: bool = False
    peak_rss: int = 0


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB"


class Supervisor:
    """Runs the jobs of one server process on the local executor."""

    def __init__(self, jobs: JobService, settings: Settings) -> None:
        self.jobs = jobs
        self.repo = jobs.repo
        self.settings = settings
        self.executor = LocalExecutor(settings, jobs.artifacts, jobs.datasets)
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}
        self._starting: set[str] = set()
        self._helpers: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Recover jobs a previous server left behind, then start the scheduler thread."""
        if self._thread is not None:
            return
        self.recover()
        self.executor.spares.fill()
        self._thread = threading.Thread(target=self._loop, name="shipyard-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """On server shutdown: SIGTERM running jobs, a short grace, SIGKILL; record why."""
        self._stop.set()
        self.jobs.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            watched = [w for w in self._watched.values() if not w.finishing]
            for w in watched:
                w.finishing = True
                if w.stop_reason is None:
                    w.stop_reason = st.SERVER_SHUTDOWN
            starting = list(self._starting)
        for w in watched:
            w.proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while any(w.proc.poll() is None for w in watched) and time.monotonic() < deadline:
            time.sleep(0.05)
        for w in watched:
            w.proc.signal(signal.SIGKILL)
            try:
                w.proc.popen.wait(5)
            except Exception:  # noqa: BLE001 - nothing more can be done for it here
                log.warning("job %s did not exit after SIGKILL", w.job.id)
            self._finish(w, w.proc.poll())
        for job_id in starting:
            self._end(job_id, st.FAILED, st.SERVER_SHUTDOWN,
                      "The server shut down while the job was starting.")
        for t in list(self._helpers):
            t.join(timeout=5)
        self.executor.spares.close()

    def recover(self) -> None:
        """End what a previous server process left: no job stays Starting/Running/Stopping."""
        left = self.repo.list(statuses=sorted(st.ACTIVE), limit=10_000)
        if not left:
            return
        orphans = find_job_processes({self.executor.job_dir(job.id) for job in left})
        for job in left:
            if job.pid and process_alive(job.pid, job.pid_started_at):
                signal_group(job.pid, signal.SIGKILL)
            for proc in orphans.get(self.executor.job_dir(job.id), []):
                signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):  # it is gone already
                    proc.kill()
            job_dir = self.executor.job_dir(job.id)
            if job_dir.is_dir():
                append_log(job_dir, "the control plane restarted while the job ran")
            if job.status == st.STOPPING:
                self._stopped(job.id)
            else:
                self._lost(job, "The control plane restarted while the job ran; its process "
                                "was stopped.")

    # -- the loop -------------------------------------------------------------------------
    def _loop(self) -> None:
        wakeup = self.jobs.wakeup
        while not self._stop.is_set():
            wakeup.wait(self.settings.job_poll_interval)
            wakeup.clear()
            if self._stop.is_set():
                break
            try:
                self._watch()
                self._start_pending()
            except Exception:
                log.exception("supervisor tick failed")

    def _spawn_helper(self, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._helpers = [h for h in self._helpers if h.is_alive()]
            self._helpers.append(t)
        t.start()

    # -- starting -------------------------------------------------------------------------
    def _start_pending(self) -> None:
        with self._lock:
            slots = self.settings.max_concurrent_jobs - len(self._watched) - len(self._starting)
        if slots <= 0:
            return
        for job in self.repo.list(statuses=[st.PENDING], oldest_first=True, limit=slots):
            started = st.transition(self.repo, job.id, st.STARTING, st.PENDING,
                                    attempts=job.attempts + 1, reason=None, pid=None,
                                    pid_started_at=None)
            if started is None:
                continue  # cancelled meanwhile
            with self._lock:
                self._starting.add(job.id)
            self._spawn_helper(self._launch, started)

    def _cancelled(self, job_id: str) -> bool:
        return self.repo.get(job_id).status == st.STOPPING

    def _launch(self, job: JobRecord) -> None:
        """Prepare and start one job (on a helper thread)."""
        try:
            python = self.executor.prepare(
                job, should_abort=lambda: self._stop.is_set() or self._cancelled(job.id))
            if self._stop.is_set():
                return  # stop() records it as ended by the shutdown
            if self._cancelled(job.id):
                self._stopped(job.id)
                return
            proc = self.executor.spawn(job, python)
            spec = job.spec
            grace = spec.get("grace_period_seconds")
            watched = _Watched(
                job=job, proc=proc, memory_limit=int(spec["resources"]["memory_bytes"]),
                max_runtime=float(spec["max_runtime_seconds"]),
                grace=self.settings.cancel_grace_period if grace is None else float(grace),
            )
            running = st.transition(self.repo, job.id, st.RUNNING, st.STARTING, pid=proc.pid,
                                    pid_started_at=proc.create_time, started_at=utcnow())
            if running is None:  # cancelled while starting: the watcher signals it
                self.repo.update_fields(job.id, pid=proc.pid, pid_started_at=proc.create_time)
            with self._lock:
                registered = not self._stop.is_set()
                if registered:
                    self._watched[job.id] = watched
            if not registered:  # the server is going down and stop() did not see this one
                proc.signal(signal.SIGKILL)
                proc.popen.wait()
                self.executor.release(proc)
                self._end(job.id, st.FAILED, st.SERVER_SHUTDOWN,
                          "The server shut down while the job was starting.")
        except JobFailure as exc:
            first = exc.message.splitlines()[0] if exc.message else ""
            append_log(self.executor.job_dir(job.id), f"failed: {exc.reason}: {first}")
            self._end(job.id, st.FAILED, exc.reason, exc.message)
        except Exception as exc:
            log.exception("starting job %s failed", job.id)
            self._end(job.id, st.FAILED, st.ENVIRONMENT_ERROR,
                      f"The job could not be started: {exc!r}")
        finally:
            with self._lock:
                self._starting.discard(job.id)
            self.jobs.wakeup.set()

    # -- watching -------------------------------------------------------------------------
    def _watch(self) -> None:
        with self._lock:
            watched = [w for w in self._watched.values() if not w.finishing]
        if not watched:
            return
        stopping = {j.id for j in self.repo.list(statuses=[st.STOPPING], limit=10_000)}
        now = time.monotonic()
        for w in watched:
            code = w.proc.poll()
            self._harvest(w)
            if code is not None:
                w.finishing = True
                self._spawn_helper(self._finish, w, code)
            elif w.stop_reason is None:
                if w.job.id in stopping:
                    self._terminate(w, CANCEL, "cancel requested")
                    continue
                rss = w.proc.rss()
                w.peak_rss = max(w.peak_rss, rss)
                if rss > w.memory_limit:
                    w.stop_reason, w.killed = st.MEMORY_LIMIT, True
                    append_log(w.proc.job_dir, f"the job uses {_mib(rss)}, over its memory "
                                               f"limit of {_mib(w.memory_limit)}: killed")
                    w.proc.signal(signal.SIGKILL)
                elif now - w.proc.started > w.max_runtime:
                    self._terminate(w, st.MAX_RUNTIME,
                                    f"max_runtime_seconds={w.max_runtime:g} reached")
            elif not w.killed and w.term_at is not None and now - w.term_at >= w.grace:
                append_log(w.proc.job_dir, f"still running {w.grace:g} s after SIGTERM: SIGKILL")
                w.proc.signal(signal.SIGKILL)
                w.killed = True

    def _terminate(self, w: _Watched, reason: str, why: str) -> None:
        w.stop_reason, w.term_at = reason, time.monotonic()
        append_log(w.proc.job_dir, f"{why}: SIGTERM, then SIGKILL after {w.grace:g} s")
        w.proc.signal(signal.SIGTERM)

    def _harvest(self, w: _Watched) -> None:
        points, w.metrics_offset = read_metrics(w.proc.job_dir / c.METRICS_FILE,
                                                w.metrics_offset)
        if points:
            self.repo.add_metrics(w.job.id, points)

    # -- finishing ------------------------------------------------------------------------
    def _finish(self, w: _Watched, code: int | None) -> None:
        """Record how a job process ended (on a helper thread, or in stop())."""
        job_id = w.job.id
        try:
            self._harvest(w)
            self.executor.release(w.proc)
            job = self.repo.get(job_id)
            spec = job.spec
            if job.status == st.STOPPING or w.stop_reason == CANCEL:
                self._stopped(job_id)
            elif w.stop_reason == st.MEMORY_LIMIT:
                self._end(job_id, st.FAILED, st.MEMORY_LIMIT,
                          f"The job used {_mib(w.peak_rss)}, over its memory limit of "
                          f"{spec['resources']['memory']}; it was killed. Ask for more in "
                          "resources.memory, or use less.")
            elif w.stop_reason == st.MAX_RUNTIME:
                self._end(job_id, st.FAILED, st.MAX_RUNTIME,
                          f"The job ran longer than max_runtime_seconds="
                          f"{spec['max_runtime_seconds']:g} and was stopped.")
            elif w.stop_reason == st.SERVER_SHUTDOWN and code != 0:
                self._end(job_id, st.FAILED, st.SERVER_SHUTDOWN,
                          "The server shut down while the job ran; submit it again.")
            elif code == 0:
                self._complete(job, w)
            elif code is None or code < 0:
                sig = signal.Signals(-code).name if code and -code in signal.valid_signals() \
                    else "unknown"
                self._lost(job, f"The job process was killed by {sig}, not by Shipyard.")
            else:
                reason, message = read_failure(w.proc.job_dir)
                if reason is None:
                    reason = st.SCRIPT_ERROR
                    message = f"The job exited with code {code}; see its log."
                append_log(w.proc.job_dir, f"failed: {reason} (exit code {code})")
                self._end(job_id, st.FAILED, reason, message)
        except Exception as exc:
            log.exception("finishing job %s failed", job_id)
            self._end(job_id, st.FAILED, st.WORKER_LOST, f"Finishing the job failed: {exc!r}")
        finally:
            with self._lock:
                self._watched.pop(job_id, None)
            self.jobs.wakeup.set()

    def _complete(self, job: JobRecord, w: _Watched) -> None:
        job_dir = w.proc.job_dir
        try:
            model = collect_model(job_dir, self.jobs.artifacts)
            datasets = ingest_outputs(job.id, job.spec, job.created_by, job_dir,
                                      self.jobs.datasets)
        except JobFailure as exc:
            append_log(job_dir, f"failed: {exc.reason}: {exc.message}")
            self._end(job.id, st.FAILED, exc.reason, exc.message)
            return
        append_log(job_dir, f"completed ({len(model)} model files, {len(datasets)} outputs)")
        outputs = {"model": {"files": model}, "datasets": datasets,
                   "log": store_log(job_dir, self.jobs.artifacts)}
        self._end(job.id, st.COMPLETED, None, None, outputs=outputs)

    def _log_outputs(self, job_id: str) -> dict[str, Any]:
        try:
            entry = store_log(self.executor.job_dir(job_id), self.jobs.artifacts)
        except Exception:  # noqa: BLE001 - the log stays in the working folder anyway
            log.exception("storing the log of job %s failed", job_id)
            return {}
        return {"log": entry} if entry else {}

    def _end(self, job_id: str, to: str, reason: str | None, message: str | None,
             outputs: dict[str, Any] | None = None) -> None:
        """Move a started job to a terminal status (Stopped instead, if it was cancelled)."""
        if outputs is None:
            outputs = self._log_outputs(job_id)
        among = [s for s in (st.STARTING, st.RUNNING) if to in st.TRANSITIONS[s]]
        done = st.transition(self.repo, job_id, to, among, reason=reason,
                             message=message, ended_at=utcnow(), outputs=outputs)
        if done is None and self.repo.get(job_id).status == st.STOPPING:
            self._stopped(job_id)

    def _stopped(self, job_id: str) -> None:
        job_dir = self.executor.job_dir(job_id)
        if job_dir.is_dir():
            append_log(job_dir, "stopped")
        st.transition(self.repo, job_id, st.STOPPED, st.STOPPING, ended_at=utcnow(),
                      outputs=self._log_outputs(job_id))

    def _lost(self, job: JobRecord, message: str) -> None:
        """An infrastructure failure: retry while attempts remain, else Failed worker_lost."""
        job_dir = self.executor.job_dir(job.id)
        if job.attempts < job.max_attempts:
            if job_dir.is_dir():
                append_log(job_dir, f"{message} Retrying.")
            done = st.transition(
                self.repo, job.id, st.PENDING, [st.STARTING, st.RUNNING], pid=None,
                pid_started_at=None,
                message=f"Attempt {job.attempts} was lost: {message} Retrying.",
            )
            if done is None and self.repo.get(job.id).status == st.STOPPING:
                self._stopped(job.id)
            self.jobs.wakeup.set()
            return
        if job_dir.is_dir():
            append_log(job_dir, f"failed: worker_lost: {message}")
        self._end(job.id, st.FAILED, st.WORKER_LOST, message)
