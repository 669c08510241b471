"""The job: find the batches, fetch, validate, flatten and load them in chunks, and log the run.

A run takes its batches from an ID file, from workspaces' batch listings (``--workspace``,
``--all-workspaces``), or both: a listing loads its batches directly, and only the file's IDs no
listing held are fetched one by one. Then the details of datasets first seen or changed are
fetched, and a batch gone from a complete listing is marked removed upstream.

``sync()`` is the library API; the CLI's ``sync`` command is a thin layer over it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from .config import Settings
from .errors import (
    ApiUnreachableError,
    ConfigError,
    DatabaseUnavailableError,
    EtlError,
    InvalidResponseError,
    ItemError,
    RateLimitedError,
    SchemaVersionError,
    TokenRejectedError,
    TruncatedListingError,
    TruncatedResponsesError,
)
from .rows import MAX_ID_LENGTH, RUN_COUNTS, BatchRows, ResponseRows
from .source.client import RetryPolicy
from .source.extract import Extractor, Fetched, FetchOptions
from .source.flatten import flatten_batch, flatten_response
from .source.ids import IdFile, read_id_file
from .source.validate import Listing, ResponseListing
from .store.db import connect, missing_sqlite_file
from .store.load import (
    LoadOutcome,
    datasets_due,
    load_chunk,
    mark_listed,
    mark_removed,
    preview_chunk,
    write_dataset_details,
    write_workspaces,
)
from .store.lock import RunLock, run_lock
from .store.migrate import ensure_schema, schema_state
from .store.responses import ResponseOutcome, SeenIds, load_responses, mark_removed_responses
from .store.runlog import (
    Failure,
    finish_run,
    mark_interrupted_runs,
    record_failures,
    record_progress,
    start_run,
    utcnow,
)
from .text import redact, storable

log = logging.getLogger("etl")

DEFAULT_CONCURRENCY = 8
DEFAULT_CHUNK_SIZE = 200
RESPONSE_CHUNK = 1000  # responses per transaction


@dataclass
class SyncResult:
    """What a run did: its id, outcome, counts, failures and duration."""

    run_id: int | None
    status: str = "running"
    ids_read: int = 0
    listed: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retries: int = 0
    responses_inserted: int = 0
    responses_updated: int = 0
    responses_unchanged: int = 0
    failures: list[Failure] = field(default_factory=list)
    error_message: str | None = None
    duration: float = 0.0
    dry_run: bool = False
    recorded: bool = True  # whether the run's end made it into etl_runs

    @property
    def failed(self) -> int:
        return len(self.failures)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in RUN_COUNTS}

    def summary(self) -> str:
        if self.dry_run:
            listed = f"{self.listed} more listed, " if self.listed else ""
            return (
                f"dry run {self.status}, nothing written: {self.ids_read} ids, {listed}"
                f"{self.fetched} fetched; would insert {self.inserted}, update {self.updated}, "
                f"leave {self.unchanged} unchanged; {self.failed} failed, {self.retries} retries "
                f"in {self.duration:.1f}s"
            )
        run = f"run {self.run_id}" if self.run_id is not None else "run"
        listed = f"{self.listed} more listed, " if self.listed else ""
        responses = self.responses_inserted + self.responses_updated + self.responses_unchanged
        answered = (
            f"; responses: {self.responses_inserted} inserted, {self.responses_updated} "
            f"updated, {self.responses_unchanged} unchanged"
            if responses
            else ""
        )
        return (
            f"{run} {self.status}: {self.ids_read} ids, {listed}{self.fetched} fetched, "
            f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.retries} retries{answered} in {self.duration:.1f}s"
        )


@dataclass(frozen=True)
class Progress:
    """Told to ``sync()``'s ``on_progress`` twice per batch: when its fetch ends (``outcome``
    ``fetched``, whether it succeeded or not) and when its outcome is known (inserted, updated,
    unchanged or failed).

    The counts are the run's so far, over batches (a bad ID line is not a batch): ``fetched``
    counts fetches ended and ends at ``total``; ``done`` is the sum of the four outcomes and
    ends at ``total`` too, a chunk or two behind ``fetched``.
    """

    batch_id: str
    outcome: str
    done: int
    total: int
    inserted: int
    updated: int
    unchanged: int
    failed: int
    fetched: int = 0


class _FailedFast(Exception):
    """The first failure under --fail-fast."""


class _Stopped(Exception):
    """The caller set ``stop`` (a signal): end the run as aborted."""


@dataclass(frozen=True)
class Sources:
    """Where a run finds its batches: an ID file, named workspaces' listings, or the listings
    of every workspace the token can see; any of them together (each batch once)."""

    id_file: IdFile | None = None
    workspaces: tuple[str, ...] = ()
    all_workspaces: bool = False

    @property
    def discovers(self) -> bool:
        return self.all_workspaces or bool(self.workspaces)

    @property
    def batch_ids(self) -> tuple[str, ...]:
        return tuple(self.id_file.batch_ids) if self.id_file is not None else ()

    def describe(self) -> str:
        """What etl_runs.id_source says: the file, and the workspaces listed."""
        parts = [self.id_file.source] if self.id_file is not None else []
        if self.all_workspaces:
            parts.append("all workspaces")
        elif self.workspaces:
            parts.append("workspaces " + ", ".join(self.workspaces))
        return "; ".join(parts)


def sync(
    settings: Settings,
    ids: str | IdFile | None = None,
    *,
    workspaces: Sequence[str] = (),
    all_workspaces: bool = False,
    dataset_details: bool = True,
    responses: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    retry_policy: RetryPolicy | None = None,
    fail_fast: bool = False,
    max_requests_per_second: float | None = None,
    auto_migrate: bool = False,
    dry_run: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> SyncResult:
    """Run the job once and return its result.

    Batches come from ``ids``, a path (``-`` for stdin) or an already-read IdFile, and/or from
    the batch listings of ``workspaces`` (IDs) or, with ``all_workspaces``, of every workspace
    the token can see; a batch in a listing is not fetched again. ``dataset_details`` fetches
    the details of datasets first seen or changed; ``responses`` loads every synced batch's
    response records too. ``concurrency`` is the most requests in
    flight; the pace adapts by itself to what the API accepts (a 429 slows every worker
    down), and ``max_requests_per_second`` is a hard ceiling on it (retries included).
    ``fail_fast`` stops the run after the first failure; ``auto_migrate`` upgrades an outdated
    database schema instead of refusing it. ``dry_run`` fetches and validates everything and
    compares it with the database, but writes nothing: no rows, no run, no failures, no schema
    (nor dataset details, nor removal marks). ``on_progress`` is called with a Progress as
    each batch's fetch ends and as its outcome is known, in the calling thread. Setting
    ``stop`` (from a signal handler, another thread) ends the run soon and cleanly: the chunk
    being written commits whole, no request is waited for, and the run is recorded as
    ``aborted``.

    Raises ConfigError when there is nothing to sync or a workspace ID cannot be one,
    InputFileError for an unreadable or empty ID file, RunLockedError when another run holds
    the database, SchemaVersionError, TokenRejectedError, ApiUnreachableError and
    DatabaseUnavailableError; the failures of batches, listings and datasets are recorded and
    reflected in the result.
    """
    started = time.monotonic()
    if ids is None and not (workspaces or all_workspaces):
        raise ConfigError(
            "nothing to sync: give an ID file, workspace IDs, or all_workspaces "
            "(the command: --ids FILE, --workspace ID, --all-workspaces)"
        )
    for workspace_id in workspaces:
        _check_workspace_id(workspace_id)
    id_file = ids if isinstance(ids, IdFile) or ids is None else read_id_file(ids)
    sources = Sources(id_file, tuple(dict.fromkeys(workspaces)), all_workspaces)
    options = _Options(
        concurrency=max(1, concurrency),
        chunk_size=max(1, chunk_size),
        retry_policy=retry_policy,
        fail_fast=fail_fast,
        max_requests_per_second=max_requests_per_second,
        dry_run=dry_run,
        dataset_details=dataset_details,
        responses=responses,
        on_progress=on_progress,
        started=started,
        stop=stop or threading.Event(),
    )
    if dry_run:
        return _dry_run(settings, sources, options)
    engine = connect(settings.database_url, pool_size=2)
    try:
        with run_lock(engine) as lock:
            ensure_schema(engine, auto_migrate=auto_migrate)
            result = SyncResult(run_id=None, ids_read=len(sources.batch_ids))
            if options.stop.is_set():  # stopped before the run began: nothing to record
                result.status, result.recorded = "aborted", False
                return result
            result.run_id = start_run(
                engine, id_source=sources.describe(), ids_read=result.ids_read
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
                    "bad_lines": len(id_file.bad_lines) if id_file is not None else 0,
                    "id_source": sources.describe(),
                },
            )
            aborted = mark_interrupted_runs(engine, by_run=result.run_id)
            if aborted:
                log.warning(
                    "marked %d interrupted earlier run(s) as aborted",
                    aborted,
                    extra={"event": "interrupted_runs_aborted", "run_id": result.run_id},
                )
            try:
                _Run(engine, lock, settings, result, options).execute(sources)
            except EtlError as error:
                error.run_result = result  # so that a caller can still report the counts
                raise
        return result
    finally:
        engine.dispose()


@contextmanager
def _closing_downloads(downloads: Sequence[tuple[object, float]]) -> Iterator[None]:
    """Close every downloaded answer's spooled file on the way out, read or not."""
    try:
        yield
    finally:
        for outcome, _seconds in downloads:
            source = getattr(outcome, "source", None)
            if source is not None:
                source.close()


