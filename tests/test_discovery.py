"""Finding the batches by itself: workspaces, their batch listings, and the datasets' details."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy import text as sa_text

from etl.cli import main
from etl.imitation.server import (
    FakeProlificAPI,
    Fault,
    dataset_key,
    listing_key,
    sample_batch,
    sample_dataset,
)

from conftest import TOKEN
from support import (
    content_of,
    expected_batch_row,
    expected_links,
    failure_rows,
    parse_time,
    read_table,
)

WORKSPACES = ("6a1f0c2b9d8e7f6a5b4c3d2e", "ws-annotation-lab", "7b2e1d3c4a5f6e7d8c9b0a1f")


def listed_batches(count: int, *, seed: int = 3, datasets: int = 40) -> list[dict]:
    """``count`` batches spread over WORKSPACES, sharing a pool of datasets; small HTML."""
    rng = random.Random(seed)
    pool = [sample_dataset(rng, i) for i in range(datasets)]
    batches = []
    for index in range(count):
        batch = sample_batch(rng, index, dataset_pool=pool, html_repeats=(1, 2))
        batch["workspace_id"] = WORKSPACES[index % len(WORKSPACES)]
        batches.append(batch)
    return batches


def sync(api: FakeProlificAPI, database_url: str, *args: str):
    env = {"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": api.url, "DATABASE_URL": database_url}
    return CliRunner().invoke(main, ["sync", *args], env=env)


def expected_workspaces(api: FakeProlificAPI) -> list[dict]:
    return sorted(
        (
            {
                "workspace_id": w["id"],
                "title": w["title"],
                "description": w.get("description"),
                "owner": w.get("owner"),
            }
            for w in api.workspaces()
        ),
        key=lambda row: row["workspace_id"],
    )


def expected_dataset_rows(api: FakeProlificAPI, batches: list[dict]) -> list[dict]:
    """The datasets table as the batches' references and each dataset's details make it."""
    refs = {ref["id"]: ref for batch in batches for ref in batch["datasets"]}
    rows = []
    for dataset_id in sorted(refs):
        details = api.dataset(dataset_id)
        rows.append(
            {
                "dataset_id": dataset_id,
                "filename": refs[dataset_id]["filename"],
                "total_datapoint_count": refs[dataset_id]["total_datapoint_count"],
                "name": details["name"],
                "created_at": parse_time(details["created_at"]),
                "created_by": details["created_by"],
                "workspace_id": details["workspace_id"],
                "schema_version": str(details["schema_version"]),
                "status": details.get("status"),
                "has_predetermined_grouping_id": details.get("has_predetermined_grouping_id"),
                "field_schema": details.get("schema"),
            }
        )
    return rows


def expected_imports(api: FakeProlificAPI, batches: list[dict]) -> list[dict]:
    jobs = []
    for dataset_id in {ref["id"] for batch in batches for ref in batch["datasets"]}:
        for job in api.dataset(dataset_id).get("imports") or ():
            jobs.append(
                {
                    "import_id": job["import_id"],
                    "dataset_id": dataset_id,
                    "type": job["type"],
                    "filename": job.get("filename"),
                    "status": job["status"],
                    "accepted_count": job.get("accepted_count"),
                    "rejected_count": job.get("rejected_count"),
                    "created_at": parse_time(job["created_at"]),
                    "updated_at": parse_time(job["updated_at"]),
                    "reason": job.get("reason"),
                }
            )
    return sorted(jobs, key=lambda job: job["import_id"])


DETAIL_COLUMNS = (
    "dataset_id",
    "filename",
    "total_datapoint_count",
    "name",
    "created_at",
    "created_by",
    "workspace_id",
    "schema_version",
    "status",
    "has_predetermined_grouping_id",
    "field_schema",
)


def stored_datasets(database_url: str) -> list[dict]:
    return [
        {column: row[column] for column in DETAIL_COLUMNS}
        for row in read_table(database_url, "datasets")
    ]


def test_all_workspaces_loads_every_batch_with_one_request_per_listing(database_url):
    batches = listed_batches(2000)
    distinct_datasets = {ref["id"] for batch in batches for ref in batch["datasets"]}
    with FakeProlificAPI(batches, token=TOKEN) as api:
        result = sync(api, database_url, "--all-workspaces")

        assert result.exit_code == 0, result.output
        # 1 for the workspaces, 1 per workspace's listing, 1 per distinct dataset's details;
        # not one per batch.
        assert len(api.requests) <= 1 + 3 + len(distinct_datasets)
        assert len(api.requests_of("workspaces")) == 1
        assert sorted(r.key for r in api.requests_of("listing")) == sorted(
            listing_key(w) for w in WORKSPACES
        )
        assert api.requests_of("batch") == []
        stored = read_table(database_url, "batches")
        assert [content_of(row) for row in stored] == [
            expected_batch_row(b) for b in sorted(batches, key=lambda b: b["id"])
        ]
        assert {row["removed_upstream_at"] for row in stored} == {None}
        assert read_table(database_url, "batch_datasets") == expected_links(batches)
        assert stored_datasets(database_url) == expected_dataset_rows(api, batches)
        imports = read_table(database_url, "dataset_imports")
        assert imports == expected_imports(api, batches)
        assert imports, "the sample data should hold some version 4 import jobs"
        workspaces = [
            {k: v for k, v in row.items() if k in ("workspace_id", "title", "description", "owner")}
            for row in read_table(database_url, "workspaces")
        ]
        assert workspaces == expected_workspaces(api)
    seen = read_table(database_url, "batch_last_seen")
    assert {row["last_listed_run_id"] for row in seen} == {1}
    (run,) = read_table(database_url, "etl_runs")
    assert (run["ids_read"], run["listed"], run["fetched"], run["inserted"]) == (
        0,
        2000,
        2000,
        2000,
    )
    assert run["id_source"] == "all workspaces"


def in_flight(details: dict) -> bool:
    """Whether a dataset's details may still change by themselves (not settled)."""
    if details.get("imports"):
        return any(
            job["status"] not in ("complete", "partial", "failed", "pending_schema")
            for job in details["imports"]
        )
    return details.get("status") in ("UNINITIALISED", "PROCESSING")


