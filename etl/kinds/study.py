"""A study: the Prolific study that recruits participants for an AI Task Builder batch (its
``data_collection_method`` is ``AI_TASK_BUILDER_BATCH`` and its ``data_collection_id`` the
batch). One batch can be served by several studies.

Found through a workspace's projects (``GET /api/v1/workspaces/{id}/projects/``) and each
project's studies (``GET /api/v1/projects/{id}/studies/``, paged), and read from
``GET /api/v1/studies/{id}/`` (the listing does not say which batch a study serves). Only the
studies of batches the run synced are stored; a stored study that its project's complete
listing no longer holds is removed upstream. Compared by a content hash over its content
columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator
from sqlalchemy import BigInteger, Column, Double, ForeignKey, Index, String, Table

from ..errors import RowsRefusedError
from .columns import (
    MYSQL_OPTIONS,
    LongText,
    ShortText,
    Status,
    UTCDateTime,
    Uuid,
    change_columns,
    metadata,
)
from .kind import Kind, Removal, content_hash
from .payload import IdText, SpecModel, StatusText, Text, UtcTime

BATCH_METHOD = "AI_TASK_BUILDER_BATCH"


def _whole(value: float) -> int:
    # The spec types places as numbers ("double"); they count people, so a fraction is wrong.
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("is not a whole number")
    return int(value)


Whole = Annotated[int | float, AfterValidator(_whole)]
Number = int | float


class ProjectShort(SpecModel):
    """``ProjectShort``: only its id is used (a project's studies are listed by it)."""

    id: IdText


class ProjectList(SpecModel):
    results: list[ProjectShort]


class StudyShort(SpecModel):
    """An item of a project's study listing (``StudyShort``): its id is what the run needs."""

    id: IdText


class Study(SpecModel):
    """``GET /api/v1/studies/{id}/`` (``Study``), the fields this job keeps. The fields the
    listing's ``StudyShort`` adds (places taken, dates) are read when the detail sends them."""

    id: IdText
    name: Text
    internal_name: Text | None = None
    status: StatusText
    project: IdText | None = None
    data_collection_method: StatusText | None = None
    data_collection_id: IdText | None = None
    reward: Number | None = None
    currency_code: IdText | None = None
    total_available_places: Whole | None = None
    places_taken: Whole | None = None
    number_of_submissions: Whole | None = None
    estimated_completion_time: Number | None = None
    maximum_allowed_time: Number | None = None
    total_cost: Number | None = None
    date_created: UtcTime | None = None
    published_at: UtcTime | None = None
    completed_at: UtcTime | None = None

    def serves(self, batch_ids: set[str]) -> str | None:
        """The synced batch this study recruits for, or None (another method, another batch)."""
        if self.data_collection_method != BATCH_METHOD or not self.data_collection_id:
            return None
        batch_id = self.data_collection_id.lower()
        return batch_id if batch_id in batch_ids else None


STUDY_CONTENT_COLUMNS = (
    "batch_id",
    "project_id",
    "workspace_id",
    "name",
    "internal_name",
    "status",
    "reward",
    "currency",
    "total_available_places",
    "places_taken",
    "number_of_submissions",
    "estimated_completion_time",
    "maximum_allowed_time",
    "total_cost",
    "date_created",
    "published_at",
    "completed_at",
)


@dataclass(frozen=True)
class StudyRows:
    """One study flattened: its ``studies`` row and its content hash."""

    study_id: str
    study: dict[str, Any]
    content_hash: str


def flatten_study(study: Study, *, batch_id: str, project_id: str, workspace_id: str) -> StudyRows:
    """A study as its row; ``project_id`` and ``workspace_id`` are where it was listed."""
    row = {
        "study_id": study.id,
        "batch_id": batch_id,
        "project_id": project_id,
        "workspace_id": workspace_id,
        "name": study.name,
        "internal_name": study.internal_name,
        "status": study.status,
        "reward": _float(study.reward),
        "currency": study.currency_code,
        "total_available_places": study.total_available_places,
        "places_taken": study.places_taken,
        "number_of_submissions": study.number_of_submissions,
        "estimated_completion_time": _float(study.estimated_completion_time),
        "maximum_allowed_time": _float(study.maximum_allowed_time),
        "total_cost": _float(study.total_cost),
        "date_created": study.date_created,
        "published_at": study.published_at,
        "completed_at": study.completed_at,
    }
    hashed = content_hash({column: row[column] for column in STUDY_CONTENT_COLUMNS})
    return StudyRows(study.id, row, hashed)


def _float(value: Number | None) -> float | None:
    return None if value is None else float(value)


studies = Table(
    "studies",
    metadata,
    Column("study_id", ShortText, primary_key=True, comment="Prolific study ID (not a UUID)."),
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        nullable=False,
        comment="The AI Task Builder batch it recruits for (its data_collection_id).",
    ),
    Column("project_id", ShortText, nullable=False, comment="The project that lists it."),
    Column("workspace_id", ShortText, nullable=False, comment="The workspace of that project."),
    Column("name", LongText, nullable=False, comment="Public name, shown to participants."),
    Column("internal_name", LongText, comment="Internal name, not shown to participants."),
    Column(
        "status",
        Status,
        nullable=False,
        comment="As sent: UNPUBLISHED, SCHEDULED, PUBLISHING, ACTIVE, AWAITING REVIEW, PAUSED, "
        "COMPLETED today; open to new values.",
    ),
    Column("reward", Double, comment="Pay per place, in minor units (cents, pence)."),
    Column("currency", String(16), comment="Currency of the reward (currency_code), when sent."),
    Column("total_available_places", BigInteger, comment="Places it recruits."),
    Column(
        "places_taken",
        BigInteger,
        comment="Places taken: submissions started, not counting timed-out and returned ones.",
    ),
    Column("number_of_submissions", BigInteger, comment="Submissions, when sent."),
    Column("estimated_completion_time", Double, comment="Estimated duration, in minutes."),
    Column("maximum_allowed_time", Double, comment="Longest time allowed, in minutes."),
    Column("total_cost", Double, comment="Total cost with fees, in minor units, when sent."),
    Column("date_created", UTCDateTime, comment="When it was created (UTC), when sent."),
    Column("published_at", UTCDateTime, comment="When it was published (UTC), when sent."),
    Column("completed_at", UTCDateTime, comment="When it completed (UTC), when sent."),
    Column(
        "content_hash",
        String(64),
        nullable=False,
        comment="SHA-256 of its content; a sync rewrites the row only when it changes.",
    ),
    Column(
        "removed_upstream_at",
        UTCDateTime,
        comment="When a sync found it gone from its project's complete study listing (UTC); "
        "NULL while listed. Never deleted.",
    ),
    *change_columns("it", "it"),
    Index("ix_studies_batch_id", "batch_id"),
    comment=(
        "One row per Prolific study that recruits for a synced AI Task Builder batch "
        "(sync --submissions). Other studies are not stored."
    ),
    **MYSQL_OPTIONS,
)


STUDY: Kind[StudyRows] = Kind(
    name="study",
    table=studies,
    key="study_id",
    content_columns=STUDY_CONTENT_COLUMNS,
    key_of=lambda rows: rows.study_id,
    row_of=lambda rows: rows.study,
    refused=lambda rows, message, field: RowsRefusedError(
        rows.study["batch_id"], f"study {rows.study_id}: {message}", field=field, stage="studies"
    ),
    hash_column="content_hash",
    hash_of=lambda rows: rows.content_hash,
    # Scope: a project's complete study listing.
    removal=Removal("removed_upstream_at", scope="project_id"),
)
