"""Schedules: run something every interval or on a cron expression, from the server.

- :class:`Schedule` is the pure timing: ``Schedule.parse(every="15m")`` or
  ``Schedule.parse(cron="0 6 * * *")``, and ``next_after(moment)`` in UTC.
- :class:`Scheduler` is the thread that fires due schedules through the handler
  registered for their kind, claiming each run atomically so that servers
  sharing a database never fire it twice::

      scheduler.register("monitor", lambda ctx: run_monitor(ctx.target))

- :class:`ScheduleService` creates, lists, pauses, resumes and deletes them.
  Kind ``job`` (a stored job spec, submitted on each run) is registered by
  :func:`register_job_kind`.
"""

from shipyard.scheduling._schedule import Schedule, check_cron, parse_every
from shipyard.scheduling._scheduler import Fired, Handler, ScheduleContext, Scheduler
from shipyard.scheduling._service import ScheduleService, register_job_kind, schedule_to_dict

__all__ = [
    "Fired", "Handler", "Schedule", "ScheduleContext", "ScheduleService", "Scheduler",
    "check_cron", "parse_every", "register_job_kind", "schedule_to_dict",
]
