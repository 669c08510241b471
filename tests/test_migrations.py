"""Schema versions: Alembic migrations create, upgrade in place and refuse what they cannot."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
    text,
)

from etl.cli import main
from etl.migrate import (
    INITIAL_TABLES,
    VERSION_TABLE,
    alembic_config,
    ensure_schema,
    head_revision,
    schema_state,
)
from etl.schema import metadata
from etl.views import VIEWS

from support import read_table, upgrade_to


def stored_revision(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        revisions = list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")))
    engine.dispose()
    return [row[0] for row in revisions]


def db_upgrade(database_url: str):
    return CliRunner().invoke(main, ["db", "upgrade", "--database-url", database_url])


def copy_rows(source_url: str, target_url: str, tables: tuple[str, ...]) -> None:
    """Copy the rows of ``tables`` (in foreign-key order) from one database to another."""
    source, target = create_engine(source_url), create_engine(target_url)
    with source.connect() as reading, target.begin() as writing:
        for name in tables:
            table = metadata.tables[name]
            rows = [row._asdict() for row in reading.execute(select(table))]
            if rows:
                writing.execute(insert(table), rows)
    source.dispose()
    target.dispose()


def test_migrations_build_exactly_the_schema_in_code(database_url):
    engine = create_engine(database_url)
    ensure_schema(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
    assert stored_revision(database_url) == [head_revision()]


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
    assert "upgraded from revision 0001 to 0002" in result.stdout
    assert {name: read_table(database_url, name) for name in INITIAL_TABLES} == before
    views = set(inspect(create_engine(database_url)).get_view_names())
    assert views >= {view.name for view in VIEWS}
    assert stored_revision(database_url) == ["0002"]
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
    assert "already at revision 0002; nothing to do" in again.stdout
    assert read_table(database_url, "batch_status_history") == history
    assert {name: read_table(database_url, name) for name in INITIAL_TABLES} == before


def test_sync_refuses_an_outdated_schema_and_says_what_to_run(database_url, run_sync, ids_file):
    upgrade_to(database_url, "0001")

    result = run_sync(database_url, ids_file)

    assert result.exit_code == 2
    assert "revision 0001, but this version needs 0002" in result.stderr
    assert "prolific-etl db upgrade" in result.stderr
    assert read_table(database_url, "etl_runs") == []
    assert "batch_status_history" not in inspect(create_engine(database_url)).get_table_names()


def test_sync_with_auto_migrate_upgrades_then_loads(database_url, run_sync, ids_file, batches):
    upgrade_to(database_url, "0001")

    result = run_sync(database_url, ids_file, "--auto-migrate")

    assert result.exit_code == 0, result.output
    assert stored_revision(database_url) == ["0002"]
    history = read_table(database_url, "batch_status_history")
    assert sorted((h["batch_id"], h["old_status"], h["new_status"]) for h in history) == sorted(
        (b["id"], None, b["status"]) for b in batches
    )


def test_a_database_from_before_schema_versions_is_stamped_and_upgraded(
    database_url, run_sync, ids_file
):
    # prolific-etl 0.1.0 created the initial tables without a version table.
    upgrade_to(database_url, "0001")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    engine.dispose()
    assert schema_state(create_engine(database_url)).unversioned

    refused = run_sync(database_url, ids_file)
    assert refused.exit_code == 2
    assert "made before schema versions were recorded" in refused.stderr

    result = db_upgrade(database_url)

    assert result.exit_code == 0, result.output
    assert stored_revision(database_url) == ["0002"]
    assert run_sync(database_url, ids_file).exit_code == 0


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
    upgrade_to(database_url, revision)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    engine.dispose()
