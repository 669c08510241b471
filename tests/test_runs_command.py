"""`prolific-etl runs` and `runs show`: the run log read back, as a table and as JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from etl.cli import main
from etl.config import redact_url
from etl.imitation.server import Fault
from etl.store.runlog import start_run

from support import read_table

RUN_COLUMNS = [
    "run",
    "status",
    "started (UTC)",
    "duration",
    "ids",
    "fetched",
    "inserted",
    "updated",
    "unchanged",
    "failed",
    "retries",
    "error",
]


def runs(database_url: str, *args: str):
    """``prolific-etl runs ARGS`` with the database in the environment and no token."""
    return CliRunner().invoke(main, ["runs", *args], env={"DATABASE_URL": database_url})


def table_rows(output: str) -> list[list[str]]:
    """The cells of a text table, header first; cells are separated by two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


@pytest.fixture
def three_runs(database_url, run_sync, api, batches, ids_file, tmp_path):
    """Run 1 loads all 12 batches; run 2 meets a 404 and a bad ID line; run 3 a rejected token."""
    assert run_sync(database_url, ids_file).exit_code == 0
    api.inject(batches[3]["id"], Fault.http(404))
    with_bad_line = tmp_path / "with_bad_line.txt"
    lines = [b["id"] for b in batches[:5]]
    lines.insert(2, "batch-7")
    with_bad_line.write_text("\n".join(lines) + "\n")
    assert run_sync(database_url, with_bad_line).exit_code == 1
    assert run_sync(database_url, ids_file, token="not-the-token").exit_code == 3
    return with_bad_line


