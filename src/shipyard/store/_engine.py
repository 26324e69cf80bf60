"""Engine construction: backends chosen by URL scheme."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from shipyard.errors import InvalidRequest
from shipyard.store._types import json_dumps

#: The PostgreSQL advisory lock every write transaction takes first (see :func:`_setup_postgres`).
WRITE_LOCK_KEY = 0x5368_6970_7961_7264  # "Shipyard"
#: How long a write waits for another one before it fails (SQLite's busy timeout is the same).
WRITE_LOCK_TIMEOUT_S = 30


def normalise_url(url: str) -> str:
    """Map user-facing URLs to SQLAlchemy dialect URLs (``postgresql://`` → psycopg 3)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise InvalidRequest(
        f"Unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///PATH or postgresql://..."
    )


def _wal(cur: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried: on a new file that another connection is
    setting up at the same moment (servers migrating one empty database at once), SQLite
    answers "database is locked" at once, without waiting out the busy timeout."""
    import sqlite3
    import time

    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _setup_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so writers can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting;
        # write transactions take the write lock at BEGIN so the busy timeout applies.
        mode = "IMMEDIATE" if conn.get_execution_options().get("shipyard_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def _setup_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Write transactions run one at a time, as on SQLite (BEGIN IMMEDIATE). The
        # repositories rely on it: version numbers are max + 1, checks read before they
        # write, and event ids must commit in id order or a follower reading
        # ``after_id`` skips the one committed late. The lock is a transaction-level
        # advisory lock taken before anything else, so it cannot deadlock with row
        # locks, and it covers every server sharing the database (migrations included).
        if conn.get_execution_options().get("shipyard_write"):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{WRITE_LOCK_TIMEOUT_S}s'")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings Shipyard relies on."""
    real = normalise_url(url)
    if real.startswith("sqlite"):
        engine = create_engine(
            real, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool,
            json_serializer=json_dumps,
        )
        _setup_sqlite(engine)
        return engine
    engine = create_engine(real, pool_pre_ping=True, pool_size=10, max_overflow=20,
                           json_serializer=json_dumps)
    _setup_postgres(engine)
    return engine


class Database:
    """An engine plus the two kinds of transaction Shipyard uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(shipyard_write=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
