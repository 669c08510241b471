"""The sample world's annotators: a crowd of participants who answer the tasks of the batches
being worked on, several to a task, with the agreement real labelling has.

Each kind of batch (a project of ``world``) asks two instructions. Some are easy, and careful
annotators mostly give a task's true label (Krippendorff's alpha about 0.8 to 0.95); some are
contested, and they often do not (alpha about 0.2 to 0.5). Answers are choices (nominal),
numbers (interval) or free text (no alpha). One participant of the crowd is careless and
answers at random, so that they stand out among the annotators furthest from consensus.

Each participant who works on a batch has one submission to it, named in their responses;
once it is reviewed (or timed out, or returned) they answer no more of that batch's tasks.
Everything is drawn from the seed, the batch and the night.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CROWD = 30  # participants
TEAM = 8  # careful participants working on one batch
CARELESS_JOINS = 0.5  # the chance the careless participant works on a batch
CARELESS_ANSWERS = 0.2  # the chance they answer a task of it too
ANSWERS_PER_TASK = (3, 3, 4)  # careful answers
OPEN_SUBMISSIONS = frozenset({"RESERVED", "ACTIVE", "AWAITING REVIEW"})


@dataclass(frozen=True)
class Instruction:
    """One instruction of a kind of batch, and how careful annotators answer it.

    A choice (``choices``): they give the task's true choice with chance ``accuracy``, else
    another. A number (``scale``, lowest and highest): the true number plus a normal error of
    ``spread``, rounded and kept on the scale. Free text (neither): a text of ``texts``.
    """

    id: str
    choices: tuple[str, ...] = ()
    accuracy: float = 0.0
    scale: tuple[int, int] | None = None
    spread: float = 0.0
    texts: tuple[str, ...] = ()
    contested: bool = False  # careful annotators often disagree (else easy, or free text)

    @property
    def response_type(self) -> str:
        return "multiple_choice" if self.choices else "free_text"


_YES_NO = ("yes", "no")

# Per project of ``world._PROJECTS``, in the same order: the instructions its batches ask.
INSTRUCTIONS: tuple[tuple[Instruction, ...], ...] = (
    (  # sentiment of product reviews
        Instruction("sentiment", ("positive", "neutral", "negative"), accuracy=0.96),
        Instruction("sarcastic", _YES_NO, accuracy=0.8, contested=True),
    ),
    (  # toxicity screening
        Instruction("breaks-a-rule", _YES_NO, accuracy=0.98),
        Instruction(
            "which-rule", ("harassment", "hate", "spam", "off-topic"), accuracy=0.7, contested=True
        ),
    ),
    (  # named entities
        Instruction("names-found", scale=(0, 6), spread=0.4),
        Instruction("names", texts=("Paris, UNESCO", "Ada Lovelace", "Acme Ltd; Berlin", "none")),
    ),
    (  # speech transcription check
        Instruction("clip-usable", _YES_NO, accuracy=0.98),
        Instruction(
            "transcript",
            texts=("yes I can hold", "yes, I can hold.", "yes I can hold on", "[inaudible]"),
        ),
    ),
    (  # audio quality rating
        Instruction("background-noise", ("none", "some", "a lot"), accuracy=0.96),
        Instruction("clarity-1-to-5", scale=(1, 5), spread=2.0, contested=True),
    ),
    (  # search relevance
        Instruction("is-spam", _YES_NO, accuracy=0.98),
        Instruction("relevance", ("perfect", "good", "fair", "bad"), accuracy=0.7, contested=True),
    ),
    (  # query intent
        Instruction(
            "intent",
            ("navigational", "informational", "transactional", "local"),
            accuracy=0.95,
        ),
        Instruction("needs-a-place", _YES_NO, accuracy=0.8, contested=True),
    ),
    (  # chatbot answers A/B
        Instruction("more-helpful", ("A", "B", "about the same"), accuracy=0.72, contested=True),
        Instruction("why", texts=("clearer", "A is shorter", "B cites a source", "both wrong")),
    ),
    (  # summaries: faithfulness
        Instruction("faithful", _YES_NO, accuracy=0.98),
        Instruction("unsupported-claims", scale=(0, 4), spread=1.8, contested=True),
    ),
    (  # image captions
        Instruction("caption-quality-1-to-5", scale=(1, 5), spread=0.4),
        Instruction("mentions-people", _YES_NO, accuracy=0.98),
    ),
)


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


class Crowd:
    """The participants of the sample world, and the answers they give."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(f"{seed}:crowd")
        people = [_hex(rng) for _ in range(CROWD)]
        self.careless = people[7]
        self.careful = [p for p in people if p != self.careless]
        # How much more (above 1) or less often than the instruction says each one errs.
        self.carelessness = {p: rng.uniform(0.5, 1.2) for p in self.careful}
        self._teams: dict[str, list[str]] = {}
        self._tasks: dict[str, int] = {}  # batch id -> tasks answered so far

    def submission_id(self, batch_id: str, participant_id: str) -> str:
        """A participant's one submission to a batch."""
        return _hex(random.Random(f"{self.seed}:submission:{batch_id}:{participant_id}"))

    def team(self, batch_id: str) -> list[str]:
        """Who works on a batch: a few careful participants, and perhaps the careless one."""
        if batch_id not in self._teams:
            rng = random.Random(f"{self.seed}:team:{batch_id}")
            team = rng.sample(self.careful, TEAM)
            if rng.random() < CARELESS_JOINS:
                team.append(self.careless)
            self._teams[batch_id] = team
        return self._teams[batch_id]

    def answer(
        self,
        batch_id: str,
        project: int,
        tasks: int,
        at: datetime,
        rng: random.Random,
        status_of: Callable[[str], str | None],
    ) -> list[dict[str, Any]]:
        """The responses to ``tasks`` new tasks of a batch, given in the hours before ``at``
        by the members of its team whose submission is still open (``status_of`` tells a
        submission's status, None when it does not exist yet)."""
        team = [
            participant
            for participant in self.team(batch_id)
            if status_of(self.submission_id(batch_id, participant)) in (None, *OPEN_SUBMISSIONS)
        ]
        careful = [participant for participant in team if participant != self.careless]
        records: list[dict[str, Any]] = []
        first = self._tasks.get(batch_id, 0)
        self._tasks[batch_id] = first + tasks
        for number in range(first + 1, first + tasks + 1):
            task_id = f"task-{number:04d}"
            truth = random.Random(f"{self.seed}:truth:{batch_id}:{task_id}")
            true_values = [
                _random_value(instruction, truth) for instruction in INSTRUCTIONS[project]
            ]
            annotators = rng.sample(careful, min(rng.choice(ANSWERS_PER_TASK), len(careful)))
            if self.careless in team and rng.random() < CARELESS_ANSWERS:
                annotators.append(self.careless)
            for participant in annotators:
                given = at - timedelta(minutes=rng.uniform(5, 20 * 60))
                for instruction, true in zip(INSTRUCTIONS[project], true_values, strict=True):
                    value = self._value(participant, instruction, true, rng)
                    records.append(
                        _record(batch_id, task_id, participant, instruction, value, given, rng)
                        | {"submission_id": self.submission_id(batch_id, participant)}
                    )
        return records

    def _value(self, participant: str, instruction: Instruction, true: Any, rng: random.Random):
        if participant == self.careless:
            return _random_value(instruction, rng)
        factor = self.carelessness[participant]
        if instruction.choices:
            if rng.random() < 1 - (1 - instruction.accuracy) * factor:
                return true
            return rng.choice([choice for choice in instruction.choices if choice != true])
        if instruction.scale is not None:
            low, high = instruction.scale
            return min(high, max(low, round(true + rng.gauss(0, instruction.spread * factor))))
        return true if rng.random() < 0.5 else rng.choice(instruction.texts)


def _random_value(instruction: Instruction, rng: random.Random) -> Any:
    """A value drawn evenly: a task's true value, or a careless annotator's answer."""
    if instruction.choices:
        return rng.choice(instruction.choices)
    if instruction.scale is not None:
        return rng.randint(*instruction.scale)
    return rng.choice(instruction.texts)


def _record(
    batch_id: str,
    task_id: str,
    participant: str,
    instruction: Instruction,
    value: Any,
    given: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "created_at": given.isoformat().replace("+00:00", "Z"),
        "batch_id": batch_id,
        "participant_id": participant,
        "task_id": task_id,
        "response": {
            "instruction_id": instruction.id,
            "type": instruction.response_type,
            "answer": [{"value": value}],
        },
        "schema_version": 2,
    }
