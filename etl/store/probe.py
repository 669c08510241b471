"""Proving that a run could write to the database, without leaving anything behind.

``prolific-etl check`` uses it: a database that answers a SELECT may still refuse every write
(a read-only SQLite file or directory, a SELECT-only PostgreSQL user, a read-only replica).
"""

from __future__ import annotations

import os

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    column,
    false,
    insert,
    inspect,
    select,
    table,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..config import redact_url
from ..errors import ConfigError, DatabaseUnavailableError
from .db import connect, first_line, missing_sqlite_file, require_writable_directory
from .schema import etl_runs

# A table that only ever exists inside the probe's own transaction (on MySQL/MariaDB, whose
# DDL commits at once, for the moment between its CREATE and DROP).
_SCRATCH = Table(f"etl_check_scratch_{os.getpid()}", MetaData(), Column("probe", Integer))


class NotWritableError(DatabaseUnavailableError):
    """The database answers but refuses the writes a run makes."""


def prove_writable(database_url: str) -> None:
    """Make the writes a sync would make, and roll them back.

    With the run log there, insert into and update etl_runs (no row matches, nothing is
    stored, no id is used up); in an empty database, create a scratch table. A SQLite file
    that does not exist yet is not created: its directory must let this user create files.
    Raises ConfigError for a SQLite file or directory this user cannot write,
    NotWritableError when the database refuses the write.
    """
    missing_file = missing_sqlite_file(database_url)
    if missing_file is not None:
        require_writable_directory(str(missing_file), "would be created")
        return
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and "uri" not in url.query:
        require_writable_directory(url.database, "keeps its journal")
        if not os.access(url.database, os.W_OK):
            raise ConfigError(f"cannot write the SQLite database {url.database}: Permission denied")
    engine = connect(database_url, pool_size=1, transactional_ddl=True)
    try:
        _write_and_roll_back(engine)
    except DBAPIError as exc:
        raise NotWritableError(
            f"{redact_url(database_url)} refuses writes: {first_line(exc.orig)}"
        ) from exc
    finally:
        engine.dispose()


def _write_and_roll_back(engine: Engine) -> None:
    inspector = inspect(engine)
    commits_ddl = engine.dialect.name in ("mysql", "mariadb")
    with engine.connect() as connection, connection.begin() as transaction:
        if etl_runs.name in inspector.get_table_names():
            # Every column the table has (an older schema's too): MySQL refuses an INSERT that
            # leaves out a column without a default even when no row is selected.
            names = [column["name"] for column in inspector.get_columns(etl_runs.name)]
            runs = table(etl_runs.name, *(column(name) for name in names))
            connection.execute(insert(runs).from_select(names, select(runs).where(false())))
            first = runs.c[names[0]]
            connection.execute(update(runs).where(false()).values({first: first}))
        else:
            _SCRATCH.create(connection)
            if commits_ddl:
                _SCRATCH.drop(connection)
        transaction.rollback()
