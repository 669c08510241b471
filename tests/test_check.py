"""``prolific-etl check``: every setup problem is named, with its fix, and nothing is written."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from etl.cli import main
from etl.store.migrate import head_revision

from conftest import TOKEN
from support import upgrade_to


def run_check(api, database_url: str, *args: str, token: str | None = TOKEN):
    env = {"PROLIFIC_API_URL": api.url, "DATABASE_URL": database_url}
    if token is not None:
        env["PROLIFIC_API_TOKEN"] = token
    return CliRunner().invoke(main, ["check", *args], env=env, catch_exceptions=False)


def statuses(output: str) -> dict[str, str]:
    """{check name: PASSED/FAILED/SKIPPED} from the command's output."""
    found = re.findall(
        r"^(PASSED|FAILED|SKIPPED) +(configuration|API token|database|schema|ID file) ",
        output,
        re.MULTILINE,
    )
    return {name: status for status, name in found}


def test_a_good_setup_passes_every_check(api, database_url, run_sync, ids_file):
    assert run_sync(database_url, ids_file).exit_code == 0

    result = run_check(api, database_url, "--ids", str(ids_file))

    assert result.exit_code == 0, result.output
    assert statuses(result.output) == {
        "configuration": "PASSED",
        "API token": "PASSED",
        "database": "PASSED",
        "schema": "PASSED",
        "ID file": "PASSED",
    }
    assert f"revision {head_revision()}, current" in result.output
    assert f"{ids_file}: 12 batch ID(s)" in result.output
    assert result.output.rstrip().endswith("ready: every check passed")
    # The token probe asked for one made-up batch, then for the workspaces (which every API
    # has, to tell a wrong path from a missing batch), with the token.
    batch_probe, workspaces_probe = api.requests[-2:]
    assert batch_probe.authorized
    assert batch_probe.batch_id == "00000000-0000-0000-0000-000000000000"
    assert workspaces_probe.authorized
    assert workspaces_probe.path == "/api/v1/workspaces/"


def test_what_the_api_says_is_shown_on_one_line_without_the_token(api, sqlite_url):
    from etl.check import PROBE_BATCH_ID
    from etl.imitation.server import Fault, error_body

    detail = f"no batch for token {TOKEN.upper()}\n\x1b[2J"
    api.inject(PROBE_BATCH_ID, Fault.http(404, body=error_body(404, "NOT_FOUND", "Gone", detail)))

    result = run_check(api, sqlite_url)

    assert statuses(result.output)["API token"] == "PASSED"
    assert (
        f"accepted by {api.url} (HTTP 404 for a made-up batch: "
        "Gone no batch for token ***\\n\\x1b[2J [NOT_FOUND])\n"
    ) in result.output
    assert TOKEN.upper()[:8] not in result.output


def test_a_new_sqlite_database_is_fine_and_is_not_created(api, tmp_path, ids_file):
    database = tmp_path / "new.db"

    result = run_check(api, f"sqlite:///{database}", "--ids", str(ids_file))

    assert result.exit_code == 0, result.output
    assert "the first sync creates this SQLite file" in result.output
    assert not database.exists()


def test_no_token_fails_configuration_and_skips_the_token_check(api, sqlite_url):
    result = run_check(api, sqlite_url, token=None)

    assert result.exit_code == 1
    assert statuses(result.output)["configuration"] == "FAILED"
    assert statuses(result.output)["API token"] == "SKIPPED"
    assert "no API token: set PROLIFIC_API_TOKEN" in result.output
    assert "fix: set it in the environment or in .env" in result.output
    assert statuses(result.output)["database"] == "PASSED"
    assert api.requests == []


def test_a_rejected_token_fails_with_the_fix(api, sqlite_url):
    result = run_check(api, sqlite_url, token="revoked-token-123")

    assert result.exit_code == 1
    assert statuses(result.output)["API token"] == "FAILED"
    assert f"{api.url} rejected the token (HTTP 401)" in result.output
    assert "fix: create a new token" in result.output
    assert result.output.rstrip().endswith("1 check(s) failed")


