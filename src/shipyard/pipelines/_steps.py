"""Step runners: how each step type starts and how the engine learns it has ended.

A runner is two calls, both quick: ``start(ctx)`` (submit a job, register a model,
ask for a deployment…) and ``poll(ctx)`` (has it ended?). Neither blocks on the work
itself, so one engine thread advances many executions. A runner must be safe to
start again after a control-plane crash between its effect and the engine's record
of it: job steps submit with an idempotency key unique to the step's attempt (the
same job comes back), a register step finds the version it already made, a deploy
step finds the endpoint already serving the version. A callback may be delivered
twice after such a crash; it carries an ``Idempotency-Key`` header for the receiver.

Runners are registered by step type (:func:`runner_for`); every job kind is a step
type through :class:`JobRunner`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.errors import InvalidRequest, NotFound, ShipyardError
from shipyard.pipelines._definition import Step, field_problem
from shipyard.store import ExecutionRecord, StepRecord, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.datasets import DatasetService
    from shipyard.endpoints import EndpointService
    from shipyard.jobs import JobService
    from shipyard.registry import RegistryService
    from shipyard.settings import Settings

RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"
#: A monitoring report's alert kinds that a quality check fails on.
QUALITY_ALERTS = frozenset({"data_quality"})


@dataclass(frozen=True)
class Outcome:
    """What a start or a poll found: still running, succeeded (with outputs) or failed."""

    status: str
    outputs: Mapping[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    reason: str | None = None
    #: The failure is the platform's (a lost worker…) and the step's retry policy applies.
    retryable: bool = False


@dataclass(frozen=True)
class EngineServices:
    """The services step runners act through (the same the API uses)."""

    jobs: JobService
    registry: RegistryService
    endpoints: EndpointService
    datasets: DatasetService
    settings: Settings


@dataclass(frozen=True)
class StepContext:
    """What a runner gets: the step (references resolved on demand), its record, the
    execution, and the services."""

    execution: ExecutionRecord
    step: Step
    record: StepRecord
    services: EngineServices
    resolve: Callable[[Any], Any]
    now: datetime

    @property
    def actor(self) -> str | None:
        """Steps act for whoever started the execution (a trigger's creator)."""
        return self.execution.created_by

    @property
    def key(self) -> str:
        """Unique to this attempt of this step: the idempotency key of what it creates."""
        return f"pipeline:{self.execution.id}:{self.step.name}:{self.record.attempt}"


class Runner(Protocol):
    def start(self, ctx: StepContext) -> Outcome: ...

    def poll(self, ctx: StepContext) -> Outcome: ...


# -- job steps ----------------------------------------------------------------------------
def job_spec(ctx: StepContext) -> dict[str, Any]:
    """The job a job step submits: its ``job`` with references resolved, its kind, a name
    and tags that tie it to the execution."""
    body = ctx.resolve(dict(ctx.step.body.get("job") or {}))
    tags = {**(body.get("tags") or {}), "pipeline": ctx.execution.pipeline,
            "pipeline_execution": ctx.execution.id, "pipeline_step": ctx.step.name}
    return {**body, "kind": ctx.step.type,
            "name": body.get("name") or f"{ctx.execution.pipeline}.{ctx.step.name}"[:128],
            "tags": tags}


def job_outcome(ctx: StepContext, job_id: str) -> Outcome:
    """The outcome of a step whose work is the job ``job_id``."""
    from shipyard.jobs import nest_metrics

    jobs = ctx.services.jobs
    job = jobs.get(job_id)
    if job.status == "Completed":
        datasets = {name: f"{d['dataset']}:{d['version']}"
                    for name, d in ((job.outputs or {}).get("datasets") or {}).items()}
        outputs = {"job": job.id, "outputs": datasets,
                   "metrics": nest_metrics(jobs.metrics_summary(job.id))}
        if ctx.step.type in ("training", "tuning", "automl"):
            outputs["model"] = job.id
        return Outcome(SUCCEEDED, outputs, job_id=job.id)
    if job.status == "Failed":
        why = f"job {job.id} failed ({job.reason or 'unknown reason'})" + (
            f": {job.message}" if job.message else "")
        return Outcome(FAILED, {"job": job.id}, job_id=job.id, reason=why,
                       retryable=(job.reason or "") in ctx.step.retry.on)
    if job.status == "Stopped":
        return Outcome(FAILED, {"job": job.id}, job_id=job.id,
                       reason=f"job {job.id} was stopped" + (f": {job.message}"
                                                             if job.message else ""))
    return Outcome(RUNNING, job_id=job.id)


class JobRunner:
    """Every job kind: submit the job (idempotently, per attempt), then follow it."""

    def start(self, ctx: StepContext) -> Outcome:
        try:
            job, _ = ctx.services.jobs.submit(job_spec(ctx), ctx.actor, idempotency_key=ctx.key)
        except ShipyardError as exc:  # the spec cannot run: the step fails, and says why
            return Outcome(FAILED, reason=f"its {ctx.step.type} job was refused: {exc.message}")
        return job_outcome(ctx, job.id)

    def poll(self, ctx: StepContext) -> Outcome:
        if ctx.record.job_id is None:
            return self.start(ctx)
        return job_outcome(ctx, ctx.record.job_id)


class QualityCheckRunner:
    """Check a dataset against a baseline with a monitoring job; fail on quality alerts.

    The step names ``dataset`` (checked), ``baseline`` (the reference) and ``model``
    (GROUP:VERSION, whose inputs say which columns matter).
    """

    def start(self, ctx: StepContext) -> Outcome:
        body = ctx.resolve(dict(ctx.step.body))
        spec = {"kind": "monitoring", "name": f"{ctx.execution.pipeline}.{ctx.step.name}",
                "model": body.get("model"),
                "inputs": {"baseline": body["baseline"], "current": body["dataset"]},
                "monitor": {"monitor": f"{ctx.execution.pipeline}.{ctx.step.name}",
                            "problem_type": None, "exclude": []},
                "tags": {"pipeline": ctx.execution.pipeline,
                         "pipeline_execution": ctx.execution.id,
                         "pipeline_step": ctx.step.name}}
        try:
            job, _ = ctx.services.jobs.submit(spec, ctx.actor, idempotency_key=ctx.key)
        except ShipyardError as exc:
            return Outcome(FAILED, reason=f"its monitoring job was refused: {exc.message}")
        return self._judge(ctx, job.id)

    def poll(self, ctx: StepContext) -> Outcome:
        return self.start(ctx) if ctx.record.job_id is None else self._judge(ctx,
                                                                             ctx.record.job_id)

    def _judge(self, ctx: StepContext, job_id: str) -> Outcome:
        out = job_outcome(ctx, job_id)
        if out.status != SUCCEEDED:
            return out
        try:
            entry, chunks = ctx.services.jobs.open_artifact(job_id, "output/report.json")
            report = json.loads(b"".join(chunks))
        except (NotFound, ValueError) as exc:
            return Outcome(FAILED, out.outputs, job_id=job_id,
                           reason=f"its monitoring job left no readable report ({exc})")
        violations = [a for a in report.get("alerts") or []
                      if a.get("kind") in QUALITY_ALERTS]
        outputs = {**out.outputs, "violations": len(violations)}
        if violations:
            first = "; ".join(str(a.get("message")) for a in violations[:3])
            return Outcome(FAILED, outputs, job_id=job_id,
                           reason=f"{len(violations)} data-quality violation(s): {first}")
        return Outcome(SUCCEEDED, outputs, job_id=job_id)


# -- control-plane steps ------------------------------------------------------------------
class ConditionRunner:
    def start(self, ctx: StepContext) -> Outcome:
        try:
            result = evaluate_test(ctx.resolve(ctx.step.body["if"]))
        except ValueError as exc:
            return Outcome(FAILED, reason=f"its test cannot be evaluated: {exc}")
        return Outcome(SUCCEEDED, {"result": result,
                                   "branch": "then" if result else "else"})

    def poll(self, ctx: StepContext) -> Outcome:
        return self.start(ctx)


def evaluate_test(test: Any) -> bool:
    """Evaluate a resolved test: ``{left, op, right}``, or all/any/not of tests."""
    if "all" in test:
        return all(evaluate_test(t) for t in test["all"])
    if "any" in test:
        return any(evaluate_test(t) for t in test["any"])
    if "not" in test:
        return not evaluate_test(test["not"])
    left, op, right = test["left"], test["op"], test["right"]
    if left is None or right is None:
        raise ValueError(f"a side of {op} has no value (left {left!r}, right {right!r}); "
                         "was the metric reported?")
    if op in ("==", "!="):
        return (left == right) == (op == "==")
    try:
        a, b = float(left), float(right)
    except (TypeError, ValueError):
        raise ValueError(f"{op} compares numbers; got {left!r} and {right!r}") from None
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


class FailRunner:
    def start(self, ctx: StepContext) -> Outcome:
        return Outcome(FAILED, reason=str(ctx.resolve(ctx.step.body["message"])))

    def poll(self, ctx: StepContext) -> Outcome:
        return self.start(ctx)


class RegisterRunner:
    """Register the model of a job into a group (once, even when started again)."""

    def start(self, ctx: StepContext) -> Outcome:
        body = ctx.resolve(dict(ctx.step.body))
        registry = ctx.services.registry
        group, job_id = str(body["group"]), str(body["model"])
        try:
            model_job = registry.model_job(job_id).id
            existing = [v for v in _versions(registry, group) if v.job_id == model_job]
            rec = existing[0] if existing else registry.register(
                group, job_id, ctx.actor, description=body.get("model_description"),
                override_reason=body.get("override_reason"))
        except ShipyardError as exc:
            return Outcome(FAILED, reason=f"registering into {group!r} failed: {exc.message}")
        return Outcome(SUCCEEDED, {"model_version": f"{group}:{rec.version}",
                                   "status": rec.status})

    def poll(self, ctx: StepContext) -> Outcome:
        return self.start(ctx)


def _versions(registry: RegistryService, group: str) -> list[Any]:
    try:
        return list(registry.versions(group))
    except NotFound:
        return []


def _model_version(value: Any) -> tuple[str, int]:
    group, sep, version = str(value).rpartition(":")
    if not sep or not version.isdigit():
        raise InvalidRequest(f"A model version is GROUP:VERSION; got {value!r}.")
    return group, int(version)


class ApprovalRunner:
    """Wait until an approver approves the version (fail if it is rejected)."""

    def start(self, ctx: StepContext) -> Outcome:
        return self.poll(ctx)

    def poll(self, ctx: StepContext) -> Outcome:
        ref = ctx.resolve(ctx.step.body["model_version"])
        timeout = ctx.resolve(ctx.step.body.get("timeout_seconds"))
        problem = None if timeout is None else field_problem("timeout_seconds", timeout)
        if problem:
            return Outcome(FAILED, reason=problem)
        try:
            group, version = _model_version(ref)
            rec = ctx.services.registry.get(group, version)
        except ShipyardError as exc:
            return Outcome(FAILED, reason=exc.message)
        if rec.status == "Approved":
            return Outcome(SUCCEEDED, {"model_version": f"{group}:{version}",
                                       "approved_by": rec.status_changed_by})
        if rec.status == "Rejected":
            why = f": {rec.status_comment}" if rec.status_comment else ""
            return Outcome(FAILED, reason=f"{group}:{version} was rejected by "
                                          f"{rec.status_changed_by or 'an approver'}{why}")
        # The wait is timed from when this attempt began waiting (a retry resets the step's
        # outputs, so a retried approval waits its whole timeout again); a step recorded
        # waiting before that was kept counts from its first start.
        previous = ctx.record.outputs or {}
        if isinstance(previous.get("waiting_since"), str):
            since = datetime.fromisoformat(previous["waiting_since"])
        elif previous.get("waiting_for") == "approval":
            since = ctx.record.started_at or ctx.now
        else:
            since = ctx.now
        if timeout and (ctx.now - since).total_seconds() > float(timeout):
            return Outcome(FAILED, reason=f"{group}:{version} was not approved within "
                                          f"{timeout} s")
        return Outcome(RUNNING, {"model_version": f"{group}:{version}",
                                 "waiting_for": "approval",
                                 "waiting_since": since.isoformat()})


class DeployRunner:
    """Create the endpoint with the version, or update it to the version; wait until it
    serves (unless ``wait`` is false)."""

    def start(self, ctx: StepContext) -> Outcome:
        body = ctx.resolve(dict(ctx.step.body))
        eps = ctx.services.endpoints
        name, model = str(body["endpoint"]), str(body["model_version"])
        for field_name in ("instances", "wait"):
            problem = (None if body.get(field_name) is None
                       else field_problem(field_name, body[field_name]))
            if problem:
                return Outcome(FAILED, reason=problem)
        try:
            _model_version(model)
            try:
                current = eps.get(name)
            except NotFound:
                current = None
            instances = body.get("instances")
            if current is None:
                eps.create(name, model, instances=int(instances or 1),
                           actor=ctx.actor, actor_role=None)
            elif not _serves(current, model) or (
                    instances is not None and _instances(current) != instances):
                # The instances the step asks for hold for an endpoint that exists too.
                eps.update(name, model=model, instances=instances, actor=ctx.actor,
                           actor_role=None)
        except ShipyardError as exc:
            return Outcome(FAILED, reason=f"deploying {model} to {name!r} failed: "
                                          f"{exc.message}")
        return self.poll(ctx)

    def poll(self, ctx: StepContext) -> Outcome:
        body = ctx.resolve(dict(ctx.step.body))
        name, model = str(body["endpoint"]), str(body["model_version"])
        try:
            rec = ctx.services.endpoints.get(name)
        except NotFound:
            return Outcome(FAILED, reason=f"endpoint {name!r} was deleted while deploying")
        outputs = {"endpoint": name, "model_version": model}
        if body.get("wait") is False or (rec.status == "InService" and _serves(rec, model)):
            return Outcome(SUCCEEDED, outputs)
        if rec.status == "Failed":
            return Outcome(FAILED, outputs, reason=f"endpoint {name!r} failed: "
                                                   f"{getattr(rec, 'reason', None) or ''}")
        return Outcome(RUNNING, outputs)


def _instances(rec: Any) -> int | None:
    """The instance count of a one-variant endpoint (None for several variants)."""
    variants = (rec.spec or {}).get("variants") or []
    return int(variants[0].get("instances", 1)) if len(variants) == 1 else None


def _serves(rec: Any, model: str) -> bool:
    variants = (rec.spec or {}).get("variants") or []
    return any(f"{v.get('model_group')}:{v.get('model_version')}" == model for v in variants)


class CallbackRunner:
    """POST the step's body (and the execution's identity) to an SSRF-checked URL."""

    def start(self, ctx: StepContext) -> Outcome:
        from shipyard.monitoring import post_webhook

        body = ctx.resolve(dict(ctx.step.body))
        payload = {"pipeline": ctx.execution.pipeline, "execution": ctx.execution.id,
                   "step": ctx.step.name, "body": body.get("body")}
        settings = ctx.services.settings
        try:
            result = post_webhook(str(body["url"]), payload,
                                  allow_private=settings.webhook_allow_private,
                                  headers={"Idempotency-Key": ctx.key})
        except ShipyardError as exc:
            return Outcome(FAILED, reason=f"the callback URL was refused: {exc.message}")
        if not result.ok:
            why = result.error or f"HTTP {result.status_code}"
            return Outcome(FAILED, {"status_code": result.status_code},
                           reason=f"the callback failed: {why}", retryable=True)
        return Outcome(SUCCEEDED, {"status_code": result.status_code})

    def poll(self, ctx: StepContext) -> Outcome:
        return self.start(ctx)


RUNNERS: dict[str, Runner] = {
    "condition": ConditionRunner(), "fail": FailRunner(), "register": RegisterRunner(),
    "approval": ApprovalRunner(), "deploy": DeployRunner(), "callback": CallbackRunner(),
    "quality_check": QualityCheckRunner(),
}
_JOB_RUNNER = JobRunner()


def runner_for(step_type: str) -> Runner:
    return RUNNERS.get(step_type, _JOB_RUNNER)


def now() -> datetime:
    return utcnow()
