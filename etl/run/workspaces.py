"""The workspaces' phase: store the workspaces, read each one's batch listing through the
streaming load loop, and mark what a whole listing no longer holds as removed upstream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidResponseError, ItemError, NotFoundError, TruncatedListingError
from ..rows import BatchRows
from ..source.extract import Extractor
from ..source.flatten import flatten_batch
from ..source.validate import Listing
from ..store.load import mark_listed, mark_removed, store_workspaces
from ..store.runlog import Failure, utcnow
from .batches import BatchWriter
from .sources import Sources
from .stream import Listed, load_stream

log = logging.getLogger("etl")


@contextmanager
def closing_downloads(downloads: Sequence[tuple[object, float]]) -> Iterator[None]:
    """Close every downloaded answer's spooled file on the way out, read or not."""
    try:
        yield
    finally:
        for outcome, _seconds in downloads:
            source = getattr(outcome, "source", None)
            if source is not None:
                source.close()


class _ListedBatches:
    """A workspace's listing as the stream loop sees it: batches, keyed by id, each loaded
    from its first valid copy (a batch in two listings, or twice in one, is loaded once)."""

    def __init__(self, writer: BatchWriter, workspace_id: str, chunk_size: int) -> None:
        self.writer = writer
        self.workspace_id = workspace_id
        self.chunk_size = chunk_size
        # Listed, but failed validation or was refused by the database: not removed upstream.
        self.not_loaded: list[str] = []

    def key(self, item: Any) -> str | None:
        return item.batch_id if isinstance(item, ItemError) else str(item.id)

    def accept(self, item: Any) -> BatchRows | ItemError:
        batch_id = self.key(item)
        if isinstance(item, ItemError):
            if batch_id is not None:
                self.not_loaded.append(batch_id)
            accepted: BatchRows | ItemError = item
        else:
            accepted = flatten_batch(item, listed_in=self.workspace_id)
        self.writer.ledger.fetched(batch_id or "")
        return accepted

    def repeated(self, item: Any) -> None:
        return None  # loaded already, from a valid copy: this one adds nothing

    def load(self, chunk: Sequence[BatchRows | ItemError]) -> None:
        self.not_loaded += self.writer.write(chunk)

    def truncated(self, listing: Listed) -> ItemError:
        return TruncatedListingError(
            None,
            f"the listing holds {listing.seen} batches but says there are {listing.count}; "
            "it may be cut short: its batches were loaded, none was marked removed",
            workspace_id=self.workspace_id,
        )


class WorkspacesPhase:
    """Loads every batch of the workspaces' listings; the ID file's phase skips them."""

    def __init__(
        self,
        extractor: Extractor,
        writer: BatchWriter,
        *,
        chunk_size: int,
        check_stop: Callable[[], None],
    ) -> None:
        self.extractor = extractor
        self.writer = writer
        self.ledger = writer.ledger
        self.chunk_size = chunk_size
        self.check_stop = check_stop
        # Named workspaces the token's list of workspaces does not hold, and those it does.
        self.unseen: set[str] = set()
        self.seen: list[str] = []

    def run(self, sources: Sources) -> set[str]:
        """Load the listings' batches; return the ids of those loaded from a valid copy (the
        ID file's phase fetches the others, such as one listed only in an invalid copy)."""
        extractor, ledger = self.extractor, self.ledger
        targets = self._workspaces(sources)
        downloads = extractor.submit(targets, work=extractor.download_listing)()
        with closing_downloads(downloads):  # however the run goes on, or stops
            self.check_stop()
            listings: list[Listing] = []
            held: dict[str, set[str]] = {}
            for outcome, _seconds in downloads:
                if isinstance(outcome, ItemError):
                    ledger.fail([Failure.from_item_error(outcome)])
                    continue
                try:
                    held[outcome.workspace_id] = outcome.batch_ids()
                except InvalidResponseError as error:  # not JSON: that workspace fails, as a 403
                    ledger.fail([Failure.from_item_error(error)])
                    continue
                listings.append(outcome)
            ledger.fail(self._mistyped(held))
            listed = set().union(*held.values()) if held else set()
            ledger.result.listed = len(listed - set(sources.batch_ids))
            ledger.total += ledger.result.listed
            taken: set[str] = set()  # batches a valid copy was read of, over every listing
            for listing in listings:
                try:
                    complete = self._load_listing(listing, taken)
                finally:
                    listing.source.close()
                if complete and not ledger.dry_run:
                    self._mark_removed(listing.workspace_id)
            return taken

    def _workspaces(self, sources: Sources) -> list[str]:
        """The workspaces to list; their rows are stored (all of them with all_workspaces)."""
        ledger = self.ledger
        outcome, _ = self.extractor.extract_workspaces() or (None, 0.0)
        self.check_stop()
        if isinstance(outcome, ItemError):
            ledger.fail([Failure.from_item_error(outcome)])
            return list(sources.workspaces)
        known = {row.workspace_id: row for row in outcome}
        wanted = list(known) if sources.all_workspaces else list(sources.workspaces)
        self.seen = sorted(known)
        self.unseen = {w for w in wanted if w not in known}
        for workspace_id in wanted:
            if workspace_id not in known:
                log.warning(
                    "workspace %s is not among the workspaces the token can see; listing it anyway",
                    workspace_id,
                    extra={"event": "unknown_workspace", "workspace_id": workspace_id},
                )
        if not ledger.dry_run:
            rows = [known[w] for w in wanted if w in known]
            stored = store_workspaces(ledger.engine, rows, ledger.run_id, utcnow())
            ledger.fail([Failure.from_item_error(error) for error in stored.failed])
        return wanted

    def _mistyped(self, held: dict[str, set[str]]) -> list[Failure]:
        """A named workspace the token cannot see whose listing holds no batch is most likely
        a mistyped ID: that workspace's failure (not_found), not a quiet night of nothing."""
        shown = ", ".join(self.seen[:5]) + (", ..." if len(self.seen) > 5 else "")
        return [
            Failure.from_item_error(
                NotFoundError(
                    None,
                    "not among the workspaces this token can see, and its listing holds no "
                    f"batch: is the ID right? (the token sees: {shown or 'none'})",
                    workspace_id=workspace_id,
                    stage="listing",
                )
            )
            for workspace_id in sorted(self.unseen)
            if workspace_id in held and not held[workspace_id]
        ]

    def _load_listing(self, listing: Listing, taken: set[str]) -> bool:
        """Load a listing's batches; whether it was whole (so that a batch it no longer holds
        can be marked removed)."""
        batches = _ListedBatches(self.writer, listing.workspace_id, self.chunk_size)
        complete = load_stream(
            listing,
            batches,
            seen=set(),
            taken=taken,
            fail=self.ledger.fail,
            check_stop=self.check_stop,
        )
        if batches.not_loaded and not self.ledger.dry_run:
            mark_listed(self.ledger.engine, batches.not_loaded, self.ledger.run_id, utcnow())
        return complete

    def _mark_removed(self, workspace_id: str) -> None:
        run_id = self.ledger.run_id
        removed = mark_removed(self.ledger.engine, workspace_id, run_id, utcnow())
        if removed:
            log.warning(
                "%d batch(es) of workspace %s are no longer in its listing: marked removed "
                "upstream (kept, not deleted)",
                len(removed),
                workspace_id,
                extra={
                    "event": "removed_upstream",
                    "workspace_id": workspace_id,
                    "batch_ids": removed,
                    "run_id": run_id,
                },
            )
