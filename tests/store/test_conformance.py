"""Store conformance: migrations, and a conformance case for every repository.

Each repository has a module ``test_<domain>.py`` here that names it in
``REPOSITORY`` and runs on SQLite and PostgreSQL (the ``db`` fixture). A
repository exported from :mod:`shipyard.store` without such a module, or with a
public method its module never calls, fails this file.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

import shipyard.store as store
from shipyard.errors import SchemaTooNew
from shipyard.store import (
    Database,
    EventLog,
    JobRepository,
    current_revisions,
    head_revision,
    upgrade,
)
from shipyard.store._schema import metadata

from .helpers import errors, race

HERE = Path(__file__).parent


def repository_classes() -> set[type]:
    """Every class exported from ``shipyard.store`` that is built on a ``Database``."""
    found = set()
    for name in store.__all__:
        obj = getattr(store, name)
        if inspect.isclass(obj) and obj is not Database:
            params = list(inspect.signature(obj).parameters)
            if params[:1] == ["db"]:
                found.add(obj)
    return found


def conformance_modules() -> dict[type, Path]:
    out: dict[type, Path] = {}
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        repo = getattr(module, "REPOSITORY", None)
        if repo is not None:
            assert repo not in out, f"{repo.__name__} has two conformance modules"
            out[repo] = path
    return out


def called_methods(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}


def test_every_repository_has_a_conformance_module() -> None:
    repos = repository_classes()
    assert {"TokenRepository", "EventLog", "EndpointRepository", "CatalogRepository",
            "MonitorRepository", "ScheduleRepository"} <= {r.__name__ for r in repos}
    missing = sorted(r.__name__ for r in repos - set(conformance_modules()))
    assert not missing, f"no conformance module (REPOSITORY = ...) for {missing}"


@pytest.mark.parametrize("repo", sorted(repository_classes(), key=lambda r: r.__name__),
                         ids=lambda r: r.__name__)
def test_every_public_method_is_exercised(repo: type) -> None:
    path = conformance_modules()[repo]
    public = {n for n, v in vars(repo).items() if callable(v) and not n.startswith("_")}
    untested = sorted(public - called_methods(path))
    assert not untested, f"{path.name} never calls {repo.__name__}.{untested}"


# -- migrations -------------------------------------------------------------------------------
def test_migrations_from_empty_reach_head_and_are_repeatable(db_url: str) -> None:
    database = Database(db_url)
    try:
        assert sa_inspect(database.engine).get_table_names() == []
        assert upgrade(database) == head_revision()
        assert current_revisions(database) == {head_revision()}
        assert upgrade(database) == head_revision()  # a second start changes nothing
        assert current_revisions(database) == {head_revision()}
    finally:
        database.dispose()


def test_migrated_schema_matches_the_table_definitions(db: Database) -> None:
    """What the migrations build is what the repositories' Table objects describe."""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_two_servers_migrating_one_empty_database_at_once(db_url: str) -> None:
    databases = [Database(db_url) for _ in range(3)]
    try:
        results = race(lambda i: upgrade(databases[i]), n=3)
        assert not errors(results), errors(results)
        assert results == [head_revision()] * 3
        assert current_revisions(databases[0]) == {head_revision()}
    finally:
        for d in databases:
            d.dispose()


def test_schema_newer_than_known_is_refused(db: Database) -> None:
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaTooNew, match="newer than this Shipyard knows"):
        upgrade(db)


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
