"""A local imitation of Prolific's API, with fault injection.

It is a real HTTP server on 127.0.0.1 (``http.server``, one thread per connection, keep-alive),
serving what the job reads: spec-shaped batches (``GET /batches/{id}``), the workspace list,
each workspace's batch listing, and each dataset's details. The tests, the benchmark and
``prolific-etl demo`` all run the job against it. Faults are queued per key (a batch ID,
``listing_key(workspace_id)``, ``dataset_key(dataset_id)`` or WORKSPACES_KEY) and consumed one
request at a time, so a test can say "503 twice, then the batch" and then assert exactly which
requests the server saw.

Like the real API it can limit the rate implicitly (``rate_limit``): a token bucket that refills
at that many requests per second and holds ``rate_burst`` of them, answering 429 with the
documented error body and no Retry-After when it is empty.

``sample_batches`` is the tests' awkward sample set (quotes, emoji, SQL in names). What the
demo and ``prolific-etl fake-api`` serve, batches that read like real ones and move on night by
night, and the steering of a running imitation (error rate, nights passing), are in
``world``.
"""

from __future__ import annotations

import json
import random
import ssl
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..source.client import BATCH_PATH, BATCHES_PATH, DATASET_PATH, RESPONSES_PATH, WORKSPACES_PATH

PATH_PREFIX = BATCH_PATH.split("{", 1)[0]
DATASET_PREFIX = DATASET_PATH.split("{", 1)[0]
STATS_PATH = "/_fake/stats"
WORKSPACES_KEY = "workspaces"


def listing_key(workspace_id: str) -> str:
    """The fault key of a workspace's batch listing."""
    return f"listing:{workspace_id}"


def dataset_key(dataset_id: str) -> str:
    """The fault key of a dataset's details."""
    return f"dataset:{dataset_id}"


def responses_key(batch_id: str) -> str:
    """The fault key of a batch's responses."""
    return f"responses:{batch_id}"


RESPONSES_SUFFIX = RESPONSES_PATH.split("}", 1)[1]


@dataclass(frozen=True)
class Fault:
    """What the server does instead of answering normally, for one request.

    kind:
      ``status``   answer ``status`` with ``body`` (default: the documented error shape);
      ``hang``     wait ``seconds`` before answering normally (longer than the client's timeout);
      ``drop``     close the connection without a response;
      ``truncate`` send the headers and half the body, then close;
      ``drip``     send the body one byte every ``seconds``, each well inside a read timeout;
      ``body``     answer 200 with ``body`` as given (HTML, malformed JSON, wrong shape, ...).
    """

    kind: str
    status: int = 200
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0

    @classmethod
    def http(cls, status: int, *, retry_after: str | None = None, body: bytes | None = None):
        headers = (("Retry-After", retry_after),) if retry_after is not None else ()
        return cls("status", status=status, body=body, headers=headers)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        return cls("hang", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        return cls("truncate")

    @classmethod
    def drip(cls, seconds_per_byte: float) -> Fault:
        return cls("drip", seconds=seconds_per_byte)

    @classmethod
    def raw_body(cls, body: bytes | str) -> Fault:
        return cls("body", body=body.encode("utf-8") if isinstance(body, str) else body)


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server saw it on arrival (the token itself is not kept)."""

    batch_id: str | None
    path: str
    authorized: bool
    user_agent: str
    at: float
    client_port: int = 0  # one per connection: tells keep-alive from a connection per request
    kind: str = "batch"  # batch, workspaces, listing, dataset or other
    key: str | None = None  # the fault key: batch id, listing_key(...), dataset_key(...)


class TokenBucket:
    """``rate`` requests per second, up to ``burst`` at once; thread-safe."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._tokens = self.burst
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


@dataclass
class _State:
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] | None = None  # None: one per batch's workspace_id
    datasets: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # None: gone
    listing_counts: dict[str, int] = field(default_factory=dict)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    response_counts: dict[str, int] = field(default_factory=dict)  # meta.count overrides
    generated_responses: dict[str, tuple[int, int]] = field(default_factory=dict)  # count, seed
    response_bodies: dict[str, bytes] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    refused: int = 0
    received: int = 0
    generated_bodies: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def error_body(status: int, error_code: str, title: str, detail: str) -> bytes:
    """An error body in the shape Prolific documents."""
    payload = {
        "error": {"status": status, "error_code": error_code, "title": title, "detail": detail}
    }
    return json.dumps(payload).encode()