def settle(details: dict) -> dict:
    """The same dataset once it has settled: READY, its import jobs complete."""
    if details.get("status") is not None:
        return {**details, "status": "READY"}
    jobs = [{**job, "status": "complete"} for job in details.get("imports") or ()]
    return {**details, "imports": jobs}


def settle_every_dataset(api: FakeProlificAPI, batches: list[dict]) -> None:
    for dataset_id in {ref["id"] for batch in batches for ref in batch["datasets"]}:
        api.put_dataset(settle(api.dataset(dataset_id)))


def test_a_second_run_without_changes_asks_no_dataset_and_rewrites_no_row(database_url):
    batches = listed_batches(90)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        settle_every_dataset(api, batches)
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        before = {
            name: read_table(database_url, name)
            for name in ("batches", "datasets", "workspaces", "dataset_imports", "batch_datasets")
        }
        first_requests = len(api.requests)

        again = sync(api, database_url, "--all-workspaces")

        assert again.exit_code == 0, again.output
        second = api.requests[first_requests:]
        assert [r.kind for r in second if r.kind == "dataset"] == []
        assert len(second) == 1 + 3
    for name, rows in before.items():
        assert read_table(database_url, name) == rows, name
    runs = read_table(database_url, "etl_runs")
    assert (runs[1]["unchanged"], runs[1]["inserted"], runs[1]["updated"]) == (90, 0, 0)


def test_a_batch_gone_from_its_listing_is_marked_removed_and_kept_until_it_returns(
    database_url,
):
    batches = listed_batches(30)
    gone = batches[4]
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        api.remove_batch(gone["id"])

        second = sync(api, database_url, "--all-workspaces")

        assert second.exit_code == 0, second.output
        assert f"1 batch(es) of workspace {gone['workspace_id']} are no longer" in second.stderr
        rows = {row["batch_id"]: row for row in read_table(database_url, "batches")}
        assert len(rows) == 30  # kept, not deleted
        run_2 = read_table(database_url, "etl_runs")[1]
        assert rows[gone["id"]]["removed_upstream_at"] is not None
        assert run_2["started_at"] <= rows[gone["id"]]["removed_upstream_at"]
        assert content_of(rows[gone["id"]]) == expected_batch_row(gone)
        assert [r for r in rows.values() if r["removed_upstream_at"] is not None] == [
            rows[gone["id"]]
        ]

        api.put_batch(gone)
        third = sync(api, database_url, "--all-workspaces")

        assert third.exit_code == 0, third.output
    rows = read_table(database_url, "batches")
    assert {row["removed_upstream_at"] for row in rows} == {None}


