"""CatalogRepository on both backends: locations, and the tables a crawl replaces at once."""

from __future__ import annotations

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import CatalogRepository, Database, EventLog, NewTable

from .helpers import (
    UNICODE_JSON,
    assert_utc,
    code_point_order,
    errors,
    race,
    recent,
    values,
)

REPOSITORY = CatalogRepository


def _table(name: str, files: int = 1, column: str = "a") -> NewTable:
    return NewTable(name=name, path=f"{name}/", format="parquet",
                    files=[{"path": f"{name}/part-{i}.parquet", "size": 10} for i in range(files)],
                    partition_keys=["year"] if files > 1 else [],
                    columns=[{"name": column, "type": "BIGINT"}], size_bytes=10 * files,
                    num_rows=5 * files)


def test_locations(db: Database, events: EventLog) -> None:
    repo = CatalogRepository(db, events)
    loc = repo.create_location("lake", "file:///data/lake", "folder", "données ✓", "admin")
    assert (loc.name, loc.url, loc.kind, loc.description, loc.crawl, loc.crawled_at) == (
        "lake", "file:///data/lake", "folder", "données ✓", {}, None)
    assert_utc(loc.created_at, loc.updated_at)
    assert recent(loc.created_at)
    assert repo.get_location("lake") == loc
    with pytest.raises(Conflict, match="already exists"):
        repo.create_location("lake", "file:///elsewhere", "folder", None, "admin")
    with pytest.raises(NotFound):
        repo.get_location("nope")
    # Location names are lower case; '_' sorts before digits in a linguistic collation.
    names = ["ab", "a_lake", "a1", "zz"]
    for name in names:
        repo.create_location(name, f"file:///{name}", "folder", None, None)
    assert [x.name for x in repo.list_locations()] == code_point_order([*names, "lake"])
    repo.replace_tables("lake", [_table("t1"), _table("t2")], {"files": 2}, "admin")
    assert repo.delete_location("lake", "admin") == 2
    with pytest.raises(NotFound):
        repo.delete_location("lake", "admin")
    assert repo.list_tables() == []
    kinds = [e.kind for e in events.list(resource_id="lake")]
    assert kinds == ["catalog.location_added", "catalog.crawled", "catalog.location_deleted"]


def test_replace_tables_reports_changes(db: Database, events: EventLog) -> None:
    repo = CatalogRepository(db, events)
    repo.create_location("lake", "file:///lake", "folder", None, None)
    first = repo.replace_tables("lake", [_table("Beta"), _table("alpha"), _table("gone")],
                                {"seconds": 0.5}, "u")
    assert first == {"seconds": 0.5, "added": ["Beta", "alpha", "gone"], "removed": [],
                     "changed": [], "tables": 3}
    second = repo.replace_tables("lake", [_table("Beta", files=2), _table("alpha"),
                                          _table("new")], {}, "u")
    assert (second["added"], second["removed"], second["changed"]) == (
        ["new"], ["gone"], ["Beta"])
    loc = repo.get_location("lake")
    assert loc.crawl == second
    assert_utc(loc.crawled_at)
    tables = repo.list_tables("lake")
    assert [t.name for t in tables] == ["Beta", "alpha", "new"]  # code-point order
    beta = repo.get_table("lake", "Beta")
    assert (beta.num_files, beta.partition_keys, beta.num_rows) == (2, ["year"], 10)
    assert_utc(beta.crawled_at)
    with pytest.raises(NotFound, match="no table"):
        repo.get_table("lake", "gone")
    with pytest.raises(NotFound, match="No catalog location"):
        repo.get_table("nope", "Beta")
    with pytest.raises(NotFound):
        repo.list_tables("nope")
    with pytest.raises(NotFound):
        repo.replace_tables("nope", [], {}, "u")


def test_tables_across_locations_and_json(db: Database, events: EventLog) -> None:
    repo = CatalogRepository(db, events)
    for loc in ("b_lake", "a_lake"):
        repo.create_location(loc, f"file:///{loc}", "folder", None, None)
    odd = NewTable(name="sales", path="ventes/", format="csv",
                   files=[{"path": "ventes/é.csv", "meta": UNICODE_JSON}], partition_keys=[],
                   columns=[{"name": "prénom", "type": "VARCHAR", "doc": UNICODE_JSON}],
                   size_bytes=2**40, num_rows=None, error="ligne 3: 'é' n'est pas un nombre")
    repo.replace_tables("b_lake", [odd], {}, None)
    repo.replace_tables("a_lake", [_table("sales")], {}, None)
    found = repo.find_tables("sales")
    assert [t.location for t in found] == ["a_lake", "b_lake"]
    got = found[1]
    assert (got.files, got.columns, got.size_bytes, got.num_rows, got.error) == (
        odd.files, odd.columns, 2**40, None, odd.error)
    assert [(t.location, t.name) for t in repo.list_tables()] == [("a_lake", "sales"),
                                                                  ("b_lake", "sales")]
    assert repo.find_tables("nope") == []


def test_concurrent_crawls_of_one_location(db: Database, events: EventLog) -> None:
    """Two crawls at once both finish, and the tables are one crawl's whole result."""
    repo = CatalogRepository(db, events)
    repo.create_location("lake", "file:///lake", "folder", None, None)
    repo.replace_tables("lake", [_table("t0")], {}, None)
    crawls = [[_table("shared", column=f"c{i}"), _table(f"only{i}")] for i in range(6)]
    results = race(lambda i: repo.replace_tables("lake", crawls[i], {"crawl": i}, None))
    assert not errors(results), errors(results)
    assert len(values(results)) == 6
    tables = {t.name: t for t in repo.list_tables("lake")}
    (only,) = [n for n in tables if n.startswith("only")]
    winner = int(only[len("only"):])
    assert tables["shared"].columns == [{"name": f"c{winner}", "type": "BIGINT"}]
    assert repo.get_location("lake").crawl["crawl"] == winner


def test_concurrent_adds_of_one_location(db: Database, events: EventLog) -> None:
    repo = CatalogRepository(db, events)
    results = race(lambda i: repo.create_location("lake", f"file:///l{i}", "folder", None, None))
    assert len(values(results)) == 1
    assert all(isinstance(e, Conflict) for e in errors(results)), errors(results)
