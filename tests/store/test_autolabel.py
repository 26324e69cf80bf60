"""AutolabelRepository on both backends: one active run per labeling job, machine labels
only on items no human touched, an audit sample served first, the rest in model order."""

from __future__ import annotations

from shipyard.store import (
    AutolabelRepository,
    Database,
    EventLog,
    LabelingRepository,
    NewItem,
    NewLabelingJob,
)

from .helpers import race

REPOSITORY = AutolabelRepository


def _create(db: Database, events: EventLog, items: int = 40) -> LabelingRepository:
    repo = LabelingRepository(db, events)
    repo.create(NewLabelingJob(
        name="reviews", task="text_classification", labels=["pos", "neg"], dataset="reviews",
        version=1, column="text", instructions=None, annotators_per_item=1, gold=None,
        auto_label=True, workforce=[], lease_seconds=600,
        auto_label_config={"after": 10, "target_accuracy": 0.9}),
        [NewItem(str(i), i) for i in range(items)], "ds")
    return repo


def test_one_active_run_at_a_time(db: Database, events: EventLog) -> None:
    labeling = _create(db, events)
    assert labeling.get("reviews").auto_label_config == {"after": 10, "target_accuracy": 0.9}
    repo = AutolabelRepository(db, events)
    claimed = race(lambda _: repo.claim("reviews", 10), n=4)
    assert sorted(c for c in claimed if c is not None) == [1]
    assert repo.claim("reviews", 12) is None
    repo.failed("reviews", 1, "the job could not be submitted")
    assert repo.claim("reviews", 12) == 2
    repo.started("reviews", 2, "job-abc")
    run = repo.run_of("job-abc")
    assert run is not None and (run.job, run.seq, run.status) == ("reviews", 2, "Running")
    assert repo.run_of("job-nope") is None
    assert [(r.seq, r.status, r.error) for r in repo.runs("reviews")] == [
        (1, "Failed", "the job could not be submitted"), (2, "Running", None)]


def test_apply_labels_untouched_items_audits_some_and_orders_the_rest(
        db: Database, events: EventLog) -> None:
    labeling = _create(db, events)
    repo = AutolabelRepository(db, events)
    # Items 0 and 1 are answered, item 2 is held by a human.
    for _ in range(3):
        got = labeling.next("reviews", "ann")
        assert got is not None
        if got.item != "2":
            labeling.answer("reviews", got.item, "ann", {"label": "pos"})
    seq = repo.claim("reviews", 2)
    assert seq is not None
    repo.started("reviews", seq, "job-1")
    machine = [(str(i), "pos", 0.99) for i in range(0, 30)]
    order = [str(i) for i in range(39, 29, -1)]
    applied = repo.apply("reviews", seq, machine, order, {"threshold": 0.9},
                         audit_share=0.05, min_audit=3)
    assert (applied.machine_labeled, applied.audit, applied.skipped) == (27, 3, 3)
    items = repo.machine_items("reviews")
    assert {m.item for m in items} == {str(i) for i in range(3, 30)}
    assert all(m.model_job == "job-1" and m.confidence == 0.99 for m in items)
    audited = {m.item for m in items if m.audit}
    assert len(audited) == 3
    run = repo.runs("reviews")[-1]
    assert run.status == "Completed" and run.summary is not None
    assert run.summary["applied"] == 27 and run.summary["threshold"] == 0.9
    again = repo.apply("reviews", seq, machine, order, {"threshold": 0.5})
    assert again == applied and repo.runs("reviews")[-1].summary == run.summary
    # The audit sample first, then the most uncertain; machine-labeled items never.
    served = []
    for k in range(13):
        got = labeling.next("reviews", f"other-{k}")
        assert got is not None
        served.append(got.item)
    assert set(served[:3]) == audited
    assert served[3:13] == order
    assert labeling.next("reviews", "late") is None  # item 2 is still held
