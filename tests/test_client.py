"""The API client against the local imitation: auth, status mapping, retries."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from etl import __version__
from etl.errors import (
    ApiUnavailableError,
    BatchNotFoundError,
    BatchRequestError,
    TokenRejectedError,
)
from etl.source.client import ProlificClient, RequestsStopped, RetryPolicy, parse_retry_after
from etl.source.fake_api import Fault, error_body

from conftest import TOKEN

FAST = RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05, max_total_wait=5)


class FakeTime:
    """A clock that only moves when the client sleeps; records every wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def waits(fake_time) -> list[float]:
    return fake_time.waits


@pytest.fixture
def client(api, fake_time):
    with ProlificClient(
        api.url,
        TOKEN,
        connect_timeout=0.2,  # an attempt ends after connect + read timeout in all
        read_timeout=0.5,
        retry_policy=FAST,
        sleep=fake_time.sleep,
        clock=fake_time.monotonic,
    ) as client:
        yield client


def test_fetch_returns_the_body_and_identifies_itself(client, api, batches):
    body = client.fetch_batch(batches[0]["id"])
    assert json.loads(body) == batches[0]
    (seen,) = api.requests
    assert seen.authorized and seen.user_agent.startswith(f"prolific-etl/{__version__}")


def test_401_is_a_rejected_token_without_the_token_in_the_message(api, batches):
    with ProlificClient(api.url, "bad-token-123") as client:
        with pytest.raises(TokenRejectedError) as caught:
            client.fetch_batch(batches[0]["id"])
    assert "401" in str(caught.value) and "bad-token-123" not in str(caught.value)
    assert len(api.requests) == 1


@pytest.mark.parametrize("status", [403, 404])
def test_403_and_404_are_not_found_for_that_batch(client, api, batches, status):
    batch_id = batches[0]["id"]
    api.inject(
        batch_id,
        Fault.http(
            status, body=error_body(status, "FORBIDDEN", "Forbidden", "You do not have access")
        ),
    )
    with pytest.raises(BatchNotFoundError) as caught:
        client.fetch_batch(batch_id)
    assert caught.value.http_status == status
    assert "Forbidden You do not have access [FORBIDDEN]" in caught.value.message
    assert len(api.requests_for(batch_id)) == 1


def test_400_is_a_refused_request_and_not_retried(client, api, batches):
    batch_id = batches[0]["id"]
    api.inject(batch_id, Fault.http(400))
    with pytest.raises(BatchRequestError):
        client.fetch_batch(batch_id)
    assert len(api.requests_for(batch_id)) == 1


def test_unknown_batch_is_not_found(client):
    with pytest.raises(BatchNotFoundError, match="HTTP 404"):
        client.fetch_batch(str(uuid.uuid4()))


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http(503),
        Fault.http(429),
        Fault.drop(),
        Fault.hang(1.0),
        Fault.truncate(),
        Fault.http(500),
    ],
)
def test_transient_failures_are_retried(client, api, batches, waits, fault):
    batch_id = batches[0]["id"]
    api.inject(batch_id, fault, fault)
    assert json.loads(client.fetch_batch(batch_id)) == batches[0]
    assert len(api.requests_for(batch_id)) == 3
    assert len(waits) == 2 and client.retries == 2


def test_retries_stop_after_max_attempts(client, api, batches, waits):
    batch_id = batches[0]["id"]
    api.inject(batch_id, *[Fault.http(503)] * 10)
    with pytest.raises(ApiUnavailableError, match="HTTP 503") as caught:
        client.fetch_batch(batch_id)
    assert caught.value.http_status == 503
    assert len(api.requests_for(batch_id)) == FAST.max_attempts
    assert len(waits) == FAST.max_attempts - 1


def test_retry_after_is_a_floor_for_the_wait(client, api, batches, waits):
    batch_id = batches[0]["id"]
    api.inject(batch_id, Fault.http(429, retry_after="3"))
    client.fetch_batch(batch_id)
    assert waits[0] >= 3


