"""Answering one HTTP request as the imitation: record it, check the token and the rate limit,
act out a queued fault, then answer from the route table (``endpoints``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .endpoints import STATS_PATH, Params, Route, match
from .faults import apply_fault, error_body
from .traffic import SeenRequest

if TYPE_CHECKING:
    from .server import FakeProlificAPI


class ImitationServer(ThreadingHTTPServer):
    """A thread per connection, each answering for ``api``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: FakeProlificAPI) -> None:
        super().__init__(address, Handler)
        self.api = api


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeProlificAPI/1"
    # Headers and body go out in separate writes; without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: ImitationServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        api = self.server.api
        if self.path == STATS_PATH:  # the imitation's own counters, not counted
            stats = {"received": api.received, "refused": api.refused}
            self._send(200, json.dumps(stats).encode())
            return
        if api.latency:
            time.sleep(api.latency)
        authorized = self.headers.get("Authorization") == f"Token {api.token}"
        route, params = match(self.path)
        kind = route.kind if route is not None else "other"
        key = route.key(params) if route is not None else None
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
        self._kind = kind
        try:
            self._respond(route, params, key, authorized)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); expected

    def _respond(
        self, route: Route | None, params: Params, key: str | None, authorized: bool
    ) -> int | None:
        api = self.server.api
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
        if not api._admit():
            return self._send(
                429,
                error_body(429, "TOO_MANY_REQUESTS", "Too many requests", "Request was throttled."),
            )
        if route is None or key is None:
            return self._send(404, error_body(404, "NOT_FOUND", "Not found", "No such endpoint."))

        def body() -> bytes | None:
            return route.answer(api, params)

        fault = api._next_fault(key)
        if fault is not None:
            handled = apply_fault(self, fault, self._send, body, key)
            if handled is not False:
                return handled
        answer = body()
        if answer is None:
            detail = f"{route.what} {key.split(':')[-1]} was not found."
            return self._send(404, error_body(404, "NOT_FOUND", "Not found", detail))
        return self._send(200, answer)

    def _send(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> int:
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
        api = self.server.api
        with api._state.lock:  # what each kind of request cost in body bytes (benchmarks)
            kind = getattr(self, "_kind", "other")
            api._state.bytes_sent[kind] = api._state.bytes_sent.get(kind, 0) + len(body)
        return status
