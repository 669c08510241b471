"""batch_status_history: one row per observed status change, for time-in-status reporting.

Databases that already hold batches get one first observation per batch: its current status,
observed when the batch last changed (the only time we know it had that status).

MySQL/MariaDB commit each DDL statement, so a failed run of this migration can leave the table
behind at revision 0001; each step checks what is already there, so running it again finishes
the job instead of failing on "table already exists".

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.schema import UTCDateTime
from etl.store.views import drop_views

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("batch_status_history"):
        _create_table()
    indexes = {
        index["name"] for index in sa.inspect(op.get_bind()).get_indexes("batch_status_history")
    }
    if "ix_batch_status_history_batch_id" not in indexes:
        op.create_index(
            "ix_batch_status_history_batch_id",
            "batch_status_history",
            ["batch_id", "observed_at"],
            unique=False,
        )
    op.execute(
        "INSERT INTO batch_status_history (batch_id, old_status, new_status, observed_at, run_id) "
        "SELECT batch_id, NULL, status, last_changed_at, last_changed_run_id FROM batches b "
        "WHERE NOT EXISTS (SELECT 1 FROM batch_status_history h WHERE h.batch_id = b.batch_id) "
        "ORDER BY last_changed_at, batch_id"
    )


def _create_table() -> None:
    op.create_table(
        "batch_status_history",
        sa.Column(
            "history_id",
            sa.Integer(),
            autoincrement=True,
            nullable=False,
            comment="Sequential id of the observation.",
        ),
        sa.Column("batch_id", sa.String(length=36), nullable=False, comment="The batch."),
        sa.Column(
            "old_status",
            sa.String(length=16),
            nullable=True,
            comment="Status before the change; NULL on the batch's first observation.",
        ),
        sa.Column(
            "new_status", sa.String(length=16), nullable=False, comment="Status the sync found."
        ),
        sa.Column(
            "observed_at",
            UTCDateTime(),
            nullable=False,
            comment="When the sync stored the change (UTC); the batch changed at or before it.",
        ),
        sa.Column("run_id", sa.Integer(), nullable=False, comment="Run that observed the change."),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("history_id"),
        comment=(
            "One row each time a sync finds a batch's status changed, and one when it first sees "
            "the batch. Nothing is written while the status stays the same."
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )


def downgrade() -> None:
    drop_views(op.get_bind())  # they read this table; the job recreates them on its next run
    op.drop_table("batch_status_history")
