"""Column comments that say what the columns hold now: ``etl_runs.id_source`` names the
workspaces listed too; ``etl_failures.field`` can name a column; ``datasets.details_synced_at``
is when the details were last stored (a dataset in flight is asked again every run).

Only the comments change. SQLite keeps no comments, so there is nothing to do there (and a
batch ALTER would copy both tables for nothing).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from etl.store.schema import LongText, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OLD = {
    ("datasets", "details_synced_at"): "When its details were last fetched; NULL when they are "
    "due (new, changed, or the last fetch failed).",
    ("etl_runs", "id_source"): "The ID file the run read (<stdin> for standard input).",
    ("etl_failures", "field"): "The payload field that failed validation.",
}
_NEW = {
    ("datasets", "details_synced_at"): "When its details were last stored; NULL when they are "
    "due (new, changed, or the last fetch failed). A dataset still in flight (a status or "
    "import job not settled) is asked again every run and stored when it moved.",
    ("etl_runs", "id_source"): "Where the batch IDs came from: the ID file (<stdin> for "
    "standard input) and the workspaces listed, separated by '; '.",
    ("etl_failures", "field"): "The payload field that failed validation (results[3].id), or "
    "the column whose value could not be stored (batches.extra_fields).",
}


_TYPES = {"details_synced_at": UTCDateTime()}


def _set_comments(comments: dict, previous: dict) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for (table, column), comment in comments.items():
        op.alter_column(
            table,
            column,
            existing_type=_TYPES.get(column, LongText),
            existing_nullable=True,
            comment=comment,
            existing_comment=previous[(table, column)],
        )


def upgrade() -> None:
    _set_comments(_NEW, _OLD)


def downgrade() -> None:
    _set_comments(_OLD, _NEW)
