"""Validating a GET-batch response body against the published spec.

The models mirror ``AITaskBuilderBatch`` in shared/prolific-api/get-batch.openapi.yaml. Types are
strict (a count must be a JSON integer, not ``"5"`` or ``5.0``); fields the spec does not list are
ignored so that an API that grows a field does not break the nightly load.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ..errors import InvalidPayloadError, InvalidResponseError
from ..rows import MAX_ID_LENGTH

_ERRORS_SHOWN = 3


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it here keeps all three databases alike.
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=MAX_ID_LENGTH), AfterValidator(_no_nul)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _SpecModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Dataset(_SpecModel):
    id: UUID
    total_datapoint_count: Count
    filename: Text


class TaskDetails(_SpecModel):
    task_name: Text
    task_introduction: Text
    task_steps: Text


class Batch(_SpecModel):
    id: UUID
    created_at: datetime
    created_by: ShortText
    datasets: list[Dataset]
    name: Text
    status: Literal["UNINITIALISED", "PROCESSING", "READY", "ERROR"]
    total_task_count: Count
    total_instruction_count: Count
    workspace_id: ShortText
    schema_version: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
    task_details: TaskDetails
    total_task_groups: Count

    @field_validator("created_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        # The spec promises UTC; a timestamp without an offset is taken as UTC.
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            # e.g. 0001-01-01T00:30:00+01:00 is before 0001-01-01 UTC, which datetime cannot hold.
            raise ValueError(
                "is out of the range of representable UTC timestamps (years 1 to 9999)"
            ) from None

    @field_validator("datasets")
    @classmethod
    def _distinct_datasets(cls, value: list[Dataset]) -> list[Dataset]:
        first_by_id: dict[UUID, Dataset] = {}
        for dataset in value:
            earlier = first_by_id.setdefault(dataset.id, dataset)
            if earlier != dataset:
                raise ValueError(f"dataset {dataset.id} is listed twice with different values")
        return list(first_by_id.values())


def parse_batch(batch_id: str, body: bytes | str) -> Batch:
    """Validate one response body for ``batch_id``.

    Raises InvalidResponseError when the body is not a JSON object, and InvalidPayloadError
    (naming the field) when it does not match the spec or describes another batch.
    """
    try:
        batch = Batch.model_validate_json(body, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            reason = first.get("ctx", {}).get("error", "")
            raise InvalidResponseError(
                batch_id, f"response is not valid JSON: {reason} ({_describe_body(body)})"
            ) from None
        if first["loc"] == () and first["type"] == "model_type":
            raise InvalidResponseError(batch_id, "response is JSON but not an object") from None
        field, message = _describe_validation_error(exc)
        raise InvalidPayloadError(batch_id, message, field=field) from None
    if str(batch.id) != batch_id:
        raise InvalidPayloadError(
            batch_id, f"field 'id': response describes batch {batch.id}", field="id"
        )
    return batch


def _describe_validation_error(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for error in errors[:_ERRORS_SHOWN]:
        parts.append(f"field '{_field_path(error['loc'])}': {error['msg']}")
    if len(errors) > _ERRORS_SHOWN:
        parts.append(f"and {len(errors) - _ERRORS_SHOWN} more")
    return _field_path(errors[0]["loc"]), "; ".join(parts)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "<body>"


def _describe_body(body: bytes | str) -> str:
    # Describes the body without quoting it: a proxy's error page may echo the request, token
    # included, and this text ends up in logs and in etl_failures.
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return f"{len(body)} bytes, not UTF-8"
        size = f"{len(body)} bytes"
    else:
        text = body
        size = f"{len(body)} characters"
    stripped = text.lstrip()
    if not stripped:
        return "empty body"
    if stripped[:15].lower().startswith(("<!doctype html", "<html")):
        return "an HTML page"
    return f"{size} of text"
