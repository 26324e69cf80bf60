"""JobRepository on both backends: guarded status transitions, idempotent submits, metrics."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest

from shipyard.errors import Conflict, InvalidRequest, NotFound
from shipyard.store import Database, EventLog, JobRecord, JobRepository, MetricPoint

from .helpers import PLUS_0530, UNICODE_JSON, assert_utc, errors, race, recent, values

REPOSITORY = JobRepository


def _job(repo: JobRepository, job_id: str, key: tuple[str, str] | None = None, *,
         kind: str = "processing", experiment: str | None = None,
         status: str = "Pending") -> tuple[JobRecord, bool]:
    return repo.create(job_id, kind, {"x": 1}, name=None, max_attempts=1, actor="u",
                       initial_status=status, idempotency=key, experiment=experiment)


def test_create_get_and_json_round_trip(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    job, created = repo.create("j1", "training", UNICODE_JSON, name="entraînement", max_attempts=3,
                               actor="ü", initial_status="Pending", experiment="exp",
                               tags={"équipe": "données ✓"}, notes="notes — 中文")
    assert created
    again = repo.get("j1")
    assert again == job
    assert (job.spec, job.name, job.tags, job.notes) == (
        UNICODE_JSON, "entraînement", {"équipe": "données ✓"}, "notes — 中文")
    assert (job.attempts, job.max_attempts, job.outputs, job.pid) == (0, 3, {}, None)
    assert_utc(job.created_at, job.updated_at)
    assert recent(job.created_at)
    assert job.started_at is None and job.ended_at is None
    with pytest.raises(NotFound):
        repo.get("nope")
    with pytest.raises(Conflict, match="j1"):
        _job(repo, "j1")  # the id is the primary key


def test_transitions_are_guarded(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    job, created = _job(repo, "j1")
    assert created and job.status == "Pending" and job.attempts == 0
    assert repo.transition("j1", "Starting", ["Pending"], attempts=1).status == "Starting"
    # A second actor trying the same move loses.
    assert repo.transition("j1", "Starting", ["Pending"]) is None
    started = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=PLUS_0530)
    running = repo.transition("j1", "Running", ["Starting"], pid=123, pid_started_at=1.5,
                              started_at=started)
    assert (running.pid, running.pid_started_at) == (123, 1.5)
    assert running.started_at == started  # the same instant ...
    assert_utc(running.started_at)  # ... handed back in UTC
    done = repo.transition("j1", "Failed", ["Running"], reason="worker_lost", message="é",
                           outputs={"model": {"sha256": "s"}})
    assert (done.status, done.reason, done.message) == ("Failed", "worker_lost", "é")
    assert done.outputs == {"model": {"sha256": "s"}}
    assert repo.transition("nope", "Running", ["Pending"]) is None
    statuses = [e.payload["status"] for e in events.list(resource_id="j1")
                if e.kind == "job.status_changed"]
    assert statuses == ["Starting", "Running", "Failed"]


def test_update_fields(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    before, _ = _job(repo, "j1")
    repo.update_fields("j1", tags={"a": "ü"}, notes="n", experiment="e")
    after = repo.get("j1")
    assert (after.tags, after.notes, after.experiment) == ({"a": "ü"}, "n", "e")
    assert after.updated_at >= before.updated_at and after.status == "Pending"


def test_list_filters_and_ordering(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    for i in range(6):
        _job(repo, f"j{i}", kind="training" if i % 2 else "processing",
             experiment="exp" if i < 3 else None, status="Running" if i % 3 == 0 else "Pending")
    newest_first = [j.id for j in repo.list()]
    assert newest_first == [f"j{i}" for i in reversed(range(6))]
    assert [j.id for j in repo.list(oldest_first=True)] == [f"j{i}" for i in range(6)]
    assert [j.id for j in repo.list(limit=2)] == ["j5", "j4"]
    assert [j.id for j in repo.list(limit=2, offset=2)] == ["j3", "j2"]  # a page
    assert [j.id for j in repo.list(limit=2, offset=5)] == ["j0"]
    assert repo.list(offset=6) == []
    assert {j.id for j in repo.list(statuses=["Running"])} == {"j0", "j3"}
    assert {j.id for j in repo.list(kind="training")} == {"j1", "j3", "j5"}
    assert {j.id for j in repo.list(experiment="exp")} == {"j0", "j1", "j2"}
    assert {j.id for j in repo.list(statuses=["Pending"], kind="training",
                                    experiment="exp")} == {"j1"}


def test_list_by_text_in_the_spec(db: Database, events: EventLog) -> None:
    """``spec_contains`` finds the text in the stored JSON, as stored on both backends; a
    LIKE wildcard in it is a plain character."""
    repo = JobRepository(db, events)
    specs = {"a": {"inputs": {"train": {"dataset": "churn", "version": 1}}},
             "b": {"inputs": {"train": {"dataset": "churn_2", "version": 1}}},
             "c": {"inputs": {"train": {"dataset": "café", "version": 1}}, "target": "churn"},
             "d": {"model": {"group": "churn", "version": 3}}}
    for job_id, spec in specs.items():
        repo.create(job_id, "training", spec, name=None, max_attempts=1, actor="u",
                    initial_status="Pending")
    assert [j.id for j in repo.list(spec_contains='"dataset": "churn"')] == ["a"]
    assert [j.id for j in repo.list(spec_contains='"dataset": "churn_2"')] == ["b"]
    assert repo.list(spec_contains='"dataset": "churn%"') == []
    assert [j.id for j in repo.list(spec_contains=json.dumps({"dataset": "café"})[1:-1])
            ] == ["c"]
    assert [j.id for j in repo.list(spec_contains='"group": "churn"', limit=5)] == ["d"]
    assert [j.id for j in repo.list(spec_contains='"churn', limit=2)] == ["d", "c"]

def test_list_by_text_in_the_tags(db: Database, events: EventLog) -> None:
    """``tags_contains`` finds the text in the stored tags, which the spec does not hold:
    Canvas looked for its builds' tag in the spec and listed "No builds yet" after each."""
    repo = JobRepository(db, events)
    tags = {"a": {"canvas": "build", "canvas_dataset": "prestige"},
            "b": {"canvas": "whatif"}, "c": None}
    for job_id, tag in tags.items():
        repo.create(job_id, "training", {"target": "type"}, name=None, max_attempts=1,
                    actor="u", initial_status="Pending", tags=tag)
    assert repo.list(spec_contains='"canvas": "build"') == []
    assert [j.id for j in repo.list(tags_contains='"canvas": "build"')] == ["a"]
    assert [j.id for j in repo.list(tags_contains='"canvas": "b%"')] == []


