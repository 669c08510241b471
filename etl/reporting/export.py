"""One table or view of the database, written to CSV, JSON Lines or Parquet for BI tools.

Rows are read a chunk at a time through the relation's SQLAlchemy types, so memory stays flat
however big the table, and each value keeps its type: timestamps are UTC (ISO 8601 with
``+00:00`` and microseconds in CSV and JSON Lines, ``timestamp[us, tz=UTC]`` in Parquet, which
also holds years 1 and 9999), integers stay integers next to NULLs, text is written as stored.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any

from sqlalchemy import JSON, Engine, MetaData, Table, TableClause, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine

from ..errors import ConfigError, DatabaseUnavailableError, UnknownRelationError
from ..store.db import connect_existing, first_line
from ..store.migrate import require_readable_schema
from ..store.schema import metadata
from ..store.views import VIEWS_BY_NAME
from ..text import redact_url

FORMATS = ("csv", "jsonl", "parquet")
DEFAULT_CHUNK_SIZE = 10_000
_FORMAT_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

Row = Sequence[Any]


def format_for(path: str | os.PathLike | None, requested: str | None = None) -> str:
    """The format to write ``path`` in: ``requested`` (--format), else the one its extension
    names, else CSV for a file without an extension (and for standard output, None).

    Raises ConfigError when the extension names another format than ``requested``, or one
    this cannot write (``out.xlsx``) and no format was requested: a spreadsheet program would
    be handed CSV under a name that promises something else.
    """
    suffix = Path(path).suffix.lower() if path is not None else ""
    named = _FORMAT_BY_SUFFIX.get(suffix)
    if named is not None and requested not in (None, named):
        raise ConfigError(
            f"--format {requested} but {path} names {named} by its extension: drop --format "
            f"or give the file a .{requested} name"
        )
    if requested is not None:
        return requested
    if suffix and named is None:
        raise ConfigError(
            f"cannot tell a format from {path}: name it .csv, .jsonl or .parquet, or give "
            "--format (export writes CSV, JSON Lines or Parquet, nothing else)"
        )
    return named or "csv"


def open_database(database_url: str) -> Engine:
    """An engine on an existing database; unlike ``connect``, a missing SQLite file is an error
    instead of a new empty database.

    Raises DatabaseUnavailableError when the database is missing or unreachable,
    SchemaVersionError when its schema is not this version's (columns would not match).
    """
    engine = connect_existing(database_url)
    if engine is None:
        raise DatabaseUnavailableError(f"no SQLite database at {redact_url(database_url)}")
    try:
        require_readable_schema(engine, "export")
    except BaseException:
        engine.dispose()
        raise
    return engine


def relation_names(engine: Engine) -> tuple[list[str], list[str]]:
    """The tables and the views of the database (its default schema), each sorted."""
    inspector = inspect(engine)
    return sorted(inspector.get_table_names()), sorted(inspector.get_view_names())


def export_relation(
    engine: Engine,
    name: str,
    fmt: str,
    out: str | os.PathLike | IO[bytes],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Write table or view ``name`` to ``out`` (a path, or a binary stream) as ``fmt``, ordered by
    its primary key (a view: by all its columns). Returns the number of rows written.

    A file appears only once it is complete: it is written beside its final name and renamed.
    Only regular files are written: a path naming a directory, device, FIFO or socket is refused
    (renaming over it would replace it). Raises UnknownRelationError when the database has no
    such table or view, ConfigError for a bad format or an unwritable or unsuitable path,
    DatabaseUnavailableError when reading fails.
    """
    if isinstance(out, (str, os.PathLike)):
        _check_output_path(os.fspath(out))
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {chunk_size}")
    writer_class = _WRITERS[fmt]
    if fmt == "parquet":
        _require_pyarrow()
    table = _relation(engine, name)
    declared = [(column.name, _kind(column.type)) for column in table.columns]
    order = list(table.primary_key) or list(table.columns)
    statement = select(table).order_by(*order)

    def write(stream: IO[bytes]) -> int:
        written, writer, columns = 0, None, []
        try:
            with engine.connect() as connection:
                result = connection.execution_options(yield_per=chunk_size).execute(statement)
                for partition in result.partitions():
                    if writer is None:
                        columns = _settle(declared, partition)
                        writer = writer_class(stream, columns)
                    writer.write([_normalize_row(columns, row) for row in partition])
                    written += len(partition)
        except DBAPIError as exc:
            raise DatabaseUnavailableError(f"cannot read {name}: {first_line(exc.orig)}") from exc
        if writer is None:
            writer = writer_class(stream, _settle(declared, []))
        writer.close()
        return written

    if isinstance(out, (str, os.PathLike)):
        return _write_whole_file(Path(out), write)
    return write(out)


