"""batch_status_history: a row when a batch is first seen and one per observed status change."""

from __future__ import annotations

import pytest

from etl.fake_api import FakeProlificAPI, Fault, sample_batches

from support import read_table


@pytest.fixture
def batches() -> list[dict]:
    """Four batches that all start UNINITIALISED (served by the ``api`` fixture)."""
    return [{**batch, "status": "UNINITIALISED"} for batch in sample_batches(4, seed=7)]


def move(api: FakeProlificAPI, batch: dict, **changes) -> None:
    api.put_batch({**api.batch(batch["id"]), **changes})


def transitions(database_url: str) -> list[tuple]:
    return [
        (row["batch_id"], row["old_status"], row["new_status"], row["run_id"])
        for row in read_table(database_url, "batch_status_history")
    ]


def test_three_syncs_record_exactly_the_transitions_in_order(
    database_url, api, run_sync, ids_file, batches
):
    a, b, c, d = batches

    assert run_sync(database_url, ids_file).exit_code == 0  # run 1: all first seen
    for batch in (a, b, c):
        move(api, batch, status="PROCESSING")
    move(api, d, name="renamed, still UNINITIALISED")
    assert run_sync(database_url, ids_file).exit_code == 0  # run 2
    move(api, a, status="READY")
    move(api, b, status="READY")
    move(api, c, status="ERROR")
    assert run_sync(database_url, ids_file).exit_code == 0  # run 3
    assert run_sync(database_url, ids_file).exit_code == 0  # run 4: nothing changed

    # In run order, and within a run in the ID file's order.
    assert transitions(database_url) == [
        *[(batch["id"], None, "UNINITIALISED", 1) for batch in batches],
        *[(batch["id"], "UNINITIALISED", "PROCESSING", 2) for batch in (a, b, c)],
        (a["id"], "PROCESSING", "READY", 3),
        (b["id"], "PROCESSING", "READY", 3),
        (c["id"], "PROCESSING", "ERROR", 3),
    ]
    runs = {run["run_id"]: run for run in read_table(database_url, "etl_runs")}
    for row in read_table(database_url, "batch_status_history"):
        run = runs[row["run_id"]]
        assert run["started_at"] <= row["observed_at"] <= run["finished_at"]
    # d's rename was stored as a change of content, not of status.
    stored_d = next(r for r in read_table(database_url, "batches") if r["batch_id"] == d["id"])
    assert (stored_d["name"], stored_d["last_changed_run_id"]) == (
        "renamed, still UNINITIALISED",
        2,
    )


def test_a_failed_fetch_records_no_status(database_url, api, run_sync, ids_file, batches):
    assert run_sync(database_url, ids_file).exit_code == 0
    move(api, batches[0], status="READY")
    api.inject(batches[0]["id"], Fault.http(404))

    assert run_sync(database_url, ids_file).exit_code == 1

    assert [row for row in transitions(database_url) if row[3] == 2] == []
