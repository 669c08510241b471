"""Studies, submissions and costs (sync --submissions, issue #24): ``studies``,
``submissions`` with ``submission_status_history``, ``study_costs`` with
``study_submission_counts``, and ``batch_responses_loaded`` (which batches' responses were
last read whole, so that settled batches are not downloaded again).

MySQL/MariaDB commit each DDL statement: each table is created only when it is missing, so
that a failed run can be run again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.schema import JsonDocument, LongText, UTCDateTime
from etl.store.views import drop_views

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
# In the order of their foreign keys.
_TABLES = (
    "studies",
    "submissions",
    "submission_status_history",
    "study_costs",
    "study_submission_counts",
    "batch_responses_loaded",
)


def upgrade() -> None:
    creators = {
        "studies": _create_studies,
        "submissions": _create_submissions,
        "submission_status_history": _create_submission_status_history,
        "study_costs": _create_study_costs,
        "study_submission_counts": _create_study_submission_counts,
        "batch_responses_loaded": _create_batch_responses_loaded,
    }
    for name in _TABLES:
        if not sa.inspect(op.get_bind()).has_table(name):
            creators[name]()


def downgrade() -> None:
    drop_views(op.get_bind())  # they read these tables; the job recreates them on its next run
    for name in reversed(_TABLES):
        op.drop_table(name)


def _create_studies() -> None:
    op.create_table(
        "studies",
        sa.Column(
            "study_id",
            sa.String(length=255),
            nullable=False,
            comment="Prolific study ID (not a UUID).",
        ),
        sa.Column(
            "batch_id",
            sa.String(length=36),
            nullable=False,
            comment=("The AI Task Builder batch it recruits for (its data_collection_id)."),
        ),
        sa.Column(
            "project_id",
            sa.String(length=255),
            nullable=False,
            comment="The project that lists it.",
        ),
        sa.Column(
            "workspace_id",
            sa.String(length=255),
            nullable=False,
            comment="The workspace of that project.",
        ),
        sa.Column("name", LongText, nullable=False, comment="Public name, shown to participants."),
        sa.Column(
            "internal_name",
            LongText,
            nullable=True,
            comment="Internal name, not shown to participants.",
        ),
        sa.Column(
            "status",
            sa.String(length=64),
            nullable=False,
            comment=(
                "As sent: UNPUBLISHED, SCHEDULED, PUBLISHING, ACTIVE, AWAITING REVIEW, "
                "PAUSED, COMPLETED today; open to new values."
            ),
        ),
        sa.Column(
            "reward",
            sa.Double(),
            nullable=True,
            comment="Pay per place, in minor units (cents, pence).",
        ),
        sa.Column(
            "currency",
            sa.String(length=16),
            nullable=True,
            comment="Currency of the reward (currency_code), when sent.",
        ),
        sa.Column(
            "total_available_places", sa.BigInteger(), nullable=True, comment="Places it recruits."
        ),
        sa.Column(
            "places_taken",
            sa.BigInteger(),
            nullable=True,
            comment=(
                "Places taken: submissions started, not counting timed-out and returned ones."
            ),
        ),
        sa.Column(
            "number_of_submissions",
            sa.BigInteger(),
            nullable=True,
            comment="Submissions, when sent.",
        ),
        sa.Column(
            "estimated_completion_time",
            sa.Double(),
            nullable=True,
            comment="Estimated duration, in minutes.",
        ),
        sa.Column(
            "maximum_allowed_time",
            sa.Double(),
            nullable=True,
            comment="Longest time allowed, in minutes.",
        ),
        sa.Column(
            "total_cost",
            sa.Double(),
            nullable=True,
            comment="Total cost with fees, in minor units, when sent.",
        ),
        sa.Column(
            "date_created",
            UTCDateTime(),
            nullable=True,
            comment="When it was created (UTC), when sent.",
        ),
        sa.Column(
            "published_at",
            UTCDateTime(),
            nullable=True,
            comment="When it was published (UTC), when sent.",
        ),
        sa.Column(
            "completed_at",
            UTCDateTime(),
            nullable=True,
            comment="When it completed (UTC), when sent.",
        ),
        sa.Column(
            "content_hash",
            sa.String(length=64),
            nullable=False,
            comment=("SHA-256 of its content; a sync rewrites the row only when it changes."),
        ),
        sa.Column(
            "removed_upstream_at",
            UTCDateTime(),
            nullable=True,
            comment=(
                "When a sync found it gone from its project's complete study listing "
                "(UTC); NULL while listed. Never deleted."
            ),
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
        sa.ForeignKeyConstraint(["last_changed_run_id"], ["etl_runs.run_id"]),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("study_id"),
        comment=(
            "One row per Prolific study that recruits for a synced AI Task Builder "
            "batch (sync --submissions). Other studies are not stored."
        ),
        **_MYSQL,
    )
    op.create_index("ix_studies_batch_id", "studies", ["batch_id"])


def _create_submissions() -> None:
    op.create_table(
        "submissions",
        sa.Column(
            "submission_id",
            sa.String(length=255),
            nullable=False,
            comment="Prolific submission ID (not a UUID).",
        ),
        sa.Column(
            "study_id", sa.String(length=255), nullable=False, comment="The study it was made to."
        ),
        sa.Column(
            "participant_id",
            sa.String(length=255),
            nullable=False,
            comment="The Prolific participant.",
        ),
        sa.Column(
            "status",
            sa.String(length=64),
            nullable=False,
            comment=(
                "As sent: RESERVED, ACTIVE, TIMED-OUT, AWAITING REVIEW, APPROVED, "
                "RETURNED, REJECTED, SCREENED OUT, PARTIALLY APPROVED today; open to "
                "new values."
            ),
        ),
        sa.Column(
            "started_at",
            UTCDateTime(),
            nullable=True,
            comment="When the participant started (UTC).",
        ),
        sa.Column(
            "completed_at",
            UTCDateTime(),
            nullable=True,
            comment="When the participant finished (UTC).",
        ),
        sa.Column(
            "time_taken",
            sa.Double(),
            nullable=True,
            comment="Seconds the participant took, when sent.",
        ),
        sa.Column(
            "reward",
            sa.Double(),
            nullable=True,
            comment="Pay for it, in minor units (cents, pence), when sent.",
        ),
        sa.Column(
            "is_complete", sa.Boolean(), nullable=True, comment="Whether it is complete, when sent."
        ),
        sa.Column(
            "study_code", LongText, nullable=True, comment="The completion code entered, when sent."
        ),
        sa.Column(
            "star_awarded",
            sa.Boolean(),
            nullable=True,
            comment="Whether the researcher starred it, when sent.",
        ),
        sa.Column(
            "bonus_total",
            sa.Double(),
            nullable=True,
            comment=("Sum of its bonus payments, in minor units; NULL when none were listed."),
        ),
        sa.Column(
            "return_requested",
            UTCDateTime(),
            nullable=True,
            comment="When a return was requested (UTC).",
        ),
        sa.Column(
            "demographics",
            JsonDocument,
            nullable=True,
            comment=(
                "PERSONAL DATA: the participant's demographics (strata) as sent, stored"
                " only by sync --demographics; NULL otherwise. The IP address is never "
                "stored."
            ),
        ),
        sa.Column(
            "content_hash",
            sa.String(length=64),
            nullable=False,
            comment=("SHA-256 of its content; a sync rewrites the row only when it changes."),
        ),
        sa.Column(
            "removed_upstream_at",
            UTCDateTime(),
            nullable=True,
            comment=(
                "When a sync found it gone from its study's complete listing (UTC); "
                "NULL while listed. Never deleted."
            ),
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
        sa.ForeignKeyConstraint(["last_changed_run_id"], ["etl_runs.run_id"]),
        sa.ForeignKeyConstraint(["study_id"], ["studies.study_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("submission_id"),
        comment=("One row per submission to a stored study (sync --submissions)."),
        **_MYSQL,
    )
    op.create_index("ix_submissions_participant_id", "submissions", ["participant_id"])
    op.create_index("ix_submissions_study_id", "submissions", ["study_id"])


def _create_submission_status_history() -> None:
    op.create_table(
        "submission_status_history",
        sa.Column(
            "history_id",
            sa.Integer(),
            autoincrement=True,
            nullable=False,
            comment="Sequential id of the observation.",
        ),
        sa.Column(
            "submission_id", sa.String(length=255), nullable=False, comment="The submission."
        ),
        sa.Column(
            "old_status",
            sa.String(length=64),
            nullable=True,
            comment="Status before the change; NULL on its first observation.",
        ),
        sa.Column(
            "new_status", sa.String(length=64), nullable=False, comment="Status the sync found."
        ),
        sa.Column(
            "observed_at",
            UTCDateTime(),
            nullable=False,
            comment=("When the sync stored the change (UTC); it changed at or before then."),
        ),
        sa.Column("run_id", sa.Integer(), nullable=False, comment="Run that observed the change."),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.submission_id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["etl_runs.run_id"]),
        sa.PrimaryKeyConstraint("history_id"),
        comment=(
            "One row each time a sync finds a submission's status changed (a review"
            " days later), and one when it first sees the submission."
        ),
        **_MYSQL,
    )
    op.create_index(
        "ix_submission_status_history_submission_id",
        "submission_status_history",
        ["submission_id", "observed_at"],
    )


def _create_study_costs() -> None:
    op.create_table(
        "study_costs",
        sa.Column("study_id", sa.String(length=255), nullable=False, comment="The study."),
        sa.Column(
            "rewards",
            sa.Double(),
            nullable=True,
            comment="Rewards paid, in minor units (rewards.rewards).",
        ),
        sa.Column(
            "reward_fees",
            sa.Double(),
            nullable=True,
            comment="Prolific's fees on the rewards (rewards.fees).",
        ),
        sa.Column(
            "reward_tax",
            sa.Double(),
            nullable=True,
            comment="Tax on the rewards and their fees (rewards.tax).",
        ),
        sa.Column(
            "bonuses",
            sa.Double(),
            nullable=True,
            comment="Bonuses paid, in minor units (bonuses.rewards).",
        ),
        sa.Column(
            "bonus_fees", sa.Double(), nullable=True, comment="Fees on the bonuses (bonuses.fees)."
        ),
        sa.Column(
            "bonus_tax",
            sa.Double(),
            nullable=True,
            comment="Tax on the bonuses and their fees (bonuses.tax).",
        ),
        sa.Column(
            "currency",
            sa.String(length=16),
            nullable=True,
            comment="Currency of the amounts, as sent (GBP, USD).",
        ),
        sa.Column(
            "content_hash",
            sa.String(length=64),
            nullable=False,
            comment=("SHA-256 of the cost and the counts; rewritten only when they change."),
        ),
        sa.Column(
            "first_seen_at", UTCDateTime(), nullable=False, comment="When a sync first stored it."
        ),
        sa.Column(
            "last_changed_at",
            UTCDateTime(),
            nullable=False,
            comment=("When a sync last stored a change to it: the cost is as of then."),
        ),
        sa.Column(
            "last_changed_run_id",
            sa.Integer(),
            nullable=False,
            comment=("Run that last stored a change to it: the cost is as of then."),
        ),
        sa.ForeignKeyConstraint(["last_changed_run_id"], ["etl_runs.run_id"]),
        sa.ForeignKeyConstraint(["study_id"], ["studies.study_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("study_id"),
        comment=(
            "One row per stored study: what it has cost so far (not projected), in minor units."
        ),
        **_MYSQL,
    )


def _create_study_submission_counts() -> None:
    op.create_table(
        "study_submission_counts",
        sa.Column("study_id", sa.String(length=255), nullable=False, comment="The study."),
        sa.Column(
            "status", sa.String(length=64), nullable=False, comment="A submission status, as sent."
        ),
        sa.Column(
            "submissions",
            sa.BigInteger(),
            nullable=False,
            comment="Its submissions in that status.",
        ),
        sa.ForeignKeyConstraint(["study_id"], ["study_costs.study_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("study_id", "status"),
        comment=(
            "The API's count of each study's submissions per status "
            "(submissions/counts/), as of study_costs.last_changed_at; TOTAL is "
            "left out (it is their sum)."
        ),
        **_MYSQL,
    )


def _create_batch_responses_loaded() -> None:
    op.create_table(
        "batch_responses_loaded",
        sa.Column("batch_id", sa.String(length=36), nullable=False, comment="The batch."),
        sa.Column(
            "loaded_at",
            UTCDateTime(),
            nullable=False,
            comment=(
                "When a sync last read its responses whole (every one its meta.count "
                "promised, none failed to load)."
            ),
        ),
        sa.Column("run_id", sa.Integer(), nullable=False, comment="Run that last read them whole."),
        sa.ForeignKeyConstraint(["run_id"], ["etl_runs.run_id"]),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id"),
        comment=(
            "When each batch's responses were last loaded whole: with "
            "--submissions, a batch whose studies are complete and whose responses "
            "were loaded after their last change is not downloaded again (see "
            "etl/store/settled.py)."
        ),
        **_MYSQL,
    )