def test_an_id_file_only_run_never_marks_anything_removed(database_url, tmp_path):
    batches = listed_batches(12)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{b['id']}\n" for b in batches[1:]), encoding="utf-8")
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        api.remove_batch(batches[0]["id"])
        assert sync(api, database_url, "--ids", str(ids)).exit_code == 0
    assert {row["removed_upstream_at"] for row in read_table(database_url, "batches")} == {None}


def test_a_listed_batch_the_database_refuses_is_not_marked_removed(database_url):
    # Only batches that failed validation counted as listed; one refused at load was marked
    # removed upstream although the listing held it.
    batches = listed_batches(6)
    refused = batches[2]
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        refused["task_details"]["task_introduction"] = "x" * 2**24  # over MEDIUMTEXT
        api.put_batch(refused)

        result = sync(api, database_url, "--all-workspaces")

    assert result.exit_code == 1, result.output
    assert "no longer in its listing" not in result.stderr
    assert [(f["batch_id"], f["error_kind"]) for f in failure_rows(database_url)] == [
        (refused["id"], "load_error")
    ]
    assert {row["removed_upstream_at"] for row in read_table(database_url, "batches")} == {None}
    seen = {row["batch_id"]: row for row in read_table(database_url, "batch_last_seen")}
    assert seen[refused["id"]]["last_listed_run_id"] == 2


# NOTES.md: the listing's `results` and `meta` may be null. A workspace answering
# `results: null` was an invalid answer every night, and its removed batches never marked.
@pytest.mark.parametrize(
    ("count", "complete"), [(0, True), (None, True), (3, False)], ids=["0", "no count", "3"]
)
def test_a_listing_whose_results_are_null_lists_no_batch(database_url, count, complete):
    batches = listed_batches(12)
    workspace = WORKSPACES[1]
    emptied = {b["id"] for b in batches if b["workspace_id"] == workspace}
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        body = {"results": None, "meta": None if count is None else {"count": count}}
        api.inject(listing_key(workspace), Fault.raw_body(json.dumps(body)))

        result = sync(api, database_url, "--all-workspaces")

    marked = {
        row["batch_id"]
        for row in read_table(database_url, "batches")
        if row["removed_upstream_at"] is not None
    }
    failures = [(f["workspace_id"], f["error_kind"]) for f in failure_rows(database_url)]
    if complete:
        assert result.exit_code == 0, result.output
        assert (marked, failures) == (emptied, [])
    else:
        assert result.exit_code == 1, result.output
        assert (marked, failures) == (set(), [(workspace, "truncated_listing")])


def test_a_truncated_listing_is_a_failure_its_batches_load_and_nothing_is_marked_removed(
    database_url,
):
    batches = listed_batches(30)
    workspace = WORKSPACES[0]
    in_workspace = [b for b in batches if b["workspace_id"] == workspace]
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        api.remove_batch(in_workspace[0]["id"])  # as a cut-short listing would leave it out
        api.set_listing_count(workspace, len(in_workspace))

        result = sync(api, database_url, "--all-workspaces")

    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert failure == {
        "run_id": 2,
        "batch_id": None,
        "workspace_id": workspace,
        "dataset_id": None,
        "response_id": None,
        "input_line": None,
        "line_number": None,
        "stage": "listing",
        "http_status": None,
        "error_kind": "truncated_listing",
        "field": None,
        "message": f"the listing holds {len(in_workspace) - 1} batches but says there are "
        f"{len(in_workspace)}; it may be cut short: its batches were loaded, none was marked "
        "removed",
    }
    assert f"workspace {workspace}: listing failed (truncated_listing)" in result.stderr
    assert {row["removed_upstream_at"] for row in read_table(database_url, "batches")} == {None}
    runs = read_table(database_url, "etl_runs")
    assert (runs[1]["status"], runs[1]["unchanged"]) == ("partial", 29)


