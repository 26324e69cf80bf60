"""The algorithm registry: what each built-in declares, and the one way they are fitted."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.names import did_you_mean
from shipyard.training._hyperparameters import Hyperparameter, validate_all
from shipyard.training._progress import CURVE_SECONDS, PROGRESS_SECONDS, Progress

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.features import FittedRecipe

SUPERVISED = frozenset({"binary", "multiclass", "regression"})
UNSUPERVISED = frozenset({"clustering", "dimensionality_reduction", "anomaly_detection"})
#: Forecasting has a target but no rows to predict from: its own flow (training/_forecast.py).
FORECASTING = frozenset({"forecasting"})
PROBLEM_TYPES = ("binary", "multiclass", "regression", "clustering",
                 "dimensionality_reduction", "anomaly_detection", "forecasting")


def task_of(problem_type: str) -> str:
    """The bundle task of a problem type (binary and multiclass are classification)."""
    return "classification" if problem_type in ("binary", "multiclass") else problem_type


def _no_metric(name: str, value: float, step: int | None = None) -> None:
    """Metrics go nowhere unless a sink is given."""


@dataclass(frozen=True)
class AlgorithmInfo:
    """What an algorithm declares: problem types, hyperparameters, and the features it needs."""

    name: str
    problem_types: frozenset[str]
    hyperparameters: tuple[Hyperparameter, ...]
    needs_scaling: bool
    categorical: str  # "onehot" | "native"
    framework: str
    description: str
    #: What makes its model big, named by the hyperparameters that drive it (said in the
    #: job log and the model card when a bundle is large).
    size_drivers: str = ""
    #: A text algorithm: it reads one free-text column raw (``text_column``; the recipe
    #: keeps that column as strings, see shipyard.training._text_column).
    text: bool = False
    #: The recipe it trains with when the request gives none (None: the default recipe).
    #: image-cnn keeps every pixel column as it is: ``{"steps": []}``.
    recipe: Mapping[str, Any] | None = None

    @property
    def supervised(self) -> bool:
        return bool(self.problem_types & (SUPERVISED | FORECASTING))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "problem_types": sorted(self.problem_types),
                "hyperparameters": [h.to_dict() for h in self.hyperparameters],
                "needs_scaling": self.needs_scaling, "categorical": self.categorical,
                "framework": self.framework, "description": self.description,
                "size_drivers": self.size_drivers, "text": self.text}


@dataclass(frozen=True)
class FitData:
    """Everything an algorithm's ``fit`` gets: one context object.

    ``y_*`` hold class indices for classification, values for regression, None
    for the unsupervised problem types.
    """

    X_train: pd.DataFrame
    y_train: np.ndarray | None
    problem_type: str
    hyperparameters: Mapping[str, Any]
    X_valid: pd.DataFrame | None = None
    y_valid: np.ndarray | None = None
    n_classes: int = 0
    seed: int = 42
    n_jobs: int = 1
    log: Callable[[str], None] = print
    #: Where the ``progress`` metric goes (the job's ``log_metric``).
    log_metric: Callable[..., None] = _no_metric
    #: Seconds between progress lines, at most (tests set 0: a line per update).
    progress_interval: float = PROGRESS_SECONDS
    #: Seconds between two flushes of the live per-round metrics, at most.
    curve_interval: float = CURVE_SECONDS
    #: Workers that train together, data parallel (XGBoost and LightGBM on Ray only).
    instances: int = 1
    #: Where the boosting built-ins keep checkpoints and find one to continue from (the
    #: job's ``checkpoints/``; None outside a job: no checkpoints).
    checkpoint_dir: Path | None = None
    #: Rounds between two checkpoints (None: a tenth of the rounds).
    checkpoint_every: int | None = None
    #: Seconds between two checkpoints, at least: a fit shorter than this takes none (a
    #: tuning trial of a second wrote ten); tests set 0.
    checkpoint_seconds: float = 2.0
    #: ``curve.*`` points the fit logged live (name -> steps), filled by its Progress.
    curves_logged: dict[str, int] = field(default_factory=dict)

    def progress(self, total: int, unit: str) -> Progress:
        """A reporter of ``total`` trees or rounds for this fit (see ``_progress``)."""
        return Progress(total=total, unit=unit, log=self.log, log_metric=self.log_metric,
                        interval=self.progress_interval, curve_interval=self.curve_interval,
                        curves_logged=self.curves_logged)


@dataclass
class FitResult:
    """A fitted model (the framework's own object) and what training recorded."""

    model: Any
    #: ``{"<split>.<metric>": [value per iteration]}`` (boosting), else empty.
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    best_iteration: int | None = None
    notes: list[str] = field(default_factory=list)


class Algorithm:
    """A built-in algorithm: its declaration and its fit."""

    info: ClassVar[AlgorithmInfo]

    def fit(self, data: FitData) -> FitResult:
        raise NotImplementedError

    def check_data(self, frame: pd.DataFrame, target: str | None,
                   hyperparameters: Mapping[str, Any],
                   recipe: Mapping[str, Any] | None = None) -> None:
        """Refuse data (or a recipe) this algorithm cannot read, at submit and in the job.

        Most built-ins read any table through the recipe: nothing to check. A text
        algorithm checks its text column here (a 400 before a job exists).
        """

    def own_recipe(self, train: pd.DataFrame, target: str | None,
                   hyperparameters: Mapping[str, Any], notes: list[str],
                   ) -> tuple[FittedRecipe, pd.DataFrame] | None:
        """The fitted recipe this algorithm needs instead of the default one, and the rows
        as it trains on them; None (most built-ins): the default or the request's recipe."""
        return None


ALGORITHMS: dict[str, Algorithm] = {}


def register(cls: type[Algorithm]) -> type[Algorithm]:
    """Class decorator: add a built-in algorithm to :data:`ALGORITHMS`."""
    if cls.info.name in ALGORITHMS:
        raise ValueError(f"An algorithm named {cls.info.name!r} is already registered.")
    ALGORITHMS[cls.info.name] = cls()
    return cls


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm ``name``, or InvalidRequest listing the known names."""
    try:
        return ALGORITHMS[name]
    except (KeyError, TypeError):
        raise InvalidRequest(
            f"Unknown algorithm {name!r}; the built-in algorithms are {sorted(ALGORITHMS)}."
            + (did_you_mean(name, ALGORITHMS) if isinstance(name, str) else "")
        ) from None


def validate_hyperparameters(algorithm: str, hp: Mapping[str, Any] | None) -> dict[str, Any]:
    """``hp`` checked against the algorithm's declarations, with defaults filled in.

    Raises:
        InvalidRequest: an unknown algorithm or hyperparameter (listing the known
            ones), a value of the wrong type or out of range.
    """
    if hp is not None and not isinstance(hp, Mapping):
        raise InvalidRequest(f"Hyperparameters must be an object of name → value; got {hp!r}.")
    info = get_algorithm(algorithm).info
    return validate_all(algorithm, info.hyperparameters, dict(hp or {}))


def num_cpus() -> int:
    """The CPUs the job may use (``SHIPYARD_NUM_CPUS``), else the machine's."""
    value = os.environ.get("SHIPYARD_NUM_CPUS", "")
    try:
        return max(1, int(float(value)))
    except ValueError:
        return os.cpu_count() or 1


def early_stopping(data: FitData) -> int | None:
    """The early-stopping patience asked for, checked to have a validation split to watch."""
    rounds = data.hyperparameters.get("early_stopping_rounds")
    if rounds is not None and (data.X_valid is None or len(data.X_valid) == 0):
        raise InvalidRequest(
            "early_stopping_rounds needs a validation split to watch; give the split a "
            "validation fraction (e.g. [0.7, 0.2, 0.1]) or a 'validation' input.")
    return rounds