class FakeProlificAPI:
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
        self._state = _State()
        for batch in batches:
            self.put_batch(batch)
        if workspaces is not None:
            self._state.workspaces = {w["id"]: w for w in workspaces}
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._scheme = "https" if tls is not None else "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    # --- data and faults --------------------------------------------------------------------

    def put_batch(self, batch: dict[str, Any]) -> None:
        with self._state.lock:
            self._state.batches[batch["id"]] = batch

    def remove_batch(self, batch_id: str) -> None:
        with self._state.lock:
            self._state.batches.pop(batch_id, None)

    def batch(self, batch_id: str) -> dict[str, Any]:
        with self._state.lock:
            return self._state.batches[batch_id]

    def inject(self, key: str, *faults: Fault) -> None:
        """Queue faults for ``key`` (a batch ID, ``listing_key(workspace_id)``,
        ``dataset_key(dataset_id)`` or WORKSPACES_KEY): each request for it takes the next."""
        with self._state.lock:
            self._state.faults.setdefault(key, []).extend(faults)

    def workspaces(self) -> list[dict[str, Any]]:
        """The workspace list the API answers with."""
        with self._state.lock:
            if self._state.workspaces is not None:
                return list(self._state.workspaces.values())
            ids = dict.fromkeys(b["workspace_id"] for b in self._state.batches.values())
        return [sample_workspace(workspace_id) for workspace_id in ids]

    def listing(self, workspace_id: str) -> dict[str, Any]:
        """A workspace's batch listing: its batches in the order they were put."""
        with self._state.lock:
            results = [b for b in self._state.batches.values() if b["workspace_id"] == workspace_id]
            count = self._state.listing_counts.get(workspace_id, len(results))
        return {"results": results, "meta": {"count": count}}

    def set_listing_count(self, workspace_id: str, count: int | None) -> None:
        """Make a listing's meta.count say ``count`` (None: the truth), as a cut-short one would."""
        with self._state.lock:
            if count is None:
                self._state.listing_counts.pop(workspace_id, None)
            else:
                self._state.listing_counts[workspace_id] = count

    def put_dataset(self, details: dict[str, Any]) -> None:
        """Answer ``details`` for its dataset instead of details made up from its batches."""
        with self._state.lock:
            self._state.datasets[details["id"]] = details

    def remove_dataset(self, dataset_id: str) -> None:
        """Answer 404 for this dataset's details."""
        with self._state.lock:
            self._state.datasets[dataset_id] = None

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        """The details answered for a dataset: put ones, or made up from the batches' refs."""
        with self._state.lock:
            if dataset_id in self._state.datasets:
                return self._state.datasets[dataset_id]
            for batch in self._state.batches.values():
                for ref in batch["datasets"]:
                    if ref["id"] == dataset_id:
                        return sample_dataset_details(ref, batch["workspace_id"])
        return None

    def put_responses(self, batch_id: str, records: list[dict[str, Any]]) -> None:
        """Answer ``records`` for a batch's responses (a batch without any answers none)."""
        with self._state.lock:
            self._state.responses[batch_id] = records
            self._state.response_bodies.pop(batch_id, None)

    def generate_responses(self, batch_id: str, count: int, *, seed: int = 0) -> None:
        """Answer ``count`` made-up responses for a batch, encoded once on first ask (for a
        batch of hundreds of thousands, which should cost the server little per request)."""
        with self._state.lock:
            self._state.generated_responses[batch_id] = (count, seed)
            self._state.response_bodies.pop(batch_id, None)

    def responses(self, batch_id: str) -> list[dict[str, Any]]:
        """The response records answered for a batch."""
        with self._state.lock:
            if batch_id in self._state.generated_responses:
                count, seed = self._state.generated_responses[batch_id]
                return list(iter_sample_responses(batch_id, count, seed=seed))
            return list(self._state.responses.get(batch_id, ()))

    def set_responses_count(self, batch_id: str, count: int | None) -> None:
        """Make a batch's responses' meta.count say ``count`` (None: the truth)."""
        with self._state.lock:
            if count is None:
                self._state.response_counts.pop(batch_id, None)
            else:
                self._state.response_counts[batch_id] = count
            self._state.response_bodies.pop(batch_id, None)

    def _responses_body(self, batch_id: str) -> bytes | None:
        with self._state.lock:
            if batch_id not in self._state.batches and self.generate is None:
                return None
            cached = self._state.response_bodies.get(batch_id)
            generated = self._state.generated_responses.get(batch_id)
            if generated is None and batch_id not in self._state.responses:
                generated = (self.responses_per_batch, 0) if self.responses_per_batch else None
            stored = self._state.responses.get(batch_id, [])
            override = self._state.response_counts.get(batch_id)
        if cached is not None:
            return cached
        if generated is not None:  # encoded once: a made-up batch may have 200,000
            count, seed = generated
            records: Iterable[dict[str, Any]] = iter_sample_responses(batch_id, count, seed=seed)
            total = count
        else:
            records, total = stored, len(stored)
        parts = [json.dumps(record).encode() for record in records]
        body = (
            b'{"results": ['
            + b", ".join(parts)
            + b'], "meta": {"count": '
            + str(total if override is None else override).encode()
            + b"}}"
        )
        if generated is not None:
            with self._state.lock:
                self._state.response_bodies[batch_id] = body
        return body

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

    # --- serving ------------------------------------------------------------------------------

    def _next_fault(self, batch_id: str) -> Fault | None:
        with self._state.lock:
            queue = self._state.faults.get(batch_id)
            return queue.pop(0) if queue else None

    def _body(self, key: str) -> bytes | None:
        """The 200 body for a fault key; generated batches are encoded once and kept."""
        if key == WORKSPACES_KEY:
            return json.dumps({"results": self.workspaces()}).encode()
        if key.startswith("listing:"):
            return json.dumps(self.listing(key.removeprefix("listing:"))).encode()
        if key.startswith("dataset:"):
            details = self.dataset(key.removeprefix("dataset:"))
            return None if details is None else json.dumps(details).encode()
        if key.startswith("responses:"):
            return self._responses_body(key.removeprefix("responses:"))
        batch_id = key
        with self._state.lock:
            stored = self._state.batches.get(batch_id)
            cached = self._state.generated_bodies.get(batch_id)
        if stored is not None:
            return json.dumps(stored).encode()
        if cached is None and self.generate is not None:
            generated = self.generate(batch_id)
            if generated is None:  # not a batch this imitation makes up: 404
                return None
            cached = json.dumps(generated).encode()
            with self._state.lock:
                self._state.generated_bodies[batch_id] = cached
        return cached

    def preload(self, batch_ids: Iterable[str]) -> None:
        """Generate and encode these batches now, so that serving them costs little CPU.

        The benchmark uses it: on a small machine the imitation shares the CPU with the job it
        measures, and should take as little of it as the real API would.
        """
        for batch_id in batch_ids:
            self._body(batch_id)

    def _record(self, seen: SeenRequest) -> None:
        with self._state.lock:
            self._state.received += 1
        if self.record_requests:
            with self._state.lock:
                self._state.requests.append(seen)
        if self.on_request is not None:
            self.on_request(seen)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "FakeProlificAPI/1"
            # Headers and body go out in separate writes; without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every response.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == STATS_PATH:  # the imitation's own counters, not counted
                    stats = {"received": api.received, "refused": api.refused}
                    self._send(200, json.dumps(stats).encode())
                    return
                if api.latency:
                    time.sleep(api.latency)
                authorized = self.headers.get("Authorization") == f"Token {api.token}"
                kind, key = _route(self.path)
                api._record(
                    SeenRequest(
                        key if kind == "batch" else None,
                        self.path,
                        authorized,
                        self.headers.get("User-Agent", ""),
                        time.monotonic(),
                        self.client_address[1],
                        kind,
                        key,
                    )
                )
                try:
                    self._respond(kind, key, authorized)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout); expected

            def _respond(self, kind: str, key: str | None, authorized: bool) -> int | None:
                if not authorized:
                    return self._send(
                        401,
                        error_body(
                            401,
                            "AUTHENTICATION_FAILED",
                            "Unauthorized",
                            "Authentication credentials were not provided or are invalid.",
                        ),
                    )
                limiter = api.limiter
                if limiter is not None and not limiter.take():
                    with api._state.lock:
                        api._state.refused += 1
                    return self._send(
                        429,
                        error_body(
                            429, "TOO_MANY_REQUESTS", "Too many requests", "Request was throttled."
                        ),
                    )
                if key is None:
                    return self._send(
                        404, error_body(404, "NOT_FOUND", "Not found", "No such endpoint.")
                    )
                fault = api._next_fault(key)
                if fault is not None:
                    handled = self._apply(fault, key)
                    if handled is not False:
                        return handled
                body = api._body(key)
                if body is None:
                    what = "Dataset" if kind == "dataset" else "Batch"
                    return self._send(
                        404,
                        error_body(
                            404,
                            "NOT_FOUND",
                            "Not found",
                            f"{what} {key.split(':')[-1]} was not found.",
                        ),
                    )
                return self._send(200, body)

            def _apply(self, fault: Fault, key: str) -> int | None | bool:
                if fault.kind == "status":
                    body = (
                        fault.body
                        if fault.body is not None
                        else error_body(
                            fault.status, "INJECTED", "Injected fault", f"Status {fault.status}."
                        )
                    )
                    return self._send(fault.status, body, fault.headers)
                if fault.kind == "body":
                    return self._send(200, fault.body or b"")
                if fault.kind == "hang":
                    time.sleep(fault.seconds)
                    return False  # then answer normally, to a client that has given up
                if fault.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if fault.kind == "drip":
                    body = api._body(key) or b"{}"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for index in range(len(body)):
                        self.wfile.write(body[index : index + 1])
                        time.sleep(fault.seconds)
                    return 200
                if fault.kind == "truncate":
                    body = api._body(key) or json.dumps({"id": key}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return 200
                raise ValueError(f"unknown fault kind {fault.kind!r}")

            def _send(
                self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
            ) -> int:
                self.send_response(status)
                content_type = "application/json"
                if body.lstrip()[:1] == b"<":
                    content_type = "text/html; charset=utf-8"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                return status

        return Handler


def _route(path: str) -> tuple[str, str | None]:
    """What a request path asks for, and its fault key (None: no such endpoint)."""
    url = urllib.parse.urlsplit(path)
    if url.path == WORKSPACES_PATH:
        return "workspaces", WORKSPACES_KEY
    if url.path == BATCHES_PATH:
        workspace = urllib.parse.parse_qs(url.query).get("workspace_id", [None])[0]
        return "listing", listing_key(workspace) if workspace else None
    if url.path.startswith(PATH_PREFIX) and url.path.endswith(RESPONSES_SUFFIX):
        batch_id = url.path[len(PATH_PREFIX) : -len(RESPONSES_SUFFIX)]
        if batch_id and "/" not in batch_id and not url.query:
            return "responses", responses_key(batch_id)
    for prefix, kind in ((PATH_PREFIX, "batch"), (DATASET_PREFIX, "dataset")):
        if url.path.startswith(prefix):
            rest = url.path[len(prefix) :]
            if not rest or "/" in rest or url.query:
                return "other", None
            return kind, rest if kind == "batch" else dataset_key(rest)
    return "other", None


# --- sample data -------------------------------------------------------------------------------

_NAMES = (
    "Sentiment labelling — round {n}",
    "Émoji check 🚀✨ #{n}",
    "O'Brien's \"quoted\" batch {n}",
    "Robert'); DROP TABLE batches;-- {n}",
    "日本語のタスク {n}",
    "Percent %s and %(x)s and \\backslash {n}",
    "Plain batch {n}",
)
_STATUSES = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")


def sample_batch(
    rng: random.Random,
    index: int,
    *,
    dataset_pool: list[dict[str, Any]] | None = None,
    batch_id: str | None = None,
    html_repeats: tuple[int, ...] = (1, 2, 50, 2000),
) -> dict[str, Any]:
    """One spec-shaped batch with awkward but valid content, reproducible from ``rng``."""
    created = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(0, 300 * 86400), microseconds=rng.randrange(0, 1_000_000)
    )
    pool = dataset_pool or []
    how_many = rng.choice((0, 1, 1, 2, 3, 5)) if pool else 0
    datasets = rng.sample(pool, min(how_many, len(pool)))
    intro_repeats = rng.choice(html_repeats)
    batch = {
        "id": batch_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "created_by": f"{rng.getrandbits(96):024x}",
        "datasets": [dict(d) for d in datasets],
        "name": rng.choice(_NAMES).format(n=index),
        "status": rng.choice(_STATUSES),
        "total_task_count": rng.randrange(0, 100_000),
        "total_instruction_count": rng.randrange(0, 50),
        "workspace_id": f"ws_{rng.randrange(0, 5):02d}",
        "schema_version": rng.choice((1, 2)),
        "task_details": {
            "task_name": f"Task «{index}»",
            "task_introduction": (
                "<h1>Welcome</h1>\n"
                + "<p>Read carefully &amp; label “each” item.</p>\r\n" * intro_repeats
            ),
            "task_steps": "<ol><li>Read</li><li>Label 👍/👎</li><li>Submit</li></ol>",
        },
        "total_task_groups": rng.randrange(0, 20),
    }
    return _with_newer_fields(batch)


