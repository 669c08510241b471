"""A batch: an AI Task Builder batch with its task details, the datasets it lists (shared
with other batches) and its links to them, and the history of its status.

Read from ``GET /api/v1/data-collection/batches/{id}``, or from a workspace's complete
listing (``GET .../batches?workspace_id=``): a batch that listing no longer holds is removed
upstream. Compared by a content hash over its content columns and its datasets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, field_validator, model_validator
from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from ..errors import RowsRefusedError
from .columns import (
    MYSQL_OPTIONS,
    JsonDocument,
    LongText,
    ShortText,
    Status,
    UTCDateTime,
    Uuid,
    change_columns,
    metadata,
    status_change_columns,
)
from .kind import Children, Kind, Removal, Shared, Sightings, StatusHistory, content_hash
from .payload import Count, IdText, Int32, SpecModel, StatusText, Text, UtcTime, refuse_nul_in

BATCH_STATUSES = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")

# --- the payload ------------------------------------------------------------------------------


class Dataset(SpecModel):
    id: UUID
    total_datapoint_count: Count
    filename: Text


class TaskDetails(SpecModel):
    task_name: Text
    task_introduction: Text
    task_steps: Text


class Batch(SpecModel):
    """``AITaskBuilderBatch``. Keeps the top-level fields the spec does not list
    (``unknown_fields``), so that nothing the API sends is lost."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    id: UUID
    created_at: UtcTime
    created_by: IdText
    datasets: list[Dataset]
    name: Text
    status: StatusText
    total_task_count: Count
    total_instruction_count: Count
    workspace_id: IdText
    schema_version: Int32
    task_details: TaskDetails
    total_task_groups: Count
    # Documented after the first spec, and optional: absent on older batches.
    batch_items: list[Any] | None = None
    auto_sync_enabled: bool | None = None

    @property
    def unknown_fields(self) -> dict[str, Any]:
        """Top-level fields the spec does not list, as sent."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _storable_json(self) -> Batch:
        refuse_nul_in({"batch_items": self.batch_items, **self.unknown_fields})
        return self

    @field_validator("datasets")
    @classmethod
    def _distinct_datasets(cls, value: list[Dataset]) -> list[Dataset]:
        first_by_id: dict[UUID, Dataset] = {}
        for dataset in value:
            earlier = first_by_id.setdefault(dataset.id, dataset)
            if earlier != dataset:
                raise ValueError(f"dataset {dataset.id} is listed twice with different values")
        return list(first_by_id.values())


# --- the rows ---------------------------------------------------------------------------------

# Columns of ``batches`` that come from the payload (the rest is bookkeeping); the content
# hash covers these and the batch's dataset list.
BATCH_CONTENT_COLUMNS = (
    "name",
    "status",
    "created_at",
    "created_by",
    "workspace_id",
    "schema_version",
    "total_task_count",
    "total_instruction_count",
    "total_task_groups",
    "task_name",
    "task_introduction",
    "task_steps",
    "batch_items",
    "auto_sync_enabled",
    "extra_fields",
)
# Content columns that older batches do not send. The hash leaves them out while they are
# NULL, so that a batch hashes as it did before they existed (no rewrite after an upgrade).
OPTIONAL_CONTENT_COLUMNS = frozenset({"batch_items", "auto_sync_enabled", "extra_fields"})
# A dataset's columns that its batch sends; a change to them makes its details due again.
DATASET_CONTENT_COLUMNS = ("filename", "total_datapoint_count")


@dataclass(frozen=True)
class BatchRows:
    """One batch flattened: its ``batches`` row, its datasets, and its content hash."""

    batch_id: str
    batch: dict[str, Any]
    datasets: tuple[dict[str, Any], ...]
    content_hash: str
    listed_in: str | None = None  # the workspace whose listing it came from, if any

    @property
    def dataset_ids(self) -> tuple[str, ...]:
        return tuple(dataset["dataset_id"] for dataset in self.datasets)

    def links(self) -> tuple[dict[str, Any], ...]:
        """Its ``batch_datasets`` rows."""
        return tuple({"batch_id": self.batch_id, "dataset_id": d} for d in self.dataset_ids)


def batch_hash(batch_row: dict[str, Any], dataset_rows: tuple[dict[str, Any], ...]) -> str:
    """SHA-256 over the batch's content columns and its datasets, independent of their order."""
    return content_hash(
        {
            "batch": {
                column: batch_row[column]
                for column in BATCH_CONTENT_COLUMNS
                if not (column in OPTIONAL_CONTENT_COLUMNS and batch_row[column] is None)
            },
            "datasets": sorted(
                [d["dataset_id"], d["filename"], d["total_datapoint_count"]] for d in dataset_rows
            ),
        }
    )