def test_an_unknown_top_level_field_is_kept_in_the_batch_json_column(database_url):
    batches = listed_batches(6)
    batches[2]["quality_review"] = {"mode": "double", "reviewers": [1, 2], "note": "ünï"}
    batches[2]["batch_items"] = [{"id": "p", "rows": []}]
    batches[2]["auto_sync_enabled"] = True
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--workspace", WORKSPACES[2]).exit_code == 0
    rows = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    kept = rows[batches[2]["id"]]
    assert kept["extra_fields"] == {
        key: value
        for key, value in batches[2].items()
        if key not in expected_batch_row(batches[2])
        and key not in ("id", "datasets")
        and key != "task_details"
    }
    assert kept["extra_fields"]["quality_review"] == batches[2]["quality_review"]
    assert kept["batch_items"] == [{"id": "p", "rows": []}]
    assert kept["auto_sync_enabled"] is True


def json_text(database_url: str, table: str, column: str, key: str, value: str) -> str:
    """A JSON column's value as the database hands back its text."""
    engine = create_engine(database_url)
    try:
        as_text = "CHAR" if engine.dialect.name == "mysql" else "TEXT"
        query = f"SELECT CAST({column} AS {as_text}) FROM {table} WHERE {key} = :value"
        with engine.connect() as connection:
            return connection.execute(sa_text(query), {"value": value}).scalar_one()
    finally:
        engine.dispose()


# Issue #23 item 2: 10**30 or 1e400 anywhere in a listing made the streamed parser call the
# whole listing "not valid JSON", and every batch after it was lost.
def test_numbers_beyond_64_bits_or_a_double_are_kept_and_fail_only_where_unstorable(
    database_url,
):
    batches = listed_batches(9)
    workspace = WORKSPACES[0]
    mine = [b for b in batches if b["workspace_id"] == workspace]
    huge, too_many = mine[0], mine[1]
    huge["lab_notes"] = {"big": "BIG_FLOAT", "wide": 10**30, "small": 1.5}
    too_many["total_task_count"] = 10**30
    with FakeProlificAPI(batches, token=TOKEN) as api:
        body = json.dumps(api.listing(workspace)).replace('"BIG_FLOAT"', "1e400")
        api.inject(listing_key(workspace), Fault.raw_body(body))

        result = sync(api, database_url, "--workspace", workspace)

    assert result.exit_code == 1, result.output
    assert [(f["batch_id"], f["error_kind"], f["field"]) for f in failure_rows(database_url)] == [
        (too_many["id"], "invalid_payload", "total_task_count")
    ]
    rows = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    assert set(rows) == {b["id"] for b in mine} - {too_many["id"]}
    stored = json_text(database_url, "batches", "extra_fields", "batch_id", huge["id"])
    notes = json.loads(stored, parse_float=Decimal, parse_int=Decimal)["lab_notes"]
    assert notes == {"big": Decimal("1e400"), "wide": Decimal(10**30), "small": Decimal("1.5")}


def test_the_id_file_and_the_listings_together_fetch_each_batch_once(database_url, tmp_path):
    batches = listed_batches(30)
    first = [b for b in batches if b["workspace_id"] == WORKSPACES[0]]
    others = [b for b in batches if b["workspace_id"] != WORKSPACES[0]]
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{b['id']}\n" for b in first[:3] + others[:4]), encoding="utf-8")
    with FakeProlificAPI(batches, token=TOKEN) as api:
        result = sync(api, database_url, "--ids", str(ids), "--workspace", WORKSPACES[0])

        assert result.exit_code == 0, result.output
        assert sorted(r.batch_id for r in api.requests_of("batch")) == sorted(
            b["id"] for b in others[:4]
        )
    loaded = {row["batch_id"] for row in read_table(database_url, "batches")}
    assert loaded == {b["id"] for b in first + others[:4]}
    (run,) = read_table(database_url, "etl_runs")
    assert (run["ids_read"], run["listed"], run["inserted"]) == (7, len(first) - 3, len(loaded))


def test_one_bad_batch_in_a_listing_fails_only_that_batch(database_url):
    batches = listed_batches(12)
    batches[3]["total_task_count"] = "many"
    workspace = batches[3]["workspace_id"]
    with FakeProlificAPI(batches, token=TOKEN) as api:
        result = sync(api, database_url, "--workspace", workspace)
    assert result.exit_code == 1, result.output
    failures = failure_rows(database_url)
    assert [(f["batch_id"], f["workspace_id"], f["stage"], f["field"]) for f in failures] == [
        (batches[3]["id"], workspace, "validate", "total_task_count")
    ]
    loaded = {row["batch_id"] for row in read_table(database_url, "batches")}
    assert loaded == {b["id"] for b in batches if b["workspace_id"] == workspace} - {
        batches[3]["id"]
    }


