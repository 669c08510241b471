"""Benchmark: how fast one batch's responses are written, against the hand-written loop, and
how soon a SIGTERM in the middle of it ends the run (issue 22).

    .venv/bin/python bench/responses_speed.py                       # 200,000; SQLite, PostgreSQL
    .venv/bin/python bench/responses_speed.py --sizes 50000 --databases sqlite

For each size it starts `prolific-etl fake-api --responses N` (the batch's responses made up
and encoded before serving, in the imitation's own process). In the same run, each in a fresh
process on a fresh database (a SQLite file, or a new PostgreSQL schema):

- **tool**: `sync --responses` (dataset details left out, as the loop fetches none), both
  tables written (`responses`, `response_answers`), timed whole and without the label-quality
  phase that follows the responses (issue 25's; the hand-written loop computes nothing of
  the kind), with the peak RSS before that phase began; then again over the same, unchanged
  batch (**rerun**), counting the writes to both tables (none is the goal);
- **hand-written**: `requests` + `pandas.json_normalize` + `DataFrame.to_sql`
  (`bench/naive_export.py`), on SQLite;
- **sqlite3 alone** (SQLite): the rows the tool stored, written again by `sqlite3`'s
  executemany into a fresh database with the same schema, as the tool writes them (chunks in
  savepoints, a commit every four, foreign keys on, the same upsert) with none of the tool's
  Python: the floor under the tool's responses phase while the tables keep their keys and
  indexes;
- **SIGTERM**: the `prolific-etl sync --responses` command, sent SIGTERM once a quarter of the
  responses are stored: seconds from the signal to the process's exit, the run's status in
  `etl_runs`, and whether the next run leaves both tables exactly as the uninterrupted run did.

Prints Markdown tables; --json writes the raw results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from run import FreshDatabase  # noqa: E402

from etl.config import normalize_database_url  # noqa: E402
from etl.imitation.server import generated_ids  # noqa: E402
from etl.run.responses import RESPONSE_CHUNK, SQLITE_RESPONSES_PER_TRANSACTION  # noqa: E402
from etl.store.schema import metadata  # noqa: E402

TOKEN = "bench-token"
_WRITES = ("INSERT responses", "UPDATE responses", "DELETE responses")
_CHILD_WRITES = ("INSERT response_answers", "DELETE response_answers")


def start_api(size: int, ids: Path) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "etl", "fake-api", "--token", TOKEN]
    command += ["--responses", str(size), "--preload", str(ids)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    return server, server.stdout.readline().strip()


def measure(contender: str, api_url: str, database_url: str, ids: Path) -> dict:
    command = [sys.executable, str(REPO / "bench" / "measure.py"), contender]
    command += ["--api-url", api_url, "--token", TOKEN, "--database-url", database_url]
    command += ["--ids", str(ids)]
    if contender == "tool":
        command.append("--responses")
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def tables_digest(database_url: str) -> dict:
    """Both tables' rows (less the run bookkeeping), as counts and one SHA-256."""
    engine = create_engine(normalize_database_url(database_url))
    digest = hashlib.sha256()
    counts = {}
    queries = {
        "responses": "SELECT response_id, content_hash, removed_upstream_at FROM responses "
        "ORDER BY response_id",
        "response_answers": "SELECT response_id, position, value_text, value_number, "
        "value_boolean, unit, explanation, file_name, file_key, file_size_mb, content_type "
        "FROM response_answers ORDER BY response_id, position",
    }
    with engine.connect() as connection:
        for table, query in queries.items():
            counts[table] = 0
            for row in connection.execute(text(query)):
                digest.update(repr(tuple(row)).encode())
                counts[table] += 1
    engine.dispose()
    return {"counts": counts, "sha256": digest.hexdigest()}


