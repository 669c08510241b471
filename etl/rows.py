"""The hand-off between the source (the API) and the store (the database): a batch as rows.

``etl.source`` produces BatchRows (``etl.source.flatten``); ``etl.store`` writes them. Neither
side imports the other, both import this. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

BATCH_STATUSES = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")
MAX_ID_LENGTH = 255

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
