"""The imitation's sample data: spec-shaped batches, workspaces, dataset details and responses
with awkward but valid content (quotes, emoji, SQL in names, odd response values), each
reproducible from a seed or an id."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

_NAMES = (
    "Sentiment labelling — round {n}",
    "Émoji check 🚀✨ #{n}",
    "O'Brien's \"quoted\" batch {n}",
    "Robert'); DROP TABLE batches;-- {n}",
    "日本語のタスク {n}",
    "Percent %s and %(x)s and \\backslash {n}",
    "Plain batch {n}",
)
_STATUSES = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")


def sample_batch(
    rng: random.Random,
    index: int,
    *,
    dataset_pool: list[dict[str, Any]] | None = None,
    batch_id: str | None = None,
    html_repeats: tuple[int, ...] = (1, 2, 50, 2000),
) -> dict[str, Any]:
    """One spec-shaped batch with awkward but valid content, reproducible from ``rng``."""
    created = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(0, 300 * 86400), microseconds=rng.randrange(0, 1_000_000)
    )
    pool = dataset_pool or []
    how_many = rng.choice((0, 1, 1, 2, 3, 5)) if pool else 0
    datasets = rng.sample(pool, min(how_many, len(pool)))
    intro_repeats = rng.choice(html_repeats)
    batch = {
        "id": batch_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "created_by": f"{rng.getrandbits(96):024x}",
        "datasets": [dict(d) for d in datasets],
        "name": rng.choice(_NAMES).format(n=index),
        "status": rng.choice(_STATUSES),
        "total_task_count": rng.randrange(0, 100_000),
        "total_instruction_count": rng.randrange(0, 50),
        "workspace_id": f"ws_{rng.randrange(0, 5):02d}",
        "schema_version": rng.choice((1, 2)),
        "task_details": {
            "task_name": f"Task «{index}»",
            "task_introduction": (
                "<h1>Welcome</h1>\n"
                + "<p>Read carefully &amp; label “each” item.</p>\r\n" * intro_repeats
            ),
            "task_steps": "<ol><li>Read</li><li>Label 👍/👎</li><li>Submit</li></ol>",
        },
        "total_task_groups": rng.randrange(0, 20),
    }
    return _with_newer_fields(batch)


def _with_newer_fields(batch: dict[str, Any]) -> dict[str, Any]:
    """Fields newer batches carry (batch_items, auto_sync_enabled) or that the spec does not
    list, on some batches; drawn from the batch's id, so that older seeds keep their batches."""
    rng = random.Random(batch["id"])
    if rng.random() < 0.4:
        batch["batch_items"] = [
            {
                "id": f"page-{page}",
                "rows": [
                    {
                        "id": f"row-{page}-0",
                        "columns": [
                            {
                                "id": f"col-{page}-0",
                                "items": [
                                    {"id": f"item-{page}", "type": "dataset_field", "key": "text"},
                                    {"id": f"q-{page}", "type": "free_text", "weight": 0.5},
                                ],
                            }
                        ],
                    }
                ],
            }
            for page in range(rng.randrange(1, 3))
        ]
    elif rng.random() < 0.3:
        batch["batch_items"] = None
    choice = rng.random()
    if choice < 0.3:
        batch["auto_sync_enabled"] = True
    elif choice < 0.5:
        batch["auto_sync_enabled"] = False
    if rng.random() < 0.15:
        batch["review_mode"] = rng.choice(("single", "double", {"reviewers": 2, "blind": True}))
    return batch


def sample_workspace(workspace_id: str) -> dict[str, Any]:
    """A spec-shaped workspace (``WorkspaceShort``) for an id, reproducible from it."""
    rng = random.Random(workspace_id)
    return {
        "id": workspace_id,
        "title": rng.choice(("Annotation lab", "Émotions & sentiment", "Q3 pilots"))
        + f" {workspace_id}",
        "description": rng.choice(("", "Labelling for the research team", None)),
        "owner": f"{rng.getrandbits(96):024x}",
        "users": [
            {"id": f"{rng.getrandbits(96):024x}", "name": "Ada", "roles": ["WORKSPACE_ADMIN"]}
        ],
        "naivety_distribution_rate": None,
    }


