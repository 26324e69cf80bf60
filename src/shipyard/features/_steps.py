"""The registry of recipe steps: named, JSON-serialisable transformations with fit/transform.

A step is declared by a class registered under its name. Its spec (the columns it
works on and its parameters) and its fitted state are plain JSON, so a fitted
recipe is data, never code: it is stored in the model bundle as ``recipe.json``.

``fit`` sees the frame as the steps before it left it (and the target, for steps
that need it); ``transform`` must never raise on values it has not seen: an unseen
category becomes ``__other__``, an unparseable number becomes missing.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._params import (
    Check,
    boolean,
    either,
    integer,
    list_of,
    number,
    one_of,
    seed,
    shown,
    text,
)
from shipyard.features._semantic import FALSE_WORDS, TRUE_WORDS, is_numeric_dtype
from shipyard.names import did_you_mean

OTHER = "__other__"
MISSING = "__missing__"
#: Suffix of the indicator column an imputed column gets.
MISSING_SUFFIX = "__missing"

State = dict[str, Any]
#: Output column → the input columns (of the frame the step sees) it is computed from.
Lineage = dict[str, tuple[str, ...]]


def passthrough(inputs: list[str], *, drop: Any = (), add: Lineage | None = None) -> Lineage:
    """Every input kept as itself, but those in ``drop``; then the ``add`` columns."""
    gone = set(drop)
    out: Lineage = {c: (c,) for c in inputs if c not in gone}
    out.update(add or {})
    return out


class Step:
    """Base of every recipe step; subclasses declare ``name``, ``defaults``, ``checks``
    and ``accepts``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: Parameter name → default value (JSON). Unknown parameters are refused.
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: Parameter name → the rule its value must pass (:mod:`shipyard.features._params`);
    #: every parameter in ``defaults`` has one (:func:`register_step` sees to it).
    checks: ClassVar[Mapping[str, Check]] = {}
    #: Column kinds the step takes when its columns are not listed ("numeric", "text", "any").
    accepts: ClassVar[str] = "any"
    #: The step has no meaning for labels: a listed column of labels is refused at fit
    #: (rather than every value becoming a gap).
    numbers_only: ClassVar[bool] = False

    def __init__(self, columns: tuple[str, ...] | None, params: Mapping[str, Any], *,
                 check: bool = True) -> None:
        """Take ``params`` over the defaults.

        Args:
            check: apply the value rules (``checks``, then :meth:`check_params`). False
                only for a fitted recipe's steps: their values were taken when fitted.

        Raises:
            InvalidRequest: an unknown parameter; with ``check``, a value its rule refuses.
        """
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise InvalidRequest(
                f"Recipe step {self.name!r} has no parameter {unknown[0]!r}; "
                f"its parameters are {sorted(self.defaults) or 'none'}."
                + did_you_mean(str(unknown[0]), self.defaults)
            )
        self.columns = columns
        self.params = {**self.defaults, **params}
        if check:
            for param, rule in self.checks.items():
                if not rule(self.params[param]):
                    self.refuse(param, rule.allowed, rule.choices)
                self.params[param] = rule.normal(self.params[param])
            self.check_params()

    def check_params(self) -> None:
        """Rules that tie parameters together (each value already passed its own check);
        call :meth:`refuse` on a breach."""

    def refuse(self, param: str, allowed: str, choices: tuple[str, ...] = ()) -> NoReturn:
        """Raise the one-sentence InvalidRequest for parameter ``param``'s value."""
        value = self.params[param]
        hint = did_you_mean(value, choices) if choices and isinstance(value, str) else ""
        raise InvalidRequest(f"Recipe step {self.name!r}: parameter {param!r} must be "
                             f"{allowed}; got {shown(value)}.{hint}")

    def select(self, df: pd.DataFrame) -> list[str]:
        """The columns this step works on in ``df``: listed ones present, or all it accepts."""
        if self.columns is not None:
            listed = [c for c in self.columns if c in df.columns]
            if self.numbers_only:
                for c in listed:
                    _refuse_labels(self.name, c, df[c])
            return listed
        if self.accepts == "numeric":
            return [str(c) for c in df.columns if is_numeric_dtype(df[c])]
        if self.accepts == "text":
            return [str(c) for c in df.columns if not is_numeric_dtype(df[c])
                    and not pd.api.types.is_bool_dtype(df[c].dtype)]
        return [str(c) for c in df.columns]

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        raise NotImplementedError

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        raise NotImplementedError

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        """Which of ``inputs`` (the columns this step sees) each column it outputs comes from.

        The default keeps every column as itself: right for steps that change values in
        place (scale, clip, log, boolean, balance). A step that renames, drops or makes
        columns overrides it; :meth:`FittedRecipe.lineage` chains them back to raw columns.
        """
        return passthrough(inputs)

    def separable(self, state: State) -> bool:
        """Whether each column this step outputs depends, for a new row, only on the
        inputs :meth:`lineage` names (True for nearly every step). False for a step that
        reads other columns too, such as a KNN imputation filling a gap from its
        neighbours: an explainer may then not treat the features one raw column at a time.
        """
        return True

    def fit_transform(self, df: pd.DataFrame, y: pd.Series | None,
                      ) -> tuple[State, pd.DataFrame, pd.Series | None]:
        """Fit, and give the training rows as the next step sees them (and the target).

        The default is ``transform`` of the fitted state; a step overrides it when its
        training rows differ from what it does to new rows: target encoding gives
        out-of-fold values, ``balance`` resamples the rows (and so the target).
        """
        state = self.fit(df, y)
        return state, self.transform(df, state), y


