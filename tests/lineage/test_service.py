"""The lineage walk over a real SQLite store holding the whole loop, written through the
repositories as the services write it: data → training → model → endpoint → monitor →
execution → retraining → a new model version, plus a processing job's output and a
dataset whose upload claims a job made it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import InvalidRequest, NotFound
from shipyard.lineage import (
    FORMS,
    Edge,
    EdgeProvider,
    LineageGraph,
    LineageService,
    Links,
    Node,
    ProviderRegistry,
    Visit,
    register_provider,
    text_tree,
    unregister_provider,
)
from shipyard.references import References, register_builtin
from shipyard.store import (
    Database,
    DatasetRepository,
    EndpointRepository,
    EventLog,
    JobRepository,
    MonitorRepository,
    NewVersion,
    RegistryRepository,
    upgrade,
)

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Store:
    db: Database
    events: EventLog
    references: References

    def service(self, providers: ProviderRegistry | None = None) -> LineageService:
        return LineageService(self.db, self.events, self.references,
                              providers if providers is not None else ProviderRegistry())


def _version(rows: int, source: dict[str, Any]) -> NewVersion:
    return NewVersion(parts=[{"sha256": "a" * 64, "rows": rows, "bytes": 10}],
                      schema=[{"name": "x", "dtype": "int64"}], num_rows=rows, num_columns=1,
                      size_bytes=10, content_hash=f"{rows:064d}", source=source)


#: The rows of each dataset version the seed makes (its content hash is made of them).
ROWS = {("churn", 1): 100, ("churn", 2): 120, ("churn-mon.window", 1): 30, ("remade", 1): 7}


def _pin(name: str, version: int) -> dict[str, Any]:
    """A job's input as the job service pins it: with the content hash it read."""
    return {"dataset": name, "version": version,
            "content_hash": f"{ROWS[(name, version)]:064d}"}


def _job(jobs: JobRepository, job_id: str, kind: str, spec: dict[str, Any],
         outputs: dict[str, Any] | None = None) -> None:
    jobs.create(job_id, kind, spec, name=None, max_attempts=1, actor="ds",
                initial_status="Pending")
    jobs.transition(job_id, "Completed", ["Pending"], outputs=outputs or {})


def _seed(db: Database, events: EventLog) -> None:
    datasets = DatasetRepository(db, events)
    jobs = JobRepository(db, events)
    registry = RegistryRepository(db, events)
    endpoints = EndpointRepository(db, events)
    monitors = MonitorRepository(db, events)
    model = dict(bundle={}, metrics={}, lineage={}, card={}, criteria={}, actor="ds")
    datasets.add_version("churn", _version(100, {"type": "upload"}), must_exist=None, actor="ds")
    datasets.add_version("churn", _version(120, {"type": "upload"}), must_exist=None, actor="ds")
    _job(jobs, "job-train", "training", {"inputs": {"train": _pin("churn", 1)}})
    registry.add_version("churn", status="Approved", job_id="job-train", **model)
    endpoints.create("churn-ep", "InService", {"variants": [
        {"name": "main", "model_group": "churn", "model_version": 1, "weight": 1.0}],
        "capture_percent": 100.0}, "ds")
    monitors.create("churn-mon", "churn-ep", {"dataset": "churn", "version": 1}, {}, "ds")
    run = monitors.add_run("churn-mon", "manual", None, T0)
    datasets.add_version("churn-mon.window", _version(30, {"kind": "monitor"}),
                         must_exist=None, actor=None)
    _job(jobs, "job-monitor", "monitoring", {
        "inputs": {"baseline": _pin("churn", 1), "current": _pin("churn-mon.window", 1)},
        "model": {"group": "churn", "version": 1, "files": []}})
    monitors.update_run("churn-mon", run.seq, status="Completed", job_id="job-monitor")
    _job(jobs, "job-retrain", "training", {"inputs": {"train": _pin("churn", 2)}})
    monitors.record("churn-mon", "monitor.retraining_started", None, execution=run.seq,
                    job_id="job-retrain")
    registry.add_version("churn", status="PendingManualApproval", job_id="job-retrain", **model)
    # A processing job's output, and an upload that only claims the job made it.
    _job(jobs, "job-clean", "processing", {"inputs": {"raw": _pin("churn", 1)},
                                           "outputs": ["clean"]},
         outputs={"datasets": {"clean": {"dataset": "clean", "version": 1}}})
    datasets.add_version("clean", _version(90, {"type": "job", "job_id": "job-clean"}),
                         must_exist=None, actor=None)
    datasets.add_version("fake", _version(5, {"type": "job", "job_id": "job-clean"}),
                         must_exist=None, actor="mallory")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("lineage") / "store.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    events = EventLog(db)
    _seed(db, events)
    try:
        yield Store(db, events, register_builtin(References(), db, events))
    finally:
        db.dispose()


