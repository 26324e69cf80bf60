"""JobTokenRepository on both backends: one live token per job, gone when the attempt ends."""

from __future__ import annotations

from shipyard.store import Database, EventLog, JobRepository, JobTokenRepository

REPOSITORY = JobTokenRepository


def _job(jobs: JobRepository, job_id: str) -> None:
    jobs.create(job_id, "script", {"x": 1}, name=None, max_attempts=2, actor="u",
                initial_status="Pending")


def test_issue_find_and_revoke(db: Database, events: EventLog) -> None:
    jobs, repo = JobRepository(db, events), JobTokenRepository(db)
    _job(jobs, "j1")
    _job(jobs, "j2")
    repo.issue("j1", 1, "a" * 64)
    repo.issue("j2", 1, "b" * 64)
    found = repo.find_active("a" * 64)
    assert found is not None and (found.job_id, found.attempt) == ("j1", 1)
    assert repo.find_active("c" * 64) is None
    repo.issue("j1", 2, "d" * 64)  # a new attempt: the first attempt's token stops
    assert repo.find_active("a" * 64) is None
    assert repo.find_active("d" * 64).attempt == 2  # type: ignore[union-attr]
    repo.revoke("j1")
    assert repo.find_active("d" * 64) is None
    assert repo.find_active("b" * 64) is not None  # another job's token is untouched


def test_a_job_leaving_the_live_statuses_revokes_its_token(db: Database,
                                                           events: EventLog) -> None:
    jobs, repo = JobRepository(db, events), JobTokenRepository(db)
    _job(jobs, "j1")
    jobs.transition("j1", "Starting", ["Pending"], attempts=1)
    repo.issue("j1", 1, "a" * 64)
    jobs.transition("j1", "Running", ["Starting"])
    jobs.transition("j1", "Stopping", ["Running"])
    assert repo.find_active("a" * 64) is not None  # still live while it stops
    jobs.transition("j1", "Stopped", ["Stopping"])
    assert repo.find_active("a" * 64) is None
    _job(jobs, "j2")
    jobs.transition("j2", "Starting", ["Pending"], attempts=1)
    repo.issue("j2", 1, "b" * 64)
    jobs.transition("j2", "Pending", ["Starting"])  # a retry: the lost attempt's token ends
    assert repo.find_active("b" * 64) is None
