"""What a sync run shows: a progress bar on a terminal only, --quiet, JSON log lines, and the
library's progress callback (issue #6)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from etl.cli import main
from etl.config import Settings
from etl.imitation.server import Fault, dataset_key, iter_sample_responses
from etl.job import Progress, sync

from conftest import TOKEN

REPO = Path(__file__).resolve().parent.parent
BAR_MARKS = ("it/s", "batches/s", "%|", "\r")


def _cli_env(api, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PROLIFIC_API_TOKEN": TOKEN,
        "PROLIFIC_API_URL": api.url,
        "DATABASE_URL": database_url,
    }


def _sync_command(ids_file: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "etl", "sync", "--ids", str(ids_file), *extra]


def _run_with_stderr_on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``command`` with stderr on a pseudo-terminal (100 columns); return code, out, err."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every holder of the terminal's other side has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(), stdout, b"".join(chunks).decode()


def test_a_terminal_gets_a_progress_bar_with_counts_and_rate(api, ids_file, sqlite_url):
    code, stdout, stderr = _run_with_stderr_on_a_terminal(
        _sync_command(ids_file), _cli_env(api, sqlite_url)
    )
    assert code == 0, stderr
    assert stdout.startswith("run 1 succeeded: 12 ids, 12 fetched, 12 inserted")
    final = stderr.replace("\r\n", "\n").split("\r")[-1]  # the bar's last drawing
    assert "100%" in final and "12/12" in final and "batches/s" in final
    assert "12 inserted, 0 updated, 0 unchanged, 0 failed" in final


def test_a_pipe_gets_no_progress_bar(api, ids_file, sqlite_url, batches):
    api.inject(batches[3]["id"], Fault.http(404))
    process = subprocess.run(
        _sync_command(ids_file),
        env=_cli_env(api, sqlite_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert process.returncode == 1
    assert process.stdout.startswith("run 1 partial: 12 ids, 11 fetched, 11 inserted")
    assert process.stderr.splitlines() == [
        f"prolific-etl: error: batch {batches[3]['id']}: fetch failed (not_found): "
        "HTTP 404: not found or not visible to this token (Injected fault Status 404. [INJECTED])"
    ]
    for mark in BAR_MARKS:
        assert mark not in process.stderr


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_json_logs_carry_run_and_batch_ids_and_durations(
    run_sync, sqlite_url, ids_file, batches, api
):
    api_ids = {batch["id"] for batch in batches}
    api.inject(batches[0]["id"], Fault.http(503))
    first = run_sync(sqlite_url, ids_file, "--log-format", "json", "-v")
    second = run_sync(sqlite_url, ids_file, "--log-format", "json", "-v")
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert second.stdout.startswith("run 2 succeeded: 12 ids, 12 fetched, 0 inserted")

    retry = _json_lines(first.stderr).pop(1)
    assert (retry["event"], retry["batch_id"], retry["attempt"]) == ("retry", batches[0]["id"], 1)
    assert retry["run_id"] == 1 and retry["level"] == "info" and retry["wait"] >= 0

    for run_id, result, outcome in ((1, first, "batch_inserted"), (2, second, "batch_unchanged")):
        events = [
            e for e in _json_lines(result.stderr) if e["event"] not in ("retry", "dataset_details")
        ]
        assert [e["event"] for e in events] == ["run_started", *[outcome] * 12, "run_finished"]
        for event in events:
            assert event["run_id"] == run_id
            assert event["ts"].endswith("Z") and "T" in event["ts"]
            assert event["level"] == "info" and event["message"]
        per_batch = events[1:-1]
        assert Counter(e["batch_id"] for e in per_batch) == Counter(api_ids)
        for event in per_batch:
            assert isinstance(event["duration"], float) and event["duration"] >= 0
        assert events[0]["ids_read"] == 12
        finished = events[-1]
        assert finished["message"] == result.stdout.strip()
        assert finished["status"] == "succeeded" and finished["duration"] >= 0
        assert finished["fetched"] == 12 and finished["failed"] == 0
        assert finished["retries"] == (1 if run_id == 1 else 0)
        assert (finished["inserted"], finished["unchanged"]) == (
            (12, 0) if run_id == 1 else (0, 12)
        )


def test_json_failures_name_kind_stage_status_and_field(
    run_sync, sqlite_url, ids_file, batches, api
):
    api.inject(batches[0]["id"], Fault.http(404))
    broken = dict(batches[1], datasets=[{"id": "not-a-uuid", "name": "x"}])
    api.put_batch(broken)
    ids_file.write_text("nope\n" + ids_file.read_text())
    result = run_sync(sqlite_url, ids_file, "--log-format", "json")
    assert result.exit_code == 1
    events = _json_lines(result.stderr)
    assert [e["event"] for e in events] == [
        "run_started",
        "bad_id_line",
        "batch_failed",
        "batch_failed",
        "run_finished",
    ]
    bad_line, not_found, invalid = events[1:4]
    assert (bad_line["line_number"], bad_line["batch_id"], bad_line["run_id"]) == (1, None, 1)
    assert (bad_line["error_kind"], bad_line["stage"]) == ("bad_id_line", "input")
    assert not_found["batch_id"] == batches[0]["id"] and not_found["level"] == "error"
    assert (not_found["error_kind"], not_found["stage"]) == ("not_found", "fetch")
    assert (not_found["http_status"], not_found["field"]) == (404, None)
    assert invalid["batch_id"] == batches[1]["id"]
    assert (invalid["error_kind"], invalid["stage"]) == ("invalid_payload", "validate")
    assert invalid["field"] == "datasets[0].id" and invalid["http_status"] is None
    assert all(e["duration"] >= 0 for e in events[2:])
    finished = events[-1]
    assert (finished["status"], finished["failed"], finished["inserted"]) == ("partial", 3, 10)
    assert result.stdout.startswith("run 1 partial: 12 ids, 11 fetched, 10 inserted")


# Issue 23, item 10: a dataset's failure was logged as "bad_id_line", without its dataset_id.
def test_json_a_datasets_failure_names_the_dataset(run_sync, sqlite_url, ids_file, batches, api):
    dataset_id = batches[0]["datasets"][0]["id"]
    api.inject(dataset_key(dataset_id), Fault.http(404))

    result = run_sync(sqlite_url, ids_file, "--log-format", "json")

    assert result.exit_code == 1, result.output
    (failed,) = [e for e in _json_lines(result.stderr) if e["event"].endswith("_failed")]
    assert (failed["event"], failed["dataset_id"], failed["batch_id"]) == (
        "dataset_failed",
        dataset_id,
        None,
    )
    assert (failed["error_kind"], failed["stage"], failed["http_status"]) == (
        "not_found",
        "dataset",
        404,
    )
    assert failed["subject"] == f"dataset {dataset_id}"


def test_json_id_file_without_a_valid_id_lists_its_lines(run_sync, sqlite_url, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("foo\nbar\n")
    result = run_sync(sqlite_url, ids, "--log-format", "json")
    assert result.exit_code == 2
    events = _json_lines(result.stderr)
    assert [(e["event"], e.get("line_number"), e["exit_code"]) for e in events] == [
        ("bad_id_line", 1, 2),
        ("bad_id_line", 2, 2),
        ("error", None, 2),
    ]
    assert events[0]["message"] == f"{ids}:1: not a batch ID (UUID): 'foo'"
    assert result.stdout == ""


def test_json_fatal_errors_are_json_too(run_sync, sqlite_url, ids_file):
    result = run_sync(sqlite_url, ids_file, "--log-format", "json", token="wrong-token")
    assert result.exit_code == 3
    events = _json_lines(result.stderr)
    assert [e["event"] for e in events] == ["run_started", "run_finished", "error"]
    assert events[1]["status"] == "failed"
    assert events[2]["exit_code"] == 3 and events[2]["run_id"] == 1
    assert "rejected the token" in events[2]["message"]


def test_quiet_prints_only_the_summary_on_a_clean_run(run_sync, sqlite_url, ids_file):
    result = run_sync(sqlite_url, ids_file, "--quiet")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith("run 1 succeeded: 12 ids, 12 fetched, 12 inserted")


def test_quiet_prints_only_errors_besides_the_summary(run_sync, sqlite_url, ids_file, batches, api):
    api.inject(batches[5]["id"], Fault.http(404))
    result = run_sync(sqlite_url, ids_file, "--quiet")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"prolific-etl: error: batch {batches[5]['id']}: fetch failed (not_found): "
        "HTTP 404: not found or not visible to this token (Injected fault Status 404. [INJECTED])"
    ]
    assert result.stdout.startswith("run 1 partial: 12 ids, 11 fetched, 11 inserted")


def test_quiet_json_keeps_errors_and_run_finished(run_sync, sqlite_url, ids_file, batches, api):
    api.inject(batches[5]["id"], Fault.http(404))
    result = run_sync(sqlite_url, ids_file, "--quiet", "--log-format", "json")
    events = _json_lines(result.stderr)
    assert [(e["event"], e.get("batch_id")) for e in events] == [
        ("batch_failed", batches[5]["id"]),
        ("run_finished", None),
    ]


def test_default_text_output_shows_no_run_events(run_sync, sqlite_url, ids_file):
    result = run_sync(sqlite_url, ids_file)
    assert result.stderr == ""
    verbose = run_sync(sqlite_url, ids_file, "-v")
    lines = [  # datasets still in flight are asked again (README, "fetched when due")
        line
        for line in verbose.stderr.splitlines()
        if not re.fullmatch(r"prolific-etl: fetching the details of \d+ dataset\(s\)", line)
    ]
    assert lines[0] == f"prolific-etl: run 2 started: 12 batch ids from {ids_file}"
    assert len(lines) == 13 and all(line.endswith(" unchanged") for line in lines[1:])


def test_on_progress_tells_a_batchs_outcome_once_whatever_fails_after_it(
    api, batches, ids_file, database_url
):
    # A response of a stored batch that fails is the run's failure, not a second outcome of
    # the batch: the counts stayed past the total before.
    batch_id = batches[2]["id"]
    records = list(iter_sample_responses(batch_id, 3))
    records[1]["participant_id"] = 42
    api.put_responses(batch_id, records)
    settings = Settings(api_token=TOKEN, api_url=api.url, database_url=database_url)
    seen: list[Progress] = []

    result = sync(settings, str(ids_file), responses=True, on_progress=seen.append)

    assert (result.status, result.failed, result.responses_inserted) == ("partial", 1, 2)
    outcomes = [p for p in seen if p.outcome != "fetched"]
    assert Counter(p.batch_id for p in outcomes) == Counter(b["id"] for b in batches)
    last = seen[-1]
    assert (last.done, last.total, last.inserted, last.failed) == (12, 12, 12, 0)


def test_quiet_and_verbose_together_are_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["sync", "--ids", "ids.txt", "--quiet", "--verbose"])
    assert result.exit_code == 2
    assert "--quiet and --verbose cannot be used together" in result.stderr
    assert not (tmp_path / "prolific.db").exists()


def test_on_progress_tells_each_fetch_and_each_outcome(api, batches, ids_file, database_url):
    api.inject(batches[4]["id"], Fault.http(404))
    settings = Settings(api_token=TOKEN, api_url=api.url, database_url=database_url)
    seen: list[Progress] = []
    result = sync(settings, str(ids_file), chunk_size=5, on_progress=seen.append)
    assert result.status == "partial"
    fetches = [p for p in seen if p.outcome == "fetched"]
    outcomes = [p for p in seen if p.outcome != "fetched"]
    # The bar moves with each fetch, not with each chunk's commit (issue 12).
    assert [p.fetched for p in fetches] == list(range(1, 13))
    assert [p.done for p in outcomes] == list(range(1, 13))
    assert {p.total for p in seen} == {12}
    for kind in (fetches, outcomes):
        assert Counter(p.batch_id for p in kind) == Counter(b["id"] for b in batches)
    assert Counter(p.outcome for p in outcomes) == {"inserted": 11, "failed": 1}
    failed = next(p for p in outcomes if p.outcome == "failed")
    assert failed.batch_id == batches[4]["id"]
    last = seen[-1]
    assert (last.inserted, last.updated, last.unchanged, last.failed) == (11, 0, 0, 1)
    for progress in seen:
        assert progress.inserted + progress.updated + progress.unchanged + progress.failed == (
            progress.done
        )
        assert progress.done <= progress.fetched
    # Each batch's fetch is told before its outcome.
    for batch in batches:
        kinds = [p.outcome == "fetched" for p in seen if p.batch_id == batch["id"]]
        assert kinds == [True, False]

    again: list[Progress] = []
    sync(settings, str(ids_file), on_progress=again.append)
    outcomes = Counter(p.outcome for p in again if p.outcome != "fetched")
    assert outcomes == {"unchanged": 11, "inserted": 1}  # the 404 was once
