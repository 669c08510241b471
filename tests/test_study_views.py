"""The views over studies, submissions and costs, from rows written by the one writer to what
each view answers, on every database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select
from test_writer import T1, batch, cost, response, study, submission, uid

from etl.kinds import BATCH, RESPONSE, STUDY, STUDY_COST, SUBMISSION
from etl.store import writer
from etl.store.db import connect
from etl.store.migrate import ensure_schema
from etl.store.schema import etl_runs
from etl.store.views import VIEWS_BY_NAME

SUBMISSIONS = (  # id, participant, status, seconds taken
    (1, "p-1", "APPROVED", 100),
    (2, "p-2", "REJECTED", 50),
    (3, "p-1", "RETURNED", 300),
    (4, "p-1", "AWAITING REVIEW", 200),
    (5, "p-3", "ACTIVE", None),
    (6, "p-2", "REJECTED", 70),
)


@pytest.fixture
def engine(database_url):
    engine = connect(database_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(etl_runs).values(run_id=1, started_at=T1, status="running", tool_version="t")
        )
    writer.write(engine, BATCH, [batch(1)], 1, T1)
    writer.write(engine, STUDY, [study(1)], 1, T1)
    rows = [submission(n, participant_id=p, status=s, time_taken=t) for n, p, s, t in SUBMISSIONS]
    writer.write(engine, SUBMISSION, rows, 1, T1)
    writer.write(engine, STUDY_COST, [cost(1, rewards=300)], 1, T1)
    answered = [  # response n: its task and its submission
        response(1, task_id="t1", submission_id="submission-1"),
        response(2, task_id="t2", submission_id="submission-2"),
        response(3, task_id="t2", submission_id="submission-1"),
    ]
    writer.write(engine, RESPONSE, answered, 1, T1)
    yield engine
    engine.dispose()


def view(engine, name: str, order: str) -> list[dict]:
    table = VIEWS_BY_NAME[name].table
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c[order])).mappings()
        return [dict(row) for row in rows]


def test_v_approved_answers_holds_only_approved_submissions_answers(engine):
    rows = view(engine, "v_approved_answers", "response_id")
    wanted = sorted((uid("response", n), f"answer {n}", f"t{min(n, 2)}") for n in (1, 3))
    assert [(r["response_id"], r["value_text"], r["task_id"]) for r in rows] == wanted
    assert {(r["batch_id"], r["instruction_id"], r["submission_id"]) for r in rows} == {
        (uid("batch", 1), "i-1", "submission-1")
    }


def test_v_study_review_status_counts_each_status(engine):
    (row,) = view(engine, "v_study_review_status", "study_id")
    assert row == {
        "batch_id": uid("batch", 1),
        "study_id": "study-1",
        "study_name": "Study 1",
        "study_status": "ACTIVE",
        "approved": 1,
        "rejected": 2,
        "returned": 1,
        "awaiting_review": 1,
        "in_progress": 1,
        "submissions": 6,
    }


def test_v_submission_task_time_divides_time_by_tasks_answered(engine):
    rows = view(engine, "v_submission_task_time", "submission_id")
    got = {r["submission_id"]: (r["time_taken"], r["tasks"], r["seconds_per_task"]) for r in rows}
    assert got == {
        "submission-1": (100.0, 2, 50.0),
        "submission-2": (50.0, 1, 50.0),
        "submission-3": (300.0, 0, None),
        "submission-4": (200.0, 0, None),
        "submission-6": (70.0, 0, None),
    }


def test_v_batch_cost_per_approved_response(engine):
    (row,) = view(engine, "v_batch_cost", "batch_id")
    assert row == {
        "batch_id": uid("batch", 1),
        "name": "Batch 1",
        "studies": 1,
        "total_cost": 900.0,  # rewards, fees and tax of 300 each; no bonuses
        "currency": "GBP",
        "approved_responses": 2,
        "cost_per_approved_response": 450.0,
    }


def test_v_participants_approval_rate_and_exact_median(engine):
    rows = view(engine, "v_participants", "participant_id")
    assert rows == [
        {
            "participant_id": "p-1",
            "submissions": 3,
            "approved": 1,
            "rejected": 0,
            "returned": 1,
            "approval_rate": 1.0,
            "median_time_taken": 200.0,
        },
        {
            "participant_id": "p-2",
            "submissions": 2,
            "approved": 0,
            "rejected": 2,
            "returned": 0,
            "approval_rate": 0.0,
            "median_time_taken": 60.0,  # the mean of the middle two
        },
        {
            "participant_id": "p-3",
            "submissions": 1,
            "approved": 0,
            "rejected": 0,
            "returned": 0,
            "approval_rate": None,
            "median_time_taken": None,
        },
    ]


def run_query(engine, name: str) -> list[tuple]:
    sql = (Path(__file__).resolve().parent.parent / "sql" / "queries" / f"{name}.sql").read_text()
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


def test_query_approved_labels_per_instruction(engine):
    rows = run_query(engine, "approved_labels_per_instruction")
    assert rows == [(uid("batch", 1), "i-1", 2, 1)]


def test_query_cost_per_approved_response(engine):
    rows = run_query(engine, "cost_per_approved_response")
    assert rows == [(uid("batch", 1), "Batch 1", 900.0, "GBP", 2, 450.0)]


def test_query_participants_rejected(engine):
    rows = run_query(engine, "participants_rejected")
    assert rows == [("p-2", 2, 0, 2, 0, 0.0, 60.0)]


NEW_RELATIONS = (
    "studies",
    "submissions",
    "submission_status_history",
    "study_costs",
    "study_submission_counts",
    "v_approved_answers",
    "v_study_review_status",
    "v_submission_task_time",
    "v_batch_cost",
    "v_participants",
)


@pytest.mark.parametrize("name", NEW_RELATIONS)
def test_each_new_table_and_view_exports(engine, name):
    import csv
    import io

    from click.testing import CliRunner

    from etl.cli import main

    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main, ["export", name, "--format", "csv"], env={"DATABASE_URL": url}
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    with engine.connect() as connection:
        expected = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {name}").scalar()
    assert len(rows) == expected > 0