def sqlite_alone(database_url: str, scratch: Path) -> float:
    """Seconds sqlite3 takes to write the responses and answers the tool stored at
    ``database_url`` (a SQLite file) into a fresh database with the tool's schema, written as
    the tool writes them but with none of its Python (see the module)."""
    source = database_url.removeprefix("sqlite:///")
    target = scratch / "sqlite_alone.db"
    engine = create_engine(f"sqlite:///{target}")
    metadata.create_all(engine)
    engine.dispose()
    connection = sqlite3.connect(target, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA cache_size = -8192")  # the tool's (etl/store/db.py)
    connection.execute("ATTACH ? AS tool", (source,))
    for parent in ("etl_runs", "batches"):
        connection.execute(f"INSERT INTO {parent} SELECT * FROM tool.{parent}")  # noqa: S608
    cursor = connection.execute("SELECT * FROM tool.responses ORDER BY rowid")  # as they came
    columns = [column[0] for column in cursor.description]
    responses = cursor.fetchall()
    answers: dict[str, list[tuple]] = {}
    for answer in connection.execute("SELECT * FROM tool.response_answers"):
        answers.setdefault(answer[0], []).append(answer)
    answer_width = len(next(iter(answers.values()))[0]) if answers else 0
    connection.execute("DETACH tool")
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "response_id")
    upsert = (
        f"INSERT INTO responses ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "  # noqa: S608
        f"ON CONFLICT (response_id) DO UPDATE SET {updates}"
    )
    insert_answers = f"INSERT INTO response_answers VALUES ({', '.join('?' * answer_width)})"  # noqa: S608
    started = time.perf_counter()
    for first in range(0, len(responses), SQLITE_RESPONSES_PER_TRANSACTION):
        connection.execute("BEGIN")
        last = min(first + SQLITE_RESPONSES_PER_TRANSACTION, len(responses))
        for start in range(first, last, RESPONSE_CHUNK):
            chunk = responses[start : min(start + RESPONSE_CHUNK, last)]
            connection.execute("SAVEPOINT chunk")
            connection.executemany(upsert, chunk)
            connection.executemany(
                insert_answers, [a for response in chunk for a in answers.get(response[0], ())]
            )
            connection.execute("RELEASE chunk")
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    stored = connection.execute("SELECT count(*) FROM responses").fetchone()[0]
    connection.close()
    target.unlink()
    assert stored == len(responses), (stored, len(responses))
    return seconds


def stored_count(database_url: str) -> int:
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM responses")).scalar_one()
    except Exception:  # noqa: BLE001 - not created yet, or locked a moment: ask again
        return 0
    finally:
        engine.dispose()


def sync_command(api_url: str, database_url: str, ids: Path) -> list[str]:
    command = [sys.executable, "-m", "etl", "sync", "--api-url", api_url]
    command += ["--database-url", database_url, "--ids", str(ids), "--responses"]
    return [*command, "--no-dataset-details", "--quiet"]


def sigterm(size: int, api_url: str, database_url: str, ids: Path, expected: dict) -> dict:
    """SIGTERM the CLI once a quarter of the batch's responses are stored; then run it again."""
    environment = {**os.environ, "PROLIFIC_API_TOKEN": TOKEN}
    command = sync_command(api_url, database_url, ids)
    process = subprocess.Popen(
        command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stored_then = 0
    while process.poll() is None and (stored_then := stored_count(database_url)) < size // 4:
        time.sleep(0.05)
    signalled = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=120)
    to_exit = time.perf_counter() - signalled
    engine = create_engine(normalize_database_url(database_url))
    with engine.connect() as connection:
        status = connection.execute(
            text("SELECT status FROM etl_runs ORDER BY run_id DESC LIMIT 1")
        ).scalar_one()
    engine.dispose()
    stored_at_exit = stored_count(database_url)
    started = time.perf_counter()
    resumed = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, check=False)
    after = tables_digest(database_url)
    return {
        "stored_at_signal": stored_then,
        "stored_at_exit": stored_at_exit,
        "seconds_to_exit": to_exit,
        "exit_code": process.returncode,
        "status": status,
        "stderr_tail": err.decode(errors="replace")[-500:],
        "next_run_exit_code": resumed.returncode,
        "next_run_seconds": time.perf_counter() - started,
        "next_run_exact": after == expected,
        "next_run_counts": after["counts"],
    }