def listing_with(api: FakeProlificAPI, workspace: str, *extra: dict, first: bool = True) -> str:
    """The body of ``workspace``'s listing with ``extra`` items before (or after) its own."""
    listing = api.listing(workspace)
    own = listing["results"]
    results = [*extra, *own] if first else [*own, *extra]
    return json.dumps({"results": results, "meta": {"count": len(results)}})


# Issue #23 item 1: the invalid copy's id was taken as seen before it was validated, and B's
# valid copy, in its own workspace's listing, never loaded; not even when B was in --ids.
def test_an_invalid_copy_in_another_listing_does_not_keep_a_batch_from_loading(
    database_url, tmp_path
):
    batches = listed_batches(12)
    batch = next(b for b in batches if b["workspace_id"] == WORKSPACES[1])
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{batch['id']}\n", encoding="utf-8")
    with FakeProlificAPI(batches, token=TOKEN) as api:
        broken = {**batch, "workspace_id": WORKSPACES[0], "total_task_count": "many"}
        body = listing_with(api, WORKSPACES[0], broken)
        api.inject(listing_key(WORKSPACES[0]), Fault.raw_body(body), Fault.raw_body(body))
        workspaces = ("--workspace", WORKSPACES[0], "--workspace", WORKSPACES[1])

        first = sync(api, database_url, *workspaces)
        second = sync(api, database_url, *workspaces, "--ids", str(ids))

    assert (first.exit_code, second.exit_code) == (1, 1), first.output + second.output
    rows = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    assert content_of(rows[batch["id"]]) == expected_batch_row(batch)
    assert rows[batch["id"]]["removed_upstream_at"] is None
    assert [
        (f["run_id"], f["batch_id"], f["workspace_id"], f["field"])
        for f in failure_rows(database_url)
    ] == [(run, batch["id"], WORKSPACES[0], "total_task_count") for run in (1, 2)]
    assert set(rows) == {b["id"] for b in batches if b["workspace_id"] in WORKSPACES[:2]}


@pytest.mark.parametrize("invalid_first", [True, False], ids=["invalid first", "valid first"])
def test_a_batch_listed_twice_in_one_listing_loads_its_valid_copy(database_url, invalid_first):
    batches = listed_batches(9)
    workspace = WORKSPACES[2]
    batch = next(b for b in batches if b["workspace_id"] == workspace)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        broken = {**batch, "total_task_count": "many"}
        body = listing_with(api, workspace, broken, first=invalid_first)
        api.inject(listing_key(workspace), Fault.raw_body(body))

        result = sync(api, database_url, "--workspace", workspace)

    rows = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    assert content_of(rows[batch["id"]]) == expected_batch_row(batch)
    assert set(rows) == {b["id"] for b in batches if b["workspace_id"] == workspace}
    failures = [(f["batch_id"], f["field"]) for f in failure_rows(database_url)]
    # A copy after the one loaded adds nothing; one before it is the API's fault, recorded.
    assert failures == ([(batch["id"], "total_task_count")] if invalid_first else [])
    assert result.exit_code == (1 if invalid_first else 0), result.output