STEPS: dict[str, type[Step]] = {}


def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: make a step available to recipes under ``cls.name``."""
    if cls.name in STEPS:
        raise ValueError(f"A recipe step named {cls.name!r} is already registered.")
    if set(cls.checks) != set(cls.defaults):
        raise ValueError(f"Recipe step {cls.name!r} must declare a check for each of its "
                         f"parameters and no other; defaults {sorted(cls.defaults)}, "
                         f"checks {sorted(cls.checks)}.")
    STEPS[cls.name] = cls
    return cls


def make_step(name: str, columns: tuple[str, ...] | None, params: Mapping[str, Any], *,
              check: bool = True) -> Step:
    """The registered step ``name``; ``check=False`` skips the value rules (a fitted recipe).

    Raises:
        InvalidRequest: an unknown step or parameter, or a value its rule refuses.
    """
    try:
        cls = STEPS[name]
    except KeyError:
        raise InvalidRequest(
            f"Unknown recipe step {name!r}; the known steps are {sorted(STEPS)}."
            + did_you_mean(str(name), STEPS)
        ) from None
    return cls(columns, params, check=check)


def _numbers(s: pd.Series) -> pd.Series:
    """``s`` as float64; values that are not numbers become NaN (never an error)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    if is_numeric_dtype(s):
        return s.astype("float64")
    return pd.to_numeric(s.astype("object"), errors="coerce").astype("float64")


def _finite(s: pd.Series) -> pd.Series:
    """``s`` as float64 with ±inf (and anything not a number) as NaN: a gap to impute."""
    x = _numbers(s)
    return x.where(np.isfinite(x.to_numpy()))


def _labels(s: pd.Series) -> pd.Series:
    """``s`` as Python strings (object dtype); missing values stay missing."""
    return s.astype("str").astype("object")


def _float(value: float) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


@register_step
class Drop(Step):
    name = "drop"
    description = "Remove columns (identifiers, constants, free text, or any the user lists)."

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        return {"columns": self.select(df)}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        return df.drop(columns=[c for c in state["columns"] if c in df.columns])

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        return passthrough(inputs, drop=state["columns"])


_PARTS: dict[str, Callable[[Any], Any]] = {
    "year": lambda d: d.dt.year, "month": lambda d: d.dt.month, "day": lambda d: d.dt.day,
    "dayofweek": lambda d: d.dt.day_of_week, "hour": lambda d: d.dt.hour,
}


def numbers_in(s: pd.Series) -> np.ndarray:
    """Where ``s`` holds a number (not a bool, not a missing value), as a bool array.

    A number in a date/time column is not a date: pandas reads 1990 as a year now (with a
    Pandas4Warning) and as nanoseconds after 1970 from pandas 4; neither is what it meant.
    JSON rows leave such a column an object column of Python ints, so look at each value.
    """
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return np.zeros(len(s), dtype=bool)
    if is_numeric_dtype(s):
        return s.notna().to_numpy(dtype=bool)
    return s.astype("object").map(
        lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool | np.bool_)
        and not pd.isna(v)).to_numpy(dtype=bool)


