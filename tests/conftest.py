"""Shared fixtures: the local API imitation, and a fresh database per test on each dialect.

PostgreSQL and MySQL/MariaDB run when ETL_TEST_POSTGRES_URL / ETL_TEST_MYSQL_URL are set; each
test gets its own schema (PostgreSQL) or database (MariaDB), dropped afterwards. A URL that is
set but unreachable fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from etl.cli import main
from etl.config import normalize_database_url
from etl.imitation.server import FakeProlificAPI, sample_batches

TOKEN = "test-token-5f2c9a81d4e6b7"
POSTGRES_URL = os.environ.get("ETL_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("ETL_TEST_MYSQL_URL")
DIALECT_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="ETL_TEST_POSTGRES_URL not set"),
    ),
    pytest.param(
        "mysql",
        id="mysql",
        marks=pytest.mark.skipif(not MYSQL_URL, reason="ETL_TEST_MYSQL_URL not set"),
    ),
]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings or .env, or writes to the working directory."""
    for name in (
        "PROLIFIC_API_TOKEN",
        "PROLIFIC_API_URL",
        "DATABASE_URL",
        "ETL_CONNECT_TIMEOUT",
        "ETL_READ_TIMEOUT",
        "ETL_RESPONSES",
        "ETL_SUBMISSIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def batches() -> list[dict]:
    """Twelve spec-shaped batches with awkward text and shared datasets."""
    return sample_batches(12, seed=42, datasets=6)


@pytest.fixture
def api(batches: list[dict]) -> Iterator[FakeProlificAPI]:
    with FakeProlificAPI(batches, token=TOKEN) as server:
        yield server


def _scratch_database(
    base: str, create: str, drop: str, url_for, before_drop=lambda connection, name: None
) -> Iterator[str]:
    """Create a uniquely named schema or database, yield a URL into it, drop it afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(normalize_database_url(base))
    # A connection that waits on a dead socket fails instead of hanging the suite.
    options = {"read_timeout": 30} if url.get_backend_name() == "mysql" else {}
    admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args=options)
    with admin.connect() as connection:
        connection.execute(text(create.format(name=name)))
    admin.dispose()
    try:
        yield url_for(url, name).render_as_string(hide_password=False)
    finally:
        # A fresh connection: tests cut connections (TcpProxy), and once in a long while a
        # pooled one was caught by it and the DROP waited on it for a minute.
        with admin.connect() as connection:
            before_drop(connection, name)
            connection.execute(text(drop.format(name=name)))
        admin.dispose()


def _postgres_database(base: str) -> Iterator[str]:
    return _scratch_database(
        base,
        'CREATE SCHEMA "{name}"',
        'DROP SCHEMA "{name}" CASCADE',
        lambda url, name: url.update_query_dict({"options": f"-csearch_path={name}"}),
        before_drop=_end_postgres_sessions_in,
    )


def _mysql_database(base: str) -> Iterator[str]:
    return _scratch_database(
        base,
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        "DROP DATABASE `{name}`",
        lambda url, name: url.set(database=name),
        before_drop=_end_sessions_in,
    )


def _end_postgres_sessions_in(connection, name: str) -> None:
    """End the sessions holding locks on schema ``name``'s tables, so that dropping it does
    not wait on them.

    A connection cut mid-transaction (TcpProxy) can leave its server session holding locks
    until the server notices the client is gone. Once, in a full run beside other suites, a
    DROP SCHEMA after such a test waited for over fifteen minutes (cause not pinned down);
    with a lock timeout it fails after a minute instead of hanging the suite.
    """
    holders = connection.execute(
        text(
            "SELECT DISTINCT l.pid FROM pg_locks l "
            "JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :name AND l.pid <> pg_backend_pid()"
        ),
        {"name": name},
    ).scalars()
    for pid in list(holders):
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    connection.execute(text("SET lock_timeout = '60s'"))


def _end_sessions_in(connection, name: str) -> None:
    """End the sessions still using database ``name``, so that dropping it does not wait.

    A test that cuts a connection mid-transaction (TcpProxy) can leave its server session
    holding table locks for a while; DROP DATABASE would wait for them.
    """
    sessions = connection.execute(
        text(
            "SELECT id FROM information_schema.processlist "
            "WHERE db = :name AND id <> CONNECTION_ID()"
        ),
        {"name": name},
    ).scalars()
    for session in list(sessions):
        try:
            connection.execute(text(f"KILL {int(session)}"))
        except DBAPIError:
            pass  # it ended meanwhile


@pytest.fixture(params=DIALECT_PARAMS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own, on each configured dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'etl.db'}"
    elif request.param == "postgresql":
        yield from _postgres_database(POSTGRES_URL)
    else:
        yield from _mysql_database(MYSQL_URL)


class MissingSchema(NamedTuple):
    url: str
    schema: str


@pytest.fixture
def missing_schema() -> MissingSchema:
    """A PostgreSQL URL whose search_path names a schema that does not exist."""
    if not POSTGRES_URL:
        pytest.skip("ETL_TEST_POSTGRES_URL not set")
    name = f"nosuch_{uuid.uuid4().hex[:12]}"
    url = make_url(normalize_database_url(POSTGRES_URL))
    url = url.update_query_dict({"options": f"-csearch_path={name}"})
    return MissingSchema(url.render_as_string(hide_password=False), name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'etl.db'}"


@pytest.fixture
def ids_file(tmp_path: Path, batches: list[dict]) -> Path:
    path = tmp_path / "batch_ids.txt"
    path.write_text("".join(f"{batch['id']}\n" for batch in batches), encoding="utf-8")
    return path


@pytest.fixture
def run_sync(api: FakeProlificAPI):
    """Run ``prolific-etl sync`` through the CLI against the local API."""

    def run(
        database_url: str,
        ids: Path | str,
        *extra: str,
        token: str = TOKEN,
        input: str | None = None,
    ):
        env = {
            "PROLIFIC_API_TOKEN": token,
            "PROLIFIC_API_URL": api.url,
            "DATABASE_URL": database_url,
            "ETL_READ_TIMEOUT": "5",
        }
        return CliRunner().invoke(
            main, ["sync", "--ids", str(ids), *extra], env=env, input=input, catch_exceptions=False
        )

    return run


# The longest files first. scripts/test hands whole files to its two workers (--dist loadfile)
# in the order they were collected, and a long file handed out last keeps one worker busy
# while the other has nothing left: test_studies.py, alphabetically near the end, ran alone
# for the last four minutes of a 14-minute run. Each file's own order is kept.
LONGEST_FIRST = (
    "test_studies.py",
    "test_responses.py",
    "test_discovery.py",
    "test_stops.py",
    "test_writer.py",
    "test_install.py",
    "test_crash_and_concurrency.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    place = {name: number for number, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: place.get(item.path.name, len(place)))