# A listing refused (403), or not JSON (an HTML page, a body cut short: these were read before
# any per-listing error handling and failed the whole run, exit 3), fails that workspace only.
@pytest.mark.parametrize(
    ("answer", "kind"),
    [("403", "not_found"), ("half", "invalid_response"), ("html", "invalid_response")],
)
def test_a_listing_that_cannot_be_read_fails_that_workspace_only(database_url, answer, kind):
    batches = listed_batches(12)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        whole = json.dumps(api.listing(WORKSPACES[1]))
        fault = {
            "403": Fault.http(403),
            "half": Fault.raw_body(whole[: len(whole) // 2]),
            "html": Fault.raw_body("<html><h1>Bad Gateway</h1>"),
        }[answer]
        api.inject(listing_key(WORKSPACES[1]), fault)
        result = sync(api, database_url, "--all-workspaces")
    assert result.exit_code == 1, result.output
    (failure,) = failure_rows(database_url)
    assert (failure["workspace_id"], failure["stage"], failure["error_kind"]) == (
        WORKSPACES[1],
        "listing",
        kind,
    )
    if kind == "invalid_response":
        assert "not valid JSON" in failure["message"]
        assert "\\n" not in failure["message"]  # the parser's own spans lines (stored escaped)
    loaded = {row["batch_id"] for row in read_table(database_url, "batches")}
    assert loaded == {b["id"] for b in batches if b["workspace_id"] != WORKSPACES[1]}
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["failed"]) == ("partial", 1)


def test_a_dataset_without_details_is_a_dataset_failure_and_its_batches_still_load(
    database_url,
):
    batches = listed_batches(12, datasets=5)
    missing = batches[0]["datasets"][0]["id"] if batches[0]["datasets"] else None
    assert missing is not None
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.inject(dataset_key(missing), Fault.http(404))
        first = sync(api, database_url, "--all-workspaces")
        assert first.exit_code == 1, first.output
        failures = failure_rows(database_url)
        assert [
            (f["dataset_id"], f["stage"], f["error_kind"], f["batch_id"]) for f in failures
        ] == [(missing, "dataset", "not_found", None)]
        assert f"dataset {missing}: dataset failed (not_found)" in first.stderr
        # Issue 23, item 10: a partial night whose batches all loaded says what failed.
        assert "12 inserted, 0 updated, 0 unchanged, 1 failed (1 dataset's details)," in (
            first.stdout
        )
        assert len(read_table(database_url, "batches")) == 12
        rows = {row["dataset_id"]: row for row in read_table(database_url, "datasets")}
        assert rows[missing]["details_synced_at"] is None and rows[missing]["name"] is None

        second = sync(api, database_url, "--all-workspaces")  # due again, and there now

        assert second.exit_code == 0, second.output
        assert [r.key for r in api.requests_of("dataset")].count(dataset_key(missing)) == 2
    assert stored_datasets(database_url) == expected_dataset_rows(api, batches)


def test_no_dataset_details_asks_for_none(database_url, ids_file, api):
    result = sync(api, database_url, "--ids", str(ids_file), "--no-dataset-details")
    assert result.exit_code == 0, result.output
    assert api.requests_of("dataset") == []
    assert {row["name"] for row in read_table(database_url, "datasets")} == {None}


def write_ids(tmp_path, batches: list[dict]) -> str:
    path = tmp_path / "ids.txt"
    path.write_text("".join(batch["id"] + "\n" for batch in batches), encoding="utf-8")
    return str(path)


def distinct_datasets(batches: list[dict]) -> list[str]:
    return sorted({ref["id"] for batch in batches for ref in batch["datasets"]})


# Issue 22: the details were a phase after the last batch, one transaction per dataset; with
# many batches the API sat idle while they were written, then waited on one dataset at a time.
def test_dataset_details_are_fetched_and_written_while_the_batches_still_arrive(
    database_url, tmp_path
):
    batches = listed_batches(40, datasets=30)
    chunks = 8  # --chunk-size 5
    with FakeProlificAPI(batches, token=TOKEN) as api:
        result = sync(
            api, database_url, "--ids", write_ids(tmp_path, batches), "--chunk-size", "5",
            "--concurrency", "2",
        )  # fmt: skip

        assert result.exit_code == 0, result.output
        served = [seen.kind for seen in sorted(api.requests, key=lambda seen: seen.at)]
        asked = sorted(seen.key for seen in api.requests_of("dataset"))
    last_batch = max(index for index, kind in enumerate(served) if kind == "batch")
    assert "dataset" in served[:last_batch], "no detail was asked for before the last batch"
    assert served.count("batch") == 40
    assert asked == [dataset_key(dataset_id) for dataset_id in distinct_datasets(batches)]
    assert [content_of(row) for row in read_table(database_url, "batches")] == [
        expected_batch_row(b) for b in sorted(batches, key=lambda b: b["id"])
    ]
    assert read_table(database_url, "batch_datasets") == expected_links(batches)
    assert stored_datasets(database_url) == expected_dataset_rows(api, batches)
    assert read_table(database_url, "dataset_imports") == expected_imports(api, batches)
    datasets = read_table(database_url, "datasets")
    assert {row["details_run_id"] for row in datasets} == {1}
    # Written between the chunks of batches, some before the last of them...
    last_batch_written = max(row["first_seen_at"] for row in read_table(database_url, "batches"))
    assert min(row["details_synced_at"] for row in datasets) < last_batch_written
    # ... a chunk of details per transaction (its stamp), not one per dataset: at most one
    # write per chunk of batches, and chunks of 5 while the rest arrives after the last one.
    stamps = {row["details_synced_at"] for row in datasets}
    assert len(stamps) <= chunks + len(datasets) // 5 + 1 < len(datasets)
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["fetched"], run["inserted"], run["failed"]) == (
        "succeeded", 40, 40, 0,
    )  # fmt: skip


