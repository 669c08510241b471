"""A local imitation of Prolific's API, with fault injection.

It is a real HTTP server on 127.0.0.1 (``http.server``, one thread per connection, keep-alive),
serving what the job reads: spec-shaped batches (``GET /batches/{id}``), the workspace list,
each workspace's batch listing, each dataset's details and each batch's responses. The tests,
the benchmark and ``prolific-etl demo`` all run the job against it. Faults are queued per key
(a batch ID, ``listing_key(workspace_id)``, ``dataset_key(dataset_id)``,
``responses_key(batch_id)`` or WORKSPACES_KEY) and consumed one request at a time, so a test
can say "503 twice, then the batch" and then assert exactly which requests the server saw.

Like the real API it can limit the rate implicitly (``rate_limit``): a token bucket that refills
at that many requests per second and holds ``rate_burst`` of them, answering 429 with the
documented error body and no Retry-After when it is empty.

This module holds what is served (FakeProlificAPI); the rest of the package holds how:
``endpoints`` (the route table: a path, its fault key, its answer), ``handler`` (one request:
token, rate limit, fault, answer), ``faults`` (Fault and how each goes out on the wire),
``traffic`` (SeenRequest, TokenBucket) and ``samples`` (the sample data;
``sample_batches`` is the tests' awkward sample set: quotes, emoji, SQL in names). What the
demo and ``prolific-etl fake-api`` serve, batches that read like real ones and move on night by
night, and the steering of a running imitation (error rate, nights passing), are in ``world``.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .endpoints import (
    ROUTES,
    STATS_PATH,
    WORKSPACES_KEY,
    Route,
    dataset_key,
    listing_key,
    responses_key,
)
from .faults import Fault, error_body
from .handler import ImitationServer
from .samples import (
    RESPONSE_TYPES,
    batch_generator,
    generated_ids,
    iter_sample_responses,
    sample_batch,
    sample_batches,
    sample_dataset,
    sample_dataset_details,
    sample_response,
    sample_workspace,
)
from .served import BatchesServed, DatasetsServed, ResponsesServed, ServedState
from .studies import StudiesServed
from .traffic import SeenRequest, TokenBucket

__all__ = [
    "RESPONSE_TYPES",
    "ROUTES",
    "STATS_PATH",
    "WORKSPACES_KEY",
    "FakeProlificAPI",
    "Fault",
    "Route",
    "SeenRequest",
    "TokenBucket",
    "batch_generator",
    "dataset_key",
    "error_body",
    "generated_ids",
    "iter_sample_responses",
    "listing_key",
    "responses_key",
    "sample_batch",
    "sample_batches",
    "sample_dataset",
    "sample_dataset_details",
    "sample_response",
    "sample_workspace",
]


class FakeProlificAPI(BatchesServed, DatasetsServed, ResponsesServed, StudiesServed):
    """Serve ``batches`` (spec-shaped dicts keyed by id) to clients holding ``token``.

    Use as a context manager, or ``start()``/``stop()``. ``latency`` seconds are added to every
    request; ``generate`` computes a batch for an unknown id on demand (for very large runs);
    ``on_request`` is called as each request arrives (to inject a fault elsewhere mid-run);
    ``rate_limit`` (requests/s, with ``rate_burst``) makes it refuse requests over that pace
    with 429, as the real API does; ``tls`` serves HTTPS with that server context.
    """

    def __init__(
        self,
        batches: Iterable[dict[str, Any]] = (),
        *,
        token: str = "fake-token",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        generate: Callable[[str], dict[str, Any] | None] | None = None,
        record_requests: bool = True,
        on_request: Callable[[SeenRequest], None] | None = None,
        rate_limit: float | None = None,
        rate_burst: float | None = None,
        tls: ssl.SSLContext | None = None,
        workspaces: Iterable[dict[str, Any]] | None = None,
        responses_per_batch: int = 0,
    ) -> None:
        self.token = token
        self.responses_per_batch = responses_per_batch
        self.limiter = TokenBucket(rate_limit, rate_burst) if rate_limit else None
        self.latency = latency
        self.generate = generate
        self.record_requests = record_requests
        self.on_request = on_request
        self._state = ServedState()
        for batch in batches:
            self.put_batch(batch)
        if workspaces is not None:
            self._state.workspaces = {w["id"]: w for w in workspaces}
        self._server = ImitationServer((host, port), self)
        self._scheme = "https" if tls is not None else "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    # --- faults and what was seen (data: see ``served``) -------------------------------------

    def inject(self, key: str, *faults: Fault) -> None:
        """Queue faults for ``key`` (a batch ID, ``listing_key(workspace_id)``,
        ``dataset_key(dataset_id)``, ``responses_key(batch_id)`` or WORKSPACES_KEY): each
        request for it takes the next."""
        with self._state.lock:
            self._state.faults.setdefault(key, []).extend(faults)

    def requests_of(self, kind: str) -> list[SeenRequest]:
        return [seen for seen in self.requests if seen.kind == kind]

    @property
    def requests(self) -> list[SeenRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def received(self) -> int:
        """Every request that reached the server, recorded or not."""
        with self._state.lock:
            return self._state.received

    @property
    def refused(self) -> int:
        """Requests answered 429 by the rate limit (not by an injected fault)."""
        with self._state.lock:
            return self._state.refused

    def set_rate_limit(self, rate: float | None, burst: float | None = None) -> None:
        """Change the implicit limit while serving (None lifts it)."""
        self.limiter = TokenBucket(rate, burst) if rate else None

    def bytes_sent(self) -> dict[str, int]:
        """Body bytes answered so far, per kind of request (batch, responses, submissions...)."""
        with self._state.lock:
            return dict(self._state.bytes_sent)

    def requests_for(self, batch_id: str) -> list[SeenRequest]:
        return [seen for seen in self.requests if seen.batch_id == batch_id]

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeProlificAPI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-prolific-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FakeProlificAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- serving (for the handler) ------------------------------------------------------------

    def _record(self, seen: SeenRequest) -> None:
        with self._state.lock:
            self._state.received += 1
        if self.record_requests:
            with self._state.lock:
                self._state.requests.append(seen)
        if self.on_request is not None:
            self.on_request(seen)

    def _admit(self) -> bool:
        """Whether the rate limit lets this request through; a refusal is counted."""
        limiter = self.limiter
        if limiter is None or limiter.take():
            return True
        with self._state.lock:
            self._state.refused += 1
        return False

    def _next_fault(self, key: str) -> Fault | None:
        with self._state.lock:
            queue = self._state.faults.get(key)
            return queue.pop(0) if queue else None
