"""Table definitions of the metadata store (the current schema, as migrations leave it).

Migrations in ``migrations/versions`` are the source of truth for how a database
gets here; a test checks that a migrated database matches these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.store._types import UtcDateTime

metadata = MetaData()

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    Column("revoked_at", UtcDateTime()),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("actor", String(128)),
    Column("payload", JSON, nullable=False),
    Index("ix_events_resource", "resource_type", "resource_id"),
    Index("ix_events_kind", "kind"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("parts", JSON, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("num_columns", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_version"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(128)),
    Column("spec", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    Column("message", Text),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("pid", Integer),
    Column("pid_started_at", Float),
    Column("outputs", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    Column("experiment", String(128)),
    Column("tags", JSON),
    Column("notes", Text),
    # The executor running the job's current attempt and its handle's state (for recovery
    # after a control-plane restart), when it was last seen alive, and how far its
    # metrics file has been read.
    Column("executor", String(16)),
    Column("handle", JSON),
    Column("heartbeat_at", UtcDateTime()),
    Column("metrics_offset", BigInteger),
    Index("ix_jobs_status", "status"),
    Index("ix_jobs_experiment", "experiment"),
)

#: A job attempt's own token (``SHIPYARD_TOKEN`` inside the job), stored only as its hash.
#: Active while ``revoked_at`` is null: the job repository revokes it in the transaction
#: that moves the job out of Starting/Running/Stopping.
job_tokens = Table(
    "job_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
    Index("ix_job_tokens_job", "job_id"),
)

job_metrics = Table(
    "job_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", BigInteger),
    Column("timestamp", Float, nullable=False),
    Index("ix_job_metrics_job", "job_id", "name"),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text),
    Column("problem_statement", Text),
    Column("success_criteria", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)

model_groups = Table(
    "model_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text),
    Column("settings", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("model_groups.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("job_id", String(40), nullable=False),
    Column("bundle", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("card", JSON, nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("status_comment", Text),
    Column("status_changed_by", String(128)),
    Column("status_changed_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    UniqueConstraint("group_id", "version", name="uq_model_version"),
    Index("ix_model_versions_status", "group_id", "status"),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("spec", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)
