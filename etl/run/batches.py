"""Batches: writing a chunk of them (from a listing or from the ID file), and the ID file's
phase, which fetches the batches no listing held, one chunk ahead of the one being loaded."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from ..errors import ItemError
from ..rows import BatchRows
from ..source.extract import Extractor, Fetched
from ..store.load import load_chunk, preview_chunk
from ..store.lock import RunLock
from ..store.runlog import Failure, utcnow
from .ledger import Ledger

log = logging.getLogger("etl")


class BatchWriter:
    """Writes chunks of batches (or, in a dry run, compares them) and books their outcomes."""

    def __init__(self, ledger: Ledger, lock: RunLock) -> None:
        self.ledger = ledger
        self.lock = lock
        self.loaded_ids: list[str] = []  # batches whose rows are in the database, in order
        # Told of each chunk's batches once written (not in a dry run): the datasets' details.
        self.on_loaded: Callable[[Sequence[BatchRows]], None] | None = None

    def write(self, fetched: Sequence[BatchRows | ItemError]) -> list[str]:
        """Load a chunk; return the ids of its batches the database refused."""
        if not fetched:
            return []
        ledger, result = self.ledger, self.ledger.result
        good = [item for item in fetched if isinstance(item, BatchRows)]
        errors = [item for item in fetched if isinstance(item, ItemError)]
        result.fetched += sum(
            1 for item in fetched if isinstance(item, BatchRows) or item.stage != "fetch"
        )
        if ledger.dry_run:
            outcome = preview_chunk(ledger.engine, good)
        else:
            self.lock.verify()
            outcome = load_chunk(
                ledger.engine, good, result.run_id, utcnow(), before_commit=ledger.record_progress
            )
        result.inserted += len(outcome.inserted)
        result.updated += len(outcome.updated)
        result.unchanged += len(outcome.unchanged)
        for kind, ids in (
            ("inserted", outcome.inserted),
            ("updated", outcome.updated),
            ("unchanged", outcome.unchanged),
        ):
            self.loaded_ids += ids
            for batch_id in ids:
                self._log_outcome(batch_id, kind)
                ledger.outcome(batch_id, kind)
        ledger.fail([Failure.from_item_error(e) for e in (*errors, *outcome.failed)])
        refused = [error.batch_id for error in outcome.failed]
        if self.on_loaded is not None and not ledger.dry_run:
            self.on_loaded([rows for rows in good if rows.batch_id not in refused])
        return refused

    def _log_outcome(self, batch_id: str, kind: str) -> None:
        dry_run = self.ledger.dry_run
        log.info(
            "batch %s %s",
            batch_id,
            f"would be {kind}" if dry_run else kind,
            extra={
                "event": f"batch_{kind}",
                "batch_id": batch_id,
                "run_id": self.ledger.run_id,
                "duration": self.ledger.durations.pop(batch_id, None),
                "dry_run": dry_run,
            },
        )


def load_id_file_batches(
    extractor: Extractor,
    batch_ids: Sequence[str],
    writer: BatchWriter,
    *,
    chunk_size: int,
    check_stop: Callable[[], None],
) -> None:
    """The ID file's phase: fetch ``batch_ids`` a chunk at a time and write each chunk."""
    for chunk in _fetch_in_chunks(extractor, batch_ids, writer.ledger, chunk_size, check_stop):
        writer.write(chunk)


def _fetch_in_chunks(
    extractor: Extractor,
    batch_ids: Sequence[str],
    ledger: Ledger,
    chunk_size: int,
    check_stop: Callable[[], None],
) -> Iterator[list[BatchRows | ItemError]]:
    """Yield chunks of fetched results in input order, fetching one chunk ahead.

    When a worker stopped the run (401, API unreachable), what finished before it is
    yielded first, so that its failures are recorded, and then the reason is raised.
    """
    starts = iter(range(0, len(batch_ids), chunk_size))

    def on_done(fetched: Fetched) -> None:
        ledger.fetched(fetched[0].batch_id)

    def submit_next() -> Callable[[], list[Fetched]] | None:
        start = next(starts, None)
        if start is None:
            return None
        return extractor.submit(batch_ids[start : start + chunk_size], on_done)

    current = submit_next()
    while current is not None:
        check_stop()
        upcoming = submit_next()  # fetched while this chunk is being loaded
        chunk = []
        for item, seconds in current():
            ledger.durations[item.batch_id] = seconds
            chunk.append(item)
        yield chunk
        check_stop()
        current = upcoming
