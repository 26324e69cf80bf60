"""room for ids made of two names

A model version's event id is ``GROUP:VERSION`` and a dataset create's idempotency
record points at ``NAME:VERSION``: with a name of the longest allowed length (128)
both overflow a 128-character column. SQLite never noticed; PostgreSQL refused the
whole change.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.alter_column("resource_id", existing_type=sa.String(length=128),
                           type_=sa.String(length=255), existing_nullable=False)
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("resource_id", existing_type=sa.String(length=128),
                           type_=sa.String(length=255), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("resource_id", existing_type=sa.String(length=255),
                           type_=sa.String(length=128), existing_nullable=False)
    with op.batch_alter_table("events") as batch:
        batch.alter_column("resource_id", existing_type=sa.String(length=255),
                           type_=sa.String(length=128), existing_nullable=False)