def sample_dataset_details(ref: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    """A dataset's details (``AITaskBuilderDataset``) as a batch's reference to it implies:
    version 3 or 4 by turns, reproducible from its id."""
    rng = random.Random(ref["id"])
    created = datetime(2024, 6, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(0, 200 * 86400)
    )
    details: dict[str, Any] = {
        "id": ref["id"],
        "name": f"Dataset for {ref['filename']}",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "created_by": f"{rng.getrandbits(96):024x}",
        "workspace_id": workspace_id,
        "total_datapoint_count": ref["total_datapoint_count"],
    }
    if rng.random() < 0.5:
        details |= {
            "schema_version": rng.choice(("3", 3)),
            "status": rng.choice(("READY", "READY", "PROCESSING", "ERROR")),
            "filename": ref["filename"],
            "has_predetermined_grouping_id": rng.choice((True, False, None)),
        }
        return details
    imports = []
    for job in range(rng.randrange(0, 3)):
        started = created + timedelta(hours=job)
        status = rng.choice(("complete", "partial", "failed", "processing"))
        imports.append(
            {
                "dataset_id": ref["id"],
                "import_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": "file_upload",
                "filename": f"upload_{job}.jsonl",
                "created_at": started.isoformat().replace("+00:00", "Z"),
                "updated_at": (started + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
                "status": status,
                **(
                    {"accepted_count": rng.randrange(0, 5000)}
                    if status in ("complete", "partial")
                    else {}
                ),
                **(
                    {
                        "rejected_count": rng.randrange(1, 50),
                        "errors": [{"record_index": 3, "field": "text", "reason": "missing"}],
                    }
                    if status == "partial"
                    else {}
                ),
                **({"reason": "Malformed JSON on line 1"} if status == "failed" else {}),
            }
        )
    details |= {
        "schema_version": rng.choice(("4", 4)),
        "schema": {
            "strict": True,
            "fields": {
                "text": {"type": "text", "label": "Text"},
                "group": {"type": "task_group_id"},
            },
        },
        "imports": imports,
    }
    return details


RESPONSE_TYPES = (
    "multiple_choice",
    "free_text",
    "free_text_with_unit",
    "multiple_choice_with_free_text",
    "file_upload",
)
_FREE_TEXT = (
    "Looks fine to me",
    "Ünïcödé & <b>markup</b> 👍",
    'O\'Brien said "no"',
    "  leading and trailing spaces  ",
    "",
    "line one\nline two",
)


def sample_response(rng: random.Random, batch_id: str, index: int) -> dict[str, Any]:
    """One response record of every documented type in turn, with the odd values the API can
    send: numbers and booleans as values, several values, units, files, ids that are not
    UUIDs, metadata of any shape, fields left out."""
    created = datetime(2025, 6, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(0, 40 * 86400), microseconds=rng.randrange(0, 1_000_000)
    )
    kind = RESPONSE_TYPES[index % len(RESPONSE_TYPES)]
    if kind == "multiple_choice":
        answer = [
            {"value": v}
            for v in rng.sample(["A", "B", "C", 1, 2.5, True, False], rng.randrange(1, 3))
        ]
    elif kind == "free_text":
        answer = [{"value": rng.choice(_FREE_TEXT)}]
    elif kind == "free_text_with_unit":
        answer = [{"value": str(rng.randrange(0, 500)), "unit": rng.choice(("kg", "cm", "°C"))}]
    elif kind == "multiple_choice_with_free_text":
        answer = [{"value": rng.choice(("Other", "Yes")), "explanation": rng.choice(_FREE_TEXT)}]
    else:
        answer = [
            {
                "value": f"upload-{index}.png",
                "file_name": f"photo {index}.png",
                "file_key": f"uploads/{batch_id}/{index}.png",
                "file_size_mb": round(rng.uniform(0.01, 12.0), 3),
                "content_type": "image/png",
            }
        ]
    record: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "batch_id": batch_id,
        "participant_id": f"{rng.getrandbits(96):024x}",
        "task_id": rng.choice(
            (f"task-{index % 97}", str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        ),
        "response": {"instruction_id": f"instr-{index % 3}", "type": kind, "answer": answer},
    }
    if rng.random() < 0.8:
        record["submission_id"] = f"{rng.getrandbits(96):024x}"
    if rng.random() < 0.5:
        record["correlation_id"] = f"corr_{rng.getrandbits(32):08x}"
    if rng.random() < 0.6:
        record["metadata"] = rng.choice(({"source": "web"}, {"attempt": 2, "flags": [1, "x"]}, {}))
    if rng.random() < 0.7:
        record["schema_version"] = rng.choice((1, 2))
    if rng.random() < 0.3:
        record["no_submission"] = rng.choice((True, False))
    return record


def iter_sample_responses(batch_id: str, count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` response records for a batch, reproducible from the batch and ``seed``."""
    rng = random.Random(f"{seed}:{batch_id}")
    for index in range(count):
        yield sample_response(rng, batch_id, index)


def sample_dataset(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "total_datapoint_count": rng.randrange(0, 1_000_000),
        "filename": rng.choice(("data_{n}.csv", "ünïcode_{n}.jsonl", "it's {n}.csv")).format(
            n=index
        ),
    }


def sample_batches(count: int, *, seed: int = 0, datasets: int | None = None) -> list[dict]:
    """``count`` sample batches drawing on a shared pool of datasets (so some are shared)."""
    rng = random.Random(seed)
    pool_size = max(1, count // 2) if datasets is None else datasets
    pool = [sample_dataset(rng, i) for i in range(pool_size)]
    return [sample_batch(rng, i, dataset_pool=pool) for i in range(count)]


def generated_ids(count: int, *, seed: int = 0) -> list[str]:
    """``count`` reproducible batch IDs, for runs too large to hold every payload up front."""
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def batch_generator(
    *, seed: int = 0, datasets: int = 1000, html_repeats: tuple[int, ...] = (1, 2, 5)
) -> Callable[[str], dict[str, Any]]:
    """A ``generate`` callback: the same batch for the same ID, computed on demand.

    Batches draw on a shared pool of ``datasets`` datasets; HTML stays small by default so that
    a 100,000-batch benchmark measures the pipeline, not the disk.
    """
    pool_rng = random.Random(seed)
    pool = [sample_dataset(pool_rng, i) for i in range(datasets)]

    def generate(batch_id: str) -> dict[str, Any]:
        rng = random.Random(f"{seed}:{batch_id}")
        return sample_batch(
            rng,
            rng.randrange(1_000_000),
            dataset_pool=pool,
            batch_id=batch_id,
            html_repeats=html_repeats,
        )

    return generate