def test_a_dataset_whose_details_fail_mid_run_is_its_own_failure_and_the_rest_loads(
    database_url, tmp_path
):
    batches = listed_batches(40, datasets=30)
    middle = next(ref["id"] for batch in batches[20:] for ref in batch["datasets"])
    invalid = next(
        dataset_id for dataset_id in distinct_datasets(batches[25:]) if dataset_id != middle
    )
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.inject(dataset_key(middle), Fault.http(404))
        api.inject(dataset_key(invalid), Fault.raw_body('{"id": "not a dataset"}'))
        ids = write_ids(tmp_path, batches)
        result = sync(api, database_url, "--ids", ids, "--chunk-size", "5", "--concurrency", "2")

        assert result.exit_code == 1, result.output
        assert {dataset_key(middle), dataset_key(invalid)} <= {
            seen.key for seen in api.requests_of("dataset")
        }
        expected = expected_dataset_rows(api, batches)
    assert sorted(
        (f["dataset_id"], f["stage"], f["error_kind"], f["batch_id"])
        for f in failure_rows(database_url)
    ) == sorted(
        [(middle, "dataset", "not_found", None), (invalid, "dataset", "invalid_payload", None)]
    )
    assert f"dataset {middle}: dataset failed (not_found)" in result.stderr
    assert [content_of(row) for row in read_table(database_url, "batches")] == [
        expected_batch_row(b) for b in sorted(batches, key=lambda b: b["id"])
    ]
    unfilled = dict.fromkeys(DETAIL_COLUMNS[3:])  # the columns the details fill in
    assert stored_datasets(database_url) == [
        {**row, **unfilled} if row["dataset_id"] in (middle, invalid) else row for row in expected
    ]
    synced = {
        row["dataset_id"]: row["details_synced_at"] for row in read_table(database_url, "datasets")
    }
    assert {dataset_id for dataset_id, at in synced.items() if at is None} == {middle, invalid}
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["inserted"], run["failed"]) == ("partial", 40, 2)


# A dataset's details were asked for only when a batch's reference to it changed: a version 3
# dataset left PROCESSING, or an import job left "processing", and the tables never knew.
def test_a_dataset_in_flight_is_asked_again_each_run_and_rewritten_only_when_it_moves(
    database_url,
):
    batches = listed_batches(60)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        moving = sorted(
            dataset_id
            for dataset_id in {ref["id"] for batch in batches for ref in batch["datasets"]}
            if in_flight(api.dataset(dataset_id))
        )
        assert len(moving) >= 4  # both versions, several of each, in this sample
        before = {name: read_table(database_url, name) for name in ("datasets", "dataset_imports")}
        first = len(api.requests)

        assert sync(api, database_url, "--all-workspaces").exit_code == 0

        asked = sorted(r.key for r in api.requests[first:] if r.kind == "dataset")
        assert asked == [dataset_key(dataset_id) for dataset_id in moving]
        for name, rows in before.items():
            assert read_table(database_url, name) == rows, name  # asked, nothing rewritten

        for dataset_id in moving:
            api.put_dataset(settle(api.dataset(dataset_id)))
        second = len(api.requests)
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        asked = sorted(r.key for r in api.requests[second:] if r.kind == "dataset")
        fourth = len(api.requests)
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        asked_when_settled = [r.key for r in api.requests[fourth:] if r.kind == "dataset"]

    assert asked == [dataset_key(dataset_id) for dataset_id in moving]
    assert asked_when_settled == []
    assert stored_datasets(database_url) == expected_dataset_rows(api, batches)
    assert sorted(read_table(database_url, "dataset_imports"), key=lambda r: r["import_id"]) == (
        sorted(expected_imports(api, batches), key=lambda r: r["import_id"])
    )
    changed = {
        row["dataset_id"] for row in read_table(database_url, "datasets")
        if row["last_changed_run_id"] == 3
    }  # fmt: skip
    assert changed == set(moving)


