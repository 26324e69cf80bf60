"""Train / validation / test splits of a table: random, stratified, by time or by group.

A split is row positions plus a JSON-able record. The record holds the method
actually used, the fractions, the seed, the columns, the row counts and a
fingerprint of the indices, so :func:`reproduce_split` can rebuild the same split
from the same table and tell when the table has changed.

Every method works the same way: order the rows, then cut the order into three
runs of the requested sizes. Random shuffles; stratified interleaves the shuffled
rows of each class in proportion, so every cut keeps the class shares; time sorts
by the time column; group shuffles whole groups. Time and group move each cut to
the nearest change of time or group, so no timestamp or group spans two splits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import CLASSIFICATION, check_problem_type

METHODS = ("auto", "random", "stratified", "time", "group")
SPLITS = ("train", "validation", "test")
_SPEC_KEYS = ("fractions", "method", "time_column", "group_column", "seed", "train_rows")
#: The fewest training rows a sample may keep.
MIN_TRAIN_ROWS = 10


@dataclass(frozen=True)
class SplitSpec:
    """How to split a table; validated on construction.

    ``method="auto"`` splits by time when ``time_column`` is set, by group when
    ``group_column`` is set, stratified for classification, else at random.

    ``train_rows``: after the split, the training rows are sampled (seeded, without
    replacement) down to at most this many; validation and test rows stay whole, so
    models trained on samples of one split are scored on the same rows. AutoML searches
    large tables so and refits on every row (:func:`sample_train`).
    """

    fractions: tuple[float, float, float] = (0.7, 0.2, 0.1)
    method: str = "auto"
    time_column: str | None = None
    group_column: str | None = None
    seed: int = 42
    train_rows: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fractions", _check_fractions(self.fractions))
        if self.method not in METHODS:
            raise InvalidRequest(
                f"Unknown split method {self.method!r}; use one of {', '.join(METHODS)}."
            )
        for method, column in (("time", "time_column"), ("group", "group_column")):
            if self.method == method and not getattr(self, column):
                raise InvalidRequest(
                    f"Split method {method!r} needs {column}: the column to split by."
                )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidRequest(f"Split seed must be a non-negative integer; got {self.seed!r}.")
        rows = self.train_rows
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int)
                                 or rows < MIN_TRAIN_ROWS):
            raise InvalidRequest(f"Split train_rows must be an integer of at least "
                                 f"{MIN_TRAIN_ROWS} (the training rows kept by a sample); "
                                 f"got {repr(rows)[:40]}. Leave it out to train on every "
                                 "row.")

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON (the ``split`` object of a training job spec)."""
        out: dict[str, Any] = {
            "fractions": list(self.fractions), "method": self.method,
            "time_column": self.time_column, "group_column": self.group_column,
            "seed": self.seed,
        }
        if self.train_rows is not None:  # absent otherwise: older records stay as they were
            out["train_rows"] = self.train_rows
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SplitSpec:
        """Read a ``split`` object; None or {} gives the defaults.

        Raises:
            InvalidRequest: not an object, an unknown key, or invalid values.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidRequest(
                f"split must be an object such as {{\"fractions\": [0.7, 0.2, 0.1]}}; "
                f"got {type(data).__name__}."
            )
        unknown = sorted(set(data) - set(_SPEC_KEYS))
        if unknown:
            raise InvalidRequest(
                f"Unknown split field(s) {', '.join(unknown)}; use {', '.join(_SPEC_KEYS)}."
            )
        given = {k: v for k, v in data.items() if v is not None}
        return cls(**given)


def sample_train(train: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    """``train`` sampled down to ``rows`` rows (seeded, order kept), or as it is."""
    if rows is None or len(train) <= rows:
        return train
    picked = np.sort(np.random.default_rng(seed).choice(len(train), size=rows, replace=False))
    return train.iloc[picked]


@dataclass(frozen=True, eq=False)
class Split:
    """Row positions of each split (sorted, read-only) and the record that reproduces them."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)

    def frames(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The train, validation and test rows of ``df`` (the table that was split)."""
        return df.iloc[self.train], df.iloc[self.validation], df.iloc[self.test]


def split_frame(
    df: pd.DataFrame, spec: SplitSpec, *, target: str | None = None,
    problem_type: str | None = None,
) -> Split:
    """Split the rows of ``df`` into train, validation and test.

    Args:
        df: the table; only its row count and the target/time/group column are read.
        spec: fractions, method, columns and seed.
        target: the target column (needed to stratify).
        problem_type: binary, multiclass, regression…; ``auto`` stratifies classification.

    Returns:
        A :class:`Split`; each run has its fraction of the rows, ±1 row (time and
        group splits move a cut to the nearest change of time or group).

    Raises:
        InvalidRequest: an empty table, a missing column, a time column that does
            not hold times, or a class too small to stratify when asked to.
    """
    if not isinstance(spec, SplitSpec):
        raise InvalidRequest(
            f"spec must be a SplitSpec; got {type(spec).__name__}. Read a job's split "
            "object with SplitSpec.from_dict."
        )
    n = len(df)
    if n == 0:
        raise InvalidRequest("Cannot split an empty table; it has no rows.")
    if problem_type is not None:
        check_problem_type(problem_type)
    sizes = _sizes(n, spec.fractions)
    method, notes = _resolve(df, spec, target, problem_type, sizes)
    order, cuts, times = _order(df, spec, method, target, sizes, notes)
    train, validation, test = (_frozen(np.sort(p)) for p in np.split(order, cuts))
    record = {
        "method": method, "requested_method": spec.method,
        "fractions": list(spec.fractions), "seed": spec.seed, "target": target,
        "problem_type": problem_type, "time_column": spec.time_column,
        "group_column": spec.group_column, "n_rows": n,
        "row_counts": {"train": int(train.size), "validation": int(validation.size),
                       "test": int(test.size)},
        "fingerprint": _fingerprint(train, validation, test),
        "notes": notes,
    }
    if times is not None:
        record["boundaries"] = _boundaries(times, (train, validation, test))
    return Split(train, validation, test, record)


def reproduce_split(df: pd.DataFrame, record: Mapping[str, Any]) -> Split:
    """Rebuild the split a record describes, and check it is the same one.

    Raises:
        InvalidRequest: the record is not a split record, or the table differs
            from the one split (other row count or other indices).
    """
    try:
        spec = SplitSpec(
            fractions=tuple(record["fractions"]), method=record["method"],
            time_column=record.get("time_column"), group_column=record.get("group_column"),
            seed=record["seed"],
        )
    except (KeyError, TypeError) as exc:
        raise InvalidRequest(f"Not a split record: missing or bad field {exc}.") from exc
    if record.get("n_rows") not in (None, len(df)):
        raise InvalidRequest(
            f"The split was made on {record['n_rows']} rows; this table has {len(df)}. "
            "Use the same dataset version."
        )
    split = split_frame(
        df, spec, target=record.get("target"), problem_type=record.get("problem_type")
    )
    expected = record.get("fingerprint")
    if expected and expected != split.record["fingerprint"]:
        raise InvalidRequest(
            "This table does not give the recorded split (its fingerprint differs): the "
            "rows, their order or the split columns changed. Use the same dataset version."
        )
    return split


def _check_fractions(raw: Any) -> tuple[float, float, float]:
    example = "e.g. [0.7, 0.2, 0.1]"
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence) or len(raw) != 3:
        raise InvalidRequest(
            f"Split fractions must be three numbers (train, validation, test), {example}; "
            f"got {raw!r}."
        )
    try:
        values = tuple(float(v) for v in raw)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"Split fractions must be numbers, {example}; got {raw!r}.") from exc
    for name, v in zip(SPLITS, values, strict=True):
        if not math.isfinite(v) or v < 0 or v > 1:
            raise InvalidRequest(
                f"The {name} fraction must be between 0 and 1; got {v}. Fractions are "
                f"shares of the rows, {example}."
            )
    if values[0] <= 0:
        raise InvalidRequest(
            f"The train fraction must be above 0; got {values[0]}. Give training most rows, "
            f"{example}."
        )
    if abs(sum(values) - 1.0) > 1e-6:
        raise InvalidRequest(
            f"Split fractions must sum to 1; got {list(values)} (sum {sum(values):.6g}). "
            f"Adjust them, {example}."
        )
    return (values[0], values[1], values[2])


def _sizes(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    # Validation and test are rounded; train takes the rest, so it is off by at most 1.
    n_val, n_test = (math.floor(n * f + 0.5) for f in fractions[1:])
    while n - n_val - n_test < 1:  # tiny tables: training keeps at least one row
        if n_test >= n_val and n_test > 0:
            n_test -= 1
        else:
            n_val -= 1
    return n - n_val - n_test, n_val, n_test


def _cuts(sizes: tuple[int, int, int]) -> list[int]:
    return [sizes[0], sizes[0] + sizes[1]]


def _resolve(
    df: pd.DataFrame, spec: SplitSpec, target: str | None, problem_type: str | None,
    sizes: tuple[int, int, int],
) -> tuple[str, list[str]]:
    method, notes = spec.method, list[str]()
    if method == "auto":
        if spec.time_column:
            method = "time"
        elif spec.group_column:
            method = "group"
        elif problem_type in CLASSIFICATION and target is not None:
            method = "stratified"
        else:
            method = "random"
    for column in (spec.time_column if method == "time" else None,
                   spec.group_column if method == "group" else None):
        if column is not None and column not in df.columns:
            raise InvalidRequest(f"Split column {column!r} is not in the table; "
                                 f"columns are {', '.join(map(str, df.columns))}.")
    if method != "stratified":
        return method, notes
    if target is None or target not in df.columns:
        raise InvalidRequest(
            f"Stratified splitting needs the target column; got {target!r}. Pass target=, "
            "or use method 'random'."
        )
    if problem_type == "regression":
        raise InvalidRequest(
            "Stratified splitting keeps class shares; a regression target has no classes. "
            "Use method 'random' or 'time'."
        )
    needed = sum(1 for s in sizes if s > 0)
    counts = df[target].value_counts(dropna=False)
    small = counts[counts < needed]
    if small.empty:
        return method, notes
    first = small.index[0]
    problem = (
        f"class {first!r} of {target!r} has {int(small.iloc[0])} row(s), fewer than the "
        f"{needed} non-empty splits"
        + (f" ({small.size} classes are that small)" if small.size > 1 else "")
    )
    if spec.method == "stratified":
        raise InvalidRequest(
            f"Cannot stratify: {problem}. Merge or drop rare classes, or use method 'random'."
        )
    notes.append(f"Split at random instead of stratified: {problem}.")
    return "random", notes


def _order(
    df: pd.DataFrame, spec: SplitSpec, method: str, target: str | None,
    sizes: tuple[int, int, int], notes: list[str],
) -> tuple[np.ndarray, list[int], pd.Series | None]:
    """The rows in split order, the two cut positions, and the parsed times (time only)."""
    rng = np.random.default_rng(spec.seed)
    if method == "random":
        return rng.permutation(len(df)), _cuts(sizes), None
    if method == "stratified":
        return _stratified_order(df[target], rng), _cuts(sizes), None
    if method == "time":
        times = _times(df[spec.time_column], spec.time_column)
        order = np.argsort(_sortable(times), kind="stable")
        return order, _snap(times.to_numpy()[order], sizes, "timestamp", notes), times
    codes = pd.factorize(df[spec.group_column], use_na_sentinel=False)[0]
    rank = rng.permutation(codes.max() + 1)[codes]
    order = np.argsort(rank, kind="stable")
    return order, _snap(rank[order], sizes, "group", notes), None


def _stratified_order(target: pd.Series, rng: np.random.Generator) -> np.ndarray:
    # Shuffle, then give the r-th of m rows of each class the key (r + 0.5) / m: sorting
    # by key interleaves the classes in proportion, so any prefix holds each class's
    # share of its rows, ±1 row. The shuffle also breaks ties between classes.
    perm = rng.permutation(len(target))
    codes = pd.factorize(target, use_na_sentinel=False)[0][perm]
    keys = np.empty(codes.size)
    for c in range(codes.max() + 1):
        idx = np.flatnonzero(codes == c)
        keys[idx] = (np.arange(idx.size) + 0.5) / idx.size
    return perm[np.argsort(keys, kind="stable")]


def _times(column: pd.Series, name: str | None) -> pd.Series:
    missing = int(column.isna().sum())
    if missing:
        raise InvalidRequest(
            f"Time column {name!r} has {missing} missing value(s); a time split needs a time "
            "on every row. Drop or fill them first."
        )
    if pd.api.types.is_bool_dtype(column):
        raise InvalidRequest(f"Time column {name!r} holds booleans, not times.")
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column.reset_index(drop=True)
    numbers = _numbers(column, name)
    if numbers is not None:
        return numbers
    for utc in (False, True):  # several UTC offsets in one column: compare them in UTC
        try:
            return pd.to_datetime(column, format="ISO8601", utc=utc).reset_index(drop=True)
        except (ValueError, TypeError) as exc:
            error = exc
    parsed = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    where = f"; got {column.iloc[bad[0]]!r} in row {int(bad[0])}" if bad.size else ""
    raise InvalidRequest(
        f"Time column {name!r} must hold dates, times or numbers{where}. Fix the value "
        "or declare the column as a timestamp."
    ) from error


def _numbers(column: pd.Series, name: str | None) -> pd.Series | None:
    """An object column of numbers (``year`` 1990, 1991… sent as JSON rows) as numbers, to
    order as numbers: pandas would read them as dates, and as nanoseconds after 1970 from
    pandas 4. ``None`` when no value is a number; InvalidRequest when only some are."""
    is_number = column.map(lambda v: isinstance(v, int | float | np.number)
                           and not isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    if not is_number.any():
        return None
    if not is_number.all():
        i = int(np.flatnonzero(~is_number)[0])
        j = int(np.flatnonzero(is_number)[0])
        raise InvalidRequest(
            f"Time column {name!r} mixes numbers ({column.iloc[j]!r} in row {j}) and other "
            f"values ({column.iloc[i]!r} in row {i}); a time split orders rows by dates or "
            "by numbers (e.g. a year), not both. Make the column one or the other.")
    return pd.to_numeric(column).reset_index(drop=True)


def _sortable(times: pd.Series) -> np.ndarray:
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert(None)
    return times.to_numpy()


def _snap(keys: np.ndarray, sizes: tuple[int, int, int], what: str, notes: list[str]) -> list[int]:
    # A cut may only fall where the key changes. Each cut goes to the nearest such
    # place, keeping every split that was asked for non-empty while the distinct keys
    # allow it; when they do not, validation gives way first, so a test split remains.
    n = keys.size
    inner = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    wanted = _cuts(sizes)
    want_val, want_test = sizes[1] > 0, sizes[2] > 0
    if want_val and want_test and inner.size < 2:
        want_val = False
        notes.append(f"Only {inner.size + 1} distinct {what}(s): validation is left empty.")
    if inner.size == 0:
        cuts = [n, n]
    elif want_val and want_test:
        first = _nearest(inner[:-1], wanted[0])
        cuts = [first, _nearest(inner[inner > first], wanted[1])]
    elif want_test:
        cuts = [_nearest(inner, wanted[1])] * 2
    elif want_val:
        cuts = [_nearest(inner, wanted[0]), n]
    else:
        cuts = [n, n]
    if cuts != wanted:
        notes.append(
            f"Cuts moved from rows {wanted} to {cuts} so that no {what} spans two splits."
        )
    return cuts


def _nearest(candidates: np.ndarray, wanted: int) -> int:
    return int(candidates[np.argmin(np.abs(candidates - wanted))])


def _boundaries(times: pd.Series, parts: tuple[np.ndarray, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, idx in zip(SPLITS, parts, strict=True):
        if idx.size:
            chunk = times.iloc[idx]
            out[name] = {"start": _stamp(chunk.min()), "end": _stamp(chunk.max())}
        else:
            out[name] = None
    return out


def _stamp(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value


def _frozen(idx: np.ndarray) -> np.ndarray:
    out = idx.astype(np.int64)
    out.setflags(write=False)
    return out


def _fingerprint(*parts: np.ndarray) -> str:
    digest = hashlib.sha256()
    for name, idx in zip(SPLITS, parts, strict=True):
        digest.update(name.encode() + b":" + idx.astype("<i8").tobytes())
    return "sha256:" + digest.hexdigest()
