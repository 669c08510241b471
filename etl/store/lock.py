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
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseUnavailableError, RunLockedError

# The key includes the database and schema, so that runs into different schemas of one
# server do not block each other. current_schema() is NULL when no schema of the search_path
# exists, and a NULL key would read as "locked": the search_path itself stands in then.
_POSTGRES_KEY = (
    "hashtextextended(current_database() || '.' || "
    "coalesce(current_schema(), current_setting('search_path')) || '.prolific-etl', 0)"
)
_MYSQL_NAME = "CONCAT('prolific-etl:', SHA1(DATABASE()))"
_SQL = {
    "postgresql": {
        "acquire": f"SELECT pg_try_advisory_lock({_POSTGRES_KEY})",
        "held": "SELECT COUNT(*) > 0 FROM pg_locks WHERE locktype = 'advisory' "
        "AND pid = pg_backend_pid() AND granted",
        "release": f"SELECT pg_advisory_unlock({_POSTGRES_KEY})",
    },
    "mysql": {
        "acquire": f"SELECT GET_LOCK({_MYSQL_NAME}, 0)",
        "held": f"SELECT IS_USED_LOCK({_MYSQL_NAME}) = CONNECTION_ID()",
        "release": f"SELECT RELEASE_LOCK({_MYSQL_NAME})",
    },
}
_SQL["mariadb"] = _SQL["mysql"]


class RunLock:
    """The lock a run holds; ``verify()`` before each write tells whether it still holds it."""

    def __init__(self, connection: Connection | None = None, queries: dict | None = None):
        self._connection = connection
        self._queries = queries

    def verify(self) -> None:
        """Raise DatabaseUnavailableError when the lock was lost (its connection was cut)."""
        if self._connection is None:
            return  # an flock is held until this process exits
        try:
            held = _scalar(self._connection, self._queries["held"])
        except SQLAlchemyError as exc:
            raise DatabaseUnavailableError(
                "lost the connection that holds the run lock; stopping so that another run "
                "cannot overlap this one"
            ) from exc
        if not held:
            raise DatabaseUnavailableError("lost the run lock; stopping")


@contextmanager
def run_lock(engine: Engine) -> Iterator[RunLock]:
    """Hold the database's run lock for the duration of the block.

    Raises RunLockedError at once when another run holds it.
    """
    name = engine.dialect.name
    if name == "sqlite":
        with _sqlite_lock(engine.url.database):
            yield RunLock()
        return
    queries = _SQL[name]
    with engine.connect() as connection:
        if not _scalar(connection, queries["acquire"]):
            raise RunLockedError("another prolific-etl run holds this database's lock")
        try:
            yield RunLock(connection, queries)
        finally:
            try:
                _scalar(connection, queries["release"])
            except SQLAlchemyError:
                pass  # the connection is gone, and the server released the lock with it


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
