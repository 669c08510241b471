"""Crash safety (kill -9), overlapping runs, and the database going away mid-run."""

from __future__ import annotations

import fcntl
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from etl.cli import main
from etl.config import Settings
from etl.errors import DatabaseUnavailableError, RunLockedError
from etl.imitation.server import FakeProlificAPI, sample_batches
from etl.job import sync
from etl.store.db import connect
from etl.store.lock import run_lock

from conftest import MYSQL_URL, POSTGRES_URL, TOKEN
from support import (
    TcpProxy,
    content_of,
    expected_batch_row,
    expected_links,
    read_table,
)

REPO = Path(__file__).resolve().parent.parent
WAIT = 60  # seconds; a bound on waiting for an event, never a sleep


def start_sync(
    api_url: str, database_url: str, ids: Path, *args: str, new_session: bool = False
) -> subprocess.Popen:
    env = {
        **os.environ,
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api_url,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "etl", "sync", "--ids", str(ids), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,  # a process group of its own, to signal as a whole
    )


def cli_sync(api_url: str, database_url: str, ids: Path, *args: str):
    env = {"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": api_url, "DATABASE_URL": database_url}
    return CliRunner().invoke(main, ["sync", "--ids", str(ids), *args], env=env)


@pytest.fixture
def many_batches() -> list[dict]:
    return sample_batches(60, seed=11, datasets=20)


@pytest.fixture
def many_ids(tmp_path, many_batches) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{b['id']}\n" for b in many_batches))
    return path


def assert_consistent(database_url: str, payloads: list[dict]) -> None:
    """Every stored batch is whole: its row and its links match its payload exactly."""
    by_id = {p["id"]: p for p in payloads}
    stored = read_table(database_url, "batches")
    assert len({row["batch_id"] for row in stored}) == len(stored)
    for row in stored:
        assert content_of(row) == expected_batch_row(by_id[row["batch_id"]])
    stored_ids = {row["batch_id"] for row in stored}
    assert read_table(database_url, "batch_datasets") == expected_links(
        [p for p in payloads if p["id"] in stored_ids]
    )
    assert {row["batch_id"] for row in read_table(database_url, "batch_last_seen")} == stored_ids
    linked = {row["dataset_id"] for row in read_table(database_url, "batch_datasets")}
    assert linked <= {row["dataset_id"] for row in read_table(database_url, "datasets")}


@pytest.mark.parametrize("kill_after_requests", [3, 17, 41])
@pytest.mark.parametrize(
    "dialect_url",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="ETL_TEST_POSTGRES_URL not set"),
        ),
    ],
)
def test_kill_9_mid_run_leaves_whole_batches_and_the_next_run_completes(
    request, tmp_path, many_batches, many_ids, dialect_url, kill_after_requests
):
    database_url = (
        f"sqlite:///{tmp_path / 'etl.db'}"
        if dialect_url == "sqlite"
        else request.getfixturevalue("database_url_postgresql")
    )
    victim: list[subprocess.Popen] = []
    killed = threading.Event()
    arrivals = itertools.count(1)

    def kill_at(seen) -> None:
        if next(arrivals) == kill_after_requests:
            victim[0].send_signal(signal.SIGKILL)
            killed.set()

    with FakeProlificAPI(many_batches, token=TOKEN, latency=0.01, on_request=kill_at) as api:
        victim.append(
            start_sync(api.url, database_url, many_ids, "--chunk-size", "5", "--concurrency", "2")
        )
        assert killed.wait(WAIT), "the run finished before it could be killed"
        victim[0].wait(WAIT)
        assert victim[0].returncode == -signal.SIGKILL

        assert_consistent(database_url, many_batches)
        assert [r["status"] for r in read_table(database_url, "etl_runs")] == ["running"]

        result = cli_sync(api.url, database_url, many_ids)

    assert result.exit_code == 0, result.output
    assert_consistent(database_url, many_batches)
    assert len(read_table(database_url, "batches")) == len(many_batches)
    runs = read_table(database_url, "etl_runs")
    assert [(r["run_id"], r["status"]) for r in runs] == [(1, "aborted"), (2, "succeeded")]
    assert runs[0]["error_message"] == "interrupted before it finished; found by run 2"


