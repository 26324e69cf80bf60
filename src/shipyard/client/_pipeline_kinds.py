"""The pipeline DSL's job steps, one builder per job kind (``JobStep`` runs any kind)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shipyard.client._pipeline_steps import JobStep, dataset_value, job_model, model_version_of
from shipyard.client._reports import parse_facet, parse_positive
from shipyard.errors import InvalidRequest


def script_spec(script: str | Path | Mapping[str, str], step: str) -> dict[str, str]:
    """``{"filename", "source"}`` from a path to a .py file, the source itself, or the
    mapping; a path is read now, so the definition holds the code it runs."""
    from shipyard.client._jobs import _read_file

    if isinstance(script, Mapping):
        return {"filename": str(script["filename"]), "source": str(script["source"])}
    if isinstance(script, Path) or (isinstance(script, str) and "\n" not in script
                                    and script.strip().endswith(".py")):
        return {"filename": Path(script).name, "source": _read_file(script, "script")}
    if not isinstance(script, str) or not script.strip():
        raise InvalidRequest(f"Step {step!r} needs a script: a path to a .py file or its "
                             f"source; got {script!r}.")
    return {"filename": f"{step}.py", "source": script}


def _inputs(inputs: Mapping[str, Any] | None, **named: Any) -> dict[str, Any] | None:
    """The input channels from ``inputs`` and the shortcuts (``train=…``), each once."""
    out = {str(k): dataset_value(v) for k, v in (inputs or {}).items()}
    for channel, value in named.items():
        if value is None:
            continue
        if channel in out:
            raise InvalidRequest(f"The {channel} input is given twice (as {channel}= and in "
                                 "inputs); keep one.")
        out[channel] = dataset_value(value)
    return out or None


def _outputs(outputs: str | Sequence[str] | None) -> list[str] | None:
    if outputs is None:
        return None
    return [outputs] if isinstance(outputs, str) else [str(o) for o in outputs]


def _split(split: Sequence[float] | Mapping[str, Any] | None,
           method: str | None) -> dict[str, Any] | None:
    if split is None and method is None:
        return None
    out: dict[str, Any] = dict(split) if isinstance(split, Mapping) else (
        {"fractions": [float(f) for f in split]} if split is not None else {})
    if method is not None:
        out["method"] = method
    return out


class Processing(JobStep):
    """Run a script of yours (``script``: a path to a .py file, or its source) on
    ``inputs`` (channel → dataset or reference), writing the datasets ``outputs``."""

    type = "processing"

    def __init__(self, name: str, script: str | Path | Mapping[str, str], *,
                 inputs: Mapping[str, Any] | None = None,
                 outputs: str | Sequence[str] | None = None,
                 requirements: str | Path | Sequence[str] | None = None,
                 hyperparameters: Mapping[str, Any] | None = None,
                 metric_definitions: Mapping[str, str] | None = None, **fields: Any) -> None:
        from shipyard.client._jobs import _read_file

        if isinstance(requirements, str | Path):
            requirements = _read_file(requirements, "requirements")
        elif requirements is not None:
            requirements = "\n".join(requirements) + "\n"
        super().__init__(
            name, self.type, script=script_spec(script, name), inputs=_inputs(inputs),
            outputs=_outputs(outputs), requirements=requirements,
            hyperparameters=dict(hyperparameters) if hyperparameters else None,
            metric_definitions=[{"name": k, "regex": v} for k, v in metric_definitions.items()]
            if metric_definitions else None, **fields)


class Training(JobStep):
    """Train a built-in algorithm on ``train`` (or ``inputs`` train/validation/test)."""

    type = "training"

    def __init__(self, name: str, *, algorithm: str, train: Any = None, target: str | None = None,
                 validation: Any = None, test: Any = None,
                 inputs: Mapping[str, Any] | None = None,
                 hyperparameters: Mapping[str, Any] | None = None,
                 split: Sequence[float] | Mapping[str, Any] | None = None,
                 split_method: str | None = None, **fields: Any) -> None:
        recipe = fields.get("recipe")
        if recipe is not None and hasattr(recipe, "to_dict"):
            fields["recipe"] = recipe.to_dict()
        super().__init__(
            name, self.type, algorithm=algorithm, target=target,
            inputs=_inputs(inputs, train=train, validation=validation, test=test),
            hyperparameters=dict(hyperparameters) if hyperparameters else None,
            split=_split(split, split_method), **fields)


class Tuning(JobStep):
    """Tune a built-in algorithm's hyperparameters for ``objective`` (a validation metric)."""

    type = "tuning"

    def __init__(self, name: str, *, algorithm: str, objective: str, train: Any = None,
                 target: str | None = None, inputs: Mapping[str, Any] | None = None,
                 ranges: Mapping[str, Any] | None = None, max_trials: int | None = None,
                 parallel: int | None = None, strategy: str | None = None,
                 hyperparameters: Mapping[str, Any] | None = None, **fields: Any) -> None:
        super().__init__(
            name, self.type, algorithm=algorithm, objective=objective, target=target,
            inputs=_inputs(inputs, train=train), ranges=dict(ranges) if ranges else None,
            max_trials=max_trials, parallel=parallel, strategy=strategy,
            hyperparameters=dict(hyperparameters) if hyperparameters else None, **fields)


