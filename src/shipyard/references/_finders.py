"""The referrers Shipyard knows today, found through each domain's repository.

Datasets are used by model versions (lineage), monitors (baseline, ground truth,
retraining spec), jobs that have not finished (inputs and outputs), schedules
(their job spec) and pipelines (a trigger watching it for new versions, a dataset
parameter's default, a step reading it by name). Model groups are used by endpoints (a
variant serves a version), unfinished jobs, schedules (a transform's model) and pipelines
(a trigger watching its approvals, a step using one of its versions by name). Endpoints
are watched by monitors. :func:`register_builtin` registers them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shipyard.jobs import STATUSES, TERMINAL
from shipyard.references._references import References, Referrer
from shipyard.store import (
    Database,
    EndpointRepository,
    EventLog,
    JobRepository,
    MonitorRepository,
    PipelineRepository,
    RegistryRepository,
    ScheduleRepository,
)

UNFINISHED = [s for s in STATUSES if s not in TERMINAL]
#: Unfinished jobs looked at, at most (a queue far longer than this is not a normal home).
MAX_JOBS = 100_000


def _dataset_of(ref: Any) -> str | None:
    """The dataset name of a spec input: ``"churn"``, ``"churn:3"`` or a pinned dict."""
    if isinstance(ref, Mapping):
        name = ref.get("dataset")
        return name if isinstance(name, str) else None
    if isinstance(ref, str):
        return ref.partition(":")[0]
    return None


def _group_of(model: Any) -> str | None:
    """The model group of a spec's ``model``: ``"churn:3"`` or a pinned dict."""
    if isinstance(model, Mapping):
        group = model.get("group")
        return group if isinstance(group, str) else None
    if isinstance(model, str):
        return model.rpartition(":")[0] or None
    return None


def spec_uses_dataset(spec: Mapping[str, Any], name: str) -> Iterator[str]:
    """How a job spec uses dataset ``name``: ``input 'train'``, ``writes it``."""
    for channel, ref in (spec.get("inputs") or {}).items():
        if _dataset_of(ref) == name:
            yield f"input {channel!r}"
    if name in (spec.get("outputs") or []):
        yield "writes it"


#: The fields of a pipeline's control steps that name a dataset (docs/pipelines.md).
STEP_DATASET_FIELDS = ("dataset", "baseline")


def _step_reads_dataset(step: Mapping[str, Any], name: str) -> Iterator[str]:
    """How a pipeline step names dataset ``name`` itself (not through a reference, whose
    value is only known when it runs): a job step's input, a quality check's data."""
    job = step.get("job")
    if isinstance(job, Mapping):
        inputs = job.get("inputs")
        for channel, ref in (inputs.items() if isinstance(inputs, Mapping) else ()):
            if _dataset_of(ref) == name:
                yield f"input {channel!r}"
    for field in STEP_DATASET_FIELDS:
        if _dataset_of(step.get(field)) == name:
            yield f"its {field}"


#: The fields of a pipeline's control steps that name a model version ``GROUP:VERSION``
#: (docs/pipelines.md). A register step's ``model`` is a job, and its ``group`` is written
#: (created when missing), so a register step is not a referrer.
STEP_MODEL_FIELDS = ("model", "model_version")


def _step_uses_group(step: Mapping[str, Any], group: str) -> Iterator[str]:
    """How a pipeline step names a version of model group ``group`` itself (not through a
    reference): a job step's model (transform, evaluate, explain), a quality check's model,
    the version an approval waits for or a deploy step serves."""
    job = step.get("job")
    if isinstance(job, Mapping) and _group_of(job.get("model")) == group:
        yield "its job's model"
    if step.get("type") == "register":
        return
    for field in STEP_MODEL_FIELDS:
        if _group_of(step.get(field)) == group:
            yield f"its {field}"


