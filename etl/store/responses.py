"""Writing a batch's responses: chunks upserted by content hash, and the ones gone upstream.

A batch may have hundreds of thousands of responses, read from the API as a stream; they come
here a chunk at a time. A response whose content hash is unchanged is not written at all, so a
nightly rerun rewrites no response row; a changed one is updated and its answers replaced.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from ..errors import RowsRefusedError
from ..rows import RESPONSE_CONTENT_COLUMNS, ResponseRows
from .db import first_line
from .dialects import upsert
from .load import ROW_ERRORS, database_wide_errors, raise_if_database_wide
from .schema import response_answers, responses


@dataclass
class ResponseOutcome:
    """What a chunk of responses did to the tables, and the responses the database refused."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[RowsRefusedError] | None = None

    def merge(self, other: ResponseOutcome) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        if other.failed:
            self.failed = [*(self.failed or []), *other.failed]


class SeenIds:
    """The ids of the responses an answer held, kept small (16 bytes for a UUID), so that a
    batch of 200,000 responses costs a few megabytes to tell which ones are gone."""

    def __init__(self) -> None:
        self._ids: set[bytes | str] = set()

    def add(self, response_id: str) -> None:
        self._ids.add(self._key(response_id))

    def __contains__(self, response_id: str) -> bool:
        return self._key(response_id) in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    @staticmethod
    def _key(response_id: str) -> bytes | str:
        try:
            return uuid.UUID(response_id).bytes
        except ValueError:
            return response_id


def load_responses(
    engine: Engine, chunk: Sequence[ResponseRows], run_id: int, now: datetime
) -> ResponseOutcome:
    """Upsert ``chunk`` in one transaction; should the database refuse a row, again one
    response per transaction, so that only the refused ones fail.

    Raises DatabaseUnavailableError when the database as a whole stops taking writes.
    """
    unique = list({rows.response_id: rows for rows in chunk}.values())  # a repeat counts once
    if not unique:
        return ResponseOutcome()
    try:
        with engine.begin() as connection:
            return _write(connection, unique, run_id, now)
    except ROW_ERRORS as exc:
        raise_if_database_wide(engine, exc)
        if len(unique) == 1:
            return _refused(unique[0], exc)
    outcome = ResponseOutcome()
    for rows in unique:
        outcome.merge(load_responses(engine, [rows], run_id, now))
    return outcome


def _write(
    connection: Connection, chunk: Sequence[ResponseRows], run_id: int, now: datetime
) -> ResponseOutcome:
    ids = [rows.response_id for rows in chunk]
    stored = {
        row.response_id: (row.content_hash, row.removed_upstream_at)
        for row in connection.execute(
            select(
                responses.c.response_id, responses.c.content_hash, responses.c.removed_upstream_at
            ).where(responses.c.response_id.in_(ids))
        )
    }
    new = [rows for rows in chunk if rows.response_id not in stored]
    changed = [
        rows
        for rows in chunk
        if rows.response_id in stored and stored[rows.response_id][0] != rows.content_hash
    ]
    back = [
        rows.response_id
        for rows in chunk
        if rows.response_id in stored and stored[rows.response_id][1] is not None
    ]
    to_write = new + changed
    if to_write:
        values = [
            {
                **rows.response,
                "content_hash": rows.content_hash,
                "first_seen_at": now,
                "last_changed_at": now,
                "last_changed_run_id": run_id,
            }
            for rows in to_write
        ]
        columns = (
            *RESPONSE_CONTENT_COLUMNS,
            "content_hash",
            "last_changed_at",
            "last_changed_run_id",
        )
        connection.execute(upsert(responses, connection.dialect, columns), values)
    if changed:
        connection.execute(
            delete(response_answers).where(
                response_answers.c.response_id.in_([rows.response_id for rows in changed])
            )
        )
    answers = [answer for rows in to_write for answer in rows.answers]
    if answers:
        connection.execute(insert(response_answers), answers)
    if back:
        connection.execute(
            update(responses)
            .where(responses.c.response_id.in_(back))
            .values(removed_upstream_at=None)
        )
    return ResponseOutcome(
        inserted=len(new), updated=len(changed), unchanged=len(chunk) - len(to_write)
    )


def mark_removed_responses(
    engine: Engine, batch_id: str, seen: SeenIds, now: datetime
) -> list[str]:
    """Mark the stored responses of ``batch_id`` that its complete answer no longer held as
    removed upstream; return their ids. Nothing is deleted."""
    with database_wide_errors(), engine.begin() as connection:
        stored = connection.execute(
            select(responses.c.response_id).where(
                responses.c.batch_id == batch_id, responses.c.removed_upstream_at.is_(None)
            ),
            execution_options={"yield_per": 5000},  # streamed: never every id at once
        ).scalars()
        gone = [response_id for response_id in stored if response_id not in seen]
        for start in range(0, len(gone), 1000):
            connection.execute(
                update(responses)
                .where(responses.c.response_id.in_(gone[start : start + 1000]))
                .values(removed_upstream_at=now)
            )
    return gone


def _refused(rows: ResponseRows, exc: Exception) -> ResponseOutcome:
    detail = first_line(exc.orig) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"
    error = RowsRefusedError(
        rows.response["batch_id"],
        f"response {rows.response_id}: database refused the rows: {detail}",
        response_id=rows.response_id,
        stage="responses",
    )
    return ResponseOutcome(failed=[error])
