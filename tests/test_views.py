"""The reporting views and the example queries in sql/queries/, on a known history.

Three syncs of six batches whose statuses, workspaces and datasets are chosen by hand:

  batch  workspace  sync 1         sync 2         sync 3      datasets (datapoints)
  B1     ws_a       PROCESSING     READY          READY       D1 (100), D2 (20)
  B2     ws_a       READY          READY          READY       D2
  B3     ws_b       UNINITIALISED  PROCESSING     READY       none
  B4     ws_b       PROCESSING     ERROR          ERROR       D3 (3) at sync 1, none after
  B5     ws_b       UNINITIALISED  UNINITIALISED  PROCESSING  D1
  B6     ws_c       UNINITIALISED  UNINITIALISED  UNINITIALISED  D2

The third run's ID file also holds an unknown batch ID and a line that is not an ID.
Durations are checked against the observed_at times read back from batch_status_history.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Connection

from etl.imitation.server import sample_batches
from etl.store.migrate import ensure_schema
from etl.store.schema import DIALECTS
from etl.store.views import (
    VIEWS,
    View,
    create_views,
    drop_views,
    v_batch_processing_time,
    v_batch_status_intervals,
    v_batches,
    v_dataset_usage,
    v_latest_run_failures,
    v_run_health,
    v_workspace_summary,
    views_sql,
)

from support import expected_batch_row, read_table

ROOT = Path(__file__).resolve().parent.parent
SQL_VIEWS = ROOT / "sql" / "views"
QUERIES = ROOT / "sql" / "queries"


def batch_id(n: int) -> str:
    return f"b0000000-0000-4000-8000-00000000000{n}"


def dataset_id(n: int) -> str:
    return f"d0000000-0000-4000-8000-00000000000{n}"


UNKNOWN_ID = "e0000000-0000-4000-8000-000000000000"
D1 = {"id": dataset_id(1), "filename": "one.csv", "total_datapoint_count": 100}
D2 = {"id": dataset_id(2), "filename": "two.csv", "total_datapoint_count": 20}
D3 = {"id": dataset_id(3), "filename": "three.csv", "total_datapoint_count": 3}
# batch number: (workspace, statuses at syncs 1-3, datasets)
PLAN = {
    1: ("ws_a", ("PROCESSING", "READY", "READY"), [D1, D2]),
    2: ("ws_a", ("READY", "READY", "READY"), [D2]),
    3: ("ws_b", ("UNINITIALISED", "PROCESSING", "READY"), []),
    4: ("ws_b", ("PROCESSING", "ERROR", "ERROR"), [D3]),
    5: ("ws_b", ("UNINITIALISED", "UNINITIALISED", "PROCESSING"), [D1]),
    6: ("ws_c", ("UNINITIALISED", "UNINITIALISED", "UNINITIALISED"), [D2]),
}


def batch_at(payloads: dict[int, dict], n: int, sync: int) -> dict:
    """Batch ``n`` as the API serves it at ``sync`` (1-3)."""
    payload = copy.deepcopy(payloads[n])
    payload["status"] = PLAN[n][1][sync - 1]
    if n == 4 and sync > 1:
        payload["datasets"] = []
    return payload


@pytest.fixture
def payloads() -> dict[int, dict]:
    shapes = sample_batches(len(PLAN), seed=3)
    result = {}
    for (n, (workspace, statuses, datasets)), shape in zip(PLAN.items(), shapes, strict=True):
        result[n] = {
            **shape,
            "id": batch_id(n),
            "workspace_id": workspace,
            "status": statuses[0],
            "datasets": [dict(d) for d in datasets],
            "total_task_count": 10 * n,
            "total_instruction_count": n,
        }
    return result


@pytest.fixture
def batches(payloads: dict[int, dict]) -> list[dict]:
    return [batch_at(payloads, n, 1) for n in PLAN]


@dataclass
class Synced:
    database_url: str
    payloads: dict[int, dict]
    # (batch number, status) -> when a sync saw the batch enter it
    entered: dict[tuple[int, str], datetime]
    runs: list[dict[str, Any]]
    failures: list[dict[str, Any]]

    def final(self, n: int) -> dict:
        return batch_at(self.payloads, n, 3)


@pytest.fixture
def synced(database_url, api, run_sync, payloads, tmp_path) -> Synced:
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{batch_id(n)}\n" for n in PLAN), encoding="utf-8")
    assert run_sync(database_url, ids).exit_code == 0
    for n in PLAN:
        api.put_batch(batch_at(payloads, n, 2))
    assert run_sync(database_url, ids).exit_code == 0
    for n in PLAN:
        api.put_batch(batch_at(payloads, n, 3))
    ids.write_text(ids.read_text() + f"{UNKNOWN_ID}\nnot-a-batch-id\n", encoding="utf-8")
    assert run_sync(database_url, ids).exit_code == 1

    number = {batch_id(n): n for n in PLAN}
    history = read_table(database_url, "batch_status_history")
    entered = {(number[row["batch_id"]], row["new_status"]): row["observed_at"] for row in history}
    assert len(entered) == len(history) == 11
    return Synced(
        database_url,
        payloads,
        entered,
        read_table(database_url, "etl_runs"),
        read_table(database_url, "etl_failures"),
    )


def read_view(database_url: str, view: View, *order_by: str) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            columns = view.table.c
            rows = connection.execute(select(view.table).order_by(*(columns[c] for c in order_by)))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def seconds(start: datetime, end: datetime) -> pytest.approx:
    # SQLite's date functions read milliseconds only.
    return pytest.approx((end - start).total_seconds(), abs=1e-3)


# --- the views ------------------------------------------------------------------------------


def test_v_batches_has_each_batch_with_its_dataset_totals(synced):
    stored = {row["batch_id"]: row for row in read_table(synced.database_url, "batches")}
    seen = {row["batch_id"]: row for row in read_table(synced.database_url, "batch_last_seen")}
    totals = {1: (2, 120), 2: (1, 20), 3: (0, 0), 4: (0, 0), 5: (1, 100), 6: (1, 20)}

    rows = read_view(synced.database_url, v_batches, "batch_id")

    expected = []
    for n in PLAN:
        row = stored[batch_id(n)]
        content = expected_batch_row(synced.final(n))
        del content["batch_items"], content["extra_fields"]  # JSON: left to the table
        expected.append(
            {
                **content,
                "dataset_count": totals[n][0],
                "total_datapoint_count": totals[n][1],
                "workspace_title": None,  # no sync here listed workspaces
                "removed_upstream_at": None,
                "first_seen_at": row["first_seen_at"],
                "last_changed_at": row["last_changed_at"],
                "last_seen_at": seen[batch_id(n)]["last_seen_at"],
                "last_listed_at": None,
            }
        )
    assert rows == expected


def test_v_workspace_summary_counts_batches_per_status_and_sums_per_batch(synced):
    rows = read_view(synced.database_url, v_workspace_summary, "workspace_id")

    assert rows == [
        {
            "workspace_id": "ws_a",
            "batch_count": 2,
            "uninitialised_batches": 0,
            "processing_batches": 0,
            "ready_batches": 2,
            "error_batches": 0,
            "total_task_count": 10 + 20,
            "total_instruction_count": 1 + 2,
            "total_datapoint_count": 120 + 20,  # D2 counts once for B1 and once for B2
        },
        {
            "workspace_id": "ws_b",
            "batch_count": 3,
            "uninitialised_batches": 0,
            "processing_batches": 1,
            "ready_batches": 1,
            "error_batches": 1,
            "total_task_count": 30 + 40 + 50,
            "total_instruction_count": 3 + 4 + 5,
            "total_datapoint_count": 100,
        },
        {
            "workspace_id": "ws_c",
            "batch_count": 1,
            "uninitialised_batches": 1,
            "processing_batches": 0,
            "ready_batches": 0,
            "error_batches": 0,
            "total_task_count": 60,
            "total_instruction_count": 6,
            "total_datapoint_count": 20,
        },
    ]
    # Integers on every dialect: not PostgreSQL's NUMERIC sums nor MySQL's DECIMAL.
    assert {type(v) for row in rows for k, v in row.items() if k != "workspace_id"} == {int}


def test_v_dataset_usage_has_a_row_per_dataset_and_batch_and_keeps_unused_datasets(synced):
    rows = read_view(synced.database_url, v_dataset_usage, "dataset_id", "batch_id")

    def usage(dataset: dict, using: int, n: int | None) -> dict:
        batch = synced.final(n) if n else None
        return {
            "dataset_id": dataset["id"],
            "filename": dataset["filename"],
            "total_datapoint_count": dataset["total_datapoint_count"],
            "batches_using": using,
            "batch_id": batch["id"] if batch else None,
            "batch_name": batch["name"] if batch else None,
            "batch_status": batch["status"] if batch else None,
            "workspace_id": batch["workspace_id"] if batch else None,
        }

    assert rows == [
        usage(D1, 2, 1),
        usage(D1, 2, 5),
        usage(D2, 3, 1),
        usage(D2, 3, 2),
        usage(D2, 3, 6),
        usage(D3, 0, None),  # B4 dropped it at sync 2
    ]


def test_v_batch_status_intervals_has_time_in_each_status(synced):
    at = synced.entered
    rows = read_view(synced.database_url, v_batch_status_intervals, "batch_id", "entered_at")

    def interval(n: int, previous: str | None, status: str, following: str | None) -> dict:
        left_at = at[n, following] if following else None
        return {
            "batch_id": batch_id(n),
            "batch_name": synced.final(n)["name"],
            "workspace_id": PLAN[n][0],
            "previous_status": previous,
            "status": status,
            "entered_at": at[n, status],
            "left_at": left_at,
            "next_status": following,
            "seconds_in_status": seconds(at[n, status], left_at) if following else None,
        }

    assert [{k: v for k, v in row.items() if k != "history_id"} for row in rows] == [
        interval(1, None, "PROCESSING", "READY"),
        interval(1, "PROCESSING", "READY", None),
        interval(2, None, "READY", None),
        interval(3, None, "UNINITIALISED", "PROCESSING"),
        interval(3, "UNINITIALISED", "PROCESSING", "READY"),
        interval(3, "PROCESSING", "READY", None),
        interval(4, None, "PROCESSING", "ERROR"),
        interval(4, "PROCESSING", "ERROR", None),
        interval(5, None, "UNINITIALISED", "PROCESSING"),
        interval(5, "UNINITIALISED", "PROCESSING", None),
        interval(6, None, "UNINITIALISED", None),
    ]
    assert all(row["seconds_in_status"] is None or row["seconds_in_status"] > 0 for row in rows)


def test_v_batch_processing_time_runs_from_processing_to_ready_or_error(synced):
    at = synced.entered
    rows = read_view(synced.database_url, v_batch_processing_time, "batch_id")

    def processing(n: int, final_status: str | None) -> dict:
        finished_at = at[n, final_status] if final_status else None
        return {
            "batch_id": batch_id(n),
            "batch_name": synced.final(n)["name"],
            "workspace_id": PLAN[n][0],
            "current_status": PLAN[n][1][2],
            "processing_started_at": at[n, "PROCESSING"],
            "finished_at": finished_at,
            "final_status": final_status,
            "seconds_processing": (
                seconds(at[n, "PROCESSING"], finished_at) if final_status else None
            ),
        }

    # B2 and B6 were never seen PROCESSING.
    assert rows == [
        processing(1, "READY"),
        processing(3, "READY"),
        processing(4, "ERROR"),
        processing(5, None),
    ]


def test_v_run_health_has_counts_failure_rate_and_duration(synced):
    rows = read_view(synced.database_url, v_run_health, "run_id")

    def health(run: dict, failed_batches: int, bad_id_lines: int, rate: float) -> dict:
        return {
            **run,
            "duration_seconds": seconds(run["started_at"], run["finished_at"]),
            "failed_batches": failed_batches,
            "bad_id_lines": bad_id_lines,
            "failure_rate": pytest.approx(rate),
        }

    first, second, third = synced.runs
    assert (first["status"], second["status"], third["status"]) == (
        "succeeded",
        "succeeded",
        "partial",
    )
    assert (third["ids_read"], third["failed"]) == (7, 2)
    assert rows == [
        health(first, 0, 0, 0.0),
        health(second, 0, 0, 0.0),
        health(third, 1, 1, 1 / 7),
    ]
    assert [type(row["failure_rate"]) for row in rows] == [float] * 3


def test_v_run_health_failure_rate_is_null_for_a_run_that_read_no_id(database_url):
    engine = create_engine(database_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO etl_runs (started_at, status, ids_read, fetched, inserted, updated, "
            "unchanged, failed, retries, tool_version) "
            "VALUES ('2025-01-01 00:00:00', 'running', 0, 0, 0, 0, 0, 0, 0, 'test')"
        )
    engine.dispose()

    [row] = read_view(database_url, v_run_health, "run_id")

    assert (row["ids_read"], row["failure_rate"], row["duration_seconds"]) == (0, None, None)


def test_v_latest_run_failures_lists_only_the_latest_runs_failures(synced):
    latest = synced.runs[-1]
    rows = read_view(synced.database_url, v_latest_run_failures, "failure_id")

    assert [(row["stage"], row["error_kind"]) for row in synced.failures] == [
        ("input", "bad_id_line"),
        ("fetch", "not_found"),
    ]
    assert rows == [
        {
            "run_id": latest["run_id"],
            "run_status": "partial",
            "run_started_at": latest["started_at"],
            **{key: value for key, value in failure.items() if key != "run_id"},
        }
        for failure in synced.failures
    ]
    assert [(row["batch_id"], row["line_number"], row["http_status"]) for row in rows] == [
        (None, 8, None),
        (UNKNOWN_ID, None, 404),
    ]


# --- the example queries --------------------------------------------------------------------


def run_query(database_url: str, name: str) -> list[tuple]:
    sql = (QUERIES / f"{name}.sql").read_text(encoding="utf-8")
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def as_utc(value: datetime | str) -> datetime:
    """A timestamp from a raw query: SQLite gives the stored UTC text, the others datetimes."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def test_every_example_query_says_what_it_answers():
    files = sorted(QUERIES.glob("*.sql"))
    assert 5 <= len(files) <= 15
    for path in files:
        first_line = path.read_text(encoding="utf-8").splitlines()[0]
        assert first_line.startswith("-- ") and first_line.endswith("?"), path.name


