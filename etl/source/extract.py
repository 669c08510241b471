"""Fetching, validating and flattening batches concurrently: in threads, or in worker processes.

One process holds the GIL for everything a batch costs in Python (the HTTP exchange, the
validation, the hash), so when the API answers quickly the job is bound by one core. With
``processes`` > 1 that work runs in worker processes, each with its own threads and connection
pool, while the calling process loads into the database. Whatever the workers must agree on —
the stop after a 401, the hold-off after a 429, the rate cap, the bound on requests in flight,
the retry count — lives in a SharedState in shared memory. The workers' log records (retries)
travel to the parent's handlers through a queue.

Either way a fetcher hands back, for a list of IDs in order, each batch's rows or its
BatchError with the seconds it took; a run-level error (TokenRejectedError,
ApiUnreachableError) is raised instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from math import ceil
from typing import TYPE_CHECKING

from .client import ProlificClient, RequestsStopped, RetryEvent, RetryPolicy, SharedState

if TYPE_CHECKING:
    from ..config import Settings
from ..errors import (
    ApiUnavailableError,
    ApiUnreachableError,
    BatchError,
    TokenRejectedError,
    UnexpectedBatchError,
)
from ..rows import BatchRows
from .flatten import flatten_batch
from .validate import parse_batch

log = logging.getLogger("etl")

# Batches in a row that could not connect at all, retries exhausted, before the run gives up.
UNREACHABLE_STREAK = 20

Fetched = tuple[BatchRows | BatchError, float]
"""One batch's rows, or why it failed, and the seconds its fetch and validation took."""


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: everything a worker process needs to build its own client (picklable)."""

    api_url: str
    token: str
    connect_timeout: float
    read_timeout: float
    retry_policy: RetryPolicy | None
    concurrency: int
    max_requests_per_second: float | None
    run_id: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options) -> FetchOptions:
        return cls(
            api_url=settings.api_url,
            token=settings.api_token,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            **options,
        )


def log_retry(event: RetryEvent, run_id: int | None) -> None:
    log.info(
        "batch %s: attempt %d failed (%s); retrying in %.1fs",
        event.batch_id,
        event.attempt,
        event.reason,
        event.wait,
        extra={
            "event": "retry",
            "batch_id": event.batch_id,
            "run_id": run_id,
            "attempt": event.attempt,
            "reason": event.reason,
            "wait": event.wait,
        },
    )


class BatchFetcher:
    """Fetches, validates and flattens one batch at a time; safe to share between threads."""

    def __init__(self, options: FetchOptions, shared: SharedState) -> None:
        self.shared = shared
        self.client = ProlificClient(
            options.api_url,
            options.token,
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            retry_policy=options.retry_policy,
            on_retry=lambda event: log_retry(event, options.run_id),
            max_requests_per_second=options.max_requests_per_second,
            shared=shared,
        )

    def close(self) -> None:
        self.client.close()

    def fetch_one(self, batch_id: str) -> Fetched:
        if self.shared.stop.is_set():
            raise RequestsStopped
        started = time.monotonic()
        try:
            if self.shared.in_flight is None:
                body = self.client.fetch_batch(batch_id)
            else:
                with self.shared.in_flight:
                    body = self.client.fetch_batch(batch_id)
            self._count_unreachable(None)
            return flatten_batch(parse_batch(batch_id, body)), time.monotonic() - started
        except TokenRejectedError:
            self.shared.stop.set()
            raise
        except RequestsStopped:
            raise
        except BatchError as error:
            self._count_unreachable(error)
            return error, time.monotonic() - started
        except Exception as exc:  # a bug or an oddity of ours must cost one batch, not the run
            log.debug("unexpected error for batch %s", batch_id, exc_info=True)
            error = UnexpectedBatchError(batch_id, f"{type(exc).__name__}: {exc}")
            return error, time.monotonic() - started

    def _count_unreachable(self, error: BatchError | None) -> None:
        """Stop the run once UNREACHABLE_STREAK batches in a row could not connect at all."""
        unreachable = isinstance(error, ApiUnavailableError) and error.http_status is None
        streak = self.shared.unreachable_streak
        with streak.get_lock():
            streak.value = streak.value + 1 if unreachable else 0
            if streak.value < UNREACHABLE_STREAK:
                return
        self.shared.stop.set()
        raise ApiUnreachableError(
            f"{UNREACHABLE_STREAK} batches in a row could not reach {self.client.base_url} "
            f"(last: {error.message}); is the API down or PROLIFIC_API_URL wrong?"
        )


class Fetching:
    """Submits lists of IDs, gathers their results in order (ThreadFetching, ProcessFetching)."""

    shared: SharedState

    def __init__(self) -> None:
        self._outstanding: list[Future] = []

    def _gatherer(self, futures: list[Future], unpack: Callable) -> Callable[[], list[Fetched]]:
        self._outstanding.extend(futures)

        def gather() -> list[Fetched]:
            try:
                results = unpack([future.result() for future in futures])
            except RequestsStopped:
                raise self._stop_reason() from None
            finally:
                done = set(futures)
                self._outstanding = [f for f in self._outstanding if f not in done]
            return results

        return gather

    def _stop_reason(self) -> BaseException:
        """Why requests stopped: the run-level error a worker raised, wherever it is in line."""
        for future in self._outstanding:
            if not future.cancelled():
                error = future.exception()
                if error is not None and not isinstance(error, RequestsStopped):
                    return error
        return RequestsStopped()

    @property
    def retries(self) -> int:
        return int(self.shared.retries.value)


class ThreadFetching(Fetching):
    """Fetching in a pool of ``concurrency`` threads of this process."""

    def __init__(self, options: FetchOptions) -> None:
        super().__init__()
        self.shared = SharedState.for_threads()
        self._fetcher = BatchFetcher(options, self.shared)
        self._pool = ThreadPoolExecutor(options.concurrency, "etl-fetch")

    def submit(self, batch_ids: Sequence[str]) -> Callable[[], list[Fetched]]:
        """Start fetching ``batch_ids``; the returned function waits for their results."""
        futures = [self._pool.submit(self._fetcher.fetch_one, b) for b in batch_ids]
        return self._gatherer(futures, lambda results: results)

    def stop(self) -> None:
        """No request after this; waits for the requests in flight."""
        self.shared.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._fetcher.close()


class ProcessFetching(Fetching):
    """Fetching in ``processes`` worker processes that share ``concurrency`` requests in flight.

    Each worker runs ceil(concurrency / processes) threads; a semaphore in shared memory keeps
    the requests in flight over all of them at ``concurrency``. Workers ignore SIGINT (the
    parent stops them through ``shared.stop``) and exit when the parent dies.
    """

    def __init__(self, options: FetchOptions, processes: int) -> None:
        super().__init__()
        # spawn, not fork: fork is unsafe in a process with threads (a progress bar's, a
        # caller's). Workers are this process's children, so their CPU and memory show in its
        # rusage, and they exit with it.
        context = multiprocessing.get_context("spawn")
        self.shared = SharedState.for_processes(context, options.concurrency)
        self._threads = ceil(options.concurrency / processes)
        self._log_queue = context.Queue()
        self._log_listener = logging.handlers.QueueListener(self._log_queue, _ToParentLogger())
        self._log_listener.start()
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=context,
            initializer=_start_worker,
            initargs=(
                options,
                self.shared,
                self._threads,
                self._log_queue,
                log.getEffectiveLevel(),
                os.getpid(),
            ),
        )

    def submit(self, batch_ids: Sequence[str]) -> Callable[[], list[Fetched]]:
        """Start fetching ``batch_ids`` in slices spread over the workers."""
        size = max(1, self._threads * 4)
        futures = [
            self._pool.submit(_fetch_slice, list(batch_ids[start : start + size]))
            for start in range(0, len(batch_ids), size)
        ]
        return self._gatherer(futures, lambda slices: [item for part in slices for item in part])

    def stop(self) -> None:
        self.shared.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        try:
            self._pool.shutdown(wait=True)
        finally:
            self._log_listener.stop()
            self._log_queue.close()


def open_fetching(options: FetchOptions, processes: int = 1) -> Fetching:
    if processes > 1:
        return ProcessFetching(options, processes)
    return ThreadFetching(options)


class _ToParentLogger(logging.Handler):
    """Hands a worker's log record to the parent's logger of the same name, as if logged here."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        pass


