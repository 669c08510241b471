"""Indexes on ``responses`` for the morning report: ``first_seen_at`` and
``last_changed_run_id`` find what a run stored or changed (``v_changes_last_run``, "what
changed") instead of reading every response; ``(batch_id, removed_upstream_at, created_at)``
counts the current responses per batch and per day from the index alone.

MySQL/MariaDB commit each DDL statement: each index is created only when it is missing, so
that a failed run can be run again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_responses_first_seen_at": ["first_seen_at"],
    "ix_responses_last_changed_run_id": ["last_changed_run_id"],
    "ix_responses_batch_id_removed": ["batch_id", "removed_upstream_at", "created_at"],
}


def upgrade() -> None:
    present = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("responses")}
    for name, columns in _INDEXES.items():
        if name not in present:
            op.create_index(name, "responses", columns, unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        # InnoDB dropped the index it had made for the foreign key when ours could serve it;
        # it needs one back before ours goes.
        op.create_index("last_changed_run_id", "responses", ["last_changed_run_id"])
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="responses")
