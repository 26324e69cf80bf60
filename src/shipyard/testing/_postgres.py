"""A fresh PostgreSQL database per test (or module), dropped afterwards.

The test machines run PostgreSQL on 127.0.0.1:5432 with trust auth and a database
``test`` to connect to; :func:`postgres_unavailable` says why there is none (the
caller skips with that reason), :func:`fresh_postgres_database` makes one.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_unavailable(admin_url: str = ADMIN_URL) -> str | None:
    """Why no PostgreSQL can be used here (None: one answers)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'shipyard[postgres]')"
    try:
        psycopg.connect(admin_url, connect_timeout=2).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"no PostgreSQL answers on 127.0.0.1:5432 ({type(exc).__name__})"
    return None


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "shipyard_test", *, icu: bool = False,
                            timezone: str | None = None,
                            admin_url: str = ADMIN_URL) -> Iterator[str]:
    """The URL of a new, empty database, dropped (connections and all) on exit.

    ``icu``: an ICU collation (``en-US``) where the server has one, so ordering is the
    same everywhere; ``timezone``: the database's default time zone.
    """
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        created = False
        if icu:
            try:
                conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 "
                             "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
                created = True
            except psycopg.Error:  # PostgreSQL < 15 or built without ICU: the default
                pass
        if not created:
            conn.execute(f'CREATE DATABASE "{name}"')
        if timezone:
            conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO '{timezone}'")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
