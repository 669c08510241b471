"""Label quality end to end (issue #25): responses served by the local API, synced, and read
back from v_agreement, v_consensus_labels and v_annotator_quality on every dialect; only
batches whose answers changed are recomputed."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import label_reference as reference
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, text
from test_agreement import KRIPPENDORFF_2011, WIKIPEDIA

from etl.cli import main
from etl.imitation.server import FakeProlificAPI
from etl.imitation.study_samples import SampleStudies
from etl.reporting.labels import export_labels
from etl.store.views import VIEWS_BY_NAME

from conftest import TOKEN
from support import read_table

NOMINAL, INTERVAL = "instr-colour", "instr-count"


def record(batch_id: str, instruction: str, row: int, column: int, value, kind: str) -> dict:
    """A response of participant ``row`` to task ``column``: one cell of a published table."""
    key = f"{batch_id}:{instruction}:{row}:{column}:{value}"
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "created_at": f"2025-06-01T00:{row:02}:{column:02}Z",
        "batch_id": batch_id,
        "participant_id": f"observer-{row}",
        "submission_id": f"sub-{batch_id[:8]}-{row}",
        "task_id": f"unit-{column:02}",
        "response": {"instruction_id": instruction, "type": kind, "answer": [{"value": value}]},
    }


def from_table(batch_id: str, matrix: list[list], instruction: str, numbers: bool) -> list[dict]:
    kind = "free_text" if numbers else "multiple_choice"
    return [
        record(batch_id, instruction, row, column, value if numbers else f"c{value}", kind)
        for row, values in enumerate(matrix)
        for column, value in enumerate(values)
        if value is not None
    ]


def sync(api: FakeProlificAPI, database_url: str, ids: Path, *args: str):
    env = {"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": api.url, "DATABASE_URL": database_url}
    result = CliRunner().invoke(main, ["sync", "--ids", str(ids), "--responses", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def read_view(database_url: str, name: str) -> list[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [
                dict(row) for row in connection.execute(text(f"SELECT * FROM {name}")).mappings()
            ]
    finally:
        engine.dispose()


def reference_consensus(records: list[dict]) -> dict[tuple[str, str], tuple]:
    """(instruction, task) -> (consensus, votes, answers, is_tie), by counting."""
    values = defaultdict(list)
    for item in records:
        value = item["response"]["answer"][0]["value"]
        shown = value if isinstance(value, str) else str(value)
        values[item["response"]["instruction_id"], item["task_id"]].append(shown)
    return {key: reference.majority(labels) for key, labels in values.items()}


def reference_annotators(records: list[dict]) -> dict[str, tuple[int, int, int]]:
    """participant -> (answers, compared, agreed) against settled consensus of 2+ answers."""
    consensus = reference_consensus(records)
    tally = defaultdict(lambda: [0, 0, 0])
    for item in records:
        key = (item["response"]["instruction_id"], item["task_id"])
        label, _votes, answers, tie = consensus[key]
        value = item["response"]["answer"][0]["value"]
        counts = tally[item["participant_id"]]
        counts[0] += 1
        if answers >= 2 and not tie:
            counts[1] += 1
            counts[2] += (value if isinstance(value, str) else str(value)) == label
    return {participant: tuple(counts) for participant, counts in tally.items()}


@pytest.fixture
def published(api, batches):
    """Batch 0: Krippendorff (2011) as choices and as numbers; batch 1: Wikipedia's example."""
    first, second = batches[0]["id"], batches[1]["id"]
    served = {
        first: from_table(first, KRIPPENDORFF_2011, NOMINAL, numbers=False)
        + from_table(first, KRIPPENDORFF_2011, INTERVAL, numbers=True),
        second: from_table(second, WIKIPEDIA, NOMINAL, numbers=False),
    }
    for batch_id, records in served.items():
        api.put_responses(batch_id, records)
    return served


