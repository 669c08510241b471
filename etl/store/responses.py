"""Storing a batch's responses: thin adapters over the one writer (``etl.store.writer``),
under the names and signatures the job calls.

A batch may have hundreds of thousands of responses, read from the API as a stream; they come
here a chunk at a time. A response whose content hash is unchanged is not written at all, so a
nightly rerun rewrites no response row; a changed one is updated and its answers replaced.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from ..errors import ItemError
from ..kinds.response import RESPONSE, ResponseRows
from . import writer


@dataclass
class ResponseOutcome:
    """What a chunk of responses did to the tables, and the responses the database refused."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[ItemError] | None = None

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

    def __contains__(self, response_id: object) -> bool:
        return isinstance(response_id, str) and self._key(response_id) in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    @staticmethod
    def _key(response_id: str) -> bytes | str:
        digits = response_id.replace("-", "")
        if len(digits) == 32:  # most are UUIDs: read without uuid.UUID's many checks
            try:
                packed = bytes.fromhex(digits)
            except ValueError:
                packed = b""
            if len(packed) == 16:  # (fromhex skips spaces)
                return packed
        try:
            return uuid.UUID(response_id).bytes
        except ValueError:
            return response_id


def load_responses(
    into: Engine | writer.OpenTransaction, chunk: Sequence[ResponseRows], run_id: int, now: datetime
) -> ResponseOutcome:
    """Upsert ``chunk`` in one transaction (or a savepoint of the open one ``into``); should the
    database refuse a row, again one response per transaction (savepoint), so that only the
    refused ones fail.

    Raises DatabaseUnavailableError when the database as a whole stops taking writes.
    """
    if isinstance(into, writer.OpenTransaction):
        outcome = into.write(RESPONSE, chunk, run_id, now)
    else:
        outcome = writer.write(into, RESPONSE, chunk, run_id, now)
    return ResponseOutcome(
        inserted=len(outcome.inserted),
        updated=len(outcome.updated),
        unchanged=len(outcome.unchanged),
        failed=outcome.failed or None,
    )


def mark_removed_responses(
    engine: Engine, batch_id: str, seen: SeenIds, now: datetime
) -> list[str]:
    """Mark the stored responses of ``batch_id`` that its complete answer no longer held as
    removed upstream; return their ids. Nothing is deleted."""
    return writer.mark_removed(engine, RESPONSE, batch_id, None, now, seen=seen)