def flatten_batch(batch: Batch, listed_in: str | None = None) -> BatchRows:
    """Flatten a validated batch into table rows plus a hash of everything the payload says."""
    batch_id = str(batch.id)
    row = {
        "batch_id": batch_id,
        "name": batch.name,
        "status": batch.status,
        "created_at": batch.created_at,
        "created_by": batch.created_by,
        "workspace_id": batch.workspace_id,
        "schema_version": batch.schema_version,
        "total_task_count": batch.total_task_count,
        "total_instruction_count": batch.total_instruction_count,
        "total_task_groups": batch.total_task_groups,
        "task_name": batch.task_details.task_name,
        "task_introduction": batch.task_details.task_introduction,
        "task_steps": batch.task_details.task_steps,
        "batch_items": batch.batch_items,
        "auto_sync_enabled": batch.auto_sync_enabled,
        "extra_fields": batch.unknown_fields or None,
    }
    dataset_rows = tuple(
        sorted(
            (
                {
                    "dataset_id": str(dataset.id),
                    "filename": dataset.filename,
                    "total_datapoint_count": dataset.total_datapoint_count,
                }
                for dataset in batch.datasets
            ),
            key=lambda dataset: dataset["dataset_id"],
        )
    )
    return BatchRows(batch_id, row, dataset_rows, batch_hash(row, dataset_rows), listed_in)


# --- the tables -------------------------------------------------------------------------------

batches = Table(
    "batches",
    metadata,
    Column("batch_id", Uuid, primary_key=True, comment="Batch UUID (lower case)."),
    Column("name", LongText, nullable=False, comment="Batch name."),
    Column(
        "status",
        Status,
        nullable=False,
        comment="As sent: UNINITIALISED, PROCESSING, READY or ERROR today; open to new values.",
    ),
    Column("created_at", UTCDateTime, nullable=False, comment="Creation time at Prolific (UTC)."),
    Column(
        "created_by",
        ShortText,
        nullable=False,
        comment="User ID of the Prolific user who created the batch.",
    ),
    Column("workspace_id", ShortText, nullable=False, comment="Prolific workspace ID."),
    Column("schema_version", Integer, nullable=False, comment="Batch schema version."),
    Column("total_task_count", BigInteger, nullable=False, comment="Tasks in the batch."),
    Column(
        "total_instruction_count", BigInteger, nullable=False, comment="Instructions in the batch."
    ),
    Column("total_task_groups", BigInteger, nullable=False, comment="Task groups in the batch."),
    Column("task_name", LongText, nullable=False, comment="task_details.task_name."),
    Column(
        "task_introduction",
        LongText,
        nullable=False,
        comment="task_details.task_introduction: HTML, exactly as sent.",
    ),
    Column(
        "task_steps",
        LongText,
        nullable=False,
        comment="task_details.task_steps: HTML, exactly as sent.",
    ),
    Column(
        "batch_items",
        JsonDocument,
        comment="The batch's instruction layout (pages, rows, columns, items) as sent; NULL for "
        "batches without one.",
    ),
    Column(
        "auto_sync_enabled",
        Boolean,
        comment="Whether new datapoints of its dataset become tasks by themselves; NULL when the "
        "API leaves it out (off).",
    ),
    Column(
        "extra_fields",
        JsonDocument,
        comment="Top-level fields the API sent that the spec does not list, as a JSON object; "
        "NULL when there were none.",
    ),
    Column(
        "removed_upstream_at",
        UTCDateTime,
        comment="When a sync found the batch gone from the listing of its workspace that used to "
        "hold it (UTC); NULL while it is listed, or was never read from a listing. Never deleted.",
    ),
    Column(
        "content_hash",
        String(64),
        nullable=False,
        comment="SHA-256 of the batch's content; a sync rewrites the row only when it changes.",
    ),
    Column(
        "first_seen_at", UTCDateTime, nullable=False, comment="When a sync first stored the batch."
    ),
    Column(
        "last_changed_at",
        UTCDateTime,
        nullable=False,
        comment="When a sync last stored a change to the batch.",
    ),
    Column(
        "first_seen_run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that first stored the batch.",
    ),
    Column(
        "last_changed_run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that last stored a change to the batch.",
    ),
    Index("ix_batches_workspace_id", "workspace_id"),
    Index("ix_batches_status", "status"),
    comment="One row per AI Task Builder batch, with its task details.",
    **MYSQL_OPTIONS,
)


