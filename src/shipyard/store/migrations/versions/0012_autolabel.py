"""auto-labeling: a labeling job's settings, machine labels on items, the model's runs

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("labeling_jobs") as batch:
        batch.add_column(sa.Column("auto_label_config", sa.JSON(), nullable=True))
    with op.batch_alter_table("labeling_items") as batch:
        batch.add_column(sa.Column("machine_label", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("machine_confidence", sa.Float(), nullable=True))
        batch.add_column(sa.Column("machine_job", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("audit", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "labeling_autolabel_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("model_job", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("human_labels", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["labeling_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "seq", name="uq_labeling_autolabel_run"),
    )
    op.create_index("ix_labeling_autolabel_runs_model_job", "labeling_autolabel_runs",
                    ["model_job"])


def downgrade() -> None:
    op.drop_index("ix_labeling_autolabel_runs_model_job", table_name="labeling_autolabel_runs")
    op.drop_table("labeling_autolabel_runs")
    with op.batch_alter_table("labeling_items") as batch:
        batch.drop_column("audit")
        batch.drop_column("machine_job")
        batch.drop_column("machine_confidence")
        batch.drop_column("machine_label")
    with op.batch_alter_table("labeling_jobs") as batch:
        batch.drop_column("auto_label_config")
