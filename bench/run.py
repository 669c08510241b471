"""Benchmark: prolific-etl against the hand-written alternative, on the local API imitation.

    .venv/bin/python bench/run.py                      # the full grid (about half an hour)
    .venv/bin/python bench/run.py --sizes 1000 --latencies 0,50 --databases sqlite

For each latency it starts `prolific-etl fake-api` in its own process; for each database and
size it measures, each in a fresh process on a fresh database: this tool, the tool again over
the same (now unchanged) batches, and the hand-written loop (bench/naive_export.py) where that
finishes in reasonable time. Prints a Markdown table; --json writes the raw results too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.config import normalize_database_url  # noqa: E402
from etl.source.fake_api import generated_ids  # noqa: E402

TOKEN = "bench-token"
POSTGRES_URL = os.environ.get("ETL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def start_api(latency_ms: float, preload: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "etl",
            "fake-api",
            "--token",
            TOKEN,
            "--latency",
            str(latency_ms / 1000),
            "--preload",
            str(preload),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    return process, process.stdout.readline().strip()


class FreshDatabase:
    """A new SQLite file or PostgreSQL schema per measurement, dropped afterwards."""

    def __init__(self, kind: str, scratch: Path) -> None:
        self.kind = kind
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            self.url = f"sqlite:///{scratch / (self.name + '.db')}"
        else:
            self.admin = create_engine(
                normalize_database_url(POSTGRES_URL), isolation_level="AUTOCOMMIT"
            )
            with self.admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
            separator = "&" if "?" in POSTGRES_URL else "?"
            self.url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        if self.kind == "sqlite":
            Path(self.url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        else:
            with self.admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
            self.admin.dispose()


def measure(
    contender: str,
    api_url: str,
    database_url: str,
    ids: Path,
    args,
    concurrency: int,
    processes: int,
) -> dict:
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "measure.py"),
            contender,
            "--api-url",
            api_url,
            "--token",
            TOKEN,
            "--database-url",
            database_url,
            "--ids",
            str(ids),
            "--concurrency",
            str(concurrency),
            "--processes",
            str(processes),
            "--chunk-size",
            str(args.chunk_size),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--latencies", default="0,50", help="milliseconds")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--concurrency-at-0ms",
        type=int,
        default=4,
        help="workers when latency is 0: the work is CPU-bound, and more threads than this "
        "only contend for the GIL",
    )
    parser.add_argument(
        "--processes-at-0ms",
        type=int,
        default=2,
        help="worker processes when latency is 0 and N is at least --processes-from (otherwise "
        "one, the default)",
    )
    parser.add_argument(
        "--processes-from",
        type=int,
        default=5000,
        help="the smallest N run with worker processes: starting one costs about as much CPU "
        "as fetching a few hundred batches",
    )
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument(
        "--naive-max-seconds",
        type=float,
        default=120,
        help="skip the hand-written loop where it would take longer than this",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    latencies = [float(s) for s in args.latencies.split(",")]
    databases = args.databases.split(",")

    rows = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        id_files = {}
        for size in sizes:
            id_files[size] = scratch / f"ids_{size}.txt"
            id_files[size].write_text("\n".join(generated_ids(size, seed=size)) + "\n")
        every_id = scratch / "every_id.txt"
        every_id.write_text("".join(path.read_text() for path in id_files.values()))
        for latency in latencies:
            server, api_url = start_api(latency, every_id)
            try:
                for kind in databases:
                    for size in sizes:
                        ids = id_files[size]
                        workers = args.concurrency if latency else args.concurrency_at_0ms
                        processes = (
                            args.processes_at_0ms
                            if not latency and size >= args.processes_from
                            else 1
                        )
                        row = {
                            "latency_ms": latency,
                            "database": kind,
                            "n": size,
                            "workers": workers,
                            "processes": processes,
                        }
                        database = FreshDatabase(kind, scratch)
                        try:
                            tool = ("tool", api_url, database.url, ids, args, workers, processes)
                            row["tool"] = measure(*tool)
                            if size <= 10_000:
                                row["rerun"] = measure(*tool)
                        finally:
                            database.drop()
                        # The loop fetches one at a time: about latency + 2 ms per batch.
                        naive_estimate = size * (latency + 2.5) / 1000
                        if naive_estimate <= args.naive_max_seconds:
                            database = FreshDatabase(kind, scratch)
                            try:
                                row["naive"] = measure(
                                    "naive", api_url, database.url, ids, args, 1, 1
                                )
                            finally:
                                database.drop()
                        rows.append(row)
                        print(format_row(row), flush=True)
            finally:
                server.terminate()
                server.wait()

    print()
    print(machine())
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = cpu
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def format_row(row: dict) -> str:
    return table([row]).splitlines()[-1]


def table(rows: list[dict]) -> str:
    header = (
        "| latency | database | N | workers | processes | tool s | tool batches/s "
        "| % of ceiling | tool peak RSS MB (main / each worker) "
        "| naive s | naive batches/s | naive peak RSS MB | speed-up | rerun s | rerun writes "
        "to batches |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        tool = row["tool"]
        rate = row["n"] / tool["seconds"]
        ceiling = (
            f"{100 * rate / (row['workers'] / (row['latency_ms'] / 1000)):.0f}%"
            if row["latency_ms"]
            else "n/a"
        )
        naive = row.get("naive")
        naive_cells = (
            f"{naive['seconds']:.1f} | {row['n'] / naive['seconds']:.0f} | "
            f"{naive['peak_rss_mb']:.0f} | {naive['seconds'] / tool['seconds']:.1f}×"
            if naive
            else "skipped | | | "
        )
        rss = f"{tool['peak_rss_mb']:.0f}"
        if tool.get("worker_peak_rss_mb"):
            rss += f" / {tool['worker_peak_rss_mb']:.0f}"
        rerun = row.get("rerun")
        rerun_cells = "| "
        if rerun:
            writes = sum(
                count
                for name, count in rerun["statements"].items()
                if name.split()[0] in ("INSERT", "UPDATE", "DELETE")
                and name.split()[1] == "batches"
            )
            rerun_cells = (
                f"{rerun['seconds']:.1f} | {writes} ({rerun['counts']['unchanged']} unchanged)"
            )
        lines.append(
            f"| {row['latency_ms']:.0f} ms | {row['database']} | {row['n']:,} | {row['workers']} | "
            f"{row.get('processes', 1)} | {tool['seconds']:.1f} | {rate:.0f} | {ceiling} | "
            f"{rss} | "
            f"{naive_cells} | {rerun_cells} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
