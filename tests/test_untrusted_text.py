"""Text from the API's error bodies and from the ID file reaches etl_failures, etl_runs and stderr
storable on every database, and printable (issue 12)."""

from __future__ import annotations

import pytest

from etl.source.fake_api import Fault, error_body

from support import content_of, expected_batch_row, read_table


def failure_rows(database_url: str) -> list[dict]:
    """etl_failures without the columns a test cannot know (its id and time)."""
    return [
        {k: v for k, v in row.items() if k not in ("failure_id", "occurred_at")}
        for row in read_table(database_url, "etl_failures")
    ]


def loaded_batches(database_url: str) -> list[dict]:
    return [content_of(row) for row in read_table(database_url, "batches")]


def expected_rows(payloads: list[dict]) -> list[dict]:
    return sorted((expected_batch_row(p) for p in payloads), key=lambda row: row["batch_id"])


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
    assert loaded_batches(database_url) == expected_rows([b for b in batches if b["id"] != victim])
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
    assert loaded_batches(database_url) == expected_rows(batches)


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
