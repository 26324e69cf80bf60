"""Dataset repository: datasets and their immutable versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.names import did_you_mean
from shipyard.store import _idempotency
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import dataset_versions, datasets
from shipyard.store._types import by_code_point


@dataclass(frozen=True)
class VersionRecord:
    dataset: str
    version: int
    parts: list[dict[str, Any]]
    schema: list[dict[str, Any]]
    num_rows: int
    num_columns: int
    size_bytes: int
    content_hash: str
    source: dict[str, Any]
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    latest: VersionRecord | None


@dataclass(frozen=True)
class NewVersion:
    """What a new version is made of, computed before anything is stored."""

    parts: list[dict[str, Any]]
    schema: list[dict[str, Any]]
    num_rows: int
    num_columns: int
    size_bytes: int
    content_hash: str
    source: dict[str, Any]


def _version(name: str, row: Any) -> VersionRecord:
    return VersionRecord(
        dataset=name,
        version=row.version,
        parts=row.parts,
        schema=row.schema,
        num_rows=row.num_rows,
        num_columns=row.num_columns,
        size_bytes=row.size_bytes,
        content_hash=row.content_hash,
        source=row.source,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )


class DatasetRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    # -- writes ---------------------------------------------------------------------------
    def add_version(
        self,
        name: str,
        new: NewVersion,
        *,
        must_exist: bool | None,
        actor: str | None,
        description: str | None = None,
        idempotency: tuple[str, str] | None = None,
    ) -> VersionRecord:
        """Store a new version of ``name``.

        Args:
            must_exist: ``False`` to create (409 if the name is taken), ``True`` to append
                (404 if absent), ``None`` for either.
            idempotency: ``(key, request_hash)`` to make the create repeatable.
        """
        try:
            with self.db.write() as conn:
                if idempotency:
                    done = _idempotency.lookup(conn, "datasets", *idempotency)
                    if done is not None:
                        ds_name, _, ver = done.rpartition(":")
                        return self._get_version(conn, ds_name, int(ver))
                ds = conn.execute(select(datasets).where(datasets.c.name == name)).first()
                if ds is not None and must_exist is False:
                    raise Conflict(
                        f"Dataset {name!r} already exists; append a version to it instead "
                        "(`shipyard datasets append`) or choose another name."
                    )
                if ds is None and must_exist is True:
                    raise NotFound(f"No dataset named {name!r}; create it first.")
                now = utcnow()
                if ds is None:
                    ds_id = conn.execute(
                        insert(datasets).values(
                            name=name,
                            description=description,
                            created_at=now,
                            updated_at=now,
                            created_by=actor,
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                    number = 1
                else:
                    ds_id = ds.id
                    top = conn.execute(
                        select(func.max(dataset_versions.c.version)).where(
                            dataset_versions.c.dataset_id == ds_id
                        )
                    ).scalar()
                    number = int(top or 0) + 1
                    conn.execute(
                        update(datasets).where(datasets.c.id == ds_id).values(updated_at=now)
                    )
                conn.execute(
                    insert(dataset_versions).values(
                        dataset_id=ds_id,
                        version=number,
                        parts=new.parts,
                        schema=new.schema,
                        num_rows=new.num_rows,
                        num_columns=new.num_columns,
                        size_bytes=new.size_bytes,
                        content_hash=new.content_hash,
                        source=new.source,
                        created_at=now,
                        created_by=actor,
                    )
                )
                if idempotency:
                    _idempotency.claim(
                        conn, "datasets", idempotency[0], idempotency[1], f"{name}:{number}"
                    )
                self.events.record(
                    conn,
                    "dataset.version_created",
                    "dataset",
                    name,
                    actor,
                    version=number,
                    rows=new.num_rows,
                )
                return self._get_version(conn, name, number)
        except SAIntegrityError as exc:
            # Lost a race: a concurrent create took the name, version number or key.
            if idempotency:
                with self.db.read() as conn:
                    done = _idempotency.lookup(conn, "datasets", *idempotency)
                if done is not None:
                    ds_name, _, ver = done.rpartition(":")
                    return self.version(ds_name, int(ver))
            raise Conflict(
                f"Dataset {name!r} was changed by another request at the same time; retry."
            ) from exc

    def delete(self, name: str, actor: str | None, **audit: Any) -> list[str]:
        """Delete a dataset and its versions; return the part hashes nothing else uses."""
        with self.db.write() as conn:
            ds = self._get_row(conn, name)
            rows = conn.execute(
                select(dataset_versions.c.parts).where(dataset_versions.c.dataset_id == ds.id)
            ).all()
            mine = {p["sha256"] for r in rows for p in r.parts}
            conn.execute(delete(dataset_versions).where(dataset_versions.c.dataset_id == ds.id))
            conn.execute(delete(datasets).where(datasets.c.id == ds.id))
            others = conn.execute(select(dataset_versions.c.parts)).all()
            still_used = {p["sha256"] for r in others for p in r.parts}
            self.events.record(conn, "dataset.deleted", "dataset", name, actor, **audit)
        return sorted(mine - still_used)

    # -- reads ----------------------------------------------------------------------------
    def _get_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(datasets).where(datasets.c.name == name)).first()
        if row is None:
            known = conn.execute(select(datasets.c.name)).scalars().all()
            raise NotFound(f"No dataset named {name!r}.{did_you_mean(name, known)} "
                           "`shipyard datasets list` shows the names.")
        return row

    def _get_version(self, conn: Connection, name: str, version: int | None) -> VersionRecord:
        ds = self._get_row(conn, name)
        q = select(dataset_versions).where(dataset_versions.c.dataset_id == ds.id)
        if version is None:
            q = q.order_by(dataset_versions.c.version.desc()).limit(1)
        else:
            q = q.where(dataset_versions.c.version == version)
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(
                f"Dataset {name!r} has no version {version}; "
                f"`shipyard datasets versions {name}` lists them."
            )
        return _version(name, row)

    def version(self, name: str, version: int | None = None) -> VersionRecord:
        with self.db.read() as conn:
            return self._get_version(conn, name, version)

    def idempotent_version(self, key: str, request_hash: str) -> VersionRecord | None:
        """The version an idempotency key already made (None: none yet); 409 when the key
        was used with another request."""
        with self.db.read() as conn:
            done = _idempotency.lookup(conn, "datasets", key, request_hash)
            if done is None:
                return None
            ds_name, _, ver = done.rpartition(":")
            return self._get_version(conn, ds_name, int(ver))

    def versions(self, name: str) -> list[VersionRecord]:
        with self.db.read() as conn:
            ds = self._get_row(conn, name)
            rows = conn.execute(
                select(dataset_versions)
                .where(dataset_versions.c.dataset_id == ds.id)
                .order_by(dataset_versions.c.version)
            ).all()
        return [_version(name, r) for r in rows]

    def get(self, name: str) -> DatasetRecord:
        with self.db.read() as conn:
            ds = self._get_row(conn, name)
            latest = self._get_version(conn, name, None)
        return self._dataset(ds, latest)

    def list(self) -> list[DatasetRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(datasets).order_by(by_code_point(datasets.c.name))).all()
            return [self._dataset(r, self._get_version(conn, r.name, None)) for r in rows]

    @staticmethod
    def _dataset(row: Any, latest: VersionRecord | None) -> DatasetRecord:
        return DatasetRecord(
            id=row.id,
            name=row.name,
            description=row.description,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            created_by=row.created_by,
            latest=latest,
        )
