"""The run's ledger: its counts and failures, the progress it tells, and its ``etl_runs`` row.

Every phase writes what happened here and nowhere else: the ledger records a failure in
``etl_failures`` and says it on the log (one line, named by its Subject), tells the caller's
``on_progress``, writes the run's counters in each chunk's own transaction, and closes the run's
row at the end. A dry run keeps the same books but writes none of them to the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine

from ..errors import DatabaseUnavailableError, RateLimitedError
from ..store.load import LoadOutcome
from ..store.runlog import (
    Failure,
    finish_run,
    mark_interrupted_runs,
    record_failures,
    record_progress,
    start_run,
)
from ..text import redact, storable
from .options import SyncOptions
from .result import Progress, SyncResult
from .sources import Sources

log = logging.getLogger("etl")

OUTCOMES = ("inserted", "updated", "unchanged", "failed")


class FailedFast(Exception):
    """The first failure under --fail-fast."""


class Ledger:
    """The books of one run (``result``), kept for the phases and the caller alike."""

    def __init__(
        self,
        engine: Engine | None,
        result: SyncResult,
        options: SyncOptions,
        *,
        token: str = "",
        on_progress: Callable[[Progress], None] | None = None,
        started: float | None = None,
    ) -> None:
        self.engine = engine
        self.result = result
        self.dry_run = options.dry_run
        self._fail_fast = options.fail_fast
        self._token = token
        self._on_progress = on_progress
        # What the run's duration counts from: the call to sync(), by default now.
        self.started = time.monotonic() if started is None else started
        self.total = result.ids_read  # batches the progress counts to; listings add theirs
        self._tally = dict.fromkeys(OUTCOMES, 0)
        self._with_outcome: set[str] = set()
        self._fetched = 0
        # Seconds each batch spent being fetched and validated, until its outcome is logged.
        self.durations: dict[str, float] = {}
        self.retries: Callable[[], int] = lambda: 0  # the extractor's count, once there is one
        self._told_rate_limited = False

    @property
    def run_id(self) -> int | None:
        return self.result.run_id

    # --- the run's row -------------------------------------------------------------------------

    def start(self, sources: Sources) -> int:
        """Insert the run's row, say so, and mark runs a crash left ``running`` as aborted."""
        result = self.result
        result.run_id = start_run(
            self.engine, id_source=sources.describe(), ids_read=result.ids_read
        )
        log.info(
            "run %s started: %d batch ids from %s",
            result.run_id,
            result.ids_read,
            sources.describe(),
            extra={
                "event": "run_started",
                "run_id": result.run_id,
                "ids_read": result.ids_read,
                "bad_lines": len(sources.bad_lines),
                "id_source": sources.describe(),
            },
        )
        aborted = mark_interrupted_runs(self.engine, by_run=result.run_id)
        if aborted:
            log.warning(
                "marked %d interrupted earlier run(s) as aborted",
                aborted,
                extra={"event": "interrupted_runs_aborted", "run_id": result.run_id},
            )
        return result.run_id

    def record_progress(self, connection: Connection, chunk: LoadOutcome) -> None:
        """The run's counters with this chunk's rows, in the chunk's own transaction."""
        result = self.result
        counts = {
            "listed": result.listed,
            "fetched": result.fetched,
            "inserted": result.inserted + len(chunk.inserted),
            "updated": result.updated + len(chunk.updated),
            "unchanged": result.unchanged + len(chunk.unchanged),
            "retries": self.retries(),
        }
        record_progress(connection, result.run_id, counts)

    def finish(self, status: str, error_message: str | None, *, best_effort: bool = False) -> None:
        """Close the run's row with its outcome and counts, and log the summary.

        ``best_effort``: the run is ending on an error already, so a database that cannot
        record its end is logged (the next run marks it aborted) rather than raised.
        """
        result = self.result
        result.status = status
        result.error_message = (
            storable(redact(error_message, self._token)) if error_message else None
        )
        result.retries = self.retries()
        result.duration = time.monotonic() - self.started
        try:
            if not self.dry_run:
                finish_run(
                    self.engine,
                    result.run_id,
                    status=status,
                    counts=result.counts(),
                    error_message=result.error_message,
                )
        except DatabaseUnavailableError as exc:
            result.recorded = False
            if not best_effort:
                raise
            log.error(
                "could not record the end of run %s (%s); the next run will mark it aborted",
                result.run_id,
                exc,
                extra={"event": "run_not_recorded", "run_id": result.run_id},
            )
        finally:
            log.info(
                "%s",
                result.summary(),
                extra={
                    "event": "run_finished",
                    "run_id": result.run_id,
                    "status": status,
                    "duration": result.duration,
                    "error_message": result.error_message,
                    **result.counts(),
                },
            )

    # --- failures ------------------------------------------------------------------------------

    def fail(self, failures: Sequence[Failure]) -> None:
        """Record, log and count ``failures``; under --fail-fast, raise FailedFast."""
        if not failures:
            return
        failures = [failure.redacted(self._token) for failure in failures]
        if not self.dry_run:
            record_failures(self.engine, self.result.run_id, failures)
        self.result.failures += failures
        for failure in failures:
            self._log_failure(failure)
            if failure.batch_id:
                self.outcome(failure.batch_id, "failed")
        if self._fail_fast:
            raise FailedFast

    def _log_failure(self, failure: Failure) -> None:
        level = logging.ERROR
        if failure.error_kind == RateLimitedError.kind:
            level = logging.INFO  # said once, below, rather than for every batch
            self._tell_rate_limited()
        subject = failure.subject
        log.log(
            level,
            "%s",
            failure,
            extra={
                "event": subject.event,
                "subject": str(subject),
                "batch_id": failure.batch_id,
                "response_id": failure.response_id,
                "dataset_id": failure.dataset_id,
                "workspace_id": failure.workspace_id,
                "run_id": self.result.run_id,
                "duration": self.durations.pop(failure.batch_id, None),
                "error_kind": failure.error_kind,
                "stage": failure.stage,
                "http_status": failure.http_status,
                "field": failure.field,
                "line_number": failure.line_number,
            },
        )

    def _tell_rate_limited(self) -> None:
        if self._told_rate_limited:
            return
        self._told_rate_limited = True
        log.error(
            "the API kept refusing requests (HTTP 429, its rate limit) for longer than "
            "--max-retry-wait; the batches it refused are recorded as failed (rate_limited) "
            "and the next run fetches them (-v lists them)",
            extra={"event": "rate_limited", "run_id": self.result.run_id},
        )

    # --- progress ------------------------------------------------------------------------------

    def fetched(self, batch_id: str) -> None:
        """A batch's fetch ended, whether it succeeded or not."""
        self._fetched += 1
        self._tell(batch_id, "fetched")

    def outcome(self, batch_id: str, outcome: str) -> None:
        """A batch's outcome is known: one of OUTCOMES. Told once: what fails after it (its
        responses, datasets, studies) is a failure of the run, not another outcome of it."""
        if batch_id in self._with_outcome:
            return
        self._with_outcome.add(batch_id)
        self._tally[outcome] += 1
        self._tell(batch_id, outcome)

    def _tell(self, batch_id: str, outcome: str) -> None:
        if self._on_progress is not None:
            done = sum(self._tally.values())
            self._on_progress(
                Progress(batch_id, outcome, done, self.total, **self._tally, fetched=self._fetched)
            )