def _relation(engine: Engine, name: str) -> TableClause:
    """What to select from: our tables and views with their types (UTC timestamps included),
    anything else reflected from the database."""
    try:
        tables, views = relation_names(engine)
        if name not in tables and name not in views:
            raise UnknownRelationError(
                f"the database has no table or view named {name!r}; "
                f"tables: {', '.join(tables) or 'none'}; views: {', '.join(views) or 'none'}"
            )
        if name in tables and name in metadata.tables:
            return metadata.tables[name]
        if name in views and name in VIEWS_BY_NAME:
            return VIEWS_BY_NAME[name].table  # typed by its query, which SQLite cannot tell
        return Table(name, MetaData(), autoload_with=engine)
    except DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot read {name}: {first_line(exc.orig)}") from exc


_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
)


def _check_output_path(path: str) -> None:
    """Refuse a path that is not a new or an existing regular file (symlinks followed)."""
    if not path:
        raise ConfigError("the output path is empty: name a file")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if path.endswith(os.sep):
            raise ConfigError(f"cannot write {path}: it names a directory, not a file") from None
        return  # a new file (or a dangling symlink, replaced as it is today)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "special file")
        raise ConfigError(
            f"cannot write {path}: it is a {kind}, not a regular file; "
            "export writes regular files only ('-' for standard output)"
        )


def _write_whole_file(path: Path, write: Callable[[IO[bytes]], int]) -> int:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        stream = open(partial, "wb")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with stream:
            written = write(stream)
        try:
            os.replace(partial, path)
        except OSError as exc:  # a directory of that name, say
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


# --- column types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # int, bool, float, timestamp, date, json or text


def _kind(sql_type: TypeEngine) -> str | None:
    """What a column holds, from the Python type its SQLAlchemy type returns (Numeric: exact
    text); None when it has no type, as expression columns of SQLite views."""
    while isinstance(sql_type, TypeDecorator):  # e.g. UTCDateTime, whose python_type is object
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, NullType):
        return None
    if isinstance(sql_type, JSON):
        return "json"
    try:
        return _kind_of(sql_type.python_type)
    except NotImplementedError:
        return "text"


def _kind_of(python_type: type) -> str:
    for kind, candidate in (
        ("bool", bool),
        ("int", int),
        ("float", float),
        ("timestamp", datetime),
        ("date", date),
    ):
        if issubclass(python_type, candidate):
            return kind
    return "text"


def _settle(declared: Sequence[tuple[str, str | None]], rows: Sequence[Row]) -> list[_Column]:
    """The columns' kinds, those without a type taking the kind of their first value in the
    first chunk (so that a view's COUNT(*) stays an integer on SQLite); text if all are NULL."""
    columns = []
    for index, (name, kind) in enumerate(declared):
        if kind is None:
            first = next((row[index] for row in rows if row[index] is not None), None)
            kind = _kind_of(type(first))
        columns.append(_Column(name, kind))
    return columns


def _utc(value: datetime) -> datetime:
    # SQLite and MySQL keep UTC wall time without a zone (see etl/store/schema.py: UTCDateTime).
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _text(value: Any) -> str:
    return value.hex() if isinstance(value, (bytes, bytearray, memoryview)) else str(value)


_NORMALIZE: dict[str, Callable[[Any], Any]] = {
    "bool": bool,
    "int": int,
    "float": float,
    "timestamp": _utc,
    "date": lambda value: value,
    "json": lambda value: value,
    "text": _text,
}


