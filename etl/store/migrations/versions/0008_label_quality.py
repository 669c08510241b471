"""Label quality (issue #25): ``label_agreement`` per batch and instruction,
``consensus_labels`` per task and ``annotator_agreement`` per participant, computed by the
job from the stored responses and replaced per batch when they change; and the views over
them (created by the job after every upgrade).

MySQL/MariaDB commit each DDL statement: each table is created only when it is missing, so
that a failed run can be run again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.schema import JsonDocument, LongText, UTCDateTime
from etl.store.views import drop_views

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
_TABLES = ("label_agreement", "consensus_labels", "annotator_agreement")


def upgrade() -> None:
    creators = {
        "label_agreement": _create_label_agreement,
        "consensus_labels": _create_consensus_labels,
        "annotator_agreement": _create_annotator_agreement,
    }
    for name in _TABLES:
        if not sa.inspect(op.get_bind()).has_table(name):
            creators[name]()


def downgrade() -> None:
    drop_views(op.get_bind())  # they read these tables; the job recreates them on its next run
    for name in reversed(_TABLES):
        op.drop_table(name)


def _create_label_agreement() -> None:
    op.create_table(
        "label_agreement",
        sa.Column(
            "batch_id",
            sa.String(length=36),
            nullable=False,
            comment="The batch.",
        ),
        sa.Column(
            "instruction_id",
            sa.String(length=255),
            nullable=False,
            comment="The instruction.",
        ),
        sa.Column(
            "response_type",
            sa.String(length=64),
            nullable=True,
            comment="The instruction's response type.",
        ),
        sa.Column(
            "level",
            sa.String(length=16),
            nullable=True,
            comment=(
                "Level of measurement alpha is computed at: nominal (choices, booleans) or "
                "interval (numbers); NULL when it is not computed (see not_computed)."
            ),
        ),
        sa.Column(
            "units",
            sa.Integer(),
            nullable=False,
            comment="Tasks answered.",
        ),
        sa.Column(
            "pairable_units",
            sa.Integer(),
            nullable=False,
            comment="Tasks answered twice or more.",
        ),
        sa.Column(
            "annotators",
            sa.Integer(),
            nullable=False,
            comment="Participants who answered.",
        ),
        sa.Column(
            "answers",
            sa.Integer(),
            nullable=False,
            comment="Answers counted.",
        ),
        sa.Column(
            "pairable_values",
            sa.Integer(),
            nullable=False,
            comment="Answers on tasks answered twice or more (Krippendorff's n).",
        ),
        sa.Column(
            "percent_agreement",
            sa.Double(),
            nullable=True,
            comment="Agreeing pairs of answers among all pairs within a task (0 to 1).",
        ),
        sa.Column(
            "krippendorff_alpha",
            sa.Double(),
            nullable=True,
            comment="Krippendorff's alpha at `level` (1 perfect, 0 chance, below 0 worse).",
        ),
        sa.Column(
            "not_computed",
            sa.String(length=32),
            nullable=True,
            comment=(
                "Why alpha is NULL: free_text, file_upload, multiple_values, mixed_units, "
                "mixed_types, unknown_type, no_answers, no_pairable_units, no_variation."
            ),
        ),
        sa.Column(
            "excluded_answers",
            sa.Integer(),
            nullable=False,
            comment="Answers left out because their submission was REJECTED or RETURNED.",
        ),
        sa.Column(
            "superseded_answers",
            sa.Integer(),
            nullable=False,
            comment="Earlier answers of a participant to the same task, replaced by their latest.",
        ),
        sa.Column(
            "computed_at",
            UTCDateTime(),
            nullable=False,
            comment="When it was computed (UTC).",
        ),
        sa.Column(
            "computed_run_id",
            sa.Integer(),
            nullable=False,
            comment=(
                "The run that computed it: the last run that changed the batch's responses or its"
                " submissions' statuses."
            ),
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["computed_run_id"], ["etl_runs.run_id"]),
        sa.PrimaryKeyConstraint("batch_id", "instruction_id"),
        comment="Agreement among annotators per batch and instruction (etl/quality/).",
        **_MYSQL,
    )


def _create_consensus_labels() -> None:
    op.create_table(
        "consensus_labels",
        sa.Column(
            "batch_id",
            sa.String(length=36),
            nullable=False,
            comment="The batch.",
        ),
        sa.Column(
            "instruction_id",
            sa.String(length=255),
            nullable=False,
            comment="The instruction.",
        ),
        sa.Column(
            "task_id",
            sa.String(length=255),
            nullable=False,
            comment="The task.",
        ),
        sa.Column(
            "consensus",
            LongText,
            nullable=True,
            comment=(
                "The majority answer as text (a number as its shortest text, a multiple selection"
                " as a JSON list); NULL on a tie."
            ),
        ),
        sa.Column(
            "votes",
            sa.Integer(),
            nullable=False,
            comment="Answers that gave the consensus value.",
        ),
        sa.Column(
            "answers",
            sa.Integer(),
            nullable=False,
            comment="Answers counted for the task.",
        ),
        sa.Column(
            "support",
            sa.Double(),
            nullable=False,
            comment="votes / answers.",
        ),
        sa.Column(
            "is_tie",
            sa.Boolean(),
            nullable=False,
            comment="Whether several values share the top.",
        ),
        sa.Column(
            "tied_values",
            JsonDocument,
            nullable=True,
            comment="On a tie, the tied values (a JSON list).",
        ),
        sa.Column(
            "computed_at",
            UTCDateTime(),
            nullable=False,
            comment="When it was computed (UTC).",
        ),
        sa.Column(
            "computed_run_id",
            sa.Integer(),
            nullable=False,
            comment=(
                "The run that computed it: the last run that changed the batch's responses or its"
                " submissions' statuses."
            ),
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["computed_run_id"], ["etl_runs.run_id"]),
        sa.PrimaryKeyConstraint("batch_id", "instruction_id", "task_id"),
        comment="The consensus label of each task per instruction: the majority answer.",
        **_MYSQL,
    )


def _create_annotator_agreement() -> None:
    op.create_table(
        "annotator_agreement",
        sa.Column(
            "batch_id",
            sa.String(length=36),
            nullable=False,
            comment="The batch.",
        ),
        sa.Column(
            "instruction_id",
            sa.String(length=255),
            nullable=False,
            comment="The instruction.",
        ),
        sa.Column(
            "participant_id",
            sa.String(length=255),
            nullable=False,
            comment="The participant.",
        ),
        sa.Column(
            "answers",
            sa.Integer(),
            nullable=False,
            comment="Answers they gave (counted ones).",
        ),
        sa.Column(
            "compared",
            sa.Integer(),
            nullable=False,
            comment="Of those, answers on tasks with two answers or more and no tie.",
        ),
        sa.Column(
            "agreed",
            sa.Integer(),
            nullable=False,
            comment="Of those, answers equal to the consensus.",
        ),
        sa.Column(
            "agreement",
            sa.Double(),
            nullable=True,
            comment="agreed / compared; NULL when nothing was compared.",
        ),
        sa.Column(
            "computed_at",
            UTCDateTime(),
            nullable=False,
            comment="When it was computed (UTC).",
        ),
        sa.Column(
            "computed_run_id",
            sa.Integer(),
            nullable=False,
            comment=(
                "The run that computed it: the last run that changed the batch's responses or its"
                " submissions' statuses."
            ),
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["computed_run_id"], ["etl_runs.run_id"]),
        sa.PrimaryKeyConstraint("batch_id", "instruction_id", "participant_id"),
        comment="Each annotator's agreement with the consensus per batch and instruction.",
        **_MYSQL,
    )