def test_a_second_run_on_the_same_database_exits_4_and_writes_nothing(
    database_url, many_batches, many_ids
):
    first_is_running = threading.Event()

    with (
        FakeProlificAPI(
            many_batches, token=TOKEN, latency=0.05, on_request=lambda seen: first_is_running.set()
        ) as api,
        FakeProlificAPI(many_batches, token=TOKEN) as api_of_second,
    ):
        first = start_sync(api.url, database_url, many_ids, "--concurrency", "1")
        assert first_is_running.wait(WAIT)
        second = cli_sync(api_of_second.url, database_url, many_ids)
        first.wait(WAIT * 2)

    assert second.exit_code == 4, second.output
    assert api_of_second.requests == []
    assert first.returncode == 0, first.stderr
    # Issue 15: the refusal names the run that holds the lock, since when, and what to do.
    started = read_table(database_url, "etl_runs")[0]["started_at"]
    assert "another prolific-etl run holds " in second.stderr
    assert (
        f"(run 1, running since {started:%Y-%m-%d %H:%M:%S} UTC); this one did nothing. Let it "
        "finish (`prolific-etl runs` shows how far it got), or stop its process if it hangs"
    ) in second.stderr
    # every request came from the first run
    assert len(api.requests_of("batch")) == len(many_batches)
    runs = read_table(database_url, "etl_runs")
    assert [(r["run_id"], r["status"], r["inserted"]) for r in runs] == [
        (1, "succeeded", len(many_batches))
    ]
    assert len(read_table(database_url, "batches")) == len(many_batches)


def create_schema(database_url: str) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output


# Issue 12, finding 8: the SQLite lock was keyed on the path, so the same file through a symlink
# or a hard link ran twice at once, and the second marked the live first one aborted.
@pytest.mark.parametrize(
    "link",
    [
        "symlink",
        pytest.param(
            "hard link",
            marks=pytest.mark.skipif(
                not hasattr(fcntl, "F_OFD_SETLK"), reason="no open file description locks here"
            ),
        ),
    ],
)
def test_a_second_run_through_another_name_of_the_same_file_exits_4(
    tmp_path, many_batches, many_ids, link
):
    database = tmp_path / "etl.db"
    create_schema(f"sqlite:///{database}")
    (tmp_path / "elsewhere").mkdir()
    alias = tmp_path / "elsewhere" / "alias.db"  # another directory: only the inode is shared
    if link == "symlink":
        alias.symlink_to(database)
    else:
        os.link(database, alias)
    first_is_running = threading.Event()

    with (
        FakeProlificAPI(
            many_batches, token=TOKEN, latency=0.05, on_request=lambda seen: first_is_running.set()
        ) as api,
        FakeProlificAPI(many_batches, token=TOKEN) as api_of_second,
    ):
        first = start_sync(api.url, f"sqlite:///{database}", many_ids, "--concurrency", "1")
        assert first_is_running.wait(WAIT)
        second = cli_sync(api_of_second.url, f"sqlite:///{alias}", many_ids)
        first.wait(WAIT * 2)

    assert second.exit_code == 4, second.output
    assert "another prolific-etl run holds" in second.stderr
    assert api_of_second.requests == []
    assert first.returncode == 0, first.stderr
    runs = read_table(f"sqlite:///{alias}", "etl_runs")
    assert [(r["run_id"], r["status"], r["inserted"]) for r in runs] == [
        (1, "succeeded", len(many_batches))
    ]


def unprivileged(command: list[str]) -> list[str]:
    """``command`` run so that file modes apply to it: as root, in a user namespace of its own
    (where root's owner bits still apply, but not its power to ignore them)."""
    if os.geteuid() != 0:
        return command
    if subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root, and cannot create a user namespace to drop that")
    return ["unshare", "--user", *command]


# Issue 12, finding 10: a directory where the lock file could not be created was an internal
# error. SQLite needs to write there too (its journal), so the run must stop at once, and say why.
@pytest.mark.parametrize(
    "command, read_only, existing, message",
    [
        (
            ["sync", "--ids", "ids.txt"],
            "directory",
            True,
            "cannot create files in {directory}, where the SQLite database {database} keeps "
            "its journal: Permission denied",
        ),
        (
            ["sync", "--ids", "ids.txt"],
            "database",
            True,
            "cannot write the SQLite database {database}: Permission denied",
        ),
        (
            ["db", "upgrade"],
            "directory",
            False,
            "cannot create files in {directory}, where the SQLite database {database} would "
            "be created: Permission denied",
        ),
    ],
    ids=["read-only directory", "read-only database", "new database in read-only directory"],
)
def test_a_database_this_user_cannot_write_is_a_usage_error(
    tmp_path, many_ids, command, read_only, existing, message
):
    directory = tmp_path / "data"
    directory.mkdir()
    database = directory / "etl.db"
    if existing:
        create_schema(f"sqlite:///{database}")
    before = sorted((p.name, p.read_bytes()) for p in directory.iterdir())
    (tmp_path / "ids.txt").write_text(many_ids.read_text())
    env = {
        **os.environ,
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": str(REPO),
    }
    target = directory if read_only == "directory" else database
    mode = target.stat().st_mode
    target.chmod(0o555 if read_only == "directory" else 0o444)
    try:
        completed = subprocess.run(
            unprivileged([sys.executable, "-m", "etl", *command]),
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=WAIT,
        )
    finally:
        target.chmod(mode)

    assert completed.returncode == 2, completed.stderr
    expected = message.format(directory=directory, database=database)
    assert completed.stderr == f"prolific-etl: error: {expected}\n"
    assert sorted((p.name, p.read_bytes()) for p in directory.iterdir()) == before