def test_runs_lists_every_run_newest_first_with_its_counts(database_url, three_runs):
    result = runs(database_url, "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    stored = {row["run_id"]: row for row in read_table(database_url, "etl_runs")}
    assert [run["run_id"] for run in listed] == [3, 2, 1]
    third, second, first = listed
    counts = ("ids_read", "fetched", "inserted", "updated", "unchanged", "failed", "retries")
    assert (first["status"], *(first[c] for c in counts)) == ("succeeded", 12, 12, 12, 0, 0, 0, 0)
    assert (second["status"], *(second[c] for c in counts)) == ("partial", 5, 4, 0, 0, 4, 2, 0)
    assert (third["status"], *(third[c] for c in counts)) == ("failed", 12, 0, 0, 0, 0, 0, 0)
    assert first["error_message"] is None and second["error_message"] is None
    assert third["error_message"].startswith("the API rejected the token (HTTP 401")
    for run in listed:
        row = stored[run["run_id"]]
        assert run["started_at"] == row["started_at"].isoformat().replace("+00:00", "Z")
        assert run["finished_at"] == row["finished_at"].isoformat().replace("+00:00", "Z")
        assert run["started_at"].endswith("Z") and run["finished_at"].endswith("Z")
        expected = (row["finished_at"] - row["started_at"]).total_seconds()
        assert run["duration_seconds"] == round(expected, 3)
        assert run["tool_version"] == row["tool_version"]
        assert run["id_source"] == row["id_source"]


def test_runs_table_shows_the_same_runs_with_the_error_shortened(database_url, three_runs):
    listed = json.loads(runs(database_url, "--format", "json").stdout)
    result = runs(database_url)
    assert result.exit_code == 0, result.output
    header, *rows = table_rows(result.stdout)
    assert header == RUN_COLUMNS
    assert [row[:3] for row in rows] == [
        [str(run["run_id"]), run["status"], run["started_at"][:19].replace("T", " ")]
        for run in listed
    ]
    assert [row[4:11] for row in rows] == [
        ["12", "0", "0", "0", "0", "0", "0"],
        ["5", "4", "0", "0", "4", "2", "0"],
        ["12", "12", "12", "0", "0", "0", "0"],
    ]
    assert all(re.fullmatch(r"\d+\.\ds", row[3]) for row in rows)
    error = rows[0][11]
    assert error.endswith("...") and len(error) == 48
    assert listed[0]["error_message"].startswith(error[:-3])
    assert [len(row) for row in rows[1:]] == [11, 11]  # no error: an empty last cell


def test_runs_show_gives_the_run_and_each_failure(database_url, three_runs, batches):
    result = runs(database_url, "show", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    listed = json.loads(runs(database_url, "--format", "json").stdout)
    assert {key: value for key, value in shown.items() if key != "failures"} == listed[1]
    bad_line, not_found = shown["failures"]
    assert {k: v for k, v in bad_line.items() if k not in ("failure_id", "occurred_at")} == {
        "batch_id": None,
        "workspace_id": None,
        "dataset_id": None,
        "response_id": None,
        "line_number": 3,
        "input_line": "batch-7",
        "stage": "input",
        "error_kind": "bad_id_line",
        "http_status": None,
        "field": None,
        "message": f"{three_runs}:3: not a batch ID (UUID): 'batch-7'",
    }
    assert {k: v for k, v in not_found.items() if k not in ("failure_id", "occurred_at")} == {
        "batch_id": batches[3]["id"],
        "workspace_id": None,
        "dataset_id": None,
        "response_id": None,
        "line_number": None,
        "input_line": None,
        "stage": "fetch",
        "error_kind": "not_found",
        "http_status": 404,
        "field": None,
        "message": not_found["message"],
    }
    assert not_found["message"].startswith("HTTP 404: not found or not visible to this token")
    stored = [row for row in read_table(database_url, "etl_failures") if row["run_id"] == 2]
    assert [f["failure_id"] for f in shown["failures"]] == [row["failure_id"] for row in stored]
    assert [f["occurred_at"] for f in shown["failures"]] == [
        row["occurred_at"].isoformat().replace("+00:00", "Z") for row in stored
    ]


def test_runs_show_as_text(database_url, three_runs, batches):
    result = runs(database_url, "show", "2")
    assert result.exit_code == 0, result.output
    fields, failures = result.stdout.split("\n\nfailures (2):\n")
    values = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in fields.splitlines())
    assert values["run"] == "2"
    assert values["status"] == "partial"
    assert (values["ids read"], values["fetched"], values["unchanged"]) == ("5", "4", "4")
    assert (values["failed"], values["retries"], values["error"]) == ("2", "0", "-")
    assert values["id source"] == str(three_runs)
    assert values["started"].endswith(" UTC") and values["finished"].endswith(" UTC")
    header, bad_line, not_found = table_rows(failures)
    # Issue 21: the first column names what failed as the run's log did (a Subject).
    assert header == ["what failed", "stage", "kind", "http", "field", "message"]
    assert bad_line == [
        "line 3",
        "input",
        "bad_id_line",
        "-",
        "-",
        f"{three_runs}:3: not a batch ID (UUID): 'batch-7'",
    ]
    assert not_found[:5] == [f"batch {batches[3]['id']}", "fetch", "not_found", "404", "-"]


def test_a_run_without_failures_says_so(database_url, three_runs):
    result = runs(database_url, "show", "1")
    assert result.exit_code == 0
    assert result.stdout.rstrip().endswith("\n\nno failures recorded")
    assert json.loads(runs(database_url, "show", "1", "--format", "json").stdout)["failures"] == []


def test_limit_keeps_the_newest_runs(database_url, three_runs):
    result = runs(database_url, "--limit", "2", "--format", "json")
    assert [run["run_id"] for run in json.loads(result.stdout)] == [3, 2]
    header, *rows = table_rows(runs(database_url, "--limit", "1").stdout)
    assert [row[0] for row in rows] == ["3"]
    assert runs(database_url, "--limit", "0").exit_code == 2


def test_a_run_still_running_shows_its_elapsed_time(database_url, run_sync, ids_file):
    assert run_sync(database_url, ids_file).exit_code == 0
    engine = create_engine(database_url)
    try:
        running = start_run(engine, id_source="nightly.txt", ids_read=7)
    finally:
        engine.dispose()
    newest = json.loads(runs(database_url, "--format", "json").stdout)[0]
    assert (newest["run_id"], newest["status"], newest["finished_at"]) == (running, "running", None)
    assert newest["ids_read"] == 7 and newest["duration_seconds"] >= 0
    header, row, _ = table_rows(runs(database_url).stdout)
    assert row[:2] == [str(running), "running"]
    assert re.fullmatch(r"(\d+\.\ds|\d+m \d\ds|\d+h \d\dm) so far", row[3])
    shown = table_rows(runs(database_url, "show", str(running)).stdout.split("\n\n")[0])
    assert ["finished", "-"] in shown


def no_runs(database_url: str) -> str:
    return (
        f"no runs recorded in {redact_url(database_url)}: if the job writes elsewhere, give "
        "--database-url or set DATABASE_URL"
    )


def test_an_empty_database_has_no_runs_and_gets_no_tables(database_url):
    for args in ([], ["--format", "json"]):
        result = runs(database_url, *args)
        assert result.exit_code == 0
        assert result.stderr == f"prolific-etl: {no_runs(database_url)}\n"
    assert result.stdout == "[]\n"
    shown = runs(database_url, "show", "1")
    assert shown.exit_code == 2
    assert shown.stderr == f"prolific-etl: error: {no_runs(database_url)}\n"
    if database_url.startswith("sqlite:///"):
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
    else:
        engine = create_engine(database_url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_an_unknown_run_id_is_a_usage_error(database_url, run_sync, ids_file):
    assert run_sync(database_url, ids_file).exit_code == 0
    for args in (["show", "99"], ["show", "99", "--format", "json"]):
        result = runs(database_url, *args)
        assert result.exit_code == 2
        assert result.stdout == ""
        # Issue 15: it says which runs there are, and where to look instead.
        assert result.stderr == (
            f"prolific-etl: error: no run 99 recorded in {redact_url(database_url)} (its runs: "
            "1 to 1); `prolific-etl runs` lists them. For a run in another database, give "
            "--database-url or set DATABASE_URL\n"
        )
    assert runs(database_url, "show", "latest").exit_code == 2


# Issue 12, finding 10: a number past the column's range was a traceback (OverflowError).
@pytest.mark.parametrize(
    "args, what",
    [
        (["show", "99999999999999999999"], "'RUN_ID': 99999999999999999999"),
        (["show", "2147483648"], "'RUN_ID': 2147483648"),
        (["--limit", "99999999999999999999"], "'--limit': 99999999999999999999"),
    ],
)
def test_a_number_past_the_run_id_range_is_a_usage_error(
    database_url, run_sync, ids_file, args, what
):
    assert run_sync(database_url, ids_file).exit_code == 0

    result = runs(database_url, *args)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert f"Invalid value for {what} is not in the range 1<=x<=2147483647." in result.stderr


def test_the_largest_run_id_is_looked_up(database_url, run_sync, ids_file):
    assert run_sync(database_url, ids_file).exit_code == 0

    shown = runs(database_url, "show", "2147483647")
    listed = runs(database_url, "--limit", "2147483647", "--format", "json")

    assert shown.exit_code == 2
    assert "no run 2147483647 recorded" in shown.stderr
    assert listed.exit_code == 0, listed.output
    assert [run["run_id"] for run in json.loads(listed.stdout)] == [1]


def test_database_url_from_flag_then_environment_then_dotenv(
    database_url, run_sync, ids_file, tmp_path
):
    assert run_sync(database_url, ids_file).exit_code == 0
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\n")
    from_dotenv = CliRunner().invoke(main, ["runs", "--format", "json"], env={})
    assert [run["run_id"] for run in json.loads(from_dotenv.stdout)] == [1]

    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    from_env = CliRunner().invoke(main, ["runs"], env={"DATABASE_URL": elsewhere})
    assert from_env.stderr == f"prolific-etl: {no_runs(elsewhere)}\n"

    args = ["runs", "--database-url", database_url, "show", "1", "--format", "json"]
    from_flag = CliRunner().invoke(main, args, env={"DATABASE_URL": elsewhere})
    assert json.loads(from_flag.stdout)["run_id"] == 1

    before_show = ["runs", "--database-url", database_url, "--format", "json", "show", "1"]
    assert json.loads(CliRunner().invoke(main, before_show).stdout)["run_id"] == 1


def test_the_default_database_is_prolific_db_in_the_working_directory():
    result = CliRunner().invoke(main, ["runs"], env={})
    assert result.exit_code == 0
    assert result.stderr == f"prolific-etl: {no_runs('sqlite:///prolific.db')}\n"
    assert not Path("prolific.db").exists()


def test_a_password_in_the_url_is_never_shown():
    url = "postgresql://etl:s3cret-pw@127.0.0.1:1/none"
    result = CliRunner().invoke(main, ["runs", "show", "1"], env={"DATABASE_URL": url})
    assert result.exit_code == 3
    assert "s3cret-pw" not in result.output
    assert "cannot connect to postgresql+psycopg://etl:***@127.0.0.1:1/none" in result.stderr


def test_runs_needs_no_token(database_url, run_sync, ids_file):
    assert run_sync(database_url, ids_file).exit_code == 0
    result = CliRunner().invoke(
        main, ["runs", "--database-url", database_url], env={"PROLIFIC_API_TOKEN": ""}
    )
    assert result.exit_code == 0 and "succeeded" in result.stdout


# Issue 15: `runs show --help` said it exits 0 when no run is recorded; it exits 2.
def test_each_runs_command_documents_the_exit_code_it_gives_when_there_is_no_run():
    listed = CliRunner().invoke(main, ["runs"], env={})
    shown = CliRunner().invoke(main, ["runs", "show", "1"], env={})
    list_help = CliRunner().invoke(main, ["runs", "--help"]).output
    show_help = CliRunner().invoke(main, ["runs", "show", "--help"]).output

    assert (listed.exit_code, shown.exit_code) == (0, 2)
    assert "0  done (also when no run is recorded yet)" in list_help
    assert "0  shown\n" in show_help
    assert "2  usage error, or no such run (also when no run\n       is recorded yet)" in show_help


def test_no_runs_in_the_default_database_points_at_the_demo_s(tmp_path):
    assert CliRunner().invoke(main, ["demo", "--batches", "3", "--nights", "1"]).exit_code == 0

    listed = CliRunner().invoke(main, ["runs"], env={})

    assert listed.exit_code == 0
    assert listed.stderr == (
        f"prolific-etl: {no_runs('sqlite:///prolific.db')}; the demo's runs are in "
        "prolific-demo.db: prolific-etl runs --database-url sqlite:///prolific-demo.db\n"
    )


# Issue 23, item 9: on an older schema these exited 3 with a raw "no such column", where sync
# and report say what to run.
@pytest.mark.parametrize(
    "command, what",
    [
        (["runs"], "read the run log"),
        (["runs", "show", "1"], "read the run log"),
        (["export", "etl_runs"], "export"),
    ],
    ids=["runs", "runs show", "export etl_runs"],
)
def test_an_older_schema_is_a_usage_error_naming_the_upgrade(database_url, command, what):
    from etl.store.migrate import head_revision

    from support import upgrade_to

    upgrade_to(database_url, "0001")

    result = CliRunner().invoke(main, command, env={"DATABASE_URL": database_url})

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"prolific-etl: error: cannot {what}: the database schema is at revision 0001, but "
        f"this version needs {head_revision()}: run `prolific-etl db upgrade` (or sync with "
        "--auto-migrate)\n"
    )
    assert result.stdout == ""
