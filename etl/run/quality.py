"""The label-quality phase: after the responses (and submissions), the agreement, consensus
and annotator rows of every batch whose answers changed in this run are computed anew from
the stored responses (``etl.quality``) and replace the batch's rows (``etl.store.label_quality``).

A batch changed when a response of it was inserted, updated or marked removed, or, with
``--submissions``, a submission of it was new, changed or removed (a status move changes
which answers count). A batch with responses and no agreement row yet (a database just
upgraded) is computed too. Nothing else is recomputed: a rerun with no change writes nothing.
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from itertools import islice
from typing import Any

from ..quality import quality_for_batches
from ..quality.answers import Label
from ..store.db import database_errors
from ..store.dialects import page_cache
from ..store.label_quality import (
    annotator_agreement,
    batches_never_assessed,
    consensus_labels,
    excluded_submissions,
    label_agreement,
    replace_batch_quality,
)
from ..store.lock import RunLock
from ..store.runlog import utcnow
from ..store.writer import WRITES_STOPPED
from .ledger import Ledger

log = logging.getLogger("etl")


def label_text(label: Label) -> str:
    """A label as stored: text as is, a number as its shortest text (3, not 3.0), a multiple
    selection as the JSON list of its sorted texts."""
    if isinstance(label, tuple):
        return json.dumps(list(label), ensure_ascii=False)
    if isinstance(label, float):
        return str(int(label)) if label.is_integer() else repr(label)
    return label


def assess_changed_batches(
    ledger: Ledger, lock: RunLock, changed: Iterable[str], synced: Sequence[str]
) -> list[str]:
    """Recompute the label quality of the ``changed`` batches and of those of ``synced``
    never assessed; the batches recomputed, in order."""
    due = set(changed) | batches_never_assessed(ledger.engine, list(synced))
    for batch_id in sorted(due):
        lock.verify()
        assess_batch(ledger, batch_id)
    if due:
        log.info(
            "label quality recomputed for %d batch(es)",
            len(due),
            extra={"event": "label_quality", "run_id": ledger.run_id, "batches": len(due)},
        )
    return sorted(due)


def assess_batch(ledger: Ledger, batch_id: str) -> None:
    """Compute one batch's agreement, consensus and annotator rows and replace its stored ones.

    Held in memory: one batch's rows per instruction and task (not its answers, which are
    read one instruction at a time)."""
    engine = ledger.engine
    excluded = excluded_submissions(engine, batch_id)
    with ExitStack() as spools:
        # A row per task and instruction: 200,000 answers make tens of thousands of them, so
        # they wait on disk, not in memory, until the batch's rows are replaced at once.
        rows = {table: spools.enter_context(RowSpool()) for table in QUALITY_ROWS}
        with (
            database_errors(WRITES_STOPPED),
            engine.connect() as connection,
            page_cache(connection, READ_CACHE_KIB),
        ):
            for quality in quality_for_batches(connection, [batch_id], excluded):
                rows[label_agreement].add([asdict(quality.agreement)])
                rows[consensus_labels].add(_consensus(row) for row in quality.consensus)
                rows[annotator_agreement].add(asdict(row) for row in quality.annotators)
        replace_batch_quality(
            engine,
            batch_id,
            {t: spool.rows() for t, spool in rows.items()},
            ledger.run_id,
            utcnow(),
        )


QUALITY_ROWS = (label_agreement, consensus_labels, annotator_agreement)

READ_CACHE_KIB = 2000
"""SQLite's page cache while a batch's answers are read (its default, where the run's writes
keep 8 MiB): the answers are what this phase holds, and the cache also bounds SQLite's sort of
them in memory before it spills to a temporary file."""


class RowSpool:
    """Rows written to a temporary file a list at a time, read back in the same order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()

    def __enter__(self) -> RowSpool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write ``rows`` (made as they are asked for) a thousand at a time."""
        rows = iter(rows)
        while part := list(islice(rows, 1000)):
            pickle.dump(part, self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def rows(self) -> Iterator[dict[str, Any]]:
        self._file.seek(0)
        while True:
            try:
                yield from pickle.load(self._file)
            except EOFError:
                return


def _consensus(row: Any) -> dict[str, Any]:
    return {
        "batch_id": row.batch_id,
        "instruction_id": row.instruction_id,
        "task_id": row.task_id,
        "consensus": None if row.consensus is None else label_text(row.consensus),
        "votes": row.votes,
        "answers": row.answers,
        "support": row.support,
        "is_tie": row.is_tie,
        "tied_values": [label_text(value) for value in row.tied_values] if row.is_tie else None,
    }
