"""Schedules as a resource (create, list, pause, resume, delete) and the ``job`` kind.

A schedule of kind ``job`` holds a job spec as its target; each run submits it
(with the run's own Idempotency-Key), so a dataset input named without a version
reads the dataset's newest version every time: the repeatable pipeline.
"""

from __future__ import annotations

import json
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.names import check_name
from shipyard.scheduling._schedule import Schedule
from shipyard.scheduling._scheduler import ScheduleContext, Scheduler, schedule_of
from shipyard.store import ScheduleRecord, ScheduleRepository, iso, utcnow

MAX_TARGET_BYTES = 11 * 1024**2


def schedule_to_dict(rec: ScheduleRecord) -> dict[str, Any]:
    """A schedule as the API shows it."""
    try:
        timing = schedule_of(rec).describe()
    except InvalidRequest:
        timing = None
    return {
        "name": rec.name, "kind": rec.kind, "target": rec.target, "every": rec.every,
        "cron": rec.cron, "timing": timing, "enabled": rec.enabled,
        "status": "active" if rec.enabled else "paused",
        "next_run_at": iso(rec.next_run_at) if rec.enabled else None,
        "last_run_at": iso(rec.last_run_at), "last_job_id": rec.last_job_id,
        "last_error": rec.last_error, "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at), "created_by": rec.created_by,
    }


class ScheduleService:
    """Create and manage schedules; the :class:`Scheduler` fires them."""

    def __init__(self, repo: ScheduleRepository, scheduler: Scheduler) -> None:
        self.repo = repo
        self.scheduler = scheduler

    def create(self, name: str, kind: str, target: Any, *, every: str | None = None,
               cron: str | None = None, actor: str | None = None) -> ScheduleRecord:
        """Store a schedule; its first run is one interval (or the next cron time) from now.

        Raises:
            InvalidRequest: a bad name, timing, kind or target. Conflict: the name is taken.
        """
        check_name(name, "schedule name")
        schedule = Schedule.parse(every=every, cron=cron)
        if not isinstance(target, dict):
            raise InvalidRequest(f"A schedule's target must be a JSON object; got "
                                 f"{type(target).__name__}.")
        if len(json.dumps(target, default=str)) > MAX_TARGET_BYTES:
            raise InvalidRequest(f"A schedule's target is larger than {MAX_TARGET_BYTES} bytes; "
                                 "send less.")
        stored = self.scheduler.validate(kind, target)
        rec = self.repo.create(name, kind, stored, cron=schedule.cron, every=schedule.every,
                               next_run_at=schedule.next_after(utcnow()), actor=actor)
        self.scheduler.wake()
        return rec

    def list(self, kind: str | None = None) -> list[ScheduleRecord]:
        return self.repo.list(kind)

    def get(self, name: str) -> ScheduleRecord:
        return self.repo.get(check_name(name, "schedule name"))

    def delete(self, name: str, actor: str | None) -> None:
        self.repo.delete(check_name(name, "schedule name"), actor)

    def pause(self, name: str, actor: str | None) -> ScheduleRecord:
        return self.repo.set_enabled(check_name(name, "schedule name"), False, None, actor)

    def resume(self, name: str, actor: str | None) -> ScheduleRecord:
        """Enable a schedule again; its next run is planned from now (no catch-up burst)."""
        rec = self.get(name)
        rec = self.repo.set_enabled(name, True, schedule_of(rec).next_after(utcnow()), actor)
        self.scheduler.wake()
        return rec


def register_job_kind(scheduler: Scheduler, jobs: Any) -> None:
    """Kind ``job``: each run submits the schedule's job spec as a new job."""
    from shipyard.jobs import parse_spec

    def validate(target: dict[str, Any]) -> dict[str, Any]:
        spec = target.get("spec", target)
        parsed = parse_spec(spec)  # InvalidRequest naming every problem
        if parsed.kind == "wrangle":
            # Its query is bound now, as a submit of it does, so a table or column that is
            # not there is a 400 here instead of a failure at every run.
            from shipyard.catalog import check_scheduled_wrangle

            check_scheduled_wrangle(parsed, jobs.catalog, jobs.datasets)
        return {"spec": spec}

    def submit(ctx: ScheduleContext) -> str:
        job, _ = jobs.submit(ctx.target["spec"], ctx.actor, idempotency_key=ctx.run_key)
        return str(job.id)

    scheduler.register("job", submit, validate)
