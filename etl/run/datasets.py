"""The dataset details' phase, overlapping the batches': the details of the datasets first
seen or changed are asked for as soon as the chunk of batches that lists them is written,
through the same workers and pace, so that requests flow while batches still arrive.

After each chunk of batches the details due among its datasets are queued behind the batches
already asked for, and the details that have arrived by then are written, one transaction per
chunk of them. Once the last batch is written, every other dataset due (one whose fetch
failed in an earlier run, say) is asked for too, and the rest is written as it arrives. Each
dataset is asked for at most once a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..errors import ItemError
from ..rows import BatchRows
from ..source.extract import Extractor, Fetched, Submitted
from ..store.load import datasets_due, store_dataset_details
from ..store.lock import RunLock
from ..store.runlog import Failure, utcnow
from .ledger import Ledger

log = logging.getLogger("etl")

_WAIT = 0.2  # how long the last drain waits for details at a time before looking at stop


class DatasetDetailsPhase:
    """Fetches and writes the details of the datasets due, alongside the batches."""

    def __init__(
        self,
        extractor: Extractor,
        ledger: Ledger,
        lock: RunLock,
        *,
        chunk_size: int,
        check_stop: Callable[[], None],
    ) -> None:
        self.extractor = extractor
        self.ledger = ledger
        self.lock = lock
        self.chunk_size = chunk_size
        self.check_stop = check_stop
        self.asked: set[str] = set()  # datasets asked for in this run
        self._waiting: list[Submitted] = []
        self._arrived: list[Fetched] = []

    def batches_loaded(self, loaded: Sequence[BatchRows]) -> None:
        """A chunk of batches is written: ask for the details due among its datasets, and
        write those that have arrived so far (without waiting for the rest)."""
        listed = {dataset_id for rows in loaded for dataset_id in rows.dataset_ids}
        if fresh := sorted(listed - self.asked):
            self._ask(datasets_due(self.ledger.engine, among=fresh))
        self._collect(wait_up_to=0.0)
        while self._arrived:
            self._store_chunk()

    def finish(self) -> None:
        """The batches are all written: ask for every other dataset due, and write every
        detail still to come, a chunk at a time, as it arrives."""
        self._ask([d for d in datasets_due(self.ledger.engine) if d not in self.asked])
        while self._waiting or self._arrived:
            self.check_stop()
            self._collect(wait_up_to=_WAIT)
            if len(self._arrived) >= self.chunk_size or (self._arrived and not self._waiting):
                self._store_chunk()
        self.check_stop()

    def _ask(self, due: Sequence[str]) -> None:
        if not due:
            return
        self.asked.update(due)
        log.info(
            "fetching the details of %d dataset(s)",
            len(due),
            extra={"event": "dataset_details", "run_id": self.ledger.run_id, "count": len(due)},
        )
        extractor = self.extractor
        self._waiting.append(extractor.submit(due, work=extractor.extract_dataset))

    def _collect(self, *, wait_up_to: float) -> None:
        """Move the details that have arrived to ``_arrived``, waiting up to ``wait_up_to``
        seconds for the oldest submission's first one."""
        for index, submitted in enumerate(self._waiting):
            self._arrived += submitted.take(wait_up_to=wait_up_to if index == 0 else 0.0)
        self._waiting = [submitted for submitted in self._waiting if not submitted.exhausted]

    def _store_chunk(self) -> None:
        """Write up to ``chunk_size`` of the details that arrived, in one transaction, and
        record the failures among them (each with its dataset's id)."""
        chunk, self._arrived = self._arrived[: self.chunk_size], self._arrived[self.chunk_size :]
        ledger = self.ledger
        failures = [
            Failure.from_item_error(outcome)
            for outcome, _seconds in chunk
            if isinstance(outcome, ItemError)
        ]
        details = [outcome for outcome, _seconds in chunk if not isinstance(outcome, ItemError)]
        if details:
            self.lock.verify()
            stored = store_dataset_details(ledger.engine, details, ledger.run_id, utcnow())
            failures += [Failure.from_item_error(error) for error in stored.failed]
        ledger.fail(failures)
