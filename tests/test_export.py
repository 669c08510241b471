"""``prolific-etl export``: a table or view to CSV, JSON Lines or Parquet, read back exactly."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, select, text

from etl.cli import main
from etl.imitation.server import sample_batches
from etl.reporting.export import export_relation
from etl.store.db import connect
from etl.store.migrate import ensure_schema
from etl.store.schema import UTCDateTime, metadata
from etl.store.views import VIEWS

from support import read_table

FORMATS = ("csv", "jsonl", "parquet")
EXPORTED = ("batches", "datasets", "etl_runs", "etl_failures")
UNKNOWN_BATCH = "00000000-0000-4000-8000-000000000000"
COUNTS_VIEW = (
    "CREATE VIEW batch_dataset_counts AS "
    "SELECT b.batch_id, b.name, b.created_at, COUNT(l.dataset_id) AS dataset_count "
    "FROM batches b LEFT JOIN batch_datasets l ON l.batch_id = b.batch_id "
    "GROUP BY b.batch_id, b.name, b.created_at"
)


@pytest.fixture
def batches() -> list[dict]:
    """The sample batches, two of them created at the ends of the range a timestamp can hold."""
    payloads = sample_batches(12, seed=42, datasets=6)
    payloads[0]["created_at"] = "0001-01-01T00:00:00Z"
    payloads[1]["created_at"] = "9999-12-31T23:59:59.999999Z"
    return payloads


@pytest.fixture
def synced(run_sync, tmp_path, batches):
    """Sync the sample batches, a bad ID line and an unknown batch (two etl_failures rows)."""

    def sync_into(database_url: str) -> str:
        ids = tmp_path / "ids.txt"
        lines = [batch["id"] for batch in batches] + ["not-a-batch-id", UNKNOWN_BATCH]
        ids.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = run_sync(database_url, ids)
        assert result.exit_code == 1, result.output  # partial: the two failures
        return database_url

    return sync_into


def export(*args: str, database_url: str):
    """``prolific-etl export`` with DATABASE_URL set and no token anywhere."""
    return CliRunner().invoke(
        main, ["export", *args], env={"DATABASE_URL": database_url}, catch_exceptions=False
    )


def create_view(database_url: str) -> None:
    engine = connect(database_url)
    with engine.begin() as connection:
        connection.execute(text(COUNTS_VIEW))
    engine.dispose()


def types_of(name: str) -> dict[str, str]:
    """The pandas dtype of each column of one of our tables, for the README's reading recipe.

    A JSON column is "object": JSON text in CSV and Parquet, nested values in JSON Lines.
    """
    types = {}
    for column in metadata.tables[name].columns:
        if isinstance(column.type, UTCDateTime):
            types[column.name] = "datetime64[us, UTC]"
        elif isinstance(column.type, Integer):
            types[column.name] = "Int64"
        elif isinstance(column.type, Boolean):
            types[column.name] = "boolean"
        elif isinstance(column.type, Float):
            types[column.name] = "Float64"
        elif isinstance(column.type, JSON):
            types[column.name] = "object"
        else:
            types[column.name] = "string"
    return types


def read_back(source, fmt: str, types: dict[str, str]) -> pd.DataFrame:
    """An export read back with its types: the recipe in the README's Export section, and
    JSON columns parsed from their text where the format has no nested values."""
    json_columns = [name for name, kind in types.items() if kind == "object"]
    if fmt == "csv":
        frame = pd.read_csv(source, dtype="string", keep_default_na=False, na_values=[""])
        booleans = {
            name: {"True": True, "False": False}
            for name, kind in types.items()
            if kind == "boolean"
        }
        for name, spelled in booleans.items():
            frame[name] = frame[name].map(spelled, na_action="ignore")
        frame = frame.astype(types)
    elif fmt == "jsonl":
        frame = pd.read_json(source, lines=True, dtype=False, dtype_backend="numpy_nullable")
        return frame.astype(types)
    else:
        frame = pd.read_parquet(source, dtype_backend="numpy_nullable")
    for name in json_columns:
        frame[name] = [None if pd.isna(text) else json.loads(text) for text in frame[name]]
    return frame


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as plain Python values, NULL as None, as ``read_table`` gives them."""

    def plain(value):
        if isinstance(value, (dict, list)):  # a JSON column's value
            return value
        if not isinstance(value, str) and pd.isna(value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        return value

    return [
        {key: plain(value) for key, value in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def assert_dtypes(frame: pd.DataFrame, types: dict[str, str]) -> None:
    assert list(frame.columns) == list(types)
    for name, expected in types.items():
        dtype = frame[name].dtype
        if expected == "datetime64[us, UTC]":
            assert isinstance(dtype, pd.DatetimeTZDtype), (name, dtype)
            assert (dtype.unit, str(dtype.tz)) == ("us", "UTC"), (name, dtype)
        elif expected == "Int64":
            assert pd.api.types.is_integer_dtype(dtype), (name, dtype)
        elif expected == "boolean":
            assert pd.api.types.is_bool_dtype(dtype), (name, dtype)
        elif expected == "Float64":
            assert pd.api.types.is_float_dtype(dtype), (name, dtype)
        elif expected == "object":
            assert pd.api.types.is_object_dtype(dtype), (name, dtype)
        else:
            assert pd.api.types.is_string_dtype(dtype), (name, dtype)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_table_reads_back_with_its_values_and_types(database_url, synced, tmp_path, fmt):
    synced(database_url)
    for name in EXPORTED:
        path = tmp_path / f"{name}.{fmt}"  # the format comes from the extension
        result = export(name, "--output", str(path), database_url=database_url)
        assert result.exit_code == 0, result.output
        rows = read_table(database_url, name)
        assert result.stdout == f"{len(rows)} rows of {name} written to {path} ({fmt})\n"

        frame = read_back(path, fmt, types_of(name))
        assert_dtypes(frame, types_of(name))
        assert records(frame) == rows, name


def test_the_readme_recipe_reads_an_export_back(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    for fmt in FORMATS:  # into the working directory, where the recipe reads
        result = export("etl_failures", "-o", f"etl_failures.{fmt}", database_url=sqlite_url)
        assert result.exit_code == 0, result.output
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    export_section = readme.split("## Export\n", 1)[1].split("\n## ", 1)[0]
    recipe = export_section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(recipe, namespace)

    assert namespace["types"] == types_of("etl_failures")
    rows = read_table(sqlite_url, "etl_failures")
    for fmt in FORMATS:
        frame = namespace[f"from_{fmt}"]
        assert_dtypes(frame, types_of("etl_failures"))
        assert records(frame) == rows, fmt


def test_the_sample_data_holds_what_the_round_trip_must_survive(database_url, synced):
    synced(database_url)
    names = [row["name"] for row in read_table(database_url, "batches")]
    intros = [row["task_introduction"] for row in read_table(database_url, "batches")]
    assert any(ord(char) > 0xFFFF for char in "".join(names)), "no 4-byte UTF-8"
    assert any('"' in name for name in names) and any("'" in name for name in names)
    assert any(len(intro) > 65_536 and "\r\n" in intro and "&amp;" in intro for intro in intros)
    years = {row["created_at"].year for row in read_table(database_url, "batches")}
    assert {1, 9999} <= years
    failures = read_table(database_url, "etl_failures")
    assert {row["http_status"] for row in failures} == {None, 404}
    assert {row["line_number"] for row in failures} == {None, 13}  # the bad line after 12 IDs


@pytest.mark.parametrize("fmt", FORMATS)
def test_stdout_is_the_default_output(sqlite_url, synced, fmt):
    synced(sqlite_url)
    result = export("batches", "--format", fmt, database_url=sqlite_url)
    assert result.exit_code == 0, result.stderr
    frame = read_back(io.BytesIO(result.stdout_bytes), fmt, types_of("batches"))
    assert records(frame) == read_table(sqlite_url, "batches")
    assert result.stderr == ""


def test_csv_is_the_default_format(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    to_stdout = export("datasets", database_url=sqlite_url)
    to_file = export("datasets", "-o", str(tmp_path / "datasets"), database_url=sqlite_url)
    assert to_file.exit_code == to_stdout.exit_code == 0
    csv_text = (tmp_path / "datasets").read_text(encoding="utf-8")
    assert csv_text == to_stdout.stdout
    assert csv_text.startswith(",".join(types_of("datasets")) + "\n")


def test_parquet_is_not_written_to_a_terminal(sqlite_url, synced):
    synced(sqlite_url)
    leader, follower = os.openpty()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "etl", "export", "batches", "--format", "parquet"],
            stdout=follower,
            stderr=subprocess.PIPE,
            env={**os.environ, "DATABASE_URL": sqlite_url},
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert completed.returncode == 2
    assert b"stdout is a terminal: pass --output FILE or redirect stdout" in completed.stderr


# Issue 15: `export batches | head -1` exited 1 (click's answer to a broken pipe).
def test_a_reader_that_stops_early_is_no_error(sqlite_url, synced):
    synced(sqlite_url)
    whole = export("batches", database_url=sqlite_url).stdout_bytes
    assert len(whole) > 4 * 65536  # more than a pipe holds: the export is still writing

    process = subprocess.Popen(
        [sys.executable, "-m", "etl", "export", "batches"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DATABASE_URL": sqlite_url},
    )
    first_line = process.stdout.readline()
    process.stdout.close()  # as `head -1` does once it has its line
    returncode = process.wait(timeout=60)

    assert first_line == whole.splitlines(keepends=True)[0]
    assert returncode == 0
    assert process.stderr.read() == b""
    process.stderr.close()


def test_unknown_name_is_a_usage_error_naming_what_exists(database_url, synced, tmp_path):
    synced(database_url)
    create_view(database_url)
    output = tmp_path / "out.csv"
    result = export("batch", "-o", str(output), database_url=database_url)
    assert result.exit_code == 2
    assert result.stderr == (
        "prolific-etl: error: the database has no table or view named 'batch'; "
        "tables: "
        + ", ".join(sorted([*metadata.tables, "etl_schema_version"]))
        + "; views: batch_dataset_counts, "
        + ", ".join(sorted(view.name for view in VIEWS))
        + "\n"
    )
    assert not output.exists() and list(tmp_path.glob(".out.csv*")) == []


def test_a_name_is_never_read_as_sql(sqlite_url, synced):
    synced(sqlite_url)
    result = export("batches; DROP TABLE batches", database_url=sqlite_url)
    assert result.exit_code == 2
    assert "no table or view named 'batches; DROP TABLE batches'" in result.stderr
    assert len(read_table(sqlite_url, "batches")) == 12


def test_a_table_whose_name_and_columns_are_keywords_is_quoted(database_url):
    engine = connect(database_url)
    keywords = Table(
        "order",
        MetaData(),
        Column("select", Integer, primary_key=True, autoincrement=False),
        Column("from", String(20)),
    )
    keywords.create(engine)
    with engine.begin() as connection:
        connection.execute(
            keywords.insert(), [{"select": 2, "from": "b"}, {"select": 1, "from": 'a, "q"'}]
        )
    out = io.BytesIO()
    assert export_relation(engine, "order", "csv", out) == 2
    engine.dispose()
    assert out.getvalue().decode() == 'select,from\n1,"a, ""q"""\n2,b\n'


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_view_exports_with_reflected_types(database_url, synced, tmp_path, fmt):
    synced(database_url)
    create_view(database_url)
    path = tmp_path / f"counts.{fmt}"
    result = export("batch_dataset_counts", "-o", str(path), database_url=database_url)
    assert result.exit_code == 0, result.output

    links = read_table(database_url, "batch_datasets")
    expected = [
        {
            "batch_id": row["batch_id"],
            "name": row["name"],
            "created_at": row["created_at"],
            "dataset_count": sum(link["batch_id"] == row["batch_id"] for link in links),
        }
        for row in read_table(database_url, "batches")
    ]
    types = {
        "batch_id": "string",
        "name": "string",
        "created_at": "datetime64[us, UTC]",
        "dataset_count": "Int64",  # an expression: on SQLite its type comes from its values
    }
    frame = read_back(path, fmt, types)
    assert_dtypes(frame, types)
    assert records(frame) == expected
    assert {row["dataset_count"] for row in expected} >= {0, 2}


def test_an_empty_table_exports_its_schema(database_url, tmp_path):
    engine = connect(database_url)
    ensure_schema(engine)
    engine.dispose()
    for fmt in FORMATS:
        result = export("etl_failures", "-o", str(tmp_path / f"f.{fmt}"), database_url=database_url)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("0 rows of etl_failures")

    assert pq.read_schema(tmp_path / "f.parquet") == pa.schema(
        [
            ("failure_id", pa.int64()),
            ("run_id", pa.int64()),
            ("batch_id", pa.string()),
            ("workspace_id", pa.string()),
            ("dataset_id", pa.string()),
            ("response_id", pa.string()),
            ("input_line", pa.string()),
            ("line_number", pa.int64()),
            ("stage", pa.string()),
            ("http_status", pa.int64()),
            ("error_kind", pa.string()),
            ("field", pa.string()),
            ("message", pa.string()),
            ("occurred_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    assert pq.read_table(tmp_path / "f.parquet").num_rows == 0
    assert (tmp_path / "f.csv").read_text() == ",".join(types_of("etl_failures")) + "\n"
    assert (tmp_path / "f.jsonl").read_bytes() == b""


def test_chunks_are_parquet_row_groups_under_one_schema(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    engine = connect(sqlite_url)
    path = tmp_path / "batches.parquet"
    assert export_relation(engine, "batches", "parquet", path, chunk_size=5) == 12
    csv_out = io.BytesIO()
    assert export_relation(engine, "batches", "csv", csv_out, chunk_size=5) == 12
    engine.dispose()

    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # 5 + 5 + 2
    rows = read_table(sqlite_url, "batches")
    assert records(read_back(path, "parquet", types_of("batches"))) == rows
    csv_out.seek(0)
    assert records(read_back(csv_out, "csv", types_of("batches"))) == rows


def test_a_missing_sqlite_file_is_not_created(tmp_path):
    result = export("batches", database_url=f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert result.exit_code == 3
    assert "no SQLite database at" in result.stderr
    assert not (tmp_path / "nowhere.db").exists()


def test_an_unwritable_output_is_a_usage_error(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    result = export(
        "batches", "-o", str(tmp_path / "no-such-dir" / "b.csv"), database_url=sqlite_url
    )
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "No such file or directory" in result.stderr


def test_an_existing_file_is_replaced_whole(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    path = tmp_path / "datasets.jsonl"
    path.write_text("stale\n" * 10_000)
    assert export("datasets", "-o", str(path), database_url=sqlite_url).exit_code == 0
    assert records(read_back(path, "jsonl", types_of("datasets"))) == read_table(
        sqlite_url, "datasets"
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_the_database_url_comes_from_dotenv_like_for_sync(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    (tmp_path / ".env").write_text(f"DATABASE_URL={sqlite_url}\n")  # the working directory
    result = CliRunner().invoke(main, ["export", "datasets", "--format", "jsonl"])
    assert result.exit_code == 0, result.stderr
    frame = read_back(io.BytesIO(result.stdout_bytes), "jsonl", types_of("datasets"))
    assert records(frame) == read_table(sqlite_url, "datasets")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_every_reporting_view_exports_with_its_types(
    database_url, synced, api, batches, tmp_path, fmt
):
    synced(database_url)
    moved = {**batches[2], "status": "READY" if batches[2]["status"] != "READY" else "ERROR"}
    api.put_batch(moved)
    synced(database_url)  # a second run: a status interval with an end, and two runs' health
    engine = connect(database_url)
    exported = {}
    for view in VIEWS:
        with engine.connect() as connection:
            expected = [
                dict(row._mapping)
                for row in connection.execute(select(view.table).order_by(*view.table.columns))
            ]
        path = tmp_path / f"{view.name}.{fmt}"

        result = export(view.name, "--output", str(path), database_url=database_url)

        assert result.exit_code == 0, result.output
        if fmt == "parquet":
            frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
        else:
            timestamps = [c.name for c in view.table.columns if isinstance(c.type, UTCDateTime)]
            frame = pd.read_json(
                path,
                lines=True,
                dtype=False,
                dtype_backend="numpy_nullable",
                precise_float=True,  # pandas' default parser rounds the last digits
            )
            frame = frame.astype(
                {name: "datetime64[us, UTC]" for name in timestamps if name in frame.columns}
            )
        assert records(frame) == expected, view.name
        exported[view.name] = expected
    engine.dispose()
    ended = [row for row in exported["v_batch_status_intervals"] if row["left_at"] is not None]
    assert [row["batch_id"] for row in ended] == [moved["id"]]
    assert ended[0]["left_at"].tzinfo == timezone.utc  # an expression (LEAD), typed all the same


def test_an_output_path_that_is_a_directory_is_a_usage_error(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    (tmp_path / "out.csv").mkdir()

    result = export("batches", "-o", str(tmp_path / "out.csv"), database_url=sqlite_url)

    assert result.exit_code == 2
    assert f"cannot write {tmp_path / 'out.csv'}: it is a directory" in result.stderr
    assert list(tmp_path.glob(".out.csv*")) == []


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    import socket

    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path.name)  # relative: the working directory is tmp_path, and paths are short
    listener.close()


def _link_to_dev_null(path: Path) -> None:
    path.symlink_to("/dev/null")  # never /dev/null itself: as root it would be replaced


# Issue 12, finding 5: a device node, FIFO or socket was replaced by a regular file.
@pytest.mark.parametrize(
    "make, kind",
    [(_fifo, "FIFO"), (_socket, "socket"), (_link_to_dev_null, "character device")],
    ids=["fifo", "socket", "device"],
)
def test_an_output_that_is_not_a_regular_file_is_refused_and_left_alone(
    sqlite_url, synced, tmp_path, make, kind
):
    synced(sqlite_url)
    path = tmp_path / "out"
    make(path)
    before = os.lstat(path)

    result = export("batches", "-o", str(path), database_url=sqlite_url)

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"prolific-etl: error: cannot write {path}: it is a {kind}, not a regular file; "
        "export writes regular files only ('-' for standard output)\n"
    )
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("output", [".", "/", "./"])
def test_an_output_that_names_a_directory_is_refused(sqlite_url, synced, output):
    synced(sqlite_url)

    result = export("batches", "-o", output, database_url=sqlite_url)

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"prolific-etl: error: cannot write {output}: it is a directory, not a regular file; "
        "export writes regular files only ('-' for standard output)\n"
    )


def test_an_output_path_ending_in_a_slash_is_refused_even_if_missing(sqlite_url, synced, tmp_path):
    synced(sqlite_url)

    result = export("batches", "-o", "new-dir/", database_url=sqlite_url)

    assert result.exit_code == 2, result.output
    assert "cannot write new-dir/: it names a directory" in result.stderr
    assert not (tmp_path / "new-dir").exists()


def test_an_empty_output_path_is_refused(sqlite_url, synced, tmp_path):
    synced(sqlite_url)
    before = sorted(p.name for p in tmp_path.iterdir())

    result = export("batches", "-o", "", database_url=sqlite_url)

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "prolific-etl: error: --output is empty: name a file, or '-' for standard output\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# Issue 23, item 12: `-o out.xlsx` wrote CSV under a name that promises a spreadsheet.
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["-o", "{tmp}/out.xlsx"],
            "cannot tell a format from {tmp}/out.xlsx: name it .csv, .jsonl or .parquet, or "
            "give --format (export writes CSV, JSON Lines or Parquet, nothing else)",
        ),
        (
            ["-o", "{tmp}/out.parquet", "--format", "csv"],
            "--format csv but {tmp}/out.parquet names parquet by its extension: drop --format "
            "or give the file a .csv name",
        ),
    ],
    ids=["unknown extension", "extension against --format"],
)
def test_a_file_name_that_names_another_format_is_refused(
    sqlite_url, synced, tmp_path, args, message
):
    synced(sqlite_url)
    out = tmp_path / "out"
    out.mkdir()

    result = export("batches", *(arg.format(tmp=out) for arg in args), database_url=sqlite_url)

    assert result.exit_code == 2, result.output
    assert result.stderr == f"prolific-etl: error: {message.format(tmp=out)}\n"
    assert list(out.iterdir()) == []


def test_an_unknown_extension_with_a_format_is_written_in_that_format(sqlite_url, synced, tmp_path):
    synced(sqlite_url)

    result = export(
        "datasets", "-o", str(tmp_path / "d.txt"), "--format", "csv", database_url=sqlite_url
    )

    assert result.exit_code == 0, result.output
    text = (tmp_path / "d.txt").read_text(encoding="utf-8")
    assert text.startswith(",".join(types_of("datasets")) + "\n")
