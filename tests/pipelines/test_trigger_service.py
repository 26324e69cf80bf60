"""The trigger service against a real store, in this process: an event delivered twice,
and two watchers racing on one branch head, start one execution each.

The end-to-end behaviour (a real server, real commits, real events) is in
``test_triggers.py``; here the duplicates are made on purpose, which a healthy server
never does, to show the idempotency keys and the compare-and-set hold on their own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipyard.api._context import Services
from shipyard.store import EventRecord


def _pipeline(svc: Services, name: str) -> None:
    svc.pipelines.create({"name": name, "parameters": [
        {"name": "dataset", "type": "dataset", "default": "src"}], "steps": [
        {"name": "noop", "type": "processing",
         "job": {"script": {"filename": "s.py", "source": "print(1)\n"}}}]}, "tester")


def _event(svc: Services, event: str, resource_type: str, resource_id: str,
           **payload: object) -> EventRecord:
    """The event a store change records, read back as the dispatcher delivers it."""
    with svc.db.write() as conn:
        svc.events.record(conn, event, resource_type, resource_id, "tester", **payload)
    [event] = svc.events.list(after_id=svc.events.latest_id() - 1)
    return event


def test_an_event_delivered_twice_starts_one_execution(svc: Services, tmp_path: Path) -> None:
    data = tmp_path / "src.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    svc.datasets.ingest("src", [("src.csv", data)], actor="tester")
    _pipeline(svc, "p")
    trig = svc.pipeline_triggers.create("p", "dataset-version", {"dataset": "src"}, {}, "tester")
    assert trig.kind == "dataset_version" and trig.state["after_event"] >= 1
    svc.datasets.ingest("src", [("src.csv", data)], mode="append", actor="tester")
    [created] = svc.events.list(kind="dataset.version_created", limit=1000)[-1:]
    assert created.payload["version"] == 2
    for _ in range(2):  # delivered twice (e.g. by two dispatchers)
        svc.pipeline_triggers.on_event(created)
    [ex] = svc.pipelines.executions("p")
    assert ex.parameters == {"dataset": "src:2"} and ex.created_by == "tester"
    assert ex.idempotency_key == f"trigger:{trig.id}:event:{created.id}"
    # An event from before the trigger existed starts nothing.
    [older] = svc.events.list(kind="dataset.version_created", limit=1000)[:1]
    svc.pipeline_triggers.on_event(older)
    assert len(svc.pipelines.executions("p")) == 1
    # Alerts of one monitor run: one execution, keyed on the run.
    mon = svc.pipeline_triggers.repo.add_trigger("p", "monitor_alert", {"monitor": "m"}, {},
                                                 "tester", state={"after_event": 0})
    for column in ("x", "y", "z"):
        svc.pipeline_triggers.on_event(_event(svc, "monitor.alert", "monitor", "m",
                                              execution=5, column=column, kind="drift"))
    runs = [e for e in svc.pipelines.executions("p") if e.trigger["kind"] == "monitor_alert"]
    assert len(runs) == 1 and runs[0].idempotency_key == f"trigger:{mon.id}:monitor-run:5"
    assert runs[0].trigger["alert"] == {"kind": "drift", "column": "x"}


def test_a_refused_start_is_recorded_not_silent(svc: Services, tmp_path: Path) -> None:
    _pipeline(svc, "p")
    trig = svc.pipeline_triggers.repo.add_trigger(
        "p", "monitor_alert", {"monitor": "m"}, {"gone": 1}, "tester",
        state={"after_event": 0})
    svc.pipeline_triggers.on_event(_event(svc, "monitor.alert", "monitor", "m", execution=1))
    assert svc.pipelines.executions("p") == []
    [failed] = svc.events.list(kind="pipeline.trigger_failed")
    assert failed.payload["trigger"] == trig.id
    assert "no parameter 'gone'" in failed.payload["reason"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=T", "-c",
                           "user.email=t@example.com", *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_two_watchers_on_one_head_start_one_execution(svc: Services, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    _pipeline(svc, "p")
    trig = svc.pipeline_triggers.create("p", "git", {"repo": str(repo), "branch": "main"}, {},
                                     "tester")
    assert svc.pipeline_triggers.poll_git(trig) is None  # the head it was created at
    _git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    sha = _git(repo, "rev-parse", "HEAD")
    # Both read the trigger before either acted: the same stale state.
    first = svc.pipeline_triggers.poll_git(trig)
    second = svc.pipeline_triggers.poll_git(trig)
    assert first is not None and second is None
    assert first.parameters["commit"] == sha
    assert svc.pipeline_triggers.repo.trigger(trig.id).state == {"last_commit": sha}
    assert len(svc.pipelines.executions("p")) == 1
    # A stale compare-and-set does not overwrite what the other watcher stored.
    assert not svc.pipeline_triggers.repo.set_trigger_state(
        trig.id, {"last_commit": "x"}, expect=trig.state)
