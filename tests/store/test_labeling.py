"""LabelingRepository on both backends: the queue gives each item to N annotators at most,
never twice to one, takes expired leases back, and keeps answers idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import Conflict, NotFound
from shipyard.store import Database, EventLog, LabelingRepository, NewItem, NewLabelingJob

from .helpers import MIXED_CASE, assert_utc, code_point_order, errors, race, values

REPOSITORY = LabelingRepository

T0 = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)


def _job(name: str = "reviews", n: int = 2, lease: int = 600) -> NewLabelingJob:
    return NewLabelingJob(
        name=name, task="text_classification", labels=["pos", "neg"], dataset="reviews",
        version=1, column="text", instructions="Is the review positive?",
        annotators_per_item=n, gold=None, auto_label=False, workforce=[], lease_seconds=lease)


def _create(repo: LabelingRepository, name: str = "reviews", items: int = 5, n: int = 2,
            lease: int = 600, gold: dict | None = None) -> None:
    repo.create(_job(name, n, lease),
                [NewItem(str(i), i, (gold or {}).get(str(i))) for i in range(items)], "ds")


def test_create_get_list_stop(db: Database, events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    rec, created = repo.create(_job(), [NewItem(str(i), i) for i in range(3)], "ds")
    assert created
    assert (rec.task, rec.labels, rec.num_items, rec.status, rec.created_by) == (
        "text_classification", ["pos", "neg"], 3, "Running", "ds")
    assert_utc(rec.created_at, rec.updated_at)
    assert repo.get("reviews") == rec
    with pytest.raises(Conflict):
        repo.create(_job(), [], "ds")
    for name in MIXED_CASE:
        repo.create(_job(name), [], "ds")
    assert [j.name for j in repo.list()] == code_point_order([*MIXED_CASE, "reviews"])
    keyed, created = repo.create(_job("keyed"), [], "ds", idempotency=("k1", "h1"))
    assert created
    assert repo.create(_job("keyed"), [], "ds", idempotency=("k1", "h1")) == (keyed, False)
    with pytest.raises(Conflict, match="different request body"):
        repo.create(_job("other"), [], "ds", idempotency=("k1", "h2"))
    stopped = repo.stop("reviews", "ds")
    assert stopped.status == "Stopped"
    assert repo.stop("reviews", "ds").status == "Stopped"  # stopping twice is harmless
    assert repo.next("reviews", "ann-a") is None  # no more assignments
    with pytest.raises(NotFound):
        repo.get("nope")
    kinds = [e.kind for e in events.list(resource_id="reviews")]
    assert kinds == ["labeling_job.created", "labeling_job.stopped"]


def test_queue_serves_in_order_n_per_item_never_twice(db: Database, events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    _create(repo, items=3, n=2)
    a = repo.next("reviews", "ann-a", now=T0)
    assert a is not None and (a.item, a.position, a.status) == ("0", 0, "leased")
    assert a.expires_at == T0 + timedelta(seconds=600)
    assert repo.next("reviews", "ann-a", now=T0) == a  # asking again: the same lease
    assert repo.held("reviews", "ann-a", now=T0) == a
    assert repo.held("reviews", "ann-a", now=T0 + timedelta(seconds=601)) is None
    assert repo.assignment("reviews", "0", "ann-a") == a
    assert repo.assignment("reviews", "1", "ann-a") is None
    b = repo.next("reviews", "ann-b", now=T0)
    assert b is not None and b.item == "0"
    c = repo.next("reviews", "ann-c", now=T0)
    assert c is not None and c.item == "1"  # item 0 has its two
    rec, stored = repo.answer("reviews", "0", "ann-a", {"label": "pos"},
                              now=T0 + timedelta(seconds=5))
    assert stored and rec.status == "answered" and rec.seconds == 5
    again, stored = repo.answer("reviews", "0", "ann-a", {"label": "pos"}, now=T0)
    assert not stored and again.answer == {"label": "pos"}
    with pytest.raises(Conflict, match="cannot be changed"):
        repo.answer("reviews", "0", "ann-a", {"label": "neg"}, now=T0)
    nxt = repo.next("reviews", "ann-a", now=T0)
    assert nxt is not None and nxt.item == "1"  # never item 0 again
    counts = repo.counts("reviews", now=T0)
    assert (counts.total, counts.answers, counts.answered, counts.complete, counts.leased) == (
        3, 1, 1, 0, 3)


def test_skip_and_expiry_put_items_back(db: Database, events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    _create(repo, items=1, n=1, lease=60)
    a = repo.next("reviews", "ann-a", now=T0)
    assert a is not None
    assert repo.next("reviews", "ann-b", now=T0) is None  # the one slot is leased
    late = T0 + timedelta(seconds=61)
    b = repo.next("reviews", "ann-b", now=late)  # a's lease expired: back to the queue
    assert b is not None and b.item == "0"
    with pytest.raises(Conflict, match="expired"):
        repo.answer("reviews", "0", "ann-a", {"label": "pos"}, now=late)
    skipped = repo.skip("reviews", "0", "ann-b")
    assert skipped.status == "skipped"
    assert repo.skip("reviews", "0", "ann-b").status == "skipped"
    assert repo.next("reviews", "ann-b", now=late) is None  # a skip is not offered again
    again = repo.next("reviews", "ann-a", now=late)  # its own expired lease comes back
    assert again is not None and again.leased_at == late
    with pytest.raises(Conflict, match="holds no lease"):
        repo.answer("reviews", "0", "ann-c", {"label": "pos"}, now=late)
    with pytest.raises(NotFound):
        repo.answer("reviews", "99", "ann-c", {"label": "pos"}, now=late)
    rec, _ = repo.answer("reviews", "0", "ann-a", {"label": "neg"}, now=late)
    with pytest.raises(Conflict, match="only a leased item"):
        repo.skip("reviews", "0", "ann-a")
    assert [r.annotator for r in repo.answers("reviews")] == ["ann-a"]
    assert repo.answers("reviews", annotator="ann-b") == []
    assert rec.answered_at == late


def test_gold_answers_are_scored(db: Database, events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    _create(repo, items=2, n=1, gold={"0": {"label": "pos"}})
    assert repo.gold("reviews") == {"0": {"label": "pos"}}
    repo.next("reviews", "ann-a", now=T0)
    rec, _ = repo.answer("reviews", "0", "ann-a", {"label": "neg"}, now=T0)
    assert rec.correct is False
    repo.next("reviews", "ann-a", now=T0)
    rec, _ = repo.answer("reviews", "1", "ann-a", {"label": "neg"}, now=T0)
    assert rec.correct is None  # not a gold item


def test_annotators_racing_never_exceed_n_per_item(db: Database, events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    _create(repo, items=2, n=2)
    got = race(lambda i: repo.next("reviews", f"ann-{i}"), n=6)
    assert not errors(got), errors(got)
    leased = [g.item for g in values(got) if g is not None]
    assert sorted(leased) == ["0", "0", "1", "1"]  # two each, and two annotators got none
    assert repo.counts("reviews").leased == 4


def test_undo_takes_back_the_latest_answer_or_skip(db: Database, events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    _create(repo, items=4, n=1, gold={"0": {"label": "pos"}})
    with pytest.raises(Conflict, match="no answer or skip to undo"):
        repo.undo("reviews", "ann-a", now=T0)
    at = [T0 + timedelta(seconds=s) for s in range(10)]
    repo.next("reviews", "ann-a", now=at[0])
    repo.answer("reviews", "0", "ann-a", {"label": "pos"}, now=at[1])
    repo.next("reviews", "ann-a", now=at[1])
    repo.skip("reviews", "1", "ann-a", now=at[2])
    held = repo.next("reviews", "ann-a", now=at[2])
    assert held is not None and held.item == "2"
    last = repo.last("reviews", "ann-a")
    assert last is not None and (last.item, last.status, last.skipped_at) == (
        "1", "skipped", at[2])
    assert repo.last("reviews", "ann-b") is None
    # The latest action is the skip: item 1 is held again; item 2 goes back to the queue.
    back = repo.undo("reviews", "ann-a", now=at[3])
    assert (back.item, back.status, back.answer, back.skipped_at) == ("1", "leased", None, None)
    assert back.expires_at == at[3] + timedelta(seconds=600)
    assert repo.held("reviews", "ann-a", now=at[3]) == back
    assert repo.counts("reviews", now=at[3]).leased == 1
    other = repo.next("reviews", "ann-b", now=at[3])
    assert other is not None and other.item == "2"  # the released item is open again
    # Again: the answer before it, kept as the pre-fill; the gold score goes with it.
    back = repo.undo("reviews", "ann-a", now=at[4])
    assert (back.item, back.status, back.answer, back.correct) == ("0", "leased",
                                                                   {"label": "pos"}, None)
    assert repo.answers("reviews") == []
    c = repo.counts("reviews", now=at[4])
    assert (c.answers, c.answered, c.complete) == (0, 0, 0)
    # Answering anew counts once; the undone skip's item came back to ann-a's queue.
    rec, stored = repo.answer("reviews", "0", "ann-a", {"label": "neg"}, now=at[5])
    assert stored and rec.correct is False and rec.seconds == 1
    again = repo.next("reviews", "ann-a", now=at[5])
    assert again is not None and again.item == "1"
    assert repo.counts("reviews", now=at[5]).answers == 1
    # Another annotator's actions are never its to undo: ann-b has only its own lease.
    with pytest.raises(Conflict, match="no answer or skip"):
        repo.undo("reviews", "ann-b", now=at[5])
    kinds = [e.kind for e in events.list(resource_id="reviews")]
    assert kinds.count("labeling_job.undone") == 2


def test_undo_refuses_a_skip_whose_item_is_taken_and_a_stopped_job(db: Database,
                                                                  events: EventLog) -> None:
    repo = LabelingRepository(db, events)
    _create(repo, items=1, n=1)
    repo.next("reviews", "ann-a", now=T0)
    repo.skip("reviews", "0", "ann-a", now=T0)
    repo.next("reviews", "ann-b", now=T0)  # the item's one place is ann-b's now
    with pytest.raises(Conflict, match="since gone to 1 other"):
        repo.undo("reviews", "ann-a", now=T0)
    assert repo.assignment("reviews", "0", "ann-a").status == "skipped"  # rolled back
    repo.answer("reviews", "0", "ann-b", {"label": "pos"}, now=T0)
    repo.stop("reviews", "ds")
    with pytest.raises(Conflict, match="Stopped"):
        repo.undo("reviews", "ann-b", now=T0)
    assert [a.annotator for a in repo.answers("reviews")] == ["ann-b"]
