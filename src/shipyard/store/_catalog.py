"""Catalog repository: registered data locations and the tables a crawl found in them."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import metadata
from shipyard.store._types import UtcDateTime, by_code_point

catalog_locations = Table(
    "catalog_locations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    Column("crawled_at", UtcDateTime()),
    Column("crawl", JSON, nullable=False),
)

catalog_tables = Table(
    "catalog_tables",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("location_id", Integer, ForeignKey("catalog_locations.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(128), nullable=False),
    Column("path", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("files", JSON, nullable=False),
    Column("partition_keys", JSON, nullable=False),
    Column("columns", JSON, nullable=False),
    Column("num_files", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("num_rows", BigInteger),
    Column("error", Text),
    Column("crawled_at", UtcDateTime(), nullable=False),
    UniqueConstraint("location_id", "name", name="uq_catalog_table"),
)


@dataclass(frozen=True)
class LocationRecord:
    name: str
    url: str
    kind: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    crawled_at: datetime | None
    crawl: dict[str, Any]


@dataclass(frozen=True)
class NewTable:
    """A table as a crawl found it (``files`` are relative to the location)."""

    name: str
    path: str
    format: str
    files: list[dict[str, Any]]
    partition_keys: list[str]
    columns: list[dict[str, Any]]
    size_bytes: int
    num_rows: int | None
    error: str | None = None
    num_files: int = field(default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_files", len(self.files))


@dataclass(frozen=True)
class TableRecord:
    location: str
    name: str
    path: str
    format: str
    files: list[dict[str, Any]]
    partition_keys: list[str]
    columns: list[dict[str, Any]]
    num_files: int
    size_bytes: int
    num_rows: int | None
    error: str | None
    crawled_at: datetime


def _location(row: Any) -> LocationRecord:
    return LocationRecord(
        name=row.name, url=row.url, kind=row.kind, description=row.description,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        created_by=row.created_by, crawled_at=as_utc(row.crawled_at), crawl=row.crawl or {},
    )


def _table(location: str, row: Any) -> TableRecord:
    return TableRecord(
        location=location, name=row.name, path=row.path, format=row.format,
        files=row.files or [], partition_keys=row.partition_keys or [],
        columns=row.columns or [], num_files=row.num_files, size_bytes=row.size_bytes,
        num_rows=row.num_rows, error=row.error, crawled_at=as_utc(row.crawled_at),
    )


class CatalogRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def _location_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(catalog_locations)
                           .where(catalog_locations.c.name == name)).first()
        if row is None:
            raise NotFound(f"No catalog location named {name!r}; `shipyard catalog locations` "
                           "lists them.")
        return row

    # -- locations ------------------------------------------------------------------------
    def create_location(self, name: str, url: str, kind: str, description: str | None,
                     actor: str | None) -> LocationRecord:
        try:
            with self.db.write() as conn:
                exists = conn.execute(select(catalog_locations.c.id)
                                      .where(catalog_locations.c.name == name)).first()
                if exists is not None:
                    raise Conflict(f"A catalog location named {name!r} already exists; crawl it "
                                   "again with `shipyard catalog crawl`, or choose another name.")
                now = utcnow()
                conn.execute(insert(catalog_locations).values(
                    name=name, url=url, kind=kind, description=description, created_at=now,
                    updated_at=now, created_by=actor, crawl={}))
                self.events.record(conn, "catalog.location_added", "catalog_location", name,
                                   actor, url=url, kind=kind)
                return _location(self._location_row(conn, name))
        except SAIntegrityError as exc:
            raise Conflict(f"A catalog location named {name!r} was added at the same time.") \
                from exc

    def get_location(self, name: str) -> LocationRecord:
        with self.db.read() as conn:
            return _location(self._location_row(conn, name))

    def list_locations(self) -> builtins.list[LocationRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(catalog_locations)
                                .order_by(by_code_point(catalog_locations.c.name))).all()
        return [_location(r) for r in rows]

    def delete_location(self, name: str, actor: str | None) -> int:
        """Forget a location and its tables (the files are never touched); return the count."""
        with self.db.write() as conn:
            row = self._location_row(conn, name)
            count = len(conn.execute(select(catalog_tables.c.id)
                                     .where(catalog_tables.c.location_id == row.id)).all())
            conn.execute(delete(catalog_tables).where(catalog_tables.c.location_id == row.id))
            conn.execute(delete(catalog_locations).where(catalog_locations.c.id == row.id))
            self.events.record(conn, "catalog.location_deleted", "catalog_location", name, actor,
                               tables=count)
            return count

    # -- tables ---------------------------------------------------------------------------
    def replace_tables(self, location: str, tables: builtins.list[NewTable],
                       crawl: dict[str, Any], actor: str | None) -> dict[str, Any]:
        """Make ``tables`` the location's tables (one transaction); say what changed."""
        with self.db.write() as conn:
            row = self._location_row(conn, location)
            old = {r.name: r for r in conn.execute(
                select(catalog_tables).where(catalog_tables.c.location_id == row.id)).all()}
            now = utcnow()
            conn.execute(delete(catalog_tables).where(catalog_tables.c.location_id == row.id))
            for t in tables:
                conn.execute(insert(catalog_tables).values(
                    location_id=row.id, name=t.name, path=t.path, format=t.format, files=t.files,
                    partition_keys=t.partition_keys, columns=t.columns, num_files=t.num_files,
                    size_bytes=t.size_bytes, num_rows=t.num_rows, error=t.error, crawled_at=now))
            new_names = {t.name for t in tables}
            changed = sorted(t.name for t in tables if t.name in old and (
                old[t.name].columns != t.columns or old[t.name].files != t.files))
            summary = {**crawl, "added": sorted(new_names - set(old)),
                       "removed": sorted(set(old) - new_names), "changed": changed,
                       "tables": len(tables)}
            conn.execute(update(catalog_locations).where(catalog_locations.c.id == row.id)
                         .values(crawled_at=now, updated_at=now, crawl=summary))
            self.events.record(conn, "catalog.crawled", "catalog_location", location, actor,
                               **{k: summary[k] for k in ("added", "removed", "changed",
                                                          "tables")})
            return summary

    def list_tables(self, location: str | None = None) -> builtins.list[TableRecord]:
        q = (select(catalog_tables, catalog_locations.c.name.label("location_name"))
             .join(catalog_locations, catalog_locations.c.id == catalog_tables.c.location_id)
             .order_by(by_code_point(catalog_locations.c.name),
                       by_code_point(catalog_tables.c.name)))
        with self.db.read() as conn:
            if location is not None:
                self._location_row(conn, location)
                q = q.where(catalog_locations.c.name == location)
            rows = conn.execute(q).all()
        return [_table(r.location_name, r) for r in rows]

    def find_tables(self, name: str) -> builtins.list[TableRecord]:
        """Tables called ``name`` in any location."""
        q = (select(catalog_tables, catalog_locations.c.name.label("location_name"))
             .join(catalog_locations, catalog_locations.c.id == catalog_tables.c.location_id)
             .where(catalog_tables.c.name == name)
             .order_by(by_code_point(catalog_locations.c.name)))
        with self.db.read() as conn:
            return [_table(r.location_name, r) for r in conn.execute(q).all()]

    def get_table(self, location: str, name: str) -> TableRecord:
        for t in self.find_tables(name):
            if t.location == location:
                return t
        self.get_location(location)  # NotFound for the location first
        raise NotFound(f"Catalog location {location!r} has no table {name!r}; "
                       f"`shipyard catalog tables --location {location}` lists them.")
