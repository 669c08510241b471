"""Property-based: payloads generated from the spec, then mutated.

For any payload, validation and flattening either load it exactly or record a failure: never an
unhandled exception, never a partial batch.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete

from etl.errors import ItemError
from etl.source.flatten import flatten_batch
from etl.source.validate import parse_batch
from etl.store.load import load_chunk
from etl.store.migrate import ensure_schema
from etl.store.schema import TABLES, etl_runs

from support import content_of, expected_batch_row, expected_links, read_table

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "spec" / "get-batch.openapi.yaml"
SHARED_SPEC = REPO.parent / "shared" / "prolific-api" / "get-batch.openapi.yaml"


def load_schema() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    components = spec["components"]["schemas"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(components[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(components["AITaskBuilderBatch"])


TRICKY_TEXT = st.sampled_from(
    [
        "",
        "é",
        "😀🚀",
        'O\'Brien "q"',
        "'); DROP TABLE batches;--",
        "%s %(x)s \\",
        "\x00",
        "\ud800",
        "<p>" * 3000,
        " lead",
        "日本語",
        "\u202e",
        "\r\n",
    ]
)
TEXT = st.one_of(st.text(max_size=40), TRICKY_TEXT)
# Offsets from -14:00 to +14:00 in whole minutes (RFC 3339 has no seconds in an offset), UTC
# written as +00:00 or Z, and no offset at all (taken as UTC). Besides ordinary times, the
# first and last days datetime can hold, where an offset can push the UTC time out of range:
# such a timestamp must be refused, and every other one kept exactly.
FIXED_OFFSETS = st.integers(-14 * 60, 14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
OFFSETS = st.one_of(st.none(), st.just(timezone.utc), FIXED_OFFSETS)
NEAR_THE_EDGES = st.tuples(
    st.one_of(
        st.timedeltas(timedelta(0), timedelta(hours=15)).map(lambda delta: datetime.min + delta),
        st.timedeltas(timedelta(0), timedelta(hours=15)).map(lambda delta: datetime.max - delta),
    ),
    st.one_of(FIXED_OFFSETS, OFFSETS),
).map(lambda drawn: drawn[0].replace(tzinfo=drawn[1]))
MOMENTS = st.one_of(
    st.datetimes(datetime(1970, 1, 2), datetime(2200, 1, 1), timezones=OFFSETS),
    st.datetimes(timezones=OFFSETS),
    NEAR_THE_EDGES,
)
TIMESTAMPS = st.tuples(MOMENTS, st.booleans()).map(
    lambda drawn: drawn[0].isoformat().replace("+00:00", "Z" if drawn[1] else "+00:00")
)
# The spec's integers have no bounds. Half of the payloads have ordinary counts only, so that
# most of them load; the other half also have the edges of our columns and values past them,
# negatives and beyond 2**63, which must be refused (counts are 0..2**63-1, schema_version
# 32-bit) rather than crash or load.
INT64_MAX = 2**63 - 1
ORDINARY_INTEGERS = st.integers(0, 2**31 - 1)
ANY_INTEGERS = st.one_of(
    ORDINARY_INTEGERS,
    st.sampled_from(
        [0, 2**31 - 1, INT64_MAX, -1, -(2**31) - 1, 2**31, INT64_MAX + 1, 2**64, -(2**63) - 1]
    ),
    st.integers(-(2**80), 2**80),
)

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)


def from_schema(
    schema: dict[str, Any], integers: st.SearchStrategy = ANY_INTEGERS
) -> st.SearchStrategy:
    """A strategy for documents valid against the (resolved) spec schema."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = {
            name: from_schema(sub, integers) for name, sub in schema["properties"].items()
        }
        return st.fixed_dictionaries(properties)
    if kind == "array":
        return st.lists(from_schema(schema["items"], integers), max_size=4)
    if kind == "integer":
        return integers
    if kind == "string":
        if schema.get("format") == "uuid":
            return st.uuids().map(str)
        if schema.get("format") == "date-time":
            return TIMESTAMPS
        return TEXT
    raise AssertionError(f"the spec uses a type this generator does not know: {schema}")


SCHEMA = load_schema()
VALID = st.one_of(from_schema(SCHEMA, ORDINARY_INTEGERS), from_schema(SCHEMA, ANY_INTEGERS))


def paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw) -> dict[str, Any]:
    """A spec-valid payload with zero to three mutations: deletions, replacements, additions."""
    document = draw(VALID)
    for _ in range(draw(st.integers(0, 3))):
        where = paths(document)
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(ANY_JSON)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(ANY_JSON)
    return document


# The spec allows strings no database here can hold (U+0000, lone surrogates) and IDs longer
# than our columns; a payload may be refused for those.
TEXT_REFUSALS = ("NUL", "at most 255", "hex escape")


