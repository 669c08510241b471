"""The demo's report, rendered by a real headless Chromium with the network off.

Needs Debian's chromium (`.ci/run` installs it) and Playwright (the test extra). It runs in CI
and wherever ETL_TEST_BROWSER is set; elsewhere it is skipped. In CI a missing Chromium fails
the test: it is never skipped there.
"""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from test_views import read_view

from etl.cli import main
from etl.imitation.world import SampleWorld
from etl.reporting.report_html import RUN_COUNTS
from etl.reporting.report_labels import ANNOTATORS, MIN_COMPARED
from etl.store.change_views import v_changes_last_run
from etl.store.views import VIEWS_BY_NAME

from browser import CHROMIUM, open_offline
from support import read_table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("ETL_TEST_BROWSER") and not os.environ.get("CI"),
        reason="set ETL_TEST_BROWSER=1 to render the report in Chromium (CI always does)",
    ),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple:
    """The demo, run once: its database URL and the path of its report."""
    assert CHROMIUM.is_file(), f"no Chromium at {CHROMIUM}: apt-get install chromium"
    directory = tmp_path_factory.mktemp("demo")
    database = directory / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--database", str(database), "--batches", "30"])
    assert result.exit_code == 0, result.output
    report = directory / "demo.html"
    assert f"The morning report is in {report}" in result.output
    return f"sqlite:///{database}", report


def test_the_demo_report_loads_nothing_and_logs_no_error(demo):
    _, report = demo
    with open_offline(report) as opened:
        assert opened.requests == [opened.url]
        assert opened.refused == []
        assert opened.console_errors == []


def test_every_chart_is_a_non_empty_svg(demo):
    _, report = demo
    with open_offline(report) as opened:
        charts = opened.page.evaluate(
            """() => [...document.querySelectorAll('svg.chart')].map(svg => {
                const box = svg.getBoundingClientRect();
                const bars = [...svg.querySelectorAll('rect.bar')].map(bar => bar.getBBox());
                return {
                    width: box.width,
                    height: box.height,
                    bars: bars.length,
                    drawn: bars.filter(b => b.width > 0 && b.height > 0).length,
                };
            })"""
        )
    # Batches per status, time to ready (the demo's nights give it), run durations, changes per
    # run, responses per day and per batch (the demo loads responses), agreement per batch (its
    # crowd answers each task several times), datasets reused.
    assert len(charts) == 8
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 100, chart
        assert chart["bars"] > 0 and chart["drawn"] == chart["bars"], chart


def test_the_page_names_the_last_run_as_etl_runs_holds_it(demo):
    database_url, report = demo
    run = read_table(database_url, "etl_runs")[-1]
    with open_offline(report) as opened:
        page = opened.page
        mark = {"succeeded": "✓", "partial": "⚠"}[run["status"]]
        headline = (
            f"{mark} Run {run['run_id']} {run['status']}: {run['inserted']} inserted, "
            f"{run['updated']} updated, {run['unchanged']} unchanged, {run['failed']} failed"
        )
        assert page.title() == headline
        assert page.inner_text("body").splitlines()[0] == headline
        fields = dict(
            page.eval_on_selector_all(
                "#run tr",
                "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText])",
            )
        )
    # The demo's last night fails the batch deleted upstream, on purpose.
    assert fields["status"] == run["status"] == "partial"
    for name in RUN_COUNTS:
        assert fields[name] == str(run[name]), name
    assert run["responses_inserted"] + run["responses_unchanged"] > 0  # the demo loads them
    assert fields["run"] == str(run["run_id"])


def test_the_page_fits_a_narrow_screen(demo):
    _, report = demo
    with open_offline(report, width=375, height=812) as opened:
        overflow = opened.page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 375  # charts and wide tables scroll inside their own boxes


# --- the sections of issue #25, at a phone's width ---------------------------------------------

PHONE = {"width": 390, "height": 844}


def _cells(page, table_id: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.replace(/\\s+/g, ' ').trim()))",
    )


