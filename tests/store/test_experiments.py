"""ExperimentRepository on both backends: create-or-update by name, safe under concurrency."""

from __future__ import annotations

from shipyard.store import Database, EventLog, ExperimentRepository

from .helpers import (
    LONGEST_NAME,
    MIXED_CASE,
    UNICODE_JSON,
    assert_utc,
    code_point_order,
    errors,
    race,
    recent,
)

REPOSITORY = ExperimentRepository


def test_upsert_get_find_and_list(db: Database, events: EventLog) -> None:
    repo = ExperimentRepository(db, events)
    crit = [{"metric": "roc_auc", "split": "test", "op": ">=", "threshold": 0.8}]
    rec = repo.upsert("churn", "u", problem_statement="Who leaves?", success_criteria=crit)
    assert rec.success_criteria == crit and rec.problem_statement == "Who leaves?"
    assert_utc(rec.created_at, rec.updated_at)
    assert recent(rec.created_at)
    again = repo.upsert("churn", "v", description="d")
    assert again.description == "d" and again.success_criteria == crit
    assert again.created_by == "u" and again.updated_at >= rec.updated_at
    assert repo.upsert("churn", "v") == again  # nothing to change
    assert repo.get("churn") == again
    assert repo.find("nope") is None
    assert repo.find("Churn") is None  # case-sensitive
    kinds = [e.kind for e in events.list(resource_type="experiment")]
    assert kinds == ["experiment.created", "experiment.updated"]


def test_list_is_in_code_point_order(db: Database, events: EventLog) -> None:
    repo = ExperimentRepository(db, events)
    for name in MIXED_CASE:
        repo.upsert(name, "u")
    assert [e.name for e in repo.list()] == code_point_order(MIXED_CASE)


def test_json_round_trip_and_longest_name(db: Database, events: EventLog) -> None:
    repo = ExperimentRepository(db, events)
    crit = [UNICODE_JSON, {"metric": "rmse", "threshold": -1.25e-7}]
    repo.upsert(LONGEST_NAME, LONGEST_NAME, success_criteria=crit, description="ü ✓ 🚢")
    got = repo.get(LONGEST_NAME)
    assert got.success_criteria == crit and got.description == "ü ✓ 🚢"


def test_concurrent_upserts_of_one_name(db: Database, events: EventLog) -> None:
    repo = ExperimentRepository(db, events)
    results = race(lambda i: repo.upsert("same", f"u{i}", description=f"d{i}"))
    assert not errors(results), errors(results)
    assert len(repo.list()) == 1
    assert len(events.list(kind="experiment.created")) == 1
    assert repo.get("same").description in {f"d{i}" for i in range(len(results))}
