"""The one writer, for every kind, from a database straight to whole rows: no HTTP, no job.

Each behaviour is one test, parametrized over every kind (``CASES``) and every configured
database. A new kind is one more ``Case``.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert

from etl.kinds import (
    BATCH,
    DATASET_DETAILS,
    RESPONSE,
    STUDY,
    STUDY_COST,
    SUBMISSION,
    WORKSPACE,
    Kind,
)
from etl.kinds.batch import Batch, flatten_batch
from etl.kinds.columns import TEXT_MAX_BYTES, metadata
from etl.kinds.dataset_details import DatasetDetails, flatten_dataset
from etl.kinds.response import TaskResponse, flatten_response
from etl.kinds.study import Study, flatten_study
from etl.kinds.study_cost import StudyCost, flatten_cost
from etl.kinds.submission import Submission, flatten_submission
from etl.kinds.workspace import Workspace, flatten_workspace
from etl.store import writer
from etl.store.db import connect
from etl.store.load import store_workspaces
from etl.store.migrate import ensure_schema
from etl.store.schema import etl_runs

from conftest import MYSQL_URL
from support import read_table

T1 = datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)
HUGE = "é" * (TEXT_MAX_BYTES // 2 + 1)  # 2 bytes each: one byte over


def uid(kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{n}"))


# --- payloads, as the API sends them ------------------------------------------------------------


def batch_payload(n: int, **changes: Any) -> dict:
    return {
        "id": uid("batch", n),
        "created_at": "2025-01-02T03:04:05Z",
        "created_by": "user-1",
        "datasets": [
            {"id": uid("dataset", n), "total_datapoint_count": 10 + n, "filename": f"d{n}.csv"}
        ],
        "name": f"Batch {n}",
        "status": "PROCESSING",
        "total_task_count": 3,
        "total_instruction_count": 2,
        "workspace_id": "ws-1",
        "schema_version": 2,
        "task_details": {"task_name": "Rate", "task_introduction": "<p>i</p>", "task_steps": "s"},
        "total_task_groups": 1,
        **changes,
    }


def batch(n: int, listed_in: str | None = None, **changes: Any):
    payload = json.dumps(batch_payload(n, **changes))
    return flatten_batch(Batch.model_validate_json(payload, strict=True), listed_in=listed_in)


def workspace(n: int, **changes: Any):
    payload = {"id": f"ws-{n}", "title": f"Workspace {n}", "description": "d", "owner": "u"}
    return flatten_workspace(Workspace.model_validate({**payload, **changes}, strict=False))


def details(n: int, **changes: Any):
    payload = {
        "id": uid("dataset", n),
        "name": f"Dataset {n}",
        "created_at": "2025-01-02T03:04:05Z",
        "created_by": "user-1",
        "workspace_id": "ws-1",
        "total_datapoint_count": 10 + n,
        "schema_version": "4",
        "schema": {"fields": [{"name": "text"}]},
        "imports": [
            {
                "dataset_id": uid("dataset", n),
                "import_id": uid("import", n),
                "type": "file_upload",
                "filename": f"d{n}.csv",
                "created_at": "2025-01-02T03:04:05Z",
                "updated_at": "2025-01-02T03:05:05Z",
                "status": "processing",
            }
        ],
        **changes,
    }
    return flatten_dataset(DatasetDetails.model_validate_json(json.dumps(payload), strict=True))


def response(n: int, answer: list | None = None, **changes: Any):
    payload = {
        "id": uid("response", n),
        "created_at": "2025-01-02T03:04:05Z",
        "batch_id": uid("batch", 1),
        "task_id": f"task-{n}",
        "participant_id": "p-1",
        "response": {
            "instruction_id": "i-1",
            "type": "free_text",
            "answer": answer if answer is not None else [{"value": f"answer {n}"}],
        },
        **changes,
    }
    return flatten_response(TaskResponse.model_validate_json(json.dumps(payload), strict=True))


def study(n: int, **changes: Any):
    payload = {
        "id": f"study-{n}",
        "name": f"Study {n}",
        "status": "ACTIVE",
        "data_collection_method": "AI_TASK_BUILDER_BATCH",
        "data_collection_id": uid("batch", 1),
        "reward": 150,
        "total_available_places": 10.0,
        "estimated_completion_time": 5,
        "date_created": "2025-01-02T03:04:05Z",
        **changes,
    }
    parsed = Study.model_validate_json(json.dumps(payload), strict=True)
    return flatten_study(parsed, batch_id=uid("batch", 1), project_id="p-1", workspace_id="ws-1")


def submission(n: int, **changes: Any):
    payload = {
        "id": f"submission-{n}",
        "participant_id": f"p-{n}",
        "status": "AWAITING REVIEW",
        "started_at": "2025-01-02T03:04:05Z",
        "time_taken": 61,
        "reward": 150,
        "bonus_payments": [10, 2.5],
        "ip": "203.0.113.9",
        **changes,
    }
    parsed = Submission.model_validate_json(json.dumps(payload), strict=True)
    return flatten_submission(parsed, study_id="study-1", batch_id=uid("batch", 1))


def cost(n: int, rewards: float = 300, counts: dict | None = None):
    amount = {"amount": rewards, "currency": "GBP"}
    payload = {"rewards": {"rewards": amount, "fees": amount, "tax": amount}}
    parsed = StudyCost.model_validate_json(json.dumps(payload), strict=True)
    return flatten_cost(f"study-{n}", uid("batch", 1), parsed, counts or {"APPROVED": 2})


def _stored_studies(engine) -> None:
    writer.write(engine, BATCH, [batch(1)], 1, T1)
    writer.write(engine, STUDY, [study(n) for n in (1, 2, 3)], 1, T1)


# --- the kinds, as the tests know them ----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: Kind
    make: Callable[..., Any]  # make(n) -> an item
    change: Callable[[int], Any]  # item n with its content changed (and its children)
    tables: tuple[str, ...]  # what one item fills, read whole
    refusable: Callable[[Any], Any]  # item the database refuses
    # Item n with one huge text value, and the column; None for a kind without free text.
    oversize: tuple[Callable[[int], Any], str] | None
    prepare: Callable[[Any], None] = lambda engine: None

    def __str__(self) -> str:
        return self.kind.name


def _naive_created_at(item: Any, attribute: str) -> Any:
    """``item`` with a created_at no UTC column takes (naive): refused on every database."""
    rows = getattr(item, attribute)
    return dataclasses.replace(item, **{attribute: {**rows, "created_at": datetime(2025, 1, 1)}})


def _naive(item: Any, attribute: str, column: str) -> Any:
    """``item`` with a ``column`` no UTC column takes (naive): refused on every database."""
    rows = getattr(item, attribute)
    return dataclasses.replace(item, **{attribute: {**rows, column: datetime(2025, 1, 1)}})


def _stored_batches(engine) -> None:
    writer.write(engine, BATCH, [batch(n) for n in range(1, 4)], 1, T1)


CASES = [
    Case(
        BATCH,
        batch,
        lambda n: batch(
            n,
            status="READY",
            datasets=[{"id": uid("dataset", 9), "total_datapoint_count": 1, "filename": "x"}],
        ),
        ("batches", "datasets", "batch_datasets"),
        lambda item: _naive_created_at(item, "batch"),
        (lambda n: batch(n, name=HUGE), "batches.name"),
    ),
    Case(
        WORKSPACE,
        workspace,
        lambda n: workspace(n, title="Renamed", owner=None),
        ("workspaces",),
        lambda item: dataclasses.replace(item, title=None),
        (lambda n: workspace(n, description=HUGE), "workspaces.description"),
    ),
    Case(
        DATASET_DETAILS,
        details,
        lambda n: details(n, name="Renamed", imports=[]),
        ("datasets", "dataset_imports"),
        lambda item: _naive_created_at(item, "details"),
        (lambda n: details(n, name=HUGE), "datasets.name"),
        prepare=_stored_batches,
    ),
    Case(
        RESPONSE,
        response,
        lambda n: response(n, answer=[{"value": "changed"}, {"value": 3}]),
        ("responses", "response_answers"),
        lambda item: _naive_created_at(item, "response"),
        (lambda n: response(n, answer=[{"value": HUGE}]), "response_answers.value_text"),
        prepare=lambda engine: writer.write(engine, BATCH, [batch(1)], 1, T1),
    ),
    Case(
        STUDY,
        study,
        lambda n: study(n, status="COMPLETED", places_taken=10),
        ("studies",),
        lambda item: _naive(item, "study", "date_created"),
        (lambda n: study(n, name=HUGE), "studies.name"),
        prepare=lambda engine: writer.write(engine, BATCH, [batch(1)], 1, T1),
    ),
    Case(
        SUBMISSION,
        submission,
        lambda n: submission(n, status="APPROVED", bonus_payments=[]),
        ("submissions", "submission_status_history"),
        lambda item: _naive(item, "submission", "started_at"),
        (lambda n: submission(n, study_code=HUGE), "submissions.study_code"),
        prepare=_stored_studies,
    ),
    Case(
        STUDY_COST,
        cost,
        lambda n: cost(n, rewards=450, counts={"APPROVED": 3, "REJECTED": 1}),
        ("study_costs", "study_submission_counts"),
        lambda item: dataclasses.replace(item, counts=item.counts * 2),  # a status twice
        None,
        prepare=_stored_studies,
    ),
]


@pytest.fixture(params=CASES, ids=str)
def case(request) -> Case:
    return request.param


@pytest.fixture
def engine(database_url, case):
    engine = connect(database_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        for run_id in (1, 2, 3):
            connection.execute(
                insert(etl_runs).values(
                    run_id=run_id, started_at=T1, status="running", tool_version="test"
                )
            )
    case.prepare(engine)
    yield engine
    engine.dispose()


def tables(engine, case: Case) -> dict[str, list[dict]]:
    url = engine.url.render_as_string(hide_password=False)
    return {name: read_table(url, name) for name in case.tables}


def own_row(engine, kind: Kind, key: str) -> dict:
    (row,) = [
        r
        for r in read_table(engine.url.render_as_string(False), kind.table.name)
        if r[kind.key] == key
    ]
    return row


def expected_row(case: Case, item: Any, *, first: tuple, changed: tuple) -> dict:
    """The item's own row as stored: its values, its hash, and when it was stored."""
    kind = case.kind
    row = dict(kind.row_of(item))
    if kind.hash_column:
        row[kind.hash_column] = kind.hash_of(item)
    stamps = {
        "first_seen_at": first[0],
        "first_seen_run_id": first[1],
        "last_changed_at": changed[0],
        "last_changed_run_id": changed[1],
        "details_synced_at": changed[0],
        "details_run_id": changed[1],
    }
    columns = kind.table.c
    row.update({name: value for name, value in stamps.items() if name in columns})
    if kind.fills_in:
        row = {**row, "first_seen_at": T1, "first_seen_run_id": 1}
    return {name: row[name] for name in row if name in columns}


