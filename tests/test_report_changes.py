"""The morning report answers "what changed since yesterday" by batch name (issue #25): the
run's new, changed and removed batches and status moves, its new responses, stuck and removed
batches, failures by batch name, current counts without removed batches, and label quality
read from the agreement views when the database has them.

Label quality (label_agreement, annotator_agreement, read through v_agreement) is computed by
sync --responses and tested in test_label_quality.py; here its rows are written by hand.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, insert, select, update
from test_report import (
    DAYS,
    NOW,
    body_rows,
    clock,
    expected_status_days,
    fill_history,
    night,
    parse,
)
from test_views import QUERIES, read_view, run_query

from etl.cli import main
from etl.reporting.report import build_report
from etl.store.change_views import v_changes_last_run
from etl.store.label_quality import annotator_agreement, label_agreement
from etl.store.schema import batches as batch_table
from etl.store.schema import etl_runs
from etl.store.schema import responses as response_table

from support import read_table

LAST_RUN = 5
REMOVED = "00000000-0000-4000-8000-00000000000d"


def bid(key: str) -> str:
    return f"00000000-0000-4000-8000-00000000000{key}"


@pytest.fixture
def history(database_url: str) -> str:
    """The week of test_report, and in run 5: batch d found removed upstream, two responses of
    batch a stored new, one of batch b stored in run 2."""
    fill_history(database_url)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            update(batch_table)
            .where(batch_table.c.batch_id == REMOVED)
            .values(removed_upstream_at=night(0) + timedelta(seconds=30))
        )
        connection.execute(
            insert(response_table),
            [
                {
                    "response_id": f"00000000-0000-4000-9000-{i:012d}",
                    "batch_id": bid(key),
                    "task_id": f"t{i}",
                    "participant_id": participant,
                    "instruction_id": "i",
                    "response_type": "free_text",
                    "answer": [{"value": "x"}],
                    "content_hash": "h",
                    "created_at": seen,
                    "first_seen_at": seen,
                    "last_changed_at": seen,
                    "last_changed_run_id": run,
                }
                for i, (key, participant, seen, run) in enumerate(
                    [
                        ("a", "p1", night(0, 31), LAST_RUN),
                        ("a", "p2", night(0, 32), LAST_RUN),
                        ("b", "p1", night(5, 31), 2),
                    ]
                )
            ],
        )
    engine.dispose()
    return database_url


def expected_changes(database_url: str) -> list[list[str]]:
    """Worked out from the stored rows: each batch the last run touched, removed first, then
    new, changed, and those whose responses alone moved; by name within each."""
    runs = {r["run_id"]: r for r in read_table(database_url, "etl_runs")}
    started = runs[LAST_RUN]["started_at"]
    moves = {
        h["batch_id"]: h
        for h in read_table(database_url, "batch_status_history")
        if h["run_id"] == LAST_RUN and h["old_status"] is not None
    }
    new_responses = {}
    for r in read_table(database_url, "responses"):
        if r["first_seen_at"] >= started:
            new_responses[r["batch_id"]] = new_responses.get(r["batch_id"], 0) + 1
    rows = []
    for b in read_table(database_url, "batches"):
        if b["first_seen_run_id"] == LAST_RUN:
            change = "new"
        elif b["removed_upstream_at"] is not None and b["removed_upstream_at"] >= started:
            change = "removed"
        elif b["last_changed_run_id"] == LAST_RUN:
            change = "changed"
        elif b["batch_id"] in moves or b["batch_id"] in new_responses:
            change = "unchanged"
        else:
            continue
        move = moves.get(b["batch_id"])
        status = f"{move['old_status']} → {move['new_status']}" if move else b["status"]
        n = new_responses.get(b["batch_id"], 0)
        rows.append(
            (change, b["name"], [f"{b['name']} {b['batch_id']}", change, status, str(n), "0"])
        )
    order = {"removed": 0, "new": 1, "changed": 2, "unchanged": 3}
    return [row for _, _, row in sorted(rows, key=lambda r: (order[r[0]], r[1].lower()))]


def test_what_the_last_run_changed_is_listed_by_batch_name(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    assert body_rows(page, "changes-table") == expected_changes(history)
    assert body_rows(page, "changes-table") == [
        ["Batch d " + bid("d"), "removed", "READY", "0", "0"],
        ["Batch e " + bid("e"), "new", "PROCESSING", "0", "0"],
        ["Batch b " + bid("b"), "changed", "PROCESSING → READY", "0", "0"],
        ["Batch c " + bid("c"), "changed", "PROCESSING → ERROR", "0", "0"],
        ["Batch a " + bid("a"), "unchanged", "READY", "2", "0"],
    ]
    text = " ".join(page.text)
    assert "1 new batches 2 changed batches 1 removed upstream 2 status moves 2 new responses" in (
        text
    )


def test_v_changes_last_run_holds_what_the_report_shows(history):
    rows = read_view(history, v_changes_last_run, "batch_id")

    assert [
        (r["batch_id"], r["change_type"], r["old_status"], r["new_status"], r["new_responses"])
        for r in rows
    ] == [
        (bid("a"), "unchanged", None, None, 2),
        (bid("b"), "changed", "PROCESSING", "READY", 0),
        (bid("c"), "changed", "PROCESSING", "ERROR", 0),
        (bid("d"), "removed", None, None, 0),
        (bid("e"), "new", None, None, 0),
    ]
    assert {r["run_id"] for r in rows} == {LAST_RUN}
    assert [(r[0], r[1]) for r in run_query(history, "what_changed_since_yesterday")] == [
        ("removed", "Batch d"),
        ("new", "Batch e"),
        ("changed", "Batch b"),
        ("changed", "Batch c"),
        ("unchanged", "Batch a"),
    ]


def test_who_answered_most_counts_responses_still_upstream(history):
    rows = run_query(history, "who_answered_most")

    assert [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows] == [
        ("p1", 2, 2, 2),  # batches a and b
        ("p2", 1, 1, 1),
    ]
    assert (QUERIES / "who_answered_most.sql").read_text().startswith("-- Who answered most")


def test_current_counts_leave_out_removed_batches_and_name_them(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    stored = read_table(history, "batches")
    current = [b for b in stored if b["removed_upstream_at"] is None]
    gone = [b for b in stored if b["removed_upstream_at"] is not None]
    html = build_report(history, days=DAYS, now=NOW)
    assert f'id="batches-now">{len(current)}<' in html and len(current) == 5
    assert f'id="batches-removed">{len(gone)}<' in html
    ready = sum(1 for b in current if b["status"] == "READY")
    assert f'</span> {ready}</div><div class="name">READY' in html and ready == 2
    assert body_rows(page, "removed-batches") == [
        [f"{b['name']} {b['batch_id']}", b["status"], clock(b["removed_upstream_at"])] for b in gone
    ]


def test_a_batch_removed_upstream_leaves_the_status_days_when_found_gone(history):
    # Issue #25: current counts leave out removed batches, the day-by-day ones included.
    page = parse(build_report(history, days=DAYS, now=NOW))

    days = body_rows(page, "status-days")
    assert days == expected_status_days(history)
    stored = read_table(history, "batches")
    statuses = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")
    current = [b for b in stored if b["removed_upstream_at"] is None]
    today = [NOW.date().isoformat()]
    today += [str(sum(1 for b in current if b["status"] == s)) for s in statuses]
    assert days[0] == [*today, str(len(current))] == ["2025-03-10", "1", "1", "2", "1", "5"]
    # The day before, batch d was still upstream: counted with every batch seen by then.
    midnight = datetime.combine(NOW.date(), time.min, tzinfo=timezone.utc)
    history_rows = read_table(history, "batch_status_history")
    seen = {h["batch_id"] for h in history_rows if h["observed_at"] < midnight}
    assert REMOVED in seen and days[1][-1] == str(len(seen)) == "5"


def test_batches_processing_for_more_than_a_day_are_named_as_stuck(history):
    assert "stuck-batches" not in parse(build_report(history, days=DAYS, now=NOW)).ids

    later = NOW + timedelta(days=2)
    page = parse(build_report(history, days=DAYS, now=later))

    entered = {
        h["batch_id"]: h["observed_at"]
        for h in sorted(read_table(history, "batch_status_history"), key=lambda h: h["history_id"])
    }
    processing = [
        b
        for b in read_table(history, "batches")
        if b["status"] == "PROCESSING" and b["removed_upstream_at"] is None
    ]
    assert body_rows(page, "stuck-batches") == [
        [f"{b['name']} {b['batch_id']}", clock(entered[b["batch_id"]])] for b in processing
    ]
    assert [row[0].split()[1] for row in body_rows(page, "stuck-batches")] == ["e"]


def test_failures_are_listed_by_batch_name(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    names = {b["batch_id"]: b["name"] for b in read_table(history, "batches")}
    failures = [f for f in read_table(history, "etl_failures") if f["run_id"] == LAST_RUN]
    assert body_rows(page, "batch-failures") == [
        [
            f"{names[f['batch_id']]} {f['batch_id']}",
            f["stage"],
            f["error_kind"],
            str(f["http_status"]),
            f["message"],
        ]
        for f in sorted(failures, key=lambda f: f["failure_id"])
    ]
    assert body_rows(page, "batch-failures")[0][0] == "Batch e " + bid("e")


# --- label quality, written into its tables by hand --------------------------------------

AGREEMENT = [  # batch, instruction, level, units, annotators, percent, alpha
    ("a", "easy", "nominal", 20, 3, 0.95, 0.912),
    ("a", "contested", "nominal", 20, 3, 0.55, 0.302),
    ("b", "score", "interval", 10, 4, 0.70, 0.655),
    ("d", "gone", "nominal", 5, 2, 0.10, -0.2),  # batch d is removed upstream: left out
]
AGREEMENT_COLUMNS = (
    "batch_id",
    "instruction_id",
    "level",
    "units",
    "annotators",
    "percent_agreement",
    "krippendorff_alpha",
)
ANNOTATORS = [  # batch, instruction, participant, answers, compared, agreed
    ("a", "easy", "careful", 20, 20, 19),
    ("a", "contested", "careful", 20, 20, 12),
    ("a", "easy", "careless", 20, 20, 8),
    ("b", "score", "careless", 10, 10, 2),
    ("a", "easy", "newcomer", 3, 3, 0),  # too few compared to rank
    ("d", "gone", "ghost", 30, 30, 0),  # removed batch
]


def add_agreement_tables(database_url: str, batch_id=bid) -> None:
    """Label quality as sync --responses stores it, written by hand into label_agreement and
    annotator_agreement (the computation has its own tests); the batch keys of AGREEMENT and
    ANNOTATORS become IDs through ``batch_id``."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        run_id = connection.execute(select(func.max(etl_runs.c.run_id))).scalar_one()
        computed = {"computed_at": NOW, "computed_run_id": run_id}
        connection.execute(
            insert(label_agreement),
            [
                {
                    **dict(zip(AGREEMENT_COLUMNS, (batch_id(k), *rest), strict=True)),
                    "pairable_units": rest[2],
                    "answers": rest[2] * rest[3],
                    "pairable_values": rest[2] * rest[3],
                    "excluded_answers": 0,
                    "superseded_answers": 0,
                    **computed,
                }
                for k, *rest in AGREEMENT
            ],
        )
        connection.execute(
            insert(annotator_agreement),
            [
                {
                    "batch_id": batch_id(k),
                    "instruction_id": i,
                    "participant_id": p,
                    "answers": n,
                    "compared": c,
                    "agreed": a,
                    "agreement": a / c,
                    **computed,
                }
                for k, i, p, n, c, a in ANNOTATORS
            ],
        )
    engine.dispose()


