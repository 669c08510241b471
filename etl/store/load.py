"""Storing batches, workspaces and datasets' details: thin adapters over the one writer
(``etl.store.writer``), under the names and signatures the job calls.

Each item is all-or-nothing: a chunk goes in one transaction, and should the database refuse
a row, again one item per transaction, so that only the offending item fails (RowsRefusedError
in the outcome). A text value too large for any database fails its item before anything is
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, exists, func, select

from ..kinds.batch import BATCH, BatchRows, batch_datasets, batches, datasets
from ..kinds.dataset_details import (
    DATASET_DETAILS,
    SETTLED_DATASET_STATUSES,
    SETTLED_IMPORT_STATUSES,
    DatasetDetailsRows,
    dataset_imports,
)
from ..kinds.workspace import WORKSPACE, WorkspaceRow
from . import writer
from .db import database_errors
from .writer import ROW_ERRORS, Committing, LoadOutcome, raise_if_database_wide

__all__ = [
    "ROW_ERRORS",
    "SETTLED_DATASET_STATUSES",
    "SETTLED_IMPORT_STATUSES",
    "Committing",
    "LoadOutcome",
    "datasets_due",
    "load_chunk",
    "mark_listed",
    "mark_removed",
    "preview_chunk",
    "raise_if_database_wide",
    "store_dataset_details",
    "store_workspaces",
]


def load_chunk(
    engine: Engine,
    chunk: Sequence[BatchRows],
    run_id: int,
    now: datetime,
    *,
    before_commit: Committing | None = None,
) -> LoadOutcome:
    """Write a chunk of batches (see ``writer.write``); ``before_commit`` runs inside each of
    its transactions."""
    return writer.write(engine, BATCH, chunk, run_id, now, before_commit=before_commit)


def preview_chunk(engine: Engine | None, chunk: Sequence[BatchRows]) -> LoadOutcome:
    """What ``load_chunk`` would do with ``chunk``, found by reading only (for --dry-run)."""
    return writer.preview(engine, BATCH, chunk)


def mark_listed(engine: Engine, batch_ids: Sequence[str], run_id: int, now: datetime) -> None:
    """Record that stored batches were in a listing even though they were not loaded from it
    (they failed validation): they were not removed upstream."""
    writer.note_listed(engine, BATCH, batch_ids, run_id, now)


def mark_removed(engine: Engine, workspace_id: str, run_id: int, now: datetime) -> list[str]:
    """Mark the batches of ``workspace_id`` that an earlier listing held and this run's complete
    listing did not as removed upstream; return their ids. Nothing is deleted."""
    return writer.mark_removed(engine, BATCH, workspace_id, run_id, now)


def store_workspaces(
    engine: Engine, rows: Sequence[WorkspaceRow], run_id: int, now: datetime
) -> LoadOutcome:
    """Write the workspaces that are new or changed; one the database refuses fails alone."""
    return writer.write(engine, WORKSPACE, rows, run_id, now)


def store_dataset_details(
    engine: Engine, chunk: Sequence[DatasetDetailsRows], run_id: int, now: datetime
) -> LoadOutcome:
    """Store datasets' details and replace their import jobs, a chunk in one transaction,
    where anything changed (a dataset asked again while in flight is often just as it was);
    one the database refuses fails alone."""
    return writer.write(engine, DATASET_DETAILS, chunk, run_id, now)


def datasets_due(engine: Engine, among: Sequence[str] | None = None) -> list[str]:
    """Datasets whose details are due: new, changed, not fetched yet, or still in flight (a
    version 3 status or an import job that has not settled); only those ``among`` the ids
    given, when given."""
    if among is not None:
        return [
            dataset_id
            for start in range(0, len(among), _IDS_PER_QUERY)
            for dataset_id in _datasets_due(engine, among[start : start + _IDS_PER_QUERY])
        ]
    return _datasets_due(engine, None)


_IDS_PER_QUERY = 500  # well under every database's limit on bound parameters


def _datasets_due(engine: Engine, among: Sequence[str] | None) -> list[str]:
    # Linked to a batch that is still upstream: a deleted batch's datasets may be gone too.
    linked = exists().where(
        batch_datasets.c.dataset_id == datasets.c.dataset_id,
        batch_datasets.c.batch_id == batches.c.batch_id,
        batches.c.removed_upstream_at.is_(None),
    )
    importing = exists().where(
        dataset_imports.c.dataset_id == datasets.c.dataset_id,
        func.lower(dataset_imports.c.status).not_in(SETTLED_IMPORT_STATUSES),
    )
    # A version 4 dataset's status is NULL, and NULL NOT IN (...) is not true.
    processing = func.upper(datasets.c.status).not_in(SETTLED_DATASET_STATUSES)
    query = (
        select(datasets.c.dataset_id)
        .where(datasets.c.details_synced_at.is_(None) | (linked & (processing | importing)))
        .order_by(datasets.c.dataset_id)
    )
    if among is not None:
        query = query.where(datasets.c.dataset_id.in_(among))
    with database_errors(writer.WRITES_STOPPED), engine.connect() as connection:
        return list(connection.execute(query).scalars())
