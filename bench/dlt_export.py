"""The same export written with dlt (https://dlthub.com), the way its documentation shows.

A resource yields the batch ids; a parallelized transformer GETs each batch with dlt's own
`requests` helper (a session per thread, retries on 429 and 5xx with backoff), so dlt runs the
requests in its extract thread pool (`extract.workers`, 5 by default: set to the tool's
workers here). The pipeline writes with the `sqlalchemy` destination into the same database
URL, merge disposition with primary key `id`, so a second run does not duplicate. dlt's
default nesting makes `datasets` and `batch_items` child tables (`batches__datasets`, ...).

Needs the `bench-dlt` extra (`pip install -e .[bench-dlt]`), which neither the tool nor the
tests need.
"""

from __future__ import annotations

import os
import re
import tempfile

from sqlalchemy import create_engine, make_url, text

TABLE = "batches"


def dlt_export(
    api_url: str, token: str, database_url: str, batch_ids: list[str], workers: int
) -> int:
    """Loads the batches with a dlt pipeline; the number of rows in its `batches` table."""
    # dlt reads its settings from the environment; these must be set before it is imported.
    os.environ["EXTRACT__WORKERS"] = str(workers)
    # No anonymous usage report to dlthub's endpoint in the middle of a measurement.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.helpers import requests

    headers = {"Authorization": f"Token {token}"}

    @dlt.resource(selected=False)
    def batch_ids_resource():
        yield from batch_ids

    @dlt.transformer(
        data_from=batch_ids_resource,
        name=TABLE,
        parallelized=True,
        write_disposition="merge",
        primary_key="id",
    )
    def batches(batch_id: str) -> dict:
        response = requests.get(
            f"{api_url}/api/v1/data-collection/batches/{batch_id}", headers=headers
        )
        response.raise_for_status()
        return response.json()

    # The pipeline's working state (schemas, load packages) in a directory of its own: each
    # measurement starts as a first run, and nothing is left in ~/.dlt.
    with tempfile.TemporaryDirectory() as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="prolific_batches",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.sqlalchemy(credentials=database_url),
            dataset_name=_dataset_name(database_url),
        )
        pipeline.run([batch_ids_resource, batches])

    engine = create_engine(database_url)
    with engine.connect() as connection:
        loaded = connection.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one()  # noqa: S608
    engine.dispose()
    return loaded


def _dataset_name(database_url: str) -> str:
    """Where dlt's tables go: "main" keeps them in the SQLite file the URL names (another name
    is a second file, ATTACHed); on PostgreSQL a dataset is a schema, the one the URL's
    search_path names (bench/run.py's fresh schema), else public."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return "main"
    found = re.search(r"search_path=(\w+)", str(url.query.get("options", "")))
    return found.group(1) if found else "public"
