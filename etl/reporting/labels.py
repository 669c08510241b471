"""The training-ready labels export (``prolific-etl labels``): per task, its consensus for each
instruction (from ``consensus_labels``) with its support, and every individual answer.

Streamed: one query over the current responses, ordered by batch, task and instruction and
read in chunks (a server-side cursor where the driver has one), so that a task is held at a
time, never a batch. JSON Lines gives one line per task; CSV one row per task and
instruction (its answers as a JSON list in one column), as CSV has no nesting.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, and_, select
from sqlalchemy.exc import DBAPIError

from ..errors import ConfigError, DatabaseUnavailableError
from ..kinds.submission import submissions
from ..store.db import first_line
from ..store.label_quality import consensus_labels
from ..store.schema import batches, response_answers, responses
from ..store.study_views import APPROVED
from .export import _check_output_path, _write_whole_file

LABEL_FORMATS = ("jsonl", "csv")
CHUNK_ROWS = 5000
CSV_COLUMNS = (
    "batch_id",
    "task_id",
    "instruction_id",
    "consensus",
    "support",
    "votes",
    "answers_counted",
    "is_tie",
    "tied_values",
    "answers",
)


def _statement(batch_ids: Sequence[str], approved_only: bool):
    r, a, c = responses, response_answers, consensus_labels
    removed = select(batches.c.batch_id).where(batches.c.removed_upstream_at.is_not(None))
    joined = r.outerjoin(a, a.c.response_id == r.c.response_id).outerjoin(
        c,
        and_(
            c.c.batch_id == r.c.batch_id,
            c.c.instruction_id == r.c.instruction_id,
            c.c.task_id == r.c.task_id,
        ),
    )
    conditions = [r.c.removed_upstream_at.is_(None), r.c.batch_id.not_in(removed)]
    if approved_only:
        joined = joined.join(submissions, submissions.c.submission_id == r.c.submission_id)
        conditions += [
            submissions.c.status == APPROVED,
            submissions.c.removed_upstream_at.is_(None),
        ]
    if batch_ids:
        conditions.append(r.c.batch_id.in_([batch_id.lower() for batch_id in batch_ids]))
    columns = (
        r.c.batch_id,
        r.c.task_id,
        r.c.instruction_id,
        r.c.response_id,
        r.c.participant_id,
        r.c.submission_id,
        r.c.created_at,
        a.c.value_text,
        c.c.consensus,
        c.c.support,
        c.c.votes,
        c.c.answers.label("answers_counted"),
        c.c.is_tie,
        c.c.tied_values,
    )
    order = (r.c.batch_id, r.c.task_id, r.c.instruction_id, r.c.participant_id, r.c.response_id)
    return select(*columns).select_from(joined).where(*conditions).order_by(*order, a.c.position)


def label_records(
    connection: Connection,
    batch_ids: Sequence[str] = (),
    *,
    approved_only: bool = False,
    min_support: float | None = None,
) -> Iterator[dict[str, Any]]:
    """One record per task: ``batch_id``, ``task_id`` and ``instructions``, each with its
    consensus (None on a tie or with no comparable answers), support, votes, answers counted,
    tie, tied values, and ``answers`` (every answer with its values' texts).

    ``approved_only`` keeps the answers of APPROVED submissions only (the consensus stays as
    computed: every answer but REJECTED and RETURNED ones). ``min_support`` keeps only the
    instructions whose consensus has at least that support (a tie never does), and the tasks
    with one left."""
    rows = connection.execution_options(yield_per=CHUNK_ROWS).execute(
        _statement(batch_ids, approved_only)
    )
    for (batch_id, task_id), task_rows in groupby(rows.mappings(), key=_task_key):
        instructions = [
            _instruction(instruction_id, list(group))
            for instruction_id, group in groupby(task_rows, key=lambda row: row["instruction_id"])
        ]
        if min_support is not None:
            instructions = [
                item
                for item in instructions
                if item["consensus"] is not None and item["support"] >= min_support
            ]
            if not instructions:
                continue
        yield {"batch_id": batch_id, "task_id": task_id, "instructions": instructions}


def _task_key(row: Any) -> tuple[str, str]:
    return row["batch_id"], row["task_id"]


def _instruction(instruction_id: str, rows: list[Any]) -> dict[str, Any]:
    first = rows[0]
    answers = []
    for _, response_rows in groupby(rows, key=lambda row: row["response_id"]):
        values = list(response_rows)
        answers.append(
            {
                "response_id": values[0]["response_id"],
                "participant_id": values[0]["participant_id"],
                "submission_id": values[0]["submission_id"],
                "created_at": _iso(values[0]["created_at"]),
                "values": [row["value_text"] for row in values if row["value_text"] is not None],
            }
        )
    tie = first["is_tie"]
    return {
        "instruction_id": instruction_id,
        "consensus": first["consensus"],
        "support": first["support"],
        "votes": first["votes"],
        "answers_counted": first["answers_counted"],
        "is_tie": None if tie is None else bool(tie),
        "tied_values": first["tied_values"],
        "answers": answers,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _write_jsonl(records: Iterable[dict[str, Any]], stream: IO[bytes]) -> int:
    written = 0
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        written += 1
    return written


def _write_csv(records: Iterable[dict[str, Any]], stream: IO[bytes]) -> int:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    written = 0
    for record in records:
        for item in record["instructions"]:
            tied = item["tied_values"]
            writer.writerow(
                (
                    record["batch_id"],
                    record["task_id"],
                    item["instruction_id"],
                    item["consensus"],
                    item["support"],
                    item["votes"],
                    item["answers_counted"],
                    item["is_tie"],
                    None if tied is None else json.dumps(tied, ensure_ascii=False),
                    json.dumps(item["answers"], ensure_ascii=False),
                )
            )
        written += 1
    text.detach()  # the caller owns the stream
    return written


def export_labels(
    engine: Engine,
    out: str | os.PathLike | IO[bytes],
    *,
    fmt: str = "jsonl",
    batch_ids: Sequence[str] = (),
    approved_only: bool = False,
    min_support: float | None = None,
) -> int:
    """Write the labels (see `label_records`) to ``out`` (a path, replaced once complete and
    only if it is a regular file, or a binary stream) as ``fmt``; the number of tasks written.

    Raises ConfigError for a bad format or path, DatabaseUnavailableError when reading fails."""
    if fmt not in LABEL_FORMATS:
        raise ConfigError(f"unknown labels format {fmt!r}; use one of {', '.join(LABEL_FORMATS)}")
    if isinstance(out, (str, os.PathLike)):
        _check_output_path(os.fspath(out))
    write_records = _write_jsonl if fmt == "jsonl" else _write_csv

    def write(stream: IO[bytes]) -> int:
        try:
            with engine.connect() as connection:
                records = label_records(
                    connection, batch_ids, approved_only=approved_only, min_support=min_support
                )
                return write_records(records, stream)
        except DBAPIError as exc:
            raise DatabaseUnavailableError(f"cannot read labels: {first_line(exc.orig)}") from exc

    if isinstance(out, (str, os.PathLike)):
        return _write_whole_file(Path(out), write)
    return write(out)


__all__ = ["LABEL_FORMATS", "export_labels", "label_records"]
