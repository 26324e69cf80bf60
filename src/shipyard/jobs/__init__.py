"""Jobs: a spec, a state machine, and the machinery that runs them out of the server's process.

- :class:`JobService` records jobs, cancels them and reads their logs, metrics and artifacts.
- :class:`Supervisor` is the scheduler thread: it starts Pending jobs on the
  :class:`LocalExecutor` (at most ``max_concurrent_jobs`` at once), enforces their
  limits and records how they end.
- Inside a job, :mod:`shipyard.runtime` is the bootstrap and the in-job API.
"""

from shipyard.jobs._executor import JobProcess, LocalExecutor
from shipyard.jobs._service import JobService, job_to_dict
from shipyard.jobs._spec import KINDS, JobSpec, parse_memory, parse_spec
from shipyard.jobs._states import REASONS, RETRYABLE, STATUSES, TERMINAL, TRANSITIONS
from shipyard.jobs._supervisor import Supervisor
from shipyard.jobs._workdir import JobFailure, command_line, environment

__all__ = [
    "KINDS", "REASONS", "RETRYABLE", "STATUSES", "TERMINAL", "TRANSITIONS", "JobFailure",
    "JobProcess", "JobService", "JobSpec", "LocalExecutor", "Supervisor", "command_line",
    "environment", "job_to_dict", "parse_memory", "parse_spec",
]
