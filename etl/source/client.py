"""The HTTP client for Prolific's GET-batch endpoint: auth, timeouts, retries, error mapping.

It speaks HTTP through libcurl (pycurl), one easy handle and keep-alive connection per thread.
When the API answers quickly the job is bound by the CPU it spends per request, and measured
on one keep-alive connection (bench/http_clients.py) that was 1.5 ms with ``requests``
(cookie jars, per-request proxy and netrc lookups, hooks), 0.46 ms with urllib3's pool,
0.23 ms with http.client (which parses headers with the ``email`` package) and 0.14 ms with
libcurl, which also brings proxies, TLS, connection reuse and timeouts of its own. Proxies
from the environment are resolved once, at start, the way ``urllib.request`` resolves them.
"""

from __future__ import annotations

import email.utils
import io
import json
import math
import random
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import certifi
import pycurl
import tenacity

from .. import __version__
from ..errors import (
    ApiUnavailableError,
    BatchNotFoundError,
    BatchRequestError,
    TokenRejectedError,
)

USER_AGENT = f"prolific-etl/{__version__} (+https://github.com/prolific-etl)"
BATCH_PATH = "/api/v1/data-collection/batches/{batch_id}"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_DETAIL_LENGTH = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one batch before recording it as failed.

    Waits grow exponentially from ``initial_wait`` with full jitter, never below a
    ``Retry-After`` the server sent, and never past ``max_total_wait`` for the batch.
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    max_total_wait: float = 120.0


@dataclass(frozen=True)
class RetryEvent:
    """Told to the ``on_retry`` callback before each wait, so that a run can show and count it."""

    batch_id: str
    attempt: int
    reason: str
    wait: float


class _Cell:
    """A number shared by the threads of one process.

    It has the two members of ``multiprocessing.Value`` that the client uses (``value`` and
    ``get_lock()``), so that SharedState can hold either.
    """

    __slots__ = ("value", "_lock")

    def __init__(self, value: float = 0) -> None:
        self.value = value
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


@dataclass(frozen=True)
class SharedState:
    """What every worker of one run shares, be they threads of one process or several processes.

    ``stop``: no request once it is set. ``not_before``: the monotonic time before which no
    request is sent, after a 429 or 503 (the API's limit is per token, not per worker).
    ``next_slot``: the rate cap's next free slot. ``retries``: retries so far.
    ``unreachable_streak``: batches in a row that could not connect at all. ``in_flight``:
    bounds the requests in flight over all processes (None in one process, whose thread pool
    bounds them). Times are ``time.monotonic()``, one clock for the whole machine.
    """

    stop: Any
    not_before: Any
    next_slot: Any
    retries: Any
    unreachable_streak: Any
    in_flight: Any = None

    @classmethod
    def for_threads(cls, stop: threading.Event | None = None) -> SharedState:
        return cls(stop or threading.Event(), _Cell(0.0), _Cell(0.0), _Cell(0), _Cell(0))

    @classmethod
    def for_processes(cls, context: Any, concurrency: int) -> SharedState:
        """Shared memory and semaphores of a ``multiprocessing`` context, for worker processes."""
        return cls(
            context.Event(),
            context.Value("d", 0.0),
            context.Value("d", 0.0),
            context.Value("q", 0),
            context.Value("q", 0),
            context.BoundedSemaphore(concurrency),
        )


