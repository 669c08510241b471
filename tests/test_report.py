"""The morning report (`prolific-etl report`, `sync --report`): its tables hold exactly what the
database holds, on every database; an empty database gives a page that says so."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, insert

from etl.cli import main
from etl.reporting.report import build_report, write_report
from etl.reporting.report_data import READY_BUCKETS
from etl.reporting.report_html import RUN_COUNTS
from etl.store.db import connect
from etl.store.migrate import upgrade
from etl.store.schema import (
    batch_datasets,
    batch_status_history,
    batches,
    datasets,
    etl_failures,
    etl_runs,
)
from etl.store.schema import responses as response_table

from support import read_table

NOW = datetime(2025, 3, 10, 8, 15, tzinfo=timezone.utc)
DAYS = 7
UTC = timezone.utc


# --- reading the page back ---------------------------------------------------------------------


class _Page(HTMLParser):
    """The page's <title>, its visible text in order, and each table with an id, as cells."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: set[str] = set()
        self._where: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self._where.append(tag)
        if tag == "table" and "id" in attrs:
            self._table = attrs["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag):
        while self._where and self._where.pop() != tag:
            pass
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if "title" in self._where and "svg" not in self._where:
            self.title += data
        elif not {"style", "head", "svg"} & set(self._where) and data.strip():
            self.text.append(" ".join(data.split()))


def parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


def body_rows(parsed: _Page, table_id: str) -> list[list[str]]:
    """A table's rows without its header row."""
    return parsed.tables[table_id][1:]


def clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- a database with a week of history, written directly ----------------------------------------


def night(days_ago: int, minute: int = 30) -> datetime:
    return datetime(2025, 3, 10, 2, minute, tzinfo=UTC) - timedelta(days=days_ago)


SCRIPT_NAME = '<script>alert("name")</script> & co'


def fill_history(database_url: str) -> None:
    """Five nights: run 1 before the 7-day window, a partial run 3, a failed run 4, and run 5
    today (partial). Six batches move through their statuses across the nights."""
    engine = connect(database_url)
    upgrade(engine)
    runs = [
        (1, night(12), "succeeded", 60, None),
        (2, night(5), "succeeded", 75.5, None),
        (3, night(3), "partial", 90, None),
        (4, night(2), "failed", 1.25, "the API rejected the token (HTTP 401: Unauthorized)"),
        (5, night(0), "partial", 45, None),
    ]
    paths = {  # batch: [(run, status), ...]
        "a": [(1, "UNINITIALISED"), (2, "PROCESSING"), (3, "READY")],
        "b": [(2, "PROCESSING"), (5, "READY")],
        "c": [(3, "PROCESSING"), (5, "ERROR")],
        "d": [(1, "READY")],
        "e": [(5, "PROCESSING")],
        "f": [(3, "UNINITIALISED")],
    }
    started = {run_id: at for run_id, at, *_ in runs}
    batch_id = {key: f"00000000-0000-4000-8000-00000000000{key}" for key in paths}
    failures = [
        (3, "a", "fetch", "not_found", 404, 'batch not found <img src="x">'),
        (3, "b", "fetch", "not_found", 404, "batch not found"),
        (3, "c", "validate", "invalid_payload", None, "field 'name': <script>alert(1)</script>"),
        (5, "e", "fetch", "api_unavailable", 503, "HTTP 503 after 5 attempts"),
    ]
    changes = Counter()
    for path in paths.values():
        for i, (run_id, _) in enumerate(path):
            changes[(run_id, "inserted" if i == 0 else "updated")] += 1
    with engine.begin() as connection:
        connection.execute(
            insert(etl_runs),
            [
                {
                    "run_id": run_id,
                    "started_at": at,
                    "finished_at": at + timedelta(seconds=seconds),
                    "status": status,
                    "ids_read": 6,
                    "fetched": 0 if status == "failed" else 6,
                    "inserted": changes[(run_id, "inserted")],
                    "updated": changes[(run_id, "updated")],
                    "unchanged": 1,
                    "failed": sum(1 for f in failures if f[0] == run_id),
                    "retries": run_id,
                    "tool_version": "0.1.0",
                    "id_source": "batch_ids.txt",
                    "error_message": error,
                }
                for run_id, at, status, seconds, error in runs
            ],
        )
        connection.execute(
            insert(batches),
            [
                {
                    "batch_id": batch_id[key],
                    "name": SCRIPT_NAME if key == "f" else f"Batch {key}",
                    "status": path[-1][1],
                    "created_at": night(20),
                    "created_by": "user",
                    "workspace_id": "ws",
                    "schema_version": 3,
                    "total_task_count": 1,
                    "total_instruction_count": 1,
                    "total_task_groups": 1,
                    "task_name": "t",
                    "task_introduction": "",
                    "task_steps": "",
                    "content_hash": "0" * 64,
                    "first_seen_at": started[path[0][0]],
                    "last_changed_at": started[path[-1][0]],
                    "first_seen_run_id": path[0][0],
                    "last_changed_run_id": path[-1][0],
                }
                for key, path in paths.items()
            ],
        )
        connection.execute(
            insert(batch_status_history),
            [
                {
                    "batch_id": batch_id[key],
                    "old_status": path[i - 1][1] if i else None,
                    "new_status": status,
                    "observed_at": started[run_id] + timedelta(seconds=10),
                    "run_id": run_id,
                }
                for key, path in paths.items()
                for i, (run_id, status) in enumerate(path)
            ],
        )
        connection.execute(
            insert(datasets),
            [
                {
                    "dataset_id": f"10000000-0000-4000-8000-00000000000{n}",
                    "filename": name,
                    "total_datapoint_count": points,
                    "first_seen_at": night(12),
                    "last_changed_at": night(12),
                    "last_changed_run_id": 1,
                }
                for n, name, points in ((1, "shared.csv", 100), (2, "pair.csv", 20), (3, "x", 5))
            ],
        )
        connection.execute(
            insert(batch_datasets),
            [
                {"batch_id": batch_id[key], "dataset_id": f"10000000-0000-4000-8000-00000000000{n}"}
                for key, n in (("a", 1), ("b", 1), ("c", 1), ("a", 2), ("d", 2), ("e", 3))
            ],
        )
        connection.execute(
            insert(etl_failures),
            [
                {
                    "run_id": run_id,
                    "batch_id": batch_id[key],
                    "stage": stage,
                    "error_kind": kind,
                    "http_status": http,
                    "message": message,
                    "occurred_at": started[run_id] + timedelta(seconds=20),
                }
                for run_id, key, stage, kind, http, message in failures
            ],
        )
    engine.dispose()


@pytest.fixture
def history(database_url: str) -> str:
    fill_history(database_url)
    return database_url


# --- what the tables must hold, worked out from the rows ---------------------------------------


def expected_status_days(database_url: str) -> list[list[str]]:
    """Per day of the window, newest first: each batch's last status seen by the day's end,
    for the batches not yet found removed upstream by then."""
    rows = sorted(
        read_table(database_url, "batch_status_history"),
        key=lambda r: (r["observed_at"], r["history_id"]),
    )
    removed = {
        b["batch_id"]: b["removed_upstream_at"]
        for b in read_table(database_url, "batches")
        if b["removed_upstream_at"] is not None
    }
    first_day = NOW.date() - timedelta(days=DAYS - 1)
    table = []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        latest = {r["batch_id"]: r["new_status"] for r in rows if r["observed_at"] < end}
        latest = {b: s for b, s in latest.items() if b not in removed or removed[b] >= end}
        counts = Counter(latest.values())
        statuses = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")
        table.append(
            [day.isoformat(), *(str(counts[s]) for s in statuses), str(sum(counts.values()))]
        )
    return table[::-1]


def expected_ready_buckets(database_url: str) -> list[list[str]]:
    """From each batch's first PROCESSING to the first READY after it, when in the window."""
    since = datetime.combine(NOW.date() - timedelta(days=DAYS - 1), datetime.min.time(), UTC)
    by_batch: dict[str, list[dict]] = {}
    for row in read_table(database_url, "batch_status_history"):
        by_batch.setdefault(row["batch_id"], []).append(row)
    seconds = []
    for rows in by_batch.values():
        rows.sort(key=lambda r: r["observed_at"])
        start = next((r["observed_at"] for r in rows if r["new_status"] == "PROCESSING"), None)
        end = next(
            (
                r
                for r in rows
                if start and r["observed_at"] > start and r["new_status"] in ("READY", "ERROR")
            ),
            None,
        )
        if end is not None and end["new_status"] == "READY" and end["observed_at"] >= since:
            seconds.append((end["observed_at"] - start).total_seconds())
    counts = Counter(next(label for label, top in READY_BUCKETS if s < top) for s in seconds)
    total = len(seconds)
    return [
        [label, str(counts[label]), f"{100 * counts[label] / total:.0f}%"]
        for label, _ in READY_BUCKETS
    ]


# --- the tests -----------------------------------------------------------------------------------


def test_runs_table_lists_each_run_of_the_window_with_its_exact_counts(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    stored = [
        r
        for r in read_table(history, "etl_runs")
        if r["started_at"] >= datetime(2025, 3, 4, tzinfo=UTC)
    ]
    assert body_rows(page, "runs-table") == [
        [
            str(r["run_id"]),
            r["status"],
            clock(r["started_at"]),
            f"{(r['finished_at'] - r['started_at']).total_seconds():.1f}",
            *(
                str(r[c])
                for c in ("ids_read", "fetched", "inserted", "updated", "unchanged", "failed")
            ),
            str(r["retries"]),
            r["error_message"] or "",
        ]
        for r in sorted(stored, key=lambda r: -r["run_id"])
    ]
    assert [row[0] for row in body_rows(page, "runs-table")] == ["5", "4", "3", "2"]
    assert [row[:2] for row in body_rows(page, "troubled-runs")] == [
        ["5", "partial"],
        ["4", "failed"],
        ["3", "partial"],
    ]


def test_the_last_run_leads_the_page_as_etl_runs_holds_it(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    last = read_table(history, "etl_runs")[-1]
    expected = (
        f"⚠ Run 5 partial: {last['inserted']} inserted, {last['updated']} updated, "
        f"{last['unchanged']} unchanged, {last['failed']} failed"
    )
    assert page.title == expected
    assert page.text[0] == expected  # the first line a mail client previews
    fields = dict(page.tables["run"])
    assert fields == {
        "run": "5",
        "status": "partial",
        "started (UTC)": clock(last["started_at"]),
        "finished (UTC)": clock(last["finished_at"]),
        "duration (s)": "45.0",
        **{c: str(last[c]) for c in RUN_COUNTS},
        "error": "",
        "batches from": "batch_ids.txt",
        "version": "0.1.0",
    }
    assert body_rows(page, "run-failures") == [
        ["fetch", "api_unavailable", "503", "1", "HTTP 503 after 5 attempts"]
    ]


def test_failures_of_the_window_are_counted_by_kind(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    assert body_rows(page, "window-failures") == [
        ["fetch", "not_found", "404", "2", "1", "batch not found"],
        ["fetch", "api_unavailable", "503", "1", "1", "HTTP 503 after 5 attempts"],
        ["validate", "invalid_payload", "", "1", "1", "field 'name': <script>alert(1)</script>"],
    ]


def test_batches_per_status_per_day_follow_the_status_history(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    assert body_rows(page, "status-days") == expected_status_days(history)
    assert body_rows(page, "status-days")[0] == ["2025-03-10", "1", "1", "3", "1", "6"]


def test_time_to_ready_counts_each_batch_that_became_ready_in_the_window(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    assert body_rows(page, "ready-times") == expected_ready_buckets(history)
    assert [row[:2] for row in body_rows(page, "ready-times") if row[1] != "0"] == [
        ["2–3 d", "1"],  # a: PROCESSING 5 nights ago, READY 3 nights ago
        ["3–7 d", "1"],  # b: PROCESSING 5 nights ago, READY tonight
    ]
    assert "1 batch is still PROCESSING" in " ".join(page.text)


def test_datasets_listed_by_several_batches_are_counted(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    links = Counter(row["dataset_id"] for row in read_table(history, "batch_datasets"))
    stored = {row["dataset_id"]: row for row in read_table(history, "datasets")}
    assert body_rows(page, "datasets-table") == [
        [stored[d]["filename"], str(n), str(stored[d]["total_datapoint_count"]), d]
        for d, n in sorted(links.items(), key=lambda item: (-item[1], item[0]))
        if n >= 2
    ]


def test_text_from_the_database_is_escaped(history):
    page = build_report(history, days=DAYS, now=NOW)

    assert "<script" not in page
    assert "field &#39;name&#39;: &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_every_chart_is_inline_svg_and_nothing_is_fetched(history):
    page = build_report(history, days=DAYS, now=NOW)

    # Batches per status, time to ready, run durations, changes per run, datasets reused.
    assert page.count('<svg class="chart"') == 5
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page


def test_responses_appear_only_when_the_table_has_rows(history):
    assert "responses-per-day" not in parse(build_report(history, days=DAYS, now=NOW)).ids

    answers = [  # (batch, days ago, hour)
        ("a", 0, 1),
        ("a", 1, 5),
        ("a", 1, 23),
        ("b", 1, 0),
        ("d", 3, 12),
        ("d", 30, 12),  # outside the window, but counted per batch
        ("d", 2, 12),  # removed upstream: not counted anywhere
    ]
    engine = create_engine(history)
    with engine.begin() as connection:
        connection.execute(
            insert(response_table),
            [
                {
                    "response_id": f"00000000-0000-4000-9000-{i:012d}",
                    "batch_id": f"00000000-0000-4000-8000-00000000000{key}",
                    "task_id": "t",
                    "participant_id": "p",
                    "instruction_id": "i",
                    "response_type": "free_text",
                    "answer": [{"value": "x"}],
                    "content_hash": "h",
                    "created_at": datetime(2025, 3, 10, hour, tzinfo=timezone.utc)
                    - timedelta(days=ago),
                    "removed_upstream_at": NOW if i == 6 else None,
                    "first_seen_at": NOW,
                    "last_changed_at": NOW,
                    "last_changed_run_id": 1,
                }
                for i, (key, ago, hour) in enumerate(answers)
            ],
        )
    engine.dispose()
    page = parse(build_report(history, days=DAYS, now=NOW))

    assert body_rows(page, "responses-per-day") == [
        ["2025-03-10", "1"],
        ["2025-03-09", "3"],
        ["2025-03-07", "1"],
    ]
    assert body_rows(page, "responses-per-batch") == [
        ["Batch a", "3", "00000000-0000-4000-8000-00000000000a"],
        ["Batch d", "2", "00000000-0000-4000-8000-00000000000d"],
        ["Batch b", "1", "00000000-0000-4000-8000-00000000000b"],
    ]


def test_an_empty_database_gives_a_page_that_says_nothing_yet(database_url, tmp_path):
    engine = connect(database_url)
    upgrade(engine)  # the tables, and no run
    engine.dispose()
    output = tmp_path / "report.html"

    result = CliRunner().invoke(
        main, ["report", "--output", str(output), "--database-url", database_url]
    )

    assert result.exit_code == 0, result.output
    assert result.output == f"report written to {output}\n"
    page = parse(output.read_text(encoding="utf-8"))
    assert page.title == "– Nothing yet: no run is recorded in this database"
    assert page.text[0] == page.title
    assert "nothing-yet" in page.ids and not page.tables


def test_a_missing_sqlite_file_is_reported_as_nothing_yet_and_not_created(tmp_path):
    database = tmp_path / "none.db"
    page = parse(build_report(f"sqlite:///{database}", now=NOW))

    assert page.title.startswith("– Nothing yet")
    assert not database.exists()


def test_report_to_stdout(history):
    result = CliRunner().invoke(main, ["report", "-o", "-", "--database-url", history])

    assert result.exit_code == 0
    assert parse(result.output).title.startswith("⚠ Run 5 partial")


def test_an_unwritable_report_exits_2_and_leaves_nothing_behind(history, tmp_path):
    directory = tmp_path / "reports"
    directory.mkdir()
    (directory / "r.html").mkdir()  # a directory where the file should go

    result = CliRunner().invoke(
        main, ["report", "-o", str(directory / "r.html"), "--database-url", history]
    )

    assert result.exit_code == 2
    assert "cannot write the report" in result.output
    assert [p.name for p in directory.iterdir()] == ["r.html"]
    assert (directory / "r.html").is_dir()


def test_write_report_replaces_the_file_whole(history, tmp_path):
    directory = tmp_path / "reports"
    directory.mkdir()
    output = directory / "report.html"
    output.write_text("yesterday's report")

    write_report(output, history, days=DAYS, now=NOW)

    assert output.read_text(encoding="utf-8") == build_report(history, days=DAYS, now=NOW)
    assert [p.name for p in directory.iterdir()] == ["report.html"]


# --- sync --report -------------------------------------------------------------------------------


def test_sync_report_after_a_failed_run_says_so_first(database_url, run_sync, ids_file, tmp_path):
    output = tmp_path / "morning.html"

    result = run_sync(database_url, ids_file, "--report", str(output), token="not-the-token")

    assert result.exit_code == 3
    run = read_table(database_url, "etl_runs")[-1]
    assert run["status"] == "failed"
    page = parse(output.read_text(encoding="utf-8"))
    assert page.title.startswith(f"✗ Run {run['run_id']} failed: 0 inserted, 0 updated")
    assert run["error_message"][:60] in page.title
    assert page.text[0] == page.title


def test_sync_report_after_a_run_that_loaded_everything(database_url, run_sync, ids_file, tmp_path):
    output = tmp_path / "morning.html"

    result = run_sync(database_url, ids_file, "--report", str(output))

    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # the summary line alone
    run = read_table(database_url, "etl_runs")[-1]
    page = parse(output.read_text(encoding="utf-8"))
    assert page.title == (
        f"✓ Run {run['run_id']} succeeded: {run['inserted']} inserted, 0 updated, "
        "0 unchanged, 0 failed"
    )
    assert run["inserted"] == 12


def test_sync_that_did_not_run_says_so_in_its_report(sqlite_url, run_sync, tmp_path):
    output = tmp_path / "morning.html"

    result = run_sync(sqlite_url, tmp_path / "missing.txt", "--report", str(output))

    assert result.exit_code == 2
    page = parse(output.read_text(encoding="utf-8"))
    assert page.title.startswith("✗ Sync did not run: ")
    assert "missing.txt" in page.title
    assert "nothing-yet" in page.ids


def test_a_report_that_cannot_be_written_keeps_the_runs_exit_code(
    sqlite_url, run_sync, ids_file, tmp_path
):
    output = tmp_path / "no-such-dir" / "morning.html"

    result = run_sync(sqlite_url, ids_file, "--report", str(output))

    assert result.exit_code == 0
    assert "the report was not written: cannot write the report" in result.stderr
    assert [r["status"] for r in read_table(sqlite_url, "etl_runs")] == ["succeeded"]
    assert not output.parent.exists()


def test_sync_report_with_dry_run_is_a_usage_error(sqlite_url, run_sync, ids_file, tmp_path):
    result = run_sync(sqlite_url, ids_file, "--dry-run", "--report", str(tmp_path / "r.html"))

    assert result.exit_code == 2
    assert "--report and --dry-run cannot be used together" in result.output
    assert not (tmp_path / "r.html").exists()


def test_demo_writes_the_report_of_its_nights_and_prints_its_path(tmp_path):
    database = tmp_path / "demo.db"
    args = ["demo", "--database", str(database), "--batches", "20", "--nights", "4"]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    report = tmp_path / "demo.html"
    assert f"The morning report is in {report}" in result.output
    page = parse(report.read_text(encoding="utf-8"))
    runs = read_table(f"sqlite:///{database}", "etl_runs")
    assert page.title.startswith("⚠ Run 4 partial")  # the batch deleted upstream, on purpose
    # Issue 15: one night showed nothing over time; each night is a day of its own.
    assert [row[:2] for row in body_rows(page, "runs-table")] == [
        [str(run["run_id"]), run["status"]] for run in reversed(runs)
    ]
    days = [row[0] for row in body_rows(page, "status-days")]
    assert days == sorted({clock(run["started_at"])[:10] for run in runs}, reverse=True)
    assert len(days) == 4


# Issue 23, item 9: on a read-only file system, removing the partial file (which was never
# created) failed too, with EROFS, and the command ended in a traceback (exit 1).
def test_a_report_onto_a_read_only_file_system_exits_2_without_a_traceback(history, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    directory = tmp_path / "reports"
    directory.mkdir()
    mount = f"mount --bind {directory} {directory} && mount -o remount,ro,bind {directory}"
    namespace = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c"]
    if subprocess.run([*namespace, mount], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only file system in a user namespace here")
    repo = Path(__file__).resolve().parent.parent
    command = f'{mount} && exec "$@"'
    completed = subprocess.run(
        [
            *namespace,
            command,
            "sh",
            sys.executable,
            "-m",
            "etl",
            "report",
            "-o",
            str(directory / "r.html"),
            "--database-url",
            history,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
        timeout=120,
    )

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith(
        f"prolific-etl: error: cannot write the report to {directory / 'r.html'}: "
        "Read-only file system"
    )
    assert "Traceback" not in completed.stderr
    assert list(directory.iterdir()) == []
