"""One run at a time per database, with a lock that lives with the database.

PostgreSQL: a session-level advisory lock; MySQL/MariaDB: ``GET_LOCK``; SQLite: ``flock`` on a
file beside the database. All three are released by the server or the kernel when the holder's
connection or process dies, so a run killed with ``kill -9`` never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from .errors import RunLockedError

LOCK_NAME = "prolific-etl"


@contextmanager
def run_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's run lock for the duration of the block.

    Raises RunLockedError at once when another run holds it.
    """
    name = engine.dialect.name
    if name == "sqlite":
        with _sqlite_lock(engine.url.database):
            yield
        return
    with engine.connect() as connection:
        if name == "postgresql":
            acquire, release = _POSTGRES
        elif name in ("mysql", "mariadb"):
            acquire, release = _MYSQL
        else:  # pragma: no cover - only the three dialects are supported
            raise NotImplementedError(f"no run lock for database dialect {name!r}")
        if not _scalar(connection, acquire):
            raise RunLockedError("another prolific-etl run holds this database's lock")
        try:
            yield
        finally:
            try:
                _scalar(connection, release)
            except DBAPIError:
                pass  # the connection is gone, and the server released the lock with it


# The key includes the database and schema, so that runs into different schemas of one
# server do not block each other.
_POSTGRES = (
    "SELECT pg_try_advisory_lock(hashtextextended("
    "current_database() || '.' || current_schema() || '.prolific-etl', 0))",
    "SELECT pg_advisory_unlock(hashtextextended("
    "current_database() || '.' || current_schema() || '.prolific-etl', 0))",
)
_MYSQL = (
    "SELECT GET_LOCK(CONCAT('prolific-etl:', SHA1(DATABASE())), 0)",
    "SELECT RELEASE_LOCK(CONCAT('prolific-etl:', SHA1(DATABASE())))",
)


def _scalar(connection: Connection, sql: str) -> object:
    value = connection.execute(text(sql)).scalar()
    connection.commit()
    return value


@contextmanager
def _sqlite_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield  # a private in-memory database cannot be shared
        return
    descriptor = os.open(database + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"another prolific-etl run holds {database}.lock") from None
        yield
    finally:
        os.close(descriptor)
