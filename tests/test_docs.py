"""The data dictionary is generated from the code, complete, and its ER diagram is right."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from etl.cli import main
from etl.reporting.docs import data_dictionary, readable_type
from etl.store.schema import TABLES
from etl.store.views import VIEWS, views_sql

ROOT = Path(__file__).resolve().parent.parent
DICTIONARY = ROOT / "docs" / "data-dictionary.md"


def test_committed_dictionary_matches_the_code():
    assert DICTIONARY.read_text(encoding="utf-8") == data_dictionary(), (
        "docs/data-dictionary.md is stale: run "
        "`prolific-etl db docs --output docs/data-dictionary.md`"
    )


def test_every_table_and_column_is_described_with_a_readable_type():
    for table in TABLES:
        assert table.comment, table.name
        for column in table.columns:
            assert column.comment and column.comment.strip(), f"{table.name}.{column.name}"
            assert readable_type(column.type), f"{table.name}.{column.name}"


def test_every_view_and_column_is_described_with_a_readable_type():
    for view in VIEWS:
        assert view.description.strip(), view.name
        assert list(view.columns) == [c.name for c in view.query.selected_columns], view.name
        for selected in view.query.selected_columns:
            assert view.columns[selected.name].strip(), f"{view.name}.{selected.name}"
            assert readable_type(selected.type), f"{view.name}.{selected.name}"


def section(text: str, name: str) -> str:
    start = text.index(f"### `{name}`\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_table_and_view_column_has_a_row_in_the_dictionary():
    text = data_dictionary()
    for thing, columns in [(t.name, t.columns.keys()) for t in TABLES] + [
        (v.name, v.columns) for v in VIEWS
    ]:
        rows = re.findall(r"^\| `(\w+)` \|", section(text, thing), re.MULTILINE)
        assert rows == list(columns), thing


def parse_erd(text: str) -> tuple[dict[str, list[str]], set[tuple[str, str, str]]]:
    """The entities (with their column names) and relationships of the Mermaid diagram."""
    diagram = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    entities = {
        name: re.findall(r"^\s+\w+ (\w+)", body, re.MULTILINE)
        for name, body in re.findall(r"^    (\w+) \{\n(.*?)^    \}", diagram, re.M | re.S)
    }
    relationships = set(
        re.findall(r'^    (\w+) [|o]{2}--[|o{]{2} (\w+) : "([\w, ]+)"$', diagram, re.MULTILINE)
    )
    return entities, relationships


def test_erd_lists_every_table_and_every_foreign_key():
    entities, relationships = parse_erd(data_dictionary())

    assert entities == {table.name: list(table.columns.keys()) for table in TABLES}
    assert relationships == {
        (
            fk.referred_table.name,
            table.name,
            ", ".join(column.name for column in fk.columns),
        )
        for table in TABLES
        for fk in table.foreign_key_constraints
    }
    assert len(relationships) == sum(len(table.foreign_key_constraints) for table in TABLES) == 34


def test_db_docs_command_prints_or_writes_the_dictionary(tmp_path):
    printed = CliRunner().invoke(main, ["db", "docs"])
    written = CliRunner().invoke(main, ["db", "docs", "--output", str(tmp_path / "dd.md")])

    assert (printed.exit_code, written.exit_code) == (0, 0)
    assert printed.output == data_dictionary()
    assert (tmp_path / "dd.md").read_text(encoding="utf-8") == data_dictionary()


def test_db_views_command_prints_the_views_for_a_dialect():
    result = CliRunner().invoke(main, ["db", "views", "--dialect", "postgresql"])

    assert result.exit_code == 0
    assert result.output == views_sql("postgresql")


def commands(group: click.Group, path: tuple[str, ...] = ()):
    """Every command of the CLI, as (path, command)."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def test_every_command_and_option_is_documented():
    docs = "\n".join(
        path.read_text(encoding="utf-8")
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    )
    for path, command in commands(main):
        assert f"prolific-etl {' '.join(path)}" in docs, f"command {' '.join(path)}"
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                longest = max(parameter.opts, key=len)
                assert f"{longest}" in docs, f"{' '.join(path)} {longest}"


# Issue 15: `db docs` printed `&lt;stdin>` (escaped for Markdown, unreadable printed).
def test_db_docs_shows_angled_words_as_code_printed_and_rendered():
    printed = CliRunner().invoke(main, ["db", "docs"]).output
    row = next(
        line for line in printed.splitlines() if line.startswith("| `id_source` | text | yes")
    )

    assert "the ID file (`<stdin>` for standard input)" in row
    assert "&lt;" not in printed and "&gt;" not in printed


# Issue 15: --dialect refused mariadb (which DATABASE_URL takes) and had no help text.
@pytest.mark.parametrize("command", ["ddl", "views"])
def test_db_ddl_and_views_take_mariadb_as_mysql_and_say_what_dialect_is(command):
    mariadb = CliRunner().invoke(main, ["db", command, "--dialect", "mariadb"])
    mysql = CliRunner().invoke(main, ["db", command, "--dialect", "mysql"])
    shown = CliRunner().invoke(main, ["db", command, "--help"]).output

    assert mariadb.exit_code == 0, mariadb.output
    assert mariadb.output == mysql.output
    assert "[sqlite|postgresql|mysql|mariadb]" in shown
    assert "mariadb is the same as mysql." in " ".join(shown.split())


def placeholders(text: str) -> set[str]:
    """Words in capitals that stand for a value (FILE, RUN_ID, N), not acronyms of the text."""
    words = set(re.findall(r"\b[A-Z][A-Z_]{0,}[A-Z]\b|\bN\b", text))
    acronyms = {"API", "UUID", "ID", "HTML", "JSON", "CSV", "SQL", "UTC", "URL", "ER", "GET"}
    return words - acronyms - {"CREATE", "DROP", "VIEW"}  # and SQL's words


# Issue 15: `sync --help` spoke of FILE as if it took one as an argument (it takes --ids FILE;
# fixed with issue 13). A placeholder in a command's description is one of its arguments (or
# its subcommands'), or follows the option that takes it.
def test_every_placeholder_a_command_s_help_names_is_one_of_its_arguments():
    for path, command in commands(main):
        described = re.sub(r"--[a-z-]+ [A-Z_]+", "", inspect.cleandoc(command.help or ""))
        subcommands = getattr(command, "commands", {}).values()
        arguments = {
            parameter.name.upper()
            for each in (command, *subcommands)
            for parameter in each.params
            if isinstance(parameter, click.Argument)
        }
        assert placeholders(described) <= arguments, (" ".join(path), described)


# Issue 23, item 13: the README's Python example imported etl.export (it is etl.reporting.export).
def test_every_python_name_the_docs_give_exists():
    import importlib

    root = Path(__file__).resolve().parent.parent
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    # prolific-etl.service, prolific-etl.timer, report-etl.html: file names, not modules.
    names = {
        match.group(1)
        for path in texts
        for match in re.finditer(r"(?<![-\w])(etl(?:\.[a-z_]+)+)", path.read_text(encoding="utf-8"))
        if not match.group(1).endswith((".service", ".timer", ".html"))
    }
    assert "etl.reporting.export.export_relation" in names
    missing = []
    for name in sorted(names):
        module, _, attribute = name.rpartition(".")
        try:
            importlib.import_module(name)
        except ImportError:
            try:
                getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError):
                missing.append(name)
    assert missing == []
