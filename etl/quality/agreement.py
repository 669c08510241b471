"""Agreement among the annotators of one instruction of one batch: Krippendorff's alpha at
the level its answers allow, percent agreement, and the counts that say what they rest on.

Units are tasks, annotators are participants, and a value is one participant's answer to
a task. Only units with two values or more are pairable: a task answered once says nothing
about agreement, so it counts among ``units`` but not ``pairable_units``, and its value
not among ``pairable_values``. What is not computed, and why, is in `etl.quality.answers`
and the row's ``not_computed``.

Alpha is computed from its closed forms (`closed_form_alpha`), in memory proportional to
the values, with missing data taken as Krippendorff takes it: a participant who did not
answer a task adds no value to it. The krippendorff package is not used at run time: it is
GPL-3.0-or-later (this tool is embedded by teams) and its 0.9.0 builds arrays of units x
distinct values^2 floats (its issue #38), gigabytes for numbers with many distinct values.
tests/test_agreement.py checks the closed forms against it (to 1e-9) and against the
published worked examples.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .answers import (
    INTERVAL,
    NO_PAIRABLE_UNITS,
    NO_VARIATION,
    Label,
    Measurement,
    Prepared,
    label_of,
)


@dataclass(frozen=True)
class AgreementRow:
    """Agreement on one instruction of one batch.

    ``level`` is "nominal", "interval" or None; ``not_computed`` says why alpha is None
    (free_text, file_upload, multiple_values, mixed_units, mixed_types, unknown_type,
    no_answers, no_pairable_units, no_variation — the last: every pairable value is the
    same, so there is no disagreement to expect by chance and alpha is undefined).
    ``percent_agreement`` is the share of agreeing pairs among the pairs of values within
    units (exact equality; a multiple selection agrees when the same set is chosen).
    ``excluded_answers`` were left out by submission, ``superseded_answers`` by a later
    answer of the same participant to the same task.
    """

    batch_id: str
    instruction_id: str
    response_type: str | None
    level: str | None
    krippendorff_alpha: float | None
    percent_agreement: float | None
    units: int
    pairable_units: int
    annotators: int
    answers: int
    pairable_values: int
    excluded_answers: int
    superseded_answers: int
    not_computed: str | None


def agreement_row(
    batch_id: str, instruction_id: str, prepared: Prepared, measurement: Measurement
) -> AgreementRow:
    """The agreement row of one instruction's prepared answers (see `etl.quality.answers`)."""
    answers = prepared.answers
    units: dict[str, list[Label]] = defaultdict(list)
    if measurement.comparable:
        for answer in answers:
            units[answer.task_id].append(label_of(answer, measurement))
    pairable = [labels for labels in units.values() if len(labels) >= 2]
    alpha, reason = None, measurement.reason
    if measurement.level is not None:
        alpha, reason = krippendorff_alpha(pairable, measurement.level)
    return AgreementRow(
        batch_id=batch_id,
        instruction_id=instruction_id,
        response_type=answers[0].response_type if answers else None,
        level=measurement.level,
        krippendorff_alpha=alpha,
        percent_agreement=percent_agreement(pairable) if measurement.comparable else None,
        units=len({answer.task_id for answer in answers}),
        pairable_units=len(pairable),
        annotators=len({answer.participant_id for answer in answers}),
        answers=len(answers),
        pairable_values=sum(len(labels) for labels in pairable),
        excluded_answers=prepared.excluded,
        superseded_answers=prepared.superseded,
        not_computed=reason,
    )


def percent_agreement(units: Iterable[Sequence[Label]]) -> float | None:
    """Agreeing pairs / all pairs of values within each unit; None with no pair at all."""
    pairs = agreeing = 0
    for labels in units:
        pairs += len(labels) * (len(labels) - 1) // 2
        agreeing += sum(n * (n - 1) // 2 for n in Counter(labels).values())
    return agreeing / pairs if pairs else None


def krippendorff_alpha(
    units: Sequence[Sequence[Label]], level: str
) -> tuple[float | None, str | None]:
    """Alpha over the values of each unit, and None with the reason when it is undefined.

    ``units`` holds the values of each unit (units with fewer than two add nothing);
    ``level`` is "nominal" (labels compared for equality) or "interval" (numbers).
    """
    pairable = [labels for labels in units if len(labels) >= 2]
    if not pairable:
        return None, NO_PAIRABLE_UNITS
    if len({label for labels in pairable for label in labels}) < 2:
        return None, NO_VARIATION
    return closed_form_alpha(pairable, level), None


def closed_form_alpha(units: Sequence[Sequence[Label]], level: str) -> float:
    """Krippendorff's alpha = 1 - D_o / D_e from its closed forms (Krippendorff 2011), in
    memory proportional to the values.

    Nominal: D_o = 1 - sum_c o_cc / n with o_cc = sum_u n_uc (n_uc - 1) / (m_u - 1), and
    D_e = 1 - sum_c n_c (n_c - 1) / (n (n - 1)). Interval: with sum over i != j of
    (v_i - v_j)^2 = 2 m SS for m values of sum of squares SS about their mean,
    D_o = (1/n) sum_u 2 m_u SS_u / (m_u - 1) and D_e = 2 SS / (n - 1).
    Needs at least two distinct values among units of two values or more.
    """
    pairable = [labels for labels in units if len(labels) >= 2]
    n = sum(len(labels) for labels in pairable)
    if level == INTERVAL:
        numbers = [float(label) for labels in pairable for label in labels]  # type: ignore[arg-type]
        observed = (
            math.fsum(2 * len(labels) * _squares(labels) / (len(labels) - 1) for labels in pairable)
            / n
        )
        expected = 2 * _squares(numbers) / (n - 1)
        return 1 - observed / expected
    matching = math.fsum(
        n_c * (n_c - 1) / (len(labels) - 1)
        for labels in pairable
        for n_c in Counter(labels).values()
    )
    totals = Counter(label for labels in pairable for label in labels)
    observed = 1 - matching / n
    expected = 1 - math.fsum(n_c * (n_c - 1) for n_c in totals.values()) / (n * (n - 1))
    return 1 - observed / expected


def _squares(values: Sequence[Label]) -> float:
    """Sum of squared deviations from the mean."""
    numbers = [float(value) for value in values]  # type: ignore[arg-type]
    mean = math.fsum(numbers) / len(numbers)
    return math.fsum((number - mean) ** 2 for number in numbers)
