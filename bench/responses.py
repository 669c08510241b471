"""Benchmark: peak memory of `sync --responses` for one batch of 1,000 and one of 200,000.

    .venv/bin/python bench/responses.py                 # SQLite (about 2 minutes)
    .venv/bin/python bench/responses.py --sizes 1000,50000

For each size it starts `prolific-etl fake-api --responses N` (the batch's responses made up
and encoded before serving, in the imitation's own process) and runs the tool in a fresh
process on a fresh SQLite file, reading its peak RSS. The goal (issue 14): the largest within
1.5× of the smallest, because a batch's responses are read from the API as a stream and
written in chunks, never held whole. Prints a Markdown table; --json writes the raw results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.imitation.server import generated_ids  # noqa: E402

TOKEN = "bench-token"


def measure(size: int, scratch: Path) -> dict:
    ids = scratch / f"ids_{size}.txt"
    ids.write_text("\n".join(generated_ids(1, seed=size)) + "\n")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "etl",
            "fake-api",
            "--token",
            TOKEN,
            "--responses",
            str(size),
            "--preload",
            str(ids),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        api_url = server.stdout.readline().strip()
        database = scratch / f"responses_{size}.db"
        completed = subprocess.run(
            [
                sys.executable,
                str(REPO / "bench" / "measure.py"),
                "tool",
                "--api-url",
                api_url,
                "--token",
                TOKEN,
                "--database-url",
                f"sqlite:///{database}",
                "--ids",
                str(ids),
                "--responses",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
    finally:
        server.terminate()
        server.wait()
    if completed.returncode != 0:
        raise SystemExit(f"the tool failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["size"] = size
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,200000")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        rows = [measure(size, Path(scratch)) for size in sizes]
    smallest = rows[0]["peak_rss_mb"]
    print("| responses in the batch | seconds | responses/s | peak RSS MB | × smallest |")
    print("|---|---|---|---|---|")
    for row in rows:
        inserted = row["counts"]["responses_inserted"]
        assert inserted == row["size"], (inserted, row["size"])
        print(
            f"| {row['size']:,} | {row['seconds']:.1f} | {row['size'] / row['seconds']:,.0f} | "
            f"{row['peak_rss_mb']:.0f} | {row['peak_rss_mb'] / smallest:.2f}× |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
