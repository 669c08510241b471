"""A response: one participant's answer to one instruction of a task, with one
``response_answers`` row per value of the answer (replaced whole when the response changed).

Read from a batch's responses (``GET .../batches/{id}/responses``), a stream that may hold
hundreds of thousands; a response the batch's complete answer no longer holds is removed
upstream. Compared by a content hash over its content columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationInfo, model_validator
from sqlalchemy import Boolean, Column, Double, ForeignKey, Index, Integer, String, Table

from ..errors import DuplicateResponseError, RowsRefusedError
from .columns import (
    MYSQL_OPTIONS,
    JsonDocument,
    LongText,
    ShortText,
    Status,
    UTCDateTime,
    Uuid,
    change_columns,
    metadata,
)
from .kind import Children, Kind, Removal, content_hash
from .numbers import big_number_text, dumps
from .payload import IdText, Int32, SpecModel, StatusText, UtcTime, refuse_nul_in


class ResponseBlock(SpecModel):
    instruction_id: IdText
    type: StatusText  # multiple_choice, free_text, ... and more to come: kept as sent
    answer: list[Any]  # kept as sent; flatten_response reads the values it knows


class TaskResponse(SpecModel):
    id: UUID
    created_at: UtcTime
    batch_id: IdText
    task_id: IdText
    participant_id: IdText
    submission_id: IdText | None = None
    correlation_id: IdText | None = None
    metadata: dict[str, Any] | None = None
    schema_version: Int32 | None = None
    no_submission: bool | None = None
    response: ResponseBlock

    @model_validator(mode="after")
    def _storable_json(self, info: ValidationInfo) -> TaskResponse:
        # The reader says when the record's JSON text has no NUL anywhere (NUL_FREE): then
        # the walk through every value of the metadata and the answer can be skipped.
        if not (info.context and info.context.get("nul_free")):
            refuse_nul_in({"metadata": self.metadata, "response.answer": self.response.answer})
        return self


NUL_FREE = {"nul_free": True}
"""The validation context for a record whose JSON text (ASCII-escaped, so that a NUL in it
reads ``\\u0000``) holds none."""


# Columns of ``responses`` that come from the API; the response's content hash covers them.
RESPONSE_CONTENT_COLUMNS = (
    "batch_id",
    "task_id",
    "participant_id",
    "submission_id",
    "correlation_id",
    "instruction_id",
    "response_type",
    "created_at",
    "schema_version",
    "no_submission",
    "metadata",
    "answer",
)


@dataclass(frozen=True)
class ResponseRows:
    """One response record flattened: its ``responses`` row, one ``response_answers`` row per
    answer value, and its content hash."""

    response_id: str
    response: dict[str, Any]
    answers: tuple[dict[str, Any], ...]
    content_hash: str


def response_hash(row: dict[str, Any]) -> str:
    """SHA-256 over a response's content columns."""
    return content_hash({column: row[column] for column in RESPONSE_CONTENT_COLUMNS})


def flatten_response(record: TaskResponse) -> ResponseRows:
    """A response record as its row (the answer list kept whole, as JSON) and one row per
    answer value, with the parts of it the documented types have pulled out."""
    response_id = str(record.id)
    row = {
        "response_id": response_id,
        "batch_id": record.batch_id.lower(),
        "task_id": record.task_id,
        "participant_id": record.participant_id,
        "submission_id": record.submission_id,
        "correlation_id": record.correlation_id,
        "instruction_id": record.response.instruction_id,
        "response_type": record.response.type,
        "created_at": record.created_at,
        "schema_version": record.schema_version,
        "no_submission": record.no_submission,
        "metadata": record.metadata,
        "answer": record.response.answer,
    }
    answers = tuple(
        _answer_row(response_id, position, item)
        for position, item in enumerate(record.response.answer)
    )
    return ResponseRows(response_id, row, answers, response_hash(row))


def _answer_row(response_id: str, position: int, item: Any) -> dict[str, Any]:
    """One answer: its value as text (JSON text when it is not a string), as a number or a
    boolean where it is one, and the unit, explanation and file fields some types add."""
    fields = item if isinstance(item, dict) else {"value": item}
    value = fields.get("value")
    return {
        "response_id": response_id,
        "position": position,
        "value_text": _as_text(value),
        "value_number": _as_double(value),
        "value_boolean": value if isinstance(value, bool) else None,
        "unit": _text_field(fields, "unit"),
        "explanation": _text_field(fields, "explanation"),
        "file_name": _text_field(fields, "file_name"),
        "file_key": _text_field(fields, "file_key"),
        "file_size_mb": _as_double(fields.get("file_size_mb")),
        "content_type": _text_field(fields, "content_type"),
    }


