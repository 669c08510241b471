"""Answers as the label-quality computations see them, and what can be measured on them.

One `Answer` is one participant's answer to one instruction of one task (a row of
``responses`` with its ``response_answers``). The computations work per batch and
instruction: tasks are the units, participants the annotators.

What an instruction's answers allow (`measure`):

- ``nominal``: one value per answer, a choice (multiple_choice,
  multiple_choice_with_free_text; their explanation text is not compared) or a boolean.
- ``interval``: one number per answer (free_text, free_text_with_unit in one unit).
- no level, for reasons named by the constants below: free text (answers that are not
  numbers: every one is its own, there are no categories to agree on, so alpha would be
  meaningless), file uploads, several values in one answer (a multiple selection: alpha
  for sets needs a set distance such as MASI, not implemented here), numbers in several
  units (nothing converts them), response types never seen whose values are text, and an
  instruction answered with several response types.
  Multiple selections are still compared as whole selections (equal when the same set of
  options is chosen) for percent agreement and consensus.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

NOMINAL = "nominal"
INTERVAL = "interval"

FREE_TEXT = "free_text"
FILE_UPLOAD = "file_upload"
MULTIPLE_VALUES = "multiple_values"
MIXED_UNITS = "mixed_units"
MIXED_TYPES = "mixed_types"
UNKNOWN_TYPE = "unknown_type"
NO_ANSWERS = "no_answers"
NO_PAIRABLE_UNITS = "no_pairable_units"
NO_VARIATION = "no_variation"

_CHOICE_TYPES = frozenset({"multiple_choice", "multiple_choice_with_free_text"})
_TEXT_TYPES = frozenset({"free_text", "free_text_with_unit"})

Label = str | float | tuple[str, ...]
"""What is compared: a choice's text, a number, or a multiple selection's sorted texts."""


@dataclass(frozen=True, slots=True)  # slots: an instruction may hold 200,000 of them
class Value:
    """One value of an answer, as ``response_answers`` holds it."""

    text: str | None
    number: float | None = None
    boolean: bool | None = None
    unit: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.text is None and self.number is None and self.boolean is None

    @property
    def as_text(self) -> str:
        """The text the value is compared by: as stored, else the JSON of the value."""
        if self.text is not None:
            return self.text
        return json.dumps(self.boolean if self.boolean is not None else self.number)


@dataclass(frozen=True, slots=True)
class Answer:
    """One participant's answer to one instruction of one task."""

    task_id: str
    participant_id: str
    values: tuple[Value, ...]
    response_type: str = "multiple_choice"
    submission_id: str | None = None
    created_at: datetime | None = None
    response_id: str | None = None


@dataclass(frozen=True)
class Measurement:
    """What an instruction's answers allow: the level of alpha (None when alpha is not
    computed, with the reason) and whether answers can be compared for equality at all
    (percent agreement, consensus, agreement with the consensus)."""

    level: str | None
    reason: str | None
    comparable: bool


@dataclass(frozen=True)
class Prepared:
    """The answers that count, and how many were left out and why."""

    answers: tuple[Answer, ...]
    excluded: int
    superseded: int


def prepare(answers: Iterable[Answer], excluded_submissions: frozenset[str]) -> Prepared:
    """Leave out the answers of excluded submissions (later: rejected and returned ones)
    and answers with no value, and keep one answer per task and participant: the latest
    (by created_at, then response_id), the others counted as superseded. The answers kept
    keep only what is compared (their submission, time and response id are left out: an
    instruction may hold 200,000 of them)."""
    latest: dict[tuple[str, str], tuple[tuple, Answer]] = {}
    excluded = superseded = 0
    # One object for each response type and each set of values, not one per answer: an
    # instruction's answers repeat a few choices.
    shared: dict[object, object] = {}
    for answer in answers:
        if answer.submission_id is not None and answer.submission_id in excluded_submissions:
            excluded += 1
            continue
        values = tuple(value for value in answer.values if not value.is_empty)
        if not values:
            continue
        key = (answer.task_id, answer.participant_id)
        order = _order(answer)
        if key in latest:
            superseded += 1
            if order < latest[key][0]:
                continue
        values = shared.setdefault(values, values)
        response_type = shared.setdefault(answer.response_type, answer.response_type)
        latest[key] = (order, Answer(*key, values, response_type))
    return Prepared(tuple(answer for _, answer in latest.values()), excluded, superseded)


def _order(answer: Answer) -> tuple[bool, datetime | None, str]:
    return (answer.created_at is not None, answer.created_at, answer.response_id or "")


def measure(answers: tuple[Answer, ...]) -> Measurement:
    """What can be measured on one instruction's answers (see the module docstring)."""
    if not answers:
        return Measurement(None, NO_ANSWERS, False)
    types = {answer.response_type for answer in answers}
    if len(types) > 1:
        return Measurement(None, MIXED_TYPES, False)
    (response_type,) = types
    if response_type == FILE_UPLOAD:
        return Measurement(None, FILE_UPLOAD, False)
    if any(len(answer.values) > 1 for answer in answers):
        return Measurement(None, MULTIPLE_VALUES, True)
    values = [answer.values[0] for answer in answers]
    if response_type in _CHOICE_TYPES:
        return Measurement(NOMINAL, None, True)
    if all(value.number is not None for value in values):
        if len({value.unit for value in values}) > 1:
            return Measurement(None, MIXED_UNITS, False)
        return Measurement(INTERVAL, None, True)
    if response_type in _TEXT_TYPES:
        return Measurement(None, FREE_TEXT, False)
    if all(value.boolean is not None for value in values):
        return Measurement(NOMINAL, None, True)
    return Measurement(None, UNKNOWN_TYPE, False)


def label_of(answer: Answer, measurement: Measurement) -> Label:
    """What is compared of an answer: its number (interval), its text (nominal), or its
    selection as sorted texts (several values)."""
    if measurement.level == INTERVAL:
        number = answer.values[0].number
        assert number is not None  # measure() said every value is a number
        return number
    if len(answer.values) > 1 or measurement.reason == MULTIPLE_VALUES:
        return tuple(sorted(value.as_text for value in answer.values))
    return answer.values[0].as_text
