"""Consensus labels per task, and how often each annotator agrees with them.

The consensus of a task is its majority value among the answers that count (see
`etl.quality.answers.prepare`). A tie is said as one: ``is_tie`` is True, ``consensus``
is None and ``tied_values`` lists the values sharing the top count, so that nobody
mistakes an arbitrary pick for a label. For numbers the majority is the most frequent
value (the mode), not a mean. Free text, file uploads and the like have no consensus
(no rows), as they have no categories.

An annotator's agreement is the share of their answers equal to the consensus, counted
on tasks with two answers or more and no tie (their own answer is one of the votes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .answers import Label, Measurement, Prepared, label_of


@dataclass(frozen=True)
class ConsensusRow:
    """The consensus of one task for one instruction of one batch.

    ``votes`` answers gave the top value (on a tie: each tied value), of ``answers``;
    ``support`` is votes / answers. A task answered once has its one answer as consensus
    with support 1.0: filter on ``answers`` to ask for more.
    """

    batch_id: str
    instruction_id: str
    task_id: str
    consensus: Label | None
    votes: int
    answers: int
    support: float
    is_tie: bool
    tied_values: tuple[Label, ...]


@dataclass(frozen=True)
class AnnotatorRow:
    """One participant's agreement with the consensus: for one instruction of one batch,
    or overall (``batch_id`` and ``instruction_id`` None, from `annotators_overall`).

    ``answers`` they gave (after exclusions); ``compared``: those on tasks with two
    answers or more and no tie; ``agreed``: those equal to the consensus;
    ``agreement`` = agreed / compared, None when nothing could be compared.
    """

    participant_id: str
    batch_id: str | None
    instruction_id: str | None
    answers: int
    compared: int
    agreed: int
    agreement: float | None


def consensus_rows(
    batch_id: str, instruction_id: str, prepared: Prepared, measurement: Measurement
) -> list[ConsensusRow]:
    """One row per task answered, sorted by task_id; none when answers are not comparable."""
    if not measurement.comparable:
        return []
    labels: dict[str, list[Label]] = defaultdict(list)
    for answer in prepared.answers:
        labels[answer.task_id].append(label_of(answer, measurement))
    return [
        _consensus(batch_id, instruction_id, task_id, labels[task_id]) for task_id in sorted(labels)
    ]


def _consensus(
    batch_id: str, instruction_id: str, task_id: str, labels: list[Label]
) -> ConsensusRow:
    counts = Counter(labels)
    votes = max(counts.values())
    top = sorted(label for label, count in counts.items() if count == votes)
    tie = len(top) > 1
    return ConsensusRow(
        batch_id=batch_id,
        instruction_id=instruction_id,
        task_id=task_id,
        consensus=None if tie else top[0],
        votes=votes,
        answers=len(labels),
        support=votes / len(labels),
        is_tie=tie,
        tied_values=tuple(top) if tie else (),
    )


def annotator_rows(
    batch_id: str,
    instruction_id: str,
    prepared: Prepared,
    measurement: Measurement,
    consensus: Iterable[ConsensusRow],
) -> list[AnnotatorRow]:
    """One row per participant who answered the instruction, sorted by participant_id."""
    settled = {
        row.task_id: row.consensus for row in consensus if row.answers >= 2 and not row.is_tie
    }
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for answer in prepared.answers:
        counts = tally[answer.participant_id]
        counts[0] += 1
        if answer.task_id in settled:
            counts[1] += 1
            counts[2] += label_of(answer, measurement) == settled[answer.task_id]
    return [
        _annotator(participant, batch_id, instruction_id, *tally[participant])
        for participant in sorted(tally)
    ]


def annotators_overall(rows: Iterable[AnnotatorRow]) -> list[AnnotatorRow]:
    """Each participant's rows summed over batches and instructions, sorted by participant."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        counts = tally[row.participant_id]
        counts[0] += row.answers
        counts[1] += row.compared
        counts[2] += row.agreed
    return [
        _annotator(participant, None, None, *tally[participant]) for participant in sorted(tally)
    ]


def _annotator(
    participant_id: str,
    batch_id: str | None,
    instruction_id: str | None,
    answers: int,
    compared: int,
    agreed: int,
) -> AnnotatorRow:
    return AnnotatorRow(
        participant_id=participant_id,
        batch_id=batch_id,
        instruction_id=instruction_id,
        answers=answers,
        compared=compared,
        agreed=agreed,
        agreement=agreed / compared if compared else None,
    )
