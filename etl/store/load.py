"""Writing flattened batches: one transaction per chunk, all-or-nothing per batch.

A chunk is loaded with set-based statements (one SELECT, executemany upserts). Should the
database refuse any row, the chunk is rolled back and loaded again one batch per transaction, so
that only the offending batch fails and nothing of it is left behind.

A batch with a text value longer than a text column holds on MySQL/MariaDB (TEXT_MAX_BYTES) is
refused before anything is written, on every dialect, so that the same data loads everywhere.
A row larger than the server accepts in one statement (MariaDB's max_allowed_packet) makes it
drop the connection: when the database answers again at once, that is taken as the rows' fault
too, and the batch that drops it again when written alone is the one refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, Text, delete, exists, func, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from ..errors import DatabaseUnavailableError, RowsRefusedError
from ..rows import BATCH_CONTENT_COLUMNS, BatchRows, DatasetDetailsRows, WorkspaceRow
from .db import first_line, is_alive
from .dialects import insert_ignoring_duplicates, upsert
from .schema import (
    DATASET_CONTENT_COLUMNS,
    TEXT_MAX_BYTES,
    WORKSPACE_CONTENT_COLUMNS,
    batch_datasets,
    batch_last_seen,
    batch_status_history,
    batches,
    dataset_imports,
    datasets,
    workspaces,
)


@dataclass
class LoadOutcome:
    """Which batches of a chunk were new, changed, unchanged, or refused by the database."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[RowsRefusedError] = field(default_factory=list)

    def merge(self, other: LoadOutcome) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed

    def merged(self, other: LoadOutcome) -> LoadOutcome:
        both = LoadOutcome()
        both.merge(self)
        both.merge(other)
        return both


Committing = Callable[[Connection, LoadOutcome], None]
"""Called inside each transaction of a chunk, just before it commits, with what the chunk's
committed transactions hold with this one: to write the run's progress with the rows."""


def load_chunk(
    engine: Engine,
    chunk: Sequence[BatchRows],
    run_id: int,
    now: datetime,
    *,
    before_commit: Committing | None = None,
) -> LoadOutcome:
    """Upsert ``chunk`` in one transaction, falling back to one transaction per batch.

    Raises DatabaseUnavailableError when the database stops answering or refuses writes as a
    whole (read-only, disk full, locked, permissions), as opposed to refusing one batch's rows.
    """
    fitting, outcome = _set_apart_oversize(chunk)
    if fitting:
        outcome.merge(_load(engine, fitting, run_id, now, LoadOutcome(), before_commit))
    return outcome


def _load(
    engine: Engine,
    chunk: Sequence[BatchRows],
    run_id: int,
    now: datetime,
    committed: LoadOutcome,
    before_commit: Committing | None,
) -> LoadOutcome:
    try:
        with engine.begin() as connection:
            outcome = write_batches(connection, chunk, run_id, now)
            if before_commit is not None:
                before_commit(connection, committed.merged(outcome))
            return outcome
    except ROW_ERRORS as exc:
        raise_if_database_wide(engine, exc)
        if len(chunk) == 1:
            return _refused(chunk[0], exc)
    outcome = LoadOutcome()
    for rows in chunk:
        outcome.merge(_load(engine, [rows], run_id, now, committed.merged(outcome), before_commit))
    return outcome


# What one batch's (or response's) rows can provoke: a constraint or a value the database will
# not take, or a value the driver cannot encode. Anything else is about the database as a whole.
ROW_ERRORS = (DBAPIError, StatementError, UnicodeError, ValueError, OverflowError)
_BATCH_LEVEL_DB_ERRORS = (IntegrityError, DataError)


def raise_if_database_wide(engine: Engine, exc: Exception) -> None:
    """Raise DatabaseUnavailableError unless ``exc`` can be the fault of the rows written.

    A constraint or data error can, and so can a dropped connection (a row over MariaDB's
    max_allowed_packet), but only while the database still answers.
    """
    if not isinstance(exc, DBAPIError):
        return
    rows_at_fault = exc.connection_invalidated or isinstance(exc, _BATCH_LEVEL_DB_ERRORS)
    if not (rows_at_fault and is_alive(engine)):
        raise DatabaseUnavailableError(
            f"the database stopped accepting writes: {first_line(exc.orig)}"
        ) from exc


def _refused(rows: BatchRows, exc: Exception) -> LoadOutcome:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        detail = (
            "the database closed the connection while this batch was written alone, and "
            "answers again: its rows are likely larger than it accepts (MySQL/MariaDB: "
            f"max_allowed_packet): {first_line(exc.orig)}"
        )
    elif isinstance(exc, DBAPIError):
        detail = first_line(exc.orig)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return LoadOutcome(
        failed=[RowsRefusedError(rows.batch_id, f"database refused the rows: {detail}")]
    )


def _set_apart_oversize(chunk: Sequence[BatchRows]) -> tuple[list[BatchRows], LoadOutcome]:
    """The batches whose text values all fit, and an outcome failing each of the others."""
    fitting: list[BatchRows] = []
    outcome = LoadOutcome()
    for rows in chunk:
        error = _oversize_value(rows)
        if error is None:
            fitting.append(rows)
        else:
            outcome.failed.append(error)
    return fitting, outcome


