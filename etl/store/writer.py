"""How any kind of thing is written (``etl.kinds`` declares each one): compared with what is
stored, only what is new or changed written, a chunk in one transaction (or, through a
``OpenTransaction``, in a savepoint of one held open over several chunks).

A chunk is written with set-based statements (one SELECT, executemany upserts). Should the
database refuse any row, the chunk is rolled back and written again one item per transaction,
so that only the offending item fails and nothing of it is left behind.

An item with a text value longer than a text column holds on MySQL/MariaDB (TEXT_MAX_BYTES) is
refused before anything is written, on every dialect and for every table the item fills, so
that the same data loads everywhere. A row larger than the server accepts in one statement
(MariaDB's max_allowed_packet) makes it drop the connection: when the database answers again
at once, that is taken as the rows' fault too, and the item that drops it again when written
alone is the one refused.

``etl.store.dialects.upsert`` is called from here alone.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.sql.dml import Insert

from ..errors import ItemError, RowsRefusedError
from ..kinds.columns import TEXT_MAX_BYTES
from ..kinds.kind import Kind
from .db import answers, database_errors, first_line, is_alive
from .dialects import begin_with_savepoints, insert_ignoring_duplicates, upsert


@dataclass
class LoadOutcome:
    """Which items of a chunk (by key) were new, changed, unchanged, or refused."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[ItemError] = field(default_factory=list)

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

# What one item's rows can provoke: a constraint or a value the database will not take, or a
# value the driver cannot encode. Anything else is about the database as a whole.
ROW_ERRORS = (DBAPIError, StatementError, UnicodeError, ValueError, OverflowError)
_ITEM_LEVEL_DB_ERRORS = (IntegrityError, DataError)
WRITES_STOPPED = "the database stopped accepting writes"


def write(
    engine: Engine,
    kind: Kind,
    items: Sequence[Any],
    run_id: int,
    now: datetime,
    *,
    before_commit: Committing | None = None,
) -> LoadOutcome:
    """Write ``items`` of ``kind`` in one transaction, falling back to one per item.

    An item listed twice counts once (its last version). Raises DatabaseUnavailableError when
    the database stops answering or refuses writes as a whole (read-only, disk full, locked,
    permissions), as opposed to refusing one item's rows.
    """
    fitting, outcome = _unique_and_fitting(kind, items)
    if fitting:
        outcome.merge(_write(engine, kind, fitting, run_id, now, LoadOutcome(), before_commit))
    return outcome


def _unique_and_fitting(kind: Kind, items: Sequence[Any]) -> tuple[list[Any], LoadOutcome]:
    """The last version of each item whose text values all fit, and an outcome failing the
    others."""
    return _set_apart_oversize(kind, list({kind.key_of(item): item for item in items}.values()))


def preview(engine: Engine | None, kind: Kind, items: Sequence[Any]) -> LoadOutcome:
    """What ``write`` would do with ``items``, found by reading only (for --dry-run).

    ``engine`` None stands for a database without our tables: every item would be new.
    """
    fitting, outcome = _set_apart_oversize(kind, items)
    if engine is None:
        outcome.inserted += [kind.key_of(item) for item in fitting]
    elif fitting:
        with engine.connect() as connection:  # closed without a commit
            outcome.merge(_Compared(connection, kind, fitting).outcome())
    return outcome


def _write(
    engine: Engine,
    kind: Kind,
    items: Sequence[Any],
    run_id: int,
    now: datetime,
    committed: LoadOutcome,
    before_commit: Committing | None,
    unit: Callable[[], AbstractContextManager[Connection]] | None = None,
    alive: Callable[[], bool] | None = None,
) -> LoadOutcome:
    """``items`` in one ``unit`` (a transaction of its own, or a savepoint of an open one),
    falling back to one per item should the database refuse a row."""
    try:
        with (unit or engine.begin)() as connection:
            outcome = write_in(connection, kind, items, run_id, now)
            if before_commit is not None:
                before_commit(connection, committed.merged(outcome))
            return outcome
    except ROW_ERRORS as exc:
        raise_if_database_wide(engine, exc, alive)
        if len(items) == 1:
            return LoadOutcome(failed=[_refused(kind, items[0], exc)])
    outcome = LoadOutcome()
    for item in items:
        outcome.merge(
            _write(
                engine,
                kind,
                [item],
                run_id,
                now,
                committed.merged(outcome),
                before_commit,
                unit,
                alive,
            )
        )
    return outcome


