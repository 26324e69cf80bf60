"""Recipes: ordered step specs (unfitted), and the fitted recipe that is part of a model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._params import is_text
from shipyard.features._semantic import column_facts, is_numeric_dtype
from shipyard.features._steps import Step, make_step, numbers_in
from shipyard.features._target import check_name

FORMAT_VERSION = 1
#: Categories listed in the input signature of a categorical column, at most.
SIGNATURE_CATEGORIES = 100
#: A label column's categories listed in full in the signature (``seen``) up to this many.
SEEN_CATEGORIES = 1000


@dataclass(frozen=True)
class StepSpec:
    """One recipe step: the registered step name, its columns (None: all it accepts), params."""

    step: str
    columns: tuple[str, ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step,
                "columns": None if self.columns is None else list(self.columns),
                "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, check: bool = True) -> StepSpec:
        """Read a step; ``check=False`` (a fitted recipe) skips the parameter value rules.

        Raises:
            InvalidRequest: not a step object, bad columns, an unknown step or parameter,
                or a parameter value the step's rules refuse.
        """
        if not isinstance(d, Mapping) or not isinstance(d.get("step"), str):
            raise InvalidRequest(
                f"A recipe step must be an object with a 'step' name; got {d!r}.")
        columns = d.get("columns")
        if columns is not None and (
                not isinstance(columns, list | tuple)
                or not all(is_text(c) if check else isinstance(c, str) for c in columns)):
            raise InvalidRequest(
                f"The columns of recipe step {d['step']!r} must be a list of names or null; "
                f"got {columns!r}.")
        params = d.get("params") or {}
        if not isinstance(params, Mapping):
            raise InvalidRequest(
                f"The params of recipe step {d['step']!r} must be an object; got {params!r}.")
        # An unknown step, parameter or bad value: refused now, not at fit.
        make_step(d["step"], None, params, check=check)
        return cls(step=d["step"], columns=None if columns is None else tuple(columns),
                   params=dict(params))

    def build(self, *, check: bool = True) -> Step:
        """The step; ``check=False`` for one already fitted (see :meth:`Step.__init__`)."""
        return make_step(self.step, self.columns, self.params, check=check)


@dataclass(frozen=True)
class Recipe:
    """An unfitted feature recipe: the steps to fit, in order. JSON in, JSON out."""

    steps: tuple[StepSpec, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Recipe:
        if isinstance(d, Mapping) and ("extends" in d or "drop" in d):
            # Only a training job knows the default it would extend (it depends on the
            # data and the algorithm): shipyard.features.UserRecipe reads that form.
            raise InvalidRequest(
                "A recipe with 'extends' or 'drop' is for a training job; here list every "
                "step (a 'drop' step for the columns to remove).")
        steps = d.get("steps") if isinstance(d, Mapping) else None
        if not isinstance(steps, list):
            raise InvalidRequest(
                "A recipe must be an object with a 'steps' list, e.g. "
                '{"steps": [{"step": "impute"}, {"step": "categorical"}]}; '
                f"got {d!r}.")
        return cls(steps=tuple(StepSpec.from_dict(s) for s in steps))

    def fit(self, df: pd.DataFrame, target: str | None = None) -> FittedRecipe:
        """Fit every step in order on ``df`` (the target column is kept aside)."""
        return self.fit_transform(df, target)[0]

    def fit_transform(self, df: pd.DataFrame, target: str | None = None,
                      ) -> tuple[FittedRecipe, pd.DataFrame]:
        """Fit on ``df`` and return the fitted recipe and the training rows as features.

        The features are what the model trains on: target encoding's columns are
        out of fold there, and a ``balance`` step has resampled the rows. When
        ``target`` is given it is the last column of the frame (resampled with the
        rows), so ``frame[fitted.feature_names]`` and ``frame[target]`` line up.
        """
        if target is not None and target not in df.columns:
            raise InvalidRequest(f"The target column {target!r} is not in the data.")
        raw = df.reset_index(drop=True)
        y = raw[target] if target is not None else None
        frame = raw.drop(columns=[target]) if target is not None else raw
        fitted: list[tuple[StepSpec, dict[str, Any]]] = []
        for spec in self.steps:
            state, frame, y = spec.build().fit_transform(frame, y)
            fitted.append((spec, state))
        text = [c for spec, state in fitted if spec.step == "raw_text"
                for c in state["columns"] if c in frame.columns]
        features, categorical = _check_output(frame, text)
        if target is not None and target in features:
            raise InvalidRequest(f"A recipe step made a column named like the target "
                                 f"{target!r}; give it another name.")
        inputs = raw.drop(columns=[target]) if target else raw
        dropped = _unused_inputs(inputs, fitted)
        signature = [_signature_entry(raw, str(c), str(c) not in dropped, fitted)
                     for c in inputs.columns]
        recipe = FittedRecipe(steps=tuple(fitted), input_signature=signature,
                              feature_names=features, categorical_features=categorical,
                              target=target, text_features=text)
        out = recipe.finish(frame.reset_index(drop=True))
        if y is not None and target is not None:
            out = pd.concat([out, y.reset_index(drop=True).rename(target)], axis=1)
        return recipe, out


def _check_output(frame: pd.DataFrame, text: list[str]) -> tuple[list[str], list[str]]:
    categorical = [str(c) for c in frame.columns
                   if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    for c in frame.columns:
        if not is_numeric_dtype(frame[c]) and str(c) not in categorical and str(c) not in text:
            raise InvalidRequest(
                f"Column {c!r} is still not numeric after the recipe (dtype {frame[c].dtype}); "
                "add a 'categorical', 'boolean' or 'datetime_parts' step for it, or 'drop' it.")
    return [str(c) for c in frame.columns], categorical


def _unused_inputs(raw: pd.DataFrame, fitted: list[tuple[StepSpec, dict[str, Any]]]) -> set[str]:
    """Input columns a 'drop' step removed: the model never needs them."""
    out: set[str] = set()
    for spec, state in fitted:
        if spec.step == "drop":
            out.update(c for c in state["columns"] if c in raw.columns)
    # A column a derived one is computed from is needed, even if dropped after.
    for spec, state in fitted:
        if spec.step == "expression":
            out.difference_update(state["inputs"])
        elif spec.step == "elapsed_days" and state.get("reference_column"):
            out.discard(state["reference_column"])
    return out


def _signature_entry(df: pd.DataFrame, name: str, required: bool,
                     fitted: list[tuple[StepSpec, dict[str, Any]]]) -> dict[str, Any]:
    facts = column_facts(name, df[name])
    entry: dict[str, Any] = {"name": name, "dtype": facts.dtype,
                             "semantic_type": facts.semantic_type, "categories": None,
                             "required": required}
    # Never a value that points at one training row: not an identifier's, nor free text.
    entry["typical"] = typical_value(df[name], facts.semantic_type) \
        if required and facts.semantic_type not in ("identifier", "text") else None
    for spec, state in fitted:
        if spec.step in ("categorical", "encode") and name in state["columns"] \
                and isinstance(state["columns"][name], dict) \
                and "categories" in state["columns"][name]:
            entry["semantic_type"] = "categorical"
            entry["categories"] = state["columns"][name]["categories"][:SIGNATURE_CATEGORIES]
            entry["seen"] = _seen_labels(df[name])
    return entry


def typical_value(s: pd.Series, semantic_type: str) -> Any:
    """The column's typical training value: the median of a number or a date (ISO 8601),
    else the most frequent value (as the recipe reads it: text; a bool stays a bool),
    None when every value is missing.

    One aggregate per column, never a training row: an endpoint explains a prediction
    against the row of typical values (KernelSHAP's baseline, docs/explain.md).
    """
    values = s.dropna()
    if values.empty:
        return None
    if semantic_type == "numeric" and pd.api.types.is_numeric_dtype(values.dtype) \
            and not pd.api.types.is_bool_dtype(values.dtype):
        median = float(np.nanmedian(values.to_numpy(dtype="float64")))
        return median if np.isfinite(median) else None
    if semantic_type == "datetime":
        # The median moment (a date's mode is often just the first of many unique dates).
        # A number is no date (pandas would read it as nanoseconds after 1970): left out,
        # as the recipe's datetime steps read it as a missing value.
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = values.astype("object")[~numbers_in(values)]
        moments = pd.to_datetime(values, errors="coerce", utc=True, format="mixed").dropna()
        if moments.empty:
            return None
        middle = moments.sort_values().iloc[len(moments) // 2]
        return middle.date().isoformat() if middle == middle.normalize() \
            else middle.isoformat()
    mode = values.mode(dropna=True)
    if mode.empty:
        return None
    value = mode.iloc[0]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.integer | np.floating):
        number = value.item()
        return number if not isinstance(number, float) or np.isfinite(number) else None
    return str(value)


def _seen_labels(s: pd.Series) -> list[str] | None:
    """Every label of a column as the recipe reads it (text), so an endpoint can tell a
    category the model never saw from a rare one; None past SEEN_CATEGORIES labels."""
    labels = s.dropna().astype("str").unique()
    return sorted(str(v) for v in labels) if len(labels) <= SEEN_CATEGORIES else None


@dataclass(frozen=True)
class FittedRecipe:
    """A fitted recipe: every step's fitted state, the input signature and the feature names."""

    steps: tuple[tuple[StepSpec, dict[str, Any]], ...]
    input_signature: list[dict[str, Any]]
    feature_names: list[str]
    categorical_features: list[str]
    target: str | None = None
    #: Raw free-text columns a text model tokenises itself (the ``raw_text`` step).
    text_features: list[str] = field(default_factory=list)
    #: The regression target as the model learns it (``"log"``; None: as it is), see
    #: :mod:`shipyard.features._target`: predictions are turned back before use.
    target_transform: str | None = None

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Raw rows → model features (float columns; pandas categories when native).

        Never raises on values: unseen categories become ``__other__``, a missing
        input column is treated as all missing.
        """
        frame = df.drop(columns=[self.target], errors="ignore") if self.target else df
        known = [e["name"] for e in self.input_signature]
        absent = {n: np.nan for n in known if n not in frame.columns}
        frame = frame[[n for n in known if n in frame.columns]]
        if absent:
            frame = frame.assign(**absent)
        frame = frame.reset_index(drop=True)
        for spec, state in self.steps:
            frame = spec.build(check=False).transform(frame, state)
        return self.finish(frame)

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The recipe's last frame as features: the feature columns in order, numbers as float."""
        out = frame.reindex(columns=self.feature_names)
        kept = set(self.categorical_features) | set(self.text_features)
        # Only the columns not float64 yet: astype over every column rebuilt each one.
        dtypes = out.dtypes
        cast = {c: "float64" for c in self.feature_names
                if c not in kept and dtypes[c] != np.float64}
        return out.astype(cast) if cast else out

    def lineage(self) -> dict[str, list[str]]:
        """Each feature name → the raw input columns it is computed from (signature order).

        Chains every step's :meth:`Step.lineage` from the input signature: a one-hot
        column comes from its label column, an expression from each column it reads, an
        imputation indicator from the imputed column. A feature that no input reaches
        (an expression of constants only) maps to an empty list.
        """
        raw = [str(e["name"]) for e in self.input_signature if e["name"] != self.target]
        order = {name: i for i, name in enumerate(raw)}
        sources: dict[str, tuple[str, ...]] = {name: (name,) for name in raw}
        for spec, state in self.steps:
            local = spec.build(check=False).lineage(state, list(sources))
            sources = {out: tuple(dict.fromkeys(
                r for i in ins for r in sources.get(i, ()))) for out, ins in local.items()}
        return {f: sorted(sources.get(f, ()), key=order.__getitem__)
                for f in self.feature_names}

    def separable(self) -> bool:
        """Whether every feature depends, for a new row, only on the raw columns
        :meth:`lineage` names (no step reads other columns, see :meth:`Step.separable`)."""
        return all(spec.build(check=False).separable(state) for spec, state in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "target": self.target,
                "steps": [{**spec.to_dict(), "state": state} for spec, state in self.steps],
                "input_signature": self.input_signature, "feature_names": self.feature_names,
                "categorical_features": self.categorical_features,
                **({"text_features": self.text_features} if self.text_features else {}),
                **({"target_transform": self.target_transform}
                   if self.target_transform else {})}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FittedRecipe:
        try:
            version = d["format_version"]
            if version != FORMAT_VERSION:
                raise InvalidRequest(
                    f"Fitted recipe format {version!r} is not supported; this Shipyard reads "
                    f"format {FORMAT_VERSION}. Upgrade Shipyard to load it.")
            # Fitted with the rules of its day: values are not checked again, so a bundle
            # whose recipe fitted then still loads.
            steps = tuple((StepSpec.from_dict(s, check=False), dict(s["state"]))
                          for s in d["steps"])
            return cls(steps=steps, input_signature=list(d["input_signature"]),
                       feature_names=list(d["feature_names"]),
                       categorical_features=list(d["categorical_features"]),
                       target=d.get("target"),
                       text_features=list(d.get("text_features") or []),
                       target_transform=check_name(d.get("target_transform")))
        except (KeyError, TypeError) as exc:
            raise InvalidRequest(
                f"A fitted recipe lacks a field or has a wrong one: {exc}.") from exc
