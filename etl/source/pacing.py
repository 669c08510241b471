"""Finding the request rate the API accepts, and keeping every worker under it.

Prolific publishes no rate limit: limits are implicit (per workspace) and the API answers 429,
with no Retry-After, when a client goes too fast. It also answers 429 when other clients of
the workspace are busy (approvals, bonuses, other exports): those 429s do not stop when this
client slows down. So the pace is found by feedback, the way TCP finds a network's capacity,
and like the TCP variants written for lossy links it judges the share of refusals, not each
one:

- Until the first 429 nothing is paced: only ``--concurrency`` bounds the requests in flight
  (and ``--max-rps``, a hard ceiling, when given).
- While climbing, the pace is cut (to ``DECREASE`` times what the API let through over the
  last second) when the share of 429s among the last ``WINDOW_ANSWERS`` answers is clearly
  above the *baseline*: the share the API refuses whatever the pace. The baseline starts at
  zero, so the first 429s of a run cut the pace as a plain limit would; it is learnt from
  samples taken after cuts, and from whole windows of answers while the pace held nobody back.
- After a cut the rate holds for ``SAMPLE_ANSWERS`` answers to measure the share there. A share
  at the baseline ends the episode: the limit lies between this rate and the cut's. A higher
  one is measured one step lower again: if slowing down lowered it, the search goes on down;
  if not, the 429s are someone else's: they join the baseline and the rate goes back to where
  the episode began. While measuring, a share over ``FLOOD`` is never noise: the rate goes down
  at once to about what got through. After a sample refused whole (an outage, another
  client's burst), a few accepted answers in a row end the episode.
- Then the rate rises: doubling every second back to just under the best guess of the limit,
  then by ``INCREASE_PER_REQUEST`` of itself per accepted request, to probe whether the limit
  rose. It rises only while the pace is what holds the workers back.

Requests are spaced evenly (``1 / rate`` apart), never in bursts, and a slot not used is not
saved up. tests/test_pacing.py runs this against simulated limits, random refusals and bursts
of refusals; BENCHMARKS.md has what it gives against the local imitation of the API.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DECREASE = 0.85
INCREASE_PER_REQUEST = 0.001
MIN_RATE = 0.1  # one request every 10 s at the slowest
WINDOW = 1.0  # seconds over which the accepted and the sent rates are measured
MIN_SAMPLES = 5  # answers in the window before the accepted rate is trusted as a measure
REQUEUE_ON_RISE = 1.1  # waiting workers take new slots once the rate rose by this factor

WINDOW_ANSWERS = 40  # the last answers whose share of 429s is judged while climbing
SAMPLE_ANSWERS = 40  # answers at a held rate that measure its share of 429s
SIGNIFICANCE = 3.5  # standard deviations above the baseline for a share to be ours
MIN_EXCESS = 0.03  # a share this far above the baseline is ours whatever the sample's size
FLOOD = 0.5  # while measuring, a share over this is never noise
FLOOD_ANSWERS = 10  # answers before FLOOD is judged
CLEAN_ANSWERS = 5  # answers without a 429 that end a sample far below the rate of the cut
FLOOD_FLOOR = 0.25  # one cut while flooded goes down to this share of the rate at most
BASELINES_KEPT = 10  # the baseline is the share refused over the last few samples
FAST_RETURN = 0.95  # the fast climb stops this far under the guess of the limit


class PacingStopped(Exception):
    """The run was stopped while a worker waited for its turn to send."""


@dataclass(frozen=True)
class Ticket:
    """A slot to send at: when it was given, and under which rate setting."""

    sent_at: float
    issued_at: float
    generation: int


@dataclass
class Sample:
    """Answers counted at one held rate."""

    rate: float
    answers: int = 0
    refused: int = 0
    accepted_in_a_row: int = 0

    def add(self, refused: bool) -> None:
        self.answers += 1
        self.refused += refused
        self.accepted_in_a_row = 0 if refused else self.accepted_in_a_row + 1

    @property
    def share(self) -> float:
        return self.refused / self.answers if self.answers else 0.0


def clearly_above(refused: int, answers: int, baseline: float, measured_on: int = 0) -> bool:
    """Whether ``refused`` of ``answers`` is more than the baseline share explains, the
    baseline being itself a share of ``measured_on`` answers (0: taken as exact)."""
    variance = answers * baseline * (1.0 - baseline)
    if measured_on:
        variance += answers**2 * baseline * (1.0 - baseline) / measured_on
    spread = SIGNIFICANCE * math.sqrt(variance)
    return refused > baseline * answers + max(spread, MIN_EXCESS * answers)


def clearly_lower(lower: Sample, higher: Sample) -> bool:
    """Whether the share at the lower rate is below the share at the higher one by more than
    chance explains (a two-proportion test)."""
    pooled = (lower.refused + higher.refused) / (lower.answers + higher.answers)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / lower.answers + 1 / higher.answers))
    return higher.share - lower.share > max(2.0 * spread, MIN_EXCESS)


class Judge:
    """Tells the 429s this client's pace causes from those it does not, by their share."""

    def __init__(self) -> None:
        self.window: deque[bool] = deque(maxlen=WINDOW_ANSWERS)
        self.baselines: deque[Sample] = deque(maxlen=BASELINES_KEPT)
        # Held after a cut (what share does the lower rate get?); None while climbing (the
        # rate rises, and a share of 429s above the baseline cuts it).
        self.sample: Sample | None = None
        self.previous: Sample | None = None  # the episode's last sample at a lower rate
        self.trigger = math.inf  # the rate at the episode's first cut
        self.shut_out = False  # the last sample was refused whole (an outage, or far too fast)
        self.pooled = Sample(0.0)  # answers while the pace held nobody back, for the baseline

    @property
    def baseline(self) -> float:
        answers = self.baseline_answers
        return sum(sample.refused for sample in self.baselines) / answers if answers else 0.0

    @property
    def baseline_answers(self) -> int:
        return sum(sample.answers for sample in self.baselines)

    def climbing_refusal_is_ours(self, refused: bool, *, paced: bool) -> bool:
        """Whether a refusal while climbing is this client's doing. ``paced``: the pace is
        what holds the workers back; when it is not, no limit of ours is being tested, and a
        whole window of answers measures the baseline."""
        self.window.append(refused)
        if not paced:  # every answer counts, or the windows that cut would be left out
            self.pooled.add(refused)
            if self.pooled.answers >= WINDOW_ANSWERS:
                self.baselines.append(self.pooled)
                self.pooled = Sample(0.0)
        # A few answers say little (the first answer of a run may be someone else's 429),
        # unless most of them are refusals.
        if not refused or (len(self.window) < FLOOD_ANSWERS and sum(self.window) < 3):
            return False
        return clearly_above(
            sum(self.window), len(self.window), self.baseline, self.baseline_answers
        )

    @property
    def noise(self) -> float:
        """The baseline, as a share to leave aside when estimating what got through."""
        return min(self.baseline, 0.5)

    def back_from_a_flood(self, sample: Sample) -> bool:
        """Whether a sample far below the rate of the episode's first cut has gone clean long
        enough to stop measuring (the end of another client's burst: come back fast)."""
        return (
            self.shut_out
            and sample.accepted_in_a_row >= CLEAN_ANSWERS
            and sample.rate < 0.5 * self.trigger
        )

    def above_baseline(self, sample: Sample) -> bool:
        return clearly_above(sample.refused, sample.answers, self.baseline, self.baseline_answers)

    def hold(self, rate: float) -> None:
        self.sample = Sample(rate)
        self.window.clear()

    def climb(self) -> None:
        self.sample = self.previous = None
        self.trigger = math.inf
        self.shut_out = False
        self.window.clear()