class OpenTransaction:
    """Chunks written in one transaction held open until ``commit``, each chunk in a savepoint
    so that a refused row fails its item alone, as ``write`` does with a transaction per chunk.

    For SQLite, whose commits cost the most: each one writes every page the transaction
    dirtied twice (journal, then file), and a chunk of random keys dirties a page of every
    index. Writes through another connection wait until ``commit`` (SQLite has one writer):
    what else the caller records waits for it too.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def write(self, kind: Kind, items: Sequence[Any], run_id: int, now: datetime) -> LoadOutcome:
        """Like ``write``, inside the open transaction (begun if none is)."""
        connection = self._open()
        fitting, outcome = _unique_and_fitting(kind, items)
        if fitting:
            outcome.merge(
                _write(
                    self.engine,
                    kind,
                    fitting,
                    run_id,
                    now,
                    LoadOutcome(),
                    None,
                    unit=lambda: _savepoint(connection),
                    alive=lambda: answers(connection),
                )
            )
        return outcome

    def commit(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                with database_errors(WRITES_STOPPED):
                    connection.commit()
            finally:
                connection.close()

    def roll_back(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()  # the pool rolls back what it did not commit

    def _open(self) -> Connection:
        if self._connection is None:
            connection = self.engine.connect()
            try:
                with database_errors(WRITES_STOPPED):
                    begin_with_savepoints(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection


@contextmanager
def _savepoint(connection: Connection) -> Iterator[Connection]:
    with connection.begin_nested():
        yield connection


def raise_if_database_wide(
    engine: Engine, exc: Exception, alive: Callable[[], bool] | None = None
) -> None:
    """Raise DatabaseUnavailableError unless ``exc`` can be the fault of the rows written.

    A constraint or data error can, and so can a dropped connection (a row over MariaDB's
    max_allowed_packet), but only while the database still answers (``alive``; by default,
    on a new connection).
    """
    if not isinstance(exc, DBAPIError):
        return
    rows_at_fault = exc.connection_invalidated or isinstance(exc, _ITEM_LEVEL_DB_ERRORS)
    if not (rows_at_fault and (alive or (lambda: is_alive(engine)))()):
        with database_errors(WRITES_STOPPED):
            raise exc


def _refused(kind: Kind, item: Any, exc: Exception) -> RowsRefusedError:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        detail = (
            f"the database closed the connection while this {kind.name} was written alone, "
            "and answers again: its rows are likely larger than it accepts (MySQL/MariaDB: "
            f"max_allowed_packet): {first_line(exc.orig)}"
        )
    elif isinstance(exc, DBAPIError):
        detail = first_line(exc.orig)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return kind.refused(item, f"database refused the rows: {detail}", None)


def _set_apart_oversize(kind: Kind, items: Sequence[Any]) -> tuple[list[Any], LoadOutcome]:
    """The items whose text values all fit, and an outcome failing each of the others."""
    fitting: list[Any] = []
    outcome = LoadOutcome()
    for item in items:
        error = _oversize_value(kind, item)
        if error is None:
            fitting.append(item)
        else:
            outcome.failed.append(error)
    return fitting, outcome


def _rows_by_table(kind: Kind, item: Any) -> list[tuple[Table, dict[str, Any]]]:
    """Every row ``item`` fills, with its table."""
    rows = [(kind.table, kind.row_of(item))]
    for related in (*kind.shared, *kind.children):
        rows += [(related.table, row) for row in related.of(item)]
    return rows


def _oversize_value(kind: Kind, item: Any) -> RowsRefusedError | None:
    """Why ``item`` cannot be stored: its first text value over TEXT_MAX_BYTES; else None."""
    for table, row in _rows_by_table(kind, item):
        for name, value in row.items():
            # A character is at most 4 bytes of UTF-8: most values need not be encoded to tell.
            if not isinstance(value, str) or len(value) * 4 <= TEXT_MAX_BYTES:
                continue
            if not isinstance(table.c[name].type, Text):
                continue
            size = len(value.encode("utf-8", "surrogatepass"))  # counted, never stored as is
            if size > TEXT_MAX_BYTES:
                column = f"{table.name}.{name}"
                message = (
                    f"{column} is too large to store: {size:,} bytes of UTF-8, over the "
                    f"{TEXT_MAX_BYTES:,} a text value may hold on every database (MySQL's "
                    "MEDIUMTEXT)"
                )
                return kind.refused(item, message, column)
    return None


class _Compared:
    """A chunk of items sorted, by one read, into new, changed and unchanged."""

    def __init__(self, connection: Connection, kind: Kind, items: Sequence[Any]) -> None:
        self.kind = kind
        self.items = items
        table = kind.table
        compared = [kind.hash_column] if kind.hash_column else list(kind.content_columns)
        extra = [kind.due_column, kind.removal and kind.removal.column, kind.owner]
        if kind.status_history is not None:
            extra.append(kind.status_history.column)
        self.columns = [*compared, *(c for c in extra if c and c not in compared)]
        query = select(table.c[kind.key], *[table.c[c] for c in self.columns]).where(
            table.c[kind.key].in_([kind.key_of(item) for item in items])
        )
        self.stored = {
            row[0]: dict(zip(self.columns, row[1:], strict=True))
            for row in connection.execute(query)
        }
        self.compared = compared
        self.new: list[Any] = []
        self.changed: list[Any] = []
        self.same: list[Any] = []
        self.claimed: list[ItemError] = []  # stored under another owner, kept there
        for item in items:
            self._sort(item)
        if kind.children_are_content and self.same:
            self._compare_children(connection)

    def _sort(self, item: Any) -> None:
        kind = self.kind
        stored = self.stored.get(kind.key_of(item))
        if stored is None or (kind.due_column and stored[kind.due_column] is None):
            self.new.append(item)
            return
        if self._owned_elsewhere(item, stored):
            self.claimed.append(kind.claimed(item, stored[kind.owner]))
            return
        if kind.hash_column:
            wanted = [kind.hash_of(item)]
        else:
            row = kind.row_of(item)
            wanted = [row[c] for c in kind.content_columns]
        if [stored[c] for c in self.compared] != wanted:
            self.changed.append(item)
        else:
            self.same.append(item)

    def _owned_elsewhere(self, item: Any, stored: dict[str, Any]) -> bool:
        """Whether ``item`` is stored under another owner that still holds it."""
        kind = self.kind
        if kind.owner is None or stored[kind.owner] == kind.row_of(item)[kind.owner]:
            return False
        return kind.removal is None or stored[kind.removal.column] is None

    def _compare_children(self, connection: Connection) -> None:
        """Move the items whose children differ from the stored ones to ``changed``."""
        differ: set[str] = set()
        keys = [self.kind.key_of(item) for item in self.same]
        for children in self.kind.children:
            table = children.table
            stored: dict[str, list[dict]] = {key: [] for key in keys}
            query = select(table).where(table.c[children.parent_key].in_(keys))
            for row in connection.execute(query).mappings():
                stored[row[children.parent_key]].append(dict(row))
            for item in self.same:
                if _by_key(table, stored[self.kind.key_of(item)]) != _by_key(
                    table, children.of(item)
                ):
                    differ.add(self.kind.key_of(item))
        self.changed += [item for item in self.same if self.kind.key_of(item) in differ]
        self.same = [item for item in self.same if self.kind.key_of(item) not in differ]

    def was_stored(self, item: Any) -> bool:
        return self.kind.key_of(item) in self.stored

    def stored_value(self, item: Any, column: str) -> Any:
        stored = self.stored.get(self.kind.key_of(item))
        return None if stored is None else stored[column]

    def outcome(self) -> LoadOutcome:
        key_of = self.kind.key_of
        return LoadOutcome(
            inserted=[key_of(item) for item in self.new],
            updated=[key_of(item) for item in self.changed],
            unchanged=[key_of(item) for item in self.same],
            failed=list(self.claimed),
        )


def _by_key(table: Table, rows: Sequence[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    key = [column.name for column in table.primary_key.columns]
    return {tuple(row[c] for c in key): {c.name: row.get(c.name) for c in table.c} for row in rows}


def write_in(
    connection: Connection, kind: Kind, items: Sequence[Any], run_id: int, now: datetime
) -> LoadOutcome:
    """Write ``items`` inside the caller's transaction and say what changed."""
    compared = _Compared(connection, kind, items)
    to_write = compared.new + compared.changed
    if to_write:
        for shared in kind.shared:
            _write_shared(connection, shared, to_write, run_id, now)
        _write_rows(connection, kind, to_write, run_id, now)
        stored_before = [item for item in to_write if compared.was_stored(item)]
        _replace_children(connection, kind, to_write, stored_before)
        _record_status(connection, kind, compared, to_write, run_id, now)
    if kind.sightings is not None:
        _record_sightings(connection, kind, items, run_id, now)
    if kind.removal is not None:
        back = [
            kind.key_of(item)
            for item in items
            if kind.removal.from_listing(item)
            and compared.stored_value(item, kind.removal.column) is not None
        ]
        _bring_back(connection, kind, back)
    return compared.outcome()


