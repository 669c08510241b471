"""Turning a validated batch into the rows of ``batches``, ``datasets`` and ``batch_datasets``.

Pure functions: no I/O, no clock. The loader adds the bookkeeping columns (seen/changed times
and run ids).
"""

from __future__ import annotations

from ..rows import BatchRows, content_hash
from .validate import Batch


def flatten_batch(batch: Batch) -> BatchRows:
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
    return BatchRows(batch_id, row, dataset_rows, content_hash(row, dataset_rows))
