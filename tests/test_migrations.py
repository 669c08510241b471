"""Schema versions: Alembic migrations create, upgrade in place and refuse what they cannot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from etl.cli import main
from etl.store.db import connect
from etl.store.migrate import (
    INITIAL_TABLES,
    REVISIONS,
    VERSION_TABLE,
    alembic_config,
    ensure_schema,
    head_revision,
    schema_state,
)
from etl.store.schema import metadata
from etl.store.views import VIEWS, drop_views

from support import read_table, upgrade_to

SCHEMA_0_1_0 = Path(__file__).resolve().parent / "data" / "schema-0.1.0"


def stored_revision(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        revisions = list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")))
    engine.dispose()
    return [row[0] for row in revisions]


def db_upgrade(database_url: str):
    return CliRunner().invoke(main, ["db", "upgrade", "--database-url", database_url])


def create_0_1_0_schema(database_url: str) -> None:
    """The tables exactly as prolific-etl 0.1.0 created them (its shipped DDL, frozen)."""
    dialect = make_url(database_url).get_backend_name()
    ddl = (SCHEMA_0_1_0 / f"{dialect}.sql").read_text(encoding="utf-8")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        for statement in ddl.split(";\n"):
            if statement.strip():
                connection.exec_driver_sql(statement)
    engine.dispose()


@contextmanager
def foreign_keys_off(database_url: str) -> Iterator[Connection]:
    """A transaction in which foreign keys are not checked (to plant bad data)."""
    engine = create_engine(database_url)
    off = {
        "sqlite": "PRAGMA foreign_keys = OFF",
        "postgresql": "SET session_replication_role = replica",
        "mysql": "SET FOREIGN_KEY_CHECKS = 0",
    }[engine.dialect.name]
    with engine.begin() as connection:
        connection.exec_driver_sql(off)
        yield connection
    engine.dispose()


def copy_rows(source_url: str, target_url: str, tables: tuple[str, ...]) -> None:
    """Copy the rows of ``tables`` (in foreign-key order) from one database to another."""
    source, target = create_engine(source_url), create_engine(target_url)
    with source.connect() as reading, target.begin() as writing:
        for name in tables:
            table = metadata.tables[name]
            present = {column["name"] for column in inspect(writing).get_columns(name)}
            columns = [column for column in table.columns if column.name in present]
            rows = [row._asdict() for row in reading.execute(select(*columns))]
            # The table as the target's (older) revision has it, with our column types.
            as_it_was = Table(name, MetaData(), *[column._copy() for column in columns])
            if rows:
                writing.execute(insert(as_it_was), rows)
            if writing.dialect.name == "postgresql" and table.autoincrement_column is not None:
                # explicit ids do not move a serial's sequence; the next run must not reuse one
                key = table.autoincrement_column.name
                writing.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', '{key}'), "
                    f"(SELECT COALESCE(MAX({key}), 0) + 1 FROM {name}), false)"
                )
    source.dispose()
    target.dispose()


def read_as(before: dict, database_url: str, name: str) -> list[dict]:
    """Table ``name`` now, in the columns it had in ``before`` (newer revisions add some)."""
    columns = set(before[name][0]) if before[name] else set()
    return [
        {key: value for key, value in row.items() if key in columns}
        for row in read_table(database_url, name)
    ]


def test_migrations_build_exactly_the_schema_in_code(database_url):
    upgrade_to(database_url, "head")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
    assert stored_revision(database_url) == [head_revision()]


def test_a_new_database_is_stamped_where_alembic_says_the_head_is(database_url):
    ensure_schema(connect(database_url))

    scripts = ScriptDirectory.from_config(alembic_config())
    assert REVISIONS == tuple(
        script.revision for script in reversed(list(scripts.walk_revisions()))
    )
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert context.get_current_revision() == scripts.get_current_head() == head_revision()
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_from_the_initial_revision_keeps_every_row(
    database_url, run_sync, ids_file, tmp_path
):
    # A database made by the initial migration, filled with what a sync wrote...
    filled_url = f"sqlite:///{tmp_path / 'filled.db'}"
    assert run_sync(filled_url, ids_file).exit_code == 0
    upgrade_to(database_url, "0001")
    assert schema_state(create_engine(database_url)).current == "0001"
    copy_rows(filled_url, database_url, INITIAL_TABLES)
    before = {name: read_table(database_url, name) for name in INITIAL_TABLES}
    assert len(before["batches"]) == 12

    result = db_upgrade(database_url)

    assert result.exit_code == 0, result.output
    assert f"upgraded from revision 0001 to {head_revision()}" in result.stdout
    assert {name: read_as(before, database_url, name) for name in INITIAL_TABLES} == before
    views = set(inspect(create_engine(database_url)).get_view_names())
    assert views >= {view.name for view in VIEWS}
    assert stored_revision(database_url) == [head_revision()]
    # ...and the new history table starts with each batch's status as of its last change.
    history = read_table(database_url, "batch_status_history")
    assert sorted(
        (h["batch_id"], h["old_status"], h["new_status"], h["observed_at"], h["run_id"])
        for h in history
    ) == sorted(
        (b["batch_id"], None, b["status"], b["last_changed_at"], b["last_changed_run_id"])
        for b in before["batches"]
    )

    again = db_upgrade(database_url)

    assert again.exit_code == 0, again.output
    assert f"already at revision {head_revision()}; nothing to do" in again.stdout
    assert read_table(database_url, "batch_status_history") == history
    assert {name: read_as(before, database_url, name) for name in INITIAL_TABLES} == before


def test_sync_refuses_an_outdated_schema_and_says_what_to_run(database_url, run_sync, ids_file):
    upgrade_to(database_url, "0001")

    result = run_sync(database_url, ids_file)

    assert result.exit_code == 2
    assert f"revision 0001, but this version needs {head_revision()}" in result.stderr
    assert "prolific-etl db upgrade" in result.stderr
    assert read_table(database_url, "etl_runs") == []
    assert "batch_status_history" not in inspect(create_engine(database_url)).get_table_names()


def test_sync_with_auto_migrate_upgrades_then_loads(database_url, run_sync, ids_file, batches):
    upgrade_to(database_url, "0001")

    result = run_sync(database_url, ids_file, "--auto-migrate")

    assert result.exit_code == 0, result.output
    assert stored_revision(database_url) == [head_revision()]
    history = read_table(database_url, "batch_status_history")
    assert sorted((h["batch_id"], h["old_status"], h["new_status"]) for h in history) == sorted(
        (b["id"], None, b["status"]) for b in batches
    )


def test_a_database_made_by_0_1_0_is_stamped_and_upgraded_keeping_its_rows(
    database_url, run_sync, ids_file, tmp_path
):
    # prolific-etl 0.1.0 created its tables from its own DDL, without a version table.
    create_0_1_0_schema(database_url)
    filled_url = f"sqlite:///{tmp_path / 'filled.db'}"
    assert run_sync(filled_url, ids_file).exit_code == 0
    copy_rows(filled_url, database_url, INITIAL_TABLES)
    before = {name: read_table(database_url, name) for name in INITIAL_TABLES}
    assert schema_state(create_engine(database_url)).unversioned

    refused = run_sync(database_url, ids_file)
    assert refused.exit_code == 2
    assert "made before schema versions were recorded" in refused.stderr

    result = db_upgrade(database_url)

    assert result.exit_code == 0, result.output
    assert stored_revision(database_url) == [head_revision()]
    assert {name: read_as(before, database_url, name) for name in INITIAL_TABLES} == before
    assert len(read_table(database_url, "batch_status_history")) == len(before["batches"])
    rerun = run_sync(database_url, ids_file)
    assert rerun.exit_code == 0, rerun.output


def test_a_failed_upgrade_can_be_run_again(database_url, run_sync, ids_file, tmp_path):
    filled_url = f"sqlite:///{tmp_path / 'filled.db'}"
    assert run_sync(filled_url, ids_file).exit_code == 0
    upgrade_to(database_url, "0001")
    copy_rows(filled_url, database_url, INITIAL_TABLES)
    # A batch whose last run is gone: the history backfill cannot refer to it, so the
    # upgrade fails after its CREATE TABLE.
    orphan = read_table(database_url, "batches")[0]["batch_id"]
    with foreign_keys_off(database_url) as connection:
        connection.execute(
            text("UPDATE batches SET last_changed_run_id = 999 WHERE batch_id = :id"),
            {"id": orphan},
        )

    failed = db_upgrade(database_url)

    assert failed.exit_code == 3
    assert "cannot upgrade the schema from 0001" in failed.stderr
    assert "run `prolific-etl db upgrade` again" in failed.stderr
    assert stored_revision(database_url) == ["0001"]
    assert read_table(database_url, "etl_runs")  # the data is all there
    tables = set(inspect(create_engine(database_url)).get_table_names())
    if make_url(database_url).get_backend_name() == "mysql":
        assert "batch_status_history" in tables  # MySQL commits DDL statement by statement
    else:
        assert "batch_status_history" not in tables  # one transaction: nothing was left

    with foreign_keys_off(database_url) as connection:
        connection.execute(
            text("UPDATE batches SET last_changed_run_id = 1 WHERE batch_id = :id"),
            {"id": orphan},
        )
    again = db_upgrade(database_url)

    assert again.exit_code == 0, again.output
    assert stored_revision(database_url) == [head_revision()]
    history = read_table(database_url, "batch_status_history")
    assert sorted(row["batch_id"] for row in history) == sorted(
        row["batch_id"] for row in read_table(database_url, "batches")
    )
    views = set(inspect(create_engine(database_url)).get_view_names())
    assert views >= {view.name for view in VIEWS}


def test_a_database_from_a_newer_version_is_left_alone(database_url, run_sync, ids_file):
    upgrade_to(database_url, "head")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()

    synced = run_sync(database_url, ids_file, "--auto-migrate")
    upgraded = db_upgrade(database_url)

    for result in (synced, upgraded):
        assert result.exit_code == 2
        assert "revision 9999, which this version of prolific-etl does not know" in result.stderr
    assert stored_revision(database_url) == ["9999"]
    assert read_table(database_url, "etl_runs") == []


def test_partial_tables_without_a_version_are_not_mistaken_for_ours(database_url):
    engine = create_engine(database_url)
    scratch = MetaData()
    Table("batches", scratch, Column("batch_id", String(36), primary_key=True))
    scratch.create_all(engine)
    engine.dispose()

    result = db_upgrade(database_url)

    assert result.exit_code == 2
    assert "has some prolific-etl tables but not" in result.stderr


@pytest.mark.parametrize("revision", ["0001", "head"])
def test_every_migration_can_be_undone(database_url, revision):
    if revision == "head":
        ensure_schema(connect(database_url))  # with the views, which read the tables
    else:
        upgrade_to(database_url, revision)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    engine.dispose()


def test_views_that_cannot_be_created_do_not_stop_the_load(
    database_url, api, run_sync, ids_file, batches
):
    assert run_sync(database_url, ids_file).exit_code == 0
    # A team's own table where a view of ours should be: creating the views fails.
    engine = create_engine(database_url)
    with engine.begin() as connection:
        drop_views(connection)
        connection.exec_driver_sql("CREATE TABLE v_run_health (note VARCHAR(20))")
    engine.dispose()
    api.put_batch({**batches[0], "name": "renamed upstream"})

    result = run_sync(database_url, ids_file)

    assert result.exit_code == 0, result.output
    assert "could not create the reporting views (the tables are loaded all the same)" in (
        result.stderr
    )
    assert "renamed upstream" in {row["name"] for row in read_table(database_url, "batches")}
    assert [run["status"] for run in read_table(database_url, "etl_runs")] == [
        "succeeded",
        "succeeded",
    ]
