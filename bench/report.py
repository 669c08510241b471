"""Benchmark: `prolific-etl report` on a database with months of history.

    .venv/bin/python bench/report.py                      # SQLite, 10,000 batches, 90 nights
    .venv/bin/python bench/report.py --database-url postgresql://postgres@127.0.0.1:5432/test

Builds the database by inserting rows directly (the schema from etl.store, then runs, batches,
their status history, datasets, failures and a `responses` table shaped as the API's response
records), then times the `report` command end to end in a fresh process (start-up included),
several times, and prints the size of the page. Goals (issue 16): under 5 seconds, under 2 MB.
A PostgreSQL or MariaDB URL gets a schema/database of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import (
    create_engine,
    insert,
    text,
)
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.config import normalize_database_url  # noqa: E402
from etl.store.db import connect  # noqa: E402
from etl.store.migrate import upgrade  # noqa: E402
from etl.store.schema import (  # noqa: E402
    batch_datasets,
    batch_last_seen,
    batch_status_history,
    batches,
    datasets,
    etl_failures,
    etl_runs,
    metadata,
    responses,
)

CHUNK = 5000


def build(engine, *, batch_count: int, nights: int, response_count: int, seed: int) -> dict:
    """Fill an empty database with ``nights`` nightly runs over ``batch_count`` batches."""
    rng = random.Random(seed)
    upgrade(engine)  # the schema and its views, as the job creates them
    first_night = datetime.now(timezone.utc).replace(
        hour=2, minute=30, second=0, microsecond=0
    ) - timedelta(days=nights)
    run_rows, failure_rows = [], []
    for night in range(nights):
        started = first_night + timedelta(days=night, seconds=rng.randrange(60))
        status = rng.choices(["succeeded", "partial", "failed", "aborted"], [85, 10, 3, 2])[0]
        run_rows.append(
            {
                "run_id": night + 1,
                "started_at": started,
                "finished_at": started + timedelta(seconds=rng.uniform(20, 400)),
                "status": status,
                "ids_read": 0,
                "fetched": 0,
                "inserted": 0,
                "updated": 0,
                "unchanged": 0,
                "failed": 0,
                "retries": rng.randrange(5),
                "tool_version": "0.1.0",
                "id_source": "/opt/prolific-etl/batch_ids.txt",
                "error_message": {
                    "failed": "the API rejected the token (HTTP 401: Unauthorized)",
                    "aborted": "interrupted (SIGINT or SIGTERM)",
                }.get(status),
            }
        )
    pool = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(batch_count // 3)]
    dataset_rows = [
        {
            "dataset_id": dataset_id,
            "filename": f"dataset_{i}.csv",
            "total_datapoint_count": rng.randrange(100, 1_000_000),
            "first_seen_at": first_night,
            "last_changed_at": first_night,
            "last_changed_run_id": 1,
        }
        for i, dataset_id in enumerate(pool)
    ]
    batch_rows, seen_rows, link_rows, history_rows = [], [], [], []
    per_run = {row["run_id"]: {"inserted": 0, "updated": 0} for row in run_rows}
    ok_runs = [row for row in run_rows if row["status"] != "failed"]
    for i in range(batch_count):
        batch_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        first = rng.randrange(len(ok_runs))
        processing = first + rng.choice([0, 1, 1, 2])
        done = processing + max(1, int(rng.expovariate(1 / 3)))
        path = [("UNINITIALISED", first)] if processing > first else []
        if processing < len(ok_runs):
            path.append(("PROCESSING", processing))
        if done < len(ok_runs):
            path.append(("READY" if rng.random() > 0.05 else "ERROR", done))
        old = None
        for status, run_index in path:
            run = ok_runs[run_index]
            history_rows.append(
                {
                    "batch_id": batch_id,
                    "old_status": old,
                    "new_status": status,
                    "observed_at": run["started_at"] + timedelta(seconds=5),
                    "run_id": run["run_id"],
                }
            )
            per_run[run["run_id"]]["inserted" if old is None else "updated"] += 1
            old = status
        first_run, last_run = ok_runs[path[0][1]], ok_runs[path[-1][1]]
        batch_rows.append(
            {
                "batch_id": batch_id,
                "name": f"Batch {i}: annotation round {i % 17}",
                "status": old,
                "created_at": first_run["started_at"] - timedelta(hours=rng.randrange(1, 20)),
                "created_by": "researcher-1",
                "workspace_id": f"workspace-{i % 7}",
                "schema_version": 3,
                "total_task_count": rng.randrange(10, 5000),
                "total_instruction_count": rng.randrange(1, 20),
                "total_task_groups": rng.randrange(1, 50),
                "task_name": "Rate the answers",
                "task_introduction": "<p>Read each answer.</p>",
                "task_steps": "<ol><li>Read</li><li>Rate</li></ol>",
                "content_hash": "0" * 64,
                "first_seen_at": first_run["started_at"],
                "last_changed_at": last_run["started_at"],
                "first_seen_run_id": first_run["run_id"],
                "last_changed_run_id": last_run["run_id"],
            }
        )
        seen_rows.append(
            {
                "batch_id": batch_id,
                "last_seen_at": ok_runs[-1]["started_at"],
                "last_seen_run_id": ok_runs[-1]["run_id"],
            }
        )
        # A few popular datasets and a long tail, as labs reuse their files.
        picks = {pool[min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1)] for _ in range(2)}
        link_rows += [{"batch_id": batch_id, "dataset_id": d} for d in picks]
    known = 0
    for row in run_rows:
        row["inserted"] = per_run[row["run_id"]]["inserted"]
        row["updated"] = per_run[row["run_id"]]["updated"]
        known += row["inserted"]
        row["ids_read"] = known
        if row["status"] != "failed":
            row["fetched"] = known
            row["unchanged"] = known - row["inserted"] - row["updated"]
        if row["status"] == "partial":
            for n in range(rng.randrange(1, 30)):
                kind, stage, http = rng.choice(
                    [
                        ("not_found", "fetch", 404),
                        ("api_unavailable", "fetch", 503),
                        ("invalid_payload", "validate", None),
                    ]
                )
                failure_rows.append(
                    {
                        "run_id": row["run_id"],
                        "batch_id": rng.choice(batch_rows)["batch_id"],
                        "stage": stage,
                        "http_status": http,
                        "error_kind": kind,
                        "message": f"{kind}: example failure {n}",
                        "occurred_at": row["started_at"] + timedelta(seconds=30),
                    }
                )
            row["failed"] = sum(1 for f in failure_rows if f["run_id"] == row["run_id"])
    ready = [row for row in batch_rows if row["status"] == "READY"]
    now = datetime.now(timezone.utc)
    response_rows = []
    for n in range(response_count if ready else 0):
        batch = rng.choice(ready)
        created = min(batch["last_changed_at"] + timedelta(minutes=rng.randrange(1, 20000)), now)
        response_rows.append(
            {
                "response_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "batch_id": batch["batch_id"],
                "task_id": f"task-{n % 97}",
                "participant_id": f"{rng.getrandbits(96):024x}",
                "instruction_id": f"instruction-{n % 5}",
                "response_type": "multiple_choice",
                "answer": [{"value": "yes"}],
                "content_hash": "0" * 64,
                "created_at": created,
                "first_seen_at": created,
                "last_changed_at": created,
                "last_changed_run_id": batch["last_changed_run_id"],
            }
        )
    with engine.begin() as connection:
        for table, rows in (
            (etl_runs, run_rows),
            (datasets, dataset_rows),
            (batches, batch_rows),
            (batch_last_seen, seen_rows),
            (batch_datasets, link_rows),
            (batch_status_history, history_rows),
            (etl_failures, failure_rows),
        ):
            for start in range(0, len(rows), CHUNK):
                connection.execute(insert(table), rows[start : start + CHUNK])
        if response_count:
            for start in range(0, len(response_rows), CHUNK):
                connection.execute(insert(responses), response_rows[start : start + CHUNK])
    if engine.dialect.name == "postgresql":
        # What autovacuum does on a live server; the test server runs without it, and with no
        # statistics the planner guesses a third of any range and reads whole tables.
        with engine.begin() as connection:
            for table in metadata.sorted_tables:
                connection.execute(text(f'ANALYZE "{table.name}"'))
    return {
        "runs": len(run_rows),
        "batches": len(batch_rows),
        "status_history": len(history_rows),
        "batch_datasets": len(link_rows),
        "etl_failures": len(failure_rows),
        "responses": len(response_rows),
    }


def scratch_database(base_url: str, prefix: str = "bench_report"):
    """A fresh schema (PostgreSQL) or database (MariaDB) under ``base_url``, and its dropper."""
    url = make_url(normalize_database_url(base_url))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    if url.get_backend_name() == "postgresql":
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        target = url.update_query_dict({"options": f"-csearch_path={name}"})
        drop = f'DROP SCHEMA "{name}" CASCADE'
    else:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        target = url.set(database=name)
        drop = f"DROP DATABASE `{name}`"

    def dropper() -> None:
        with admin.connect() as connection:
            connection.execute(text(drop))
        admin.dispose()

    return target.render_as_string(hide_password=False), dropper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL or MariaDB base URL [SQLite file]")
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--nights", type=int, default=90)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90, help="the report's --days")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        drop = None
        if args.database_url:
            url, drop = scratch_database(args.database_url)
        else:
            url = f"sqlite:///{Path(scratch) / 'history.db'}"
        try:
            engine = connect(url)
            started = time.perf_counter()
            counts = build(
                engine,
                batch_count=args.batches,
                nights=args.nights,
                response_count=args.responses,
                seed=args.seed,
            )
            engine.dispose()
            built = time.perf_counter() - started
            output = Path(scratch) / "report.html"
            seconds = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                subprocess.run(
                    [
                        str(REPO / ".venv" / "bin" / "prolific-etl"),
                        "report",
                        "--database-url",
                        url,
                        "--days",
                        str(args.days),
                        "--output",
                        str(output),
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                seconds.append(time.perf_counter() - started)
            size = output.stat().st_size
        finally:
            if drop is not None:
                drop()
    result = {
        "database": make_url(url).get_backend_name(),
        "rows": counts,
        "build_seconds": round(built, 1),
        "report_days": args.days,
        "report_seconds": [round(s, 2) for s in seconds],
        "report_seconds_median": round(statistics.median(seconds), 2),
        "report_bytes": size,
    }
    print(json.dumps(result, indent=2))
    ok = result["report_seconds_median"] < 5 and size < 2 * 1024 * 1024
    print("goals (under 5 s, under 2 MB):", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