def _job_spec(target: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = target.get("spec", target)
    return spec if isinstance(spec, Mapping) else {}


class _Finders:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.registry = RegistryRepository(db, events)
        self.monitors = MonitorRepository(db, events)
        self.jobs = JobRepository(db, events)
        self.schedules = ScheduleRepository(db, events)
        self.endpoints = EndpointRepository(db, events)
        self.pipelines = PipelineRepository(db, events)

    # -- datasets -------------------------------------------------------------------------
    def lineage(self, name: str) -> list[Referrer]:
        out = []
        for v in self.registry.all_versions():
            for d in (v.lineage or {}).get("datasets") or []:
                if d.get("dataset") == name:
                    out.append(Referrer("model version", f"{v.group}:{v.version}",
                                        f"trained on version {d.get('version')}"))
        return out

    def monitor_data(self, name: str) -> list[Referrer]:
        from shipyard.monitoring import ground_truth_dataset

        out = []
        for m in self.monitors.list():
            if m.baseline.get("dataset") == name:
                out.append(Referrer("monitor", m.name,
                                    f"its baseline, version {m.baseline.get('version')}"))
            if ground_truth_dataset(m.endpoint) == name:
                out.append(Referrer("monitor", m.name, "its ground truth"))
            retrain = m.config.get("retrain")
            if isinstance(retrain, Mapping) and any(spec_uses_dataset(retrain, name)):
                out.append(Referrer("monitor", m.name, "its retraining job spec"))
        return out

    def unfinished_jobs_of_dataset(self, name: str) -> list[Referrer]:
        out = []
        for job in self.jobs.list(statuses=UNFINISHED, limit=MAX_JOBS):
            for how in spec_uses_dataset(job.spec, name):
                out.append(Referrer("job", job.id, f"{job.status}, {how}"))
        return out

    def schedules_of_dataset(self, name: str) -> list[Referrer]:
        return [Referrer("schedule", s.name, f"its job spec, {how}")
                for s in self.schedules.list("job")
                for how in spec_uses_dataset(_job_spec(s.target), name)]

    def pipelines_of_dataset(self, name: str) -> list[Referrer]:
        out = [Referrer("pipeline", t.pipeline, f"trigger {t.id} starts it on each new version")
               for t in self.pipelines.triggers(kind="dataset_version")
               if t.config.get("dataset") == name]
        for p in self.pipelines.list():
            definition = self.pipelines.version(p.name).definition
            out += [Referrer("pipeline", p.name, f"parameter {param.get('name')!r} defaults to it")
                    for param in definition.get("parameters") or []
                    if param.get("type") == "dataset" and _dataset_of(param.get("default")) == name]
            out += [Referrer("pipeline", p.name, f"step {step.get('name')!r} reads it, {how}")
                    for step in definition.get("steps") or [] if isinstance(step, Mapping)
                    for how in _step_reads_dataset(step, name)]
        return out

    # -- model groups ---------------------------------------------------------------------
    def serving_endpoints(self, group: str) -> list[Referrer]:
        return [Referrer("endpoint", ep.name,
                         f"variant {v.get('name')!r} serves version {v.get('model_version')}")
                for ep in self.endpoints.list()
                for v in ep.spec.get("variants") or []
                if v.get("model_group") == group]

    def unfinished_jobs_of_group(self, group: str) -> list[Referrer]:
        return [Referrer("job", job.id, f"{job.status}, uses version "
                                        f"{(job.spec.get('model') or {}).get('version')}")
                for job in self.jobs.list(statuses=UNFINISHED, limit=MAX_JOBS)
                if _group_of(job.spec.get("model")) == group]

    def schedules_of_group(self, group: str) -> list[Referrer]:
        return [Referrer("schedule", s.name, "its job spec names the model")
                for s in self.schedules.list("job")
                if _group_of(_job_spec(s.target).get("model")) == group]

    def pipelines_of_group(self, group: str) -> list[Referrer]:
        out = [Referrer("pipeline", t.pipeline, f"trigger {t.id} starts it on each approval")
               for t in self.pipelines.triggers(kind="model_approval")
               if t.config.get("group") == group]
        for p in self.pipelines.list():
            definition = self.pipelines.version(p.name).definition
            out += [Referrer("pipeline", p.name, f"step {step.get('name')!r} uses it, {how}")
                    for step in definition.get("steps") or [] if isinstance(step, Mapping)
                    for how in _step_uses_group(step, group)]
        return out

    # -- endpoints ------------------------------------------------------------------------
    def watching_monitors(self, endpoint: str) -> list[Referrer]:
        return [Referrer("monitor", m.name, "watches it") for m in self.monitors.list(endpoint)]


def register_builtin(refs: References, db: Database, events: EventLog) -> References:
    """Register every referrer kind Shipyard has today."""
    f = _Finders(db, events)
    refs.register("dataset", "model version", f.lineage)
    refs.register("dataset", "monitor", f.monitor_data)
    refs.register("dataset", "job", f.unfinished_jobs_of_dataset)
    refs.register("dataset", "schedule", f.schedules_of_dataset)
    refs.register("dataset", "pipeline", f.pipelines_of_dataset)
    refs.register("model_group", "endpoint", f.serving_endpoints)
    refs.register("model_group", "job", f.unfinished_jobs_of_group)
    refs.register("model_group", "schedule", f.schedules_of_group)
    refs.register("model_group", "pipeline", f.pipelines_of_group)
    refs.register("endpoint", "monitor", f.watching_monitors)
    return refs
