"""Faults from the network and the API: retries, rate limits, hangs, bad bodies, a revoked token."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from click.testing import CliRunner

from etl.cli import main
from etl.config import Settings
from etl.errors import TokenRejectedError
from etl.imitation.server import FakeProlificAPI, Fault, error_body
from etl.job import sync
from etl.source.client import RetryPolicy

from conftest import TOKEN
from support import content_of, expected_batch_row, read_table

QUICK = RetryPolicy(max_attempts=4, initial_wait=0.02, max_wait=0.1, max_total_wait=10)


def settings_for(api, database_url: str, read_timeout: float = 0.5) -> Settings:
    # An attempt ends after connect + read timeout in all (libcurl's stall detection counts
    # whole seconds), so a short connect timeout keeps hangs short here; loopback connects
    # take microseconds.
    return Settings(
        api_token=TOKEN,
        api_url=api.url,
        database_url=database_url,
        connect_timeout=0.5,
        read_timeout=read_timeout,
    )


def write_ids(tmp_path, ids) -> str:
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return str(path)


def test_every_fault_is_retried_or_recorded_and_the_run_goes_on(
    database_url, api, batches, tmp_path
):
    ids = [b["id"] for b in batches]
    body = json.dumps(batches[7])
    api.inject(ids[0], Fault.http(429, retry_after="1"))
    api.inject(ids[1], Fault.http(503), Fault.http(502))
    api.inject(ids[2], *[Fault.http(503)] * 10)
    api.inject(ids[3], Fault.hang(2.0))
    api.inject(ids[4], Fault.drop())
    api.inject(ids[5], Fault.raw_body("<!DOCTYPE html><html><h1>502 Bad Gateway</h1></html>"))
    api.inject(ids[6], Fault.truncate())
    api.inject(ids[7], Fault.raw_body(body[: len(body) // 2]))
    api.inject(ids[8], Fault.raw_body('{"results": []}'))
    api.inject(ids[9], Fault.http(429))

    result = sync(
        settings_for(api, database_url), write_ids(tmp_path, ids), retry_policy=QUICK, concurrency=4
    )

    seen = {batch_id: len(api.requests_for(batch_id)) for batch_id in ids}
    assert seen == {
        ids[0]: 2,
        ids[1]: 3,
        ids[2]: 4,
        ids[3]: 2,
        ids[4]: 2,
        ids[5]: 1,
        ids[6]: 2,
        ids[7]: 1,
        ids[8]: 1,
        ids[9]: 2,
        ids[10]: 1,
        ids[11]: 1,
    }
    first, second = api.requests_for(ids[0])
    assert second.at - first.at >= 1.0, "Retry-After: 1 was not respected"

    loaded = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    failed = {ids[2], ids[5], ids[7], ids[8]}
    assert set(loaded) == set(ids) - failed
    for payload in batches:
        if payload["id"] in loaded:
            assert content_of(loaded[payload["id"]]) == expected_batch_row(payload)

    failures = {f["batch_id"]: f for f in read_table(database_url, "etl_failures")}
    assert {b: (f["stage"], f["error_kind"], f["http_status"]) for b, f in failures.items()} == {
        ids[2]: ("fetch", "api_unavailable", 503),
        ids[5]: ("validate", "invalid_response", None),
        ids[7]: ("validate", "invalid_response", None),
        ids[8]: ("validate", "invalid_payload", None),
    }
    assert "HTML page" in failures[ids[5]]["message"]
    assert failures[ids[8]]["field"] == "id"

    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["fetched"], run["inserted"], run["failed"]) == ("partial", 11, 8, 4)
    # The drop (ids[4]) is a retry of ours on a new connection, or, on a kept-alive one,
    # re-sent by libcurl itself, as on a connection the server closed while idle: the API
    # sees two requests either way (above), the run counts one retry or none.
    assert run["retries"] - (1 + 2 + 3 + 1 + 1 + 1) in (0, 1)
    assert result.status == "partial"


def test_retries_show_in_verbose_output(run_sync, sqlite_url, ids_file, api, batches):
    api.inject(batches[0]["id"], Fault.http(503))
    result = run_sync(sqlite_url, ids_file, "--verbose")
    assert result.exit_code == 0
    assert f"batch {batches[0]['id']}: attempt 1 failed (HTTP 503" in result.stderr
    assert "1 retries" in result.stdout


def test_a_hanging_server_costs_the_batch_its_timeout_budget_only(
    sqlite_url, api, batches, tmp_path
):
    ids = [b["id"] for b in batches[:4]]
    api.inject(ids[1], *[Fault.hang(3.0)] * 3)
    policy = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01)

    result = sync(
        settings_for(api, sqlite_url, read_timeout=0.3),
        write_ids(tmp_path, ids),
        retry_policy=policy,
        concurrency=1,
    )

    assert result.status == "partial" and result.inserted == 3
    (failure,) = read_table(sqlite_url, "etl_failures")
    assert (failure["batch_id"], failure["error_kind"]) == (ids[1], "api_unavailable")
    assert "timed out" in failure["message"]
    assert len(api.requests_for(ids[1])) == 2


@pytest.mark.parametrize("status", [400, 403, 404])
def test_400_403_and_404_fail_only_that_batch(sqlite_url, api, batches, tmp_path, status):
    ids = [b["id"] for b in batches[:3]]
    api.inject(ids[1], Fault.http(status, body=error_body(status, "X", "Nope", "not for you")))

    result = sync(settings_for(api, sqlite_url), write_ids(tmp_path, ids), retry_policy=QUICK)

    assert (result.status, result.inserted) == ("partial", 2)
    (failure,) = read_table(sqlite_url, "etl_failures")
    assert (failure["batch_id"], failure["http_status"], failure["stage"]) == (
        ids[1],
        status,
        "fetch",
    )
    assert "Nope not for you [X]" in failure["message"]
    assert len(api.requests_for(ids[1])) == 1


def test_a_token_revoked_mid_run_stops_requests_at_once(sqlite_url, api, batches, tmp_path):
    ids = [b["id"] for b in batches]
    api.inject(ids[5], Fault.http(401))

    with pytest.raises(TokenRejectedError):
        sync(
            settings_for(api, sqlite_url),
            write_ids(tmp_path, ids),
            concurrency=1,
            chunk_size=2,
            retry_policy=QUICK,
        )

    # The details of the first chunk's datasets are asked for between the batches (issue 22);
    # nothing at all after the 401.
    assert [r.batch_id for r in api.requests_of("batch")] == ids[:6]
    assert api.requests[-1].batch_id == ids[5]
    assert {row["batch_id"] for row in read_table(sqlite_url, "batches")} == set(ids[:4])
    (run,) = read_table(sqlite_url, "etl_runs")
    assert (run["status"], run["inserted"]) == ("failed", 4)
    assert "rejected the token" in run["error_message"]


def test_fail_fast_stops_at_the_first_failure(run_sync, sqlite_url, api, batches, tmp_path):
    ids = [b["id"] for b in batches]
    ids.insert(3, str(uuid.uuid4()))
    path = write_ids(tmp_path, ids)

    result = run_sync(sqlite_url, path, "--fail-fast", "--concurrency", "1", "--chunk-size", "2")

    assert result.exit_code == 1
    assert "stopped at the first failure (--fail-fast)" in result.stderr
    # The failing chunk (ids 2 and 3) still loads its good batch; the chunk fetched ahead of it
    # (ids 4 and 5, queued behind the first chunk's datasets' details) is dropped, whether or
    # not it was requested yet, and nothing after it is requested.
    requested = [r.batch_id for r in api.requests_of("batch")]
    assert requested[:4] == ids[:4] and requested == ids[: len(requested)] and len(requested) <= 6
    assert {row["batch_id"] for row in read_table(sqlite_url, "batches")} == set(ids[:3])
    (run,) = read_table(sqlite_url, "etl_runs")
    assert (run["status"], run["inserted"], run["failed"]) == ("partial", 3, 1)


def test_max_rps_spaces_requests_across_workers(run_sync, sqlite_url, ids_file, api, batches):
    result = run_sync(sqlite_url, ids_file, "--max-rps", "20", "--concurrency", "8")

    assert result.exit_code == 0, result.output
    arrivals = sorted(seen.at for seen in api.requests)  # batches and datasets' details
    assert len(api.requests_of("batch")) == len(batches)
    # At most 20 a second: the last comes at least (n - 1)/20 s after the first.
    assert arrivals[-1] - arrivals[0] >= 0.9 * (len(arrivals) - 1) / 20


def test_a_revoked_token_with_many_workers_sends_at_most_the_requests_in_flight(
    sqlite_url, api, batches, tmp_path
):
    ids = [b["id"] for b in batches]
    api.inject(ids[2], Fault.http(401))
    for batch_id in ids[3:]:
        api.inject(batch_id, Fault.http(503, retry_after="30"))

    started = time.monotonic()
    with pytest.raises(TokenRejectedError):
        sync(settings_for(api, sqlite_url), write_ids(tmp_path, ids), concurrency=4, chunk_size=4)

    assert time.monotonic() - started < 20  # the 30 s Retry-After waits were cut short
    assert all(len(api.requests_for(batch_id)) <= 1 for batch_id in ids)
    assert len(api.requests) <= 3 + 4 + 4  # up to the 401, then what was already in flight


def test_an_unforeseen_error_costs_one_batch_not_the_run(
    sqlite_url, api, batches, tmp_path, monkeypatch
):
    import etl.source.extract

    real_parse = etl.source.extract.parse_batch
    broken = batches[1]["id"]

    def parse_or_break(batch_id, body):
        if batch_id == broken:
            raise RuntimeError("something nobody foresaw")
        return real_parse(batch_id, body)

    monkeypatch.setattr(etl.source.extract, "parse_batch", parse_or_break)
    result = sync(settings_for(api, sqlite_url), write_ids(tmp_path, [b["id"] for b in batches]))

    assert (result.status, result.inserted) == ("partial", len(batches) - 1)
    (failure,) = read_table(sqlite_url, "etl_failures")
    assert (failure["batch_id"], failure["error_kind"]) == (broken, "unexpected_error")
    assert failure["message"] == "RuntimeError: something nobody foresaw"


def test_an_api_that_cannot_be_reached_at_all_stops_the_run(run_sync, sqlite_url, tmp_path):
    ids = [str(uuid.uuid4()) for _ in range(60)]
    with FakeProlificAPI(token=TOKEN) as gone:
        url = gone.url  # a port nothing listens on once the server is stopped
    path = write_ids(tmp_path, ids)

    result = CliRunner().invoke(
        main,
        ["sync", "--ids", path, "--max-attempts", "1", "--concurrency", "2", "--chunk-size", "5"],
        env={"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": url, "DATABASE_URL": sqlite_url},
    )

    assert result.exit_code == 3, result.output
    assert "20 batches in a row could not reach" in result.stderr
    (run,) = read_table(sqlite_url, "etl_runs")
    assert run["status"] == "failed" and "could not reach" in run["error_message"]
    assert len(read_table(sqlite_url, "etl_failures")) < len(ids)


# Issue 15: a batch that could not connect did not suggest checking PROLIFIC_API_URL.
def test_a_batch_that_cannot_connect_says_which_url_and_what_to_check(sqlite_url, tmp_path):
    batch_id = str(uuid.uuid4())
    with FakeProlificAPI(token=TOKEN) as gone:
        url = gone.url  # a port nothing listens on once the server is stopped

    result = CliRunner().invoke(
        main,
        ["sync", "--ids", write_ids(tmp_path, [batch_id]), "--max-attempts", "1"],
        env={"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": url, "DATABASE_URL": sqlite_url},
    )

    assert result.exit_code == 3, result.output  # nothing reached the API: see below
    (failure,) = read_table(sqlite_url, "etl_failures")
    assert (failure["batch_id"], failure["error_kind"]) == (batch_id, "api_unavailable")
    assert failure["message"].startswith(f"cannot connect to {url} (")
    assert failure["message"].endswith(
        "(1 attempt); check PROLIFIC_API_URL, and that the API is up and reachable from here"
    )
    assert f"batch {batch_id}: fetch failed (api_unavailable): cannot connect" in result.stderr


# A dead API or a wrong URL ended a short run (fewer batches than the streak of 20 that stops
# a run) 'partial' with exit 1, which the documented freshness check counts as fresh: a job
# that reached nothing looked healthy every night.
@pytest.mark.parametrize("how", ["five ids", "all workspaces"])
def test_a_run_that_reaches_nothing_fails_with_exit_3(sqlite_url, tmp_path, how):
    with FakeProlificAPI(token=TOKEN) as gone:
        url = gone.url
    where = (
        ["--ids", write_ids(tmp_path, [str(uuid.uuid4()) for _ in range(5)])]
        if how == "five ids"
        else ["--all-workspaces"]
    )

    result = CliRunner().invoke(
        main,
        ["sync", *where, "--max-attempts", "1"],
        env={"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": url, "DATABASE_URL": sqlite_url},
    )

    assert result.exit_code == 3, result.output
    (run,) = read_table(sqlite_url, "etl_runs")
    assert run["status"] == "failed"
    assert run["error_message"].startswith(f"not one request reached {url}; last: cannot connect")
    assert len(read_table(sqlite_url, "etl_failures")) == (5 if how == "five ids" else 1)


def test_answers_that_break_off_are_the_batches_failures_not_an_unreachable_api(
    sqlite_url, api, batches, tmp_path
):
    ids = [b["id"] for b in batches[:3]]
    for batch_id in ids:
        api.inject(batch_id, *[Fault.truncate()] * 4)

    result = sync(
        settings_for(api, sqlite_url), write_ids(tmp_path, ids), concurrency=1, retry_policy=QUICK
    )

    assert result.status == "partial"
    assert {(f.batch_id, f.error_kind) for f in result.failures} == {
        (batch_id, "api_unavailable") for batch_id in ids
    }


def test_a_run_where_one_request_answered_stays_partial(sqlite_url, api, batches, tmp_path):
    # One batch answers, four are refused at the door (a dropped connection every attempt):
    # the API is up, so this is the batches' failure, not the run's.
    ids = [b["id"] for b in batches[:5]]
    for batch_id in ids[1:]:
        api.inject(batch_id, *[Fault.drop()] * 4)

    result = sync(
        settings_for(api, sqlite_url), write_ids(tmp_path, ids), concurrency=1, retry_policy=QUICK
    )

    assert result.status == "partial"
    assert [f.batch_id for f in result.failures] == ids[1:]