def test_query_batches_still_processing(synced):
    rows = run_query(synced.database_url, "batches_still_processing")

    [(workspace, batch, name, since)] = rows
    assert (workspace, batch, name) == ("ws_b", batch_id(5), synced.final(5)["name"])
    assert as_utc(since) == synced.entered[5, "PROCESSING"]


def test_query_time_to_ready(synced):
    at = synced.entered
    b1 = (at[1, "READY"] - at[1, "PROCESSING"]).total_seconds()
    b3 = (at[3, "READY"] - at[3, "PROCESSING"]).total_seconds()

    rows = run_query(synced.database_url, "time_to_ready")

    assert rows == [
        ("ws_a", 1, pytest.approx(b1, abs=1e-3), pytest.approx(b1, abs=1e-3)),
        ("ws_b", 1, pytest.approx(b3, abs=1e-3), pytest.approx(b3, abs=1e-3)),
    ]


def test_query_datapoints_in_flight(synced):
    rows = run_query(synced.database_url, "datapoints_in_flight")

    # B5 (PROCESSING, D1) and B6 (UNINITIALISED, D2); READY and ERROR batches are done.
    assert rows == [("ws_b", 1, 100), ("ws_c", 1, 20)]


def test_query_reused_datasets(synced):
    rows = run_query(synced.database_url, "reused_datasets")

    assert rows == [
        (dataset_id(2), "two.csv", 3, "ws_a", 2),
        (dataset_id(2), "two.csv", 3, "ws_c", 1),
        (dataset_id(1), "one.csv", 2, "ws_a", 1),
        (dataset_id(1), "one.csv", 2, "ws_b", 1),
    ]