def _oversize_value(rows: BatchRows) -> RowsRefusedError | None:
    """Why ``rows`` cannot be stored: its first text value over TEXT_MAX_BYTES; else None."""
    for table, row in ((batches, rows.batch), *((datasets, d) for d in rows.datasets)):
        for name, value in row.items():
            # A character is at most 4 bytes of UTF-8: most values need not be encoded to tell.
            if not isinstance(value, str) or len(value) * 4 <= TEXT_MAX_BYTES:
                continue
            if not isinstance(table.c[name].type, Text):
                continue
            size = len(value.encode("utf-8", "surrogatepass"))  # counted, never stored as is
            if size > TEXT_MAX_BYTES:
                column = f"{table.name}.{name}"
                return RowsRefusedError(
                    rows.batch_id,
                    f"{column} is too large to store: {size:,} bytes of UTF-8, over the "
                    f"{TEXT_MAX_BYTES:,} a text value may hold on every database (MySQL's "
                    "MEDIUMTEXT)",
                    field=column,
                )
    return None


def write_batches(
    connection: Connection, chunk: Sequence[BatchRows], run_id: int, now: datetime
) -> LoadOutcome:
    """Write ``chunk`` inside the caller's transaction and say what changed."""
    outcome, status_changes = _compare_with_stored(connection, chunk, run_id, now)
    unchanged = set(outcome.unchanged)
    to_write = [rows for rows in chunk if rows.batch_id not in unchanged]
    if to_write:
        _write_datasets(connection, to_write, run_id, now)
        _write_batch_rows(connection, to_write, run_id, now)
        _write_links(connection, to_write, replaced=outcome.updated)
    if status_changes:
        connection.execute(insert(batch_status_history), status_changes)
    seen = ("last_seen_at", "last_seen_run_id")
    fetched = [
        {"batch_id": rows.batch_id, "last_seen_at": now, "last_seen_run_id": run_id}
        for rows in chunk
        if rows.listed_in is None
    ]
    if fetched:
        connection.execute(upsert(batch_last_seen, connection.dialect, seen), fetched)
    listed = [
        {
            "batch_id": rows.batch_id,
            "last_seen_at": now,
            "last_seen_run_id": run_id,
            "last_listed_at": now,
            "last_listed_run_id": run_id,
        }
        for rows in chunk
        if rows.listed_in is not None
    ]
    if listed:
        listing = (*seen, "last_listed_at", "last_listed_run_id")
        connection.execute(upsert(batch_last_seen, connection.dialect, listing), listed)
        _bring_back([row["batch_id"] for row in listed], connection)
    return outcome


def _bring_back(listed: Sequence[str], connection: Connection) -> None:
    """Listed again: no longer removed upstream (a write only where the mark was set)."""
    connection.execute(
        update(batches)
        .where(batches.c.batch_id.in_(listed), batches.c.removed_upstream_at.is_not(None))
        .values(removed_upstream_at=None)
    )


def mark_listed(engine: Engine, batch_ids: Sequence[str], run_id: int, now: datetime) -> None:
    """Record that stored batches were in a listing even though they were not loaded from it
    (they failed validation): they were not removed upstream."""
    if not batch_ids:
        return
    with database_wide_errors(), engine.begin() as connection:
        connection.execute(
            update(batch_last_seen)
            .where(batch_last_seen.c.batch_id.in_(list(batch_ids)))
            .values(last_listed_at=now, last_listed_run_id=run_id)
        )
        _bring_back(batch_ids, connection)


def mark_removed(engine: Engine, workspace_id: str, run_id: int, now: datetime) -> list[str]:
    """Mark the batches of ``workspace_id`` that an earlier listing held and this run's complete
    listing did not as removed upstream; return their ids. Nothing is deleted."""
    gone = (
        select(batches.c.batch_id)
        .join(batch_last_seen, batch_last_seen.c.batch_id == batches.c.batch_id)
        .where(
            batches.c.workspace_id == workspace_id,
            batches.c.removed_upstream_at.is_(None),
            batch_last_seen.c.last_listed_run_id.is_not(None),
            batch_last_seen.c.last_listed_run_id != run_id,
        )
        .order_by(batches.c.batch_id)
    )
    with database_wide_errors(), engine.begin() as connection:
        removed = list(connection.execute(gone).scalars())
        for start in range(0, len(removed), 1000):
            connection.execute(
                update(batches)
                .where(batches.c.batch_id.in_(removed[start : start + 1000]))
                .values(removed_upstream_at=now)
            )
    return removed


