"""Labeling repository: jobs, their items (references to dataset rows) and assignments.

An assignment is one annotator's hold on one item: a lease (``leased``, until
``expires_at``), then an answer (``answered``) or a release (``skipped``); a lease nobody
answered in time becomes ``expired`` and its item goes back to the queue. One row per
(job, item, annotator), so an annotator never holds or answers an item twice.

Each item counts ``taken`` (answers plus live leases) and is ``open`` while that is below
the job's annotators per item. The next-item query walks the index ``(job_id, open,
priority, position)`` and skips the items this annotator already touched, so it reads a
handful of rows whatever the job's size. Every write runs in one write transaction
(serialised on both backends), and the take is a guarded update (``WHERE taken < N``),
so two annotators asking at once never put more than N on one item.

Items are served in row order, except in an auto-labeling job: there the first items
people label are the seed set the first model learns from and its threshold is judged on,
so they must be a random sample of the data, not its first rows (a table sorted by
writer, date or class would teach the model one corner of it and overstate its held-out
accuracy elsewhere). Its items are served in a seeded random order (the job's name seeds
it) until active learning reorders the queue by uncertainty.

An undo takes back an annotator's latest answer or skip while the job runs: the item is
its lease again, the answer kept in the row as the pre-fill (an ``answer`` on a lease is
that, never a counted answer: only ``answered`` rows count).
"""

from __future__ import annotations

import builtins
import operator
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    exists,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._idempotency import claim, lookup
from shipyard.store._schema import metadata
from shipyard.store._types import UtcDateTime, by_code_point

