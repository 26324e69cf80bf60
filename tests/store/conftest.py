"""Fixtures of the store conformance suite: one migrated database per test, on both backends.

The PostgreSQL database is made as unlike SQLite as a real deployment can be: a
linguistic (ICU ``en-US``) collation, where ``"a" < "B"``, and a session time zone
that is not UTC. Whatever the repositories promise must still hold there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.store import Database, EventLog, upgrade

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: The session time zone of the test databases on PostgreSQL (+05:30, no DST).
PG_TIMEZONE = "Asia/Kolkata"


def _postgres_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'shipyard[postgres]')"
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"no PostgreSQL answers on 127.0.0.1:5432 ({type(exc).__name__})"
    return None


def _create_pg_database() -> Iterator[str]:
    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"shipyard_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        try:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 "
                         "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
        except psycopg.Error:  # PostgreSQL < 15 or built without ICU: the default collation
            conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO '{PG_TIMEZONE}'")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend (overrides the suite-wide fixture)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from _create_pg_database()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """The database at ``db_url``, migrated from empty to the newest schema."""
    database = Database(db_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def events(db: Database) -> EventLog:
    return EventLog(db)
