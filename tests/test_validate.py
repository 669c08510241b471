"""Validating GET-batch bodies against the spec."""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import datetime, timezone

import pytest

from etl.errors import InvalidPayloadError, InvalidResponseError
from etl.imitation.server import iter_sample_responses, sample_batches
from etl.source.validate import ResponseListing, parse_batch


@pytest.fixture
def payload() -> dict:
    return sample_batches(3, seed=1, datasets=2)[1]


def body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def invalid_field(payload: dict, batch_id: str = "0b7c1f36-9d2a-4e5b-8c61-3f0e2d4a5b6c") -> str:
    with pytest.raises(InvalidPayloadError) as caught:
        parse_batch(payload.get("id", batch_id), body(payload))
    return caught.value.field


def test_a_spec_shaped_payload_is_accepted_as_sent(payload):
    batch = parse_batch(payload["id"], body(payload))
    assert batch.name == payload["name"]
    assert batch.task_details.task_introduction == payload["task_details"]["task_introduction"]
    assert [str(d.id) for d in batch.datasets] == [d["id"] for d in payload["datasets"]]


def test_fields_the_spec_does_not_list_are_ignored(payload):
    payload["brand_new_field"] = {"nested": [1, 2]}
    payload["task_details"]["also_new"] = True
    assert parse_batch(payload["id"], body(payload)).name == payload["name"]


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "created_at",
        "created_by",
        "datasets",
        "name",
        "status",
        "total_task_count",
        "total_instruction_count",
        "workspace_id",
        "schema_version",
        "task_details",
        "total_task_groups",
    ],
)
def test_every_required_field_is_required(payload, field):
    del payload[field]
    assert invalid_field(payload) == field


@pytest.mark.parametrize("field", ["task_name", "task_introduction", "task_steps"])
def test_task_details_fields_are_required(payload, field):
    del payload["task_details"][field]
    assert invalid_field(payload) == f"task_details.{field}"


@pytest.mark.parametrize(
    "field, value",
    [
        ("status", ""),
        ("status", "S" * 65),
        ("status", 3),
        ("total_task_count", "5"),
        ("total_task_count", 5.0),
        ("total_task_count", True),
        ("total_task_count", -1),
        ("schema_version", None),
        ("name", 42),
        ("created_at", "yesterday"),
        ("created_at", 1700000000),
        ("datasets", {}),
        ("task_details", "html"),
        ("workspace_id", "w" * 256),
        ("name", "nul\x00byte"),
    ],
)
def test_wrong_types_and_values_name_the_field(payload, field, value):
    payload[field] = value
    assert invalid_field(payload) == field


def test_dataset_errors_name_the_dataset_by_position(payload):
    payload["datasets"] = payload["datasets"] + [
        {"id": "nope", "filename": "f", "total_datapoint_count": 1}
    ]
    position = len(payload["datasets"]) - 1
    assert invalid_field(payload) == f"datasets[{position}].id"


def test_a_dataset_listed_twice_with_different_values_is_refused(payload):
    twin = copy.deepcopy(payload["datasets"][0])
    twin["total_datapoint_count"] += 1
    payload["datasets"].append(twin)
    assert invalid_field(payload) == "datasets"


def test_a_dataset_listed_twice_identically_is_kept_once(payload):
    payload["datasets"].append(copy.deepcopy(payload["datasets"][0]))
    batch = parse_batch(payload["id"], body(payload))
    assert len(batch.datasets) == len(payload["datasets"]) - 1


def test_timestamps_become_utc(payload):
    payload["created_at"] = "2025-03-01T12:00:00.5+02:00"
    created = parse_batch(payload["id"], body(payload)).created_at
    assert created == datetime(2025, 3, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)
    payload["created_at"] = "2025-03-01T12:00:00"
    assert parse_batch(payload["id"], body(payload)).created_at.tzinfo == timezone.utc


@pytest.mark.parametrize(
    "created_at",
    [
        "0001-01-01T00:30:00+01:00",
        "0001-01-01T00:00:00.000001+00:01",
        "0001-01-01T13:59:59+14:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:00:00-14:00",
    ],
)
def test_timestamps_outside_the_utc_range_are_refused(payload, created_at):
    payload["created_at"] = created_at
    with pytest.raises(InvalidPayloadError, match="representable UTC timestamps") as caught:
        parse_batch(payload["id"], body(payload))
    assert caught.value.field == "created_at"


