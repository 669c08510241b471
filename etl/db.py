"""Connecting to the database and making sure the schema exists."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from .config import redact_url
from .errors import DatabaseUnavailableError
from .schema import metadata


def connect(database_url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``database_url`` that has answered one query.

    Raises DatabaseUnavailableError when the database cannot be reached.
    """
    options: dict = {"pool_pre_ping": True}
    if database_url.startswith("sqlite"):
        options = {"connect_args": {"timeout": 30}}
    else:
        options["pool_size"] = pool_size
    engine = create_engine(database_url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseUnavailableError(
            f"cannot connect to {redact_url(database_url)}: {_first_line(exc.orig)}"
        ) from exc
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"cannot create the schema: {_first_line(exc.orig)}"
        ) from exc


def is_alive(engine: Engine) -> bool:
    """Whether the database still answers; tells a refused row from a lost connection."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError:
        return False
    return True


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
