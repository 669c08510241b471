"""Turning validated answers into table rows: a batch into ``batches``, ``datasets`` and
``batch_datasets``; a workspace into ``workspaces``; a dataset's details into ``datasets`` and
``dataset_imports``.

Pure functions: no I/O, no clock. The loader adds the bookkeeping columns (seen/changed times
and run ids).
"""

from __future__ import annotations

from ..rows import BatchRows, DatasetDetailsRows, WorkspaceRow, content_hash
from .validate import Batch, DatasetDetails, Workspace


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
    return BatchRows(batch_id, row, dataset_rows, content_hash(row, dataset_rows), listed_in)


def flatten_workspace(workspace: Workspace) -> WorkspaceRow:
    return WorkspaceRow(workspace.id, workspace.title, workspace.description, workspace.owner)


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