def test_v_agreement_equals_the_published_worked_examples(
    database_url, api, ids_file, batches, published
):
    sync(api, database_url, ids_file)
    rows = {(r["batch_id"], r["instruction_id"]): r for r in read_view(database_url, "v_agreement")}
    first, second = batches[0]["id"], batches[1]["id"]
    assert set(rows) == {(first, NOMINAL), (first, INTERVAL), (second, NOMINAL)}
    expected = {
        (first, NOMINAL): ("nominal", 0.743, 12, 4, 40),
        (first, INTERVAL): ("interval", 0.849, 12, 4, 40),
        (second, NOMINAL): ("nominal", 0.691, 13, 3, 26),  # two units nobody coded
    }
    for key, (level, alpha, units, annotators, pairable) in expected.items():
        row = rows[key]
        assert (row["level"], round(row["krippendorff_alpha"], 3)) == (level, alpha)
        assert (row["units"], row["annotators"], row["pairable_values"]) == (
            units,
            annotators,
            pairable,
        )
        assert (row["not_computed"], row["excluded_answers"], row["computed_run_id"]) == (
            None,
            0,
            1,
        )
        assert row["batch_name"] == next(b["name"] for b in batches if b["id"] == key[0])


def test_consensus_and_annotators_equal_a_reference(
    database_url, api, ids_file, batches, published
):
    sync(api, database_url, ids_file)
    stored = reference.stored_consensus(read_view(database_url, "v_consensus_labels"))
    expected = {
        (batch_id, instruction, task): value
        for batch_id, records in published.items()
        for (instruction, task), value in reference_consensus(records).items()
    }
    # Numbers are stored as their shortest text: 3, not 3.0.
    assert stored == expected
    per_batch = read_table(database_url, "annotator_agreement")
    overall: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for batch_id, records in published.items():
        expected_annotators = reference_annotators(records)
        for row in (r for r in per_batch if r["batch_id"] == batch_id):
            overall[row["participant_id"]]  # every annotator has a row
        for participant, counts in expected_annotators.items():
            rows = [
                r
                for r in per_batch
                if r["batch_id"] == batch_id and r["participant_id"] == participant
            ]
            summed = tuple(
                sum(r[field] for r in rows) for field in ("answers", "compared", "agreed")
            )
            assert summed == counts
            totals = overall[participant]
            overall[participant] = [a + b for a, b in zip(totals, counts, strict=True)]
    view = {r["participant_id"]: r for r in read_view(database_url, "v_annotator_quality")}
    assert set(view) == set(overall)
    for participant, (answers, compared, agreed) in overall.items():
        row = view[participant]
        assert (row["answers"], row["compared"], row["agreed"]) == (answers, compared, agreed)
        assert row["agreement"] == pytest.approx(agreed / compared)
        assert row["approval_rate"] is None  # no submissions synced


def test_a_rerun_recomputes_only_the_batches_whose_answers_changed(
    database_url, api, ids_file, batches, published
):
    first, second = batches[0]["id"], batches[1]["id"]
    sync(api, database_url, ids_file)
    sync(api, database_url, ids_file)  # nothing changed
    runs = {
        (r["batch_id"], r["instruction_id"]): r["computed_run_id"]
        for r in read_table(database_url, "label_agreement")
    }
    assert set(runs.values()) == {1}
    # Run 3: one more answer to batch 1 only (observer 0 on unit 00, which nobody else coded).
    extra = record(second, NOMINAL, 0, 0, "c1", "multiple_choice")
    api.put_responses(second, [*published[second], extra])
    sync(api, database_url, ids_file)
    runs = {
        (r["batch_id"], r["instruction_id"]): r["computed_run_id"]
        for r in read_table(database_url, "label_agreement")
    }
    assert runs == {(first, NOMINAL): 1, (first, INTERVAL): 1, (second, NOMINAL): 3}
    consensus = {
        (r["batch_id"], r["task_id"]): r["computed_run_id"]
        for r in read_table(database_url, "consensus_labels")
    }
    assert {run for (batch, _), run in consensus.items() if batch == first} == {1}
    assert {run for (batch, _), run in consensus.items() if batch == second} == {3}
    assert (second, "unit-00") in consensus


