"""Datasets: files in, immutable versions of Parquet parts out, with schema and semantic types.

``DatasetService`` ingests uploads (CSV, TSV, Parquet, JSON, JSON Lines) into
versions and reads them back; ``infer_semantic_type`` and ``profile_table`` are
the pure column typing it uses. A folder of image files becomes a version whose table
is their manifest (``DatasetService.ingest_files``; ``is_files`` tells one apart).
"""

from shipyard.datasets._images import MEDIA_TYPES as IMAGE_MEDIA_TYPES
from shipyard.datasets._readers import FORMATS, detect_format
from shipyard.datasets._semantic import (
    SEMANTIC_TYPES,
    ColumnSchema,
    infer_semantic_type,
    looks_like_id,
    profile_column,
    profile_table,
)
from shipyard.datasets._service import (
    DatasetService,
    Download,
    content_hash,
    dataset_to_dict,
    is_files,
    parse_ref,
    version_to_dict,
)
from shipyard.datasets._types import DECLARED_TYPES, parse_column_types

__all__ = [
    "DECLARED_TYPES", "FORMATS", "IMAGE_MEDIA_TYPES", "SEMANTIC_TYPES", "ColumnSchema",
    "DatasetService", "Download", "content_hash", "dataset_to_dict", "detect_format",
    "infer_semantic_type", "is_files", "looks_like_id", "parse_column_types", "parse_ref",
    "profile_column", "profile_table", "version_to_dict",
]
