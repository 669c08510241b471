"""Benchmark: peak memory of `prolific-etl labels` for one batch of 1,000 responses and one of
200,000 (issue 25).

    .venv/bin/python bench/labels.py                    # SQLite (about 2 minutes)
    .venv/bin/python bench/labels.py --sizes 1000,50000

For each size it makes a fresh SQLite file at the current schema (`db upgrade`), writes one
batch of N responses (four instructions, five annotators per task, choices) with its label
quality computed as the job computes it, and runs `prolific-etl labels --batch ID -o FILE`
in a fresh process, reading its peak RSS from the kernel. The goal: flat with size, as the
export reads one task at a time. Prints a Markdown table; --json writes the raw results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, insert  # noqa: E402

from etl.quality import quality_for_batches  # noqa: E402
from etl.run.quality import _consensus  # noqa: E402
from etl.store.label_quality import (  # noqa: E402
    annotator_agreement,
    consensus_labels,
    label_agreement,
    replace_batch_quality,
)
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


def prepare(path: Path, size: int) -> None:
    url = f"sqlite:///{path}"
    subprocess.run(
        [sys.executable, "-m", "etl", "db", "upgrade", "--database-url", url],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    engine = create_engine(url)
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


def measure(size: int, scratch: Path) -> dict:
    database = scratch / f"labels_{size}.db"
    prepare(database, size)
    out = scratch / f"labels_{size}.jsonl"
    command = [sys.executable, "-m", "etl", "labels", "--batch", BATCH, "-o", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}"},
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"labels failed for {size} responses")
    return {
        "responses": size,
        "tasks": sum(1 for _ in out.open(encoding="utf-8")),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(time.perf_counter() - started, 2),
        "output_mb": round(out.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,200000")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = [measure(int(size), Path(scratch)) for size in args.sizes.split(",")]
    print("| responses | tasks | peak RSS (MB) | seconds | output (MB) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['responses']:,} | {r['tasks']:,} | {r['peak_rss_mb']} | {r['seconds']} "
            f"| {r['output_mb']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