def expected_labels(database_url: str, batch_id: str) -> list[dict]:
    """The labels of a batch built from the tables, row by row."""
    values = defaultdict(list)
    for row in sorted(read_table(database_url, "response_answers"), key=lambda r: r["position"]):
        values[row["response_id"]].append(row["value_text"])
    consensus = {
        (r["instruction_id"], r["task_id"]): r
        for r in read_table(database_url, "consensus_labels")
        if r["batch_id"] == batch_id
    }
    tasks = defaultdict(lambda: defaultdict(list))
    for r in read_table(database_url, "responses"):
        if r["batch_id"] == batch_id:
            tasks[r["task_id"]][r["instruction_id"]].append(r)
    records = []
    for task_id in sorted(tasks):
        instructions = []
        for instruction_id in sorted(tasks[task_id]):
            c = consensus[instruction_id, task_id]
            answers = sorted(
                tasks[task_id][instruction_id],
                key=lambda r: (r["participant_id"], r["response_id"]),
            )
            instructions.append(
                {
                    "instruction_id": instruction_id,
                    "consensus": c["consensus"],
                    "support": c["support"],
                    "votes": c["votes"],
                    "answers_counted": c["answers"],
                    "is_tie": bool(c["is_tie"]),
                    "tied_values": c["tied_values"],
                    "answers": [
                        {
                            "response_id": r["response_id"],
                            "participant_id": r["participant_id"],
                            "submission_id": r["submission_id"],
                            "created_at": r["created_at"].isoformat().replace("+00:00", "Z"),
                            "values": values[r["response_id"]],
                        }
                        for r in answers
                    ],
                }
            )
        records.append({"batch_id": batch_id, "task_id": task_id, "instructions": instructions})
    return records


def test_labels_of_a_batch_equal_the_database_row_by_row(
    database_url, api, ids_file, batches, published, tmp_path
):
    sync(api, database_url, ids_file)
    first = batches[0]["id"]
    out = tmp_path / "labels.jsonl"
    command = ["labels", "--batch", first, "-o", str(out)]
    result = CliRunner().invoke(main, command, env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == expected_labels(database_url, first)
    assert len(lines) == 12 and result.output == f"12 tasks' labels written to {out} (jsonl)\n"


def test_labels_read_the_answers_through_a_streaming_cursor(
    database_url, api, ids_file, batches, published
):
    # Memory flat with size (bench/labels.py): PostgreSQL and MariaDB must hand the rows over
    # from a server-side cursor, not buffer the whole result in the driver.
    sync(api, database_url, ids_file)
    first = batches[0]["id"]
    engine = create_engine(database_url)
    read = []

    @event.listens_for(engine, "before_cursor_execute")
    def note(_connection, cursor, statement, _parameters, context, _executemany):
        if "response_answers" in statement:
            read.append((context.execution_options.get("stream_results"), type(cursor).__name__))

    out = io.BytesIO()
    try:
        tasks = export_labels(engine, out, batch_ids=[first])
    finally:
        engine.dispose()
    lines = [json.loads(line) for line in out.getvalue().decode("utf-8").splitlines()]
    assert tasks == 12 and lines == expected_labels(database_url, first)
    streaming = {"sqlite": "Cursor", "postgresql": "ServerCursor", "mysql": "SSCursor"}
    assert read == [(True, streaming[engine.dialect.name])]


def test_the_label_quality_read_on_sqlite_holds_the_default_page_cache_then_restores_it(
    sqlite_url, api, ids_file, batches, published, monkeypatch
):
    # The run's connections keep 8 MiB of pages for the writes; the label-quality read (a
    # sort over a batch's answers) holds SQLite's default 2 MB, then gives 8 MiB back.
    told: list[tuple[str, int]] = []

    @event.listens_for(Engine, "before_cursor_execute")
    def note(connection, _cursor, statement, _parameters, _context, _executemany):
        if statement.startswith("PRAGMA cache_size =") or "response_answers.value_text" in (
            statement
        ):
            told.append((statement.split(" FROM")[0][:40], id(connection)))

    try:
        sync(api, sqlite_url, ids_file)
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    reads = [i for i, (statement, _) in enumerate(told) if statement.startswith("SELECT")]
    assert len(reads) == len(published)  # one read per batch answered, between two pragmas
    for read in reads:
        (small, _), (_, reader), (back, connection) = told[read - 1 : read + 2]
        assert (small, back) == ("PRAGMA cache_size = -2000", "PRAGMA cache_size = -8192")
        assert connection == reader


def test_labels_min_support_keeps_confident_labels_and_csv_has_a_row_per_instruction(
    sqlite_url, api, ids_file, batches, published, tmp_path
):
    sync(api, sqlite_url, ids_file)
    first = batches[0]["id"]
    everything = expected_labels(sqlite_url, first)
    confident = []
    for task in everything:
        kept = [i for i in task["instructions"] if i["consensus"] and i["support"] >= 0.75]
        if kept:
            confident.append({**task, "instructions": kept})
    out = tmp_path / "labels.jsonl"
    command = ["labels", "--batch", first, "--min-support", "0.75", "-o", str(out)]
    assert CliRunner().invoke(main, command, env={"DATABASE_URL": sqlite_url}).exit_code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == confident and 0 < len(lines) < len(everything)
    csv_out = tmp_path / "labels.csv"
    command = ["labels", "--batch", first, "--format", "csv", "-o", str(csv_out)]
    assert CliRunner().invoke(main, command, env={"DATABASE_URL": sqlite_url}).exit_code == 0
    with csv_out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["task_id"], r["instruction_id"]) for r in rows] == [
        (task["task_id"], item["instruction_id"])
        for task in everything
        for item in task["instructions"]
    ]
    assert [json.loads(r["answers"]) for r in rows] == [
        item["answers"] for task in everything for item in task["instructions"]
    ]


