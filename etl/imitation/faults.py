"""Fault injection: what the imitation does instead of answering normally, and how each fault
goes out on the wire."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler


def error_body(status: int, error_code: str, title: str, detail: str) -> bytes:
    """An error body in the shape Prolific documents."""
    payload = {
        "error": {"status": status, "error_code": error_code, "title": title, "detail": detail}
    }
    return json.dumps(payload).encode()


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


def apply_fault(
    handler: BaseHTTPRequestHandler,
    fault: Fault,
    send: Callable[..., int],
    body: Callable[[], bytes | None],
    key: str,
) -> int | None | bool:
    """Act out ``fault`` on ``handler``'s connection.

    Returns the status sent, None when the connection was dropped, or False when the request
    is then to be answered normally. ``send`` sends a whole answer (status, body, headers);
    ``body`` gives the normal answer's body, for the faults
    that send it badly; ``key`` names what was asked for when there is none.
    """
    if fault.kind == "status":
        error = error_body(fault.status, "INJECTED", "Injected fault", f"Status {fault.status}.")
        return send(fault.status, fault.body if fault.body is not None else error, fault.headers)
    if fault.kind == "body":
        return send(200, fault.body or b"")
    if fault.kind == "hang":
        time.sleep(fault.seconds)
        return False  # then answer normally, to a client that has given up
    if fault.kind == "drop":
        handler.close_connection = True
        handler.connection.shutdown(2)
        return None
    if fault.kind == "drip":
        whole = body() or b"{}"
        _send_headers(handler, len(whole))
        for index in range(len(whole)):
            handler.wfile.write(whole[index : index + 1])
            time.sleep(fault.seconds)
        return 200
    if fault.kind == "truncate":
        whole = body() or json.dumps({"id": key}).encode()
        _send_headers(handler, len(whole))
        handler.wfile.write(whole[: len(whole) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(2)
        return 200
    raise ValueError(f"unknown fault kind {fault.kind!r}")


def _send_headers(handler: BaseHTTPRequestHandler, length: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
