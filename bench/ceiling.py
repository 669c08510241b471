"""Benchmark: how close a first run comes to the ceiling workers / latency (issue 22), next to
the most this machine gives a bare client (bench/bare_fetch.py: threads, one Session, JSON read,
nothing stored).

    .venv/bin/python bench/ceiling.py                     # 50 ms, 2,000 batches, 16 workers, 3 runs
    .venv/bin/python bench/ceiling.py --latency-ms 100 --runs 5

One imitation (`prolific-etl fake-api --latency`, the batches made up before serving) serves
every measurement; each is a fresh process (a fresh SQLite file for the tool, default flags:
dataset details on). The runs alternate bare, tool, bare, tool...: the machine's drift shows
in both. Each row says where the process's time went: the interpreter and imports before the
first request, the requests in flight, and what came after the last answer (the run's last
writes, the interpreter's exit). Prints a Markdown table; --json writes the raw results.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from run import FreshDatabase, Scenario, machine, measure, start_api  # noqa: E402

from etl.imitation.server import generated_ids  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    ceiling = args.workers / (args.latency_ms / 1000)
    scenario = Scenario("ceiling", args.latency_ms, (args.batches,), ("sqlite",))
    rows = []
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        ids = scratch / "ids.txt"
        ids.write_text("\n".join(generated_ids(args.batches, seed=args.batches)) + "\n")
        server, api_url = start_api(scenario, ids)
        try:
            for run in range(1, args.runs + 1):
                for contender in ("bare", "tool"):
                    database = FreshDatabase("sqlite", scratch)
                    result = measure(
                        contender, api_url, database.url, ids, args.workers, ("--timeline",)
                    )
                    database.drop()
                    row = {"run": run, "contender": contender, "ceiling": ceiling, **result}
                    rows.append(row)
                    print(format_row(row), flush=True)
        finally:
            server.terminate()
            server.wait()
    print()
    print(machine())
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


HEADER = (
    "| run | contender | process s | requests | first request at s | in flight s "
    "| after the last answer s | req/s in flight | % of ceiling in flight "
    "| % of ceiling, whole process |\n|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict) -> str:
    in_flight = row["last_answer_s"] - row["first_request_s"]
    requests = row["requests"]
    whole = row["process_seconds"]
    return (
        f"| {row['run']} | {row['contender']} | {whole:.2f} | {requests:,} "
        f"| {row['first_request_s']:.2f} | {in_flight:.2f} "
        f"| {whole - row['last_answer_s']:.2f} | {requests / in_flight:.1f} "
        f"| {requests / in_flight / row['ceiling']:.0%} | {requests / whole / row['ceiling']:.0%} |"
    )


if __name__ == "__main__":
    main()
