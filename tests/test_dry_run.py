"""``sync --dry-run``: fetches and validates everything, says what would change, writes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from etl.imitation.server import Fault, sample_batches
from etl.store.migrate import VERSION_TABLE
from etl.store.schema import metadata

from support import read_table, upgrade_to


def snapshot(database_url: str) -> dict:
    """Everything a sync could write: every table's rows, and the SQLite file's bytes."""
    state = {name: read_table(database_url, name) for name in metadata.tables}
    engine = create_engine(database_url)
    state["tables"] = sorted(inspect(engine).get_table_names())
    engine.dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        state["sha256"] = hashlib.sha256(Path(url.database).read_bytes()).hexdigest()
    return state


def test_dry_run_reports_the_changes_and_leaves_the_database_untouched(
    database_url, api, run_sync, ids_file, batches
):
    assert run_sync(database_url, ids_file).exit_code == 0
    changed, missing = batches[0], batches[1]
    api.put_batch({**changed, "status": "ERROR" if changed["status"] != "ERROR" else "READY"})
    api.inject(missing["id"], Fault.http(404))
    (new,) = sample_batches(1, seed=99)
    api.put_batch(new)
    ids_file.write_text(ids_file.read_text() + f"{new['id']}\nnot-an-id\n", encoding="utf-8")
    before = snapshot(database_url)

    result = run_sync(database_url, ids_file, "--dry-run", "--verbose")

    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(
        "dry run partial, nothing written: 13 ids, 12 fetched; "
        "would insert 1, update 1, leave 10 unchanged; 2 failed"
    )
    assert f"batch {new['id']} would be inserted" in result.stderr
    assert f"batch {changed['id']} would be updated" in result.stderr
    assert f"batch {missing['id']}" in result.stderr and "404" in result.stderr
    assert snapshot(database_url) == before
    assert len(api.requests_for(new["id"])) == 1  # fetched for real


def test_dry_run_on_a_new_database_creates_nothing(database_url, run_sync, ids_file):
    url = make_url(database_url)
    sqlite_file = Path(url.database) if url.get_backend_name() == "sqlite" else None

    result = run_sync(database_url, ids_file, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would insert 12, update 0, leave 0 unchanged; 0 failed" in result.stdout
    if sqlite_file is not None:
        assert not sqlite_file.exists()
        assert not Path(f"{sqlite_file}.lock").exists()
    else:
        engine = create_engine(database_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()


def test_dry_run_refuses_to_compare_with_an_outdated_schema(database_url, run_sync, ids_file):
    upgrade_to(database_url, "0001")

    result = run_sync(database_url, ids_file, "--dry-run")

    assert result.exit_code == 2
    assert "cannot compare with the database: its schema is at revision 0001" in result.stderr
    assert read_table(database_url, "etl_runs") == []
    engine = create_engine(database_url)
    assert VERSION_TABLE in inspect(engine).get_table_names()
    engine.dispose()


# Issue 23, item 12: --dry-run --responses silently left the responses out.
def test_dry_run_says_that_it_does_not_compare_responses(sqlite_url, run_sync, ids_file):
    result = run_sync(sqlite_url, ids_file, "--dry-run", "--responses")

    assert result.exit_code == 0, result.output
    assert (
        "prolific-etl: warning: a dry run does not fetch or compare responses: it says what "
        "would change in batches, datasets and workspaces only\n"
    ) in result.stderr
    assert not Path(make_url(sqlite_url).database).exists()


def test_dry_run_without_responses_has_no_such_warning(sqlite_url, run_sync, ids_file):
    result = run_sync(sqlite_url, ids_file, "--dry-run")

    assert "responses" not in result.stderr


def test_dry_run_says_that_it_does_not_compare_submissions(sqlite_url, run_sync, ids_file):
    result = run_sync(sqlite_url, ids_file, "--dry-run", "--responses", "--submissions")

    assert result.exit_code == 0, result.output
    assert (
        "prolific-etl: warning: a dry run does not fetch or compare responses or submissions: "
        "it says what would change in batches, datasets and workspaces only\n"
    ) in result.stderr
