"""The scheduler over a real store (SQLite and PostgreSQL): claims, missed runs, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import Conflict, InvalidRequest, NotFound
from shipyard.scheduling import ScheduleContext, Scheduler, ScheduleService
from shipyard.store import Database, EventLog, ScheduleRepository, upgrade, utcnow


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    upgrade(database)
    yield database
    database.dispose()


class Recorder:
    """A handler that records each run it is given and answers with a made-up job id."""

    def __init__(self) -> None:
        self.runs: list[ScheduleContext] = []
        self.lock = threading.Lock()

    def __call__(self, ctx: ScheduleContext) -> str:
        with self.lock:
            self.runs.append(ctx)
            return f"job-{len(self.runs)}"


def make(db: Database, recorder: Recorder) -> tuple[Scheduler, ScheduleService]:
    scheduler = Scheduler(ScheduleRepository(db, EventLog(db)))
    scheduler.register("job", recorder)
    return scheduler, ScheduleService(scheduler.repo, scheduler)


def test_a_due_schedule_fires_once_per_run(db: Database) -> None:
    rec = Recorder()
    scheduler, service = make(db, rec)
    created = service.create("hourly", "job", {"spec": {}}, every="1h", actor="alice")
    first = created.next_run_at
    assert first is not None and first > utcnow()
    assert scheduler.tick(first - timedelta(seconds=1)) == []  # not due yet
    fired = scheduler.tick(first)
    assert [(f.name, f.result) for f in fired] == [("hourly", "job-1")]
    assert scheduler.tick(first + timedelta(minutes=59)) == []  # that run is done
    after = service.get("hourly")
    assert after.next_run_at == first + timedelta(hours=1)
    assert after.last_job_id == "job-1" and after.last_run_at == first
    assert rec.runs[0].actor == "alice" and rec.runs[0].planned_at == first
    kinds = [e.kind for e in EventLog(db).list(resource_type="schedule")]
    assert kinds == ["schedule.created", "schedule.fired"]
    fired_event = EventLog(db).list(kind="schedule.fired")[0]
    assert fired_event.payload["job_id"] == "job-1"


def test_missed_runs_after_downtime_fire_once(db: Database) -> None:
    rec = Recorder()
    scheduler, service = make(db, rec)
    first = service.create("every-minute", "job", {"spec": {}}, every="1m").next_run_at
    assert first is not None
    later = first + timedelta(hours=3, seconds=20)  # 180 runs were missed
    assert len(scheduler.tick(later)) == 1
    assert scheduler.tick(later) == []
    nxt = service.get("every-minute").next_run_at
    assert nxt is not None and later < nxt <= later + timedelta(minutes=1)
    assert (nxt - first).total_seconds() % 60 == 0  # the minute phase is kept
    assert len(rec.runs) == 1


def test_two_servers_never_fire_the_same_run(db: Database) -> None:
    rec = Recorder()
    one, service = make(db, rec)
    two, _ = make(db, rec)
    for i in range(5):
        service.create(f"s{i}", "job", {"spec": {}}, every="1h")
    due = utcnow() + timedelta(hours=1, seconds=1)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run(s: Scheduler) -> None:
        barrier.wait()
        results.append(len(s.tick(due)))

    threads = [threading.Thread(target=run, args=(s,)) for s in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 5
    assert sorted(r.name for r in rec.runs) == [f"s{i}" for i in range(5)]


def test_a_failing_handler_is_recorded_and_the_schedule_goes_on(db: Database) -> None:
    scheduler = Scheduler(ScheduleRepository(db, EventLog(db)))

    def broken(ctx: ScheduleContext) -> str:
        raise InvalidRequest(f"Input 'raw' of {ctx.name}: no dataset named 'gone'.")

    scheduler.register("job", broken)
    service = ScheduleService(scheduler.repo, scheduler)
    first = service.create("broken", "job", {"spec": {}}, every="10m").next_run_at
    assert first is not None
    (fired,) = scheduler.tick(first)
    assert fired.error == "Input 'raw' of broken: no dataset named 'gone'."
    rec = service.get("broken")
    assert rec.last_error == fired.error and rec.enabled
    assert rec.next_run_at == first + timedelta(minutes=10)
    (event,) = EventLog(db).list(kind="schedule.failed")
    assert event.payload["error"] == fired.error


def test_a_kind_without_a_handler_is_refused_and_an_unhandled_run_is_reported(
        db: Database) -> None:
    scheduler, service = make(db, Recorder())
    with pytest.raises(InvalidRequest, match="Unknown schedule kind 'monitor'; use one of: job"):
        service.create("m", "monitor", {}, every="1h")
    # A schedule stored by a server that had a handler, fired by one that has not.
    repo = scheduler.repo
    repo.create("orphan", "monitor", {}, cron=None, every="1h",
                next_run_at=datetime(2026, 1, 1, tzinfo=UTC), actor=None)
    fired = [f for f in scheduler.tick(datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
             if f.name == "orphan"]
    assert fired and "No handler is registered for schedule kind 'monitor'" in str(fired[0].error)


def test_pause_resume_delete_and_names(db: Database) -> None:
    rec = Recorder()
    scheduler, service = make(db, rec)
    first = service.create("nightly", "job", {"spec": {}}, cron="0 2 * * *").next_run_at
    assert first is not None and (first.hour, first.minute) == (2, 0)
    with pytest.raises(Conflict, match="already exists"):
        service.create("nightly", "job", {"spec": {}}, every="1h")
    with pytest.raises(InvalidRequest, match="schedule name"):
        service.create("../etc", "job", {"spec": {}}, every="1h")
    assert not service.pause("nightly", "bob").enabled
    assert scheduler.tick(first + timedelta(days=3)) == []  # paused: nothing fires
    resumed = service.resume("nightly", "bob")
    assert resumed.enabled and resumed.next_run_at is not None
    assert resumed.next_run_at > utcnow()  # no burst of the runs missed while paused
    assert len(scheduler.tick(resumed.next_run_at)) == 1
    service.delete("nightly", "bob")
    with pytest.raises(NotFound, match="No schedule named 'nightly'"):
        service.get("nightly")
    kinds = [e.kind for e in EventLog(db).list(resource_type="schedule")]
    assert kinds == ["schedule.created", "schedule.paused", "schedule.resumed",
                     "schedule.fired", "schedule.deleted"]


def test_the_thread_fires_a_short_interval_and_stops(db: Database) -> None:
    rec = Recorder()
    scheduler, service = make(db, rec)
    scheduler.poll_seconds = 0.1
    service.create("fast", "job", {"spec": {}}, every="1s")
    scheduler.start()
    try:
        deadline = utcnow() + timedelta(seconds=10)
        while len(rec.runs) < 2 and utcnow() < deadline:
            threading.Event().wait(0.05)
    finally:
        scheduler.stop()
    assert len(rec.runs) >= 2
    planned = [r.planned_at for r in rec.runs[:2]]
    assert planned[1] - planned[0] == timedelta(seconds=1)
