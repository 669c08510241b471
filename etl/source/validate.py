"""Validating the API's answers against the published spec.

The models, declared with their kinds in ``etl.kinds``, mirror ``AITaskBuilderBatch``,
``WorkspaceShort`` and ``AITaskBuilderDataset`` in
shared/prolific-api/data-collection.openapi.yaml. Types are strict (a count must be a JSON
integer, not ``"5"`` or ``5.0``). Statuses and other enumerations are open text: the API adds
values, and a new one must not break the nightly load. A batch keeps the top-level fields the
spec does not list (``Batch.unknown_fields``) so that nothing the API sends is lost; elsewhere
unlisted fields are ignored.

A workspace's batch listing is read as a stream (ijson): its batches are validated one at a
time, each exactly as a batch fetched on its own would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar
from uuid import UUID

import ijson
from pydantic import BaseModel, ValidationError

from ..errors import InvalidPayloadError, InvalidResponseError, ItemError
from ..kinds import numbers
from ..kinds.batch import Batch, Dataset, TaskDetails
from ..kinds.dataset_details import DatasetDetails, DatasetImport
from ..kinds.response import NUL_FREE, ResponseBlock, TaskResponse
from ..kinds.workspace import Workspace, WorkspaceList

_ERRORS_SHOWN = 3


def parse_batch(batch_id: str, body: bytes | str) -> Batch:
    """Validate one response body for ``batch_id``.

    Raises InvalidResponseError when the body is not a JSON object, and InvalidPayloadError
    (naming the field) when it does not match the spec or describes another batch.
    """
    batch = _parse(Batch, body, batch_id=batch_id)
    if str(batch.id) != batch_id:
        raise InvalidPayloadError(
            batch_id, f"field 'id': response describes batch {batch.id}", field="id"
        )
    return batch


def parse_workspaces(body: bytes) -> list[Workspace]:
    """The workspaces in a ``GET /api/v1/workspaces/`` body."""
    return list(_parse(WorkspaceList, body, stage="listing").results)


def parse_dataset(dataset_id: str, body: bytes) -> DatasetDetails:
    """Validate a ``GET /api/v1/data-collection/datasets/{id}`` body."""
    dataset = _parse(DatasetDetails, body, dataset_id=dataset_id, stage="dataset")
    if str(dataset.id) != dataset_id:
        raise InvalidPayloadError(
            None,
            f"field 'id': response describes dataset {dataset.id}",
            field="id",
            dataset_id=dataset_id,
            stage="dataset",
        )
    return dataset


@dataclass
class _Results:
    """A ``{results: [...], meta: {count}}`` answer, read from a file one item at a time.

    ``count`` is what ``meta.count`` says (None when absent), ``seen`` how many items were
    handed out; compare them once ``items`` is exhausted.
    """

    source: BinaryIO
    count: int | None = None
    seen: int = 0
    # Why the body is incomplete when it is known to be (it broke off on the wire): raised
    # where the items stop, instead of "not valid JSON".
    broke_off: ItemError | None = None
    # Whether ``results: null`` means "none" (the spec renders the listing's as nullable).
    null_results_are_empty: ClassVar[bool] = False

    def items(self) -> Iterator[Any]:
        """Each item, validated, or the error that fails it. Raises InvalidResponseError when
        the answer itself is not the documented shape; what was handed out before stays good."""
        self.count = self._declared_count()
        self.source.seek(0)
        try:
            # Numbers exact (int, Decimal): a float beyond a double made yajl fail the answer.
            for index, item in enumerate(ijson.items(self.source, "results.item")):
                self.seen = index + 1
                yield self._item(index, item)
        except ijson.JSONError as exc:
            if self.broke_off is not None:
                raise self.broke_off from None
            raise self._invalid(f"the answer is not valid JSON ({_one_line(exc)})") from None
        if self.broke_off is not None:
            raise self.broke_off
        if self.seen == 0 and not self._has_results():
            raise self._invalid("the answer has no 'results' list")

    @property
    def cut_short(self) -> bool:
        """Whether ``meta.count`` says otherwise than the items that came (once ``items`` is
        exhausted): the answer may be cut short."""
        return self.count is not None and self.count != self.seen

    def _declared_count(self) -> int | None:
        """What ``meta.count`` says; None when absent, or when the body breaks off before it
        (``meta`` follows ``results``): the items that came whole are still read, and the
        break is reported where the items stop."""
        self.source.seek(0)
        try:
            count = next(ijson.items(self.source, "meta.count"), None)
        except ijson.JSONError:
            return None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _has_results(self) -> bool:
        self.source.seek(0)
        absent = object()
        try:
            results = next(ijson.items(self.source, "results"), absent)
        except ijson.JSONError:
            return False
        return isinstance(results, list) or (results is None and self.null_results_are_empty)

    def _item(self, index: int, item: Any) -> Any:
        raise NotImplementedError

    def _invalid(self, message: str) -> InvalidResponseError:
        raise NotImplementedError


@dataclass
class Listing(_Results):
    """A workspace's batch listing: its batches one at a time (``items``)."""

    workspace_id: str = ""
    null_results_are_empty: ClassVar[bool] = True

    def batch_ids(self) -> set[str]:
        """The ids of the batches it lists (lower case; items without a usable id left out),
        read before the batches themselves, so that the run knows what the listing covers."""
        self.source.seek(0)
        try:
            ids = {
                value.lower()
                for value in ijson.items(self.source, "results.item.id")
                if isinstance(value, str) and _is_uuid(value)
            }
        except ijson.JSONError as exc:
            raise self._invalid(f"the listing is not valid JSON ({_one_line(exc)})") from None
        return ids

    def _item(self, index: int, item: Any) -> Batch | ItemError:
        batch_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(batch_id, str) or not _is_uuid(batch_id):
            return InvalidPayloadError(
                None,
                f"item [{index}] of the listing has no batch id",
                field=f"results[{index}].id",
                workspace_id=self.workspace_id,
                stage="validate",
            )
        try:
            return parse_batch(batch_id.lower(), numbers.dumps_for_validation(item))
        except ItemError as error:
            error.workspace_id = self.workspace_id
            return error

    def _invalid(self, message: str) -> InvalidResponseError:
        return InvalidResponseError(None, message, workspace_id=self.workspace_id, stage="listing")


