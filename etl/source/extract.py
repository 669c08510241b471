"""Extracting batches: fetching, validating and flattening them, concurrently, in threads.

The work is waiting on the network: ``concurrency`` threads each hold a keep-alive connection,
and one Pacer keeps all of them at the rate the API accepts. For a list of IDs the extractor
hands back, in order, each batch's rows or its ItemError with the seconds it took. An error
that ends the run (TokenRejectedError, ApiUnreachableError) stops every worker; the batches
that finished before it are still handed back, and the error is then raised.

The run's ``stop`` event (a signal, a 401, --fail-fast) ends every wait at once; what is
already finished is handed back, and a request still in flight is not waited for.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import (
    ApiUnreachableError,
    EtlError,
    ItemError,
    RetriesExhaustedError,
    TokenRejectedError,
    UnexpectedItemError,
)
from ..text import redact_api_url
from .client import FetchingStopped, ProlificClient, RetryEvent, RetryPolicy
from .flatten import flatten_batch, flatten_dataset, flatten_workspace
from .pacing import Pacer
from .validate import Listing, ResponseListing, parse_batch, parse_dataset, parse_workspaces

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger("etl")

# Batches in a row that could not connect at all, retries exhausted, before the run gives up.
UNREACHABLE_STREAK = 20
_FOLLOW_INTERVAL = 0.05  # how often the caller's stop event is looked at

Fetched = tuple[Any, float]
"""One item's result (a batch's rows, a listing, a dataset's details) or the ItemError that
failed it, and the seconds its fetch and validation took."""


class FetchOptions(Protocol):
    """How hard to fetch: the most requests in flight, the retry policy and a ceiling on the
    pace. The run's options (``etl.run.SyncOptions``) are one; the extractor reads them as
    they are, so that an option is named once from the command line down to here."""

    @property
    def concurrency(self) -> int: ...

    @property
    def retry_policy(self) -> RetryPolicy | None: ...

    @property
    def max_requests_per_second(self) -> float | None: ...


def log_retry(event: RetryEvent, run_id: int | None) -> None:
    log.info(
        "%s: attempt %d failed (%s); retrying in %.1fs",
        event.subject,
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


class Extractor:
    """Fetches, validates and flattens batches in a pool of ``concurrency`` threads."""

    def __init__(
        self,
        settings: Settings,
        options: FetchOptions,
        *,
        run_id: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Fetch from ``settings``' API with its token and timeouts, as ``options`` say;
        ``run_id`` goes on the retries' log lines."""
        # The extractor's own event: a 401 or --fail-fast stops its workers without setting
        # the caller's ``stop``, which a caller may pass to its next run again. The caller's
        # event, when set, sets this one (within _FOLLOW_INTERVAL).
        self._stop = threading.Event()
        self._closed = threading.Event()
        if stop is not None:
            threading.Thread(
                target=self._follow, args=(stop,), name="etl-fetch-stop", daemon=True
            ).start()
        self.pacer = Pacer(max_rate=options.max_requests_per_second, stop=self._stop)
        self.client = ProlificClient(
            settings.api_url,
            settings.api_token,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retry_policy=options.retry_policy,
            pacer=self.pacer,
            concurrency=options.concurrency,
            on_retry=lambda event: log_retry(event, run_id),
            stop=self._stop,
        )
        self._pool = _DaemonThreads(options.concurrency, "etl-fetch")
        self._lock = threading.Lock()
        self._unreachable_streak = 0
        self._reached_api = False
        self._last_unreachable: ItemError | None = None
        self.stop_reason: EtlError | None = None

    @property
    def retries(self) -> int:
        return self.client.retries

    def submit(
        self,
        keys: Sequence[str],
        on_done: Callable[[Fetched], None] | None = None,
        work: Callable[[str], Fetched | None] | None = None,
    ) -> Submitted:
        """Start ``work`` (``extract_one`` unless told otherwise) on each of ``keys``, queued
        behind whatever was submitted before; calling what is returned waits for their
        results, in order, telling ``on_done`` (in the waiting thread) of each as it comes,
        and its ``take`` hands back those finished so far without waiting.

        Once the run is stopped it waits no more: items not finished by then are left out.
        """
        work = work or self.extract_one
        futures = [self._pool.submit(work, key) for key in keys]
        return Submitted(futures, self._stop, on_done)

    def extract_one(self, batch_id: str) -> Fetched | None:
        """Fetch, validate and flatten one batch; None if the run stopped before it."""
        return self._guarded(
            lambda: flatten_batch(parse_batch(batch_id, self.client.fetch_batch(batch_id))),
            batch_id=batch_id,
        )

    def extract_workspaces(self) -> Fetched | None:
        """The workspaces the token can see, as rows (a list), or why not."""
        return self._guarded(
            lambda: [flatten_workspace(w) for w in parse_workspaces(self.client.list_workspaces())],
            stage="listing",
        )

    def download_listing(self, workspace_id: str) -> Fetched | None:
        """A workspace's batch listing (a Listing to read its batches from), or why not."""
        return self._guarded(
            lambda: Listing(self.client.list_batches(workspace_id), workspace_id=workspace_id),
            workspace_id=workspace_id,
            stage="listing",
        )

    def download_responses(self, batch_id: str) -> Fetched | None:
        """A batch's responses (a ResponseListing to read them from), or why not."""
        return self._guarded(
            lambda: self._responses(batch_id),
            batch_id=batch_id,
            stage="responses",
        )

    def _responses(self, batch_id: str) -> ResponseListing:
        try:
            return ResponseListing(self.client.fetch_responses(batch_id), batch_id=batch_id)
        except RetriesExhaustedError as error:
            if error.partial is None:
                raise
            # The body broke off on every attempt: the records that came whole are read from
            # what the last one brought, and the listing then fails with ``error``.
            partial, error.partial = error.partial, None
            return ResponseListing(partial, batch_id=batch_id, broke_off=error)

    def extract_dataset(self, dataset_id: str) -> Fetched | None:
        """A dataset's details, as rows, or why not."""
        return self._guarded(
            lambda: flatten_dataset(
                parse_dataset(dataset_id, self.client.fetch_dataset(dataset_id))
            ),
            dataset_id=dataset_id,
            stage="dataset",
        )

    def guarded(self, work: Callable[[], object], **where) -> Fetched | None:
        """``work()`` (any fetch of the run's: a study, its submissions) guarded as every
        other: its result or its ItemError with the seconds it took; None once stopped."""
        return self._guarded(work, **where)

    def _guarded(self, work: Callable[[], object], **where) -> Fetched | None:
        """``work()``'s result, or the item's ItemError, with the seconds it took; None when
        the run stopped before it. A run-level error stops every worker."""
        started = time.monotonic()
        try:
            outcome = work()
            self._count_unreachable(None)
            return outcome, time.monotonic() - started
        except (TokenRejectedError, ApiUnreachableError) as error:
            self._stop_run(error)
            return None
        except FetchingStopped:
            return None
        except ItemError as error:
            self._count_unreachable(error)
            return error, time.monotonic() - started
        except Exception as exc:  # a bug or an oddity of ours must cost one item, not the run
            log.debug("unexpected error for %s", where, exc_info=True)
            batch_id = where.pop("batch_id", None)
            error = UnexpectedItemError(batch_id, f"{type(exc).__name__}: {exc}", **where)
            return error, time.monotonic() - started

    def stop(self) -> None:
        """No request after this. Requests in flight are not waited for: their threads are
        daemons, and what they bring back is thrown away."""
        self._stop.set()
        self._pool.cancel_pending()

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=not self._stop.is_set())
        if not self._stop.is_set():
            self.client.close()

    def _follow(self, outer: threading.Event) -> None:
        while not self._closed.is_set():
            if outer.wait(_FOLLOW_INTERVAL):
                self._stop.set()  # the waiting thread cancels what is queued (stop())
                return

    def _stop_run(self, error: EtlError) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = error
        self._stop.set()

    def _count_unreachable(self, error: ItemError | None) -> None:
        """Stop the run once UNREACHABLE_STREAK batches in a row could not connect at all."""
        unreachable = isinstance(error, RetriesExhaustedError) and error.http_status is None
        with self._lock:
            self._unreachable_streak = self._unreachable_streak + 1 if unreachable else 0
            if unreachable:
                self._last_unreachable = error
            else:
                self._reached_api = True
            if self._unreachable_streak < UNREACHABLE_STREAK:
                return
        self._stop_run(
            ApiUnreachableError(
                f"{UNREACHABLE_STREAK} batches in a row could not reach "
                f"{redact_api_url(self.client.base_url)} "
                f"(last: {error.message}); is the API down or PROLIFIC_API_URL wrong?"
            )
        )

    def never_reached_api(self) -> ApiUnreachableError | None:
        """Why the run is down, when it tried the API and not one request reached it.

        Fewer than UNREACHABLE_STREAK batches (a short ID file, a listing of workspaces)
        never make a streak; without this a run that loaded nothing would end 'partial'.
        """
        with self._lock:
            if self._reached_api or self._last_unreachable is None:
                return None
            last = self._last_unreachable.message
        return ApiUnreachableError(
            f"not one request reached {redact_api_url(self.client.base_url)}; last: {last}"
        )


