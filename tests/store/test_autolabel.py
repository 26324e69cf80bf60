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


def test_an_auto_labeling_job_serves_its_seed_set_in_a_seeded_random_order(
        db: Database, events: EventLog) -> None:
    """The first K answers train the first model and judge its threshold: a random
    sample, not the first rows. The order is seeded by the job's name; a job without
    auto-labeling serves rows in order."""
    labeling = _create(db, events)
    first = [labeling.next("reviews", f"a{k}") for k in range(40)]
    served = [got.item for got in first if got is not None]
    assert sorted(served, key=int) == [str(i) for i in range(40)]
    assert served != [str(i) for i in range(40)]
    assert sum(int(item) < 10 for item in served[:10]) < 6  # not the first rows
    plain = LabelingRepository(db, events)
    plain.create(NewLabelingJob(
        name="plain", task="text_classification", labels=["pos", "neg"], dataset="reviews",
        version=1, column="text", instructions=None, annotators_per_item=1, gold=None,
        auto_label=False, workforce=[], lease_seconds=600, auto_label_config=None),
        [NewItem(str(i), i) for i in range(5)], "ds")
    assert [got.item for k in range(5)
            if (got := plain.next("plain", f"b{k}")) is not None] == ["0", "1", "2", "3", "4"]


def test_apply_labels_untouched_items_audits_some_and_orders_the_rest(
        db: Database, events: EventLog) -> None:
    labeling = _create(db, events)
    repo = AutolabelRepository(db, events)
    # The first two items served are answered, the third is held by a human.
    touched = []
    for _ in range(3):
        got = labeling.next("reviews", "ann")
        assert got is not None
        touched.append(got.item)
    for item in touched[:2]:
        labeling.answer("reviews", item, "ann", {"label": "pos"})
    seq = repo.claim("reviews", 2)
    assert seq is not None
    repo.started("reviews", seq, "job-1")
    machine = [(str(i), "pos", 0.99) for i in range(0, 30)]
    order = [str(i) for i in range(39, 29, -1)]
    applied = repo.apply("reviews", seq, machine, order, {"threshold": 0.9},
                         audit_share=0.05, min_audit=3)
    # A human's item (answered or held) never gets a machine label.
    hit = {item for item in touched if int(item) < 30}
    labeled = 30 - len(hit)
    assert (applied.machine_labeled, applied.audit, applied.skipped) == (labeled, 3, len(hit))
    items = repo.machine_items("reviews")
    assert {m.item for m in items} == {str(i) for i in range(30)} - hit
    assert all(m.model_job == "job-1" and m.confidence == 0.99 for m in items)
    audited = {m.item for m in items if m.audit}
    assert len(audited) == 3
    run = repo.runs("reviews")[-1]
    assert run.status == "Completed" and run.summary is not None
    assert run.summary["applied"] == labeled and run.summary["threshold"] == 0.9
    again = repo.apply("reviews", seq, machine, order, {"threshold": 0.5})
    assert again == applied and repo.runs("reviews")[-1].summary == run.summary
    # The audit sample first, then the most uncertain; machine-labeled items never.
    rest = [item for item in order if item not in touched]
    served = []
    for k in range(3 + len(rest)):
        got = labeling.next("reviews", f"other-{k}")
        assert got is not None
        served.append(got.item)
    assert set(served[:3]) == audited
    assert served[3:] == rest
    assert labeling.next("reviews", "late") is None  # the third item is still held
