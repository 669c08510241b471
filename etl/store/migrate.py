"""Schema versions: Alembic migrations, run by the job on its own connection.

An existing database is upgraded in place by ``upgrade`` (``prolific-etl db upgrade``, or
``sync --auto-migrate``). A new one gets the schema in code and is stamped at the newest revision,
as Alembic recommends: tests/test_migrations.py proves that the migrations build exactly that
schema. The revision a database is at is kept in Alembic's version table, ``etl_schema_version``.
Alembic itself is imported only to upgrade, which keeps a nightly run's start-up short.

The reporting views (etl/store/views.py) are not part of any revision: an upgrade drops them,
migrates the tables under them and creates them again as this version defines them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select
from sqlalchemy.exc import DBAPIError

from ..errors import DatabaseUnavailableError, SchemaVersionError
from .db import connect, first_line
from .schema import metadata
from .views import VIEWS, create_views, drop_views

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "etl_schema_version"
log = logging.getLogger("etl")

# Alembic's version table, as Alembic creates it; read and stamped here without Alembic.
_version_table = Table(
    VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), primary_key=True),
)
# Revision ids are the file names' prefixes (0001_initial_schema.py); a test checks that they
# are what Alembic reads from the files.
REVISIONS = tuple(
    sorted(
        path.name.split("_", 1)[0]
        for path in (Path(__file__).parent / "migrations" / "versions").glob("[0-9]*_*.py")
    )
)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package, bound to ``connection`` when one is given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "etl.store:migrations")
    config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class SchemaState:
    """Which revision a database is at, next to the one this version of prolific-etl writes.

    ``current`` is None for a database without our tables. ``unversioned`` marks a database made
    by prolific-etl 0.1.0 (before migrations): it has the initial tables but no version table.
    """

    current: str | None
    head: str
    known: bool = True
    unversioned: bool = False

    @property
    def is_empty(self) -> bool:
        return self.current is None

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.is_empty:
            return f"no prolific-etl tables yet (this version creates revision {self.head})"
        if not self.known:
            return (
                f"revision {self.current}, which this version of prolific-etl does not know: "
                "the database was upgraded by a newer version; upgrade prolific-etl"
            )
        if self.is_current:
            return f"revision {self.current}, current"
        made = " (made before schema versions were recorded)" if self.unversioned else ""
        return (
            f"revision {self.current}{made}, but this version needs {self.head}: "
            "run `prolific-etl db upgrade` (or sync with --auto-migrate)"
        )


def head_revision() -> str:
    """The newest revision: what this version of prolific-etl writes."""
    return REVISIONS[-1]


def schema_state(engine: Engine) -> SchemaState:
    """Where ``engine``'s database stands against this version's migrations.

    Raises DatabaseUnavailableError when the database cannot be read (or is not a database).
    """
    head = head_revision()
    try:
        tables = set(inspect(engine).get_table_names())
        if VERSION_TABLE in tables:
            with engine.connect() as connection:
                current = connection.execute(select(_version_table.c.version_num)).scalar()
            known = current is None or current in REVISIONS
            return SchemaState(current=current, head=head, known=known)
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot read the schema: {first_line(exc.orig)}") from exc
    if tables & set(INITIAL_TABLES):
        return SchemaState(current=INITIAL_REVISION, head=head, unversioned=True)
    return SchemaState(current=None, head=head)


def require_readable_schema(engine: Engine, what: str) -> None:
    """Raise SchemaVersionError, saying what to run, when the database has prolific-etl tables
    at another revision than this version's: reading them would fail on a missing column.

    ``what`` is what the caller was about to do ("read the run log"), for the message. An
    empty database passes: the caller says there is nothing yet.
    """
    state = schema_state(engine)
    if not (state.is_empty or state.is_current):
        raise SchemaVersionError(f"cannot {what}: the database schema is at {state.describe()}")


def upgrade(engine: Engine) -> SchemaState:
    """Bring the database to this version's schema in place, keeping its rows.

    Creates the schema in an empty database. Returns the state before the upgrade. Raises
    SchemaVersionError for a database made by a newer version, DatabaseUnavailableError when
    the database refuses the DDL.
    """
    before = schema_state(engine)
    if not before.known:
        raise SchemaVersionError(f"cannot upgrade: the database is at {before.describe()}")
    if before.is_current:
        return before
    with _transactional_ddl(engine) as ddl_engine:
        if before.is_empty:
            _create(ddl_engine)
        else:
            _migrate(ddl_engine, before)
    return before


def _migrate(engine: Engine, before: SchemaState) -> None:
    from alembic import command

    try:
        with engine.begin() as connection:
            drop_views(connection)
        # One transaction for every step: on PostgreSQL and SQLite a failure leaves the database
        # as it was. MySQL/MariaDB commit each DDL statement, so the migrations are written to
        # pick up where a failed one stopped.
        with engine.begin() as connection:
            config = alembic_config(connection)
            if before.unversioned:
                _check_initial_tables(connection)
                command.stamp(config, INITIAL_REVISION)
            command.upgrade(config, "head")
            if connection.dialect.name == "sqlite" and (broken := _broken_key(connection)):
                raise DatabaseUnavailableError(
                    f"cannot upgrade the schema from {before.current}: {broken}; "
                    "fix the cause and run `prolific-etl db upgrade` again"
                )
    except DBAPIError as exc:
        at = before.current or "no schema"
        raise DatabaseUnavailableError(
            f"cannot upgrade the schema from {at}: {first_line(exc.orig)}; "
            "fix the cause and run `prolific-etl db upgrade` again"
        ) from exc
    create_views_or_warn(engine)


def _broken_key(connection: Connection) -> str | None:
    """On SQLite, where migrations run with foreign keys off: a row whose key is broken."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is None:
        return None
    table, rowid, parent, _ = broken
    return f"FOREIGN KEY constraint failed (row {rowid} of {table} refers to no row of {parent})"