labeling_jobs = Table(
    "labeling_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("task", String(32), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("dataset", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("column", String(256)),
    Column("instructions", Text),
    Column("annotators_per_item", Integer, nullable=False),
    Column("gold", JSON),
    Column("auto_label", Boolean, nullable=False),
    #: Auto-labeling's settings (``after``, ``target_accuracy``, ``step``), else NULL.
    Column("auto_label_config", JSON(none_as_null=True)),
    Column("workforce", JSON, nullable=False),
    Column("lease_seconds", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("num_items", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)

labeling_items = Table(
    "labeling_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("labeling_jobs.id", ondelete="CASCADE"),
           nullable=False),
    Column("item", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    #: The order items are served in (lowest first); the row order until active learning
    #: reorders it by uncertainty.
    Column("priority", Float, nullable=False),
    Column("taken", Integer, nullable=False),
    Column("answers", Integer, nullable=False),
    Column("open", Boolean, nullable=False),
    #: The known answer of a gold item (normalised as answers are), else SQL NULL.
    Column("gold", JSON(none_as_null=True)),
    #: The auto-label model's label, its confidence and the job that gave it (NULL: none);
    #: a machine-labeled item leaves the human queue unless it is in the ``audit`` sample.
    Column("machine_label", String(64)),
    Column("machine_confidence", Float),
    Column("machine_job", String(64)),
    Column("audit", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("job_id", "item", name="uq_labeling_item"),
    Index("ix_labeling_items_queue", "job_id", "open", "priority", "position"),
)

labeling_assignments = Table(
    "labeling_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("labeling_jobs.id", ondelete="CASCADE"),
           nullable=False),
    Column("item", String(64), nullable=False),
    Column("annotator", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("answer", JSON(none_as_null=True)),
    #: Whether the answer matched a gold item's known answer (null: not a gold item).
    Column("correct", Boolean),
    Column("leased_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("answered_at", UtcDateTime()),
    #: When the item was skipped (migration 0011): an undo takes back the latest action.
    Column("skipped_at", UtcDateTime()),
    Column("seconds", Float),
    UniqueConstraint("job_id", "item", "annotator", name="uq_labeling_assignment"),
    Index("ix_labeling_assignments_leases", "job_id", "status", "expires_at"),
    Index("ix_labeling_assignments_annotator", "job_id", "annotator", "status"),
)

#: Assignment statuses. Only ``leased`` and ``answered`` count toward an item's ``taken``.
LEASED, ANSWERED, SKIPPED, EXPIRED = "leased", "answered", "skipped", "expired"


@dataclass(frozen=True)
class NewLabelingJob:
    """A labeling job as the service checked it, before anything is stored."""

    name: str
    task: str
    labels: list[str]
    dataset: str
    version: int
    column: str | None
    instructions: str | None
    annotators_per_item: int
    gold: dict[str, Any] | None
    auto_label: bool
    workforce: list[str]
    lease_seconds: int
    auto_label_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class LabelingJobRecord:
    id: int
    name: str
    task: str
    labels: list[str]
    dataset: str
    version: int
    column: str | None
    instructions: str | None
    annotators_per_item: int
    gold: dict[str, Any] | None
    auto_label: bool
    workforce: list[str]
    lease_seconds: int
    status: str
    num_items: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    auto_label_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class NewItem:
    item: str
    position: int
    gold: dict[str, Any] | None = None


@dataclass(frozen=True)
class AssignmentRecord:
    job: str
    item: str
    position: int
    annotator: str
    status: str
    answer: dict[str, Any] | None
    correct: bool | None
    leased_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    seconds: float | None
    skipped_at: datetime | None = None


@dataclass(frozen=True)
class ItemCounts:
    """How far a job is: items with at least one answer, items with N, answers given."""

    total: int
    answered: int
    complete: int
    answers: int
    leased: int


def _job(row: Any) -> LabelingJobRecord:
    return LabelingJobRecord(
        id=row.id, name=row.name, task=row.task, labels=list(row.labels), dataset=row.dataset,
        version=row.version, column=row.column, instructions=row.instructions,
        annotators_per_item=row.annotators_per_item, gold=row.gold,
        auto_label=bool(row.auto_label), workforce=list(row.workforce or []),
        lease_seconds=row.lease_seconds, status=row.status, num_items=row.num_items,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        created_by=row.created_by, auto_label_config=row.auto_label_config)


def _assignment(job: str, position: int, row: Any) -> AssignmentRecord:
    return AssignmentRecord(
        job=job, item=row.item, position=position, annotator=row.annotator, status=row.status,
        answer=row.answer, correct=None if row.correct is None else bool(row.correct),
        leased_at=as_utc(row.leased_at), expires_at=as_utc(row.expires_at),
        answered_at=as_utc(row.answered_at), seconds=row.seconds,
        skipped_at=as_utc(row.skipped_at))


_A, _I = labeling_assignments, labeling_items


def _shuffle_priorities(rows: list[dict[str, Any]], name: str) -> None:
    """Serve ``rows`` in a random order seeded by the job's name (the auto-labeler's seed
    set is a random sample; see the module's docstring)."""
    ranks = list(range(len(rows)))
    random.Random(zlib.crc32(name.encode())).shuffle(ranks)  # noqa: S311 - an order, not a secret
    for row, rank in zip(rows, ranks, strict=True):
        row["priority"] = float(rank)


class LabelingRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    # -- jobs ------------------------------------------------------------------------------
    def _get(self, conn: Connection, name: str) -> LabelingJobRecord:
        row = conn.execute(select(labeling_jobs).where(labeling_jobs.c.name == name)).first()
        if row is None:
            raise NotFound(f"No labeling job named {name!r}; `shipyard labeling list` shows "
                           "them.")
        return _job(row)

    def create(self, job: NewLabelingJob, items: Iterable[NewItem], actor: str | None, *,
               idempotency: tuple[str, str] | None = None) -> tuple[LabelingJobRecord, bool]:
        """Store a job and its items (references to rows, never the rows' data).

        Returns ``(job, created?)``: with ``idempotency`` = (key, request hash), a key
        already used for the same request answers its job again (False); another request
        under the key is a 409.
        """
        try:
            with self.db.write() as conn:
                if idempotency is not None:
                    made = lookup(conn, "labeling_job", *idempotency)
                    if made is not None:
                        return self._get(conn, made), False
                if conn.execute(select(labeling_jobs.c.id)
                                .where(labeling_jobs.c.name == job.name)).first():
                    raise Conflict(f"A labeling job named {job.name!r} already exists; "
                                   "choose another name.")
                now = utcnow()
                conn.execute(insert(labeling_jobs).values(
                    name=job.name, task=job.task, labels=job.labels, dataset=job.dataset,
                    version=job.version, column=job.column, instructions=job.instructions,
                    annotators_per_item=job.annotators_per_item, gold=job.gold,
                    auto_label=job.auto_label, auto_label_config=job.auto_label_config,
                    workforce=job.workforce,
                    lease_seconds=job.lease_seconds, status="Running", num_items=0,
                    created_at=now, updated_at=now, created_by=actor))
                job_id = self._get(conn, job.name).id
                rows = [{"job_id": job_id, "item": it.item, "position": it.position,
                         "priority": float(it.position), "taken": 0, "answers": 0,
                         "open": True, "gold": it.gold, "audit": False} for it in items]
                if job.auto_label:
                    _shuffle_priorities(rows, job.name)
                for start in range(0, len(rows), 10_000):
                    conn.execute(insert(labeling_items), rows[start:start + 10_000])
                conn.execute(update(labeling_jobs).where(labeling_jobs.c.id == job_id)
                             .values(num_items=len(rows)))
                if idempotency is not None:
                    claim(conn, "labeling_job", idempotency[0], idempotency[1], job.name)
                self.events.record(conn, "labeling_job.created", "labeling_job", job.name,
                                   actor, task=job.task, dataset=job.dataset,
                                   version=job.version, items=len(rows))
                return self._get(conn, job.name), True
        except SAIntegrityError as exc:
            raise Conflict(f"A labeling job named {job.name!r} was created at the same "
                           "time.") from exc

    def get(self, name: str) -> LabelingJobRecord:
        with self.db.read() as conn:
            return self._get(conn, name)

    def list(self) -> builtins.list[LabelingJobRecord]:
        q = select(labeling_jobs).order_by(by_code_point(labeling_jobs.c.name))
        with self.db.read() as conn:
            return [_job(r) for r in conn.execute(q).all()]

    def stop(self, name: str, actor: str | None) -> LabelingJobRecord:
        """No more assignments; answers to leases already held are still taken."""
        with self.db.write() as conn:
            rec = self._get(conn, name)
            if rec.status == "Stopped":
                return rec
            conn.execute(update(labeling_jobs).where(labeling_jobs.c.id == rec.id)
                         .values(status="Stopped", updated_at=utcnow()))
            self.events.record(conn, "labeling_job.stopped", "labeling_job", name, actor)
            return self._get(conn, name)

    # -- the queue -------------------------------------------------------------------------
    def _expire(self, conn: Connection, job_id: int, now: datetime) -> int:
        """Turn leases past their time into ``expired`` and put their items back."""
        items = conn.execute(select(_A.c.item).where(
            _A.c.job_id == job_id, _A.c.status == LEASED, _A.c.expires_at <= now)).scalars().all()
        if not items:
            return 0
        conn.execute(update(_A).where(_A.c.job_id == job_id, _A.c.status == LEASED,
                                      _A.c.expires_at <= now).values(status=EXPIRED))
        for item in items:
            conn.execute(update(_I).where(_I.c.job_id == job_id, _I.c.item == item)
                         .values(taken=_I.c.taken - 1, open=True))
        return len(items)

    def _position(self, conn: Connection, job_id: int, item: str) -> int:
        pos = conn.execute(select(_I.c.position).where(_I.c.job_id == job_id, _I.c.item == item)
                           ).scalar()
        if pos is None:
            raise NotFound(f"No item {item!r} in this labeling job; items are the row numbers "
                           "of the job's dataset version (0, 1, …).")
        return int(pos)

    def next(self, name: str, annotator: str, *, now: datetime | None = None
             ) -> AssignmentRecord | None:
        """Lease the next item ``annotator`` may label (None: nothing left for it).

        An annotator that already holds a live lease in the job gets that one back, so
        asking twice never hoards two items.
        """
        now = now or utcnow()
        with self.db.write() as conn:
            job = self._get(conn, name)
            self._expire(conn, job.id, now)
            held = conn.execute(select(_A).where(
                _A.c.job_id == job.id, _A.c.annotator == annotator, _A.c.status == LEASED
            ).order_by(_A.c.leased_at).limit(1)).first()
            if held is not None:
                return _assignment(name, self._position(conn, job.id, held.item), held)
            if job.status != "Running":
                return None
            mine = exists().where(_A.c.job_id == _I.c.job_id, _A.c.item == _I.c.item,
                                  _A.c.annotator == annotator, _A.c.status != EXPIRED)
            n = job.annotators_per_item
            # A machine-labeled item needs no human, unless it is in the audit sample.
            human = _I.c.machine_label.is_(None) | _I.c.audit.is_(True)
            for _ in range(3):  # the guarded take below cannot lose under serialised writes
                row = conn.execute(
                    select(_I.c.id, _I.c.item, _I.c.position)
                    .where(_I.c.job_id == job.id, _I.c.open.is_(True), ~mine, human)
                    .order_by(_I.c.priority, _I.c.position).limit(1)).first()
                if row is None:
                    return None
                took = conn.execute(update(_I).where(_I.c.id == row.id, _I.c.taken < n).values(
                    taken=_I.c.taken + 1, open=_I.c.taken + 1 < n))
                if took.rowcount == 1:
                    break
            else:  # pragma: no cover - only if writes stopped being serialised
                raise Conflict("The labeling queue is busy; ask for the next item again.")
            expires = now + timedelta(seconds=job.lease_seconds)
            values = {"status": LEASED, "correct": None, "leased_at": now,
                      "expires_at": expires, "answered_at": None, "seconds": None}
            # An expired lease comes back with the answer it may hold: the one an undo
            # took back, still the annotator's pre-fill.
            renewed = conn.execute(update(_A).where(
                _A.c.job_id == job.id, _A.c.item == row.item, _A.c.annotator == annotator,
                _A.c.status == EXPIRED).values(**values))
            if renewed.rowcount == 0:
                conn.execute(insert(_A).values(job_id=job.id, item=row.item,
                                               annotator=annotator, answer=None, **values))
            got = conn.execute(select(_A).where(_A.c.job_id == job.id, _A.c.item == row.item,
                                                _A.c.annotator == annotator)).one()
            return _assignment(name, int(row.position), got)

    def _held(self, conn: Connection, job: LabelingJobRecord, item: str,
              annotator: str) -> Any:
        row = conn.execute(select(_A).where(_A.c.job_id == job.id, _A.c.item == item,
                                            _A.c.annotator == annotator)).first()
        if row is None:
            self._position(conn, job.id, item)  # 404 for an item the job does not have
            raise Conflict(f"Token {annotator!r} holds no lease on item {item!r} of labeling "
                           f"job {job.name!r}; ask for an item with GET …/next first.")
        return row

    def answer(self, name: str, item: str, annotator: str, answer: dict[str, Any], *,
               now: datetime | None = None,
               agrees: Callable[[Any, dict[str, Any]], bool] = operator.eq,
               ) -> tuple[AssignmentRecord, bool]:
        """Record ``annotator``'s answer to a leased item; ``(record, stored now?)``.

        ``agrees(gold, answer)`` scores an answer to a gold item (the task's rule; boxes
        match by overlap, not equality).

        The same answer sent again is a replay (False); another answer to an item already
        answered, or any answer once the lease has gone, is a 409.
        """
        now = now or utcnow()
        with self.db.write() as conn:
            job = self._get(conn, name)
            row = self._held(conn, job, item, annotator)
            position = self._position(conn, job.id, item)
            if row.status == ANSWERED:
                if row.answer == answer:
                    return _assignment(name, position, row), False
                raise Conflict(f"Item {item!r} of labeling job {name!r} is already answered "
                               "by this token; an answer cannot be changed.")
            if row.status != LEASED or as_utc(row.expires_at) <= now:
                why = "was skipped" if row.status == SKIPPED else "has expired"
                raise Conflict(f"The lease of item {item!r} of labeling job {name!r} {why}; "
                               "ask for the next item with GET …/next.")
            gold = conn.execute(select(_I.c.gold).where(_I.c.job_id == job.id,
                                                        _I.c.item == item)).scalar()
            correct = None if gold is None else bool(agrees(gold, answer))
            conn.execute(update(_A).where(_A.c.id == row.id).values(
                status=ANSWERED, answer=answer, correct=correct, answered_at=now,
                seconds=max(0.0, (now - as_utc(row.leased_at)).total_seconds())))
            conn.execute(update(_I).where(_I.c.job_id == job.id, _I.c.item == item)
                         .values(answers=_I.c.answers + 1))
            got = conn.execute(select(_A).where(_A.c.id == row.id)).one()
            return _assignment(name, position, got), True

    def skip(self, name: str, item: str, annotator: str, *, now: datetime | None = None
             ) -> AssignmentRecord:
        """Give a leased item back to the queue; this annotator is not offered it again."""
        now = now or utcnow()
        with self.db.write() as conn:
            job = self._get(conn, name)
            row = self._held(conn, job, item, annotator)
            position = self._position(conn, job.id, item)
            if row.status == SKIPPED:
                return _assignment(name, position, row)
            if row.status != LEASED:
                raise Conflict(f"Item {item!r} of labeling job {name!r} is {row.status} for "
                               "this token; only a leased item can be skipped.")
            conn.execute(update(_A).where(_A.c.id == row.id).values(status=SKIPPED,
                                                                     skipped_at=now))
            conn.execute(update(_I).where(_I.c.job_id == job.id, _I.c.item == item)
                         .values(taken=_I.c.taken - 1, open=True))
            return _assignment(name, position,
                               conn.execute(select(_A).where(_A.c.id == row.id)).one())

    # -- undo ------------------------------------------------------------------------------
    @staticmethod
    def _last(conn: Connection, job_id: int, annotator: str) -> Any:
        """``annotator``'s latest answer or skip in the job (None: it has neither)."""
        # A skip made before migration 0011 has no time: its lease's stands in.
        when = func.coalesce(_A.c.answered_at, _A.c.skipped_at, _A.c.leased_at)
        return conn.execute(select(_A).where(
            _A.c.job_id == job_id, _A.c.annotator == annotator,
            _A.c.status.in_((ANSWERED, SKIPPED))).order_by(when.desc(), _A.c.id.desc())
            .limit(1)).first()

    def last(self, name: str, annotator: str) -> AssignmentRecord | None:
        """What :meth:`undo` would take back now (None: nothing)."""
        with self.db.read() as conn:
            job = self._get(conn, name)
            row = self._last(conn, job.id, annotator)
            return None if row is None else _assignment(
                name, self._position(conn, job.id, row.item), row)

    def undo(self, name: str, annotator: str, *, now: datetime | None = None
             ) -> AssignmentRecord:
        """Take back ``annotator``'s latest answer or skip: the item is its lease again
        (a fresh one), the answer kept as the pre-fill; again takes back the one before.

        The item it held is given back to the queue (it may come back to it, with any
        pre-fill it had). An answer leaves the item's answers (and a gold score); a skip
        takes the item again, so only while the item has room (``taken < N``).

        Raises:
            Conflict: the job is stopped, nothing to undo, or a skipped item has since
                gone to other annotators.
        """
        now = now or utcnow()
        with self.db.write() as conn:
            job = self._get(conn, name)
            if job.status != "Running":
                raise Conflict(f"Labeling job {name!r} is {job.status}: its answers and skips "
                               "are final and cannot be undone.")
            self._expire(conn, job.id, now)
            last = self._last(conn, job.id, annotator)
            if last is None:
                raise Conflict(f"Token {annotator!r} has no answer or skip to undo in labeling "
                               f"job {name!r}.")
            for held in conn.execute(select(_A.c.id, _A.c.item).where(
                    _A.c.job_id == job.id, _A.c.annotator == annotator,
                    _A.c.status == LEASED)).all():
                conn.execute(update(_A).where(_A.c.id == held.id).values(status=EXPIRED))
                conn.execute(update(_I).where(_I.c.job_id == job.id, _I.c.item == held.item)
                             .values(taken=_I.c.taken - 1, open=True))
            item = _I.c.job_id == job.id, _I.c.item == last.item
            if last.status == ANSWERED:
                conn.execute(update(_I).where(*item).values(answers=_I.c.answers - 1))
            else:
                n = job.annotators_per_item
                took = conn.execute(update(_I).where(*item, _I.c.taken < n).values(
                    taken=_I.c.taken + 1, open=_I.c.taken + 1 < n))
                if took.rowcount != 1:
                    raise Conflict(f"Item {last.item!r} of labeling job {name!r}, which token "
                                   f"{annotator!r} skipped, has since gone to {n} other "
                                   "annotator(s); the skip stands.")
            conn.execute(update(_A).where(_A.c.id == last.id).values(
                status=LEASED, correct=None, leased_at=now,
                expires_at=now + timedelta(seconds=job.lease_seconds), answered_at=None,
                skipped_at=None, seconds=None))
            self.events.record(conn, "labeling_job.undone", "labeling_job", name, annotator,
                               item=last.item, undone=last.status)
            got = conn.execute(select(_A).where(_A.c.id == last.id)).one()
            return _assignment(name, self._position(conn, job.id, last.item), got)

    # -- reads for status and export -------------------------------------------------------
    def assignment(self, name: str, item: str, annotator: str) -> AssignmentRecord | None:
        """``annotator``'s assignment of ``item`` in any status (None: it never had one)."""
        with self.db.read() as conn:
            job = self._get(conn, name)
            row = conn.execute(select(_A, _I.c.position)
                               .join(_I, and_(_I.c.job_id == _A.c.job_id, _I.c.item == _A.c.item))
                               .where(_A.c.job_id == job.id, _A.c.item == item,
                                      _A.c.annotator == annotator)).first()
        return None if row is None else _assignment(name, int(row.position), row)

    def held(self, name: str, annotator: str, *, now: datetime | None = None
             ) -> AssignmentRecord | None:
        """The live lease ``annotator`` holds in the job, if any."""
        now = now or utcnow()
        with self.db.read() as conn:
            job = self._get(conn, name)
            row = conn.execute(select(_A, _I.c.position)
                               .join(_I, and_(_I.c.job_id == _A.c.job_id, _I.c.item == _A.c.item))
                               .where(_A.c.job_id == job.id, _A.c.annotator == annotator,
                                      _A.c.status == LEASED, _A.c.expires_at > now)
                               .order_by(_A.c.leased_at).limit(1)).first()
        return None if row is None else _assignment(name, int(row.position), row)

    def counts(self, name: str, *, now: datetime | None = None) -> ItemCounts:
        now = now or utcnow()
        with self.db.read() as conn:
            job = self._get(conn, name)
            n = job.annotators_per_item
            row = conn.execute(select(
                func.count(), func.coalesce(func.sum(_I.c.answers), 0),
                func.count().filter(_I.c.answers >= 1),
                func.count().filter(_I.c.answers >= n)).where(_I.c.job_id == job.id)).one()
            leased = conn.execute(select(func.count()).where(
                _A.c.job_id == job.id, _A.c.status == LEASED, _A.c.expires_at > now)).scalar()
        return ItemCounts(total=int(row[0]), answers=int(row[1]), answered=int(row[2]),
                          complete=int(row[3]), leased=int(leased or 0))

    def answers(self, name: str, annotator: str | None = None
                ) -> builtins.list[AssignmentRecord]:
        """Every answer of the job (or of one annotator), in item order."""
        with self.db.read() as conn:
            job = self._get(conn, name)
            q = (select(_A, _I.c.position)
                 .join(_I, and_(_I.c.job_id == _A.c.job_id, _I.c.item == _A.c.item))
                 .where(_A.c.job_id == job.id, _A.c.status == ANSWERED)
                 .order_by(_I.c.position, by_code_point(_A.c.annotator)))
            if annotator is not None:
                q = q.where(_A.c.annotator == annotator)
            return [_assignment(name, int(r.position), r) for r in conn.execute(q).all()]

    def gold(self, name: str) -> dict[str, dict[str, Any]]:
        """The gold items' known answers, by item."""
        with self.db.read() as conn:
            job = self._get(conn, name)
            rows = conn.execute(select(_I.c.item, _I.c.gold).where(
                _I.c.job_id == job.id, _I.c.gold.is_not(None))).all()
        return {r.item: r.gold for r in rows if r.gold is not None}