# Issue 12, finding 6: a search_path naming no existing schema made the lock key NULL, and
# every sync exited 4 "another run holds the lock".
def test_the_lock_key_is_never_null_whatever_the_search_path(missing_schema):
    first, second = create_engine(missing_schema.url), create_engine(missing_schema.url)
    try:
        with run_lock(first):
            with pytest.raises(RunLockedError), run_lock(second):
                pass
        with run_lock(second):  # released with the first
            pass
    finally:
        first.dispose()
        second.dispose()


def test_the_lock_is_free_again_after_a_run(database_url, api, ids_file):
    assert cli_sync(api.url, database_url, ids_file).exit_code == 0
    assert cli_sync(api.url, database_url, ids_file).exit_code == 0


def _through_proxy(url: str, proxy: TcpProxy) -> str:
    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_the_database_going_away_mid_run_is_fatal_and_keeps_what_was_committed(
    request, server, tmp_path, many_batches, many_ids
):
    if not {"postgresql": POSTGRES_URL, "mysql": MYSQL_URL}[server]:
        pytest.skip(f"no {server} URL set")
    database_url = request.getfixturevalue("database_url_" + server)
    direct = make_url(database_url)
    proxy = TcpProxy(direct.host, direct.port)
    arrivals = itertools.count(1)

    def cut_at(seen) -> None:
        # Counted in batches: the datasets' details are asked for between them (issue 22).
        if seen.kind == "batch" and next(arrivals) == 23:
            proxy.cut()

    with FakeProlificAPI(many_batches, token=TOKEN, on_request=cut_at) as api:
        settings = Settings(
            api_token=TOKEN, api_url=api.url, database_url=_through_proxy(database_url, proxy)
        )
        with pytest.raises(
            DatabaseUnavailableError, match="stopped accepting writes|cannot|run lock"
        ):
            sync(settings, str(many_ids), concurrency=1, chunk_size=5)
        requests_made = len(api.requests_of("batch"))

    assert requests_made <= 23 + 2 * 5  # the chunk being fetched, and the one ahead of it
    stored = read_table(database_url, "batches")
    assert 10 <= len(stored) < 25
    assert_consistent(database_url, many_batches)


@pytest.fixture
def database_url_postgresql():
    from conftest import _postgres_database

    yield from _postgres_database(POSTGRES_URL)


@pytest.fixture
def database_url_mysql():
    from conftest import _mysql_database

    yield from _mysql_database(MYSQL_URL)


def test_sigterm_ends_the_run_as_aborted_with_exit_130(tmp_path, many_batches, many_ids):
    database_url = f"sqlite:///{tmp_path / 'etl.db'}"
    victim: list[subprocess.Popen] = []
    arrivals = itertools.count(1)

    def terminate_at(seen) -> None:
        if next(arrivals) == 10:
            victim[0].send_signal(signal.SIGTERM)

    with FakeProlificAPI(many_batches, token=TOKEN, latency=0.01, on_request=terminate_at) as api:
        victim.append(start_sync(api.url, database_url, many_ids, "--chunk-size", "5"))
        _, stderr = victim[0].communicate(timeout=WAIT)
        requests_seen = len(api.requests)

    assert victim[0].returncode == 130, stderr
    assert "interrupted; run 1 is recorded as aborted" in stderr
    assert "could not record" not in stderr
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["error_message"]) == ("aborted", "interrupted (SIGINT or SIGTERM)")
    assert requests_seen < len(many_batches)
    assert_consistent(database_url, many_batches)


