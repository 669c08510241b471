"""Connecting to the database."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..errors import ConfigError, DatabaseUnavailableError, MissingSchemaError
from ..kinds import numbers
from ..text import redact_url


def connect(database_url: str, *, pool_size: int = 5, transactional_ddl: bool = False) -> Engine:
    """An engine for ``database_url`` that has answered one query.

    ``transactional_ddl`` makes SQLite run DDL inside the transaction too (for schema changes
    that must land whole), with foreign keys not enforced (the caller checks them); PostgreSQL
    always does, MySQL/MariaDB never can. Raises
    DatabaseUnavailableError when the database cannot be reached, MissingSchemaError when a
    PostgreSQL search_path names no schema that exists.
    """
    url = make_url(database_url)
    options: dict = {"pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        # Wait up to 30 s for a BI tool's read to finish; a ?timeout= in the URL wins.
        options = {} if "timeout" in url.query else {"connect_args": {"timeout": 30}}
    else:
        options["pool_size"] = pool_size
        if url.get_backend_name() == "postgresql":
            # Notice a silently dropped connection (NAT, failover) instead of hanging on it.
            options["connect_args"] = {"keepalives": 1, "keepalives_idle": 30}
    # JSON columns: a number beyond a double's range is written as sent (etl.kinds.numbers).
    engine = create_engine(url, json_serializer=numbers.dumps, **options)
    if engine.dialect.name == "sqlite":
        if not transactional_ddl:
            # Off for schema changes: SQLite rebuilds a table to alter it, and dropping the old
            # copy would cascade to the rows that refer to it. migrate.py checks the keys
            # itself before committing.
            event.listen(engine, "connect", _sqlite_pragmas)
        if transactional_ddl:
            event.listen(engine, "connect", _sqlite_manual_transactions)
            event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_utc)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            if engine.dialect.name == "postgresql":
                _require_postgres_schema(connection)
    except DBAPIError as exc:
        engine.dispose()
        missing_file = missing_sqlite_file(database_url)
        if missing_file is not None and missing_file.parent.is_dir():
            require_writable_directory(str(missing_file), "would be created")
        raise DatabaseUnavailableError(
            f"cannot connect to {redact_url(database_url)}: {first_line(exc.orig)}"
        ) from exc
    except MissingSchemaError:
        engine.dispose()
        raise
    return engine


def _require_postgres_schema(connection: Connection) -> None:
    """Raise MissingSchemaError when no schema of the search_path exists: every table would be
    missing and none could be created, and the error would only come at the first write."""
    schema, search_path, database = connection.execute(
        text("SELECT current_schema(), current_setting('search_path'), current_database()")
    ).one()
    if schema is not None:
        return
    names = [name.strip() for name in search_path.split(",")]
    first = next((name for name in names if name and name != '"$user"'), "public")
    raise MissingSchemaError(
        f"DATABASE_URL's search_path ({search_path}) names no schema that exists in database "
        f"{database}",
        f"create it (CREATE SCHEMA {first};) or correct search_path",
    )


def connect_existing(database_url: str, *, pool_size: int = 1) -> Engine | None:
    """An engine on the database for reading, or None when it is a SQLite file that does not
    exist yet: reading (``runs``, ``report``, ``export``, a dry run) must never create it.

    Raises DatabaseUnavailableError when the database cannot be reached.
    """
    if missing_sqlite_file(database_url) is not None:
        return None
    return connect(database_url, pool_size=pool_size)


def missing_sqlite_file(database_url: str) -> Path | None:
    """The path of a SQLite database file that does not exist yet; None for anything else."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if "uri" in url.query:  # a file: URI, not a path
        return None
    path = Path(url.database)
    return None if path.exists() else path


def require_writable_directory(path: str, what: str) -> None:
    """Raise ConfigError when this user cannot create files beside SQLite database ``path``:
    SQLite creates its journal there, so such a database cannot be written (``what`` says what
    happens in that directory, for the message)."""
    directory = os.path.dirname(path) or "."
    if os.access(directory, os.W_OK | os.X_OK):
        return
    read_only = os.statvfs(directory).f_flag & os.ST_RDONLY
    reason = "Read-only file system" if read_only else "Permission denied"
    raise ConfigError(
        f"cannot create files in {directory}, where the SQLite database {path} {what}: {reason}"
    )


def is_alive(engine: Engine) -> bool:
    """Whether the database still answers; tells a refused row from a lost connection."""
    try:
        with engine.connect() as connection:
            return answers(connection)
    except DBAPIError:
        return False


def answers(connection: Connection) -> bool:
    """Whether ``connection`` still answers (a held transaction's own: another connection
    would wait for its lock on SQLite)."""
    try:
        connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _postgres_utc(dbapi_connection, _record) -> None:
    # timestamptz values are read back in the session's zone; near year 1 or 9999 a zone other
    # than UTC cannot represent them at all.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # 8 MiB of pages instead of 2: a chunk of responses (random keys) touches thousands of
    # index pages, and with the default each was read again and spilled mid-transaction.
    try:
        cursor.execute("PRAGMA cache_size = -8192")
    except sqlite3.DatabaseError:
        pass  # not a database file: reading the schema says so, as it says of a damaged one
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection, _record) -> None:
    # Python's sqlite3 opens a transaction by itself, and only before INSERT/UPDATE/DELETE, so
    # DDL (a migration, the views) would commit statement by statement and a failed upgrade
    # would leave half a schema. Transactions are opened by _sqlite_begin instead (SQLAlchemy's
    # documented recipe for pysqlite). Not for the nightly load: measured ~2% slower there.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection) -> None:
    connection.exec_driver_sql("BEGIN")


def first_line(error: object) -> str:
    """The first line of a driver's error message (some span a page)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Turn a database error into DatabaseUnavailableError, said as ``doing``: the first line
    of the database's own message follows it ("cannot write the run log: disk full")."""
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"{doing}: {first_line(exc.orig)}") from exc
