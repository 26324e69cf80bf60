"""A forecast bundle: one LightGBM text model per quantile, and ``forecast.json``.

Layout::

    MODEL.json          task "forecasting"; model_files: model.p10.txt, model.p50.txt, …
    forecast.json       the feature spec and the last window of each series (JSON)
    model.p10.txt …     LightGBM's native text format, one booster per quantile
    evaluation/…        backtest metrics and the forecast-vs-actuals plot

Every file is SHA-256-checked as in any bundle, nothing is unpickled. The pipeline
answers rows of (series, time) with one column per quantile (:class:`ForecastPipeline`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.bundle._frameworks import Framework, Outputs, get_framework
from shipyard.bundle._manifest import BundleError, verify_files
from shipyard.bundle._pipeline import InferencePipeline
from shipyard.forecasting import Forecaster, ForecastSpec

FORECASTING = "forecasting"
FORECAST_FILE = "forecast.json"


def is_forecast(manifest: Mapping[str, Any]) -> bool:
    return manifest.get("task") == FORECASTING


class ForecastPipeline(InferencePipeline):
    """A forecaster served like any bundle: ``predict`` takes rows of the time column (and
    the series column) and returns ``p10``, ``p50``, ``p90``… per row.

    It has no recipe and no single model, so :meth:`transform` is refused and the serving
    fast path leaves it to the general path (its task is neither classification nor
    regression).
    """

    def __init__(self, manifest: Mapping[str, Any], forecaster: Forecaster,
                 framework: Framework) -> None:
        self.manifest = dict(manifest)
        self.forecaster = forecaster
        self.spec: ForecastSpec = forecaster.spec
        self.recipe = None  # type: ignore[assignment]
        self.model = forecaster.boosters
        self.framework = framework
        self.classes = None
        self.input_signature = list(self.manifest.get("input_signature") or [])
        self.task = FORECASTING

    def validate_input(self, df: pd.DataFrame) -> None:
        """The time (and series) columns present, no other, and every row forecastable."""
        self._check_columns(df, allow_extra=False)
        self.forecaster.predict(df)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        raise BundleError("A forecast bundle has no recipe: its features are made from the "
                          "stored history at each request. Call predict instead.")

    def outputs(self, df: pd.DataFrame) -> Outputs:
        self._check_columns(df, allow_extra=True)
        return {"quantiles": self.forecaster.predict(df).to_numpy()}

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        self._check_columns(df, allow_extra=True)
        return self.forecaster.predict(df)


def input_signature(spec: ForecastSpec, series: list[str], example: Any) -> list[dict]:
    """What a forecast request sends: the time column (a date/time, or a period number),
    and the series column if any."""
    kind = ("numeric", "int64") if spec.periods else ("datetime", "datetime64[ns]")
    out: list[dict[str, Any]] = [{"name": spec.time_column, "semantic_type": kind[0],
                                  "dtype": kind[1], "required": True, "example": example}]
    if spec.series_column:
        out.append({"name": spec.series_column, "semantic_type": "categorical",
                    "dtype": "object", "required": True, "categories": series,
                    "seen": series})
    return out + [{"name": c, "semantic_type": "numeric", "dtype": "float64",
                   "required": True} for c in spec.known_ahead]


def _files(path: Path, manifest: Mapping[str, Any]) -> tuple[Framework, list[Path]]:
    verify_files(path, manifest)
    listed = manifest["files"]
    if manifest["recipe"] != FORECAST_FILE or FORECAST_FILE not in listed:
        raise BundleError(f"A forecast bundle keeps its spec in {FORECAST_FILE!r}, listed with "
                          f"its SHA-256 in MODEL.json; got {manifest['recipe']!r}.")
    fw = manifest["framework"]
    framework = get_framework(str(fw.get("name", "") if isinstance(fw, Mapping) else fw))
    if framework.name != "lightgbm":
        raise BundleError(f"A forecast bundle holds LightGBM models; got {framework.name!r}.")
    files = manifest["model_files"]
    if not isinstance(files, list) or not files:
        raise BundleError(f"A forecast bundle has one model file per quantile; MODEL.json "
                          f"lists {files!r}.")
    paths = []
    for name in files:
        if name not in listed or not str(name).endswith(framework.extension):
            raise BundleError(f"Model file {name!r} is not a {framework.extension!r} file "
                              "listed with its SHA-256 in MODEL.json.")
        framework.check(path / name)
        paths.append(path / name)
    return framework, paths


def _spec(path: Path) -> tuple[ForecastSpec, dict[str, Any]]:
    try:
        data = json.loads((path / FORECAST_FILE).read_text(encoding="utf-8"))
        return ForecastSpec.from_dict(data["spec"]), dict(data["history"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"The bundle's {FORECAST_FILE} cannot be read: {exc}") from None


def _checked(path: Path, manifest: Mapping[str, Any]
             ) -> tuple[Framework, list[Path], ForecastSpec, dict[str, Any]]:
    framework, paths = _files(path, manifest)
    spec, history = _spec(path)
    if len(paths) != len(spec.quantiles):
        raise BundleError(f"{FORECAST_FILE} names {len(spec.quantiles)} quantiles but "
                          f"MODEL.json lists {len(paths)} model files.")
    return framework, paths, spec, history


def check_forecast(path: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Every check of :func:`load_forecast` short of loading the boosters (no LightGBM
    import): the registry runs it when a model is registered."""
    _checked(path, manifest)
    return dict(manifest)


def load_forecast(path: Path, manifest: Mapping[str, Any]) -> ForecastPipeline:
    """The checked forecast bundle at ``path`` as a :class:`ForecastPipeline`."""
    framework, paths, spec, history = _checked(path, manifest)
    try:
        boosters = [framework.load(p) for p in paths]
    except Exception as exc:  # noqa: BLE001 - LightGBM's own error on a bad file
        raise BundleError(f"A model file of the forecast bundle could not be loaded by "
                          f"LightGBM: {exc}") from None
    return ForecastPipeline(manifest, Forecaster.from_history(spec, boosters, history),
                            framework)

