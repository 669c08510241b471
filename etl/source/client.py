"""The HTTP client for Prolific's API: auth, timeouts, pacing, retries, and what each answer means.

It speaks HTTP through ``requests``: one Session whose connection pool holds a keep-alive
connection per worker. Proxies (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` with CIDR entries)
and CA bundles (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``; ``SSL_CERT_FILE`` when neither is
set) are read from the environment once, as requests reads them, for the API's URL.

Three kinds of failure, kept apart:

- a 429 is the API's pace, not the batch's fault: the shared Pacer slows every worker down and
  the request waits for its turn again, without counting as an attempt;
- transient failures (5xx, timeouts, resets, truncated bodies) are retried per batch with
  exponential back-off (tenacity), up to ``RetryPolicy``'s attempts and total wait;
- what no retry can fix (an unverifiable certificate, a host name that does not resolve, an
  unreachable proxy, a malformed URL) stops the run at once (ApiUnreachableError).
"""

from __future__ import annotations

import email.utils
import io
import json
import os
import random
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO

import requests
import requests.adapters
import requests.auth
import tenacity
import urllib3.exceptions

from .. import __version__
from ..errors import (
    ApiUnreachableError,
    ConfigError,
    ItemError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ResponseTooLargeError,
    RetriesExhaustedError,
    TokenRejectedError,
)
from ..text import redact, redact_api_url
from .pacing import Pacer, PacingStopped, Ticket

