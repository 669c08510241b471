"""Runs one contender in this process and prints its time, peak RSS and statements as JSON.

Run by bench/run.py in a fresh process per measurement, so that peak RSS is that run's alone.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path

_TARGET = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT\b.*?\bFROM)\s+[`\"]?(\w+)",
    re.IGNORECASE | re.DOTALL,
)


def count_statements() -> Counter:
    # Imported here: the tool's worker processes import this script again as they start.
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: Counter = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        match = _TARGET.match(statement)
        verb = statement.split(None, 1)[0].upper()
        counts[f"{verb} {match.group(1) if match else '?'}"] += 1

    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contender", choices=["tool", "naive"])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=500)
    args = parser.parse_args()

    statements = count_statements()
    started = time.perf_counter()
    if args.contender == "tool":
        from etl.config import Settings, normalize_database_url
        from etl.job import sync

        settings = Settings(
            api_token=args.token,
            api_url=args.api_url,
            database_url=normalize_database_url(args.database_url),
        )
        result = sync(
            settings,
            args.ids,
            concurrency=args.concurrency,
            processes=args.processes,
            chunk_size=args.chunk_size,
        )
        counts = result.counts()
        loaded = result.inserted + result.updated + result.unchanged
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from naive_export import naive_export

        from etl.config import normalize_database_url

        ids = Path(args.ids).read_text().split()
        loaded = naive_export(
            args.api_url, args.token, normalize_database_url(args.database_url), ids
        )
        counts = {"loaded": loaded}
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # --processes' workers, when used
    print(
        json.dumps(
            {
                "seconds": seconds,
                "loaded": loaded,
                "peak_rss_mb": own.ru_maxrss / 1024,
                "worker_peak_rss_mb": workers.ru_maxrss / 1024,
                "cpu_seconds": own.ru_utime + own.ru_stime,
                "worker_cpu_seconds": workers.ru_utime + workers.ru_stime,
                "counts": counts,
                "statements": dict(statements),
            }
        )
    )


if __name__ == "__main__":
    main()
