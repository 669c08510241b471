"""The command line: exit codes, messages, stdin, --verbose."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import main

from conftest import TOKEN
from support import read_table


def test_help_and_readme_document_the_same_exit_codes():
    documented = {0, 1, 2, 3, 4, 130}
    for args in (["--help"], ["sync", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0
        listed = set(map(int, re.findall(r"^\s+(\d+)\s{2,}\S", result.output, re.MULTILINE)))
        assert listed == documented, args
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert set(map(int, re.findall(r"^\| (\d+) \|", readme, re.MULTILINE))) == documented


def test_missing_token_is_a_usage_error_before_anything_happens(tmp_path, sqlite_url):
    result = CliRunner().invoke(
        main, ["sync", "--ids", "does-not-exist.txt"], env={"DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 2
    assert "no API token" in result.stderr
    assert not (tmp_path / "etl.db").exists()


def test_unknown_flag_is_a_usage_error():
    result = CliRunner().invoke(main, ["sync", "--ids", "x", "--frobnicate"])
    assert result.exit_code == 2


def test_unreadable_id_file_is_a_usage_error(run_sync, sqlite_url, tmp_path):
    result = run_sync(sqlite_url, tmp_path / "missing.txt")
    assert result.exit_code == 2
    assert f"cannot read ID file {tmp_path / 'missing.txt'}: it does not exist." in result.stderr
    assert (
        "`prolific-etl examples batch_ids.txt > batch_ids.txt` writes an example to edit"
        in result.stderr
    )


def test_id_file_without_a_valid_id_is_a_usage_error_listing_the_lines(
    run_sync, sqlite_url, tmp_path, api
):
    ids = tmp_path / "ids.txt"
    ids.write_text("# header\nfoo\nbar/../baz\n")
    result = run_sync(sqlite_url, ids)
    assert result.exit_code == 2
    assert f"{ids}:2: not a batch ID (UUID): 'foo'" in result.stderr
    assert f"{ids}:3: not a batch ID (UUID): 'bar/../baz'" in result.stderr
    assert api.requests == []


def test_unreachable_database_is_fatal(run_sync, ids_file, api):
    result = run_sync("postgresql://nobody@127.0.0.1:1/none", ids_file)
    assert result.exit_code == 3
    assert "cannot connect to postgresql+psycopg://nobody@127.0.0.1:1/none" in result.stderr
    assert api.requests == []


def test_ids_from_stdin(run_sync, sqlite_url, batches):
    text = "".join(f"{b['id'].upper()}\r\n" for b in batches[:3])
    result = run_sync(sqlite_url, "-", input=text)
    assert result.exit_code == 0, result.output
    loaded = [row["batch_id"] for row in read_table(sqlite_url, "batches")]
    assert loaded == sorted(b["id"] for b in batches[:3])
    assert read_table(sqlite_url, "etl_runs")[0]["id_source"] == "<stdin>"


def test_summary_line_and_verbose_detail(run_sync, sqlite_url, ids_file, batches):
    quiet = run_sync(sqlite_url, ids_file)
    assert quiet.stdout.strip().startswith("run 1 succeeded: 12 ids, 12 fetched, 12 inserted")
    assert quiet.stderr == ""
    verbose = run_sync(sqlite_url, ids_file, "--verbose")
    assert f"batch {batches[0]['id']} unchanged" in verbose.stderr
    assert verbose.stdout.startswith("run 2 succeeded")


def test_demo_fills_a_sqlite_file(tmp_path):
    target = tmp_path / "demo.db"
    args = ["demo", "--database", str(target), "--batches", "5", "--nights", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "5 inserted" in result.stdout and str(target) in result.stdout
    rows = read_table(f"sqlite:///{target}", "batches")
    assert len(rows) == 5 and all(row["name"] for row in rows)


def test_the_token_never_appears_in_output_or_database(
    run_sync, sqlite_url, tmp_path, api, batches
):
    from etl.imitation.server import Fault, error_body

    def echo(status: int) -> bytes:
        return error_body(status, "ECHO", "Echo", f"token {TOKEN} is not allowed here")

    api.inject(batches[0]["id"], Fault.http(400, body=echo(400)))
    api.inject(batches[1]["id"], Fault.raw_body(f"<html>{TOKEN}</html>"))
    api.inject(batches[2]["id"], *[Fault.http(503, body=echo(503))] * 2)
    api.inject(batches[3]["id"], Fault.http(403, body=echo(403)))
    # Dropped twice: libcurl re-sends once by itself on a kept-alive connection that dies
    # before answering (as on one the server closed while idle).
    api.inject(batches[4]["id"], Fault.http(429, body=echo(429)), Fault.drop(), Fault.drop())
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join([b["id"] for b in batches[:6]] + ["nope", str(uuid.uuid4())]))
    results = [
        run_sync(sqlite_url, ids, "--verbose", "--max-attempts", "2", "--max-retry-wait", "1"),
        run_sync(sqlite_url, ids, "--verbose", token=TOKEN + "-wrong"),
    ]
    assert [r.exit_code for r in results] == [1, 3]
    for result in results:
        assert TOKEN not in result.output
    for table in ("etl_failures", "etl_runs", "batches"):
        assert TOKEN not in repr(read_table(sqlite_url, table))
    raw = (tmp_path / "etl.db").read_bytes()
    assert TOKEN.encode() not in raw and TOKEN[:8].encode() not in raw
    failures = read_table(sqlite_url, "etl_failures")
    assert [f["run_id"] for f in failures] == [1] * 7 + [2]  # run 2 stopped after its bad line
    assert "token *** is not allowed here" in results[0].stderr


def test_an_internal_error_is_exit_3_never_exit_1(run_sync, sqlite_url, ids_file, monkeypatch):
    import etl.cli

    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(etl.cli, "sync", explode)
    result = run_sync(sqlite_url, ids_file)
    assert result.exit_code == 3
    assert "internal error: RuntimeError: bug" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["sync", "--ids", "ids.txt"], ["runs"], ["export", "batches"], ["db", "upgrade"]],
    ids=["sync", "runs", "export", "db upgrade"],
)
def test_a_malformed_database_url_is_a_usage_error_without_the_password(command, tmp_path):
    (tmp_path / "ids.txt").write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
    env = {"PROLIFIC_API_TOKEN": TOKEN, "DATABASE_URL": "postgresql://etl:s3cret@db:port/etl"}

    result = CliRunner().invoke(main, command, env=env)

    assert result.exit_code == 2, result.output
    assert "DATABASE_URL is not a database URL" in result.stderr
    assert "s3cret" not in result.output


# Issue 12, finding 9: credentials in PROLIFIC_API_URL were printed and stored in etl_runs.
def test_credentials_in_the_api_url_never_appear_in_output_or_database(sqlite_url, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{uuid.uuid4()}\n" for _ in range(25)), encoding="utf-8")
    env = {
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": "http://user:s3cret@127.0.0.1:9",  # nothing listens there
        "DATABASE_URL": sqlite_url,
    }

    result = CliRunner().invoke(
        main, ["sync", "--ids", str(ids), "--max-attempts", "1", "--concurrency", "1"], env=env
    )

    assert result.exit_code == 3, result.output
    assert "could not reach http://***@127.0.0.1:9" in result.stderr
    assert "s3cret" not in result.output
    runs = read_table(sqlite_url, "etl_runs")
    assert [run["status"] for run in runs] == ["failed"]
    assert "could not reach http://***@127.0.0.1:9" in runs[0]["error_message"]
    for table in ("etl_runs", "etl_failures"):
        assert "s3cret" not in repr(read_table(sqlite_url, table))


# Issue 12, finding 10: configuration mistakes were reported as "internal error" (a bug).
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--database-url", "http://x"],
            "DATABASE_URL names an unsupported database 'http' (http://x): "
            "use sqlite:///FILE, postgresql://..., mysql://... or mariadb://...",
        ),
        (
            ["--database-url", "oracle://etl:s3cret@h/db"],
            "DATABASE_URL names an unsupported database 'oracle' (oracle://etl:***@h/db): "
            "use sqlite:///FILE, postgresql://..., mysql://... or mariadb://...",
        ),
        (
            ["--database-url", "sqlite://"],
            "DATABASE_URL names an in-memory SQLite database, whose rows would be lost when "
            "the command ends: name a file, such as sqlite:///prolific.db",
        ),
        (
            ["--database-url", "sqlite:///:memory:"],
            "DATABASE_URL names an in-memory SQLite database, whose rows would be lost when "
            "the command ends: name a file, such as sqlite:///prolific.db",
        ),
        (
            ["--connect-timeout", "nan"],
            "ETL_CONNECT_TIMEOUT must be a number of seconds greater than 0 and at most 3600, "
            "got 'nan'",
        ),
        (
            ["--read-timeout", "inf"],
            "ETL_READ_TIMEOUT must be a number of seconds greater than 0 and at most 3600, "
            "got 'inf'",
        ),
        (
            ["--read-timeout", "1e300"],
            "ETL_READ_TIMEOUT must be a number of seconds greater than 0 and at most 3600, "
            "got '1e+300'",
        ),
        (
            ["--api-url", "http://[::1"],
            "PROLIFIC_API_URL is not a valid URL (Invalid IPv6 URL): 'http://[::1'",
        ),
    ],
    ids=[
        "http database",
        "oracle",
        "sqlite://",
        ":memory:",
        "nan timeout",
        "inf timeout",
        "1e300 timeout",
        "unparseable api url",
    ],
)
def test_a_configuration_mistake_is_a_usage_error_naming_the_setting(tmp_path, args, message):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
    env = {"PROLIFIC_API_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path / 'etl.db'}"}

    result = CliRunner().invoke(main, ["sync", "--ids", str(ids), *args], env=env)

    assert result.exit_code == 2, result.output
    assert result.stderr == f"prolific-etl: error: {message}\n"
    assert result.stdout == ""
    assert not (tmp_path / "etl.db").exists()


@pytest.mark.parametrize("command", [["runs"], ["export", "batches"], ["db", "upgrade"]])
@pytest.mark.parametrize(
    "url, message",
    [
        ("http://x", "DATABASE_URL names an unsupported database 'http'"),
        ("sqlite:///:memory:", "DATABASE_URL names an in-memory SQLite database"),
    ],
)
def test_an_unusable_database_url_is_a_usage_error_for_every_command(command, url, message):
    result = CliRunner().invoke(main, command, env={"DATABASE_URL": url})

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"prolific-etl: error: {message}")


# Issue 12, finding 10: `--ids -` with stdin closed was an internal error.
@pytest.mark.parametrize(
    "stdin, reason",
    [("closed", "it is closed"), ("write-only", "Bad file descriptor")],
)
def test_ids_from_a_standard_input_that_cannot_be_read_is_a_usage_error(
    sqlite_url, tmp_path, stdin, reason
):
    env = {
        **os.environ,
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": "http://127.0.0.1:9",
        "DATABASE_URL": sqlite_url,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    command = [sys.executable, "-m", "etl", "sync", "--ids", "-"]
    if stdin == "closed":
        command = ["sh", "-c", 'exec "$@" <&-', "sh", *command]
        source = None
    else:
        source = os.open(tmp_path / "ids.txt", os.O_WRONLY | os.O_CREAT)

    try:
        completed = subprocess.run(
            command, stdin=source, capture_output=True, text=True, env=env, timeout=60
        )
    finally:
        if source is not None:
            os.close(source)

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr == (
        f"prolific-etl: error: cannot read ID file from standard input: {reason} "
        "(pipe the batch IDs in, or pass a file)\n"
    )
    assert completed.stdout == ""
    assert not (tmp_path / "etl.db").exists()


# Issue 12, finding 6: a search_path naming no existing schema exited 4 ("another run holds
# the lock") on every sync.
@pytest.mark.parametrize(
    "command",
    [["sync", "--ids", "ids.txt"], ["db", "upgrade"], ["runs"], ["export", "batches"]],
    ids=["sync", "db upgrade", "runs", "export"],
)
def test_a_search_path_naming_a_missing_schema_is_a_usage_error(
    missing_schema, api, tmp_path, command
):
    (tmp_path / "ids.txt").write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
    env = {
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api.url,
        "DATABASE_URL": missing_schema.url,
    }

    result = CliRunner().invoke(main, command, env=env)

    name = missing_schema.schema
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"prolific-etl: error: DATABASE_URL's search_path ({name}) names no schema that exists "
        f"in database test: create it (CREATE SCHEMA {name};) or correct search_path\n"
    )
    assert api.requests == []


# Issue 23, item 8: nan passed FloatRange (every comparison with nan is false) and could hang
# the pacing; inf as a rate is no rate at all.
@pytest.mark.parametrize(
    "option, value",
    [("--max-rps", "nan"), ("--max-rps", "inf"), ("--max-retry-wait", "nan")],
)
def test_a_rate_or_wait_that_is_not_a_finite_number_is_a_usage_error(
    tmp_path, sqlite_url, option, value
):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
    env = {"PROLIFIC_API_TOKEN": TOKEN, "DATABASE_URL": sqlite_url}

    result = CliRunner().invoke(main, ["sync", "--ids", str(ids), option, value], env=env)

    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr
    assert f"{value!r} is not a finite number" in result.stderr


# Issue 23, item 8: these exited 3 ("cannot connect"), as if the server were down.
@pytest.mark.parametrize(
    "url, message",
    [
        (
            "sqlite:///{tmp}",
            "DATABASE_URL names the directory {tmp}, not a SQLite file: name a file in it, "
            "such as sqlite:///{tmp}/prolific.db",
        ),
        (
            "sqlite:///{tmp}/missing/etl.db",
            "DATABASE_URL names {tmp}/missing/etl.db, but the directory {tmp}/missing does not "
            "exist: create the directory or point DATABASE_URL elsewhere",
        ),
        (
            "postgresql://etl:s3cret@127.0.0.1:99999/etl",
            "DATABASE_URL names port 99999, which no server can listen on "
            "(postgresql://etl:***@127.0.0.1:99999/etl): a port is 1 to 65535",
        ),
        # Item 12: the schema went into the server's own database, named like the user.
        (
            "postgresql://postgres:s3cret@127.0.0.1:5432/",
            "DATABASE_URL names no database: postgresql://postgres:***@127.0.0.1:5432/ "
            "(add /<database> at the end)",
        ),
    ],
    ids=["sqlite directory", "sqlite in a missing directory", "port 99999", "no database"],
)
@pytest.mark.parametrize(
    "command",
    [["sync", "--ids", "ids.txt"], ["db", "upgrade"], ["runs"]],
    ids=["sync", "db upgrade", "runs"],
)
def test_a_database_url_that_cannot_work_is_a_usage_error(
    tmp_path, monkeypatch, command, url, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ids.txt").write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
    env = {"PROLIFIC_API_TOKEN": TOKEN, "DATABASE_URL": url.format(tmp=tmp_path)}

    result = CliRunner().invoke(main, command, env=env)

    assert result.exit_code == 2, result.output
    assert result.stderr == f"prolific-etl: error: {message.format(tmp=tmp_path)}\n"
    assert "s3cret" not in result.output


# Issue 23, item 13: after a wheel install without extras, the advice was to leave out the
# driver, which the URL already did.
@pytest.mark.parametrize(
    "url, module, shown, extra",
    [
        ("postgresql://etl:s3cret@db/etl", "psycopg", "postgresql://etl:***@db/etl", "postgres"),
        ("mysql://etl:s3cret@db/etl", "pymysql", "mysql://etl:***@db/etl", "mysql"),
    ],
)
def test_a_missing_driver_names_the_extra_that_installs_it(
    monkeypatch, tmp_path, url, module, shown, extra
):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    (tmp_path / "ids.txt").write_text(f"{uuid.uuid4()}\n", encoding="utf-8")

    result = CliRunner().invoke(
        main,
        ["sync", "--ids", str(tmp_path / "ids.txt")],
        env={"PROLIFIC_API_TOKEN": TOKEN, "DATABASE_URL": url},
    )

    assert result.exit_code == 2, result.output
    backend = url.split(":")[0]
    driver = module
    assert result.stderr == (
        f"prolific-etl: error: DATABASE_URL needs the {backend} driver {driver!r}, which is not "
        f"installed ({shown}): install it with pip install 'prolific-etl[{extra}]'\n"
    )
