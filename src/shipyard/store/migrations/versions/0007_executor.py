"""jobs: the executor that runs a job, its handle (for recovery), heartbeat, metrics offset

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("executor", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("handle", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("metrics_offset", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("metrics_offset")
        batch.drop_column("heartbeat_at")
        batch.drop_column("handle")
        batch.drop_column("executor")
