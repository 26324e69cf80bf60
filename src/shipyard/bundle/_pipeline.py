"""A loaded bundle as a whole inference pipeline: raw rows → recipe → model → decoded labels."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle._ensemble import (
    ENSEMBLE,
    check_members,
    is_ensemble,
    merged_signature,
    weighted_outputs,
)
from shipyard.bundle._frameworks import Framework, Outputs, get_framework
from shipyard.bundle._manifest import BundleError, read_manifest, verify_files
from shipyard.errors import InvalidRequest
from shipyard.features import FittedRecipe, inverse_outputs
from shipyard.features._semantic import FALSE_WORDS, TRUE_WORDS
from shipyard.features._steps import _to_datetime, numbers_in

#: Bad values named in an input error, at most.
_SHOWN = 3


def output_schema(task: str, classes: list[str] | None, n_components: int = 0) -> list[dict]:
    """The columns :meth:`InferencePipeline.predict` returns for ``task``."""
    if task == "classification":
        return [{"name": "prediction", "dtype": "str"}] + [
            {"name": f"probability.{c}", "dtype": "float64"} for c in classes or []]
    if task == "regression":
        return [{"name": "prediction", "dtype": "float64"}]
    if task == "clustering":
        return [{"name": "prediction", "dtype": "int64"}]
    if task == "anomaly_detection":
        return [{"name": "score", "dtype": "float64"}, {"name": "is_anomaly", "dtype": "bool"}]
    return [{"name": f"component.{i + 1}", "dtype": "float64"} for i in range(n_components)]


class InferencePipeline:
    """Feature recipe → model → label decoding, as one object (what an endpoint serves)."""

    def __init__(self, manifest: Mapping[str, Any], recipe: FittedRecipe, model: Any,
                 framework: Framework) -> None:
        self.manifest = dict(manifest)
        self.recipe = recipe
        self.model = model
        self.framework = framework
        classes = self.manifest.get("classes")
        self.classes: list[str] | None = list(classes) if classes else None
        self.input_signature: list[dict[str, Any]] = recipe.input_signature
        self.task: str = self.manifest["task"]

    def _check_columns(self, df: pd.DataFrame, *, allow_extra: bool) -> None:
        names = {e["name"] for e in self.input_signature}
        for entry in self.input_signature:
            if entry.get("required", True) and entry["name"] not in df.columns:
                raise InvalidRequest(
                    f"Column {entry['name']!r} is missing; the model needs it "
                    f"({entry['semantic_type']}). Add it to the input rows.")
        if not allow_extra:
            target = self.manifest.get("target")
            extra = [str(c) for c in df.columns if c not in names and c != target]
            if extra:
                raise InvalidRequest(
                    f"Unknown column {extra[0]!r}; the model's inputs are "
                    f"{sorted(names)}. Remove the column or fix its name.")

    def validate_input(self, df: pd.DataFrame) -> None:
        """Refuse rows the model cannot read: a missing or unknown column, a wrongly typed value.

        Raises:
            InvalidRequest: naming the column (and the first bad values).
        """
        self._check_columns(df, allow_extra=False)
        for entry in self.input_signature:
            if entry["name"] in df.columns:
                _check_values(entry, df[entry["name"]])

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Raw rows → the model's features (the fitted recipe)."""
        return self.recipe.transform(df)

    def outputs(self, df: pd.DataFrame) -> Outputs:
        """Raw rows → the model's raw outputs (class probabilities, values, scores…)."""
        self._check_columns(df, allow_extra=True)
        return self.model_outputs(self.transform(df))

    def model_outputs(self, X: pd.DataFrame) -> Outputs:
        """Features (the recipe's output) → the model's outputs, on the target's own scale
        (a recipe's target transform undone: :mod:`shipyard.features._target`)."""
        out = self.framework.outputs(self.model, X, self.task, len(self.classes or []))
        return inverse_outputs(self.recipe.target_transform, out)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Raw rows → one output row each (columns per :func:`output_schema`)."""
        out = self.outputs(df)
        index = pd.RangeIndex(len(df))
        if self.task == "classification":
            classes = self.classes or []
            proba = out["proba"]
            labels = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
            cols: dict[str, Any] = {"prediction": pd.Series(labels, index=index, dtype="str")}
            for i, label in enumerate(classes):
                cols[f"probability.{label}"] = proba[:, i]
            return pd.DataFrame(cols, index=index)
        if self.task == "regression":
            return pd.DataFrame({"prediction": out["value"]}, index=index)
        if self.task == "clustering":
            return pd.DataFrame({"prediction": out["cluster"]}, index=index)
        if self.task == "anomaly_detection":
            return pd.DataFrame({"score": out["score"],
                                 "is_anomaly": out["is_anomaly"].astype(bool)}, index=index)
        comps = out["components"]
        return pd.DataFrame(comps, index=index,
                            columns=[f"component.{i + 1}" for i in range(comps.shape[1])])


class EnsemblePipeline(InferencePipeline):
    """Several loaded bundles as one model: each member reads the raw rows through its own
    recipe, and the outputs are their weighted mean (see :mod:`shipyard.bundle._ensemble`).

    It answers what an :class:`InferencePipeline` answers (``predict``, ``outputs``,
    ``validate_input``, ``input_signature``, ``task``, ``classes``, ``manifest``); it has
    no single recipe, model or feature space, so :meth:`transform` is refused and the
    serving fast path leaves it to the general path.
    """

    def __init__(self, manifest: Mapping[str, Any],
                 members: list[tuple[float, InferencePipeline]]) -> None:
        self.manifest = dict(manifest)
        self.members = members
        self.recipe = None  # type: ignore[assignment]
        self.model = None
        self.framework = None  # type: ignore[assignment]
        classes = self.manifest.get("classes")
        self.classes = list(classes) if classes else None
        self.input_signature = merged_signature([m.input_signature for _, m in members])
        self.task = self.manifest["task"]
        # Members whose fitted recipes are the same (the default recipe refit on the same
        # rows: a churn ensemble of 9 has 5 recipes) share one transform of the rows.
        groups: dict[str, list[int]] = {}
        for i, (_, m) in enumerate(members):
            key = f"member {i}" if m.recipe is None else json.dumps(
                [m.recipe.to_dict(), m.input_signature], sort_keys=True, default=str)
            groups.setdefault(key, []).append(i)
        self.recipe_groups = list(groups.values())

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        raise BundleError("An ensemble has no single feature space: each member applies its "
                          "own recipe. Transform with one member's pipeline instead.")

    def outputs(self, df: pd.DataFrame) -> Outputs:
        """The members' outputs, weighted. The rows go through each distinct fitted recipe
        once (:attr:`recipe_groups`; transforms were 85% of a 9-member churn ensemble's
        time), one recipe's features at a time; the weighted sum keeps the members'
        order, so it is the same to the bit as each member's own call."""
        self._check_columns(df, allow_extra=True)
        outs: list[Outputs | None] = [None] * len(self.members)
        for group in self.recipe_groups:
            if len(group) == 1:
                outs[group[0]] = self.members[group[0]][1].outputs(df)
                continue
            first = self.members[group[0]][1]
            first._check_columns(df, allow_extra=True)
            X = first.transform(df)
            for i in group:
                outs[i] = self.members[i][1].model_outputs(X)
            del X
        return weighted_outputs(self.task, [(w, out) for (w, _), out in
                                            zip(self.members, outs, strict=True)
                                            if out is not None])


