"""batch_status_history: a row when a batch is first seen and one per observed status change."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from etl.imitation.server import FakeProlificAPI, Fault, sample_batches
from etl.store.views import VIEWS_BY_NAME

from support import read_table


def view_rows(database_url: str, name: str) -> list[dict]:
    """Every row of one of the reporting views, read with the view's column types."""
    view = VIEWS_BY_NAME[name]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(view.table))]
    engine.dispose()
    return rows


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
    # The time-in-status views, read back from the database, agree with the observations.
    history = read_table(database_url, "batch_status_history")
    observed = {(row["batch_id"], row["run_id"]): row["observed_at"] for row in history}
    intervals = sorted(
        view_rows(database_url, "v_batch_status_intervals"),
        key=lambda row: row["history_id"],
    )
    expected_intervals = []
    for row in history:
        later = [
            h for h in history if h["batch_id"] == row["batch_id"] and h["run_id"] > row["run_id"]
        ]
        following = later[0] if later else None
        expected_intervals.append(
            (
                row["batch_id"],
                row["new_status"],
                row["observed_at"],
                following["observed_at"] if following else None,
                following["new_status"] if following else None,
            )
        )
    assert [
        (r["batch_id"], r["status"], r["entered_at"], r["left_at"], r["next_status"])
        for r in intervals
    ] == expected_intervals
    for row in intervals:
        if row["left_at"] is None:
            assert row["seconds_in_status"] is None
        else:
            seconds = (row["left_at"] - row["entered_at"]).total_seconds()
            assert row["seconds_in_status"] == pytest.approx(seconds, abs=0.001)
    processing = {
        row["batch_id"]: row for row in view_rows(database_url, "v_batch_processing_time")
    }
    assert set(processing) == {a["id"], b["id"], c["id"]}
    for batch, final in ((a, "READY"), (b, "READY"), (c, "ERROR")):
        row = processing[batch["id"]]
        started, finished = observed[(batch["id"], 2)], observed[(batch["id"], 3)]
        assert (row["final_status"], row["processing_started_at"], row["finished_at"]) == (
            final,
            started,
            finished,
        )
        assert row["seconds_processing"] == pytest.approx(
            (finished - started).total_seconds(), abs=0.001
        )
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


REFUSE_ONE_UPDATE = {
    "sqlite": [
        "CREATE TRIGGER refuse_one BEFORE UPDATE ON batches WHEN NEW.batch_id = '{id}' "
        "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
        "IF NEW.batch_id = '{id}' THEN "
        "RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = 'check_violation'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_one BEFORE UPDATE ON batches FOR EACH ROW "
        "EXECUTE FUNCTION refuse_one()",
    ],
    "mysql": [
        "CREATE TRIGGER refuse_one BEFORE UPDATE ON batches FOR EACH ROW BEGIN "
        "IF NEW.batch_id = '{id}' THEN SIGNAL SQLSTATE '23000' "
        "SET MYSQL_ERRNO = 1062, MESSAGE_TEXT = 'refused by a trigger'; END IF; END"
    ],
}


def test_a_batch_the_database_refuses_leaves_no_history_and_the_rest_keep_theirs(
    database_url, api, run_sync, ids_file, batches
):
    assert run_sync(database_url, ids_file).exit_code == 0
    refused = batches[1]
    engine = create_engine(database_url)
    with engine.begin() as connection:
        for statement in REFUSE_ONE_UPDATE[engine.dialect.name]:
            connection.exec_driver_sql(statement.format(id=refused["id"]))
    engine.dispose()
    for batch in batches:
        move(api, batch, status="PROCESSING")

    result = run_sync(database_url, ids_file)  # the chunk falls back to a batch at a time

    assert result.exit_code == 1, result.output
    assert "refused by a trigger" in result.stderr
    assert [row for row in transitions(database_url) if row[3] == 2] == [
        (batch["id"], "UNINITIALISED", "PROCESSING", 2) for batch in batches if batch is not refused
    ]
    stored = {row["batch_id"]: row["status"] for row in read_table(database_url, "batches")}
    assert stored[refused["id"]] == "UNINITIALISED"