def _with_newer_fields(batch: dict[str, Any]) -> dict[str, Any]:
    """Fields newer batches carry (batch_items, auto_sync_enabled) or that the spec does not
    list, on some batches; drawn from the batch's id, so that older seeds keep their batches."""
    rng = random.Random(batch["id"])
    if rng.random() < 0.4:
        batch["batch_items"] = [
            {
                "id": f"page-{page}",
                "rows": [
                    {
                        "id": f"row-{page}-0",
                        "columns": [
                            {
                                "id": f"col-{page}-0",
                                "items": [
                                    {"id": f"item-{page}", "type": "dataset_field", "key": "text"},
                                    {"id": f"q-{page}", "type": "free_text", "weight": 0.5},
                                ],
                            }
                        ],
                    }
                ],
            }
            for page in range(rng.randrange(1, 3))
        ]
    elif rng.random() < 0.3:
        batch["batch_items"] = None
    choice = rng.random()
    if choice < 0.3:
        batch["auto_sync_enabled"] = True
    elif choice < 0.5:
        batch["auto_sync_enabled"] = False
    if rng.random() < 0.15:
        batch["review_mode"] = rng.choice(("single", "double", {"reviewers": 2, "blind": True}))
    return batch


def sample_workspace(workspace_id: str) -> dict[str, Any]:
    """A spec-shaped workspace (``WorkspaceShort``) for an id, reproducible from it."""
    rng = random.Random(workspace_id)
    return {
        "id": workspace_id,
        "title": rng.choice(("Annotation lab", "Émotions & sentiment", "Q3 pilots"))
        + f" {workspace_id}",
        "description": rng.choice(("", "Labelling for the research team", None)),
        "owner": f"{rng.getrandbits(96):024x}",
        "users": [
            {"id": f"{rng.getrandbits(96):024x}", "name": "Ada", "roles": ["WORKSPACE_ADMIN"]}
        ],
        "naivety_distribution_rate": None,
    }


