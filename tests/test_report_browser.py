"""The demo's report, rendered by a real headless Chromium with the network off.

Needs Debian's chromium (`.ci/run` installs it) and Playwright (the test extra). It runs in CI
and wherever ETL_TEST_BROWSER is set; elsewhere it is skipped. In CI a missing Chromium fails
the test: it is never skipped there.
"""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from etl.cli import main
from etl.reporting.report_html import RUN_COUNTS

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
    # run, responses per day and per batch (the demo loads responses), datasets reused.
    assert len(charts) == 7
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
