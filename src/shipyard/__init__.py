"""Shipyard: a self-hosted platform for the whole machine-learning lifecycle.

In a notebook::

    import shipyard as sy
    sy.connect()
    ds = sy.Dataset.create("churn", df)
    job = sy.Job.train("xgboost", ds, target="churned").wait()
    sy.Experiment("churn").compare("roc_auc")
    sy.Pipeline("retrain", steps=[sy.steps.Training("train", algorithm="xgboost",
                                                    train="churn", target="churned")]).start()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["SQL", "AutoML", "bias", "explain",
           "Catalog", "Client", "Dataset", "Endpoint", "Execution", "ExecutionFailed",
           "Experiment", "Job", "JobFailed", "LabelingJob", "Lineage", "ModelGroup",
           "ModelVersion", "Monitor",
           "Parameter", "Pipeline", "Schedule", "__version__", "algorithms", "connect",
           "hub", "sql", "steps"]

_SDK_NAMES = frozenset({"SQL", "AutoML", "bias", "explain",
                        "Catalog", "Client", "Dataset", "Endpoint", "Execution",
                        "ExecutionFailed", "Experiment", "Job", "JobFailed", "LabelingJob",
                        "Lineage",
                        "ModelGroup", "ModelVersion", "Monitor", "Parameter", "Pipeline",
                        "Schedule", "algorithms", "connect", "sql", "steps"})

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.client import (
        SQL,
        AutoML,
        Catalog,
        Client,
        Dataset,
        Endpoint,
        Execution,
        ExecutionFailed,
        Experiment,
        Job,
        JobFailed,
        LabelingJob,
        Lineage,
        ModelGroup,
        ModelVersion,
        Monitor,
        Parameter,
        Pipeline,
        Schedule,
        algorithms,
        bias,
        connect,
        explain,
        sql,
        steps,
    )


def __getattr__(name: str) -> Any:
    # The SDK is imported lazily so `import shipyard` stays cheap inside jobs and servers.
    if name == "hub":  # sy.hub: the catalog, and sy.hub.fine_tune
        import shipyard.hub

        return shipyard.hub
    if name in _SDK_NAMES:
        from shipyard import client

        return getattr(client, name)
    if name == "hub":  # the package: its catalog, and sy.hub.list/show/deploy over HTTP
        import importlib

        return importlib.import_module("shipyard.hub")
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
