"""Benchmark: a second unchanged night with `--responses --submissions` over 1,000 batches
whose studies are complete downloads no responses (issue 24).

    .venv/bin/python bench/settled.py                  # 1,000 batches on SQLite (~1 minute)
    .venv/bin/python bench/settled.py --batches 200

Serves the batches from the local imitation (in this process), each with made-up responses,
one or two studies and submissions consistent with them, every study COMPLETED and every
submission reviewed. Runs three nights: the first loads everything; the second, nothing having
changed, should download no responses body; the third, with --full-refresh, downloads them
all again. For comparison it also runs two nights of --responses alone on a second database.
Prints requests and body bytes per night and kind of request as a Markdown table; --json
writes the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.config import Settings  # noqa: E402
from etl.imitation.server import (  # noqa: E402
    FakeProlificAPI,
    sample_batches,
)
from etl.imitation.study_samples import SampleStudies  # noqa: E402
from etl.job import sync  # noqa: E402

TOKEN = "bench-token"


def night(api: FakeProlificAPI, database_url: str, ids: list[str], **options) -> dict:
    """One sync; the requests and body bytes it cost, per kind of request."""
    asked_before = Counter(seen.kind for seen in api.requests)
    bytes_before = api.bytes_sent()
    from etl.source.ids import IdFile

    settings = Settings(api_token=TOKEN, api_url=api.url, database_url=database_url)
    result = sync(settings, IdFile("bench", batch_ids=ids), **options)
    asked = Counter(seen.kind for seen in api.requests) - asked_before
    sent = {k: v - bytes_before.get(k, 0) for k, v in api.bytes_sent().items()}
    return {
        "status": result.status,
        "responses_skipped": result.responses_skipped,
        "requests": dict(asked),
        "bytes": {k: v for k, v in sent.items() if v},
        "summary": result.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--responses", type=int, default=20, help="responses per batch")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    batches = sample_batches(args.batches, seed=24, datasets=200)
    ids = [batch["id"] for batch in batches]
    sample = SampleStudies(batches, seed=24, submissions=(0, 1), decoys=False)
    with FakeProlificAPI(batches, token=TOKEN, record_requests=True) as api:
        api.put_answered_responses(sample, batches, args.responses)
        sample.complete_all()
        api.put_studies(sample)
        nights = {}
        with tempfile.TemporaryDirectory() as scratch:
            url = f"sqlite:///{Path(scratch) / 'settled.db'}"
            both = {"responses": True, "submissions": True}
            nights["1: --responses --submissions"] = night(api, url, ids, **both)
            nights["2: same, nothing changed"] = night(api, url, ids, **both)
            nights["3: same, --full-refresh"] = night(api, url, ids, full_refresh=True, **both)
            alone = f"sqlite:///{Path(scratch) / 'responses.db'}"
            night(api, alone, ids, responses=True)
            nights["2 with --responses alone"] = night(api, alone, ids, responses=True)
    print(table(nights))
    if args.json:
        args.json.write_text(json.dumps(nights, indent=2))


def table(nights: dict[str, dict]) -> str:
    kinds = sorted({kind for n in nights.values() for kind in (*n["requests"], *n["bytes"])})
    lines = [
        "| night | " + " | ".join(kinds) + " | all requests | all bytes | responses skipped |",
        "| --- |" + " ---: |" * (len(kinds) + 3),
    ]
    for name, n in nights.items():
        cells = [
            f"{n['requests'].get(kind, 0):,} req / {n['bytes'].get(kind, 0) / 1e6:.2f} MB"
            for kind in kinds
        ]
        total_requests = sum(n["requests"].values())
        total_bytes = sum(n["bytes"].values()) / 1e6
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {total_requests:,} | {total_bytes:.2f} MB | {n['responses_skipped']:,} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
