"""The pipeline service: definitions, executions (start, retry, stop) and their views.

It never runs a step itself: it records the wish (an Executing execution with Pending
steps, a Stopping one) and wakes the :class:`~shipyard.pipelines.PipelineEngine`.
"""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import Conflict, InvalidRequest
from shipyard.names import check_name
from shipyard.pipelines._definition import Definition, parse_definition, resolve_parameters
from shipyard.pipelines._steps import EngineServices
from shipyard.store import (
    Database,
    EventLog,
    ExecutionRecord,
    PipelineRecord,
    PipelineRepository,
    StepRecord,
    canonical_hash,
    iso,
)

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.datasets import DatasetService
    from shipyard.endpoints import EndpointService
    from shipyard.jobs import JobService
    from shipyard.registry import RegistryService
    from shipyard.settings import Settings

MAX_IDEMPOTENCY_KEY = 255
#: Parameters a trigger passes whether or not the definition declares them.
TRIGGER_PARAMETERS = frozenset({"commit", "branch", "repository"})


def new_execution_id() -> str:
    return f"exec-{uuid.uuid4().hex[:16]}"


class PipelineService:
    def __init__(self, db: Database, events: EventLog, jobs: JobService,
                 registry: RegistryService, endpoints: EndpointService,
                 datasets: DatasetService, settings: Settings) -> None:
        self.repo = PipelineRepository(db, events)
        self.jobs = jobs
        self.engine_services = EngineServices(jobs=jobs, registry=registry,
                                              endpoints=endpoints, datasets=datasets,
                                              settings=settings)
        #: Set when there is work for the engine (it waits on it between ticks).
        self.wakeup = threading.Event()
        jobs.on_end(lambda _job_id: self.wakeup.set())
        self._parsed: dict[tuple[str, int], Definition] = {}
        self._lock = threading.Lock()

    # -- definitions ----------------------------------------------------------------------
    def check(self, doc: Any) -> Definition:
        """Parse a definition against the registered job kinds (400 listing problems)."""
        from shipyard.jobs import kind_names

        defn = parse_definition(doc, kind_names())
        check_name(defn.name, "pipeline name")
        problems = job_spec_problems(defn)
        if problems:
            raise InvalidRequest("The pipeline definition is invalid: " + "; ".join(problems)
                                 + ".", problems=problems)
        return defn

    def create(self, doc: Any, actor: str | None) -> tuple[PipelineRecord, bool]:
        """Create a pipeline, or add a version when the definition changed; return it and
        whether a version was added."""
        defn = self.check(doc)
        document = dict(defn.document)
        return self.repo.save(defn.name, document, canonical_hash(document), defn.description,
                              actor)

    def parsed(self, name: str, version: int | None = None) -> Definition:
        """The checked definition of a version (cached: a version never changes)."""
        if version is not None:
            with self._lock:
                hit = self._parsed.get((name, version))
            if hit is not None:
                return hit
        rec = self.repo.version(name, version)
        from shipyard.jobs import kind_names

        defn = parse_definition(rec.definition, kind_names())
        with self._lock:
            self._parsed[(name, rec.version)] = defn
        return defn

    def get(self, name: str) -> PipelineRecord:
        return self.repo.get(name)

    def list(self) -> list[PipelineRecord]:
        return self.repo.list()

    def definition(self, name: str, version: int | None = None) -> dict[str, Any]:
        rec = self.repo.version(name, version)
        return {"name": name, "version": rec.version, "definition": rec.definition,
                "created_at": iso(rec.created_at), "created_by": rec.created_by}

    def delete(self, name: str, actor: str | None) -> None:
        self.repo.delete(name, actor)

    # -- executions -----------------------------------------------------------------------
    def start(self, name: str, parameters: Mapping[str, Any] | None, actor: str | None, *,
              idempotency_key: str | None = None, trigger: Mapping[str, Any] | None = None,
              version: int | None = None) -> tuple[ExecutionRecord, bool]:
        """Start an execution of the pipeline's latest (or given) version; return it and
        whether it is new. The same idempotency key returns the execution it started.

        Raises:
            NotFound: no such pipeline or version. InvalidRequest: an unknown parameter, a
            value of the wrong type, a parameter without default not given.
        """
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidRequest(f"An Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} "
                                 f"characters; got {len(idempotency_key)}.")
        rec = self.repo.version(name, version)
        defn = self.parsed(name, rec.version)
        trig = dict(trigger or {"kind": "manual"})
        extra = TRIGGER_PARAMETERS if trig.get("kind") != "manual" else frozenset()
        params = resolve_parameters(defn, dict(parameters or {}), extra)
        ex, created = self.repo.create_execution(
            new_execution_id(), name, rec.version, params, trig,
            [(s.name, s.type) for s in defn.steps], actor, idempotency_key=idempotency_key)
        if created:
            self.wakeup.set()
        return ex, created

    def execution(self, execution_id: str) -> ExecutionRecord:
        return self.repo.execution(execution_id)

    def steps(self, execution_id: str) -> builtins.list[StepRecord]:
        return self.repo.steps(execution_id)

    def executions(self, name: str | None = None, status: str | None = None,
                   limit: int = 100) -> builtins.list[ExecutionRecord]:
        from shipyard.pipelines._engine import EXECUTION_STATUSES

        if name is not None:
            self.repo.get(name)  # 404 for an unknown pipeline
        statuses = [s.strip() for s in status.split(",")] if status else None
        bad = [s for s in statuses or [] if s not in EXECUTION_STATUSES]
        if bad:
            raise InvalidRequest(f"Unknown execution status {bad[0]!r}; use one of "
                                 f"{', '.join(EXECUTION_STATUSES)}.")
        if not 1 <= limit <= 1000:
            raise InvalidRequest(f"limit must be between 1 and 1000; got {limit}.")
        return self.repo.executions(name, statuses, limit)

    def stop(self, execution_id: str, actor: str | None) -> ExecutionRecord:
        """Stop an execution: its running jobs are cancelled, its pending steps never start.
        An ended execution is returned unchanged."""
        ex = self.repo.execution(execution_id)
        if ex.status == "Executing":
            who = f" by {actor}" if actor else ""
            self.repo.set_execution_status(execution_id, "Stopping", ["Executing"], actor,
                                           reason=f"stopped{who}")
            self.wakeup.set()
        return self.repo.execution(execution_id)

    def retry(self, execution_id: str, actor: str | None) -> ExecutionRecord:
        """Run a Failed or Stopped execution again from its failed, stopped and skipped
        steps; the steps that succeeded keep their outputs and are not run again.

        Raises:
            Conflict: the execution is still running or succeeded.
        """
        from shipyard.pipelines._engine import FAILED, PENDING, SKIPPED, STOPPED

        ex = self.repo.execution(execution_id)
        if ex.status not in ("Failed", "Stopped"):
            raise Conflict(f"Execution {execution_id} is {ex.status}; only a Failed or "
                           "Stopped execution can be retried"
                           + (" (wait for it to end, or stop it first)."
                              if ex.status in ("Executing", "Stopping") else "."))
        for step in self.repo.steps(execution_id):
            if step.status in (FAILED, STOPPED, SKIPPED):
                self.repo.update_step(execution_id, step.name, [step.status], status=PENDING,
                                      reason=None, next_attempt_at=None, ended_at=None,
                                      job_id=None, outputs={}, cache_hit=False)
        self.repo.set_execution_status(execution_id, "Executing", ["Failed", "Stopped"], actor,
                                       reason=None)
        self.wakeup.set()
        return self.repo.execution(execution_id)