def _bad(series: pd.Series, ok: pd.Series) -> str:
    bad = series[~ok & series.notna()]
    return ", ".join(f"{v!r} in row {i}" for i, v in list(bad.items())[:_SHOWN])


def _check_values(entry: Mapping[str, Any], s: pd.Series) -> None:
    name, kind = entry["name"], entry["semantic_type"]
    if kind == "numeric" and not pd.api.types.is_numeric_dtype(s.dtype):
        ok = pd.to_numeric(s.astype("object"), errors="coerce").notna() | s.isna()
        if not ok.all():
            raise InvalidRequest(
                f"Column {name!r} must be numeric; got {_bad(s, ok)}. Send numbers "
                "(or null for a missing value).")
    elif kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(s.dtype):
        numbers = pd.Series(numbers_in(s), index=s.index)
        if numbers.any():
            raise InvalidRequest(
                f"Column {name!r} must hold dates/times, not numbers; got "
                f"{_bad(s, ~numbers)}. "
                "A number (a year such as 1990, seconds since 1970) is not read as a date: "
                "send ISO 8601 text such as '2024-01-31' or '2024-01-31T12:00:00'.")
        ok = _to_datetime(s).notna() | s.isna()
        if not ok.all():
            raise InvalidRequest(
                f"Column {name!r} must hold dates/times; got {_bad(s, ok)}. Send ISO 8601 "
                "text such as '2024-01-31' or '2024-01-31T12:00:00'.")
    elif kind == "boolean" and not (pd.api.types.is_bool_dtype(s.dtype)
                                    or pd.api.types.is_numeric_dtype(s.dtype)):
        words = s.astype("object").map(lambda v: str(v).strip().lower())
        ok = words.isin(TRUE_WORDS | FALSE_WORDS) | s.isna()
        if not ok.all():
            raise InvalidRequest(
                f"Column {name!r} must be true/false (or yes/no); got {_bad(s, ok)}.")