def _to_datetime(s: pd.Series) -> pd.Series:
    """``s`` as tz-naive UTC timestamps; text that is not ISO 8601 and numbers are NaT."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s
    else:
        values = s.astype("object")
        out = pd.to_datetime(values.mask(numbers_in(values)), errors="coerce", utc=True,
                             format="ISO8601")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _refuse_labels(step: str, column: str, s: pd.Series) -> None:
    """A numeric step listing a column of labels would turn every value into a gap."""
    if is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s.dtype):
        return
    given = s.dropna()
    bad = given[pd.to_numeric(given, errors="coerce").isna()]
    if len(bad):
        raise InvalidRequest(
            f"Recipe step {step!r} works on numbers; column {column!r} holds labels (e.g. "
            f"{shown(bad.iloc[0])}). Take it out of the step's columns, or encode it first "
            "(an 'encode' or 'categorical' step).")


def require_dates(step: str, col: str, s: pd.Series) -> pd.Series:
    """``s`` read as dates (:func:`_to_datetime`), for recipe step ``step`` at fit; a
    column of numbers (a year, seconds since 1970) or of text that holds no ISO 8601 date
    is refused, naming it: its dates would all be missing, and the step's output with
    them, with no word said."""
    if is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s.dtype):
        raise InvalidRequest(
            f"Recipe step {step!r} needs a date/time column; {col!r} holds "
            f"{s.dtype} values. Take it out of the step's columns (or convert it to "
            "ISO 8601 dates such as '2024-01-31' first).")
    d = _to_datetime(s)
    given = s.notna() & (s.astype("object").astype(str).str.strip() != "")
    if given.any() and not d[given].notna().any():
        raise InvalidRequest(
            f"Recipe step {step!r}: column {col!r} holds no ISO 8601 date/time "
            f"(e.g. {shown(s[given].iloc[0])}). Write its dates as '2024-01-31' (or "
            "'2024-01-31T08:00'), or take it out of the step's columns.")
    return d


def _holds_dates(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return True
    if is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s.dtype):
        return False
    given = s.dropna()
    return bool(len(given)) and bool(_to_datetime(given).notna().all())


@register_step
class DatetimeParts(Step):
    name = "datetime_parts"
    description = "Replace a date/time column by its parts (year, month, day, weekday, hour)."
    defaults = {"parts": ["year", "month", "day", "dayofweek", "hour"]}
    checks = {"parts": list_of(one_of(*_PARTS), what=f"a list of some of {list(_PARTS)}")}

    def select(self, df: pd.DataFrame) -> list[str]:
        """Listed columns present, or (columns null) those holding dates: a datetime dtype,
        or text every given value of which reads as an ISO 8601 date/time. Numbers and
        other text are not dates: taking them would replace them by no part at all."""
        if self.columns is not None:
            return super().select(df)
        return [str(c) for c in df.columns if _holds_dates(df[c])]

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        kept: dict[str, list[str]] = {}
        for col in self.select(df):
            d = require_dates(self.name, col, df[col])
            # A part that never varies (the hour of plain dates) tells the model nothing.
            kept[col] = [p for p in self.params["parts"] if _PARTS[p](d).nunique() > 1]
        return {"parts": kept}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        for col, parts in state["parts"].items():
            d = _to_datetime(out[col]) if col in out.columns else pd.Series(
                pd.NaT, index=out.index, dtype="datetime64[ns]")
            for part in parts:
                out[f"{col}.{part}"] = _PARTS[part](d).astype("float64")
            out = out.drop(columns=[col], errors="ignore")
        return out

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        return passthrough(inputs, drop=state["parts"], add={
            f"{col}.{part}": (col,) for col, parts in state["parts"].items() for part in parts})


@register_step
class Boolean(Step):
    name = "boolean"
    description = "Two-state columns (bool, yes/no, true/false) as 0/1."

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        return {"columns": self.select(df)}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        for col in state["columns"]:
            if col not in out.columns:
                continue
            s = out[col]
            if pd.api.types.is_bool_dtype(s.dtype) or is_numeric_dtype(s):
                out[col] = _numbers(s)
                continue
            words = _labels(s).map(lambda v: v.strip().lower() if isinstance(v, str) else None)
            out[col] = words.map(
                lambda v: 1.0 if v in TRUE_WORDS else 0.0 if v in FALSE_WORDS else np.nan
            ).astype("float64")
        return out


IMPUTE_STRATEGIES = ("median", "mean", "most_frequent", "constant", "knn")


@register_step
class Impute(Step):
    name = "impute"
    description = ("Fill missing values with the median, mean, most frequent value, a constant, "
                   "or the mean of the k nearest training rows (knn), adding a missing-indicator "
                   "column where the training data had gaps.")
    defaults = {"strategy": "median", "fill_value": 0.0, "indicator": True, "n_neighbors": 5,
                "max_reference_rows": 1000, "seed": 0}
    checks = {"strategy": one_of(*IMPUTE_STRATEGIES), "fill_value": either(number(), text()),
              "indicator": boolean(), "n_neighbors": integer(1),
              "max_reference_rows": integer(1), "seed": seed()}
    accepts = "numeric"

    def check_params(self) -> None:
        if self.params["strategy"] == "knn" \
                and self.params["max_reference_rows"] < self.params["n_neighbors"]:
            self.refuse("max_reference_rows", "at least n_neighbors "
                        f"({self.params['n_neighbors']}) for KNN imputation")

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        strategy = self.params["strategy"]
        fitted: dict[str, dict[str, Any]] = {}
        columns = self.select(df)
        for col in columns:
            if is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col].dtype):
                numbers = _finite(df[col])  # ±inf is a gap too: no model can use it
                gaps = bool(numbers.isna().any())
                value: float | str | None = self._number(col, numbers)
            else:
                gaps = bool(df[col].isna().any())
                value = self._label(col, df[col])
            indicator = bool(self.params["indicator"] and gaps)
            fitted[col] = {"value": value, "indicator": indicator}
        state: State = {"columns": fitted}
        if strategy == "knn":
            state["strategy"] = "knn"
            state["knn"] = knn_reference(df, columns, self.params["n_neighbors"],
                                         self.params["max_reference_rows"], self.params["seed"])
        return state

    def _number(self, col: str, s: pd.Series) -> float | None:
        strategy = self.params["strategy"]
        if strategy == "constant":
            fill = self.params["fill_value"]
            try:
                return float(fill)
            except ValueError:  # a word, fit for label columns only: this one is numeric
                raise InvalidRequest(
                    f"Column {col!r} holds numbers; impute it with a numeric fill_value, not "
                    f"{shown(fill)}, or list the label columns in the step's columns."
                ) from None
        if strategy == "most_frequent":
            modes = s.mode()
            return _float(modes.iloc[0]) if len(modes) else 0.0
        if strategy == "knn":
            return None
        return _float(s.median() if strategy == "median" else s.mean())

    def _label(self, col: str, s: pd.Series) -> str:
        strategy = self.params["strategy"]
        if strategy == "constant":
            return str(self.params["fill_value"])
        if strategy != "most_frequent":
            raise InvalidRequest(
                f"Column {col!r} holds labels; impute it with strategy 'most_frequent' or "
                f"'constant', not {strategy!r}.")
        counts = _labels(s).dropna().value_counts()
        return str(counts.index[0]) if len(counts) else MISSING

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        # Indicators join in one concat: inserted one by one, a wide table's (hfi: 100+
        # columns with gaps) fragment the frame, and pandas warns on every transform.
        indicators: dict[str, pd.Series] = {}
        # Columns of NumPy numbers are imputed as one block (the same float64 operations
        # as column by column, a few times faster on a wide table).
        block = [c for c, fit in state["columns"].items() if c in out.columns
                 and not isinstance(fit["value"], str)
                 and isinstance(out[c].dtype, np.dtype) and out[c].dtype.kind in "fiub"]
        gaps = np.zeros((len(out), 0), dtype=bool)
        if block:
            values = out[block].to_numpy(dtype="float64", copy=True)
            values[~np.isfinite(values)] = np.nan
            gaps = np.isnan(values)
            fills = np.array([np.nan if state["columns"][c]["value"] is None
                              else state["columns"][c]["value"] for c in block], "float64")
            out[block] = np.where(gaps, fills, values)
        position = {c: j for j, c in enumerate(block)}
        for col, fit in state["columns"].items():
            if col in position:
                if fit["indicator"]:
                    indicators[col + MISSING_SUFFIX] = pd.Series(
                        gaps[:, position[col]].astype("float64"), index=out.index)
                continue
            raw = out[col] if col in out.columns else pd.Series(
                np.nan, index=out.index, dtype="float64")
            if isinstance(fit["value"], str):
                if fit["indicator"]:
                    indicators[col + MISSING_SUFFIX] = raw.isna().astype("float64")
                labels = _labels(raw)
                out[col] = labels.where(labels.notna(), fit["value"])
                continue
            numbers = _finite(raw)  # a gap: missing, ±inf, or not a number at all
            if fit["indicator"]:
                indicators[col + MISSING_SUFFIX] = numbers.isna().astype("float64")
            out[col] = numbers if fit["value"] is None else numbers.fillna(fit["value"])
        if indicators:
            out = pd.concat([out.drop(columns=[c for c in indicators if c in out.columns]),
                             pd.DataFrame(indicators, index=out.index)], axis=1)
        if state.get("strategy") == "knn":
            cols = list(state["knn"]["columns"])
            out[cols] = knn_fill(out[cols], state["knn"])
        return out

    def separable(self, state: State) -> bool:
        return state.get("strategy") != "knn"

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        # KNN imputation fills a gap from the other columns, but a filled value stands
        # for the column's own (missing) value: it stays that column's.
        return passthrough(inputs, add={
            col: (col,) for col in state["columns"]} | {
            col + MISSING_SUFFIX: (col,) for col, fit in state["columns"].items()
            if fit["indicator"]})


def knn_reference(df: pd.DataFrame, columns: list[str], k: int, max_rows: int,
                  seed: int) -> State:
    """The reference rows of a KNN imputation: a seeded sample of at most ``max_rows``
    (``1 <= k <= max_rows``: the impute step's checks)."""
    for col in columns:
        if not (is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col].dtype)):
            raise InvalidRequest(f"KNN imputation works on numbers; column {col!r} holds "
                                 "labels. Encode it first or impute it with 'most_frequent'.")
    values = pd.DataFrame({c: _finite(df[c]) for c in columns}, index=df.index)
    if len(values) > max_rows:
        values = values.sample(max_rows, random_state=seed)
    rows = [[None if v != v else float(v) for v in row] for row in values.to_numpy().tolist()]
    return {"columns": columns, "n_neighbors": k, "rows": rows}