def _edges(graph: LineageGraph) -> set[tuple[str, str, str]]:
    return {(e.source, e.relation, e.target) for e in graph.edges}


def test_upstream_of_an_endpoint_reaches_the_dataset_version_it_was_trained_on(
        store: Store) -> None:
    graph = store.service().graph("endpoint:churn-ep", direction="upstream")
    assert graph.root == "endpoint:churn-ep" and graph.nodes[0].id == graph.root
    assert _edges(graph) == {("model:churn:1", "serves", "endpoint:churn-ep"),
                             ("job:job-train", "registered_as", "model:churn:1"),
                             ("dataset:churn:1", "input_of", "job:job-train")}
    (dataset,) = graph.of_type("dataset")
    assert dataset.id == "dataset:churn:1" and dataset.attributes["rows"] == 100
    assert graph.node("model:churn:1").attributes["status"] == "Approved"  # type: ignore[union-attr]
    assert graph.node("job:job-train").attributes["kind"] == "training"  # type: ignore[union-attr]
    assert not graph.truncated


def test_downstream_of_a_dataset_version_reaches_the_endpoint_and_the_loop(store: Store) -> None:
    graph = store.service().graph("dataset:churn:1", direction="downstream")
    edges = _edges(graph)
    assert {("dataset:churn:1", "input_of", "job:job-train"),
            ("job:job-train", "registered_as", "model:churn:1"),
            ("model:churn:1", "serves", "endpoint:churn-ep"),
            ("endpoint:churn-ep", "captured", "capture:churn-ep"),
            ("endpoint:churn-ep", "monitored_by", "monitor:churn-mon"),
            ("dataset:churn:1", "baseline_of", "monitor:churn-mon"),
            ("monitor:churn-mon", "checked", "monitor-execution:churn-mon:1"),
            ("capture:churn-ep", "input_of", "monitor-execution:churn-mon:1"),
            ("monitor-execution:churn-mon:1", "produced", "dataset:churn-mon.window:1"),
            ("monitor-execution:churn-mon:1", "submitted", "job:job-monitor"),
            ("monitor-execution:churn-mon:1", "triggered", "job:job-retrain"),
            ("job:job-retrain", "registered_as", "model:churn:2"),
            ("model:churn:1", "input_of", "job:job-monitor"),
            ("dataset:churn:1", "input_of", "job:job-clean"),
            ("job:job-clean", "produced", "dataset:clean:1")} <= edges
    assert all(target != graph.root for _, _, target in edges)  # nothing points back upstream
    assert "dataset:churn:2" not in {n.id for n in graph.nodes}  # another version, unrelated
    assert "dataset:fake:1" not in {n.id for n in graph.nodes}


def test_the_retraining_job_knows_the_execution_that_started_it(store: Store) -> None:
    graph = store.service().graph("job:job-retrain", direction="upstream", depth=3)
    assert _edges(graph) >= {("dataset:churn:2", "input_of", "job:job-retrain"),
                             ("monitor-execution:churn-mon:1", "triggered", "job:job-retrain"),
                             ("monitor:churn-mon", "checked", "monitor-execution:churn-mon:1"),
                             ("capture:churn-ep", "input_of", "monitor-execution:churn-mon:1")}
    run = graph.node("monitor-execution:churn-mon:1")
    assert run is not None and run.attributes["status"] == "Completed"
    assert max(len(p) for p in _paths(graph)) == 3  # depth 3: three links from the root