def test_query_latest_run_health(synced):
    latest = synced.runs[-1]

    [row] = run_query(synced.database_url, "latest_run_health")

    assert row[:8] == (
        latest["run_id"],
        "partial",
        "no",
        7,
        6,
        1,
        1,
        pytest.approx(1 / 7),
    )
    assert row[8] == seconds(latest["started_at"], latest["finished_at"])


def test_query_latest_run_failures_by_kind(synced):
    rows = run_query(synced.database_url, "latest_run_failures_by_kind")

    assert rows == [("fetch", "not_found", 1), ("input", "bad_id_line", 1)]


def test_query_time_in_status(synced):
    at = synced.entered

    def spent(n: int, status: str, following: str) -> float:
        return (at[n, following] - at[n, status]).total_seconds()

    processing = [spent(1, "PROCESSING", "READY"), spent(3, "PROCESSING", "READY")]
    processing.append(spent(4, "PROCESSING", "ERROR"))
    uninitialised = [spent(3, "UNINITIALISED", "PROCESSING")]
    uninitialised.append(spent(5, "UNINITIALISED", "PROCESSING"))

    rows = run_query(synced.database_url, "time_in_status")

    assert rows == [
        ("PROCESSING", 3, pytest.approx(sum(processing) / 3, abs=1e-3)),
        ("UNINITIALISED", 2, pytest.approx(sum(uninitialised) / 2, abs=1e-3)),
    ]