def knn_fill(frame: pd.DataFrame, knn: Mapping[str, Any]) -> pd.DataFrame:
    """Fill ``frame``'s gaps from the reference rows (scikit-learn's KNNImputer over them)."""
    from sklearn.impute import KNNImputer

    columns = list(knn["columns"])
    if not columns or not len(frame):
        return frame
    reference = np.array([[np.nan if v is None else v for v in row] for row in knn["rows"]],
                         dtype="float64").reshape(-1, len(columns))
    imputer = KNNImputer(n_neighbors=int(knn["n_neighbors"]), keep_empty_features=True)
    imputer.fit(reference)
    X = np.column_stack([_finite(frame[c]).to_numpy() for c in columns])
    filled = imputer.transform(X)
    return pd.DataFrame(filled, index=frame.index, columns=columns)


SCALE_METHODS = ("standard", "minmax", "robust")


@register_step
class Scale(Step):
    name = "scale"
    numbers_only = True
    description = ("Scale numbers: standard (subtract the mean, divide by the standard "
                   "deviation), minmax (to 0..1 on the training range) or robust (subtract the "
                   "median, divide by the interquartile range).")
    defaults = {"method": "standard"}
    checks = {"method": one_of(*SCALE_METHODS)}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        method = self.params["method"]
        fitted = {}
        for col in self.select(df):
            s = _finite(df[col])  # ±inf would make every statistic useless; impute takes it
            if method == "standard":
                center, spread = _float(s.mean()), _float(s.std(ddof=0))
            elif method == "minmax":
                center, spread = _float(s.min()), _float(s.max() - s.min())
            else:
                center = _float(s.median())
                spread = _float(s.quantile(0.75) - s.quantile(0.25))
            # Every method is (x - center) / spread, so the state keeps one shape.
            fitted[col] = [center, spread if spread > 0 else 1.0]
        return {"columns": fitted, "method": method}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        fitted = {c: v for c, v in state["columns"].items() if c in out.columns}
        # Columns of NumPy numbers scale as one block (the same float64 operations as
        # column by column, a few times faster on a wide table); the rest one by one.
        block = [c for c in fitted if isinstance(out[c].dtype, np.dtype)
                 and out[c].dtype.kind in "fiu"]
        if block:
            center = np.array([fitted[c][0] for c in block], dtype="float64")
            spread = np.array([fitted[c][1] for c in block], dtype="float64")
            out[block] = (out[block].to_numpy(dtype="float64") - center) / spread
        for col in fitted.keys() - set(block):
            center, spread = fitted[col]
            out[col] = (_numbers(out[col]) - center) / spread
        return out