def subset(row: dict, like: dict) -> dict:
    return {name: row[name] for name in like}


# --- the behaviours -----------------------------------------------------------------------------


def test_new_items_are_inserted_whole(engine, case):
    items = [case.make(n) for n in (1, 2)]

    outcome = writer.write(engine, case.kind, items, 2, T2)

    keys = [case.kind.key_of(item) for item in items]
    assert (outcome.inserted, outcome.updated, outcome.unchanged, outcome.failed) == (
        keys,
        [],
        [],
        [],
    )
    assert_stored_whole(engine, case, items)


def test_chunks_in_an_open_transaction_are_unseen_until_it_commits(engine, case):
    # On SQLite the responses' chunks share a transaction, a savepoint each: Python's sqlite3
    # would let the first savepoint open the transaction, and its release commit it.
    items = [case.make(n) for n in (1, 2)]
    before = tables(engine, case)
    held = writer.OpenTransaction(engine)

    outcomes = [held.write(case.kind, [item], 2, T2) for item in items]

    assert [outcome.inserted for outcome in outcomes] == [[case.kind.key_of(i)] for i in items]
    assert tables(engine, case) == before
    held.commit()
    assert_stored_whole(engine, case, items)


def assert_stored_whole(engine, case: Case, items: list) -> None:
    """Each of ``items`` stored as new in run 2 at T2, its own row and its children."""
    for item in items:
        expected = expected_row(case, item, first=(T2, 2), changed=(T2, 2))
        stored = own_row(engine, case.kind, case.kind.key_of(item))
        assert subset(stored, expected) == expected
        for children in case.kind.children:
            rows = [
                r
                for r in read_table(engine.url.render_as_string(False), children.table.name)
                if r[children.parent_key] == case.kind.key_of(item)
            ]
            assert rows == sorted(
                ({c.name: r.get(c.name) for c in children.table.c} for r in children.of(item)),
                key=lambda r: tuple(str(r[c.name]) for c in children.table.primary_key.columns),
            )


