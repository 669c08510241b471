"""``from etl import sync``: the job the CLI runs, with the run's summary as an object."""

from __future__ import annotations

import threading

import pytest

from etl import Settings, SyncResult, sync
from etl.errors import TokenRejectedError
from etl.store.schema import metadata

from conftest import TOKEN
from support import BOOKKEEPING, read_table

# Columns that differ between two runs of the same input: clocks.
CLOCKS = {
    "started_at",
    "finished_at",
    "occurred_at",
    "observed_at",
    "last_seen_at",
    "details_synced_at",
}


def comparable_tables(database_url: str) -> dict[str, list[dict]]:
    tables = {}
    for name in metadata.tables:
        rows = read_table(database_url, name)
        tables[name] = [
            {k: v for k, v in row.items() if k not in CLOCKS | (BOOKKEEPING - {"content_hash"})}
            for row in rows
        ]
    return tables


@pytest.fixture
def awkward_input(api, batches, ids_file):
    """The sample batches, one of them gone upstream (404), and a bad line in the ID file."""
    api.remove_batch(batches[3]["id"])
    ids_file.write_text(ids_file.read_text() + "not-a-uuid\n", encoding="utf-8")
    return ids_file


def test_library_and_cli_write_the_same_tables(
    database_url, api, run_sync, awkward_input, batches, tmp_path
):
    settings = Settings(api_token=TOKEN, api_url=api.url, database_url=database_url)

    result = sync(settings, str(awkward_input), concurrency=4)

    cli_url = f"sqlite:///{tmp_path / 'through-the-cli.db'}"
    assert run_sync(cli_url, awkward_input, "--concurrency", "4").exit_code == 1
    assert comparable_tables(database_url) == comparable_tables(cli_url)
    assert isinstance(result, SyncResult)
    assert (result.run_id, result.status) == (1, "partial")
    assert result.counts() == {
        "ids_read": 12,
        "listed": 0,
        "fetched": 11,
        "inserted": 11,
        "updated": 0,
        "unchanged": 0,
        "failed": 2,
        "retries": 0,
        "responses_inserted": 0,
        "responses_updated": 0,
        "responses_unchanged": 0,
        "studies_written": 0,
        "studies_unchanged": 0,
        "submissions_written": 0,
        "submissions_unchanged": 0,
        "responses_skipped": 0,
    }
    assert sorted(
        ((f.error_kind, f.batch_id, f.line_number) for f in result.failures), key=str
    ) == sorted([("not_found", batches[3]["id"], None), ("bad_id_line", None, 13)], key=str)


def test_library_errors_are_exceptions_with_the_run_attached(database_url, api, ids_file):
    settings = Settings(api_token="wrong-token", api_url=api.url, database_url=database_url)

    with pytest.raises(TokenRejectedError) as raised:
        sync(settings, str(ids_file))

    run = raised.value.run_result
    assert (run.run_id, run.status, run.fetched) == (1, "failed", 0)
    assert "401" in run.error_message
    (row,) = read_table(database_url, "etl_runs")
    assert (row["run_id"], row["status"], row["error_message"]) == (1, "failed", run.error_message)


def test_a_stop_event_the_caller_passes_is_not_set_by_the_run(sqlite_url, api, batches, ids_file):
    # --fail-fast stopped the run's workers by setting the caller's own event, so the next
    # sync() given the same event did nothing and came back aborted.
    settings = Settings(api_token=TOKEN, api_url=api.url, database_url=sqlite_url)
    stop = threading.Event()
    api.remove_batch(batches[3]["id"])

    first = sync(settings, str(ids_file), fail_fast=True, stop=stop)
    second = sync(settings, str(ids_file), stop=stop)

    assert first.status == "partial"
    assert not stop.is_set()
    assert (second.run_id, second.status) == (2, "partial")