def test_what_changed_and_the_batches_by_name_at_phone_width(demo):
    database_url, report = demo
    changes = read_view(database_url, v_changes_last_run, "batch_id")
    stored = read_table(database_url, "batches")
    with open_offline(report, **PHONE) as opened:
        page = opened.page
        page.eval_on_selector("#changes-details", "d => { d.open = true }")
        changed = _cells(page, "changes-table")
        removed = _cells(page, "removed-batches")
        now = page.inner_text("#batches-now")
        width = page.evaluate("document.documentElement.scrollWidth")
        name_cell = page.eval_on_selector(
            "#changes-table tbody td.text",
            "c => ({width: c.getBoundingClientRect().width, "
            "font: parseFloat(getComputedStyle(c).fontSize)})",
        )
    assert width <= PHONE["width"]
    assert name_cell["width"] >= 120 and name_cell["font"] >= 11, name_cell
    assert sorted((row[0], row[1]) for row in changed) == sorted(
        (f"{c['name']} {c['batch_id']}", c["change_type"]) for c in changes
    )
    gone = [b for b in stored if b["removed_upstream_at"] is not None]
    assert gone and [row[0] for row in removed] == [f"{b['name']} {b['batch_id']}" for b in gone]
    assert int(now) == len(stored) - len(gone)


def test_label_quality_draws_its_chart_and_tables_at_phone_width(demo):
    # The demo's own label quality: several annotators a task, one of them careless.
    url, report = demo
    names = {b["batch_id"]: b["name"] for b in read_table(url, "batches")}
    with open_offline(report, **PHONE) as opened:
        page = opened.page
        assert opened.refused == [] and opened.console_errors == []
        bars = page.eval_on_selector_all(
            "#label-quality svg.chart rect.bar",
            "bars => bars.map(b => { const box = b.getBBox(); return box.width * box.height })",
        )
        # The ten weakest in the open, the rest folded under them until asked for.
        folded = page.eval_on_selector("#agreement-batches-folded", "d => d.open")
        page.click("#agreement-batches-folded > summary")
        batches = _cells(page, "agreement-batches") + _cells(page, "agreement-batches-more")
        annotators = _cells(page, "annotators")
        # Who disagrees, by how much and whether they were approved: read without scrolling.
        right_edges = page.eval_on_selector(
            "#annotators",
            "t => Object.fromEntries([...t.tHead.rows[0].cells].map("
            "c => [c.innerText.trim(), c.getBoundingClientRect().right]))",
        )
        width = page.evaluate("document.documentElement.scrollWidth")
    agreement = read_view(url, VIEWS_BY_NAME["v_agreement"], "batch_id")
    alphas: dict[str, list[float]] = {}
    for row in agreement:
        if row["krippendorff_alpha"] is not None:
            alphas.setdefault(row["batch_id"], []).append(row["krippendorff_alpha"])
    assert {r["batch_id"] for r in agreement} <= current_ids(url)  # removed ones left out
    assert len(bars) == len(alphas) > 1
    drawn = [area > 0 for area in bars]
    assert drawn == [sum(a) / len(a) > 0 for _, a in sorted_by_mean(alphas)]
    assert [row[0] for row in batches] == [f"{names[b]} {b}" for b, _ in sorted_by_mean(alphas)]
    assert len(alphas) > 10 and folded is False
    quality = read_view(url, VIEWS_BY_NAME["v_annotator_quality"], "participant_id")
    ranked = sorted(
        (r for r in quality if r["compared"] >= MIN_COMPARED),
        key=lambda r: (r["agreement"], r["participant_id"]),
    )
    assert [row[0] for row in annotators] == [r["participant_id"] for r in ranked[:ANNOTATORS]]
    assert annotators[0][0] == SampleWorld(30).crowd.careless
    assert (
        max(right_edges[name] for name in ("participant", "agreement", "approval rate"))
        <= (PHONE["width"])
    )
    assert width <= PHONE["width"]


def sorted_by_mean(alphas: dict[str, list[float]]) -> list[tuple[str, list[float]]]:
    return sorted(alphas.items(), key=lambda item: (sum(item[1]) / len(item[1]), item[0]))


def current_ids(url: str) -> set[str]:
    return {b["batch_id"] for b in read_table(url, "batches") if b["removed_upstream_at"] is None}
