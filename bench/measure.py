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

STARTED = time.perf_counter()  # about when the interpreter was ready (--timeline)

_TARGET = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT\b.*?\bFROM)\s+[`\"]?(\w+)",
    re.IGNORECASE | re.DOTALL,
)


def count_statements() -> Counter:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: Counter = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        match = _TARGET.match(statement)
        verb = statement.split(None, 1)[0].upper()
        counts[f"{verb} {match.group(1) if match else '?'}"] += 1

    return counts


def record_timeline() -> dict:
    """Filled in as the run goes (--timeline): when, in seconds since this script began, the
    first request was sent and the last answer came back, and how many requests there were."""
    import requests

    timeline: dict = {"requests_sent": 0}
    send = requests.Session.send

    def timed_send(self, request, **kwargs):
        timeline.setdefault("first_request_s", time.perf_counter() - STARTED)
        timeline["requests_sent"] += 1
        try:
            return send(self, request, **kwargs)
        finally:
            timeline["last_answer_s"] = time.perf_counter() - STARTED

    requests.Session.send = timed_send
    return timeline


def time_label_quality() -> dict:
    """Filled in as the run goes: the seconds of the label-quality phase that follows the
    responses (its own code, issue 25), and the peak RSS before it began."""
    import etl.run.runner as runner

    phases: dict = {}
    assess = runner.assess_changed_batches

    def timed(*args, **kwargs):
        phases["peak_rss_mb_before_label_quality"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
        started = time.perf_counter()
        try:
            return assess(*args, **kwargs)
        finally:
            phases["label_quality_seconds"] = time.perf_counter() - started

    runner.assess_changed_batches = timed
    return phases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contender", choices=["tool", "naive", "naive-responses", "dlt", "bare"])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument(
        "--concurrency", type=int, help="the tool's default when left out (dlt: its workers)"
    )
    parser.add_argument("--chunk-size", type=int, help="the tool's default when left out")
    parser.add_argument("--responses", action="store_true", help="the tool loads responses too")
    parser.add_argument(
        "--no-dataset-details",
        dest="dataset_details",
        action="store_false",
        help="the tool leaves out the datasets' details (on by default, as in the tool)",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="also say when the first request went out and the last answer came back",
    )
    args = parser.parse_args()

    timeline = record_timeline() if args.timeline else {}
    statements = count_statements()
    phases = time_label_quality() if args.responses else {}
    started = time.perf_counter()
    if args.contender == "tool":
        from etl.config import Settings, normalize_database_url
        from etl.job import sync

        settings = Settings(
            api_token=args.token,
            api_url=args.api_url,
            database_url=normalize_database_url(args.database_url),
        )
        options = {"concurrency": args.concurrency, "chunk_size": args.chunk_size}
        options = {k: v for k, v in options.items() if v is not None}
        # The datasets' details are a request per distinct dataset, on by default since
        # issue 13; the hand-written loop fetches the batches only (--no-dataset-details to
        # compare like with like).
        result = sync(
            settings,
            args.ids,
            responses=args.responses,
            dataset_details=args.dataset_details,
            **options,
        )
        counts = result.counts()
        loaded = result.inserted + result.updated + result.unchanged
    elif args.contender == "bare":
        sys.path.insert(0, str(Path(__file__).parent))
        from bare_fetch import bare_fetch

        ids = Path(args.ids).read_text().split()
        loaded = bare_fetch(args.api_url, args.token, ids, workers=args.concurrency or 16)
        counts = {"loaded": loaded}
    elif args.contender == "dlt":
        sys.path.insert(0, str(Path(__file__).parent))
        from dlt_export import dlt_export

        from etl.config import normalize_database_url

        ids = Path(args.ids).read_text().split()
        # The rows in dlt's own table, counted after its run: what it did load.
        loaded = dlt_export(
            args.api_url,
            args.token,
            normalize_database_url(args.database_url),
            ids,
            workers=args.concurrency or 5,
        )
        counts = {"loaded": loaded}
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from naive_export import naive_export, naive_export_responses

        from etl.config import normalize_database_url

        export = naive_export if args.contender == "naive" else naive_export_responses
        ids = Path(args.ids).read_text().split()
        loaded = export(args.api_url, args.token, normalize_database_url(args.database_url), ids)
        counts = {"loaded": loaded}
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "loaded": loaded,
                "peak_rss_mb": own.ru_maxrss / 1024,
                "cpu_seconds": own.ru_utime + own.ru_stime,
                "counts": counts,
                "statements": dict(statements),
                **phases,
                **timeline,
            }
        )
    )


if __name__ == "__main__":
    main()
