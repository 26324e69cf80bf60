"""What a retried job says, in its message and its log, at each step of the retry.

The supervisor's own code on a real store and the local executor's real log, in this
process: a worker loss is handed to ``Supervisor._lost`` the way the watcher hands it,
so the moments between two attempts (which a healthy server passes in one tick) can be
looked at. ``test_executor_suite.py`` covers the same retry end to end.
"""

from __future__ import annotations

from shipyard.api._context import Services
from shipyard.jobs import _states as st
from shipyard.jobs._package import build_package
from shipyard.jobs._supervisor import Supervisor
from shipyard.store import JobRecord

from .helpers import spec

LOST = "The job process was killed by SIGKILL, not by Shipyard."


def _running(svc: Services, retries: int = 1) -> JobRecord:
    """A submitted script job on its first attempt, as the supervisor starts it."""
    job, _ = svc.jobs.submit(spec("print('hi')", retries=retries), "u")
    assert st.transition(svc.jobs.repo, job.id, st.STARTING, st.PENDING, attempts=1)
    running = st.transition(svc.jobs.repo, job.id, st.RUNNING, st.STARTING)
    assert running is not None
    return running


def test_the_message_stays_true_while_the_retry_runs(svc: Services) -> None:
    sup = Supervisor(svc.jobs, svc.settings)
    job = _running(svc, retries=2)
    sup._lost(job, LOST, None)
    pending = svc.jobs.repo.get(job.id)
    assert pending.status == st.PENDING
    # The retry starts: the message is read while attempt 2 runs, not only before it.
    st.transition(svc.jobs.repo, job.id, st.STARTING, st.PENDING, attempts=2)
    second = st.transition(svc.jobs.repo, job.id, st.RUNNING, st.STARTING)
    assert second is not None
    assert second.message == (f"Attempt 1 of 3 was lost: {LOST} It is retried as "
                              "attempt 2.")
    assert "Retrying" not in str(second.message)


def test_a_job_cancelled_between_attempts_does_not_say_it_never_started(
        svc: Services) -> None:
    sup = Supervisor(svc.jobs, svc.settings)
    job = _running(svc)
    sup._lost(job, LOST, None)
    stopped = svc.jobs.cancel(job.id, "u")
    assert stopped.status == st.STOPPED
    # It said "Cancelled by u before it started." of a job whose attempt 1 had run.
    assert stopped.message == "Cancelled by u before attempt 2 started."


def test_a_loss_that_races_a_cancel_is_not_logged_as_retried(svc: Services) -> None:
    """The watcher saw the job Running and lost; a cancel moved it to Stopping before the
    retry: it ends Stopped, and its log must not end on "Retrying."."""
    sup = Supervisor(svc.jobs, svc.settings)
    job = _running(svc)
    handle = svc.jobs.executor.prepare(build_package(job, svc.jobs.datasets))
    svc.jobs.cancel(job.id, "u")
    sup._lost(job, LOST, handle)
    stopped = svc.jobs.repo.get(job.id)
    assert stopped.status == st.STOPPED and stopped.message == "Cancel requested by u."
    log = svc.jobs.logs(job.id)[0].decode()
    assert "Retrying" not in log and "retried" not in log, log
    assert log.rstrip().endswith("stopped"), log
    assert f"lost: {LOST}" in log, log