def test_a_rerun_writes_nothing(engine, case):
    items = [case.make(n) for n in (1, 2)]
    writer.write(engine, case.kind, items, 2, T2)
    before = tables(engine, case)

    outcome = writer.write(engine, case.kind, [case.make(n) for n in (1, 2)], 3, T3)

    assert (outcome.inserted, outcome.updated) == ([], [])
    assert outcome.unchanged == [case.kind.key_of(item) for item in items]
    assert tables(engine, case) == before


def test_a_change_is_written_exactly_and_its_children_replaced(engine, case):
    writer.write(engine, case.kind, [case.make(1), case.make(2)], 2, T2)
    untouched = own_row(engine, case.kind, case.kind.key_of(case.make(2)))
    changed = case.change(1)

    outcome = writer.write(engine, case.kind, [changed, case.make(2)], 3, T3)

    key = case.kind.key_of(changed)
    assert (outcome.updated, outcome.failed) == ([key], [])
    expected = expected_row(case, changed, first=(T2, 2), changed=(T3, 3))
    assert subset(own_row(engine, case.kind, key), expected) == expected
    assert own_row(engine, case.kind, case.kind.key_of(case.make(2))) == untouched
    url = engine.url.render_as_string(False)
    for children in case.kind.children:
        stored = [r for r in read_table(url, children.table.name) if r[children.parent_key] == key]
        wanted = [{c.name: r.get(c.name) for c in children.table.c} for r in children.of(changed)]
        assert sorted(map(repr, stored)) == sorted(map(repr, wanted))


