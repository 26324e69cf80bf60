"""Training jobs from the client side: the job spec of ``kind: training`` and metric shapes.

Pure helpers shared by the SDK (``sy.Job.train``) and the CLI (``shipyard jobs run
--kind training``), so both send the same spec (docs/training.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.errors import InvalidRequest

#: The input channels a training job reads.
TRAINING_CHANNELS = ("train", "validation", "test")
#: Metrics where a lower value is better (the server ranks runs the same way).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "mse"})
SPLIT_METHODS = ("auto", "random", "stratified", "time", "group")
SPLITS = ("train", "validation", "test")
#: The metrics tables show first, in this order (classification, regression, the rest).
HEADLINE = ("roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "f1", "f1_macro", "log_loss",
            "rmse", "mae", "r2", "mape", "silhouette", "share_flagged", "total")


def dataset_ref(value: Any) -> str:
    """A dataset name (``"churn"``, ``"churn:2"``) from a name or a :class:`Dataset`.

    Raises:
        InvalidRequest: a table (a DataFrame) or anything else that names no dataset: jobs
            read datasets on the server, so a table is uploaded first.
    """
    name = getattr(value, "name", value)
    if not isinstance(name, str):
        raise InvalidRequest(
            f"A job reads a dataset on the server, given by its name (or sy.Dataset); got "
            f"{type(value).__name__}. Upload a table first: sy.Dataset.create('NAME', df), "
            "then pass 'NAME'.")
    return name


def parse_split(text: str) -> tuple[float, ...]:
    """``"0.7,0.2,0.1"`` → ``(0.7, 0.2, 0.1)``; anything else is a clear error."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise InvalidRequest(
            f"Invalid split {text!r}: expected three fractions for train, validation and "
            "test, like 0.7,0.2,0.1."
        )
    return values


def training_spec(
    algorithm: str, train: Any, target: str | None = None, *, validation: Any = None,
    test: Any = None, split: Sequence[float] = (0.7, 0.2, 0.1), split_method: str = "auto",
    time_column: str | None = None, group_column: str | None = None, seed: int = 42,
    hyperparameters: Mapping[str, Any] | None = None, problem_type: str | None = None,
    experiment: str | None = None, tags: Mapping[str, Any] | None = None,
    notes: str | None = None, cpus: int | None = None, memory: str | int | None = None,
    max_runtime: float | None = None, name: str | None = None,
    recipe: Mapping[str, Any] | Any | None = None, drop: Sequence[str] | None = None,
    instances: int | None = None, retries: int = 0, cv_folds: int | None = None,
) -> dict[str, Any]:
    """The JSON spec of a training job (``POST /jobs`` with ``kind: training``).

    Args:
        train: the dataset to train on (a name, ``"name:version"`` or a :class:`Dataset`);
            it is split by ``split`` unless ``validation``/``test`` are given.
        split: fractions of train, validation and test (not sent when both
            ``validation`` and ``test`` are given).
        experiment: the experiment the run belongs to (the server's default: the train
            dataset's name).
        tags: labels of the run, e.g. ``{"team": "growth"}`` (values become strings).
        recipe: the feature recipe: ``{"extends": "default", "steps": [...]}`` adds steps
            to the default recipe, ``{"steps": [...]}`` replaces it (a
            ``shipyard.features.Recipe`` works too); see docs/features.md.
        drop: columns to leave out of the features, on top of what the recipe drops.
        instances: workers that train one model together, data parallel (xgboost and
            lightgbm on a server whose executor is Ray); not sent when None.
        retries: attempts after a lost worker; a retried boosting fit continues from its
            last checkpoint (docs/training.md, "Checkpoints").
        cv_folds: cross-validate over the train and validation rows in this many folds
            (2-20): out-of-fold validation metrics (docs/training.md, "Cross-validation");
            not sent when None.
    """
    if not algorithm:
        raise InvalidRequest("A training job needs an algorithm; `shipyard algorithms list` "
                             "shows them.")
    if train is None or (isinstance(train, str) and not train):
        raise InvalidRequest("A training job needs a train dataset (the 'train' input).")
    inputs = {"train": dataset_ref(train)}
    if validation is not None:
        inputs["validation"] = dataset_ref(validation)
    if test is not None:
        inputs["test"] = dataset_ref(test)
    spec: dict[str, Any] = {
        "kind": "training", "algorithm": algorithm, "target": target,
        "problem_type": problem_type, "inputs": inputs,
        "hyperparameters": dict(hyperparameters or {}),
    }
    if validation is None or test is None:
        # With both held-out datasets given, nothing is split.
        spec["split"] = {"fractions": [float(f) for f in split], "method": split_method,
                         "time_column": time_column, "seed": seed}
        if group_column:
            spec["split"]["group_column"] = group_column
    merged = recipe_with_drops(recipe, drop)
    if merged is not None:
        spec["recipe"] = merged
    if experiment:
        spec["experiment"] = experiment
    if tags:
        spec["tags"] = {str(k): str(v) for k, v in tags.items()}
    if notes is not None:
        spec["notes"] = notes
    if name:
        spec["name"] = name
    if instances is not None:
        spec["instances"] = instances
    if retries:
        spec["retries"] = retries
    if cv_folds is not None:
        spec["cv_folds"] = cv_folds
    return add_limits(spec, cpus=cpus, memory=memory, max_runtime=max_runtime)


