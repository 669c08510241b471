"""Finding the request rate the API accepts, and keeping every worker under it.

Prolific publishes no rate limit: limits are implicit (per workspace) and the API answers 429,
with no Retry-After, when a client goes too fast. So the pace is found by feedback, the way TCP
finds a network's capacity:

- Until the first 429 nothing is paced: only ``--concurrency`` bounds the requests in flight
  (and ``--max-rps``, a hard ceiling, when given).
- A 429 lowers the allowed rate for every worker, to ``DECREASE`` times the current rate, or
  times the rate the API accepted over the last second when the current one is more than
  twice that (a limit with a large burst lets a fast start run far past it before refusing).
  The 429s of requests let through before that decrease are the same congestion seen
  late and do not lower it again; workers already waiting for a slot given at the old rate
  queue again at the new one.
- While the pace is what holds the workers back and requests go through, the rate rises again:
  it doubles every second until a request sent at a paced rate has been refused (the first
  429 comes from the unpaced start, a poor measure of the limit), then by
  ``INCREASE_PER_REQUEST`` of itself for each accepted request, to probe whether the limit
  rose. Rising per request rather than per second keeps the number of requests between two
  429s the same at any limit: about 80 requests to climb back from a decrease, so that 429s
  stay a few percent of the requests at 1 request/s as at 50.

Requests are spaced evenly (``1 / rate`` apart), never in bursts, and a slot not used is not
saved up. tests/test_pacing.py runs this against simulated token-bucket limits; BENCHMARKS.md
has what it gives against the local imitation of the API.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DECREASE = 0.85
INCREASE_PER_REQUEST = 0.002
MIN_RATE = 0.1  # one request every 10 s at the slowest
WINDOW = 1.0  # seconds over which the accepted and the sent rates are measured
MIN_SAMPLES = 5  # answers in the window before the accepted rate is trusted as a measure
OVERSHOOT = 0.5  # a rate this far above what the API accepted is cut to the accepted rate
REQUEUE_ON_RISE = 1.1  # waiting workers take new slots once the rate rose by this factor


class PacingStopped(Exception):
    """The run was stopped while a worker waited for its turn to send."""


@dataclass(frozen=True)
class Ticket:
    """A slot to send at: when it was given, at which pace, and under which rate setting."""

    sent_at: float
    issued_at: float
    paced: bool
    generation: int


class Pacer:
    """The request rate shared by all workers of a run; safe to share between threads.

    ``max_rate`` is a hard ceiling (``--max-rps``); ``adaptive`` False keeps only that ceiling.
    ``stop`` ends every wait at once. ``clock`` and ``sleep`` are injectable for tests, which
    can also drive ``reserve`` and ``confirm`` (what ``acquire`` does between its waits)
    themselves.
    """

    def __init__(
        self,
        *,
        max_rate: float | None = None,
        adaptive: bool = True,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        # nan passes a "<= 0" check and would space requests nan seconds apart: every worker
        # would wait forever at the first 429 (issue 22).
        if max_rate is not None and not (math.isfinite(max_rate) and max_rate > 0):
            raise ValueError(f"max_rate must be a positive number of requests/s, not {max_rate}")
        self.max_rate = max_rate
        self.adaptive = adaptive
        self._stop = stop or threading.Event()
        self._clock = clock
        self._sleep = sleep or self._wait_unless_stopped
        self._lock = threading.Lock()
        self._rate: float | None = None  # the adaptive rate; None until the first 429
        self._next_slot = float("-inf")
        self._last_sent = float("-inf")
        self._not_before = float("-inf")  # a Retry-After or a 503's hold-off, for everyone
        self._generation = 0  # bumped when the rate changes enough to hand out slots again
        self._rate_of_generation: float | None = None
        self._last_decrease = float("-inf")
        self._last_increase = float("-inf")
        self._found_the_limit = False  # a request sent at a paced rate was refused
        self._accepted: deque[float] = deque()
        self._sent: deque[float] = deque()
        self._refused_since: float | None = None
        self.refusals = 0

    @property
    def rate(self) -> float | None:
        """Requests per second allowed now; None when nothing but ``--concurrency`` paces."""
        with self._lock:
            return self._allowed_rate()

    def refused_for(self) -> float:
        """Seconds since the API last accepted a request, while it has refused every one since."""
        with self._lock:
            if self._refused_since is None:
                return 0.0
            return self._clock() - self._refused_since

    def acquire(self) -> Ticket:
        """Wait for this worker's turn to send; raises PacingStopped if the run stops meanwhile."""
        while True:
            if self._stop.is_set():
                raise PacingStopped
            ticket = self.reserve()
            if ticket.sent_at > ticket.issued_at:
                self._sleep(ticket.sent_at - ticket.issued_at)
            if self.confirm(ticket):
                return ticket

    def reserve(self) -> Ticket:
        """The next free slot, without waiting for it."""
        with self._lock:
            now = self._clock()
            rate = self._allowed_rate()
            slot = max(now, self._not_before)
            if rate is not None:
                slot = max(slot, self._next_slot)
                self._next_slot = slot + 1.0 / rate
            return Ticket(slot, now, self._rate is not None, self._generation)

    def confirm(self, ticket: Ticket) -> bool:
        """Use a reserved slot, once its time has come; False if the rate changed meanwhile
        (then reserve again)."""
        with self._lock:
            if ticket.generation != self._generation:
                return False
            self._last_sent = max(self._last_sent, ticket.sent_at)
            self._sent.append(ticket.sent_at)
            return True

    def accepted(self, ticket: Ticket) -> None:
        """The API answered the request (anything but a 429)."""
        with self._lock:
            now = self._clock()
            self._refused_since = None
            self._accepted.append(now)
            self._forget_before(now - WINDOW)
            if self._rate is None or not self.adaptive:
                return
            elapsed = min(now - self._last_increase, 1.0)
            self._last_increase = now
            # Rise only while the pace is what holds the workers back: a run held back by its
            # concurrency, its database or a slow API would otherwise raise a rate it never
            # tests, and be flooded with 429s when it suddenly could use it.
            if len(self._sent) < 0.8 * self._rate * WINDOW:
                return
            if self._found_the_limit:
                self._rate *= 1.0 + INCREASE_PER_REQUEST
            else:
                self._rate *= 2.0**elapsed
            if self.max_rate is not None:
                self._rate = min(self._rate, self.max_rate)
            if self._rate > REQUEUE_ON_RISE * (self._rate_of_generation or self._rate):
                self._new_generation(now)

    def refused(self, ticket: Ticket, retry_after: float | None = None) -> None:
        """The API answered 429: slow every worker down (once per congestion episode)."""
        with self._lock:
            now = self._clock()
            self.refusals += 1
            if self._refused_since is None:
                self._refused_since = now
            if retry_after is not None and retry_after > 0:
                self._not_before = max(self._not_before, now + retry_after)
            if not self.adaptive or ticket.issued_at < self._last_decrease:
                return
            self._found_the_limit = self._found_the_limit or ticket.paced
            self._forget_before(now - WINDOW)
            current = self._allowed_rate() or float("inf")
            measured = self._accepted_rate(now)
            if measured is not None and measured < OVERSHOOT * current:
                basis = measured  # far past the limit: start again from what got through
            elif current != float("inf"):
                basis = current
            else:  # refused before much was accepted: start low, and rise fast
                basis = (len(self._accepted) + 1) / max(now - ticket.sent_at, 0.1)
            self._rate = max(MIN_RATE, basis * DECREASE)
            if self.max_rate is not None:
                self._rate = min(self._rate, self.max_rate)
            self._last_decrease = now
            self._last_increase = now
            self._new_generation(now)

    def hold_off(self, seconds: float) -> None:
        """No worker sends for ``seconds`` (a 503's Retry-After: the server asks for a pause)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def _new_generation(self, now: float) -> None:
        """Slots handed out at the old rate are void: their holders reserve again."""
        self._generation += 1
        self._rate_of_generation = self._rate
        self._next_slot = max(now, self._last_sent + 1.0 / self._rate)

    def _accepted_rate(self, now: float) -> float | None:
        """Answers per second over the last WINDOW, when there were enough to tell."""
        if len(self._accepted) < MIN_SAMPLES:
            return None
        return len(self._accepted) / max(now - self._accepted[0], WINDOW / 2)

    def _allowed_rate(self) -> float | None:
        if self._rate is None:
            return self.max_rate
        if self.max_rate is None:
            return self._rate
        return min(self._rate, self.max_rate)

    def _forget_before(self, moment: float) -> None:
        while self._accepted and self._accepted[0] < moment:
            self._accepted.popleft()
        while self._sent and self._sent[0] < moment:
            self._sent.popleft()

    def _wait_unless_stopped(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise PacingStopped
