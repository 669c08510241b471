"""One run at a time per database, with a lock that lives with the database.

PostgreSQL: a session-level advisory lock; MySQL/MariaDB: ``GET_LOCK``; SQLite: a lock on the
database file itself, so that every name of it (a symlink, a hard link) shares one lock. All
three are released by the server or the kernel when the holder's connection or process dies, so
a run killed with ``kill -9`` never leaves a stale lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError, DatabaseUnavailableError, RunLockedError
from .db import require_writable_directory
from .runlog import latest_running_run

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
        with _sqlite_lock(engine):
            yield RunLock()
        return
    queries = _SQL[name]
    with engine.connect() as connection:
        if not _scalar(connection, queries["acquire"]):
            raise RunLockedError(_refusal("this database's lock", engine))
        try:
            yield RunLock(connection, queries)
        finally:
            try:
                _scalar(connection, queries["release"])
            except SQLAlchemyError:
                pass  # the connection is gone, and the server released the lock with it


def _refusal(what: str, engine: Engine) -> str:
    """Why a run cannot start, naming the run that holds the lock when the run log says."""
    holder = latest_running_run(engine)
    if holder is None:
        who = (
            "no run is recorded as running yet: one is starting, or `prolific-etl db upgrade` "
            "is at work"
        )
    else:
        run_id, started_at = holder
        who = f"run {run_id}, running since {started_at:%Y-%m-%d %H:%M:%S} UTC"
    return (
        f"another prolific-etl run holds {what} ({who}); this one did nothing. Let it finish "
        "(`prolific-etl runs` shows how far it got), or stop its process if it hangs: the lock "
        "goes with it"
    )


def _scalar(connection: Connection, sql: str) -> object:
    value = connection.execute(text(sql)).scalar()
    connection.commit()
    return value


# SQLite: a write lock on one byte of the database file, far past the bytes SQLite locks (at
# 1 GiB), so that it never meets SQLite's own locks, NFS included. An open file description
# lock belongs to this descriptor, not to the process: SQLite closing a descriptor of the file
# does not drop it, and a second run in this same process is refused like any other.
_LOCK_OFFSET = 2**62


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    path = _database_file(engine)
    if not path:
        yield  # a private in-memory or temporary database cannot be shared
        return
    require_writable_directory(path, "keeps its journal")
    if not hasattr(fcntl, "F_OFD_SETLK"):  # pragma: no cover - macOS and the BSDs
        with _flock_beside(path):
            yield
        return
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"cannot write the SQLite database {path}: {exc.strerror}") from exc
    try:
        request = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _LOCK_OFFSET, 1, 0)
        try:
            fcntl.fcntl(descriptor, fcntl.F_OFD_SETLK, request)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise RunLockedError(_refusal(f"the lock on {path}", engine)) from None
        yield
    finally:
        # Closing any descriptor of the file drops every POSIX lock this process holds on it,
        # SQLite's included (in WAL mode one is kept while a connection is open): close those
        # connections first.
        engine.dispose()
        os.close(descriptor)


def _database_file(engine: Engine) -> str:
    """The main database's file as SQLite opened it; "" for an in-memory one."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("PRAGMA database_list").all()
    return next(row[2] for row in rows if row[1] == "main") or ""


@contextmanager
def _flock_beside(path: str) -> Iterator[None]:  # pragma: no cover - macOS and the BSDs
    """Where there are no open file description locks, and flock meets SQLite's own locks: an
    flock on ``<real path>.lock``, which a symlink shares and another hard link does not."""
    lock_path = os.path.realpath(path) + ".lock"
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"another prolific-etl run holds {lock_path}") from None
        yield
    finally:
        os.close(descriptor)
