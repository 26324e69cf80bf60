"""Crawling a real folder (and an fsspec URL) into tables: formats, partitions, re-crawls."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.catalog import crawl, file_format, group_files, resolve_location, table_name
from shipyard.catalog._location import FileEntry, Location, redact_url
from shipyard.errors import InvalidRequest

from .data import Lake, churn, flights, write_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return write_lake(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tables(lake: Lake) -> dict[str, object]:
    found, stats = crawl(resolve_location("lake", str(lake.root), []))
    return {"tables": {t.name: t for t in found}, "stats": stats}


def test_tables_formats_and_partitions(tables: dict) -> None:
    by_name = tables["tables"]
    assert sorted(by_name) == ["carriers", "churn", "flights"]
    fl = by_name["flights"]
    assert (fl.format, fl.partition_keys, fl.num_files) == ("parquet", ["year", "month"], 3)
    assert fl.num_rows == len(flights())
    names = [c["name"] for c in fl.columns]
    assert set(names[-2:]) == {"year", "month"} and "carrier" in names and "arr_delay" in names
    assert fl.size_bytes == sum(f["size"] for f in fl.files) > 0
    ch = by_name["churn"]
    assert (ch.format, ch.path, ch.partition_keys) == ("csv", "churn.csv", [])
    assert ch.num_rows == len(churn())
    types = {c["name"]: c["type"] for c in ch.columns}
    assert types["tenure"] == "BIGINT" and types["monthly_charges"] == "DOUBLE"
    assert types["contract"] == "VARCHAR" and types["churn"] == "BOOLEAN"  # yes/no
    carriers = by_name["carriers"]
    assert carriers.format == "json" and carriers.num_rows == flights()["carrier"].nunique()
    assert all(t.error is None for t in by_name.values())


def test_what_the_crawl_skipped(tables: dict) -> None:
    stats = tables["stats"]
    assert stats["ignored_files"] == 1  # notes.txt; _SUCCESS and .hidden/ are not even listed
    assert stats["skipped"] == ["leak.csv (a symlink to outside the location)"]
    assert stats["errors"] == 0


def test_recrawl_sees_new_changed_and_removed_tables(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    (root / "events" / "day=1").mkdir(parents=True)
    pq.write_table(pa.table({"v": [1, 2]}), root / "events" / "day=1" / "a.parquet")
    (root / "old.csv").write_text("a\n1\n")
    location = resolve_location("lake", str(root), [])
    first = {t.name: t for t in crawl(location)[0]}
    assert sorted(first) == ["events", "old"] and first["events"].num_rows == 2
    (root / "events" / "day=2").mkdir()
    pq.write_table(pa.table({"v": [3], "w": ["x"]}), root / "events" / "day=2" / "b.parquet")
    (root / "old.csv").unlink()
    (root / "new.tsv").write_text("a\tb\n1\t2\n")
    second = {t.name: t for t in crawl(location)[0]}
    assert sorted(second) == ["events", "new"]
    events = second["events"]
    assert events.num_rows == 3 and events.num_files == 2
    assert [c["name"] for c in events.columns] == ["v", "w", "day"]  # union by name
    assert [c["name"] for c in second["new"].columns] == ["a", "b"]


def test_files_at_different_partition_depths_are_reported_not_guessed(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    (root / "t" / "y=1" / "m=1").mkdir(parents=True)
    (root / "t" / "y=2").mkdir(parents=True)
    pq.write_table(pa.table({"v": [1]}), root / "t" / "y=1" / "m=1" / "a.parquet")
    pq.write_table(pa.table({"v": [2]}), root / "t" / "y=2" / "b.parquet")
    (table,) = crawl(resolve_location("lake", str(root), []))[0]
    assert table.error is not None and "different partition folders (y vs y/m)" in table.error
    assert table.columns == []


def test_a_broken_file_makes_an_error_on_its_table_only(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "bad.parquet").write_bytes(b"this is not parquet")
    (root / "good.csv").write_text("a\n1\n")
    found = {t.name: t for t in crawl(resolve_location("lake", str(root), []))[0]}
    assert found["good"].error is None
    assert found["bad"].error is not None and "bad.parquet" in found["bad"].error


def test_an_fsspec_location(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    url = f"memory://crawl-{tmp_path.name}"
    with fs.open(f"{url}/sales/region=eu/a.parquet", "wb") as fh:
        pq.write_table(pa.table({"amount": [10.0, 20.0]}), fh)
    with fs.open(f"{url}/sales/region=us/a.parquet", "wb") as fh:
        pq.write_table(pa.table({"amount": [5.0]}), fh)
    location = resolve_location("mem", url, [])
    assert location.kind == "fsspec"
    (table,) = crawl(location)[0]
    assert (table.name, table.num_rows, table.partition_keys) == ("sales", 3, ["region"])
    assert [c["name"] for c in table.columns] == ["amount", "region"]


def test_passwords_in_location_urls_are_not_shown() -> None:
    assert redact_url("s3://key:secret@bucket/x") == "s3://key:***@bucket/x"
    assert redact_url("/srv/data") == "/srv/data"


def test_naming_and_grouping_rules() -> None:
    assert table_name("Sales/EU 2024") == "sales_eu_2024"
    assert table_name("2024") == "t_2024"
    assert file_format("a/b.csv.gz") == "csv" and file_format("x.PQ") == "parquet"
    assert file_format("x.ndjson") == "json" and file_format("README") is None
    groups, ignored = group_files("lake", [
        FileEntry("mixed/a.csv", 1), FileEntry("mixed/b.parquet", 1),
        FileEntry("mixed.csv", 1), FileEntry("k=1/a.parquet", 1), FileEntry("x.txt", 1)])
    assert ignored == 1
    assert sorted(g.name for g in groups) == ["lake", "mixed", "mixed_csv", "mixed_parquet"]
    root_table = next(g for g in groups if g.name == "lake")
    assert root_table.partition_keys == ("k",)


@pytest.mark.parametrize(("target", "why"), [
    ("relative/path", "absolute path"),
    ("/no/such/folder/anywhere", "No folder"),
    ("/", "root of the file system"),
    ("nope://bucket", "Protocol not known"),
    ("dir::file:///etc", "Chained fsspec URLs"),
])
def test_bad_locations_are_refused(target: str, why: str) -> None:
    with pytest.raises(InvalidRequest, match=why):
        resolve_location("lake", target, [])


def test_shipyards_own_folders_are_never_a_location(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "artifacts").mkdir(parents=True)
    for target in (home, home / "artifacts", tmp_path, f"file://{home}", f"local://{home}"):
        with pytest.raises(InvalidRequest, match="Shipyard's own folder"):
            resolve_location("lake", str(target), [home])
    file = tmp_path / "f.csv"
    file.write_text("a\n1\n")
    with pytest.raises(InvalidRequest, match="is not a folder"):
        resolve_location("lake", str(file), [])


@pytest.mark.parametrize("name", ["Lake", "1lake", "la-ke", "datasets", "main", "", "a" * 64])
def test_location_names_are_sql_schema_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="location name"):
        resolve_location(name, str(tmp_path), [])


def test_a_symlinked_folder_is_not_followed(tmp_path: Path, lake: Lake) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "own.csv").write_text("a\n1\n")
    (root / "escape").symlink_to(lake.outside, target_is_directory=True)
    location = Location("lake", str(root.resolve()), "local")
    assert [f.rel for f in location.list_files().files] == ["own.csv"]


def test_compressed_files_are_read(tmp_path: Path) -> None:
    import gzip

    root = tmp_path / "lake"
    root.mkdir()
    (root / "g.csv.gz").write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n"))
    (root / "z.jsonl.zst").write_bytes(
        pa.compress(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', codec="zstd", asbytes=True))
    found = {t.name: t for t in crawl(resolve_location("lake", str(root), []))[0]}
    assert (found["g"].format, found["g"].num_rows) == ("csv", 2)
    assert (found["z"].format, found["z"].num_rows) == ("json", 3)