def _check_workspace_id(workspace_id: str) -> None:
    """A workspace ID must fit the tables (it goes in etl_failures too) and a URL's query."""
    if not 0 < len(workspace_id) <= MAX_ID_LENGTH or any(
        character.isspace() or not character.isprintable() for character in workspace_id
    ):
        raise ConfigError(
            f"--workspace {workspace_id[:40]!r}{'...' if len(workspace_id) > 40 else ''}: "
            f"not a workspace ID (1 to {MAX_ID_LENGTH} printable characters, no spaces)"
        )


def _dry_run(settings: Settings, sources: Sources, options: _Options) -> SyncResult:
    """The run without a single write; compared with the database when it has our schema."""
    result = SyncResult(run_id=None, ids_read=len(sources.batch_ids), dry_run=True)
    engine = None
    if missing_sqlite_file(settings.database_url) is None:  # never create the file
        engine = connect(settings.database_url, pool_size=2)
    try:
        if engine is not None:
            state = schema_state(engine)
            if not (state.is_current or state.is_empty):
                raise SchemaVersionError(
                    f"cannot compare with the database: its schema is at {state.describe()}"
                )
            if state.is_empty:
                engine.dispose()
                engine = None
        try:
            _Run(engine, RunLock(), settings, result, options).execute(sources)
        except EtlError as error:
            error.run_result = result
            raise
        return result
    finally:
        if engine is not None:
            engine.dispose()


