"""The data catalog: registered data locations, the tables a crawl finds in them, and SQL.

- :class:`CatalogService` registers a location (an admin's local folder or an
  fsspec URL), crawls it into tables (CSV, Parquet, JSON; hive-style partition
  folders become columns) and lists them.
- :class:`SqlService` runs read-only DuckDB queries over catalog tables and
  dataset versions in the sandbox of :mod:`shipyard.sandbox`, returning rows or
  saving them as a new dataset version.
- :func:`plan_wrangle` prepares a ``wrangle`` job (a query or a recipe that
  writes a dataset version) when it is submitted, binding its query
  (:func:`bind_sql`); :func:`check_scheduled_wrangle` checks the same when a schedule
  of one is created.

See docs/catalog.md for the naming rules and the sandbox.
"""

from shipyard.catalog._crawl import crawl, file_format, group_files, table_name
from shipyard.catalog._location import (
    FileEntry,
    Location,
    check_location_name,
    resolve_location,
)
from shipyard.catalog._service import (
    CatalogService,
    as_location,
    location_to_dict,
    register_crawl_kind,
    table_to_dict,
)
from shipyard.catalog._sql import SqlService
from shipyard.catalog._wrangle import bind_sql, check_scheduled_wrangle, plan_sql, plan_wrangle

__all__ = [
    "CatalogService", "FileEntry", "Location", "SqlService", "as_location", "bind_sql",
    "check_location_name", "check_scheduled_wrangle", "crawl", "file_format", "group_files",
    "location_to_dict", "plan_sql", "plan_wrangle", "register_crawl_kind", "resolve_location",
    "table_name", "table_to_dict",
]