# --- rejected and returned submissions' answers are left out (sync --submissions) --------------

KEPT_STATUSES = ("APPROVED", "AWAITING REVIEW")
REVIEWS = ("APPROVED", "AWAITING REVIEW", "REJECTED", "APPROVED", "RETURNED", "AWAITING REVIEW")


def crowd_records(batch_id: str, seed: int) -> list[dict]:
    """Ten tasks of a batch, each answered by four of six participants (a choice and a
    number), one submission each; participant 2 answers at random, the others mostly alike."""
    rng = random.Random(seed)
    records = []
    for task in range(10):
        truth = (rng.choice("abc"), rng.randint(1, 5))
        for row in rng.sample(range(6), 4):
            careless = row == 2
            colour = rng.choice("abc") if careless or rng.random() < 0.2 else truth[0]
            count = rng.randint(1, 5) if careless else truth[1] + rng.choice((0, 0, 0, 1, -1))
            for instruction, value, kind in (
                (NOMINAL, colour, "multiple_choice"),
                (INTERVAL, count, "free_text"),
            ):
                item = record(batch_id, instruction, row, task, value, kind)
                item["submission_id"] = f"{seed:02}{row:022x}"
                records.append(item)
    return records


def reviewed(sample: SampleStudies, statuses: dict[str, str]) -> None:
    """Set the status of the submissions ``statuses`` names."""
    for study_id, held in sample.submissions.items():
        sample.submissions[study_id] = [
            {**s, "status": statuses.get(s["id"], s["status"])} for s in held
        ]