def _as_double(value: Any) -> float | None:
    """A number as a double; None for anything else, or a number no double holds (its text
    is in value_text)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer past 1.8e308
        return None


def _as_text(value: Any) -> str | None:
    if (exact := big_number_text(value)) is not None:
        return exact  # a number beyond a double's range, as sent
    if value is None or isinstance(value, str):
        return value
    return dumps(value, ensure_ascii=False)  # true, 3.5, 12, or an unexpected structure


def _text_field(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) else _as_text(value)


responses = Table(
    "responses",
    metadata,
    Column("response_id", Uuid, primary_key=True, comment="Response record UUID."),
    Column(
        "batch_id",
        Uuid,
        ForeignKey("batches.batch_id", ondelete="CASCADE"),
        nullable=False,
        comment="The batch it answers.",
    ),
    Column("task_id", ShortText, nullable=False, comment="The task answered (not a UUID)."),
    Column("participant_id", ShortText, nullable=False, comment="The Prolific participant."),
    Column("submission_id", ShortText, comment="The Prolific submission, when there is one."),
    Column("correlation_id", ShortText, comment="Correlation ID, for tracking, when sent."),
    Column("instruction_id", ShortText, nullable=False, comment="The instruction answered."),
    Column(
        "response_type",
        Status,
        nullable=False,
        comment="As sent: multiple_choice, free_text, free_text_with_unit, "
        "multiple_choice_with_free_text, file_upload; open to new values.",
    ),
    Column("created_at", UTCDateTime, nullable=False, comment="When it was given (UTC)."),
    Column("schema_version", Integer, comment="Response schema version, when sent."),
    Column("no_submission", Boolean, comment="As sent (undocumented); NULL when absent."),
    Column("metadata", JsonDocument, comment="The record's metadata object, as sent."),
    Column(
        "answer",
        JsonDocument,
        nullable=False,
        comment="The answer list as sent (one row per value in response_answers).",
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
        comment="When a sync found it gone from its batch's complete responses (UTC); NULL "
        "while the API returns it. Never deleted.",
    ),
    *change_columns("it", "it"),
    Index("ix_responses_batch_id", "batch_id", "created_at"),
    Index("ix_responses_participant_id", "participant_id"),
    # For the morning report, found by measuring it (BENCHMARKS.md): what a run stored or
    # changed (v_changes_last_run); the current responses counted per batch and per day from
    # the index alone.
    Index("ix_responses_first_seen_at", "first_seen_at"),
    Index("ix_responses_last_changed_run_id", "last_changed_run_id"),
    Index("ix_responses_batch_id_removed", "batch_id", "removed_upstream_at", "created_at"),
    comment=(
        "One row per response record (a participant's answer to one instruction of a task), "
        "loaded with sync --responses."
    ),
    **MYSQL_OPTIONS,
)

response_answers = Table(
    "response_answers",
    metadata,
    Column(
        "response_id",
        Uuid,
        ForeignKey("responses.response_id", ondelete="CASCADE"),
        primary_key=True,
        comment="The response.",
    ),
    Column(
        "position",
        Integer,
        primary_key=True,
        autoincrement=False,
        comment="Its place in the answer list, from 0.",
    ),
    Column(
        "value_text",
        LongText,
        comment="The value as text: a string as sent, anything else as JSON (true, 3.5).",
    ),
    Column("value_number", Double, comment="The value, when it is a number."),
    Column("value_boolean", Boolean, comment="The value, when it is a boolean."),
    Column("unit", LongText, comment="Its unit (free_text_with_unit)."),
    Column("explanation", LongText, comment="Its explanation, when the type asks for one."),
    Column("file_name", LongText, comment="The uploaded file's name (file_upload)."),
    Column("file_key", LongText, comment="The uploaded file's storage key (file_upload)."),
    Column("file_size_mb", Double, comment="The uploaded file's size in MB (file_upload)."),
    Column("content_type", ShortText, comment="The uploaded file's content type (file_upload)."),
    comment="One row per answer value of a response, as of its last change.",
    **MYSQL_OPTIONS,
)


RESPONSE: Kind[ResponseRows] = Kind(
    name="response",
    table=responses,
    key="response_id",
    content_columns=RESPONSE_CONTENT_COLUMNS,
    key_of=lambda rows: rows.response_id,
    row_of=lambda rows: rows.response,
    refused=lambda rows, message, field: RowsRefusedError(
        rows.response["batch_id"],
        f"response {rows.response_id}: {message}",
        field=field,
        response_id=rows.response_id,
        stage="responses",
    ),
    hash_column="content_hash",
    hash_of=lambda rows: rows.content_hash,
    children=(Children(response_answers, "response_id", lambda rows: rows.answers),),
    # Scope: a batch's complete answer.
    removal=Removal("removed_upstream_at", scope="batch_id"),
    owner="batch_id",
    claimed=lambda rows, stored_in: DuplicateResponseError(
        rows.response["batch_id"],
        f"response {rows.response_id} is in the answers of batches {stored_in} and "
        f"{rows.response['batch_id']}; it is kept in batch {stored_in}, which held it first",
        response_id=rows.response_id,
    ),
)
