"""Benchmark: prolific-etl against the hand-written alternative, on the local API imitation.

    .venv/bin/python bench/run.py                              # every scenario (about 25 min)
    .venv/bin/python bench/run.py --scenarios limit-20,200ms   # some of them
    .venv/bin/python bench/run.py --scenarios limit-20 --databases postgresql

Each scenario starts `prolific-etl fake-api` in its own process with a latency and, for the
``limit-*`` ones, an implicit rate limit (a token bucket holding one second's worth, 429
without Retry-After, as Prolific's). For each database and size it measures, each in a fresh
process on a fresh database: this tool, the tool again over the same (now unchanged) batches,
the hand-written loop (bench/naive_export.py) and, with --with-dlt, a dlt pipeline
(bench/dlt_export.py, needs the bench-dlt extra). The imitation's own counters give the
requests and the 429s of each. Prints a Markdown table; --json writes the raw results too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.config import normalize_database_url  # noqa: E402
from etl.imitation.server import STATS_PATH, generated_ids  # noqa: E402

TOKEN = "bench-token"
POSTGRES_URL = os.environ.get("ETL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Scenario:
    name: str
    latency_ms: float
    sizes: tuple[int, ...]
    databases: tuple[str, ...]
    rate_limit: float | None = None
    refused_at_random: float = 0.0  # share of requests answered 429 whatever the pace
    concurrency: int | None = None  # None: the tool's default
    naive_sizes: tuple[int, ...] = (1000,)  # the loop fetches one at a time: slow at large N
    rerun: bool = True
    note: str = ""
    # What the tool's side switches off (the table's "flags"); the defaults when empty.
    flags: tuple[str, ...] = ()
    # Sizes at which --with-dlt also runs the dlt pipeline (on the first database only).
    dlt_sizes: tuple[int, ...] = ()

    def ceiling(self, workers: int) -> float | None:
        if self.rate_limit:
            return self.rate_limit
        return workers / (self.latency_ms / 1000) if self.latency_ms else None


DEFAULT_CONCURRENCY = 8
SCENARIOS = {
    s.name: s
    for s in (
        Scenario("50ms", 50, (1000, 10_000), ("sqlite", "postgresql"), concurrency=16),
        # Issue 22: the batches and their datasets' details in one flow, then without details
        # against the hand-written loop (which fetches batches only).
        Scenario(
            "50ms-2k",
            50,
            (2000,),
            ("sqlite",),
            concurrency=16,
            naive_sizes=(),
            dlt_sizes=(2000,),
        ),
        Scenario(
            "50ms-2k-no-details",
            50,
            (2000,),
            ("sqlite",),
            concurrency=16,
            naive_sizes=(2000,),
            rerun=False,
            flags=("--no-dataset-details",),
            dlt_sizes=(2000,),
        ),
        Scenario("200ms", 200, (1000, 10_000), ("sqlite", "postgresql"), concurrency=32),
        Scenario("limit-5", 100, (1000,), ("sqlite",), rate_limit=5, rerun=False),
        Scenario("limit-20", 100, (1000,), ("sqlite",), rate_limit=20, rerun=False),
        Scenario("limit-50", 100, (1000,), ("sqlite",), rate_limit=50, rerun=False),
        # Refusals the pace did not cause (issue 22): compare "100ms" with "noise-10".
        Scenario("100ms", 100, (1000,), ("sqlite",), naive_sizes=(), rerun=False),
        Scenario(
            "noise-10",
            100,
            (1000,),
            ("sqlite",),
            refused_at_random=0.1,
            naive_sizes=(),
            rerun=False,
        ),
        Scenario(
            "limit-20-noise-5",
            100,
            (1000,),
            ("sqlite",),
            rate_limit=20,
            refused_at_random=0.05,
            naive_sizes=(),
            rerun=False,
        ),
        Scenario(
            "0ms",
            0,
            (1000, 10_000),
            ("sqlite", "postgresql"),
            note="information only: no real deployment answers in 0 ms",
        ),
    )
}


def start_api(scenario: Scenario, preload: Path) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "etl",
        "fake-api",
        "--token",
        TOKEN,
        "--latency",
        str(scenario.latency_ms / 1000),
        "--preload",
        str(preload),
    ]
    if scenario.rate_limit:
        command += ["--rate-limit", str(scenario.rate_limit)]
    if scenario.refused_at_random:
        command += ["--error-rate", str(scenario.refused_at_random), "--error-kind", "429"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    return process, process.stdout.readline().strip()


def api_stats(api_url: str) -> dict:
    with urllib.request.urlopen(api_url + STATS_PATH, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


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
            path = Path(self.url.removeprefix("sqlite:///"))
            path.unlink(missing_ok=True)
            # dlt's staging dataset for a merge is a second file beside it, ATTACHed.
            for attached in path.parent.glob(f"{path.stem}__*{path.suffix}"):
                attached.unlink()
        else:
            with self.admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
                # dlt's staging dataset for a merge is a schema of its own beside it.
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}_staging" CASCADE'))
            self.admin.dispose()


def measure(
    contender: str,
    api_url: str,
    database_url: str,
    ids: Path,
    workers: int | None,
    flags: tuple[str, ...] = (),
):
    """One contender in a fresh process; its numbers, with the requests the API saw and the
    seconds of the whole process (interpreter and imports included)."""
    command = [
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
    ]
    if workers is not None:
        command += ["--concurrency", str(workers)]
    command += flags
    before = api_stats(api_url)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    process_seconds = time.perf_counter() - started
    after = api_stats(api_url)
    if completed.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["requests"] = after["received"] - before["received"]
    result["refused"] = after["refused"] - before["refused"]
    result["process_seconds"] = process_seconds
    return result


def run_scenario(
    scenario: Scenario, scratch: Path, *, skip_naive: bool = False, with_dlt: bool = False
) -> list[dict]:
    id_files = {}
    for size in scenario.sizes:
        id_files[size] = scratch / f"ids_{size}.txt"
        id_files[size].write_text("\n".join(generated_ids(size, seed=size)) + "\n")
    every_id = scratch / "every_id.txt"
    every_id.write_text("".join(id_files[size].read_text() for size in scenario.sizes))
    server, api_url = start_api(scenario, every_id)
    rows = []
    try:
        for kind in scenario.databases:
            for size in scenario.sizes:
                workers = scenario.concurrency
                row = {
                    "scenario": scenario.name,
                    "latency_ms": scenario.latency_ms,
                    "rate_limit": scenario.rate_limit,
                    "database": kind,
                    "n": size,
                    "workers": workers or DEFAULT_CONCURRENCY,
                    "flags": " ".join(scenario.flags) or "default",
                }
                contenders = [("tool", "tool")]
                if scenario.rerun:
                    contenders.append(("rerun", "tool"))
                naive = size in scenario.naive_sizes and not skip_naive
                if naive and kind == scenario.databases[0]:
                    contenders.append(("naive", "naive"))
                if with_dlt and size in scenario.dlt_sizes and kind == scenario.databases[0]:
                    contenders.append(("dlt", "dlt"))
                database = None
                for key, contender in contenders:
                    if key != "rerun":
                        if database is not None:
                            database.drop()
                        database = FreshDatabase(kind, scratch)
                    if scenario.rate_limit:
                        time.sleep(2)  # let the bucket fill: each contender starts alike
                    row[key] = measure(
                        contender,
                        api_url,
                        database.url,
                        id_files[size],
                        # dlt gets the tool's workers; the loop has none.
                        {"tool": workers, "dlt": workers or DEFAULT_CONCURRENCY}.get(contender),
                        scenario.flags if contender == "tool" else (),
                    )
                database.drop()
                rows.append(row)
                print(format_row(row), flush=True)
    finally:
        server.terminate()
        server.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"some of: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--skip-naive", action="store_true", help="leave the hand-written loop out (it is slow)"
    )
    parser.add_argument(
        "--with-dlt",
        action="store_true",
        help="also run the dlt pipeline where a scenario has dlt sizes (needs the bench-dlt extra)",
    )
    parser.add_argument(
        "--databases",
        help="run the chosen scenarios on these (sqlite, postgresql) instead of their own",
    )
    args = parser.parse_args()
    chosen = [SCENARIOS[name] for name in args.scenarios.split(",")]
    if args.databases:
        databases = tuple(args.databases.split(","))
        chosen = [replace(scenario, databases=databases) for scenario in chosen]
    rows = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        for scenario in chosen:
            rows += run_scenario(
                scenario, Path(scratch_dir), skip_naive=args.skip_naive, with_dlt=args.with_dlt
            )
    print()
    print(machine())
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


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


def _refused(result: dict) -> str:
    share = 100 * result["refused"] / result["requests"] if result["requests"] else 0
    return f"{result['refused']} ({share:.1f}%)"


def table(rows: list[dict]) -> str:
    """Rates are over the whole process (interpreter, imports, the run). "requests" are the
    batches' and the datasets' details' together, as the API saw them; "accepted" leaves out
    those it answered 429."""
    header = (
        "| scenario | flags | database | N | workers | tool s | batches/s | requests "
        "| accepted req/s | ceiling | accepted % of ceiling | batches % of ceiling | tool 429s "
        "| tool peak RSS MB | naive s | naive batches/s | naive 429s | speed-up (batches/s) "
        "| dlt s | dlt batches/s | dlt 429s | dlt peak RSS MB | tool vs dlt (batches/s) "
        "| rerun s | rerun writes to batches and datasets |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        scenario = SCENARIOS[row["scenario"]]
        tool = row["tool"]
        seconds = tool.get("process_seconds", tool["seconds"])
        rate = row["n"] / seconds
        accepted = (tool["requests"] - tool["refused"]) / seconds
        ceiling = scenario.ceiling(row["workers"])
        shares = (
            f"{100 * accepted / ceiling:.0f}% | {100 * rate / ceiling:.0f}%"
            if ceiling
            else "n/a | n/a"
        )
        lines.append(
            f"| {row['scenario']} | {row.get('flags', 'default')} | {row['database']} | "
            f"{row['n']:,} | {row['workers']} | {seconds:.1f} | {rate:.1f} | "
            f"{tool['requests']:,} | {accepted:.1f} | "
            f"{f'{ceiling:.0f}/s' if ceiling else 'n/a'} | {shares} | {_refused(tool)} | "
            f"{tool['peak_rss_mb']:.0f} | {_naive_cells(row, rate)} | {_dlt_cells(row, rate)} | "
            f"{_rerun_cells(row)} |"
        )
    return "\n".join(lines)


def _naive_cells(row: dict, rate: float) -> str:
    naive = row.get("naive")
    if not naive:
        return "| | | "  # four empty cells
    seconds = naive.get("process_seconds", naive["seconds"])
    naive_rate = row["n"] / seconds
    return f"{seconds:.1f} | {naive_rate:.1f} | {_refused(naive)} | {rate / naive_rate:.1f}×"


def _dlt_cells(row: dict, rate: float) -> str:
    dlt = row.get("dlt")
    if not dlt:
        return "| | | | "  # five empty cells
    seconds = dlt.get("process_seconds", dlt["seconds"])
    dlt_rate = row["n"] / seconds
    # A pipeline that loaded less than N is not a measurement of the same work.
    short = "" if dlt["loaded"] == row["n"] else f" (loaded {dlt['loaded']:,} of {row['n']:,})"
    return (
        f"{seconds:.1f} | {dlt_rate:.1f}{short} | {_refused(dlt)} | {dlt['peak_rss_mb']:.0f} | "
        f"{rate / dlt_rate:.2f}×"
    )


def _rerun_cells(row: dict) -> str:
    rerun = row.get("rerun")
    if not rerun:
        return "| "
    writes = sum(
        count
        for name, count in rerun["statements"].items()
        if name.split()[0] in ("INSERT", "UPDATE", "DELETE")
        and name.split()[1] in ("batches", "datasets", "dataset_imports")
    )
    seconds = rerun.get("process_seconds", rerun["seconds"])
    return f"{seconds:.1f} | {writes} ({rerun['counts']['unchanged']} unchanged)"


if __name__ == "__main__":
    main()
