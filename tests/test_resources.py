"""`db queries` and `examples`: the files outside etl/ that messages and the README name,
printed from any install (issue 23, item 13: a wheel had none of them). tests/test_install.py
runs them from a wheel; here they read the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import main

ROOT = Path(__file__).resolve().parent.parent
QUERIES = sorted((ROOT / "sql" / "queries").glob("*.sql"))
EXAMPLES = sorted(
    [*(ROOT / "examples").iterdir(), ROOT / ".env.example", *(ROOT / "deploy").iterdir()],
    key=lambda path: path.name,
)


def test_db_queries_lists_every_example_query_with_the_question_it_answers():
    result = CliRunner().invoke(main, ["db", "queries"])

    assert result.exit_code == 0, result.output
    listed = [line.split(None, 1) for line in result.output.splitlines()]
    expected = [
        [path.stem, path.read_text(encoding="utf-8").splitlines()[0].removeprefix("-- ")]
        for path in QUERIES
    ]
    assert listed == expected
    assert len(listed) == 15


@pytest.mark.parametrize("name", ["time_to_ready", "time_to_ready.sql"])
def test_db_queries_name_prints_that_query_as_it_is(name):
    result = CliRunner().invoke(main, ["db", "queries", name])

    assert result.exit_code == 0, result.output
    assert result.output == (ROOT / "sql" / "queries" / "time_to_ready.sql").read_text("utf-8")


def test_examples_lists_the_settings_the_id_file_and_the_deploy_files_with_what_each_is():
    result = CliRunner().invoke(main, ["examples"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        ".env.example          prolific-etl settings.",
        "batch_ids.txt         Batch IDs for `prolific-etl sync --ids FILE` and "
        "`prolific-etl check --ids FILE`.",
        "crontab               prolific-etl, from cron instead of systemd: the crontab of the "
        "user that owns /opt/prolific-etl.",
        "prolific-etl.service  prolific-etl: one sync run.",
        "prolific-etl.timer    Starts prolific-etl.service every night at 02:30 (the machine's "
        "time zone), and at boot when the machine was off at 02:30.",
    ]
    assert [line.split()[0] for line in result.output.splitlines()] == sorted(
        path.name for path in EXAMPLES
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_examples_name_prints_that_file_as_it_is(path):
    result = CliRunner().invoke(main, ["examples", path.name])

    assert result.exit_code == 0, result.output
    assert result.output == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (
            ["db", "queries", "nope"],
            "no example query 'nope'; there are: answers_per_instruction, ",
        ),
        (["examples", "nope"], "no example file 'nope'; there are: .env.example, batch_ids.txt, "),
    ],
)
def test_an_unknown_name_is_a_usage_error_listing_the_names(args, listed):
    result = CliRunner().invoke(main, args)

    assert result.exit_code == 2
    assert listed in result.stderr
