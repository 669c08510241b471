"""The annotators' responses: ``responses`` and ``response_answers``, loaded with
``sync --responses``; ``etl_failures.response_id``; the runs' response counts.

MySQL/MariaDB commit each DDL statement: each step checks what is already there, so that a
failed run can be run again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.schema import JsonDocument, LongText, UTCDateTime
from etl.store.views import drop_views

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
_RUN_COUNTS = (
    ("responses_inserted", "Responses seen for the first time (sync --responses)."),
    ("responses_updated", "Known responses whose content changed."),
    ("responses_unchanged", "Known responses whose content did not change."),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("responses"):
        _create_responses()
    if not sa.inspect(op.get_bind()).has_table("response_answers"):
        _create_response_answers()
    failures = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("etl_failures")}
    if "response_id" not in failures:
        with op.batch_alter_table("etl_failures") as batch:
            batch.add_column(
                sa.Column(
                    "response_id",
                    sa.String(length=36),
                    nullable=True,
                    comment="The response that failed validation.",
                )
            )
    runs = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("etl_runs")}
    missing = [(name, comment) for name, comment in _RUN_COUNTS if name not in runs]
    if missing:
        with op.batch_alter_table("etl_runs") as batch:
            for name, comment in missing:
                batch.add_column(
                    sa.Column(
                        name, sa.Integer(), nullable=False, server_default="0", comment=comment
                    )
                )


def _create_responses() -> None:
    op.create_table(
        "responses",
        sa.Column(
            "response_id", sa.String(length=36), nullable=False, comment="Response record UUID."
        ),
        sa.Column(
            "batch_id", sa.String(length=36), nullable=False, comment="The batch it answers."
        ),
        sa.Column(
            "task_id",
            sa.String(length=255),
            nullable=False,
            comment="The task answered (not a UUID).",
        ),
        sa.Column(
            "participant_id",
            sa.String(length=255),
            nullable=False,
            comment="The Prolific participant.",
        ),
        sa.Column(
            "submission_id",
            sa.String(length=255),
            nullable=True,
            comment="The Prolific submission, when there is one.",
        ),
        sa.Column(
            "correlation_id",
            sa.String(length=255),
            nullable=True,
            comment="Correlation ID, for tracking, when sent.",
        ),
        sa.Column(
            "instruction_id",
            sa.String(length=255),
            nullable=False,
            comment="The instruction answered.",
        ),
        sa.Column(
            "response_type",
            sa.String(length=64),
            nullable=False,
            comment="As sent: multiple_choice, free_text, free_text_with_unit, "
            "multiple_choice_with_free_text, file_upload; open to new values.",
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False, comment="When it was given (UTC)."),
        sa.Column(
            "schema_version",
            sa.Integer(),
            nullable=True,
            comment="Response schema version, when sent.",
        ),
        sa.Column(
            "no_submission",
            sa.Boolean(),
            nullable=True,
            comment="As sent (undocumented); NULL when absent.",
        ),
        sa.Column(
            "metadata",
            JsonDocument,
            nullable=True,
            comment="The record's metadata object, as sent.",
        ),
        sa.Column(
            "answer",
            JsonDocument,
            nullable=False,
            comment="The answer list as sent (one row per value in response_answers).",
        ),
        sa.Column(
            "content_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of its content; a sync rewrites the row only when it changes.",
        ),
        sa.Column(
            "removed_upstream_at",
            UTCDateTime(),
            nullable=True,
            comment="When a sync found it gone from its batch's complete responses (UTC); NULL "
            "while the API returns it. Never deleted.",
        ),
        sa.Column(
            "first_seen_at", UTCDateTime(), nullable=False, comment="When a sync first stored it."
        ),
        sa.Column(
            "last_changed_at",
            UTCDateTime(),
            nullable=False,
            comment="When a sync last stored a change to it.",
        ),
        sa.Column(
            "last_changed_run_id",
            sa.Integer(),
            nullable=False,
            comment="Run that last stored a change to it.",
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["last_changed_run_id"], ["etl_runs.run_id"]),
        sa.PrimaryKeyConstraint("response_id"),
        comment=(
            "One row per response record (a participant's answer to one instruction of a task), "
            "loaded with sync --responses."
        ),
        **_MYSQL,
    )
    op.create_index("ix_responses_batch_id", "responses", ["batch_id", "created_at"])
    op.create_index("ix_responses_participant_id", "responses", ["participant_id"])


def _create_response_answers() -> None:
    op.create_table(
        "response_answers",
        sa.Column("response_id", sa.String(length=36), nullable=False, comment="The response."),
        sa.Column(
            "position",
            sa.Integer(),
            autoincrement=False,
            nullable=False,
            comment="Its place in the answer list, from 0.",
        ),
        sa.Column(
            "value_text",
            LongText,
            nullable=True,
            comment="The value as text: a string as sent, anything else as JSON (true, 3.5).",
        ),
        sa.Column(
            "value_number", sa.Double(), nullable=True, comment="The value, when it is a number."
        ),
        sa.Column(
            "value_boolean", sa.Boolean(), nullable=True, comment="The value, when it is a boolean."
        ),
        sa.Column("unit", LongText, nullable=True, comment="Its unit (free_text_with_unit)."),
        sa.Column(
            "explanation",
            LongText,
            nullable=True,
            comment="Its explanation, when the type asks for one.",
        ),
        sa.Column(
            "file_name", LongText, nullable=True, comment="The uploaded file's name (file_upload)."
        ),
        sa.Column(
            "file_key",
            LongText,
            nullable=True,
            comment="The uploaded file's storage key (file_upload).",
        ),
        sa.Column(
            "file_size_mb",
            sa.Double(),
            nullable=True,
            comment="The uploaded file's size in MB (file_upload).",
        ),
        sa.Column(
            "content_type",
            sa.String(length=255),
            nullable=True,
            comment="The uploaded file's content type (file_upload).",
        ),
        sa.ForeignKeyConstraint(["response_id"], ["responses.response_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("response_id", "position"),
        comment="One row per answer value of a response, as of its last change.",
        **_MYSQL,
    )


def downgrade() -> None:
    drop_views(op.get_bind())  # they read these tables; the job recreates them on its next run
    op.drop_table("response_answers")
    op.drop_table("responses")
    with op.batch_alter_table("etl_failures") as batch:
        batch.drop_column("response_id")
    with op.batch_alter_table("etl_runs") as batch:
        for name, _ in _RUN_COUNTS:
            batch.drop_column(name)