def execute_many(connection: Connection, statement: Insert, rows: Sequence[dict[str, Any]]) -> None:
    """``connection.execute(statement, rows)`` for rows that all have the same keys, with the
    statement compiled once and each value converted by its column's type straight into the
    tuples (or dicts) the driver's executemany takes. SQLAlchemy builds and processes a
    parameter dict per row instead, which for a chunk of responses cost more than the inserts
    themselves. Rows it cannot take so (keys that differ, a value a type refuses) go through
    ``connection.execute``, which fails them as it always did."""
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    names = compiled.positiontup if compiled.positional else list(compiled.bind_names.values())
    escaped = compiled.escaped_bind_names or {}
    plan = [
        (name, escaped.get(name, name), _bind_processor(compiled.binds[name].type, dialect))
        for name in names
    ]
    try:
        plan = [(n, e, _once_if_shared(n, p, rows)) for n, e, p in plan]
        if compiled.positional:
            parameters: list = [
                tuple(row[n] if p is None else p(row[n]) for n, _e, p in plan) for row in rows
            ]
        else:
            parameters = [
                {e: row[n] if p is None else p(row[n]) for n, e, p in plan} for row in rows
            ]
    except (KeyError, *ROW_ERRORS, TypeError):
        connection.execute(statement, rows)
        return
    connection.exec_driver_sql(compiled.string, parameters)