#: What a reference stands in for when its value is not known before a run (a string
#: parameter without a default, another step's output): a kind's precheck that names it
#: is about a value the run will give, so it is no problem of the definition.
STAND_IN = "stand-in"


def job_spec_problems(defn: Definition) -> list[str]:
    """What each job step's spec gets wrong on its own (a missing or unknown algorithm, an
    unknown field or hyperparameter), checked by its kind (its spec, then its
    ``precheck``) with references replaced by stand-ins of their type."""
    from shipyard.jobs import get_kind, parse_spec

    problems = []
    for step in defn.steps:
        if not step.is_job:
            continue
        raw = dict(step.body.get("job") or {})
        body = _stand_ins(raw, defn)
        try:
            parse_spec({**body, "kind": step.type})
            precheck = get_kind(step.type).precheck
            if precheck is not None:
                precheck(parse_spec({**_stand_ins(_known_values(raw), defn),
                                     "kind": step.type}))
        except InvalidRequest as exc:
            if f"'{STAND_IN}'" not in exc.message:
                problems.append(f"step {step.name!r}: {exc.message.rstrip('.')}")
    return problems


def _known_values(job: dict[str, Any]) -> dict[str, Any]:
    """A job step's spec without the hyperparameters a reference gives (their value, and
    whether it is in range, is known at the run, whose submit checks it)."""
    from shipyard.pipelines._definition import is_ref

    hp = job.get("hyperparameters")
    if not isinstance(hp, Mapping):
        return job
    return {**job, "hyperparameters": {k: v for k, v in hp.items() if not is_ref(v)}}


def _stand_ins(value: Any, defn: Definition) -> Any:
    from shipyard.pipelines._definition import is_ref, parse_ref

    if is_ref(value):
        ref = parse_ref(value["ref"])
        if ref.root == "parameters":
            param = defn.parameter(ref.name)
            if param is not None and param.default is not None:
                return param.default
            return {"int": 1, "float": 1.0, "bool": True}.get(param.type if param else "",
                                                             STAND_IN)
        what = ref.path[0] if ref.path else ""
        return {"metrics": 1.0, "model": "job-stand-in", "job": "job-stand-in",
                "model_version": "stand-in:1"}.get(what, STAND_IN)
    if isinstance(value, Mapping):
        return {k: _stand_ins(v, defn) for k, v in value.items()}
    if isinstance(value, list):
        return [_stand_ins(v, defn) for v in value]
    return value


# -- views --------------------------------------------------------------------------------
def pipeline_to_dict(rec: PipelineRecord) -> dict[str, Any]:
    return {"name": rec.name, "description": rec.description,
            "latest_version": rec.latest_version, "created_at": iso(rec.created_at),
            "updated_at": iso(rec.updated_at), "created_by": rec.created_by}


def step_to_dict(rec: StepRecord) -> dict[str, Any]:
    return {"name": rec.name, "type": rec.type, "status": rec.status, "attempt": rec.attempt,
            "job_id": rec.job_id, "cache_hit": rec.cache_hit, "outputs": rec.outputs,
            "reason": rec.reason, "next_attempt_at": iso(rec.next_attempt_at),
            "started_at": iso(rec.started_at), "ended_at": iso(rec.ended_at)}


def execution_to_dict(rec: ExecutionRecord,
                      steps: list[StepRecord] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rec.id, "pipeline": rec.pipeline, "version": rec.version, "status": rec.status,
        "parameters": rec.parameters, "trigger": rec.trigger, "reason": rec.reason,
        "created_at": iso(rec.created_at), "updated_at": iso(rec.updated_at),
        "ended_at": iso(rec.ended_at), "created_by": rec.created_by}
    if steps is not None:
        out["steps"] = [step_to_dict(s) for s in steps]
    return out
