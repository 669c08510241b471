"""A run from start to end: its phases in order over one extractor, and how each way it can
end is booked (succeeded, partial, aborted, failed) before the caller hears of it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine

from ..config import Settings
from ..errors import ApiUnreachableError, DatabaseUnavailableError, TokenRejectedError
from ..rows import BatchRows
from ..source.extract import Extractor
from ..store.lock import RunLock
from ..store.runlog import Failure
from ..store.settled import note_responses_loaded
from .batches import BatchWriter, load_id_file_batches
from .datasets import DatasetDetailsPhase
from .ledger import FailedFast, Ledger
from .options import SyncOptions
from .quality import assess_changed_batches
from .responses import ResponsesAhead
from .sources import Sources
from .studies import StudiesPhase, responses_due
from .workspaces import WorkspacesPhase

INTERRUPTED = "interrupted (SIGINT or SIGTERM)"
INTERRUPTED_BEFORE_START = (
    "interrupted (SIGINT or SIGTERM) before the run started; nothing was fetched"
)


class Stopped(Exception):
    """The caller set ``stop`` (a signal): end the run as aborted."""


class Run:
    """One run's phases: the workspaces' listings, the ID file's batches, the datasets'
    details and the responses, each writing its outcomes in the ledger."""

    def __init__(
        self,
        engine: Engine | None,
        lock: RunLock,
        settings: Settings,
        ledger: Ledger,
        options: SyncOptions,
        stop: threading.Event,
    ) -> None:
        self.engine = engine
        self.lock = lock
        self.settings = settings
        self.ledger = ledger
        self.options = options
        self.stop = stop
        self.extractor: Extractor | None = None

    def execute(self, sources: Sources) -> None:
        """Run every phase; the ledger closes the run however it ends (run-level errors are
        raised after that)."""
        ledger = self.ledger
        try:
            ledger.fail(
                [Failure.from_bad_line(bad, self.settings.api_token) for bad in sources.bad_lines]
            )
            self._phases(sources)
        except FailedFast:
            ledger.finish("partial", "stopped at the first failure (--fail-fast)")
            return
        except Stopped:
            ledger.finish("aborted", INTERRUPTED, best_effort=True)
            return
        except (TokenRejectedError, ApiUnreachableError) as exc:
            ledger.finish("failed", str(exc))
            raise
        except DatabaseUnavailableError as exc:
            ledger.finish("failed", str(exc), best_effort=True)
            raise
        except KeyboardInterrupt:
            ledger.finish("aborted", INTERRUPTED, best_effort=True)
            raise
        except BaseException as exc:
            ledger.finish("failed", f"{type(exc).__name__}: {exc}", best_effort=True)
            raise
        ledger.finish("partial" if ledger.result.failures else "succeeded", None)

    def _phases(self, sources: Sources) -> None:
        options, ledger = self.options, self.ledger
        extractor = self.extractor = Extractor(
            self.settings, options, run_id=ledger.run_id, stop=self.stop
        )
        ledger.retries = lambda: extractor.retries
        writer = BatchWriter(ledger, self.lock)
        chunk_size = options.chunk_size
        changed: set[str] = set()  # batches whose answers changed: their label quality is due
        details = ahead = None
        if options.dataset_details and not options.dry_run:
            details = DatasetDetailsPhase(
                extractor, ledger, self.lock, chunk_size=chunk_size, check_stop=self.check_stop
            )
        if options.responses and not options.dry_run:
            ahead = ResponsesAhead(
                extractor,
                ledger,
                self.lock,
                group=options.concurrency,
                check_stop=self.check_stop,
                on_whole=self._responses_loaded,
                on_changed=changed.add,
                wait_for_studies=options.submissions,
            )
        writer.on_loaded = _asking_ahead(details, ahead)  # as their batches are written
        try:
            listed: set[str] = set()
            if sources.discovers:
                phase = WorkspacesPhase(
                    extractor, writer, chunk_size=chunk_size, check_stop=self.check_stop
                )
                listed = phase.run(sources)
            remaining = [b for b in sources.batch_ids if b not in listed]
            load_id_file_batches(
                extractor, remaining, writer, chunk_size=chunk_size, check_stop=self.check_stop
            )
            if details is not None:
                details.finish()
            if options.submissions and not options.dry_run:
                StudiesPhase(
                    extractor,
                    ledger,
                    self.lock,
                    demographics=options.demographics,
                    chunk_size=chunk_size,
                    check_stop=self.check_stop,
                    on_changed=changed.add,
                ).run(writer.loaded_ids)
            if ahead is not None:
                ahead.finish(responses_due(ledger, options, ahead.waiting))
            if options.responses and not options.dry_run:
                self.check_stop()
                assess_changed_batches(ledger, self.lock, changed, writer.loaded_ids)
            if (down := extractor.never_reached_api()) is not None:
                raise down
        except BaseException:
            extractor.stop()  # no request after this point
            raise
        finally:
            extractor.close()
            retries = extractor.retries
            ledger.retries = lambda: retries

    def _responses_loaded(self, batch_id: str, asked_at: datetime) -> None:
        # Stamped with when they were asked for, not loaded: what they hold is at least that
        # recent, and a change upstream after it is not in them.
        note_responses_loaded(self.ledger.engine, batch_id, self.ledger.run_id, asked_at)

    def check_stop(self) -> None:
        """Raise what ends the run now: a worker's run-level error, or the caller's stop."""
        extractor = self.extractor
        if extractor is not None and extractor.stop_reason is not None:
            raise extractor.stop_reason
        if self.stop.is_set():
            raise Stopped


def _asking_ahead(
    details: DatasetDetailsPhase | None, ahead: ResponsesAhead | None
) -> Callable[[Sequence[BatchRows]], None] | None:
    """What a written chunk of batches sets off: its datasets' details, its responses."""
    if details is None and ahead is None:
        return None

    def batches_loaded(loaded: Sequence[BatchRows]) -> None:
        if details is not None:
            details.batches_loaded(loaded)
        if ahead is not None:
            ahead.batches_loaded([rows.batch_id for rows in loaded])

    return batches_loaded