def test_a_changed_dataset_is_asked_for_its_details_again(database_url):
    batches = listed_batches(6, datasets=3)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        settle_every_dataset(api, batches)  # so that only the change is asked for
        assert sync(api, database_url, "--all-workspaces").exit_code == 0
        changed = next(batch for batch in batches if batch["datasets"])["datasets"][0]
        changed["total_datapoint_count"] += 10
        for batch in batches:
            for ref in batch["datasets"]:
                if ref["id"] == changed["id"]:
                    ref["total_datapoint_count"] = changed["total_datapoint_count"]
            api.put_batch(batch)
        before = len(api.requests)

        assert sync(api, database_url, "--all-workspaces").exit_code == 0

        asked = [r.key for r in api.requests[before:] if r.kind == "dataset"]
    assert asked == [dataset_key(changed["id"])]
    assert stored_datasets(database_url) == expected_dataset_rows(api, batches)


def test_a_dry_run_over_workspaces_writes_nothing(sqlite_url, tmp_path):
    batches = listed_batches(9)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        result = sync(api, sqlite_url, "--all-workspaces", "--dry-run")
        assert api.requests_of("dataset") == []
    assert result.exit_code == 0, result.output
    assert "0 ids, 9 more listed, 9 fetched; would insert 9" in result.stdout
    assert not (tmp_path / "etl.db").exists()


@pytest.mark.parametrize("args", [(), ("--dry-run",)])
def test_sync_needs_an_id_file_or_workspaces(args, sqlite_url, api):
    result = sync(api, sqlite_url, *args)
    assert result.exit_code == 2
    assert "nothing to sync: give --ids FILE, --workspace ID or --all-workspaces" in result.stderr
    assert api.requests == []


# A --workspace value too long for the tables, or holding NUL, failed the run when its
# listing's failure was recorded (PostgreSQL and MariaDB refused the value).
@pytest.mark.parametrize("value", ["w" * 256, "ws\x00x", "", "ws one"])
def test_a_workspace_id_that_cannot_be_one_is_a_usage_error(sqlite_url, api, value):
    result = sync(api, sqlite_url, "--workspace", value)

    assert result.exit_code == 2, result.output
    assert "not a workspace ID (1 to 255 printable characters, no spaces)" in result.stderr
    assert api.requests == []


# Issue 23, item 10: a mistyped --workspace only warned, and the night "succeeded" with nothing.
def test_a_workspace_the_token_cannot_see_with_an_empty_listing_is_not_found(database_url):
    batches = listed_batches(6)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        result = sync(api, database_url, "--workspace", WORKSPACES[0], "--workspace", "ws-typo")

    assert result.exit_code == 1, result.output
    assert [
        (f["workspace_id"], f["stage"], f["error_kind"]) for f in failure_rows(database_url)
    ] == [("ws-typo", "listing", "not_found")]
    assert (
        "workspace ws-typo: listing failed (not_found): not among the workspaces this token can "
        f"see, and its listing holds no batch: is the ID right? (the token sees: "
        f"{', '.join(sorted({b['workspace_id'] for b in batches}))})"
    ) in result.stderr
    assert "1 failed (1 workspace listing)" in result.stdout
    loaded = {row["batch_id"] for row in read_table(database_url, "batches")}
    assert loaded == {b["id"] for b in batches if b["workspace_id"] == WORKSPACES[0]}


def test_a_workspace_the_token_cannot_see_whose_listing_answers_is_loaded(database_url):
    batches = listed_batches(6)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.set_workspaces([{"id": "ws-other", "title": "Other"}])  # not WORKSPACES[0]
        result = sync(api, database_url, "--workspace", WORKSPACES[0])

    assert result.exit_code == 0, result.output
    assert f"workspace {WORKSPACES[0]} is not among the workspaces the token can see" in (
        result.stderr
    )
    assert failure_rows(database_url) == []
    loaded = {row["batch_id"] for row in read_table(database_url, "batches")}
    assert loaded == {b["id"] for b in batches if b["workspace_id"] == WORKSPACES[0]}
