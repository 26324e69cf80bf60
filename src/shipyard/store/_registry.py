"""Model registry repository: groups, versions, and their status changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import model_groups, model_versions
from shipyard.store._types import by_code_point


@dataclass(frozen=True)
class ModelVersionRecord:
    group: str
    version: int
    status: str
    job_id: str
    bundle: dict[str, Any]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    card: dict[str, Any]
    criteria: dict[str, Any]
    status_comment: str | None
    status_changed_by: str | None
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class ModelGroupRecord:
    name: str
    description: str | None
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str | None


def _version(group: str, row: Any) -> ModelVersionRecord:
    return ModelVersionRecord(
        group=group,
        version=row.version,
        status=row.status,
        job_id=row.job_id,
        bundle=row.bundle,
        metrics=row.metrics,
        lineage=row.lineage,
        card=row.card,
        criteria=row.criteria,
        status_comment=row.status_comment,
        status_changed_by=row.status_changed_by,
        status_changed_at=as_utc(row.status_changed_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        created_by=row.created_by,
    )


def _group(row: Any) -> ModelGroupRecord:
    return ModelGroupRecord(
        name=row.name,
        description=row.description,
        settings=row.settings or {},
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        created_by=row.created_by,
    )


class RegistryRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def _group_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(model_groups).where(model_groups.c.name == name)).first()
        if row is None:
            raise NotFound(f"No model group named {name!r}; `shipyard models list` shows them.")
        return row

    def add_version(
        self,
        group: str,
        *,
        status: str,
        job_id: str,
        bundle: dict[str, Any],
        metrics: dict[str, Any],
        lineage: dict[str, Any],
        card: dict[str, Any],
        criteria: dict[str, Any],
        actor: str | None,
    ) -> ModelVersionRecord:
        """Register a new version (creating the group on first use)."""
        try:
            with self.db.write() as conn:
                now = utcnow()
                row = conn.execute(select(model_groups).where(model_groups.c.name == group)).first()
                if row is None:
                    gid = conn.execute(
                        insert(model_groups).values(
                            name=group,
                            settings={},
                            created_at=now,
                            updated_at=now,
                            created_by=actor,
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                    self.events.record(conn, "model_group.created", "model_group", group, actor)
                else:
                    gid = row.id
                top = conn.execute(
                    select(func.max(model_versions.c.version)).where(
                        model_versions.c.group_id == gid
                    )
                ).scalar()
                number = int(top or 0) + 1
                conn.execute(
                    insert(model_versions).values(
                        group_id=gid,
                        version=number,
                        status=status,
                        job_id=job_id,
                        bundle=bundle,
                        metrics=metrics,
                        lineage=lineage,
                        card=card,
                        criteria=criteria,
                        status_changed_by=actor,
                        status_changed_at=now,
                        created_at=now,
                        updated_at=now,
                        created_by=actor,
                    )
                )
                self.events.record(
                    conn,
                    "model_version.registered",
                    "model_version",
                    f"{group}:{number}",
                    actor,
                    group=group,
                    version=number,
                    status=status,
                    job_id=job_id,
                )
                return self._get(conn, group, number)
        except SAIntegrityError as exc:
            raise Conflict(f"Model group {group!r} changed at the same time; retry.") from exc

    def set_status(
        self,
        group: str,
        version: int,
        status: str,
        from_statuses: list[str],
        *,
        comment: str | None,
        actor: str | None,
    ) -> ModelVersionRecord:
        with self.db.write() as conn:
            current = self._get(conn, group, version)
            if current.status not in from_statuses:
                raise Conflict(
                    f"Model {group}:{version} is {current.status}; it can only become {status} "
                    f"from {' or '.join(from_statuses)}."
                )
            gid = self._group_row(conn, group).id
            now = utcnow()
            conn.execute(
                update(model_versions)
                .where(
                    model_versions.c.group_id == gid,
                    model_versions.c.version == version,
                )
                .values(
                    status=status,
                    status_comment=comment,
                    status_changed_by=actor,
                    status_changed_at=now,
                    updated_at=now,
                )
            )
            self.events.record(
                conn,
                "model_version.status_changed",
                "model_version",
                f"{group}:{version}",
                actor,
                group=group,
                version=version,
                status=status,
                previous=current.status,
                comment=comment,
            )
            return self._get(conn, group, version)

    def update_card(
        self, group: str, version: int, card: dict[str, Any], actor: str | None
    ) -> ModelVersionRecord:
        with self.db.write() as conn:
            gid = self._group_row(conn, group).id
            self._get(conn, group, version)
            conn.execute(
                update(model_versions)
                .where(
                    model_versions.c.group_id == gid,
                    model_versions.c.version == version,
                )
                .values(card=card, updated_at=utcnow())
            )
            self.events.record(
                conn,
                "model_version.card_updated",
                "model_version",
                f"{group}:{version}",
                actor,
                group=group,
                version=version,
            )
            return self._get(conn, group, version)

    def add_card_report(self, group: str, version: int, entry: dict[str, Any],
                        keep: int) -> ModelVersionRecord:
        """Put ``entry`` first in the card's ``reports`` (one per job, ``keep`` at most),
        read and written in one transaction so a concurrent card edit is not lost."""
        with self.db.write() as conn:
            gid = self._group_row(conn, group).id
            current = self._get(conn, group, version)
            reports = [r for r in (current.card.get("reports") or [])
                       if r.get("job_id") != entry.get("job_id")]
            card = {**current.card, "reports": [entry, *reports][:keep]}
            conn.execute(
                update(model_versions)
                .where(model_versions.c.group_id == gid, model_versions.c.version == version)
                .values(card=card, updated_at=utcnow())
            )
            self.events.record(conn, "model_version.report_added", "model_version",
                               f"{group}:{version}", None, group=group, version=version,
                               kind=entry.get("kind"), job_id=entry.get("job_id"))
            return self._get(conn, group, version)

    def update_group_settings(
        self, group: str, settings: dict[str, Any], actor: str | None,
        description: str | None = None,
    ) -> ModelGroupRecord:
        """Store a group's settings, and its description when one is given."""
        described = {} if description is None else {"description": description}
        with self.db.write() as conn:
            self._group_row(conn, group)
            conn.execute(
                update(model_groups)
                .where(model_groups.c.name == group)
                .values(settings=settings, updated_at=utcnow(), **described)
            )
            self.events.record(
                conn, "model_group.updated", "model_group", group, actor, settings=settings,
                **described,
            )
            return _group(self._group_row(conn, group))

    def delete_group(self, group: str, actor: str | None, **audit: Any) -> int:
        """Forget a group and its versions (their files stay: they are the jobs' outputs)."""
        with self.db.write() as conn:
            gid = self._group_row(conn, group).id
            count = conn.execute(delete(model_versions)
                                 .where(model_versions.c.group_id == gid)).rowcount
            conn.execute(delete(model_groups).where(model_groups.c.id == gid))
            self.events.record(conn, "model_group.deleted", "model_group", group, actor,
                               versions=count, **audit)
        return int(count)

    def _get(
        self, conn: Connection, group: str, version: int | None, status: str | None = None
    ) -> ModelVersionRecord:
        gid = self._group_row(conn, group).id
        q = select(model_versions).where(model_versions.c.group_id == gid)
        if status:
            q = q.where(model_versions.c.status == status)
        if version is None:
            q = q.order_by(model_versions.c.version.desc()).limit(1)
        else:
            q = q.where(model_versions.c.version == version)
        row = conn.execute(q).first()
        if row is None:
            what = f"version {version}" if version is not None else f"{status or 'any'} version"
            raise NotFound(
                f"Model group {group!r} has no {what}; "
                f"`shipyard models list {group}` lists its versions."
            )
        return _version(group, row)

    def get(
        self, group: str, version: int | None = None, status: str | None = None
    ) -> ModelVersionRecord:
        with self.db.read() as conn:
            return self._get(conn, group, version, status)

    def group(self, name: str) -> ModelGroupRecord:
        with self.db.read() as conn:
            return _group(self._group_row(conn, name))

    def groups(self) -> list[ModelGroupRecord]:
        with self.db.read() as conn:
            return [
                _group(r)
                for r in conn.execute(
                    select(model_groups).order_by(by_code_point(model_groups.c.name))
                ).all()
            ]

    def versions(self, group: str) -> list[ModelVersionRecord]:
        with self.db.read() as conn:
            gid = self._group_row(conn, group).id
            rows = conn.execute(
                select(model_versions)
                .where(model_versions.c.group_id == gid)
                .order_by(model_versions.c.version)
            ).all()
        return [_version(group, r) for r in rows]

    def with_status(self, status: str, limit: int = 50) -> list[ModelVersionRecord]:
        """The newest ``limit`` versions in ``status``, across groups (the studio's "waiting
        for approval"; the status index serves it)."""
        q = (select(model_groups.c.name.label("group_name"), model_versions)
             .join(model_groups, model_groups.c.id == model_versions.c.group_id)
             .where(model_versions.c.status == status)
             .order_by(model_versions.c.created_at.desc(), model_versions.c.id.desc())
             .limit(limit))
        with self.db.read() as conn:
            return [_version(r.group_name, r) for r in conn.execute(q).all()]

    def group_summaries(self) -> list[dict[str, Any]]:
        """Each group with its number of versions, latest version and status, and latest
        approved version, in one query over the version numbers and statuses only."""
        q = (select(model_groups.c.name, model_versions.c.version, model_versions.c.status)
             .join(model_versions, model_versions.c.group_id == model_groups.c.id,
                   isouter=True)
             .order_by(by_code_point(model_groups.c.name), model_versions.c.version))
        out: dict[str, dict[str, Any]] = {}
        with self.db.read() as conn:
            for name, version, status in conn.execute(q).all():
                g = out.setdefault(name, {"name": name, "versions": 0, "latest": None,
                                          "latest_status": None, "approved": None})
                if version is None:
                    continue
                g["versions"] += 1
                g["latest"], g["latest_status"] = version, status
                if status == "Approved":
                    g["approved"] = version
        return list(out.values())

    def all_versions(self) -> list[ModelVersionRecord]:
        """Every version of every group (for lineage questions: who was trained on what)."""
        q = (select(model_groups.c.name.label("group_name"), model_versions)
             .join(model_groups, model_groups.c.id == model_versions.c.group_id)
             .order_by(model_groups.c.name, model_versions.c.version))
        with self.db.read() as conn:
            return [_version(r.group_name, r) for r in conn.execute(q).all()]

    def versions_of_job(self, job_id: str) -> list[ModelVersionRecord]:
        """The versions registered from job ``job_id`` (a model may be registered twice)."""
        q = (select(model_groups.c.name.label("group_name"), model_versions)
             .join(model_groups, model_groups.c.id == model_versions.c.group_id)
             .where(model_versions.c.job_id == job_id)
             .order_by(model_groups.c.name, model_versions.c.version))
        with self.db.read() as conn:
            return [_version(r.group_name, r) for r in conn.execute(q).all()]
