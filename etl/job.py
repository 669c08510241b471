"""The job: find the batches, fetch, validate, flatten and load them in chunks, and log the run.

A run takes its batches from an ID file, from workspaces' batch listings (``--workspace``,
``--all-workspaces``), or both: a listing loads its batches directly, and only the file's IDs no
listing held are fetched one by one. Then the details of datasets first seen or changed are
fetched, and a batch gone from a complete listing is marked removed upstream.

``sync()`` is the library API; the CLI's ``sync`` command is a thin layer over it. The run
itself is made of small parts in ``etl.run``: its options, its ledger, one phase per source
and the streaming load loop they share.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from .config import Settings
from .errors import EtlError, SchemaVersionError
from .run.ledger import Ledger
from .run.options import DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, SyncOptions
from .run.result import Progress, SyncResult
from .run.runner import INTERRUPTED_BEFORE_START, Run
from .run.sources import Sources
from .source.client import RetryPolicy
from .source.ids import IdFile
from .store.db import connect, connect_existing
from .store.lock import RunLock, run_lock
from .store.migrate import ensure_schema, schema_state

log = logging.getLogger("etl")

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CONCURRENCY",
    "Progress",
    "Sources",
    "SyncOptions",
    "SyncResult",
    "sync",
]


def sync(
    settings: Settings,
    ids: str | IdFile | None = None,
    *,
    workspaces: Sequence[str] = (),
    all_workspaces: bool = False,
    dataset_details: bool = True,
    responses: bool = False,
    submissions: bool = False,
    demographics: bool = False,
    full_refresh: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    retry_policy: RetryPolicy | None = None,
    fail_fast: bool = False,
    max_requests_per_second: float | None = None,
    auto_migrate: bool = False,
    dry_run: bool = False,
    options: SyncOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> SyncResult:
    """Run the job once and return its result.

    Batches come from ``ids``, a path (``-`` for stdin) or an already-read IdFile, and/or from
    the batch listings of ``workspaces`` (IDs) or, with ``all_workspaces``, of every workspace
    the token can see; a batch in a listing is not fetched again. ``dataset_details`` fetches
    the details of datasets first seen or changed; ``responses`` loads every synced batch's
    response records too. ``submissions`` loads the studies that recruit for the synced
    batches, their submissions, counts and costs (``demographics``: participants' demographics
    too, personal data); with both, a batch whose responses can no longer change is not
    downloaded again unless ``full_refresh``. ``concurrency`` is the most requests in
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

    ``options``, a SyncOptions, says all of the above at once (the command builds one); give
    either it or the keywords, not both.

    Raises ConfigError when there is nothing to sync or a workspace ID cannot be one,
    InputFileError for an unreadable or empty ID file, RunLockedError when another run holds
    the database, SchemaVersionError, TokenRejectedError, ApiUnreachableError and
    DatabaseUnavailableError; the failures of batches, listings and datasets are recorded and
    reflected in the result.
    """
    started = time.monotonic()
    options = _one_options(
        options,
        SyncOptions(
            concurrency=concurrency,
            chunk_size=chunk_size,
            retry_policy=retry_policy,
            max_requests_per_second=max_requests_per_second,
            fail_fast=fail_fast,
            dataset_details=dataset_details,
            responses=responses,
            submissions=submissions,
            demographics=demographics,
            full_refresh=full_refresh,
            auto_migrate=auto_migrate,
            dry_run=dry_run,
        ),
    )
    sources = Sources.given(ids, workspaces, all_workspaces)
    stop = stop or threading.Event()
    if options.dry_run:
        return _dry_run(settings, sources, options, on_progress, stop, started)
    return _recorded_run(settings, sources, options, on_progress, stop, started)


def _recorded_run(
    settings: Settings,
    sources: Sources,
    options: SyncOptions,
    on_progress: Callable[[Progress], None] | None,
    stop: threading.Event,
    started: float,
) -> SyncResult:
    """The run under the database's run lock, recorded in ``etl_runs``."""
    engine = connect(settings.database_url, pool_size=2)
    try:
        with run_lock(engine) as lock:
            ensure_schema(engine, auto_migrate=options.auto_migrate)
            ledger = Ledger(
                engine,
                SyncResult(run_id=None, ids_read=len(sources.batch_ids)),
                options,
                token=settings.api_token,
                on_progress=on_progress,
                started=started,
            )
            ledger.start(sources)
            if stop.is_set():  # stopped before the run began: recorded, nothing fetched
                ledger.finish("aborted", INTERRUPTED_BEFORE_START, best_effort=True)
                return ledger.result
            _execute(Run(engine, lock, settings, ledger, options, stop), sources)
        return ledger.result
    finally:
        engine.dispose()


def _one_options(given: SyncOptions | None, from_keywords: SyncOptions) -> SyncOptions:
    """The run's options: ``options=`` when given (then no option keyword may be), else the
    keywords'."""
    if given is None:
        return from_keywords
    if from_keywords != SyncOptions():
        raise TypeError("sync(): give the options either as options= or as keywords, not both")
    return given


def _execute(run: Run, sources: Sources) -> None:
    try:
        run.execute(sources)
    except EtlError as error:
        error.run_result = run.ledger.result  # so that a caller can still report the counts
        raise


def _dry_run(
    settings: Settings,
    sources: Sources,
    options: SyncOptions,
    on_progress: Callable[[Progress], None] | None,
    stop: threading.Event,
    started: float,
) -> SyncResult:
    """The run without a single write; compared with the database when it has our schema."""
    left_out = [
        name
        for name, asked in (("responses", options.responses), ("submissions", options.submissions))
        if asked
    ]
    if left_out:
        log.warning(
            "a dry run does not fetch or compare %s: it says what would change in batches, "
            "datasets and workspaces only",
            " or ".join(left_out),
            extra={"event": f"dry_run_without_{'_'.join(left_out)}"},
        )
    result = SyncResult(run_id=None, ids_read=len(sources.batch_ids), dry_run=True)
    engine = connect_existing(settings.database_url, pool_size=2)  # never creates the file
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
        ledger = Ledger(
            engine,
            result,
            options,
            token=settings.api_token,
            on_progress=on_progress,
            started=started,
        )
        _execute(Run(engine, RunLock(), settings, ledger, options, stop), sources)
        return result
    finally:
        if engine is not None:
            engine.dispose()
