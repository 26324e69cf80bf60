"""The jobs this server process is running, by id: where live logs are read from.

Shared by the :class:`~shipyard.jobs.Supervisor` (which adds a job's handle when it
prepares an attempt and removes it only after the job's status has moved on) and
the :class:`~shipyard.jobs.JobService` (which reads a running job's log through the
handle, and a finished one's from the artifact store).
"""

from __future__ import annotations

import threading

from shipyard.jobs._executors import JobHandle


class LiveJobs:
    """Job id → the handle of its attempt in progress."""

    def __init__(self) -> None:
        self._handles: dict[str, JobHandle] = {}
        self._lock = threading.Lock()

    def add(self, job_id: str, handle: JobHandle) -> None:
        with self._lock:
            self._handles[job_id] = handle

    def remove(self, job_id: str, handle: JobHandle | None = None) -> None:
        """Forget ``job_id`` (only if it is still ``handle``, when one is given)."""
        with self._lock:
            if handle is None or self._handles.get(job_id) is handle:
                self._handles.pop(job_id, None)

    def get(self, job_id: str) -> JobHandle | None:
        with self._lock:
            return self._handles.get(job_id)