class RateLimiter:
    """Spaces requests at least ``1 / per_second`` apart across all workers (client-side quota).

    ``next_slot`` is where the next free slot is kept; pass SharedState's to share it between
    processes.
    """

    def __init__(
        self, per_second: float, clock=time.monotonic, sleep=time.sleep, next_slot: Any = None
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next_slot = next_slot if next_slot is not None else _Cell(0.0)

    def wait(self) -> None:
        with self._next_slot.get_lock():
            now = self._clock()
            slot = max(now, self._next_slot.value)
            self._next_slot.value = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


class RequestsStopped(Exception):
    """The run was stopped (token rejected, --fail-fast, a signal): no further requests."""


class _Retryable(Exception):
    """A transient failure of one attempt: 429, 5xx, timeout, dropped connection."""

    def __init__(self, reason: str, http_status: int | None, retry_after: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after


class ProlificClient:
    """Fetches batches over one pool of keep-alive connections; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        max_requests_per_second: float | None = None,
        stop: threading.Event | None = None,
        shared: SharedState | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.retry_policy = retry_policy or RetryPolicy()
        self._on_retry = on_retry
        self.shared = shared or SharedState.for_threads(stop)
        self._stop = self.shared.stop
        self._clock = clock
        self._sleep = sleep or self._interruptible_sleep
        self._rate_limiter = (
            RateLimiter(
                max_requests_per_second,
                clock=clock,
                sleep=self._sleep,
                next_slot=self.shared.next_slot,
            )
            if max_requests_per_second
            else None
        )
        self._handles = _CurlHandles(
            headers=[
                f"Authorization: Token {token}",
                f"User-Agent: {USER_AGENT}",
                "Accept: application/json",
            ],
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            proxy=_proxy_for(self.base_url),
        )

    @property
    def retries(self) -> int:
        """Retries made so far over all batches, by every client sharing this one's state."""
        return int(self.shared.retries.value)

    def close(self) -> None:
        self._handles.close()

    def __enter__(self) -> ProlificClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch_batch(self, batch_id: str) -> bytes:
        """The raw body of a 200 for ``batch_id``, after retrying transient failures.

        Raises TokenRejectedError (401), BatchNotFoundError (403/404), ApiUnavailableError
        (transient failures outlasted the retry policy) or BatchRequestError (400, another 4xx,
        or an unexpected status such as a redirect).
        """
        try:
            return self._attempt(batch_id)  # most batches need no more, nor tenacity's upkeep
        except _Retryable as first_failure:
            return self._retry(batch_id, first_failure)

    def _retry(self, batch_id: str, first_failure: _Retryable) -> bytes:
        policy = self.retry_policy
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(policy.max_attempts)
            | tenacity.stop_before_delay(policy.max_total_wait),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: self._note_retry(batch_id, state),
            reraise=True,
        )
        replay = [first_failure]

        def attempt() -> bytes:
            if replay:  # tenacity's first attempt is the one already made
                raise replay.pop()
            return self._attempt(batch_id)

        try:
            return retrying(attempt)
        except _Retryable as exc:
            attempts = "1 attempt" if policy.max_attempts == 1 else "retries exhausted"
            raise ApiUnavailableError(
                batch_id, f"{exc.reason} ({attempts})", http_status=exc.http_status
            ) from None

    def _interruptible_sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise RequestsStopped

    def _hold_off(self) -> None:
        # After a 429 or 503 every worker holds off, not only the one that was told.
        not_before = self.shared.not_before
        with not_before.get_lock():
            delay = not_before.value - self._clock()
        if delay > 0:
            self._sleep(delay)

    def _attempt(self, batch_id: str) -> bytes:
        if self._stop.is_set():
            raise RequestsStopped
        self._hold_off()
        if self._rate_limiter is not None:
            self._rate_limiter.wait()
        url = self.base_url + BATCH_PATH.format(batch_id=batch_id)
        try:
            status, headers, body = self._get(url)
        except pycurl.error as exc:
            code, message = exc.args
            if code == pycurl.E_OPERATION_TIMEDOUT:
                raise _Retryable(f"timed out ({message})", None, None) from None
            # Refused, reset, dropped, truncated, DNS, TLS: a transient failure of the network.
            raise _Retryable(f"connection failed ({message})", None, None) from None
        if status == 200:
            return body
        detail = self._error_detail(body)
        if status == 401:
            raise TokenRejectedError(
                f"the API rejected the token (HTTP 401{': ' + detail if detail else ''}); "
                "check PROLIFIC_API_TOKEN"
            )
        if status in RETRYABLE_STATUSES:
            raise _Retryable(
                f"HTTP {status}{': ' + detail if detail else ''}",
                status,
                parse_retry_after(headers.get("Retry-After")),
            )
        if status in (403, 404):
            raise BatchNotFoundError(
                batch_id,
                f"HTTP {status}: not found or not visible to this token"
                + (f" ({detail})" if detail else ""),
                http_status=status,
                api_detail=detail or None,
            )
        if 400 <= status < 500:
            raise BatchRequestError(
                batch_id,
                f"HTTP {status}" + (f": {detail}" if detail else ""),
                http_status=status,
                api_detail=detail or None,
            )
        raise BatchRequestError(batch_id, f"unexpected HTTP {status}", http_status=status)

    def _get(self, url: str) -> tuple[int, Mapping[str, str], bytes]:
        """One GET, whose whole body must arrive within the connect plus read timeouts.

        A read timeout alone would let a server that drips a byte at a time hold a worker for
        as long as it likes.
        """
        handle = self._handles.for_this_thread()
        body = io.BytesIO()
        header_lines: list[bytes] = []

        def on_header(line: bytes) -> None:
            if line.startswith(b"HTTP/"):  # a new response: a proxy's CONNECT answer came first
                header_lines.clear()
            header_lines.append(line)

        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.WRITEFUNCTION, body.write)
        handle.setopt(pycurl.HEADERFUNCTION, on_header)
        handle.perform()
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        return status, _LazyHeaders(header_lines), body.getvalue()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        policy = self.retry_policy
        exponential = min(policy.max_wait, policy.initial_wait * 2 ** (state.attempt_number - 1))
        # Jitter between half and all of the exponential step: spread out, but still growing.
        wait = random.uniform(exponential / 2, exponential)  # noqa: S311 - not cryptography
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable):
            if exc.retry_after is not None:
                wait = max(wait, exc.retry_after)
            if exc.http_status in (429, 503):
                not_before = self.shared.not_before
                with not_before.get_lock():
                    not_before.value = max(not_before.value, self._clock() + wait)
        return wait

    def _note_retry(self, batch_id: str, state: tenacity.RetryCallState) -> None:
        retries = self.shared.retries
        with retries.get_lock():
            retries.value += 1
        if self._on_retry is not None:
            exc = state.outcome.exception() if state.outcome else None
            reason = exc.reason if isinstance(exc, _Retryable) else repr(exc)
            self._on_retry(RetryEvent(batch_id, state.attempt_number, reason, state.upcoming_sleep))

    def _error_detail(self, body: bytes) -> str:
        """The documented ``{"error": {...}}`` body as one short line, without the token."""
        try:
            error = json.loads(body).get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            parts = [str(error[key]) for key in ("title", "detail") if error.get(key)]
            if error.get("error_code"):
                parts.append(f"[{error['error_code']}]")
            text = " ".join(parts)
        else:
            text = ""
        text = text.replace(self._token, "***") if self._token else text
        return text[:_DETAIL_LENGTH]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class _LazyHeaders(Mapping[str, str]):
    """Response headers, parsed only if asked for (a 200 never needs them)."""

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines
        self._parsed: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        if self._parsed is None:
            self._parsed = {}
            for line in self._lines:
                name, colon, value = line.decode("latin-1").partition(":")
                if colon:
                    self._parsed[name.strip().lower()] = value.strip()
        return self._parsed

    def __getitem__(self, name: str) -> str:
        return self._headers()[name.lower()]

    def __iter__(self):
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())


