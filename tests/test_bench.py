"""The benchmark's hand-written contender still runs against today's imitation of the API.

It broke unnoticed once: the sample batches gained batch_items (nested lists), which
DataFrame.to_sql cannot bind, and bench/run.py printed "naive failed" instead of a baseline.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

from etl.imitation.server import FakeProlificAPI, sample_batches

from conftest import TOKEN

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
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

    from etl.imitation.server import iter_sample_responses
    from etl.imitation.study_samples import SampleStudies

    batches = sample_batches(30, seed=24, datasets=8)
    ids = [batch["id"] for batch in batches]
    sample = SampleStudies(batches, seed=24, submissions=(0, 2), decoys=False)
    with FakeProlificAPI(batches, token="bench-token") as api:
        for batch in batches:
            records = list(iter_sample_responses(batch["id"], 5, seed=1))
            sample.answer(batch["id"], records)
            api.put_responses(batch["id"], records)
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
