"""What differs between SQLite, PostgreSQL and MySQL/MariaDB, one small function per concern."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert


def upsert(table: Table, dialect: Dialect, update_columns: Sequence[str]) -> Insert:
    """An INSERT that updates ``update_columns`` when the primary key exists already.

    SQLite and PostgreSQL: ``INSERT ... ON CONFLICT (pk) DO UPDATE``; MySQL/MariaDB:
    ``INSERT ... ON DUPLICATE KEY UPDATE``. Used with executemany (a list of row dicts).
    """
    name = dialect.name
    if name in ("mysql", "mariadb"):
        statement = mysql.insert(table)
        return statement.on_duplicate_key_update(
            {column: statement.inserted[column] for column in update_columns}
        )
    if name in ("postgresql", "sqlite"):
        statement = (postgresql if name == "postgresql" else sqlite).insert(table)
        return statement.on_conflict_do_update(
            index_elements=[column.name for column in table.primary_key.columns],
            set_={column: statement.excluded[column] for column in update_columns},
        )
    raise NotImplementedError(f"no upsert for database dialect {name!r}")


def insert_ignoring_duplicates(table: Table, dialect: Dialect) -> Insert:
    """An INSERT that skips rows whose primary key exists already."""
    name = dialect.name
    if name in ("mysql", "mariadb"):
        # Not INSERT IGNORE: that would also turn data errors into warnings.
        statement = mysql.insert(table)
        key = table.primary_key.columns.values()[0].name
        return statement.on_duplicate_key_update({key: statement.inserted[key]})
    if name in ("postgresql", "sqlite"):
        return (
            (postgresql if name == "postgresql" else sqlite).insert(table).on_conflict_do_nothing()
        )
    raise NotImplementedError(f"no insert-or-ignore for database dialect {name!r}")


def begin_with_savepoints(connection: Connection) -> None:
    """Begin a transaction on ``connection`` in which savepoints nest.

    Python's sqlite3 driver sends BEGIN only before the first INSERT, UPDATE or DELETE, so a
    SAVEPOINT sent first would open the transaction itself, and releasing it would commit:
    BEGIN is sent here at once (SQLAlchemy's documented workaround does the same for every
    transaction).
    """
    connection.begin()
    if (
        connection.dialect.name == "sqlite"
        and not connection.connection.dbapi_connection.in_transaction
    ):
        connection.exec_driver_sql("BEGIN")


@contextmanager
def page_cache(connection: Connection, kib: int) -> Iterator[None]:
    """SQLite's page cache of ``connection`` at ``kib`` KiB for the block, then back to what it
    was; nothing on the other databases."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar())
    connection.exec_driver_sql(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    except BaseException:
        with suppress(SQLAlchemyError):  # (the connection may be why the block failed)
            connection.exec_driver_sql(f"PRAGMA cache_size = {before}")
        raise
    connection.exec_driver_sql(f"PRAGMA cache_size = {before}")
