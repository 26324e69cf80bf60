"""The event dispatcher: subscribers see committed events, in order, from now on."""

from __future__ import annotations

import time
from pathlib import Path

from shipyard.events import EventDispatcher
from shipyard.store import Database, EventLog, RegistryRepository, upgrade


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(db)
    return db


def test_subscribers_get_matching_events_in_order(tmp_path: Path) -> None:
    db = _db(tmp_path)
    events = EventLog(db)
    with db.write() as conn:
        events.record(conn, "model_version.registered", "model_version", "old:1")
    bus = EventDispatcher(events)
    seen: list[tuple[str, str]] = []
    everything: list[str] = []
    bus.subscribe("model_version.status_changed", lambda e: seen.append((e.kind, e.resource_id)))
    bus.subscribe("*", lambda e: everything.append(e.kind))

    def broken(_: object) -> None:
        raise RuntimeError("a subscriber bug")

    bus.subscribe("model_version.*", broken)
    registry = RegistryRepository(db, events)
    registry.add_version("g", status="PendingManualApproval", job_id="j", bundle={}, metrics={},
                         lineage={}, card={}, criteria={}, actor="ds")
    registry.set_status("g", 1, "Approved", ["PendingManualApproval"], comment="ok", actor="a")
    # group created, version registered, status changed; not "old:1", which came before
    assert bus.poll() == 3
    assert seen == [("model_version.status_changed", "g:1")]
    assert everything == ["model_group.created", "model_version.registered",
                          "model_version.status_changed"]
    assert bus.poll() == 0  # each event is delivered once


def test_rolled_back_changes_are_never_delivered(tmp_path: Path) -> None:
    db = _db(tmp_path)
    events = EventLog(db)
    bus = EventDispatcher(events)
    seen: list[str] = []
    bus.subscribe("*", lambda e: seen.append(e.resource_id))
    try:
        with db.write() as conn:
            events.record(conn, "dataset.deleted", "dataset", "ghost")
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    bus.poll()
    assert seen == []


def test_background_thread_delivers(tmp_path: Path) -> None:
    db = _db(tmp_path)
    events = EventLog(db)
    bus = EventDispatcher(events, poll_interval=0.05)
    seen: list[str] = []
    unsubscribe = bus.subscribe("token.*", lambda e: seen.append(e.resource_id))
    bus.start()
    try:
        with db.write() as conn:
            events.record(conn, "token.created", "token", "t1")
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen == ["t1"]
        unsubscribe()
        with db.write() as conn:
            events.record(conn, "token.created", "token", "t2")
        time.sleep(0.3)
        assert seen == ["t1"]
    finally:
        bus.stop()
