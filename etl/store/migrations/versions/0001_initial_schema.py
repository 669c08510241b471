"""The initial schema: runs, batches with their task details, datasets, links and failures.

This is the schema prolific-etl 0.1.0 created with ``create_all``; a database made by that version
holds exactly these tables and is stamped at this revision by ``prolific-etl db upgrade``.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.schema import LongText, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "etl_runs",
        sa.Column(
            "run_id",
            sa.Integer(),
            autoincrement=True,
            nullable=False,
            comment="Sequential id of the run.",
        ),
        sa.Column(
            "started_at", UTCDateTime(), nullable=False, comment="When the run started (UTC)."
        ),
        sa.Column(
            "finished_at",
            UTCDateTime(),
            nullable=True,
            comment="When the run ended (UTC); NULL while running.",
        ),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="running, succeeded, partial (some batches failed), failed, aborted.",
        ),
        sa.Column(
            "ids_read",
            sa.Integer(),
            nullable=False,
            comment="Distinct valid batch IDs read from the ID file.",
        ),
        sa.Column(
            "fetched",
            sa.Integer(),
            nullable=False,
            comment="Batches fetched from the API with a 200.",
        ),
        sa.Column(
            "inserted", sa.Integer(), nullable=False, comment="Batches seen for the first time."
        ),
        sa.Column(
            "updated", sa.Integer(), nullable=False, comment="Known batches whose content changed."
        ),
        sa.Column(
            "unchanged",
            sa.Integer(),
            nullable=False,
            comment="Known batches whose content did not change.",
        ),
        sa.Column(
            "failed",
            sa.Integer(),
            nullable=False,
            comment="Rows written to etl_failures by this run (bad ID lines and failed batches).",
        ),
        sa.Column(
            "retries",
            sa.Integer(),
            nullable=False,
            comment="Requests retried after a 429, 5xx, timeout or dropped connection.",
        ),
        sa.Column(
            "tool_version", sa.String(length=32), nullable=False, comment="prolific-etl version."
        ),
        sa.Column(
            "id_source",
            LongText,
            nullable=True,
            comment="The ID file the run read (<stdin> for standard input).",
        ),
        sa.Column(
            "error_message",
            LongText,
            nullable=True,
            comment="Why the run failed, when it failed as a whole.",
        ),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'partial', 'failed', 'aborted')",
            name="ck_etl_runs_status",
        ),
        sa.PrimaryKeyConstraint("run_id"),
        comment="One row per run of the job.",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "batches",
        sa.Column(
            "batch_id", sa.String(length=36), nullable=False, comment="Batch UUID (lower case)."
        ),
        sa.Column("name", LongText, nullable=False, comment="Batch name."),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="UNINITIALISED, PROCESSING, READY or ERROR.",
        ),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False, comment="Creation time at Prolific (UTC)."
        ),
        sa.Column(
            "created_by",
            sa.String(length=255),
            nullable=False,
            comment="User ID of the Prolific user who created the batch.",
        ),
        sa.Column(
            "workspace_id", sa.String(length=255), nullable=False, comment="Prolific workspace ID."
        ),
        sa.Column("schema_version", sa.Integer(), nullable=False, comment="Batch schema version."),
        sa.Column(
            "total_task_count", sa.BigInteger(), nullable=False, comment="Tasks in the batch."
        ),
        sa.Column(
            "total_instruction_count",
            sa.BigInteger(),
            nullable=False,
            comment="Instructions in the batch.",
        ),
        sa.Column(
            "total_task_groups",
            sa.BigInteger(),
            nullable=False,
            comment="Task groups in the batch.",
        ),
        sa.Column("task_name", LongText, nullable=False, comment="task_details.task_name."),
        sa.Column(
            "task_introduction",
            LongText,
            nullable=False,
            comment="task_details.task_introduction: HTML, exactly as sent.",
        ),
        sa.Column(
            "task_steps",
            LongText,
            nullable=False,
            comment="task_details.task_steps: HTML, exactly as sent.",
        ),
        sa.Column(
            "content_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the batch's content; a sync rewrites the row only when it changes.",
        ),
        sa.Column(
            "first_seen_at",
            UTCDateTime(),
            nullable=False,
            comment="When a sync first stored the batch.",
        ),
        sa.Column(
            "last_changed_at",
            UTCDateTime(),
            nullable=False,
            comment="When a sync last stored a change to the batch.",
        ),
        sa.Column(
            "first_seen_run_id",
            sa.Integer(),
            nullable=False,
            comment="Run that first stored the batch.",
        ),
        sa.Column(
            "last_changed_run_id",
            sa.Integer(),
            nullable=False,
            comment="Run that last stored a change to the batch.",
        ),
        sa.CheckConstraint(
            "status IN ('UNINITIALISED', 'PROCESSING', 'READY', 'ERROR')", name="ck_batches_status"
        ),
        sa.ForeignKeyConstraint(
            ["first_seen_run_id"],
            ["etl_runs.run_id"],
        ),
        sa.ForeignKeyConstraint(
            ["last_changed_run_id"],
            ["etl_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("batch_id"),
        comment="One row per AI Task Builder batch, with its task details.",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_batches_status", "batches", ["status"], unique=False)
    op.create_index("ix_batches_workspace_id", "batches", ["workspace_id"], unique=False)
    op.create_table(
        "datasets",
        sa.Column(
            "dataset_id", sa.String(length=36), nullable=False, comment="Dataset UUID (lower case)."
        ),
        sa.Column("filename", LongText, nullable=False, comment="File name of the dataset."),
        sa.Column(
            "total_datapoint_count",
            sa.BigInteger(),
            nullable=False,
            comment="Datapoints in the dataset.",
        ),
        sa.Column(
            "first_seen_at",
            UTCDateTime(),
            nullable=False,
            comment="When a sync first stored the dataset.",
        ),
        sa.Column(
            "last_changed_at",
            UTCDateTime(),
            nullable=False,
            comment="When a sync last stored a change to the dataset.",
        ),
        sa.Column(
            "last_changed_run_id",
            sa.Integer(),
            nullable=False,
            comment="Run that last stored a change to the dataset.",
        ),
        sa.ForeignKeyConstraint(
            ["last_changed_run_id"],
            ["etl_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("dataset_id"),
        comment="One row per dataset, however many batches use it.",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "etl_failures",
        sa.Column(
            "failure_id",
            sa.Integer(),
            autoincrement=True,
            nullable=False,
            comment="Sequential id of the failure.",
        ),
        sa.Column("run_id", sa.Integer(), nullable=False, comment="The run."),
        sa.Column(
            "batch_id",
            sa.String(length=36),
            nullable=True,
            comment="The batch; NULL for a bad ID line.",
        ),
        sa.Column(
            "input_line", LongText, nullable=True, comment="The bad ID line, as read (shortened)."
        ),
        sa.Column(
            "line_number", sa.Integer(), nullable=True, comment="Line number of the bad ID line."
        ),
        sa.Column(
            "stage", sa.String(length=16), nullable=False, comment="input, fetch, validate or load."
        ),
        sa.Column(
            "http_status",
            sa.Integer(),
            nullable=True,
            comment="HTTP status of the last response, when there was one.",
        ),
        sa.Column(
            "error_kind",
            sa.String(length=32),
            nullable=False,
            comment="Stable error name: bad_id_line, not_found, invalid_payload, ...",
        ),
        sa.Column(
            "field", LongText, nullable=True, comment="The payload field that failed validation."
        ),
        sa.Column("message", LongText, nullable=False, comment="What went wrong, for a person."),
        sa.Column("occurred_at", UTCDateTime(), nullable=False, comment="When it happened (UTC)."),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("failure_id"),
        comment="One row per batch or ID line that failed in a run.",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_etl_failures_run_id", "etl_failures", ["run_id"], unique=False)
    op.create_table(
        "batch_datasets",
        sa.Column("batch_id", sa.String(length=36), nullable=False, comment="The batch."),
        sa.Column(
            "dataset_id",
            sa.String(length=36),
            nullable=False,
            comment="A dataset the batch lists now.",
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.dataset_id"],
        ),
        sa.PrimaryKeyConstraint("batch_id", "dataset_id"),
        comment="Which datasets each batch lists, as of its last sync.",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_batch_datasets_dataset_id", "batch_datasets", ["dataset_id"], unique=False)
    op.create_table(
        "batch_last_seen",
        sa.Column("batch_id", sa.String(length=36), nullable=False, comment="The batch."),
        sa.Column(
            "last_seen_at", UTCDateTime(), nullable=False, comment="When a sync last fetched it."
        ),
        sa.Column(
            "last_seen_run_id", sa.Integer(), nullable=False, comment="Run that last fetched it."
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["last_seen_run_id"],
            ["etl_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("batch_id"),
        comment=(
            "When each batch was last fetched. Kept apart from batches so that a nightly rerun "
            "over unchanged batches never rewrites (or sends change events for) their rows."
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )


def downgrade() -> None:
    op.drop_table("batch_last_seen")
    op.drop_table("batch_datasets")
    op.drop_table("etl_failures")
    op.drop_table("datasets")
    op.drop_table("batches")
    op.drop_table("etl_runs")