batch_last_seen = Table(
    "batch_last_seen",
    metadata,
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The batch.",
    ),
    Column("last_seen_at", UTCDateTime, nullable=False, comment="When a sync last fetched it."),
    Column(
        "last_seen_run_id",
        Integer,
        ForeignKey("etl_runs.run_id"),
        nullable=False,
        comment="Run that last fetched it.",
    ),
    Column(
        "last_listed_at",
        UTCDateTime,
        comment="When a sync last found it in its workspace's listing; NULL if never.",
    ),
    Column(
        "last_listed_run_id",
        Integer,
        ForeignKey("etl_runs.run_id", name="fk_batch_last_seen_last_listed_run_id"),
        comment="Run that last found it in its workspace's listing.",
    ),
    comment=(
        "When each batch was last fetched, and last listed. Kept apart from batches so that a "
        "nightly rerun over unchanged batches never rewrites (or sends change events for) "
        "their rows."
    ),
    **MYSQL_OPTIONS,
)


datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Uuid, primary_key=True, comment="Dataset UUID (lower case)."),
    Column("filename", LongText, nullable=False, comment="File name of the dataset."),
    Column(
        "total_datapoint_count", BigInteger, nullable=False, comment="Datapoints in the dataset."
    ),
    Column("name", LongText, comment="Dataset name (from its details; NULL until fetched)."),
    Column("created_at", UTCDateTime, comment="Creation time at Prolific (UTC), from its details."),
    Column("created_by", ShortText, comment="User ID of its creator, from its details."),
    Column("workspace_id", ShortText, comment="Its workspace, from its details."),
    Column(
        "schema_version",
        String(16),
        comment="Dataset version: 3 (CSV/ZIP upload) or 4 (field schema and import jobs).",
    ),
    Column(
        "status",
        Status,
        comment="Processing status of a version 3 dataset, as sent; NULL for version 4 (see "
        "dataset_imports).",
    ),
    Column(
        "has_predetermined_grouping_id",
        Boolean,
        comment="Version 3: whether it has a META_TASK_GROUP_ID column.",
    ),
    Column(
        "field_schema",
        JsonDocument,
        comment="Version 4: the researcher-defined field schema (the API's 'schema') as sent.",
    ),
    Column(
        "details_synced_at",
        UTCDateTime,
        comment="When its details were last stored; NULL when they are due (new, changed, or "
        "the last fetch failed). A dataset still in flight (a status or import job not "
        "settled) is asked again every run and stored when it moved.",
    ),
    Column(
        "details_run_id",
        Integer,
        ForeignKey("etl_runs.run_id", name="fk_datasets_details_run_id"),
        comment="Run that last fetched its details.",
    ),
    *change_columns("the dataset", "the dataset"),
    comment="One row per dataset, however many batches use it.",
    **MYSQL_OPTIONS,
)


batch_datasets = Table(
    "batch_datasets",
    metadata,
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The batch.",
    ),
    Column(
        "dataset_id",
        Uuid,
        ForeignKey("datasets.dataset_id"),
        primary_key=True,
        comment="A dataset the batch lists now.",
    ),
    Index("ix_batch_datasets_dataset_id", "dataset_id"),
    comment="Which datasets each batch lists, as of its last sync.",
    **MYSQL_OPTIONS,
)


batch_status_history = Table(
    "batch_status_history",
    metadata,
    Column(
        "history_id",
        Integer,
        primary_key=True,
        autoincrement=True,
        comment="Sequential id of the observation.",
    ),
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        nullable=False,
        comment="The batch.",
    ),
    *status_change_columns("the batch's", "the batch changed at or before it"),
    Index("ix_batch_status_history_batch_id", "batch_id", "observed_at"),
    comment=(
        "One row each time a sync finds a batch's status changed, and one when it first sees "
        "the batch. Nothing is written while the status stays the same."
    ),
    **MYSQL_OPTIONS,
)


# --- as stored --------------------------------------------------------------------------------

BATCH: Kind[BatchRows] = Kind(
    name="batch",
    table=batches,
    key="batch_id",
    content_columns=BATCH_CONTENT_COLUMNS,
    key_of=lambda rows: rows.batch_id,
    row_of=lambda rows: rows.batch,
    refused=lambda rows, message, field: RowsRefusedError(rows.batch_id, message, field=field),
    hash_column="content_hash",
    hash_of=lambda rows: rows.content_hash,
    # New or changed datasets: their details are due (details_synced_at NULL) for the next
    # fetch of them.
    shared=(
        Shared(
            datasets,
            key="dataset_id",
            content_columns=DATASET_CONTENT_COLUMNS,
            of=lambda rows: rows.datasets,
            on_change={"details_synced_at": None},
        ),
    ),
    children=(Children(batch_datasets, "batch_id", BatchRows.links, ignore_duplicates=True),),
    status_history=StatusHistory(batch_status_history, "status"),
    sightings=Sightings(batch_last_seen, listed_in=lambda rows: rows.listed_in),
    # Scope: a workspace's complete batch listing.
    removal=Removal(
        "removed_upstream_at",
        scope="workspace_id",
        from_listing=lambda rows: rows.listed_in is not None,
        listed_before=True,
    ),
)
