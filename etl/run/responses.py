"""The responses' phase: the responses of every batch this run stored, asked for as the
batches are written (``ResponsesAhead``) and read through the streaming load loop; a response
gone from a whole answer is marked removed upstream."""

from __future__ import annotations

import gc
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from ..errors import (
    DatabaseUnavailableError,
    DuplicateResponseError,
    ItemError,
    TruncatedResponsesError,
)
from ..rows import ResponseRows
from ..source.extract import Extractor, Submitted
from ..source.flatten import flatten_response
from ..source.validate import ResponseListing
from ..store.lock import RunLock
from ..store.responses import ResponseOutcome, SeenIds, load_responses, mark_removed_responses
from ..store.runlog import Failure, utcnow
from ..store.writer import OpenTransaction
from .ledger import FailedFast, Ledger
from .stream import Listed, load_stream
from .workspaces import closing_downloads

log = logging.getLogger("etl")

# Responses per chunk: read, compared and written together. Their keys are random, so each
# chunk dirties a page of every index of both tables. 2,500 take well under a second, so that
# a stop is still answered at once; more cost memory (about 8 KB a response in the chunk).
RESPONSE_CHUNK = 2500

# Responses per transaction on SQLite, whose commit writes each page the transaction dirtied
# twice (journal, file): chunks share a transaction (a savepoint each), so that a page is
# written once for several chunks. 200,000 responses into our tables by sqlite3 alone: 16.5-17.5
# s with a commit per chunk, 12.1-12.9 s with one per four; in the job 2-4 s of a 35-40 s phase
# (BENCHMARKS.md, session 8). Not on PostgreSQL and MySQL/MariaDB,
# where commits are cheap and a dropped connection (MariaDB drops it for a row over
# max_allowed_packet) would lose the chunks before it: there each chunk is its own
# transaction, as before.
SQLITE_RESPONSES_PER_TRANSACTION = 4 * RESPONSE_CHUNK


class _BatchResponses:
    """A batch's responses as the stream loop sees them: every record loaded, by content; a
    response id the answer holds twice is loaded from its first valid copy.

    On SQLite several chunks share a transaction; what they did (the counts, the failures,
    which are written through another connection) is recorded once it is committed
    (``commit``), at once when a chunk had a failure (--fail-fast stops there)."""

    chunk_size = RESPONSE_CHUNK

    def __init__(self, ledger: Ledger, lock: RunLock, batch_id: str) -> None:
        self.ledger = ledger
        self.lock = lock
        self.batch_id = batch_id
        self.outcome = ResponseOutcome()
        self.failures = 0  # responses that failed validation or loading
        engine = ledger.engine
        self._transaction = OpenTransaction(engine) if engine.dialect.name == "sqlite" else None
        self._per_transaction = SQLITE_RESPONSES_PER_TRANSACTION if self._transaction else 0
        self._uncommitted = ResponseOutcome()
        self._uncommitted_failures: list[ItemError] = []
        self._in_transaction = 0

    def key(self, item: Any) -> str | None:
        return item.response_id if isinstance(item, ItemError) else str(item.id)

    def accept(self, item: Any) -> ResponseRows | ItemError:
        return item if isinstance(item, ItemError) else flatten_response(item)

    def repeated(self, item: Any) -> ItemError:
        if isinstance(item, ItemError):
            return item  # invalid, whatever came before it
        return DuplicateResponseError(
            self.batch_id,
            f"response {item.id} appears more than once in batch {self.batch_id}'s answer; "
            "the first copy is kept, this one is not written",
            response_id=str(item.id),
        )

    def load(self, chunk: Sequence[ResponseRows | ItemError]) -> None:
        rows = [item for item in chunk if not isinstance(item, ItemError)]
        self._uncommitted_failures += [item for item in chunk if isinstance(item, ItemError)]
        if rows:
            self.lock.verify()
            into = self._transaction or self.ledger.engine
            loaded = load_responses(into, rows, self.ledger.run_id, utcnow())
            self._uncommitted_failures += loaded.failed or ()
            loaded.failed = None
            self._uncommitted.merge(loaded)
            self._in_transaction += len(rows)
        if self._uncommitted_failures or self._in_transaction >= self._per_transaction:
            self.commit()

    def commit(self) -> None:
        """Commit what the chunks wrote, and record it: counted as written (a stop mid-batch
        keeps it), its failures recorded."""
        if self._transaction is not None:
            try:
                self._transaction.commit()
            except BaseException:
                self.roll_back()
                raise
        written, self._uncommitted = self._uncommitted, ResponseOutcome()
        failed, self._uncommitted_failures = self._uncommitted_failures, []
        self._in_transaction = 0
        self.outcome.merge(written)
        result = self.ledger.result
        result.responses_inserted += written.inserted
        result.responses_updated += written.updated
        result.responses_unchanged += written.unchanged
        self.failures += len(failed)
        self.ledger.fail([Failure.from_item_error(error) for error in failed])

    def fail(self, failures: list[Failure]) -> None:
        """Record ``failures`` of the answer itself, after what came before them."""
        self.commit()
        self.ledger.fail(failures)

    def roll_back(self) -> None:
        """Give up what the open transaction holds: its writes, their counts and failures."""
        if self._transaction is not None:
            self._transaction.roll_back()
        self._uncommitted = ResponseOutcome()
        self._uncommitted_failures = []
        self._in_transaction = 0

    def truncated(self, listing: Listed) -> ItemError:
        return TruncatedResponsesError(
            self.batch_id,
            f"the API sent {listing.seen} responses but says there are {listing.count}; "
            "they may be cut short: those that came were loaded, none was marked removed",
        )


