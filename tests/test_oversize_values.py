"""A value too large for the database fails its batch, never the run (issue 12, finding 7)."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from etl.cli import main
from etl.imitation.server import sample_workspace
from etl.rows import BatchRows
from etl.source.flatten import flatten_batch
from etl.source.validate import parse_batch
from etl.store.load import preview_chunk
from etl.store.schema import TEXT_MAX_BYTES

from conftest import MYSQL_URL, TOKEN
from support import expected_batches, failure_rows, read_table, stored_batches

MiB = 2**20


def test_a_text_value_over_16_mib_fails_its_batch_on_every_database(
    database_url, run_sync, ids_file, api, batches
):
    # MariaDB dropped the connection ("server has gone away") and the whole run failed.
    huge = copy.deepcopy(batches[3])
    huge["task_details"]["task_introduction"] = "<p>é</p>" + "x" * (16 * MiB)
    api.put_batch(huge)

    preview = run_sync(database_url, ids_file, "--dry-run")
    result = run_sync(database_url, ids_file)

    message = (
        "batches.task_introduction is too large to store: 16,777,225 bytes of UTF-8, over the "
        "16,777,215 a text value may hold on every database (MySQL's MEDIUMTEXT)"
    )
    line = f"prolific-etl: error: batch {huge['id']}: load failed (load_error): {message}\n"
    assert (preview.exit_code, preview.stderr) == (1, line)
    assert (result.exit_code, result.stderr) == (1, line)
    assert failure_rows(database_url) == [
        {
            "run_id": 1,
            "batch_id": huge["id"],
            "workspace_id": None,
            "dataset_id": None,
            "response_id": None,
            "input_line": None,
            "line_number": None,
            "stage": "load",
            "http_status": None,
            "error_kind": "load_error",
            "field": "batches.task_introduction",
            "message": message,
        }
    ]
    assert stored_batches(database_url) == expected_batches(
        [b for b in batches if b["id"] != huge["id"]]
    )
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["fetched"], run["inserted"], run["failed"]) == ("partial", 12, 11, 1)


def rows_of(payload: dict) -> BatchRows:
    return flatten_batch(parse_batch(payload["id"], json.dumps(payload)))


def test_the_limit_is_the_last_byte_a_mediumtext_holds(batches):
    at_limit, over, long_filename = (copy.deepcopy(b) for b in batches[:3])
    at_limit["task_details"]["task_steps"] = "é" + "x" * (TEXT_MAX_BYTES - 2)
    over["task_details"]["task_steps"] = "é" + "x" * (TEXT_MAX_BYTES - 1)
    long_filename["datasets"] = [{**batches[0]["datasets"][0], "filename": "f" * 2**24}]

    outcome = preview_chunk(None, [rows_of(p) for p in (at_limit, over, long_filename)])

    assert outcome.inserted == [at_limit["id"]]
    assert [(e.batch_id, e.field, e.message) for e in outcome.failed] == [
        (
            over["id"],
            "batches.task_steps",
            "batches.task_steps is too large to store: 16,777,216 bytes of UTF-8, over the "
            "16,777,215 a text value may hold on every database (MySQL's MEDIUMTEXT)",
        ),
        (
            long_filename["id"],
            "datasets.filename",
            "datasets.filename is too large to store: 16,777,216 bytes of UTF-8, over the "
            "16,777,215 a text value may hold on every database (MySQL's MEDIUMTEXT)",
        ),
    ]


@pytest.fixture
def mysql_packet_limit() -> int:
    if not MYSQL_URL:
        pytest.skip("ETL_TEST_MYSQL_URL not set")
    engine = create_engine(MYSQL_URL.replace("mysql://", "mysql+pymysql://", 1))
    with engine.connect() as connection:
        limit = connection.execute(text("SELECT @@max_allowed_packet")).scalar_one()
    engine.dispose()
    return int(limit)


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
def test_a_row_larger_than_max_allowed_packet_fails_its_batch_on_mariadb(
    mysql_packet_limit, database_url, run_sync, ids_file, api, batches
):
    # Each value fits a MEDIUMTEXT, together they do not fit the server's max_allowed_packet:
    # the server drops the connection, and answers the next one.
    half = mysql_packet_limit // 2 + MiB
    if half > 16 * MiB - 1:
        pytest.skip(f"max_allowed_packet {mysql_packet_limit} holds any row of valid values")
    wide = copy.deepcopy(batches[5])
    wide["task_details"]["task_introduction"] = "i" * half
    wide["task_details"]["task_steps"] = "s" * half
    api.put_batch(wide)

    result = run_sync(database_url, ids_file)

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["batch_id"], failure["stage"], failure["error_kind"], failure["field"]) == (
        wide["id"],
        "load",
        "load_error",
        None,
    )
    assert failure["message"].startswith(
        "database refused the rows: the database closed the connection while this batch was "
        "written alone, and answers again: its rows are likely larger than it accepts "
        "(MySQL/MariaDB: max_allowed_packet): "
    )
    assert stored_batches(database_url) == expected_batches(
        [b for b in batches if b["id"] != wide["id"]]
    )


def test_a_workspace_description_over_16_mib_fails_that_workspace_alone(database_url, api, batches):
    # Issue 21: the size guard covered batches only; on MariaDB one huge workspace description
    # failed the whole run instead of that workspace.
    huge = {**sample_workspace(batches[0]["workspace_id"]), "description": "d" * (16 * MiB)}
    api.put_workspace(huge)
    env = {"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": api.url, "DATABASE_URL": database_url}

    result = CliRunner().invoke(main, ["sync", "--all-workspaces"], env=env)

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["workspace_id"], failure["error_kind"], failure["field"]) == (
        huge["id"],
        "load_error",
        "workspaces.description",
    )
    assert failure["message"].startswith("workspaces.description is too large to store: ")
    stored = {row["workspace_id"] for row in read_table(database_url, "workspaces")}
    assert stored == {w["id"] for w in api.workspaces()} - {huge["id"]}
    assert stored_batches(database_url) == expected_batches(
        batches
    )  # its batches load all the same
