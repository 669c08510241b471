"""Reading one answer's body against a deadline, so that a slow or endless body cannot hold a
worker: a size cap for what is held in memory, and a spooled file for streamed answers."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import BinaryIO

import requests

# The largest answer accepted for one batch. A batch is a few kilobytes to a few megabytes of
# HTML; past this, the server is misbehaving, and reading on would only fill the memory.
MAX_BODY_BYTES = 64 * 1024 * 1024
# A streamed answer (a workspace's listing) has no size cap; it must keep arriving at this
# many bytes per second on average, past the attempt's usual time.
STREAM_MIN_RATE = 32 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # a streamed answer moves to a temporary file past this
ERROR_BODY_LIMIT = 64 * 1024  # an error page past this says nothing a person should read
_READ_SIZE = 64 * 1024


class TooLarge(Exception):
    """The body went past the limit it was read with."""


class BrokeOff(Exception):
    """A streamed body broke off; ``partial`` is the file of what arrived before (the
    caller's to close), ``cause`` what broke it."""

    def __init__(self, cause: BaseException, partial: BinaryIO) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.partial = partial


class Deadline:
    """When an attempt must have its whole answer: ``budget`` seconds from now, plus, for a
    streamed answer, one second for every ``min_rate`` bytes received."""

    def __init__(self, clock: Callable[[], float], budget: float, min_rate: float | None):
        self._clock = clock
        self._end = clock() + budget
        self._min_rate = min_rate

    def remaining(self, received: int) -> float:
        extra = received / self._min_rate if self._min_rate else 0.0
        return self._end + extra - self._clock()


def read_answer(
    response: requests.Response,
    deadline: Deadline,
    *,
    streamed: bool,
    max_body_bytes: int,
    keep_partial: bool = False,
) -> bytes | BinaryIO:
    """The body of ``response``: a file positioned at its start for a streamed 200, bytes
    otherwise (at most ``max_body_bytes`` for a 200, ERROR_BODY_LIMIT for anything else).

    Raises TooLarge past that limit, TimeoutError at the deadline, and whatever urllib3 raises
    when the connection breaks off; with ``keep_partial``, a streamed 200 that breaks off
    raises BrokeOff with what arrived, positioned at its start.
    """
    if response.status_code == 200 and streamed:
        sink: BinaryIO = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        try:
            read_body(response, deadline, sink, limit=None)
        except Exception as exc:
            if not keep_partial or isinstance(exc, TooLarge):
                sink.close()
                raise
            sink.seek(0)
            raise BrokeOff(exc, sink) from None
        except BaseException:
            sink.close()
            raise
        sink.seek(0)
        return sink
    limit = max_body_bytes if response.status_code == 200 else ERROR_BODY_LIMIT
    buffer = io.BytesIO()
    read_body(response, deadline, buffer, limit=limit)
    return buffer.getvalue()


def read_body(
    response: requests.Response, deadline: Deadline, sink: BinaryIO, *, limit: int | None
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
            raise TooLarge
        sink.write(chunk)


def describe_size(byte_count: int) -> str:
    """``64 MiB`` for whole mebibytes, ``3,000,000 bytes`` otherwise."""
    if byte_count >= 2**20 and byte_count % 2**20 == 0:
        return f"{byte_count // 2**20} MiB"
    return f"{byte_count:,} bytes"
