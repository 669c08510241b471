"""The benchmark's contenders (the hand-written loop, dlt) still run against today's imitation.

It broke unnoticed once: the sample batches gained batch_items (nested lists), which
DataFrame.to_sql cannot bind, and bench/run.py printed "naive failed" instead of a baseline.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from etl.imitation.server import FakeProlificAPI, sample_batches

from conftest import TOKEN

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bare_fetch import bare_fetch  # noqa: E402
from naive_export import naive_export, naive_export_responses  # noqa: E402


def test_the_hand_written_export_loads_every_batch(sqlite_url):
    batches = sample_batches(40, seed=11, datasets=8)
    assert any(batch.get("batch_items") for batch in batches)  # the nested lists it tripped on
    with FakeProlificAPI(batches, token=TOKEN) as api:
        loaded = naive_export(api.url, TOKEN, sqlite_url, [b["id"] for b in batches])

    assert loaded == 40
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, name, status FROM naive_batches")).mappings()
        stored = {row["id"]: row for row in rows}
    engine.dispose()
    assert set(stored) == {b["id"] for b in batches}
    for batch in batches:
        assert (stored[batch["id"]]["name"], stored[batch["id"]]["status"]) == (
            batch["name"],
            batch["status"],
        )


def test_the_bare_client_fetches_every_batch_once():
    # bench/ceiling.py's yardstick: what the machine gives threads that only fetch.
    batches = sample_batches(25, seed=9, datasets=4)
    with FakeProlificAPI(batches, token=TOKEN) as api:
        fetched = bare_fetch(api.url, TOKEN, [b["id"] for b in batches], workers=4)
        seen = api.requests_of("batch")

    assert fetched == 25
    assert sorted(request.batch_id for request in seen) == sorted(b["id"] for b in batches)
    assert all(request.authorized for request in seen)
    assert len({request.client_port for request in seen}) <= 4  # kept alive, one per worker


def test_the_hand_written_responses_export_loads_both_tables(sqlite_url):
    # bench/responses_speed.py's baseline (issue 22): every response and every answer value.
    from etl.imitation.server import iter_sample_responses

    batches = sample_batches(1, seed=22, datasets=1)
    records = list(iter_sample_responses(batches[0]["id"], 30, seed=22))
    with FakeProlificAPI(batches, token=TOKEN) as api:
        api.put_responses(batches[0]["id"], records)
        loaded = naive_export_responses(api.url, TOKEN, sqlite_url, [batches[0]["id"]])

    assert loaded == 30
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, participant_id FROM naive_responses"))
        stored = {row.id: row.participant_id for row in rows}
        answers = Counter(
            connection.execute(text("SELECT response_id FROM naive_response_answers")).scalars()
        )
    engine.dispose()
    assert stored == {r["id"]: r["participant_id"] for r in records}
    assert answers == {r["id"]: len(r["response"]["answer"]) for r in records}


def test_the_settled_benchmark_downloads_no_responses_the_second_night():
    # Issue 24: bench/settled.py measures it over 1,000 batches; this is the same with 30.
    from settled import night

    from etl.imitation.study_samples import SampleStudies

    batches = sample_batches(30, seed=24, datasets=8)
    ids = [batch["id"] for batch in batches]
    sample = SampleStudies(batches, seed=24, submissions=(0, 2), decoys=False)
    with FakeProlificAPI(batches, token="bench-token") as api:
        api.put_answered_responses(sample, batches, 5)
        sample.complete_all()
        api.put_studies(sample)
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            url = f"sqlite:///{scratch}/settled.db"
            first = night(api, url, ids, responses=True, submissions=True)
            second = night(api, url, ids, responses=True, submissions=True)
    assert first["requests"]["responses"] == 30
    assert "responses" not in second["requests"] and "responses" not in second["bytes"]
    assert second["responses_skipped"] == 30


def test_the_dlt_pipeline_loads_every_batch_once(sqlite_url):
    # The third contender (bench/dlt_export.py) needs the bench-dlt extra, which CI leaves out.
    pytest.importorskip("dlt")
    from dlt_export import dlt_export

    batches = sample_batches(40, seed=12, datasets=8)
    ids = [batch["id"] for batch in batches]
    with FakeProlificAPI(batches, token=TOKEN) as api:
        first = dlt_export(api.url, TOKEN, sqlite_url, ids, workers=4)
        second = dlt_export(api.url, TOKEN, sqlite_url, ids, workers=4)  # merge: no duplicates

    assert (first, second) == (40, 40)
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, name, status FROM batches")).all()
        links = connection.execute(text("SELECT count(*) FROM batches__datasets")).scalar_one()
    engine.dispose()
    assert sorted(rows) == sorted((b["id"], b["name"], b["status"]) for b in batches)
    assert links == sum(len(batch["datasets"]) for batch in batches)


def test_the_table_sets_the_tool_against_dlt():
    from run import table

    def result(seconds, loaded=2000):
        return {
            "seconds": seconds - 0.5,
            "process_seconds": seconds,
            "loaded": loaded,
            "requests": 2000,
            "refused": 0,
            "peak_rss_mb": 100.0,
            "statements": {},
            "counts": {},
        }

    row = {
        "scenario": "50ms-2k-no-details",
        "database": "sqlite",
        "n": 2000,
        "workers": 16,
        "flags": "--no-dataset-details",
        "tool": result(8.0),
        "dlt": result(10.0),
    }
    header, _, line = table([row]).splitlines()
    cells = dict(zip(header.split("|"), line.split("|"), strict=True))
    assert cells[" dlt s "].strip() == "10.0"
    assert cells[" dlt batches/s "].strip() == "200.0"
    assert cells[" tool vs dlt (batches/s) "].strip() == "1.25×"

    # Without the other contenders, their cells are empty and the rest stay in their columns.
    assert all(cells[name].strip() == "" for name in (" naive s ", " speed-up (batches/s) "))
    assert all(cells[name].strip() == "" for name in (" rerun s ",))

    row["dlt"] = result(10.0, loaded=1999)
    _, _, line = table([row]).splitlines()
    cells = dict(zip(header.split("|"), line.split("|"), strict=True))
    assert cells[" dlt batches/s "].strip() == "200.0 (loaded 1,999 of 2,000)"