def test_a_row_the_database_refuses_fails_alone(engine, case):
    bad = case.refusable(case.make(2))

    outcome = writer.write(engine, case.kind, [case.make(1), bad, case.make(3)], 2, T2)

    assert outcome.inserted == [case.kind.key_of(case.make(n)) for n in (1, 3)]
    (error,) = outcome.failed
    assert "database refused the rows: " in error.message
    stages = {"response": "responses", "study": "studies", "submission": "submissions"}
    assert (error.stage, error.kind) == (
        stages.get(case.kind.name, "costs" if case.kind is STUDY_COST else "load"),
        "load_error",
    )
    keys = {
        row[case.kind.key]
        for row in read_table(engine.url.render_as_string(False), case.kind.table.name)
    }
    assert case.kind.key_of(case.make(1)) in keys
    if not case.kind.fills_in:
        assert case.kind.key_of(bad) not in keys
    else:
        assert own_row(engine, case.kind, case.kind.key_of(bad))["details_synced_at"] is None


def test_an_oversize_text_value_fails_its_item_naming_the_column(engine, case):
    if case.oversize is None:
        pytest.skip(f"a {case.kind.name} has no free-text column")
    make_huge, column = case.oversize
    huge = make_huge(2)

    outcome = writer.write(engine, case.kind, [case.make(1), huge, case.make(3)], 2, T2)

    assert outcome.inserted == [case.kind.key_of(case.make(n)) for n in (1, 3)]
    (error,) = outcome.failed
    assert error.field == column
    assert f"{column} is too large to store: {TEXT_MAX_BYTES + 1:,} bytes of UTF-8" in (
        error.message
    )
    assert writer.preview(engine, case.kind, [huge]).failed[0].field == column