def check_bundle(path: Path) -> dict[str, Any]:
    """Every check :func:`load_bundle` makes, short of building the model; return MODEL.json.

    MODEL.json valid, every file listed with its SHA-256 and nothing else there, the
    recipe readable, a known framework, one model file with its native extension and
    format (a skops file's types on the allow-list). Nothing is imported from the
    framework and nothing is deserialised, so the control plane runs this when a model
    is registered: a bundle that a deploy would refuse is refused there.

    An ensemble (:mod:`shipyard.bundle._ensemble`) is checked as a whole (every file
    under it listed with its SHA-256), then each member as a bundle of its own.

    Raises:
        BundleError: naming the file and the rule it breaks.
    """
    path = Path(path)
    manifest = read_manifest(path)
    if is_ensemble(manifest):
        verify_files(path, manifest)
        for folder, _, _ in check_members(path, manifest):
            _checked(folder)
        return manifest
    if manifest["task"] == "forecasting":
        from shipyard.bundle._forecast import check_forecast

        return check_forecast(path, manifest)
    return _checked(path)[0]


def member_signature(path: Path) -> list[dict[str, Any]]:
    """The input signature of the plain bundle at ``path`` (its recipe's), model not loaded."""
    return _checked(Path(path))[1].input_signature


def _checked(path: Path) -> tuple[dict[str, Any], FittedRecipe, Framework, Path]:
    manifest = read_manifest(path)
    if is_ensemble(manifest):
        raise BundleError(f"{path.name!r} is an ensemble; {ENSEMBLE} members are plain "
                          "bundles, each one recipe and one model file.")
    verify_files(path, manifest)
    listed = manifest["files"]
    # The recipe and the model file are opened by name: only names of checked files count.
    if manifest["recipe"] not in listed:
        raise BundleError(f"The bundle's recipe {manifest['recipe']!r} is not one of the files "
                          "MODEL.json lists with their SHA-256.")
    try:
        recipe = FittedRecipe.from_dict(json.loads((path / manifest["recipe"]).read_text()))
    except (OSError, ValueError, InvalidRequest) as exc:
        raise BundleError(f"The bundle's recipe {manifest['recipe']!r} cannot be read: "
                          f"{exc}") from None
    fw = manifest["framework"]
    framework = get_framework(str(fw.get("name", "") if isinstance(fw, Mapping) else fw))
    files = manifest["model_files"]
    if not isinstance(files, list) or len(files) != 1:
        raise BundleError(f"A bundle has exactly one model file; MODEL.json lists {files!r}.")
    if files[0] not in listed:
        raise BundleError(f"Model file {files[0]!r} is not one of the files MODEL.json lists "
                          "with their SHA-256.")
    model_path = path / files[0]
    if model_path.suffix != framework.extension:
        raise BundleError(
            f"Model file {files[0]!r} does not have the {framework.name} extension "
            f"{framework.extension!r}; Shipyard loads each framework only from its native "
            "safe format.")
    framework.check(model_path)
    return manifest, recipe, framework, model_path


def load_bundle(path: Path) -> InferencePipeline:
    """Verify bundle folder ``path`` and load it as an :class:`InferencePipeline` (an
    :class:`EnsemblePipeline` for an ensemble: each member loaded as below).

    Raises:
        BundleError: MODEL.json missing or invalid, a file altered, missing or not
            listed, or a model file that is not in its framework's safe format.
    """
    path = Path(path)
    top = read_manifest(path)
    if is_ensemble(top):
        # The whole folder's hashes, then each member loaded (and checked) as a bundle.
        verify_files(path, top)
        return EnsemblePipeline(top, [
            (weight, load_bundle(folder)) for folder, weight, _ in check_members(path, top)])
    if top["task"] == "forecasting":  # one booster per quantile (shipyard.bundle._forecast)
        from shipyard.bundle._forecast import load_forecast

        return load_forecast(path, top)
    manifest, recipe, framework, model_path = _checked(path)
    files = manifest["model_files"]
    try:
        model = framework.load(model_path)
    except BundleError:
        raise
    except Exception as exc:  # noqa: BLE001 - a framework's own error on a bad file
        raise BundleError(f"Model file {files[0]!r} could not be loaded by "
                          f"{framework.name}: {exc}") from None
    return InferencePipeline(manifest, recipe, model, framework)
