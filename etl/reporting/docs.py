"""The data dictionary, ``docs/data-dictionary.md``, generated from the schema and the views.

Regenerate it with ``prolific-etl db docs --output docs/data-dictionary.md``; a test fails
when the committed file differs from what this module produces.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from ..store.schema import TABLES, UTCDateTime
from ..store.views import VIEWS, View

HEADER = """\
# Data dictionary

Generated from `etl/store/schema.py` and `etl/store/views.py` by
`prolific-etl db docs --output docs/data-dictionary.md`; do not edit by hand.

Timestamps are UTC everywhere (PostgreSQL `timestamptz`; SQLite and MySQL/MariaDB store UTC
wall time). The views are for reading: BI tools and the example queries (`sql/queries/`,
`prolific-etl db queries`) use them; the job writes only the tables. One more table,
`etl_schema_version` (Alembic's), holds the schema revision the database is at;
`prolific-etl db upgrade` moves it forward.
"""


def data_dictionary() -> str:
    """The whole data dictionary as Markdown."""
    parts = [HEADER, _contents(), _diagram(), "## Tables\n"]
    parts += [_table_section(table) for table in TABLES]
    parts.append("## Views\n")
    parts += [_view_section(view) for view in VIEWS]
    return "\n".join(parts)


def readable_type(type_: TypeEngine) -> str:
    """A column type as a reader would name it, the same for every dialect."""
    if isinstance(type_, UTCDateTime):
        return "timestamp (UTC)"
    if isinstance(type_, JSON):
        return "json"
    if isinstance(type_, Date):
        return "date"
    if isinstance(type_, Boolean):
        return "boolean"
    if isinstance(type_, BigInteger):
        return "bigint"
    if isinstance(type_, Integer):
        return "integer"
    if isinstance(type_, Float):
        return "double"
    if isinstance(type_, Text):
        return "text"
    if isinstance(type_, String):
        return f"varchar({type_.length})" if type_.length else "text"
    raise ValueError(f"no readable name for column type {type_!r}")


def mermaid_type(type_: TypeEngine) -> str:
    """The type as one word, as Mermaid's erDiagram wants it."""
    return readable_type(type_).split(" ")[0].split("(")[0]


def _cell(text: str) -> str:
    """Text for a table cell: one line, its pipes escaped, and ``<stdin>``-like words as code
    (Markdown would take them for HTML tags), so that the text reads the same printed."""
    text = _ANGLED.sub(lambda match: f"`{match.group()}`", text)
    return text.replace("|", "\\|").replace("\n", " ")


_ANGLED = re.compile(r"(?<!`)<[^<>\s`|]+>(?!`)")


def _contents() -> str:
    lines = ["## Contents\n", "| table or view | what it holds |", "| --- | --- |"]
    lines += [f"| [`{t.name}`](#{t.name}) | {_cell(t.comment)} |" for t in TABLES]
    lines += [f"| [`{v.name}`](#{v.name}) | {_cell(v.description)} |" for v in VIEWS]
    return "\n".join(lines) + "\n"


def _keys(column: Column) -> list[str]:
    keys = ["PK"] if column.primary_key else []
    keys += [f"FK → `{fk.column.table.name}.{fk.column.name}`" for fk in column.foreign_keys]
    return keys


def _table_section(table: Table) -> str:
    lines = [
        f"### `{table.name}`\n",
        f"{table.comment}\n",
        "| column | type | null | key | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for column in table.columns:
        lines.append(
            f"| `{column.name}` | {readable_type(column.type)} | "
            f"{'yes' if column.nullable else 'no'} | {', '.join(_keys(column))} | "
            f"{_cell(column.comment or '')} |"
        )
    indexes = sorted(table.indexes, key=lambda index: index.name)
    if indexes:
        described = ", ".join(
            f"`{index.name}` ({', '.join(c.name for c in index.columns)})" for index in indexes
        )
        lines.append(f"\nIndexes: {described}.")
    return "\n".join(lines) + "\n"


def _view_section(view: View) -> str:
    reads = ", ".join(f"`{name}`" for name in view.reads)
    lines = [
        f"### `{view.name}`\n",
        f"{view.description}\n",
        f"Reads: {reads}.\n",
        "| column | type | description |",
        "| --- | --- | --- |",
    ]
    for selected in view.query.selected_columns:
        lines.append(
            f"| `{selected.name}` | {readable_type(selected.type)} | "
            f"{_cell(view.columns[selected.name])} |"
        )
    return "\n".join(lines) + "\n"


def _diagram() -> str:
    lines = ["## Entity-relationship diagram\n", "```mermaid", "erDiagram"]
    for table in TABLES:
        lines.append(f"    {table.name} {{")
        for column in table.columns:
            keys = ", ".join(k.split(" ")[0] for k in _keys(column))
            lines.append(
                f"        {mermaid_type(column.type)} {column.name}" + (f" {keys}" if keys else "")
            )
        lines.append("    }")
    for table in TABLES:
        primary_key = {c.name for c in table.primary_key.columns}
        for constraint in sorted(table.foreign_key_constraints, key=_constraint_order):
            columns = [c.name for c in constraint.columns]
            parent_side = "|o" if any(c.nullable for c in constraint.columns) else "||"
            child_side = "o|" if set(columns) == primary_key else "o{"
            lines.append(
                f"    {constraint.referred_table.name} {parent_side}--{child_side} {table.name}"
                f' : "{", ".join(columns)}"'
            )
    lines.append("```")
    return "\n".join(lines) + "\n"


def _constraint_order(constraint) -> tuple[str, ...]:
    return tuple(c.name for c in constraint.columns)
