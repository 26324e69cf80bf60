"""The SQL sandbox: hostile queries are refused; real queries over a real lake answer right.

The sources are built the way the server builds them: the crawled tables of a
location as views, the location's folder as the one readable directory, and the
exact Parquet files of a "dataset" (kept outside the location) as readable paths.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.catalog import crawl, resolve_location
from shipyard.errors import InvalidRequest
from shipyard.sandbox import (
    Limits,
    Sources,
    View,
    check_query,
    path_references,
    run,
    table_references,
    write_parquet,
)

from .data import SECRET, Lake, churn, flights, write_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return write_lake(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def store(lake: Lake) -> Path:
    """An "artifact store" beside the lake: one dataset part and one object never exposed."""
    objects = lake.root.parent / "objects"
    objects.mkdir()
    part = churn()[["tenure", "monthly_charges", "contract"]]
    pq.write_table(pa.Table.from_pandas(part, preserve_index=False), objects / "part.parquet")
    pq.write_table(pa.table({"secret": [SECRET]}), objects / "other.parquet")
    return objects


@pytest.fixture(scope="module")
def sources(lake: Lake, store: Path) -> Sources:
    location = resolve_location("lake", str(lake.root), [store])
    tables, _ = crawl(location)
    views = [View(t.name, tuple(location.absolute(f["path"]) for f in t.files), t.format,
                  "lake", bool(t.partition_keys)) for t in tables]
    part = str(store / "part.parquet")
    views.append(View("churn_ds", (part,), schema="datasets"))
    return Sources(views=tuple(views), allowed_directories=location.allowed_directories(),
                   allowed_paths=(part,))


def refused(query: str, sources: Sources, **limits: float) -> str:
    with pytest.raises(InvalidRequest) as exc:
        run(query, sources, Limits(**limits))  # type: ignore[arg-type]
    message = exc.value.message
    assert SECRET not in message and "\n" not in message
    return message


# -- refused: writes, state, extensions, several statements -----------------------------------
WRITES = [
    "COPY (SELECT 1 AS a) TO '{root}/written.csv'",
    "COPY (SELECT * FROM lake.churn) TO '{root}/written.parquet' (FORMAT parquet)",
    "COPY lake.churn TO '{out}/written.csv'",
    "EXPORT DATABASE '{root}/exported'",
    "ATTACH '{root}/written.db' AS w",
    "ATTACH ':memory:' AS m",
    "DETACH lake",
    "INSTALL httpfs",
    "FORCE INSTALL httpfs",
    "LOAD httpfs",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT * FROM read_csv('/etc/passwd')",
    "CREATE MACRO leak() AS 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "INSERT INTO lake.churn VALUES (1)",
    "UPDATE lake.churn SET tenure = 0",
    "DELETE FROM lake.churn",
    "DROP VIEW lake.churn",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "CALL pragma_version()",
    "CHECKPOINT",
    "USE lake",
    "EXPLAIN ANALYZE SELECT 1",
    "PREPARE p AS SELECT 1",
    "BEGIN TRANSACTION",
    "SELECT 1; COPY (SELECT 1) TO '{root}/written2.csv'",
    "SELECT 1; SELECT 2",
]


@pytest.mark.parametrize("query", WRITES)
def test_statements_other_than_one_select_are_refused(query: str, lake: Lake,
                                                      sources: Sources) -> None:
    text = query.format(root=lake.root, out=lake.outside)
    message = refused(text, sources)
    assert "read-only" in message or "exactly one statement" in message
    written = {p.name for p in [*lake.root.iterdir(), *lake.outside.iterdir()]}
    assert not {"written.csv", "written.parquet", "written.db", "exported",
                "written2.csv"} & written


# -- refused: reading outside the locations and the dataset parts -----------------------------
READS: list[str | tuple[str, str]] = [
    "SELECT * FROM read_csv('/etc/passwd')",
    # With external access off, DuckDB does not even take a quoted path for a file here.
    ("SELECT * FROM '/etc/passwd'", "does not exist"),
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_json('/proc/self/environ')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM glob('{out}/*')",
    "SELECT * FROM read_csv('{out}/secret.csv')",
    "SELECT * FROM read_csv('{root}/../outside/secret.csv')",
    "SELECT * FROM read_csv('{root}/flights/../../outside/secret.csv')",
    "SELECT * FROM read_csv('{root}/leak.csv')",
    "SELECT * FROM read_csv('{sibling}/other.csv')",
    "SELECT * FROM read_parquet('{store}/other.parquet')",
    "SELECT * FROM read_parquet('{store}/*.parquet')",
    "SELECT * FROM read_csv('https://example.com/data.csv')",
    "SELECT * FROM read_parquet('s3://bucket/data.parquet')",
    "SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')",
    ("SELECT * FROM query('COPY (SELECT 1) TO ''{root}/q.csv''')", "single SELECT"),
    "WITH x AS (SELECT * FROM read_csv('{out}/secret.csv')) SELECT * FROM x",
    "SELECT (SELECT count(*) FROM read_csv('{out}/secret.csv')) AS n",
]


@pytest.mark.parametrize("query", READS)
def test_reads_outside_the_registered_places_are_refused(
        query: str | tuple[str, str], lake: Lake, store: Path, sources: Sources) -> None:
    query, expected = query if isinstance(query, tuple) else (query, "outside the registered")
    text = query.format(root=lake.root, out=lake.outside, sibling=lake.sibling, store=store)
    assert expected in refused(text, sources)
    assert not (lake.root / "q.csv").exists()


def test_python_variables_are_not_tables(sources: Sources) -> None:
    secret_frame = pa.table({"secret": [SECRET]}).to_pandas()  # noqa: F841 - the bait
    message = refused("SELECT * FROM secret_frame", sources)
    assert "'secret_frame', which does not exist here; its tables are" in message
    assert "pg_" not in message  # not DuckDB's "Did you mean" of its own system views


def test_a_csv_that_duckdb_cannot_read_is_one_sentence_with_the_fix(tmp_path: Path) -> None:
    # DuckDB appends its sniffer's settings and "Possible Solution" lines (options a query
    # of a catalog table cannot set) to a CSV error: a screenful in `catalog tables`.
    latin = tmp_path / "villes.csv"
    latin.write_bytes("ville,temp\nZürich,1.5\nGenève,2\n".encode("latin-1"))
    sources = Sources(views=(View("villes", (str(latin),), "csv"),),
                      allowed_directories=(str(tmp_path),))
    message = refused("SELECT * FROM villes", sources)
    assert "This file is not utf-8 encoded." in message
    assert message.endswith(f"Read it by path with read_csv('{latin}', encoding='latin-1') "
                            "(or 'utf-16'), or save it as UTF-8.")
    assert "Possible Solution" not in message and "sample_size" not in message
    by_path = run(f"SELECT ville FROM read_csv('{latin}', encoding='latin-1')",
                  Sources(allowed_directories=(str(tmp_path),)))
    assert by_path.table.column("ville").to_pylist() == ["Zürich", "Genève"]


@pytest.mark.parametrize(("query", "named"), [
    ("SELECT * FROM lake.flights f JOIN lake.flights g USING (carrier) LIMIT 5", "'day'"),
    ("SELECT 1 AS n, 2 AS N", "'n', 'N'"),
])
def test_a_result_whose_columns_share_a_name_is_not_written(
        query: str, named: str, sources: Sources, tmp_path: Path) -> None:
    # Saved, it failed at ingest naming an internal file ('query.parquet has more than one
    # column named ...'), or, in a wrangle job, after the whole query had run.
    dest = tmp_path / "out.parquet"
    with pytest.raises(InvalidRequest, match="result has columns that share a name") as exc:
        write_parquet(query, sources, dest)
    assert named in exc.value.message and "AS in the SELECT" in exc.value.message
    assert not dest.exists()
    assert run(query, sources).num_rows > 0  # answering it is fine


def test_a_long_query_is_interrupted(sources: Sources) -> None:
    start = time.monotonic()
    message = refused("SELECT count(*) FROM range(100000000) a, range(100000000) b", sources,
                      timeout_seconds=0.5)
    assert "ran longer than 0.5 s" in message
    assert time.monotonic() - start < 10


def test_parse_errors_and_empty_queries(sources: Sources) -> None:
    assert "does not parse" in refused("SELEC 1", sources)
    with pytest.raises(InvalidRequest, match="empty"):
        check_query("   ")


# -- allowed: real questions over the lake --------------------------------------------------
def test_hive_partitions_are_columns(sources: Sources) -> None:
    result = run("SELECT month, count(*) AS n FROM lake.flights WHERE year = 2013 "
                 "GROUP BY month ORDER BY month", sources)
    expected = flights().groupby("month").size()
    assert result.table.column("month").to_pylist() == list(expected.index)
    assert result.table.column("n").to_pylist() == list(expected.values)


def test_join_of_parquet_and_json_tables(sources: Sources) -> None:
    result = run("""
        SELECT f.carrier, count(*) AS n, any_value(c.flights) AS listed
        FROM lake.flights f JOIN lake.carriers c USING (carrier)
        GROUP BY f.carrier ORDER BY n DESC""", sources)
    frame = result.table.to_pandas()
    assert (frame["n"] == frame["listed"]).all()
    assert frame["carrier"].iloc[0] == flights()["carrier"].value_counts().index[0]


def test_dataset_parts_and_catalog_csv_agree(sources: Sources) -> None:
    result = run("""
        SELECT d.contract, round(avg(d.monthly_charges), 4) AS from_dataset,
               round(avg(c.monthly_charges), 4) AS from_csv
        FROM datasets.churn_ds d, (SELECT contract, avg(monthly_charges) AS monthly_charges
                                   FROM lake.churn GROUP BY 1) c
        WHERE c.contract = d.contract GROUP BY 1 ORDER BY 1""", sources)
    frame = result.table.to_pandas()
    expected = churn().groupby("contract")["monthly_charges"].mean().round(4)
    assert list(frame["from_dataset"]) == list(expected.values)
    assert list(frame["from_csv"]) == list(expected.values)


def test_files_inside_the_location_can_be_read_by_path(lake: Lake, sources: Sources) -> None:
    result = run(f"SELECT count(*) AS n FROM read_csv('{lake.root}/churn.csv')", sources)
    assert result.table.column("n").to_pylist() == [len(churn())]
    listed = run(f"SELECT file FROM glob('{lake.root}/flights/**/*.parquet')", sources)
    assert listed.num_rows == 3


@pytest.mark.parametrize(("query", "rows"), [
    ("DESCRIBE lake.churn", len(churn().columns)),
    ("SUMMARIZE lake.carriers", 2),
    ("VALUES (1, 'a'), (2, 'b')", 2),
    ("WITH t AS (SELECT * FROM range(5)) SELECT * FROM t", 5),
    ("FROM lake.carriers LIMIT 3", 3),
])
def test_read_only_statement_forms(query: str, rows: int, sources: Sources) -> None:
    assert run(query, sources).num_rows == rows


def test_rows_are_cut_at_the_limit_and_say_so(sources: Sources) -> None:
    result = run("SELECT * FROM lake.flights", sources, Limits(max_rows=1000))
    assert result.num_rows == 1000 and result.truncated
    whole = run("SELECT * FROM lake.carriers", sources, Limits(max_rows=1000))
    assert not whole.truncated and whole.num_rows == flights()["carrier"].nunique()
    empty = run("SELECT * FROM lake.carriers WHERE false", sources)
    assert empty.num_rows == 0 and empty.table.column_names == ["carrier", "flights"]


def test_table_references_come_from_the_parse_tree_without_reading(lake: Lake) -> None:
    refs = table_references(
        f"WITH x AS (SELECT * FROM lake.flights) SELECT * FROM x, datasets.\"churn:2\", plain, "
        f"read_csv('{lake.outside}/secret.csv')")
    assert {("lake", "flights"), ("datasets", "churn:2"), ("", "plain")} <= refs
    assert not any("secret" in name for _, name in refs)


def test_path_references_come_from_the_parse_tree_without_reading(lake: Lake) -> None:
    refs = path_references(
        f"SELECT * FROM read_parquet(['{lake.root}/a.parquet', '{lake.root}/b.parquet']) "
        f"JOIN '{lake.outside}/secret.csv' USING (k), glob('s3://bucket/x/*') "
        "WHERE name = 'bob' AND note <> 'a/b'")
    assert refs == {f"{lake.root}/a.parquet", f"{lake.root}/b.parquet",
                    f"{lake.outside}/secret.csv", "s3://bucket/x/*"}
    with pytest.raises(InvalidRequest, match="an INSTALL statement"):
        path_references("INSTALL httpfs")