def test_concurrent_transitions_one_wins(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    _job(repo, "j1")
    results = race(lambda i: repo.transition("j1", "Starting", ["Pending"], pid=i))
    assert not errors(results), errors(results)
    winners = [r for r in values(results) if r is not None]
    assert len(winners) == 1
    assert repo.get("j1").pid == winners[0].pid
    assert len(events.list(kind="job.status_changed")) == 1


def test_idempotency_under_concurrency(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    results = race(lambda i: _job(repo, f"job-{i}", ("same-key", "same-body")), n=8)
    assert not errors(results), errors(results)
    assert len({job.id for job, _ in values(results)}) == 1
    assert sum(created for _, created in values(results)) == 1
    assert len(repo.list()) == 1
    with pytest.raises(Conflict):
        _job(repo, "job-x", ("same-key", "other-body"))


def test_metrics_series(db: Database, events: EventLog) -> None:
    repo = JobRepository(db, events)
    _job(repo, "j1")
    _job(repo, "j2")
    repo.add_metrics("j1", [MetricPoint("loss", 1.0 / (i + 1), i, 1000.0 + i) for i in range(5)])
    repo.add_metrics("j1", [MetricPoint("test.roc_auc", 0.8, None, 1.0)])
    repo.add_metrics("j1", [])
    series = repo.metrics("j1", "loss")
    assert [p.step for p in series] == [0, 1, 2, 3, 4]
    assert series[-1].value == pytest.approx(0.2)
    assert [p.name for p in repo.metrics("j1")][-1] == "test.roc_auc"
    assert repo.metrics("j2") == []
    assert repo.last_metrics(["j1", "j2"]) == {"j1": {"loss": pytest.approx(0.2),
                                                      "test.roc_auc": 0.8}, "j2": {}}
    assert repo.last_metrics([]) == {}
    with pytest.raises(NotFound):
        repo.metrics("nope")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_metric_values_are_refused_alike(db: Database, events: EventLog,
                                                    bad: float) -> None:
    """SQLite turns NaN into NULL and PostgreSQL keeps it: refuse it before either sees it."""
    repo = JobRepository(db, events)
    _job(repo, "j1")
    with pytest.raises(InvalidRequest, match="finite"):
        repo.add_metrics("j1", [MetricPoint("ok", 1.0, 0, 1.0), MetricPoint("loss", bad, 1, 1.0)])
    assert repo.metrics("j1") == []  # nothing half-written


def test_handle_heartbeat_and_metrics_offset(db: Database, events: EventLog) -> None:
    """What the supervisor records for recovery: the executor's handle, the last heartbeat,
    and how far the metrics file was read (moved in the same transaction as the points)."""
    from datetime import UTC

    repo = JobRepository(db, events)
    job, _ = _job(repo, "j1")
    assert (job.executor, job.handle, job.heartbeat_at, job.metrics_offset) == (None, None,
                                                                                None, 0)
    state = {"executor": "local", "host": "h", "pid": 42, "cores": [0, 1]}
    repo.transition("j1", "Starting", ["Pending"], attempts=1)
    running = repo.transition("j1", "Running", ["Starting"], executor="local", handle=state)
    assert (running.executor, running.handle) == ("local", state)
    beat = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    repo.update_fields("j1", heartbeat_at=beat)
    repo.add_metrics("j1", [MetricPoint("loss", 0.5, 0, 1.0)], offset=57)
    repo.add_metrics("j1", [], offset=90)  # a line that was no metric still moves the offset
    job = repo.get("j1")
    assert job.heartbeat_at == beat and job.metrics_offset == 90
    assert [p.value for p in repo.metrics("j1")] == [0.5]
    back = repo.transition("j1", "Pending", ["Running"], handle=None, metrics_offset=0)
    assert back.handle is None and back.metrics_offset == 0
