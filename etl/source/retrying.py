"""How hard to try one item: transient failures retried with exponential back-off and jitter
(tenacity), within a number of attempts and a total wait, and every repeat counted."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import tenacity

from ..errors import RetriesExhaustedError, Subject
from .answers import Retryable
from .pacing import Pacer

if TYPE_CHECKING:
    from .client import Item

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one batch before recording it as failed.

    Transient failures are retried up to ``max_attempts`` attempts; waits grow exponentially
    from ``initial_wait`` with jitter, never below a ``Retry-After`` the server sent, and all
    the waits of one batch together never exceed ``max_total_wait`` (a longer Retry-After is
    cut to what is left). ``max_total_wait`` also bounds how long a batch waits while the API
    answers 429 to every request.
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    max_total_wait: float = 120.0


@dataclass(frozen=True)
class RetryEvent:
    """Told to the ``on_retry`` callback before each wait, so that a run can show and count it.

    ``subject`` says what was asked for (a batch, a dataset, a workspace's listing, ...).
    """

    subject: Subject
    batch_id: str | None
    attempt: int
    reason: str
    wait: float


class FetchingStopped(Exception):
    """The run was stopped (token rejected, --fail-fast, a signal): no further requests."""


def interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A sleep that ends, with FetchingStopped, as soon as ``stop`` is set."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise FetchingStopped

    return sleep


def capped(seconds: float | None, budget: float) -> float | None:
    """A server's requested wait, never past what the batch itself has left to wait."""
    if seconds is None:
        return None
    return max(0.0, min(seconds, budget))


def _discard_partial(failure: Retryable) -> None:
    if failure.partial is not None:
        failure.partial.close()
        failure.partial = None


class Retrier:
    """Retries an item's attempts by ``policy``, and counts every request repeated (after a
    transient failure, or a 429 the caller tells of with ``count``); thread-safe.

    A 503's Retry-After also holds off every worker through ``pacer``.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        pacer: Pacer,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.policy = policy
        self._pacer = pacer
        self._clock = clock
        self._sleep = sleep
        self._on_retry = on_retry
        self._retries = 0
        self._lock = threading.Lock()

    @property
    def retries(self) -> int:
        """Requests repeated so far over all items."""
        with self._lock:
            return self._retries

    def count(self) -> None:
        with self._lock:
            self._retries += 1

    def run(self, item: Item, attempt: Callable[[], T], first_failure: Retryable) -> T:
        """Repeat ``attempt`` after ``first_failure`` (its first, already made) while it fails
        with Retryable; RetriesExhaustedError for ``item`` once the policy gives up."""
        policy = self.policy
        started = self._clock()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Retryable),
            # Stop once the attempts or the waiting budget are spent; each wait is also cut to
            # what is left of that budget (_wait), so an item never waits longer in all.
            stop=lambda state: (
                state.attempt_number >= policy.max_attempts
                or self._clock() - started >= policy.max_total_wait
            ),
            wait=lambda state: self._wait(state, started),
            sleep=self._sleep,
            before_sleep=lambda state: self._note_retry(item, state),
            reraise=True,
        )
        replay = [first_failure]
        last = [first_failure]  # the latest failure: only its partial body is kept

        def again() -> T:
            if replay:  # tenacity's first attempt is the one already made
                raise replay.pop()
            _discard_partial(last[0])
            try:
                return attempt()
            except Retryable as exc:
                last[0] = exc
                raise

        try:
            return retrying(again)
        except Retryable as exc:
            attempts = "1 attempt" if policy.max_attempts == 1 else "retries exhausted"
            hint = f"; {exc.hint}" if exc.hint else ""
            error = item.error(
                RetriesExhaustedError,
                f"{exc.reason} ({attempts}){hint}",
                http_status=exc.http_status,
            )
            error.partial, exc.partial = exc.partial, None
            raise error from None
        finally:
            _discard_partial(last[0])

    def _wait(self, state: tenacity.RetryCallState, started: float) -> float:
        policy = self.policy
        exponential = min(policy.max_wait, policy.initial_wait * 2 ** (state.attempt_number - 1))
        # Jitter between half and all of the exponential step: spread out, but still growing.
        wait = random.uniform(exponential / 2, exponential)  # noqa: S311 - not cryptography
        budget = policy.max_total_wait - (self._clock() - started)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            retry_after = capped(exc.retry_after, budget)
            wait = max(wait, retry_after)
            if exc.http_status == 503:
                # The server asked everyone for a pause, but never longer than this batch
                # itself would wait.
                self._pacer.hold_off(retry_after)
        return max(0.0, min(wait, budget))

    def _note_retry(self, item: Item, state: tenacity.RetryCallState) -> None:
        self.count()
        if self._on_retry is not None:
            exc = state.outcome.exception() if state.outcome else None
            reason = exc.reason if isinstance(exc, Retryable) else repr(exc)
            self._on_retry(
                RetryEvent(
                    item.subject, item.batch_id, state.attempt_number, reason, state.upcoming_sleep
                )
            )
