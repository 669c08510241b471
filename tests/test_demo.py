"""`prolific-etl demo` as a newcomer runs it from a fresh clone: nights of history, every example
query and view with rows, the commands that read its database, and a database of its own."""

from __future__ import annotations

import json
import shlex
import sqlite3
import urllib.request
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from unittest.mock import ANY

import label_reference as reference
import pytest
from click.testing import CliRunner
from test_report import body_rows, parse

from etl.cli import main
from etl.demo import DEFAULT_NIGHTS as DEMO_NIGHTS
from etl.demo import DEMO_SOURCE
from etl.imitation.crowd import INSTRUCTIONS
from etl.imitation.world import SampleWorld
from etl.samples import DEFAULT_BATCHES, SAMPLE_SEED
from etl.source.client import RESPONSES_PATH
from etl.store.views import VIEWS

from support import read_table

ROOT = Path(__file__).resolve().parent.parent
QUERIES = sorted((ROOT / "sql" / "queries").glob("*.sql"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`prolific-etl demo` with its defaults, run once in a fresh directory: (directory, result)."""
    directory = tmp_path_factory.mktemp("fresh-clone")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        patch.delenv("DATABASE_URL", raising=False)
        result = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return directory, result


def demo_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'prolific-demo.db'}"


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_every_example_query_has_rows_on_the_demo_database(demo, query):
    directory, _ = demo
    with sqlite3.connect(directory / "prolific-demo.db") as connection:
        rows = connection.execute(query.read_text(encoding="utf-8")).fetchall()

    assert rows, f"{query.name} returns nothing on the demo's database"


def test_every_reporting_view_has_rows_after_the_demo(demo):
    directory, _ = demo
    with sqlite3.connect(directory / "prolific-demo.db") as connection:
        empty = [
            view.name
            for view in VIEWS
            if not connection.execute(f"SELECT COUNT(*) FROM {view.name}").fetchone()[0]
        ]

    assert empty == []


def test_the_demo_runs_three_nights_a_day_apart_recognisable_by_their_id_source(demo):
    directory, result = demo
    runs = read_table(demo_url(directory), "etl_runs")

    assert [(r["run_id"], r["status"]) for r in runs] == [
        (1, "succeeded"),
        (2, "partial"),
        (3, "partial"),
    ]
    assert {r["id_source"] for r in runs} == {f"{DEMO_SOURCE}; all workspaces"}
    gaps = [later["started_at"] - earlier["started_at"] for earlier, later in pairwise(runs)]
    assert all(timedelta(hours=23) < gap < timedelta(hours=25) for gap in gaps), gaps
    assert [
        line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("Night")
    ] == [
        "Night 1 of 3 (2 days ago)",
        "Night 2 of 3 (yesterday)",
        "Night 3 of 3 (today)",
    ]


def test_the_only_failures_are_the_batch_deleted_upstream_said_once_not_logged(demo):
    directory, result = demo
    world = SampleWorld()
    failures = read_table(demo_url(directory), "etl_failures")

    assert [(f["run_id"], f["batch_id"], f["error_kind"]) for f in failures] == [
        (2, world.doomed, "not_found"),
        (3, world.doomed, "not_found"),
    ]
    assert f"deleted upstream after night 1 ({world.doomed})" in result.stdout
    assert result.stderr == ""


def test_the_batches_have_names_a_team_would_give_them(demo):
    directory, _ = demo
    names = [row["name"] for row in read_table(demo_url(directory), "batches")]

    assert len(names) == 52  # 50, and one more each later night
    assert not [name for name in names if "DROP TABLE" in name or "%s" in name or '"' in name]


def test_the_runs_command_the_demo_prints_lists_its_nights(demo):
    directory, result = demo
    (line,) = [
        line
        for line in result.stdout.splitlines()
        if line.strip().startswith("prolific-etl runs --")
    ]
    args = shlex.split(line)[1:]

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        listed = CliRunner().invoke(main, args, env={"DATABASE_URL": None})

    assert args == ["runs", "--database-url", "sqlite:///prolific-demo.db"]
    assert listed.exit_code == 0, listed.output
    rows = [row.split()[:2] for row in listed.stdout.splitlines()[1:]]
    assert rows == [["3", "partial"], ["2", "partial"], ["1", "succeeded"]]


def test_the_output_ends_with_three_questions_answered_from_the_views(demo):
    directory, result = demo
    world = SampleWorld()
    gone = world.batches[[b["id"] for b in world.batches].index(world.doomed)]
    tail = result.stdout.split("Three questions, answered from the views:\n", 1)[1]
    questions = [line for line in tail.splitlines() if line.endswith(")") and "?" in line]
    processing = read_table(demo_url(directory), "batch_status_history")

    assert questions == [
        "How long does processing take, from PROCESSING to READY or ERROR? "
        "(v_batch_processing_time)",
        "Which batches are still processing, and since when? (v_batch_processing_time)",
        "Which batches are gone from their workspace? (v_batches_removed_upstream)",
    ]
    ready = sum(
        1 for row in processing if (row["old_status"], row["new_status"]) == ("PROCESSING", "READY")
    )
    assert f"  READY    {ready}" in tail
    assert tail.rstrip().splitlines()[-1].startswith(f"  {gone['name']}  Speech & audio")


def test_a_second_demo_replaces_the_first(demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["demo", "--batches", "3", "--nights", "2"])
    second = CliRunner().invoke(main, ["demo", "--batches", "3", "--nights", "2"])

    assert (first.exit_code, second.exit_code) == (0, 0)
    runs = read_table(f"sqlite:///{tmp_path / 'prolific-demo.db'}", "etl_runs")
    assert [r["run_id"] for r in runs] == [1, 2]


def test_the_demo_refuses_a_database_that_holds_other_runs(
    run_sync, sqlite_url, ids_file, tmp_path
):
    assert run_sync(sqlite_url, ids_file).exit_code == 0
    before = read_table(sqlite_url, "batches")

    result = CliRunner().invoke(main, ["demo", "--database", str(tmp_path / "etl.db")])

    assert result.exit_code == 2
    assert (
        f"{tmp_path / 'etl.db'} holds runs that are not the demo's (from {ids_file}); the demo "
        "writes only into a new file or an earlier demo's database. Leave --database out"
    ) in result.stderr
    assert read_table(sqlite_url, "batches") == before
    assert [r["run_id"] for r in read_table(sqlite_url, "etl_runs")] == [1]


def test_the_demo_refuses_the_database_sync_writes_to(tmp_path, monkeypatch):
    # Issue 15: `demo --database prolific.db` filled the default database with made-up batches.
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        main, ["demo", "--database", "prolific.db"], env={"DATABASE_URL": None}
    )

    assert result.exit_code == 2
    assert (
        "prolific.db is the database `prolific-etl sync` writes to (sqlite:///prolific.db); the "
        "demo would mix its made-up batches into it."
    ) in result.stderr
    assert not (tmp_path / "prolific.db").exists()


def test_the_demo_refuses_a_file_that_is_not_a_database(tmp_path):
    target = tmp_path / "notes.db"
    target.write_text("my notes\n" * 200)

    result = CliRunner().invoke(main, ["demo", "--database", str(target)])

    assert result.exit_code == 2
    assert "is not a SQLite database the demo can read" in result.stderr
    assert target.read_text() == "my notes\n" * 200


# --- label quality: the demo's crowd, read back from the views (#25) ---------------------------


@pytest.fixture(scope="module")
def served(demo) -> tuple[SampleWorld, list[dict]]:
    """The demo's world as it stands on the last night, rebuilt from the seed (answers do not
    depend on the hour), and every response it serves for the batches still upstream, read
    over HTTP: (world, records)."""
    world = SampleWorld(DEFAULT_BATCHES, seed=SAMPLE_SEED)
    for _ in range(DEMO_NIGHTS - 1):
        world.advance()
    records = []
    with world.serve(token="t") as api:
        for batch in world.batches:
            request = urllib.request.Request(
                api.url + RESPONSES_PATH.format(batch_id=batch["id"]),
                headers={"Authorization": "Token t"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                records += json.load(answer)["results"]
    return world, records


def rejected_or_returned(world: SampleWorld) -> set[str]:
    return {
        s["id"]
        for held in world.studies.submissions.values()
        for s in held
        if s["status"] in ("REJECTED", "RETURNED")
    }


def view_rows(directory: Path, name: str) -> list[dict]:
    with sqlite3.connect(directory / "prolific-demo.db") as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(f"SELECT * FROM {name}")]


def test_the_demos_agreement_equals_a_reference_from_the_served_responses(demo, served):
    directory, _ = demo
    world, records = served
    expected = {
        key: reference.agreement(instruction)
        for key, instruction in reference.group(records, rejected_or_returned(world)).items()
    }
    stored = {(r["batch_id"], r["instruction_id"]): r for r in view_rows(directory, "v_agreement")}

    assert set(stored) == set(expected)
    for key, figures in expected.items():
        row = {name: stored[key][name] for name in figures}
        assert row == {**figures, "percent_agreement": ANY, "krippendorff_alpha": ANY}, key
        for name in ("percent_agreement", "krippendorff_alpha"):
            assert row[name] == pytest.approx(figures[name], abs=1e-9), (key, name)
    levels = Counter(figures["level"] for figures in expected.values())
    assert levels["nominal"] and levels["interval"] and levels[None]  # choices, numbers, text
    assert sum(figures["excluded_answers"] for figures in expected.values()) > 0


def test_the_demos_consensus_equals_a_reference_from_the_served_responses(demo, served):
    directory, _ = demo
    world, records = served
    expected = {
        (batch_id, instruction_id, task): value
        for (batch_id, instruction_id), instruction in reference.group(
            records, rejected_or_returned(world)
        ).items()
        for task, value in reference.consensus(instruction).items()
    }
    stored = reference.stored_consensus(view_rows(directory, "v_consensus_labels"))

    assert stored == expected
    assert any(tie for *_, tie in expected.values())  # ties said as ties


def test_the_careless_annotator_agrees_least_with_the_consensus(demo, served):
    directory, _ = demo
    world, records = served
    expected = reference.annotators(reference.group(records, rejected_or_returned(world)).values())
    stored = {r["participant_id"]: r for r in view_rows(directory, "v_annotator_quality")}

    assert {p: (r["answers"], r["compared"], r["agreed"]) for p, r in stored.items()} == expected
    ranked = sorted(stored.values(), key=lambda r: r["agreement"])
    assert ranked[0]["participant_id"] == world.crowd.careless
    assert ranked[0]["agreement"] < 0.6 < ranked[1]["agreement"]
    rates = [r["approval_rate"] for r in stored.values() if r["approval_rate"] is not None]
    assert rates and min(rates) < 1.0  # some submissions were rejected


def test_easy_instructions_agree_more_than_contested_ones_in_every_batch(demo, served):
    directory, _ = demo
    contested = {i.id: i.contested for project in INSTRUCTIONS for i in project}
    alphas: dict[str, dict[bool, float]] = {}
    for row in view_rows(directory, "v_agreement"):
        if row["krippendorff_alpha"] is not None:
            alphas.setdefault(row["batch_id"], {})[contested[row["instruction_id"]]] = row[
                "krippendorff_alpha"
            ]
    both = {batch: pair for batch, pair in alphas.items() if len(pair) == 2}

    assert len(both) >= 10
    assert all(pair[False] > pair[True] for pair in both.values()), both
    easy = [pair[False] for pair in alphas.values() if False in pair]
    hard = [pair[True] for pair in alphas.values() if True in pair]
    assert 0.8 <= sum(easy) / len(easy) <= 0.95
    assert 0.2 <= sum(hard) / len(hard) <= 0.5


def test_the_demos_report_names_the_careless_annotator_first_with_an_approval_rate(demo, served):
    directory, _ = demo
    world, _ = served
    page = parse((directory / "prolific-demo.html").read_text(encoding="utf-8"))
    quality = {r["participant_id"]: r for r in view_rows(directory, "v_annotator_quality")}

    annotators = body_rows(page, "annotators")
    assert annotators[0][0] == world.crowd.careless
    for participant, agreement, approval, agreed, compared, batches in annotators:
        row = quality[participant]
        assert (batches, compared, agreed) == tuple(
            str(row[name]) for name in ("batches", "compared", "agreed")
        )
        assert agreement == f"{100 * row['agreed'] / row['compared']:.0f}%"
        rate = row["approval_rate"]
        assert approval == ("–" if rate is None else f"{100 * rate:.0f}%")
    assert any(approval != "–" for _, _, approval, *_ in annotators)
    assert body_rows(page, "agreement-batches") and body_rows(page, "low-agreement")
