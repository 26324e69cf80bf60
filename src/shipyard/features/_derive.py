"""Steps that derive new columns: ``elapsed_days``, ``expression`` and ``tfidf``.

``elapsed_days`` turns a date into an age in days (an account's age from its
creation date) against a reference: the latest date of the training rows (fixed
at fit), a given date, another date column of the row, or ``now`` (the time of the
transform: the one choice whose output changes with the clock). ``expression``
adds a column computed by the safe expression language of
:mod:`shipyard.features._expression`. ``tfidf`` turns free text into TF-IDF
columns; scikit-learn learns the vocabulary and IDF weights, which are stored in
the state, and new rows are weighted from that state alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._expression import parse_expression
from shipyard.features._params import (
    MAX_INT,
    Check,
    boolean,
    either,
    integer,
    is_int,
    is_text,
    number,
    one_of,
    optional,
    text,
)
from shipyard.features._steps import (
    Lineage,
    State,
    Step,
    _labels,
    _to_datetime,
    passthrough,
    register_step,
    require_dates,
)

_DAY = np.timedelta64(1, "D")
#: Most TF-IDF terms kept per column (each is a column of the features).
MAX_TERMS = 5000


def _is_reference(value: Any) -> bool:
    if value in ("fit_max", "now"):
        return True
    return is_text(value) and not pd.isna(pd.Timestamp(value))  # Check catches a ValueError


#: Where elapsed days count to (when no reference column is given).
REFERENCE = Check("'fit_max', 'now' or an ISO date such as '2024-01-31'", _is_reference)


def _dates(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    return _to_datetime(df[col])


@register_step
class ElapsedDays(Step):
    name = "elapsed_days"
    description = ("Days from a date column to a reference (the latest training date, a given "
                   "date, another date column, or now), as <column>.elapsed_days.")
    defaults = {"reference": "fit_max", "reference_column": None, "drop": True}
    checks = {"reference": text(), "reference_column": optional(text()), "drop": boolean()}

    def check_params(self) -> None:
        # A reference column makes the reference moot (it was never read at fit either).
        if self.params["reference_column"] is None \
                and not REFERENCE(self.params["reference"]):
            self.refuse("reference", REFERENCE.allowed)

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        ref_col = self.params["reference_column"]
        if ref_col is not None and ref_col not in df.columns:
            raise InvalidRequest(f"The elapsed_days reference column {ref_col!r} is not in "
                                 "the data.")
        reference = None if ref_col else str(self.params["reference"])
        columns = [c for c in self.select(df) if c != ref_col]
        for col in [*columns, *([ref_col] if ref_col else [])]:
            require_dates(self.name, col, df[col])  # a column of years: all missing, else
        if reference == "fit_max":
            latest = max((d.max() for d in (_to_datetime(df[c]) for c in columns)
                          if d.notna().any()), default=pd.NaT)
            if pd.isna(latest):
                raise InvalidRequest(f"The columns {columns} hold no dates to take the latest "
                                     "of; give a reference date or column.")
            reference = pd.Timestamp(latest).isoformat()
        return {"columns": columns, "reference": reference, "reference_column": ref_col,
                "drop": bool(self.params["drop"])}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        if state["reference_column"]:
            ref: Any = _dates(out, state["reference_column"])
        elif state["reference"] == "now":
            ref = pd.Timestamp.now(tz="UTC").tz_localize(None)
        else:
            ref = pd.Timestamp(state["reference"])
            ref = ref.tz_convert("UTC").tz_localize(None) if ref.tzinfo else ref
        for col in state["columns"]:
            days = (ref - _dates(out, col)) / _DAY
            out[f"{col}.elapsed_days"] = pd.Series(days, index=out.index).astype("float64")
            if state["drop"]:
                out = out.drop(columns=[col], errors="ignore")
        return out

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        ref = state["reference_column"]
        return passthrough(inputs, drop=state["columns"] if state["drop"] else (), add={
            f"{col}.elapsed_days": (col, ref) if ref else (col,) for col in state["columns"]})


@register_step
class Expression(Step):
    name = "expression"
    description = ("A derived column from a safe expression over columns, e.g. "
                   "'total_charges / (tenure + 1)' (arithmetic, comparisons, a few functions).")
    defaults = {"name": None, "expression": None}
    checks = {"name": Check(text().allowed + ': the column it makes, e.g. {"name": '
                            '"charge_per_month", "expression": "…"}', text()),
              "expression": text()}

    def __init__(self, columns: tuple[str, ...] | None, params: Mapping[str, Any], *,
                 check: bool = True) -> None:
        super().__init__(columns, params, check=check)
        self.expression = parse_expression(self.params["expression"])

    def check_params(self) -> None:
        try:
            parse_expression(self.params["expression"])
        except InvalidRequest as exc:
            self.refuse("expression", f"a valid expression ({exc.message.rstrip('.')})")

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        missing = [c for c in self.expression.columns if c not in df.columns]
        if missing and y is not None and missing[0] == y.name:
            raise InvalidRequest(
                f"The expression {self.expression.text!r} reads the target {missing[0]!r}, "
                "which is kept aside: a feature made from it would not exist for new rows "
                "and would leak the answer into training. Use other columns.")
        if missing:
            raise InvalidRequest(
                f"The expression {self.expression.text!r} reads column {missing[0]!r}, which "
                "is not in the data at this step; check its name (use col(\"a.b\") for names "
                "that are not identifiers).")
        self.expression.evaluate(df.head(50))  # a type error fails the fit, not serving
        return {"name": self.params["name"], "expression": self.expression.text,
                "inputs": list(self.expression.columns)}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        expression = parse_expression(state["expression"])
        return df.assign(**{state["name"]: expression.evaluate(df)})

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        # An expression of no column (a constant) comes from no input.
        return passthrough(inputs, add={state["name"]: tuple(state["inputs"])})


def _ngrams_valid(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) == 2 and all(is_int(n) for n in v) \
        and 1 <= v[0] <= v[1] <= MAX_INT


def _tfidf_options(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"lowercase": params["lowercase"], "ngram_range": [int(n) for n in
                                                              params["ngram_range"]],
            "stop_words": params["stop_words"], "sublinear_tf": params["sublinear_tf"]}


def _documents(s: pd.Series | None, n: int) -> list[str]:
    if s is None:
        return [""] * n
    return [v if isinstance(v, str) else "" for v in _labels(s)]


@register_step
class Tfidf(Step):
    name = "tfidf"
    description = ("Free text as TF-IDF columns <column>.tfidf.<term> over the max_features most "
                   "frequent terms of the training rows (l2-normalised).")
    defaults = {"max_features": 100, "ngram_range": [1, 1], "min_df": 1, "lowercase": True,
                "stop_words": None, "sublinear_tf": False}
    checks = {"max_features": integer(1, MAX_TERMS),
              "ngram_range": Check("two whole numbers [low, high] with 1 <= low <= high",
                                   _ngrams_valid),
              # scikit-learn's: a count of documents, or a share of them.
              "min_df": either(integer(0), number(0, 1)),
              "lowercase": boolean(), "stop_words": one_of(None, "english"),
              "sublinear_tf": boolean()}
    accepts = "text"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        from sklearn.feature_extraction.text import TfidfVectorizer

        options = _tfidf_options(self.params)
        max_features = int(self.params["max_features"])
        fitted: dict[str, dict[str, Any]] = {}
        for col in self.select(df):
            vectorizer = TfidfVectorizer(
                max_features=max_features, min_df=self.params["min_df"],
                lowercase=options["lowercase"], ngram_range=tuple(options["ngram_range"]),
                stop_words=options["stop_words"], sublinear_tf=options["sublinear_tf"])
            try:
                vectorizer.fit(_documents(df[col], len(df)))
            except ValueError as exc:  # empty vocabulary: nothing but stop words or blanks
                raise InvalidRequest(f"Column {col!r} gives no TF-IDF terms: {exc}.") from None
            terms = vectorizer.get_feature_names_out().tolist()
            fitted[col] = {"terms": terms, "idf": [float(v) for v in vectorizer.idf_]}
        return {"columns": fitted, **options}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        out = df.copy()
        new: list[pd.DataFrame] = []
        for col, fit in state["columns"].items():
            counts = CountVectorizer(
                vocabulary=fit["terms"], lowercase=state["lowercase"],
                ngram_range=tuple(state["ngram_range"]), stop_words=state["stop_words"],
            ).transform(_documents(out[col] if col in out.columns else None, len(out)))
            tf = counts.astype("float64")
            if state["sublinear_tf"]:
                np.log(tf.data, out=tf.data)
                tf.data += 1.0
            weighted = tf.multiply(np.asarray(fit["idf"])[None, :]).tocsr()
            if weighted.shape[0]:  # scikit-learn's normalize refuses no rows (an empty split)
                weighted = normalize(weighted)
            # One block per column (not a Series per term): 300 terms of 50k rows is one
            # 120 MB array, not 300 copies on the way to a frame.
            new.append(pd.DataFrame(weighted.toarray(), index=out.index,
                                    columns=[f"{col}.tfidf.{term}" for term in fit["terms"]]))
            out = out.drop(columns=[col], errors="ignore")
        return pd.concat([out, *new], axis=1) if new else out

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        return passthrough(inputs, drop=state["columns"], add={
            f"{col}.tfidf.{term}": (col,) for col, fit in state["columns"].items()
            for term in fit["terms"]})
