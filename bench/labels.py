"""Benchmark: peak memory of `prolific-etl labels` for one batch of 1,000 responses and one of
200,000 (issue 25).

    .venv/bin/python bench/labels.py                    # SQLite (about 1 minute)
    .venv/bin/python bench/labels.py --sizes 1000,50000
    .venv/bin/python bench/labels.py --database-url postgresql://postgres@127.0.0.1:5432/test

For each size it makes a fresh database at the current schema (a SQLite file, or a schema or
database of its own under --database-url, dropped afterwards), writes one batch of N responses
(four instructions, five annotators per task, choices) with its label quality computed as the
job computes it, and runs `prolific-etl labels --batch ID -o FILE` in a fresh process. The goal:
flat with size, as the export reads one task at a time. Prints a Markdown table; --json writes
the raw results.

Peak RSS is read by a small launcher process, not by this one: Linux carries the parent's
high-water RSS into a child's ``ru_maxrss`` across fork and exec, so a child started from here
(after filling 200,000 rows) reported this process's peak, not its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from report import scratch_database  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from etl.quality import quality_for_batches  # noqa: E402
from etl.run.quality import _consensus  # noqa: E402
from etl.store.db import connect  # noqa: E402
from etl.store.label_quality import (  # noqa: E402
    annotator_agreement,
    consensus_labels,
    label_agreement,
    replace_batch_quality,
)
from etl.store.migrate import upgrade  # noqa: E402
from etl.store.schema import batches, etl_runs, response_answers, responses  # noqa: E402

BATCH = "0b000000-0000-4000-8000-000000000001"
AT = datetime(2025, 3, 1, tzinfo=timezone.utc)
INSTRUCTIONS, ANNOTATORS, CHUNK = 4, 5, 10_000


def _batch_row() -> dict:
    stamp = {"first_seen_at": AT, "last_changed_at": AT}
    return {
        "batch_id": BATCH, "name": "bench", "status": "READY", "created_at": AT,
        "created_by": "u", "workspace_id": "ws", "schema_version": 3, "total_task_count": 1,
        "total_instruction_count": INSTRUCTIONS, "total_task_groups": 1, "task_name": "t",
        "task_introduction": "", "task_steps": "", "content_hash": "0" * 64,
        "first_seen_run_id": 1, "last_changed_run_id": 1, **stamp,
    }  # fmt: skip


def _rows(size: int):
    """Responses and their answers, in chunks: task t, instruction i, annotator a."""
    rng = random.Random(size)
    chunk_r, chunk_a = [], []
    for n in range(size):
        task, rest = divmod(n, INSTRUCTIONS * ANNOTATORS)
        instruction, annotator = divmod(rest, ANNOTATORS)
        response_id = f"00000000-0000-4000-8000-{n:012}"
        chunk_r.append(
            {
                "response_id": response_id, "batch_id": BATCH, "task_id": f"task-{task}",
                "participant_id": f"p{annotator}", "submission_id": f"s{annotator}",
                "instruction_id": f"instr-{instruction}", "response_type": "multiple_choice",
                "created_at": AT + timedelta(seconds=n), "answer": [], "content_hash": "0" * 64,
                "first_seen_at": AT, "last_changed_at": AT, "last_changed_run_id": 1,
            }
        )  # fmt: skip
        value = "yes" if rng.random() < 0.8 else rng.choice(("no", "unsure"))
        chunk_a.append({"response_id": response_id, "position": 0, "value_text": value})
        if len(chunk_r) == CHUNK:
            yield chunk_r, chunk_a
            chunk_r, chunk_a = [], []
    if chunk_r:
        yield chunk_r, chunk_a


def prepare(url: str, size: int) -> None:
    engine = connect(url)
    upgrade(engine)
    with engine.begin() as connection:
        run = {"run_id": 1, "started_at": AT, "status": "succeeded", "tool_version": "0"}
        connection.execute(insert(etl_runs), [run])
        connection.execute(insert(batches), [_batch_row()])
        for chunk_r, chunk_a in _rows(size):
            connection.execute(insert(responses), chunk_r)
            connection.execute(insert(response_answers), chunk_a)
    rows: dict = {label_agreement: [], consensus_labels: [], annotator_agreement: []}
    with engine.connect() as connection:
        for quality in quality_for_batches(connection, [BATCH]):
            rows[label_agreement].append(vars(quality.agreement))
            rows[consensus_labels] += [_consensus(row) for row in quality.consensus]
            rows[annotator_agreement] += [vars(row) for row in quality.annotators]
    replace_batch_quality(engine, BATCH, rows, 1, AT)
    engine.dispose()


# Run with `python -S`: about 10 MB, so the child's peak RSS starts from that, not from ours.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "peak_rss_kb": usage.ru_maxrss,
                  "seconds": time.perf_counter() - started}))
"""


def measure(size: int, scratch: Path, base_url: str | None) -> dict:
    drop = None
    if base_url:
        url, drop = scratch_database(base_url, prefix="bench_labels")
    else:
        url = f"sqlite:///{scratch / f'labels_{size}.db'}"
    try:
        prepare(url, size)
        out = scratch / f"labels_{size}.jsonl"
        command = [sys.executable, "-m", "etl", "labels", "--batch", BATCH, "-o", str(out)]
        launched = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, *command],
            cwd=REPO,
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        if drop is not None:
            drop()
    child = json.loads(launched.stdout)
    if child["exit"] != 0:
        raise SystemExit(f"labels failed for {size} responses: {launched.stderr}")
    return {
        "database": make_url(url).get_backend_name(),
        "responses": size,
        "tasks": sum(1 for _ in out.open(encoding="utf-8")),
        "peak_rss_mb": round(child["peak_rss_kb"] / 1024, 1),
        "seconds": round(child["seconds"], 2),
        "output_mb": round(out.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,200000")
    parser.add_argument("--database-url", help="PostgreSQL or MariaDB base URL [SQLite file]")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = [
            measure(int(size), Path(scratch), args.database_url) for size in args.sizes.split(",")
        ]
    print("| database | responses | tasks | peak RSS (MB) | seconds | output (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['database']} | {r['responses']:,} | {r['tasks']:,} | {r['peak_rss_mb']} "
            f"| {r['seconds']} | {r['output_mb']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
