"""The run's counts, and the row types of the kinds under their first names.

The rows themselves are declared with their kind, in ``etl.kinds``; they are re-exported here
for the code that imports them from this module.
"""

from __future__ import annotations

from .kinds.batch import (
    BATCH_CONTENT_COLUMNS,
    BATCH_STATUSES,
    OPTIONAL_CONTENT_COLUMNS,
    BatchRows,
)
from .kinds.batch import batch_hash as content_hash
from .kinds.columns import MAX_ID_LENGTH, MAX_STATUS_LENGTH
from .kinds.dataset_details import DatasetDetailsRows
from .kinds.response import RESPONSE_CONTENT_COLUMNS, ResponseRows, response_hash
from .kinds.workspace import WorkspaceRow

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
    "studies_written",
    "studies_unchanged",
    "submissions_written",
    "submissions_unchanged",
    "responses_skipped",
)

__all__ = [
    "BATCH_CONTENT_COLUMNS",
    "BATCH_STATUSES",
    "MAX_ID_LENGTH",
    "MAX_STATUS_LENGTH",
    "OPTIONAL_CONTENT_COLUMNS",
    "RESPONSE_CONTENT_COLUMNS",
    "RUN_COUNTS",
    "BatchRows",
    "DatasetDetailsRows",
    "ResponseRows",
    "WorkspaceRow",
    "content_hash",
    "response_hash",
]
