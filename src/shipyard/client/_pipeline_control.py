"""The pipeline DSL's control steps: they run in the control plane, not as jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shipyard.client._pipeline_refs import (
    Collector,
    Operand,
    Reference,
    Test,
    as_test,
    compile_value,
)
from shipyard.client._pipeline_steps import (
    Step,
    dataset_value,
    job_model,
    model_version_of,
    step_name,
)


class Condition(Step):
    """Take the ``then`` branch when ``if_`` holds, else the ``else_`` branch; the steps of
    the branch not taken are Skipped (and those that depend on them)."""

    type = "condition"

    def __init__(self, name: str, if_: Test | Operand, then: Sequence[Step | str] = (),
                 else_: Sequence[Step | str] = (), **options: Any) -> None:
        super().__init__(name, **options)
        self.test = as_test(if_)
        self.then = list(then)
        self.else_ = list(else_)

    def _fields(self, into: Collector) -> dict[str, Any]:
        return {"if": compile_value(self.test, into),  # its steps first, then the branches'
                "then": [step_name(s, into, follows=True) for s in self.then],
                "else": [step_name(s, into, follows=True) for s in self.else_]}

    @property
    def result(self) -> Reference:
        """True when the test held."""
        return Reference(f"steps.{self.name}.result", self)


class Register(Step):
    """Register the model of ``model`` (a training, tuning or AutoML step) into ``group``."""

    type = "register"

    def __init__(self, name: str, *, model: Any, group: str,
                 model_description: str | None = None, override_reason: str | None = None,
                 **options: Any) -> None:
        super().__init__(name, **options)
        self.model = job_model(model, "model")
        self.group = group
        self.model_description = model_description
        self.override_reason = override_reason

    def _fields(self, into: Collector) -> dict[str, Any]:
        out = {"model": self.model, "group": self.group,
               "model_description": self.model_description,
               "override_reason": self.override_reason}
        return {k: v for k, v in out.items() if v is not None}

    @property
    def model_version(self) -> Reference:
        """What the step registered, as ``group:version``."""
        return Reference(f"steps.{self.name}.model_version", self)


class Approval(Step):
    """Wait until an approver approves ``model_version`` (the step fails if it is
    rejected, or after ``timeout``: seconds or a ``timedelta``, as ``cache_expiry``)."""

    type = "approval"

    def __init__(self, name: str, *, model_version: Any,
                 timeout: float | timedelta | None = None, **options: Any) -> None:
        super().__init__(name, **options)
        self.model_version = model_version_of(model_version, "model_version")
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout

    def _fields(self, into: Collector) -> dict[str, Any]:
        out: dict[str, Any] = {"model_version": self.model_version}
        if self.timeout is not None:
            out["timeout_seconds"] = self.timeout
        return out


class Deploy(Step):
    """Create the endpoint with ``model_version``, or update it to that version, and wait
    until it serves (``wait=False``: do not wait)."""

    type = "deploy"

    def __init__(self, name: str, *, model_version: Any, endpoint: str,
                 instances: int | None = None, wait: bool | None = None,
                 **options: Any) -> None:
        super().__init__(name, **options)
        self.model_version = model_version_of(model_version, "model_version")
        self.endpoint_name = endpoint
        self.instances = instances
        self.wait = wait

    def _fields(self, into: Collector) -> dict[str, Any]:
        out = {"model_version": self.model_version, "endpoint": self.endpoint_name,
               "instances": self.instances, "wait": self.wait}
        return {k: v for k, v in out.items() if v is not None}

    @property
    def endpoint(self) -> Reference:
        """The endpoint the step deployed to."""
        return Reference(f"steps.{self.name}.endpoint", self)


class Callback(Step):
    """POST ``body`` (with the pipeline, execution and step) to ``url``."""

    type = "callback"

    def __init__(self, name: str, url: str, body: Any = None, **options: Any) -> None:
        super().__init__(name, **options)
        self.url = url
        self.body = body

    def _fields(self, into: Collector) -> dict[str, Any]:
        return {"url": self.url, **({"body": self.body} if self.body is not None else {})}


class QualityCheck(Step):
    """Check ``dataset`` against the statistics and constraints of ``baseline`` for the
    inputs of ``model`` ("group:version"); the step fails on a data-quality violation."""

    type = "quality_check"

    def __init__(self, name: str, dataset: Any, baseline: Any, model: Any,
                 **options: Any) -> None:
        super().__init__(name, **options)
        self.dataset = dataset_value(dataset)
        self.baseline = dataset_value(baseline)
        self.model = model_version_of(model, "model")

    def _fields(self, into: Collector) -> dict[str, Any]:
        return {"dataset": self.dataset, "baseline": self.baseline, "model": self.model}


class Fail(Step):
    """End the execution Failed with ``message`` (e.g. on a condition's else branch)."""

    type = "fail"

    def __init__(self, name: str, message: Any, **options: Any) -> None:
        super().__init__(name, **options)
        self.message = message

    def _fields(self, into: Collector) -> dict[str, Any]:
        return {"message": self.message}
