"""The annotators' responses: loaded with sync --responses, field by field, idempotently."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine

from etl.cli import main
from etl.config import normalize_database_url
from etl.imitation.server import (
    FakeProlificAPI,
    Fault,
    iter_sample_responses,
    responses_key,
    sample_batches,
)
from etl.imitation.study_samples import SampleStudies
from etl.run import responses as run_responses
from etl.store.responses import SeenIds
from etl.store.views import (
    v_batch_participants,
    v_batch_progress,
    v_instruction_answers,
    v_responses_per_day,
)

from conftest import TOKEN
from support import (
    RESPONSE_BOOKKEEPING,
    expected_answer_rows,
    expected_response_row,
    failure_rows,
    parse_time,
    read_table,
)

QUERIES = Path(__file__).resolve().parent.parent / "sql" / "queries"
WRITE_TO_RESPONSES = re.compile(
    r"\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`\"]?(responses|response_answers)\b", re.I
)


def sync(api: FakeProlificAPI, database_url: str, ids, *args: str, env: dict | None = None):
    environment = {
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api.url,
        "DATABASE_URL": database_url,
        **(env or {}),
    }
    return CliRunner().invoke(main, ["sync", "--ids", str(ids), *args], env=environment)


def write_ids(tmp_path, batches) -> str:
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{b['id']}\n" for b in batches), encoding="utf-8")
    return str(path)


def stored_responses(database_url: str) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in RESPONSE_BOOKKEEPING}
        for row in read_table(database_url, "responses")
    ]


def expected_responses(records: list[dict]) -> list[dict]:
    return sorted((expected_response_row(r) for r in records), key=lambda r: r["response_id"])


def expected_answers(records: list[dict]) -> list[dict]:
    rows = [row for record in records for row in expected_answer_rows(record)]
    return sorted(rows, key=lambda row: (row["response_id"], row["position"]))


def test_500_batches_load_every_response_and_answer_field_by_field(database_url, tmp_path):
    # Issue 14: 500 batches with 0 to 2,000 responses each. Most have a few, some none and
    # two have 2,000, to keep every dialect's run short while covering the range.
    rng = random.Random(14)
    batches = sample_batches(500, seed=14, datasets=40)
    counts = [2000, 2000] + [0] * 48 + [rng.randrange(1, 25) for _ in range(450)]
    records = []
    with FakeProlificAPI(batches, token=TOKEN) as api:
        for batch, count in zip(batches, counts, strict=True):
            batch_records = list(iter_sample_responses(batch["id"], count, seed=3))
            api.put_responses(batch["id"], batch_records)
            records += batch_records
        ids = write_ids(tmp_path, batches)

        first = sync(api, database_url, ids, "--responses", "--no-dataset-details")

        assert first.exit_code == 0, first.output
        assert len(api.requests_of("responses")) == 500
        assert stored_responses(database_url) == expected_responses(records)
        assert read_table(database_url, "response_answers") == expected_answers(records)
        total = len(records)
        assert f"responses: {total} inserted, 0 updated, 0 unchanged" in first.stdout

        writes: list[str] = []

        def note_writes(conn, cursor, statement, *args) -> None:
            if WRITE_TO_RESPONSES.match(statement):
                writes.append(statement)

        before = read_table(database_url, "responses")
        event.listen(Engine, "before_cursor_execute", note_writes)
        try:
            second = sync(api, database_url, ids, "--responses", "--no-dataset-details")
        finally:
            event.remove(Engine, "before_cursor_execute", note_writes)

    assert second.exit_code == 0, second.output
    assert f"responses: 0 inserted, 0 updated, {total} unchanged" in second.stdout
    # A rerun with nothing changed writes no response row: every row exactly as before.
    assert read_table(database_url, "responses") == before
    assert writes == []
    runs = read_table(database_url, "etl_runs")
    assert [(r["responses_inserted"], r["responses_unchanged"]) for r in runs] == [
        (total, 0),
        (0, total),
    ]


def test_responses_download_while_the_batches_still_arrive(database_url, tmp_path):
    # Issue 22: without --submissions every batch written is due for its responses, so they
    # are asked for as each chunk is written, through the same workers, not after the last.
    batches = sample_batches(40, seed=22, datasets=10)
    records = []
    with FakeProlificAPI(batches, token=TOKEN) as api:
        for number, batch in enumerate(batches):
            batch_records = list(iter_sample_responses(batch["id"], number % 4, seed=22))
            api.put_responses(batch["id"], batch_records)
            records += batch_records
        ids = write_ids(tmp_path, batches)
        result = sync(
            api, database_url, ids, "--responses", "--no-dataset-details", "--chunk-size", "5",
            "--concurrency", "2",
        )  # fmt: skip

        assert result.exit_code == 0, result.output
        served = [seen.kind for seen in sorted(api.requests, key=lambda seen: seen.at)]
    last_batch = max(index for index, kind in enumerate(served) if kind == "batch")
    assert "responses" in served[:last_batch], "no batch's responses before the last batch"
    assert (served.count("batch"), served.count("responses")) == (40, 40)
    assert stored_responses(database_url) == expected_responses(records)
    assert read_table(database_url, "response_answers") == expected_answers(records)
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["responses_inserted"]) == ("succeeded", len(records))


def test_with_submissions_responses_wait_for_the_studies_then_download_ahead(
    database_url, tmp_path
):
    # With --submissions the studies say whose responses can still change, and responses
    # read before the studies would count as older than that night's change of them (read
    # again the next night): none is asked for before the studies, then two groups ahead.
    batches = sample_batches(30, seed=23, datasets=10)
    sample = SampleStudies(batches, seed=23, submissions=(1, 2), decoys=False)
    records = []
    with FakeProlificAPI(batches, token=TOKEN) as api:
        for number, batch in enumerate(batches):
            batch_records = list(iter_sample_responses(batch["id"], number % 3 + 1, seed=23))
            sample.answer(batch["id"], batch_records)
            api.put_responses(batch["id"], batch_records)
            records += batch_records
        api.put_studies(sample)
        ids = write_ids(tmp_path, batches)
        result = sync(
            api, database_url, ids, "--responses", "--submissions", "--no-dataset-details",
            "--chunk-size", "5", "--concurrency", "2",
        )  # fmt: skip

        assert result.exit_code == 0, result.output
        served = [seen.kind for seen in sorted(api.requests, key=lambda seen: seen.at)]
    first_responses = served.index("responses")
    assert {"studies", "submissions"} & set(served[first_responses:]) == set()
    assert served.count("responses") == 30
    assert stored_responses(database_url) == expected_responses(records)
    assert read_table(database_url, "response_answers") == expected_answers(records)
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["responses_inserted"]) == ("succeeded", len(records))


def test_responses_are_off_unless_asked_for(sqlite_url, api, ids_file, batches):
    api.put_responses(batches[0]["id"], list(iter_sample_responses(batches[0]["id"], 3)))
    assert sync(api, sqlite_url, ids_file).exit_code == 0
    assert api.requests_of("responses") == []
    assert read_table(sqlite_url, "responses") == []

    result = sync(api, sqlite_url, ids_file, env={"ETL_RESPONSES": "true"})

    assert result.exit_code == 0, result.output
    assert len(read_table(sqlite_url, "responses")) == 3


def test_a_response_type_never_seen_is_stored_as_it_came(database_url, api, ids_file, batches):
    record = next(iter_sample_responses(batches[1]["id"], 1))
    record["response"] = {
        "instruction_id": "instr-ranking",
        "type": "ranking_with_confidence",
        "answer": [{"value": ["b", "a"], "confidence": 0.8}, {"value": {"nested": True}}, "bare"],
    }
    api.put_responses(batches[1]["id"], [record])

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 0, result.output
    assert stored_responses(database_url) == expected_responses([record])
    answers = read_table(database_url, "response_answers")
    assert answers == expected_answer_rows(record)
    assert [a["value_text"] for a in answers] == ['["b", "a"]', '{"nested": true}', "bare"]


def test_a_count_mismatch_is_a_failure_and_what_arrived_loads(database_url, api, ids_file, batches):
    short = batches[2]["id"]
    records = {b["id"]: list(iter_sample_responses(b["id"], 4, seed=1)) for b in batches[:4]}
    for batch_id, batch_records in records.items():
        api.put_responses(batch_id, batch_records)
    api.set_responses_count(short, 9)

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["batch_id"], failure["stage"], failure["error_kind"]) == (
        short,
        "responses",
        "truncated_responses",
    )
    assert "the API sent 4 responses but says there are 9" in failure["message"]
    everything = [r for batch_records in records.values() for r in batch_records]
    assert stored_responses(database_url) == expected_responses(everything)


def test_a_malformed_body_fails_that_batchs_responses_only(database_url, api, ids_file, batches):
    broken = batches[1]["id"]
    good = {b["id"]: list(iter_sample_responses(b["id"], 3, seed=2)) for b in batches[2:5]}
    for batch_id, batch_records in good.items():
        api.put_responses(batch_id, batch_records)
    body = json.dumps({"results": list(iter_sample_responses(broken, 5)), "meta": {"count": 5}})
    api.inject(responses_key(broken), Fault.raw_body(body[: len(body) // 2]))

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 1, result.output
    failures = failure_rows(database_url)
    assert [(f["batch_id"], f["stage"], f["error_kind"]) for f in failures] == [
        (broken, "responses", "invalid_response")
    ]
    stored = {row["batch_id"] for row in stored_responses(database_url)}
    assert stored <= {broken, *good}
    assert [r for r in stored_responses(database_url) if r["batch_id"] in good] == (
        expected_responses([r for batch_records in good.values() for r in batch_records])
    )
    assert len(read_table(database_url, "batches")) == len(batches)


# Issue #23 item 4: a body cut mid-stream loaded nothing (meta.count, after the results, was
# read first and failed the whole answer; a dropped connection threw what came away).
@pytest.mark.parametrize("cut", ["connection closed", "clean end at 70%"])
def test_a_responses_body_cut_mid_stream_loads_every_record_that_came_whole(
    database_url, api, ids_file, batches, cut
):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 3000, seed=8))
    api.put_responses(batch_id, records)
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    body = api.responses_body(batch_id)
    fault = (
        Fault.truncate()
        if cut == "connection closed"
        else Fault.raw_body(body[: 7 * len(body) // 10])
    )
    api.inject(responses_key(batch_id), fault)
    before = read_table(database_url, "responses")

    result = sync(api, database_url, ids_file, "--responses", "--max-attempts", "1")

    assert result.exit_code == 1, result.output
    came = int(re.search(r"responses: 0 inserted, 0 updated, (\d+) unchanged", result.stdout)[1])
    assert came > (0.45 if cut == "connection closed" else 0.65) * len(records)
    (failure,) = failure_rows(database_url)
    assert (failure["batch_id"], failure["stage"], failure["error_kind"]) == (
        batch_id,
        "responses",
        "api_unavailable" if cut == "connection closed" else "invalid_response",
    )
    assert read_table(database_url, "responses") == before  # none marked removed
    assert read_table(database_url, "etl_runs")[1]["responses_unchanged"] == came


def test_a_responses_body_cut_on_the_first_load_stores_what_came(
    database_url, api, ids_file, batches
):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 3000, seed=9))
    api.put_responses(batch_id, records)
    api.inject(responses_key(batch_id), Fault.truncate())

    result = sync(api, database_url, ids_file, "--responses", "--max-attempts", "1")

    assert result.exit_code == 1, result.output
    stored = stored_responses(database_url)
    assert len(stored) > 1300
    assert stored == expected_responses(records[: len(stored)])
    assert read_table(database_url, "response_answers") == expected_answers(records[: len(stored)])


# Issue #23 item 2: 1e400 or 10**30 in an answer lost every response of the batch.
def test_numbers_beyond_a_double_in_an_answer_are_kept_as_text(
    database_url, api, ids_file, batches
):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 5, seed=10))
    odd = records[1]
    odd["metadata"] = {"score": "BIG_FLOAT"}
    odd["response"] = {
        "instruction_id": "instr-big",
        "type": "free_text",
        "answer": [{"value": "BIG_FLOAT"}, {"value": 10**30}],
    }
    body = json.dumps({"results": records, "meta": {"count": 5}}).replace('"BIG_FLOAT"', "1e400")
    api.inject(responses_key(batch_id), Fault.raw_body(body))

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 0, result.output
    stored = {row["response_id"]: row for row in read_table(database_url, "responses")}
    assert set(stored) == {r["id"] for r in records}
    answers = [
        (a["position"], a["value_text"], a["value_number"])
        for a in read_table(database_url, "response_answers")
        if a["response_id"] == odd["id"]
    ]
    assert answers == [(0, "1E+400", None), (1, str(10**30), 1e30)]
    others = [r for r in records if r is not odd]
    assert [
        row for row in stored_responses(database_url) if row["response_id"] != odd["id"]
    ] == expected_responses(others)


def test_a_response_that_fails_validation_is_recorded_with_its_id_and_field(
    database_url, api, ids_file, batches
):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 5))
    bad = records[3]
    bad["participant_id"] = 42
    api.put_responses(batch_id, records)

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["batch_id"], failure["response_id"], failure["stage"], failure["field"]) == (
        batch_id,
        bad["id"],
        "responses",
        "results[3].participant_id",
    )
    assert failure["message"].startswith(f"response {bad['id']}: field 'participant_id'")
    assert stored_responses(database_url) == expected_responses(records[:3] + records[4:])


_REFUSE_ONE_ANSWER = {
    "sqlite": [
        "CREATE TRIGGER refuse_one BEFORE INSERT ON response_answers "
        "WHEN NEW.value_text = 'refuse me' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
        "IF NEW.value_text = 'refuse me' THEN RAISE EXCEPTION 'refused by a trigger' "
        "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_one BEFORE INSERT ON response_answers "
        "FOR EACH ROW EXECUTE FUNCTION refuse_one()",
    ],
    "mysql": [
        "CREATE TRIGGER refuse_one BEFORE INSERT ON response_answers FOR EACH ROW BEGIN "
        "IF NEW.value_text = 'refuse me' THEN SIGNAL SQLSTATE '23000' "
        "SET MESSAGE_TEXT = 'refused by a trigger', MYSQL_ERRNO = 1062; END IF; END"
    ],
}


@pytest.fixture
def small_chunks(monkeypatch) -> None:
    """Responses in chunks of 4, on SQLite three chunks a transaction (several share one)."""
    monkeypatch.setattr(run_responses._BatchResponses, "chunk_size", 4)
    monkeypatch.setattr(run_responses, "SQLITE_RESPONSES_PER_TRANSACTION", 12)


def test_a_response_the_database_refuses_fails_alone_and_the_chunks_around_it_stay(
    database_url, api, ids_file, batches, small_chunks
):
    # The refused response is in the third chunk of the first transaction on SQLite.
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 20, seed=3))
    refused = records[9]
    refused["response"] = {
        "instruction_id": "instr-0",
        "type": "free_text",
        "answer": [{"value": "refuse me"}],
    }
    assert sync(api, database_url, ids_file).exit_code == 0  # the tables, for the trigger
    engine = create_engine(normalize_database_url(database_url))
    with engine.begin() as connection:
        for statement in _REFUSE_ONE_ANSWER[engine.dialect.name]:
            connection.exec_driver_sql(statement)
    api.put_responses(batch_id, records)

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 1, result.output
    assert "responses: 19 inserted, 0 updated, 0 unchanged" in result.stdout
    (failure,) = failure_rows(database_url)
    assert (failure["batch_id"], failure["response_id"], failure["stage"]) == (
        batch_id,
        refused["id"],
        "responses",
    )
    assert "database refused the rows" in failure["message"]
    assert "refused by a trigger" in failure["message"]
    kept = [r for r in records if r is not refused]
    assert stored_responses(database_url) == expected_responses(kept)
    assert read_table(database_url, "response_answers") == expected_answers(kept)
    assert read_table(database_url, "etl_runs")[-1]["status"] == "partial"

    with engine.begin() as connection:
        on_table = " ON response_answers" if engine.dialect.name == "postgresql" else ""
        connection.exec_driver_sql("DROP TRIGGER refuse_one" + on_table)
    engine.dispose()
    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 0, result.output
    assert "responses: 1 inserted, 0 updated, 19 unchanged" in result.stdout
    assert stored_responses(database_url) == expected_responses(records)


def test_fail_fast_stops_at_the_chunk_of_the_first_invalid_response(
    database_url, api, ids_file, batches, small_chunks
):
    # On SQLite chunks share a transaction, their failures recorded once it commits: a chunk
    # with a failure commits at once, so --fail-fast stops there, not chunks later.
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 20, seed=4))
    records[5]["participant_id"] = 42

    api.put_responses(batch_id, records)
    result = sync(api, database_url, ids_file, "--responses", "--fail-fast")

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["response_id"], failure["field"]) == (
        records[5]["id"],
        "results[5].participant_id",
    )
    assert stored_responses(database_url) == expected_responses(records[:5] + records[6:8])
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["responses_inserted"]) == ("partial", 7)


def test_a_response_whose_id_is_not_a_uuid_is_recorded_without_failing_the_run(
    database_url, api, ids_file, batches
):
    # Its id went into etl_failures.response_id (36 characters): PostgreSQL and MariaDB
    # refused the failure row and the whole run failed.
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 3))
    odd_id = "resp-" + "0123456789" * 5
    records[1]["id"] = odd_id
    api.put_responses(batch_id, records)

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["batch_id"], failure["response_id"], failure["field"]) == (
        batch_id,
        None,
        "results[1].id",
    )
    assert failure["message"].startswith(f"response {odd_id}: field 'id'")
    assert stored_responses(database_url) == expected_responses([records[0], records[2]])
    assert read_table(database_url, "etl_runs")[0]["status"] == "partial"


def test_a_response_gone_upstream_is_marked_and_kept_until_it_returns(
    database_url, api, ids_file, batches
):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 6))
    api.put_responses(batch_id, records)
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    api.put_responses(batch_id, records[:2] + records[3:])

    assert sync(api, database_url, ids_file, "--responses").exit_code == 0

    rows = {row["response_id"]: row for row in read_table(database_url, "responses")}
    assert len(rows) == 6
    assert [i for i, row in rows.items() if row["removed_upstream_at"] is not None] == [
        records[2]["id"]
    ]
    api.put_responses(batch_id, records)
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    assert {row["removed_upstream_at"] for row in read_table(database_url, "responses")} == {None}


def test_a_changed_response_is_rewritten_with_its_new_answers(database_url, api, ids_file, batches):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 4))
    api.put_responses(batch_id, records)
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    records[1] = {
        **records[1],
        "response": {
            "instruction_id": "instr-0",
            "type": "multiple_choice",
            "answer": [{"value": "Z"}, {"value": 7}, {"value": False}],
        },
    }

    result = sync(api, database_url, ids_file, "--responses")

    assert result.exit_code == 0, result.output
    assert "responses: 0 inserted, 1 updated, 3 unchanged" in result.stdout
    assert stored_responses(database_url) == expected_responses(records)
    assert read_table(database_url, "response_answers") == expected_answers(records)
    runs = {
        row["response_id"]: row["last_changed_run_id"]
        for row in read_table(database_url, "responses")
    }
    assert runs == {r["id"]: 2 if r["id"] == records[1]["id"] else 1 for r in records}


def changed_answer(record: dict, value: str) -> dict:
    return {**record, "response": {**record["response"], "answer": [{"value": value}]}}


# Issue #23 item 3: a response id twice in one answer was not recorded, and every rerun
# counted it "updated" with nothing changed upstream.
def test_a_response_twice_in_one_answer_keeps_its_first_copy_and_a_rerun_writes_nothing(
    database_url, api, ids_file, batches
):
    batch_id = batches[0]["id"]
    records = list(iter_sample_responses(batch_id, 4, seed=5))
    twice = records[1]
    api.put_responses(batch_id, [*records, changed_answer(twice, "second copy"), twice])

    first = sync(api, database_url, ids_file, "--responses")
    second = sync(api, database_url, ids_file, "--responses")

    assert (first.exit_code, second.exit_code) == (1, 1), first.output
    assert "responses: 4 inserted, 0 updated, 0 unchanged" in first.stdout
    assert "responses: 0 inserted, 0 updated, 4 unchanged" in second.stdout
    assert stored_responses(database_url) == expected_responses(records)
    assert read_table(database_url, "response_answers") == expected_answers(records)
    message = (
        f"response {twice['id']} appears more than once in batch {batch_id}'s answer; "
        "the first copy is kept, this one is not written"
    )
    assert [
        (f["run_id"], f["batch_id"], f["response_id"], f["stage"], f["error_kind"], f["message"])
        for f in failure_rows(database_url)
    ] == [
        (run, batch_id, twice["id"], "responses", "duplicate_response", message)
        for run in (1, 1, 2, 2)
    ]


# Issue #23 item 3: the same response id in two batches' answers moved between them every run.
def test_a_response_in_two_batches_stays_in_the_first_and_a_rerun_writes_nothing(
    database_url, api, ids_file, batches
):
    first_batch, second_batch = batches[0]["id"], batches[1]["id"]
    records = list(iter_sample_responses(first_batch, 3, seed=6))
    shared = records[2]
    others = list(iter_sample_responses(second_batch, 2, seed=7))
    api.put_responses(first_batch, records)
    api.put_responses(second_batch, [*others, {**shared, "batch_id": second_batch}])

    first = sync(api, database_url, ids_file, "--responses")
    second = sync(api, database_url, ids_file, "--responses")

    assert (first.exit_code, second.exit_code) == (1, 1), first.output
    assert "responses: 0 inserted, 0 updated, 5 unchanged" in second.stdout
    assert stored_responses(database_url) == expected_responses(records + others)
    assert {r["last_changed_run_id"] for r in read_table(database_url, "responses")} == {1}
    message = (
        f"response {shared['id']} is in the answers of batches {first_batch} and "
        f"{second_batch}; it is kept in batch {first_batch}, which held it first"
    )
    assert [
        (f["run_id"], f["batch_id"], f["response_id"], f["error_kind"], f["message"])
        for f in failure_rows(database_url)
    ] == [(run, second_batch, shared["id"], "duplicate_response", message) for run in (1, 2)]
    # Once the first batch no longer holds it, the second one has it.
    api.put_responses(first_batch, records[:2])
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    moved = {r["response_id"]: r for r in read_table(database_url, "responses")}[shared["id"]]
    assert (moved["batch_id"], moved["removed_upstream_at"]) == (second_batch, None)


@pytest.mark.parametrize("value", ["yes", "maybe"])
def test_etl_responses_must_be_a_switch(sqlite_url, api, ids_file, value):
    result = sync(api, sqlite_url, ids_file, env={"ETL_RESPONSES": value})
    if value == "yes":
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert "ETL_RESPONSES must be true or false" in result.stderr


@pytest.fixture
def answered(database_url, api, ids_file, batches):
    """Responses for three batches (one removed upstream afterwards), synced; the records."""
    records = {
        b["id"]: list(iter_sample_responses(b["id"], n, seed=9))
        for b, n in zip(batches[:3], (25, 7, 3), strict=True)
    }
    for batch_id, batch_records in records.items():
        api.put_responses(batch_id, batch_records)
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    gone = records[batches[1]["id"]].pop()
    api.put_responses(batches[1]["id"], records[batches[1]["id"]])
    assert sync(api, database_url, ids_file, "--responses").exit_code == 0
    return database_url, [r for batch_records in records.values() for r in batch_records], gone


def read_view_rows(database_url: str, view) -> list[dict]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(view.table))]
    engine.dispose()
    return rows


def day_of(record: dict) -> date:
    return parse_time(record["created_at"]).date()


def test_v_responses_per_day_counts_responses_and_participants(answered, batches):
    database_url, records, gone = answered
    names = {b["id"]: b["name"] for b in batches}
    workspace = {b["id"]: b["workspace_id"] for b in batches}
    groups: dict = {}
    for record in records:
        groups.setdefault((record["batch_id"], day_of(record)), []).append(record)
    expected = sorted(
        (
            {
                "batch_id": batch_id,
                "batch_name": names[batch_id],
                "workspace_id": workspace[batch_id],
                "day": day,
                "responses": len(group),
                "participants": len({r["participant_id"] for r in group}),
            }
            for (batch_id, day), group in groups.items()
        ),
        key=lambda row: (row["batch_id"], row["day"]),
    )
    rows = read_view_rows(database_url, v_responses_per_day)
    assert sorted(rows, key=lambda row: (row["batch_id"], row["day"])) == expected
    assert gone["id"] not in {r["id"] for r in records}  # the removed one is left out


def test_v_batch_progress_sets_responses_against_tasks(answered, batches):
    database_url, records, _ = answered
    rows = {row["batch_id"]: row for row in read_view_rows(database_url, v_batch_progress)}
    assert len(rows) == len(batches)
    for batch in batches:
        mine = [r for r in records if r["batch_id"] == batch["id"]]
        tasks = len({r["task_id"] for r in mine})
        row = rows[batch["id"]]
        assert (row["responses"], row["tasks_answered"], row["participants"]) == (
            len(mine),
            tasks,
            len({r["participant_id"] for r in mine}),
        )
        total = batch["total_task_count"]
        assert row["share_answered"] == (pytest.approx(tasks / total) if total else None)
        times = [parse_time(r["created_at"]) for r in mine]
        assert (row["first_response_at"], row["last_response_at"]) == (
            (min(times), max(times)) if times else (None, None)
        )


def test_v_instruction_answers_counts_each_value(answered):
    database_url, records, _ = answered
    counts: dict = {}
    for record in records:
        for answer in expected_answer_rows(record):
            key = (
                record["batch_id"],
                record["response"]["instruction_id"],
                record["response"]["type"],
                answer["value_text"],
            )
            counts.setdefault(key, []).append(record["participant_id"])
    expected = sorted((key + (len(who), len(set(who))) for key, who in counts.items()), key=str)
    rows = read_view_rows(database_url, v_instruction_answers)
    assert (
        sorted(
            (
                (
                    r["batch_id"],
                    r["instruction_id"],
                    r["response_type"],
                    r["value_text"],
                    r["answers"],
                    r["participants"],
                )
                for r in rows
            ),
            key=str,
        )
        == expected
    )


def test_v_batch_participants_has_each_participants_first_and_last(answered):
    database_url, records, _ = answered
    per: dict = {}
    for record in records:
        per.setdefault((record["batch_id"], record["participant_id"]), []).append(record)
    expected = sorted(
        (
            batch_id,
            participant,
            len(group),
            len({r["task_id"] for r in group}),
            min(parse_time(r["created_at"]) for r in group),
            max(parse_time(r["created_at"]) for r in group),
        )
        for (batch_id, participant), group in per.items()
    )
    rows = read_view_rows(database_url, v_batch_participants)
    assert sorted(tuple(row.values()) for row in rows) == expected


def run_query(database_url: str, name: str) -> list[tuple]:
    sql = (QUERIES / f"{name}.sql").read_text(encoding="utf-8")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.exec_driver_sql(sql)]
    engine.dispose()
    return rows


def test_query_responses_per_day(answered, batches):
    database_url, records, _ = answered
    workspace = {b["id"]: b["workspace_id"] for b in batches}
    totals: dict = {}
    for record in records:
        key = (day_of(record), workspace[record["batch_id"]])
        totals[key] = totals.get(key, 0) + 1
    rows = run_query(database_url, "responses_per_day")
    assert [(as_date(day), ws, int(n)) for day, ws, n, _ in rows] == sorted(
        (day, ws, n) for (day, ws), n in totals.items()
    )


def test_query_answers_per_instruction(answered):
    database_url, records, _ = answered
    counts: dict = {}
    for record in records:
        if record["response"]["type"] != "multiple_choice":
            continue
        for answer in expected_answer_rows(record):
            key = (record["batch_id"], record["response"]["instruction_id"], answer["value_text"])
            counts[key] = counts.get(key, 0) + 1
    rows = run_query(database_url, "answers_per_instruction")
    assert rows, "the sample responses hold multiple-choice answers"
    assert {(b, i, v): n for b, i, v, n, _ in rows} == counts
    for batch_id, instruction, _value, n, share in rows:
        total = sum(c for (b, i, _), c in counts.items() if (b, i) == (batch_id, instruction))
        assert float(share) == pytest.approx(n / total, abs=1e-4)  # MySQL: 4 decimals


def test_query_batch_progress(answered):
    database_url, records, _ = answered
    rows = run_query(database_url, "batch_progress")
    assert sorted(row[0] for row in rows) == sorted({r["batch_id"] for r in records})


def as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_responses_and_their_answers_export_with_their_values(answered, tmp_path, fmt):
    from test_export import read_back, records, types_of

    database_url, _, _ = answered
    for name in ("responses", "response_answers"):
        path = tmp_path / f"{name}.{fmt}"
        result = CliRunner().invoke(
            main, ["export", name, "-o", str(path)], env={"DATABASE_URL": database_url}
        )
        assert result.exit_code == 0, result.output
        frame = read_back(path, fmt, types_of(name))
        expected = read_table(database_url, name)
        if fmt == "csv":  # CSV cannot tell an empty text from NULL (documented)
            expected = [{k: None if v == "" else v for k, v in row.items()} for row in expected]
        assert records(frame) == expected, name


# Issue 23, item 5: a batch deleted upstream kept its responses in the views (3,256 counted
# where the API held 3,100).
def test_a_batch_removed_upstream_takes_its_responses_out_of_the_views(database_url, api, batches):
    workspace = Counter(b["workspace_id"] for b in batches).most_common(1)[0][0]
    listed = [b for b in batches if b["workspace_id"] == workspace][:3]
    assert len(listed) >= 2  # one is deleted, the others stay
    for batch in listed:
        api.put_responses(batch["id"], list(iter_sample_responses(batch["id"], 6, seed=3)))
    environment = {
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api.url,
        "DATABASE_URL": database_url,
    }
    command = ["sync", "--workspace", workspace, "--responses"]
    assert CliRunner().invoke(main, command, env=environment).exit_code == 0
    deleted, *kept = listed
    api.remove_batch(deleted["id"])
    second = CliRunner().invoke(main, command, env=environment)
    assert second.exit_code == 0, second.output

    for view in (v_responses_per_day, v_batch_participants, v_instruction_answers):
        in_view = {row["batch_id"] for row in read_view_rows(database_url, view)}
        assert in_view == {b["id"] for b in kept}, view.name
    progress = {row["batch_id"]: row for row in read_view_rows(database_url, v_batch_progress)}
    assert deleted["id"] not in progress
    assert all(progress[b["id"]]["responses"] == 6 for b in kept)
    # Kept in the table, not deleted, and not marked one by one: the batch's mark says it.
    stored = [r for r in read_table(database_url, "responses") if r["batch_id"] == deleted["id"]]
    assert len(stored) == 6 and {r["removed_upstream_at"] for r in stored} == {None}


def test_the_ids_seen_tell_a_response_id_however_it_is_spelled():
    # SeenIds reads a UUID's 16 bytes without uuid.UUID (issue 22): the same ids stay the same.
    seen = SeenIds()
    seen.add("0b8d1e50-57b7-4574-96fa-a0e529953f64")
    seen.add("not-a-uuid")
    seen.add("0b8d1e50-57b7-4574-96fa-a0e52995 f64")  # not a UUID: kept as text

    for spelling in (
        "0B8D1E50-57B7-4574-96FA-A0E529953F64",
        "{0b8d1e50-57b7-4574-96fa-a0e529953f64}",
        "0b8d1e5057b7457496faa0e529953f64",
        "urn:uuid:0b8d1e50-57b7-4574-96fa-a0e529953f64",
        "not-a-uuid",
        "0b8d1e50-57b7-4574-96fa-a0e52995 f64",
    ):
        assert spelling in seen
    for other in ("0b8d1e50-57b7-4574-96fa-a0e529953f65", "NOT-A-UUID", "0b8d1e50"):
        assert other not in seen
    assert len(seen) == 3