class Recent:
    """When requests were sent and accepted over the last ``WINDOW``, and the rates they make."""

    def __init__(self) -> None:
        self.sent: deque[float] = deque()
        self.accepted: deque[float] = deque()
        self.first_sent: float | None = None

    def note_sent(self, at: float) -> None:
        if self.first_sent is None:
            self.first_sent = at
        self.sent.append(at)

    def note_answer(self, now: float, *, accepted: bool) -> None:
        if accepted:
            self.accepted.append(now)
        moment = now - WINDOW
        while self.accepted and self.accepted[0] < moment:
            self.accepted.popleft()
        while self.sent and self.sent[0] < moment:
            self.sent.popleft()

    def sent_rate(self, now: float) -> float:
        if not self.sent:
            return MIN_RATE
        return len(self.sent) / max(min(WINDOW, now - self.sent[0]), 0.1)

    def accepted_rate(self, now: float) -> float | None:
        """Answers per second over the last WINDOW, when there were enough to tell."""
        if len(self.accepted) < MIN_SAMPLES:
            return None
        # Early in a run the window is not full yet: the answers came since the first request.
        since_start = now - (self.first_sent if self.first_sent is not None else now)
        return len(self.accepted) / max(min(WINDOW, since_start), 0.1)


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
        self._last_change = float("-inf")  # when the rate was last cut or set back
        self._last_increase = float("-inf")
        self._fast_until = math.inf  # the fast climb goes on up to this rate
        self._judge = Judge()
        self._recent = Recent()
        self._refused_since: float | None = None
        self.refusals = 0

    @property
    def rate(self) -> float | None:
        """Requests per second allowed now; None when nothing but ``--concurrency`` paces."""
        with self._lock:
            return self._allowed_rate()

    @property
    def baseline(self) -> float:
        """The share of requests the API refuses whatever the pace, as judged so far."""
        with self._lock:
            return self._judge.baseline

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
            return Ticket(slot, now, self._generation)

    def confirm(self, ticket: Ticket) -> bool:
        """Use a reserved slot, once its time has come; False if the rate changed meanwhile
        (then reserve again)."""
        with self._lock:
            if ticket.generation != self._generation:
                return False
            self._last_sent = max(self._last_sent, ticket.sent_at)
            self._recent.note_sent(ticket.sent_at)
            return True

    def accepted(self, ticket: Ticket) -> None:
        """The API answered the request (anything but a 429)."""
        with self._lock:
            now = self._clock()
            self._refused_since = None
            self._recent.note_answer(now, accepted=True)
            self._judge_answer(ticket, refused=False, now=now)

    def refused(self, ticket: Ticket, retry_after: float | None = None) -> None:
        """The API answered 429: slow every worker down when the 429s are this client's doing."""
        with self._lock:
            now = self._clock()
            self.refusals += 1
            if self._refused_since is None:
                self._refused_since = now
            if retry_after is not None and retry_after > 0:
                self._not_before = max(self._not_before, now + retry_after)
            self._recent.note_answer(now, accepted=False)
            self._judge_answer(ticket, refused=True, now=now)

    def hold_off(self, seconds: float) -> None:
        """No worker sends for ``seconds`` (a 503's Retry-After: the server asks for a pause)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def _judge_answer(self, ticket: Ticket, *, refused: bool, now: float) -> None:
        # Answers to requests let through before the last change say nothing of the new rate.
        if not self.adaptive or ticket.issued_at < self._last_change:
            return
        judge = self._judge
        sample = judge.sample
        if sample is None:
            if judge.climbing_refusal_is_ours(refused, paced=self._pace_holds_back()):
                self._start_episode(now)
            elif not refused:
                self._climb(now)
            return
        sample.add(refused)
        flooded = sample.answers >= FLOOD_ANSWERS and sample.share > FLOOD
        if flooded:
            self._flooded(sample, now)
        elif sample.answers >= SAMPLE_ANSWERS or judge.back_from_a_flood(sample):
            self._measured(sample, now)

    def _start_episode(self, now: float) -> None:
        """Refusals above the baseline while climbing: cut, then find out whose they are."""
        judge = self._judge
        judge.trigger = self._allowed_rate() or self._recent.sent_rate(now)
        if self._rate is None:
            # Unpaced, early in the run: the answers still lag the requests, so the accepted
            # rate undercounts; what was sent, less the share refused, is the better guess.
            window = judge.window
            through = max(1.0 - sum(window) / len(window), FLOOD_FLOOR)
            estimate = judge.trigger * through / (1.0 - self._judge.noise)
        else:
            estimate = self._limit_estimate(now)
        # The first cut of an unpaced run knows little of a limit: come back to what was sent.
        self._fast_until = estimate if self._rate is not None else judge.trigger
        self._set_rate(estimate * DECREASE, now)
        judge.previous = None
        judge.hold(self._rate or estimate)

    def _flooded(self, sample: Sample, now: float) -> None:
        """Most requests refused at a held rate: never noise, go down at once, to about what
        got through (which is also the best guess of the limit)."""
        self._judge.shut_out = sample.refused == sample.answers
        if not self._judge.shut_out:
            self._fast_until = min(self._fast_until, self._got_through(sample))
            self._set_rate(self._got_through(sample) * DECREASE, now)
        else:  # nothing got through: say nothing of a limit, step down a long way
            self._set_rate(sample.rate * FLOOD_FLOOR * DECREASE, now)
        self._judge.hold(self._rate or sample.rate)

    def _got_through(self, sample: Sample) -> float:
        """The rate a sample's accepted requests came at, refusals the API makes anyway
        left aside."""
        return sample.rate * (1.0 - sample.share) / (1.0 - self._judge.noise)

    def _measured(self, sample: Sample, now: float) -> None:
        """A lower rate has been measured: the episode ends (a limit above this rate, or
        refusals that are not ours), or the search goes on down."""
        judge = self._judge
        previous = judge.previous
        above = judge.above_baseline(sample) and not judge.back_from_a_flood(sample)
        if above and (previous is None or clearly_lower(sample, previous)):
            # Refused more than the baseline explains, and less than one step up: go on down.
            judge.previous = sample
            self._set_rate(sample.rate * min(DECREASE, 1.0 - sample.share), now)
            judge.hold(self._rate or sample.rate)
            return
        if above:
            # Slowing down did not lower the share: the 429s are not this client's doing.
            # They become the baseline, and the rate goes back to where the episode began.
            assert previous is not None
            judge.baselines.extend((previous, sample))
            self._fast_until = judge.trigger / FAST_RETURN
            self._set_rate(judge.trigger, now)
        elif sample.answers >= SAMPLE_ANSWERS:
            judge.baselines.append(sample)
        judge.climb()

    def _pace_holds_back(self) -> bool:
        return self._rate is not None and len(self._recent.sent) >= 0.8 * self._rate * WINDOW

    def _climb(self, now: float) -> None:
        elapsed = min(now - self._last_increase, 1.0)
        self._last_increase = now
        # Rise only while the pace is what holds the workers back: a run held back by its
        # concurrency, its database or a slow API would otherwise raise a rate it never
        # tests, and be flooded with 429s when it suddenly could use it.
        if not self._pace_holds_back():
            return
        if self._rate < FAST_RETURN * self._fast_until:
            self._rate = min(self._rate * 2.0**elapsed, FAST_RETURN * self._fast_until)
        else:
            self._rate *= 1.0 + INCREASE_PER_REQUEST
        if self.max_rate is not None:
            self._rate = min(self._rate, self.max_rate)
        if self._rate > REQUEUE_ON_RISE * (self._rate_of_generation or self._rate):
            self._new_generation(now)

    def _limit_estimate(self, now: float) -> float:
        """What the API lets through, refusals it makes anyway left aside: the accepted rate
        over the last second, or the rate allowed when that was less."""
        current = self._allowed_rate() or math.inf
        accepted = self._recent.accepted_rate(now)
        if accepted is None:
            return current
        return min(current, accepted / (1.0 - self._judge.noise))

    def _set_rate(self, rate: float, now: float) -> None:
        self._rate = max(MIN_RATE, rate)
        if self.max_rate is not None:
            self._rate = min(self._rate, self.max_rate)
        self._last_change = now
        self._last_increase = now
        self._new_generation(now)

    def _new_generation(self, now: float) -> None:
        """Slots handed out at the old rate are void: their holders reserve again."""
        self._generation += 1
        self._rate_of_generation = self._rate
        self._next_slot = max(now, self._last_sent + 1.0 / self._rate)

    def _allowed_rate(self) -> float | None:
        if self._rate is None:
            return self.max_rate
        if self.max_rate is None:
            return self._rate
        return min(self._rate, self.max_rate)

    def _wait_unless_stopped(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise PacingStopped
