"""Run Alembic migrations at start, and refuse a schema newer than this code knows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shipyard.errors import SchemaTooNew
from shipyard.store._engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least one migration
    return head


def current_revisions(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(db: Database) -> str:
    """Bring ``db`` to the newest schema this code knows; return that revision.

    Raises:
        SchemaTooNew: the database was migrated by a newer Shipyard.
    """
    unknown = current_revisions(db) - known_revisions()
    if unknown:
        raise SchemaTooNew(
            f"The metadata store at {db.engine.url.render_as_string(hide_password=True)} has "
            f"schema revision {', '.join(sorted(unknown))}, which is newer than this Shipyard "
            "knows; upgrade Shipyard (or point SHIPYARD_DATABASE_URL at another database)."
        )
    cfg = alembic_config()
    with db.write() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()