def test_without_label_quality_the_report_says_how_to_get_it(history):
    page = parse(build_report(history, days=DAYS, now=NOW))

    assert "agreement-batches" not in page.ids
    assert "label-quality-missing" in page.ids
    assert "Label quality: run sync --responses to compute agreement" in " ".join(page.text)


def test_label_quality_per_batch_low_instructions_and_annotators(history):
    charts_before = build_report(history, days=DAYS, now=NOW).count('<svg class="chart"')
    add_agreement_tables(history)
    html = build_report(history, days=DAYS, now=NOW)
    page = parse(html)

    current = [row for row in AGREEMENT if row[0] != "d"]
    per_batch = {}
    for k, _, _, units, annotators, percent, alpha in current:
        per_batch.setdefault(k, []).append((units, annotators, percent, alpha))
    expected = sorted(
        (sum(r[3] for r in rows) / len(rows), k, rows) for k, rows in per_batch.items()
    )
    assert body_rows(page, "agreement-batches") == [
        [
            f"Batch {k} {bid(k)}",
            str(len(rows)),
            str(max(r[0] for r in rows)),
            str(max(r[1] for r in rows)),
            f"{mean:.3f}",
            f"{min(r[3] for r in rows):.3f}",
            f"{sum(r[2] for r in rows) / len(rows):.3f}",
        ]
        for mean, k, rows in expected
    ]
    assert [row[0].split()[1] for row in body_rows(page, "agreement-batches")] == [
        "a",
        "b",
    ]  # 0.607, 0.655
    assert body_rows(page, "low-agreement") == [
        [f"Batch {k} {bid(k)}", i, level, str(u), str(n), f"{alpha:.3f}", f"{pct:.3f}"]
        for k, i, level, u, n, pct, alpha in sorted(current, key=lambda r: r[6])
        if alpha < 0.667
    ]
    assert body_rows(page, "annotators") == [
        ["careless", "33%", "–", "10", "30", "2"],
        ["careful", "78%", "–", "31", "40", "1"],
    ]
    assert html.count('<svg class="chart"') == charts_before + 1
    assert 'aria-label="Krippendorff&#39;s alpha per batch' in html


def test_the_agreement_threshold_is_set_on_the_command_line(history, tmp_path):
    add_agreement_tables(history)
    output = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["report", "--database-url", history, "-o", str(output), "--agreement-threshold", "0.5"],
    )
    assert result.exit_code == 0, result.output

    page = parse(output.read_text(encoding="utf-8"))
    assert [row[1] for row in body_rows(page, "low-agreement")] == ["contested"]
    assert "Instructions with α below 0.5" in " ".join(page.text)
