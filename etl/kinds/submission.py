"""A submission: one participant's go at a study, the unit Prolific approves, rejects or
returns, and pays; a response's ``submission_id`` names it. A submission changes after the
fact (review happens days later), so each status it is seen in is kept in
``submission_status_history``.

Read from a study's listing (``GET /api/v1/studies/{id}/submissions/``, paged); a stored
submission that its study's complete listing no longer holds is removed upstream. Compared by
a content hash over its content columns.

Personal data: a submission's ``ip`` is never read (the model does not have it), and the
participant's demographics (``strata``) are kept only when the run asks for them
(``--demographics``); a run without it stores NULL in their place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import model_validator
from sqlalchemy import Boolean, Column, Double, ForeignKey, Index, Integer, String, Table

from ..errors import RowsRefusedError
from .columns import (
    MYSQL_OPTIONS,
    JsonDocument,
    LongText,
    ShortText,
    Status,
    UTCDateTime,
    change_columns,
    metadata,
    status_change_columns,
)
from .kind import Kind, Removal, StatusHistory, content_hash
from .payload import IdText, SpecModel, StatusText, Text, UtcTime, refuse_nul_in

Number = int | float
# The statuses after which a submission can still change by the participant's doing.
OPEN_SUBMISSION_STATUSES = ("ACTIVE", "RESERVED", "AWAITING REVIEW")


class Submission(SpecModel):
    """``SubmissionShort`` and the fields Prolific's own client reads beyond it. ``ip`` is
    deliberately absent: it is personal data, and unlisted fields are dropped on reading."""

    id: IdText
    participant_id: IdText
    status: StatusText
    started_at: UtcTime | None = None
    completed_at: UtcTime | None = None
    time_taken: Number | None = None
    reward: Number | None = None
    is_complete: bool | None = None
    study_code: Text | None = None
    star_awarded: bool | None = None
    bonus_payments: list[Number] | None = None
    return_requested: UtcTime | None = None
    strata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _storable_json(self) -> Submission:
        refuse_nul_in({"strata": self.strata})
        return self


SUBMISSION_CONTENT_COLUMNS = (
    "study_id",
    "participant_id",
    "status",
    "started_at",
    "completed_at",
    "time_taken",
    "reward",
    "is_complete",
    "study_code",
    "star_awarded",
    "bonus_total",
    "return_requested",
    "demographics",
)


@dataclass(frozen=True)
class SubmissionRows:
    """One submission flattened: its ``submissions`` row and its content hash."""

    submission_id: str
    submission: dict[str, Any]
    content_hash: str
    batch_id: str | None = None  # the batch its study recruits for: whom a failure names


def flatten_submission(
    submission: Submission,
    *,
    study_id: str,
    batch_id: str | None = None,
    demographics: bool = False,
) -> SubmissionRows:
    """A submission as its row; its demographics only when ``demographics`` is asked for."""
    bonuses = submission.bonus_payments
    row = {
        "submission_id": submission.id,
        "study_id": study_id,
        "participant_id": submission.participant_id,
        "status": submission.status,
        "started_at": submission.started_at,
        "completed_at": submission.completed_at,
        "time_taken": _float(submission.time_taken),
        "reward": _float(submission.reward),
        "is_complete": submission.is_complete,
        "study_code": submission.study_code,
        "star_awarded": submission.star_awarded,
        "bonus_total": None if bonuses is None else float(sum(bonuses)),
        "return_requested": submission.return_requested,
        "demographics": submission.strata if demographics else None,
    }
    hashed = content_hash({column: row[column] for column in SUBMISSION_CONTENT_COLUMNS})
    return SubmissionRows(submission.id, row, hashed, batch_id)


def _float(value: Number | None) -> float | None:
    return None if value is None else float(value)


submissions = Table(
    "submissions",
    metadata,
    Column(
        "submission_id", ShortText, primary_key=True, comment="Prolific submission ID (not a UUID)."
    ),
    Column(
        "study_id",
        ShortText,
        ForeignKey("studies.study_id", ondelete="CASCADE"),
        nullable=False,
        comment="The study it was made to.",
    ),
    Column("participant_id", ShortText, nullable=False, comment="The Prolific participant."),
    Column(
        "status",
        Status,
        nullable=False,
        comment="As sent: RESERVED, ACTIVE, TIMED-OUT, AWAITING REVIEW, APPROVED, RETURNED, "
        "REJECTED, SCREENED OUT, PARTIALLY APPROVED today; open to new values.",
    ),
    Column("started_at", UTCDateTime, comment="When the participant started (UTC)."),
    Column("completed_at", UTCDateTime, comment="When the participant finished (UTC)."),
    Column("time_taken", Double, comment="Seconds the participant took, when sent."),
    Column("reward", Double, comment="Pay for it, in minor units (cents, pence), when sent."),
    Column("is_complete", Boolean, comment="Whether it is complete, when sent."),
    Column("study_code", LongText, comment="The completion code entered, when sent."),
    Column("star_awarded", Boolean, comment="Whether the researcher starred it, when sent."),
    Column(
        "bonus_total",
        Double,
        comment="Sum of its bonus payments, in minor units; NULL when none were listed.",
    ),
    Column("return_requested", UTCDateTime, comment="When a return was requested (UTC)."),
    Column(
        "demographics",
        JsonDocument,
        comment="PERSONAL DATA: the participant's demographics (strata) as sent, stored only "
        "by sync --demographics; NULL otherwise. The IP address is never stored.",
    ),
    Column(
        "content_hash",
        String(64),
        nullable=False,
        comment="SHA-256 of its content; a sync rewrites the row only when it changes.",
    ),
    Column(
        "removed_upstream_at",
        UTCDateTime,
        comment="When a sync found it gone from its study's complete listing (UTC); NULL while "
        "listed. Never deleted.",
    ),
    *change_columns("it", "it"),
    Index("ix_submissions_study_id", "study_id"),
    Index("ix_submissions_participant_id", "participant_id"),
    comment="One row per submission to a stored study (sync --submissions).",
    **MYSQL_OPTIONS,
)


submission_status_history = Table(
    "submission_status_history",
    metadata,
    Column(
        "history_id",
        Integer,
        primary_key=True,
        autoincrement=True,
        comment="Sequential id of the observation.",
    ),
    Column(
        "submission_id",
        ShortText,
        ForeignKey("submissions.submission_id", ondelete="CASCADE"),
        nullable=False,
        comment="The submission.",
    ),
    *status_change_columns("its", "it changed at or before then"),
    Index("ix_submission_status_history_submission_id", "submission_id", "observed_at"),
    comment=(
        "One row each time a sync finds a submission's status changed (a review days later), "
        "and one when it first sees the submission."
    ),
    **MYSQL_OPTIONS,
)


SUBMISSION: Kind[SubmissionRows] = Kind(
    name="submission",
    table=submissions,
    key="submission_id",
    content_columns=SUBMISSION_CONTENT_COLUMNS,
    key_of=lambda rows: rows.submission_id,
    row_of=lambda rows: rows.submission,
    refused=lambda rows, message, field: RowsRefusedError(
        rows.batch_id,
        f"submission {rows.submission_id}: {message}",
        field=field,
        stage="submissions",
    ),
    hash_column="content_hash",
    hash_of=lambda rows: rows.content_hash,
    status_history=StatusHistory(submission_status_history, "status"),
    # Scope: a study's complete submission listing.
    removal=Removal("removed_upstream_at", scope="study_id"),
)