def _paths(graph: LineageGraph) -> list[list[str]]:
    """Every upstream path from the root (to check how far the walk went)."""
    out: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        parents = [e.source for e in graph.parents(node) if e.source not in path]
        if not parents:
            out.append(path)
        for p in parents:
            walk(p, [*path, p])

    walk(graph.root, [])
    return out


def test_snapshots_and_outputs_name_what_wrote_them_and_a_claimed_source_is_checked(
        store: Store) -> None:
    service = store.service()
    window = service.graph("dataset:churn-mon.window:1", direction="upstream", depth=1)
    assert _edges(window) == {("monitor-execution:churn-mon:1", "produced",
                               "dataset:churn-mon.window:1")}
    clean = service.graph("dataset:clean", direction="upstream", depth=1)
    assert _edges(clean) == {("job:job-clean", "produced", "dataset:clean:1")}
    fake = service.graph("dataset:fake:1")
    assert fake.edges == () and [n.id for n in fake.nodes] == ["dataset:fake:1"]


def test_references_shorthands_errors_and_limits(store: Store) -> None:
    service = store.service()
    assert service.graph("dataset:churn", depth=1).root == "dataset:churn:2"  # the latest
    assert service.graph("dataset:churn:latest", depth=1).root == "dataset:churn:2"
    assert service.graph("model:churn", depth=1).root == "model:churn:2"
    assert service.graph("job-train", depth=1).root == "job:job-train"
    # The glossary's word is "execution"; the "monitor-run" is read the same.
    assert service.graph("monitor-run:churn-mon:1", depth=1).root == \
        "monitor-execution:churn-mon:1"
    for bad in ("churn", "dataset:", "dataset:churn:0", "model:churn:x",
                "monitor-execution:churn-mon", "monitor-execution:churn-mon:latest", "table:x",
                "endpoint:a:b", "dataset:../x", ""):
        with pytest.raises(InvalidRequest) as refused:
            service.graph(bad)
        assert FORMS[0] in refused.value.message and "endpoint:NAME" in refused.value.message
    for missing, word in (("dataset:nope", "No dataset named 'nope'"),
                          ("dataset:churn:9", "has no version 9"),
                          ("endpoint:nope", "No endpoint"), ("job:job-nope", "No job"),
                          ("monitor-execution:churn-mon:7", "has no run 7"),
                          ("capture:nope", "No endpoint")):
        with pytest.raises(NotFound, match=word):
            service.graph(missing)
    with pytest.raises(InvalidRequest, match="direction must be one of upstream"):
        service.graph("endpoint:churn-ep", direction="sideways")
    with pytest.raises(InvalidRequest, match="depth must be between 1 and 50"):
        service.graph("endpoint:churn-ep", depth=0)
    one = service.graph("endpoint:churn-ep", direction="upstream", depth=1)
    assert _edges(one) == {("model:churn:1", "serves", "endpoint:churn-ep")}
    capped = service.graph("dataset:churn:1", direction="downstream", max_nodes=4)
    assert capped.truncated and len(capped.nodes) == 4
    assert {n.id for e in capped.edges for n in (capped.node(e.source), capped.node(e.target))
            if n is not None} <= {n.id for n in capped.nodes}
    assert all(capped.node(e.source) and capped.node(e.target) for e in capped.edges)


def test_the_text_tree_reads_both_sides_and_ends_loops(store: Store) -> None:
    graph = store.service().graph("model:churn:1")
    text = text_tree(graph)
    lines = text.splitlines()
    assert lines[0] == "model:churn:1 · Approved"
    assert "├── upstream" in lines and "└── downstream" in lines
    assert any("job:job-train · training · Completed — registered_as" in line for line in lines)
    assert any("dataset:churn:1 · 100 rows — input_of" in line for line in lines)
    assert any("endpoint:churn-ep · InService — serves" in line for line in lines)
    assert len(lines) < 60