@pytest.mark.skipif(not MYSQL_URL, reason="ETL_TEST_MYSQL_URL not set")
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
@pytest.mark.parametrize("case", [CASES[1]], ids=str, indirect=True)
def test_a_huge_workspace_description_on_mariadb_fails_that_workspace(engine, case):
    # It used to end the whole run: the guard covered batches only.

    outcome = store_workspaces(engine, [workspace(1), workspace(2, description=HUGE)], 2, T2)

    assert outcome.inserted == ["ws-1"]
    (error,) = outcome.failed
    assert (error.workspace_id, error.field, str(error.subject)) == (
        "ws-2",
        "workspaces.description",
        "workspace ws-2",
    )
    assert [row["workspace_id"] for row in tables(engine, case)["workspaces"]] == ["ws-1"]


REMOVABLE = [case for case in CASES if case.kind.removal is not None]


@pytest.mark.parametrize("case", REMOVABLE, ids=str, indirect=True)
def test_removal_marks_are_set_and_cleared(engine, case):
    kind = case.kind
    listed = (lambda n: batch(n, listed_in="ws-1")) if kind is BATCH else case.make
    writer.write(engine, kind, [listed(n) for n in (1, 2, 3)], 1, T1)
    gone = kind.key_of(listed(2))
    if kind is BATCH:
        writer.write(engine, kind, [listed(1), listed(3)], 2, T2)
        removed = writer.mark_removed(engine, kind, "ws-1", 2, T2)
    else:
        seen = {kind.key_of(listed(n)) for n in (1, 3)}
        scope = kind.row_of(listed(1))[kind.removal.scope]
        removed = writer.mark_removed(engine, kind, scope, None, T2, seen=seen)

    assert removed == [gone]
    marks = {
        row[kind.key]: row[kind.removal.column]
        for row in read_table(engine.url.render_as_string(False), kind.table.name)
    }
    assert marks == {kind.key_of(listed(n)): (T2 if n == 2 else None) for n in (1, 2, 3)}

    writer.write(engine, kind, [listed(2)], 3, T3)  # listed again: back

    assert own_row(engine, kind, gone)[kind.removal.column] is None


def test_the_rows_handed_to_the_driver_are_stored_as_sqlalchemy_would_store_them(
    engine, case, monkeypatch
):
    # Issue 22: execute_many converts each value itself and hands the driver the rows as they
    # are; the tables must come out exactly as through SQLAlchemy's own executemany.
    def stored(through_sqlalchemy: bool) -> dict[str, list[str]]:
        if through_sqlalchemy:
            monkeypatch.setattr(
                writer,
                "execute_many",
                lambda connection, statement, rows: connection.execute(statement, rows),
            )
        with engine.connect() as connection:
            connection.begin()
            writer.write_in(connection, case.kind, [case.make(n) for n in (1, 2, 3)], 2, T2)
            writer.write_in(connection, case.kind, [case.change(1), case.make(2)], 3, T3)
            rows = {name: _raw_rows(connection, name) for name in case.tables}
            connection.rollback()
        monkeypatch.undo()
        return rows

    handed_over = stored(through_sqlalchemy=False)

    assert handed_over == stored(through_sqlalchemy=True)
    assert len(handed_over[case.kind.table.name]) == 3


def _raw_rows(connection, name: str) -> list[str]:
    """A table's rows as the driver reads them back, less a counter no rollback resets."""
    table = metadata.tables[name]
    columns = ", ".join(c.name for c in table.c if c is not table.autoincrement_column)
    return sorted(map(repr, connection.exec_driver_sql(f"SELECT {columns} FROM {name}")))