@dataclass
class ResponseListing(_Results):
    """A batch's responses: its response records one at a time (``items``)."""

    batch_id: str = ""

    def _item(self, index: int, item: Any) -> TaskResponse | ItemError:
        response_id = item.get("id") if isinstance(item, dict) else None
        shown = response_id if isinstance(response_id, str) else f"[{index}]"
        text = numbers.dumps_for_validation(item)  # ASCII: a NUL in it reads \u0000
        try:
            response = TaskResponse.model_validate_json(
                text, strict=True, context=None if "\\u0000" in text else NUL_FREE
            )
        except ValidationError as exc:
            field, message = _describe_validation_error(exc)
            return InvalidPayloadError(
                self.batch_id,
                f"response {shown}: {message}",
                field=f"results[{index}].{field}",
                stage="responses",
                # Only an id that is a UUID names it: etl_failures.response_id holds one.
                response_id=response_id
                if isinstance(response_id, str) and _is_uuid(response_id)
                else None,
            )
        if response.batch_id.lower() != self.batch_id:
            return InvalidPayloadError(
                self.batch_id,
                f"response {shown}: field 'batch_id': describes batch {response.batch_id}",
                field=f"results[{index}].batch_id",
                stage="responses",
                response_id=str(response.id),
            )
        return response

    def _invalid(self, message: str) -> InvalidResponseError:
        return InvalidResponseError(self.batch_id, message, stage="responses")


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def _parse(model: type[BaseModel], body: bytes | str, *, stage: str | None = None, **ids):
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        batch_id = ids.pop("batch_id", None)
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            reason = first.get("ctx", {}).get("error", "")
            raise InvalidResponseError(
                batch_id,
                f"response is not valid JSON: {reason} ({_describe_body(body)})",
                stage=stage,
                **ids,
            ) from None
        if first["loc"] == () and first["type"] == "model_type":
            raise InvalidResponseError(
                batch_id, "response is JSON but not an object", stage=stage, **ids
            ) from None
        field, message = _describe_validation_error(exc)
        raise InvalidPayloadError(batch_id, message, field=field, stage=stage, **ids) from None


def _describe_validation_error(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for error in errors[:_ERRORS_SHOWN]:
        where = _field_path(error["loc"])
        if error["type"] == "value_error" and where == "<body>":
            parts.append(error["msg"].removeprefix("Value error, "))
        else:
            parts.append(f"field '{where}': {error['msg']}")
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


def _one_line(error: Exception) -> str:
    """A parser's message on one line: ijson's span several, with the text around the fault."""
    return " ".join(str(error).split())


__all__ = [
    "Batch",
    "Dataset",
    "DatasetDetails",
    "DatasetImport",
    "Listing",
    "ResponseBlock",
    "ResponseListing",
    "TaskDetails",
    "TaskResponse",
    "Workspace",
    "WorkspaceList",
    "parse_batch",
    "parse_dataset",
    "parse_workspaces",
]