# -- edge providers ------------------------------------------------------------------------------
def _pipelines_provider() -> EdgeProvider:
    """What the pipelines package would plug in: monitoring execution → pipeline execution →
    its step job."""
    executions = {"execution:e1": Node("execution:e1", "execution", "retrain #1",
                                       {"status": "Succeeded"})}

    def links(visit: Visit) -> Links:
        if visit.node == "monitor-execution:churn-mon:1" and visit.direction == "downstream":
            return Links(edges=(Edge(visit.node, "execution:e1", "triggered"),),
                         nodes=(executions["execution:e1"],))
        if visit.node == "execution:e1" and visit.direction == "downstream":
            # The step job is a built-in node: described by the built-in reader. The second
            # edge does not touch the node on this side: ignored.
            return Links(edges=(Edge(visit.node, "job:job-retrain", "ran"),
                                Edge("job:job-clean", "job:job-train", "bogus")))
        if visit.node == "execution:e1" and visit.direction == "upstream":
            return Links(edges=(Edge("monitor-execution:churn-mon:1", visit.node, "triggered"),))
        return Links()

    def describe(visit: Visit) -> Node | None:
        assert visit.direction is None
        return executions.get(visit.node)

    return EdgeProvider("pipelines", links, node_types=("execution",), describe=describe)


def test_a_provider_adds_nodes_and_the_walk_goes_on_from_them(store: Store) -> None:
    registry = ProviderRegistry()
    registry.register(_pipelines_provider())
    service = store.service(registry)
    graph = service.graph("monitor-execution:churn-mon:1", direction="downstream")
    execution = graph.node("execution:e1")
    assert execution is not None and execution.attributes == {"status": "Succeeded"}
    edges = _edges(graph)
    assert {("monitor-execution:churn-mon:1", "triggered", "execution:e1"),
            ("execution:e1", "ran", "job:job-retrain"),
            ("job:job-retrain", "registered_as", "model:churn:2")} <= edges
    assert graph.node("job:job-retrain").attributes["kind"] == "training"  # type: ignore[union-attr]
    assert not any(r == "bogus" for _, r, _ in edges)
    # A type the provider owns is a root; one it does not know is a 404.
    up = service.graph("execution:e1", direction="upstream", depth=2)
    assert ("monitor:churn-mon", "checked", "monitor-execution:churn-mon:1") in _edges(up)
    with pytest.raises(NotFound, match="No execution 'e9'"):
        service.graph("execution:e9")
    registry.unregister("pipelines")
    with pytest.raises(InvalidRequest, match="not a lineage reference"):
        service.graph("execution:e1")


def test_the_process_registry_reaches_services_built_without_one(store: Store) -> None:
    service = LineageService(store.db, store.events, store.references)
    with pytest.raises(InvalidRequest):
        service.graph("execution:e1")
    register_provider(_pipelines_provider())
    try:
        assert service.graph("execution:e1", depth=1).node("execution:e1") is not None
    finally:
        unregister_provider("pipelines")
    with pytest.raises(InvalidRequest):
        service.graph("execution:e1")


def test_a_dataset_made_again_under_its_old_name_is_not_what_an_old_job_read(
        store: Store) -> None:
    """A dataset deleted (forced) and made again reuses version 1: lineage used to show the
    job that read the old rows downstream of the new version, and the new version upstream
    of that job (and of the model it made). Jobs are matched by the content they read."""
    datasets = DatasetRepository(store.db, store.events)
    jobs = JobRepository(store.db, store.events)
    datasets.add_version("remade", _version(7, {"type": "upload"}), must_exist=None, actor="ds")
    _job(jobs, "job-old-reader", "training", {"inputs": {"train": _pin("remade", 1)}})
    service = store.service()
    before = _edges(service.graph("dataset:remade:1", direction="downstream"))
    assert ("dataset:remade:1", "input_of", "job:job-old-reader") in before

    datasets.delete("remade", "admin")
    datasets.add_version("remade", _version(8, {"type": "upload"}), must_exist=None, actor="ds")
    down = _edges(service.graph("dataset:remade:1", direction="downstream"))
    assert not any(target == "job:job-old-reader" for _, _, target in down), down
    up = _edges(service.graph("job:job-old-reader", direction="upstream"))
    assert not any(source == "dataset:remade:1" for source, _, _ in up), up
