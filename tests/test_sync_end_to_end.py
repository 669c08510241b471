"""``prolific-etl sync`` through the CLI, against the local API, into every database."""

from __future__ import annotations

import copy
import uuid

import pytest

from etl.imitation.server import sample_dataset

from support import (
    content_of,
    expected_batch_row,
    expected_datasets,
    expected_links,
    read_table,
)


@pytest.fixture(
    params=[
        ("--concurrency", "1"),
        ("--concurrency", "8"),
        ("--concurrency", "4", "--max-rps", "400"),
    ],
    ids=["serial", "concurrent", "paced"],
)
def concurrency(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The options of each way to fetch; the batches loaded must not depend on them."""
    return request.param


def test_sync_loads_every_field_of_every_batch(
    database_url, run_sync, ids_file, batches, concurrency
):
    result = run_sync(database_url, ids_file, *concurrency)

    assert result.exit_code == 0, result.output
    rows = read_table(database_url, "batches")
    expected = sorted((expected_batch_row(p) for p in batches), key=lambda r: r["batch_id"])
    assert [content_of(row) for row in rows] == expected
    assert [
        {
            "dataset_id": r["dataset_id"],
            "filename": r["filename"],
            "total_datapoint_count": r["total_datapoint_count"],
        }
        for r in read_table(database_url, "datasets")
    ] == expected_datasets(batches)
    assert read_table(database_url, "batch_datasets") == expected_links(batches)
    assert all(row["first_seen_run_id"] == row["last_changed_run_id"] == 1 for row in rows)
    assert all(row["created_at"].utcoffset().total_seconds() == 0 for row in rows)
    assert "12 inserted" in result.stdout


def test_sample_data_is_awkward_enough(batches):
    # The imitation must exercise what breaks naive loaders; guard the fixture itself.
    names = " ".join(b["name"] for b in batches)
    assert any(ord(ch) > 0xFFFF for ch in names), "no emoji (4-byte UTF-8) in names"
    assert "'" in names and '"' in names and ";" in names
    assert any(len(b["task_details"]["task_introduction"]) > 65_536 for b in batches)
    assert any(not b["datasets"] for b in batches) and any(len(b["datasets"]) > 1 for b in batches)
    links = [d["id"] for b in batches for d in b["datasets"]]
    assert len(links) > len(set(links)), "no dataset shared between batches"


def test_rerun_changes_nothing_but_last_seen(database_url, run_sync, ids_file, concurrency):
    run_sync(database_url, ids_file, *concurrency)
    tables = ("batches", "datasets", "batch_datasets")
    before = {name: read_table(database_url, name) for name in tables}
    seen_before = read_table(database_url, "batch_last_seen")

    result = run_sync(database_url, ids_file, *concurrency)

    assert result.exit_code == 0, result.output
    assert {name: read_table(database_url, name) for name in tables} == before
    seen_after = read_table(database_url, "batch_last_seen")
    assert [row["batch_id"] for row in seen_after] == [row["batch_id"] for row in before["batches"]]
    for old, new in zip(seen_before, seen_after, strict=True):
        assert (old["last_seen_run_id"], new["last_seen_run_id"]) == (1, 2)
        assert new["last_seen_at"] > old["last_seen_at"]
    runs = read_table(database_url, "etl_runs")
    assert [
        (
            r["run_id"],
            r["status"],
            r["ids_read"],
            r["fetched"],
            r["inserted"],
            r["updated"],
            r["unchanged"],
            r["failed"],
        )
        for r in runs
    ] == [
        (1, "succeeded", 12, 12, 12, 0, 0, 0),
        (2, "succeeded", 12, 12, 0, 0, 12, 0),
    ]


def test_upstream_changes_are_reflected_exactly(
    database_url, run_sync, ids_file, api, batches, concurrency
):
    run_sync(database_url, ids_file, *concurrency)
    before = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    changed = copy.deepcopy(batches)
    with_datasets = [b for b in changed if len(b["datasets"]) >= 2]
    changed[0]["status"] = "ERROR" if changed[0]["status"] != "ERROR" else "READY"
    changed[1]["total_task_count"] += 7
    changed[2]["name"] = "Renamed ✓ 'again'"
    removed = with_datasets[0]["datasets"].pop(0)
    new_dataset = sample_dataset(__import__("random").Random(5), 99)
    changed[3]["datasets"].append(new_dataset)
    touched = {changed[i]["id"] for i in range(4)} | {with_datasets[0]["id"]}
    for payload in changed:
        api.put_batch(payload)

    result = run_sync(database_url, ids_file, *concurrency)

    assert result.exit_code == 0, result.output
    after = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    assert [content_of(after[p["id"]]) for p in changed] == [expected_batch_row(p) for p in changed]
    for batch_id, row in after.items():
        if batch_id in touched:
            assert row["last_changed_run_id"] == 2 and row["first_seen_run_id"] == 1
            assert row["content_hash"] != before[batch_id]["content_hash"]
        else:
            assert row == before[batch_id]
    links = read_table(database_url, "batch_datasets")
    assert links == expected_links(changed)
    assert {"batch_id": with_datasets[0]["id"], "dataset_id": removed["id"]} not in links
    assert {"batch_id": changed[3]["id"], "dataset_id": new_dataset["id"]} in links
    runs = read_table(database_url, "etl_runs")
    assert [(r["inserted"], r["updated"], r["unchanged"]) for r in runs] == [
        (12, 0, 0),
        (0, len(touched), 12 - len(touched)),
    ]


def test_failures_are_recorded_and_the_rest_loads(
    database_url, run_sync, tmp_path, api, batches, concurrency
):
    unknown = str(uuid.uuid4())
    invalid = copy.deepcopy(batches[5])
    invalid["total_task_count"] = "many"
    api.put_batch(invalid)
    ids = tmp_path / "ids.txt"
    lines = [b["id"] for b in batches] + ["../studies/x", unknown, "abc?x=1"]
    ids.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_sync(database_url, ids, *concurrency)

    assert result.exit_code == 1, result.output
    loaded = {row["batch_id"] for row in read_table(database_url, "batches")}
    assert loaded == {b["id"] for b in batches} - {invalid["id"]}
    failures = [
        {
            k: f[k]
            for k in (
                "run_id",
                "batch_id",
                "input_line",
                "line_number",
                "stage",
                "http_status",
                "error_kind",
                "field",
            )
        }
        for f in read_table(database_url, "etl_failures")
    ]
    assert failures == [  # in the order they happened: the ID file first, then the batches
        {
            "run_id": 1,
            "batch_id": None,
            "input_line": "../studies/x",
            "line_number": 13,
            "stage": "input",
            "http_status": None,
            "error_kind": "bad_id_line",
            "field": None,
        },
        {
            "run_id": 1,
            "batch_id": None,
            "input_line": "abc?x=1",
            "line_number": 15,
            "stage": "input",
            "http_status": None,
            "error_kind": "bad_id_line",
            "field": None,
        },
        {
            "run_id": 1,
            "batch_id": invalid["id"],
            "input_line": None,
            "line_number": None,
            "stage": "validate",
            "http_status": None,
            "error_kind": "invalid_payload",
            "field": "total_task_count",
        },
        {
            "run_id": 1,
            "batch_id": unknown,
            "input_line": None,
            "line_number": None,
            "stage": "fetch",
            "http_status": 404,
            "error_kind": "not_found",
            "field": None,
        },
    ]
    assert f"{ids}:13: not a batch ID (UUID): '../studies/x'" in result.stderr
    assert f"batch {unknown}: fetch failed (not_found): HTTP 404" in result.stderr
    message = f"batch {invalid['id']}: validate failed (invalid_payload): field 'total_task_count'"
    assert message in (result.stderr)
    assert not [r for r in api.requests if r.batch_id and "/" in r.batch_id or "?" in r.path]
    run = read_table(database_url, "etl_runs")[0]
    assert (run["status"], run["ids_read"], run["fetched"], run["inserted"], run["failed"]) == (
        "partial",
        13,
        12,
        11,
        4,
    )


def test_wrong_token_stops_the_run_and_writes_only_the_run_row(
    database_url, run_sync, ids_file, api, concurrency
):
    result = run_sync(database_url, ids_file, *concurrency, token="wrong-token")

    assert result.exit_code == 3
    assert "rejected the token" in result.stderr
    assert result.stdout.startswith("run 1 failed: 12 ids, 0 fetched, 0 inserted")
    assert "wrong-token" not in result.output
    assert read_table(database_url, "batches") == []
    assert read_table(database_url, "etl_failures") == []
    runs = read_table(database_url, "etl_runs")
    assert [(r["status"], r["inserted"]) for r in runs] == [("failed", 0)]
    assert "rejected the token" in runs[0]["error_message"]
    assert len(api.requests) <= int(concurrency[1])
