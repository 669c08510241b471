"""The schema is defined once in code; sql/ holds the DDL it produces."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from etl.store.migrate import ensure_schema
from etl.store.schema import DIALECTS, ddl, metadata

SQL_DIR = Path(__file__).resolve().parent.parent / "sql" / "schema"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_shipped_ddl_matches_the_schema_in_code(dialect):
    shipped = (SQL_DIR / f"{dialect}.sql").read_text(encoding="utf-8")
    assert shipped == ddl(dialect), (
        f"sql/schema/{dialect}.sql is stale: run "
        f"`prolific-etl db ddl --dialect {dialect} > sql/schema/{dialect}.sql`"
    )


def test_ensure_schema_creates_every_table_and_is_repeatable(database_url):
    engine = create_engine(database_url)
    ensure_schema(engine)
    ensure_schema(engine)
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= set(metadata.tables)
    for table in metadata.tables.values():
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert columns == set(table.columns.keys())
    engine.dispose()


def test_every_table_and_column_has_a_comment():
    for table in metadata.tables.values():
        assert table.comment, table.name
        for column in table.columns:
            assert column.comment, f"{table.name}.{column.name}"
