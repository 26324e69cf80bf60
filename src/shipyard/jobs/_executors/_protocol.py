"""The executor boundary: what the supervisor may ask of whatever runs jobs.

An :class:`Executor` turns a :class:`~shipyard.jobs._package.JobPackage` into a
running job and gives back a :class:`JobHandle`; the supervisor watches, limits,
stops and finishes jobs through that handle alone (docs/architecture.md,
"Executors"). One module per executor: ``_local.py`` runs subprocesses on this
machine; a cluster executor (Ray) implements the same two protocols and runs the
same runtime on its workers, so the executor test suite
(``tests/jobs/test_executor_suite.py``) runs unchanged on each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.jobs._collect import Manifest
    from shipyard.jobs._package import JobPackage
    from shipyard.jobs._spec import Capacity
    from shipyard.store import JobRecord, MetricPoint

#: What :meth:`JobHandle.poll` returns for a process that ended while nobody could wait
#: for it and left no exit code (killed while the control plane was down).
EXIT_UNKNOWN = -1000


@dataclass(frozen=True)
class Usage:
    """A sample of a running job's resources."""

    #: Resident bytes of the job's whole process tree.
    rss_bytes: int
    #: CPU seconds the job's process tree has used so far.
    cpu_seconds: float
    #: Bytes the tree's live processes have read and written so far (where known).
    read_bytes: int = 0
    write_bytes: int = 0
    #: Busy % of each core the job is pinned to (by any process), over the last second
    #: or so; empty where the executor cannot tell.
    core_percent: dict[int, float] = field(default_factory=dict)


class JobHandle(Protocol):
    """One attempt of a job on an executor, from :meth:`Executor.prepare` to :meth:`release`."""

    job_id: str

    @property
    def pid(self) -> int | None:
        """The job process's id where it runs (shown on the job); None where there is none."""

    @property
    def state(self) -> dict[str, Any]:
        """JSON the supervisor records on the job while it runs; :meth:`Executor.recover`
        gets it back after a control-plane restart to find the job again."""

    def poll(self) -> int | None:
        """The exit code once the job ended (negative: killed by that signal), else None."""

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the job's whole process group (no error if it is gone)."""

    def admit(self) -> None:
        """Open the attempt's start gate: its process, waiting since it started, may run
        the job's code now. Called once the attempt is recorded as Running (and again
        after a control-plane restart; idempotent). A gone job is no error."""

    def usage(self) -> Usage: ...

    def heartbeat(self) -> float:
        """The wall time (``time.time()``) the job was last seen alive."""

    def read_log(self, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes of the attempt's log from ``offset`` (live)."""

    def append_log(self, line: str) -> None:
        """Add a line of the platform's own (``[shipyard] …``) to the job's log."""

    def read_metrics(self, offset: int) -> tuple[list[MetricPoint], int]:
        """Metric points the job logged after ``offset``; and the next offset."""

    def failure(self) -> tuple[str | None, str]:
        """The failure reason and message the job wrote (None, "" if none)."""

    def collect(self, *, outputs: bool = True, log: bool = True) -> Manifest:
        """Put the job's model files, output data files and other output files (with
        ``outputs``) and its log (with ``log``) into the artifact store.

        Raises:
            JobFailure: ``output_error`` (a declared output without data, a symlink, …).
        """

    def sync_checkpoints(self) -> int:
        """Put the job's complete ``checkpoints/`` files that changed into the artifact
        store and update its checkpoint manifest (``shipyard.jobs._checkpoints``); return
        how many files were stored anew. Called while the job runs and once as it ends.

        Raises:
            Exception: whatever reaching the store raised (the caller logs it, goes on).
        """

    def release(self) -> None:
        """After the end: stop what the job left running, free its cores or slot."""


class Executor(Protocol):
    """Runs jobs somewhere: this machine's processes, or a cluster's workers."""

    name: str

    def capacity(self) -> Capacity:
        """The most CPUs and memory one job may ask for."""

    def start(self) -> None:
        """Get ready to run jobs (warm runtimes, a cluster connection)."""

    def close(self) -> None: ...

    def prepare(self, package: JobPackage) -> JobHandle:
        """A place for the attempt with its log open (the log is live from here on:
        a venv's pip output shows while it builds). Nothing the job caused can fail here."""

    def launch(self, handle: JobHandle, should_abort: Callable[[], bool]) -> bool:
        """Stage the package where the job runs (inputs, model, script, venv) and start it.

        Returns False when ``should_abort`` stopped it before the process started.

        Raises:
            JobFailure: ``input_error`` or ``environment_error``.
        """

    def recover(self, active: Sequence[JobRecord]) -> Mapping[str, JobHandle]:
        """After a control-plane restart: handles of the ``active`` jobs still running,
        re-attached; every other process of those jobs is ended."""


def tree_usage(pid: int | None) -> tuple[int, float, int, int]:
    """Resident bytes, CPU seconds, bytes read and bytes written (through any file or pipe:
    ``read_chars``, page-cache hits count) of process ``pid`` and all its descendants;
    zeros when it is gone. A process that cannot be read is left out."""
    import psutil

    rss, cpu, read, written = 0, 0.0, 0, 0
    if pid is None:
        return rss, cpu, read, written
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return rss, cpu, read, written
    for proc in tree:
        try:
            rss += proc.memory_info().rss
            times = proc.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:
            continue
        try:
            io = proc.io_counters()
        except (psutil.Error, AttributeError, OSError, NotImplementedError):
            continue
        read += int(getattr(io, "read_chars", io.read_bytes))
        written += int(getattr(io, "write_chars", io.write_bytes))
    return rss, cpu, read, written


class CoreMeter:
    """Busy % of given cores between readings at least :attr:`window` seconds apart (a
    reading sooner gives the last figures again, so a fast supervisor tick does not turn
    them into noise)."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._at = 0.0
        self._times: list[Any] = []
        self._last: dict[int, float] = {}

    def percent(self, cores: Sequence[int]) -> dict[int, float]:
        import time

        import psutil

        now = time.monotonic()
        if now - self._at < self.window:
            return {core: self._last[core] for core in cores if core in self._last}
        times = psutil.cpu_times(percpu=True)
        if self._times:
            for core in cores:
                if core < len(times) and core < len(self._times):
                    before, after = self._times[core], times[core]
                    total = sum(after) - sum(before)
                    idle = (after.idle + getattr(after, "iowait", 0.0)) \
                        - (before.idle + getattr(before, "iowait", 0.0))
                    self._last[core] = round(100.0 * (1 - idle / total), 1) if total > 0 \
                        else 0.0
        self._times, self._at = times, now
        return {core: self._last[core] for core in cores if core in self._last}
