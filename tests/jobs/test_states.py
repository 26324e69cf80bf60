"""The job state machine's transitions on a real store: the final status has the last word."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.jobs import _states as st
from shipyard.store import Database, EventLog, JobRepository, upgrade

RETRYING = ("Attempt 1 of 2 was lost: The job process was killed by SIGKILL, not by Shipyard. "
            "It is retried as attempt 2.")


@pytest.fixture
def repo(db_url: str) -> Iterator[JobRepository]:
    db = Database(db_url)
    upgrade(db)
    try:
        yield JobRepository(db, EventLog(db))
    finally:
        db.dispose()


def _retried(repo: JobRepository, job_id: str) -> None:
    """A job whose first attempt was lost and whose second one now runs, as the
    supervisor moves it (``Supervisor._lost``, then ``_start_pending``)."""
    repo.create(job_id, "tuning", {}, name=None, max_attempts=2, actor="u",
                initial_status=st.PENDING)
    for to, frm, fields in ((st.STARTING, st.PENDING, {"attempts": 1}),
                            (st.RUNNING, st.STARTING, {}),
                            (st.PENDING, st.RUNNING, {"message": RETRYING}),
                            (st.STARTING, st.PENDING, {"attempts": 2, "reason": None}),
                            (st.RUNNING, st.STARTING, {})):
        assert st.transition(repo, job_id, to, frm, **fields) is not None
    assert repo.get(job_id).message == RETRYING


def test_a_retried_job_that_completes_shows_no_retrying_message(repo: JobRepository) -> None:
    # A driver ends its job with the status and its outputs only; the retry's note
    # stayed on the Completed job, in `jobs show` and the API.
    _retried(repo, "done")
    done = st.transition(repo, "done", st.COMPLETED, st.RUNNING)
    assert done is not None and (done.reason, done.message) == (None, None)


def test_a_retried_job_that_fails_shows_its_own_failure(repo: JobRepository) -> None:
    _retried(repo, "failed")
    failed = st.transition(repo, "failed", st.FAILED, st.RUNNING, reason=st.SCRIPT_ERROR)
    assert failed is not None and (failed.reason, failed.message) == (st.SCRIPT_ERROR, None)
    _retried(repo, "failed-2")
    said = st.transition(repo, "failed-2", st.FAILED, st.RUNNING, reason=st.SCRIPT_ERROR,
                         message="m.py:3: ValueError: boom")
    assert said is not None and said.message == "m.py:3: ValueError: boom"


def test_a_stopped_job_keeps_what_its_cancel_said(repo: JobRepository) -> None:
    _retried(repo, "stopped")
    st.transition(repo, "stopped", st.STOPPING, st.RUNNING, message="Cancel requested by u.")
    stopped = st.transition(repo, "stopped", st.STOPPED, st.STOPPING)
    assert stopped is not None and stopped.message == "Cancel requested by u."
