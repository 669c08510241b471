"""Studies, submissions and costs (sync --submissions, issue #24): equal to the API field by
field through several generations, nothing written when nothing changed, no IP address ever,
demographics only when asked, and a listing's failures kept to its study."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event

from etl.cli import main
from etl.imitation.server import FakeProlificAPI, Fault, sample_batches
from etl.imitation.studies import submissions_key
from etl.imitation.study_samples import SampleStudies, study_cost, submission_counts
from etl.kinds.study import BATCH_METHOD
from etl.store.schema import STUDY_RUN_COUNTS

from conftest import TOKEN
from support import failure_rows, parse_time, read_table

BOOKKEEPING = {"content_hash", "first_seen_at", "last_changed_at", "last_changed_run_id"}


def sync(api: FakeProlificAPI, database_url: str, ids: Path, *args: str):
    env = {"PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": api.url, "DATABASE_URL": database_url}
    result = CliRunner().invoke(main, ["sync", "--ids", str(ids), *args], env=env)
    return result


def write_ids(tmp_path: Path, batches: list[dict]) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{b['id']}\n" for b in batches), encoding="utf-8")
    return path


def _time(value):
    return None if value is None else parse_time(value)


def _float(value):
    return None if value is None else float(value)


def expected_studies(sample: SampleStudies, synced: set[str]) -> list[dict]:
    workspace_of = {p["id"]: ws for ws, projects in sample.projects.items() for p in projects}
    rows = []
    for study_id, study in sample.studies.items():
        if study["data_collection_method"] != BATCH_METHOD:
            continue
        if study["data_collection_id"] not in synced:
            continue
        rows.append(
            {
                "study_id": study_id,
                "batch_id": study["data_collection_id"],
                "project_id": study["project"],
                "workspace_id": workspace_of[study["project"]],
                "name": study["name"],
                "internal_name": study["internal_name"],
                "status": study["status"],
                "reward": _float(study["reward"]),
                "currency": study["currency_code"],
                "total_available_places": study["total_available_places"],
                "places_taken": study["places_taken"],
                "number_of_submissions": study["number_of_submissions"],
                "estimated_completion_time": _float(study["estimated_completion_time"]),
                "maximum_allowed_time": _float(study["maximum_allowed_time"]),
                "total_cost": _float(study["total_cost"]),
                "date_created": _time(study["date_created"]),
                "published_at": _time(study["published_at"]),
                "completed_at": None,
                "removed_upstream_at": None,
            }
        )
    return sorted(rows, key=lambda row: row["study_id"])


def expected_submissions(sample, study_ids, *, demographics=False) -> list[dict]:
    rows = []
    for study_id in study_ids:
        for s in sample.submissions[study_id]:
            bonuses = s["bonus_payments"]
            rows.append(
                {
                    "submission_id": s["id"],
                    "study_id": study_id,
                    "participant_id": s["participant_id"],
                    "status": s["status"],
                    "started_at": _time(s["started_at"]),
                    "completed_at": _time(s["completed_at"]),
                    "time_taken": _float(s["time_taken"]),
                    "reward": _float(s["reward"]),
                    "is_complete": s["is_complete"],
                    "study_code": s["study_code"],
                    "star_awarded": s["star_awarded"],
                    "bonus_total": float(sum(bonuses)),
                    "return_requested": None,
                    "demographics": s["strata"] if demographics else None,
                    "removed_upstream_at": None,
                }
            )
    return sorted(rows, key=lambda row: row["submission_id"])


def expected_costs(sample, study_ids) -> tuple[list[dict], list[dict]]:
    costs, counts = [], []
    for study_id in sorted(study_ids):
        cost = study_cost(sample.submissions[study_id])
        costs.append(
            {
                "study_id": study_id,
                "rewards": float(cost["rewards"]["rewards"]["amount"]),
                "reward_fees": float(cost["rewards"]["fees"]["amount"]),
                "reward_tax": float(cost["rewards"]["tax"]["amount"]),
                "bonuses": float(cost["bonuses"]["rewards"]["amount"]),
                "bonus_fees": float(cost["bonuses"]["fees"]["amount"]),
                "bonus_tax": float(cost["bonuses"]["tax"]["amount"]),
                "currency": "GBP",
            }
        )
        counts += [
            {"study_id": study_id, "status": status, "submissions": n}
            for status, n in sorted(submission_counts(sample.submissions[study_id]).items())
            if status != "TOTAL"
        ]
    return costs, sorted(counts, key=lambda r: (r["study_id"], r["status"]))


def without(rows: list[dict], columns: set[str]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


def assert_equal_to_api(database_url: str, sample: SampleStudies, synced: set[str]) -> None:
    studies = expected_studies(sample, synced)
    assert without(read_table(database_url, "studies"), BOOKKEEPING) == studies
    ids = [row["study_id"] for row in studies]
    stored = without(read_table(database_url, "submissions"), BOOKKEEPING)
    assert stored == expected_submissions(sample, ids)
    costs, counts = expected_costs(sample, ids)
    assert without(read_table(database_url, "study_costs"), BOOKKEEPING) == costs
    assert read_table(database_url, "study_submission_counts") == counts


def table_snapshot(database_url: str) -> dict[str, list[dict]]:
    names = ("studies", "submissions", "submission_status_history", "study_costs")
    return {name: read_table(database_url, name) for name in (*names, "study_submission_counts")}


def test_500_batches_studies_and_submissions_equal_the_api_through_generations(
    database_url, tmp_path
):
    batches = sample_batches(500, seed=24, datasets=50)
    synced = {b["id"] for b in batches[:450]}  # the last 50 are not synced: not loaded
    sample = SampleStudies(batches, seed=24, submissions=(0, 6))
    ids = write_ids(tmp_path, batches[:450])
    with FakeProlificAPI(batches, token=TOKEN) as api:
        for _generation in range(3):
            api.put_studies(sample)
            result = sync(api, database_url, ids, "--submissions")
            assert result.exit_code == 0, result.output
            assert_equal_to_api(database_url, sample, synced)
            assert failure_rows(database_url) == []
            sample.advance()
        # A rerun with nothing changed upstream writes nothing.
        sample_now = sample
        api.put_studies(sample_now)
        sync(api, database_url, ids, "--submissions")
        before = table_snapshot(database_url)
        result = sync(api, database_url, ids, "--submissions")
        assert result.exit_code == 0, result.output
        assert table_snapshot(database_url) == before
        assert "studies: 0 written" in result.output
        assert "submissions: 0 written" in result.output
    history = read_table(database_url, "submission_status_history")
    reviewed = [row for row in history if row["old_status"] == "AWAITING REVIEW"]
    assert reviewed, "a review days later is a change, with its history"


def test_no_ip_anywhere_and_demographics_only_when_asked(database_url, tmp_path):
    batches = sample_batches(6, seed=3)
    sample = SampleStudies(batches, seed=3, submissions=(2, 4))
    ids = write_ids(tmp_path, batches)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_studies(sample)
        assert sync(api, database_url, ids, "--submissions").exit_code == 0
        ips = {s["ip"] for held in sample.submissions.values() for s in held}
        assert not _database_mentions(database_url, ips)
        assert {row["demographics"] for row in read_table(database_url, "submissions")} == {None}

        assert sync(api, database_url, ids, "--submissions", "--demographics").exit_code == 0
        stored = read_table(database_url, "submissions")
        studies = [row["study_id"] for row in read_table(database_url, "studies")]
        assert without(stored, BOOKKEEPING) == expected_submissions(
            sample, studies, demographics=True
        )
        assert not _database_mentions(database_url, ips)


def _database_mentions(database_url: str, needles: set[str]) -> bool:
    """Whether any text or JSON value of any table holds one of ``needles``."""
    from etl.store.schema import metadata

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(table.select()):
                    blob = json.dumps([str(v) for v in row])
                    if any(needle in blob for needle in needles):
                        return True
        return False
    finally:
        engine.dispose()


def test_other_studies_are_not_loaded(sqlite_url, tmp_path):
    batches = sample_batches(4, seed=5)
    sample = SampleStudies(batches, seed=5)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_studies(sample)
        assert (
            sync(api, sqlite_url, write_ids(tmp_path, batches[:2]), "--submissions").exit_code == 0
        )
    stored = {row["study_id"] for row in read_table(sqlite_url, "studies")}
    wanted = {
        s
        for s, d in sample.studies.items()
        if d["data_collection_method"] == BATCH_METHOD
        and d["data_collection_id"] in {b["id"] for b in batches[:2]}
    }
    assert stored == wanted
    assert len(sample.studies) > len(wanted) + 2  # decoys and the unsynced batches' studies


def test_a_cut_short_listing_and_a_failing_page_are_that_studys_failures(
    sqlite_url, tmp_path, monkeypatch
):
    monkeypatch.setattr("etl.source.studies.PAGE_SIZE", 2)  # several pages per study
    batches = sample_batches(3, seed=8)
    sample = SampleStudies(batches, seed=8, submissions=(3, 4), decoys=False)
    ids = write_ids(tmp_path, batches)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_studies(sample)
        assert sync(api, sqlite_url, ids, "--submissions").exit_code == 0
        studies = read_table(sqlite_url, "studies")
        short, failing, fine = (row["study_id"] for row in studies[:3])
        # Upstream, each of them loses a submission; only the whole listing marks its loss.
        for study_id in (short, failing, fine):
            sample.submissions[study_id] = sample.submissions[study_id][1:]
        sample.submissions[failing] += [dict(sample.submissions[fine][0], id="x" * 24)]
        api.put_studies(sample)
        api.set_listed_count(submissions_key(short), 99)
        api.inject(submissions_key(failing, 2), Fault.http(404))

        result = sync(api, sqlite_url, ids, "--submissions")

    assert "partial" in result.output, result.output
    removed = {
        row["study_id"]: row["submission_id"]
        for row in read_table(sqlite_url, "submissions")
        if row["removed_upstream_at"] is not None
    }
    assert removed == {fine: removed[fine]}  # the short and the failing ones left alone
    failures = failure_rows(sqlite_url)
    messages = sorted(f["message"] for f in failures)
    assert len(failures) == 2
    assert any(f"study {short}'s submissions: the listing holds" in m for m in messages)
    assert any(f"study {failing}'s submissions: " in m for m in messages)
    assert {f["stage"] for f in failures} == {"submissions"}


def test_settled_batches_responses_are_not_downloaded_again(database_url, tmp_path):
    batches = sample_batches(8, seed=11)
    sample = SampleStudies(batches, seed=11, submissions=(1, 3), decoys=False)
    ids = write_ids(tmp_path, batches)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_answered_responses(sample, batches, 4)
        sample.complete_all()
        still_open = next(iter(sample.submissions))  # one batch keeps an open submission
        sample.submissions[still_open][0]["status"] = "AWAITING REVIEW"
        open_batch = sample.studies[still_open]["data_collection_id"]
        api.put_studies(sample)

        def night(*extra: str) -> tuple[set[str], str]:
            before = len(api.requests_of("responses"))
            result = sync(api, database_url, ids, "--responses", "--submissions", *extra)
            assert result.exit_code == 0, result.output
            asked = api.requests_of("responses")[before:]
            return {seen.path.split("/")[-2] for seen in asked}, result.output

        first, _ = night()
        assert len(first) == len(batches)
        second, output = night()  # nothing changed: only the open batch is asked again
        assert second == {open_batch}
        assert f"{len(batches) - 1} batches' responses not downloaded" in output
        responses_before = read_table(database_url, "responses")
        assert night("--full-refresh")[0] == {b["id"] for b in batches}
        assert read_table(database_url, "responses") == responses_before
        # A new submission makes its batch's responses due again.
        sample.submissions[still_open][0]["status"] = "APPROVED"
        other = next(s for s, d in sample.studies.items() if d["data_collection_id"] != open_batch)
        sample.submissions[other][0]["status"] = "REJECTED"
        api.put_studies(sample)
        assert night()[0] == {open_batch, sample.studies[other]["data_collection_id"]}
        assert night()[0] == set()


def test_each_runs_row_counts_the_studies_and_submissions_it_wrote_and_left(database_url, tmp_path):
    batches = sample_batches(6, seed=31)
    sample = SampleStudies(batches, seed=31, submissions=(1, 4), decoys=False)
    ids = write_ids(tmp_path, batches)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_answered_responses(sample, batches, 3, seed=2)
        sample.complete_all()
        api.put_studies(sample)
        studies = [row["study_id"] for row in expected_studies(sample, {b["id"] for b in batches})]
        submissions = len(expected_submissions(sample, studies))

        def night() -> dict:
            result = sync(api, database_url, ids, "--responses", "--submissions")
            assert result.exit_code == 0, result.output
            run = read_table(database_url, "etl_runs")[-1]
            return {name: run[name] for name in STUDY_RUN_COUNTS}

        assert night() == {
            "studies_written": len(studies),
            "studies_unchanged": 0,
            "submissions_written": submissions,
            "submissions_unchanged": 0,
            "responses_skipped": 0,
        }
        assert night() == {
            "studies_written": 0,
            "studies_unchanged": len(studies),
            "submissions_written": 0,
            "submissions_unchanged": submissions,
            "responses_skipped": len(batches),
        }
        reviewed = sample.submissions[studies[0]][0]
        # A late review: the submission changes, and its batch's responses are due again.
        reviewed["status"] = "APPROVED" if reviewed["status"] == "REJECTED" else "REJECTED"
        api.put_studies(sample)
        assert night() == {
            "studies_written": 0,
            "studies_unchanged": len(studies),
            "submissions_written": 1,
            "submissions_unchanged": submissions - 1,
            "responses_skipped": len(batches) - 1,
        }
    shown = CliRunner().invoke(main, ["runs", "show", "3"], env={"DATABASE_URL": database_url})
    assert shown.exit_code == 0, shown.output
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in shown.output.splitlines())
    fields = {pair[0]: pair[1] for pair in pairs if len(pair) == 2}
    assert fields["studies"] == f"0 written, {len(studies)} unchanged"
    assert fields["submissions"] == f"1 written, {submissions - 1} unchanged"
    assert fields["responses skipped"] == f"{len(batches) - 1} batches (settled)"


def test_the_next_studies_submissions_are_fetched_while_these_are_written(sqlite_url, tmp_path):
    # Studies' submissions and costs go a group at a time (STUDY_GROUP): the workers fetch
    # the next group while the database writes this one. Each write is slowed a little here
    # so that the overlap cannot be missed.
    from etl.run.studies import STUDY_GROUP

    batches = sample_batches(2 * STUDY_GROUP, seed=32)
    sample = SampleStudies(batches, seed=32, submissions=(1, 2), decoys=False)
    ids = write_ids(tmp_path, batches)
    writes: list[float] = []

    def slow_write(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SUBMISSIONS "):
            writes.append(time.monotonic())
            time.sleep(0.005)

    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_studies(sample)
        event.listen(Engine, "before_cursor_execute", slow_write)
        try:
            result = sync(api, sqlite_url, ids, "--submissions")
        finally:
            event.remove(Engine, "before_cursor_execute", slow_write)
        asked = sorted(
            seen.at for seen in api.requests if seen.path.split("?")[0].endswith("/submissions/")
        )

    assert result.exit_code == 0, result.output
    studies = len(read_table(sqlite_url, "studies"))
    assert studies > STUDY_GROUP and len(asked) == studies == len(writes)
    # The second group's first request went out before the first group's last write.
    assert asked[STUDY_GROUP] < writes[STUDY_GROUP - 1]
