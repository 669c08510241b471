"""``--processes``: worker processes keep every guarantee that threads give.

The stop after a 401, the hold-off after a 429, the rate cap and the bound on requests in
flight are shared by all workers of a run, whichever process they are in; retries are counted
and logged by the run; a signal or kill -9 leaves no worker behind.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from test_crash_and_concurrency import WAIT, assert_consistent, start_sync
from test_resilience import QUICK, settings_for, write_ids

from etl.errors import (
    ApiUnavailableError,
    BatchLoadError,
    BatchNotFoundError,
    BatchRequestError,
    InvalidPayloadError,
    InvalidResponseError,
    TokenRejectedError,
    UnexpectedBatchError,
)
from etl.job import sync
from etl.source.client import RetryPolicy
from etl.source.fake_api import FakeProlificAPI, Fault, sample_batches

from conftest import TOKEN
from support import content_of, expected_batch_row, read_table


@pytest.mark.parametrize(
    "error",
    [
        BatchNotFoundError("b-1", "HTTP 404: not found", http_status=404, api_detail="Not found"),
        BatchRequestError("b-2", "HTTP 400: bad", http_status=400),
        ApiUnavailableError("b-3", "HTTP 503 (retries exhausted)", http_status=503),
        InvalidResponseError("b-4", "an HTML page"),
        InvalidPayloadError("b-5", "status: not one of ...", field="status"),
        UnexpectedBatchError("b-6", "RuntimeError: boom"),
        BatchLoadError("b-7", "refused"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_batch_errors_cross_a_process_boundary_whole(error):
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error)
    assert copy.__dict__ == error.__dict__
    assert (str(copy), copy.kind, copy.stage, copy.args) == (
        str(error),
        error.kind,
        error.stage,
        error.args,
    )


def test_faults_are_retried_recorded_and_counted_across_processes(
    database_url, api, batches, tmp_path
):
    ids = [b["id"] for b in batches]
    api.inject(ids[0], Fault.http(503), Fault.http(502))
    api.inject(ids[1], *[Fault.http(503)] * 10)
    api.inject(ids[2], Fault.drop())
    api.inject(ids[3], Fault.raw_body('{"results": []}'))
    api.inject(ids[4], Fault.http(404))

    result = sync(
        settings_for(api, database_url),
        write_ids(tmp_path, ids),
        retry_policy=QUICK,
        concurrency=4,
        processes=2,
        chunk_size=5,
    )

    assert (result.status, result.inserted, result.failed) == ("partial", 9, 3)
    # The drop is our retry, or libcurl's own re-send on a kept-alive connection (uncounted).
    assert result.retries - (2 + 3) in (0, 1)
    loaded = {row["batch_id"]: row for row in read_table(database_url, "batches")}
    assert set(loaded) == set(ids) - {ids[1], ids[3], ids[4]}
    for payload in batches:
        if payload["id"] in loaded:
            assert content_of(loaded[payload["id"]]) == expected_batch_row(payload)
    failures = {f["batch_id"]: f for f in read_table(database_url, "etl_failures")}
    assert {b: (f["error_kind"], f["http_status"], f["field"]) for b, f in failures.items()} == {
        ids[1]: ("api_unavailable", 503, None),
        ids[3]: ("invalid_payload", None, "id"),
        ids[4]: ("not_found", 404, None),
    }
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["retries"], run["failed"]) == ("partial", result.retries, 3)
    assert len(api.requests_for(ids[2])) == 2


def test_a_401_in_one_process_stops_the_others(sqlite_url, tmp_path):
    # Two slices of four, one per process. The 401 for the 4th batch is held back until the
    # other process has asked for the 5th, which it is told to retry in 30 s: that wait must
    # be cut short by the 401 in the other process, not waited out.
    many = sample_batches(8, seed=3)
    ids = [b["id"] for b in many]
    other_process_waiting = threading.Event()

    def hold_the_401(seen) -> None:
        if seen.batch_id == ids[4]:
            other_process_waiting.set()
        elif seen.batch_id == ids[3]:
            other_process_waiting.wait(WAIT)

    with FakeProlificAPI(many, token=TOKEN, on_request=hold_the_401) as api:
        api.inject(ids[3], Fault.http(401))
        for batch_id in ids[4:]:
            api.inject(batch_id, Fault.http(503, retry_after="30"))

        started = time.monotonic()
        with pytest.raises(TokenRejectedError):
            sync(
                settings_for(api, sqlite_url, read_timeout=WAIT),  # held answers must wait
                write_ids(tmp_path, ids),
                concurrency=2,
                processes=2,
                chunk_size=8,
            )
        elapsed = time.monotonic() - started
        requests = {batch_id: len(api.requests_for(batch_id)) for batch_id in ids}

    assert other_process_waiting.is_set()
    assert elapsed < 20  # the 30 s Retry-After wait was cut short
    assert requests == {**dict.fromkeys(ids[:5], 1), **dict.fromkeys(ids[5:], 0)}
    (run,) = read_table(sqlite_url, "etl_runs")
    assert run["status"] == "failed" and "rejected the token" in run["error_message"]


def test_a_429_holds_off_the_workers_of_every_process(sqlite_url, tmp_path):
    # Slices of four, one per process; the 429 for the 4th batch is sent once the other
    # process is at work on the 5th, so that it has more to ask for during the hold-off.
    many = sample_batches(80, seed=5)
    ids = [b["id"] for b in many]
    other_process_busy = threading.Event()
    answered_429_at = []

    def hold_the_429(seen) -> None:
        if seen.batch_id == ids[4]:
            other_process_busy.set()
        elif seen.batch_id == ids[3] and not answered_429_at:
            other_process_busy.wait(WAIT)
            answered_429_at.append(time.monotonic())

    with FakeProlificAPI(many, token=TOKEN, on_request=hold_the_429) as api:
        api.inject(ids[3], Fault.http(429))
        sync(
            settings_for(api, sqlite_url, read_timeout=WAIT),  # held answers must wait
            write_ids(tmp_path, ids),
            retry_policy=RetryPolicy(max_attempts=3, initial_wait=1.0, max_wait=1.0),
            concurrency=2,
            processes=2,
            chunk_size=80,  # one chunk: the other process always has more to fetch
        )
        arrivals = sorted(seen.at for seen in api.requests)
        (_, retried) = (seen.at for seen in api.requests_for(ids[3]))

    assert other_process_busy.is_set()
    assert len(read_table(sqlite_url, "batches")) == len(many)
    # The wait is between 0.5 and 1 s. Only a request already on its way when the 429 was
    # sent may arrive during it; without a shared hold-off the other process would carry on.
    told = answered_429_at[0]
    assert [at for at in arrivals if told + 0.05 < at < told + 0.5] == []
    assert retried - told >= 0.5


def test_max_rps_holds_over_all_processes(run_sync, sqlite_url, ids_file, api, batches):
    result = run_sync(
        sqlite_url, ids_file, "--max-rps", "20", "--concurrency", "4", "--processes", "2"
    )

    assert result.exit_code == 0, result.output
    arrivals = sorted(seen.at for seen in api.requests)
    assert len(arrivals) == len(batches)
    assert arrivals[-1] - arrivals[0] >= 0.9 * (len(arrivals) - 1) / 20


def test_concurrency_bounds_requests_in_flight_over_all_processes(sqlite_url, tmp_path):
    # 3 requests in flight over 2 processes of 2 threads each: a shared semaphore keeps the
    # fourth thread waiting. Requests arrive `latency` after they start, so were four ever in
    # flight, four arrivals would fall within less than `latency` of each other.
    many = sample_batches(24, seed=9)
    latency = 0.2
    workers_seen: list[int] = []

    def count_workers(seen) -> None:  # this test's process is the run's: its children work
        workers_seen.append(len(multiprocessing.active_children()))

    with FakeProlificAPI(many, token=TOKEN, latency=latency, on_request=count_workers) as api:
        result = sync(
            settings_for(api, sqlite_url, read_timeout=5),
            write_ids(tmp_path, [b["id"] for b in many]),
            concurrency=3,
            processes=2,
        )
        arrivals = sorted(seen.at for seen in api.requests)

    assert result.inserted == len(many)
    assert set(workers_seen) == {2}  # the fetching was done by two worker processes
    closest_four = min(
        later - earlier for earlier, later in zip(arrivals, arrivals[3:], strict=False)
    )
    assert closest_four >= latency - 0.05


def test_worker_retries_reach_the_runs_log(run_sync, sqlite_url, ids_file, api, batches):
    api.inject(batches[0]["id"], Fault.http(503))

    result = run_sync(sqlite_url, ids_file, "--log-format", "json", "--verbose", "--processes", "2")

    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines()]
    (retry,) = [event for event in events if event["event"] == "retry"]
    assert (retry["batch_id"], retry["attempt"], retry["run_id"]) == (batches[0]["id"], 1, 1)
    assert retry["reason"].startswith("HTTP 503")
    assert "1 retries" in result.stdout


def _processes_marked(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_until_gone(marker: str, seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _processes_marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_run_stopped_by_a_signal_leaves_no_worker_behind(tmp_path, monkeypatch, how):
    many = sample_batches(60, seed=11, datasets=20)
    ids_path = tmp_path / "ids.txt"
    ids_path.write_text("".join(f"{b['id']}\n" for b in many))
    database_url = f"sqlite:///{tmp_path / 'etl.db'}"
    marker = f"ETL_TEST_RUN={uuid.uuid4().hex}"
    monkeypatch.setenv("ETL_TEST_RUN", marker.split("=", 1)[1])
    victim: list[subprocess.Popen] = []
    signalled = threading.Event()
    arrivals = itertools.count(1)

    running: list[int] = []

    def stop_at(seen) -> None:
        if next(arrivals) == 15:
            running.extend(_processes_marked(marker))
            if how == "SIGTERM":  # as systemd stops a unit: every process of it
                os.killpg(victim[0].pid, signal.SIGTERM)
            else:  # as the OOM killer ends a run: the parent alone
                victim[0].send_signal(signal.SIGKILL)
            signalled.set()

    with FakeProlificAPI(many, token=TOKEN, latency=0.02, on_request=stop_at) as api:
        victim.append(
            start_sync(
                api.url,
                database_url,
                ids_path,
                "--chunk-size",
                "5",
                "--processes",
                "2",
                new_session=True,
            )
        )
        assert signalled.wait(WAIT), "the run finished before it was signalled"
        _, stderr = victim[0].communicate(timeout=WAIT)
        assert _wait_until_gone(marker) == []

    assert len(running) >= 3  # the run and its two workers (and multiprocessing's tracker)

    expected = 130 if how == "SIGTERM" else -signal.SIGKILL
    assert victim[0].returncode == expected, stderr
    (run,) = read_table(database_url, "etl_runs")
    assert run["status"] == ("aborted" if how == "SIGTERM" else "running")
    assert_consistent(database_url, many)


@pytest.mark.parametrize("module", ["etl.source.extract", "etl.__main__"])
def test_a_worker_process_does_not_import_the_database_side(module):
    # Each worker imports etl.fetch when it starts, and the main script again (for the
    # prolific-etl command, etl.__main__); SQLAlchemy and the loader would add a quarter of a
    # second of CPU to every start for nothing.
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy' "
        "or m in ('etl.store.load', 'etl.job')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_hashed_content_columns_are_columns_of_batches():
    from etl.rows import BATCH_CONTENT_COLUMNS
    from etl.store.schema import batches

    assert set(BATCH_CONTENT_COLUMNS) <= set(batches.c.keys())