def write_workspaces(
    engine: Engine, rows: Sequence[WorkspaceRow], run_id: int, now: datetime
) -> int:
    """Upsert the workspaces that are new or changed; return how many were written."""
    if not rows:
        return 0
    wanted = {row.workspace_id: row.values() for row in rows}
    with database_wide_errors(), engine.begin() as connection:
        stored = {
            found.workspace_id: tuple(found)[1:]
            for found in connection.execute(
                select(
                    workspaces.c.workspace_id,
                    *[workspaces.c[c] for c in WORKSPACE_CONTENT_COLUMNS],
                ).where(workspaces.c.workspace_id.in_(list(wanted)))
            )
        }
        values = [
            {**row, "first_seen_at": now, "last_changed_at": now, "last_changed_run_id": run_id}
            for workspace_id, row in wanted.items()
            if stored.get(workspace_id) != tuple(row[c] for c in WORKSPACE_CONTENT_COLUMNS)
        ]
        if values:
            columns = (*WORKSPACE_CONTENT_COLUMNS, "last_changed_at", "last_changed_run_id")
            connection.execute(upsert(workspaces, connection.dialect, columns), values)
    return len(values)


# The statuses after which a dataset's details stop changing by themselves: version 3's
# READY and ERROR, and the import jobs' terminal ones (the spec: "poll until a terminal status
# is reached"). A dataset still linked to a batch and not settled is asked for every run.
SETTLED_DATASET_STATUSES = ("READY", "ERROR")
SETTLED_IMPORT_STATUSES = ("complete", "partial", "failed", "pending_schema")


def datasets_due(engine: Engine) -> list[str]:
    """Datasets whose details are due: new, changed, not fetched yet, or still in flight (a
    version 3 status or an import job that has not settled)."""
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
    with database_wide_errors(), engine.connect() as connection:
        return list(
            connection.execute(
                select(datasets.c.dataset_id)
                .where(datasets.c.details_synced_at.is_(None) | (linked & (processing | importing)))
                .order_by(datasets.c.dataset_id)
            ).scalars()
        )


def write_dataset_details(
    engine: Engine, rows: DatasetDetailsRows, run_id: int, now: datetime
) -> bool:
    """Store a dataset's details and replace its import jobs, in one transaction; whether
    anything changed (a dataset asked again while in flight is often just as it was)."""
    with database_wide_errors(), engine.begin() as connection:
        if _details_as_stored(connection, rows):
            return False
        connection.execute(
            update(datasets)
            .where(datasets.c.dataset_id == rows.dataset_id)
            .values(
                **rows.details,
                details_synced_at=now,
                details_run_id=run_id,
                last_changed_at=now,
                last_changed_run_id=run_id,
            )
        )
        kept = [job["import_id"] for job in rows.imports]
        gone = dataset_imports.c.dataset_id == rows.dataset_id
        if kept:
            gone = gone & dataset_imports.c.import_id.not_in(kept)
        connection.execute(delete(dataset_imports).where(gone))
        if rows.imports:
            columns = [c for c in rows.imports[0] if c != "import_id"]
            connection.execute(
                upsert(dataset_imports, connection.dialect, columns), list(rows.imports)
            )
    return True


def _details_as_stored(connection: Connection, rows: DatasetDetailsRows) -> bool:
    """Whether ``rows`` are what the database holds already, import jobs included."""
    stored = connection.execute(
        select(datasets.c.details_synced_at, *[datasets.c[c] for c in rows.details]).where(
            datasets.c.dataset_id == rows.dataset_id
        )
    ).first()
    if stored is None or stored.details_synced_at is None:
        return False
    if any(getattr(stored, column) != value for column, value in rows.details.items()):
        return False
    columns = list(rows.imports[0]) if rows.imports else ["import_id"]
    jobs = connection.execute(
        select(*[dataset_imports.c[c] for c in columns]).where(
            dataset_imports.c.dataset_id == rows.dataset_id
        )
    )
    stored_jobs = {job["import_id"]: dict(job) for job in jobs.mappings()}
    return stored_jobs == {job["import_id"]: job for job in rows.imports}


@contextmanager
def database_wide_errors() -> Iterator[None]:
    """A database error while writing what is not a batch's (or a response's) own rows is
    about the database as a whole: DatabaseUnavailableError."""
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseUnavailableError(
            f"the database stopped accepting writes: {first_line(exc.orig)}"
        ) from exc


def preview_chunk(engine: Engine | None, chunk: Sequence[BatchRows]) -> LoadOutcome:
    """What ``load_chunk`` would do with ``chunk``, found by reading only (for --dry-run).

    ``engine`` None stands for a database without our tables: every batch would be new.
    """
    fitting, outcome = _set_apart_oversize(chunk)
    if engine is None:
        outcome.inserted += [rows.batch_id for rows in fitting]
    elif fitting:
        with engine.connect() as connection:  # closed without a commit
            compared, _ = _compare_with_stored(connection, fitting, run_id=0, now=None)
        outcome.merge(compared)
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
    # New or changed: its details are due (details_synced_at NULL) for the next fetch of them.
    values = [
        {
            **d,
            "first_seen_at": now,
            "last_changed_at": now,
            "last_changed_run_id": run_id,
            "details_synced_at": None,
        }
        for dataset_id, d in wanted.items()
        if stored.get(dataset_id) != tuple(d[c] for c in DATASET_CONTENT_COLUMNS)
    ]
    if values:
        update_columns = (
            *DATASET_CONTENT_COLUMNS,
            "last_changed_at",
            "last_changed_run_id",
            "details_synced_at",
        )
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