class AutoML(JobStep):
    """Search algorithms and their settings for ``target`` within ``time_budget`` seconds."""

    type = "automl"

    def __init__(self, name: str, *, target: str, train: Any = None,
                 inputs: Mapping[str, Any] | None = None, time_budget: float | None = None,
                 metric: str | None = None, mode: str | None = None,
                 algorithms: Sequence[str] | None = None, **fields: Any) -> None:
        super().__init__(
            name, self.type, target=target, inputs=_inputs(inputs, train=train),
            time_budget=time_budget, metric=metric, mode=mode,
            algorithms=list(algorithms) if algorithms else None, **fields)


class Transform(JobStep):
    """Run a registered model version over ``data``, writing the dataset ``output``."""

    type = "transform"

    def __init__(self, name: str, *, model: Any, output: str, data: Any = None,
                 inputs: Mapping[str, Any] | None = None,
                 keep_columns: Sequence[str] | None = None, chunk_rows: int | None = None,
                 **fields: Any) -> None:
        super().__init__(
            name, self.type, model=model_version_of(model, "model"),
            inputs=_inputs(inputs, data=data), outputs=[output],
            keep_columns=list(keep_columns) if keep_columns else None, chunk_rows=chunk_rows,
            **fields)


class Evaluate(JobStep):
    """Score a model on ``test``: the model of ``job`` (a training, tuning or AutoML step,
    or its ``.model``) or the registered ``model`` ("group:version")."""

    type = "evaluate"

    def __init__(self, name: str, *, job: Any = None, model: Any = None, test: Any = None,
                 inputs: Mapping[str, Any] | None = None, target: str | None = None,
                 **fields: Any) -> None:
        if (job is None) == (model is None):
            raise InvalidRequest(f"Evaluate step {name!r} needs exactly one of job= (a "
                                 "training step's .model) and model= ('group:version').")
        super().__init__(
            name, self.type, job=None if job is None else job_model(job, "job"),
            model=None if model is None else model_version_of(model, "model"),
            inputs=_inputs(inputs, test=test), target=target, **fields)


class Bias(JobStep):
    """A bias report of ``dataset``: ``label`` against ``facet`` ("sex=female", "age=>40"),
    and with ``model`` its predictions' metrics too."""

    type = "bias"

    def __init__(self, name: str, *, dataset: Any, label: str, facet: str,
                 positive: Any = None, label_threshold: float | None = None,
                 group: str | None = None, model: Any = None, **fields: Any) -> None:
        super().__init__(
            name, self.type, inputs=_inputs(None, dataset=dataset), label=label,
            **parse_positive(positive, label_threshold), **parse_facet(facet), group=group,
            model=None if model is None else model_version_of(model, "model"), **fields)


class Explain(JobStep):
    """SHAP explanations of ``model`` ("group:version") over ``dataset``."""

    type = "explain"

    def __init__(self, name: str, *, model: Any, dataset: Any, rows: int | None = None,
                 local_rows: int | None = None, **fields: Any) -> None:
        super().__init__(
            name, self.type, model=model_version_of(model, "model"),
            inputs=_inputs(None, dataset=dataset), rows=rows, local_rows=local_rows, **fields)


class Wrangle(JobStep):
    """A SQL query (``sql``) or a feature recipe (``recipe``) over ``inputs``, writing
    the dataset ``output``."""

    type = "wrangle"

    def __init__(self, name: str, *, output: str, sql: str | None = None,
                 recipe: Mapping[str, Any] | None = None,
                 inputs: Mapping[str, Any] | None = None, **fields: Any) -> None:
        if (sql is None) == (recipe is None):
            raise InvalidRequest(f"Wrangle step {name!r} runs a SQL query (sql=...) or a "
                                 "feature recipe (recipe=...); give exactly one.")
        super().__init__(name, self.type, outputs=[output], sql=sql,
                         recipe=dict(recipe) if recipe is not None else None,
                         inputs=_inputs(inputs), **fields)
