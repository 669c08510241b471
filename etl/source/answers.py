"""What an answer of the API means: its body, a named error for the item or for the run, or a
transient failure to retry; and the same for a request that got no answer at all.

- 401 stops the run (TokenRejectedError); 403/404 are NotFoundError for the item; another 4xx,
  or an unexpected status such as a redirect, RequestRejectedError; 5xx are retried.
- With no answer: an unverifiable certificate, a host name that does not resolve, an
  unreachable proxy or a malformed URL stop the run (ApiUnreachableError); timeouts, resets and
  truncated bodies are retried.
"""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, BinaryIO

import requests
import urllib3.exceptions

from ..errors import (
    ApiUnreachableError,
    NotFoundError,
    RequestRejectedError,
    TokenRejectedError,
)
from ..text import redact, redact_api_url

if TYPE_CHECKING:
    from .client import Item

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_DETAIL_LENGTH = 300


class Retryable(Exception):
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
        # What arrived of a streamed answer that broke off (Item.keep_partial), else None.
        self.partial: BinaryIO | None = None


def interpret(item: Item, status: int, headers: Mapping[str, str], body, *, token: str):
    """The body of a 200; for any other status (but 429, which the pacing handles) the error
    it means, raised: for the run, for ``item``, or Retryable."""
    if status == 200:
        return body
    detail = error_detail(body, token)
    if status == 401:
        raise TokenRejectedError(
            f"the API rejected the token (HTTP 401{': ' + detail if detail else ''}); "
            "check PROLIFIC_API_TOKEN"
        )
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise Retryable(f"HTTP {status}{': ' + detail if detail else ''}", status, retry_after)
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


def error_detail(body: bytes, token: str) -> str:
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
    return redact(text, token)[:_DETAIL_LENGTH]


def connection_failure(
    exc: BaseException,
    *,
    base_url: str,
    proxies: Mapping[str, str],
    after_status: int | None = None,
) -> Exception:
    """The run-level error for what no retry can fix; a retryable failure otherwise.

    ``after_status``: the status the API answered before its body broke off. The API was
    reached then, which the unreachable streak must not count.
    """
    host = urllib.parse.urlsplit(base_url).hostname or base_url
    reason = _innermost_message(exc)
    if isinstance(exc, requests.exceptions.SSLError) and _is_certificate_failure(exc):
        return ApiUnreachableError(
            f"the TLS certificate of {host} could not be verified ({reason}). If a proxy or "
            "your organisation's own CA signs it, set REQUESTS_CA_BUNDLE to a CA bundle "
            "(PEM file) that includes that CA"
        )
    if isinstance(exc, requests.exceptions.ProxyError) and _cannot_connect(exc):
        proxy = proxies.get(urllib.parse.urlsplit(base_url).scheme)
        shown = redact_api_url(proxy) if proxy else "(none)"
        return ApiUnreachableError(
            f"cannot reach the proxy {shown} ({reason}); check "
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
            f"cannot send a request to {base_url}: {reason}; check PROLIFIC_API_URL "
            "and the proxy settings"
        )
    if _name_does_not_resolve(exc):
        return ApiUnreachableError(
            f"the host name {host} does not resolve; check PROLIFIC_API_URL and DNS"
        )
    if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
        return Retryable(f"timed out ({reason})", after_status, None)
    if isinstance(exc, TimeoutError):
        return Retryable(str(exc), after_status, None)
    if after_status is not None:
        return Retryable(
            f"the answer broke off after HTTP {after_status} ({reason})", after_status, None
        )
    return Retryable(
        f"cannot connect to {redact_api_url(base_url)} ({reason})",
        None,
        None,
        hint="check PROLIFIC_API_URL, and that the API is up and reachable from here",
    )


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


def _causes(exc: BaseException) -> Iterator[BaseException]:
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
