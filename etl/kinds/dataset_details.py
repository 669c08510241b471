"""A dataset's details: read from ``GET /api/v1/data-collection/datasets/{id}``, they fill in
the columns of its ``datasets`` row that its batches do not send, and list its import jobs
(version 4), stored in ``dataset_imports`` and replaced whole when anything changed.

The row itself belongs to the batches that list the dataset (``etl.kinds.batch``): the
details only ever update it. Compared by their columns and import jobs, and due again while
the dataset or a job is still in flight (``SETTLED_*``) or its batch changed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, model_validator
from sqlalchemy import BigInteger, Column, ForeignKey, Index, Table

from ..errors import RowsRefusedError
from .batch import datasets
from .columns import MYSQL_OPTIONS, LongText, Status, UTCDateTime, Uuid, metadata
from .kind import Children, Kind
from .payload import Count, IdText, SpecModel, StatusText, Text, UtcTime, refuse_nul_in

# The statuses after which a dataset's details stop changing by themselves: version 3's
# READY and ERROR, and the import jobs' terminal ones (the spec: "poll until a terminal status
# is reached"). A dataset still linked to a batch and not settled is asked for every run.
SETTLED_DATASET_STATUSES = ("READY", "ERROR")
SETTLED_IMPORT_STATUSES = ("complete", "partial", "failed", "pending_schema")


class DatasetImport(SpecModel):
    dataset_id: UUID
    import_id: UUID
    type: StatusText
    filename: Text | None = None
    created_at: UtcTime
    updated_at: UtcTime
    status: StatusText
    accepted_count: Count | None = None
    rejected_count: Count | None = None
    reason: Text | None = None


class DatasetDetails(SpecModel):
    """``AITaskBuilderDataset``."""

    id: UUID
    name: Text
    created_at: UtcTime
    created_by: IdText
    workspace_id: IdText
    total_datapoint_count: Count
    # "3" or "4" in the spec; Prolific's own client reads a number. Kept as text.
    schema_version: Annotated[str, Field(max_length=16)] | int
    status: StatusText | None = None
    filename: Text | None = None
    has_predetermined_grouping_id: bool | None = None
    field_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    imports: list[DatasetImport] | None = None

    @model_validator(mode="after")
    def _storable_json(self) -> DatasetDetails:
        refuse_nul_in({"schema": self.field_schema})
        return self


# The columns of ``datasets`` the details fill in.
DATASET_DETAIL_COLUMNS = (
    "name",
    "created_at",
    "created_by",
    "workspace_id",
    "schema_version",
    "status",
    "has_predetermined_grouping_id",
    "field_schema",
)


@dataclass(frozen=True)
class DatasetDetailsRows:
    """A dataset's own details: the columns they fill in ``datasets``, and its import jobs."""

    dataset_id: str
    details: dict[str, Any]
    imports: tuple[dict[str, Any], ...]


def flatten_dataset(dataset: DatasetDetails) -> DatasetDetailsRows:
    dataset_id = str(dataset.id)
    details = {
        "name": dataset.name,
        "created_at": dataset.created_at,
        "created_by": dataset.created_by,
        "workspace_id": dataset.workspace_id,
        "schema_version": str(dataset.schema_version),
        "status": dataset.status,
        "has_predetermined_grouping_id": dataset.has_predetermined_grouping_id,
        "field_schema": dataset.field_schema,
    }
    imports = tuple(
        {
            "import_id": str(job.import_id),
            "dataset_id": dataset_id,
            "type": job.type,
            "filename": job.filename,
            "status": job.status,
            "accepted_count": job.accepted_count,
            "rejected_count": job.rejected_count,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "reason": job.reason,
        }
        for job in dataset.imports or ()
    )
    return DatasetDetailsRows(dataset_id, details, imports)


dataset_imports = Table(
    "dataset_imports",
    metadata,
    Column("import_id", Uuid, primary_key=True, comment="Import job UUID."),
    Column(
        "dataset_id",
        Uuid,
        ForeignKey("datasets.dataset_id"),
        nullable=False,
        comment="The (version 4) dataset it imports into.",
    ),
    Column("type", Status, nullable=False, comment="Kind of import, as sent (file_upload)."),
    Column("filename", LongText, comment="File name given for the upload."),
    Column(
        "status",
        Status,
        nullable=False,
        comment="As sent: uninitialised, queued, processing, complete, partial, failed, "
        "pending_schema; open to new values.",
    ),
    Column("accepted_count", BigInteger, comment="Records ingested (complete or partial)."),
    Column("rejected_count", BigInteger, comment="Records rejected (partial)."),
    Column("created_at", UTCDateTime, nullable=False, comment="When the job was created (UTC)."),
    Column("updated_at", UTCDateTime, nullable=False, comment="When it last changed (UTC)."),
    Column("reason", LongText, comment="Why it failed, when it did."),
    Index("ix_dataset_imports_dataset_id", "dataset_id"),
    comment=(
        "One row per import job of a version 4 dataset, as of its details' last fetch; a job no "
        "longer listed is removed with it."
    ),
    **MYSQL_OPTIONS,
)


DATASET_DETAILS: Kind[DatasetDetailsRows] = Kind(
    name="dataset",
    table=datasets,
    key="dataset_id",
    content_columns=DATASET_DETAIL_COLUMNS,
    key_of=lambda rows: rows.dataset_id,
    row_of=lambda rows: {"dataset_id": rows.dataset_id, **rows.details},
    refused=lambda rows, message, field: RowsRefusedError(
        None, message, field=field, dataset_id=rows.dataset_id
    ),
    children=(Children(dataset_imports, "dataset_id", lambda rows: rows.imports),),
    children_are_content=True,
    fills_in=True,
    due_column="details_synced_at",
    stamps=lambda run_id, now: {"details_synced_at": now, "details_run_id": run_id},
)
