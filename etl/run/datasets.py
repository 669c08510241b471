"""The dataset details' phase: fetch the details of the datasets first seen or changed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import ItemError
from ..source.extract import Extractor
from ..store.load import datasets_due, store_dataset_details
from ..store.lock import RunLock
from ..store.runlog import Failure, utcnow
from .ledger import Ledger

log = logging.getLogger("etl")


def load_dataset_details(
    extractor: Extractor,
    ledger: Ledger,
    lock: RunLock,
    *,
    chunk_size: int,
    check_stop: Callable[[], None],
) -> None:
    """Fetch and write the details of every dataset due, ``chunk_size`` at a time."""
    due = datasets_due(ledger.engine)
    if not due:
        return
    log.info(
        "fetching the details of %d dataset(s)",
        len(due),
        extra={"event": "dataset_details", "run_id": ledger.run_id, "count": len(due)},
    )
    for start in range(0, len(due), chunk_size):
        gathered = extractor.submit(
            due[start : start + chunk_size], work=extractor.extract_dataset
        )()
        check_stop()
        failures = []
        for outcome, _seconds in gathered:
            if isinstance(outcome, ItemError):
                failures.append(Failure.from_item_error(outcome))
            else:
                lock.verify()
                stored = store_dataset_details(ledger.engine, outcome, ledger.run_id, utcnow())
                failures += [Failure.from_item_error(error) for error in stored.failed]
        ledger.fail(failures)