# --- creating, dropping, shipping -----------------------------------------------------------


def view_names(connection: Connection) -> set[str]:
    return {name for name in inspect(connection).get_view_names() if name.startswith("v_")}


def test_ensure_schema_creates_the_views_and_create_views_is_repeatable(database_url):
    engine = create_engine(database_url)
    ensure_schema(engine)
    expected = {view.name for view in VIEWS}
    with engine.connect() as connection:
        assert view_names(connection) == expected
    with engine.begin() as connection:
        create_views(connection)
        create_views(connection)
    with engine.connect() as connection:
        assert view_names(connection) == expected
        for view in VIEWS:
            assert connection.execute(select(view.table)).fetchall() == []
    with engine.begin() as connection:
        drop_views(connection)
        drop_views(connection)
    with engine.connect() as connection:
        assert view_names(connection) == set()
        assert set(inspect(connection).get_table_names()) >= {"batches", "etl_runs"}
    engine.dispose()


def test_ensure_schema_recreates_a_missing_view(database_url):
    engine = create_engine(database_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        drop_views(connection, [v_run_health, v_latest_run_failures])

    ensure_schema(engine)

    with engine.connect() as connection:
        assert view_names(connection) == {view.name for view in VIEWS}
    engine.dispose()


def test_views_come_after_the_views_they_read():
    created: set[str] = set()
    for view in VIEWS:
        assert {name for name in view.reads if name.startswith("v_")} <= created, view.name
        created.add(view.name)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_shipped_view_sql_matches_the_views_in_code(dialect):
    shipped = (SQL_VIEWS / f"{dialect}.sql").read_text(encoding="utf-8")
    assert shipped == views_sql(dialect), (
        f"sql/views/{dialect}.sql is stale: run "
        f"`prolific-etl db views --dialect {dialect} > sql/views/{dialect}.sql`"
    )
