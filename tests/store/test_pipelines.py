"""PipelineRepository on both backends: versions, executions with their steps as a guarded
state machine, idempotent starts, the step cache, triggers with compare-and-set state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EventLog, PipelineRepository, utcnow

from .helpers import UNICODE_JSON, assert_utc, code_point_order, errors, race

REPOSITORY = PipelineRepository


def _repo(db: Database, events: EventLog) -> PipelineRepository:
    return PipelineRepository(db, events)


def test_definitions_are_versioned_only_when_they_change(db: Database, events: EventLog) -> None:
    repo = _repo(db, events)
    rec, changed = repo.save("train", {"steps": [UNICODE_JSON]}, "h1", "first", "u")
    assert changed and rec.latest_version == 1 and rec.created_by == "u"
    rec, changed = repo.save("train", {"steps": [UNICODE_JSON]}, "h1", "first", "u")
    assert not changed and rec.latest_version == 1
    rec, changed = repo.save("train", {"steps": []}, "h2", "second", "v")
    assert changed and rec.latest_version == 2 and rec.description == "second"
    assert repo.version("train", 1).definition == {"steps": [UNICODE_JSON]}
    assert repo.version("train").version == 2
    assert_utc(repo.get("train").created_at, repo.version("train").created_at)
    with pytest.raises(NotFound):
        repo.version("train", 3)
    with pytest.raises(NotFound):
        repo.get("nope")
    for name in ("beta", "Alpha", "alpha"):
        repo.save(name, {}, "h", "", None)
    assert [p.name for p in repo.list()] == code_point_order(["beta", "Alpha", "alpha", "train"])


def test_executions_start_once_per_key_and_steps_move_only_from_expected_states(
        db: Database, events: EventLog) -> None:
    repo = _repo(db, events)
    repo.save("p", {}, "h", "", "u")
    steps = [("a", "processing"), ("b", "condition")]
    results = race(lambda i: repo.create_execution(f"exec-{i}", "p", 1, {"x": 1},
                                                   {"kind": "git"}, steps, "u",
                                                   idempotency_key="commit:abc"), n=4)
    assert not errors(results), errors(results)
    made = [r for r in results if not isinstance(r, BaseException) and r[1]]
    assert len(made) == 1
    ex = made[0][0]
    assert {r[0].id for r in results if not isinstance(r, BaseException)} == {ex.id}
    assert ex.status == "Executing" and ex.parameters == {"x": 1}
    assert [s.name for s in repo.steps(ex.id)] == ["a", "b"]
    assert [e.id for e in repo.executions("p")] == [ex.id]
    assert repo.executions(statuses=["Failed"]) == []

    assert repo.update_step(ex.id, "a", ["Pending"], expect_attempt=0, status="Starting",
                            attempt=1)
    # A second actor that read the same Pending step loses.
    assert not repo.update_step(ex.id, "a", ["Pending"], expect_attempt=0, status="Starting",
                                attempt=1)
    assert repo.update_step(ex.id, "a", ["Starting"], status="Succeeded", outputs=UNICODE_JSON)
    step = repo.steps(ex.id)[0]
    assert (step.status, step.attempt, step.outputs) == ("Succeeded", 1, UNICODE_JSON)

    assert repo.set_execution_status(ex.id, "Succeeded", ["Executing"], ended=True)
    assert not repo.set_execution_status(ex.id, "Failed", ["Executing"], ended=True)
    done = repo.execution(ex.id)
    assert done.status == "Succeeded" and done.ended_at is not None
    with pytest.raises(NotFound):
        repo.execution("exec-none")


def test_a_pipeline_with_a_running_execution_cannot_be_deleted(db: Database,
                                                                events: EventLog) -> None:
    repo = _repo(db, events)
    repo.save("p", {}, "h", "", "u")
    ex, _ = repo.create_execution("exec-1", "p", 1, {}, {}, [("a", "fail")], "u")
    with pytest.raises(Conflict):
        repo.delete("p", "u")
    repo.set_execution_status(ex.id, "Stopped", ["Executing"], ended=True)
    repo.delete("p", "u")
    with pytest.raises(NotFound):
        repo.execution(ex.id)  # its executions went with it


def test_the_cache_returns_the_newest_unexpired_entry(db: Database, events: EventLog) -> None:
    repo = _repo(db, events)
    now = utcnow()
    assert repo.cached("k", now) is None
    repo.add_cached("k", "p", "s", "exec-1", "job-1", {"a": 1}, now + timedelta(hours=1))
    repo.add_cached("k", "p", "s", "exec-2", "job-2", {"a": 2}, now + timedelta(hours=1))
    hit = repo.cached("k", now)
    assert hit is not None and hit.execution_id == "exec-2" and hit.outputs == {"a": 2}
    assert repo.cached("k", now + timedelta(hours=2)) is None  # expired


def test_triggers_keep_state_with_compare_and_set(db: Database, events: EventLog) -> None:
    repo = _repo(db, events)
    repo.save("p", {}, "h", "", "u")
    t = repo.add_trigger("p", "git", {"repo": "/r", "branch": "main"}, {"k": "v"}, "u",
                         state={"last_commit": "a"})
    assert repo.trigger(t.id).state == {"last_commit": "a"}
    assert [x.id for x in repo.triggers("p")] == [t.id]
    assert repo.triggers(kind="schedule") == []
    assert repo.set_trigger_state(t.id, {"last_commit": "b"}, expect={"last_commit": "a"})
    assert not repo.set_trigger_state(t.id, {"last_commit": "c"}, expect={"last_commit": "a"})
    assert repo.trigger(t.id).state == {"last_commit": "b"}
    # The same trigger twice would start two executions per event: refused, as a conflict.
    with pytest.raises(Conflict, match=f"already has this git trigger \\(trigger {t.id}\\)"):
        repo.add_trigger("p", "git", {"repo": "/r", "branch": "main"}, {"k": "v"}, "v")
    other = repo.add_trigger("p", "git", {"repo": "/r", "branch": "main"}, {"k": "w"}, "u")
    assert [x.id for x in repo.triggers("p")] == [t.id, other.id]
    repo.delete_trigger(other.id, "u")
    repo.delete_trigger(t.id, "u")
    with pytest.raises(NotFound):
        repo.trigger(t.id)
    with pytest.raises(NotFound):
        repo.delete_trigger(t.id, "u")
