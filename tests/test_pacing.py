"""The adaptive pace: its rules one at a time on a fake clock, then against simulated limits.

The simulation drives the real Pacer (reserve, confirm, accepted, refused) with a clock it
moves itself: workers send at their slots, a token bucket stands for the API's implicit limit,
and answers come back after a latency. It shows the control law; BENCHMARKS.md shows the whole
job over HTTP against the local imitation of the API.
"""

from __future__ import annotations

import heapq
import random
import threading
from dataclasses import dataclass

import pytest

from etl.source.pacing import DECREASE, MIN_RATE, Pacer, PacingStopped


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pacer_on(clock: FakeClock, **options) -> Pacer:
    return Pacer(clock=clock, sleep=clock.sleep, **options)


def refuse_three(pacer: Pacer) -> None:
    """Three requests sent together, all refused: the share that cuts the pace at once."""
    for ticket in [pacer.acquire() for _ in range(3)]:
        pacer.refused(ticket)


def test_nothing_is_paced_before_the_first_429(clock):
    pacer = pacer_on(clock)
    tickets = [pacer.acquire() for _ in range(100)]
    assert clock.sleeps == [] and pacer.rate is None
    assert {ticket.sent_at for ticket in tickets} == {100.0}


def test_max_rps_is_a_ceiling_from_the_first_request(clock):
    pacer = pacer_on(clock, max_rate=4)
    sent = [pacer.acquire().sent_at for _ in range(5)]
    assert sent == [100.0, 100.25, 100.5, 100.75, 101.0]


def test_a_429_paces_every_worker_below_the_rate_the_api_accepted(clock):
    pacer = pacer_on(clock)
    for _ in range(20):  # 20 answers over one second
        ticket = pacer.acquire()
        clock.now += 0.05
        pacer.accepted(ticket)
    refused = pacer.acquire()
    pacer.refused(refused)
    assert pacer.rate == pytest.approx(20 * DECREASE, rel=0.1)
    first, second = pacer.acquire(), pacer.acquire()
    assert second.sent_at - first.sent_at == pytest.approx(1 / pacer.rate)


def test_429s_of_requests_let_through_before_a_decrease_lower_the_rate_once(clock):
    pacer = pacer_on(clock, max_rate=100)
    in_flight = [pacer.acquire() for _ in range(8)]
    clock.now += 0.1
    for ticket in in_flight[:3]:  # three refusals of three answers: the pace is cut
        pacer.refused(ticket)
    cut = pacer.rate
    assert cut < 100
    for ticket in in_flight[3:]:
        pacer.refused(ticket)
    assert pacer.rate == cut
    assert pacer.refusals == 8


def test_a_worker_waiting_for_a_slot_given_at_the_old_rate_queues_again(clock):
    pacer = pacer_on(clock, max_rate=10)
    early = [pacer.acquire() for _ in range(3)]
    waiting = pacer.reserve()  # due at +0.3 s
    for ticket in early:
        pacer.refused(ticket)
    assert not pacer.confirm(waiting)
    again = pacer.reserve()
    assert again.sent_at >= clock.now + 1 / pacer.rate - 1e-9


def test_the_rate_rises_only_while_it_holds_the_workers_back(clock):
    pacer = pacer_on(clock, max_rate=20)
    refuse_three(pacer)
    lowered = pacer.rate
    assert lowered < 20
    # Workers that ask far less often than the rate allows: the pace holds nobody back.
    for _ in range(50):
        clock.now += 1.0
        pacer.accepted(pacer.acquire())
    assert pacer.rate == lowered
    # Workers that ask as fast as they may: it rises.
    for _ in range(200):
        pacer.accepted(pacer.acquire())
    assert pacer.rate > lowered


def test_the_rate_never_passes_max_rps_or_drops_below_its_floor(clock):
    pacer = pacer_on(clock, max_rate=3)
    for _ in range(40):
        pacer.refused(pacer.acquire())
        clock.now += 1
    assert pacer.rate == pytest.approx(MIN_RATE)
    for _ in range(5000):
        pacer.accepted(pacer.acquire())
    assert pacer.rate <= 3


@pytest.mark.parametrize("max_rate", [float("nan"), float("inf"), 0.0, -1.0])
def test_max_rps_must_be_a_positive_number(max_rate):
    # Issue 22: --max-rps nan was accepted and stalled the run at the first 429.
    with pytest.raises(ValueError, match="max_rate"):
        Pacer(max_rate=max_rate)


def test_a_retry_after_holds_every_worker(clock):
    pacer = pacer_on(clock)
    pacer.refused(pacer.acquire(), retry_after=7)
    assert pacer.acquire().sent_at >= 107