def recipe_with_drops(recipe: Mapping[str, Any] | Any | None,
                      drop: Sequence[str] | None) -> dict[str, Any] | None:
    """The recipe to send: ``recipe`` as JSON with ``drop`` columns added to its ``drop`` list.

    With no recipe, dropping columns means "the default recipe, without these":
    ``{"extends": "default", "drop": [...]}``.
    """
    if recipe is not None and hasattr(recipe, "to_dict"):
        recipe = recipe.to_dict()
    if recipe is not None and not isinstance(recipe, Mapping):
        raise InvalidRequest(f"A recipe must be a JSON object (or a shipyard.features.Recipe); "
                             f"got {type(recipe).__name__}.")
    from shipyard.features._extend import add_drops

    return add_drops(recipe, [drop] if isinstance(drop, str) else drop)


def add_limits(spec: dict[str, Any], *, cpus: int | None, memory: str | int | None,
               max_runtime: float | None) -> dict[str, Any]:
    """Put the resource limits every job kind takes into ``spec`` (only those given)."""
    resources = {k: v for k, v in (("cpus", cpus), ("memory", memory)) if v is not None}
    if resources:
        spec["resources"] = resources
    if max_runtime is not None:
        spec["max_runtime_seconds"] = max_runtime
    return spec


def nest_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"test.roc_auc": x, "rows": 3}`` → ``{"test": {"roc_auc": x}, "rows": 3}``.

    Only ``train``/``validation``/``test`` names nest (as the server does); parts that
    are nested already stay so, so this works with either shape of a job's ``metrics``.
    """
    out: dict[str, Any] = {}
    for name, value in (metrics or {}).items():
        head, dot, rest = name.partition(".")
        if isinstance(value, Mapping):
            out.setdefault(name, {}).update(value)
        elif dot and head in SPLITS and isinstance(out.get(head, {}), dict):
            out.setdefault(head, {})[rest] = value
        else:
            out[name] = value
    return out


def flat_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inverse of :func:`nest_metrics`: ``{"test": {"roc_auc": x}}`` → ``{"test.roc_auc": x}``.

    Split names of ``""`` (the registry's key for metrics without a split) are dropped
    from the name.
    """
    out: dict[str, Any] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, Mapping):
            for name, v in value.items():
                out[f"{key}.{name}" if key else str(name)] = v
        else:
            out[key] = value
    return out


def metric_key(metric: str, split: str | None = "test") -> str:
    """``("roc_auc", "test")`` → ``"test.roc_auc"``; a dotted name is kept as it is."""
    return metric if "." in metric or not split else f"{split}.{metric}"


def lower_is_better(metric: str) -> bool:
    return metric.rsplit(".", 1)[-1] in LOWER_IS_BETTER


def criterion_text(c: Mapping[str, Any] | str) -> str:
    """A criterion as it is written: ``roc_auc>=0.8@test``."""
    if isinstance(c, str):
        return c
    return f"{c.get('metric')}{c.get('op', '>=')}{c.get('threshold'):g}@{c.get('split', 'test')}"


def headline(names: Sequence[str], limit: int = 6) -> list[str]:
    """The most telling of ``names`` (plain or ``split.metric``), at most ``limit``.

    Names outside :data:`HEADLINE` fill up the rest only when none is known.
    """
    known = [n for h in HEADLINE for n in names if n.rsplit(".", 1)[-1] == h]
    chosen = known or [n for n in names if not n.startswith("curve.")]
    return list(dict.fromkeys(chosen))[:limit]
