"""Profiles of tables: statistics, correlations, target analysis and warnings.

A core: tables in, frozen results out, no server needed::

    from shipyard.profiling import profile
    p = profile(df, target="churn")        # a DataFrame, an Arrow table or Parquet files
    p.warnings[0].message, p.suggestions()  # most severe first; recipe steps that help
    p.to_dict()                            # the JSON snapshot
    open("churn.html", "w").write(p.to_html())

The whole table is aggregated by DuckDB (nothing is copied into pandas);
associations and the target analysis use a seeded sample (50,000 rows by default).
See docs/profiling.md for what is computed and the warning rules.
"""

from __future__ import annotations

from shipyard.profiling._cache import VersionProfiles, cache_key
from shipyard.profiling._profile import SAMPLE_ROWS, profile
from shipyard.profiling._result import (
    FORMAT_VERSION,
    ColumnProfile,
    Correlations,
    FeatureAssociation,
    Matrix,
    Profile,
    ProfileWarning,
    TargetAnalysis,
)
from shipyard.profiling._semantic import row_number_reason

__all__ = [
    "FORMAT_VERSION", "SAMPLE_ROWS", "ColumnProfile", "Correlations", "FeatureAssociation",
    "Matrix", "Profile", "ProfileWarning", "TargetAnalysis", "VersionProfiles", "cache_key",
    "profile", "row_number_reason",
]