def test_total_wait_per_batch_is_capped(api, batches, waits):
    batch_id = batches[0]["id"]
    api.inject(batch_id, *[Fault.http(429, retry_after="60")] * 3)
    policy = RetryPolicy(max_attempts=10, initial_wait=0.01, max_total_wait=30)
    with ProlificClient(api.url, TOKEN, retry_policy=policy, sleep=waits.append) as client:
        with pytest.raises(ApiUnavailableError, match="HTTP 429"):
            client.fetch_batch(batch_id)
    assert waits == [] and len(api.requests_for(batch_id)) == 1


def test_retry_after_as_seconds_or_http_date():
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_waits_grow_exponentially_without_retry_after(client, api, batches, waits):
    batch_id = batches[0]["id"]
    api.inject(batch_id, *[Fault.http(429)] * 3)
    client.fetch_batch(batch_id)
    steps = [FAST.initial_wait * 2**attempt for attempt in range(3)]
    assert [step / 2 <= wait <= step for wait, step in zip(waits, steps, strict=True)] == [True] * 3


def test_a_429_holds_off_every_worker_until_its_retry_after(api, batches):
    limited, other = batches[0]["id"], batches[1]["id"]
    api.inject(limited, Fault.http(429, retry_after="1"))
    told_to_wait = threading.Event()
    with ProlificClient(api.url, TOKEN, on_retry=lambda event: told_to_wait.set()) as client:
        worker = threading.Thread(target=client.fetch_batch, args=(limited,))
        worker.start()
        assert told_to_wait.wait(10)
        client.fetch_batch(other)
        worker.join(10)
    (first_429, retried) = api.requests_for(limited)
    (other_request,) = api.requests_for(other)
    assert other_request.at - first_429.at >= 0.9
    assert retried.at - first_429.at >= 0.9


def test_a_server_that_drips_its_body_costs_only_the_attempt_budget(api, batches):
    batch_id = batches[0]["id"]
    api.inject(batch_id, Fault.drip(0.05), Fault.drip(0.05))
    policy = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01)
    started = time.monotonic()
    with ProlificClient(
        api.url, TOKEN, connect_timeout=0.2, read_timeout=0.3, retry_policy=policy
    ) as client:
        with pytest.raises(ApiUnavailableError, match="timed out"):
            client.fetch_batch(batch_id)
    # Two attempts of at most 0.5 s each, where the drip alone would take minutes.
    assert time.monotonic() - started < 5
    assert len(api.requests_for(batch_id)) == 2


def test_stopping_interrupts_a_retry_wait_and_sends_nothing_more(api, batches):
    batch_id = batches[0]["id"]
    api.inject(batch_id, Fault.http(503, retry_after="30"))
    stop = threading.Event()
    waiting = threading.Event()
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            client.fetch_batch(batch_id)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    with ProlificClient(api.url, TOKEN, stop=stop, on_retry=lambda e: waiting.set()) as client:
        worker = threading.Thread(target=fetch)
        worker.start()
        assert waiting.wait(10)
        stop.set()
        worker.join(5)
        assert not worker.is_alive()
        with pytest.raises(RequestsStopped):
            client.fetch_batch(batches[1]["id"])
    assert [type(exc) for exc in outcome] == [RequestsStopped]
    assert len(api.requests) == 1


def test_the_proxy_the_environment_names_is_used_and_no_proxy_is_honoured(
    api, batches, monkeypatch
):
    from support import ForwardProxy

    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with ForwardProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        with ProlificClient(api.url, TOKEN) as client:
            assert json.loads(client.fetch_batch(batches[0]["id"])) == batches[0]
        assert proxy.forwarded == [f"{api.url}/api/v1/data-collection/batches/{batches[0]['id']}"]

        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with ProlificClient(api.url, TOKEN) as client:
            assert json.loads(client.fetch_batch(batches[1]["id"])) == batches[1]
        assert len(proxy.forwarded) == 1
    assert [r.batch_id for r in api.requests] == [batches[0]["id"], batches[1]["id"]]
