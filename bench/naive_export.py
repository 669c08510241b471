"""The hand-written alternative a team would otherwise write, for the benchmark to beat.

A requests loop (with a Session, to be fair), pandas.json_normalize, and DataFrame.to_sql with
delete-then-insert to emulate an upsert. It holds every payload in memory and fetches one batch
at a time; told 429, it does what such scripts do: sleeps a second and asks again.
"""

from __future__ import annotations

import json
import time

import pandas as pd
import requests
from sqlalchemy import bindparam, create_engine, inspect, text


def naive_export(api_url: str, token: str, database_url: str, batch_ids: list[str]) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    records = []
    for batch_id in batch_ids:
        url = f"{api_url}/api/v1/data-collection/batches/{batch_id}"
        records.append(_get(session, url, timeout=30).json())

    batches = pd.json_normalize(records, sep="_").drop(columns=["datasets"])
    # Nested lists (batch_items) cannot be bound as SQL values: stored as JSON text, as such a
    # script learns to after its first failure.
    batches = batches.map(lambda value: json.dumps(value) if isinstance(value, list) else value)
    links = pd.json_normalize(records, record_path="datasets", meta=["id"], meta_prefix="batch_")

    engine = create_engine(database_url)
    with engine.begin() as connection:
        for table, key, frame in (
            ("naive_batches", "id", batches),
            ("naive_batch_datasets", "batch_id", links),
        ):
            if inspect(connection).has_table(table):
                delete = text(f"DELETE FROM {table} WHERE {key} IN :ids").bindparams(  # noqa: S608
                    bindparam("ids", expanding=True)
                )
                for start in range(0, len(batch_ids), 1000):
                    connection.execute(delete, {"ids": batch_ids[start : start + 1000]})
            frame.to_sql(table, connection, if_exists="append", index=False, chunksize=1000)
    engine.dispose()
    return len(records)


def naive_export_responses(
    api_url: str, token: str, database_url: str, batch_ids: list[str]
) -> int:
    """Each batch's responses the same way: the whole body with ``response.json()``,
    ``json_normalize`` into a responses frame and, from each record's answer list, an
    answers frame, both written with ``to_sql`` after deleting what the batch held."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    engine = create_engine(database_url)
    loaded = 0
    for batch_id in batch_ids:
        url = f"{api_url}/api/v1/data-collection/batches/{batch_id}/responses"
        records = _get(session, url, timeout=300).json()["results"]
        responses = pd.json_normalize(records, sep="_")
        # Lists (the answer, metadata's) cannot be bound as SQL values: JSON text.
        responses = responses.map(
            lambda value: json.dumps(value) if isinstance(value, list) else value
        )
        answers = pd.json_normalize(
            records, record_path=["response", "answer"], meta=["id"], meta_prefix="response_"
        )
        with engine.begin() as connection:
            for table, frame in (
                ("naive_responses", responses),
                ("naive_response_answers", answers),
            ):
                if inspect(connection).has_table(table):
                    key = "batch_id" if table == "naive_responses" else "response_id"
                    ids = [batch_id] if key == "batch_id" else list(responses["id"])
                    delete = text(f"DELETE FROM {table} WHERE {key} IN :ids").bindparams(  # noqa: S608
                        bindparam("ids", expanding=True)
                    )
                    for start in range(0, len(ids), 1000):
                        connection.execute(delete, {"ids": ids[start : start + 1000]})
                frame.to_sql(table, connection, if_exists="append", index=False, chunksize=1000)
        loaded += len(records)
    engine.dispose()
    return loaded


def _get(session: requests.Session, url: str, *, timeout: float) -> requests.Response:
    """GET ``url``; told 429, sleep a second and ask again, as such scripts do."""
    response = session.get(url, timeout=timeout)
    while response.status_code == 429:
        time.sleep(1)
        response = session.get(url, timeout=timeout)
    response.raise_for_status()
    return response