def _once_if_shared(
    name: str, processor: Callable[[Any], Any] | None, rows: Sequence[dict[str, Any]]
) -> Callable[[Any], Any] | None:
    """``processor``, or when every row holds the very same value (the run's timestamps), a
    function answering that value converted once."""
    if processor is None:
        return None
    shared = rows[0][name]
    if any(row[name] is not shared for row in rows):
        return processor
    converted = processor(shared)
    return lambda _value: converted


def _bind_processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """What SQLAlchemy applies to a value of ``type_`` before handing it to the driver."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _bookkeeping(table: Table, run_id: int, now: datetime) -> dict[str, Any]:
    """The bookkeeping values of a row written new, for the columns ``table`` has."""
    values = {
        "first_seen_at": now,
        "first_seen_run_id": run_id,
        "last_changed_at": now,
        "last_changed_run_id": run_id,
    }
    return {name: value for name, value in values.items() if name in table.c}


_CHANGE_COLUMNS = ("last_changed_at", "last_changed_run_id")


def _write_rows(
    connection: Connection, kind: Kind, to_write: Sequence[Any], run_id: int, now: datetime
) -> None:
    table = kind.table
    stamps = kind.stamps(run_id, now) if kind.stamps else {}
    kept = {c: v for c, v in _bookkeeping(table, run_id, now).items() if c in _CHANGE_COLUMNS}
    if kind.fills_in:  # the row is another kind's: only its columns are filled in
        _fill_in(connection, kind, to_write, {**stamps, **kept})
        return
    hashed = (kind.hash_column,) if kind.hash_column else ()
    same_for_all = {**_bookkeeping(table, run_id, now), **stamps}
    if kind.hash_column:
        values = [
            {**kind.row_of(item), kind.hash_column: kind.hash_of(item), **same_for_all}
            for item in to_write
        ]
    else:
        values = [{**kind.row_of(item), **same_for_all} for item in to_write]
    columns = (*kind.content_columns, *hashed, *kept, *stamps)
    execute_many(connection, upsert(table, connection.dialect, columns), values)


def _fill_in(
    connection: Connection, kind: Kind, to_write: Sequence[Any], fixed: dict[str, Any]
) -> None:
    """Update the content columns (and ``fixed`` ones) of rows another kind owns, in one
    executemany. Parameters are named apart from the columns, which a SET cannot share."""
    table = kind.table
    columns = (*kind.content_columns, *fixed)
    statement = (
        update(table)
        .where(table.c[kind.key] == bindparam("p_key", type_=table.c[kind.key].type))
        .values({c: bindparam(f"p_{c}", type_=table.c[c].type) for c in columns})
    )
    rows = [kind.row_of(item) for item in to_write]
    connection.execute(
        statement,
        [
            {
                "p_key": row[kind.key],
                **{f"p_{c}": row[c] for c in kind.content_columns},
                **{f"p_{c}": value for c, value in fixed.items()},
            }
            for row in rows
        ],
    )


def _write_shared(
    connection: Connection, shared, to_write: Sequence[Any], run_id: int, now: datetime
) -> None:
    """Upsert the shared rows that are new or whose content columns changed."""
    table = shared.table
    wanted = {row[shared.key]: row for item in to_write for row in shared.of(item)}
    if not wanted:
        return
    content = [table.c[c] for c in shared.content_columns]
    stored = {
        row[0]: tuple(row[1:])
        for row in connection.execute(
            select(table.c[shared.key], *content).where(table.c[shared.key].in_(list(wanted)))
        )
    }
    values = [
        {**row, **_bookkeeping(table, run_id, now), **shared.on_change}
        for key, row in wanted.items()
        if stored.get(key) != tuple(row[c] for c in shared.content_columns)
    ]
    if values:
        columns = (*shared.content_columns, *_CHANGE_COLUMNS, *shared.on_change)
        execute_many(connection, upsert(table, connection.dialect, columns), values)


def _replace_children(
    connection: Connection, kind: Kind, to_write: Sequence[Any], stored_before: Sequence[Any]
) -> None:
    """The children of every item written: those of an item stored before replaced whole."""
    replaced = [kind.key_of(item) for item in stored_before]
    for children in kind.children:
        table = children.table
        if replaced:
            connection.execute(delete(table).where(table.c[children.parent_key].in_(replaced)))
        rows = [row for item in to_write for row in children.of(item)]
        if rows:
            statement = (
                insert_ignoring_duplicates(table, connection.dialect)
                if children.ignore_duplicates
                else insert(table)
            )
            execute_many(connection, statement, rows)


def _record_status(
    connection: Connection,
    kind: Kind,
    compared: _Compared,
    to_write: Sequence[Any],
    run_id: int,
    now: datetime,
) -> None:
    """A history row for each item written whose status is new or other than stored."""
    history = kind.status_history
    if history is None:
        return
    changes = []
    for item in to_write:
        old = compared.stored_value(item, history.column)
        new = kind.row_of(item)[history.column]
        if old != new:
            changes.append(
                {
                    kind.key: kind.key_of(item),
                    "old_status": old,
                    "new_status": new,
                    "observed_at": now,
                    "run_id": run_id,
                }
            )
    if changes:
        connection.execute(insert(history.table), changes)


_SEEN = ("last_seen_at", "last_seen_run_id")
_LISTED = ("last_listed_at", "last_listed_run_id")


def _record_sightings(
    connection: Connection, kind: Kind, items: Sequence[Any], run_id: int, now: datetime
) -> None:
    """When each item was fetched, and for those read from a listing, listed."""
    table = kind.sightings.table
    listed_in = kind.sightings.listed_in
    seen = {"last_seen_at": now, "last_seen_run_id": run_id}
    listed = {"last_listed_at": now, "last_listed_run_id": run_id}
    fetched = [{kind.key: kind.key_of(i), **seen} for i in items if listed_in(i) is None]
    if fetched:
        connection.execute(upsert(table, connection.dialect, _SEEN), fetched)
    in_listing = [
        {kind.key: kind.key_of(i), **seen, **listed} for i in items if listed_in(i) is not None
    ]
    if in_listing:
        connection.execute(upsert(table, connection.dialect, (*_SEEN, *_LISTED)), in_listing)


def _bring_back(connection: Connection, kind: Kind, keys: Sequence[str]) -> None:
    """Listed again: no longer removed upstream (a write only where the mark was set)."""
    if not keys:
        return
    table, column = kind.table, kind.table.c[kind.removal.column]
    connection.execute(
        update(table)
        .where(table.c[kind.key].in_(list(keys)), column.is_not(None))
        .values({column.name: None})
    )


def stamp(engine: Engine, table: Table, row: dict[str, Any]) -> None:
    """Write one bookkeeping row keyed by its table's primary key (when a batch's responses
    were last read whole, say): inserted, or its other columns replaced."""
    key = {column.name for column in table.primary_key.columns}
    columns = [name for name in row if name not in key]
    with database_errors(WRITES_STOPPED), engine.begin() as connection:
        connection.execute(upsert(table, connection.dialect, columns), [row])


def note_listed(
    engine: Engine, kind: Kind, keys: Sequence[str], run_id: int, now: datetime
) -> None:
    """Record that stored items were in a complete listing even though they were not written
    from it (they failed validation, or the database refused them): not removed upstream."""
    if not keys:
        return
    table = kind.sightings.table
    with database_errors(WRITES_STOPPED), engine.begin() as connection:
        connection.execute(
            update(table)
            .where(table.c[kind.key].in_(list(keys)))
            .values(last_listed_at=now, last_listed_run_id=run_id)
        )
        _bring_back(connection, kind, keys)


def mark_removed(
    engine: Engine,
    kind: Kind,
    scope: str,
    run_id: int | None,
    now: datetime,
    *,
    seen: Container[str] | None = None,
) -> list[str]:
    """Mark the stored items of ``scope`` that its complete listing (this run's, or the keys
    in ``seen``) no longer held as removed upstream; return their keys. Nothing is deleted."""
    removal = kind.removal
    table = kind.table
    key = table.c[kind.key]
    query = select(key).where(table.c[removal.scope] == scope, table.c[removal.column].is_(None))
    if removal.listed_before:
        sightings = kind.sightings.table
        query = query.join(sightings, sightings.c[kind.key] == key).where(
            sightings.c.last_listed_run_id.is_not(None),
            sightings.c.last_listed_run_id != run_id,
        )
    with database_errors(WRITES_STOPPED), engine.begin() as connection:
        stored = connection.execute(
            query.order_by(key),
            execution_options={"yield_per": 5000},  # never all at once
        ).scalars()
        gone = [found for found in stored if seen is None or found not in seen]
        for start in range(0, len(gone), 1000):
            connection.execute(
                update(table)
                .where(key.in_(gone[start : start + 1000]))
                .values({removal.column: now})
            )
    return gone
