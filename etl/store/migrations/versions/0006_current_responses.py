"""The response views leave out the responses of batches removed upstream (a batch deleted
upstream takes its responses with it), and ``v_batch_progress`` the batches themselves.

Only view definitions change: the upgrade drops the views, and the job creates them anew, as
after every upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from etl.store.views import drop_views

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_views(op.get_bind())


def downgrade() -> None:
    drop_views(op.get_bind())