USER_AGENT = f"prolific-etl/{__version__} (+https://github.com/prolific-etl)"
BATCH_PATH = "/api/v1/data-collection/batches/{batch_id}"
BATCHES_PATH = "/api/v1/data-collection/batches"
RESPONSES_PATH = "/api/v1/data-collection/batches/{batch_id}/responses"
DATASET_PATH = "/api/v1/data-collection/datasets/{dataset_id}"
WORKSPACES_PATH = "/api/v1/workspaces/"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# The largest answer accepted for one batch. A batch is a few kilobytes to a few megabytes of
# HTML; past this, the server is misbehaving, and reading on would only fill the memory.
MAX_BODY_BYTES = 64 * 1024 * 1024
# A streamed answer (a workspace's listing) has no size cap; it must keep arriving at this
# many bytes per second on average, past the attempt's usual time.
STREAM_MIN_RATE = 32 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # a streamed answer moves to a temporary file past this
_DETAIL_LENGTH = 300
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class Item:
    """One thing asked of the API, and whom its failure is recorded against."""

    url: str
    batch_id: str | None = None
    workspace_id: str | None = None
    dataset_id: str | None = None
    stage: str = "fetch"
    streamed: bool = False

    @classmethod
    def batch(cls, base_url: str, batch_id: str) -> Item:
        return cls(base_url + BATCH_PATH.format(batch_id=batch_id), batch_id=batch_id)

    @property
    def subject(self) -> str:
        return self.error(ItemError, "").subject

    def error(self, kind: type[ItemError], message: str, **details) -> ItemError:
        stage = None if self.stage == "fetch" else self.stage
        return kind(
            self.batch_id,
            message,
            workspace_id=self.workspace_id,
            dataset_id=self.dataset_id,
            stage=stage,
            **details,
        )


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

    ``subject`` says what was asked for: ``batch <id>``, ``dataset <id>``, ``workspace <id>``.
    """

    subject: str
    batch_id: str | None
    attempt: int
    reason: str
    wait: float


class FetchingStopped(Exception):
    """The run was stopped (token rejected, --fail-fast, a signal): no further requests."""


class _Retryable(Exception):
    """A transient failure of one attempt: 5xx, timeout, dropped connection, truncated body."""

    def __init__(
        self,
        reason: str,
        http_status: int | None,
        retry_after: float | None,
        *,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after
        self.hint = hint  # what to check, said once the retries have run out


class _TooLarge(Exception):
    pass


class TokenAuth(requests.auth.AuthBase):
    """``Authorization: Token <token>``. As the Session's auth, it also keeps requests from
    replacing the header with credentials from a ``.netrc`` file."""

    def __init__(self, token: str) -> None:
        self._header = f"Token {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


class ProlificClient:
    """Fetches batches over one pool of keep-alive connections; safe to share between threads.

    ``pacer`` is shared by every worker of a run (a fresh one, adaptive, by default);
    ``concurrency`` sizes the connection pool; ``stop`` ends every wait and sends nothing more.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        concurrency: int = 8,
        on_retry: Callable[[RetryEvent], None] | None = None,
        stop: threading.Event | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.retry_policy = retry_policy or RetryPolicy()
        self._on_retry = on_retry
        self.stop = stop or threading.Event()
        self._clock = clock
        self._sleep = sleep or self._interruptible_sleep
        self.pacer = pacer or Pacer(stop=self.stop, clock=clock, sleep=sleep)
        self._timeouts = (connect_timeout, read_timeout)
        self._attempt_budget = connect_timeout + read_timeout
        self._max_body_bytes = max_body_bytes
        self._retries = 0
        self._retries_lock = threading.Lock()
        self._session = _session_for(self.base_url, token, pool_size=concurrency)

    @property
    def retries(self) -> int:
        """Requests repeated so far over all batches: after a 429 or a transient failure."""
        with self._retries_lock:
            return self._retries

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ProlificClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch_batch(self, batch_id: str) -> bytes:
        """The raw body of a 200 for ``batch_id``, after retrying transient failures.

        Raises TokenRejectedError (401) and ApiUnreachableError (no retry can help) for the
        run; for the batch, NotFoundError (403/404), RequestRejectedError (400, another 4xx,
        an unexpected status such as a redirect), RetriesExhaustedError (transient failures
        outlasted the retry policy), RateLimitedError (the API refused every request for longer
        than the policy's total wait) or ResponseTooLargeError. FetchingStopped when the run
        stopped meanwhile.
        """
        return self._get(Item.batch(self.base_url, batch_id))

    def list_workspaces(self) -> bytes:
        """The body of ``GET /api/v1/workspaces/``: every workspace the token's account is in."""
        return self._get(Item(self.base_url + WORKSPACES_PATH, stage="listing"))

    def list_batches(self, workspace_id: str) -> BinaryIO:
        """Every batch of a workspace (``GET /api/v1/data-collection/batches?workspace_id=``),
        as a file positioned at its start: a listing may hold thousands of batches, so it is
        streamed to a temporary file (in memory while small) rather than held as bytes."""
        query = urllib.parse.urlencode({"workspace_id": workspace_id})
        url = f"{self.base_url}{BATCHES_PATH}?{query}"
        return self._get(Item(url, workspace_id=workspace_id, stage="listing", streamed=True))

    def fetch_responses(self, batch_id: str) -> BinaryIO:
        """Every response record of a batch (``GET .../batches/{batch_id}/responses``), as a
        file positioned at its start: a batch may have hundreds of thousands."""
        url = self.base_url + RESPONSES_PATH.format(batch_id=batch_id)
        return self._get(Item(url, batch_id=batch_id, stage="responses", streamed=True))

    def fetch_dataset(self, dataset_id: str) -> bytes:
        """The body of ``GET /api/v1/data-collection/datasets/{dataset_id}``."""
        url = self.base_url + DATASET_PATH.format(dataset_id=dataset_id)
        return self._get(Item(url, dataset_id=dataset_id, stage="dataset"))

    def _get(self, item: Item):
        try:
            return self._answer(item)  # most requests need no more, nor tenacity's upkeep
        except _Retryable as exc:
            first_failure = exc
        # Outside the except block: every later attempt's exception would otherwise carry the
        # first failure as its __context__, and a dropped connection would be reported with
        # the first attempt's reason ("cannot connect to ... (HTTP 503 ...)").
        return self._retry(item, first_failure)

    def _retry(self, item: Item, first_failure: _Retryable):
        policy = self.retry_policy
        started = self._clock()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
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

        def attempt():
            if replay:  # tenacity's first attempt is the one already made
                raise replay.pop()
            return self._answer(item)

        try:
            return retrying(attempt)
        except _Retryable as exc:
            attempts = "1 attempt" if policy.max_attempts == 1 else "retries exhausted"
            hint = f"; {exc.hint}" if exc.hint else ""
            raise item.error(
                RetriesExhaustedError,
                f"{exc.reason} ({attempts}){hint}",
                http_status=exc.http_status,
            ) from None

    def _answer(self, item: Item):
        """One answer other than a 429: wait for a turn, send, and send again while refused."""
        refused_since: float | None = None
        while True:
            ticket = self._turn(item)
            status, headers, body = self._send(item)
            if status != 429:
                self.pacer.accepted(ticket)
                return self._interpret(item, status, headers, body)
            now = self._clock()
            refused_since = now if refused_since is None else refused_since
            budget = self.retry_policy.max_total_wait - (now - refused_since)
            retry_after = parse_retry_after(headers.get("Retry-After"))
            self.pacer.refused(ticket, _capped(retry_after, budget))
            if budget <= 0:
                raise item.error(
                    RateLimitedError,
                    f"the API refused every request for {now - refused_since:.0f}s "
                    "(HTTP 429, rate limit)",
                    http_status=429,
                )
            self._count_retry()

    def _turn(self, item: Item) -> Ticket:
        if self.stop.is_set():
            raise FetchingStopped
        if self.pacer.refused_for() > self.retry_policy.max_total_wait:
            raise item.error(
                RateLimitedError,
                f"the API refused every request for {self.pacer.refused_for():.0f}s "
                "(HTTP 429, rate limit)",
                http_status=429,
            )
        try:
            return self.pacer.acquire()
        except PacingStopped:
            raise FetchingStopped from None

    def _send(self, item: Item) -> tuple[int, Mapping[str, str], bytes | BinaryIO]:
        """One GET whose whole answer must arrive within the connect plus read timeouts.

        A read timeout alone would let a server that drips its body a byte at a time hold a
        worker for as long as it likes. A streamed answer (a listing) may take longer, as
        long as it keeps arriving at STREAM_MIN_RATE or better.
        """
        deadline = _Deadline(
            self._clock, self._attempt_budget, STREAM_MIN_RATE if item.streamed else None
        )
        try:
            response = self._session.get(
                item.url, timeout=self._timeouts, stream=True, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise self._connection_failure(exc) from None
        try:
            if response.status_code == 200 and item.streamed:
                sink: BinaryIO = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
                try:
                    _read_body(response, deadline, sink, limit=None)
                except BaseException:
                    sink.close()
                    raise
                sink.seek(0)
                body: bytes | BinaryIO = sink
            else:
                limit = self._max_body_bytes if response.status_code == 200 else 64 * 1024
                buffer = io.BytesIO()
                _read_body(response, deadline, buffer, limit=limit)
                body = buffer.getvalue()
        except _TooLarge:
            if response.status_code != 200:
                body = b""  # an error page that long says nothing a person should read
            else:
                raise item.error(
                    ResponseTooLargeError,
                    f"the API's answer is larger than {_size(self._max_body_bytes)}; not read",
                    http_status=200,
                ) from None
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise self._connection_failure(exc, after_status=response.status_code) from None
        finally:
            response.close()
        return response.status_code, response.headers, body

    def _interpret(self, item: Item, status: int, headers: Mapping[str, str], body):
        if status == 200:
            return body
        detail = self._error_detail(body)
        if status == 401:
            raise TokenRejectedError(
                f"the API rejected the token (HTTP 401{': ' + detail if detail else ''}); "
                "check PROLIFIC_API_TOKEN"
            )
        if status in RETRYABLE_STATUSES:
            retry_after = parse_retry_after(headers.get("Retry-After"))
            raise _Retryable(f"HTTP {status}{': ' + detail if detail else ''}", status, retry_after)
        if status in (403, 404):
            raise item.error(
                NotFoundError,
                f"HTTP {status}: not found or not visible to this token"
                + (f" ({detail})" if detail else ""),
                http_status=status,
                api_detail=detail or None,
            )
        if 400 <= status < 500:
            raise item.error(
                RequestRejectedError,
                f"HTTP {status}" + (f": {detail}" if detail else ""),
                http_status=status,
                api_detail=detail or None,
            )
        raise item.error(RequestRejectedError, f"unexpected HTTP {status}", http_status=status)

    def _connection_failure(
        self, exc: BaseException, *, after_status: int | None = None
    ) -> Exception:
        """The run-level error for what no retry can fix; a retryable failure otherwise.

        ``after_status``: the status the API answered before its body broke off. The API was
        reached then, which the unreachable streak must not count.
        """
        host = urllib.parse.urlsplit(self.base_url).hostname or self.base_url
        reason = _innermost_message(exc)
        if isinstance(exc, requests.exceptions.SSLError) and _is_certificate_failure(exc):
            return ApiUnreachableError(
                f"the TLS certificate of {host} could not be verified ({reason}). If a proxy or "
                "your organisation's own CA signs it, set REQUESTS_CA_BUNDLE to a CA bundle "
                "(PEM file) that includes that CA"
            )
        if isinstance(exc, requests.exceptions.ProxyError) and _cannot_connect(exc):
            proxy = self._session.proxies.get(urllib.parse.urlsplit(self.base_url).scheme)
            return ApiUnreachableError(
                f"cannot reach the proxy {_without_credentials(proxy)} ({reason}); check "
                "HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, or list the API's host in NO_PROXY"
            )
        if isinstance(
            exc,
            (
                requests.exceptions.InvalidURL,
                requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidProxyURL,
                urllib3.exceptions.LocationValueError,
            ),
        ):
            return ApiUnreachableError(
                f"cannot send a request to {self.base_url}: {reason}; check PROLIFIC_API_URL "
                "and the proxy settings"
            )
        if _name_does_not_resolve(exc):
            return ApiUnreachableError(
                f"the host name {host} does not resolve; check PROLIFIC_API_URL and DNS"
            )
        if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
            return _Retryable(f"timed out ({reason})", after_status, None)
        if isinstance(exc, TimeoutError):
            return _Retryable(str(exc), after_status, None)
        if after_status is not None:
            return _Retryable(
                f"the answer broke off after HTTP {after_status} ({reason})", after_status, None
            )
        return _Retryable(
            f"cannot connect to {redact_api_url(self.base_url)} ({reason})",
            None,
            None,
            hint="check PROLIFIC_API_URL, and that the API is up and reachable from here",
        )

    def _interruptible_sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise FetchingStopped

    def _wait(self, state: tenacity.RetryCallState, started: float) -> float:
        policy = self.retry_policy
        exponential = min(policy.max_wait, policy.initial_wait * 2 ** (state.attempt_number - 1))
        # Jitter between half and all of the exponential step: spread out, but still growing.
        wait = random.uniform(exponential / 2, exponential)  # noqa: S311 - not cryptography
        budget = policy.max_total_wait - (self._clock() - started)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            retry_after = _capped(exc.retry_after, budget)
            wait = max(wait, retry_after)
            if exc.http_status == 503:
                # The server asked everyone for a pause, but never longer than this batch
                # itself would wait.
                self.pacer.hold_off(retry_after)
        return max(0.0, min(wait, budget))

    def _count_retry(self) -> None:
        with self._retries_lock:
            self._retries += 1

    def _note_retry(self, item: Item, state: tenacity.RetryCallState) -> None:
        self._count_retry()
        if self._on_retry is not None:
            exc = state.outcome.exception() if state.outcome else None
            reason = exc.reason if isinstance(exc, _Retryable) else repr(exc)
            self._on_retry(
                RetryEvent(
                    item.subject, item.batch_id, state.attempt_number, reason, state.upcoming_sleep
                )
            )

    def _error_detail(self, body: bytes) -> str:
        """The documented ``{"error": {...}}`` body as one short line, without the token."""
        try:
            error = json.loads(body).get("error")  # an error answer is never streamed
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            parts = [str(error[key]) for key in ("title", "detail") if error.get(key)]
            if error.get("error_code"):
                parts.append(f"[{error['error_code']}]")
            text = " ".join(parts)
        else:
            text = ""
        return redact(text, self._token)[:_DETAIL_LENGTH]


def _session_for(base_url: str, token: str, *, pool_size: int) -> requests.Session:
    """A Session for ``base_url`` with the environment's proxies and CA bundle, read once.

    requests would read them again for every request (a third of its CPU per request); they
    cannot change during a run, so they are resolved here, by requests' own rules, and the
    Session then stops looking (``trust_env`` off, which also keeps ``.netrc`` out).
    """
    session = requests.Session()
    environment = session.merge_environment_settings(base_url, {}, None, None, None)
    verify = environment["verify"]
    if verify is True and os.environ.get("SSL_CERT_FILE"):
        verify = os.environ["SSL_CERT_FILE"]  # OpenSSL's variable, common on corporate hosts
    if isinstance(verify, str) and not os.path.exists(verify):
        names = "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE"
        raise ConfigError(f"{names} names a CA bundle that does not exist: {verify}")
    session.trust_env = False
    session.proxies = environment["proxies"]
    session.verify = verify
    session.auth = TokenAuth(token)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _Deadline:
    """When an attempt must have its whole answer: ``budget`` seconds from now, plus, for a
    streamed answer, one second for every ``min_rate`` bytes received."""

    def __init__(self, clock: Callable[[], float], budget: float, min_rate: float | None):
        self._clock = clock
        self._end = clock() + budget
        self._min_rate = min_rate

    def remaining(self, received: int) -> float:
        extra = received / self._min_rate if self._min_rate else 0.0
        return self._end + extra - self._clock()


def _read_body(
    response: requests.Response, deadline: _Deadline, sink: BinaryIO, *, limit: int | None
) -> None:
    """Copy the body into ``sink`` as it arrives, giving up at the deadline or past ``limit``."""
    raw = response.raw
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    size = 0
    while True:
        remaining = deadline.remaining(size)
        if remaining <= 0:
            raise TimeoutError("timed out (the answer did not arrive within the attempt's time)")
        if sock is not None:
            try:
                sock.settimeout(min(remaining, sock.gettimeout() or remaining))
            except OSError:
                pass  # closed under us; the read below says how
        chunk = raw.read1(_READ_SIZE, decode_content=True)
        if not chunk:
            return
        size += len(chunk)
        if limit is not None and size > limit:
            raise _TooLarge
        sink.write(chunk)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _size(byte_count: int) -> str:
    if byte_count >= 2**20 and byte_count % 2**20 == 0:
        return f"{byte_count // 2**20} MiB"
    return f"{byte_count:,} bytes"


def _capped(seconds: float | None, budget: float) -> float | None:
    """A server's requested wait, never past what the batch itself has left to wait."""
    if seconds is None:
        return None
    return max(0.0, min(seconds, budget))


def _causes(exc: BaseException):
    """``exc`` and everything it wraps: causes, contexts, urllib3's ``reason``, and args."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(inner, BaseException):
                pending.append(inner)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]


def _is_certificate_failure(exc: BaseException) -> bool:
    return any(
        isinstance(inner, ssl.SSLCertVerificationError)
        or "CERTIFICATE_VERIFY_FAILED" in str(inner)
        or "doesn't match" in str(inner)
        for inner in _causes(exc)
    )


def _name_does_not_resolve(exc: BaseException) -> bool:
    # EAI_NONAME and EAI_NODATA say the name does not exist; EAI_AGAIN is a DNS server's
    # hiccup, and is retried like any other transient failure.
    permanent = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
    return any(
        isinstance(inner, socket.gaierror) and inner.errno in permanent for inner in _causes(exc)
    )


def _cannot_connect(exc: BaseException) -> bool:
    """Whether a proxy error is about reaching the proxy at all (not a proxy's 5xx)."""
    return any(
        isinstance(inner, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))
        or (isinstance(inner, socket.gaierror))
        for inner in _causes(exc)
    )


def _innermost_message(exc: BaseException) -> str:
    """The most specific message in ``exc``'s chain, without urllib3's connection reprs."""
    messages = [
        str(inner)
        for inner in _causes(exc)
        if not isinstance(inner, (urllib3.exceptions.MaxRetryError, requests.RequestException))
        and str(inner)
    ]
    text = messages[-1] if messages else str(exc) or type(exc).__name__
    return text.split(": ", 1)[-1] if text.startswith("<urllib3.") else text


def _without_credentials(url: str | None) -> str:
    if not url:
        return "(none)"
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = "***@" + (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url
