"""ScheduleRepository on both backends: due schedules found in order, claimed exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EventLog, ScheduleRepository

from .helpers import (
    LONGEST_NAME,
    MIXED_CASE,
    PLUS_0530,
    UNICODE_JSON,
    assert_utc,
    code_point_order,
    errors,
    race,
    values,
)

REPOSITORY = ScheduleRepository

T0 = datetime(2030, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _create(repo: ScheduleRepository, name: str, at: datetime = T0, kind: str = "job",
            target: dict | None = None) -> None:
    repo.create(name, kind, target or {"kind": "processing"}, cron=None, every="1h",
                next_run_at=at, actor="u")


def test_create_get_list_pause_resume_delete(db: Database, events: EventLog) -> None:
    repo = ScheduleRepository(db, events)
    rec = repo.create("nightly", "job", UNICODE_JSON, cron="0 3 * * *", every=None,
                      next_run_at=T0, actor="u")
    assert (rec.kind, rec.target, rec.cron, rec.every, rec.enabled) == (
        "job", UNICODE_JSON, "0 3 * * *", None, True)
    assert rec.next_run_at == T0
    assert_utc(rec.next_run_at, rec.created_at, rec.updated_at)
    assert rec.last_run_at is None and rec.last_job_id is None
    assert repo.get("nightly") == rec
    _create(repo, "crawl-it", kind="crawl")
    assert [s.name for s in repo.list()] == ["crawl-it", "nightly"]
    assert [s.name for s in repo.list(kind="crawl")] == ["crawl-it"]

    paused = repo.set_enabled("nightly", False, None, "u")
    assert not paused.enabled and paused.next_run_at == T0
    resumed = repo.set_enabled("nightly", True, T0 + timedelta(days=1), "u")
    assert resumed.enabled and resumed.next_run_at == T0 + timedelta(days=1)
    repo.delete("nightly", "u")
    with pytest.raises(NotFound):
        repo.get("nightly")
    with pytest.raises(NotFound):
        repo.delete("nightly", "u")
    with pytest.raises(NotFound):
        repo.set_enabled("nightly", True, None, "u")
    kinds = [e.kind for e in events.list(resource_id="nightly")]
    assert kinds == ["schedule.created", "schedule.paused", "schedule.resumed",
                     "schedule.deleted"]


def test_list_order_uniqueness_and_longest_name(db: Database, events: EventLog) -> None:
    repo = ScheduleRepository(db, events)
    for name in MIXED_CASE:
        _create(repo, name)
    assert [s.name for s in repo.list()] == code_point_order(MIXED_CASE)
    _create(repo, LONGEST_NAME)
    with pytest.raises(Conflict, match="already exists"):
        _create(repo, LONGEST_NAME)


def test_due_in_order_whatever_the_zone_of_the_times(db: Database, events: EventLog) -> None:
    """Times given in +05:30 are the same instants: order and comparisons use the instant."""
    repo = ScheduleRepository(db, events)
    # 17:00+05:30 is 11:30 UTC: earlier than 12:00 UTC although its wall clock is later.
    _create(repo, "a-noon-utc", T0)
    _create(repo, "b-1130-utc", T0.astimezone(PLUS_0530).replace(hour=17, minute=0))
    _create(repo, "c-later", T0 + timedelta(hours=2))
    _create(repo, "d-paused", T0 - timedelta(hours=5))
    repo.set_enabled("d-paused", False, None, "u")
    assert repo.get("b-1130-utc").next_run_at == datetime(2030, 6, 1, 11, 30, 0, 123456,
                                                          tzinfo=UTC)
    assert [s.name for s in repo.due(T0)] == ["b-1130-utc", "a-noon-utc"]
    assert [s.name for s in repo.due(T0.astimezone(PLUS_0530))] == ["b-1130-utc", "a-noon-utc"]
    assert [s.name for s in repo.due(T0, limit=1)] == ["b-1130-utc"]
    assert repo.due(T0 - timedelta(hours=1)) == []
    assert repo.next_due_at() == datetime(2030, 6, 1, 11, 30, 0, 123456, tzinfo=UTC)
    assert_utc(repo.next_due_at())


def test_next_due_at_empty(db: Database, events: EventLog) -> None:
    assert ScheduleRepository(db, events).next_due_at() is None


def test_claim_and_record_run(db: Database, events: EventLog) -> None:
    repo = ScheduleRepository(db, events)
    _create(repo, "s")
    rec = repo.get("s")
    planned = rec.next_run_at
    assert repo.claim(rec.id, planned, T0 + timedelta(hours=1), T0)
    assert not repo.claim(rec.id, planned, T0 + timedelta(hours=1), T0)  # already moved on
    after = repo.get("s")
    assert after.next_run_at == T0 + timedelta(hours=1) and after.last_run_at == T0
    repo.record_run(after, planned, job_id="job-1", error=None)
    repo.record_run(after, planned, job_id=None, error="the dataset 'é' is gone")
    last = repo.get("s")
    assert (last.last_job_id, last.last_error) == ("job-1", "the dataset 'é' is gone")
    fired, failed = events.list(kind="schedule.fired"), events.list(kind="schedule.failed")
    assert fired[0].payload["job_id"] == "job-1"
    assert failed[0].payload["error"] == "the dataset 'é' is gone"


def test_claim_given_in_another_zone(db: Database, events: EventLog) -> None:
    repo = ScheduleRepository(db, events)
    _create(repo, "s")
    rec = repo.get("s")
    assert repo.claim(rec.id, T0.astimezone(PLUS_0530), T0 + timedelta(hours=1), T0)


def test_concurrent_claims_exactly_one_wins(db: Database, events: EventLog) -> None:
    repo = ScheduleRepository(db, events)
    _create(repo, "s")
    rec = repo.get("s")
    results = race(lambda i: repo.claim(rec.id, rec.next_run_at,
                                        T0 + timedelta(hours=1 + i), T0), n=8)
    assert not errors(results), errors(results)
    assert values(results).count(True) == 1