def test_refused_for_counts_from_the_first_429_until_an_answer(clock):
    pacer = pacer_on(clock)
    pacer.refused(pacer.acquire())
    clock.now += 30
    assert pacer.refused_for() == pytest.approx(30)
    pacer.accepted(pacer.acquire())
    assert pacer.refused_for() == 0


def test_stopping_ends_a_wait():
    stop = threading.Event()
    pacer = Pacer(max_rate=0.01, stop=stop)
    pacer.acquire()
    outcome: list[BaseException] = []

    def wait_for_the_next_slot() -> None:
        try:
            pacer.acquire()  # 100 s away
        except PacingStopped as exc:
            outcome.append(exc)

    worker = threading.Thread(target=wait_for_the_next_slot)
    worker.start()
    stop.set()
    worker.join(5)
    assert not worker.is_alive() and len(outcome) == 1


# --- against simulated limits ---------------------------------------------------------------


@dataclass
class Simulated:
    seconds: float
    accepted: int
    refused: int

    @property
    def goodput(self) -> float:
        return self.accepted / self.seconds

    @property
    def refused_share(self) -> float:
        return self.refused / (self.accepted + self.refused)

    @property
    def sent_rate(self) -> float:
        """Requests per second, refused ones included: what the pace allowed."""
        return (self.accepted + self.refused) / self.seconds


def simulate(
    limit: float | None,
    *,
    burst: float | None = None,
    latency: float = 0.1,
    workers: int = 8,
    batches: int = 1000,
    limit_after: tuple[float, float] | None = None,
    noise: float = 0.0,
    outage: tuple[float, float] | None = None,
    seed: int = 0,
    trace: list[tuple[float, float | None]] | None = None,
    pacer_out: list[Pacer] | None = None,
) -> Simulated:
    """``batches`` requests through a Pacer against a token bucket of ``limit`` requests/s.

    ``limit_after`` (time, new limit) changes the limit during the run; latencies vary by
    ±30% around ``latency``. The refusals the client does not cause: ``noise`` is the share
    of the requests the bucket let through that are refused all the same, at random (other
    clients of the workspace), and every request is refused from ``outage[0]`` to
    ``outage[1]`` seconds (another client's burst). ``trace`` receives (time, rate) after
    every answer; ``pacer_out`` the Pacer, to read what it learnt.
    """
    rng = random.Random(seed)
    clock = FakeClock()
    clock.now = 0.0
    pacer = Pacer(clock=clock, sleep=lambda seconds: None)
    if pacer_out is not None:
        pacer_out.append(pacer)
    bucket = {"limit": limit, "tokens": burst or limit or 0, "at": 0.0}
    events: list = []
    order = 0
    accepted = refused = in_flight = 0

    def push(at, kind, ticket, ok=None):
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, ticket, ok))

    def admitted(at: float) -> bool:
        if outage is not None and outage[0] <= at < outage[1]:
            return False
        return through_the_bucket(at) and rng.random() >= noise

    def through_the_bucket(at: float) -> bool:
        if limit_after is not None and at >= limit_after[0]:
            bucket["limit"] = limit_after[1]
        if bucket["limit"] is None:
            return True
        capacity = burst or bucket["limit"]
        bucket["tokens"] = min(capacity, bucket["tokens"] + (at - bucket["at"]) * bucket["limit"])
        bucket["at"] = at
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
            return True
        return False

    for _ in range(workers):
        ticket = pacer.reserve()
        push(ticket.sent_at, "send", ticket)
    pending = batches
    while accepted < batches:
        at, _, kind, ticket, ok = heapq.heappop(events)
        clock.now = at
        if kind == "send":
            if not pacer.confirm(ticket):
                again = pacer.reserve()
                push(again.sent_at, "send", again)
                continue
            in_flight += 1
            push(at + latency * rng.uniform(0.7, 1.3), "answer", ticket, admitted(at))
            continue
        in_flight -= 1
        if ok:
            pacer.accepted(ticket)
            accepted += 1
            pending -= 1
        else:
            pacer.refused(ticket)
            refused += 1
        if trace is not None:
            trace.append((at, pacer.rate))
        if pending > in_flight:
            nxt = pacer.reserve()
            push(nxt.sent_at, "send", nxt)
    return Simulated(clock.now, accepted, refused)


@pytest.mark.parametrize("limit", [5, 20, 50])
def test_under_an_implicit_limit_the_pace_settles_just_under_it(limit):
    # Issue 11: at 100 ms with the default 8 workers, at least 85% of the limit, at most 5%
    # of the requests refused, every batch through.
    run = simulate(limit)
    assert run.accepted == 1000
    assert run.goodput >= 0.85 * limit
    assert run.refused_share <= 0.05


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_a_strict_limiter_without_bursts_is_kept_too(limit):
    run = simulate(limit, burst=1)
    assert run.goodput >= 0.8 * limit and run.refused_share <= 0.06


