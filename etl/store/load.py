"""Writing flattened batches: one transaction per chunk, all-or-nothing per batch.

A chunk is loaded with set-based statements (one SELECT, executemany upserts). Should the
database refuse any row, the chunk is rolled back and loaded again one batch per transaction, so
that only the offending batch fails and nothing of it is left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from ..errors import BatchLoadError, DatabaseUnavailableError
from ..rows import BATCH_CONTENT_COLUMNS, BatchRows
from .db import first_line, is_alive
from .dialects import insert_ignoring_duplicates, upsert
from .schema import (
    DATASET_CONTENT_COLUMNS,
    batch_datasets,
    batch_last_seen,
    batch_status_history,
    batches,
    datasets,
)


@dataclass
class LoadOutcome:
    """Which batches of a chunk were new, changed, unchanged, or refused by the database."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[BatchLoadError] = field(default_factory=list)

    def merge(self, other: LoadOutcome) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed


def load_chunk(
    engine: Engine, chunk: Sequence[BatchRows], run_id: int, now: datetime
) -> LoadOutcome:
    """Upsert ``chunk`` in one transaction, falling back to one transaction per batch.

    Raises DatabaseUnavailableError when the database stops answering or refuses writes as a
    whole (read-only, disk full, locked, permissions), as opposed to refusing one batch's rows.
    """
    if not chunk:
        return LoadOutcome()
    try:
        with engine.begin() as connection:
            return write_batches(connection, chunk, run_id, now)
    except _ROW_ERRORS as exc:
        _raise_if_database_wide(engine, exc)
        if len(chunk) == 1:
            return _refused(chunk[0], exc)
    outcome = LoadOutcome()
    for rows in chunk:
        try:
            with engine.begin() as connection:
                outcome.merge(write_batches(connection, [rows], run_id, now))
        except _ROW_ERRORS as exc:
            _raise_if_database_wide(engine, exc)
            outcome.merge(_refused(rows, exc))
    return outcome


# What one batch's rows can provoke: a constraint or a value the database will not take, or
# a value the driver cannot encode. Anything else is about the database as a whole.
_ROW_ERRORS = (DBAPIError, StatementError, UnicodeError, ValueError, OverflowError)
_BATCH_LEVEL_DB_ERRORS = (IntegrityError, DataError)


def _raise_if_database_wide(engine: Engine, exc: Exception) -> None:
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated
        or not isinstance(exc, _BATCH_LEVEL_DB_ERRORS)
        or not is_alive(engine)
    ):
        raise DatabaseUnavailableError(
            f"the database stopped accepting writes: {first_line(exc.orig)}"
        ) from exc


def _refused(rows: BatchRows, exc: Exception) -> LoadOutcome:
    detail = first_line(exc.orig) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"
    return LoadOutcome(
        failed=[BatchLoadError(rows.batch_id, f"database refused the rows: {detail}")]
    )


def write_batches(
    connection: Connection, chunk: Sequence[BatchRows], run_id: int, now: datetime
) -> LoadOutcome:
    """Write ``chunk`` inside the caller's transaction and say what changed."""
    ids = [rows.batch_id for rows in chunk]
    outcome, status_changes = _compare_with_stored(connection, chunk, run_id, now)
    unchanged = set(outcome.unchanged)
    to_write = [rows for rows in chunk if rows.batch_id not in unchanged]
    if to_write:
        _write_datasets(connection, to_write, run_id, now)
        _write_batch_rows(connection, to_write, run_id, now)
        _write_links(connection, to_write, replaced=outcome.updated)
    if status_changes:
        connection.execute(insert(batch_status_history), status_changes)
    seen = [
        {"batch_id": batch_id, "last_seen_at": now, "last_seen_run_id": run_id} for batch_id in ids
    ]
    connection.execute(
        upsert(batch_last_seen, connection.dialect, ("last_seen_at", "last_seen_run_id")), seen
    )
    return outcome