class _CurlHandles:
    """A libcurl easy handle per thread (a handle is not thread-safe); each keeps its
    connection to the API alive between requests."""

    def __init__(
        self, *, headers: list[str], connect_timeout: float, read_timeout: float, proxy: str
    ) -> None:
        self._headers = headers
        self._connect_ms = max(1, round(connect_timeout * 1000))
        self._total_ms = max(1, round((connect_timeout + read_timeout) * 1000))
        # libcurl's read timeout: give up when under 1 byte/s for this many whole seconds.
        self._stalled_seconds = max(1, math.ceil(read_timeout))
        self._proxy = proxy
        self._local = threading.local()
        self._every_handle: list[pycurl.Curl] = []
        self._lock = threading.Lock()

    def for_this_thread(self) -> pycurl.Curl:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._new_handle()
            self._local.handle = handle
            with self._lock:
                self._every_handle.append(handle)
        return handle

    def close(self) -> None:
        with self._lock:
            for handle in self._every_handle:
                handle.close()
            self._every_handle.clear()
            self._local = threading.local()

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)  # libcurl's timeouts must not use signals in threads
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.HTTPHEADER, self._headers)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, self._connect_ms)
        handle.setopt(pycurl.TIMEOUT_MS, self._total_ms)
        handle.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        handle.setopt(pycurl.LOW_SPEED_TIME, self._stalled_seconds)
        handle.setopt(pycurl.CAINFO, certifi.where())
        handle.setopt(pycurl.PROXY, self._proxy)  # "" turns off libcurl's own reading of env
        return handle


def _proxy_for(base_url: str) -> str:
    """The proxy the environment names for ``base_url`` (as urllib.request reads it), or ""."""
    url = urllib.parse.urlsplit(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        return proxy
    return ""
