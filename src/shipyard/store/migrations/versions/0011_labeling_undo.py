"""labeling undo: when an assignment was skipped, so an annotator's last action is known

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, so no table rebuild on SQLite; a skip made before this has none, and an
    # answer given after it is the newer action anyway.
    op.add_column("labeling_assignments",
                  sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("labeling_assignments") as batch:
        batch.drop_column("skipped_at")