@dataclass(frozen=True)
class _Options:
    concurrency: int
    chunk_size: int
    retry_policy: RetryPolicy | None
    fail_fast: bool
    max_requests_per_second: float | None
    dry_run: bool
    dataset_details: bool
    responses: bool
    on_progress: Callable[[Progress], None] | None
    started: float  # time.monotonic() when sync() was called
    stop: threading.Event


class _Run:
    def __init__(
        self, engine, lock: RunLock, settings: Settings, result: SyncResult, options: _Options
    ) -> None:
        self.engine = engine
        self.lock = lock
        self.token = settings.api_token
        self.fail_fast = options.fail_fast
        self.dry_run = options.dry_run
        self.result = result
        self.chunk_size = options.chunk_size
        self.on_progress = options.on_progress
        self.started = options.started
        self.stop = options.stop
        self.dataset_details = options.dataset_details
        self.responses = options.responses
        self.loaded_ids: list[str] = []  # batches whose rows are in the database, in order
        self.total = result.ids_read
        self.total_ids: tuple[str, ...] = ()
        self.tally = {"inserted": 0, "updated": 0, "unchanged": 0, "failed": 0}
        self.fetched_count = 0
        # Seconds each batch spent being fetched and validated, until its outcome is logged.
        self.durations: dict[str, float] = {}
        self.fetch_options = FetchOptions.from_settings(
            settings,
            retry_policy=options.retry_policy,
            concurrency=options.concurrency,
            max_requests_per_second=options.max_requests_per_second,
            run_id=result.run_id,
        )
        self.retries = 0
        self.extractor: Extractor | None = None
        self.told_rate_limited = False

    def execute(self, sources: Sources) -> None:
        result = self.result
        self.total_ids = sources.batch_ids
        try:
            if sources.id_file is not None:
                bad_lines = sources.id_file.bad_lines
                self._fail([Failure.from_bad_line(bad, self.token) for bad in bad_lines])
            extractor = self.extractor = Extractor(self.fetch_options, stop=self.stop)
            try:
                listed: set[str] = set()
                if sources.discovers:
                    listed = self._discover(extractor, sources)
                remaining = [b for b in sources.batch_ids if b not in listed]
                for fetched in self._fetch_in_chunks(extractor, remaining):
                    self._load(fetched)
                if self.dataset_details and not self.dry_run:
                    self._fetch_dataset_details(extractor)
                if self.responses and not self.dry_run:
                    self._sync_responses(extractor)
                if (down := extractor.never_reached_api()) is not None:
                    raise down
            except BaseException:
                extractor.stop()  # no request after this point
                raise
            finally:
                extractor.close()
                self.retries = extractor.retries
        except _FailedFast:
            self._finish("partial", "stopped at the first failure (--fail-fast)")
            return
        except _Stopped:
            self._finish("aborted", "interrupted (SIGINT or SIGTERM)", best_effort=True)
            return
        except (TokenRejectedError, ApiUnreachableError) as exc:
            self._finish("failed", str(exc))
            raise
        except DatabaseUnavailableError as exc:
            self._finish("failed", str(exc), best_effort=True)
            raise
        except KeyboardInterrupt:
            self._finish("aborted", "interrupted (SIGINT or SIGTERM)", best_effort=True)
            raise
        except BaseException as exc:
            self._finish("failed", f"{type(exc).__name__}: {exc}", best_effort=True)
            raise
        self._finish("partial" if result.failures else "succeeded", None)

    # --- discovery: the workspaces' listings ---------------------------------------------------

    def _discover(self, extractor: Extractor, sources: Sources) -> set[str]:
        """Load every batch of the workspaces' listings; return the ids the listings held."""
        targets = self._workspaces(extractor, sources)
        downloads = extractor.submit(targets, work=extractor.download_listing)()
        with _closing_downloads(downloads):  # however the run goes on, or stops
            self._raise_if_stopped(extractor)
            listings = []
            held: dict[str, set[str]] = {}
            for outcome, _seconds in downloads:
                if isinstance(outcome, ItemError):
                    self._fail([Failure.from_item_error(outcome)])
                    continue
                try:
                    held[outcome.workspace_id] = outcome.batch_ids()
                except InvalidResponseError as error:  # not JSON: that workspace fails, as a 403
                    self._fail([Failure.from_item_error(error)])
                    continue
                listings.append(outcome)
            file_ids = set(self.total_ids)
            listed = set().union(*held.values()) if held else set()
            self.result.listed = len(listed - file_ids)
            self.total += self.result.listed
            seen: set[str] = set()
            for listing in listings:
                try:
                    complete = self._load_listing(listing, seen)
                finally:
                    listing.source.close()
                if complete and not self.dry_run:
                    self._mark_removed(listing.workspace_id)
            return seen | listed

    def _workspaces(self, extractor: Extractor, sources: Sources) -> list[str]:
        """The workspaces to list; their rows are stored (all of them with all_workspaces)."""
        outcome, _ = extractor.extract_workspaces() or (None, 0.0)
        self._raise_if_stopped(extractor)
        if isinstance(outcome, ItemError):
            self._fail([Failure.from_item_error(outcome)])
            return list(sources.workspaces)
        known = {row.workspace_id: row for row in outcome}
        wanted = list(known) if sources.all_workspaces else list(sources.workspaces)
        for workspace_id in wanted:
            if workspace_id not in known:
                log.warning(
                    "workspace %s is not among the workspaces the token can see; listing it anyway",
                    workspace_id,
                    extra={"event": "unknown_workspace", "workspace_id": workspace_id},
                )
        if not self.dry_run:
            rows = [known[w] for w in wanted if w in known]
            write_workspaces(self.engine, rows, self.result.run_id, utcnow())
        return wanted

    def _load_listing(self, listing: Listing, seen: set[str]) -> bool:
        """Load a listing's batches chunk by chunk; whether it was whole (so that a batch it
        no longer holds can be marked removed)."""
        chunk: list[BatchRows | ItemError] = []
        # Listed, but failed validation or was refused by the database: not removed upstream.
        not_loaded: list[str] = []
        try:
            for item in listing.items():
                batch_id = item.batch_id if isinstance(item, ItemError) else str(item.id)
                if batch_id is not None and batch_id in seen:
                    continue  # listed twice: loaded once
                if batch_id is not None:
                    seen.add(batch_id)
                if isinstance(item, ItemError):
                    if batch_id is not None:
                        not_loaded.append(batch_id)
                    chunk.append(item)
                else:
                    chunk.append(flatten_batch(item, listed_in=listing.workspace_id))
                self.fetched_count += 1
                self._tell(batch_id or "", "fetched")
                if len(chunk) >= self.chunk_size:
                    not_loaded += self._load(chunk)
                    chunk = []
                    self._raise_if_stopped()
        except InvalidResponseError as error:
            self._load(chunk)
            self._fail([Failure.from_item_error(error)])
            return False
        not_loaded += self._load(chunk)
        if not_loaded and not self.dry_run:
            mark_listed(self.engine, not_loaded, self.result.run_id, utcnow())
        if listing.cut_short:
            truncated = TruncatedListingError(
                None,
                f"the listing holds {listing.seen} batches but says there are {listing.count}; "
                "it may be cut short: its batches were loaded, none was marked removed",
                workspace_id=listing.workspace_id,
            )
            self._fail([Failure.from_item_error(truncated)])
            return False
        return True

    def _mark_removed(self, workspace_id: str) -> None:
        removed = mark_removed(self.engine, workspace_id, self.result.run_id, utcnow())
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
                    "run_id": self.result.run_id,
                },
            )

    # --- the datasets' own details ---------------------------------------------------------

    def _fetch_dataset_details(self, extractor: Extractor) -> None:
        due = datasets_due(self.engine)
        if not due:
            return
        log.info(
            "fetching the details of %d dataset(s)",
            len(due),
            extra={"event": "dataset_details", "run_id": self.result.run_id, "count": len(due)},
        )
        for start in range(0, len(due), self.chunk_size):
            gathered = extractor.submit(
                due[start : start + self.chunk_size], work=extractor.extract_dataset
            )()
            self._raise_if_stopped(extractor)
            failures = []
            for outcome, _seconds in gathered:
                if isinstance(outcome, ItemError):
                    failures.append(Failure.from_item_error(outcome))
                else:
                    self.lock.verify()
                    write_dataset_details(self.engine, outcome, self.result.run_id, utcnow())
            self._fail(failures)

    # --- the batches' responses ------------------------------------------------------------

    def _sync_responses(self, extractor: Extractor) -> None:
        """Load the responses of every batch this run stored, a few batches' downloads ahead."""
        ids = self.loaded_ids
        group = self.fetch_options.concurrency
        for start in range(0, len(ids), group):
            downloads = extractor.submit(
                ids[start : start + group], work=extractor.download_responses
            )()
            with _closing_downloads(downloads):
                self._raise_if_stopped(extractor)
                for outcome, _seconds in downloads:
                    if isinstance(outcome, ItemError):
                        self._fail([Failure.from_item_error(outcome)])
                        continue
                    try:
                        self._load_responses(outcome)
                    finally:
                        outcome.source.close()
                    self._raise_if_stopped(extractor)

    def _load_responses(self, listing: ResponseListing) -> None:
        result = self.result
        seen = SeenIds()
        outcome = ResponseOutcome()
        chunk: list[ResponseRows] = []
        failures: list[Failure] = []
        complete = True

        def load(rows: list[ResponseRows]) -> None:
            self.lock.verify()
            outcome.merge(load_responses(self.engine, rows, result.run_id, utcnow()))

        try:
            for item in listing.items():
                if isinstance(item, ItemError):
                    if item.response_id is not None:
                        seen.add(item.response_id)
                    failures.append(Failure.from_item_error(item))
                    continue
                seen.add(str(item.id))
                chunk.append(flatten_response(item))
                if len(chunk) >= RESPONSE_CHUNK:
                    load(chunk)
                    chunk = []
        except InvalidResponseError as error:
            failures.append(Failure.from_item_error(error))
            complete = False
        load(chunk)
        if complete and listing.cut_short:
            truncated = TruncatedResponsesError(
                listing.batch_id,
                f"the API sent {listing.seen} responses but says there are {listing.count}; "
                "they may be cut short: those that came were loaded, none was marked removed",
            )
            failures.append(Failure.from_item_error(truncated))
            complete = False
        failures += [Failure.from_item_error(error) for error in outcome.failed or ()]
        removed = []
        if complete:
            removed = mark_removed_responses(self.engine, listing.batch_id, seen, utcnow())
        result.responses_inserted += outcome.inserted
        result.responses_updated += outcome.updated
        result.responses_unchanged += outcome.unchanged
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
        self._fail(failures)

    def _raise_if_stopped(self, extractor: Extractor | None = None) -> None:
        extractor = extractor or self.extractor
        if extractor is not None and extractor.stop_reason is not None:
            raise extractor.stop_reason
        if self.stop.is_set():
            raise _Stopped

    # --- the ID file's batches ---------------------------------------------------------------

    def _fetch_in_chunks(
        self, extractor: Extractor, batch_ids: Sequence[str]
    ) -> Iterator[list[BatchRows | ItemError]]:
        """Yield chunks of fetched results in input order, fetching one chunk ahead.

        When a worker stopped the run (401, API unreachable), what finished before it is
        yielded first, so that its failures are recorded, and then the reason is raised.
        """
        starts = iter(range(0, len(batch_ids), self.chunk_size))

        def submit_next() -> Callable[[], list[Fetched]] | None:
            start = next(starts, None)
            if start is None:
                return None
            return extractor.submit(batch_ids[start : start + self.chunk_size], self._fetched)

        current = submit_next()
        while current is not None:
            if self.stop.is_set():
                raise _Stopped
            upcoming = submit_next()  # fetched while this chunk is being loaded
            chunk = []
            for item, seconds in current():
                self.durations[item.batch_id] = seconds
                chunk.append(item)
            yield chunk
            if extractor.stop_reason is not None:
                raise extractor.stop_reason
            if self.stop.is_set():
                raise _Stopped
            current = upcoming

    def _load(self, fetched: list[BatchRows | ItemError]) -> list[str]:
        """Load a chunk; return the ids of its batches the database refused."""
        if not fetched:
            return []
        result = self.result
        good = [item for item in fetched if isinstance(item, BatchRows)]
        errors = [item for item in fetched if isinstance(item, ItemError)]
        result.fetched += sum(
            1 for item in fetched if isinstance(item, BatchRows) or item.stage != "fetch"
        )
        if self.dry_run:
            outcome = preview_chunk(self.engine, good)
        else:
            self.lock.verify()
            outcome = load_chunk(
                self.engine, good, result.run_id, utcnow(), before_commit=self._record_progress
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
                log.info(
                    "batch %s %s",
                    batch_id,
                    f"would be {kind}" if self.dry_run else kind,
                    extra={
                        "event": f"batch_{kind}",
                        "batch_id": batch_id,
                        "run_id": result.run_id,
                        "duration": self.durations.pop(batch_id, None),
                        "dry_run": self.dry_run,
                    },
                )
                self._advance(batch_id, kind)
        self._fail([Failure.from_item_error(e) for e in (*errors, *outcome.failed)])
        return [error.batch_id for error in outcome.failed]

    def _record_progress(self, connection, chunk: LoadOutcome) -> None:
        """The run's counters with this chunk's rows, in the chunk's own transaction."""
        result = self.result
        counts = {
            "listed": result.listed,
            "fetched": result.fetched,
            "inserted": result.inserted + len(chunk.inserted),
            "updated": result.updated + len(chunk.updated),
            "unchanged": result.unchanged + len(chunk.unchanged),
            "retries": self.extractor.retries,
        }
        record_progress(connection, result.run_id, counts)

    def _fail(self, failures: list[Failure]) -> None:
        if not failures:
            return
        failures = [failure.redacted(self.token) for failure in failures]
        if not self.dry_run:
            record_failures(self.engine, self.result.run_id, failures)
        self.result.failures += failures
        for failure in failures:
            level = logging.ERROR
            if failure.error_kind == RateLimitedError.kind:
                level = logging.INFO  # said once, below, rather than for every batch
                self._tell_rate_limited()
            log.log(
                level,
                "%s",
                failure,
                extra={
                    "event": "batch_failed" if failure.batch_id else "bad_id_line",
                    "batch_id": failure.batch_id,
                    "run_id": self.result.run_id,
                    "duration": self.durations.pop(failure.batch_id, None),
                    "error_kind": failure.error_kind,
                    "stage": failure.stage,
                    "http_status": failure.http_status,
                    "field": failure.field,
                    "line_number": failure.line_number,
                },
            )
            if failure.batch_id:
                self._advance(failure.batch_id, "failed")
        if self.fail_fast:
            raise _FailedFast

    def _tell_rate_limited(self) -> None:
        if self.told_rate_limited:
            return
        self.told_rate_limited = True
        log.error(
            "the API kept refusing requests (HTTP 429, its rate limit) for longer than "
            "--max-retry-wait; the batches it refused are recorded as failed (rate_limited) "
            "and the next run fetches them (-v lists them)",
            extra={"event": "rate_limited", "run_id": self.result.run_id},
        )

    def _fetched(self, fetched: Fetched) -> None:
        self.fetched_count += 1
        self._tell(fetched[0].batch_id, "fetched")

    def _advance(self, batch_id: str, outcome: str) -> None:
        self.tally[outcome] += 1
        self._tell(batch_id, outcome)

    def _tell(self, batch_id: str, outcome: str) -> None:
        if self.on_progress is not None:
            done = sum(self.tally.values())
            self.on_progress(
                Progress(
                    batch_id, outcome, done, self.total, **self.tally, fetched=self.fetched_count
                )
            )

    def _finish(self, status: str, error_message: str | None, *, best_effort: bool = False):
        result = self.result
        result.status = status
        result.error_message = (
            storable(redact(error_message, self.token)) if error_message else None
        )
        result.retries = self.retries
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
