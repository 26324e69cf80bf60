"""RegistryRepository on both backends: groups, numbered versions and guarded status changes."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EventLog, ModelVersionRecord, RegistryRepository

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

REPOSITORY = RegistryRepository


def _register(repo: RegistryRepository, group: str, **kw: Any) -> ModelVersionRecord:
    fields: dict[str, Any] = dict(status="PendingManualApproval", job_id="j1", bundle={},
                                  metrics={"test": {"roc_auc": 0.8}}, lineage={}, card={},
                                  criteria={}, actor="ds")
    fields.update(kw)
    return repo.add_version(group, **fields)


def test_versions_and_status(db: Database, events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    v1 = _register(repo, "churn")
    v2 = _register(repo, "churn")
    assert (v1.version, v2.version) == (1, 2)
    assert_utc(v1.created_at, v1.updated_at, v1.status_changed_at)
    assert recent(v1.created_at)
    ok = repo.set_status("churn", 1, "Approved", ["PendingManualApproval"], comment="lgtm",
                         actor="boss")
    assert (ok.status, ok.status_comment, ok.status_changed_by) == ("Approved", "lgtm", "boss")
    assert_utc(ok.status_changed_at)
    with pytest.raises(Conflict, match="is Approved"):
        repo.set_status("churn", 1, "Approved", ["PendingManualApproval"], comment=None, actor="x")
    with pytest.raises(NotFound):
        repo.set_status("churn", 9, "Approved", ["PendingManualApproval"], comment=None,
                        actor="x")
    assert repo.get("churn", status="Approved").version == 1
    assert repo.get("churn").version == 2
    assert repo.get("churn", 1).status == "Approved"
    with pytest.raises(NotFound):
        repo.get("churn", status="Rejected")
    with pytest.raises(NotFound):
        repo.get("nope")
    assert [v.version for v in repo.versions("churn")] == [1, 2]
    kinds = [e.kind for e in events.list(resource_type="model_version")]
    assert kinds == ["model_version.registered"] * 2 + ["model_version.status_changed"]


def test_groups_settings_and_cards(db: Database, events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    for name in MIXED_CASE:
        _register(repo, name)
    assert [g.name for g in repo.groups()] == code_point_order(MIXED_CASE)
    group = repo.group("beta")
    assert group.settings == {} and group.created_by == "ds"
    assert_utc(group.created_at, group.updated_at)
    settings = {"auto_deploy": {"endpoint": "é-endpoint", "instances": 2}, "doc": UNICODE_JSON}
    assert repo.update_group_settings("beta", settings, "admin").settings == settings
    assert repo.group("beta").settings == settings
    # A description given is stored; none given leaves it as it was (PATCH without one).
    assert repo.update_group_settings("beta", settings, "admin", "Churn — ü").description \
        == "Churn — ü"
    assert repo.update_group_settings("beta", {}, "admin").description == "Churn — ü"
    with pytest.raises(NotFound):
        repo.update_group_settings("nope", {}, "admin")
    card = {"intended_use": "tests — ü", "sections": UNICODE_JSON}
    assert repo.update_card("beta", 1, card, "ds").card == card
    assert repo.get("beta", 1).card == card
    with pytest.raises(NotFound):
        repo.update_card("beta", 2, card, "ds")
    with pytest.raises(NotFound):
        repo.group("nope")


def test_card_reports_newest_first_one_per_job_and_capped(db: Database,
                                                          events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    _register(repo, "gamma", card={"intended_use": "kept — ü"})
    for n in range(4):
        rec = repo.add_card_report("gamma", 1, {"kind": "bias", "job_id": f"job-{n}",
                                                "summary": UNICODE_JSON}, keep=3)
    assert [r["job_id"] for r in rec.card["reports"]] == ["job-3", "job-2", "job-1"]
    # The same job again replaces its entry (a report is summarised once per job).
    rec = repo.add_card_report("gamma", 1, {"kind": "explain", "job_id": "job-2"}, keep=3)
    assert [r["job_id"] for r in rec.card["reports"]] == ["job-2", "job-3", "job-1"]
    assert rec.card["intended_use"] == "kept — ü"  # the rest of the card is untouched
    assert repo.get("gamma", 1).card == rec.card
    with pytest.raises(NotFound):
        repo.add_card_report("gamma", 9, {"kind": "bias", "job_id": "x"}, keep=3)


def test_json_round_trip(db: Database, events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    v = _register(repo, "g", bundle=UNICODE_JSON, metrics={"test": {"rmse": 1.5e-300}},
                  lineage={"dataset": "données:3"}, criteria={"passed": False, "why": ["é"]})
    got = repo.get("g", v.version)
    assert (got.bundle, got.metrics, got.lineage, got.criteria) == (
        UNICODE_JSON, {"test": {"rmse": 1.5e-300}}, {"dataset": "données:3"},
        {"passed": False, "why": ["é"]})


def test_non_finite_numbers_in_json_are_stored_alike(db: Database, events: EventLog) -> None:
    """JSON has no NaN or infinity: both backends store them as null (PostgreSQL refuses them)."""
    repo = RegistryRepository(db, events)
    _register(repo, "g", metrics={"test": {"r2": float("nan"), "max": float("inf"), "ok": 1.0}})
    assert repo.get("g", 1).metrics == {"test": {"r2": None, "max": None, "ok": 1.0}}


def test_longest_group_name(db: Database, events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    v = _register(repo, LONGEST_NAME, actor=LONGEST_NAME)
    repo.set_status(LONGEST_NAME, v.version, "Approved", ["PendingManualApproval"],
                    comment="ok", actor=LONGEST_NAME)
    assert repo.get(LONGEST_NAME, status="Approved").version == 1


def test_concurrent_registrations_are_numbered_in_order(db: Database, events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    results = race(lambda i: _register(repo, "g", job_id=f"j{i}"))  # the first makes the group
    assert not errors(results), errors(results)
    assert sorted(v.version for v in values(results)) == list(range(1, len(results) + 1))
    assert len(repo.groups()) == 1
    assert len(events.list(kind="model_group.created")) == 1


def test_concurrent_approvals_one_wins(db: Database, events: EventLog) -> None:
    repo = RegistryRepository(db, events)
    _register(repo, "g")
    results = race(lambda i: repo.set_status("g", 1, "Approved", ["PendingManualApproval"],
                                             comment=None, actor=f"a{i}"))
    assert len(values(results)) == 1
    assert all(isinstance(e, Conflict) for e in errors(results)), errors(results)
    assert len(events.list(kind="model_version.status_changed")) == 1


def test_registry_all_versions_and_delete_group(db: Database) -> None:
    repo = RegistryRepository(db, EventLog(db))
    kw = dict(job_id="j1", bundle={}, metrics={}, card={}, criteria={}, actor="ds")
    repo.add_version("a", status="PendingManualApproval",
                     lineage={"datasets": [{"dataset": "churn", "version": 2}]}, **kw)
    repo.add_version("b", status="PendingManualApproval", lineage={}, **kw)
    repo.add_version("a", status="PendingManualApproval", lineage={}, **kw)
    assert [(v.group, v.version) for v in repo.all_versions()] == [("a", 1), ("a", 2), ("b", 1)]
    repo.add_version("b", status="PendingManualApproval", lineage={}, **{**kw, "job_id": "j2"})
    assert [(v.group, v.version) for v in repo.versions_of_job("j1")] == [
        ("a", 1), ("a", 2), ("b", 1)]
    assert [(v.group, v.version) for v in repo.versions_of_job("j2")] == [("b", 2)]
    assert repo.versions_of_job("nope") == []
    assert repo.delete_group("a", "ds", forced=True, referrers=[]) == 2
    assert [(v.group, v.version) for v in repo.all_versions()] == [("b", 1), ("b", 2)]
    with pytest.raises(NotFound):
        repo.group("a")
    event = EventLog(db).list(resource_type="model_group", kind="model_group.deleted")[0]
    assert event.payload == {"versions": 2, "forced": True, "referrers": []}


def test_versions_by_status_and_group_summaries(db: Database, events: EventLog) -> None:
    """What the studio's home and models pages read: light queries across groups."""
    repo = RegistryRepository(db, events)
    for group in ("b-churn", "a-price"):
        _register(repo, group)
        _register(repo, group)
    repo.set_status("b-churn", 1, "Approved", ["PendingManualApproval"], comment="ok",
                    actor="boss")
    waiting = repo.with_status("PendingManualApproval")
    assert [(v.group, v.version) for v in waiting] == [("a-price", 2), ("a-price", 1),
                                                        ("b-churn", 2)]
    assert [(v.group, v.version) for v in repo.with_status("PendingManualApproval", 1)] == \
        [("a-price", 2)]
    summaries = {g["name"]: g for g in repo.group_summaries()}
    assert summaries["b-churn"] == {"name": "b-churn", "versions": 2, "latest": 2,
                                    "latest_status": "PendingManualApproval", "approved": 1}
    assert summaries["a-price"]["approved"] is None and summaries["a-price"]["versions"] == 2
    assert [g["name"] for g in repo.group_summaries()][:2] == ["a-price", "b-churn"]
