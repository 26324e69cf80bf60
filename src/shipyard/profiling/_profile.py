"""``profile()``: a table in, a frozen :class:`Profile` out.

The whole table is read by DuckDB in a few aggregate passes (see ``_columns``);
associations, the target analysis and personal-data checks use one seeded sample
of at most :data:`SAMPLE_ROWS` rows. Nothing is written anywhere.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pyarrow as pa
import pyarrow.types as pat

from shipyard.errors import InvalidRequest
from shipyard.profiling import _columns as colstats
from shipyard.profiling._associations import (
    Encoded,
    correlations,
    encode_categorical,
    encode_numeric,
)
from shipyard.profiling._columns import Col, Scan, columns_of
from shipyard.profiling._result import ColumnProfile, Correlations, Profile, TargetAnalysis
from shipyard.profiling._semantic import (
    MIN_ROWS_FOR_UNIQUE_ID,
    is_row_number,
    personal_data,
    semantic_type,
)
from shipyard.profiling._source import Source, open_source
from shipyard.profiling._target import (
    MAX_CLASSES,
    Prepared,
    analyse,
    order_association,
    prepare,
    problem_type_of,
    quick_model,
)
from shipyard.profiling._warnings import Facts, warnings_for

#: Rows of the seeded sample that associations and the target analysis use.
SAMPLE_ROWS = 50_000
#: Characters of a frequent text value kept in the snapshot (free text can be long).
TOP_TEXT = 200


def _column_profile(col: Col, stats: dict[str, Any], second: Scan, semantic: str,
                    rows: int, memory: int) -> ColumnProfile:
    infinite = int(stats.get("infinite") or 0)
    count = int(stats.get("count") or 0) + infinite
    top = second.top.get(col.i, [])
    histogram = second.histograms.get(col.i)
    numeric = text = dates = None
    if col.kind == "numeric":
        numeric = colstats.numeric_stats(stats, second.outliers.get(col.i, {}))
        if histogram is None and top:  # few distinct values: one bar per value
            ordered = sorted(top, key=lambda vn: vn[0])
            histogram = {"values": [v for v, _ in ordered], "counts": [n for _, n in ordered]}
    elif col.kind == "text":
        text = colstats.text_stats(stats)
    elif col.kind == "datetime":
        dates = colstats.datetime_stats(stats)
    elif col.kind == "boolean":
        histogram = {"values": [False, True],
                     "counts": [count - int(stats.get("true") or 0), int(stats.get("true") or 0)]}
    shown = [(v[: TOP_TEXT - 1] + "…" if isinstance(v, str) and len(v) > TOP_TEXT else v, n)
             for v, n in top[: colstats.TOP_VALUES]]
    return ColumnProfile(
        name=col.name, dtype=str(col.dtype), semantic_type=semantic, count=count,
        missing=rows - count, distinct=int(stats.get("distinct") or 0), memory_bytes=memory,
        numeric=numeric, text=text, datetime=dates, histogram=histogram,
        top=tuple({"value": v, "count": n} for v, n in shown))


def _encode(col: Col, semantic: str, column: pa.ChunkedArray) -> Encoded | None:
    if semantic in ("numeric", "datetime") and col.kind in ("numeric", "datetime"):
        return encode_numeric(col.name, column)
    if semantic in ("categorical", "boolean") and col.kind != "other":
        return encode_categorical(col.name, column)
    return None


def _check_target(target: str | None, source: Source) -> None:
    if target is None:
        return
    if not isinstance(target, str) or target not in source.schema.names:
        names = source.schema.names
        listed = ", ".join(repr(n) for n in names[:30]) + (" …" if len(names) > 30 else "")
        raise InvalidRequest(
            f"The target column {target!r} is not in the data; its columns are {listed}.")


def _order_columns(cols: list[Col], profiles: dict[str, ColumnProfile], sample: pa.Table,
                   target: str) -> list[Encoded]:
    """Row numbers and numeric identifiers, encoded to judge whether they follow the target."""
    return [encode_numeric(c.name, sample.column(c.name)) for c in cols
            if c.name != target and c.kind == "numeric"
            and profiles[c.name].semantic_type in ("row_number", "identifier")]


def _whole(col: Col, tp: ColumnProfile) -> bool:
    """Integers, or floats whose values (all among the target's top values) are whole
    numbers: an integer column with a missing value is stored as floats (1.0, NaN)."""
    if pat.is_integer(col.dtype):
        return True
    if not pat.is_floating(col.dtype) or len(tp.top) < tp.distinct:
        return False
    values = [v.get("value") for v in tp.top]
    return all(isinstance(v, int | float) and math.isfinite(v) and float(v).is_integer()
               for v in values)


def _prepare_target(target: str, col: Col, profiles: dict[str, ColumnProfile],
                    encoded: dict[str, Encoded], sample: pa.Table,
                    problem_type: str | None, order: list[Encoded]) -> tuple[str, Prepared]:
    tp = profiles[target]
    if tp.count == 0:
        raise InvalidRequest(f"The target column {target!r} has no values; pick another target.")
    kind = problem_type_of(tp.semantic_type, col.kind == "numeric", _whole(col, tp),
                           tp.distinct, target, problem_type)
    column = sample.column(target)
    y = (encode_categorical(target, column, MAX_CLASSES) if kind == "classification"
         else encode_numeric(target, column))
    features = [e for name, e in encoded.items()
                if name != target and profiles[name].distinct > 1]
    datetimes = frozenset(n for n, p in profiles.items() if p.semantic_type == "datetime")
    return kind, prepare(y, features, kind, order, datetimes)


Associated = tuple[Correlations, TargetAnalysis | None, dict[str, tuple[float, str]]]


def _associate(target: str | None, cols: list[Col], profiles: dict[str, ColumnProfile],
               encoded: dict[str, Encoded], sample: pa.Table, second: Scan,
               problem_type: str | None, seed: int) -> Associated:
    """Correlations, the target analysis, and how far row numbers follow the target's order;
    the quick model trains meanwhile in a thread."""
    usable = [e for n, e in encoded.items() if profiles[n].semantic_type != "datetime"]
    if target is None:
        return correlations(usable, sample.num_rows), None, {}
    col = next(c for c in cols if c.name == target)
    order = _order_columns(cols, profiles, sample, target)
    kind, prepared = _prepare_target(target, col, profiles, encoded, sample, problem_type,
                                     order)
    with ThreadPoolExecutor(max_workers=1) as pool:
        model = pool.submit(quick_model, prepared, seed)
        corr = correlations(usable, sample.num_rows)
        found = model.result()
    analysis = analyse(prepared, kind, profiles[target].missing, second.top.get(col.i, []), corr,
                       found, seed)
    return corr, analysis, order_association(prepared, corr)


def _describe(cols: list[Col], second: Scan, sample: pa.Table, source: Source,
              semantic_types: Mapping[str, str] | None, target: str | None
              ) -> tuple[dict[str, ColumnProfile], dict[str, Encoded], Facts]:
    """Each column's profile and sampled encoding, and what the warning rules need."""
    declared = dict(semantic_types or {})
    profiles: dict[str, ColumnProfile] = {}
    encoded: dict[str, Encoded] = {}
    pii: dict[str, str] = {}
    unique_integers = set()
    for col in cols:
        stats = second.stats.get(col.i, {})
        sampled = sample.column(col.name)
        semantic = semantic_type(col, stats, second.top.get(col.i, []), source.rows,
                                 sampled if col.kind == "text" else None, declared.get(col.name))
        c = profiles[col.name] = _column_profile(col, stats, second, semantic, source.rows,
                                                 source.memory.get(col.name, 0))
        if (found := personal_data(col, sampled)) is not None:
            pii[col.name] = found
        if (semantic == "numeric" and pat.is_integer(col.dtype) and c.missing == 0
                and c.distinct == c.count >= MIN_ROWS_FOR_UNIQUE_ID):
            unique_integers.add(col.name)
        if col.name not in pii and (e := _encode(col, semantic, sampled)) is not None:
            encoded[col.name] = e
    facts = Facts(rows=source.rows, duplicate_rows=second.duplicate_rows, pii=pii,
                  unique_integers=frozenset(unique_integers), target=target)
    return profiles, encoded, facts


def _import_in_background(module: str) -> None:
    """Start importing ``module`` in a thread, so its import overlaps DuckDB's scan.

    The scan releases the GIL and an import is mostly Python, so the two share the
    time; whoever imports ``module`` later waits for this import to finish.
    """
    if module in sys.modules:
        return

    def load() -> None:
        with contextlib.suppress(ImportError):  # the model reports a missing install itself
            importlib.import_module(module)

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def profile(data: Any, target: str | None = None, *, problem_type: str | None = None,
            semantic_types: Mapping[str, str] | None = None, sample_rows: int = SAMPLE_ROWS,
            seed: int = 0, threads: int | None = None) -> Profile:
    """Profile a table: per-column statistics, correlations, warnings, and a target analysis.

    Args:
        data: a pandas DataFrame, a pyarrow Table, or the path(s) of Parquet files (a
            file, a folder of ``*.parquet``, or a list), read by DuckDB and Arrow only
            (large files are scanned in place, never loaded whole).
        target: the column to analyse the others against (its distribution, each
            feature's association with it, a quick model's importances, leaks).
        problem_type: ``classification`` or ``regression``; inferred from the target.
        semantic_types: column → semantic type when known (a dataset version's schema).
        sample_rows: rows of the seeded sample used by associations and the target analysis.
        seed: the sample's and the quick model's seed.
        threads: DuckDB threads (default: one per core).

    Raises:
        InvalidRequest: input that is not a table, or a target that is not one of its columns.
    """
    if target is not None and not isinstance(target, str):
        target = str(target)  # DataFrame column names become text, as in the snapshot
    if not isinstance(sample_rows, int) or sample_rows < 100:
        raise InvalidRequest(f"sample_rows must be a whole number of at least 100; "
                             f"got {sample_rows!r}.")
    clock = {"start": time.perf_counter()}

    def lap(name: str) -> None:
        clock[name] = time.perf_counter()

    if target is not None:
        _import_in_background("sklearn.ensemble")
    source = open_source(data, threads)
    try:
        _check_target(target, source)
        lap("open")
        cols = columns_of(source.schema, source.finite)
        second = colstats.scan(source, cols, target)
        lap("scan")
        sample = source.sample(sample_rows, seed)
        lap("sample")
    finally:
        source.close()
    profiles, encoded, facts = _describe(cols, second, sample, source, semantic_types, target)
    lap("columns")
    corr, analysis, row_order = _associate(target, cols, profiles, encoded, sample, second,
                                           problem_type, seed)
    lap("associations")
    columns = tuple(profiles[c.name] for c in cols)
    facts = replace(facts, row_order=row_order,
                    row_numbers={c.name: r for c in cols
                                 if (r := is_row_number(c, second.stats.get(c.i, {}),
                                                        source.rows)) is not None})
    warnings = warnings_for(columns, corr, analysis, facts)
    lap("warnings")
    names = list(clock)
    timings = {n: round(clock[n] - clock[p], 4) for p, n in zip(names, names[1:], strict=False)}
    timings["total"] = round(clock[names[-1]] - clock["start"], 4)
    return Profile(rows=source.rows, columns=columns, duplicate_rows=second.duplicate_rows,
                   memory_bytes=sum(source.memory.values()), correlations=corr,
                   warnings=warnings, target=analysis, sample_rows=sample.num_rows, seed=seed,
                   timings=timings, source={"kind": source.kind, "files": len(source.files)})