def expected_quality(served: dict[str, list[dict]], statuses: dict[str, str]):
    """v_agreement and v_consensus_labels rows from the answers of approved and awaiting
    submissions only; the others are counted as left out."""
    agreement, consensus = {}, {}
    for batch_id, records in served.items():
        kept = [r for r in records if statuses[r["submission_id"]] in KEPT_STATUSES]
        left_out = Counter(
            r["response"]["instruction_id"]
            for r in records
            if statuses[r["submission_id"]] not in KEPT_STATUSES
        )
        for (_, instruction_id), instruction in reference.group(kept).items():
            agreement[batch_id, instruction_id] = {
                **reference.agreement(instruction),
                "excluded_answers": left_out[instruction_id],
            }
            for task, (label, votes, answers, tie) in reference.consensus(instruction).items():
                consensus[batch_id, instruction_id, task] = {
                    "consensus": label,
                    "votes": votes,
                    "answers": answers,
                    "support": votes / answers,
                    "is_tie": tie,
                }
    return agreement, consensus


def assert_views_equal(database_url: str, agreement: dict, consensus: dict) -> None:
    rows = read_typed_view(database_url, "v_agreement", "batch_id", "instruction_id")
    assert [(r["batch_id"], r["instruction_id"]) for r in rows] == sorted(agreement)
    for row in rows:
        figures = agreement[row["batch_id"], row["instruction_id"]]
        assert {name: row[name] for name in figures} == {
            **figures,
            "percent_agreement": pytest.approx(figures["percent_agreement"], abs=1e-9),
            "krippendorff_alpha": pytest.approx(figures["krippendorff_alpha"], abs=1e-9),
        }
    rows = read_typed_view(
        database_url, "v_consensus_labels", "batch_id", "instruction_id", "task_id"
    )
    assert [(r["batch_id"], r["instruction_id"], r["task_id"]) for r in rows] == sorted(consensus)
    for row in rows:
        expected = consensus[row["batch_id"], row["instruction_id"], row["task_id"]]
        assert {
            "consensus": row["consensus"],
            "votes": row["votes"],
            "answers": row["answers"],
            "support": row["support"],
            "is_tie": bool(row["is_tie"]),
        } == {**expected, "support": pytest.approx(expected["support"])}
        assert row["tied_values"] is None if not expected["is_tie"] else row["tied_values"]


def read_typed_view(database_url: str, name: str, *order_by: str) -> list[dict]:
    from test_views import read_view as read_typed

    return read_typed(database_url, VIEWS_BY_NAME[name], *order_by)


def test_rejected_and_returned_answers_are_left_out_through_http_and_sync(
    database_url, api, ids_file, batches
):
    served = {b["id"]: crowd_records(b["id"], seed) for seed, b in enumerate(batches[:2])}
    sample = SampleStudies(batches, seed=25, submissions=(0, 1), decoys=False)
    for batch_id, records in served.items():
        sample.answer(batch_id, records)
        api.put_responses(batch_id, records)
    submission_ids = sorted({r["submission_id"] for records in served.values() for r in records})
    statuses = {s: REVIEWS[int(s[-2:], 16)] for s in submission_ids}  # by participant
    reviewed(sample, statuses)
    api.put_studies(sample)

    sync(api, database_url, ids_file, "--submissions")

    stored = {r["submission_id"]: r["status"] for r in read_table(database_url, "submissions")}
    assert {s: stored[s] for s in submission_ids} == statuses  # served as reviewed
    agreement, consensus = expected_quality(served, statuses)
    assert_views_equal(database_url, agreement, consensus)
    assert all(figures["excluded_answers"] > 0 for figures in agreement.values())
    everything, _ = expected_quality(served, dict.fromkeys(statuses, "APPROVED"))
    assert {k: v["krippendorff_alpha"] for k, v in everything.items()} != {
        k: v["krippendorff_alpha"] for k, v in agreement.items()
    }  # leaving them out changes the figures

    # Night 2: the awaiting submission of participant 1 is rejected; its batches' rows change.
    statuses = {s: "REJECTED" if s.endswith("01") else status for s, status in statuses.items()}
    reviewed(sample, statuses)
    api.put_studies(sample)
    sync(api, database_url, ids_file, "--submissions")

    agreement, consensus = expected_quality(served, statuses)
    assert_views_equal(database_url, agreement, consensus)
    assert {r["computed_run_id"] for r in read_table(database_url, "label_agreement")} == {2}
