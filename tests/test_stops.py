"""Every stop recorded truthfully, and a run log that moves while the run goes (issue 12)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

from etl.config import Settings
from etl.errors import ApiUnreachableError
from etl.imitation.server import FakeProlificAPI, Fault, sample_batches
from etl.job import sync
from etl.source.client import RetryPolicy
from etl.source.extract import UNREACHABLE_STREAK
from etl.store.schema import batches as batches_table
from etl.store.schema import etl_runs

from conftest import TOKEN
from support import read_table
from test_crash_and_concurrency import WAIT, assert_consistent, cli_sync, start_sync

SIGTERMS = {"sqlite": 20, "postgresql": 10, "mysql": 10}


def test_the_run_row_shows_the_batches_done_so_far_with_each_chunk(database_url, tmp_path):
    payloads = sample_batches(40, seed=5, datasets=8)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{p['id']}\n" for p in payloads))
    engine = create_engine(database_url)
    seen: list[tuple[str, int, int]] = []

    def look_at_the_run_log(request) -> None:
        # What another session (a BI tool, `prolific-etl runs`) sees as each request arrives.
        try:
            stored = select(func.count()).select_from(batches_table).scalar_subquery()
            with engine.connect() as connection:  # one statement: one snapshot
                run = connection.execute(
                    select(etl_runs.c.status, etl_runs.c.inserted, stored)
                ).first()
            if run is not None:
                seen.append(tuple(run))
        except Exception:  # noqa: BLE001 - the schema may not exist yet
            pass

    with FakeProlificAPI(payloads, token=TOKEN, on_request=look_at_the_run_log) as api:
        settings = Settings(api_token=TOKEN, api_url=api.url, database_url=database_url)
        result = sync(settings, str(ids), concurrency=1, chunk_size=4)
    engine.dispose()

    assert result.status == "succeeded"
    running = [(inserted, stored) for status, inserted, stored in seen if status == "running"]
    # The counter moves with every chunk, in the transaction that writes the chunk's rows.
    assert all(inserted == stored for inserted, stored in running)
    assert len({inserted for inserted, _ in running}) >= 40 // 4 - 2
    assert [inserted for inserted, _ in running] == sorted(inserted for inserted, _ in running)


def test_batches_given_up_on_when_the_api_cannot_be_reached_are_each_recorded(sqlite_url, tmp_path):
    payloads = sample_batches(30, seed=6, datasets=4)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{p['id']}\n" for p in payloads))
    with FakeProlificAPI(payloads, token=TOKEN) as api:
        for payload in payloads:
            api.inject(payload["id"], *[Fault.drop()] * 3)
        settings = Settings(api_token=TOKEN, api_url=api.url, database_url=sqlite_url)
        with pytest.raises(ApiUnreachableError, match="20 batches in a row") as caught:
            sync(
                settings,
                str(ids),
                concurrency=1,
                retry_policy=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01),
            )
    failures = read_table(sqlite_url, "etl_failures")
    # Issue 12: the streak recorded 17 of the 20 batches it gave up on.
    assert len(failures) == UNREACHABLE_STREAK == caught.value.run_result.failed
    assert [f["batch_id"] for f in failures] == [p["id"] for p in payloads[:UNREACHABLE_STREAK]]
    assert {f["error_kind"] for f in failures} == {"api_unavailable"}
    (run,) = read_table(sqlite_url, "etl_runs")
    assert (run["status"], run["failed"]) == ("failed", UNREACHABLE_STREAK)


def test_sigterm_at_random_moments_always_ends_in_an_aborted_run(database_url, tmp_path, request):
    dialect = request.node.callspec.params["database_url"]
    payloads = sample_batches(120, seed=7, datasets=30)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{p['id']}\n" for p in payloads))
    rng = random.Random(12)
    victim: list[subprocess.Popen] = []
    signal_at = {"arrival": 0, "count": 0}

    def terminate_at_the_chosen_request(seen) -> None:
        signal_at["count"] += 1
        if signal_at["count"] == signal_at["arrival"]:
            victim[-1].send_signal(signal.SIGTERM)

    stopped = 0
    with FakeProlificAPI(
        payloads, token=TOKEN, latency=0.002, on_request=terminate_at_the_chosen_request
    ) as api:
        for _ in range(SIGTERMS[dialect]):
            # A random moment of the run: fetching, loading a chunk, or between the two.
            signal_at.update(arrival=rng.randrange(1, len(payloads) + 20), count=0)
            victim.append(start_sync(api.url, database_url, ids, "--chunk-size", "7"))
            try:
                _, stderr = victim[-1].communicate(timeout=WAIT)
            except subprocess.TimeoutExpired:
                victim[-1].kill()
                raise
            runs = read_table(database_url, "etl_runs")
            # Right after the process exits, with no next run needed to close it.
            assert "running" not in {run["status"] for run in runs}, stderr
            if victim[-1].returncode == 0:  # every request made before the chosen one
                assert runs[-1]["status"] == "succeeded"
                continue
            stopped += 1
            assert victim[-1].returncode == 130, stderr
            assert runs[-1]["status"] == "aborted", stderr
            assert f"interrupted; run {runs[-1]['run_id']} is recorded as aborted" in stderr
            assert "could not record" not in stderr
            assert_consistent(database_url, payloads)
        result = cli_sync(api.url, database_url, ids)
    assert stopped >= SIGTERMS[dialect] // 2, "too few runs were still going when signalled"
    assert result.exit_code == 0, result.output
    assert_consistent(database_url, payloads)
    assert len(read_table(database_url, "batches")) == len(payloads)


# Issue 23, item 11: a SIGTERM while the command was still importing (about half a second,
# 2.3 s under load) ended it at once, exit 143, with no word.
@pytest.mark.parametrize("command", ["sync", "runs"])
def test_a_signal_while_the_command_is_imported_is_acted_on_once_it_runs(
    api, sqlite_url, ids_file, command
):
    arguments = ["sync", "--ids", str(ids_file)] if command == "sync" else ["runs"]
    started_by_hand = (
        "import signal, sys\n"
        "from etl import launch\n"
        "launch.take_signals()\n"
        "signal.raise_signal(signal.SIGTERM)  # before etl.cli is imported\n"
        f"sys.argv = ['prolific-etl', *{arguments!r}]\n"
        "launch.main()\n"
    )
    env = {
        **os.environ,
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api.url,
        "DATABASE_URL": sqlite_url,
    }
    process = subprocess.run(
        [sys.executable, "-c", started_by_hand], env=env, capture_output=True, text=True
    )
    if command == "sync":  # a stop asked for at its start: said, and nothing fetched
        assert process.returncode == 130, process.stderr
        assert (
            "interrupted before the run started; nothing was fetched; run 1 is recorded as "
            "aborted" in process.stderr
        )
        assert api.received == 0
        # Issue #23 item 11: the stop left no trace in the run log.
        (run,) = read_table(sqlite_url, "etl_runs")
        assert (run["status"], run["error_message"], run["fetched"]) == (
            "aborted",
            "interrupted (SIGINT or SIGTERM) before the run started; nothing was fetched",
            0,
        )
    else:  # a command with nothing to record dies of it, as it always did
        assert process.returncode == -signal.SIGTERM
