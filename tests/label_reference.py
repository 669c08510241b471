"""Label quality computed in the tests from served response records, apart from etl.quality:
agreement per batch and instruction (alpha from the krippendorff package, the test extra's
oracle), consensus per task by counting, and each annotator's answers, compared and agreed.

Records hold one value each (``answer[0]["value"]``): a text (a choice, or free text) or a
number. The answers of ``excluded`` submissions are left out and counted, as the job leaves
out REJECTED and RETURNED ones; every participant answers a task once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import krippendorff
import numpy as np

CHOICE_TYPES = {"multiple_choice", "multiple_choice_with_free_text"}


@dataclass
class Instruction:
    """One batch's instruction: the answers counted per task, as (participant, value)."""

    response_type: str
    tasks: dict[str, list[tuple[str, object]]] = field(default_factory=lambda: defaultdict(list))
    excluded: int = 0

    @property
    def answers(self) -> list[tuple[str, str, object]]:
        return [(task, p, v) for task, given in self.tasks.items() for p, v in given]

    @property
    def level(self) -> str | None:
        values = [value for _, _, value in self.answers]
        if self.response_type in CHOICE_TYPES:
            return "nominal"
        if values and all(isinstance(v, (int, float)) for v in values):
            return "interval"
        return None

    def label(self, value: object) -> str:
        """As consensus_labels stores it: a choice as is, a number as its shortest text."""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)


def group(
    records: Iterable[dict], excluded: set[str] = frozenset()
) -> dict[tuple[str, str], Instruction]:
    """(batch, instruction) -> Instruction, from response records."""
    instructions: dict[tuple[str, str], Instruction] = {}
    for record in records:
        response = record["response"]
        key = (record["batch_id"], response["instruction_id"])
        instruction = instructions.setdefault(key, Instruction(response["type"]))
        if record.get("submission_id") in excluded:
            instruction.excluded += 1
            continue
        value = response["answer"][0]["value"]
        instruction.tasks[record["task_id"]].append((record["participant_id"], value))
    return instructions


def agreement(instruction: Instruction) -> dict:
    """The figures of a v_agreement row."""
    level = instruction.level
    comparable = level is not None  # free text: no pairs are made at all
    pairable = {
        t: given for t, given in instruction.tasks.items() if comparable and len(given) >= 2
    }
    row = {
        "level": level,
        "units": len(instruction.tasks),
        "pairable_units": len(pairable),
        "annotators": len({p for _, p, _ in instruction.answers}),
        "answers": len(instruction.answers),
        "pairable_values": sum(len(given) for given in pairable.values()),
        "excluded_answers": instruction.excluded,
        "superseded_answers": 0,
        "percent_agreement": None,
        "krippendorff_alpha": None,
        "not_computed": None if comparable else "free_text",
    }
    if not comparable:
        return row
    pairs = agreeing = 0
    for given in pairable.values():
        counts = Counter(instruction.label(v) for _, v in given)
        pairs += len(given) * (len(given) - 1) // 2
        agreeing += sum(n * (n - 1) // 2 for n in counts.values())
    row["percent_agreement"] = agreeing / pairs if pairs else None
    labels = {instruction.label(v) for given in pairable.values() for _, v in given}
    if not pairable:
        row["not_computed"] = "no_pairable_units"
    elif len(labels) < 2:
        row["not_computed"] = "no_variation"
    else:
        row["krippendorff_alpha"] = _oracle_alpha(instruction, level)
    return row


def _oracle_alpha(instruction: Instruction, level: str) -> float:
    """Alpha from the krippendorff package over an annotators x tasks matrix."""
    participants = sorted({p for _, p, _ in instruction.answers})
    tasks = sorted(instruction.tasks)
    codes = {
        label: float(number)
        for number, label in enumerate(
            sorted({instruction.label(v) for _, _, v in instruction.answers})
        )
    }
    matrix = np.full((len(participants), len(tasks)), np.nan)
    for column, task in enumerate(tasks):
        for participant, value in instruction.tasks[task]:
            cell = float(value) if level == "interval" else codes[instruction.label(value)]
            matrix[participants.index(participant), column] = cell
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))


def consensus(instruction: Instruction) -> dict[str, tuple]:
    """task -> (consensus, votes, answers, is_tie), by counting; none for free text."""
    if instruction.level is None:
        return {}
    return {
        task: majority([instruction.label(v) for _, v in given])
        for task, given in instruction.tasks.items()
    }


def majority(labels: list[str]) -> tuple[str | None, int, int, bool]:
    """(consensus, votes, answers, is_tie) of ``labels``, by counting."""
    counts = Counter(labels)
    top = max(counts.values())
    winners = [label for label, n in counts.items() if n == top]
    tie = len(winners) > 1
    return (None if tie else winners[0], top, len(labels), tie)


def stored_consensus(rows: Iterable[dict]) -> dict[tuple[str, str, str], tuple]:
    """v_consensus_labels' rows keyed as the reference's: (batch, instruction, task) ->
    (consensus, votes, answers, is_tie)."""
    return {
        (r["batch_id"], r["instruction_id"], r["task_id"]): (
            r["consensus"],
            r["votes"],
            r["answers"],
            bool(r["is_tie"]),
        )
        for r in rows
    }


def annotators(instructions: Iterable[Instruction]) -> dict[str, tuple[int, int, int]]:
    """participant -> (answers, compared, agreed), summed over ``instructions``: compared on
    tasks of two answers or more without a tie."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for instruction in instructions:
        settled = consensus(instruction)
        for task, participant, value in instruction.answers:
            counts = tally[participant]
            counts[0] += 1
            label, _, answers, tie = settled.get(task, (None, 0, 0, True))
            if answers >= 2 and not tie:
                counts[1] += 1
                counts[2] += instruction.label(value) == label
    return {participant: tuple(counts) for participant, counts in tally.items()}