def out_of_range(payload: dict[str, Any]) -> list[str]:
    """What a well-formed payload must be refused for, as the message words it (none: [])."""
    reasons = []
    counts = [payload[name] for name in ("total_task_count", "total_instruction_count")]
    counts += [payload["total_task_groups"]]
    counts += [dataset["total_datapoint_count"] for dataset in payload["datasets"]]
    if any(count < 0 for count in counts):
        reasons.append("greater than or equal to 0")
    if any(count > INT64_MAX for count in counts):
        reasons.append(f"less than or equal to {INT64_MAX}")
    if payload["schema_version"] < -(2**31):
        reasons.append(f"greater than or equal to {-(2**31)}")
    if payload["schema_version"] > 2**31 - 1:
        reasons.append(f"less than or equal to {2**31 - 1}")
    created_at = datetime.fromisoformat(payload["created_at"].replace("Z", "+00:00"))
    if created_at.tzinfo is not None:
        try:
            created_at.astimezone(timezone.utc)
        except OverflowError:
            reasons.append("representable UTC timestamps")
    return reasons


def expected_row(payload: dict[str, Any]) -> dict[str, Any]:
    """``expected_batch_row``, reading a timestamp without an offset as UTC, as the loader does.

    (``support.parse_time`` reads it as the machine's local time, which is UTC here but cannot
    convert 0001-01-01 at all.)
    """
    created_at = payload["created_at"]
    if datetime.fromisoformat(created_at.replace("Z", "+00:00")).tzinfo is None:
        payload = {**payload, "created_at": created_at + "+00:00"}
    return expected_batch_row(payload)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'prop.db'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


def reset(engine) -> None:
    with engine.begin() as connection:
        for table in reversed(TABLES):
            connection.execute(delete(table))
        connection.execute(
            etl_runs.insert().values(
                run_id=1,
                started_at=datetime.now(timezone.utc),
                status="running",
                ids_read=1,
                tool_version="test",
            )
        )


def test_the_spec_copy_is_the_shared_spec():
    if not SHARED_SPEC.exists():
        pytest.skip("no ../shared beside this checkout")
    assert SPEC.read_bytes() == SHARED_SPEC.read_bytes()


def test_every_field_of_the_spec_has_a_column():
    from etl.store.schema import batches, datasets

    properties = SCHEMA["properties"]
    scalars = {
        name for name, sub in properties.items() if sub.get("type") not in ("object", "array")
    }
    assert scalars - {"id"} <= set(batches.columns.keys())
    assert set(properties["task_details"]["properties"]) <= set(batches.columns.keys())
    dataset_fields = set(properties["datasets"]["items"]["properties"]) - {"id"}
    assert dataset_fields <= set(datasets.columns.keys())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=VALID)
def test_every_spec_valid_payload_loads_exactly(engine, payload):
    reset(engine)
    batch_id = payload["id"]
    refusals = out_of_range(payload)
    try:
        rows = flatten_batch(parse_batch(batch_id, json.dumps(payload)))
    except ItemError as error:
        # Such a payload must fail with its reason, never load half.
        assert any(reason in error.message for reason in (*TEXT_REFUSALS, *refusals))
        return
    assert not refusals, f"loaded although {refusals}"
    outcome = load_chunk(engine, [rows], run_id=1, now=datetime.now(timezone.utc))
    assert outcome.inserted == [batch_id] and not outcome.failed
    url = str(engine.url)
    assert [content_of(row) for row in read_table(url, "batches")] == [expected_row(payload)]
    assert read_table(url, "batch_datasets") == expected_links([payload])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mutated(), body_id=st.uuids().map(str))
def test_any_payload_loads_exactly_or_fails_whole(engine, payload, body_id):
    reset(engine)
    batch_id = payload.get("id") if isinstance(payload.get("id"), str) else body_id
    try:
        batch_id = str(uuid.UUID(batch_id))
    except ValueError:
        batch_id = body_id
    url = str(engine.url)
    try:
        rows = flatten_batch(parse_batch(batch_id, json.dumps(payload)))
    except ItemError as error:
        assert error.batch_id == batch_id and error.message
        return
    outcome = load_chunk(engine, [rows], run_id=1, now=datetime.now(timezone.utc))
    stored = read_table(url, "batches")
    if outcome.failed:
        assert stored == [] and read_table(url, "batch_datasets") == []
    else:
        assert not out_of_range(payload)
        assert [content_of(row) for row in stored] == [expected_row(payload)]
        assert read_table(url, "batch_datasets") == expected_links([payload])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(payload=VALID)
def test_spec_valid_payloads_load_exactly_on_every_database(database_url, payload):
    engine = create_engine(database_url)
    try:
        ensure_schema(engine)
        reset(engine)
        try:
            rows = flatten_batch(parse_batch(payload["id"], json.dumps(payload)))
        except ItemError:
            return  # covered by the SQLite property above
        outcome = load_chunk(engine, [rows], run_id=1, now=datetime.now(timezone.utc))
    finally:
        engine.dispose()
    assert not outcome.failed, outcome.failed
    stored = read_table(database_url, "batches")
    assert [content_of(row) for row in stored] == [expected_row(payload)]
    assert read_table(database_url, "batch_datasets") == expected_links([payload])
