"""Label quality read from the stored responses: per batch and instruction, over
``responses`` and ``response_answers``, leaving out responses removed upstream.

Each batch is read by one query streamed in chunks, ordered by instruction, so that only
one instruction's answers are held at a time (what its agreement needs: alpha looks at all
of its tasks at once), never the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Connection, select

from ..store.schema import response_answers, responses
from .agreement import AgreementRow
from .answers import Answer, Value
from .assess import NO_EXCLUSIONS, InstructionQuality, assess_instruction
from .consensus import AnnotatorRow, ConsensusRow, annotators_overall

CHUNK_ROWS = 1000
"""Rows fetched from the database at a time."""


def quality_for_batches(
    connection: Connection,
    batch_ids: Iterable[str],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> Iterator[InstructionQuality]:
    """Agreement, consensus and annotator agreement of every instruction of each batch, in
    the order of ``batch_ids`` and then of instruction_id."""
    for batch_id in batch_ids:
        for instruction_id, answers in instruction_answers(connection, batch_id):
            yield assess_instruction(
                batch_id.lower(), instruction_id, answers, excluded_submissions
            )


def agreement_for_batches(
    connection: Connection,
    batch_ids: Iterable[str],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> list[AgreementRow]:
    """One agreement row per instruction of each batch (see `AgreementRow`)."""
    return [
        quality.agreement
        for quality in quality_for_batches(connection, batch_ids, excluded_submissions)
    ]


def consensus_for_batches(
    connection: Connection,
    batch_ids: Iterable[str],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> Iterator[ConsensusRow]:
    """The consensus of each task and instruction of each batch; an iterator, as there is
    a row per task (a labels export can write them as they come)."""
    for quality in quality_for_batches(connection, batch_ids, excluded_submissions):
        yield from quality.consensus


def annotators_for_batches(
    connection: Connection,
    batch_ids: Iterable[str],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> tuple[list[AnnotatorRow], list[AnnotatorRow]]:
    """Each annotator's agreement with the consensus per batch and instruction, and overall
    (summed over them), both sorted as `etl.quality.consensus` sorts them."""
    rows = [
        row
        for quality in quality_for_batches(connection, batch_ids, excluded_submissions)
        for row in quality.annotators
    ]
    return rows, annotators_overall(rows)


def instruction_answers(
    connection: Connection, batch_id: str
) -> Iterator[tuple[str, Iterator[Answer]]]:
    """The answers of a batch's responses still at Prolific, one instruction at a time
    (sorted by instruction_id), each instruction's read as it is iterated (before the next
    instruction is asked for). A response with no answer value comes with no values."""
    statement = (
        select(
            responses.c.instruction_id,
            responses.c.response_id,
            responses.c.task_id,
            responses.c.participant_id,
            responses.c.submission_id,
            responses.c.response_type,
            responses.c.created_at,
            response_answers.c.position,
            response_answers.c.value_text,
            response_answers.c.value_number,
            response_answers.c.value_boolean,
            response_answers.c.unit,
        )
        .select_from(
            responses.outerjoin(
                response_answers, response_answers.c.response_id == responses.c.response_id
            )
        )
        .where(responses.c.batch_id == batch_id.lower(), responses.c.removed_upstream_at.is_(None))
        .order_by(responses.c.instruction_id, responses.c.response_id, response_answers.c.position)
    )
    rows = connection.execution_options(yield_per=CHUNK_ROWS).execute(statement).mappings()
    for instruction_id, instruction_rows in groupby(rows, key=itemgetter("instruction_id")):
        # Lazily: the caller keeps only the answers that count (one per task and annotator).
        yield (
            instruction_id,
            (
                _answer(list(response_rows))
                for _, response_rows in groupby(instruction_rows, key=itemgetter("response_id"))
            ),
        )


def _answer(rows: list) -> Answer:
    """An answer from its response's rows (one per answer value, in position order)."""
    first = rows[0]
    return Answer(
        task_id=first["task_id"],
        participant_id=first["participant_id"],
        values=tuple(
            Value(
                text=row["value_text"],
                number=row["value_number"],
                boolean=row["value_boolean"],
                unit=row["unit"],
            )
            for row in rows
            if row["position"] is not None
        ),
        response_type=first["response_type"],
        submission_id=first["submission_id"],
        created_at=first["created_at"],
        response_id=first["response_id"],
    )
