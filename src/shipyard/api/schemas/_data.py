"""Response models of datasets, the catalog and SQL."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp


class Column(Out):
    """One column of a dataset version's schema."""

    name: str
    dtype: str = Field(description="The Arrow type, e.g. int64, string, double.")
    semantic_type: str = Field(description="numeric, categorical, text, datetime, id, "
                               "row_number, boolean, constant…")
    missing: int
    distinct: int
    infinite: int = Field(0, description="±inf values of a floating-point column.")
    semantic_reason: str | None = Field(None, description="Why the semantic type was chosen "
                                        "where it is not obvious.")


class Part(Out):
    """One stored Parquet part of a version (content-addressed)."""

    sha256: str
    size: int
    rows: int
    files: bool | None = Field(
        None, description="True for a files manifest's part: its rows list image files "
        "served by GET …/versions/{v}/files/{sha256}.")


class DatasetVersion(Out):
    dataset: str
    version: int
    ref: str = Field(description="NAME:VERSION")
    num_rows: int
    num_columns: int
    size_bytes: int
    content_hash: str = Field(description="SHA-256 over the parts: equal data, equal hash.")
    schema_: list[Column] = Field(alias="schema", serialization_alias="schema")
    parts: list[Part]
    source: OpenDoc = Field(description="Lineage: an upload's file names, a job, a query…")
    created_at: Timestamp
    created_by: str | None


class Dataset(Out):
    name: str
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    version: int | None = Field(description="The latest version's number.")
    num_rows: int | None
    num_columns: int | None
    size_bytes: int | None
    latest: DatasetVersion | None


class Head(Out):
    """The first rows of a version, JSON-safe (NaN and ±inf become null)."""

    columns: list[str]
    data: list[list[Any]] = Field(description="One list of values per row, in column order.")
    version: int


class CatalogColumn(Out):
    name: str
    type: str


class CatalogFile(Out):
    path: str = Field(description="Relative to the location.")
    size: int


class Table(Out):
    """A catalog table (without its file list)."""

    location: str
    name: str
    ref: str = Field(description="LOCATION.TABLE, as SQL names it.")
    path: str
    format: str
    partition_keys: list[str]
    columns: list[CatalogColumn]
    num_files: int
    size_bytes: int
    num_rows: int | None
    error: str | None
    crawled_at: Timestamp | None


class TableDetail(Table):
    files: list[CatalogFile]


class CrawlSummary(Out):
    """What the last crawl saw and changed."""

    files: int = 0
    ignored_files: int = 0
    skipped: list[str] = Field(default_factory=list)
    errors: int = 0
    size_bytes: int = 0
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    tables: int = 0


class Location(Out):
    name: str
    url: str = Field(description="The folder or URL, credentials redacted.")
    kind: str
    description: str | None
    created_at: Timestamp
    created_by: str | None
    crawled_at: Timestamp | None
    crawl: CrawlSummary


class LocationDetail(Location):
    tables: list[Table]


class CrawledLocation(LocationDetail):
    changes: CrawlSummary


class QueryAnswer(Out):
    """Rows of a query (``format: json``)."""

    columns: list[str]
    types: list[str] = Field(description="The Arrow type of each column.")
    data: list[list[Any]]
    num_rows: int
    truncated: bool = Field(description="There were more rows than the limit.")
    seconds: float


class SavedQuery(Out):
    """A query saved as a dataset version (``save``)."""

    saved: DatasetVersion
    num_rows: int
