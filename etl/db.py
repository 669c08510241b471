"""Connecting to the database and making sure the schema exists."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from . import __version__
from .config import redact_url
from .errors import DatabaseUnavailableError
from .schema import metadata
from .views import VIEWS, create_views


def connect(database_url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``database_url`` that has answered one query.

    Raises DatabaseUnavailableError when the database cannot be reached.
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
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_utc)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseUnavailableError(
            f"cannot connect to {redact_url(database_url)}: {first_line(exc.orig)}"
        ) from exc
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet, check that the others match this version, and
    create the reporting views when any of them is missing.

    Raises DatabaseUnavailableError when the schema cannot be created or an existing table's
    columns differ from what this version writes.
    """
    try:
        metadata.create_all(engine, checkfirst=True)
        inspector = inspect(engine)
        for table in metadata.sorted_tables:
            found = {column["name"] for column in inspector.get_columns(table.name)}
            expected = set(table.columns.keys())
            if found != expected:
                raise DatabaseUnavailableError(
                    f"table {table.name} does not match prolific-etl {__version__}: "
                    f"missing {sorted(expected - found) or 'nothing'}, "
                    f"unexpected {sorted(found - expected) or 'nothing'}; "
                    "this database was made by another version"
                )
        # Not every run: that would need DDL rights and, on PostgreSQL, wait for every BI
        # query reading a view to finish. A changed view comes with a migration instead.
        if {view.name for view in VIEWS} - set(inspector.get_view_names()):
            with engine.begin() as connection:
                create_views(connection)
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot create the schema: {first_line(exc.orig)}") from exc


def is_alive(engine: Engine) -> bool:
    """Whether the database still answers; tells a refused row from a lost connection."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError:
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
    cursor.close()


def first_line(error: object) -> str:
    """The first line of a driver's error message (some span a page)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