# --- in the worker processes -----------------------------------------------------------------

# This worker's fetcher, its thread pool (None with one thread) and its number of threads.
_worker: tuple[BatchFetcher, ThreadPoolExecutor | None, int] | None = None


def _start_worker(
    options: FetchOptions,
    shared: SharedState,
    threads: int,
    log_queue,
    log_level: int,
    parent_pid: int,
) -> None:
    global _worker
    # Ctrl-C reaches every process of the terminal's group: the run stops its workers itself.
    # SIGTERM keeps its default, so that the pool can still end a stuck worker, and a worker
    # that systemd stops with its unit simply ends (it writes nothing).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logger = logging.getLogger("etl")
    logger.handlers[:] = [logging.handlers.QueueHandler(log_queue)]
    logger.setLevel(log_level)
    logger.propagate = False
    # The run's pid, not os.getppid() here: the run may have died while this worker started.
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    # One thread fetches in the worker's own: handing each batch to a pool thread and back
    # cost a third of the worker's CPU.
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    _worker = (BatchFetcher(options, shared), pool, threads)


def _exit_with_parent(parent_pid: int) -> None:
    """A worker whose run was killed (kill -9) would otherwise wait for work forever."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


def _fetch_slice(batch_ids: list[str]) -> list[Fetched]:
    """Fetch a slice in order; with several threads, each takes a contiguous part of it."""
    fetcher, pool, thread_count = _worker
    try:
        if pool is None:
            return _fetch_part(fetcher, batch_ids)
        # A part per thread rather than a batch per thread: each hand-over between threads
        # costs as much CPU as a quick request.
        size = ceil(len(batch_ids) / thread_count)
        futures = [
            pool.submit(_fetch_part, fetcher, batch_ids[start : start + size])
            for start in range(0, len(batch_ids), size)
        ]
        wait(futures)
        errors = [future.exception() for future in futures if future.exception() is not None]
        if errors:  # the reason requests stopped (a 401) rather than that they stopped
            raise next((e for e in errors if not isinstance(e, RequestsStopped)), errors[0])
        return [item for future in futures for item in future.result()]
    except BaseException:
        fetcher.shared.stop.set()
        raise


def _fetch_part(fetcher: BatchFetcher, batch_ids: list[str]) -> list[Fetched]:
    return [fetcher.fetch_one(batch_id) for batch_id in batch_ids]