@contextmanager
def _transactional_ddl(engine: Engine) -> Iterator[Engine]:
    """``engine``, or on SQLite a second engine on the same file whose DDL is transactional."""
    if engine.dialect.name != "sqlite":
        yield engine
        return
    ddl_engine = connect(engine.url.render_as_string(hide_password=False), transactional_ddl=True)
    try:
        yield ddl_engine
    finally:
        ddl_engine.dispose()


def ensure_schema(engine: Engine, *, auto_migrate: bool = False) -> None:
    """Make sure the database has this version's schema before a run writes to it.

    An empty database gets the schema. An outdated one is upgraded when ``auto_migrate`` is
    set; otherwise SchemaVersionError says what to run. So is one made by a newer version.
    """
    state = schema_state(engine)
    if state.is_empty or (auto_migrate and state.known and not state.is_current):
        upgrade(engine)
    elif not state.is_current:
        raise SchemaVersionError(f"the database schema is at {state.describe()}")
    else:
        _restore_missing_views(engine)


def _restore_missing_views(engine: Engine) -> None:
    # Not every run: that would need DDL rights and, on PostgreSQL, wait for every BI query
    # reading a view to finish. A changed view definition comes with a new version's upgrade.
    try:
        missing = {view.name for view in VIEWS} - set(inspect(engine).get_view_names())
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot read the schema: {first_line(exc.orig)}") from exc
    if missing:
        create_views_or_warn(engine)


def create_views_or_warn(engine: Engine) -> None:
    """(Re)create the reporting views; a failure is logged, never fatal.

    The views are for reading; a database user without CREATE VIEW, or a team's own object
    in the way, must not stop the nightly load.
    """
    try:
        with engine.begin() as connection:
            create_views(connection)
    except DBAPIError as exc:
        log.warning(
            "could not create the reporting views (the tables are loaded all the same): %s",
            first_line(exc.orig),
            extra={"event": "views_not_created"},
        )


# The tables of revision 0001, which prolific-etl 0.1.0 created without a version table.
INITIAL_REVISION = "0001"
INITIAL_TABLES = (
    "etl_runs",
    "batches",
    "batch_last_seen",
    "datasets",
    "batch_datasets",
    "etl_failures",
)


def _check_initial_tables(connection: Connection) -> None:
    missing = set(INITIAL_TABLES) - set(inspect(connection).get_table_names())
    if missing:
        raise SchemaVersionError(
            "the database has some prolific-etl tables but not "
            f"{', '.join(sorted(missing))}, and no schema version; it was not made by "
            "prolific-etl, or only partly: restore it or start from an empty database"
        )


def _create(engine: Engine) -> None:
    """The schema in code, stamped at the newest revision, in one transaction; then the views.

    MySQL/MariaDB commit DDL as it goes: should this fail there part way, the version table
    is already there without a row, which reads as empty, and the next run completes it.
    """
    try:
        with engine.begin() as connection:
            _version_table.create(connection, checkfirst=True)
            metadata.create_all(connection, checkfirst=True)
            connection.execute(_version_table.insert().values(version_num=head_revision()))
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot create the schema: {first_line(exc.orig)}") from exc
    create_views_or_warn(engine)