def test_without_a_limit_nothing_slows_the_workers():
    run = simulate(None, latency=0.05, workers=16, batches=10_000)
    assert run.refused == 0
    assert run.goodput == pytest.approx(16 / 0.05, rel=0.02)


def test_a_limit_that_drops_mid_run_is_followed_down():
    run = simulate(50, limit_after=(10.0, 10), batches=1500)
    # 500 in the first 10 s at 50/s, the remaining 1000 at 10/s: about 110 s in all.
    assert run.seconds < 10 + 1000 / (0.85 * 10)
    assert run.refused_share <= 0.05


# --- refusals the pace did not cause (issue 22) ------------------------------------------
#
# Prolific's 429s come mostly from contention in the workspace (other clients, approvals),
# not from one client's rate. The law before issue 22 took every 429 for its own doing: any
# share above about 1.2% drove it to MIN_RATE. Runs are short here (1,000 requests, ~13 s), so
# the few seconds a law needs to learn the share it cannot lower weigh more than in a night's
# run; the figures are means over five seeds, and no seed may collapse.

SEEDS = range(5)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


@pytest.mark.parametrize("noise", [0.02, 0.10, 0.20])
def test_random_refusals_without_a_limit_do_not_slow_the_pace(noise):
    quiet = mean(simulate(None, seed=seed).goodput for seed in SEEDS)
    runs = [simulate(None, noise=noise, seed=seed) for seed in SEEDS]
    # At 20% the best possible goodput is 0.8 of the quiet run's: the pace is what must hold.
    assert mean(run.sent_rate for run in runs) >= 0.80 * quiet
    assert min(run.sent_rate for run in runs) >= 0.70 * quiet
    if noise <= 0.10:
        assert mean(run.goodput for run in runs) >= 0.80 * quiet


def test_the_share_refused_whatever_the_pace_becomes_the_baseline():
    run_pacer: list[Pacer] = []
    simulate(None, noise=0.10, batches=2000, pacer_out=run_pacer)
    assert run_pacer[0].baseline == pytest.approx(0.10, abs=0.04)
    quiet_pacer: list[Pacer] = []
    simulate(20, batches=1000, pacer_out=quiet_pacer)
    assert quiet_pacer[0].baseline < 0.02  # a limit's own 429s are not taken for noise


def answer(pacer: Pacer, clock: FakeClock, count: int, *, refused_every: int) -> None:
    """``count`` requests at the pace, each answered at once; every ``refused_every``-th
    refused."""
    for number in range(1, count + 1):
        ticket = pacer.acquire()
        if number % refused_every == 0:
            pacer.refused(ticket)
        else:
            pacer.accepted(ticket)


def cut_after_a_second_of_answers(pacer: Pacer, clock: FakeClock) -> float:
    """20 answers over one second, then a 429: the pace is cut; the rate it is cut to."""
    for _ in range(20):
        ticket = pacer.acquire()
        clock.now += 0.05
        pacer.accepted(ticket)
    pacer.refused(pacer.acquire())
    return pacer.rate


def test_a_share_that_slowing_down_does_not_lower_is_not_ours(clock):
    pacer = pacer_on(clock)
    first_cut = cut_after_a_second_of_answers(pacer, clock)
    answer(pacer, clock, 40, refused_every=10)  # 10% at the lower rate: one step lower again
    assert pacer.rate == pytest.approx(first_cut * DECREASE)
    answer(pacer, clock, 40, refused_every=10)  # 10% there too: someone else's 429s
    assert pacer.baseline == pytest.approx(0.10)
    assert pacer.rate > first_cut  # back to where the episode began


def test_a_share_that_falls_when_slowing_down_is_a_limit(clock):
    pacer = pacer_on(clock)
    first_cut = cut_after_a_second_of_answers(pacer, clock)
    answer(pacer, clock, 40, refused_every=5)  # 20%: still over the limit
    lower = pacer.rate
    assert lower == pytest.approx(first_cut * 0.8)  # down to about what got through
    answer(pacer, clock, 40, refused_every=1000)  # none there: under the limit
    assert pacer.baseline == 0.0
    assert pacer.rate == pytest.approx(lower)  # and it stays there, to climb from


def test_after_a_burst_of_refusals_the_pace_comes_back():
    quiet = simulate(None, batches=1500)
    # Another client takes the workspace for 3 s: every request is refused.
    run = simulate(None, batches=1500, outage=(5.0, 8.0))
    assert run.seconds <= quiet.seconds + 3.0 + 10.0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_limit_with_random_refusals_is_still_used(seed):
    run = simulate(20, noise=0.05, seed=seed)
    assert run.goodput >= 0.80 * 20
    # 5% are refused whatever the pace. To tell its own 429s from those, the pace lets the
    # share rise clearly above 5% before it cuts: about 5 more points, never a flood.
    assert run.refused_share <= 0.17