class ResponsesAhead:
    """The responses of each chunk of batches, asked for as soon as the chunk is written
    (through the same workers and pace, behind the batches already asked for), so that they
    download while batches still arrive: ``group`` batches' downloads at a time, at most two
    groups ahead of the one being loaded (their answers wait spooled, so this bounds them),
    the rest once the batches are all written (``finish``).

    ``wait_for_studies`` (--submissions): the batches wait (``waiting``) for this run's
    studies, which say whose responses can still change (``responses_due``); ``finish`` is
    given those. Asked for before them, a batch's responses would count as older than its
    studies' change that night (``etl.store.settled``: the change that settles it) and be
    read again the next night: one more download of every batch the night after it settles,
    for about 3 % off a night of 300 batches at 100 ms (measured: the studies dominate).
    """

    def __init__(
        self,
        extractor: Extractor,
        ledger: Ledger,
        lock: RunLock,
        *,
        group: int,
        check_stop: Callable[[], None],
        on_whole: Callable[[str, datetime], None] | None = None,
        on_changed: Callable[[str], None] | None = None,
        wait_for_studies: bool = False,
    ) -> None:
        self.extractor = extractor
        self.group = group
        self.wait_for_studies = wait_for_studies
        self.waiting: list[str] = []
        self._loader = _Downloads(ledger, lock, check_stop, on_whole, on_changed)
        self._due: deque[str] = deque()  # written, not asked for yet
        # Asked for, not loaded yet, with when (before any of their requests was sent).
        self._asked: deque[tuple[Submitted, datetime]] = deque()

    def batches_loaded(self, batch_ids: Sequence[str]) -> None:
        """A chunk of batches is written: ask for their responses as far as two groups
        ahead allow, loading the oldest group when they are full."""
        if self.wait_for_studies:
            self.waiting += batch_ids
            return
        self._due.extend(batch_ids)
        self._ask()
        while len(self._due) >= self.group and len(self._asked) >= GROUPS_AHEAD:
            self._loader.load(*self._asked.popleft())
            self._ask()

    def finish(self, due_after_all: Sequence[str] = ()) -> None:
        """The batches are all written: load every download still to come, and those of
        ``due_after_all`` (of ``waiting``)."""
        self._due.extend(due_after_all)
        self._ask()
        while self._asked:
            self._loader.load(*self._asked.popleft())
            self._ask()

    def _ask(self) -> None:
        extractor = self.extractor
        while self._due and len(self._asked) < GROUPS_AHEAD:
            group = [self._due.popleft() for _ in range(min(self.group, len(self._due)))]
            asked_at = utcnow()
            self._asked.append(
                (extractor.submit(group, work=extractor.download_responses), asked_at)
            )


