"""The pipeline DSL's step base: the options every step takes, how a step becomes JSON,
job steps and the references they make (the builders: ``_pipeline_kinds``,
``_pipeline_control``; the ``sy.steps`` namespace: ``_pipeline_dsl``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shipyard.client._pipeline_refs import (
    Collector,
    MetricReference,
    Operand,
    Reference,
    check_name,
    compile_value,
)
from shipyard.client._training import add_limits, dataset_ref
from shipyard.errors import InvalidRequest

#: The options every step takes (the rest of a job step's keywords are its job spec).
STEP_OPTIONS = ("depends_on", "retry", "cache", "cache_expiry", "description")
#: Step types whose model later steps may use (as ``shipyard.pipelines`` says; a test
#: keeps the two equal without the SDK importing the server's package).
MODEL_MAKERS = frozenset({"training", "tuning", "automl"})


@dataclass(frozen=True)
class Retry:
    """How a step is attempted again after a failure.

    Args:
        on: the job failure reasons retried (default: the platform's own, such as
            ``worker_lost``; a script's own error is not retried unless named here).
    """

    max_attempts: int = 3
    backoff_seconds: float = 2.0
    backoff_rate: float = 2.0
    on: Sequence[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"max_attempts": self.max_attempts,
                               "backoff_seconds": self.backoff_seconds,
                               "backoff_rate": self.backoff_rate}
        if self.on is not None:
            out["on"] = list(self.on)
        return out


class Step:
    """A step of a pipeline; the subclasses are the step types."""

    type = ""

    def __init__(self, name: str, **options: Any) -> None:
        self.name = check_name(name, "step")
        unknown = sorted(set(options) - set(STEP_OPTIONS))
        if unknown:
            raise InvalidRequest(f"{type(self).__name__} step {name!r} has no option "
                                 f"{unknown[0]!r}; the options of every step are "
                                 f"{', '.join(STEP_OPTIONS)}.")
        self.depends_on: list[Step | str] = list(options.get("depends_on") or [])
        self.retry: Retry | int | Mapping[str, Any] | None = options.get("retry")
        self.cache: bool | Mapping[str, Any] | None = options.get("cache")
        self.cache_expiry: float | timedelta | None = options.get("cache_expiry")
        self.description: str | None = options.get("description")

    def _fields(self, into: Collector) -> dict[str, Any]:
        """The step's own fields (references not yet compiled)."""
        return {}

    def compile(self, into: Collector | None = None) -> dict[str, Any]:
        """The step as definition JSON; ``into`` records what it references."""
        into = into if into is not None else Collector()
        doc: dict[str, Any] = {"name": self.name, "type": self.type,
                               **compile_value(self._fields(into), into)}
        if self.depends_on:
            doc["depends_on"] = [step_name(d, into) for d in self.depends_on]
        if self.retry is not None:
            doc["retry"] = _retry(self.retry)
        cache = _cache(self.cache, self.cache_expiry)
        if cache is not None:
            doc["cache"] = cache
        if self.description:
            doc["description"] = self.description
        return doc

    def to_dict(self) -> dict[str, Any]:
        return self.compile()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} step {self.name}>"


def step_name(value: Any, into: Collector | None = None, follows: bool = False) -> str:
    """A step's name from the step (recorded in ``into``: as one that ``follows``, on a
    condition's branch, or as a dependency) or the name itself."""
    if isinstance(value, Step):
        if into is not None:
            (into.follower if follows else into.step)(value)
        return value.name
    return check_name(value, "step")


