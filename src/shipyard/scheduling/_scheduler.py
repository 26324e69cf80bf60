"""The scheduler: a thread that fires due schedules through the handler of their kind.

Each tick reads the enabled schedules whose ``next_run_at`` has come, and for
each one first *claims* it: an ``UPDATE … WHERE next_run_at = <the time it
read>`` that moves it on to its next run. Only the process whose update changed
the row fires it, so two servers sharing a database never both fire a run.
Runs missed while no server watched fire once (the next run is planned after
*now*), not once per missed run. A handler is registered per kind
(``scheduler.register("job", submit_job)``), gets a :class:`ScheduleContext`,
and returns what it started (a job id) or None; whatever it raises is recorded
as ``schedule.failed`` and the schedule goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.scheduling._schedule import Schedule
from shipyard.store import ScheduleRecord, ScheduleRepository, utcnow

log = logging.getLogger("shipyard.scheduling")

#: How often the thread looks for due schedules when nothing wakes it earlier (seconds).
DEFAULT_POLL_SECONDS = 1.0
#: A handler's error message is kept up to this many characters.
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ScheduleContext:
    """What a handler gets: the schedule, the run it fires, and when."""

    schedule: ScheduleRecord
    #: The time this run was planned for (UTC); later than planned after downtime.
    planned_at: datetime
    #: When the scheduler fired it (UTC).
    fired_at: datetime

    @property
    def name(self) -> str:
        return self.schedule.name

    @property
    def target(self) -> dict[str, Any]:
        return self.schedule.target

    @property
    def actor(self) -> str | None:
        """Who created the schedule: what it starts runs on their behalf."""
        return self.schedule.created_by

    @property
    def run_key(self) -> str:
        """A key unique to this run (an Idempotency-Key for what the handler creates)."""
        return f"schedule:{self.schedule.id}:{self.planned_at.isoformat()}"


Handler = Callable[[ScheduleContext], "str | None"]
Validator = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Fired:
    """One run a tick fired: the schedule, and what its handler started or why it failed."""

    name: str
    planned_at: datetime
    result: str | None
    error: str | None


def schedule_of(rec: ScheduleRecord) -> Schedule:
    return Schedule.parse(every=rec.every, cron=rec.cron)


class Scheduler:
    """Fires due schedules on a thread of its own (one per server process)."""

    def __init__(self, repo: ScheduleRepository,
                 poll_seconds: float = DEFAULT_POLL_SECONDS) -> None:
        self.repo = repo
        self.poll_seconds = poll_seconds
        self._handlers: dict[str, Handler] = {}
        self._validators: dict[str, Validator] = {}
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- handlers -------------------------------------------------------------------------
    def register(self, kind: str, handler: Handler, validate: Validator | None = None) -> None:
        """Fire schedules of ``kind`` with ``handler``; ``validate`` checks (and may normalise)
        a target when a schedule is created, raising :class:`InvalidRequest`."""
        with self._lock:
            self._handlers[kind] = handler
            if validate is not None:
                self._validators[kind] = validate

    @property
    def kinds(self) -> list[str]:
        with self._lock:
            return sorted(self._handlers)

    def validate(self, kind: str, target: dict[str, Any]) -> dict[str, Any]:
        """The target to store for a new schedule of ``kind``.

        Raises:
            InvalidRequest: no handler for ``kind``, or the target does not suit it.
        """
        with self._lock:
            known = kind in self._handlers
            validator = self._validators.get(kind)
        if not known:
            raise InvalidRequest(f"Unknown schedule kind {kind!r}; use one of: "
                                 f"{', '.join(self.kinds) or 'none registered'}.")
        return validator(target) if validator is not None else target

    # -- firing ---------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[Fired]:
        """Fire every schedule due at ``now`` (default: the clock) that this process claims."""
        now = now or utcnow()
        fired = []
        for rec in self.repo.due(now):
            try:
                schedule = schedule_of(rec)
            except InvalidRequest as exc:  # stored by an older version: stop it, say why
                log.error("schedule %s has an invalid timing: %s", rec.name, exc.message)
                self.repo.set_enabled(rec.name, False, None, None)
                continue
            planned = rec.next_run_at or now
            if not self.repo.claim(rec.id, planned, schedule.following(planned, now), now):
                continue  # another server fired it, or it was paused or changed meanwhile
            fired.append(self._fire(rec, planned, now))
        return fired

    def _fire(self, rec: ScheduleRecord, planned: datetime, now: datetime) -> Fired:
        with self._lock:
            handler = self._handlers.get(rec.kind)
        result: str | None = None
        error: str | None = None
        if handler is None:
            error = (f"No handler is registered for schedule kind {rec.kind!r} in this server; "
                     "the run was skipped.")
        else:
            try:
                result = handler(ScheduleContext(rec, planned, now))
            except ShipyardError as exc:
                error = exc.message
            except Exception as exc:  # noqa: BLE001 - a handler bug must not stop the thread
                log.exception("schedule %s failed", rec.name)
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            error = error[:MAX_ERROR_CHARS]
        self.repo.record_run(rec, planned, job_id=result, error=error)
        return Fired(rec.name, planned, result, error)

    # -- the thread -----------------------------------------------------------------------
    def wake(self) -> None:
        """Look again now (a schedule was created or resumed)."""
        self._wakeup.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="shipyard-scheduler",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                delay = self._delay()
            except Exception:  # noqa: BLE001 - a database hiccup: try again next tick
                log.exception("scheduler tick failed")
                delay = self.poll_seconds
            self._wakeup.wait(delay)
            self._wakeup.clear()

    def _delay(self) -> float:
        """Sleep until the earliest schedule is due, but never past one poll interval."""
        due = self.repo.next_due_at()
        if due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (due - utcnow()).total_seconds()))
