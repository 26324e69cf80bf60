"""The supervisor: the scheduler thread that starts, watches, limits and finishes jobs.

One daemon thread ticks every ``job_poll_interval`` seconds, or at once when a job
is submitted or cancelled. A tick starts Pending jobs (oldest first) while fewer
than ``max_concurrent_jobs`` hold a slot, and watches every running job through
its executor handle: its exit, its memory (the whole process tree), its run time,
its heartbeat, a cancel, and the metrics it writes; every few seconds it keeps a
sample of the job's CPU, memory and I/O as the job's profile (``jobs/_profile.py``).
Preparing a job and finishing one (collecting its outputs into the artifact store)
happen on a thread of their own, so a slow job never delays another.

Jobs of a driven kind (a parent such as ``tuning``, see ``jobs/_kinds.py``) hold no
slot and no process: a tick moves them from Pending to Running and calls their kind's
driver for each one that is Running or Stopping (after the slots were filled, so
children it submits start on the next tick).

It knows jobs only through the :class:`~shipyard.jobs._executors.Executor` and
:class:`~shipyard.jobs._executors.JobHandle` protocols: no processes, no signals
sent by hand, no job folders (docs/architecture.md, "Executors").
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.jobs import _states as st
from shipyard.jobs._checkpoints import checkpoint_files
from shipyard.jobs._debugger import EVENT as RULE_EVENT
from shipyard.jobs._debugger import Debugger
from shipyard.jobs._executors import EXIT_UNKNOWN, JobHandle
from shipyard.jobs._kinds import DriveContext, get_kind, registered_kinds
from shipyard.jobs._outputs import ingest_outputs
from shipyard.jobs._package import StagedFile, build_package
from shipyard.jobs._profile import Sampler
from shipyard.jobs._service import JobService
from shipyard.jobs._workdir import JobFailure
from shipyard.settings import Settings
from shipyard.store import JobRecord, JobTokenRepository, utcnow
from shipyard.tokens import issue_job_token

log = logging.getLogger("shipyard.jobs")

#: How long running jobs get to exit on SIGTERM when the server shuts down.
SHUTDOWN_GRACE = 3.0
#: A running job's metrics are read at most this often (and when it ends): each read is
#: a call to its worker, and a tight loop of them is CPU the jobs beside it do not get.
HARVEST_SECONDS = 0.5
#: A running job's last heartbeat is written to the store at most this often.
HEARTBEAT_RECORD_SECONDS = 10.0
CANCEL = "cancel"


@dataclass
class _Watched:
    """A running job as the supervisor sees it."""

    job: JobRecord
    handle: JobHandle
    memory_limit: int
    max_runtime: float
    grace: float
    #: Wall time the attempt's process started (max runtime counts from here).
    started_at: float
    metrics_offset: int = 0
    stop_reason: str | None = None
    term_at: float | None = None
    killed: bool = False
    finishing: bool = False
    peak_rss: int = 0
    beat_recorded: float = 0.0
    sampler: Sampler | None = None
    #: When its metrics were last read (monotonic).
    harvested_at: float = 0.0
    debugger: Debugger | None = None
    #: When the checkpoints were last synced (monotonic), and whether a sync is under way.
    synced_at: float = 0.0
    syncing: bool = False


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB"


def _watched(job: JobRecord, handle: JobHandle, settings: Settings,
             started_at: float) -> _Watched:
    spec = job.spec
    grace = spec.get("grace_period_seconds")
    return _Watched(job=job, handle=handle, memory_limit=int(spec["resources"]["memory_bytes"]),
                    max_runtime=float(spec["max_runtime_seconds"]),
                    grace=settings.cancel_grace_period if grace is None else float(grace),
                    started_at=started_at, metrics_offset=job.metrics_offset,
                    sampler=Sampler(started_at), synced_at=time.monotonic())


class Supervisor:
    """Runs the jobs of one server process on the executor the settings name."""

    def __init__(self, jobs: JobService, settings: Settings) -> None:
        self.jobs = jobs
        self.repo = jobs.repo
        self.settings = settings
        self.executor = jobs.executor
        self.live = jobs.live
        self.job_tokens = JobTokenRepository(jobs.repo.db)
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
        self.executor.start()
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
            w.handle.signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while any(w.handle.poll() is None for w in watched) and time.monotonic() < deadline:
            time.sleep(0.05)
        for w in watched:
            w.handle.signal(signal.SIGKILL)
            deadline = time.monotonic() + 5
            while w.handle.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            self._finish(w, w.handle.poll())
        for job_id in starting:
            self._end(job_id, st.FAILED, st.SERVER_SHUTDOWN,
                      "The server shut down while the job was starting.")
        for t in list(self._helpers):
            t.join(timeout=5)
        self.executor.close()

    def recover(self) -> None:
        """Take back what a previous server process left: no job stays Starting/Running/
        Stopping unwatched.

        The executor re-attaches the jobs whose process still runs (they are watched
        again, and finish normally; a Running one is admitted again, in case the last
        server died between its Running record and opening its start gate) and reaches
        the others' logs; a job that was still starting, or whose process is gone without
        an exit code, is lost (retried while attempts remain) or, if it was being
        cancelled, Stopped. A job still starting ran none of its code (it waited at the
        start gate), so its retry is the only run of it.
        """
        driven = _driven_kinds()
        # A driven job has no process to take back: the next tick drives it again.
        left = [j for j in self.repo.list(statuses=sorted(st.ACTIVE), limit=10_000)
                if j.kind not in driven]
        if not left:
            return
        handles = self.executor.recover(left)
        for job in left:
            handle = handles.get(job.id)
            if handle is not None:
                self.live.add(job.id, handle)
                handle.append_log("the control plane restarted while the job ran")
            if handle is not None and job.status in (st.RUNNING, st.STOPPING):
                started = job.started_at.timestamp() if job.started_at else time.time()
                w = _watched(job, handle, self.settings, started)
                w.debugger = self._debugger(job, started, seen=True)
                with self._lock:
                    self._watched[job.id] = w
                if job.status == st.RUNNING:  # the last server may have died before it did
                    handle.admit()
                continue
            if handle is not None:
                handle.signal(signal.SIGKILL)
            if job.status == st.STOPPING:
                self._stopped(job.id, handle)
            else:
                self._lost(job, "The control plane restarted while the job was starting; "
                                "its process was stopped.", handle)

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
                self._drive()
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
        driven = _driven_kinds()
        for kind in driven:  # a parent holds no slot: it only submits and watches children
            for job in self.repo.list(statuses=[st.PENDING], kind=kind, limit=10_000):
                if st.transition(self.repo, job.id, st.STARTING, st.PENDING,
                                 attempts=job.attempts + 1) is not None:
                    st.transition(self.repo, job.id, st.RUNNING, st.STARTING,
                                  started_at=utcnow(), executor="control-plane")
        with self._lock:
            slots = self.settings.max_concurrent_jobs - len(self._watched) - len(self._starting)
        if slots <= 0:
            return
        pending = [j for j in self.repo.list(statuses=[st.PENDING], oldest_first=True,
                                             limit=slots + 100) if j.kind not in driven]
        for job in pending[:slots]:
            started = st.transition(self.repo, job.id, st.STARTING, st.PENDING,
                                    attempts=job.attempts + 1, reason=None, pid=None,
                                    pid_started_at=None, handle=None, metrics_offset=0)
            if started is None:
                continue  # cancelled meanwhile
            with self._lock:
                self._starting.add(job.id)
            self._spawn_helper(self._launch, started)

    def _drive(self) -> None:
        """One step of every Running or Stopping job of a driven kind (a failing driver
        fails its job, not the tick)."""
        for kind in _driven_kinds():
            driver = get_kind(kind).driver
            if driver is None:  # re-registered without one since
                continue
            for job in self.repo.list(statuses=[st.RUNNING, st.STOPPING], kind=kind,
                                      oldest_first=True, limit=10_000):
                if self._stop.is_set():
                    return
                try:
                    driver(DriveContext(job=job, jobs=self.jobs))
                except Exception as exc:
                    log.exception("driving job %s failed", job.id)
                    to = st.STOPPED if job.status == st.STOPPING else st.FAILED
                    st.transition(self.repo, job.id, to, job.status,
                                  reason=None if to == st.STOPPED else st.ENVIRONMENT_ERROR,
                                  message=f"Driving the job failed: {exc!r}",
                                  ended_at=utcnow())

    def _cancelled(self, job_id: str) -> bool:
        return self.repo.get(job_id).status == st.STOPPING

    def _launch(self, job: JobRecord) -> None:
        """Package, prepare and launch one attempt (on a helper thread)."""
        handle: JobHandle | None = None
        try:
            package = build_package(job, self.jobs.datasets)
            restored = self._checkpoint_files(job)
            if restored:
                package = replace(package, files=(*package.files, *restored))
            # The attempt's own token: it ends with the attempt (JobRepository.transition).
            package = replace(package, server_url=self.settings.public_url,
                              token=issue_job_token(self.job_tokens, job.id, job.attempts))
            handle = self.executor.prepare(package)
            self.live.add(job.id, handle)
            if restored:
                size = sum(f.size for f in restored)
                handle.append_log(f"restoring the last checkpoint ({len(restored)} files, "
                                  f"{size:,} bytes) into checkpoints/")
            launched = self.executor.launch(
                handle, should_abort=lambda: self._stop.is_set() or self._cancelled(job.id))
            if not launched:
                if self._stop.is_set():
                    self._end(job.id, st.FAILED, st.SERVER_SHUTDOWN,
                              "The server shut down while the job was starting.", handle=handle)
                else:
                    self._stopped(job.id, handle)
                return
            started_at = time.time()
            watched = _watched(job, handle, self.settings, started_at)
            watched.debugger = self._debugger(job, started_at)
            fields: dict[str, Any] = {"pid": handle.pid, "pid_started_at": None,
                                      "executor": self.executor.name, "handle": handle.state}
            running = st.transition(self.repo, job.id, st.RUNNING, st.STARTING,
                                    started_at=utcnow(), **fields)
            if running is None:  # cancelled while starting: the watcher signals it
                self.repo.update_fields(job.id, **fields)
            with self._lock:
                registered = not self._stop.is_set()
                if registered:
                    self._watched[job.id] = watched
            if not registered:  # the server is going down and stop() did not see this one
                handle.signal(signal.SIGKILL)
                self._end(job.id, st.FAILED, st.SERVER_SHUTDOWN,
                          "The server shut down while the job was starting.", handle=handle)
            elif running is not None:
                # The start gate: the job's code runs only now that the store says Running
                # (a cancelled one is never admitted; the watcher ends it).
                handle.admit()
        except JobFailure as exc:
            first = exc.message.splitlines()[0] if exc.message else ""
            if handle is not None:
                handle.append_log(f"failed: {exc.reason}: {first}")
            self._end(job.id, st.FAILED, exc.reason, exc.message, handle=handle)
        except Exception as exc:
            log.exception("starting job %s failed", job.id)
            self._end(job.id, st.FAILED, st.ENVIRONMENT_ERROR,
                      f"The job could not be started: {exc!r}", handle=handle)
        finally:
            with self._lock:
                self._starting.discard(job.id)
            self.jobs.wakeup.set()

    def _checkpoint_files(self, job: JobRecord) -> tuple[StagedFile, ...]:
        """The job's last synced checkpoint, for an attempt after the first (a retry or
        a resume); a damaged manifest fails the attempt as an input error."""
        if job.attempts <= 1:
            return ()
        try:
            return checkpoint_files(self.jobs.artifacts, job.id)
        except ShipyardError as exc:
            raise JobFailure(st.INPUT_ERROR, exc.message) from None

    # -- checkpoints ----------------------------------------------------------------------
    def _maybe_sync(self, w: _Watched) -> None:
        """Start a sync of a running job's checkpoints on a helper when one is due."""
        if w.syncing or time.monotonic() - w.synced_at < self.settings.checkpoint_sync_seconds:
            return
        w.syncing = True
        self._spawn_helper(self._sync, w)

    def _sync(self, w: _Watched) -> None:
        try:
            w.handle.sync_checkpoints()
        except Exception:  # noqa: BLE001 - retried at the next interval; the job goes on
            log.exception("syncing the checkpoints of job %s failed", w.job.id)
        finally:
            w.synced_at, w.syncing = time.monotonic(), False

    # -- watching -------------------------------------------------------------------------
    def _watch(self) -> None:
        with self._lock:
            watched = [w for w in self._watched.values() if not w.finishing]
        if not watched:
            return
        stopping = {j.id for j in self.repo.list(statuses=[st.STOPPING], limit=10_000)}
        now = time.monotonic()
        for w in watched:
            code = w.handle.poll()
            if code is not None or now - w.harvested_at >= HARVEST_SECONDS:
                w.harvested_at = now
                self._harvest(w)
            if code is not None:
                w.finishing = True
                self._spawn_helper(self._finish, w, code)
            elif w.stop_reason is None:
                if w.job.id in stopping:
                    self._terminate(w, CANCEL, "cancel requested")
                    continue
                self._check_limits(w)
                if w.stop_reason is None and w.debugger is not None \
                        and w.debugger.due(time.time()):
                    self._judge(w)
                if w.stop_reason is None:
                    self._maybe_sync(w)
            elif not w.killed and w.term_at is not None and now - w.term_at >= w.grace:
                w.handle.append_log(f"still running {w.grace:g} s after SIGTERM: SIGKILL")
                w.handle.signal(signal.SIGKILL)
                w.killed = True

    def _check_limits(self, w: _Watched) -> None:
        """Memory, run time and heartbeat of a running job (usage first: it is also a sign
        of life)."""
        usage = w.handle.usage()
        rss = usage.rss_bytes
        w.peak_rss = max(w.peak_rss, rss)
        wall = time.time()
        if w.sampler is not None and w.sampler.due(wall):  # the job's profile
            try:
                samples = w.sampler.sample(usage, wall)
                self.repo.add_metrics(w.job.id, samples)
                if w.debugger is not None:
                    w.debugger.observe(samples)
            except Exception:  # a profile sample is never worth a job
                log.warning("could not record a usage sample of job %s", w.job.id,
                            exc_info=True)
        if rss > w.memory_limit:
            w.stop_reason, w.killed = st.MEMORY_LIMIT, True
            w.handle.append_log(f"the job uses {_mib(rss)}, over its memory limit of "
                                f"{_mib(w.memory_limit)}: killed")
            w.handle.signal(signal.SIGKILL)
            return
        if wall - w.started_at > w.max_runtime:
            self._terminate(w, st.MAX_RUNTIME, f"max_runtime_seconds={w.max_runtime:g} reached")
            return
        beat = w.handle.heartbeat()
        if wall - beat > self.settings.heartbeat_timeout:
            w.stop_reason, w.killed = st.WORKER_LOST, True
            w.handle.append_log(f"no heartbeat for {wall - beat:.0f} s: the job is taken for "
                                "lost and killed")
            w.handle.signal(signal.SIGKILL)
            return
        if time.monotonic() - w.beat_recorded >= HEARTBEAT_RECORD_SECONDS:
            w.beat_recorded = time.monotonic()
            self.repo.update_fields(w.job.id, heartbeat_at=datetime.fromtimestamp(beat, UTC))

    # -- the debugger -----------------------------------------------------------------------
    def _debugger(self, job: JobRecord, started_at: float, seen: bool = False) -> Debugger:
        """The rules of a job's attempt, knowing which fired before (an earlier attempt, or
        before a control-plane restart); ``seen``: also the points stored so far."""
        spec = job.spec
        fired = [e.payload.get("rule") for e in self.repo.events.list(
            resource_type="job", resource_id=job.id, kind=RULE_EVENT, limit=1000)]
        debugger = Debugger(spec.get("rules") or [], started_at=started_at,
                            cpus=int(spec["resources"]["cpus"]),
                            memory_limit=int(spec["resources"]["memory_bytes"]),
                            fired=[str(f) for f in fired if f])
        if seen and debugger.rules:
            debugger.observe(self.repo.metrics(job.id, system=None))
        return debugger

    def _judge(self, w: _Watched, ended: bool = False) -> None:
        """Judge the job's rules; record what fired, and act on it."""
        assert w.debugger is not None
        try:
            firings = w.debugger.judge(time.time(), ended=ended)
        except Exception:  # a rule's bug is never worth a job
            log.exception("judging the rules of job %s failed", w.job.id)
            return
        for f in firings:
            with self.repo.db.write() as conn:
                self.repo.events.record(conn, RULE_EVENT, "job", w.job.id, rule=f.rule,
                                        action=f.action, message=f.message, params=f.params)
            if f.action == "record":
                continue
            w.handle.append_log(f"rule {f.rule} ({f.action}): {f.message}")
            if f.action == "stop" and not ended and w.stop_reason is None:
                moved = st.transition(self.repo, w.job.id, st.STOPPING, st.RUNNING,
                                      message=f"Stopped by rule {f.rule}: {f.message}")
                if moved is not None:
                    self._terminate(w, CANCEL, f"rule {f.rule}")

    def _terminate(self, w: _Watched, reason: str, why: str) -> None:
        w.stop_reason, w.term_at = reason, time.monotonic()
        w.handle.append_log(f"{why}: SIGTERM, then SIGKILL after {w.grace:g} s")
        w.handle.signal(signal.SIGTERM)

    def _harvest(self, w: _Watched) -> None:
        points, offset = w.handle.read_metrics(w.metrics_offset)
        if offset != w.metrics_offset:
            self.repo.add_metrics(w.job.id, points, offset=offset)
            w.metrics_offset = offset
            if w.debugger is not None:
                w.debugger.observe(points)

    # -- finishing ------------------------------------------------------------------------
    def _finish(self, w: _Watched, code: int | None) -> None:
        """Record how a job ended (on a helper thread, or in stop())."""
        job_id, h = w.job.id, w.handle
        try:
            self._harvest(w)
            if w.debugger is not None and code == 0:  # full curves come at the end of a fit
                self._judge(w, ended=True)
            self._sync(w)  # the last complete checkpoint, for a retry or a resume
            job = self.repo.get(job_id)
            spec = job.spec
            if job.status == st.STOPPING or w.stop_reason == CANCEL:
                self._stopped(job_id, h)
            elif w.stop_reason == st.MEMORY_LIMIT:
                self._end(job_id, st.FAILED, st.MEMORY_LIMIT,
                          f"The job used {_mib(w.peak_rss)}, over its memory limit of "
                          f"{spec['resources']['memory']}; it was killed. Ask for more in "
                          "resources.memory, or use less.", handle=h)
            elif w.stop_reason == st.MAX_RUNTIME:
                self._end(job_id, st.FAILED, st.MAX_RUNTIME,
                          f"The job ran longer than max_runtime_seconds="
                          f"{spec['max_runtime_seconds']:g} and was stopped.", handle=h)
            elif w.stop_reason == st.WORKER_LOST:
                self._lost(job, f"The job was not seen alive for more than "
                                f"{self.settings.heartbeat_timeout:g} s (no heartbeat) and was "
                                "killed.", h)
            elif w.stop_reason == st.SERVER_SHUTDOWN and code != 0:
                self._end(job_id, st.FAILED, st.SERVER_SHUTDOWN,
                          "The server shut down while the job ran; submit it again.", handle=h)
            elif code == 0:
                self._complete(job, h)
            elif code is None or code == EXIT_UNKNOWN:
                self._lost(job, "The job process ended while the control plane was "
                                "restarting and left no exit code (it was killed).", h)
            elif code < 0:
                sig = signal.Signals(-code).name if -code in signal.valid_signals() \
                    else "unknown"
                self._lost(job, f"The job process was killed by {sig}, not by Shipyard.", h)
            else:
                reason, message = h.failure()
                if reason is None:
                    reason = st.SCRIPT_ERROR
                    message = f"The job exited with code {code}; see its log."
                h.append_log(f"failed: {reason} (exit code {code})")
                self._end(job_id, st.FAILED, reason, message, handle=h)
        except Exception as exc:
            log.exception("finishing job %s failed", job_id)
            self._end(job_id, st.FAILED, st.WORKER_LOST, f"Finishing the job failed: {exc!r}",
                      handle=h)
        finally:
            with self._lock:
                self._watched.pop(job_id, None)
            self.jobs.wakeup.set()

    def _complete(self, job: JobRecord, h: JobHandle) -> None:
        """Outputs into the store, output datasets from there, the final log: then Completed."""
        try:
            manifest = h.collect(log=False)
            datasets = ingest_outputs(job.id, manifest.data, job.created_by, self.jobs.datasets,
                                      self.jobs.artifacts, self.settings.tmp_dir)
        except JobFailure as exc:
            h.append_log(f"failed: {exc.reason}: {exc.message}")
            self._end(job.id, st.FAILED, exc.reason, exc.message, handle=h)
            return
        h.append_log(f"completed ({len(manifest.model)} model files, {len(datasets)} outputs)")
        outputs = {"model": {"files": manifest.model}, "datasets": datasets,
                   "data": manifest.data, "files": manifest.files,
                   "log": h.collect(outputs=False).log}
        self._end(job.id, st.COMPLETED, None, None, outputs=outputs, handle=h)

    def _log_outputs(self, job_id: str, handle: JobHandle | None) -> dict[str, Any]:
        """``{"log": entry}``: the attempt's log stored now, or the one stored before."""
        if handle is not None:
            try:
                entry = handle.collect(outputs=False).log
                if entry:
                    return {"log": entry}
            except Exception:  # noqa: BLE001 - the job must still reach its status
                log.exception("storing the log of job %s failed", job_id)
        earlier = (self.repo.get(job_id).outputs or {}).get("log")
        return {"log": earlier} if earlier else {}

    def _close(self, job_id: str, handle: JobHandle | None) -> None:
        """After the status moved on: tell who waits for jobs to end; live logs come from
        the store now; free the handle."""
        self.jobs.notify_ended(job_id)
        if handle is None:
            return
        self.live.remove(job_id, handle)
        with contextlib.suppress(Exception):  # released already, or its process is gone
            handle.release()

    def _end(self, job_id: str, to: str, reason: str | None, message: str | None,
             outputs: dict[str, Any] | None = None, handle: JobHandle | None = None) -> None:
        """Move a started job to a terminal status (Stopped instead, if it was cancelled)."""
        if outputs is None:
            outputs = self._log_outputs(job_id, handle)
        among = [s for s in (st.STARTING, st.RUNNING) if to in st.TRANSITIONS[s]]
        done = st.transition(self.repo, job_id, to, among, reason=reason,
                             message=message, ended_at=utcnow(), outputs=outputs)
        if done is None and self.repo.get(job_id).status == st.STOPPING:
            self._stopped(job_id, handle)
            return
        self._close(job_id, handle)

    def _stopped(self, job_id: str, handle: JobHandle | None) -> None:
        if handle is not None:
            handle.append_log("stopped")
        st.transition(self.repo, job_id, st.STOPPED, st.STOPPING, ended_at=utcnow(),
                      outputs=self._log_outputs(job_id, handle))
        self._close(job_id, handle)

    def _lost(self, job: JobRecord, message: str, handle: JobHandle | None) -> None:
        """An infrastructure failure: retry while attempts remain, else Failed worker_lost.

        A job cancelled meanwhile is not retried, and its log says so: it must not end on
        "Retrying." above "stopped"."""
        if job.attempts < job.max_attempts:
            if self.repo.get(job.id).status == st.STOPPING:
                if handle is not None:
                    handle.append_log(f"lost: {message}")
                self._stopped(job.id, handle)
                return
            if handle is not None:
                handle.append_log(f"{message} Retrying.")
            # Read while the job waits and while attempt n + 1 runs: true in both.
            done = st.transition(
                self.repo, job.id, st.PENDING, [st.STARTING, st.RUNNING], pid=None,
                pid_started_at=None, handle=None, outputs=self._log_outputs(job.id, handle),
                message=f"Attempt {job.attempts} of {job.max_attempts} was lost: {message} "
                        f"It is retried as attempt {job.attempts + 1}.",
            )
            if done is None and self.repo.get(job.id).status == st.STOPPING:
                if handle is not None:  # the cancel came between the check and the move
                    handle.append_log("not retried: the job was cancelled")
                self._stopped(job.id, handle)
            else:
                self._close(job.id, handle)
            self.jobs.wakeup.set()
            return
        if handle is not None:
            handle.append_log(f"failed: worker_lost: {message}")
        self._end(job.id, st.FAILED, st.WORKER_LOST, message, handle=handle)


def _driven_kinds() -> list[str]:
    """The names of the registered kinds with a driver (parents that run no process)."""
    return [k.name for k in registered_kinds() if k.driver is not None]
