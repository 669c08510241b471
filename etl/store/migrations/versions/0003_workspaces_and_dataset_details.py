"""Workspaces, batch listings and the datasets' own details.

New tables ``workspaces`` and ``dataset_imports``; new columns on ``batches`` (batch_items,
auto_sync_enabled, extra_fields, removed_upstream_at), ``batch_last_seen`` (last listed),
``datasets`` (its details), ``etl_failures`` (workspace and dataset) and ``etl_runs`` (listed).
Statuses become open text: the check on ``batches.status`` goes and status columns widen to 64.

Existing rows keep their values; every dataset's details are due (NULL), so the next run that
fetches details fills them in.

MySQL/MariaDB commit each DDL statement: each step checks what is already there, so that a
failed run can be run again (the rule since 0002).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from etl.store.schema import JsonDocument, LongText, UTCDateTime
from etl.store.views import drop_views

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}
STATUS = sa.String(length=64)
STATUS_HISTORY_COLUMNS = (
    ("old_status", True, "Status before the change; NULL on the batch's first observation."),
    ("new_status", False, "Status the sync found."),
)


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def _has_table(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _has_table("workspaces"):
        _create_workspaces()
    if not _has_table("dataset_imports"):
        _create_dataset_imports()
    _add_columns(
        "batches",
        [
            sa.Column(
                "batch_items",
                JsonDocument,
                nullable=True,
                comment="The batch's instruction layout (pages, rows, columns, items) as sent; "
                "NULL for batches without one.",
            ),
            sa.Column(
                "auto_sync_enabled",
                sa.Boolean(),
                nullable=True,
                comment="Whether new datapoints of its dataset become tasks by themselves; NULL "
                "when the API leaves it out (off).",
            ),
            sa.Column(
                "extra_fields",
                JsonDocument,
                nullable=True,
                comment="Top-level fields the API sent that the spec does not list, as a JSON "
                "object; NULL when there were none.",
            ),
            sa.Column(
                "removed_upstream_at",
                UTCDateTime(),
                nullable=True,
                comment="When a sync found the batch gone from the listing of its workspace that "
                "used to hold it (UTC); NULL while it is listed, or was never read from a "
                "listing. Never deleted.",
            ),
        ],
        after=_open_batch_status,
    )
    _add_columns(
        "batch_last_seen",
        [
            sa.Column(
                "last_listed_at",
                UTCDateTime(),
                nullable=True,
                comment="When a sync last found it in its workspace's listing; NULL if never.",
            ),
            sa.Column(
                "last_listed_run_id",
                sa.Integer(),
                nullable=True,
                comment="Run that last found it in its workspace's listing.",
            ),
        ],
        foreign_keys=[("fk_batch_last_seen_last_listed_run_id", "last_listed_run_id")],
    )
    _add_columns(
        "datasets",
        [
            sa.Column(
                "name",
                LongText,
                nullable=True,
                comment="Dataset name (from its details; NULL until fetched).",
            ),
            sa.Column(
                "created_at",
                UTCDateTime(),
                nullable=True,
                comment="Creation time at Prolific (UTC), from its details.",
            ),
            sa.Column(
                "created_by",
                sa.String(length=255),
                nullable=True,
                comment="User ID of its creator, from its details.",
            ),
            sa.Column(
                "workspace_id",
                sa.String(length=255),
                nullable=True,
                comment="Its workspace, from its details.",
            ),
            sa.Column(
                "schema_version",
                sa.String(length=16),
                nullable=True,
                comment="Dataset version: 3 (CSV/ZIP upload) or 4 (field schema and import jobs).",
            ),
            sa.Column(
                "status",
                STATUS,
                nullable=True,
                comment="Processing status of a version 3 dataset, as sent; NULL for version 4 "
                "(see dataset_imports).",
            ),
            sa.Column(
                "has_predetermined_grouping_id",
                sa.Boolean(),
                nullable=True,
                comment="Version 3: whether it has a META_TASK_GROUP_ID column.",
            ),
            sa.Column(
                "field_schema",
                JsonDocument,
                nullable=True,
                comment="Version 4: the researcher-defined field schema (the API's 'schema') as "
                "sent.",
            ),
            sa.Column(
                "details_synced_at",
                UTCDateTime(),
                nullable=True,
                comment="When its details were last fetched; NULL when they are due (new, "
                "changed, or the last fetch failed).",
            ),
            sa.Column(
                "details_run_id",
                sa.Integer(),
                nullable=True,
                comment="Run that last fetched its details.",
            ),
        ],
        foreign_keys=[("fk_datasets_details_run_id", "details_run_id")],
    )
    _add_columns(
        "etl_failures",
        [
            sa.Column(
                "workspace_id",
                sa.String(length=255),
                nullable=True,
                comment="The workspace whose listing failed, or that listed the failed batch.",
            ),
            sa.Column(
                "dataset_id",
                sa.String(length=36),
                nullable=True,
                comment="The dataset whose details could not be fetched.",
            ),
        ],
        after=_describe_new_failures,
    )
    _add_columns(
        "etl_runs",
        [
            sa.Column(
                "listed",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="Batches found in workspace listings (--workspace, --all-workspaces) and "
                "not in the ID file: ids_read + listed is every batch the run took on.",
            )
        ],
    )
    with op.batch_alter_table("batch_status_history") as batch:
        for name, nullable, comment in STATUS_HISTORY_COLUMNS:
            batch.alter_column(
                name,
                type_=STATUS,
                existing_type=sa.String(length=16),
                existing_nullable=nullable,
                existing_comment=comment,  # MySQL's MODIFY would drop it otherwise
            )
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps no comments
        op.create_table_comment(
            "batch_last_seen",
            "When each batch was last fetched, and last listed. Kept apart from batches so that "
            "a nightly rerun over unchanged batches never rewrites (or sends change events for) "
            "their rows.",
            existing_comment=BATCH_LAST_SEEN_COMMENT,
        )


BATCH_LAST_SEEN_COMMENT = (
    "When each batch was last fetched. Kept apart from batches so that a nightly rerun over "
    "unchanged batches never rewrites (or sends change events for) their rows."
)


def _add_columns(table, columns, *, foreign_keys=(), after=None) -> None:
    present = _columns(table)
    missing = [column for column in columns if column.name not in present]
    existing_keys = {
        key["name"] for key in sa.inspect(op.get_bind()).get_foreign_keys(table) if key["name"]
    }
    with op.batch_alter_table(table) as batch:
        for column in missing:
            batch.add_column(column)
        for name, column in foreign_keys:
            if name not in existing_keys:
                batch.create_foreign_key(name, "etl_runs", [column], ["run_id"])
        if after is not None:
            after(batch)


def _open_batch_status(batch) -> None:
    """Statuses are open text now: no check of the four known ones, and room for longer ones."""
    checks = {check["name"] for check in sa.inspect(op.get_bind()).get_check_constraints("batches")}
    if "ck_batches_status" in checks:
        batch.drop_constraint("ck_batches_status", type_="check")
    batch.alter_column(
        "status",
        type_=STATUS,
        existing_type=sa.String(length=16),
        existing_nullable=False,
        comment="As sent: UNINITIALISED, PROCESSING, READY or ERROR today; open to new values.",
        existing_comment="UNINITIALISED, PROCESSING, READY or ERROR.",
    )


def _describe_new_failures(batch) -> None:
    batch.alter_column(
        "batch_id",
        existing_type=sa.String(length=36),
        existing_nullable=True,
        comment="The batch; NULL for a bad ID line, a workspace's listing or a dataset.",
        existing_comment="The batch; NULL for a bad ID line.",
    )
    batch.alter_column(
        "stage",
        existing_type=sa.String(length=16),
        existing_nullable=False,
        comment="input, listing (a workspace's batch listing), fetch, validate, load or dataset "
        "(a dataset's details).",
        existing_comment="input, fetch, validate or load.",
    )


def _create_workspaces() -> None:
    op.create_table(
        "workspaces",
        sa.Column(
            "workspace_id",
            sa.String(length=255),
            nullable=False,
            comment="Prolific workspace ID (not a UUID).",
        ),
        sa.Column("title", LongText, nullable=False, comment="Workspace title."),
        sa.Column(
            "description", LongText, nullable=True, comment="What the workspace is used for."
        ),
        sa.Column(
            "owner",
            sa.String(length=255),
            nullable=True,
            comment="User ID of the workspace's creator.",
        ),
        sa.Column(
            "first_seen_at",
            UTCDateTime(),
            nullable=False,
            comment="When a sync first stored the workspace.",
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
        sa.PrimaryKeyConstraint("workspace_id"),
        comment=(
            "One row per workspace a sync with --workspace or --all-workspaces saw. batches."
            "workspace_id refers to it, without a foreign key: a batch read from an ID file may "
            "belong to a workspace no sync has listed."
        ),
        **_MYSQL,
    )


def _create_dataset_imports() -> None:
    op.create_table(
        "dataset_imports",
        sa.Column("import_id", sa.String(length=36), nullable=False, comment="Import job UUID."),
        sa.Column(
            "dataset_id",
            sa.String(length=36),
            nullable=False,
            comment="The (version 4) dataset it imports into.",
        ),
        sa.Column("type", STATUS, nullable=False, comment="Kind of import, as sent (file_upload)."),
        sa.Column("filename", LongText, nullable=True, comment="File name given for the upload."),
        sa.Column(
            "status",
            STATUS,
            nullable=False,
            comment="As sent: uninitialised, queued, processing, complete, partial, failed, "
            "pending_schema; open to new values.",
        ),
        sa.Column(
            "accepted_count",
            sa.BigInteger(),
            nullable=True,
            comment="Records ingested (complete or partial).",
        ),
        sa.Column(
            "rejected_count", sa.BigInteger(), nullable=True, comment="Records rejected (partial)."
        ),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False, comment="When the job was created (UTC)."
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False, comment="When it last changed (UTC)."
        ),
        sa.Column("reason", LongText, nullable=True, comment="Why it failed, when it did."),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.dataset_id"]),
        sa.PrimaryKeyConstraint("import_id"),
        comment=(
            "One row per import job of a version 4 dataset, as of its details' last fetch; a job "
            "no longer listed is removed with it."
        ),
        **_MYSQL,
    )
    op.create_index("ix_dataset_imports_dataset_id", "dataset_imports", ["dataset_id"])


def downgrade() -> None:
    drop_views(op.get_bind())  # they read these columns; the job recreates them on its next run
    if op.get_bind().dialect.name != "sqlite":
        op.create_table_comment("batch_last_seen", BATCH_LAST_SEEN_COMMENT)
    op.drop_table("dataset_imports")
    op.drop_table("workspaces")
    with op.batch_alter_table("batch_status_history") as batch:
        for name, nullable, comment in STATUS_HISTORY_COLUMNS:
            batch.alter_column(
                name,
                type_=sa.String(length=16),
                existing_type=STATUS,
                existing_nullable=nullable,
                existing_comment=comment,
            )
    with op.batch_alter_table("etl_runs") as batch:
        batch.drop_column("listed")
    with op.batch_alter_table("etl_failures") as batch:
        batch.drop_column("dataset_id")
        batch.drop_column("workspace_id")
        batch.alter_column(
            "batch_id",
            existing_type=sa.String(length=36),
            existing_nullable=True,
            comment="The batch; NULL for a bad ID line.",
        )
        batch.alter_column(
            "stage",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="input, fetch, validate or load.",
        )
    with op.batch_alter_table("datasets") as batch:
        batch.drop_constraint("fk_datasets_details_run_id", type_="foreignkey")
        for name in (
            "details_run_id",
            "details_synced_at",
            "field_schema",
            "has_predetermined_grouping_id",
            "status",
            "schema_version",
            "workspace_id",
            "created_by",
            "created_at",
            "name",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("batch_last_seen") as batch:
        batch.drop_constraint("fk_batch_last_seen_last_listed_run_id", type_="foreignkey")
        batch.drop_column("last_listed_run_id")
        batch.drop_column("last_listed_at")
    with op.batch_alter_table("batches") as batch:
        for name in ("removed_upstream_at", "extra_fields", "auto_sync_enabled", "batch_items"):
            batch.drop_column(name)
        batch.alter_column(
            "status",
            type_=sa.String(length=16),
            existing_type=STATUS,
            existing_nullable=False,
            comment="UNINITIALISED, PROCESSING, READY or ERROR.",
        )
        batch.create_check_constraint(
            "ck_batches_status", "status IN ('UNINITIALISED', 'PROCESSING', 'READY', 'ERROR')"
        )
