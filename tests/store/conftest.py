"""Fixtures of the store conformance suite: one migrated database per test, on both backends.

The PostgreSQL database is made as unlike SQLite as a real deployment can be: a
linguistic (ICU ``en-US``) collation, where ``"a" < "B"``, and a session time zone
that is not UTC. Whatever the repositories promise must still hold there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.store import Database, EventLog, upgrade
from shipyard.testing import fresh_postgres_database, postgres_unavailable

#: The session time zone of the test databases on PostgreSQL (+05:30, no DST).
PG_TIMEZONE = "Asia/Kolkata"


def _create_pg_database() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database("shipyard_store", icu=True, timezone=PG_TIMEZONE) as url:
        yield url


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