def test_an_unreachable_api_is_not_called_a_bad_token(sqlite_url):
    result = CliRunner().invoke(
        main,
        ["check"],
        env={
            "PROLIFIC_API_TOKEN": TOKEN,
            "PROLIFIC_API_URL": "http://127.0.0.1:9",
            "DATABASE_URL": sqlite_url,
            "ETL_CONNECT_TIMEOUT": "2",
        },
    )
    assert result.exit_code == 1
    assert "cannot get an answer from http://127.0.0.1:9" in result.output
    assert "fix: check PROLIFIC_API_URL" in result.output


def test_an_api_host_that_does_not_resolve_fails_the_check_without_a_traceback(sqlite_url):
    # It raised ApiUnreachableError out of `check` (a traceback), as did an untrusted TLS
    # certificate or an unreachable proxy.
    env = {
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": "http://api.prolific.invalid",
        "DATABASE_URL": sqlite_url,
    }
    result = CliRunner().invoke(main, ["check"], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    assert statuses(result.output)["API token"] == "FAILED"
    assert "the host name api.prolific.invalid does not resolve" in result.output
    assert statuses(result.output)["database"] == "PASSED"
    assert result.output.rstrip().endswith("1 check(s) failed")


def test_an_unreachable_database_fails_and_skips_the_schema(api):
    url = "postgresql://etl:secret-pw@127.0.0.1:9/nowhere"

    result = run_check(api, url)

    assert result.exit_code == 1
    assert statuses(result.output)["database"] == "FAILED"
    assert statuses(result.output)["schema"] == "SKIPPED"
    assert "cannot connect to postgresql+psycopg://etl:***@127.0.0.1:9/nowhere" in result.output
    assert "secret-pw" not in result.output
    assert "fix: check DATABASE_URL" in result.output


def test_a_sqlite_file_in_a_missing_directory_fails(api, tmp_path):
    result = run_check(api, f"sqlite:///{tmp_path / 'no-such-dir' / 'etl.db'}")

    assert result.exit_code == 1
    assert f"the directory {tmp_path / 'no-such-dir'} does not exist" in result.output


def test_an_outdated_schema_fails_with_the_upgrade_command(api, database_url):
    upgrade_to(database_url, "0001")

    result = run_check(api, database_url)

    assert result.exit_code == 1
    assert statuses(result.output)["database"] == "PASSED"
    assert statuses(result.output)["schema"] == "FAILED"
    assert f"revision 0001, but this version needs {head_revision()}" in result.output
    assert "fix: run `prolific-etl db upgrade`" in result.output


def test_bad_id_lines_are_listed_with_file_and_line(api, sqlite_url, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text(
        "# tonight's batches\n"
        "0b9c5c1e-8f1e-4a4e-9f3a-2d6f0c6b7a11\n"
        "not-a-batch-id\n"
        "0b9c5c1e-8f1e-4a4e-9f3a-2d6f0c6b7a1\n",
        encoding="utf-8",
    )

    result = run_check(api, sqlite_url, "--ids", str(ids))

    assert result.exit_code == 1
    assert statuses(result.output)["ID file"] == "FAILED"
    assert "2 bad line(s) beside 1 valid ID(s)" in result.output
    assert f"{ids}:3: " in result.output and "'not-a-batch-id'" in result.output
    assert f"{ids}:4: " in result.output


def test_a_missing_id_file_fails(api, sqlite_url, tmp_path):
    result = run_check(api, sqlite_url, "--ids", str(tmp_path / "missing.txt"))

    assert result.exit_code == 1
    assert statuses(result.output)["ID file"] == "FAILED"
    assert "missing.txt" in result.output


def test_check_writes_nothing(api, sqlite_url, run_sync, ids_file, tmp_path):
    assert run_sync(sqlite_url, ids_file).exit_code == 0
    database = tmp_path / "etl.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    assert run_check(api, sqlite_url, "--ids", str(ids_file)).exit_code == 0

    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_a_server_that_is_not_the_api_is_not_taken_for_an_accepted_token(sqlite_url, tmp_path):
    # A static file server answers 404 for any path, but not with the API's error body.
    (tmp_path / "www").mkdir()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = CliRunner().invoke(
            main,
            ["check"],
            env={"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": url, "DATABASE_URL": sqlite_url},
        )
    finally:
        server.shutdown()
        server.server_close()

    assert result.exit_code == 1
    assert statuses(result.output)["API token"] == "FAILED"
    assert f"{url} answered HTTP 404, not as Prolific's API does" in result.output


def test_a_bad_database_url_is_named_even_without_a_token(api):
    result = run_check(api, "postgresql://etl:pw@db.example:notaport/etl", token=None)

    assert result.exit_code == 1
    assert statuses(result.output)["database"] == "FAILED"
    assert "DATABASE_URL is not a database URL" in result.output
    assert "pw" not in result.output


def test_a_file_that_is_not_a_database_fails_cleanly(api, tmp_path):
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are my notes, not a database\n" * 100, encoding="utf-8")

    result = run_check(api, f"sqlite:///{not_a_database}")

    assert result.exit_code == 1
    assert statuses(result.output)["database"] == "FAILED"
    assert "cannot read the schema: file is not a database" in result.output
    assert statuses(result.output)["schema"] == "SKIPPED"


# Issue 12, finding 9: credentials in PROLIFIC_API_URL were printed by check.
def test_credentials_in_the_api_url_are_shown_as_stars(api, sqlite_url):
    with_credentials = api.url.replace("http://", "http://user:s3cret@")

    accepted = CliRunner().invoke(
        main,
        ["check"],
        env={
            "PROLIFIC_API_TOKEN": TOKEN,
            "PROLIFIC_API_URL": with_credentials,
            "DATABASE_URL": sqlite_url,
        },
    )
    rejected = CliRunner().invoke(
        main,
        ["check"],
        env={
            "PROLIFIC_API_TOKEN": "revoked-token-123",
            "PROLIFIC_API_URL": with_credentials,
            "DATABASE_URL": sqlite_url,
        },
    )

    shown = api.url.replace("http://", "http://***@")
    assert accepted.exit_code == 0, accepted.output
    assert f"API {shown}, database" in accepted.output
    assert f"accepted by {shown}" in accepted.output
    assert rejected.exit_code == 1, rejected.output
    assert f"{shown} rejected the token (HTTP 401)" in rejected.output
    assert "s3cret" not in accepted.output + rejected.output


# Issue 12, finding 10: an in-memory database would pass every check and keep nothing.
def test_an_in_memory_database_fails_with_the_fix(api):
    result = run_check(api, "sqlite:///:memory:")

    assert result.exit_code == 1
    assert statuses(result.output) == {
        "configuration": "FAILED",
        "API token": "SKIPPED",
        "database": "FAILED",
        "schema": "SKIPPED",
        "ID file": "SKIPPED",
    }
    assert "DATABASE_URL names an in-memory SQLite database" in result.output
    assert "name a file, such as sqlite:///prolific.db" in result.output


# Issue 12, finding 6: check said all was well while every sync exited 4.
def test_a_search_path_naming_a_missing_schema_fails_the_schema_check(api, missing_schema):
    result = run_check(api, missing_schema.url)

    name = missing_schema.schema
    assert result.exit_code == 1, result.output
    assert statuses(result.output) == {
        "configuration": "PASSED",
        "API token": "PASSED",
        "database": "PASSED",
        "schema": "FAILED",
        "ID file": "SKIPPED",
    }
    assert (
        f"DATABASE_URL's search_path ({name}) names no schema that exists in database test"
        in result.output
    )
    assert f"fix: create it (CREATE SCHEMA {name};) or correct search_path" in result.output


# Issue 23, item 7: under a wrong path the API answers 404 in its own shape, which was
# taken for "token accepted"; every batch of the sync then failed not_found.
def test_an_api_url_with_a_wrong_path_fails_the_token_check(api, sqlite_url):
    wrong = f"{api.url}/api/v1"

    result = CliRunner().invoke(
        main,
        ["check"],
        env={"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": wrong, "DATABASE_URL": sqlite_url},
    )

    assert result.exit_code == 1, result.output
    assert statuses(result.output)["API token"] == "FAILED"
    assert (
        f"{wrong} answered HTTP 404 for /api/v1/workspaces/, not as Prolific's API does; "
        "the token is not checked"
    ) in result.output
    assert "fix: check PROLIFIC_API_URL: it is the API's base URL" in result.output


def unprivileged(command: list[str]) -> list[str]:
    """``command`` run so that file modes apply to it (as root: in a user namespace)."""
    if os.geteuid() != 0:
        return command
    if subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root, and cannot create a user namespace to drop that")
    return ["unshare", "--user", *command]


# Issue 23, item 7: check said "ready" for a database that every sync then failed to write.
@pytest.mark.parametrize(
    "read_only, existing, message",
    [
        ("database", True, "cannot write the SQLite database {database}: Permission denied"),
        (
            "directory",
            True,
            "cannot create files in {directory}, where the SQLite database {database} keeps "
            "its journal: Permission denied",
        ),
        (
            "directory",
            False,
            "cannot create files in {directory}, where the SQLite database {database} would "
            "be created: Permission denied",
        ),
    ],
    ids=["read-only file", "read-only directory", "new file in a read-only directory"],
)
def test_a_sqlite_database_this_user_cannot_write_fails_with_the_fix(
    api, tmp_path, run_sync, ids_file, read_only, existing, message
):
    directory = tmp_path / "data"
    directory.mkdir()
    database = directory / "etl.db"
    if existing:
        assert run_sync(f"sqlite:///{database}", ids_file).exit_code == 0
    target = directory if read_only == "directory" else database
    mode = target.stat().st_mode
    target.chmod(0o555 if read_only == "directory" else 0o444)
    env = {
        **os.environ,
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api.url,
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    try:
        completed = subprocess.run(
            unprivileged([sys.executable, "-m", "etl", "check"]),
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        target.chmod(mode)

    assert completed.returncode == 1, completed.stdout
    assert statuses(completed.stdout)["database"] == "FAILED"
    assert message.format(directory=directory, database=database) in completed.stdout
    assert "fix: let the user that runs the job write the SQLite file" in completed.stdout


def test_a_sqlite_database_opened_read_only_fails(api, sqlite_url, run_sync, ids_file, tmp_path):
    assert run_sync(sqlite_url, ids_file).exit_code == 0
    read_only = f"sqlite:///file:{tmp_path / 'etl.db'}?mode=ro&uri=true"

    result = run_check(api, read_only)

    assert result.exit_code == 1, result.output
    assert statuses(result.output)["database"] == "FAILED"
    assert "refuses writes: attempt to write a readonly database" in result.output
    assert "fix: connect as a user that may write the prolific-etl tables" in result.output


@pytest.fixture
def select_only_user(database_url: str) -> Iterator[str]:
    """``database_url`` (PostgreSQL, with the schema made) as a new role that may only read."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("roles are made here for PostgreSQL only")
    upgrade_to(database_url, "head")
    role = f"reader_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar()
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
    try:
        yield url.set(username=role, password=None).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_a_select_only_postgresql_user_fails_with_the_fix(api, select_only_user):
    result = run_check(api, select_only_user)

    assert result.exit_code == 1, result.output
    assert statuses(result.output)["database"] == "FAILED"
    assert "refuses writes: permission denied for table etl_runs" in result.output
    assert "fix: connect as a user that may write the prolific-etl tables (GRANT" in result.output
    assert statuses(result.output)["schema"] == "PASSED"
