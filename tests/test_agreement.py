"""Label quality (etl/quality/, issue 25): alpha against published worked examples,
percent agreement, consensus and annotator agreement against brute-force references, and
the reader against a database filled by hand."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from etl.quality import (
    AgreementRow,
    AnnotatorRow,
    Answer,
    ConsensusRow,
    Value,
    agreement_for_batches,
    agreement_of,
    annotator_agreement_of,
    annotators_for_batches,
    annotators_overall,
    assess_instruction,
    consensus_for_batches,
    consensus_of,
)
from etl.quality.agreement import closed_form_alpha, krippendorff_alpha
from etl.store.db import connect
from etl.store.schema import batches, etl_runs, metadata, response_answers, responses

_ = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section D: four
# observers (rows), twelve units (columns), missing values. Published: nominal .743,
# ordinal .815, interval .849, ratio .797; n = 40 pairable values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]
# Wikipedia, "Krippendorff's alpha", "A computational example": three coders, fifteen
# units. Published: nominal .691. Interval .811 is the krippendorff package's own test
# value for the same data (0.810845), not a figure from the article.
WIKIPEDIA = [
    [_, _, _, _, _, 3, 4, 1, 2, 1, 1, 3, 3, _, 3],
    [1, _, 2, 1, 3, 3, 4, 3, _, _, _, _, _, _, _],
    [_, _, 2, 1, 3, 4, 4, _, 2, 1, 1, 3, 3, _, 4],
]


def choice(text: str, participant: str, task: str, **fields) -> Answer:
    return Answer(task, participant, (Value(text),), "multiple_choice", **fields)


def number(value: float, participant: str, task: str, **fields) -> Answer:
    return Answer(task, participant, (Value(str(value), float(value)),), "free_text", **fields)


def from_matrix(matrix: list[list], as_numbers: bool) -> list[Answer]:
    """Answers from a published observers x units table (None: not coded)."""
    make = number if as_numbers else (lambda v, p, t: choice(str(v), p, t))
    return [
        make(value, f"observer-{row}", f"unit-{column:02}")
        for row, values in enumerate(matrix)
        for column, value in enumerate(values)
        if value is not None
    ]


@pytest.mark.parametrize(
    ("matrix", "as_numbers", "level", "published"),
    [
        (KRIPPENDORFF_2011, False, "nominal", 0.743),
        (KRIPPENDORFF_2011, True, "interval", 0.849),
        (WIKIPEDIA, False, "nominal", 0.691),
        (WIKIPEDIA, True, "interval", 0.811),
    ],
)
def test_alpha_equals_the_published_worked_examples(matrix, as_numbers, level, published):
    row = agreement_of("b", "i", from_matrix(matrix, as_numbers))
    assert row.level == level
    assert round(row.krippendorff_alpha, 3) == published
    assert row.not_computed is None


def test_the_2011_example_counts_units_annotators_and_pairable_values():
    row = agreement_of("b", "i", from_matrix(KRIPPENDORFF_2011, as_numbers=False))
    assert row == AgreementRow(
        batch_id="b",
        instruction_id="i",
        response_type="multiple_choice",
        level="nominal",
        krippendorff_alpha=row.krippendorff_alpha,
        percent_agreement=brute_force_percent(from_matrix(KRIPPENDORFF_2011, False)),
        units=12,
        pairable_units=11,
        annotators=4,
        answers=41,
        pairable_values=40,  # the paper's n
        excluded_answers=0,
        superseded_answers=0,
        not_computed=None,
    )


units_strategy = st.lists(
    st.lists(st.integers(0, 4), min_size=2, max_size=6), min_size=1, max_size=30
).filter(lambda units: len({v for unit in units for v in unit}) >= 2)


@settings(max_examples=200, deadline=None)
@given(units_strategy, st.sampled_from(["nominal", "interval"]))
def test_the_closed_form_equals_the_krippendorff_package(units, level):
    # The package (GPL, units x values^2 arrays) is the oracle only, from the test extra.
    labels = [[float(v) if level == "interval" else str(v) for v in unit] for unit in units]
    alpha, reason = krippendorff_alpha(labels, level)
    assert reason is None
    domain = sorted({label for unit in labels for label in unit})
    counts = np.zeros((len(labels), len(domain)), dtype=np.int64)
    for row, unit in enumerate(labels):
        for label in unit:
            counts[row, domain.index(label)] += 1
    oracle = krippendorff.alpha(
        value_counts=counts,
        value_domain=np.asarray(domain, dtype=float) if level == "interval" else None,
        level_of_measurement=level,
    )
    assert alpha == pytest.approx(oracle, abs=1e-9)


def random_answers(seed: int, *, tasks=12, participants=6, values="abc", rate=0.6) -> list[Answer]:
    rng = random.Random(seed)
    return [
        choice(rng.choice(values), f"p{p}", f"t{t:02}", submission_id=f"s{p}")
        for t in range(tasks)
        for p in range(participants)
        if rng.random() < rate
    ]


def brute_force_percent(answers: list[Answer]) -> float | None:
    """Every pair of answers to the same task, one by one."""
    pairs = [
        (a.values, b.values)
        for a, b in itertools.combinations(answers, 2)
        if a.task_id == b.task_id
    ]
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else None


def brute_force_consensus(answers: list[Answer]) -> dict[str, tuple]:
    """task -> (answers, top count, the values with it), counted by hand."""
    result = {}
    for task in {a.task_id for a in answers}:
        given_ = [a.values[0].text for a in answers if a.task_id == task]
        top = max(given_.count(v) for v in given_)
        result[task] = (len(given_), top, sorted({v for v in given_ if given_.count(v) == top}))
    return result


@pytest.mark.parametrize("seed", range(20))
def test_percent_agreement_is_the_share_of_agreeing_pairs(seed):
    answers = random_answers(seed)
    assert agreement_of("b", "i", answers).percent_agreement == pytest.approx(
        brute_force_percent(answers)
    )


@pytest.mark.parametrize("seed", range(20))
def test_consensus_is_the_majority_and_ties_are_said_as_ties(seed):
    answers = random_answers(seed)
    reference = brute_force_consensus(answers)
    rows = consensus_of("b", "i", answers)
    assert [row.task_id for row in rows] == sorted(reference)
    for row in rows:
        count, top, values = reference[row.task_id]
        tie = len(values) > 1
        assert row == ConsensusRow(
            batch_id="b",
            instruction_id="i",
            task_id=row.task_id,
            consensus=None if tie else values[0],
            votes=top,
            answers=count,
            support=top / count,
            is_tie=tie,
            tied_values=tuple(values) if tie else (),
        )


@pytest.mark.parametrize("seed", range(20))
def test_each_annotator_agreement_with_the_consensus(seed):
    answers = random_answers(seed)
    reference = brute_force_consensus(answers)
    settled = {t: v[0] for t, (n, _, v) in reference.items() if n >= 2 and len(v) == 1}
    rows = annotator_agreement_of("b", "i", answers)
    assert [row.participant_id for row in rows] == sorted({a.participant_id for a in answers})
    for row in rows:
        own = [a for a in answers if a.participant_id == row.participant_id]
        compared = [a for a in own if a.task_id in settled]
        agreed = sum(a.values[0].text == settled[a.task_id] for a in compared)
        assert row == AnnotatorRow(
            participant_id=row.participant_id,
            batch_id="b",
            instruction_id="i",
            answers=len(own),
            compared=len(compared),
            agreed=agreed,
            agreement=agreed / len(compared) if compared else None,
        )


def test_a_tie_has_no_consensus_and_lists_the_tied_values():
    answers = [choice("no", "p1", "t"), choice("yes", "p2", "t"), choice("maybe", "p3", "u")]
    assert consensus_of("b", "i", answers)[0] == ConsensusRow(
        "b", "i", "t", None, 1, 2, 0.5, True, ("no", "yes")
    )
    assert consensus_of("b", "i", answers)[1] == ConsensusRow(
        "b", "i", "u", "maybe", 1, 1, 1.0, False, ()
    )


def test_the_annotator_who_disagrees_with_everyone_stands_out():
    answers = [
        choice("cat" if p != "careless" else "dog", p, f"t{t}")
        for t in range(5)
        for p in ("p1", "p2", "p3", "careless")
    ]
    rows = {row.participant_id: row.agreement for row in annotator_agreement_of("b", "i", answers)}
    assert rows == {"careless": 0.0, "p1": 1.0, "p2": 1.0, "p3": 1.0}


def test_overall_annotator_rows_sum_over_instructions():
    first = annotator_agreement_of("b", "i1", [choice("x", "p", "t"), choice("x", "q", "t")])
    second = annotator_agreement_of(
        "b", "i2", [choice("x", "p", "t"), choice("y", "q", "t"), choice("y", "r", "t")]
    )
    assert annotators_overall(first + second) == [
        AnnotatorRow("p", None, None, answers=2, compared=2, agreed=1, agreement=0.5),
        AnnotatorRow("q", None, None, answers=2, compared=2, agreed=2, agreement=1.0),
        AnnotatorRow("r", None, None, answers=1, compared=1, agreed=1, agreement=1.0),
    ]


def test_excluded_submissions_are_left_out_and_counted():
    answers = random_answers(7)
    excluded = frozenset({"s0", "s3"})
    kept = [a for a in answers if a.submission_id not in excluded]
    quality = assess_instruction("b", "i", answers, excluded)
    plain = assess_instruction("b", "i", kept)
    assert quality.agreement.excluded_answers == len(answers) - len(kept) > 0
    assert quality.agreement == replace(plain.agreement, excluded_answers=len(answers) - len(kept))
    assert quality.consensus == plain.consensus
    assert quality.annotators == plain.annotators
    assert {row.participant_id for row in quality.annotators}.isdisjoint({"p0", "p3"})


def test_a_later_answer_of_the_same_participant_supersedes_the_earlier():
    day = datetime(2025, 1, 1, tzinfo=timezone.utc)
    answers = [
        choice("no", "p1", "t", created_at=day + timedelta(hours=1), response_id="r2"),
        choice("yes", "p1", "t", created_at=day, response_id="r1"),
        choice("no", "p2", "t", created_at=day, response_id="r3"),
    ]
    row = agreement_of("b", "i", answers)
    assert (row.answers, row.superseded_answers, row.percent_agreement) == (2, 1, 1.0)
    assert consensus_of("b", "i", answers)[0].consensus == "no"


def free_text(text: str, participant: str, task: str) -> Answer:
    return Answer(task, participant, (Value(text),), "free_text")


@pytest.mark.parametrize(
    ("answers", "level", "reason", "percent"),
    [
        # Free text: every answer its own, no categories.
        (
            [free_text("a sunny beach", "p1", "t"), free_text("beach, sun", "p2", "t")],
            None,
            "free_text",
            None,
        ),
        # A multiple selection: compared as a whole set, but no alpha.
        (
            [
                Answer("t", "p1", (Value("a"), Value("b"))),
                Answer("t", "p2", (Value("b"), Value("a"))),
                Answer("t", "p3", (Value("a"),)),
            ],
            None,
            "multiple_values",
            1 / 3,
        ),
        (
            [
                Answer("t", "p1", (Value("f.png"),), "file_upload"),
                Answer("t", "p2", (Value("g.png"),), "file_upload"),
            ],
            None,
            "file_upload",
            None,
        ),
        # Every task answered once: nothing to pair.
        ([choice("a", "p1", "t1"), choice("b", "p2", "t2")], "nominal", "no_pairable_units", None),
        # Everyone agrees on one value: alpha is undefined (no expected disagreement).
        ([choice("a", "p1", "t1"), choice("a", "p2", "t1")], "nominal", "no_variation", 1.0),
        (
            [
                Answer("t", "p1", (Value("5", 5.0, unit="kg"),), "free_text_with_unit"),
                Answer("t", "p2", (Value("5", 5.0, unit="lb"),), "free_text_with_unit"),
            ],
            None,
            "mixed_units",
            None,
        ),
        ([], None, "no_answers", None),
    ],
)
def test_what_is_not_computed_says_why(answers, level, reason, percent):
    row = agreement_of("b", "i", answers)
    assert (row.level, row.krippendorff_alpha, row.not_computed) == (level, None, reason)
    assert row.percent_agreement == (pytest.approx(percent) if percent is not None else None)


def test_booleans_are_nominal_and_numbers_with_one_unit_interval():
    booleans = [
        Answer(
            t,
            p,
            (Value("true" if (t + p) % 3 else "false", boolean=(t + p) % 3 > 0),),
            "some_new_type",
        )
        for t in range(4)
        for p in range(3)
    ]
    assert (
        agreement_of(
            "b",
            "i",
            [
                Answer(f"t{a.task_id}", f"p{a.participant_id}", a.values, a.response_type)
                for a in booleans
            ],
        ).level
        == "nominal"
    )
    numbers = [
        Answer("t", p, (Value(str(v), v, unit="kg"),), "free_text_with_unit")
        for p, v in (("p1", 1.0), ("p2", 2.0), ("p3", 2.0))
    ]
    numbers.append(Answer("u", "p1", (Value("4", 4.0, unit="kg"),), "free_text_with_unit"))
    numbers.append(Answer("u", "p2", (Value("4", 4.0, unit="kg"),), "free_text_with_unit"))
    row = agreement_of("b", "i", numbers)
    assert (row.level, row.not_computed) == ("interval", None)
    assert row.krippendorff_alpha == pytest.approx(
        closed_form_alpha([[1, 2, 2], [4, 4]], "interval")
    )


# --- the reader, over tables filled by hand ------------------------------------------

BATCH = "0f000000-0000-4000-8000-00000000000a"
OTHER = "0f000000-0000-4000-8000-00000000000b"
AT = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def batch_row(batch_id: str) -> dict:
    return {
        "batch_id": batch_id,
        "name": "b",
        "status": "READY",
        "created_at": AT,
        "created_by": "u",
        "workspace_id": "ws",
        "schema_version": 3,
        "total_task_count": 3,
        "total_instruction_count": 2,
        "total_task_groups": 1,
        "task_name": "t",
        "task_introduction": "",
        "task_steps": "",
        "content_hash": "0" * 64,
        "first_seen_at": AT,
        "last_changed_at": AT,
        "first_seen_run_id": 1,
        "last_changed_run_id": 1,
    }


def response_row(
    n: int,
    batch_id: str,
    instruction: str,
    task: str,
    participant: str,
    response_type: str = "multiple_choice",
    removed: bool = False,
) -> dict:
    return {
        "response_id": f"00000000-0000-4000-8000-{n:012}",
        "batch_id": batch_id,
        "task_id": task,
        "participant_id": participant,
        "submission_id": f"sub-{participant}",
        "instruction_id": instruction,
        "response_type": response_type,
        "created_at": AT + timedelta(minutes=n),
        "answer": [],
        "content_hash": "0" * 64,
        "removed_upstream_at": AT if removed else None,
        "first_seen_at": AT,
        "last_changed_at": AT,
        "last_changed_run_id": 1,
    }


def value_row(
    n: int,
    position: int,
    text: str | None,
    number: float | None = None,
    boolean: bool | None = None,
) -> dict:
    return {
        "response_id": f"00000000-0000-4000-8000-{n:012}",
        "position": position,
        "value_text": text,
        "value_number": number,
        "value_boolean": boolean,
    }


@pytest.fixture
def stored(database_url):
    """Batch A: instruction "colour" (choices; p3's answer removed upstream), instruction
    "count" (numbers), instruction "tags" (a multiple selection), one response with no
    value; batch B: one answer that must not leak into A."""
    engine = connect(database_url)
    metadata.create_all(engine)
    rows = [
        (1, BATCH, "colour", "t1", "p1", "red"),
        (2, BATCH, "colour", "t1", "p2", "red"),
        (3, BATCH, "colour", "t1", "p3", "blue"),
        (4, BATCH, "colour", "t2", "p1", "blue"),
        (5, BATCH, "colour", "t2", "p2", "red"),
        (6, BATCH, "colour", "t3", "p1", "green"),
        (7, BATCH, "colour", "t3", "p3", "green"),
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(etl_runs),
            [{"run_id": 1, "started_at": AT, "status": "succeeded", "tool_version": "0"}],
        )
        connection.execute(insert(batches), [batch_row(BATCH), batch_row(OTHER)])
        connection.execute(
            insert(responses),
            [
                *(response_row(n, b, i, t, p, removed=n == 3) for n, b, i, t, p, _ in rows),
                response_row(8, BATCH, "count", "t1", "p1", "free_text"),
                response_row(9, BATCH, "count", "t1", "p2", "free_text"),
                response_row(10, BATCH, "count", "t2", "p1", "free_text"),
                response_row(11, BATCH, "count", "t2", "p2", "free_text"),
                response_row(12, BATCH, "tags", "t1", "p1"),
                response_row(13, BATCH, "tags", "t1", "p2"),
                response_row(14, BATCH, "tags", "t1", "p3"),
                response_row(15, OTHER, "colour", "t1", "p9"),
            ],
        )
        connection.execute(
            insert(response_answers),
            [
                *(value_row(n, 0, text) for n, *_, text in rows),
                value_row(8, 0, "3", 3.0),
                value_row(9, 0, "4", 4.0),
                value_row(10, 0, "10", 10.0),
                value_row(11, 0, "10", 10.0),
                value_row(12, 0, "a"),
                value_row(12, 1, "b"),
                value_row(13, 0, "b"),
                value_row(13, 1, "a"),
                value_row(15, 0, "red"),
            ],
        )
    yield engine
    engine.dispose()


def test_the_reader_computes_each_instruction_of_the_batch_field_by_field(stored):
    with stored.connect() as connection:
        rows = agreement_for_batches(connection, [BATCH.upper()])
    colour_units = [["red", "red"], ["blue", "red"], ["green", "green"]]
    assert rows == [
        AgreementRow(
            batch_id=BATCH,
            instruction_id="colour",
            response_type="multiple_choice",
            level="nominal",
            krippendorff_alpha=pytest.approx(closed_form_alpha(colour_units, "nominal")),
            percent_agreement=pytest.approx(2 / 3),
            units=3,
            pairable_units=3,
            annotators=3,
            answers=6,
            pairable_values=6,
            excluded_answers=0,
            superseded_answers=0,
            not_computed=None,
        ),
        AgreementRow(
            batch_id=BATCH,
            instruction_id="count",
            response_type="free_text",
            level="interval",
            krippendorff_alpha=pytest.approx(
                closed_form_alpha([[3.0, 4.0], [10.0, 10.0]], "interval")
            ),
            percent_agreement=0.5,
            units=2,
            pairable_units=2,
            annotators=2,
            answers=4,
            pairable_values=4,
            excluded_answers=0,
            superseded_answers=0,
            not_computed=None,
        ),
        AgreementRow(
            batch_id=BATCH,
            instruction_id="tags",
            response_type="multiple_choice",
            level=None,
            krippendorff_alpha=None,
            percent_agreement=1.0,
            units=1,
            pairable_units=1,
            annotators=2,
            answers=2,
            pairable_values=2,
            excluded_answers=0,
            superseded_answers=0,
            not_computed="multiple_values",
        ),
    ]


def test_the_reader_gives_consensus_and_annotators_and_leaves_out_submissions(stored):
    with stored.connect() as connection:
        labels = list(consensus_for_batches(connection, [BATCH], frozenset({"sub-p2"})))
        per_instruction, overall = annotators_for_batches(connection, [BATCH, OTHER])
        excluded = agreement_for_batches(connection, [BATCH], frozenset({"sub-p2"}))
    assert labels == [
        ConsensusRow(BATCH, "colour", "t1", "red", 1, 1, 1.0, False, ()),
        ConsensusRow(BATCH, "colour", "t2", "blue", 1, 1, 1.0, False, ()),
        ConsensusRow(BATCH, "colour", "t3", "green", 2, 2, 1.0, False, ()),
        ConsensusRow(BATCH, "count", "t1", 3.0, 1, 1, 1.0, False, ()),
        ConsensusRow(BATCH, "count", "t2", 10.0, 1, 1, 1.0, False, ()),
        ConsensusRow(BATCH, "tags", "t1", ("a", "b"), 1, 1, 1.0, False, ()),
    ]
    assert [row.excluded_answers for row in excluded] == [2, 2, 1]
    assert per_instruction == [
        AnnotatorRow("p1", BATCH, "colour", 3, 2, 2, 1.0),
        AnnotatorRow("p2", BATCH, "colour", 2, 1, 1, 1.0),
        AnnotatorRow("p3", BATCH, "colour", 1, 1, 1, 1.0),
        AnnotatorRow("p1", BATCH, "count", 2, 1, 1, 1.0),
        AnnotatorRow("p2", BATCH, "count", 2, 1, 1, 1.0),
        AnnotatorRow("p1", BATCH, "tags", 1, 1, 1, 1.0),
        AnnotatorRow("p2", BATCH, "tags", 1, 1, 1, 1.0),
        AnnotatorRow("p9", OTHER, "colour", 1, 0, 0, None),
    ]
    assert overall == [
        AnnotatorRow("p1", None, None, 6, 4, 4, 1.0),
        AnnotatorRow("p2", None, None, 5, 3, 3, 1.0),
        AnnotatorRow("p3", None, None, 1, 1, 1, 1.0),
        AnnotatorRow("p9", None, None, 1, 0, 0, None),
    ]
