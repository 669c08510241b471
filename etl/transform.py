"""Turning a validated batch into the rows of ``batches``, ``datasets`` and ``batch_datasets``.

Pure functions: no I/O, no clock. The loader adds the bookkeeping columns (seen/changed times
and run ids).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .validate import Batch

# Columns of ``batches`` that come from the payload (the rest is bookkeeping); the content
# hash covers these and the batch's dataset list. Here rather than in schema.py so that a
# worker process, which only flattens, does not import SQLAlchemy.
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
)


@dataclass(frozen=True)
class BatchRows:
    """One batch flattened: its ``batches`` row, its datasets, and its content hash."""

    batch_id: str
    batch: dict[str, Any]
    datasets: tuple[dict[str, Any], ...]
    content_hash: str

    @property
    def dataset_ids(self) -> tuple[str, ...]:
        return tuple(dataset["dataset_id"] for dataset in self.datasets)


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


def content_hash(batch_row: dict[str, Any], dataset_rows: tuple[dict[str, Any], ...]) -> str:
    """SHA-256 over the batch's content columns and its datasets, independent of their order."""
    canonical = {
        "batch": {column: batch_row[column] for column in BATCH_CONTENT_COLUMNS},
        "datasets": sorted(
            [d["dataset_id"], d["filename"], d["total_datapoint_count"]] for d in dataset_rows
        ),
    }
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=_iso)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _iso(value: Any) -> str:
    return value.isoformat()
