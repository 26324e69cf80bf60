"""EventLog on both backends: events commit with their change, in order, and are never skipped."""

from __future__ import annotations

import threading

import pytest

from shipyard.store import Database, EventLog

from .helpers import LONGEST_NAME, UNICODE_JSON, assert_utc, recent

REPOSITORY = EventLog


def _record(db: Database, events: EventLog, kind: str, rid: str = "t1", **payload: object) -> None:
    with db.write() as conn:
        events.record(conn, kind, "thing", rid, "alice", **payload)


def test_events_commit_with_their_change_or_not_at_all(db: Database, events: EventLog) -> None:
    assert events.latest_id() == 0
    assert events.list() == []
    _record(db, events, "thing.created")
    with pytest.raises(RuntimeError), db.write() as conn:
        events.record(conn, "thing.lost", "thing", "t1")
        raise RuntimeError("the change failed")
    _record(db, events, "thing.updated")
    listed = events.list()
    assert [e.kind for e in listed] == ["thing.created", "thing.updated"]
    assert events.latest_id() == listed[-1].id
    first = listed[0]
    assert (first.resource_type, first.resource_id, first.actor) == ("thing", "t1", "alice")
    assert_utc(first.created_at)
    assert recent(first.created_at)


def test_filters_cursor_and_limit(db: Database, events: EventLog) -> None:
    for i in range(5):
        _record(db, events, "thing.created" if i % 2 == 0 else "thing.updated", f"t{i % 2}")
    with db.write() as conn:
        events.record(conn, "other.created", "other", 7)  # an int id is stored as text
    everything = events.list()
    ids = [e.id for e in everything]
    assert ids == sorted(ids) and len(ids) == 6
    assert len(events.list(resource_type="thing")) == 5
    assert [e.resource_id for e in events.list(resource_type="other")] == ["7"]
    assert [e.id for e in events.list(resource_id="7")] == [ids[-1]]
    assert len(events.list(resource_type="thing", resource_id="t1")) == 2
    assert len(events.list(kind="thing.created")) == 3
    assert [e.id for e in events.list(after_id=ids[2])] == ids[3:]
    assert [e.id for e in events.list(limit=2)] == ids[:2]
    assert events.list(after_id=ids[-1]) == []


def test_list_by_text_in_the_payload(db: Database, events: EventLog) -> None:
    _record(db, events, "monitor.retraining_started", "m1", execution=1, job_id="job-a_1")
    _record(db, events, "monitor.retraining_started", "m1", execution=2, job_id="job-ab1")
    _record(db, events, "monitor.alert", "m1", execution=2, note="job-a_1")
    found = events.list(kind="monitor.retraining_started", payload_contains='"job-a_1"')
    assert [e.payload["execution"] for e in found] == [1]  # "_" is no wildcard
    assert len(events.list(payload_contains='"job-a_1"')) == 2
    assert events.list(payload_contains='"job-zzz"') == []

def test_payload_json_round_trip(db: Database, events: EventLog) -> None:
    _record(db, events, "thing.created", doc=UNICODE_JSON, text="ü", number=1.5, flag=False)
    (event,) = events.list()
    assert event.payload == {"doc": UNICODE_JSON, "text": "ü", "number": 1.5, "flag": False}


def test_resource_ids_made_of_the_longest_names(db: Database, events: EventLog) -> None:
    """A model version's id is ``GROUP:VERSION``: longer than any one name."""
    rid = f"{LONGEST_NAME}:123456"
    with db.write() as conn:
        events.record(conn, "model_version.registered", "model_version", rid, LONGEST_NAME)
    assert events.list(resource_id=rid)[0].actor == LONGEST_NAME


def test_a_follower_never_skips_an_event_committed_late(db: Database, events: EventLog) -> None:
    """An event written first but committed after a later one is still delivered.

    The follower reads like ``EventDispatcher``: ``after_id`` = the last id it saw. If
    event ids could commit out of order, the one committed late would be skipped.
    """
    first_recorded = threading.Event()
    second_seen = threading.Event()

    def slow_writer() -> None:
        with db.write() as conn:
            events.record(conn, "slow.created", "slow", "a")
            first_recorded.set()
            # Commit only once the follower saw the later event, or after a pause when the
            # store keeps the later writer waiting for this one (as it must).
            second_seen.wait(timeout=3)

    def fast_writer() -> None:
        _record(db, events, "fast.created", "b")

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert first_recorded.wait(timeout=60)
    fast = threading.Thread(target=fast_writer)
    fast.start()
    seen: list[str] = []
    cursor = 0
    for _ in range(2000):
        for event in events.list(after_id=cursor):
            seen.append(event.kind)
            cursor = event.id
        if "fast.created" in seen:
            second_seen.set()
        if not slow.is_alive() and not fast.is_alive():
            break
        threading.Event().wait(0.01)
    slow.join(timeout=60)
    fast.join(timeout=60)
    for event in events.list(after_id=cursor):
        seen.append(event.kind)
    assert seen == ["slow.created", "fast.created"]