def preview_chunk(engine: Engine | None, chunk: Sequence[BatchRows]) -> LoadOutcome:
    """What ``load_chunk`` would do with ``chunk``, found by reading only (for --dry-run).

    ``engine`` None stands for a database without our tables: every batch would be new.
    """
    if engine is None:
        return LoadOutcome(inserted=[rows.batch_id for rows in chunk])
    if not chunk:
        return LoadOutcome()
    with engine.connect() as connection:  # closed without a commit
        outcome, _ = _compare_with_stored(connection, chunk, run_id=0, now=None)
    return outcome


def _compare_with_stored(
    connection: Connection, chunk: Sequence[BatchRows], run_id: int, now: datetime | None
) -> tuple[LoadOutcome, list[dict]]:
    """Sort ``chunk`` into new, changed and unchanged batches, and list the status changes."""
    outcome = LoadOutcome()
    known = {
        row.batch_id: row
        for row in connection.execute(
            select(batches.c.batch_id, batches.c.content_hash, batches.c.status).where(
                batches.c.batch_id.in_([rows.batch_id for rows in chunk])
            )
        )
    }
    status_changes: list[dict] = []
    for rows in chunk:
        stored = known.get(rows.batch_id)
        if stored is None:
            outcome.inserted.append(rows.batch_id)
        elif stored.content_hash != rows.content_hash:
            outcome.updated.append(rows.batch_id)
        else:
            outcome.unchanged.append(rows.batch_id)
            continue
        old_status = stored.status if stored is not None else None
        if old_status != rows.batch["status"]:
            status_changes.append(
                {
                    "batch_id": rows.batch_id,
                    "old_status": old_status,
                    "new_status": rows.batch["status"],
                    "observed_at": now,
                    "run_id": run_id,
                }
            )
    return outcome, status_changes


def _write_batch_rows(
    connection: Connection, to_write: Sequence[BatchRows], run_id: int, now: datetime
) -> None:
    bookkeeping = {
        "first_seen_at": now,
        "first_seen_run_id": run_id,
        "last_changed_at": now,
        "last_changed_run_id": run_id,
    }
    values = [{**rows.batch, "content_hash": rows.content_hash, **bookkeeping} for rows in to_write]
    update_columns = (
        *BATCH_CONTENT_COLUMNS,
        "content_hash",
        "last_changed_at",
        "last_changed_run_id",
    )
    connection.execute(upsert(batches, connection.dialect, update_columns), values)


def _write_datasets(
    connection: Connection, to_write: Sequence[BatchRows], run_id: int, now: datetime
) -> None:
    """Upsert the datasets that are new or whose filename or count changed."""
    wanted = {d["dataset_id"]: d for rows in to_write for d in rows.datasets}
    if not wanted:
        return
    stored = {
        row.dataset_id: (row.filename, row.total_datapoint_count)
        for row in connection.execute(
            select(datasets.c.dataset_id, *[datasets.c[c] for c in DATASET_CONTENT_COLUMNS]).where(
                datasets.c.dataset_id.in_(list(wanted))
            )
        )
    }
    values = [
        {**d, "first_seen_at": now, "last_changed_at": now, "last_changed_run_id": run_id}
        for dataset_id, d in wanted.items()
        if stored.get(dataset_id) != tuple(d[c] for c in DATASET_CONTENT_COLUMNS)
    ]
    if values:
        update_columns = (*DATASET_CONTENT_COLUMNS, "last_changed_at", "last_changed_run_id")
        connection.execute(upsert(datasets, connection.dialect, update_columns), values)


def _write_links(
    connection: Connection, to_write: Sequence[BatchRows], *, replaced: Sequence[str]
) -> None:
    if replaced:
        connection.execute(delete(batch_datasets).where(batch_datasets.c.batch_id.in_(replaced)))
    links = [
        {"batch_id": rows.batch_id, "dataset_id": dataset_id}
        for rows in to_write
        for dataset_id in rows.dataset_ids
    ]
    if links:
        connection.execute(insert_ignoring_duplicates(batch_datasets, connection.dialect), links)
