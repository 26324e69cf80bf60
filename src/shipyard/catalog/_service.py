"""The catalog service: register locations (admin), crawl them, and list their tables."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from shipyard.catalog._crawl import crawl
from shipyard.catalog._location import (
    Location,
    check_location_name,
    redact_url,
    resolve_location,
)
from shipyard.errors import Conflict
from shipyard.settings import Settings
from shipyard.store import (
    CatalogRepository,
    Database,
    EventLog,
    LocationRecord,
    TableRecord,
    iso,
)

# ``CatalogService.tables`` shadows the builtin inside the class body.
Tables = list[TableRecord]


def location_to_dict(rec: LocationRecord, tables: Tables | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rec.name, "url": redact_url(rec.url), "kind": rec.kind,
        "description": rec.description,
        "created_at": iso(rec.created_at), "created_by": rec.created_by,
        "crawled_at": iso(rec.crawled_at), "crawl": rec.crawl,
    }
    if tables is not None:
        out["tables"] = [table_to_dict(t, files=False) for t in tables]
    return out


def table_to_dict(rec: TableRecord, files: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "location": rec.location, "name": rec.name, "ref": f"{rec.location}.{rec.name}",
        "path": rec.path, "format": rec.format, "partition_keys": rec.partition_keys,
        "columns": rec.columns, "num_files": rec.num_files, "size_bytes": rec.size_bytes,
        "num_rows": rec.num_rows, "error": rec.error, "crawled_at": iso(rec.crawled_at),
    }
    if files:
        out["files"] = rec.files
    return out


def as_location(rec: LocationRecord) -> Location:
    return Location(rec.name, rec.url, rec.kind)


class CatalogService:
    """Locations and their tables; :class:`~shipyard.catalog.SqlService` queries them."""

    def __init__(self, db: Database, events: EventLog, settings: Settings,
                 protected: list[Path] | None = None) -> None:
        self.repo = CatalogRepository(db, events)
        self.settings = settings
        #: Folders no location may hold or be inside: the home (credentials, database).
        self.protected = [settings.home, *(protected or [])]
        self._crawl_lock = threading.Lock()
        self._crawling: set[str] = set()

    def create_location(self, name: str, target: str, *, description: str | None = None,
                     actor: str | None = None) -> LocationRecord:
        """Register a folder (resolved on this machine) or an fsspec URL, then crawl it.

        The caller checks that the actor is an admin: this is the one place a path a
        client gives is opened by the server.
        """
        location = resolve_location(name, target, self.protected)
        rec = self.repo.create_location(location.name, location.url, location.kind,
                                     description, actor)
        self.crawl(rec.name, actor)
        return self.repo.get_location(rec.name)

    def crawl(self, name: str, actor: str | None = None) -> dict[str, Any]:
        """Crawl a location again: its tables become what is there now; say what changed."""
        check_location_name(name)
        rec = self.repo.get_location(name)
        with self._crawl_lock:
            if name in self._crawling:
                raise Conflict(f"Location {name!r} is being crawled already; wait for it.")
            self._crawling.add(name)
        try:
            tables, stats = crawl(as_location(rec))
            return self.repo.replace_tables(name, tables, stats, actor)
        finally:
            with self._crawl_lock:
                self._crawling.discard(name)

    def locations(self) -> list[LocationRecord]:
        return self.repo.list_locations()

    def location(self, name: str) -> LocationRecord:
        return self.repo.get_location(check_location_name(name))

    def delete_location(self, name: str, actor: str | None) -> int:
        return self.repo.delete_location(check_location_name(name), actor)

    def tables(self, location: str | None = None) -> Tables:
        if location is not None:
            check_location_name(location)
        return self.repo.list_tables(location)

    def table(self, location: str, name: str) -> TableRecord:
        return self.repo.get_table(check_location_name(location), name)


def register_crawl_kind(scheduler: Any, catalog: CatalogService) -> None:
    """Schedule kind ``crawl``: each run crawls the location ``target["location"]`` again."""

    def validate(target: dict[str, Any]) -> dict[str, Any]:
        name = target.get("location")
        catalog.location(check_location_name(name))  # NotFound for an unknown location
        return {"location": name}

    def run(ctx: Any) -> None:
        catalog.crawl(ctx.target["location"], ctx.actor)

    scheduler.register("crawl", run, validate)
