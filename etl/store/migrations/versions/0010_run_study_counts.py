"""The runs' study counts: what ``sync --submissions`` wrote and left alone (studies,
submissions) and the batches whose responses it did not download, in ``etl_runs`` beside the
batches' and responses' counts; ``etl_failures.stage`` names every stage a failure has.

MySQL/MariaDB commit each DDL statement: only the columns still missing are added, so that a
failed run can be run again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.views import drop_views

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_RUN_COUNTS = (
    (
        "studies_written",
        "Studies stored for the first time or changed upstream (sync --submissions).",
    ),
    ("studies_unchanged", "Studies fetched again and found as stored."),
    ("submissions_written", "Submissions stored for the first time or changed upstream."),
    ("submissions_unchanged", "Submissions fetched again and found as stored."),
    (
        "responses_skipped",
        "Batches whose responses were not downloaded: their studies are complete and their "
        "responses were loaded whole since (sync --responses --submissions).",
    ),
)
_STAGE_BEFORE = (
    "input, listing (a workspace's batch listing), fetch, validate, load or dataset (a "
    "dataset's details)."
)
_STAGE_AFTER = (
    "input (an ID line), listing (the workspaces, a workspace's batch listing), fetch, "
    "validate, load, dataset (a dataset's details), responses, studies (a workspace's "
    "projects and studies, a study), submissions or costs (a study's)."
)


def upgrade() -> None:
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
    _stage_comment(_STAGE_AFTER, _STAGE_BEFORE)


def downgrade() -> None:
    drop_views(op.get_bind())  # v_run_health reads the counts; the job recreates the views
    _stage_comment(_STAGE_BEFORE, _STAGE_AFTER)
    with op.batch_alter_table("etl_runs") as batch:
        for name, _comment in reversed(_RUN_COUNTS):
            batch.drop_column(name)


def _stage_comment(comment: str, previous: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite keeps no comments
    op.alter_column(
        "etl_failures",
        "stage",
        existing_type=sa.String(length=16),
        existing_nullable=False,
        comment=comment,
        existing_comment=previous,
    )