def test_a_database_that_refuses_writes_is_fatal_and_the_next_run_recovers(
    tmp_path, many_batches, many_ids
):
    path = tmp_path / "etl.db"
    database_url = f"sqlite:///{path}?timeout=0.2"
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    arrivals = itertools.count(1)

    def lock_the_file_at(seen) -> None:
        if next(arrivals) == 12:
            blocker.execute("BEGIN EXCLUSIVE")  # like a long write from another tool

    with FakeProlificAPI(many_batches, token=TOKEN, on_request=lock_the_file_at) as api:
        settings = Settings(api_token=TOKEN, api_url=api.url, database_url=database_url)
        with pytest.raises(DatabaseUnavailableError, match="database is locked"):
            sync(settings, str(many_ids), concurrency=1, chunk_size=5)
        blocker.execute("ROLLBACK")
        blocker.close()
        assert_consistent(database_url, many_batches)
        assert 0 < len(read_table(database_url, "batches")) < len(many_batches)

        result = sync(settings, str(many_ids))

    assert result.status == "succeeded"
    assert_consistent(database_url, many_batches)
    assert [r["status"] for r in read_table(database_url, "etl_runs")] == ["aborted", "succeeded"]


def test_a_column_a_team_added_by_hand_does_not_stop_the_job(tmp_path, api, ids_file, batches):
    # Versions are told apart by the schema revision (tests/test_migrations.py); a column of
    # the team's own beside ours is theirs to keep.
    database_url = f"sqlite:///{tmp_path / 'etl.db'}"
    assert cli_sync(api.url, database_url, ids_file).exit_code == 0
    with sqlite3.connect(tmp_path / "etl.db") as connection:
        connection.execute("ALTER TABLE batches ADD COLUMN reviewer_notes TEXT")
        connection.execute("UPDATE batches SET reviewer_notes = 'checked'")
    changed = {**batches[0], "status": "ERROR" if batches[0]["status"] != "ERROR" else "READY"}
    api.put_batch(changed)

    result = cli_sync(api.url, database_url, ids_file)

    assert result.exit_code == 0, result.output
    assert "1 updated" in result.stdout
    with sqlite3.connect(tmp_path / "etl.db") as connection:
        rows = connection.execute("SELECT batch_id, status, reviewer_notes FROM batches").fetchall()
    assert {notes for _, _, notes in rows} == {"checked"}
    assert (changed["id"], changed["status"], "checked") in rows


def test_kill_9_inside_a_write_transaction_leaves_no_trace_of_it(tmp_path, many_batches, many_ids):
    # SQLite keeps a rollback journal beside the file exactly while a write transaction is
    # open, so killing the process the moment it appears kills it mid-transaction.
    database = tmp_path / "etl.db"
    journal = Path(f"{database}-journal")
    database_url = f"sqlite:///{database}"
    with FakeProlificAPI(many_batches, token=TOKEN) as api:
        # a first run, so that the next one's transactions update as well as insert
        assert cli_sync(api.url, database_url, many_ids).exit_code == 0
        for payload in many_batches[::3]:
            payload["status"] = "ERROR" if payload["status"] != "ERROR" else "READY"
            payload["datasets"] = payload["datasets"][1:]
            api.put_batch(payload)
        victim = start_sync(api.url, database_url, many_ids, "--chunk-size", "20")
        # Skip the run's own bookkeeping transactions (its row, the aborted-run check) and the
        # first chunk; kill inside a later chunk's transaction.
        transactions_seen, journal_was_there = 0, False
        deadline = time.monotonic() + WAIT
        while transactions_seen < 4 and victim.poll() is None and time.monotonic() < deadline:
            journal_is_there = journal.exists()  # spin: the journal lives for milliseconds
            transactions_seen += journal_is_there and not journal_was_there
            journal_was_there = journal_is_there
        victim.send_signal(signal.SIGKILL)
        victim.wait(WAIT)
        assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"
        assert journal.exists(), "killed between transactions, not inside one"

        # Opening the database rolls the interrupted transaction back from its journal.
        result = cli_sync(api.url, database_url, many_ids)

    assert result.exit_code == 0, result.output
    assert_consistent(database_url, many_batches)
    assert len(read_table(database_url, "batches")) == len(many_batches)
    statuses = [r["status"] for r in read_table(database_url, "etl_runs")]
    assert statuses == ["succeeded", "aborted", "succeeded"]


def test_a_lock_held_before_any_run_is_recorded_is_said_so(database_url):
    create_schema(database_url)
    engine = connect(database_url)
    try:
        with run_lock(engine):  # as `db upgrade` holds it, or a run that is just starting
            result = CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": database_url})
    finally:
        engine.dispose()

    assert result.exit_code == 4
    assert (
        "(no run is recorded as running yet: one is starting, or `prolific-etl db upgrade` is "
        "at work); this one did nothing."
    ) in result.stderr
