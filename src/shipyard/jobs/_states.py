"""The job state machine: statuses, allowed transitions, failure reasons.

Every status change goes through :func:`transition`, which passes the repository
the statuses the table allows as sources, so two actors racing on one job (a
cancel and an exit, say) can never both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipyard.store import JobRecord, JobRepository

PENDING = "Pending"
STARTING = "Starting"
RUNNING = "Running"
STOPPING = "Stopping"
COMPLETED = "Completed"
FAILED = "Failed"
STOPPED = "Stopped"

STATUSES = (PENDING, STARTING, RUNNING, STOPPING, COMPLETED, FAILED, STOPPED)
TERMINAL = frozenset({COMPLETED, FAILED, STOPPED})
#: Statuses in which a job holds a slot of the scheduler (and may have a process).
ACTIVE = frozenset({STARTING, RUNNING, STOPPING})

#: from → the statuses it may move to. Back to Pending is a retry after an
#: infrastructure failure.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({STARTING, STOPPED}),
    STARTING: frozenset({RUNNING, STOPPING, FAILED, PENDING}),
    RUNNING: frozenset({COMPLETED, FAILED, STOPPING, PENDING}),
    STOPPING: frozenset({STOPPED}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
    STOPPED: frozenset(),
}

#: Statuses a person may resume a job from (``shipyard jobs resume``): the one way out of
#: a terminal status, as a new attempt that gets the job's last checkpoint back. Not an
#: edge of :data:`TRANSITIONS`: the supervisor never takes it on its own.
RESUMABLE = frozenset({FAILED, STOPPED})

# Failure reasons.
SCRIPT_ERROR = "script_error"
MEMORY_LIMIT = "memory_limit"
MAX_RUNTIME = "max_runtime"
WORKER_LOST = "worker_lost"
INPUT_ERROR = "input_error"
OUTPUT_ERROR = "output_error"
ENVIRONMENT_ERROR = "environment_error"
SERVER_SHUTDOWN = "server_shutdown"
REASONS = (SCRIPT_ERROR, MEMORY_LIMIT, MAX_RUNTIME, WORKER_LOST, INPUT_ERROR, OUTPUT_ERROR,
           ENVIRONMENT_ERROR, SERVER_SHUTDOWN)
#: Failures of the platform rather than of the job: only these are retried.
RETRYABLE = frozenset({WORKER_LOST})


def sources(to: str, among: Iterable[str] | None = None) -> list[str]:
    """The statuses from which a job may move to ``to`` (optionally only ``among`` them).

    Raises:
        ValueError: ``among`` names a move the table does not allow (a programming error).
    """
    allowed = [s for s in STATUSES if to in TRANSITIONS[s]]
    if among is None:
        return allowed
    wanted = list(among)
    bad = [s for s in wanted if s not in allowed]
    if bad:
        raise ValueError(f"job status may not move from {bad} to {to!r}")
    return wanted


#: Statuses whose reason and message say how the job ended, and nothing else: moving to
#: one clears what the caller does not give, so an earlier attempt's "Attempt 1 of 2 was
#: lost: … It is retried as attempt 2." (or a resume's note) never outlives the attempt that
#: ended the job.
#: Stopped keeps its message: the cancel (or rule) that stopped it set it on Stopping.
ENDED_BY_LAST_ATTEMPT = frozenset({COMPLETED, FAILED})


def transition(
    repo: JobRepository, job_id: str, to: str, frm: str | Iterable[str] | None = None,
    *, actor: str | None = None, **fields: Any,
) -> JobRecord | None:
    """Move a job to ``to`` if it is in an allowed source status; None if it was not.

    Completed and Failed replace the reason and message (None unless given)."""
    if to in ENDED_BY_LAST_ATTEMPT:
        fields.setdefault("reason", None)
        fields.setdefault("message", None)
    among = [frm] if isinstance(frm, str) else frm
    return repo.transition(job_id, to, sources(to, among), actor=actor, **fields)