@pytest.mark.parametrize(
    "created_at, expected",
    [
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=timezone.utc)),
        ("0001-01-01T00:00:00", datetime(1, 1, 1, tzinfo=timezone.utc)),
        ("0001-01-01T01:00:00+01:00", datetime(1, 1, 1, tzinfo=timezone.utc)),
        ("0001-01-01T00:00:00-14:00", datetime(1, 1, 1, 14, tzinfo=timezone.utc)),
        ("9999-12-31T23:59:59.999999", datetime.max.replace(tzinfo=timezone.utc)),
        ("9999-12-31T22:59:59.999999-01:00", datetime.max.replace(tzinfo=timezone.utc)),
        ("9999-12-31T23:59:59+14:00", datetime(9999, 12, 31, 9, 59, 59, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_at_the_edges_of_the_utc_range_are_kept(payload, created_at, expected):
    payload["created_at"] = created_at
    assert parse_batch(payload["id"], body(payload)).created_at == expected


def test_a_payload_for_another_batch_is_refused(payload):
    other = sample_batches(1, seed=99)[0]["id"]
    with pytest.raises(InvalidPayloadError, match="describes batch") as caught:
        parse_batch(other, body(payload))
    assert caught.value.field == "id"


def test_the_message_names_field_and_problem(payload):
    payload["total_task_count"] = "many"
    with pytest.raises(InvalidPayloadError) as caught:
        parse_batch(payload["id"], body(payload))
    message = f"batch {payload['id']}: field 'total_task_count': Input should be"
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("status", ["FINISHED", "ready", "ARCHIVED_BY_ADMIN"])
def test_a_status_the_spec_does_not_list_is_kept_as_sent(payload, status):
    # The API's notes: treat every status as open text, so a new one never fails the load.
    payload["status"] = status
    assert parse_batch(payload["id"], body(payload)).status == status


def test_fields_the_spec_does_not_list_are_kept_and_documented_optional_ones_read(payload):
    payload["batch_items"] = [{"id": "p1", "rows": [{"id": "r1", "columns": []}]}]
    payload["auto_sync_enabled"] = True
    payload["shiny_new_field"] = {"nested": [1, 2.5, "x", None, False]}
    batch = parse_batch(payload["id"], body(payload))
    assert batch.batch_items == payload["batch_items"]
    assert batch.auto_sync_enabled is True
    assert batch.unknown_fields == {"shiny_new_field": {"nested": [1, 2.5, "x", None, False]}}


def test_a_nul_inside_a_kept_json_field_names_where(payload):
    payload["extra"] = {"a": ["ok", "bad\x00"]}
    with pytest.raises(InvalidPayloadError, match=r"field 'extra.a\[1\]' contains a NUL"):
        parse_batch(payload["id"], body(payload))


@pytest.mark.parametrize(
    "raw, description",
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "an HTML page"),
        (b'{"id": "0b7c1f36-9d2a', "not valid JSON: .* [(]21 bytes of text[)]"),
        (b"", "empty body"),
        (b"  \r\n", "empty body"),
        (b"[1, 2, 3]", "not an object"),
        (b"\xff\xfe\xfa", "not valid JSON: .* [(]3 bytes, not UTF-8[)]"),
        ("Bad gateway \u00e9", "[(]13 characters of text[)]"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_invalid_responses(raw, description):
    with pytest.raises(InvalidResponseError, match=description):
        parse_batch("0b7c1f36-9d2a-4e5b-8c61-3f0e2d4a5b6c", raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"Authorization: Token test-token-5f2c9a81d4e6b7 rejected by proxy",
        b"\xffAuthorization: Token test-token-5f2c9a81d4e6b7",
        "Authorization: Token test-token-5f2c9a81d4e6b7 \u00e9",
        b'{"echo": "Token test-token-5f2c9a81d4e6b7", ',
    ],
)
def test_the_message_about_a_non_json_body_does_not_quote_it(raw):
    with pytest.raises(InvalidResponseError, match="not valid JSON") as caught:
        parse_batch("0b7c1f36-9d2a-4e5b-8c61-3f0e2d4a5b6c", raw)
    assert "5f2c9a81" not in str(caught.value)
    assert "Token" not in str(caught.value)


def _read_responses(records: list[dict]) -> list:
    batch_id = records[0]["batch_id"]
    body = json.dumps({"results": records, "meta": {"count": len(records)}}).encode()
    return list(ResponseListing(io.BytesIO(body), batch_id=batch_id).items())


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda r: r.update(metadata={"note": "bad\x00"}), r"metadata.note"),
        (lambda r: r.update(metadata={"k\x00": 1}), r"metadata"),
        (
            lambda r: r["response"].update(answer=[{"value": "ok"}, {"value": "a\x00"}]),
            r"answer\[1\]",
        ),
        (lambda r: r["response"].update(answer=[{"x": ["\x00"]}]), r"answer\[0\].x\[0\]"),
    ],
)
def test_a_nul_anywhere_in_a_response_fails_it_naming_where(change, where):
    # The reader skips the walk through every value when the record's text has no NUL.
    records = list(iter_sample_responses("0b7c1f36-9d2a-4e5b-8c61-3f0e2d4a5b6c", 3, seed=2))
    change(records[1])

    first, failed, last = _read_responses(records)

    assert str(first.id) == records[0]["id"] and str(last.id) == records[2]["id"]
    assert isinstance(failed, InvalidPayloadError)
    assert failed.response_id == records[1]["id"]
    assert re.search(rf"field 'response\.{where}|field '{where}", failed.message), failed.message
    assert "contains a NUL character" in failed.message


def test_a_backslash_before_u0000_in_a_text_is_no_nul():
    records = list(iter_sample_responses("0b7c1f36-9d2a-4e5b-8c61-3f0e2d4a5b6c", 1, seed=2))
    records[0]["metadata"] = {"path": "C:\\u0000"}  # a backslash, then the letters u0000

    (response,) = _read_responses(records)

    assert response.metadata == {"path": "C:\\u0000"}
