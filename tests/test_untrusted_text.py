"""Text from the API's error bodies and from the ID file reaches etl_failures, etl_runs and stderr
storable on every database, printable, and without any part of the token (issue 12)."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from etl.imitation.server import Fault, error_body

from conftest import TOKEN
from support import expected_batches, failure_rows, read_table, stored_batches


@pytest.mark.parametrize(
    ("detail", "shown"),
    [("nul \u0000 here", r"nul \x00 here"), ("lone \ud800 here", r"lone \ud800 here")],
    ids=["nul", "lone-surrogate"],
)
def test_an_error_detail_the_database_cannot_hold_fails_only_its_batch_escaped(
    database_url, run_sync, ids_file, api, batches, detail, shown
):
    # Issue 12, findings 3 and 4: the run ended as an internal error, or exit 3 on PostgreSQL.
    victim = batches[4]["id"]
    api.inject(victim, Fault.http(404, body=error_body(404, "NOT_FOUND", "Not found", detail)))

    result = run_sync(database_url, ids_file)

    assert result.exit_code == 1, result.output
    message = f"HTTP 404: not found or not visible to this token (Not found {shown} [NOT_FOUND])"
    assert failure_rows(database_url) == [
        {
            "run_id": 1,
            "batch_id": victim,
            "workspace_id": None,
            "dataset_id": None,
            "response_id": None,
            "input_line": None,
            "line_number": None,
            "stage": "fetch",
            "http_status": 404,
            "error_kind": "not_found",
            "field": None,
            "message": message,
        }
    ]
    assert (
        result.stderr
        == f"prolific-etl: error: batch {victim}: fetch failed (not_found): {message}\n"
    )
    assert stored_batches(database_url) == expected_batches(
        [b for b in batches if b["id"] != victim]
    )
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["inserted"], run["failed"]) == ("partial", 11, 1)


def test_an_id_line_with_a_nul_is_a_bad_line_shown_escaped(
    database_url, run_sync, tmp_path, api, batches
):
    # Issue 12, finding 4: PostgreSQL refused the raw NUL and the whole run failed with exit 3.
    ids = tmp_path / "ids.txt"
    ids.write_bytes(
        b"".join(f"{b['id']}\n".encode() for b in batches[:3])
        + b"abc\x00def\n"
        + b"".join(f"{b['id']}\n".encode() for b in batches[3:])
    )

    result = run_sync(database_url, ids)

    assert result.exit_code == 1, result.output
    message = f"{ids}:4: not a batch ID (UUID): 'abc\\x00def'"
    assert failure_rows(database_url) == [
        {
            "run_id": 1,
            "batch_id": None,
            "workspace_id": None,
            "dataset_id": None,
            "response_id": None,
            "input_line": r"abc\x00def",
            "line_number": 4,
            "stage": "input",
            "http_status": None,
            "error_kind": "bad_id_line",
            "field": None,
            "message": message,
        }
    ]
    assert result.stderr == f"prolific-etl: error: {message}\n"
    assert stored_batches(database_url) == expected_batches(batches)


def test_control_characters_in_an_error_detail_stay_on_one_visible_line(
    sqlite_url, run_sync, ids_file, api, batches
):
    # A detail could otherwise forge log lines, or send escape sequences to an operator's terminal.
    victim = batches[0]["id"]
    detail = "two\nlines\r\x1b[31mred\x07\u2028end"
    api.inject(victim, Fault.http(404, body=error_body(404, "NOT_FOUND", "Not found", detail)))

    result = run_sync(sqlite_url, ids_file)

    assert result.exit_code == 1, result.output
    escaped = r"two\nlines\r\x1b[31mred\x07\u2028end"
    (failure,) = failure_rows(sqlite_url)
    assert failure["message"] == (
        f"HTTP 404: not found or not visible to this token (Not found {escaped} [NOT_FOUND])"
    )
    assert result.stderr == (
        f"prolific-etl: error: batch {victim}: fetch failed (not_found): {failure['message']}\n"
    )


def _runs_of(token: str, length: int = 8) -> set[str]:
    return {token[i : i + length].lower() for i in range(len(token) - length + 1)}


def _holds_part_of(text: str, token: str) -> bool:
    decoded = urllib.parse.unquote_plus(text).lower()
    return any(run in text.lower() or run in decoded for run in _runs_of(token))


def _percent_encoded(text: str, every: int = 1, hex_format: str = "%{:02X}") -> str:
    return "".join(
        hex_format.format(ord(ch)) if i % every == 0 else ch for i, ch in enumerate(text)
    )


def test_no_echo_of_the_token_reaches_stderr_or_the_run_log(
    database_url, run_sync, ids_file, api, batches
):
    # Issue 12, finding 9: only an exact copy of the token was redacted.
    echoes = [
        f"token {TOKEN.upper()} is not valid",
        f"see ?token={_percent_encoded(TOKEN)}&x=1",
        f"token {TOKEN[:10]}... is not valid",
        f"see ?token={_percent_encoded(TOKEN.upper(), every=2, hex_format='%{:02x}')}+again",
        # Issue 23, item 6: encoded, reversed and split echoes reached the run log too.
        f"basic {base64.b64encode(f'user:{TOKEN}'.encode()).decode()} refused",
        f"hex {TOKEN.encode().hex()} refused",
        f"html {''.join(f'&#{ord(ch)};' for ch in TOKEN)} refused",
        f"reversed {TOKEN[::-1]} refused",
        f"split {chr(0x200B).join(TOKEN)} refused",
    ]
    for batch, detail in zip(batches, echoes, strict=False):
        api.inject(batch["id"], Fault.http(404, body=error_body(404, "ECHO", "Echo", detail)))

    result = run_sync(database_url, ids_file, "--verbose")

    assert result.exit_code == 1, result.output
    assert not _holds_part_of(result.output, TOKEN)
    for table in ("etl_failures", "etl_runs"):
        for row in read_table(database_url, table):
            for column, value in row.items():
                assert not _holds_part_of(str(value), TOKEN), (table, column, value)
    redacted = [
        "token *** is not valid",
        "see ?token=***&x=1",
        "token ***... is not valid",
        "see ?token=***+again",
        "basic *** refused",
        "hex *** refused",
        "html *** refused",
        "reversed *** refused",
        "split *** refused",
    ]
    messages = [
        f"HTTP 404: not found or not visible to this token (Echo {detail} [ECHO])"
        for detail in redacted
    ]
    assert [(f["batch_id"], f["message"]) for f in failure_rows(database_url)] == [
        (batch["id"], message) for batch, message in zip(batches, messages, strict=False)
    ]
    failed_lines = [line for line in result.stderr.splitlines() if "fetch failed" in line]
    assert failed_lines == [
        f"prolific-etl: error: batch {batch['id']}: fetch failed (not_found): {message}"
        for batch, message in zip(batches, messages, strict=False)
    ]


def test_a_rejected_token_echoed_back_is_not_shown(database_url, run_sync, ids_file, api, batches):
    detail = f"token {TOKEN.upper()[2:]} was revoked"
    api.inject(batches[0]["id"], Fault.http(401, body=error_body(401, "REVOKED", "No", detail)))

    result = run_sync(database_url, ids_file, "--concurrency", "1")

    assert result.exit_code == 3, result.output
    message = (
        "the API rejected the token (HTTP 401: No token *** was revoked [REVOKED]); "
        "check PROLIFIC_API_TOKEN"
    )
    assert f"prolific-etl: error: {message}\n" in result.stderr
    assert not _holds_part_of(result.output, TOKEN)
    (run,) = read_table(database_url, "etl_runs")
    assert (run["status"], run["error_message"]) == ("failed", message)


def test_no_echo_of_the_token_reaches_the_retry_log(sqlite_url, run_sync, ids_file, api, batches):
    detail = f"slow down, {TOKEN.upper()}"
    api.inject(batches[0]["id"], Fault.http(503, body=error_body(503, "BUSY", "Busy", detail)))

    result = run_sync(sqlite_url, ids_file, "--verbose")

    assert result.exit_code == 0, result.output
    assert "attempt 1 failed (HTTP 503: Busy slow down, *** [BUSY])" in result.stderr
    assert not _holds_part_of(result.output, TOKEN)
