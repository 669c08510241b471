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
MAX_STATUS_LENGTH = 64

# The counts a run keeps in its etl_runs row, in the order SyncResult, `runs --json` and the
# report show them.
RUN_COUNTS = (
    "ids_read",
    "listed",
    "fetched",
    "inserted",
    "updated",
    "unchanged",
    "failed",
    "retries",
    "responses_inserted",
    "responses_updated",
    "responses_unchanged",
)

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


@dataclass(frozen=True)
class WorkspaceRow:
    """One ``workspaces`` row (without bookkeeping)."""

    workspace_id: str
    title: str
    description: str | None
    owner: str | None

    def values(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "title": self.title,
            "description": self.description,
            "owner": self.owner,
        }


@dataclass(frozen=True)
class DatasetDetailsRows:
    """A dataset's own details: the columns they fill in ``datasets``, and its import jobs."""

    dataset_id: str
    details: dict[str, Any]
    imports: tuple[dict[str, Any], ...]


def content_hash(batch_row: dict[str, Any], dataset_rows: tuple[dict[str, Any], ...]) -> str:
    """SHA-256 over the batch's content columns and its datasets, independent of their order."""
    canonical = {
        "batch": {
            column: batch_row[column]
            for column in BATCH_CONTENT_COLUMNS
            if not (column in OPTIONAL_CONTENT_COLUMNS and batch_row[column] is None)
        },
        "datasets": sorted(
            [d["dataset_id"], d["filename"], d["total_datapoint_count"]] for d in dataset_rows
        ),
    }
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=_iso)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _iso(value: Any) -> str:
    return value.isoformat()


# Columns of ``responses`` that come from the API; the response's content hash covers them.
RESPONSE_CONTENT_COLUMNS = (
    "batch_id",
    "task_id",
    "participant_id",
    "submission_id",
    "correlation_id",
    "instruction_id",
    "response_type",
    "created_at",
    "schema_version",
    "no_submission",
    "metadata",
    "answer",
)


@dataclass(frozen=True)
class ResponseRows:
    """One response record flattened: its ``responses`` row, one ``response_answers`` row per
    answer value, and its content hash."""

    response_id: str
    response: dict[str, Any]
    answers: tuple[dict[str, Any], ...]
    content_hash: str


def response_hash(row: dict[str, Any]) -> str:
    """SHA-256 over a response's content columns."""
    canonical = {column: row[column] for column in RESPONSE_CONTENT_COLUMNS}
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=_iso)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
