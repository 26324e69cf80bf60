"""MonitorRepository on both backends: monitors, numbered runs, and their windows in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EventLog, MonitorRepository

from .helpers import (
    LONGEST_NAME,
    MIXED_CASE,
    PLUS_0530,
    UNICODE_JSON,
    assert_utc,
    code_point_order,
    errors,
    race,
    recent,
    values,
)

REPOSITORY = MonitorRepository

T0 = datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)
BASELINE = {"dataset": "churn:1", "statistics": "s" * 64}


def test_monitors(db: Database, events: EventLog) -> None:
    repo = MonitorRepository(db, events)
    mon = repo.create("drift", "churn-ep", BASELINE, {"every": "1h"}, "admin")
    assert (mon.name, mon.endpoint, mon.baseline, mon.config, mon.created_by) == (
        "drift", "churn-ep", BASELINE, {"every": "1h"}, "admin")
    assert_utc(mon.created_at, mon.updated_at)
    assert recent(mon.created_at)
    assert repo.get("drift") == mon
    with pytest.raises(Conflict, match="already exists"):
        repo.create("drift", "other", {}, {}, None)
    with pytest.raises(NotFound):
        repo.get("nope")
    repo.create("quality", "other-ep", {}, {}, None)
    assert [m.name for m in repo.list(endpoint="churn-ep")] == ["drift"]
    up = repo.update("drift", "admin", config={"every": "1d", "doc": UNICODE_JSON})
    assert up.config == {"every": "1d", "doc": UNICODE_JSON} and up.baseline == BASELINE
    assert repo.update("drift", "admin", baseline={"dataset": "churn:2"}).baseline == {
        "dataset": "churn:2"}
    with pytest.raises(NotFound):
        repo.update("nope", None, config={})
    repo.record("drift", "monitor.alert", None, feature="tenure", score=0.4)
    repo.add_run("drift", "schedule", None, T0)
    repo.delete("drift", "admin")
    with pytest.raises(NotFound):
        repo.get("drift")
    with pytest.raises(NotFound):
        repo.delete("drift", "admin")
    assert [m.name for m in repo.list()] == ["quality"]
    kinds = [e.kind for e in events.list(resource_id="drift")]
    assert kinds == ["monitor.created", "monitor.updated", "monitor.updated", "monitor.alert",
                     "monitor.deleted"]


def test_list_order_and_longest_name(db: Database, events: EventLog) -> None:
    repo = MonitorRepository(db, events)
    for name in MIXED_CASE:
        repo.create(name, "ep", {}, {}, None)
    assert [m.name for m in repo.list()] == code_point_order(MIXED_CASE)
    repo.create(LONGEST_NAME, LONGEST_NAME, BASELINE, {}, LONGEST_NAME)
    run = repo.add_run(LONGEST_NAME, "manual", None, T0)
    assert repo.update_run(LONGEST_NAME, run.seq, status="Running").status == "Running"


def test_runs_windows_and_json(db: Database, events: EventLog) -> None:
    repo = MonitorRepository(db, events)
    repo.create("m", "ep", BASELINE, {}, None)
    assert repo.last_window_end("m") is None
    # Windows given in +05:30 are kept as the same instants and handed back in UTC.
    r1 = repo.add_run("m", "schedule", T0.astimezone(PLUS_0530) - timedelta(hours=1),
                      T0.astimezone(PLUS_0530))
    assert (r1.seq, r1.status, r1.trigger, r1.summary) == (1, "Pending", "schedule", {})
    assert r1.window_end == T0 and r1.window_start == T0 - timedelta(hours=1)
    assert_utc(r1.window_start, r1.window_end, r1.created_at)
    r2 = repo.add_run("m", "manual", T0, T0 + timedelta(hours=1))
    r3 = repo.add_run("m", "dataset", None, T0 + timedelta(hours=9))
    assert (r2.seq, r3.seq) == (2, 3)
    # A later window run that failed does not count, nor does a dataset check.
    repo.update_run("m", 2, status="Failed", error="é", finished_at=T0.astimezone(PLUS_0530))
    assert repo.last_window_end("m") == T0
    assert_utc(repo.last_window_end("m"))
    done = repo.update_run("m", 1, status="Completed", job_id="job-1", report_key="r" * 64,
                           html_key="h" * 64, summary={"alerts": [UNICODE_JSON]},
                           finished_at=T0 + timedelta(minutes=5))
    assert done.summary == {"alerts": [UNICODE_JSON]} and done.job_id == "job-1"
    assert done.finished_at == T0 + timedelta(minutes=5)
    assert repo.get_run("m", 2).finished_at == T0
    assert_utc(repo.get_run("m", 2).finished_at)
    assert repo.run_of_job("job-1").seq == 1 and repo.run_of_job("job-1").monitor == "m"
    assert repo.run_of_job("nope") is None
    assert [r.seq for r in repo.runs("m")] == [1, 2, 3]
    assert [r.seq for r in repo.runs("m", limit=2)] == [2, 3]  # the newest, oldest first
    with pytest.raises(NotFound):
        repo.get_run("m", 9)
    with pytest.raises(NotFound):
        repo.runs("nope")
    with pytest.raises(ValueError, match="not a run field"):
        repo.update_run("m", 1, trigger="manual")
    kinds = [e.kind for e in events.list(resource_id="m")]
    assert kinds == ["monitor.created", "monitor.execution_failed",
                     "monitor.execution_completed"]
    assert events.list(kind="monitor.execution_completed")[0].payload["alerts"] == 1


def test_a_runs_alerts_are_written_with_its_completion(db: Database, events: EventLog,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The run turned Completed in one transaction and its alerts came in later ones: a
    page read in between showed the drifted report beside "No alerts." (seen in CI). Now
    both are one transaction: an alert that cannot be written leaves the run Running."""
    repo = MonitorRepository(db, events)
    repo.create("m", "ep", BASELINE, {}, None)
    repo.add_run("m", "manual", T0, T0 + timedelta(hours=1))
    repo.update_run("m", 1, status="Running")
    alerts = [{"kind": "data_drift", "column": "tenure", "message": "drifted", "run": 1},
              {"kind": "data_drift", "column": "contract", "message": "drifted"}]
    record = events.record
    written: list[str] = []

    def second_fails(conn, event, *args, **payload):  # type: ignore[no-untyped-def]
        if event == "monitor.alert":
            written.append(payload["column"])
            if len(written) == 2:
                raise RuntimeError("the database went away")
        return record(conn, event, *args, **payload)

    monkeypatch.setattr(events, "record", second_fails)
    with pytest.raises(RuntimeError):
        repo.update_run("m", 1, status="Completed", alerts=alerts)
    assert repo.get_run("m", 1).status == "Running"
    assert events.list(kind="monitor.alert") == []
    monkeypatch.setattr(events, "record", record)
    done = repo.update_run("m", 1, status="Completed", alerts=alerts)
    assert done.status == "Completed"
    said = events.list(kind="monitor.alert")
    assert [(e.payload["column"], e.payload["execution"]) for e in said] == [
        ("tenure", 1), ("contract", 1)]
    assert "run" not in said[0].payload


def test_concurrent_runs_get_distinct_numbers(db: Database, events: EventLog) -> None:
    repo = MonitorRepository(db, events)
    repo.create("m", "ep", {}, {}, None)
    results = race(lambda i: repo.add_run("m", "manual", None, T0 + timedelta(minutes=i)))
    assert not errors(results), errors(results)
    assert sorted(r.seq for r in values(results)) == list(range(1, len(results) + 1))


def test_concurrent_creates_of_one_name(db: Database, events: EventLog) -> None:
    repo = MonitorRepository(db, events)
    results = race(lambda i: repo.create("same", f"ep{i}", {}, {}, None))
    assert len(values(results)) == 1
    assert all(isinstance(e, Conflict) for e in errors(results)), errors(results)