GROUPS_AHEAD = 2


class _Downloads:
    """Loads the downloads of one submission of batches' responses, in order."""

    def __init__(
        self,
        ledger: Ledger,
        lock: RunLock,
        check_stop: Callable[[], None],
        on_whole: Callable[[str, datetime], None] | None,
        on_changed: Callable[[str], None] | None,
    ) -> None:
        self.ledger = ledger
        self.lock = lock
        self.check_stop = check_stop
        self.on_whole = on_whole
        self.on_changed = on_changed

    def load(self, submitted: Submitted, asked_at: datetime) -> None:
        """Load them; ``on_whole`` is told of each batch read and loaded whole, with
        ``asked_at``: its responses are at least as recent as that."""
        downloads = submitted()
        with closing_downloads(downloads), _collector_passing_over_what_lives_now():
            self.check_stop()
            for outcome, _seconds in downloads:
                if isinstance(outcome, ItemError):
                    self.ledger.fail([Failure.from_item_error(outcome)])
                    continue
                try:
                    whole, changed = _load_responses(
                        outcome, self.ledger, self.lock, self.check_stop
                    )
                finally:
                    outcome.source.close()
                if whole and self.on_whole is not None:
                    self.on_whole(outcome.batch_id, asked_at)
                if changed and self.on_changed is not None:
                    self.on_changed(outcome.batch_id)
                self.check_stop()


@contextmanager
def _collector_passing_over_what_lives_now() -> Iterator[None]:
    """The objects alive now (the modules, the run's state) left out of the garbage collector's
    full passes for a while: the responses make millions of short-lived containers, and each
    full pass they trigger walked every one of those objects too (a tenth of the CPU)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _load_responses(
    listing: ResponseListing, ledger: Ledger, lock: RunLock, check_stop: Callable[[], None]
) -> tuple[bool, bool]:
    """Load a batch's responses; whether every one was read and loaded, and whether any
    stored response changed."""
    result = ledger.result
    responses = _BatchResponses(ledger, lock, listing.batch_id)
    seen = SeenIds()
    try:
        complete = load_stream(
            listing,
            responses,
            seen=seen,
            taken=seen,  # one compact set of ids: a batch may hold 200,000 responses
            fail=responses.fail,
            check_stop=check_stop,
        )
    except DatabaseUnavailableError:
        responses.roll_back()
        raise
    except BaseException:
        # A stop ends the run here: every chunk written is whole, keep them (what the commit
        # itself raises must not hide why the run stops).
        with suppress(DatabaseUnavailableError, FailedFast):
            responses.commit()
        raise
    responses.commit()
    removed = []
    if complete:
        removed = mark_removed_responses(ledger.engine, listing.batch_id, seen, utcnow())
    outcome = responses.outcome
    log.info(
        "batch %s: %d responses: %d inserted, %d updated, %d unchanged%s",
        listing.batch_id,
        listing.seen,
        outcome.inserted,
        outcome.updated,
        outcome.unchanged,
        f", {len(removed)} gone upstream (marked removed)" if removed else "",
        extra={
            "event": "batch_responses",
            "batch_id": listing.batch_id,
            "run_id": result.run_id,
            "responses": listing.seen,
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "removed_upstream": len(removed),
        },
    )
    changed = bool(outcome.inserted or outcome.updated or removed)
    return complete and responses.failures == 0, changed
