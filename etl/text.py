"""Text from outside (the API's error bodies, the ID file) made safe to store, print and share.

Both sides use it: the source (the client's error details) and the store (the run log), and
the CLI's output on stderr, so it sits above them and imports neither.
"""

from __future__ import annotations

import functools
import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# What no database stores alike, or that would break a one-line message: control characters
# (C0 with NUL, DEL, C1), line and paragraph separators, and surrogates. A str holds a surrogate
# only unpaired (a JSON "\ud800" decodes to one), and UTF-8 cannot encode it.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

REDACTED = "***"
# The shortest part of the token that is hidden wherever it shows up (a shortened echo).
TOKEN_RUN = 8
_PERCENT_ENCODED = re.compile(r"%([0-9A-Fa-f]{2})")


def storable(text: str) -> str:
    """``text`` that every database stores and any terminal shows on one line.

    NUL, the other control characters, line separators and lone surrogates become visible
    escapes as Python writes them (``\\x00``, ``\\n``, ``\\x1b``, ``\\u2028``, ``\\ud800``);
    nothing is dropped. Backslashes are left alone: this is for showing, not for decoding.
    Applying it twice changes nothing more.
    """
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def redact(text: str, token: str) -> str:
    """``text`` with every echo of ``token``, and the user and password of any http(s) URL,
    replaced by ``***``.

    An echo is any run of at least 8 consecutive characters of the token (all of a shorter
    token), in any letter case, with any of its characters percent-encoded (``%2D``, ``%2d``)
    and ``+`` standing for a space: an API or a proxy may quote the token upper-cased,
    URL-encoded or cut short.
    """
    if not text:
        return text
    return redact_api_url(_without_token(text, token))


def _without_token(text: str, token: str) -> str:
    if not token:
        return text
    units = _units(text)
    runs = _runs_of(_folded(token))
    shortest = min(TOKEN_RUN, len(token))
    out: list[str] = []
    start = 0
    while start < len(units):
        # The longest part of the token that starts here (every prefix of a part is one too).
        end, spelled = start, ""
        while end < len(units) and spelled + units[end][0] in runs:
            spelled += units[end][0]
            end += 1
        if end - start >= shortest:
            out.append(REDACTED)
            start = end
        else:
            out.append(units[start][1])
            start += 1
    return "".join(out)


def _units(text: str) -> list[tuple[str, str]]:
    """``text`` as (character it stands for, case-folded; as written) pairs: ``%2D`` is one."""
    units: list[tuple[str, str]] = []
    position = 0
    for match in _PERCENT_ENCODED.finditer(text):
        units += [(_folded(char), char) for char in text[position : match.start()]]
        units.append((_folded(chr(int(match.group(1), 16))), match.group()))
        position = match.end()
    units += [(_folded(char), char) for char in text[position:]]
    return units


def _folded(text: str) -> str:
    # "+" is a space in a query string; a token may hold either, so both count as one.
    return text.lower().replace(" ", "+")


@functools.lru_cache(maxsize=4)
def _runs_of(folded_token: str) -> frozenset[str]:
    """Every substring of the (folded) token: what a part of an echo may spell."""
    length = len(folded_token)
    return frozenset(folded_token[i:j] for i in range(length) for j in range(i + 1, length + 1))


_USERINFO = re.compile(r"(?i)^((?:[a-z][a-z0-9+.-]*:)?//)?[^/?#]*@")
_USERINFO_OF_HTTP_URLS = re.compile(r"(?i)\b(https?://)[^\s/?#]*@")


def redact_api_url(text: str) -> str:
    """The API URL ``text`` with its user and password shown as ``***``.

    For wherever the URL is printed or stored (only requests need the credentials). Takes a URL
    that does not parse or has no scheme too, and a message, in which each http(s) URL is
    redacted.
    """
    if any(character.isspace() for character in text):
        return _USERINFO_OF_HTTP_URLS.sub(r"\1***@", text)
    return _USERINFO.sub(r"\1***@", text)


def redact_url(raw: str) -> str:
    """The database URL ``raw`` with its password shown as ``***`` (``<unparseable URL>`` when
    it does not parse), for wherever it is printed or stored."""
    try:
        url: URL = make_url(raw)
        url.port  # noqa: B018 - a port that is not a number only fails when read
    except (ArgumentError, ValueError):
        return "<unparseable URL>"
    return url.render_as_string(hide_password=True)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def shorten(text: str, width: int, *, marker: str = "…") -> str:
    """``text`` cut to at most ``width`` characters, ending in ``marker`` when it was cut."""
    return text if len(text) <= width else text[: width - len(marker)] + marker


def duration_text(seconds: float) -> str:
    """Seconds for a person, to the largest unit worth saying: ``4.2s``, ``3m 07s``,
    ``5h 02m``, ``2d 3h``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
