"""Store conformance: the same behaviour on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from shipyard.errors import Conflict, NotFound, SchemaTooNew
from shipyard.store import (
    Database,
    DatasetRepository,
    EventLog,
    JobRepository,
    MetricPoint,
    NewVersion,
    TokenRepository,
    current_revisions,
    head_revision,
    upgrade,
)


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    upgrade(database)
    yield database
    database.dispose()


def _version(shas: list[str], rows: int = 3) -> NewVersion:
    return NewVersion(
        parts=[{"sha256": s, "rows": rows, "bytes": 10} for s in shas],
        schema=[{"name": "a", "dtype": "int64", "semantic_type": "numeric"}],
        num_rows=rows * len(shas), num_columns=1, size_bytes=10 * len(shas),
        content_hash="h" + "".join(shas)[:10], source={"type": "upload"},
    )


def test_migrations_reach_head_and_are_repeatable(db: Database) -> None:
    assert current_revisions(db) == {head_revision()}
    assert upgrade(db) == head_revision()  # a second start changes nothing
    assert current_revisions(db) == {head_revision()}


def test_schema_newer_than_known_is_refused(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaTooNew, match="newer than this Shipyard knows"):
        upgrade(db)


def test_tokens(db: Database) -> None:
    repo = TokenRepository(db, EventLog(db))
    rec = repo.create("alice", "viewer", "a" * 64, "admin")
    assert (rec.name, rec.role, rec.active) == ("alice", "viewer", True)
    with pytest.raises(Conflict):
        repo.create("alice", "admin", "b" * 64)
    assert repo.find_active_by_hash("a" * 64).name == "alice"
    assert repo.revoke("alice").revoked_at is not None
    assert repo.find_active_by_hash("a" * 64) is None
    with pytest.raises(NotFound):
        repo.revoke("nobody")
    kinds = [e.kind for e in EventLog(db).list(resource_type="token")]
    assert kinds == ["token.created", "token.revoked"]


def test_dataset_versions_append_and_delete(db: Database) -> None:
    repo = DatasetRepository(db, EventLog(db))
    v1 = repo.add_version("churn", _version(["s1"]), must_exist=False, actor="u")
    assert v1.version == 1 and v1.num_rows == 3
    with pytest.raises(Conflict):
        repo.add_version("churn", _version(["s9"]), must_exist=False, actor="u")
    with pytest.raises(NotFound):
        repo.add_version("nope", _version(["s9"]), must_exist=True, actor="u")
    v2 = repo.add_version("churn", _version(["s1", "s2"]), must_exist=True, actor="u")
    assert v2.version == 2 and v2.num_rows == 6
    assert [v.version for v in repo.versions("churn")] == [1, 2]
    assert repo.get("churn").latest.version == 2
    assert repo.version("churn", 1).parts[0]["sha256"] == "s1"
    repo.add_version("other", _version(["s2"]), must_exist=None, actor="u")
    assert [d.name for d in repo.list()] == ["churn", "other"]
    # s2 is still used by "other": only s1 is free to delete.
    assert repo.delete("churn", "u") == ["s1"]
    with pytest.raises(NotFound):
        repo.get("churn")


def test_dataset_idempotency(db: Database) -> None:
    repo = DatasetRepository(db, EventLog(db))
    a = repo.add_version("d", _version(["x"]), must_exist=None, actor="u", idempotency=("k1", "h1"))
    b = repo.add_version("d", _version(["x"]), must_exist=None, actor="u", idempotency=("k1", "h1"))
    assert (a.version, b.version) == (1, 1)
    with pytest.raises(Conflict, match="different request body"):
        repo.add_version("d", _version(["y"]), must_exist=None, actor="u", idempotency=("k1", "h2"))
    assert len(repo.versions("d")) == 1


def _job(repo: JobRepository, job_id: str, key: tuple[str, str] | None = None):
    return repo.create(job_id, "processing", {"x": 1}, name=None, max_attempts=1, actor="u",
                       initial_status="Pending", idempotency=key)


def test_job_transitions_are_guarded(db: Database) -> None:
    repo = JobRepository(db, EventLog(db))
    job, created = _job(repo, "j1")
    assert created and job.status == "Pending" and job.attempts == 0
    assert repo.transition("j1", "Starting", ["Pending"], attempts=1).status == "Starting"
    # A second actor trying the same move loses.
    assert repo.transition("j1", "Starting", ["Pending"]) is None
    assert repo.transition("j1", "Running", ["Starting"], pid=123).pid == 123
    done = repo.transition("j1", "Failed", ["Running"], reason="worker_lost")
    assert (done.status, done.reason) == ("Failed", "worker_lost")
    assert [j.id for j in repo.list(statuses=["Failed"])] == ["j1"]
    statuses = [e.payload["status"] for e in EventLog(db).list(resource_id="j1")
                if e.kind == "job.status_changed"]
    assert statuses == ["Starting", "Running", "Failed"]


def test_job_idempotency_under_concurrency(db: Database) -> None:
    repo = JobRepository(db, EventLog(db))
    results: list[str] = []
    errors: list[Exception] = []

    def submit(i: int) -> None:
        try:
            job, _ = _job(repo, f"job-{i}", ("same-key", "same-body"))
            results.append(job.id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert len(repo.list()) == 1
    with pytest.raises(Conflict):
        _job(repo, "job-x", ("same-key", "other-body"))


def test_job_metrics_series(db: Database) -> None:
    repo = JobRepository(db, EventLog(db))
    _job(repo, "j1")
    repo.add_metrics("j1", [MetricPoint("loss", 1.0 / (i + 1), i, 1000.0 + i) for i in range(5)])
    series = repo.metrics("j1", "loss")
    assert [p.step for p in series] == [0, 1, 2, 3, 4]
    assert series[-1].value == pytest.approx(0.2)
    with pytest.raises(NotFound):
        repo.metrics("nope")


def test_migration_from_0001_keeps_data(db_url: str) -> None:
    from alembic import command

    from shipyard.store._migrate import alembic_config

    database = Database(db_url)
    cfg = alembic_config()
    with database.write() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with database.write() as conn:
        conn.execute(text(
            "INSERT INTO jobs (id, kind, spec, status, attempts, max_attempts, outputs, created_at,"
            " updated_at) VALUES ('old', 'script', '{}', 'Completed', 1, 1, '{}',"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text(
            "INSERT INTO job_metrics (job_id, name, value, step, timestamp)"
            " VALUES ('old', 'loss', 0.5, 1, 1.0)"))
    upgrade(database)
    repo = JobRepository(database, EventLog(database))
    old = repo.get("old")
    assert old.status == "Completed" and old.experiment is None and old.tags == {}
    assert [p.value for p in repo.metrics("old")] == [0.5]
    database.dispose()


def test_experiments(db: Database) -> None:
    from shipyard.store import ExperimentRepository

    repo = ExperimentRepository(db, EventLog(db))
    crit = [{"metric": "roc_auc", "split": "test", "op": ">=", "threshold": 0.8}]
    rec = repo.upsert("churn", "u", problem_statement="Who leaves?", success_criteria=crit)
    assert rec.success_criteria == crit and rec.problem_statement == "Who leaves?"
    rec = repo.upsert("churn", "u", description="d")
    assert rec.description == "d" and rec.success_criteria == crit
    assert [e.name for e in repo.list()] == ["churn"]
    assert repo.find("nope") is None


def test_registry_versions_and_status(db: Database) -> None:
    from shipyard.store import RegistryRepository

    repo = RegistryRepository(db, EventLog(db))
    kw = dict(job_id="j1", bundle={}, metrics={"test": {"roc_auc": 0.8}}, lineage={}, card={},
              criteria={}, actor="ds")
    v1 = repo.add_version("churn", status="PendingManualApproval", **kw)
    v2 = repo.add_version("churn", status="PendingManualApproval", **kw)
    assert (v1.version, v2.version) == (1, 2)
    ok = repo.set_status("churn", 1, "Approved", ["PendingManualApproval"], comment="lgtm",
                         actor="boss")
    assert (ok.status, ok.status_comment, ok.status_changed_by) == ("Approved", "lgtm", "boss")
    with pytest.raises(Conflict):
        repo.set_status("churn", 1, "Approved", ["PendingManualApproval"], comment=None, actor="x")
    assert repo.get("churn", status="Approved").version == 1
    assert repo.get("churn").version == 2
    with pytest.raises(NotFound):
        repo.get("nope")
    kinds = [e.kind for e in EventLog(db).list(resource_type="model_version")]
    assert kinds == ["model_version.registered"] * 2 + ["model_version.status_changed"]


def test_the_last_admin_token_stays_and_reset_admin(db: Database) -> None:
    repo = TokenRepository(db, EventLog(db))
    repo.create("admin", "admin", "a" * 64, "bootstrap")
    with pytest.raises(Conflict, match="last active admin token"):
        repo.revoke("admin")
    assert repo.find_active_by_hash("a" * 64).name == "admin"
    # Reset gives the named admin token a new secret; the old one stops working.
    rec = repo.reset_admin("admin", "b" * 64, "reset-admin (OS user x)")
    assert (rec.name, rec.active) == ("admin", True)
    assert repo.find_active_by_hash("a" * 64) is None
    assert repo.find_active_by_hash("b" * 64).name == "admin"
    # Named token revoked (another admin exists): a new admin token is created instead.
    repo.create("ops", "admin", "c" * 64, "admin")
    repo.revoke("admin")
    rec = repo.reset_admin("admin", "d" * 64, "reset-admin (OS user x)")
    assert (rec.name, rec.role) == ("admin-2", "admin")
    assert repo.find_active_by_hash("c" * 64).name == "ops"  # other admins are kept


def test_two_admins_revoking_each_other_at_once_leave_one(db: Database) -> None:
    repo = TokenRepository(db, EventLog(db))
    repo.create("a1", "admin", "1" * 64)
    repo.create("a2", "admin", "2" * 64)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def revoke(name: str) -> None:
        barrier.wait()
        try:
            repo.revoke(name)
            outcomes.append("revoked")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=revoke, args=(n,)) for n in ("a1", "a2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused", "revoked"]
    assert sum(t.active for t in repo.list()) == 1


def test_registry_all_versions_and_delete_group(db: Database) -> None:
    from shipyard.store import RegistryRepository

    repo = RegistryRepository(db, EventLog(db))
    kw = dict(job_id="j1", bundle={}, metrics={}, card={}, criteria={}, actor="ds")
    repo.add_version("a", status="PendingManualApproval",
                     lineage={"datasets": [{"dataset": "churn", "version": 2}]}, **kw)
    repo.add_version("b", status="PendingManualApproval", lineage={}, **kw)
    repo.add_version("a", status="PendingManualApproval", lineage={}, **kw)
    assert [(v.group, v.version) for v in repo.all_versions()] == [("a", 1), ("a", 2), ("b", 1)]
    assert repo.delete_group("a", "ds", forced=True, referrers=[]) == 2
    assert [(v.group, v.version) for v in repo.all_versions()] == [("b", 1)]
    with pytest.raises(NotFound):
        repo.group("a")
    event = EventLog(db).list(resource_type="model_group", kind="model_group.deleted")[0]
    assert event.payload == {"versions": 2, "forced": True, "referrers": []}