def run_size(size: int, databases: list[str], scratch: Path, with_sigterm: bool) -> list[dict]:
    ids = scratch / f"ids_{size}.txt"
    ids.write_text("\n".join(generated_ids(1, seed=size)) + "\n")
    server, api_url = start_api(size, ids)
    rows = []
    try:
        naive_database = FreshDatabase("sqlite", scratch)
        naive = measure("naive-responses", api_url, naive_database.url, ids)
        naive_database.drop()
        for kind in databases:
            database = FreshDatabase(kind, scratch)
            tool = measure("tool", api_url, database.url, ids)
            expected = tables_digest(database.url)
            rerun = measure("tool", api_url, database.url, ids)
            alone = sqlite_alone(database.url, scratch) if kind == "sqlite" else None
            database.drop()
            row = {"size": size, "database": kind, "tool": tool, "rerun": rerun}
            if alone is not None:
                row["sqlite_alone_seconds"] = alone
            row.update(naive=naive, stored=expected)
            if with_sigterm:
                database = FreshDatabase(kind, scratch)
                row["sigterm"] = sigterm(size, api_url, database.url, ids, expected)
                database.drop()
            rows.append(row)
    finally:
        server.terminate()
        server.wait()
    return rows


def responses_seconds(tool: dict) -> float:
    """The run less its label-quality phase (issue 25's, which follows the responses)."""
    return tool["seconds"] - tool.get("label_quality_seconds", 0.0)


def print_tables(rows: list[dict]) -> None:
    print(
        "| responses | database | tool s (responses phase + label quality) | rows/s | "
        "peak RSS MB (before label quality / whole run) | hand-written s | "
        "hand-written peak RSS MB | tool speed ÷ hand-written (whole run / without label "
        "quality) | × SQLite time | rerun s | rerun writes (responses / answers) | "
        "sqlite3 alone s (÷ hand-written s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    sqlite = {r["size"]: r["tool"] for r in rows if r["database"] == "sqlite"}
    for row in rows:
        tool, naive, rerun = row["tool"], row["naive"], row["rerun"]
        inserted = tool["counts"]["responses_inserted"]
        assert inserted == row["size"], (inserted, row["size"])
        assert row["stored"]["counts"]["responses"] == row["size"], row["stored"]
        versus = sqlite.get(row["size"])
        writes = sum(rerun["statements"].get(s, 0) for s in _WRITES)
        child_writes = sum(rerun["statements"].get(s, 0) for s in _CHILD_WRITES)
        loading = responses_seconds(tool)
        print(
            f"| {row['size']:,} | {row['database']} | {tool['seconds']:.1f} "
            f"({loading:.1f} + {tool.get('label_quality_seconds', 0):.1f}) | "
            f"{row['size'] / loading:,.0f} | "
            f"{tool.get('peak_rss_mb_before_label_quality', 0):.0f} / "
            f"{tool['peak_rss_mb']:.0f} | {naive['seconds']:.1f} | {naive['peak_rss_mb']:.0f} | "
            f"{naive['seconds'] / tool['seconds']:.2f}× / {naive['seconds'] / loading:.2f}× | "
            f"{tool['seconds'] / versus['seconds']:.2f}× / "
            f"{loading / responses_seconds(versus):.2f}× | {rerun['seconds']:.1f} | "
            f"{writes} / {child_writes} ({rerun['counts']['responses_unchanged']:,} unchanged) | "
            f"{_alone(row)} |"
        )
    stopped = [row for row in rows if "sigterm" in row]
    if not stopped:
        return
    print()
    print(
        "| responses | database | stored at SIGTERM | s from SIGTERM to exit | exit code | "
        "run status | stored at exit | next run exit code | next run exact |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in stopped:
        s = row["sigterm"]
        print(
            f"| {row['size']:,} | {row['database']} | {s['stored_at_signal']:,} | "
            f"{s['seconds_to_exit']:.2f} | {s['exit_code']} | {s['status']} | "
            f"{s['stored_at_exit']:,} | {s['next_run_exit_code']} | "
            f"{'yes' if s['next_run_exact'] else 'NO'} |"
        )


def _alone(row: dict) -> str:
    if "sqlite_alone_seconds" not in row:
        return ""
    alone = row["sqlite_alone_seconds"]
    return f"{alone:.1f} ({alone / row['naive']['seconds']:.2f}×)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--no-sigterm", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    databases = args.databases.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            rows += run_size(size, databases, Path(scratch), not args.no_sigterm)
    print_tables(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
