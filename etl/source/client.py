"""The HTTP client for Prolific's API: what it asks for, and the order of what happens to a
request (its turn, the request, what the answer means, a retry).

It speaks HTTP through ``requests`` (``transport``): one Session whose connection pool holds a
keep-alive connection per worker. Proxies (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` with
CIDR entries) and CA bundles (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``; ``SSL_CERT_FILE`` when
neither is set) are read from the environment once, as requests reads them, for the API's URL.
Each answer is read against a deadline (``body``).

Three kinds of failure, kept apart (``answers`` says which is which):

- a 429 is the API's pace, not the batch's fault: the shared Pacer slows every worker down and
  the request waits for its turn again, without counting as an attempt;
- transient failures (5xx, timeouts, resets, truncated bodies) are retried per batch with
  exponential back-off (``retrying``), up to ``RetryPolicy``'s attempts and total wait;
- what no retry can fix (an unverifiable certificate, a host name that does not resolve, an
  unreachable proxy, a malformed URL) stops the run at once (ApiUnreachableError).
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import ItemError, RateLimitedError
from .answers import Retryable, interpret, parse_retry_after
from .body import MAX_BODY_BYTES
from .pacing import Pacer, PacingStopped, Ticket
from .retrying import (
    FetchingStopped,
    Retrier,
    RetryEvent,
    RetryPolicy,
    capped,
    interruptible_sleep,
)
from .transport import Transport

__all__ = [
    "BATCHES_PATH",
    "BATCH_PATH",
    "DATASET_PATH",
    "MAX_BODY_BYTES",
    "RESPONSES_PATH",
    "WORKSPACES_PATH",
    "FetchingStopped",
    "Item",
    "ProlificClient",
    "RetryEvent",
    "RetryPolicy",
    "parse_retry_after",
]

BATCH_PATH = "/api/v1/data-collection/batches/{batch_id}"
BATCHES_PATH = "/api/v1/data-collection/batches"
RESPONSES_PATH = "/api/v1/data-collection/batches/{batch_id}/responses"
DATASET_PATH = "/api/v1/data-collection/datasets/{dataset_id}"
WORKSPACES_PATH = "/api/v1/workspaces/"
# Studies, submissions and costs (sync --submissions).
PROJECTS_PATH = "/api/v1/workspaces/{workspace_id}/projects/"
PROJECT_STUDIES_PATH = "/api/v1/projects/{project_id}/studies/"
STUDY_PATH = "/api/v1/studies/{study_id}/"
SUBMISSIONS_PATH = "/api/v1/studies/{study_id}/submissions/"
SUBMISSION_COUNTS_PATH = "/api/v1/studies/{study_id}/submissions/counts/"
STUDY_COST_PATH = "/api/v1/studies/{study_id}/cost/"


@dataclass(frozen=True)
class Item:
    """One thing asked of the API, and whom its failure is recorded against."""

    url: str
    batch_id: str | None = None
    workspace_id: str | None = None
    dataset_id: str | None = None
    stage: str = "fetch"
    streamed: bool = False
    # A streamed answer that breaks off is kept (RetriesExhaustedError.partial) once the
    # retries run out, for the records that came whole to be loaded.
    keep_partial: bool = False

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
        self.stop = stop or threading.Event()
        self._clock = clock
        self.pacer = pacer or Pacer(stop=self.stop, clock=clock, sleep=sleep)
        self._retrier = Retrier(
            retry_policy or RetryPolicy(),
            pacer=self.pacer,
            clock=clock,
            sleep=sleep or interruptible_sleep(self.stop),
            on_retry=on_retry,
        )
        self._transport = Transport(
            self.base_url,
            token,
            pool_size=concurrency,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_body_bytes=max_body_bytes,
            clock=clock,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retrier.policy

    @property
    def retries(self) -> int:
        """Requests repeated so far over all batches: after a 429 or a transient failure."""
        return self._retrier.retries

    def close(self) -> None:
        self._transport.close()

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
        return self._get(
            Item(url, batch_id=batch_id, stage="responses", streamed=True, keep_partial=True)
        )

    def fetch_dataset(self, dataset_id: str) -> bytes:
        """The body of ``GET /api/v1/data-collection/datasets/{dataset_id}``."""
        url = self.base_url + DATASET_PATH.format(dataset_id=dataset_id)
        return self._get(Item(url, dataset_id=dataset_id, stage="dataset"))

    def fetch_json(self, url: str, **where) -> bytes:
        """The body of a 200 for ``url`` (on this client's API), failing as ``where`` says: a
        ``batch_id``, ``workspace_id`` and ``stage`` for the item an error is recorded against.
        Used for the studies' endpoints and their pages (``etl.source.studies``)."""
        return self._get(Item(url, **where))

    def _get(self, item: Item):
        try:
            return self._answer(item)  # most requests need no more, nor tenacity's upkeep
        except Retryable as exc:
            first_failure = exc
        # Outside the except block: every later attempt's exception would otherwise carry the
        # first failure as its __context__, and a dropped connection would be reported with
        # the first attempt's reason ("cannot connect to ... (HTTP 503 ...)").
        return self._retrier.run(item, lambda: self._answer(item), first_failure)

    def _answer(self, item: Item):
        """One answer other than a 429: wait for a turn, send, and send again while refused."""
        refused_since: float | None = None
        while True:
            ticket = self._turn(item)
            status, headers, body = self._transport.send(item)
            if status != 429:
                self.pacer.accepted(ticket)
                return interpret(item, status, headers, body, token=self._token)
            now = self._clock()
            refused_since = now if refused_since is None else refused_since
            budget = self.retry_policy.max_total_wait - (now - refused_since)
            retry_after = parse_retry_after(headers.get("Retry-After"))
            self.pacer.refused(ticket, capped(retry_after, budget))
            if budget <= 0:
                raise item.error(
                    RateLimitedError,
                    f"the API refused every request for {now - refused_since:.0f}s "
                    "(HTTP 429, rate limit)",
                    http_status=429,
                )
            self._retrier.count()

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