def _json_text(value: Any) -> str | None:
    """A JSON column's value as JSON text, for formats without nested values (CSV, Parquet)."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _normalize_row(columns: Sequence[_Column], row: Row) -> tuple:
    return tuple(
        None if value is None else _NORMALIZE[column.kind](value)
        for column, value in zip(columns, row, strict=True)
    )


def _transpose(rows: list[tuple], width: int) -> list[tuple]:
    """Rows to columns."""
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value.isoformat()


# --- writers: write(rows) once per chunk, then close() -----------------------------------------


class _CsvWriter:
    """A header line, then one line per row; NULL is an empty field, timestamps ISO 8601."""

    _DTYPES = {"int": "Int64", "bool": "boolean", "float": "Float64"}

    def __init__(self, out: IO[bytes], columns: Sequence[_Column]) -> None:
        import pandas as pd  # here, so that importing this module (the CLI does) stays cheap

        self._pd = pd
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self._columns = columns
        self._header = True

    def write(self, rows: list[tuple]) -> None:
        values = _transpose(rows, len(self._columns))
        frame = self._pd.DataFrame(
            {
                column.name: self._series(column, column_values)
                for column, column_values in zip(self._columns, values, strict=True)
            }
        )
        frame.to_csv(self._text, header=self._header, index=False, lineterminator="\n")
        self._header = False

    def _series(self, column: _Column, values: Sequence[Any]):
        if column.kind in ("timestamp", "date"):
            return self._pd.Series([_iso(value) for value in values], dtype=object)
        if column.kind == "json":
            return self._pd.Series([_json_text(value) for value in values], dtype=object)
        return self._pd.Series(values, dtype=self._DTYPES.get(column.kind, object))

    def close(self) -> None:
        if self._header:  # an empty relation still gets its header line
            self.write([])
        self._text.flush()
        self._text.detach()  # leave the caller's stream open


class _JsonLinesWriter:
    """One JSON object per line, keys in column order; NULL is null, timestamps ISO 8601."""

    def __init__(self, out: IO[bytes], columns: Sequence[_Column]) -> None:
        self._out = out
        self._names = [column.name for column in columns]
        self._is_time = [column.kind in ("timestamp", "date") for column in columns]

    def write(self, rows: list[tuple]) -> None:
        lines = []
        for row in rows:
            record = {
                name: _iso(value) if is_time else value
                for name, value, is_time in zip(self._names, row, self._is_time, strict=True)
            }
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        self._out.write("".join(lines).encode("utf-8"))

    def close(self) -> None:
        self._out.flush()


class _ParquetWriter:
    """One row group per chunk, all under the schema that the column types give."""

    def __init__(self, out: IO[bytes], columns: Sequence[_Column]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow_types = {
            "int": pa.int64(),
            "bool": pa.bool_(),
            "float": pa.float64(),
            "timestamp": pa.timestamp("us", tz="UTC"),
            "date": pa.date32(),
            "json": pa.string(),  # JSON text: Parquet readers agree on no JSON type
            "text": pa.string(),
        }
        self._pa = pa
        self._kinds = [column.kind for column in columns]
        self._schema = pa.schema([(column.name, arrow_types[column.kind]) for column in columns])
        self._writer = pq.ParquetWriter(out, self._schema)

    def write(self, rows: list[tuple]) -> None:
        pa = self._pa
        values = _transpose(rows, len(self._schema))
        arrays = [
            pa.array(
                [_json_text(v) for v in column_values] if kind == "json" else column_values,
                type=field.type,
            )
            for field, column_values, kind in zip(self._schema, values, self._kinds, strict=True)
        ]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        self._writer.write_table(table, row_group_size=len(rows))

    def close(self) -> None:
        self._writer.close()


_WRITERS = {"csv": _CsvWriter, "jsonl": _JsonLinesWriter, "parquet": _ParquetWriter}


def _require_pyarrow() -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ConfigError("Parquet needs pyarrow: pip install 'prolific-etl[parquet]'") from None
