"""EndpointRepository on both backends: unique names, spec and status changes, their events."""

from __future__ import annotations

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EndpointRepository, EventLog

from .helpers import (
    LONGEST_NAME,
    MIXED_CASE,
    UNICODE_JSON,
    assert_utc,
    code_point_order,
    errors,
    race,
    recent,
    values,
)

REPOSITORY = EndpointRepository

SPEC = {"variants": [{"name": "main", "model": "churn:1", "weight": 1.0, "instances": 1}],
        "capture_percent": 0}


def test_create_get_update_and_delete(db: Database, events: EventLog) -> None:
    repo = EndpointRepository(db, events)
    ep = repo.create("churn", "Creating", SPEC, "admin")
    assert (ep.name, ep.status, ep.reason, ep.spec, ep.created_by) == (
        "churn", "Creating", None, SPEC, "admin")
    assert_utc(ep.created_at, ep.updated_at)
    assert recent(ep.created_at)
    assert repo.get("churn") == ep == repo.find("churn")
    assert repo.find("Churn") is None
    with pytest.raises(NotFound):
        repo.get("nope")

    up = repo.update("churn", status="InService", actor="supervisor")
    assert up.status == "InService" and up.spec == SPEC and up.updated_at >= ep.updated_at
    spec2 = {**SPEC, "capture_percent": 50}
    assert repo.update("churn", spec=spec2).spec == spec2
    failed = repo.update("churn", status="Failed", reason="instance 0 exited 1")
    assert (failed.status, failed.reason) == ("Failed", "instance 0 exited 1")
    repo.update("churn", status="InService", event="endpoint.update_failed", previous_spec=SPEC)
    repo.record("churn", "endpoint.instance_restarted", instance=0, exit_code=-9)
    with pytest.raises(NotFound):
        repo.update("nope", status="InService")
    repo.delete("churn", "admin")
    assert repo.find("churn") is None
    with pytest.raises(NotFound):
        repo.delete("churn", "admin")
    kinds = [e.kind for e in events.list(resource_type="endpoint")]
    assert kinds == ["endpoint.created", "endpoint.updated", "endpoint.updated",
                     "endpoint.failed", "endpoint.update_failed",
                     "endpoint.instance_restarted", "endpoint.deleted"]
    update_failed = events.list(kind="endpoint.update_failed")[0].payload
    assert update_failed["previous"] == "Failed" and update_failed["previous_spec"] == SPEC


def test_list_is_in_code_point_order(db: Database, events: EventLog) -> None:
    repo = EndpointRepository(db, events)
    for name in MIXED_CASE:
        repo.create(name, "Creating", SPEC, None)
    assert [e.name for e in repo.list()] == code_point_order(MIXED_CASE)


def test_uniqueness_json_and_longest_name(db: Database, events: EventLog) -> None:
    repo = EndpointRepository(db, events)
    spec = {**SPEC, "doc": UNICODE_JSON}
    repo.create(LONGEST_NAME, "Creating", spec, LONGEST_NAME)
    assert repo.get(LONGEST_NAME).spec == spec
    with pytest.raises(Conflict, match="already exists"):
        repo.create(LONGEST_NAME, "Creating", SPEC, None)
    assert repo.get(LONGEST_NAME).spec == spec  # the loser changed nothing


def test_concurrent_creates_of_one_name(db: Database, events: EventLog) -> None:
    repo = EndpointRepository(db, events)
    results = race(lambda i: repo.create("same", "Creating", {**SPEC, "i": i}, f"u{i}"))
    assert len(values(results)) == 1
    assert all(isinstance(e, Conflict) for e in errors(results)), errors(results)
    assert len(repo.list()) == 1
    assert len(events.list(kind="endpoint.created")) == 1
