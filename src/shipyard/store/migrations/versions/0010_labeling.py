"""labeling: jobs, their items (references to dataset rows) and assignments

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "labeling_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=256), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("annotators_per_item", sa.Integer(), nullable=False),
        sa.Column("gold", sa.JSON(), nullable=True),
        sa.Column("auto_label", sa.Boolean(), nullable=False),
        sa.Column("workforce", sa.JSON(), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("num_items", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "labeling_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("gold", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["labeling_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "item", name="uq_labeling_item"),
    )
    # The next-item query: open items of a job in serving order.
    op.create_index("ix_labeling_items_queue", "labeling_items",
                    ["job_id", "open", "priority", "position"])
    op.create_table(
        "labeling_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("annotator", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("leased_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["labeling_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "item", "annotator", name="uq_labeling_assignment"),
    )
    # Expired leases are found by time; an annotator's own items by name.
    op.create_index("ix_labeling_assignments_leases", "labeling_assignments",
                    ["job_id", "status", "expires_at"])
    op.create_index("ix_labeling_assignments_annotator", "labeling_assignments",
                    ["job_id", "annotator", "status"])


def downgrade() -> None:
    op.drop_index("ix_labeling_assignments_annotator", table_name="labeling_assignments")
    op.drop_index("ix_labeling_assignments_leases", table_name="labeling_assignments")
    op.drop_table("labeling_assignments")
    op.drop_index("ix_labeling_items_queue", table_name="labeling_items")
    op.drop_table("labeling_items")
    op.drop_table("labeling_jobs")