class Submitted:
    """Items handed to the workers by one ``Extractor.submit``: wait for all of them (call
    it), or take those finished so far (``take``), as a caller that has other work between
    does. An item the run stopped before, or that was cancelled, is left out."""

    def __init__(
        self,
        futures: list[Future[Fetched | None]],
        stopped: threading.Event,
        on_done: Callable[[Fetched], None] | None,
    ) -> None:
        self._futures = futures
        self._stopped = stopped
        self._on_done = on_done
        self._untaken = list(futures)

    def __call__(self) -> list[Fetched]:
        pending = set(self._futures)
        on_done = self._on_done
        while pending and not self._stopped.is_set():
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                if on_done is not None and (outcome := _outcome(future)) is not None:
                    on_done(outcome)
        self._untaken = []
        return [outcome for future in self._futures if (outcome := _outcome(future)) is not None]

    @property
    def exhausted(self) -> bool:
        """Whether every item was taken (or the run stopped: nothing more will be)."""
        return not self._untaken or self._stopped.is_set()

    def take(self, *, wait_up_to: float = 0.0) -> list[Fetched]:
        """The items finished since the last ``take``, in the order they were submitted;
        waits up to ``wait_up_to`` seconds for the first of them when none has finished."""
        if wait_up_to > 0 and self._untaken and not self._stopped.is_set():
            wait(self._untaken, timeout=wait_up_to, return_when=FIRST_COMPLETED)
        finished, untaken = [], []
        for future in self._untaken:  # each looked at once: one may finish meanwhile
            (finished if future.done() else untaken).append(future)
        self._untaken = untaken
        return [outcome for future in finished if (outcome := _outcome(future)) is not None]


def _outcome(future: Future[Fetched | None]) -> Fetched | None:
    """A finished future's result; None when it was cancelled or is not finished."""
    if not future.done() or future.cancelled():
        return None
    return future.result()


class _DaemonThreads:
    """A fixed pool of daemon threads running tasks as Futures.

    ThreadPoolExecutor would do, but its threads hold up the process's exit until they are
    done, and a run stopped by a signal must not wait for a request a slow server keeps open.
    """

    def __init__(self, count: int, name: str) -> None:
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True)
            for index in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, function: Callable, *args) -> Future:
        future: Future = Future()
        self._tasks.put((future, function, args))
        return future

    def cancel_pending(self) -> None:
        """Cancel the tasks no thread has started."""
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            if task is not None:
                task[0].cancel()

    def shutdown(self, *, wait: bool) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            future, function, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