def _retry(value: Retry | int | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, Retry):
        return value.to_dict()
    if isinstance(value, int) and not isinstance(value, bool):
        return {"max_attempts": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidRequest(f"retry is a Retry(...), a number of attempts or a mapping; got "
                         f"{value!r}.")


def _cache(cache: bool | Mapping[str, Any] | None,
           expiry: float | timedelta | None) -> bool | dict[str, Any] | None:
    if expiry is None:
        return dict(cache) if isinstance(cache, Mapping) else cache
    seconds = expiry.total_seconds() if isinstance(expiry, timedelta) else float(expiry)
    return {"enabled": True if cache is None else bool(cache),
            "expire_after_seconds": int(seconds)}


class Outputs:
    """``step.outputs["clean"]`` (or ``step.outputs.clean``): the dataset version a job
    step wrote, as ``name:version``."""

    def __init__(self, step: JobStep) -> None:
        self._step = step

    def __getitem__(self, name: str) -> Reference:
        declared = self._step.spec.get("outputs")
        if isinstance(declared, list) and declared and name not in declared:
            raise InvalidRequest(f"Step {self._step.name!r} has no output {name!r}; its "
                                 f"outputs are {', '.join(map(str, declared))}.")
        return Reference(f"steps.{self._step.name}.outputs.{name}", self._step)

    def __getattr__(self, name: str) -> Reference:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except InvalidRequest as exc:
            raise AttributeError(exc.message) from None


class JobStep(Step):
    """A step that runs a job of ``kind`` (any kind the server runs, plug-ins included);
    ``spec`` is that kind's job spec without ``kind``.

    ``cpus``, ``memory`` ("2G") and ``max_runtime`` (seconds) set the job's limits.
    """

    def __init__(self, name: str, kind: str, **fields: Any) -> None:
        options = {k: fields.pop(k) for k in STEP_OPTIONS if k in fields}
        super().__init__(name, **options)
        if not isinstance(kind, str) or not kind:
            raise InvalidRequest(f"Step {name!r} needs the job kind it runs; got {kind!r}.")
        self.type = kind
        limits = {k: fields.pop(k, None) for k in ("cpus", "memory", "max_runtime")}
        spec = {k: v for k, v in fields.items() if v is not None}
        self.spec: dict[str, Any] = add_limits(spec, **limits)

    def _fields(self, into: Collector) -> dict[str, Any]:
        return {"job": self.spec}

    @property
    def job(self) -> Reference:
        """The id of the job the step ran."""
        return Reference(f"steps.{self.name}.job", self)

    @property
    def outputs(self) -> Outputs:
        return Outputs(self)

    @property
    def metrics(self) -> MetricReference:
        """The job's metrics: ``.metrics.test.roc_auc`` (the last value logged)."""
        return MetricReference(f"steps.{self.name}.metrics", self)

    @property
    def model(self) -> Reference:
        """The job whose model this step made (training, tuning and AutoML steps)."""
        if self.type not in MODEL_MAKERS:
            raise AttributeError(f"A {self.type} step makes no model; only training, tuning "
                                 f"and automl steps do (use {self.name}.job for its job).")
        return Reference(f"steps.{self.name}.model", self)


def dataset_value(value: Any) -> Any:
    """A dataset: a reference or parameter, ``"name"``/``"name:version"``, or a Dataset."""
    return value if isinstance(value, Operand | str) else dataset_ref(value)


def job_model(value: Any, what: str) -> Any:
    """The job whose model is meant: a training/tuning/AutoML step, a reference, a job id."""
    if isinstance(value, JobStep):
        return value.model
    if isinstance(value, Operand | str):
        return value
    raise InvalidRequest(f"{what} is a training, tuning or automl step, its .model, or a job "
                         f"id; got {value!r}.")


def model_version_of(value: Any, what: str) -> Any:
    """A registered version: a register step, a reference, ``"group:version"`` or a
    ModelVersion."""
    if isinstance(value, Step) and value.type == "register":
        return getattr(value, "model_version")  # noqa: B009 - a Register's reference
    if isinstance(value, Operand | str):
        return value
    group, version = getattr(value, "group", None), getattr(value, "version", None)
    if group is not None and version is not None:
        return f"{group}:{int(version)}"
    raise InvalidRequest(f"{what} is a register step, its .model_version, 'group:version' or "
                         f"a ModelVersion; got {value!r}.")
