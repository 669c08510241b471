"""Label quality of one instruction of one batch, from plain answers: agreement, consensus
per task and agreement of each annotator with it, computed in one pass.

Pure functions over `Answer` values, so that the job (which reads them from the database,
`etl.quality.read`) and the tests call the same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .agreement import AgreementRow, agreement_row
from .answers import Answer, measure, prepare
from .consensus import AnnotatorRow, ConsensusRow, annotator_rows, consensus_rows

NO_EXCLUSIONS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InstructionQuality:
    """Everything computed for one instruction of one batch."""

    agreement: AgreementRow
    consensus: list[ConsensusRow]
    annotators: list[AnnotatorRow]


def assess_instruction(
    batch_id: str,
    instruction_id: str,
    answers: Iterable[Answer],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> InstructionQuality:
    """Agreement, consensus and annotator agreement of one instruction's answers, leaving
    out the answers of ``excluded_submissions`` (counted in ``agreement.excluded_answers``)."""
    prepared = prepare(answers, excluded_submissions)
    measurement = measure(prepared.answers)
    consensus = consensus_rows(batch_id, instruction_id, prepared, measurement)
    return InstructionQuality(
        agreement=agreement_row(batch_id, instruction_id, prepared, measurement),
        consensus=consensus,
        annotators=annotator_rows(batch_id, instruction_id, prepared, measurement, consensus),
    )


def agreement_of(
    batch_id: str,
    instruction_id: str,
    answers: Iterable[Answer],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> AgreementRow:
    """Agreement on one instruction of one batch (see `AgreementRow`)."""
    return assess_instruction(batch_id, instruction_id, answers, excluded_submissions).agreement


def consensus_of(
    batch_id: str,
    instruction_id: str,
    answers: Iterable[Answer],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> list[ConsensusRow]:
    """The consensus of each task of one instruction of one batch (see `ConsensusRow`)."""
    return assess_instruction(batch_id, instruction_id, answers, excluded_submissions).consensus


def annotator_agreement_of(
    batch_id: str,
    instruction_id: str,
    answers: Iterable[Answer],
    excluded_submissions: frozenset[str] = NO_EXCLUSIONS,
) -> list[AnnotatorRow]:
    """Each annotator's agreement with the consensus on one instruction of one batch."""
    return assess_instruction(batch_id, instruction_id, answers, excluded_submissions).annotators
