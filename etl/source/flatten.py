"""Turning validated answers into table rows: a batch into ``batches``, ``datasets`` and
``batch_datasets``; a workspace into ``workspaces``; a dataset's details into ``datasets`` and
``dataset_imports``; a response record into ``responses`` and ``response_answers``.

Pure functions: no I/O, no clock. The loader adds the bookkeeping columns (seen/changed times
and run ids).
"""

from __future__ import annotations

import json
from typing import Any

from ..rows import (
    BatchRows,
    DatasetDetailsRows,
    ResponseRows,
    WorkspaceRow,
    content_hash,
    response_hash,
)
from .validate import Batch, DatasetDetails, TaskResponse, Workspace


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


def flatten_response(record: TaskResponse) -> ResponseRows:
    """A response record as its row (the answer list kept whole, as JSON) and one row per
    answer value, with the parts of it the documented types have pulled out."""
    response_id = str(record.id)
    row = {
        "response_id": response_id,
        "batch_id": record.batch_id.lower(),
        "task_id": record.task_id,
        "participant_id": record.participant_id,
        "submission_id": record.submission_id,
        "correlation_id": record.correlation_id,
        "instruction_id": record.response.instruction_id,
        "response_type": record.response.type,
        "created_at": record.created_at,
        "schema_version": record.schema_version,
        "no_submission": record.no_submission,
        "metadata": record.metadata,
        "answer": record.response.answer,
    }
    answers = tuple(
        _answer_row(response_id, position, item)
        for position, item in enumerate(record.response.answer)
    )
    return ResponseRows(response_id, row, answers, response_hash(row))


def _answer_row(response_id: str, position: int, item: Any) -> dict[str, Any]:
    """One answer: its value as text (JSON text when it is not a string), as a number or a
    boolean where it is one, and the unit, explanation and file fields some types add."""
    fields = item if isinstance(item, dict) else {"value": item}
    value = fields.get("value")
    return {
        "response_id": response_id,
        "position": position,
        "value_text": _as_text(value),
        "value_number": (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        ),
        "value_boolean": value if isinstance(value, bool) else None,
        "unit": _text_field(fields, "unit"),
        "explanation": _text_field(fields, "explanation"),
        "file_name": _text_field(fields, "file_name"),
        "file_key": _text_field(fields, "file_key"),
        "file_size_mb": (
            float(fields["file_size_mb"])
            if isinstance(fields.get("file_size_mb"), (int, float))
            and not isinstance(fields.get("file_size_mb"), bool)
            else None
        ),
        "content_type": _text_field(fields, "content_type"),
    }


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # true, 3.5, 12, or an unexpected structure


def _text_field(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) else _as_text(value)
