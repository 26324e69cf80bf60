"""The links Shipyard records today, read from each domain's repository.

Every link is found from what the store already keeps: a job's pinned inputs and its
output datasets, a model version's job, an endpoint's variants, a monitor's endpoint and
baseline, a monitoring execution's job, and the ``monitor.retraining_started`` events.
Who serves a model group, and who watches an endpoint or a dataset, is asked of the
server's :class:`~shipyard.references.References` (the finders deletes use).

Questions with no index ("which jobs read dataset churn:3?") scan: the newest
:data:`JOB_SCAN` jobs whose spec JSON holds the name, checked one by one in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shipyard.errors import NotFound
from shipyard.lineage._graph import Attribute, Edge, Links, Node, Side
from shipyard.lineage._refs import Ref
from shipyard.references import References
from shipyard.store import (
    Database,
    DatasetRepository,
    EndpointRepository,
    EventLog,
    JobRecord,
    JobRepository,
    MonitorRepository,
    MonitorRunRecord,
    RegistryRepository,
    iso,
)

#: Jobs looked at, at most, when asking which jobs read a dataset or model version (the
#: newest first; older ones beyond this are not found).
JOB_SCAN = 5_000
#: Executions of one monitor looked at, at most (the newest).
RUN_SCAN = 100
#: Retraining events looked at, at most, per question.
EVENT_SCAN = 1_000
RETRAINING_STARTED = "monitor.retraining_started"
#: The channels of a monitoring job whose dataset versions its execution wrote.
WRITTEN_BY_EXECUTION = ("current", "predictions")

Finder = Callable[[str], list[Edge]]


def _pin(key: str, value: str) -> str:
    """How ``{key: value}`` reads inside a stored JSON document (the store's serialiser)."""
    return f"{json.dumps(key)}: {json.dumps(value)}"


def _inputs(job: JobRecord) -> Iterator[tuple[str, str, int]]:
    """``(channel, dataset, version)`` of each pinned input of a job."""
    for channel, ref in (job.spec.get("inputs") or {}).items():
        if isinstance(ref, Mapping) and isinstance(ref.get("dataset"), str) \
                and isinstance(ref.get("version"), int):
            yield str(channel), ref["dataset"], ref["version"]


def _input_hash(job: JobRecord, dataset: str, version: int) -> str | None:
    """The content hash the job recorded for its input ``dataset:version`` (None: none)."""
    for ref in (job.spec.get("inputs") or {}).values():
        if isinstance(ref, Mapping) and (ref.get("dataset"), ref.get("version")) == (
                dataset, version) and isinstance(ref.get("content_hash"), str):
            return str(ref["content_hash"])
    return None


def _model_of(job: JobRecord) -> str | None:
    model = job.spec.get("model")
    if isinstance(model, Mapping) and model.get("group") and model.get("version"):
        return f"model:{model['group']}:{model['version']}"
    return None


def _attrs(**values: Any) -> dict[str, Attribute]:
    return {k: v for k, v in values.items() if v is not None}


class Builtin:
    """Describe and link the built-in node types (see the module docstring)."""

    def __init__(self, db: Database, events: EventLog, references: References) -> None:
        self.datasets = DatasetRepository(db, events)
        self.jobs = JobRepository(db, events)
        self.registry = RegistryRepository(db, events)
        self.endpoints = EndpointRepository(db, events)
        self.monitors = MonitorRepository(db, events)
        self.events = events
        self.references = references
        self._links: dict[tuple[str, Side], Finder] = {
            ("dataset", "upstream"): self._dataset_up,
            ("dataset", "downstream"): self._dataset_down,
            ("job", "upstream"): self._job_up, ("job", "downstream"): self._job_down,
            ("model", "upstream"): self._model_up, ("model", "downstream"): self._model_down,
            ("endpoint", "upstream"): self._endpoint_up,
            ("endpoint", "downstream"): self._endpoint_down,
            ("capture", "upstream"): lambda key: [Edge(f"endpoint:{key}", f"capture:{key}",
                                                       "captured")],
            ("capture", "downstream"): self._capture_down,
            ("monitor", "upstream"): self._monitor_up,
            ("monitor", "downstream"): self._monitor_down,
            ("monitor-execution", "upstream"): self._run_up,
            ("monitor-execution", "downstream"): self._run_down,
        }

    # -- resolving and describing ----------------------------------------------------------
    def resolve(self, ref: Ref) -> str:
        """The node id of ``ref``, a version filled in (NotFound: no such object)."""
        if ref.type == "dataset" and ref.version is None:
            return f"dataset:{ref.name}:{self.datasets.version(ref.name).version}"
        if ref.type == "model" and ref.version is None:
            return f"model:{ref.name}:{self.registry.get(ref.name).version}"
        return ref.id

    def describe(self, node_id: str, strict: bool = False) -> Node:
        """The node ``node_id``; one whose object is gone is marked ``missing``.

        Raises:
            NotFound: ``strict`` and the object does not exist.
        """
        type_, _, key = node_id.partition(":")
        describer = getattr(self, "_describe_" + type_.replace("-", "_"), None)
        if describer is None:
            return Node.bare(node_id)
        try:
            label, attributes = describer(key)
        except NotFound:
            if strict:
                raise
            return Node(node_id, type_, key, {"missing": True})
        return Node(node_id, type_, label, attributes)

    def _describe_dataset(self, key: str) -> tuple[str, dict[str, Attribute]]:
        name, _, version = key.rpartition(":")
        v = self.datasets.version(name, int(version))
        source = v.source.get("type") or v.source.get("kind")
        return key, _attrs(rows=v.num_rows, columns=v.num_columns,
                           content_hash=v.content_hash[:12], source=source,
                           created_at=iso(v.created_at), created_by=v.created_by)

    def _describe_job(self, key: str) -> tuple[str, dict[str, Attribute]]:
        job = self.jobs.get(key)
        return key, _attrs(kind=job.kind, name=job.name, status=job.status,
                           algorithm=job.spec.get("algorithm"), created_at=iso(job.created_at),
                           ended_at=iso(job.ended_at), created_by=job.created_by)

    def _describe_model(self, key: str) -> tuple[str, dict[str, Attribute]]:
        group, _, version = key.rpartition(":")
        v = self.registry.get(group, int(version))
        return key, _attrs(status=v.status, created_at=iso(v.created_at),
                           created_by=v.created_by)

    def _describe_endpoint(self, key: str) -> tuple[str, dict[str, Attribute]]:
        ep = self.endpoints.get(key)
        return key, _attrs(status=ep.status, capture_percent=ep.spec.get("capture_percent"),
                           created_at=iso(ep.created_at), created_by=ep.created_by)

    def _describe_capture(self, key: str) -> tuple[str, dict[str, Attribute]]:
        ep = self.endpoints.get(key)
        return f"traffic captured by {key}", _attrs(
            capture_percent=ep.spec.get("capture_percent"), endpoint=key)

    def _describe_monitor(self, key: str) -> tuple[str, dict[str, Attribute]]:
        mon = self.monitors.get(key)
        return key, _attrs(endpoint=mon.endpoint, created_at=iso(mon.created_at),
                           created_by=mon.created_by)

    def _describe_monitor_execution(self, key: str) -> tuple[str, dict[str, Attribute]]:
        name, _, seq = key.rpartition(":")
        run = self.monitors.get_run(name, int(seq))
        return f"{name} execution {run.seq}", _attrs(
            status=run.status, trigger=run.trigger, window_start=iso(run.window_start),
            window_end=iso(run.window_end), alerts=len(run.summary.get("alerts") or []),
            created_at=iso(run.created_at), finished_at=iso(run.finished_at))

    # -- links -----------------------------------------------------------------------------
    def links(self, node_id: str, side: Side) -> Links:
        """The edges on ``side`` of ``node_id`` (nothing for a type it does not know)."""
        type_, _, key = node_id.partition(":")
        finder = self._links.get((type_, side))
        if finder is None:
            return Links()
        try:
            return Links(edges=tuple(dict.fromkeys(finder(key))))
        except NotFound:  # the object is gone: nothing more is known of it
            return Links()

    def _same_content(self, dataset: str, version: int, content: str | None) -> bool:
        """Whether ``dataset:version`` still holds what a job read (True when unknown or
        deleted: the reference still names what it read)."""
        if content is None:
            return True
        try:
            return bool(self.datasets.version(dataset, version).content_hash == content)
        except NotFound:
            return True

    def _jobs_mentioning(self, key: str, value: str) -> list[JobRecord]:
        return self.jobs.list(spec_contains=_pin(key, value), limit=JOB_SCAN)

    def _dataset_up(self, key: str) -> list[Edge]:
        name, _, version = key.rpartition(":")
        v = self.datasets.version(name, int(version))
        node = f"dataset:{key}"
        edges = []
        job_id = v.source.get("job_id") if v.source.get("type") == "job" else None
        if isinstance(job_id, str):  # a source is what the uploader said: check the job
            try:
                made = (self.jobs.get(job_id).outputs.get("datasets") or {}).values()
            except NotFound:
                made = []
            if {"dataset": name, "version": int(version)} in list(made):
                edges.append(Edge(f"job:{job_id}", node, "produced"))
        if v.source.get("kind") == "monitor":  # a window or predictions snapshot
            for job in self._jobs_mentioning("dataset", name):
                if job.kind != "monitoring" or not any(
                        c in WRITTEN_BY_EXECUTION and (d, n) == (name, int(version))
                        for c, d, n in _inputs(job)):
                    continue
                run = self.monitors.run_of_job(job.id)
                if run is not None and run.trigger != "dataset":
                    edges.append(Edge(_run_id(run), node, "produced"))
        return edges

    def _dataset_down(self, key: str) -> list[Edge]:
        name, _, version = key.rpartition(":")
        number = int(version)
        content = self.datasets.version(name, number).content_hash
        node = f"dataset:{key}"
        # A dataset deleted and made again reuses its version numbers: a job that read the
        # old version (its recorded content hash differs) did not read this one.
        edges = [Edge(node, f"job:{job.id}", "input_of")
                 for job in reversed(self._jobs_mentioning("dataset", name))
                 if any((d, n) == (name, number) for _, d, n in _inputs(job))
                 and _input_hash(job, name, number) in (None, content)]
        watchers = {r.name for r in self.references.of("dataset", name, kinds=("monitor",))}
        for monitor in sorted(watchers):
            try:
                baseline = self.monitors.get(monitor).baseline
            except NotFound:
                continue
            if (baseline.get("dataset"), baseline.get("version")) == (name, number):
                edges.append(Edge(node, f"monitor:{monitor}", "baseline_of"))
        return edges

    def _job_up(self, key: str) -> list[Edge]:
        job = self.jobs.get(key)
        node = f"job:{key}"
        edges = [Edge(f"dataset:{d}:{n}", node, "input_of") for _, d, n in _inputs(job)
                 if self._same_content(d, n, _input_hash(job, d, n))]
        model = _model_of(job)
        if model is not None:
            edges.append(Edge(model, node, "input_of"))
        run = self.monitors.run_of_job(key)
        if run is not None:
            edges.append(Edge(_run_id(run), node, "submitted"))
        for event in self.events.list(resource_type="monitor", kind=RETRAINING_STARTED,
                                      payload_contains=json.dumps(key), limit=EVENT_SCAN):
            if event.payload.get("job_id") == key and event.payload.get("execution"):
                edges.append(Edge(_execution_id(event.resource_id, event.payload["execution"]),
                                  node, "triggered"))
        return edges

    def _job_down(self, key: str) -> list[Edge]:
        job = self.jobs.get(key)
        node = f"job:{key}"
        edges = [Edge(node, f"dataset:{d['dataset']}:{d['version']}", "produced")
                 for d in (job.outputs.get("datasets") or {}).values()
                 if isinstance(d, Mapping) and d.get("dataset") and d.get("version")]
        edges += [Edge(node, f"model:{v.group}:{v.version}", "registered_as")
                  for v in self.registry.versions_of_job(key)]
        return edges

    def _model_up(self, key: str) -> list[Edge]:
        group, _, version = key.rpartition(":")
        v = self.registry.get(group, int(version))
        return [Edge(f"job:{v.job_id}", f"model:{key}", "registered_as")]

    def _model_down(self, key: str) -> list[Edge]:
        group, _, version = key.rpartition(":")
        self.registry.get(group, int(version))
        node = f"model:{key}"
        edges = []
        for name in dict.fromkeys(r.name for r in self.references.of(
                "model_group", group, kinds=("endpoint",))):
            ep = self.endpoints.find(name)
            if ep is not None and any(_served(v) == key for v in ep.spec.get("variants") or []):
                edges.append(Edge(node, f"endpoint:{name}", "serves"))
        edges += [Edge(node, f"job:{job.id}", "input_of")
                  for job in reversed(self._jobs_mentioning("group", group))
                  if _model_of(job) == node]
        return edges

    def _endpoint_up(self, key: str) -> list[Edge]:
        ep = self.endpoints.get(key)
        return [Edge(f"model:{_served(v)}", f"endpoint:{key}", "serves")
                for v in ep.spec.get("variants") or [] if _served(v)]

    def _endpoint_down(self, key: str) -> list[Edge]:
        ep = self.endpoints.get(key)
        node = f"endpoint:{key}"
        monitors = list(dict.fromkeys(r.name for r in self.references.of(
            "endpoint", key, kinds=("monitor",))))
        edges = []
        if float(ep.spec.get("capture_percent") or 0) > 0 or monitors:
            edges.append(Edge(node, f"capture:{key}", "captured"))
        return edges + [Edge(node, f"monitor:{m}", "monitored_by") for m in monitors]

    def _capture_down(self, key: str) -> list[Edge]:
        return [Edge(f"capture:{key}", _run_id(run), "input_of")
                for mon in self.monitors.list(key)
                for run in self.monitors.runs(mon.name, RUN_SCAN) if run.trigger != "dataset"]

    def _monitor_up(self, key: str) -> list[Edge]:
        mon = self.monitors.get(key)
        node = f"monitor:{key}"
        edges = [Edge(f"endpoint:{mon.endpoint}", node, "monitored_by")]
        if mon.baseline.get("dataset") and mon.baseline.get("version"):
            edges.append(Edge(f"dataset:{mon.baseline['dataset']}:{mon.baseline['version']}",
                              node, "baseline_of"))
        return edges

    def _monitor_down(self, key: str) -> list[Edge]:
        return [Edge(f"monitor:{key}", _run_id(run), "checked")
                for run in self.monitors.runs(key, RUN_SCAN)]

    def _run_up(self, key: str) -> list[Edge]:
        name, _, seq = key.rpartition(":")
        run = self.monitors.get_run(name, int(seq))
        node = _run_id(run)
        edges = [Edge(f"monitor:{name}", node, "checked")]
        checked = run.summary.get("dataset")
        if run.trigger == "dataset" and isinstance(checked, str) and ":" in checked:
            edges.append(Edge(f"dataset:{checked}", node, "input_of"))
        elif run.trigger != "dataset":
            edges.append(Edge(f"capture:{self.monitors.get(name).endpoint}", node, "input_of"))
        return edges

    def _run_down(self, key: str) -> list[Edge]:
        name, _, seq = key.rpartition(":")
        run = self.monitors.get_run(name, int(seq))
        node = _run_id(run)
        edges = []
        if run.job_id:
            job = self.jobs.get(run.job_id)
            if run.trigger != "dataset":
                edges += [Edge(node, f"dataset:{d}:{n}", "produced")
                          for c, d, n in _inputs(job) if c in WRITTEN_BY_EXECUTION]
            edges.append(Edge(node, f"job:{job.id}", "submitted"))
        for event in self.events.list(resource_type="monitor", resource_id=name,
                                      kind=RETRAINING_STARTED, limit=EVENT_SCAN,
                                      payload_contains=f'"execution": {run.seq}'):
            if event.payload.get("execution") == run.seq and event.payload.get("job_id"):
                edges.append(Edge(node, f"job:{event.payload['job_id']}", "triggered"))
        return edges


def _served(variant: Mapping[str, Any]) -> str | None:
    """``"churn:3"`` of an endpoint's variant."""
    group, version = variant.get("model_group"), variant.get("model_version")
    return f"{group}:{version}" if group and version else None


def _execution_id(monitor: str, seq: Any) -> str:
    return f"monitor-execution:{monitor}:{seq}"


def _run_id(run: MonitorRunRecord) -> str:
    return _execution_id(run.monitor, run.seq)