def sample_dataset_details(ref: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    """A dataset's details (``AITaskBuilderDataset``) as a batch's reference to it implies:
    version 3 or 4 by turns, reproducible from its id."""
    rng = random.Random(ref["id"])
    created = datetime(2024, 6, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(0, 200 * 86400)
    )
    details: dict[str, Any] = {
        "id": ref["id"],
        "name": f"Dataset for {ref['filename']}",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "created_by": f"{rng.getrandbits(96):024x}",
        "workspace_id": workspace_id,
        "total_datapoint_count": ref["total_datapoint_count"],
    }
    if rng.random() < 0.5:
        details |= {
            "schema_version": rng.choice(("3", 3)),
            "status": rng.choice(("READY", "READY", "PROCESSING", "ERROR")),
            "filename": ref["filename"],
            "has_predetermined_grouping_id": rng.choice((True, False, None)),
        }
        return details
    imports = []
    for job in range(rng.randrange(0, 3)):
        started = created + timedelta(hours=job)
        status = rng.choice(("complete", "partial", "failed", "processing"))
        imports.append(
            {
                "dataset_id": ref["id"],
                "import_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": "file_upload",
                "filename": f"upload_{job}.jsonl",
                "created_at": started.isoformat().replace("+00:00", "Z"),
                "updated_at": (started + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
                "status": status,
                **(
                    {"accepted_count": rng.randrange(0, 5000)}
                    if status in ("complete", "partial")
                    else {}
                ),
                **(
                    {
                        "rejected_count": rng.randrange(1, 50),
                        "errors": [{"record_index": 3, "field": "text", "reason": "missing"}],
                    }
                    if status == "partial"
                    else {}
                ),
                **({"reason": "Malformed JSON on line 1"} if status == "failed" else {}),
            }
        )
    details |= {
        "schema_version": rng.choice(("4", 4)),
        "schema": {
            "strict": True,
            "fields": {
                "text": {"type": "text", "label": "Text"},
                "group": {"type": "task_group_id"},
            },
        },
        "imports": imports,
    }
    return details


RESPONSE_TYPES = (
    "multiple_choice",
    "free_text",
    "free_text_with_unit",
    "multiple_choice_with_free_text",
    "file_upload",
)
_FREE_TEXT = (
    "Looks fine to me",
    "Ünïcödé & <b>markup</b> 👍",
    'O\'Brien said "no"',
    "  leading and trailing spaces  ",
    "",
    "line one\nline two",
)


def sample_response(rng: random.Random, batch_id: str, index: int) -> dict[str, Any]:
    """One response record of every documented type in turn, with the odd values the API can
    send: numbers and booleans as values, several values, units, files, ids that are not
    UUIDs, metadata of any shape, fields left out."""
    created = datetime(2025, 6, 1, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randrange(0, 40 * 86400), microseconds=rng.randrange(0, 1_000_000)
    )
    kind = RESPONSE_TYPES[index % len(RESPONSE_TYPES)]
    if kind == "multiple_choice":
        answer = [
            {"value": v}
            for v in rng.sample(["A", "B", "C", 1, 2.5, True, False], rng.randrange(1, 3))
        ]
    elif kind == "free_text":
        answer = [{"value": rng.choice(_FREE_TEXT)}]
    elif kind == "free_text_with_unit":
        answer = [{"value": str(rng.randrange(0, 500)), "unit": rng.choice(("kg", "cm", "°C"))}]
    elif kind == "multiple_choice_with_free_text":
        answer = [{"value": rng.choice(("Other", "Yes")), "explanation": rng.choice(_FREE_TEXT)}]
    else:
        answer = [
            {
                "value": f"upload-{index}.png",
                "file_name": f"photo {index}.png",
                "file_key": f"uploads/{batch_id}/{index}.png",
                "file_size_mb": round(rng.uniform(0.01, 12.0), 3),
                "content_type": "image/png",
            }
        ]
    record: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "batch_id": batch_id,
        "participant_id": f"{rng.getrandbits(96):024x}",
        "task_id": rng.choice(
            (f"task-{index % 97}", str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        ),
        "response": {"instruction_id": f"instr-{index % 3}", "type": kind, "answer": answer},
    }
    if rng.random() < 0.8:
        record["submission_id"] = f"{rng.getrandbits(96):024x}"
    if rng.random() < 0.5:
        record["correlation_id"] = f"corr_{rng.getrandbits(32):08x}"
    if rng.random() < 0.6:
        record["metadata"] = rng.choice(({"source": "web"}, {"attempt": 2, "flags": [1, "x"]}, {}))
    if rng.random() < 0.7:
        record["schema_version"] = rng.choice((1, 2))
    if rng.random() < 0.3:
        record["no_submission"] = rng.choice((True, False))
    return record


def iter_sample_responses(batch_id: str, count: int, *, seed: int = 0):
    """``count`` response records for a batch, reproducible from the batch and ``seed``."""
    rng = random.Random(f"{seed}:{batch_id}")
    for index in range(count):
        yield sample_response(rng, batch_id, index)


def sample_dataset(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "total_datapoint_count": rng.randrange(0, 1_000_000),
        "filename": rng.choice(("data_{n}.csv", "ünïcode_{n}.jsonl", "it's {n}.csv")).format(
            n=index
        ),
    }


def sample_batches(count: int, *, seed: int = 0, datasets: int | None = None) -> list[dict]:
    """``count`` sample batches drawing on a shared pool of datasets (so some are shared)."""
    rng = random.Random(seed)
    pool_size = max(1, count // 2) if datasets is None else datasets
    pool = [sample_dataset(rng, i) for i in range(pool_size)]
    return [sample_batch(rng, i, dataset_pool=pool) for i in range(count)]


def generated_ids(count: int, *, seed: int = 0) -> list[str]:
    """``count`` reproducible batch IDs, for runs too large to hold every payload up front."""
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def batch_generator(
    *, seed: int = 0, datasets: int = 1000, html_repeats: tuple[int, ...] = (1, 2, 5)
) -> Callable[[str], dict[str, Any]]:
    """A ``generate`` callback: the same batch for the same ID, computed on demand.

    Batches draw on a shared pool of ``datasets`` datasets; HTML stays small by default so that
    a 100,000-batch benchmark measures the pipeline, not the disk.
    """
    pool_rng = random.Random(seed)
    pool = [sample_dataset(pool_rng, i) for i in range(datasets)]

    def generate(batch_id: str) -> dict[str, Any]:
        rng = random.Random(f"{seed}:{batch_id}")
        return sample_batch(
            rng,
            rng.randrange(1_000_000),
            dataset_pool=pool,
            batch_id=batch_id,
            html_repeats=html_repeats,
        )

    return generate
