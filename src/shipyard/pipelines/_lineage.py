"""Pipeline executions in the lineage graph (a :mod:`shipyard.lineage` edge provider).

``execution:ID`` nodes link what started an execution (a monitoring execution's alert, a
dataset version, an approved model version) to it, and it to the jobs its steps ran, the
model versions it registered and the endpoints it deployed::

    monitor-execution:churn-watch:2 → execution:exec-… → job:job-… → model:churn:2

Finding the executions an object started reads the newest :data:`SCAN` executions.
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import NotFound
from shipyard.lineage import Edge, EdgeProvider, Links, Node, Visit
from shipyard.store import ExecutionRecord, JobRepository, PipelineRepository, iso

SCAN = 5000
TYPE = "execution"


def _node(ex: ExecutionRecord) -> Node:
    return Node(f"{TYPE}:{ex.id}", TYPE, f"{ex.pipeline} execution",
                {"pipeline": ex.pipeline, "version": ex.version, "status": ex.status,
                 "trigger": str(ex.trigger.get("kind") or "manual"),
                 "created_at": iso(ex.created_at)})


def _started_by(trigger: dict[str, Any]) -> str | None:
    """The lineage node an execution's trigger names, if it is an object of the graph."""
    kind = trigger.get("kind")
    if kind == "monitor_alert" and trigger.get("monitor"):
        seq = trigger.get("run", trigger.get("execution"))
        return f"monitor-execution:{trigger['monitor']}:{seq}" if seq is not None else None
    if kind == "dataset_version" and trigger.get("dataset") and trigger.get("version"):
        return f"dataset:{trigger['dataset']}:{trigger['version']}"
    if kind == "model_approval" and trigger.get("group") and trigger.get("version"):
        return f"model:{trigger['group']}:{trigger['version']}"
    return None


def _downstream(repo: PipelineRepository, ex: ExecutionRecord) -> Links:
    edges, me = [], f"{TYPE}:{ex.id}"
    for step in repo.steps(ex.id):
        if step.job_id and not step.cache_hit:
            edges.append(Edge(me, f"job:{step.job_id}", "ran"))
        version = step.outputs.get("model_version")
        if step.type == "register" and version:
            edges.append(Edge(me, f"model:{version}", "registered_as"))
        if step.type == "deploy" and step.outputs.get("endpoint"):
            edges.append(Edge(me, f"endpoint:{step.outputs['endpoint']}", "deployed"))
    return Links(edges=tuple(edges))


def links(visit: Visit) -> Links:
    repo = PipelineRepository(visit.db, visit.events)
    if visit.type == TYPE:
        try:
            ex = repo.execution(visit.key)
        except NotFound:
            return Links()
        if visit.direction == "downstream":
            return _downstream(repo, ex)
        source = _started_by(ex.trigger)
        return Links(edges=(Edge(source, visit.node, "triggered"),)) if source else Links()
    if visit.type == "job" and visit.direction == "upstream":
        try:
            tags = JobRepository(visit.db, visit.events).get(visit.key).tags or {}
        except NotFound:
            return Links()
        ex_id = tags.get("pipeline_execution")
        if not ex_id:
            return Links()
        try:
            ex = repo.execution(ex_id)
        except NotFound:
            return Links()
        return Links(edges=(Edge(f"{TYPE}:{ex.id}", visit.node, "ran"),), nodes=(_node(ex),))
    if visit.direction == "downstream" and visit.type in ("monitor-execution", "dataset",
                                                         "model"):
        found = [ex for ex in repo.executions(limit=SCAN) if _started_by(ex.trigger) ==
                 visit.node]
        return Links(edges=tuple(Edge(visit.node, f"{TYPE}:{ex.id}", "triggered")
                                 for ex in found), nodes=tuple(_node(ex) for ex in found))
    return Links()


def describe(visit: Visit) -> Node | None:
    try:
        return _node(PipelineRepository(visit.db, visit.events).execution(visit.key))
    except NotFound:
        return None


PROVIDER = EdgeProvider("pipelines", links, node_types=(TYPE,), describe=describe)