@register_step
class Categorical(Step):
    name = "categorical"
    description = ("Labels as one-hot columns or a native pandas category; rare and unseen "
                   "labels become __other__, missing ones __missing__.")
    defaults = {"encoding": "onehot", "max_categories": 20, "min_count": 5}
    checks = {"encoding": one_of("onehot", "native"), "max_categories": integer(1),
              "min_count": integer(0)}
    accepts = "text"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        fitted = {}
        for col in self.select(df):
            labels = _labels(df[col])
            counts = labels.dropna().value_counts()
            frequent = counts[counts >= int(self.params["min_count"])]
            kept = sorted(str(v) for v in frequent.index[: int(self.params["max_categories"])])
            if not kept and len(counts):  # tiny data: keep the most frequent label at least
                kept = [str(counts.index[0])]
            fitted[col] = {"categories": kept,
                           "other": bool(len(counts) > len(kept)),
                           "missing": bool(labels.isna().any())}
        return {"columns": fitted, "encoding": self.params["encoding"]}

    @staticmethod
    def _grouped(s: pd.Series | None, index: pd.Index, categories: list[str]) -> pd.Series:
        if s is None:
            return pd.Series(MISSING, index=index, dtype="object")
        labels = _labels(s)
        grouped = labels.where(labels.isin(categories), OTHER)
        return grouped.where(labels.notna(), MISSING)

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        # The label columns leave in one drop and the one-hot columns join as one float
        # block: dropped one by one, each drop copied the frame (ames's 40 label columns
        # made a call's fixed cost ~0.1 s, the most of an ensemble's scoring call).
        fitted = state["columns"]
        out = df.drop(columns=[c for c in fitted if c in df.columns])
        native: dict[str, pd.Series] = {}
        blocks: list[np.ndarray] = []
        names: list[str] = []
        for col, fit in fitted.items():
            if state["encoding"] == "native":
                grouped = self._grouped(df[col] if col in df.columns else None, df.index,
                                        fit["categories"])
                levels = [*fit["categories"], OTHER, MISSING]
                native[col] = pd.Series(pd.Categorical(grouped, categories=levels),
                                        index=out.index)
                continue
            # What _grouped then an index of its levels gives, in one lookup: a label of
            # the categories is its own column, another __other__'s, a missing one
            # __missing__'s; -1 (no column) where the fit saw no such label.
            categories = list(fit["categories"])
            other = len(categories) if fit["other"] else -1
            missing = len(categories) + bool(fit["other"]) if fit["missing"] else -1
            levels = [*categories, *([OTHER] if fit["other"] else []),
                      *([MISSING] if fit["missing"] else [])]
            if col in df.columns:
                labels = _labels(df[col])
                codes = pd.Index(categories, dtype="object").get_indexer(labels.to_numpy())
                codes = np.where(labels.isna().to_numpy(), missing,
                                 np.where(codes >= 0, codes, other))
            else:
                codes = np.full(len(df), missing)
            blocks.append((codes[:, None] == np.arange(len(levels))[None, :])
                          .astype("float64"))
            names.extend(f"{col}={level}" for level in levels)
        if native:
            return pd.concat([out, pd.DataFrame(native, index=out.index)], axis=1)
        if names:
            return pd.concat([out, pd.DataFrame(np.hstack(blocks), index=out.index,
                                                columns=names)], axis=1)
        return out

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        add: Lineage = {}
        for col, fit in state["columns"].items():
            if state["encoding"] == "native":
                add[col] = (col,)
                continue
            levels = [*fit["categories"], *([OTHER] if fit["other"] else []),
                      *([MISSING] if fit["missing"] else [])]
            add.update({f"{col}={level}": (col,) for level in levels})
        return passthrough(inputs, drop=state["columns"], add=add)
