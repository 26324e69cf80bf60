"""The SQL sandbox: read-only DuckDB queries over the tables and files the caller allows.

Pure of the server: views and allow-lists in, an Arrow table out. The catalog
service builds the sources from catalog tables and dataset versions; a wrangle
job builds them from its input channels::

    from shipyard.sandbox import Sources, View, run

    views = (View("flights", ("/data/flights.parquet",)),)
    result = run("SELECT carrier, count(*) FROM flights GROUP BY 1",
                 Sources(views, allowed_paths=("/data/flights.parquet",)))
    result.table.to_pandas()
"""

from shipyard.sandbox._sandbox import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_SECONDS,
    Limits,
    QueryResult,
    Sources,
    UnknownTable,
    View,
    check_query,
    keep_warm,
    path_references,
    pinned_sources,
    quote_identifier,
    run,
    table_references,
    write_parquet,
)

__all__ = [
    "DEFAULT_MAX_ROWS", "DEFAULT_TIMEOUT_SECONDS", "Limits", "QueryResult", "Sources",
    "UnknownTable", "View", "check_query", "keep_warm", "path_references", "pinned_sources",
    "quote_identifier",
    "run", "table_references", "write_parquet",
]
