"""How good the labels are, as stored: agreement per batch and instruction, the consensus of
each task, and each annotator's agreement with it (computed by ``etl.quality``, written by
the run's quality phase, ``etl.run.quality``).

These rows are derived, not fetched: a batch's rows are replaced whole, in one transaction,
whenever its responses (or its submissions' statuses) changed in a run, and carry the run
that computed them (``computed_run_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
)

from ..kinds.columns import (
    MYSQL_OPTIONS,
    JsonDocument,
    LongText,
    ShortText,
    UTCDateTime,
    Uuid,
    metadata,
)
from ..kinds.response import responses
from ..kinds.submission import submissions
from .db import database_errors
from .writer import WRITES_STOPPED

INSERT_CHUNK = 1000  # rows per INSERT statement
EXCLUDED_STATUSES = ("REJECTED", "RETURNED")
"""Submissions whose answers do not count towards agreement, consensus and annotators."""


def _batch() -> Column:
    return Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The batch.",
    )


def _instruction() -> Column:
    return Column("instruction_id", ShortText, primary_key=True, comment="The instruction.")


def _computed() -> tuple[Column, Column]:
    return (
        Column("computed_at", UTCDateTime, nullable=False, comment="When it was computed (UTC)."),
        Column(
            "computed_run_id",
            Integer,
            ForeignKey("etl_runs.run_id"),
            nullable=False,
            comment="The run that computed it: the last run that changed the batch's responses "
            "or its submissions' statuses.",
        ),
    )


label_agreement = Table(
    "label_agreement",
    metadata,
    _batch(),
    _instruction(),
    Column("response_type", String(64), comment="The instruction's response type."),
    Column(
        "level",
        String(16),
        comment="Level of measurement alpha is computed at: nominal (choices, booleans) or "
        "interval (numbers); NULL when it is not computed (see not_computed).",
    ),
    Column("units", Integer, nullable=False, comment="Tasks answered."),
    Column("pairable_units", Integer, nullable=False, comment="Tasks answered twice or more."),
    Column("annotators", Integer, nullable=False, comment="Participants who answered."),
    Column("answers", Integer, nullable=False, comment="Answers counted."),
    Column(
        "pairable_values",
        Integer,
        nullable=False,
        comment="Answers on tasks answered twice or more (Krippendorff's n).",
    ),
    Column(
        "percent_agreement",
        Double,
        comment="Agreeing pairs of answers among all pairs within a task (0 to 1).",
    ),
    Column(
        "krippendorff_alpha",
        Double,
        comment="Krippendorff's alpha at `level` (1 perfect, 0 chance, below 0 worse).",
    ),
    Column(
        "not_computed",
        String(32),
        comment="Why alpha is NULL: free_text, file_upload, multiple_values, mixed_units, "
        "mixed_types, unknown_type, no_answers, no_pairable_units, no_variation.",
    ),
    Column(
        "excluded_answers",
        Integer,
        nullable=False,
        comment="Answers left out because their submission was REJECTED or RETURNED.",
    ),
    Column(
        "superseded_answers",
        Integer,
        nullable=False,
        comment="Earlier answers of a participant to the same task, replaced by their latest.",
    ),
    *_computed(),
    comment="Agreement among annotators per batch and instruction (etl/quality/).",
    **MYSQL_OPTIONS,
)

consensus_labels = Table(
    "consensus_labels",
    metadata,
    _batch(),
    _instruction(),
    Column("task_id", ShortText, primary_key=True, comment="The task."),
    Column(
        "consensus",
        LongText,
        comment="The majority answer as text (a number as its shortest text, a multiple "
        "selection as a JSON list); NULL on a tie.",
    ),
    Column("votes", Integer, nullable=False, comment="Answers that gave the consensus value."),
    Column("answers", Integer, nullable=False, comment="Answers counted for the task."),
    Column("support", Double, nullable=False, comment="votes / answers."),
    Column("is_tie", Boolean, nullable=False, comment="Whether several values share the top."),
    Column("tied_values", JsonDocument, comment="On a tie, the tied values (a JSON list)."),
    *_computed(),
    comment="The consensus label of each task per instruction: the majority answer.",
    **MYSQL_OPTIONS,
)

annotator_agreement = Table(
    "annotator_agreement",
    metadata,
    _batch(),
    _instruction(),
    Column("participant_id", ShortText, primary_key=True, comment="The participant."),
    Column("answers", Integer, nullable=False, comment="Answers they gave (counted ones)."),
    Column(
        "compared",
        Integer,
        nullable=False,
        comment="Of those, answers on tasks with two answers or more and no tie.",
    ),
    Column("agreed", Integer, nullable=False, comment="Of those, answers equal to the consensus."),
    Column("agreement", Double, comment="agreed / compared; NULL when nothing was compared."),
    *_computed(),
    comment="Each annotator's agreement with the consensus per batch and instruction.",
    **MYSQL_OPTIONS,
)

QUALITY_TABLES = (label_agreement, consensus_labels, annotator_agreement)


def replace_batch_quality(
    engine: Engine,
    batch_id: str,
    rows: dict[Table, Iterable[dict[str, Any]]],
    run_id: int,
    now: datetime,
) -> None:
    """Replace every quality row of ``batch_id`` with ``rows`` (per table), in one
    transaction, stamped with ``run_id`` and ``now``."""
    stamp = {"computed_at": now, "computed_run_id": run_id}
    with database_errors(WRITES_STOPPED), engine.begin() as connection:
        for table in QUALITY_TABLES:
            connection.execute(delete(table).where(table.c.batch_id == batch_id))
        for table in QUALITY_TABLES:
            chunk: list[dict[str, Any]] = []
            for row in rows.get(table, ()):
                chunk.append({**row, **stamp})
                if len(chunk) == INSERT_CHUNK:
                    connection.execute(insert(table), chunk)
                    chunk = []
            if chunk:
                connection.execute(insert(table), chunk)


def batches_never_assessed(engine: Engine, batch_ids: Sequence[str]) -> set[str]:
    """Those of ``batch_ids`` with stored responses and no agreement row yet: a database
    upgraded to label quality, whose batches' responses have not changed since."""
    found: set[str] = set()
    assessed = select(label_agreement.c.batch_id).where(
        label_agreement.c.batch_id == responses.c.batch_id
    )
    with database_errors(WRITES_STOPPED), engine.connect() as connection:
        for start in range(0, len(batch_ids), 1000):
            chunk = list(batch_ids[start : start + 1000])
            query = (
                select(responses.c.batch_id)
                .where(responses.c.batch_id.in_(chunk), ~assessed.exists())
                .distinct()
            )
            found |= set(connection.execute(query).scalars())
    return found


def excluded_submissions(engine: Engine, batch_id: str) -> frozenset[str]:
    """The submissions of ``batch_id``'s responses that were REJECTED or RETURNED (empty
    when submissions were never synced)."""
    query = (
        select(responses.c.submission_id)
        .join(submissions, submissions.c.submission_id == responses.c.submission_id)
        .where(
            responses.c.batch_id == batch_id,
            submissions.c.status.in_(EXCLUDED_STATUSES),
            submissions.c.removed_upstream_at.is_(None),
        )
        .distinct()
    )
    with database_errors(WRITES_STOPPED), engine.connect() as connection:
        return frozenset(connection.execute(query).scalars())


__all__ = [
    "EXCLUDED_STATUSES",
    "excluded_submissions",
    "QUALITY_TABLES",
    "annotator_agreement",
    "batches_never_assessed",
    "consensus_labels",
    "label_agreement",
    "replace_batch_quality",
]
